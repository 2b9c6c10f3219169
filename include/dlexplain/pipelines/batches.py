"""The batches of a night's output, logged into its explanation run (the ``explain_reviews`` DAG's
mapped ``log_batch_artifacts`` task): work items, and what each logged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dlexplain.base.records import Record
from dlexplain.spark.output import read_output

if TYPE_CHECKING:  # the module stays light: DAG files import it at parse time
    from dlexplain.explain.table import Counts


@dataclass(frozen=True)
class BatchItem(Record):
    """Consecutive batches of the output to log into the explanation run (a mapped task's input):
    one batch each, unless the night has more batches than Airflow maps (:func:`batch_items`)."""

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
    """The night's batches as at most ``max_items`` work items (Airflow's ``max_map_length``:
    a mapped task with more fails), consecutive batches sharing an item when there are more."""
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
    """Log each of the item's batches (plots, arrays and text plots) into the explanation run
    (bar plots of ``class_name``, or of every class the batch predicts when None); the counts of
    the rows logged."""
    from dlexplain.explain.table import Counts, read_explanations, summarize
    from dlexplain.tracking.artifacts import log_explanations

    table = read_output(item.output)
    logged = []
    for number in item.numbers:
        results = read_explanations(table.slice(number * item.rows_per_batch, item.rows_per_batch))
        logged.append(summarize(results))
        log_explanations(
            results,
            item.prefix(number),
            run_id=item.run_id,
            class_names=None if class_name is None else [class_name],
            step=number,
            timestamp_ms=item.timestamp_ms,
        )
    return Counts.total(logged)
