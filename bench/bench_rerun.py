"""Benchmark: the explain_reviews DAG on a new partition, then again on the same partition.

The second run finds every text in the explanation cache: it should do zero model evaluations
and take a fraction of the first run's time. Runs ``dag.test()`` twice against a throwaway MLflow
server and Airflow home, on --texts held-out reviews cut to --chars, and prints each run's wall
time, its Spark session start (the JVM start, excluded from the ratio), model evaluations and cache
hits. Run: ``.venv/bin/python bench/bench_rerun.py --texts 32 --chars 500 --max-evals 500``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import print_figures

REPO = Path(__file__).resolve().parents[1]
DAY = "2026-02-01"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=32)
    parser.add_argument("--chars", type=int, default=500)
    parser.add_argument("--max-evals", type=int, default=500)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="dlexplain-bench-rerun-"))
    bin_dir = str(Path(sys.executable).parent)
    os.environ.update({
        "AIRFLOW_HOME": str(work / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW_CONN_SPARK_DEFAULT": "spark://local%5B2%5D",
        "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "DLEXPLAIN_HOME": str(work / "home"), "DLEXPLAIN_DATA_DIR": str(work / "home" / "data"),
        "DLEXPLAIN_EXPLANATION_CACHE_PATH": str(work / "explanations.sqlite"),
    })
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   capture_output=True)

    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    from dlexplain.config import Settings
    from dlexplain.defaults import build_default_model, load_reviews
    from dlexplain.defaults.data import partition_path
    from dlexplain.pipelines.partitions import DATASET_TEMPLATE, OUTPUT_TEMPLATE, plan_partition
    from dlexplain.spark.summary import JobSummary
    from dlexplain.tracking.server import start_server, stop_server

    settings = Settings.from_env()
    build_default_model(settings.paths.cache_dir)
    reviews = load_reviews(settings.paths.cache_dir)
    frame = reviews[reviews["split"] == "holdout"].head(args.texts)[["id", "text", "label"]].copy()
    frame["text"] = frame["text"].str.slice(0, args.chars)
    path = partition_path(settings.paths.data_dir, pendulum.parse(DAY).date())
    path.parent.mkdir(parents=True)
    frame.to_parquet(path, index=False)

    server = start_server(work / "mlflow")
    os.environ["MLFLOW_TRACKING_URI"] = server.url
    try:
        dag = DagBag(dag_folder=str(REPO / "dags")).dags["explain_reviews"]
        output = plan_partition(DAY, DATASET_TEMPLATE, OUTPUT_TEMPLATE, settings).output
        figures = {"texts": args.texts, "chars": args.chars, "max_evals": args.max_evals}
        for name in ("first", "rerun"):
            started = time.perf_counter()
            run = dag.test(logical_date=pendulum.parse(DAY), run_conf={"max_evals": args.max_evals})
            wall = time.perf_counter() - started
            if run.state != "success":
                raise SystemExit(f"{name} run ended {run.state}")
            job = JobSummary.read(output)
            figures.update({f"{name}_wall_s": wall, f"{name}_jvm_start_s": job.spark_start_s,
                            f"{name}_explain_and_write_s": job.explain_and_write_s,
                            f"{name}_model_evaluations": job.model_evaluations,
                            f"{name}_cache_hits": job.cache_hits})
        figures["rerun_over_first_jvm_excluded"] = (
            (figures["rerun_wall_s"] - figures["rerun_jvm_start_s"])
            / (figures["first_wall_s"] - figures["first_jvm_start_s"]))
    finally:
        stop_server(work / "mlflow")
        shutil.rmtree(work, ignore_errors=True)  # its folder goes too
    print_figures(figures, args.json)


if __name__ == "__main__":
    main()
