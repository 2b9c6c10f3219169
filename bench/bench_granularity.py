"""Benchmark: explanations of long reviews by token and by sentence, side by side.

For held-out IMDb reviews cut to ``--chars`` characters (at a word boundary), with the default
model: at each granularity, the engine at ``--max-evals`` (the nightly budget) and at
``--reference-evals`` (the finer estimate), and the agreement of the two: the median over texts of
the Spearman correlation of the predicted class's values, and of the top-3 overlap. Then the same
at a smaller budget for sentences (``--sentence-evals``): a sentence explanation has tens of
features instead of hundreds, so shap's partition tree is explored further for the same
evaluations. Prints features and evaluations per text, texts/s and the agreement, with the
machine's figures. Run: ``.venv/bin/python bench/bench_granularity.py --texts 8 --chars 1500``.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
from figures import print_figures


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=8, help="held-out reviews to explain")
    parser.add_argument("--chars", type=int, default=1500, help="cut each review to this length")
    parser.add_argument("--max-evals", type=int, default=500)
    parser.add_argument("--reference-evals", type=int, default=2000)
    parser.add_argument("--sentence-evals", type=int, default=100)
    parser.add_argument("--backend", default="auto", choices=("auto", "fp32", "bf16"))
    return parser.parse_args()


def long_reviews(count: int, chars: int) -> list[str]:
    """``count`` held-out reviews of at least ``chars`` characters, cut there at a word end."""
    from dlexplain.config import Settings
    from dlexplain.defaults import load_reviews

    reviews = load_reviews(Settings.from_env().paths.cache_dir)
    texts = [t for t in reviews[reviews["split"] == "holdout"]["text"] if len(t) >= chars]
    return [t[:chars].rsplit(" ", 1)[0] for t in texts[:count]]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1]) if len(a) > 2 else 1.0


def agreement(rows, reference) -> tuple[float, float]:
    """Median Spearman and top-3 overlap of the predicted class's values, row vs reference."""
    rhos, overlaps = [], []
    for row, ref in zip(rows, reference):
        column = ref.output_names.index(ref.label)
        a, b = row.values[:, column], ref.values[:, column]
        rhos.append(spearman(a, b))
        overlaps.append(len(set(np.argsort(-a)[:3]) & set(np.argsort(-b)[:3])))
    return float(np.median(rhos)), float(np.mean(overlaps))


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    from dlexplain.config import Settings
    from dlexplain.defaults import build_default_model
    from dlexplain.explain.classifier import TextClassifier
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.explain.engine import Explainer

    model = build_default_model(Settings.from_env().paths.cache_dir)
    texts = long_reviews(args.texts, args.chars)
    classifier = TextClassifier.from_pretrained(model.path, device="cpu", backend=args.backend)
    print(f"model {model.path.name} ({classifier.backend}), {len(texts)} held-out reviews cut "
          f"to {args.chars} chars")

    def run(granularity: str, max_evals: int):
        explainer = Explainer(classifier, ExplainerConfig(max_evals=max_evals,
                                                          backend=classifier.backend))
        explainer.explain(texts[:1], granularity=granularity)  # warm-up, not counted
        before, started = classifier.evaluations, time.perf_counter()
        rows = explainer.explain(texts, granularity=granularity)
        seconds = time.perf_counter() - started
        assert all(r.ok for r in rows), [r.error for r in rows if not r.ok]
        return rows, len(texts) / seconds, (classifier.evaluations - before) / len(texts)

    figures: dict = {"texts": len(texts), "chars": args.chars}
    for granularity in ("token", "sentence"):
        rows, speed, evals = run(granularity, args.max_evals)
        reference, ref_speed, _ = run(granularity, args.reference_evals)
        rho, top3 = agreement(rows, reference)
        figures.update({
            f"{granularity}_features_per_text": float(np.mean([len(r.tokens) for r in rows])),
            f"{granularity}_{args.max_evals}_texts_per_s": speed,
            f"{granularity}_{args.max_evals}_evaluations_per_text": evals,
            f"{granularity}_{args.reference_evals}_texts_per_s": ref_speed,
            f"{granularity}_spearman_{args.max_evals}_vs_{args.reference_evals}": rho,
            f"{granularity}_top3_overlap_{args.max_evals}_vs_{args.reference_evals}": top3,
        })
        if granularity == "sentence":
            cheap, cheap_speed, cheap_evals = run(granularity, args.sentence_evals)
            rho, top3 = agreement(cheap, reference)
            figures.update({
                f"sentence_{args.sentence_evals}_texts_per_s": cheap_speed,
                f"sentence_{args.sentence_evals}_evaluations_per_text": cheap_evals,
                f"sentence_spearman_{args.sentence_evals}_vs_{args.reference_evals}": rho,
                f"sentence_top3_overlap_{args.sentence_evals}_vs_{args.reference_evals}": top3,
            })
    figures[f"speedup_sentence_{args.sentence_evals}_over_token_{args.max_evals}"] = (
        figures[f"sentence_{args.sentence_evals}_texts_per_s"]
        / figures[f"token_{args.max_evals}_texts_per_s"])
    print_figures(figures)


if __name__ == "__main__":
    main()
