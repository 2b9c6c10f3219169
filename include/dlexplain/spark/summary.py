"""JobSummary: what the Spark job did, written inside its output and read back by the DAG."""

from __future__ import annotations

import os
from dataclasses import dataclass

from dlexplain.base.records import Record

#: The summary's file inside the output folder; the leading underscore keeps Spark and Arrow
#: readers from taking it for data.
SUMMARY_FILE = "_dlexplain_summary.json"


@dataclass(frozen=True)
class JobSummary(Record):
    """Rows in and out, the work done (model evaluations, cache hits) and where time went."""

    input: str
    output: str
    model_uri: str
    rows: int
    failed: int
    model_evaluations: int
    cache_hits: int
    spark_start_s: float
    explainer_download_s: float
    explain_and_write_s: float

    @classmethod
    def read(cls, output: str) -> JobSummary:
        """The summary inside the job's ``output`` folder (a local path or any Arrow URI)."""
        from pyarrow import fs

        filesystem, path = fs.FileSystem.from_uri(output if "://" in output
                                                  else os.path.abspath(output))
        with filesystem.open_input_stream(f"{path.rstrip('/')}/{SUMMARY_FILE}") as stream:
            return cls.from_json(stream.read().decode())
