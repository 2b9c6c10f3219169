"""Read input tables (Parquet, CSV, JSON lines) and write Parquet atomically."""

from __future__ import annotations

import io
from pathlib import Path

from dlexplain.base.files import atomic_write_bytes
from dlexplain.errors import DataError

#: input format of a file by its suffix (before any compression suffix)
FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "json", ".json": "json"}
#: the formats an input may be read as (``json``: JSON lines)
INPUT_FORMATS = ("parquet", "csv", "json")
#: compression suffixes a CSV or JSON-lines file may carry (pandas, pyarrow and Spark read them)
COMPRESSIONS = (".gz", ".bz2", ".zst")
#: how many file names an error message lists
_SHOWN = 8


def format_of_name(name: str) -> str | None:
    """``parquet``, ``csv`` or ``json`` for a file name by its suffix (``part-0.csv.gz``:
    ``csv``), or None."""
    stem = name.lower()
    for compression in COMPRESSIONS:
        stem = stem.removesuffix(compression)
    return FORMATS.get(Path(stem).suffix)


def _bare(relative: str) -> bool:
    """A file name without any suffix (``part-00000``)."""
    return not Path(relative).suffix


def _is_data(relative: str) -> bool:
    """False for what Spark and Hadoop write beside the data (``_SUCCESS``, ``.part-0.crc``,
    ``_temporary/``): any part of the path that starts with ``_`` or ``.``."""
    return not any(part.startswith(("_", ".")) for part in relative.split("/"))


def data_files(path: str) -> list[str] | None:
    """The data files of a folder input (relative paths, sorted), or None for a file."""
    from pyarrow import fs

    filesystem, where = arrow_source(path)
    info = filesystem.get_file_info(where)
    if info.type == fs.FileType.NotFound:
        raise DataError(f"input {path!r} does not exist")
    if info.type != fs.FileType.Directory:
        return None
    found = filesystem.get_file_info(fs.FileSelector(where, recursive=True))
    return sorted(
        f.path[len(where) :].lstrip("/")
        for f in found
        if f.type == fs.FileType.File and _is_data(f.path[len(where) :].lstrip("/"))
    )


def _shown(names: list[str]) -> str:
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more


def detect_format(path: str, requested: str | None = None) -> str:
    """The format an input is read as: ``requested`` when given, else the suffix of the file
    or of every data file of the folder (Spark's ``part-*`` files; ``_SUCCESS``, ``.crc`` and
    other ``_``/``.`` files ignored; ``.gz``, ``.bz2``, ``.zst`` looked through; files without
    any suffix: Parquet). :class:`DataError` naming the files seen when a folder's files
    disagree or one has a suffix of no known format (``.lz4``, ``.tsv``)."""
    if requested is not None:
        if requested not in INPUT_FORMATS:
            raise DataError(f"input format {requested!r} is not one of {INPUT_FORMATS}")
        return requested
    files = data_files(path)
    if files is None:
        found = format_of_name(path.rstrip("/").rsplit("/", 1)[-1])
        if found is None:
            raise DataError(
                f"input {path!r}: its suffix names no format; use one of "
                f"{sorted(FORMATS)} (optionally {'/'.join(COMPRESSIONS)}), or set "
                "input_format"
            )
        return found
    if not files:
        raise DataError(f"input folder {path!r} holds no data files")
    # a file without a suffix is Parquet, as Hive writes them
    formats = {format_of_name(f) or ("parquet" if _bare(f) else None) for f in files}
    found = formats.pop() if len(formats) == 1 else None
    if found is not None:
        return found
    raise DataError(
        f"input folder {path!r} mixes formats or holds files of no known format "
        f"({_shown(files)}); set input_format, or keep one format per folder"
    )


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
    of files, compressed or not, local or on any filesystem pyarrow reaches; ``fmt`` None:
    :func:`detect_format`); nothing is read but its schema. :class:`DataError` when it is
    missing or unreadable as ``fmt``, naming the files seen."""
    import pyarrow.dataset as ds

    fmt = name = detect_format(path, fmt)
    filesystem, where = arrow_source(path)
    if name == "csv":  # quoted fields may hold newlines (reviews do)
        from pyarrow import csv

        fmt = ds.CsvFileFormat(parse_options=csv.ParseOptions(newlines_in_values=True))
    try:
        return ds.dataset(where, filesystem=filesystem, format=fmt)
    except Exception as err:  # pyarrow: unreadable file, wrong format, no access
        files = data_files(path)
        seen = f"; files seen: {_shown(files)}" if files else ""
        raise DataError(f"cannot read input {path!r} as {name}: {err}{seen}") from err


def read_table(path: str | Path, fmt: str | None = None):
    """A pandas DataFrame of a whole input (see :func:`open_dataset`)."""
    return open_dataset(str(path), fmt).to_table().to_pandas()


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
