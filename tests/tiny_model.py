"""A tiny randomly initialised BERT classifier, built in-process (no download)."""

from __future__ import annotations

WORDS = (
    "the a an and or but is was it this that film movie story acting plot actor scene "
    "good great wonderful superb moving brilliant fun love loved best "
    "bad awful dull boring waste predictable worst hate terrible poor of time to in with"
).split()


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
