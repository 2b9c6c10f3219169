"""What the serving benchmarks share: held-out sentences, latency percentiles, sequential and
concurrent request loops, and a served explainer measured the same way every time."""

from __future__ import annotations

import re
import statistics
import threading
import time

import pandas as pd


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


def served_figures(call, texts: list[str], *, requests: int, clients: int,
                   seconds: float) -> dict:
    """``requests`` sequential one-sentence requests (p50/p95), then ``clients`` concurrent
    clients for ``seconds`` (throughput, latency, errors); ``call`` raises on a bad answer."""
    errors = []

    def checked(text: str) -> None:
        try:
            call(text)
        except Exception as err:  # counted, not fatal: the figure is the error count
            errors.append(f"{type(err).__name__}: {err}")

    for text in texts[-3:]:  # warm up
        call(text)
    sequential = percentiles(timed(call, texts[:requests]))
    load = concurrent(checked, texts[requests:-3], clients, seconds)
    return {**{f"sequential_{k}": v for k, v in sequential.items()},
            **{f"{clients}_clients_{k}": v for k, v in load.items()},
            f"{clients}_clients_errors": len(errors)}
