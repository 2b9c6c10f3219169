"""Masking per tokenizer family: token-id masking where shap's string masker is wrong."""

from __future__ import annotations

import pytest

from dlexplain.explain.masking import is_byte_level, segments

TEXTS = [
    "This film was great great great, and the acting superb.",
    "Café crème — naïve 😀 film",  # multi-byte characters split over byte-level tokens
    "Awful.  Just   awful,\n a waste",  # runs of whitespace
    "日本語のテキスト",
]


def test_segments_give_each_character_once():
    # two byte tokens share the offsets of one character; specials at both ends
    text = "a é b"
    offsets = [(0, 0), (0, 1), (2, 3), (2, 3), (4, 5), (0, 0)]
    assert segments(text, offsets) == ["", "a ", "é", " ", "b", ""]
    assert "".join(segments(text, offsets)) == text


@pytest.mark.parametrize("family,byte_level", [("bert", False), ("distilbert", False),
                                               ("roberta", True)])
def test_families_explain_exactly(tiny_family_dirs, family, byte_level):
    from dlexplain.explain.classifier import TextClassifier
    from dlexplain.explain.config import ExplainerConfig
    from dlexplain.explain.engine import Explainer

    classifier = TextClassifier.from_pretrained(tiny_family_dirs[family], device="cpu")
    assert is_byte_level(classifier.tokenizer) is byte_level
    results = Explainer(classifier, ExplainerConfig(max_evals=60)).explain(TEXTS)
    for text, result in zip(TEXTS, results):
        assert result.ok, result.error
        assert result.additivity_error < 1e-4, (family, text, result.additivity_error)
        assert "".join(result.tokens) == text, (family, result.tokens)
        assert result.values.shape == (len(result.tokens), len(classifier.labels))
    assert len(results[0].output_names) == (3 if family == "distilbert" else 2)


def test_shaps_string_masker_is_wrong_for_byte_level_bpe(tiny_family_dirs):
    """Why token-id masking exists: shap's own masker repeats split characters (shap #2849)."""
    import shap
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_family_dirs["roberta"])
    shown = shap.maskers.Text(tokenizer).data_transform(TEXTS[1])[0]
    assert "".join(shown) != TEXTS[1]
