"""The explanation engine on a tiny random BERT: additivity, order, bad input, truncation."""

from __future__ import annotations

import numpy as np
import pytest

from dlexplain.errors import ConfigError
from dlexplain.explain.config import ExplainerConfig
from dlexplain.explain.engine import Explainer

GOOD = ["the film was great", "a dull and boring movie", "love this story , best acting !"]


@pytest.fixture()
def explainer(tiny_classifier):
    return Explainer(tiny_classifier, ExplainerConfig(max_evals=100, batch_size=16))


def test_explanations_are_additive_and_typed(explainer):
    results = explainer.explain(GOOD)
    assert len(results) == len(GOOD)
    for text, result in zip(GOOD, results):
        assert result.error is None
        assert result.output_names == ("NEGATIVE", "POSITIVE")
        assert result.values.shape == (len(result.tokens), 2)
        assert "".join(result.tokens).strip() == text
        assert result.additivity_error < 1e-4
        np.testing.assert_allclose(result.probabilities.sum(), 1.0, atol=1e-6)
        assert result.label == result.output_names[int(np.argmax(result.probabilities))]
        assert result.score == pytest.approx(result.probabilities.max())
        assert np.abs(result.values).sum() > 0, "tiny model must not ignore its input"


def test_probabilities_match_the_classifier(explainer, tiny_classifier):
    results = explainer.explain(GOOD)
    direct = tiny_classifier.predict_proba(GOOD)
    np.testing.assert_allclose([r.probabilities for r in results], direct, atol=1e-6)


def test_results_do_not_depend_on_batch_size(tiny_classifier):
    small = Explainer(tiny_classifier, ExplainerConfig(max_evals=100, batch_size=3)).explain(GOOD)
    large = Explainer(tiny_classifier, ExplainerConfig(max_evals=100, batch_size=64)).explain(GOOD)
    for a, b in zip(small, large):
        np.testing.assert_allclose(a.values, b.values, atol=1e-5)


LONG = " ".join(["the film was good"] * 40)  # 160 tokens, model limit is 64

BAD_INPUT_TABLE = [
    # (input, expected error fragment or None, truncated)
    (None, "missing", False),
    (float("nan"), "missing", False),
    ("", "empty", False),
    ("   \t\n  ", "empty", False),
    ("\x00\x01\x07", "empty", False),
    (42, "must be a string, got int", False),
    (3.5, "must be a string, got float", False),
    (["the", "film"], "must be a string, got list", False),
    ({"text": "film"}, "must be a string, got dict", False),
    (b"the film", "must be a string, got bytes", False),
    (LONG, None, True),
    ("great film 😀🎬", None, False),
    ("good\x00 film\x1b with control chars", None, False),
    ("映画はとても良かった", None, False),
    ("фильм был отличный", None, False),
]


def test_bad_input_table(explainer):
    inputs = [row[0] for row in BAD_INPUT_TABLE]
    results = explainer.explain(inputs)
    assert len(results) == len(inputs), "every input row yields exactly one output row"
    for (raw, error, truncated), result in zip(BAD_INPUT_TABLE, results):
        if error is None:
            assert result.error is None, (raw, result.error)
            assert result.truncated is truncated, raw
            assert result.additivity_error < 1e-4, raw
            assert len(result.tokens) > 0
        else:
            assert result.error is not None and error in result.error, (raw, result.error)
            assert result.tokens == () and result.values.size == 0, raw
            assert result.label is None and result.score is None and result.additivity_error is None


def test_bad_rows_keep_input_order(explainer):
    inputs = ["the film was great", None, "a dull movie", "", "love it"]
    results = explainer.explain(inputs)
    assert [r.error is None for r in results] == [True, False, True, False, True]
    assert "".join(results[2].tokens).strip() == "a dull movie"


def test_truncation_keeps_model_limit(explainer, tiny_classifier):
    result = explainer.explain([LONG])[0]
    limit = tiny_classifier.max_length - tiny_classifier.num_special_tokens
    assert result.truncated
    assert sum(1 for t in result.tokens if t.strip()) <= limit
    assert "".join(result.tokens).strip() == LONG[: len("".join(result.tokens).strip())]


def test_max_tokens_knob(tiny_classifier):
    explainer = Explainer(tiny_classifier, ExplainerConfig(max_evals=50, max_tokens=3))
    result = explainer.explain(["the film was very good"])[0]
    assert result.truncated
    assert "".join(result.tokens).strip() == "the film was"


@pytest.mark.parametrize("kwargs", [{"max_evals": 0}, {"batch_size": -1}, {"max_tokens": 0},
                                    {"max_evals": "10"}])
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ConfigError, match=next(iter(kwargs))):
        ExplainerConfig(**kwargs)


def test_fingerprint_tracks_value_settings():
    assert ExplainerConfig().fingerprint() == ExplainerConfig(batch_size=7).fingerprint()
    assert ExplainerConfig().fingerprint() != ExplainerConfig(max_evals=300).fingerprint()


def test_a_text_whose_model_call_raises_fails_alone(tiny_classifier, monkeypatch):
    """The texts of a group share their model calls: one whose masked inputs make the model
    raise failed the whole group (and its Spark task). Now it alone is an error row, and the
    others are explained as they would be without it."""
    explainer = Explainer(tiny_classifier, ExplainerConfig(max_evals=40, batch_size=16))
    expected = explainer.explain(GOOD)
    forward = tiny_classifier.predict_token_ids
    poison = tiny_classifier.tokenizer.convert_tokens_to_ids("waste")

    def poisoned(rows):
        if any(poison in row for row in rows):
            raise RuntimeError("CUDA error: device-side assert triggered")
        return forward(rows)

    monkeypatch.setattr(tiny_classifier, "predict_token_ids", poisoned)
    results = explainer.explain([GOOD[0], "waste pill", GOOD[1], GOOD[2]])
    assert [r.ok for r in results] == [True, False, True, True]
    assert "RuntimeError: CUDA error" in results[1].error
    for got, want in zip([results[0], *results[2:]], expected):
        np.testing.assert_allclose(got.values, want.values, atol=1e-6)


def test_progress_is_logged_within_a_lockstep_group(tiny_classifier, caplog, monkeypatch):
    """One lock-step group holds every text, so it ends all at once: progress is reported from
    its rounds, at least every PROGRESS_EVERY_S seconds of work (here 0: every round)."""
    import logging
    import re

    from dlexplain.explain import engine

    monkeypatch.setattr(engine, "PROGRESS_EVERY_S", 0.0)
    texts = GOOD * 3
    with caplog.at_level(logging.INFO, logger="dlexplain.explain.engine"):
        Explainer(tiny_classifier, ExplainerConfig(max_evals=40, parallel_texts=len(texts))
                  ).explain(texts)
    done = [int(m[1]) for m in (re.search(r"explained (\d+) of 9 texts", r.getMessage())
                                for r in caplog.records) if m]
    assert len(done) > 3 and done == sorted(done) and done[-1] == 9
    assert any(0 < d < 9 for d in done)  # reported while the group was still running


def test_a_model_that_answers_non_deterministically_still_gives_additive_rows(tiny_classifier,
                                                                              monkeypatch):
    """Each distinct masked input is evaluated once per group, the text's own probabilities
    included: noise in the model's answers (bf16 batches, a nondeterministic kernel) cannot
    break additivity. A model that answers NaN can: that row is refused, never stored."""
    from dlexplain.explain.inputs import ADDITIVITY_TOLERANCE, REFUSED

    forward = tiny_classifier.predict_token_ids
    rng = np.random.default_rng(0)

    def noisy(rows):
        return forward(rows) + rng.normal(0, 1e-3, size=(len(rows), 2))

    monkeypatch.setattr(tiny_classifier, "predict_token_ids", noisy)
    explainer = Explainer(tiny_classifier, ExplainerConfig(max_evals=40))
    for row in explainer.explain(GOOD):
        assert row.ok and row.additivity_error <= ADDITIVITY_TOLERANCE

    nan_id = tiny_classifier.tokenizer.convert_tokens_to_ids("dull")
    monkeypatch.setattr(tiny_classifier, "predict_token_ids", lambda rows: np.array(
        [[np.nan, np.nan] if nan_id in row else [0.5, 0.5] for row in rows]))
    rows = explainer.explain(GOOD)
    assert [r.ok for r in rows] == [True, False, True]
    assert rows[1].error == REFUSED + "additivity error nan above 1e-06"


def test_a_row_whose_values_do_not_match_its_tokens_is_refused():
    from dlexplain.explain.inputs import REFUSED, verified
    from dlexplain.explain.row import TextExplanation

    row = TextExplanation.explained(["a ", "b"], np.zeros((1, 2)), [0.5, 0.5], [0.5, 0.5],
                                    ["x", "y"])
    assert verified(row, "a b").error == REFUSED + "1 value rows for 2 tokens"
