"""JobSummary: what the Spark job did, written inside its output and read back by the DAG."""

from __future__ import annotations

from dataclasses import dataclass

from dlexplain.base.records import Record
from dlexplain.spark.output import filesystem


@dataclass(frozen=True)
class JobSummary(Record):
    """Rows in and out, the work done and where the time went."""

    #: rows written (always the rows read: the job refuses to publish otherwise)
    rows: int
    #: rows whose ``explanation.error`` is set
    failed: int
    #: texts the classifier evaluated (masked texts included); 0 when every text was cached
    model_evaluations: int
    #: texts answered from the explanation cache
    cache_hits: int
    input: str
    output: str
    #: the explainer the job loaded
    model_uri: str
    #: seconds: start of the Spark session, the explainer's download, explaining and writing
    spark_start_s: float
    explainer_download_s: float
    explain_and_write_s: float
    #: exact, fast, fast+verify or fast+audit (``RunRequest.run_method``)
    method: str = "exact"
    #: rows also explained exactly, in the output's ``_audit`` folder (fast+audit)
    audited: int = 0
    #: the unit of the values (``dlexplain.explain.config.GRANULARITIES``)
    granularity: str = "token"

    @classmethod
    def read(cls, output: str) -> JobSummary:
        """The summary inside the job's ``output`` folder (a local path or any Arrow URI)."""
        files, path = filesystem(output)
        with files.open_input_stream(f"{path.rstrip('/')}/{SUMMARY_FILE}") as stream:
            return cls.from_json(stream.read().decode())


#: The summary's file inside the output folder; the leading underscore keeps Spark and Arrow
#: readers from taking it for data.
SUMMARY_FILE = "_dlexplain_summary.json"


def foreign_output(output: str) -> str | None:
    """Why the job must not replace ``output`` (a folder it did not write: no summary file
    inside), or None when it is absent or the job's own."""
    from pyarrow import fs

    files, path = filesystem(output)
    found = files.get_file_info([path, f"{path.rstrip('/')}/{SUMMARY_FILE}"])
    if found[0].type == fs.FileType.NotFound or found[1].type == fs.FileType.File:
        return None
    return (
        f"{output!r} exists and was not written by dlexplain (no {SUMMARY_FILE} inside): "
        "refusing to replace it; choose another output, or remove it yourself"
    )
