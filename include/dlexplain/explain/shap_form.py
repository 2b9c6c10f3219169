"""``to_shap``: a stored explanation back into a ``shap.Explanation``, for shap's own plots."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dlexplain.explain.row import TextExplanation


def as_explanation(row: TextExplanation | Mapping[str, Any] | str) -> TextExplanation:
    """A :class:`TextExplanation` from any stored form: the object itself, its JSON (e.g. the
    served ``explanation_json``), a dict (``to_dict``, a pyarrow row, a pandas cell of a Parquet
    file, a served row) or a Spark ``Row``."""
    if isinstance(row, TextExplanation):
        return row
    if isinstance(row, str):
        return TextExplanation.from_json(row)
    if hasattr(row, "asDict"):  # a Spark Row
        return TextExplanation.from_dict(dict(row.asDict(recursive=True)))
    return TextExplanation.from_dict(dict(row))


def to_shap(row: TextExplanation | Mapping[str, Any] | str):
    """The ``shap.Explanation`` of one text (tokens × classes), as shap's explainer returns it
    for ``explainer([text])[0]``: ``shap.plots.text(to_shap(row))``,
    ``shap.plots.bar(to_shap(row)[:, "POSITIVE"])``. A row that failed has no values:
    ``ValueError`` with its error."""
    import shap

    explanation = as_explanation(row)
    if not explanation.ok:
        raise ValueError(f"this row has no explanation: {explanation.error}")
    return shap.Explanation(
        values=np.asarray(explanation.values),
        base_values=np.asarray(explanation.base_values),
        data=np.array(explanation.tokens, dtype=object),
        output_names=list(explanation.output_names),
        feature_names=list(explanation.tokens),
    )
