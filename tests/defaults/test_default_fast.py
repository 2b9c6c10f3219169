"""The default fast explainer's build, on a small recipe: exact explanations of held-out reviews
through a cache (a rebuild computes none), a learning curve, the reference scores, a report, and a
network that loads into an additive fast explainer."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from dlexplain.defaults.fast import FastRecipe, build_default_fast, default_fast_dir, recipe_texts
from dlexplain.fast.gate import GateThresholds
from dlexplain.fast.train import TrainingConfig

pytestmark = pytest.mark.slow  # the default model explains 36 short reviews: about a minute

SMALL = FastRecipe(chars=150, n_train=24, n_held_out=8, n_reference=4, max_evals=40,
                   reference_max_evals=80, training=TrainingConfig(epochs=2),
                   thresholds=GateThresholds(min_held_out=8), curve=(0.5, 1.0))


@pytest.fixture
def small_build(settings, default_model):
    yield settings.paths.cache_dir
    shutil.rmtree(default_fast_dir(settings.paths.cache_dir, SMALL), ignore_errors=True)


def test_texts_are_unseen_and_disjoint(settings):
    texts = recipe_texts(settings.paths.cache_dir, SMALL)
    assert len(texts.held_out) == 8 and len(texts.train) == 24
    assert texts.reference == texts.held_out[:4]
    assert not set(texts.held_out) & set(texts.train)
    assert all(len(t) <= 150 for t in texts.held_out + texts.train)


def test_small_recipe_builds_reports_and_rebuilds_from_the_cache(small_build):
    from dlexplain.defaults import default_model_dir
    from dlexplain.explain.classifier import TextClassifier
    from dlexplain.fast.explainer import FastExplainer
    from dlexplain.fast.model import AmortizedModel

    first = build_default_fast(small_build, SMALL, force=True)
    report = first.report
    assert first.built_now and first.path == default_fast_dir(small_build, SMALL)
    assert report["figures"]["held_out_texts"] == 8 and report["train_texts"] == 24
    assert report["reference"]["reference_texts"] == 4
    assert report["reference"]["max_evals"] == 80
    for side in ("fast", "exact"):
        assert -1 <= report["reference"][f"reference_{side}_median_spearman"] <= 1
    assert [p["train_texts"] for p in report["learning_curve"]] == [12, 24]
    assert report["gate"] in ("passed", "failed") and report["backend"] in ("fp32", "bf16")
    assert report["machine"]["torch_threads"] >= 1

    assert not build_default_fast(small_build, SMALL).built_now  # cached
    again = build_default_fast(small_build, SMALL, force=True)
    assert again.report["exact_computed"] == 0, "a rebuild explains nothing again"

    classifier = TextClassifier.from_pretrained(default_model_dir(small_build), device="cpu")
    fast = FastExplainer(classifier, AmortizedModel.load(again.network))
    (row,) = fast.explain(["A moving, beautifully acted film."])
    assert row.ok and row.method == "fast" and row.additivity_error < 1e-4
    np.testing.assert_allclose(row.base_values + row.values.sum(axis=0), row.probabilities,
                               atol=1e-4)
