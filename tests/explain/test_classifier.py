"""The text-classifier adapter: batched probabilities in input order, truncation, device."""

from __future__ import annotations

import numpy as np
import pytest

from dlexplain.errors import ConfigError, ModelError
from dlexplain.explain.classifier import TextClassifier, resolve_device

TEXTS = ["the film", "a great and wonderful movie with superb acting", "dull", "it was bad",
         "the best story of the time"]


def test_probabilities_in_input_order_any_batch_size(tiny_classifier):
    tiny_classifier.batch_size = 1
    one_by_one = tiny_classifier.predict_proba(TEXTS)
    tiny_classifier.batch_size = 64
    batched = tiny_classifier.predict_proba(TEXTS)
    assert batched.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0, atol=1e-6)
    assert len({tuple(np.round(row, 6)) for row in batched}) == len(TEXTS)


def test_counts_evaluations(tiny_classifier):
    tiny_classifier.predict_proba(TEXTS)
    tiny_classifier(np.array(TEXTS[:2]))  # shap passes numpy arrays of strings
    assert tiny_classifier.evaluations == len(TEXTS) + 2


def test_truncates_to_model_limit(tiny_classifier):
    long_text = " ".join(["film"] * 500)
    assert tiny_classifier.max_length == 64
    probabilities = tiny_classifier.predict_proba([long_text])
    assert np.isfinite(probabilities).all()


def test_labels_from_config(tiny_model_dir):
    classifier = TextClassifier.from_pretrained(tiny_model_dir, device="cpu")
    assert classifier.labels == ("NEGATIVE", "POSITIVE")


def test_not_a_model_folder(tmp_path):
    with pytest.raises(ModelError, match="no config.json"):
        TextClassifier.from_pretrained(tmp_path)


def test_device_resolution():
    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="tpu"):
        resolve_device("tpu")


def test_cls_only_last_layer_gives_the_full_forward_pass_probabilities(tiny_classifier):
    texts = ["the film", "a much longer review of a film that was not good at all", "ok", "!"]
    assert tiny_classifier.cls_forward, "the tiny BERT takes the [CLS]-only path"
    fast = tiny_classifier.predict_proba(texts)
    tiny_classifier.cls_forward = False
    full = tiny_classifier.predict_proba(texts)
    np.testing.assert_allclose(fast, full, atol=1e-6)


def test_bf16_backend_is_close_and_unknown_backends_are_refused(tiny_classifier):
    texts = ["the film was great", "a dull movie"]
    fast = TextClassifier(tiny_classifier.model, tiny_classifier.tokenizer, device="cpu",
                          backend="bf16")
    np.testing.assert_allclose(fast.predict_proba(texts), tiny_classifier.predict_proba(texts),
                               atol=0.05)
    with pytest.raises(ConfigError, match="int4"):
        TextClassifier(tiny_classifier.model, tiny_classifier.tokenizer, backend="int4")


def test_out_of_memory_halves_the_batch_and_loses_no_row(tiny_classifier, monkeypatch):
    """No GPU here: a forward pass that fails above 3 rows stands in for a CUDA OOM."""
    import torch

    expected = tiny_classifier.predict_proba(TEXTS)
    forward = tiny_classifier._forward

    def small_batches_only(encoded, columns, lengths, idx, pad_id):
        if len(idx) > 3:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(encoded, columns, lengths, idx, pad_id)

    monkeypatch.setattr(tiny_classifier, "_forward", small_batches_only)
    tiny_classifier.batch_size = 16
    np.testing.assert_allclose(tiny_classifier.predict_proba(TEXTS), expected, atol=1e-6)
    assert tiny_classifier.batch_size == 2
