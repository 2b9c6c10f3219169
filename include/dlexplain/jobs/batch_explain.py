"""spark-submit application: explain one dataset partition with a logged explainer.

    spark-submit include/dlexplain/jobs/batch_explain.py --model-uri runs:/<run_id>/explainer \\
        --input data/reviews/ds=2026-01-03 --output out/ds=2026-01-03 [--text-column text] \\
        [--id-column id] [--max-rows N]

The driver downloads the explainer once and ships it zipped with ``SparkContext.addFile``; an iterator
pandas UDF (``dlexplain.spark_explain``) loads it once per Python worker and returns a typed struct
(arrays of tokens and values as Spark columns). It replaces ``mlflow.pyfunc.spark_udf``, whose struct
conversion turns null strings into ``"None"`` (see that module). Output: the input columns plus one ``explanation`` struct column, as
Parquet; every input row comes out, bad ones with ``explanation.error`` set. Texts the explainer
already explained come from the explanation cache (``dlexplain.cache``); model evaluations and
cache hits are counted with accumulators and written to ``_dlexplain_summary.json`` in the
output. The write goes to a
temporary folder that replaces the output in one rename, so a re-run replaces a partition and
readers never see half-written files. Torch threads per Python worker = ``spark.task.cpus``, so
concurrent tasks × threads never exceed the cores Spark was given.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid

logger = logging.getLogger("dlexplain.jobs.batch_explain")

#: The job's summary (rows, model evaluations, cache hits, timings), written inside the output
#: folder; the leading underscore keeps Spark and Arrow readers from taking it for data.
SUMMARY_FILE = "_dlexplain_summary.json"

READ_FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "json", ".json": "json"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-uri", required=True, help="explainer URI, e.g. runs:/<id>/explainer")
    parser.add_argument("--input", required=True, help="Parquet/CSV/JSON-lines file or folder")
    parser.add_argument("--output", required=True, help="Parquet folder (replaced atomically)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--id-column", default="", help="sort the output by this column")
    parser.add_argument("--max-rows", type=int, help="explain at most this many rows")
    parser.add_argument("--format", choices=sorted(set(READ_FORMATS.values())),
                        help="input format (default: from the file suffix, else parquet)")
    return parser.parse_args(argv)


def read_input(spark, path: str, fmt: str | None):
    suffix = os.path.splitext(path.rstrip("/"))[1].lower()
    fmt = fmt or READ_FORMATS.get(suffix, "parquet")
    reader = spark.read.option("header", "true") if fmt == "csv" else spark.read
    return reader.format(fmt).load(path)


def write_text(spark, path: str, text: str) -> None:
    """Write a small UTF-8 file through Hadoop's FileSystem (any Hadoop URI)."""
    jvm = spark.sparkContext._jvm
    target = jvm.org.apache.hadoop.fs.Path(path)
    stream = target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).create(target, True)
    try:
        stream.write(bytearray(text.encode()))
    finally:
        stream.close()


def replace_atomically(spark, tmp: str, output: str) -> None:
    """Swap ``tmp`` into ``output`` with Hadoop FileSystem renames (any Hadoop filesystem)."""
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    target = jvm.org.apache.hadoop.fs.Path(output)
    fs = target.getFileSystem(conf)
    backup = jvm.org.apache.hadoop.fs.Path(f"{output.rstrip('/')}.old-{uuid.uuid4().hex[:8]}")
    had_old = fs.exists(target)
    if had_old and not fs.rename(target, backup):
        raise OSError(f"could not move the previous output {output!r} aside")
    if not fs.rename(jvm.org.apache.hadoop.fs.Path(tmp), target):
        if had_old:
            fs.rename(backup, target)
        raise OSError(f"could not move {tmp!r} to {output!r}")
    if had_old:
        fs.delete(backup, True)


def run(args: argparse.Namespace) -> dict:
    import mlflow
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from dlexplain.spark_explain import explain_udf, pack_model

    if args.model_uri.startswith(("runs:/", "models:/")) and not os.environ.get("MLFLOW_TRACKING_URI"):
        raise SystemExit("MLFLOW_TRACKING_URI is not set: the job cannot resolve "
                         f"{args.model_uri!r} (MLflow would fall back to a local mlflow.db)")
    timings = {}
    started = time.monotonic()
    spark = SparkSession.builder.appName(f"dlexplain batch_explain {args.input}").getOrCreate()
    timings["spark_start_s"] = time.monotonic() - started

    frame = read_input(spark, args.input, args.format)
    if args.text_column not in frame.columns:
        raise SystemExit(f"text column {args.text_column!r} not in input columns {frame.columns}")
    if args.max_rows:
        frame = frame.limit(args.max_rows)
    parallelism = spark.sparkContext.defaultParallelism
    if frame.rdd.getNumPartitions() < parallelism:  # a one-file partition would use one core
        frame = frame.repartition(parallelism)
    frame = frame.cache()
    rows_in = frame.count()

    step = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="dlexplain-job-")  # the model and its zip, removed at the end
    local_model = mlflow.artifacts.download_artifacts(args.model_uri, dst_path=workdir)
    archive = pack_model(local_model)
    spark.sparkContext.addFile(archive)
    model_text = mlflow.models.get_model_info(local_model).signature.inputs.input_names()[0]
    threads = int(spark.conf.get("spark.task.cpus", "1"))  # tasks x threads <= cores
    counters = (spark.sparkContext.accumulator(0), spark.sparkContext.accumulator(0))
    explain = explain_udf(os.path.basename(archive), model_text, threads, counters)
    timings["explainer_download_s"] = time.monotonic() - step

    explained = frame.withColumn("explanation", explain(F.col(args.text_column).cast("string")))
    if args.id_column:
        # orderBy samples its input in a job of its own: without persist() the UDF would explain
        # every row twice (once for the sample, once for the write)
        explained = explained.persist().orderBy(args.id_column)
    tmp = f"{args.output.rstrip('/')}.tmp-{uuid.uuid4().hex[:8]}"
    step = time.monotonic()
    explained.write.mode("overwrite").parquet(tmp)
    timings["explain_and_write_s"] = time.monotonic() - step

    written = spark.read.parquet(tmp)
    rows_out = written.count()
    failed = written.filter(F.col("explanation.error").isNotNull()).count()
    if rows_out != rows_in:
        raise SystemExit(f"row count changed: {rows_in} in, {rows_out} out; output not published")
    summary = {"input": args.input, "output": args.output, "rows": rows_out, "failed": failed,
               "model_uri": args.model_uri, "model_evaluations": counters[0].value,
               "cache_hits": counters[1].value,
               **{k: round(v, 2) for k, v in timings.items()}}
    write_text(spark, f"{tmp}/{SUMMARY_FILE}", json.dumps(summary))
    replace_atomically(spark, tmp, args.output)
    shutil.rmtree(workdir, ignore_errors=True)
    spark.stop()
    return summary


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    summary = run(parse_args(argv))
    print("DLEXPLAIN_SUMMARY " + json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
