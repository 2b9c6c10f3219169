"""Where one night's input and output live (:class:`PartitionPlan`), resolved from the path
templates of the ``explain_reviews`` DAG and checked before Spark starts."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from dlexplain.base.paths import fill_template
from dlexplain.base.records import Record
from dlexplain.config import Settings
from dlexplain.errors import DataError

DATASET_TEMPLATE = "{data_dir}/reviews/ds={ds}"


OUTPUT_TEMPLATE = "{home}/explanations/reviews/ds={ds}"


@dataclass(frozen=True)
class PartitionPlan(Record):
    """Where one day's input and output live, and what the Spark job needs to know."""

    ds: str
    partition: str
    input: str
    output: str
    tracking_uri: str
    python: str
    #: how the input is read: ``parquet``, ``csv`` or ``json`` (given, or detected in prepare)
    input_format: str = "parquet"
    #: the run's ``RunRequest`` as JSON, what the Spark job's ``--request`` receives
    request: str = "{}"


def plan_partition(
    ds: str,
    dataset_template: str,
    output_template: str,
    settings: Settings,
    *,
    text_column: str = "text",
    input_format: str | None = None,
) -> PartitionPlan:
    """Resolve the day's paths (``{ds}``, ``{data_dir}``, ``{home}`` placeholders); the input
    must exist (locally or on any filesystem pyarrow reads), be readable as ``input_format``
    (None: detected from the suffixes, ``base.tables.detect_format``) and have
    ``text_column``."""
    import mlflow

    from dlexplain.base.paths import confined
    from dlexplain.base.tables import detect_format, input_columns
    from dlexplain.spark.summary import foreign_output

    fields = {
        "ds": ds,
        "data_dir": str(settings.paths.data_dir.resolve()),
        "home": str(settings.paths.home.resolve()),
    }
    source, target = fill_template(dataset_template, fields), fill_template(output_template, fields)
    source = confined(source, list(settings.paths.input_roots), "input", "DLEXPLAIN_INPUT_ROOTS")
    target = confined(target, list(settings.paths.output_roots), "output", "DLEXPLAIN_OUTPUT_ROOTS")
    foreign = foreign_output(target)
    if foreign:
        raise DataError(foreign)
    try:
        fmt = detect_format(source, input_format)
        columns = input_columns(source, fmt)
    except DataError as err:
        raise DataError(f"{err} (template {dataset_template!r})") from err
    if text_column not in columns:
        raise DataError(f"text column {text_column!r} is not in the input's columns {columns}")
    return PartitionPlan(
        ds=ds,
        partition=f"ds={ds}",
        input=source,
        output=target,
        tracking_uri=mlflow.get_tracking_uri(),
        python=sys.executable,
        input_format=fmt,
    )
