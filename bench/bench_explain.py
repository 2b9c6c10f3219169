"""Benchmark: the dlexplain engine vs the seed's per-row shap pipeline explainer, side by side.

(a) seed style (``bench/seed_style.py``): ``shap.Explainer(transformers.pipeline(..., top_k=None))``
    called once per row through ``DataFrame.apply`` (the book chapter's ``predict``);
(b) the dlexplain engine (``Explainer.explain``) on the same model, texts and max_evals;
(c) the forward bound: the classifier alone over exactly the masked inputs (b) evaluated (as
    token ids), sorted by length and batched like the engine batches;
(d) the engine with the optional ``bf16`` backend (bfloat16 autocast), its fidelity given as the
    Pearson r of all its attributions vs (b)'s fp32 ones.

Prints texts/s, speedups b/a and d/a, efficiency c/b, tokens and evaluations per text, the max abs
difference between (a) and (b) attributions, and peak RSS. Run: ``make bench`` or
``.venv/bin/python bench/bench_explain.py --texts 16 --chars 500 --max-evals 500``.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
from pathlib import Path

import numpy as np
from figures import print_figures

from dlexplain.explain.numerics import auto_backend


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=16, help="held-out reviews to explain")
    parser.add_argument("--chars", type=int, default=500, help="cut each review to this length")
    parser.add_argument("--max-evals", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=64, help="engine batch size")
    parser.add_argument("--skip-seed", action="store_true", help="skip (a), the slowest part")
    parser.add_argument("--skip-bf16", action="store_true", help="skip (d)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return parser.parse_args()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def recording_classifier(path: Path, backend: str = "fp32"):
    """A TextClassifier that keeps every token-id row it is asked to score (in ``seen``): the
    engine hands the model each masked input as token ids."""
    from dlexplain.explain.classifier import TextClassifier

    class Recording(TextClassifier):
        seen: list = []

        def predict_token_ids(self, sequences):
            self.seen.extend(sequences)
            return super().predict_token_ids(sequences)

    return Recording.from_pretrained(path, device="cpu", backend=backend)


def engine_run(path: Path, texts: list[str], max_evals: int, batch_size: int,
               backend: str = "fp32"):
    """(results, seconds, masked texts evaluated, classifier) of the engine, after a warm-up."""
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.explain.engine import Explainer

    classifier = recording_classifier(path, backend)
    engine = Explainer(classifier, ExplainerConfig(max_evals=max_evals, batch_size=batch_size,
                                                   backend=backend))
    engine.explain(texts[:1])  # warm-up: first-call allocations, not counted
    classifier.seen.clear()
    results, seconds = timed(lambda: engine.explain(texts))
    return results, seconds, list(classifier.seen), classifier


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch
    from seed_style import seed_style_values

    from dlexplain.config import Settings
    from dlexplain.defaults import build_default_model, load_reviews
    from dlexplain.explain.classifier import TextClassifier
    settings = Settings.from_env()
    model = build_default_model(settings.paths.cache_dir)
    reviews = load_reviews(settings.paths.cache_dir)
    holdout = reviews[reviews["split"] == "holdout"]["text"]
    texts = [t[: args.chars] for t in holdout.head(args.texts)]
    n = len(texts)
    print(f"model {model.path.name}, {n} texts cut to {args.chars} chars, max_evals "
          f"{args.max_evals}, torch threads {torch.get_num_threads()}")

    results, t_b, masked, classifier = engine_run(model.path, texts, args.max_evals,
                                                  args.batch_size)
    forward_only = TextClassifier(classifier.model, classifier.tokenizer,
                                  batch_size=args.batch_size, device="cpu")
    _, t_c = timed(lambda: forward_only.predict_token_ids(masked))

    figures = {
        "texts": n, "chars": args.chars, "max_evals": args.max_evals,
        "tokens_per_text": float(np.mean([len(r.tokens) for r in results])),
        "evaluations_per_text": len(masked) / n,
        "b_engine_texts_per_s": n / t_b,
        "c_forward_texts_per_s": n / t_c,
        "efficiency_c_over_b": t_c / t_b,
        "max_additivity_error": max(r.additivity_error for r in results),
    }
    if not args.skip_seed:
        seed_values, t_a = timed(lambda: seed_style_values(model.path, texts, args.max_evals))
        diffs = [np.max(np.abs(np.asarray(a) - r.values)) for a, r in zip(seed_values, results)]
        figures.update({
            "a_seed_texts_per_s": n / t_a,
            "speedup_b_over_a": t_a / t_b,
            "max_abs_diff_a_vs_b": float(max(diffs)),
        })
    if not args.skip_bf16:
        fast, t_d, _, _ = engine_run(model.path, texts, args.max_evals, args.batch_size, "bf16")
        flat = lambda rs: np.concatenate([r.values.ravel() for r in rs])  # noqa: E731
        figures.update({
            "d_bf16_texts_per_s": n / t_d,
            "pearson_r_d_vs_b": float(np.corrcoef(flat(fast), flat(results))[0, 1]),
            "max_abs_diff_d_vs_b": float(np.max(np.abs(flat(fast) - flat(results)))),
        })
        if "a_seed_texts_per_s" in figures:
            figures["speedup_d_over_a"] = figures["d_bf16_texts_per_s"] / figures["a_seed_texts_per_s"]
        # what backend="auto" picks here; it must be the faster of (b) and (d)
        figures["auto_backend"] = auto_backend("cpu")
        figures["speedup_d_over_b"] = t_b / t_d
    figures["peak_rss_mib"] = peak_rss_mib()

    print_figures(figures, args.json, digits=6)


if __name__ == "__main__":
    main()
