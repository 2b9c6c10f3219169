"""Units coarser than a token: each a feature of its own, masked as a whole."""

from __future__ import annotations

import numpy as np
import pytest

from dlexplain.errors import ConfigError
from dlexplain.explain.config import ExplainerConfig, check_granularity
from dlexplain.explain.engine import Explainer
from dlexplain.explain.inputs import ADDITIVITY_TOLERANCE
from dlexplain.explain.units import balanced_tree, units

REVIEW = ('Dr. Smith paid $3.50 for it... Then he left! "Is it good?" she asked. '
          "It was 9.5/10, e.g. great.\n\nMr. T. J. Hooper arrived at 5 p.m. on Jan. 3. Wow.")


def test_sentences_survive_abbreviations_decimals_ellipses_and_quotes():
    assert units(REVIEW, "sentence") == [
        "Dr. Smith paid $3.50 for it... ", "Then he left! ", '"Is it good?" she asked. ',
        "It was 9.5/10, e.g. great.\n\n", "Mr. T. J. Hooper arrived at 5 p.m. on Jan. 3. ",
        "Wow."]


@pytest.mark.parametrize("granularity,count", [("word", 31), ("sentence", 6),
                                               ("paragraph", 2)])
def test_units_cover_the_text(granularity, count):
    found = units(REVIEW, granularity)
    assert "".join(found) == REVIEW and len(found) == count
    assert units("one", granularity) == ["one"]


def test_the_partition_tree_joins_neighbours_in_halves():
    tree = balanced_tree(5)
    assert tree.shape == (4, 4) and tree[-1, 3] == 5  # the root holds every unit
    assert {int(x) for x in tree[:, :2].ravel()} == set(range(8))  # each node joined once
    assert balanced_tree(1).shape == (0, 4)


@pytest.mark.parametrize("granularity", ["word", "sentence", "paragraph"])
@pytest.mark.parametrize("family", ["bert", "xlmr"])  # string and token-id masking
def test_each_unit_is_a_feature_masked_whole(tiny_family_dirs, family, granularity):
    from dlexplain.explain.classifier import TextClassifier

    classifier = TextClassifier.from_pretrained(tiny_family_dirs[family], device="cpu")
    explainer = Explainer(classifier, ExplainerConfig(max_evals=60))
    before = classifier.evaluations
    (row,) = explainer.explain([REVIEW], granularity=granularity)
    assert row.ok, row.error
    text = "".join(row.tokens)  # the tiny models read 62 tokens: a long text is cut
    assert text == REVIEW or (row.truncated and REVIEW.startswith(text))
    assert list(row.tokens) == units(text, granularity)
    assert row.values.shape == (len(row.tokens), len(classifier.labels))
    gap = np.abs(row.base_values + row.values.sum(axis=0) - row.probabilities).max()
    assert gap <= ADDITIVITY_TOLERANCE
    if granularity == "paragraph":  # two features: every coalition, 4 evaluations at most
        assert classifier.evaluations - before <= 4


def test_a_units_value_is_its_own_not_a_sum_of_token_values(tiny_family_dirs):
    """Sentence values come from masking sentences whole: they differ from summed token
    values (the model is not additive), and a one-sentence text's value is f(x) - f(masked)."""
    from dlexplain.explain.classifier import TextClassifier

    classifier = TextClassifier.from_pretrained(tiny_family_dirs["bert"], device="cpu")
    explainer = Explainer(classifier, ExplainerConfig(max_evals=500))
    (token,) = explainer.explain([REVIEW])
    (sentence,) = explainer.explain([REVIEW], granularity="sentence")
    first = len(units(REVIEW, "sentence")[0])
    ends = np.cumsum([len(t) for t in token.tokens])
    summed = token.values[(ends <= first) & (ends > 0)].sum(axis=0)
    assert not np.allclose(summed, sentence.values[0], atol=1e-3)
    (alone,) = explainer.explain(["A wonderful film."], granularity="sentence")
    np.testing.assert_allclose(alone.values[0], alone.probabilities - alone.base_values,
                               atol=1e-9)


def test_the_fast_method_answers_token_and_word_only():
    assert check_granularity("word", "fast") == "word"
    for method in ("fast", "fast+audit"):
        with pytest.raises(ConfigError, match="answers granularity token or word"):
            check_granularity("sentence", method)
    with pytest.raises(ConfigError, match="not one of"):
        check_granularity("chapter")
