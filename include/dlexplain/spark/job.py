"""spark-submit application: explain one dataset partition with a logged explainer.

    spark-submit include/dlexplain/spark/job.py --model-uri runs:/<run_id>/explainer \\
        --input data/reviews/ds=2026-01-03 --output out/ds=2026-01-03 [--text-column text] \\
        [--id-column id] [--max-rows N] [--request '{"method": "fast", "faithfulness": true}']

Four steps: **read** the partition (spread over every core); **ship** the explainer (the driver
downloads it once and adds it zipped with ``SparkContext.addFile``); **explain** with an iterator
pandas UDF (``dlexplain.spark.udf``) that loads it once per Python worker and returns a typed
struct (it replaces ``mlflow.pyfunc.spark_udf``, whose struct conversion turns null strings into
``"None"``); **publish**: Parquet written to a temporary folder, counted, the summary
(``dlexplain.spark.summary``) written beside it, then swapped into the output in one rename, so
a re-run replaces a partition and readers never see half-written files. Every input row comes
out, bad ones with ``explanation.error`` set. ``--request`` is the run's
:class:`~dlexplain.explain.request.RunRequest` as JSON (checked when read): with
``faithfulness`` each explained row also gets its ``explanation.faithfulness``
(``dlexplain.quality.faithfulness``); method ``fast`` explains with the gated fast network of a
fast explainer and, with an ``audit_fraction``, also explains a sample of the rows exactly (the
texts chosen by a hash of the text seeded with ``audit_seed``) into the output's ``_audit``
folder, which the fidelity audit and the next fast explainer's training read. Texts the
explainer already explained come from the explanation cache; model evaluations and cache hits
are counted with accumulators. Torch threads per Python worker = ``spark.task.cpus``, so
tasks × threads never exceed the cores. The temporary folders and the Spark session are
removed whether the job succeeds or fails.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from dlexplain.base.tables import INPUT_FORMATS
from dlexplain.errors import ConfigError, DlexplainError
from dlexplain.explain.request import Method, RunRequest
from dlexplain.explain.table import EXPLANATION_COLUMN
from dlexplain.spark import AUDIT_DIR, ERROR_PREFIX, EXIT_DETERMINISTIC
from dlexplain.spark.publish import OutputLock, publish
from dlexplain.spark.read import hadoop_filesystem, read
from dlexplain.spark.summary import JobSummary

logger = logging.getLogger("dlexplain.spark.job")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model-uri", required=True, help="explainer URI, e.g. runs:/<id>/explainer"
    )
    parser.add_argument("--input", required=True, help="Parquet/CSV/JSON-lines file or folder")
    parser.add_argument("--output", required=True, help="Parquet folder (replaced atomically)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--id-column", default="", help="sort the output by this column")
    parser.add_argument("--max-rows", type=int, help="explain at most this many rows")
    parser.add_argument(
        "--format",
        choices=INPUT_FORMATS,
        help="input format (default: from the suffix of the file or of the "
        "folder's data files: dlexplain.base.tables.detect_format)",
    )
    parser.add_argument(
        "--max-failed-share",
        type=_fraction,
        default=1.0,
        help="refuse to publish when a larger share of rows failed (the old output stays)",
    )
    parser.add_argument(
        "--request",
        default="{}",
        help="the run's RunRequest as JSON (method, granularity, faithfulness, audit_fraction, "
        "audit_seed; default: exact, token, no faithfulness)",
    )
    return parser.parse_args(argv)


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from err
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be within [0, 1]")
    return number


@contextmanager
def _timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    """Record the seconds the block took as ``seconds[name]``."""
    started = time.monotonic()
    try:
        yield
    finally:
        seconds[name] = round(time.monotonic() - started, 2)


def ship(spark, model_uri: str, workdir: str, method: str = "exact") -> tuple[str, str]:
    """Download the explainer once, check that folder (``dlexplain.model.trust``), add it
    zipped to the job; (archive name, its text column). Executors check the unpacked copy
    again before loading it. A fast ``method`` needs an explainer with a fast network (checked
    before any work)."""
    import mlflow

    from dlexplain.model.pyfunc import ARTIFACT_FAST
    from dlexplain.model.refs import ExplainerRef
    from dlexplain.model.trust import download_checked
    from dlexplain.spark.udf import pack_model

    # into a folder of its own, named like workdir (unique: the archive's name in SparkFiles):
    # the zip beside it must stay inside workdir (it once stayed in the temp dir, 88 MB a job)
    local_model = str(
        download_checked(
            ExplainerRef.of_uri(model_uri), os.path.join(workdir, os.path.basename(workdir))
        )
    )
    logged = mlflow.models.Model.load(local_model)
    if method != "exact" and ARTIFACT_FAST not in logged.flavors["python_function"].get(
        "artifacts", {}
    ):
        raise ConfigError(
            f"method {method!r}: explainer {model_uri} has no fast network (a "
            "gated fast explainer is registered as <explainer>-fast)"
        )
    archive = pack_model(local_model)
    spark.sparkContext.addFile(archive)
    return os.path.basename(archive), logged.signature.inputs.input_names()[0]


def explain(
    spark,
    frame,
    args: argparse.Namespace,
    request: RunRequest,
    archive: str,
    model_text: str,
    tmp: str,
) -> tuple[int, int, int]:
    """Write ``frame`` plus its ``explanation`` column to ``tmp`` (and the audited rows to its
    ``_audit`` folder); (evaluations, cache hits, audited rows)."""
    from pyspark.sql import functions as F

    from dlexplain.spark.udf import explain_udf

    threads = int(spark.conf.get("spark.task.cpus", "1"))  # tasks x threads <= cores
    counters = (spark.sparkContext.accumulator(0), spark.sparkContext.accumulator(0))

    def explained(rows, method: str):
        udf = explain_udf(
            archive,
            model_text,
            threads,
            counters,
            faithfulness=request.faithfulness,
            method=method,
            granularity=request.granularity,
        )
        out = rows.withColumn(EXPLANATION_COLUMN, udf(F.col(args.text_column).cast("string")))
        if args.id_column:
            # orderBy samples its input in a job of its own: without persist() the UDF would
            # explain every row twice (once for the sample, once for the write)
            out = out.persist().orderBy(args.id_column)
        return out

    explained(frame, request.method).write.mode("overwrite").parquet(tmp)
    audited = 0
    if request.audited:
        sample = frame.filter(
            audit_sample(F.col(args.text_column), request.audit_fraction, request.audit_seed)
        )
        explained(sample, Method.EXACT.value).write.parquet(f"{tmp}/{AUDIT_DIR}")
        audited = spark.read.parquet(f"{tmp}/{AUDIT_DIR}").count()
        logger.info("audit: %d rows also explained exactly", audited)
    return counters[0].value, counters[1].value, audited


def audit_sample(text, fraction: float, seed: int):
    """Spark condition: the text is in the seeded sample of share ``fraction`` (a hash of the
    text, so a text is audited on every night or on none, whatever the partitioning)."""
    from pyspark.sql import functions as F

    bucket = F.pmod(F.xxhash64(F.lit(seed), text.cast("string")), F.lit(1_000_000))
    return text.isNotNull() & (bucket < F.lit(round(fraction * 1_000_000)))


def run(args: argparse.Namespace) -> JobSummary:
    """Explain ``args.input`` into ``args.output``; temp folders and the session always go."""
    from mlflow.environment_variables import MLFLOW_TRACKING_URI
    from pyspark.sql import SparkSession

    from dlexplain.config import Settings
    from dlexplain.model.trust import NO_PICKLE
    from dlexplain.tracking.users import credentials

    request = RunRequest.from_json(args.request)  # checked before any Spark work
    if args.model_uri.startswith(("runs:/", "models:/")) and not MLFLOW_TRACKING_URI.is_set():
        raise ConfigError(
            "MLFLOW_TRACKING_URI is not set: the job cannot resolve "
            f"{args.model_uri!r} (MLflow would fall back to a local mlflow.db)"
        )
    seconds: dict[str, float] = {}
    os.environ[NO_PICKLE[0]] = NO_PICKLE[1]  # MLflow unpickles nothing here, nor on executors
    # the driver downloads the explainer as the Spark jobs' own MLflow user, when one is set
    settings = Settings.from_env()
    os.environ.update(credentials(settings.spark.mlflow_user, settings.spark.mlflow_password))
    with _timed(seconds, "spark_start_s"):
        spark = (
            SparkSession.builder.appName(f"dlexplain batch_explain {args.input}")
            .config(f"spark.executorEnv.{NO_PICKLE[0]}", NO_PICKLE[1])
            .getOrCreate()
        )
    lock = OutputLock(spark, args.output, stale_after=settings.schedule.job_timeout)
    lock.acquire()
    workdir = tempfile.mkdtemp(prefix="dlexplain-job-")  # the model and its zip
    tmp = f"{args.output.rstrip('/')}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        frame, rows_in = read(spark, args)
        with _timed(seconds, "explainer_download_s"):
            archive, model_text = ship(spark, args.model_uri, workdir, request.method)
        with _timed(seconds, "explain_and_write_s"):
            evaluations, hits, audited = explain(
                spark, frame, args, request, archive, model_text, tmp
            )
        return publish(
            spark,
            tmp,
            args.output,
            rows_in,
            {
                "input": args.input,
                "output": args.output,
                "model_uri": args.model_uri,
                "model_evaluations": evaluations,
                "cache_hits": hits,
                "method": request.run_method,
                "audited": audited,
                "granularity": request.granularity,
                **seconds,
            },
            args.max_failed_share,
        )
    finally:
        lock.release()
        filesystem, leftover = hadoop_filesystem(spark, tmp)
        if filesystem.exists(leftover):  # a failed job leaves no half-written output behind
            filesystem.delete(leftover, True)
        shutil.rmtree(workdir, ignore_errors=True)
        spark.stop()


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        summary = run(parse_args(argv))
    except DlexplainError as err:
        print(f"{ERROR_PREFIX} {err}", file=sys.stderr, flush=True)
        return EXIT_DETERMINISTIC
    print("DLEXPLAIN_SUMMARY " + summary.to_json(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
