"""The Spark job's output, read back: the explained partition and a fast+audit night's sample."""

from __future__ import annotations

import os

from dlexplain.spark import AUDIT_DIR


def filesystem(output: str):
    """``(pyarrow FileSystem, path)`` of a job output: a local path or any Arrow URI."""
    from pyarrow import fs

    return fs.FileSystem.from_uri(output if "://" in output else os.path.abspath(output))


def read_output(output: str):
    """The Spark job's output partition as a ``pyarrow.Table`` (part files in name order)."""
    import pyarrow.parquet as pq

    return pq.read_table(output)


def read_audit(output: str):
    """The exactly explained sample of a ``fast+audit`` night (a ``pyarrow.Table``), or None."""
    from pyarrow import fs

    files, inner = filesystem(f"{output.rstrip('/')}/{AUDIT_DIR}")
    if files.get_file_info(inner).type != fs.FileType.Directory:
        return None
    return read_output(f"{output.rstrip('/')}/{AUDIT_DIR}")
