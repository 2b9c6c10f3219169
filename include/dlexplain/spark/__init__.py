"""Spark: the explainer as an iterator pandas UDF (``udf``) and the spark-submit job (``job``)
that explains one partition; the job's ``summary`` is the record the DAG reads back."""

from __future__ import annotations

from importlib.util import find_spec

#: Exit code of the spark-submit job when its input, arguments or model are wrong (a
#: ``DlexplainError``): no retry can heal it. Other failures exit otherwise.
EXIT_DETERMINISTIC = 2
#: The job's last stderr line on such a failure starts with this.
ERROR_PREFIX = "dlexplain batch_explain: error:"
#: Folder of the audited rows inside the output; the underscore keeps Spark and Arrow readers of
#: the output from taking it for data.
AUDIT_DIR = "_audit"


def application_path() -> str:
    """File path of the spark-submit job, for SparkSubmitOperator's ``application``."""
    spec = find_spec("dlexplain.spark.job")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("dlexplain.spark.job")
    return spec.origin
