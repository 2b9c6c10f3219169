"""Benchmark: how often explanation drift alarms on nights of the same distribution, and how often
it detects a real shift, by night size: the threshold-only rule beside the noise-floor rule.

Texts: held-out IMDb reviews of the default model's data (cut to ``--chars``) and NYT editorial
sentences (``bench/corpora.py``: another genre, from a PyPI sdist). Each text is explained once by
the default model's exact explainer (``--max-evals``; cached in
``<cache>/bench/drift-explanations.sqlite``, so a re-run only re-scores). For each night size n:
``--pairs`` pairs of disjoint IMDb nights of n texts drawn from the IMDb pool (baseline, tonight:
the same distribution), and as many IMDb baselines of n against NYT nights of n (a real shift).
Each pair is judged by ``dlexplain.quality.drift.compare`` with ``min_texts=2`` (the rule itself,
not the sample-size gate): the old rule alarms when nDCG@50 < 0.9, the new one when also the
p-value against chance is below alpha. Run:
``.venv/bin/python bench/bench_drift.py --imdb 1100 --nyt 600 --pairs 50`` (``make bench-drift``).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from figures import print_figures


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imdb", type=int, default=1100, help="held-out IMDb reviews in the pool")
    parser.add_argument("--nyt", type=int, default=600, help="NYT sentences in the pool")
    parser.add_argument("--chars", type=int, default=300, help="cut each review to this length")
    parser.add_argument("--max-evals", type=int, default=100)
    parser.add_argument("--sizes", default="8,32,128,512", help="texts a night, comma-separated")
    parser.add_argument("--pairs", type=int, default=50, help="pairs of nights per size and case")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return parser.parse_args()


def explain(texts: list[str], explainer, cache_path: Path, identity: str) -> list:
    from dlexplain.explain.cache import explain_cached, open_cache

    rows, hits = explain_cached(
        texts, lambda todo: explainer.explain(todo, progress=True), open_cache(cache_path),
        identity)
    print(f"{len(texts)} texts: {hits} from the cache")
    return rows


def main() -> None:
    from corpora import sentences

    from dlexplain.config import Settings
    from dlexplain.defaults import build_default_model, load_reviews
    from dlexplain.explain.classifier import TextClassifier
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.explain.engine import Explainer
    from dlexplain.quality.drift import ALPHA, THRESHOLD, compare
    from dlexplain.quality.importance import text_tokens

    logging.basicConfig(level=logging.WARNING)
    args = parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.imdb < 2 * max(sizes) or args.nyt < max(sizes):
        raise SystemExit("the pools need 2x the largest night (IMDb) and 1x (NYT)")
    cache_dir = Settings.from_env().paths.cache_dir
    model = build_default_model(cache_dir)
    reviews = load_reviews(cache_dir)
    imdb = [t[: args.chars] for t in reviews[reviews["split"] == "holdout"]["text"].head(args.imdb)]
    nyt = sentences(cache_dir, "nyt")[: args.nyt]
    config = ExplainerConfig(max_evals=args.max_evals)
    explainer = Explainer(TextClassifier.from_pretrained(model.path, device="cpu"), config)
    identity = f"bench-drift:{model.path.name}:{config.fingerprint()}"
    cache = cache_dir / "bench" / "drift-explanations.sqlite"
    cache.parent.mkdir(parents=True, exist_ok=True)
    print(f"model {model.path.name}, exact explainer, max_evals {args.max_evals}; "
          f"{len(imdb)} IMDb reviews cut to {args.chars} chars, {len(nyt)} NYT sentences")
    tables = {name: text_tokens(explain(texts, explainer, cache, identity))
              for name, texts in (("imdb", imdb), ("nyt", nyt))}
    ids = {name: np.unique(table["text"]) for name, table in tables.items()}

    def night(name: str, chosen) -> object:
        table = tables[name]
        return table[table["text"].isin(chosen)]

    figures: dict = {"alpha": ALPHA, "threshold": THRESHOLD, "pairs": args.pairs}
    rows = []
    for size in sizes:
        started = time.perf_counter()
        same, shift = [], []
        for pair in range(args.pairs):
            rng = np.random.default_rng([size, pair])
            order = rng.permutation(ids["imdb"])
            baseline = night("imdb", order[:size])
            tonight = night("imdb", order[size: 2 * size])
            other = night("nyt", rng.choice(ids["nyt"], size=size, replace=False))
            same.append(compare(tonight, baseline, min_texts=2, seed=pair))
            shift.append(compare(other, baseline, min_texts=2, seed=pair))
        row = {
            "size": size,
            "false_alarms_old": np.mean([d.score < THRESHOLD for d in same]),
            "false_alarms_new": np.mean([d.drifted for d in same]),
            "detection_old": np.mean([d.score < THRESHOLD for d in shift]),
            "detection_new": np.mean([d.drifted for d in shift]),
            "median_score_same": float(np.median([d.score for d in same])),
            "median_score_shift": float(np.median([d.score for d in shift])),
            "median_chance_low_same": float(np.median([d.chance.low for d in same])),
            "seconds_per_check": (time.perf_counter() - started) / (2 * args.pairs),
        }
        rows.append(row)
        figures.update({f"{key}_{size}": value for key, value in row.items() if key != "size"})
    print(f"\n{'texts a night':>13} | false alarms: old  new | detection: old  new | "
          "median nDCG same  shift | chance low")
    for row in rows:
        print(f"{row['size']:>13} | {row['false_alarms_old']:>17.0%} {row['false_alarms_new']:>4.0%}"
              f" | {row['detection_old']:>14.0%} {row['detection_new']:>4.0%} | "
              f"{row['median_score_same']:>16.3f} {row['median_score_shift']:>6.3f} | "
              f"{row['median_chance_low_same']:.3f}")
    reliable = [row["size"] for row in rows if row["detection_new"] >= 0.95]
    figures["smallest_size_detecting_95pct"] = min(reliable) if reliable else None
    print()
    print_figures(figures, args.json)
    if args.json:
        args.json.with_suffix(".rows.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
