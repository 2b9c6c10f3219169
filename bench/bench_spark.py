"""Benchmark: the Spark batch job on local[2] vs the in-process explainer, same texts, one run.

Both explain the same held-out reviews (cut to --chars) with the same logged explainer (default
model, --max-evals). The Spark wall time is split into JVM/session start, explainer download,
explaining + writing, and the rest (spark-submit and JVM start before the session, shutdown).
The explanation cache is off on both sides. Run:
``.venv/bin/python bench/bench_spark.py --texts 64 --chars 400 --max-evals 200``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from figures import print_figures


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=64, help="2 partitions of 32 on local[2]")
    parser.add_argument("--chars", type=int, default=500)
    parser.add_argument("--max-evals", type=int, default=200)
    parser.add_argument("--master", default="local[2]")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    os.environ["DLEXPLAIN_EXPLANATION_CACHE"] = "off"  # both sides must compute every text
    import mlflow

    from dlexplain.config import Settings
    from dlexplain.defaults import build_default_model, load_reviews
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.model.registry import ExplainerSpec, log_explainer
    from dlexplain.spark import application_path
    from dlexplain.tracking.server import start_server, stop_server

    settings = Settings.from_env()
    model = build_default_model(settings.paths.cache_dir)
    reviews = load_reviews(settings.paths.cache_dir)
    texts = [t[: args.chars] for t in reviews[reviews["split"] == "holdout"]["text"].head(args.texts)]
    work = Path(tempfile.mkdtemp(prefix="dlexplain-bench-spark-"))
    server = start_server(work / "mlflow")
    try:
        os.environ["MLFLOW_TRACKING_URI"] = server.url
        mlflow.set_tracking_uri(server.url)
        uri = log_explainer(model.path, ExplainerSpec(ExplainerConfig(max_evals=args.max_evals)),
                            "bench").model_uri
        frame = pd.DataFrame({"id": range(len(texts)), "text": texts})
        frame.to_parquet(work / "input.parquet", index=False)

        started = time.perf_counter()
        explainer = mlflow.pyfunc.load_model(uri)
        loaded = time.perf_counter()
        explainer.predict(frame[["text"]])
        done = time.perf_counter()
        local = {"load_s": loaded - started, "explain_s": done - loaded}

        bin_dir = str(Path(sys.executable).parent)  # spark-submit finds Spark through this python
        env = {**os.environ, "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
               "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYSPARK_PYTHON": sys.executable}
        cmd = [str(Path(sys.executable).parent / "spark-submit"), "--master", args.master,
               application_path(), "--model-uri", uri, "--input", str(work / "input.parquet"),
               "--output", str(work / "output"), "--id-column", "id"]
        started = time.perf_counter()
        job = subprocess.run(cmd, capture_output=True, text=True, env=env)
        spark_wall = time.perf_counter() - started
        if job.returncode != 0:
            raise SystemExit(job.stderr[-3000:])
        line = next(x for x in job.stdout.splitlines() if x.startswith("DLEXPLAIN_SUMMARY "))
        summary = json.loads(line.split(" ", 1)[1])
    finally:
        stop_server(work / "mlflow")

    n = len(texts)
    in_job = summary["spark_start_s"] + summary["explainer_download_s"] + summary["explain_and_write_s"]
    figures = {
        "texts": n, "chars": args.chars, "max_evals": args.max_evals, "master": args.master,
        "in_process_load_s": local["load_s"], "in_process_explain_s": local["explain_s"],
        "in_process_texts_per_s": n / local["explain_s"],
        "spark_wall_s": spark_wall, "spark_session_start_s": summary["spark_start_s"],
        "spark_explainer_download_s": summary["explainer_download_s"],
        "spark_explain_and_write_s": summary["explain_and_write_s"],
        "spark_other_s (submit, JVM, shutdown)": spark_wall - in_job,
        "spark_texts_per_s (explain+write)": n / summary["explain_and_write_s"],
        "spark_model_evaluations": summary["model_evaluations"],
        "ratio spark/in-process (explain+write vs explain)":
            local["explain_s"] / summary["explain_and_write_s"],
        "ratio spark/in-process (whole spark-submit wall vs load+explain)":
            (local["load_s"] + local["explain_s"]) / spark_wall,
    }
    print_figures(figures)


if __name__ == "__main__":
    main()
