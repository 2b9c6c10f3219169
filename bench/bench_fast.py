"""Benchmark: the default model's fast explainer against its exact engine, side by side.

One run, one CPU, the same held-out reviews (the default fast build's, cut to 500 characters):

1. **throughput**: the exact engine (max_evals 500, uncached) and the fast explainer on the same
   ``--exact-texts`` reviews, texts/s and their ratio; the fast explainer on all held-out reviews;
2. **fidelity**: fast vs max_evals-500 exact on every held-out review (Spearman, top-5 overlap
   and sign agreement, comprehensiveness/sufficiency of fast, exact and random, the gate), and
   fast vs exact-500 against the max_evals-2000 reference, with their ratios;
3. **served**: the fast explainer and the exact one each deployed with the process backend on
   loopback (explanation cache off): one-sentence p50/p95 over ``--requests`` sequential
   requests, then ``--clients`` clients for ``--seconds``.

Exact explanations come from the build's cache (``dlexplain model build-default-fast`` builds it
first when missing: about 50 minutes on 2 cores). Run: ``make bench-fast`` or
``.venv/bin/python bench/bench_fast.py``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from figures import print_figures
from serving import sentences, served_figures


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exact-texts", type=int, default=8,
                        help="reviews the exact engine explains uncached (the throughput pair)")
    parser.add_argument("--requests", type=int, default=40, help="sequential requests per side")
    parser.add_argument("--seconds", type=float, default=30.0, help="concurrent phase length")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


def rate(explain, texts: list[str], min_seconds: float = 2.0) -> float:
    """Texts per second of ``explain`` on ``texts`` (repeated until ``min_seconds`` passed)."""
    done, started = 0, time.perf_counter()
    while True:
        rows = explain(texts)
        assert all(r.ok for r in rows), [r.error for r in rows if not r.ok]
        done += len(texts)
        spent = time.perf_counter() - started
        if spent >= min_seconds:
            return done / spent


def throughput(classifier, fast, texts: list[str], exact_texts: int, max_evals: int) -> dict:
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.explain.engine import Explainer

    exact = Explainer(classifier, ExplainerConfig(max_evals=max_evals, backend=classifier.backend))
    pair = texts[:exact_texts]
    exact_rate = rate(exact.explain, pair, min_seconds=0.0)
    fast_rate = rate(fast.explain, pair)
    return {"exact_texts_per_s": exact_rate, "fast_texts_per_s": fast_rate,
            "fast_over_exact_throughput": fast_rate / exact_rate,
            "fast_texts_per_s_all_held_out": rate(fast.explain, texts)}


def fidelity_figures(fast, held_rows, reference_rows, thresholds) -> tuple[dict, object]:
    from dlexplain.fast.evaluate import REFERENCE_FIGURES, evaluate, reference_figures
    from dlexplain.fast.gate import judge

    evaluation = evaluate(fast, held_rows)
    gate = judge(evaluation.figures, thresholds)
    figures = {f"vs_exact500_{k}": v for k, v in evaluation.figures.items()}
    figures.update({
        "comprehensiveness_fast_over_exact": (evaluation.figures["fast_comprehensiveness"]
                                              / evaluation.figures["exact_comprehensiveness"]),
        "gate": "passed" if gate.passed else "failed: " + "; ".join(gate.failures),
    })
    reference = reference_figures(fast, held_rows[: len(reference_rows)], reference_rows)
    figures.update(reference)
    for name in REFERENCE_FIGURES:
        figures[f"reference_fast_over_exact_{name}"] = (reference[f"reference_fast_{name}"]
                                                        / reference[f"reference_exact_{name}"])
    return figures, (evaluation, gate)


def served(model_path: Path, built, held_out: tuple, thresholds, texts: list[str], args,
           backend: str) -> dict:
    """Deploy the fast explainer, then the exact one, and measure each the same way."""
    import mlflow

    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.fast.train import TrainingConfig
    from dlexplain.model.fast_runs import gated_fast, log_fast_explainer
    from dlexplain.model.registry import ExplainerSpec, log_explainer
    from dlexplain.serving.checks import explain
    from dlexplain.serving.process import ProcessBackend
    from dlexplain.serving.redeploy import redeploy
    from dlexplain.tracking.server import start_server, stop_server

    evaluation, gate = held_out
    work = Path(tempfile.mkdtemp(prefix="dlexplain-bench-fast-"))
    server = start_server(work / "mlflow")
    os.environ["MLFLOW_TRACKING_URI"] = server.url
    mlflow.set_tracking_uri(server.url)
    service = ProcessBackend(work / "eaas" / "deployment.json", tracking_uri=server.url)
    figures: dict = {}
    try:
        exact = log_explainer(model_path, ExplainerSpec(ExplainerConfig(backend=backend)),
                              "bench", registered_model_name="bench-explainer")
        recipe = built.report["recipe"]
        log_fast_explainer(exact, model_path, built.network, figures=evaluation.figures,
                           gate=gate, thresholds=thresholds,
                           training=TrainingConfig(**recipe["training"]).to_dict(),
                           curve=built.report["learning_curve"],
                           train_texts=built.report["train_texts"],
                           texts=built.report["train_texts"] + len(evaluation.exact_rows))
        fast = gated_fast(exact)
        for name, target in (("fast", fast), ("exact", exact)):
            if target is None:
                figures[f"served_{name}"] = "not served: the fast explainer failed the gate"
                continue
            started = time.perf_counter()
            deployment = redeploy(service, target, timeout=600)
            figures[f"served_{name}_deploy_s"] = round(time.perf_counter() - started, 1)

            def call(text: str, url=deployment.url, method=name) -> None:
                (row,) = explain(url, [text])
                assert row["error"] is None and row["method"] == method, row

            measured = served_figures(call, texts, requests=args.requests, clients=args.clients,
                                      seconds=args.seconds)
            if name == "fast":  # the same server answers exact when the request asks
                (routed,) = explain(deployment.url, [texts[0]], params={"method": "exact"})
                assert routed["method"] == "exact" and routed["error"] is None, routed
            figures.update({f"served_{name}_{k}": v for k, v in measured.items()})
        if fast is not None:
            figures["served_fast_over_exact_throughput"] = (
                figures[f"served_fast_{args.clients}_clients_requests_per_s"]
                / figures[f"served_exact_{args.clients}_clients_requests_per_s"])
    finally:
        service.undeploy()
        stop_server(work / "mlflow")
    return figures


def main() -> None:
    args = parse_args()
    os.environ["DLEXPLAIN_EXPLANATION_CACHE"] = "off"  # served requests must explain
    from dlexplain.config import Settings
    from dlexplain.defaults import build_default_model, load_reviews
    from dlexplain.defaults.fast import (
        EXACT_CACHE,
        ExactSource,
        FastRecipe,
        build_default_fast,
        recipe_texts,
    )
    from dlexplain.explain.classifier import TextClassifier
    from dlexplain.fast.explainer import FastExplainer
    from dlexplain.fast.model import AmortizedModel

    settings = Settings.from_env()
    model = build_default_model(settings.paths.cache_dir)
    recipe = FastRecipe()
    built = build_default_fast(settings.paths.cache_dir, recipe)
    backend = built.report["backend"]
    classifier = TextClassifier.from_pretrained(model.path, device="cpu", backend=backend)
    fast = FastExplainer(classifier, AmortizedModel.load(built.network))
    texts = recipe_texts(settings.paths.cache_dir, recipe)
    exact_rows = ExactSource(classifier, recipe, settings.paths.cache_dir / EXACT_CACHE)
    held_rows = exact_rows.explain(texts.held_out, recipe.max_evals, "held-out texts")
    reference_rows = exact_rows.explain(texts.reference, recipe.reference_max_evals,
                                        "reference texts")
    figures = {"model": model.path.name, "backend": backend, "chars": recipe.chars,
               "max_evals": recipe.max_evals, "reference_max_evals": recipe.reference_max_evals,
               "train_texts": built.report["train_texts"],
               "build_seconds": built.report["build_seconds"],
               "build_exact_computed": built.report["exact_computed"]}
    figures.update(throughput(classifier, fast, texts.held_out, args.exact_texts,
                              recipe.max_evals))
    held, judged = fidelity_figures(fast, held_rows, reference_rows, recipe.thresholds)
    figures.update(held)
    reviews = load_reviews(settings.paths.cache_dir)
    one_sentence = sentences(reviews[reviews["split"] == "holdout"]["text"], args.requests + 200)
    figures.update(served(model.path, built, judged, recipe.thresholds, one_sentence, args,
                          backend))
    print_figures(figures, args.json)


if __name__ == "__main__":
    main()
