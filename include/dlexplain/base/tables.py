"""Read input tables (Parquet, CSV, JSON lines) and write Parquet atomically."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from dlexplain.base.files import atomic_write_bytes
from dlexplain.errors import DataError

READERS = {
    ".parquet": pd.read_parquet,
    ".csv": pd.read_csv,
    ".jsonl": lambda path: pd.read_json(path, lines=True),
    ".json": lambda path: pd.read_json(path, lines=True),
}


def read_table(path: str | Path) -> pd.DataFrame:
    """A DataFrame from a Parquet file or folder, a CSV or a JSON-lines file (by suffix)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"input {str(path)!r} does not exist")
    suffix = ".parquet" if path.is_dir() else path.suffix.lower()
    if suffix not in READERS:
        raise DataError(f"input {str(path)!r}: unknown format; use one of {sorted(READERS)}")
    return READERS[suffix](path)


def write_table(table, path: str | Path) -> Path:
    """Write a ``pyarrow.Table`` as Parquet; readers never see a partial file."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)
