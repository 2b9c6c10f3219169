"""Which exact explainers a training run looks at, from the Asset events it consumed."""

from dlexplain.pipelines.train_fast_explainer import named_explainers


def test_every_named_explainer_once_in_the_order_of_its_newest_event():
    events = [
        {"exact_run_id": "a", "registered_model": "reviews-explainer", "night": "2026-01-01"},
        {"exact_run_id": "b", "registered_model": "tweets-explainer", "night": "2026-01-02"},
        {"night": "2026-01-03"},  # an event from before explainers were named: ignored
        {"exact_run_id": "a", "registered_model": "reviews-explainer", "night": "2026-01-04"},
        {"exact_run_id": "c", "night": "2026-01-05"},  # no registered model recorded
    ]
    assert named_explainers(events) == [("b", "tweets-explainer"), ("a", "reviews-explainer"),
                                        ("c", None)]
    assert named_explainers([]) == []
