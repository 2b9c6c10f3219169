"""Read input tables (Parquet, CSV, JSON lines) and write Parquet atomically."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from dlexplain.base.files import atomic_write_bytes
from dlexplain.errors import DataError

#: input format of a path by its suffix (a folder or no known suffix: Parquet)
FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "json", ".json": "json"}
#: pandas reader of each input format (``json``: JSON lines)
READERS = {
    "parquet": pd.read_parquet,
    "csv": pd.read_csv,
    "json": lambda path: pd.read_json(path, lines=True),
}


def read_table(path: str | Path) -> pd.DataFrame:
    """A DataFrame from a Parquet file or folder, a CSV or a JSON-lines file (by suffix)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"input {str(path)!r} does not exist")
    suffix = ".parquet" if path.is_dir() else path.suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"input {str(path)!r}: unknown format; use one of {sorted(FORMATS)}")
    return READERS[FORMATS[suffix]](path)


def input_format(path: str) -> str:
    """``parquet``, ``csv`` or ``json`` (JSON lines) for an input path, by its suffix."""
    return FORMATS.get(Path(path.rstrip("/")).suffix.lower(), "parquet")


def arrow_source(path: str):
    """``(pyarrow filesystem, path in it)`` for a local path or a URI (``s3://…``, ``gs://…``,
    ``hdfs://…``; S3 endpoint and keys from the usual ``AWS_*`` variables)."""
    from pyarrow import fs

    if "://" not in path:
        return fs.LocalFileSystem(), str(Path(path).resolve())
    try:
        return fs.FileSystem.from_uri(path)
    except Exception as err:  # pyarrow: unknown scheme, or a filesystem it was built without
        raise DataError(f"cannot open {path!r}: {err}") from err


def open_dataset(path: str, fmt: str | None = None):
    """A ``pyarrow.dataset.Dataset`` of a Parquet, CSV or JSON-lines input (a file or a folder
    of files, local or on any filesystem pyarrow reaches); nothing is read but its schema.
    :class:`DataError` when it is missing or unreadable."""
    import pyarrow.dataset as ds
    from pyarrow import fs

    filesystem, where = arrow_source(path)
    try:
        if filesystem.get_file_info(where).type == fs.FileType.NotFound:
            raise DataError(f"input {path!r} does not exist")
        return ds.dataset(where, filesystem=filesystem, format=fmt or input_format(path))
    except DataError:
        raise
    except Exception as err:  # pyarrow: unreadable file, wrong format, no access
        raise DataError(f"cannot read input {path!r}: {err}") from err


def input_columns(path: str, fmt: str | None = None) -> list[str]:
    """Column names of an input (see :func:`open_dataset`), read from its schema only."""
    return open_dataset(path, fmt).schema.names


def write_table(table, path: str | Path) -> Path:
    """Write a ``pyarrow.Table`` as Parquet; readers never see a partial file."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)
