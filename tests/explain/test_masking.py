"""Masking per tokenizer, chosen by probing it: token ids wherever shap's string masker is wrong.

Every family of ``tests.tiny_model.FAMILIES`` is probed and explained; the XLM-R-style Unigram
tokenizer is the case that gave rows with repeated characters ("nneighborhood") and additivity
errors of 0.27 before the probe chose its masking.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlexplain.explain.masking import PROBES, choose_masking, segments
from tests.tiny_model import FAMILIES, MASKING

TEXTS = [
    "This film was great great great, and the acting superb.",
    "Café crème — naïve 😀 film",  # multi-byte characters split over byte-level tokens
    "Awful.  Just   awful,\n a waste",  # runs of whitespace
    "日本語のテキスト",
    "the neighborhood was early",  # XLM-R Unigram: shap repeated a character of each word
    "see https://example.com/x and @critic, 9.5/10 &amp; 👨‍👩‍👧",
    "i love it ❤️",  # a variation selector at the end, which WordPiece drops
]


def test_segments_give_each_character_once():
    # two byte tokens share the offsets of one character; specials at both ends
    text = "a é b"
    offsets = [(0, 0), (0, 1), (2, 3), (2, 3), (4, 5), (0, 0)]
    assert segments(text, offsets) == ["", "a ", "é", " ", "b", ""]
    assert "".join(segments(text, offsets)) == text


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_probe_chooses_and_every_family_explains_exactly(tiny_family_dirs, family):
    from dlexplain.explain.classifier import TextClassifier
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.explain.engine import Explainer
    from dlexplain.explain.inputs import ADDITIVITY_TOLERANCE

    classifier = TextClassifier.from_pretrained(tiny_family_dirs[family], device="cpu")
    masking = choose_masking(classifier.tokenizer)
    assert masking.kind == MASKING[family], masking.reason
    explainer = Explainer(classifier, ExplainerConfig(max_evals=60))
    assert explainer.config.masking == masking.kind  # stored in the explainer's config
    results = explainer.explain(TEXTS)
    for text, result in zip(TEXTS, results):
        assert result.ok, (family, text, result.error)
        assert "".join(result.tokens) == text, (family, result.tokens)
        recomputed = np.abs(result.base_values + result.values.sum(axis=0)
                            - result.probabilities).max()
        assert recomputed <= ADDITIVITY_TOLERANCE, (family, text, recomputed)
        assert result.values.shape == (len(result.tokens), len(classifier.labels))
    assert len(results[0].output_names) == len(classifier.labels) >= 2


@pytest.mark.parametrize("family", ["roberta", "xlmr"])
def test_shaps_string_masker_is_wrong_where_the_probe_says_so(tiny_family_dirs, family):
    """Why token-id masking exists: shap's own masker repeats characters (shap #2849 for
    byte-level BPE; overlapping Unigram offsets for XLM-R), and the probe catches it."""
    import shap
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_family_dirs[family])
    shown = ["".join(shap.maskers.Text(tokenizer).data_transform(t)[0]) for t in PROBES]
    assert any(s != t for s, t in zip(shown, PROBES))
    assert "not exact" in choose_masking(tokenizer).reason


def test_a_cut_inside_a_character_of_several_byte_tokens_moves_before_it(tiny_family_dirs):
    """Cut at the token limit between two byte tokens of one emoji, the text would re-tokenize
    one token longer than the limit (and the model would silently lose its last token)."""
    from transformers import AutoTokenizer

    from dlexplain.explain.inputs import prepare

    tokenizer = AutoTokenizer.from_pretrained(tiny_family_dirs["roberta"])
    text = "the film " + "😀" * 40
    for limit in range(8, 20):
        prepared = prepare(text, tokenizer, limit)
        assert prepared.truncated and text.startswith(prepared.text)
        ids = tokenizer(prepared.text, add_special_tokens=False)["input_ids"]
        assert len(ids) <= limit, (limit, len(ids))
