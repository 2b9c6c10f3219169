"""``fast+verify``: fast rows checked one by one, and explained exactly where the check fails.

A fast row passes when the tokens it ranks highest for its class move the prediction more than
as many random tokens do (:func:`dlexplain.quality.faithfulness.comprehensiveness_gain` above
``margin``: about 10 forward passes, a few percent of an exact explanation's). A row that fails,
or has nothing to check (no token speaks for its class), is explained again by the exact
explainer; each row's ``method`` says which produced it. Rows with an input error stay as they
are (the exact explainer would refuse them the same way), and so does a fast row whose exact
explanation fails (a usable row is never swapped for an error).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dlexplain.explain.row import TextExplanation
from dlexplain.quality.faithfulness import comprehensiveness_gain

#: the gain a fast row must exceed to be kept (0: better than random)
MARGIN = 0.0


@dataclass(frozen=True)
class Verified:
    rows: list[TextExplanation]
    #: rows explained again exactly (their fast row failed the check)
    reexplained: int
    #: of them, rows whose exact explanation failed too (their fast row is kept)
    kept_fast: int = 0


def verify(
    texts: Sequence[object],
    rows: Sequence[TextExplanation],
    predict: Callable[[list[str]], np.ndarray],
    explain_exactly: Callable[[list], list[TextExplanation]],
    *,
    margin: float = MARGIN,
) -> Verified:
    """``rows`` (the fast rows of ``texts``, in order) with those that fail the check replaced
    by ``explain_exactly`` of their texts (one call, for all of them)."""
    rows = list(rows)
    gains = comprehensiveness_gain(rows, predict)
    failing = [
        i
        for i, (row, gain) in enumerate(zip(rows, gains))
        if row.ok and (gain is None or gain <= margin)
    ]
    kept = 0
    if failing:
        exact = explain_exactly([texts[i] for i in failing])
        for i, row in zip(failing, exact, strict=True):
            if row.ok:
                rows[i] = row
            else:
                kept += 1
    return Verified(rows, len(failing) - kept, kept)
