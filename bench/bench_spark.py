"""Benchmark: the Spark batch job on local[2] vs the in-process explainer, same texts, one run.

Both explain the same holdout reviews (cut to --chars) with the same logged explainer (default
model, --max-evals; with ``--method fast`` the default build's fast explainer, logged with its
build figures). The Spark wall time is split into JVM/session start, explainer download,
explaining + writing, and the rest (spark-submit and JVM start before the session, shutdown).
The night's artifacts are then logged as ``explain_reviews`` logs them (``log_batch`` per work
item: at most ``DLEXPLAIN_ARTIFACT_GROUPS`` groups, sampled text plots) and counted; the
projection of reviews per 10-hour night on this machine divides 36,000 s by the measured cost of
a review through the whole night (job wall + artifacts). The explanation cache is off on both
sides. The in-process explainer is timed before and after the job (this machine's speed moves
over minutes; the ratio is taken against the mean of both), and the job's Spark event log gives
each stage's wall time and the tasks' JVM GC time: where the time beyond explaining goes. Run:
``.venv/bin/python bench/bench_spark.py --texts 64 --chars 400 --max-evals 200``, or
``make bench-spark`` (``--method fast --texts 20000``: about 15 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from figures import print_figures

NIGHT_S = 10 * 3600


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=64, help="2 partitions of 32 on local[2]")
    parser.add_argument("--chars", type=int, default=500)
    parser.add_argument("--max-evals", type=int, default=200)
    parser.add_argument("--method", choices=("exact", "fast", "fast+verify"), default="exact")
    parser.add_argument("--in-process-texts", type=int, default=2000,
                        help="of the texts, how many the in-process explainer times")
    parser.add_argument("--rows-per-batch", type=int, default=16, help="the DAG's default")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="a Spark setting for the job (spark-submit --conf), repeatable")
    parser.add_argument("--no-id-column", action="store_true",
                        help="write in partition order (no persist + sort by id, as the DAG does)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


def explainer_uri(args, model_path: Path, settings) -> str:
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.model.registry import ExplainerSpec, log_explainer

    if args.method == "exact":
        spec = ExplainerSpec(ExplainerConfig(max_evals=args.max_evals))
        return log_explainer(model_path, spec, "bench").model_uri
    from bench_fast import log_default_fast

    from dlexplain.defaults.fast import build_default_fast

    built = build_default_fast(settings.paths.cache_dir)
    _, fast = log_default_fast(model_path, built, built.report["backend"], args.max_evals)
    if built.report["gate"] != "passed":
        print(f"gate_overridden_for_this_bench: {'; '.join(built.report['failures'])}")
    return fast.model_uri


def log_night(output: Path, rows: int, rows_per_batch: int, groups: int) -> dict:
    """Log the night's artifacts as the DAG does; their count and the time it took."""
    from mlflow import MlflowClient

    from dlexplain.pipelines.batches import batch_items, log_batch
    from dlexplain.tracking import runs

    run_id = MlflowClient().create_run(runs.experiment_id("bench-night")).info.run_id
    items = batch_items(run_id=run_id, output=str(output), partition="ds=2026-01-01", rows=rows,
                        rows_per_batch=rows_per_batch, max_items=groups)
    started = time.perf_counter()
    for item in items:
        log_batch(item)
    seconds = time.perf_counter() - started
    files, folders = [], [""]
    while folders:
        for entry in MlflowClient().list_artifacts(run_id, folders.pop() or None):
            (folders if entry.is_dir else files).append(entry.path if entry.is_dir else entry)
    return {"night_artifact_groups": len(items), "night_artifact_files": len(files),
            "night_text_plots": sum(f.path.endswith(".html") for f in files),
            "night_artifact_mb": round(sum(f.file_size or 0 for f in files) / 2**20, 1),
            "night_artifacts_s": seconds}


def stage_times(events: Path) -> dict:
    """Each stage's wall seconds, and the tasks' JVM GC and run seconds, from the Spark event
    log of the job (uncompressed, in ``events``; Spark 4 rolls it into a folder of files, beside
    hidden checksums)."""
    stages: dict[int, dict] = {}
    for path in sorted(p for p in events.rglob("*") if p.is_file() and p.name[0] != "."):
        for line in filter(str.strip, path.read_text().splitlines()):
            event = json.loads(line)
            kind = event.get("Event")
            if kind == "SparkListenerTaskEnd":
                metrics = event.get("Task Metrics") or {}
                stage = stages.setdefault(event["Stage ID"], {"gc_ms": 0, "run_ms": 0})
                stage["gc_ms"] += metrics.get("JVM GC Time", 0)
                stage["run_ms"] += metrics.get("Executor Run Time", 0)
            elif kind == "SparkListenerStageCompleted":
                info = event["Stage Info"]
                stage = stages.setdefault(info["Stage ID"], {"gc_ms": 0, "run_ms": 0})
                stage["name"] = info["Stage Name"].split(" at ")[0]
                stage["wall_ms"] = info["Completion Time"] - info["Submission Time"]
    figures = {}
    for stage_id, stage in sorted(stages.items()):
        key = f"stage {stage_id} {stage.get('name', '?')}"
        figures[f"{key}: wall_s"] = stage.get("wall_ms", 0) / 1000
        figures[f"{key}: tasks_run_s"] = stage["run_ms"] / 1000
        figures[f"{key}: tasks_jvm_gc_s"] = stage["gc_ms"] / 1000
    figures["jvm_gc_s (all tasks)"] = sum(s["gc_ms"] for s in stages.values()) / 1000
    return figures


def time_in_process(explainer, timed: pd.DataFrame, method: str) -> float:
    """Seconds the loaded explainer takes for ``timed`` in this process."""
    started = time.perf_counter()
    explainer.predict(timed, params={"method": method})
    return time.perf_counter() - started


def main() -> None:
    args = parse_args()
    os.environ["DLEXPLAIN_EXPLANATION_CACHE"] = "off"  # both sides must compute every text
    import mlflow

    from dlexplain.config import Settings
    from dlexplain.defaults import build_default_model, load_reviews
    from dlexplain.spark import application_path
    from dlexplain.tracking.server import start_server, stop_server

    settings = Settings.from_env()
    model = build_default_model(settings.paths.cache_dir)
    reviews = load_reviews(settings.paths.cache_dir)
    holdout = reviews[reviews["split"] == "holdout"]["text"]
    texts = [t[: args.chars] for t in holdout.head(args.texts)]
    if len(texts) < args.texts:
        raise SystemExit(f"the holdout split has {len(texts)} reviews, not {args.texts}")
    work = Path(tempfile.mkdtemp(prefix="dlexplain-bench-spark-"))
    server = start_server(work / "mlflow")
    try:
        os.environ["MLFLOW_TRACKING_URI"] = server.url
        mlflow.set_tracking_uri(server.url)
        uri = explainer_uri(args, model.path, settings)
        frame = pd.DataFrame({"id": range(len(texts)), "text": texts})
        frame.to_parquet(work / "input.parquet", index=False)

        timed = frame[["text"]].head(args.in_process_texts)
        (work / "in-process").mkdir()
        started = time.perf_counter()
        explainer = mlflow.pyfunc.load_model(uri, dst_path=str(work / "in-process"))
        local = {"load_s": time.perf_counter() - started, "texts": len(timed),
                 "explain_before_s": time_in_process(explainer, timed, args.method)}

        bin_dir = str(Path(sys.executable).parent)  # spark-submit finds Spark through this python
        env = {**os.environ, "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
               "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               "PYSPARK_PYTHON": sys.executable}
        (work / "events").mkdir()
        events = ["spark.eventLog.enabled=true", f"spark.eventLog.dir={work / 'events'}",
                  "spark.eventLog.compress=false"]
        confs = [part for conf in [*events, *args.conf] for part in ("--conf", conf)]
        cmd = [str(Path(sys.executable).parent / "spark-submit"), "--master", args.master, *confs,
               application_path(), "--model-uri", uri, "--input", str(work / "input.parquet"),
               "--output", str(work / "output"), "--request", json.dumps({"method": args.method})]
        if not args.no_id_column:
            cmd += ["--id-column", "id"]
        started = time.perf_counter()
        job = subprocess.run(cmd, capture_output=True, text=True, env=env)
        spark_wall = time.perf_counter() - started
        if job.returncode != 0:
            raise SystemExit(job.stderr[-3000:])
        line = next(x for x in job.stdout.splitlines() if x.startswith("DLEXPLAIN_SUMMARY "))
        summary = json.loads(line.split(" ", 1)[1])
        stages = stage_times(work / "events")
        local["explain_after_s"] = time_in_process(explainer, timed, args.method)
        local["explain_s"] = (local["explain_before_s"] + local["explain_after_s"]) / 2
        night = log_night(work / "output", len(texts), args.rows_per_batch,
                          settings.run.artifact_groups)
    finally:
        stop_server(work / "mlflow")
        shutil.rmtree(work, ignore_errors=True)  # a 20k run once left 1.1 GB in the temp dir

    n = len(texts)
    in_job = (summary["spark_start_s"] + summary["explainer_download_s"]
              + summary["explain_and_write_s"])
    in_process_rate = local["texts"] / local["explain_s"]
    job_rate = n / summary["explain_and_write_s"]
    per_review_s = (spark_wall + night["night_artifacts_s"]) / n
    figures = {
        "texts": n, "chars": args.chars, "method": args.method, "max_evals": args.max_evals,
        "master": args.master, "rows_per_batch": args.rows_per_batch,
        "sorted_by_id": not args.no_id_column, "spark_conf": " ".join(args.conf) or "-",
        "in_process_texts": local["texts"], "in_process_load_s": local["load_s"],
        "in_process_texts_per_s (before the job)": local["texts"] / local["explain_before_s"],
        "in_process_texts_per_s (after the job)": local["texts"] / local["explain_after_s"],
        "in_process_texts_per_s (mean time)": in_process_rate,
        "spark_wall_s": spark_wall, "spark_session_start_s": summary["spark_start_s"],
        "spark_explainer_download_s": summary["explainer_download_s"],
        "spark_explain_and_write_s": summary["explain_and_write_s"],
        "spark_other_s (submit, JVM, shutdown)": spark_wall - in_job,
        "spark_texts_per_s (explain+write)": job_rate,
        "spark_texts_per_s (whole spark-submit wall)": n / spark_wall,
        "spark_model_evaluations": summary["model_evaluations"],
        "ratio spark/in-process (explain+write vs explain)": job_rate / in_process_rate,
        "ratio spark/in-process (whole spark-submit wall vs load+explain)":
            (n / spark_wall) / (local["texts"] / (local["load_s"] + local["explain_s"])),
        **stages,
        **night,
        "projected_reviews_per_10h_night (job wall + artifacts)": int(NIGHT_S / per_review_s),
    }
    print_figures(figures, args.json)


if __name__ == "__main__":
    main()
