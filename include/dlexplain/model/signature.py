"""The explainer's MLflow signature: its output columns (the explanation row's, its JSON form
first, the answering run last) and the params a request may pass."""

from __future__ import annotations

from mlflow.models import ModelSignature
from mlflow.types.schema import (
    Array,
    ColSpec,
    Object,
    ParamSchema,
    ParamSpec,
    Property,
    Schema,
    TensorSpec,
)

from dlexplain.explain.row import COLUMNS, STRING, Kind

#: Output columns besides the explanation's, (name, kind, required): its JSON form comes FIRST,
#: because ``mlflow.pyfunc.spark_udf(..., result_type=StringType())`` returns the leftmost
#: column (the book chapter's call), and which explainer answered comes last.
JSON_COLUMN = ("explanation_json", STRING, True)


RUN_COLUMN = ("explainer_run_id", STRING, False)


def output_table() -> list[tuple[str, Kind, bool]]:
    """(name, kind, required) of every output column, in order."""
    explanation = [(f.name, f.metadata["kind"], f.metadata["required"]) for f in COLUMNS]
    return [JSON_COLUMN, *explanation, RUN_COLUMN]


def output_columns() -> list[str]:
    """The pyfunc's output columns: the JSON form, the explanation's columns, the run id."""
    return [name for name, _, _ in output_table()]


def output_arrow_type():
    """Arrow struct of one output row (the Spark UDF's result type is derived from it)."""
    import pyarrow as pa

    return pa.struct([pa.field(name, kind.arrow_type()) for name, kind, _ in output_table()])


def _mlflow_type(kind: Kind):
    """The MLflow type of a column kind (``double[][]`` → ``Array(Array("double"))``, a struct
    → an ``Object`` of optional doubles)."""
    if kind.mlflow == "object":
        return Object([Property(name, "double", required=False) for name in kind.members])
    result: str | Array = kind.mlflow.replace("[]", "")
    for _ in range(kind.mlflow.count("[]")):
        result = Array(result)
    return result


def explainer_signature(text_column: str = "text", fast: bool = False) -> ModelSignature:
    """Input: one string column; output: the typed explanation columns and the extras;
    params: ``faithfulness`` (bool, default false), ``method`` (default "fast" for an
    explainer with a fast network, else "exact") and ``granularity`` (default "token")."""
    outputs: list[ColSpec | TensorSpec] = [
        ColSpec(_mlflow_type(kind), name, required=required)
        for name, kind, required in output_table()
    ]
    params = [
        ParamSpec(PARAM_FAITHFULNESS, "boolean", False),
        ParamSpec(PARAM_METHOD, "string", "fast" if fast else "exact"),
        ParamSpec(PARAM_GRANULARITY, "string", "token"),
    ]
    return ModelSignature(
        inputs=Schema([ColSpec("string", text_column)]),
        outputs=Schema(outputs),
        params=ParamSchema(params),
    )


#: predict param: also compute each row's faithfulness (``dlexplain.quality.faithfulness``, about
#: 20 more forward passes per text); off unless a request asks for it.
PARAM_FAITHFULNESS = "faithfulness"


#: predict param: "exact" (shap's Partition explainer), "fast" (the amortized network) or
#: "fast+verify" (fast, each row checked and explained exactly where the check fails); an
#: explainer logged with a fast network answers fast unless asked, one without it only exact.
PARAM_METHOD = "method"


#: predict param: the unit of each row's values, ``token`` (default), ``word``, ``sentence`` or
#: ``paragraph`` (``dlexplain.explain.units``; the fast method answers token and word)
PARAM_GRANULARITY = "granularity"
