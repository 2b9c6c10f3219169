"""TextExplanation: the one definition of an explanation, and its JSON and Arrow forms.

JSON form (``TextExplanation.to_json``), one object per text, ``schema_version`` 1::

    {
      "schema_version": 1,
      "label": "POSITIVE",              # predicted class, null on error
      "score": 0.98,                    # its probability, null on error
      "tokens": ["", "great ", "film", ""],        # shap's text tokens ("" = special token)
      "values": [[0.0, 0.0], [-0.4, 0.4], ...],    # per token, one SHAP value per class
      "base_values": [0.5, 0.5],        # per class: model output with every token masked
      "probabilities": [0.02, 0.98],    # per class: model output on the text
      "output_names": ["NEGATIVE", "POSITIVE"],
      "additivity_error": 1e-7,         # max over classes |base + sum(values) - probability|
      "truncated": false,               # true when the text was cut to the model's token limit
      "error": null                     # a message when the row could not be explained
    }

A row with ``error`` set has empty ``tokens``/``values``/``base_values``/``probabilities`` and
null ``label``/``score``/``additivity_error``. The Arrow form (``ARROW_TYPE``) has the same
fields (``values`` as ``list<list<double>>``), minus ``schema_version``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

SCHEMA_VERSION = 1
_NULLABLE_FLOATS = ("score", "additivity_error")


def _float_or_none(value: Any) -> float | None:
    return None if value is None or value != value else float(value)  # NaN != NaN


@dataclass(frozen=True, eq=False)
class TextExplanation:
    """SHAP explanation of one text, or the reason it could not be explained."""

    tokens: tuple[str, ...] = ()
    values: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (tokens, classes)
    base_values: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (classes,)
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (classes,)
    output_names: tuple[str, ...] = ()
    label: str | None = None
    score: float | None = None
    additivity_error: float | None = None
    truncated: bool = False
    error: str | None = None

    @classmethod
    def failed(cls, error: str, output_names: Sequence[str] = ()) -> TextExplanation:
        """A row that could not be explained: the message, no values."""
        return cls(output_names=tuple(output_names), error=error)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (lists, floats, None) with the field names of the JSON form."""
        return {
            "label": self.label,
            "score": self.score,
            "tokens": list(self.tokens),
            "values": np.asarray(self.values, dtype=float).tolist(),
            "base_values": np.asarray(self.base_values, dtype=float).tolist(),
            "probabilities": np.asarray(self.probabilities, dtype=float).tolist(),
            "output_names": list(self.output_names),
            "additivity_error": self.additivity_error,
            "truncated": self.truncated,
            "error": self.error,
        }

    def to_json(self) -> str:
        """The documented JSON form (see the module docstring)."""
        return json.dumps({"schema_version": SCHEMA_VERSION, **self.to_dict()})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextExplanation:
        """Inverse of :meth:`to_dict` (also accepts an Arrow row as a dict)."""
        names = tuple(data.get("output_names") or ())
        tokens = tuple(data.get("tokens") or ())
        if tokens:
            values = np.asarray(data["values"], dtype=float).reshape(len(tokens), -1)
        else:
            values = np.zeros((0, len(names)))
        return cls(
            tokens=tokens,
            values=values,
            base_values=np.asarray(data.get("base_values") or [], dtype=float),
            probabilities=np.asarray(data.get("probabilities") or [], dtype=float),
            output_names=names,
            label=data.get("label"),
            score=_float_or_none(data.get("score")),
            additivity_error=_float_or_none(data.get("additivity_error")),
            truncated=bool(data.get("truncated") or False),
            error=data.get("error"),
        )

    @classmethod
    def from_json(cls, text: str) -> TextExplanation:
        data = json.loads(text)
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"unsupported explanation schema_version {version!r}")
        return cls.from_dict(data)


def arrow_type():
    """The Arrow struct type of one explanation (the same fields as the JSON form)."""
    import pyarrow as pa

    return pa.struct(
        [
            ("label", pa.string()),
            ("score", pa.float64()),
            ("tokens", pa.list_(pa.string())),
            ("values", pa.list_(pa.list_(pa.float64()))),
            ("base_values", pa.list_(pa.float64())),
            ("probabilities", pa.list_(pa.float64())),
            ("output_names", pa.list_(pa.string())),
            ("additivity_error", pa.float64()),
            ("truncated", pa.bool_()),
            ("error", pa.string()),
        ]
    )


def field_names() -> list[str]:
    """The explanation fields, in column order."""
    return [f.name for f in arrow_type()]


def to_arrow(explanations: Iterable[TextExplanation]):
    """A ``pyarrow.Table`` with one column per field, one row per explanation."""
    import pyarrow as pa

    struct = pa.array([e.to_dict() for e in explanations], type=arrow_type())
    return pa.Table.from_struct_array(struct)


def to_pandas(explanations: Iterable[TextExplanation]):
    """A DataFrame with one column per field (lists as Python lists), one row per explanation."""
    import pandas as pd

    rows = [e.to_dict() for e in explanations]
    frame = pd.DataFrame(rows, columns=field_names())
    for name in _NULLABLE_FLOATS:  # keep None as None (not NaN) for JSON clients
        frame[name] = pd.Series([row[name] for row in rows], dtype=object)
    return frame


def from_arrow(table) -> list[TextExplanation]:
    """Explanations from a table that has (at least) the fields of ``arrow_type()``."""
    return [TextExplanation.from_dict(row) for row in table.select(field_names()).to_pylist()]
