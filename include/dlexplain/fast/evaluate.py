"""A fast explainer against held-out exact explanations: fidelity and faithfulness, side by side.

Faithfulness (``dlexplain.quality.faithfulness``) is computed for the fast rows, the exact rows
and their random floor on the same texts, so the gate can ask "as faithful as exact?".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dlexplain.explain.row import TextExplanation
from dlexplain.fast.fidelity import Fidelity, fidelity, text_fidelity
from dlexplain.quality.faithfulness import summarize, with_faithfulness


@dataclass(frozen=True)
class Evaluation:
    """Figures of one evaluation (flat, MLflow-metric ready) and the rows they came from."""

    figures: dict[str, float]
    fidelity: Fidelity
    fast_rows: list[TextExplanation]
    exact_rows: list[TextExplanation]


def evaluate(fast_explainer, exact_rows: Sequence[TextExplanation]) -> Evaluation:
    """Explain the texts of ``exact_rows`` fast and compare (fidelity, then faithfulness of both
    and of random)."""
    exact_rows = [row for row in exact_rows if row.ok]
    texts = ["".join(row.tokens) for row in exact_rows]
    fast_rows = fast_explainer.explain(texts)
    scores = fidelity(fast_rows, exact_rows)
    figures: dict[str, float] = {"held_out_texts": float(len(exact_rows)), **scores.to_dict()}
    figures.pop("texts")
    predict = fast_explainer.classifier.predict_proba
    fast_rows = with_faithfulness(fast_rows, predict)
    exact_rows = with_faithfulness(exact_rows, predict)
    fast, exact = summarize(fast_rows), summarize(exact_rows)
    errors = [r.additivity_error for r in fast_rows if r.ok and r.additivity_error is not None]
    figures.update(
        {
            "fast_comprehensiveness": fast.get("comprehensiveness", float("nan")),
            "fast_sufficiency": fast.get("sufficiency", float("nan")),
            "exact_comprehensiveness": exact.get("comprehensiveness", float("nan")),
            "exact_sufficiency": exact.get("sufficiency", float("nan")),
            "random_comprehensiveness": exact.get("random_comprehensiveness", float("nan")),
            "random_sufficiency": exact.get("random_sufficiency", float("nan")),
            "max_additivity_error": max(errors),  # every explained row has one
        }
    )
    return Evaluation(figures, scores, fast_rows, exact_rows)


#: the fidelity figures compared against a finer reference
REFERENCE_FIGURES = ("median_spearman", "p10_spearman", "mean_top5_overlap", "top5_sign_agreement")


def reference_figures(
    fast_explainer, exact_rows: Sequence[TextExplanation], reference_rows: Sequence[TextExplanation]
) -> dict[str, float]:
    """The fast explainer and the exact rows, both scored against ``reference_rows``: finer
    exact explanations (more evaluations) of the same texts, in the same order. A fast explainer
    trained on noisy exact values may sit closer to the reference than its labels do."""
    texts = ["".join(row.tokens) for row in reference_rows]
    fast = fidelity(fast_explainer.explain(texts), reference_rows)
    exact = fidelity(exact_rows, reference_rows)
    figures: dict[str, float] = {"reference_texts": float(fast.texts)}
    for name in REFERENCE_FIGURES:
        figures[f"reference_fast_{name}"] = getattr(fast, name)
        figures[f"reference_exact_{name}"] = getattr(exact, name)
    return figures


def reference_ratios(
    candidate_rows: Sequence[TextExplanation],
    exact_rows: Sequence[TextExplanation],
    reference_rows: Sequence[TextExplanation],
    *,
    draws: int = 2000,
    seed: int = 0,
) -> dict[str, float]:
    """``candidate`` over ``exact`` agreement with the reference (same texts, in order): median
    Spearman and mean top-5 overlap ratios, each with the 10th and 90th percentile of a paired
    bootstrap over texts (the spread a set of this size allows)."""
    pairs = [
        (text_fidelity(c, r), text_fidelity(e, r))
        for c, e, r in zip(candidate_rows, exact_rows, reference_rows, strict=True)
        if c.ok and e.ok and r.ok
    ]
    if not pairs:
        raise ValueError("no text was explained by all three")
    kept = [(c, e) for c, e in pairs if c.spearman is not None and e.spearman is not None]
    rho = np.array([[c.spearman, e.spearman] for c, e in kept], dtype=float).reshape(-1, 2)
    top = np.array([[c.top5_overlap, e.top5_overlap] for c, e in pairs], dtype=float)
    rng = np.random.default_rng(seed)
    figures: dict[str, float] = {"ratio_texts": float(len(pairs))}
    for name, table, statistic in (
        ("median_spearman", rho, np.median),
        ("mean_top5_overlap", top, np.mean),
    ):
        if not len(table):
            continue
        picks = rng.integers(0, len(table), size=(draws, len(table)))
        drawn = statistic(table[picks], axis=1)  # (draws, 2)
        ratios = drawn[:, 0] / drawn[:, 1]
        figures[f"{name}_ratio"] = float(statistic(table[:, 0]) / statistic(table[:, 1]))
        figures[f"{name}_ratio_p10"] = float(np.percentile(ratios, 10))
        figures[f"{name}_ratio_p90"] = float(np.percentile(ratios, 90))
    return figures
