"""Shared fixtures: a tiny random BERT (built here, no download) and the cached default model."""

from __future__ import annotations

import random

import numpy as np
import pytest

from dlexplain.config import Settings

WORDS = (
    "the a an and or but is was it this that film movie story acting plot actor scene "
    "good great wonderful superb moving brilliant fun love loved best "
    "bad awful dull boring waste predictable worst hate terrible poor of time to in with"
).split()


@pytest.fixture(autouse=True)
def seed():
    """Every test starts from the same random state."""
    random.seed(0)
    np.random.seed(0)
    import torch

    torch.manual_seed(0)


def make_tiny_model(folder=None):
    """A 2-layer random BERT classifier; ``initializer_range=1.0`` so it does not ignore input."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    vocab = {tok: i for i, tok in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                               ",", ".", "!", *WORDS])}
    tokenizer = BertTokenizer(vocab=vocab, model_max_length=64)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, initializer_range=1.0,
        num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    model = BertForSequenceClassification(config).eval()
    if folder is not None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return model, tokenizer


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A saved tiny model folder (loads like any Hugging Face folder)."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    make_tiny_model(folder)
    return folder


@pytest.fixture()
def tiny_classifier():
    from dlexplain.classifier import TextClassifier

    model, tokenizer = make_tiny_model()
    return TextClassifier(model, tokenizer, batch_size=8, device="cpu")


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_env()


@pytest.fixture(scope="session")
def default_model(settings):
    """The embedded default model, built once per machine (``make test`` builds it first)."""
    from dlexplain.defaults import build_default_model

    return build_default_model(settings.cache_dir)


@pytest.fixture(scope="session")
def holdout_reviews(settings):
    """Cleaned IMDb reviews never used in training or model evaluation."""
    from dlexplain.defaults import load_reviews

    reviews = load_reviews(settings.cache_dir)
    return reviews[reviews["split"] == "holdout"].reset_index(drop=True)
