"""The amortized explainer on a tiny sentiment BERT: trained on exact explanations, it follows
held-out ones and passes the gate; trained on shuffled targets, it fails it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dlexplain.errors import ConfigError
from dlexplain.explain.classifier import TextClassifier
from dlexplain.explain.config import ExplainerConfig
from dlexplain.explain.engine import Explainer
from dlexplain.explain.inputs import ADDITIVITY_TOLERANCE
from dlexplain.explain.row import TextExplanation
from dlexplain.explain.units import units
from dlexplain.fast.data import Segmenter, examples_from_rows
from dlexplain.fast.evaluate import evaluate
from dlexplain.fast.explainer import FastExplainer
from dlexplain.fast.gate import GateThresholds, judge
from dlexplain.fast.model import AmortizedModel
from dlexplain.fast.train import TrainingConfig, train
from tests.tiny_model import word_texts

pytestmark = pytest.mark.slow  # a trained tiny model and 128 exact explanations: minutes
TRAIN, HELD_OUT = 96, 32
#: texts of 3 to 15 words: the exact top 5 often holds near-zero values whose sign is noise
GATE = GateThresholds(min_held_out=HELD_OUT, min_top5_sign_agreement=0.8)
FIT = TrainingConfig(epochs=8, learning_rate=1e-3, head_learning_rate=1e-2)


@pytest.fixture(scope="module")
def classifier(tiny_sentiment_dir):
    return TextClassifier.from_pretrained(tiny_sentiment_dir, device="cpu")


@pytest.fixture(scope="module")
def exact_rows(classifier):
    """Exact explanations of random word texts: the first TRAIN to learn from, the rest held out."""
    texts = word_texts(TRAIN + HELD_OUT, seed=5)
    return Explainer(classifier, ExplainerConfig(max_evals=60)).explain(texts)


def _fit(classifier, rows, config: TrainingConfig = FIT) -> FastExplainer:
    examples, left_out = examples_from_rows(rows, Segmenter(classifier.tokenizer),
                                            classifier.labels)
    assert left_out == 0 and len(examples) == len(rows)
    model = AmortizedModel.from_classifier(classifier.model)
    report = train(model, examples, classifier.tokenizer.pad_token_id, config)
    assert report.texts == len(rows) and len(report.epoch_losses) == config.epochs
    return FastExplainer(classifier, model)


@pytest.fixture(scope="module")
def trained(classifier, exact_rows):
    return _fit(classifier, exact_rows[:TRAIN])


def test_trained_on_exact_explanations_it_follows_held_out_ones(trained, exact_rows):
    held_out = exact_rows[TRAIN:]
    evaluation = evaluate(trained, held_out)
    figures = evaluation.figures
    assert judge(figures, GATE).passed, (judge(figures, GATE).failures, figures)
    # as faithful as the exact explainer, far above random
    assert figures["fast_comprehensiveness"] > 2 * figures["random_comprehensiveness"]
    for fast, exact in zip(evaluation.fast_rows, held_out):
        assert fast.method == "fast" and exact.method == "exact"
        assert fast.tokens == exact.tokens and fast.label == exact.label
        np.testing.assert_allclose(fast.base_values, exact.base_values, atol=1e-6)
        assert fast.additivity_error < 1e-4
        assert np.allclose(fast.base_values + fast.values.sum(axis=0), fast.probabilities,
                           atol=1e-4)
        assert (fast.values[[0, -1]] == 0).all(), "special tokens carry no value"


def test_an_untrained_or_shuffled_target_model_fails_the_gate(classifier, exact_rows):
    rng = np.random.default_rng(0)
    shuffled = [replace(row, values=row.values[np.r_[0, rng.permutation(np.arange(1, len(
        row.tokens) - 1)), len(row.tokens) - 1]]) for row in exact_rows[:TRAIN]]
    broken = _fit(classifier, shuffled, replace(FIT, epochs=4))
    result = judge(evaluate(broken, exact_rows[TRAIN:]).figures, GATE)
    assert not result.passed and any("spearman" in f for f in result.failures), result
    untrained = FastExplainer(classifier, AmortizedModel.from_classifier(classifier.model))
    assert not judge(evaluate(untrained, exact_rows[TRAIN:]).figures, GATE).passed


def test_saved_and_loaded_it_explains_the_same_and_holds_no_pickle(trained, tmp_path):
    trained.model.save(tmp_path / "fast")
    files = sorted(p.name for p in (tmp_path / "fast").rglob("*") if p.is_file())
    assert files == ["config.json", "fast.json", "head.safetensors", "model.safetensors"], files
    again = FastExplainer(trained.classifier, AmortizedModel.load(tmp_path / "fast"))
    texts = ["a great film", "the worst plot , dull acting"]
    for a, b in zip(trained.explain(texts), again.explain(texts)):
        np.testing.assert_allclose(a.values, b.values, atol=1e-6)


def test_every_input_comes_back_in_order(trained):
    rows = trained.explain(["great fun", None, "   ", 7, "boring waste of time"])
    assert [r.ok for r in rows] == [True, False, False, False, True]
    assert all(r.method == "fast" for r in rows)
    assert "missing" in rows[1].error and "string" in rows[3].error
    assert "".join(rows[4].tokens) == "boring waste of time"


def test_rows_that_do_not_fit_are_left_out_not_misaligned(classifier, exact_rows, tiny_family_dirs):
    roberta = TextClassifier.from_pretrained(tiny_family_dirs["roberta"], device="cpu")
    other_tokenizer = Explainer(roberta, ExplainerConfig(max_evals=10)).explain(["great film"])
    rows = [exact_rows[0], TextExplanation.failed("no text", classifier.labels),
            replace(exact_rows[1], method="fast"), *other_tokenizer,
            replace(exact_rows[2], output_names=("a", "b"))]
    examples, left_out = examples_from_rows(rows, Segmenter(classifier.tokenizer),
                                            classifier.labels)
    assert len(examples) == 1 and left_out == 4


def test_byte_level_tokenizers_align_through_token_id_masking(tiny_family_dirs):
    """RoBERTa's byte-level BPE: the fast rows cut texts exactly as the exact ones."""
    roberta = TextClassifier.from_pretrained(tiny_family_dirs["roberta"], device="cpu")
    texts = ["Ünïcode    spaces and émojis 🎬 here", "a plain review"]
    exact = Explainer(roberta, ExplainerConfig(max_evals=20)).explain(texts)
    fast = FastExplainer(roberta, AmortizedModel.from_classifier(roberta.model)).explain(texts)
    for f, e in zip(fast, exact):
        assert f.tokens == e.tokens and "".join(f.tokens) == "".join(e.tokens)
        np.testing.assert_allclose(f.base_values, e.base_values, atol=1e-6)
        np.testing.assert_allclose(f.probabilities, e.probabilities, atol=1e-6)
        assert f.additivity_error < 1e-4


def test_word_values_are_the_sums_of_their_token_values_and_coarser_units_are_refused(trained):
    text = "boring waste of time, great fun"
    (token,) = trained.explain([text])
    (word,) = trained.explain([text], granularity="word")
    assert list(word.tokens) == units(text, "word") and word.ok
    assert word.additivity_error <= ADDITIVITY_TOLERANCE
    ends = np.cumsum([len(t) for t in token.tokens])
    first = len(word.tokens[0])
    np.testing.assert_allclose(word.values[0], token.values[ends <= first].sum(axis=0),
                               atol=1e-9)
    with pytest.raises(ConfigError, match="answers granularity token or word"):
        trained.explain([text], granularity="sentence")


def test_fast_verify_keeps_rows_that_pass_and_explains_the_others_exactly(
        trained, classifier, exact_rows):
    """The check is faithfulness's own comprehensiveness-over-random; a row that fails it is
    explained exactly (one call for all), the row saying so; input errors stay as they are."""
    from dlexplain.fast.verify import verify
    from dlexplain.quality.faithfulness import comprehensiveness_gain, faithfulness

    texts = ["".join(r.tokens) for r in exact_rows[TRAIN:]] + [None, "   "]
    fast = trained.explain(texts)
    predict = classifier.predict_proba
    exact = Explainer(classifier, ExplainerConfig(max_evals=60))
    calls: list[list] = []

    def explain_exactly(todo):
        calls.append(list(todo))
        return exact.explain(todo)

    gains = comprehensiveness_gain(fast, predict)
    for gain, f in zip(gains, faithfulness(fast, predict)):
        assert (gain is None) == (f is None)
        assert gain is None or gain == pytest.approx(
            f.comprehensiveness - f.random_comprehensiveness)

    # any margin: a row with nothing to check (no token speaks for its class) is re-explained
    unchecked = [i for i, g in enumerate(gains[:HELD_OUT]) if g is None]
    kept = verify(texts, fast, predict, explain_exactly, margin=float("-inf"))
    assert kept.reexplained == len(unchecked) and calls == ([[texts[i] for i in unchecked]]
                                                            if unchecked else [])
    assert [r for i, r in enumerate(kept.rows) if i not in unchecked] == [
        r for i, r in enumerate(fast) if i not in unchecked]
    calls.clear()

    everything = verify(texts, fast, predict, explain_exactly, margin=float("inf"))
    assert calls == [texts[:HELD_OUT]] and everything.reexplained == HELD_OUT
    assert [r.method for r in everything.rows[:HELD_OUT]] == ["exact"] * HELD_OUT
    for got, want in zip(everything.rows, exact_rows[TRAIN:]):
        np.testing.assert_allclose(got.values, want.values, atol=1e-9)
    assert [r.ok for r in everything.rows[HELD_OUT:]] == [False, False]
    assert everything.rows[HELD_OUT:] == fast[HELD_OUT:]

    calls.clear()
    checked = verify(texts, fast, predict, explain_exactly)
    failing = [i for i, g in enumerate(gains[:HELD_OUT]) if g is None or g <= 0]
    assert checked.reexplained == len(failing) < HELD_OUT / 2
    assert [r.method for r in checked.rows[:HELD_OUT]] == [
        "exact" if i in failing else "fast" for i in range(HELD_OUT)]

    # an exact explanation that fails too never replaces a usable fast row
    broken = verify(texts, fast, predict,
                    lambda todo: [TextExplanation.failed("model away", classifier.labels)
                                  for _ in todo], margin=float("inf"))
    assert (broken.reexplained, broken.kept_fast) == (0, HELD_OUT) and broken.rows == fast


def test_a_fixed_count_of_steps_bounds_the_training(classifier, exact_rows):
    examples, _ = examples_from_rows(exact_rows[:TRAIN], Segmenter(classifier.tokenizer),
                                     classifier.labels)
    model = AmortizedModel.from_classifier(classifier.model)
    report = train(model, examples, classifier.pad_id, replace(FIT, steps=9, batch_size=8))
    assert report.steps == 9 and len(report.epoch_losses) == 1  # 12 steps an epoch
    with pytest.raises(ConfigError, match="steps"):
        TrainingConfig(steps=0)
