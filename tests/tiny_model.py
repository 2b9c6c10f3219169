"""Tiny randomly initialised text classifiers, built in-process (no download).

The families the pipeline must explain (:data:`FAMILIES`): BERT (WordPiece, 2 labels, the
``[CLS]``-only shortcut), DistilBERT (WordPiece, 3 labels), RoBERTa (byte-level BPE), XLM-R
(SentencePiece Unigram with Metaspace, 5 labels), Llama (SentencePiece-style BPE with byte
fallback, no pad token, 4 labels), DeBERTa-v2 (Unigram, 4 labels) and GPT-2 (byte-level BPE, no
pad token, 4 labels); tokenizers trained here with the ``tokenizers`` library.
"""

from __future__ import annotations

WORDS = (
    "the a an and or but is was it this that film movie story acting plot actor scene "
    "good great wonderful superb moving brilliant fun love loved best "
    "bad awful dull boring waste predictable worst hate terrible poor of time to in with"
).split()
SENTIMENT = ("NEGATIVE", "POSITIVE")
THREE_LABELS = ("negative", "neutral", "positive")
#: ``initializer_range=1.0`` so that a random model does not ignore its input
SMALL = dict(hidden_size=16, num_attention_heads=2, initializer_range=1.0)


def _labels(names) -> dict:
    return {"num_labels": len(names), "id2label": dict(enumerate(names)),
            "label2id": {name: i for i, name in enumerate(names)}}


def _wordpiece_vocab() -> dict:
    return {tok: i for i, tok in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                               ",", ".", "!", *WORDS])}


def _save(model, tokenizer, folder):
    model.eval()
    if folder is not None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return model, tokenizer


def make_tiny_model(folder=None):
    """A 2-layer random BERT classifier (NEGATIVE/POSITIVE), WordPiece tokenizer."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    vocab = _wordpiece_vocab()
    tokenizer = BertTokenizer(vocab=vocab, model_max_length=64)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), num_hidden_layers=2, intermediate_size=32,
                        max_position_embeddings=64, **SMALL, **_labels(SENTIMENT))
    return _save(BertForSequenceClassification(config), tokenizer, folder)


def make_tiny_distilbert(folder=None):
    """A 2-layer random DistilBERT classifier with 3 labels (negative/neutral/positive)."""
    import torch
    from transformers import (
        DistilBertConfig,
        DistilBertForSequenceClassification,
        DistilBertTokenizer,
    )

    vocab = _wordpiece_vocab()
    tokenizer = DistilBertTokenizer(vocab=vocab, model_max_length=64)
    torch.manual_seed(1)
    config = DistilBertConfig(vocab_size=len(vocab), n_layers=2, n_heads=2, dim=16,
                              hidden_dim=32, max_position_embeddings=64, initializer_range=1.0,
                              **_labels(THREE_LABELS))
    return _save(DistilBertForSequenceClassification(config), tokenizer, folder)


def train_bpe_tokenizer(texts, vocab_size: int = 800):
    """A RoBERTa tokenizer with a byte-level BPE vocabulary trained on ``texts``."""
    import json

    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=2,
                            special_tokens=specials, show_progress=False)
    # the trained merges, as pairs, from the tokenizer's own JSON form
    merges = [tuple(pair) for pair in json.loads(bpe.to_str())["model"]["merges"]]
    return RobertaTokenizer(vocab=bpe.get_vocab(), merges=merges, model_max_length=64)


def make_tiny_roberta(texts, folder=None):
    """A 2-layer random RoBERTa classifier (NEGATIVE/POSITIVE) with a byte-level BPE tokenizer
    trained on ``texts``."""
    import torch
    from transformers import RobertaConfig, RobertaForSequenceClassification

    tokenizer = train_bpe_tokenizer(texts)
    torch.manual_seed(2)
    config = RobertaConfig(vocab_size=len(tokenizer), num_hidden_layers=2, intermediate_size=32,
                           max_position_embeddings=64 + 2, type_vocab_size=1,
                           pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                           eos_token_id=tokenizer.eos_token_id, **SMALL, **_labels(SENTIMENT))
    return _save(RobertaForSequenceClassification(config), tokenizer, folder)


#: the keyword model's words and their pull towards POSITIVE (logit units)
KEYWORDS = {"great": 4.0, "good": 1.5}


def make_keyword_model(bias: float = -2.0):
    """A classifier of known behaviour: POSITIVE's logit is ``bias`` plus the weight of each
    keyword of ``KEYWORDS`` present in the text (NEGATIVE's is 0), so "great" alone flips the
    class (p(POSITIVE) 0.12 without it, 0.88 with it). A real torch module behind the same
    WordPiece tokenizer as the tiny BERT, run by ``TextClassifier`` like any model."""
    import torch
    from transformers import BertTokenizer, PretrainedConfig
    from transformers.modeling_outputs import SequenceClassifierOutput

    vocab = _wordpiece_vocab()

    class KeywordClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = PretrainedConfig(max_position_embeddings=64, **_labels(SENTIMENT))
            self.register_buffer("ids", torch.tensor([vocab[w] for w in KEYWORDS]))
            self.register_buffer("weights", torch.tensor(list(KEYWORDS.values())))

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            present = ((input_ids[:, :, None] == self.ids) & attention_mask.bool()[:, :, None])
            positive = bias + (present.any(dim=1).float() * self.weights).sum(dim=1)
            return SequenceClassifierOutput(
                logits=torch.stack([torch.zeros_like(positive), positive], dim=1))

    return KeywordClassifier().eval(), BertTokenizer(vocab=vocab, model_max_length=64)


#: the words that carry the tiny sentiment model's classes
POSITIVE_WORDS = {"good", "great", "wonderful", "superb", "moving", "brilliant", "fun", "love",
                  "loved", "best"}
NEGATIVE_WORDS = {"bad", "awful", "dull", "boring", "waste", "predictable", "worst", "hate",
                  "terrible", "poor"}


def word_texts(n: int, seed: int, labelled: bool = False):
    """``n`` texts of 3 to 15 random ``WORDS``; with ``labelled``, only texts where positive and
    negative words do not tie, and their labels (1 = more positive words)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    texts, labels = [], []
    while len(texts) < n:
        words = [str(w) for w in rng.choice(WORDS, size=rng.integers(3, 16))]
        score = sum(w in POSITIVE_WORDS for w in words) - sum(w in NEGATIVE_WORDS for w in words)
        if labelled and score == 0:
            continue
        texts.append(" ".join(words))
        labels.append(int(score > 0))
    return (texts, labels) if labelled else texts


def make_tiny_sentiment_model(folder=None):
    """A 2-layer BERT trained here (seconds) to tell ``POSITIVE_WORDS`` from ``NEGATIVE_WORDS``
    (held-out accuracy about 0.99): a small model whose explanations mean something, so that a
    fast explainer can learn them."""
    import numpy as np
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    vocab = _wordpiece_vocab()
    tokenizer = BertTokenizer(vocab=vocab, model_max_length=64)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_attention_heads=2,
                        num_hidden_layers=2, intermediate_size=64, max_position_embeddings=64,
                        **_labels(SENTIMENT))
    model = BertForSequenceClassification(config)
    texts, labels = word_texts(1200, seed=0, labelled=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for epoch in range(2):
        order = np.random.default_rng(epoch).permutation(len(texts))
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            inputs = tokenizer([texts[i] for i in batch], padding=True, return_tensors="pt")
            loss = model(**inputs, labels=torch.tensor([labels[i] for i in batch])).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return _save(model, tokenizer, folder)


#: label sets of the families with more than three classes
FIVE_LABELS = ("anger", "joy", "sadness", "surprise", "neutral")
FOUR_LABELS = ("world", "sports", "business", "science")
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def _fast_tokenizer(backend, cls_name: str, **specials):
    """A transformers tokenizer of class ``cls_name`` around a ``tokenizers`` object, its special
    tokens named by ``specials`` (``bos_token="<s>"``, …), 64 tokens at most."""
    import transformers

    return getattr(transformers, cls_name)(tokenizer_object=backend, model_max_length=64,
                                           **specials)


def _with_template(backend, first: str | None, last: str | None):
    """``backend`` adding ``first`` before and ``last`` after each text (ids from its vocab)."""
    from tokenizers.processors import TemplateProcessing

    single = " ".join([*(f"{first}:0",) * bool(first), "$A:0", *(f"{last}:0",) * bool(last)])
    backend.post_processor = TemplateProcessing(
        single=single, special_tokens=[(t, backend.token_to_id(t)) for t in (first, last) if t])
    return backend


def train_unigram_tokenizer(texts, vocab_size: int = 800):
    """An XLM-RoBERTa tokenizer whose model is a SentencePiece-style Unigram (Metaspace ``▁``),
    trained on ``texts`` with ``tokenizers``' ``SentencePieceUnigramTokenizer``."""
    from tokenizers import SentencePieceUnigramTokenizer

    unigram = SentencePieceUnigramTokenizer()
    unigram.train_from_iterator(texts, vocab_size=vocab_size, special_tokens=SPECIALS,
                                unk_token="<unk>", show_progress=False)
    backend = _with_template(unigram._tokenizer, "<s>", "</s>")
    return _fast_tokenizer(backend, "XLMRobertaTokenizerFast", bos_token="<s>", eos_token="</s>",
                           pad_token="<pad>", unk_token="<unk>", mask_token="<mask>",
                           cls_token="<s>", sep_token="</s>")


def make_tiny_xlm_roberta(texts, folder=None):
    """A 2-layer random XLM-RoBERTa classifier with 5 labels and a Unigram tokenizer trained on
    ``texts`` (the tokenizer shap's string masker repeats characters of)."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    tokenizer = train_unigram_tokenizer(texts)
    torch.manual_seed(3)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), num_hidden_layers=2,
                              intermediate_size=32, max_position_embeddings=64 + 2,
                              type_vocab_size=1, pad_token_id=tokenizer.pad_token_id,
                              bos_token_id=tokenizer.bos_token_id,
                              eos_token_id=tokenizer.eos_token_id, **SMALL,
                              **_labels(FIVE_LABELS))
    return _save(XLMRobertaForSequenceClassification(config), tokenizer, folder)


def train_llama_tokenizer(texts, vocab_size: int = 600):
    """A Llama-style tokenizer: SentencePiece BPE with byte fallback (``<0xNN>`` tokens for
    characters outside the vocabulary), ``▁`` for spaces, ``<s>`` before each text."""
    from tokenizers import Tokenizer, decoders, models, normalizers, trainers

    backend = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    backend.normalizer = normalizers.Sequence([normalizers.Prepend("▁"),
                                               normalizers.Replace(" ", "▁")])
    backend.pre_tokenizer = None
    backend.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                         decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size + 256, min_frequency=2,
                                  special_tokens=["<unk>", "<s>", "</s>", *byte_tokens],
                                  show_progress=False)
    backend.train_from_iterator(texts, trainer=trainer)
    backend = _with_template(backend, "<s>", None)
    return _fast_tokenizer(backend, "LlamaTokenizerFast", bos_token="<s>", eos_token="</s>",
                           unk_token="<unk>")


def make_tiny_llama(texts, folder=None):
    """A 2-layer random ``LlamaForSequenceClassification`` with 4 labels, a byte-fallback BPE
    tokenizer and no pad token of its own (the classifier pads with its end-of-text token)."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    tokenizer = train_llama_tokenizer(texts)
    torch.manual_seed(4)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=64, initializer_range=1.0,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         **_labels(FOUR_LABELS))
    return _save(LlamaForSequenceClassification(config), tokenizer, folder)


def make_tiny_deberta(texts, folder=None):
    """A 2-layer random DeBERTa-v2 classifier with 4 labels, its tokenizer a SentencePiece
    Unigram with ``[CLS]``/``[SEP]`` (the DeBERTa-v3 layout)."""
    import torch
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification

    unigram = SentencePieceUnigramTokenizer()
    unigram.train_from_iterator(texts, vocab_size=800, show_progress=False, unk_token="[UNK]",
                                special_tokens=["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"])
    backend = _with_template(unigram._tokenizer, "[CLS]", "[SEP]")
    tokenizer = _fast_tokenizer(backend, "DebertaV2TokenizerFast", bos_token="[CLS]",
                                eos_token="[SEP]", unk_token="[UNK]", sep_token="[SEP]",
                                pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]")
    torch.manual_seed(5)
    config = DebertaV2Config(vocab_size=len(tokenizer), num_hidden_layers=2,
                             intermediate_size=32, max_position_embeddings=64, type_vocab_size=0,
                             pad_token_id=tokenizer.pad_token_id, **SMALL,
                             **_labels(tuple(reversed(FOUR_LABELS))))
    return _save(DebertaV2ForSequenceClassification(config), tokenizer, folder)


def make_tiny_gpt2(texts, folder=None):
    """A 2-layer random GPT-2 classifier with 4 labels, byte-level BPE, no pad token (GPT-2
    has none; the classifier pads with its end-of-text token)."""
    import json

    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2ForSequenceClassification, GPT2Tokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(texts, vocab_size=800, min_frequency=2,
                            special_tokens=["<|endoftext|>"], show_progress=False)
    merges = [tuple(pair) for pair in json.loads(bpe.to_str())["model"]["merges"]]
    tokenizer = GPT2Tokenizer(vocab=bpe.get_vocab(), merges=merges, model_max_length=64,
                              unk_token="<|endoftext|>", bos_token="<|endoftext|>",
                              eos_token="<|endoftext|>")
    torch.manual_seed(6)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=16, n_layer=2,
                        n_head=2, initializer_range=1.0, bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.eos_token_id, **_labels(FOUR_LABELS))
    return _save(GPT2ForSequenceClassification(config), tokenizer, folder)


#: family -> (builder, whether it trains its tokenizer on texts: ``build(texts, folder)``)
FAMILIES = {
    "bert": (make_tiny_model, False),
    "distilbert": (make_tiny_distilbert, False),
    "roberta": (make_tiny_roberta, True),
    "xlmr": (lambda texts, folder: make_tiny_xlm_roberta(texts[:400], folder), True),
    "llama": (make_tiny_llama, True),
    "deberta": (lambda texts, folder: make_tiny_deberta(texts[:400], folder), True),
    "gpt2": (make_tiny_gpt2, True),
}
#: how each family's texts are masked (``dlexplain.explain.masking.choose_masking``)
MASKING = {"bert": "text", "distilbert": "text", "roberta": "token_ids", "xlmr": "token_ids",
           "llama": "token_ids", "deberta": "token_ids", "gpt2": "token_ids"}
