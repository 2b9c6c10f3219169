"""Benchmark: how faithful the default model's SHAP explanations are, and what measuring costs.

On held-out reviews of the embedded default model: (a) explain them (the DAG's engine and
settings); (b) measure each explanation's ERASER comprehensiveness and sufficiency (AOPC over
1/5/10/20/50 % of the tokens, ``dlexplain.quality.faithfulness``) for SHAP's ranking and for a
seeded random one, side by side. Prints the means, the SHAP/random comprehensiveness ratio,
the sufficiency gap, the share of texts
where SHAP beats random, and the forward passes and seconds of (b) against (a). Run:
``.venv/bin/python bench/bench_faithfulness.py --texts 64 --chars 500 --max-evals 500``.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from figures import print_figures


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=64, help="held-out reviews to explain")
    parser.add_argument("--chars", type=int, default=500, help="cut each review to this length")
    parser.add_argument("--max-evals", type=int, default=500)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return parser.parse_args()


def main() -> None:
    from dlexplain.config import Settings
    from dlexplain.defaults import build_default_model, load_reviews
    from dlexplain.explain.classifier import TextClassifier
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.explain.engine import Explainer
    from dlexplain.quality.faithfulness import summarize, with_faithfulness

    logging.basicConfig(level=logging.WARNING)
    args = parse_args()
    settings = Settings.from_env()
    model = build_default_model(settings.paths.cache_dir)
    reviews = load_reviews(settings.paths.cache_dir)
    texts = [t[: args.chars] for t in reviews[reviews["split"] == "holdout"]["text"].head(args.texts)]
    classifier = TextClassifier.from_pretrained(model.path, device="cpu")
    explainer = Explainer(classifier, ExplainerConfig(max_evals=args.max_evals))
    print(f"model {model.path.name}, {len(texts)} held-out reviews cut to {args.chars} chars, "
          f"max_evals {args.max_evals}")

    started = time.perf_counter()
    rows = explainer.explain(texts, progress=True)
    explain_s, explain_evals = time.perf_counter() - started, classifier.evaluations
    started = time.perf_counter()
    rows = with_faithfulness(rows, classifier.predict_proba)
    measure_s = time.perf_counter() - started
    measure_evals = classifier.evaluations - explain_evals

    figures = summarize(rows)
    figures.update({
        "comprehensiveness_ratio_shap_to_random":
            figures["comprehensiveness"] / figures["random_comprehensiveness"],
        # SHAP's sufficiency can reach 0 or below (the rationale alone is as convincing as the
        # whole text), where a ratio means nothing: the gap is what random leaves on the table
        "sufficiency_gap_random_minus_shap":
            figures["random_sufficiency"] - figures["sufficiency"],
        "explain_s": explain_s, "measure_s": measure_s,
        "measure_to_explain_time": measure_s / explain_s,
        "forward_passes_per_text_explain": explain_evals / len(texts),
        "forward_passes_per_text_measure": measure_evals / len(texts),
    })
    print_figures(figures, args.json)


if __name__ == "__main__":
    main()
