"""Default data: held-out IMDb reviews as daily Parquet partitions ``ds=YYYY-MM-DD``."""

from __future__ import annotations

import io
import logging
from datetime import date, timedelta
from pathlib import Path

from dlexplain.base.files import atomic_write_bytes
from dlexplain.defaults import imdb
from dlexplain.errors import ConfigError

logger = logging.getLogger(__name__)

#: Day 0 of the partition numbering: a date's rows depend on the date alone, not on the range built.
EPOCH = date(2024, 1, 1)


def partition_path(data_dir: Path, day: date) -> Path:
    """Where the reviews of ``day`` live."""
    return data_dir / "reviews" / f"ds={day.isoformat()}" / "part-0.parquet"


def build_default_data(
    cache_dir: Path, data_dir: Path, start: date, end: date, rows_per_day: int = 16
) -> list[Path]:
    """Write one partition per day in [start, end] from reviews never used in training."""
    if end < start:
        raise ConfigError(f"end {end.isoformat()!r} is before start {start.isoformat()!r}")
    if rows_per_day < 1:
        raise ConfigError(f"rows_per_day={rows_per_day!r} must be >= 1")
    holdout = imdb.load_reviews(cache_dir)
    holdout = holdout[holdout["split"] == "holdout"][["id", "text", "label"]].reset_index(drop=True)
    slots = len(holdout) // rows_per_day
    written = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        slot = (day - EPOCH).days % slots
        rows = holdout.iloc[slot * rows_per_day : (slot + 1) * rows_per_day]
        buffer = io.BytesIO()
        rows.to_parquet(buffer, index=False)
        path = partition_path(data_dir, day)
        atomic_write_bytes(path, buffer.getvalue())
        written.append(path)
    logger.info(
        "wrote %d daily partitions of %d reviews under %s",
        len(written),
        rows_per_day,
        data_dir / "reviews",
    )
    return written
