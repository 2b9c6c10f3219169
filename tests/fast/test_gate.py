"""The fidelity gate and the fidelity measures, on hand-made explanations."""

from __future__ import annotations

import numpy as np

from dlexplain.explain.row import TextExplanation
from dlexplain.fast.fidelity import fidelity, text_fidelity
from dlexplain.fast.gate import GateThresholds, judge

GOOD = {"held_out_texts": 40.0, "median_spearman": 0.8, "p10_spearman": 0.5,
        "mean_top5_overlap": 3.5, "top5_sign_agreement": 0.97, "fast_comprehensiveness": 0.3,
        "exact_comprehensiveness": 0.31}


def _row(values) -> TextExplanation:
    values = np.asarray(values, dtype=float)
    column = np.r_[0.0, values, 0.0]
    return TextExplanation(tokens=("", *[f"w{i} " for i in range(len(values))], ""),
                           values=np.stack([-column, column], axis=1),
                           base_values=np.array([0.5, 0.5]), probabilities=np.array([0.1, 0.9]),
                           output_names=("NEGATIVE", "POSITIVE"), label="POSITIVE", score=0.9)


def test_each_threshold_can_fail_the_gate():
    assert judge(GOOD).passed
    for key, bad in (("held_out_texts", 10.0), ("median_spearman", 0.69),
                     ("mean_top5_overlap", 2.9), ("top5_sign_agreement", 0.9),
                     ("fast_comprehensiveness", 0.2), ("median_spearman", float("nan"))):
        result = judge({**GOOD, key: bad})
        assert not result.passed and len(result.failures) == 1, (key, result)
    assert judge({**GOOD, "held_out_texts": 10.0}, GateThresholds(min_held_out=10)).passed


def test_a_reference_when_computed_judges_fast_against_exact():
    """With reference figures, fast's agreement with the finer reference must be at least
    ``min_reference_ratio`` of exact's, on Spearman and on the top 5, each on its own."""
    near = {"reference_fast_median_spearman": 0.75, "reference_exact_median_spearman": 0.8,
            "reference_fast_mean_top5_overlap": 3.3, "reference_exact_mean_top5_overlap": 3.5}
    assert judge({**GOOD, **near}).passed  # 0.94x and 0.94x
    for key, bad in (("reference_fast_median_spearman", 0.7),  # 0.875x
                     ("reference_fast_mean_top5_overlap", 3.0),
                     ("reference_exact_median_spearman", 0.0)):
        result = judge({**GOOD, **near, key: bad})
        assert not result.passed and len(result.failures) == 1, (key, result)
        assert result.failures[0].startswith("reference_")
    assert judge({**GOOD, **near, "reference_fast_median_spearman": 0.7},
                 GateThresholds(min_reference_ratio=0.85)).passed


def test_fidelity_of_identical_reversed_and_sign_flipped_values():
    reference = _row([0.5, -0.4, 0.3, 0.2, -0.1, 0.05, 0.01])
    same = text_fidelity(reference, reference)
    assert same.spearman == 1.0 and same.top5_overlap == 5 and same.top5_sign == 1.0
    flipped = text_fidelity(_row(-reference.values[1:-1, 1]), reference)
    assert flipped.spearman == -1.0 and flipped.top5_overlap == 5 and flipped.top5_sign == 0.0
    summary = fidelity([reference, _row(-reference.values[1:-1, 1]),
                        TextExplanation.failed("x")], [reference, reference, reference])
    assert summary.texts == 2 and summary.median_spearman == 0.0
    assert summary.mean_top5_overlap == 5.0 and summary.top5_sign_agreement == 0.5


def test_the_rank_aware_loss_term_judges_order_on_the_predicted_class():
    import torch

    from dlexplain.fast.train import correlation

    targets = torch.tensor([[[0.0, 0.0], [-0.3, 0.3], [0.1, -0.1], [0.2, -0.2], [0.0, 0.0]]])
    explained = torch.tensor([[False, True, True, True, False]])
    predicted = torch.tensor([1])
    scaled = targets * 3 + torch.tensor([0.0, 1.0]) * explained.unsqueeze(-1)  # shift + scale
    assert torch.allclose(correlation(scaled, targets, explained, predicted), torch.ones(1))
    assert torch.allclose(correlation(-targets, targets, explained, predicted), -torch.ones(1))
    # a network that starts flat (zero head): no correlation, and a finite gradient
    flat = torch.zeros_like(targets, requires_grad=True)
    value = correlation(flat, targets, explained, predicted)
    value.sum().backward()
    assert value.item() == 0.0 and torch.isfinite(flat.grad).all()
