"""Fidelity of one explainer's values to another's (a reference), text by text.

For each text both explained, on the reference's predicted class and over the positions that
carry values (special tokens left out):

- **spearman**: rank correlation of the two value vectors;
- **top5_overlap**: how many of the reference's 5 largest |values| are among the other's 5;
- **top5_sign**: the share of the reference's top 5 whose value has the same sign in the other.

Texts with fewer than 2 such positions have no Spearman and are left out of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dlexplain.explain.row import TextExplanation

TOP_K = 5


@dataclass(frozen=True)
class TextFidelity:
    spearman: float | None
    top5_overlap: int
    top5_sign: float


@dataclass(frozen=True)
class Fidelity:
    """Fidelity over a set of texts (see the module docstring)."""

    texts: int
    median_spearman: float
    p10_spearman: float
    mean_top5_overlap: float
    top5_sign_agreement: float

    def to_dict(self) -> dict:
        return asdict(self)


def _positions(row: TextExplanation) -> list[int]:
    return [i for i, token in enumerate(row.tokens) if token != ""]


def text_fidelity(candidate: TextExplanation, reference: TextExplanation) -> TextFidelity:
    """How well ``candidate``'s values follow ``reference``'s on one text (same tokens)."""
    from scipy.stats import spearmanr

    if candidate.tokens != reference.tokens:
        raise ValueError("the two explanations cut the text into different tokens")
    target = reference.output_names.index(reference.label)
    keep = _positions(reference)
    ours = candidate.values[keep, target]
    theirs = reference.values[keep, target]
    spearman = None
    if len(keep) >= 2 and np.ptp(ours) > 0 and np.ptp(theirs) > 0:
        spearman = float(spearmanr(ours, theirs).statistic)
    k = min(TOP_K, len(keep))
    top_theirs = np.argsort(-np.abs(theirs), kind="stable")[:k]
    top_ours = np.argsort(-np.abs(ours), kind="stable")[:k]
    overlap = len(set(top_theirs.tolist()) & set(top_ours.tolist()))
    sign = float(np.mean(np.sign(ours[top_theirs]) == np.sign(theirs[top_theirs]))) if k else 1.0
    return TextFidelity(spearman, overlap, sign)


def fidelity(
    candidates: Sequence[TextExplanation], references: Sequence[TextExplanation]
) -> Fidelity:
    """Fidelity of ``candidates`` to ``references`` (pairwise, same texts) over the texts both
    explained."""
    scores = [
        text_fidelity(c, r) for c, r in zip(candidates, references, strict=True) if c.ok and r.ok
    ]
    if not scores:
        raise ValueError("no text was explained by both explainers")
    rhos = np.array([s.spearman for s in scores if s.spearman is not None], dtype=float)
    return Fidelity(
        texts=len(scores),
        median_spearman=float(np.median(rhos)) if rhos.size else float("nan"),
        p10_spearman=float(np.percentile(rhos, 10)) if rhos.size else float("nan"),
        mean_top5_overlap=float(np.mean([s.top5_overlap for s in scores])),
        top5_sign_agreement=float(np.mean([s.top5_sign for s in scores])),
    )


def audit_fidelity(results: list, audited: list) -> dict:
    """Metrics ``audit_*``: the fidelity of a night's fast rows to its exact audit rows (the
    same texts), empty when nothing was audited."""
    from dlexplain.fast.fidelity import fidelity

    fast = {"".join(r.tokens): r for r in results if r.ok and r.method == "fast"}
    pairs = [(fast["".join(r.tokens)], r) for r in audited if r.ok and "".join(r.tokens) in fast]
    if not pairs:
        return {}
    scores = fidelity([f for f, _ in pairs], [e for _, e in pairs]).to_dict()
    return {f"audit_{name}": value for name, value in scores.items() if value == value}
