"""Benchmark: one budget of model evaluations for the fast explainer's training labels, split
between texts and evaluations per text, side by side.

For each ``--max-evals m``: ``budget // m`` training texts of the default build's pool (the first
of them, so the splits share texts), explained exactly at ``m`` through the build's cache (model
evaluations counted), then a fast explainer trained for the same ``--steps`` on them (equal
training time) and scored on the build's held-out reviews against exact-500 and against the
max_evals-2000 reference, with exact-500's own agreement with the reference beside it and the
ratios' paired-bootstrap spread. The best split at equal evaluations is the default recipe's
``label_max_evals``. Run: ``.venv/bin/python bench/bench_label_budget.py`` (about 35 minutes on
2 cores at the default quarter budget; the held-out and reference rows come from the build's
cache when there).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from figures import print_figures


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget",
        type=int,
        default=80_000,
        help="model evaluations the labels of each split spend",
    )
    parser.add_argument(
        "--max-evals",
        type=int,
        nargs="+",
        default=[500, 200, 100],
        help="evaluations per training text of each split",
    )
    parser.add_argument("--steps", type=int, default=160, help="training steps of each split")
    parser.add_argument("--held-out", type=int, help="held-out reviews (default: the recipe's)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from dlexplain.config import Settings
    from dlexplain.defaults import build_default_model
    from dlexplain.defaults.fast import EXACT_CACHE, ExactSource, FastRecipe, recipe_texts
    from dlexplain.explain.classifier import TextClassifier
    from dlexplain.explain.numerics import resolve_backend
    from dlexplain.fast.evaluate import reference_figures, reference_ratios
    from dlexplain.fast.fidelity import fidelity
    from dlexplain.fast.fit import fit

    cache_dir = Settings.from_env().paths.cache_dir
    recipe = FastRecipe()
    if args.held_out:
        recipe = replace(recipe, n_held_out=args.held_out)
    model = build_default_model(cache_dir)
    backend = resolve_backend(recipe.backend, "cpu")
    classifier = TextClassifier.from_pretrained(model.path, device="cpu", backend=backend)
    largest = max(args.budget // m for m in args.max_evals)
    texts = recipe_texts(cache_dir, recipe, n_train=largest)
    exact = ExactSource(classifier, recipe, cache_dir / EXACT_CACHE)
    held = exact.explain(texts.held_out, recipe.max_evals, "held-out")
    reference = exact.explain(texts.held_out, recipe.reference_max_evals, "reference")
    base = fidelity(held, reference)
    figures: dict = {
        "backend": backend,
        "budget": args.budget,
        "steps": args.steps,
        "held_out_texts": len(held),
        "exact500_vs_reference_median_spearman": base.median_spearman,
        "exact500_vs_reference_mean_top5_overlap": base.mean_top5_overlap,
    }
    config = replace(recipe.training, steps=args.steps)
    for m in args.max_evals:
        n = args.budget // m
        rows = exact.explain(texts.train[:n], m, f"training@{m}")
        started = time.monotonic()
        fitted = fit(
            classifier,
            rows,
            held,
            thresholds=recipe.thresholds,
            config=config,
            curve=(1.0,),
            progress=True,
        )
        fast_rows = fitted.explainer.explain(texts.held_out)
        scores = reference_figures(fitted.explainer, held, reference)
        ratios = reference_ratios(fast_rows, held, reference)
        prefix = f"split_{m}_"
        figures.update(
            {
                f"{prefix}texts": n,
                f"{prefix}evaluations_counted": exact.sets[f"training@{m}"]["evaluations"],
                f"{prefix}texts_computed": exact.sets[f"training@{m}"]["computed"],
                f"{prefix}train_s": round(time.monotonic() - started, 1),
                f"{prefix}vs_exact500_median_spearman": fitted.evaluation.figures[
                    "median_spearman"
                ],
                f"{prefix}vs_reference_median_spearman": scores["reference_fast_median_spearman"],
                f"{prefix}vs_reference_mean_top5_overlap": scores[
                    "reference_fast_mean_top5_overlap"
                ],
                **{f"{prefix}{k}": v for k, v in ratios.items()},
            }
        )
        print_figures(figures)  # progress: each split as it lands
    print("---")
    print_figures(figures, args.json)


if __name__ == "__main__":
    main()
