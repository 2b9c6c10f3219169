"""TextExplanation: the explanation row, defined once, and every form derived from it.

Each field of :class:`TextExplanation` carries its :class:`Kind` (Arrow type, MLflow signature
type, JSON form) and whether it is ``required`` (never null). From that one table come the
dict/JSON form (``to_dict``/``to_json``), the Arrow struct (``arrow_type``), the MLflow output
columns (``dlexplain.model.signature.explainer_signature``) and the Spark struct
(``dlexplain.spark.udf``).

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
      "error": null,                    # a message when the row could not be explained
      "faithfulness": {                 # null unless asked for (dlexplain.quality.faithfulness)
        "comprehensiveness": 0.41, "sufficiency": 0.02,
        "random_comprehensiveness": 0.05, "random_sufficiency": 0.30
      },
      "method": "exact"                 # "exact" (shap's Partition explainer) or "fast"
    }                                   #   (the amortized explainer, dlexplain.fast)

A row with ``error`` set has empty ``tokens``/``values``/``base_values``/``probabilities`` and
null ``label``/``score``/``additivity_error``/``faithfulness``. The Arrow form has the same
fields, minus ``schema_version``; ``faithfulness`` is a struct of four doubles there (an MLflow
``Object``). Rows written before 0.4 have no ``faithfulness``; they read back with it null. Rows
written before 0.5 have no ``method``; they read back as ``"exact"`` (all there was).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

SCHEMA_VERSION = 1


def _float_or_none(value: Any) -> float | None:
    return None if value is None or value != value else float(value)  # NaN != NaN


def _floats(value: Any) -> list:
    return np.asarray(value, dtype=float).tolist()


def _items(value: Any) -> list:
    """A stored list however it was read: a list, a tuple, a numpy array (pandas reads a
    Parquet list column so) or None."""
    return [] if value is None else list(value)


def _matrix(value: Any) -> np.ndarray:
    """A (tokens, classes) matrix from nested lists or a numpy array of arrays."""
    rows = _items(value)
    return np.array([np.asarray(r, dtype=float) for r in rows]) if rows else np.zeros(0)


@dataclass(frozen=True)
class Kind:
    """How one column is typed in each form, and how its value becomes plain Python and back."""

    arrow: str  #: name of the ``pyarrow`` type (see ``arrow_type``); "struct": of ``members``
    mlflow: str  #: MLflow ColSpec type name, a ``[]`` suffix per nested array; "object"
    to_plain: Callable[[Any], Any]
    from_plain: Callable[[Any], Any]
    members: tuple[str, ...] = ()  #: a struct's fields, each a nullable double

    def arrow_type(self):
        import pyarrow as pa

        if self.arrow == "struct":
            return pa.struct([(name, pa.float64()) for name in self.members])
        nested, base = self.arrow.count("[]"), self.arrow.replace("[]", "")
        result = {"string": pa.string(), "double": pa.float64(), "bool": pa.bool_()}[base]
        for _ in range(nested):
            result = pa.list_(result)
        return result


@dataclass(frozen=True)
class Faithfulness:
    """ERASER faithfulness of one explanation, for its predicted class, with the random
    ranking's figures beside it (computed by ``dlexplain.quality.faithfulness``)."""

    #: AOPC of p(x) - p(x without the top tokens): higher is more faithful
    comprehensiveness: float
    #: AOPC of p(x) - p(only the top tokens): lower is more faithful
    sufficiency: float
    random_comprehensiveness: float
    random_sufficiency: float

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_plain(cls, value: Any) -> Faithfulness | None:
        """The record of a dict; None for None or a struct of nulls (how Spark keeps a null)."""
        if value is None or all(value.get(name) is None for name in cls.names()):
            return None
        return cls(**{name: float(value[name]) for name in cls.names()})

    def to_plain(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in self.names()}


STRING = Kind("string", "string", lambda v: v, lambda v: v)
DOUBLE = Kind("double", "double", _float_or_none, _float_or_none)
BOOL = Kind("bool", "boolean", bool, lambda v: bool(False if v is None else v))
STRINGS = Kind("string[]", "string[]", list, lambda v: tuple(str(x) for x in _items(v)))
DOUBLES = Kind("double[]", "double[]", _floats, lambda v: np.asarray(_items(v), dtype=float))
MATRIX = Kind("double[][]", "double[][]", _floats, _matrix)
#: which explainer made a row; a row from before the column existed was made by the exact one
METHOD = Kind("string", "string", lambda v: v, lambda v: v or "exact")
FAITHFULNESS = Kind(
    "struct",
    "object",
    lambda v: None if v is None else v.to_plain(),
    Faithfulness.from_plain,
    members=Faithfulness.names(),
)


def column(
    kind: Kind,
    *,
    required: bool,
    default: Any = None,
    default_factory: Callable[[], Any] | None = None,
):
    """A dataclass field that is also a typed column (``kind``, ``required`` = never null)."""
    meta = {"kind": kind, "required": required}
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, eq=False)
class TextExplanation:
    """SHAP explanation of one text, or the reason it could not be explained."""

    label: str | None = column(STRING, required=False)
    score: float | None = column(DOUBLE, required=False)
    tokens: tuple[str, ...] = column(STRINGS, required=True, default=())
    values: np.ndarray = column(
        MATRIX,
        required=True,  # (tokens, classes)
        default_factory=lambda: np.zeros((0, 0)),
    )
    base_values: np.ndarray = column(
        DOUBLES,
        required=True,  # (classes,)
        default_factory=lambda: np.zeros(0),
    )
    probabilities: np.ndarray = column(
        DOUBLES,
        required=True,  # (classes,)
        default_factory=lambda: np.zeros(0),
    )
    output_names: tuple[str, ...] = column(STRINGS, required=True, default=())
    additivity_error: float | None = column(DOUBLE, required=False)
    truncated: bool = column(BOOL, required=True, default=False)
    error: str | None = column(STRING, required=False)
    faithfulness: Faithfulness | None = column(FAITHFULNESS, required=False)
    method: str = column(METHOD, required=True, default="exact")

    @classmethod
    def explained(
        cls,
        tokens: Sequence[str],
        values,
        base_values,
        probabilities,
        output_names: Sequence[str],
        *,
        truncated: bool = False,
        method: str = "exact",
    ) -> TextExplanation:
        """A row from an explainer's numbers; the predicted class, its score and the additivity
        error (max over classes of ``|base + sum(values) - probability|``) follow from them."""
        values = np.asarray(values, dtype=np.float64)
        base_values = np.asarray(base_values, dtype=np.float64)
        probabilities = np.asarray(probabilities, dtype=np.float64)
        best = int(np.argmax(probabilities))
        return cls(
            tokens=tuple(str(t) for t in tokens),
            values=values,
            base_values=base_values,
            probabilities=probabilities,
            output_names=tuple(output_names),
            label=output_names[best],
            score=float(probabilities[best]),
            additivity_error=float(
                np.max(np.abs(base_values + values.sum(axis=0) - probabilities))
            ),
            truncated=truncated,
            method=method,
        )

    @classmethod
    def failed(
        cls, error: str, output_names: Sequence[str] = (), method: str = "exact"
    ) -> TextExplanation:
        """A row that could not be explained: the message, no values."""
        return cls(output_names=tuple(output_names), error=error, method=method)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (lists, floats, None), one key per column, in column order."""
        return {f.name: f.metadata["kind"].to_plain(getattr(self, f.name)) for f in COLUMNS}

    def to_json(self) -> str:
        """The documented JSON form (see the module docstring)."""
        return json.dumps({"schema_version": SCHEMA_VERSION, **self.to_dict()})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextExplanation:
        """Inverse of :meth:`to_dict`; also reads a row however it was read: pyarrow's
        ``to_pylist()``, pandas (lists as numpy arrays), Spark's ``Row.asDict(recursive=True)``
        or a served row."""
        values = {f.name: f.metadata["kind"].from_plain(data.get(f.name)) for f in COLUMNS}
        # values keep their (tokens, classes) shape even when a row has no tokens
        values["values"] = values["values"].reshape(
            len(values["tokens"]), -1 if values["tokens"] else len(values["output_names"])
        )
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> TextExplanation:
        data = json.loads(text)
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"unsupported explanation schema_version {version!r}")
        return cls.from_dict(data)


#: The field table: one typed column per field of TextExplanation, in column order.
COLUMNS = fields(TextExplanation)


def field_names() -> list[str]:
    """The explanation columns, in order."""
    return [f.name for f in COLUMNS]


def arrow_type():
    """The Arrow struct type of one explanation."""
    import pyarrow as pa

    return pa.struct([(f.name, f.metadata["kind"].arrow_type()) for f in COLUMNS])


def to_arrow(explanations: Iterable[TextExplanation]):
    """A ``pyarrow.Table`` with one column per field, one row per explanation."""
    import pyarrow as pa

    struct = pa.array([e.to_dict() for e in explanations], type=arrow_type())
    return pa.Table.from_struct_array(struct)


def to_pandas(explanations: Iterable[TextExplanation]):
    """A DataFrame with one column per field (lists as Python lists, nulls as None)."""
    import pandas as pd

    rows = [e.to_dict() for e in explanations]
    # nullable columns are objects, so None stays None (not NaN) for JSON clients
    return pd.DataFrame(
        {
            f.name: pd.Series(
                [row[f.name] for row in rows], dtype=None if f.metadata["required"] else object
            )
            for f in COLUMNS
        }
    )


def from_arrow(table) -> list[TextExplanation]:
    """Explanations from a table that has (at least) the explanation columns (a table written
    before a column was added reads back with it null)."""
    present = [name for name in field_names() if name in table.column_names]
    return [TextExplanation.from_dict(row) for row in table.select(present).to_pylist()]
