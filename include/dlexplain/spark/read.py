"""The Spark job's input read as Parquet, CSV or JSON lines from any filesystem Spark (or, where
Spark has none for the scheme, pyarrow) reaches."""

from __future__ import annotations

import argparse
import logging

from dlexplain.base.tables import (
    detect_format,
    format_of_name,
    input_columns,
    open_dataset,
)
from dlexplain.errors import DataError

logger = logging.getLogger(__name__)


def hadoop_filesystem(spark, path: str):
    """``(FileSystem, Path)`` of Hadoop for ``path``, through the JVM gateway.

    PySpark has no public API to rename or write files on the cluster's filesystem (HDFS, S3A,
    local, …), and the atomic swap of the output needs a rename there. This is the one place
    that reaches into PySpark's private ``_jvm``/``_jsc`` handles for it.
    """
    jvm = spark.sparkContext._jvm
    target = jvm.org.apache.hadoop.fs.Path(path)
    return target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), target


#: CSV as pandas, Python's csv module and spreadsheets write it: a header, quotes doubled inside
#: quoted fields, newlines inside quoted fields (Spark's defaults: backslash escapes, one line)
CSV_OPTIONS = {"header": "true", "multiLine": "true", "escape": '"'}


def read(spark, args: argparse.Namespace):
    """The input partition as a cached DataFrame spread over every core, and its row count.

    Spark reads what its Hadoop filesystems reach; a URI whose scheme it has no filesystem for
    (``s3://`` without the hadoop-aws jars) is read by pyarrow on the driver instead.
    """
    try:
        hadoop_filesystem(spark, args.input)
        reachable = True
    except Exception:  # Py4J: UnsupportedFileSystemException "No FileSystem for scheme"
        reachable = False
    try:
        fmt = detect_format(args.input, args.format)
    except DataError:
        # a cluster filesystem pyarrow cannot list (s3a://, abfss://): the path's own suffix
        if not reachable or "://" not in args.input:
            raise
        fmt = format_of_name(args.input.rstrip("/").rsplit("/", 1)[-1]) or "parquet"
    try:
        if reachable:
            reader = spark.read.options(**CSV_OPTIONS) if fmt == "csv" else spark.read
            frame = reader.format(fmt).load(args.input)
        else:
            frame = spark.createDataFrame(_arrow_table(args.input, fmt))
    except DataError:
        raise
    except Exception as err:  # Spark's AnalysisException: path missing, unreadable format
        raise DataError(f"cannot read input {args.input!r} as {fmt}: {err}") from err
    if args.text_column not in frame.columns:
        raise DataError(f"text column {args.text_column!r} not in input columns {frame.columns}")
    if fmt == "json" and reachable:  # Spark's JSON schema inference sorts the columns by name
        frame = frame.select(*_columns_in_file_order(args.input, frame.columns))
    if args.max_rows:
        frame = frame.limit(args.max_rows)
    # always shuffled round-robin: a file's splits can hold no rows (a split reads the row groups
    # that start in it: a 10 MB Parquet file of one row group gave two splits, every row in one,
    # and the night ran on one core); the texts are a small share of a night's cost
    parallelism = spark.sparkContext.defaultParallelism
    frame = frame.repartition(max(frame.rdd.getNumPartitions(), parallelism)).cache()
    return frame, frame.count()


def _columns_in_file_order(path: str, columns: list[str]) -> list[str]:
    """``columns`` in the order the input's first records list them (as pyarrow reads them);
    Spark's order when pyarrow cannot read the path."""
    try:
        ordered = [c for c in input_columns(path, "json") if c in columns]
    except DataError:
        return columns
    return ordered + [c for c in columns if c not in ordered]


def _arrow_table(path: str, fmt: str):
    """The whole input read by pyarrow (any filesystem pyarrow reaches)."""
    logger.info("reading %s with pyarrow (Spark has no filesystem for its scheme)", path)
    return open_dataset(path, fmt).to_table()
