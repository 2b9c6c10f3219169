"""Explain a table: input columns kept, one ``explanation`` struct column added."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from dlexplain.base.records import Record
from dlexplain.errors import DataError
from dlexplain.explain.engine import Explainer
from dlexplain.explain.inputs import REFUSED
from dlexplain.explain.row import TextExplanation, from_arrow, to_arrow

logger = logging.getLogger(__name__)

EXPLANATION_COLUMN = "explanation"


def explain_table(explainer: Explainer, frame: pd.DataFrame, text_column: str = "text"):
    """A ``pyarrow.Table``: ``frame``'s columns plus ``explanation`` (``row.arrow_type()``)."""
    import pyarrow as pa

    if text_column not in frame.columns:
        raise DataError(f"text column {text_column!r} not in input columns {list(frame.columns)}")
    if EXPLANATION_COLUMN in frame.columns:
        raise DataError(f"input already has a column named {EXPLANATION_COLUMN!r}; rename it")
    results = explainer.explain(frame[text_column].tolist(), progress=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.append_column(EXPLANATION_COLUMN, to_arrow(results).to_struct_array())


def read_explanations(table) -> list[TextExplanation]:
    """The explanations of a table written by :func:`explain_table` (or the Spark job)."""
    import pyarrow as pa

    struct = table.column(EXPLANATION_COLUMN).combine_chunks()
    return from_arrow(pa.Table.from_struct_array(struct))


@dataclass(frozen=True)
class Counts(Record):
    """The rows of a set of explanations (a batch, a night) and how additive the good ones are:
    ``refused`` counts the failed rows an explainer made but refused to store (tokens that do
    not rebuild the text, or not additive: ``dlexplain.explain.inputs.verified``)."""

    rows: int
    explained: int
    failed: int
    refused: int
    #: the largest ``|base + sum(values) - probability|`` of the good rows (None: none is good)
    max_additivity_error: float | None

    @classmethod
    def total(cls, parts: Sequence[Counts]) -> Counts:
        """The counts of the parts together."""
        errors = [p.max_additivity_error for p in parts if p.max_additivity_error is not None]
        return cls(
            rows=sum(p.rows for p in parts),
            explained=sum(p.explained for p in parts),
            failed=sum(p.failed for p in parts),
            refused=sum(p.refused for p in parts),
            max_additivity_error=max(errors) if errors else None,
        )


def summarize(results: Sequence[TextExplanation]) -> Counts:
    """The :class:`Counts` of ``results``."""
    good = [r for r in results if r.ok]
    errors = [r.additivity_error for r in good if r.additivity_error is not None]
    return Counts(
        rows=len(results),
        explained=len(good),
        failed=len(results) - len(good),
        refused=sum(not r.ok and (r.error or "").startswith(REFUSED) for r in results),
        max_additivity_error=max(errors) if errors else None,
    )
