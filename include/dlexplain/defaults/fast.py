"""The default model's fast explainer, built from exact explanations of IMDb reviews it never saw.

Texts are cut to ``chars``. The first ``n_held_out`` reviews of the ``eval`` split (never trained
on by the default model) are held out: explained exactly at ``max_evals`` (the exact explainer the
fast one replaces) and at ``reference_max_evals`` (the finer reference both are scored against),
never trained on. The training labels spend a budget of model evaluations,
``label_evaluations``, as ``label_max_evals`` per text on ``label_evaluations // label_max_evals``
texts (the rest of the eval split, then the ``holdout`` split the nights explain): the split was
chosen from a measured curve at equal evaluations (``bench/bench_label_budget.py``). Exact
explanations go through the explanation cache, chunk by chunk, so an interrupted build resumes
where it stopped, and each set's model evaluations are counted into the report; the backend is
the fastest on the machine (``auto``), recorded in the report.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dlexplain.base.files import atomic_dir
from dlexplain.defaults import imdb
from dlexplain.defaults.model import DEFAULT_RECIPE, build_default_model
from dlexplain.errors import ModelError
from dlexplain.fast.gate import GateThresholds
from dlexplain.fast.train import TrainingConfig

logger = logging.getLogger(__name__)

REPORT_FILE = "report.json"
EXACT_CACHE = "default-fast-exact.sqlite"
NETWORK_DIR = "network"
#: texts per cached chunk of exact explanations (what an interrupted build loses at most)
CHUNK = 8


@dataclass(frozen=True)
class FastRecipe:
    """Everything that determines the default fast explainer; its ``key`` names the folder."""

    model_key: str = DEFAULT_RECIPE.key()
    chars: int = 500
    #: held-out reviews, each explained at ``max_evals`` and at ``reference_max_evals``
    n_held_out: int = 96
    #: evaluations per text of the exact explainer the fast one is compared to (the nightly one)
    max_evals: int = 500
    reference_max_evals: int = 2000
    #: model evaluations the training labels may spend in all ...
    label_evaluations: int = 320_000
    #: ... as this many per training text (the split measured best at equal evaluations)
    label_max_evals: int = 500
    backend: str = "auto"
    #: a fixed count of steps: the training time does not depend on how the budget is split
    training: TrainingConfig = field(default_factory=lambda: TrainingConfig(steps=640))
    #: shares of the training texts of the learning curve (each point is one more training, its
    #: steps in proportion)
    curve: tuple[float, ...] = (0.25, 1.0)
    thresholds: GateThresholds = field(default_factory=GateThresholds)

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    @property
    def n_train(self) -> int:
        """Training texts: as many as the label budget buys at ``label_max_evals`` each."""
        return self.label_evaluations // self.label_max_evals


@dataclass(frozen=True)
class BuiltFast:
    path: Path
    report: dict
    built_now: bool

    @property
    def network(self) -> Path:
        return self.path / NETWORK_DIR


def default_fast_dir(cache_dir: Path, recipe: FastRecipe = FastRecipe()) -> Path:
    return cache_dir / "models" / f"minilm-imdb-{recipe.model_key}-fast-{recipe.key()}"


@dataclass(frozen=True)
class Texts:
    """The build's texts: held out (each also gets the reference) and train."""

    held_out: list[str]
    train: list[str]


def recipe_texts(cache_dir: Path, recipe: FastRecipe, n_train: int | None = None) -> Texts:
    """The held-out texts (from the eval split) and the first ``n_train`` (default: the
    recipe's) training texts: the rest of the eval split, then the holdout split."""
    reviews = imdb.load_reviews(cache_dir)
    n_train = recipe.n_train if n_train is None else n_train
    texts = [t[: recipe.chars] for t in reviews[reviews["split"] == "eval"]["text"]]
    texts += [t[: recipe.chars] for t in reviews[reviews["split"] == "holdout"]["text"]]
    texts = list(dict.fromkeys(texts))
    needed = recipe.n_held_out + n_train
    if len(texts) < needed:
        raise ModelError(f"the reviews hold {len(texts)} distinct texts, the recipe needs {needed}")
    return Texts(texts[: recipe.n_held_out], texts[recipe.n_held_out : needed])


def build_default_fast(
    cache_dir: Path,
    recipe: FastRecipe = FastRecipe(),
    *,
    force: bool = False,
    exact_cache: Path | None = None,
) -> BuiltFast:
    """Build the default model's fast explainer once per machine; later calls return it.

    Its exact explanations are kept in ``exact_cache`` (default
    ``<cache_dir>/default-fast-exact.sqlite``): an interrupted build resumes from them, a rebuild
    with another training recipe reuses them."""
    target = default_fast_dir(cache_dir, recipe)
    if (target / REPORT_FILE).is_file() and not force:
        return BuiltFast(target, json.loads((target / REPORT_FILE).read_text()), built_now=False)
    if recipe.model_key != DEFAULT_RECIPE.key():
        raise ModelError(f"the recipe's model {recipe.model_key} is not the default model")
    from dlexplain.explain.classifier import TextClassifier
    from dlexplain.explain.numerics import machine_figures, resolve_backend
    from dlexplain.fast.evaluate import reference_figures
    from dlexplain.fast.fit import fit
    from dlexplain.fast.gate import judge

    model = build_default_model(cache_dir)
    backend = resolve_backend(recipe.backend, "cpu")
    classifier = TextClassifier.from_pretrained(model.path, device="cpu", backend=backend)
    texts = recipe_texts(cache_dir, recipe)
    cache = exact_cache or cache_dir / EXACT_CACHE
    started = time.monotonic()
    exact = ExactSource(classifier, recipe, cache)
    held_rows = exact.explain(texts.held_out, recipe.max_evals, "held-out")
    reference_rows = exact.explain(texts.held_out, recipe.reference_max_evals, "reference")
    train_rows = exact.explain(texts.train, recipe.label_max_evals, "training")
    exact_seconds = time.monotonic() - started
    fitted = fit(
        classifier,
        train_rows,
        held_rows,
        thresholds=recipe.thresholds,
        config=recipe.training,
        curve=recipe.curve,
        progress=True,
    )
    reference = {
        "max_evals": recipe.reference_max_evals,
        **reference_figures(fitted.explainer, held_rows, reference_rows),
    }
    gate = judge({**fitted.evaluation.figures, **reference}, recipe.thresholds)
    report = {
        "recipe": asdict(recipe),
        "backend": backend,
        "machine": machine_figures(),
        "gate": "passed" if gate.passed else "failed",
        "failures": list(gate.failures),
        "figures": fitted.evaluation.figures,
        "reference": reference,
        "learning_curve": fitted.curve,
        "train_texts": fitted.train_texts,
        "left_out": fitted.left_out,
        "exact_seconds": round(exact_seconds, 1),
        "exact_computed": exact.computed,
        #: per set: texts, max_evals, texts computed now and the model evaluations they took
        "exact_sets": exact.sets,
        "train_seconds": round(fitted.training.seconds, 1),
        "build_seconds": round(time.monotonic() - started, 1),
    }
    with atomic_dir(target) as tmp:
        fitted.explainer.model.save(tmp / NETWORK_DIR)
        (tmp / REPORT_FILE).write_text(json.dumps(report, indent=2))
    logger.info(
        "default fast explainer at %s: gate %s %s",
        target,
        report["gate"],
        "; ".join(gate.failures),
    )
    return BuiltFast(target, report, built_now=True)


class ExactSource:
    """Exact explanations of the default model through a cache, in chunks (resumable)."""

    def __init__(self, classifier, recipe: FastRecipe, cache_path: Path) -> None:
        from dlexplain.explain.cache import ExplanationCache

        self.classifier, self.recipe = classifier, recipe
        self.cache = ExplanationCache(cache_path)
        #: texts explained by this build (not found in the cache)
        self.computed = 0
        #: per set explained: its texts, max_evals, texts computed and model evaluations counted
        self.sets: dict[str, dict[str, int]] = {}

    def explain(self, texts: list[str], max_evals: int, what: str) -> list:
        from tqdm.auto import tqdm

        from dlexplain.errors import DataError
        from dlexplain.explain.cache import explain_cached
        from dlexplain.explain.config import ExplainerConfig
        from dlexplain.explain.engine import Explainer

        config = ExplainerConfig(max_evals=max_evals, backend=self.classifier.backend)
        explainer = Explainer(self.classifier, config)
        identity = f"default-fast-build:{self.recipe.model_key}:{config.fingerprint()}"
        rows, computed, evaluations = [], 0, self.classifier.evaluations
        with tqdm(
            total=len(texts),
            desc=f"exact explanations of {what} texts (max_evals {max_evals})",
            unit="text",
        ) as bar:
            for start in range(0, len(texts), CHUNK):
                chunk = texts[start : start + CHUNK]
                found, hits = explain_cached(chunk, explainer.explain, self.cache, identity)
                computed += len(chunk) - hits
                rows.extend(found)
                bar.update(len(chunk))
        self.computed += computed
        self.sets[what] = {
            "texts": len(texts),
            "max_evals": max_evals,
            "computed": computed,
            "evaluations": self.classifier.evaluations - evaluations,
        }
        failed = [r.error for r in rows if not r.ok]
        if failed:
            raise DataError(f"{len(failed)} of {len(rows)} {what} failed: {failed[0]}")
        return rows
