"""The Spark job's output published atomically: written beside, swapped in by renames, under a
lock file that one job holds at a time."""

from __future__ import annotations

import logging
import time
import uuid

from dlexplain.errors import DataError
from dlexplain.explain.table import EXPLANATION_COLUMN
from dlexplain.spark.read import hadoop_filesystem
from dlexplain.spark.summary import SUMMARY_FILE, JobSummary, foreign_output

logger = logging.getLogger(__name__)


def publish(
    spark, tmp: str, output: str, rows_in: int, summary: dict, max_failed_share: float = 1.0
) -> JobSummary:
    """Check the written rows (all there; at most ``max_failed_share`` of them failed), write the
    summary beside them, swap ``tmp`` into ``output``."""
    from pyspark.sql import functions as F

    written = spark.read.parquet(tmp)
    rows_out = written.count()
    if rows_out != rows_in:
        raise DataError(f"row count changed: {rows_in} in, {rows_out} out; output not published")
    failed = written.filter(F.col(f"{EXPLANATION_COLUMN}.error").isNotNull()).count()
    if rows_out and failed / rows_out > max_failed_share:
        raise DataError(
            f"{failed} of {rows_out} rows failed, more than the share "
            f"{max_failed_share} allows (DLEXPLAIN_MAX_FAILED_SHARE): output not "
            "published, the previous one is kept"
        )
    result = JobSummary(rows=rows_out, failed=failed, **summary)
    filesystem, path = hadoop_filesystem(spark, f"{tmp}/{SUMMARY_FILE}")
    stream = filesystem.create(path, True)
    try:
        stream.write(bytearray(result.to_json().encode()))
    finally:
        stream.close()
    _replace(spark, tmp, output)
    return result


class OutputLocked(RuntimeError):
    """Another job is writing the same output (transient: a retry after it may succeed)."""


class OutputLock:
    """``<output>.lock`` on the cluster's filesystem, created atomically (``createNewFile``) and
    removed when the job ends; a lock older than ``stale_after`` seconds (a killed driver; the
    job timeout) is taken over."""

    def __init__(self, spark, output: str, stale_after: float):
        self.filesystem, self.path = hadoop_filesystem(spark, f"{output.rstrip('/')}.lock")
        self.output, self.stale_after, self.held = output, stale_after, False

    def acquire(self) -> None:
        if not self.filesystem.createNewFile(self.path):
            age = time.time() - self.filesystem.getFileStatus(self.path).getModificationTime() / 1e3
            if age < self.stale_after:
                raise OutputLocked(
                    f"{self.output!r} is locked by another job for {age:.0f} s "
                    f"({self.path.toString()}); delete it if that job is gone"
                )
            logger.warning("taking over a lock of %.0f s on %s", age, self.output)
            self.filesystem.delete(self.path, False)
            if not self.filesystem.createNewFile(self.path):
                raise OutputLocked(f"{self.output!r} is locked by another job")
        self.held = True

    def release(self) -> None:
        if self.held:
            self.filesystem.delete(self.path, False)
            self.held = False


def _replace(spark, tmp: str, output: str) -> None:
    """Swap ``tmp`` into ``output`` with renames on the cluster's filesystem."""
    filesystem, target = hadoop_filesystem(spark, output)
    backup_path = f"{output.rstrip('/')}.old-{uuid.uuid4().hex[:8]}"
    _, backup = hadoop_filesystem(spark, backup_path)
    _, source = hadoop_filesystem(spark, tmp)
    had_old = filesystem.exists(target)
    foreign = foreign_output(output) if had_old else None
    if foreign:
        raise DataError(foreign)
    if had_old and not filesystem.rename(target, backup):
        raise OSError(f"could not move the previous output {output!r} aside")
    if not filesystem.rename(source, target):
        if had_old:
            filesystem.rename(backup, target)
        raise OSError(f"could not move {tmp!r} to {output!r}")
    if had_old:
        filesystem.delete(backup, True)
