"""The batches of a night's output, logged into its explanation run (the ``explain_reviews`` DAG's
mapped ``log_batch_artifacts`` task): work items, and what each logged.

A night's artifacts stay bounded whatever its rows: it is cut into at most ``max_items`` work
items (``DLEXPLAIN_ARTIFACT_GROUPS``, and never more than Airflow maps), and an item holding
several consecutive batches logs them as one group (one bar plot per class, one set of arrays,
at most ``TEXT_PLOTS`` text plots), under its first batch's prefix and step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dlexplain.base.records import Record
from dlexplain.spark.output import read_output

if TYPE_CHECKING:  # the module stays light: DAG files import it at parse time
    from dlexplain.explain.table import Counts


@dataclass(frozen=True)
class BatchItem(Record):
    """Consecutive batches of the output to log into the explanation run as one group (a mapped
    task's input): one batch each, unless the night has more batches than ``max_items``
    (:func:`batch_items`)."""

    run_id: str
    output: str
    partition: str
    batch: int  #: the first batch
    rows_per_batch: int
    batches: int = 1
    #: the metric points' time (ms): the same in every retry of the item, so MLflow keeps one
    timestamp_ms: int | None = None

    @property
    def numbers(self) -> range:
        """The item's batch numbers."""
        return range(self.batch, self.batch + self.batches)

    def prefix(self, number: int) -> str:
        """Where batch ``number``'s artifacts go in the run."""
        from dlexplain.tracking.runs import batch_prefix

        return batch_prefix(self.partition, number)


def batch_items(
    *,
    run_id: str,
    output: str,
    partition: str,
    rows: int,
    rows_per_batch: int,
    max_items: int,
    timestamp_ms: int | None = None,
) -> list[BatchItem]:
    """The night's batches as at most ``max_items`` work items (at most Airflow's
    ``max_map_length``: a mapped task with more fails), consecutive batches sharing an item when
    there are more."""
    batches = max(1, -(-rows // rows_per_batch))
    per_item = -(-batches // max_items)
    return [
        BatchItem(
            run_id=run_id,
            output=output,
            partition=partition,
            batch=first,
            rows_per_batch=rows_per_batch,
            batches=min(per_item, batches - first),
            timestamp_ms=timestamp_ms,
        )
        for first in range(0, batches, per_item)
    ]


def log_batch(item: BatchItem, class_name: str | None = None) -> Counts:
    """Log the item's batches as one group (plots, arrays and sampled text plots) into the
    explanation run, under its first batch's prefix and step (bar plots of ``class_name``, or of
    every class the group predicts when None); the counts of the rows logged."""
    from dlexplain.explain.table import read_explanations, summarize
    from dlexplain.tracking.artifacts import log_explanations

    table = read_output(item.output)
    start = item.batch * item.rows_per_batch
    results = read_explanations(table.slice(start, item.batches * item.rows_per_batch))
    log_explanations(
        results,
        item.prefix(item.batch),
        run_id=item.run_id,
        class_names=None if class_name is None else [class_name],
        step=item.batch,
        timestamp_ms=item.timestamp_ms,
    )
    return summarize(results)
