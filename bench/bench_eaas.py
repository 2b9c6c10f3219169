"""Benchmark: the served explainer (process backend, loopback) vs the same pyfunc in-process.

One-sentence requests: p50/p95 latency of sequential requests against the scoring server and of
``predict`` on the loaded pyfunc, side by side; then 4 concurrent clients for --seconds (bounded
in time) give the throughput and the latency under load. Every request is a different held-out
sentence (the same sentences on both sides) and the explanation cache is off, so every request
explains. Run:
``.venv/bin/python bench/bench_eaas.py --requests 40 --seconds 30``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="sequential requests per side")
    parser.add_argument("--seconds", type=float, default=30.0, help="concurrent phase length")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--max-evals", type=int, default=500)
    return parser.parse_args()


def sentences(reviews: pd.Series, count: int) -> list[str]:
    """First sentences (20-150 characters) of held-out reviews, all different."""
    found = []
    for review in reviews:
        first = re.split(r"(?<=[.!?])\s", review, maxsplit=1)[0].strip()
        if 20 <= len(first) <= 150 and first not in found:
            found.append(first)
        if len(found) == count:
            return found
    raise SystemExit(f"only {len(found)} usable sentences")


def percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(1000 * statistics.median(ordered), 1), "p95_ms": round(1000 * p95, 1)}


def timed(call, texts: list[str]) -> list[float]:
    spent = []
    for text in texts:
        started = time.perf_counter()
        call(text)
        spent.append(time.perf_counter() - started)
    return spent


def concurrent(call, texts: list[str], clients: int, seconds: float) -> dict:
    """``clients`` threads send one sentence per request until ``seconds`` have passed."""
    latencies, lock, stop_at = [], threading.Lock(), time.perf_counter() + seconds
    counter = iter(range(10**9))

    def client() -> None:
        while time.perf_counter() < stop_at:
            text = texts[next(counter) % len(texts)]
            started = time.perf_counter()
            call(text)
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"requests": len(latencies), "wall_s": round(wall, 1),
            "requests_per_s": round(len(latencies) / wall, 3), **percentiles(latencies)}


def main() -> None:
    args = parse_args()
    os.environ["DLEXPLAIN_EXPLANATION_CACHE"] = "off"  # every request must explain
    import mlflow

    from dlexplain.config import Settings
    from dlexplain.defaults import build_default_model, load_reviews
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.tracking.registry import ExplainerSpec, log_explainer, newest_explainer
    from dlexplain.serving.redeploy import redeploy
    from dlexplain.serving.checks import explain
    from dlexplain.serving.process import ProcessBackend
    from dlexplain.tracking.server import start_server, stop_server

    settings = Settings.from_env()
    model = build_default_model(settings.cache_dir)
    reviews = load_reviews(settings.cache_dir)
    holdout = reviews[reviews["split"] == "holdout"]["text"]
    texts = sentences(holdout, args.requests + 200)
    work = Path(tempfile.mkdtemp(prefix="dlexplain-bench-eaas-"))
    server = start_server(work / "mlflow")
    os.environ["MLFLOW_TRACKING_URI"] = server.url
    mlflow.set_tracking_uri(server.url)
    backend = ProcessBackend(work / "eaas" / "deployment.json", tracking_uri=server.url)
    try:
        log_explainer(model.path, ExplainerSpec(ExplainerConfig(max_evals=args.max_evals)),
                      "bench", registered_model_name="bench-explainer")
        target = newest_explainer("bench-explainer")
        started = time.perf_counter()
        deployment = redeploy(backend, target, timeout=600)
        deploy_s = time.perf_counter() - started

        def served(text: str) -> None:
            (row,) = explain(deployment.url, [text])
            assert row["error"] is None, row["error"]

        pyfunc = mlflow.pyfunc.load_model(target.model_uri)

        def in_process(text: str) -> None:
            (error,) = pyfunc.predict(pd.DataFrame({"text": [text]}))["error"]
            assert error is None, error

        for text in texts[-3:]:  # warm both sides
            served(text)
            in_process(text)
        seq_served = percentiles(timed(served, texts[: args.requests]))
        seq_local = percentiles(timed(in_process, texts[: args.requests]))
        load = concurrent(served, texts[args.requests: -3], args.clients, args.seconds)
        result = {
            "max_evals": args.max_evals, "deploy_s": round(deploy_s, 1),
            "served_sequential": seq_served, "in_process_sequential": seq_local,
            "served_over_in_process_p50": round(seq_served["p50_ms"] / seq_local["p50_ms"], 3),
            f"served_{args.clients}_clients": load,
            "throughput_over_sequential": round(
                load["requests_per_s"] / (1000 / seq_served["p50_ms"]), 3),
        }
        print(json.dumps(result, indent=2))
    finally:
        backend.undeploy()
        stop_server(work / "mlflow")


if __name__ == "__main__":
    main()
