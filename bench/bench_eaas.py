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
import os
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
from figures import print_figures
from serving import percentiles, sentences, served_figures, timed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="sequential requests per side")
    parser.add_argument("--seconds", type=float, default=30.0, help="concurrent phase length")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--max-evals", type=int, default=500)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    os.environ["DLEXPLAIN_EXPLANATION_CACHE"] = "off"  # every request must explain
    import mlflow

    from dlexplain.config import Settings
    from dlexplain.defaults import build_default_model, load_reviews
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.model.lookup import newest_explainer
    from dlexplain.model.registry import ExplainerSpec, log_explainer
    from dlexplain.serving.checks import explain
    from dlexplain.serving.process import ProcessBackend
    from dlexplain.serving.redeploy import redeploy
    from dlexplain.tracking.server import start_server, stop_server

    settings = Settings.from_env()
    model = build_default_model(settings.paths.cache_dir)
    reviews = load_reviews(settings.paths.cache_dir)
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

        for text in texts[-3:]:  # warm up (the served side warms itself)
            in_process(text)
        local = percentiles(timed(in_process, texts[: args.requests]))
        served_at = served_figures(served, texts, requests=args.requests, clients=args.clients,
                                   seconds=args.seconds)
        load_rate = served_at[f"{args.clients}_clients_requests_per_s"]
        print_figures({
            "max_evals": args.max_evals, "deploy_s": round(deploy_s, 1),
            **{f"served_{k}": v for k, v in served_at.items()},
            **{f"in_process_sequential_{k}": v for k, v in local.items()},
            "served_over_in_process_p50": round(served_at["sequential_p50_ms"]
                                                / local["p50_ms"], 3),
            "throughput_over_sequential": round(
                load_rate / (1000 / served_at["sequential_p50_ms"]), 3),
        })
    finally:
        backend.undeploy()
        stop_server(work / "mlflow")
        shutil.rmtree(work, ignore_errors=True)  # its folder goes too


if __name__ == "__main__":
    main()
