"""The explainer as a Spark iterator pandas UDF, loaded once per Python worker.

``mlflow.pyfunc.spark_udf`` on the logged explainer works too (the chapter's call; nulls are
kept, see ``dlexplain.model.udf_nulls``). The job uses this UDF because it also reports model
evaluations and cache hits through accumulators, sets torch threads per task, and ships the model
once as one zip (``pack_model``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)

#: Loaded explainers of this Python worker, by local model path (workers are reused across tasks).
_LOADED: dict[str, object] = {}


def explanation_struct():
    """Spark type of the explainer's output columns, derived from their Arrow struct."""
    from pyspark.sql.pandas.types import from_arrow_type

    from dlexplain.model.signature import output_arrow_type

    return from_arrow_type(output_arrow_type())


def pack_model(model_dir: str) -> str:
    """Zip a downloaded model folder for ``SparkContext.addFile`` (folders only work locally)."""
    import shutil

    return shutil.make_archive(model_dir.rstrip("/"), "zip", model_dir)


def _log_progress_to_stderr() -> None:
    """The engine's progress lines (``explained N of M texts``) on this worker's stderr, which
    Spark relays to the driver's log (and so to the Airflow task log)."""
    package = logging.getLogger("dlexplain")
    if not package.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        package.addHandler(handler)
        package.setLevel(logging.INFO)


def load_once(archive: str, torch_threads: int):
    """The pyfunc explainer packed in ``archive``, unpacked, checked and loaded on first call
    only."""
    if archive not in _LOADED:
        import shutil
        import tempfile

        import torch

        from dlexplain.model.trust import load_checked

        torch.set_num_threads(torch_threads)
        _log_progress_to_stderr()
        # beside the archive, in the folder Spark gave the job's files: Spark deletes it when the
        # application ends (a folder of the system temp dir stayed, 88 MB per worker and job)
        folder = tempfile.mkdtemp(prefix="dlexplain-explainer-", dir=os.path.dirname(archive))
        shutil.unpack_archive(archive, folder, "zip")
        _LOADED[archive] = load_checked(Path(folder))  # the unpacked copy is checked again
        logger.info("loaded explainer %s (torch threads %d)", archive, torch_threads)
    return _LOADED[archive]


def explain_udf(
    model_file: str,
    text_column: str,
    torch_threads: int,
    counters=None,
    *,
    faithfulness: bool = False,
    method: str = "exact",
    granularity: str = "token",
):
    """A pandas UDF: text column → explanation struct, for a ``pack_model`` archive added with
    ``addFile``. ``counters``: optional Spark accumulators (model evaluations, cache hits);
    ``faithfulness``: also measure each row's faithfulness; ``method``: ``exact``, ``fast`` or
    ``fast+verify``;
    ``granularity``: the unit of the values (the pyfunc's predict params)."""
    from pyspark.sql.functions import pandas_udf

    from dlexplain.model.signature import PARAM_FAITHFULNESS, PARAM_GRANULARITY, PARAM_METHOD

    struct = explanation_struct()
    columns = struct.fieldNames()

    # pyspark's stubs have no overload for the type-hinted form pandas_udf(returnType)
    @pandas_udf(struct)  # type: ignore[call-overload]
    def explain(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        from pyspark import SparkFiles

        model = load_once(SparkFiles.get(model_file), torch_threads)
        python_model = model.unwrap_python_model()
        for texts in batches:
            before = (python_model.evaluations, python_model.cache_hits)
            frame = pd.DataFrame({text_column: texts.astype(object).where(texts.notna(), None)})
            out = model.predict(
                frame,
                params={
                    PARAM_FAITHFULNESS: faithfulness,
                    PARAM_METHOD: method,
                    PARAM_GRANULARITY: granularity,
                },
            )[columns]
            if counters is not None:
                counters[0].add(python_model.evaluations - before[0])
                counters[1].add(python_model.cache_hits - before[1])
            yield out

    return explain
