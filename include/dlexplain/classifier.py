"""Text-classifier adapter: a Hugging Face model folder → batched class probabilities."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from dlexplain.errors import ConfigError, ModelError

logger = logging.getLogger(__name__)


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when a CUDA device is present, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but torch sees no CUDA device; use 'auto' or 'cpu'")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"device {device!r} is not one of 'auto', 'cpu', 'cuda'")
    return device


class TextClassifier:
    """Callable ``texts -> probabilities`` of shape (n, classes), batched with dynamic padding.

    Texts are sorted by length before batching so that each batch pads to similar lengths, and
    truncated to the model's maximum length. ``evaluations`` counts texts passed to the model.
    """

    def __init__(self, model, tokenizer, *, batch_size: int = 64, device: str = "auto",
                 max_length: int | None = None) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size={batch_size!r} must be >= 1")
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        config = model.config
        self.labels: tuple[str, ...] = tuple(config.id2label[i] for i in range(config.num_labels))
        limit = getattr(config, "max_position_embeddings", None) or tokenizer.model_max_length
        self.max_length = int(min(max_length or limit, limit, tokenizer.model_max_length))
        self.batch_size = batch_size
        self.evaluations = 0

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs) -> TextClassifier:
        """Load a sequence-classification model and its tokenizer from a local folder."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise ModelError(f"{str(folder)!r} is not a Hugging Face model folder (no config.json)")
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder)
        logger.info("loaded classifier %s with labels %s", folder, model.config.id2label)
        return cls(model, tokenizer, **kwargs)

    @property
    def num_special_tokens(self) -> int:
        """Tokens the tokenizer adds around one text (e.g. [CLS] and [SEP])."""
        return self.tokenizer.num_special_tokens_to_add(pair=False)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities (float64) for each text, in input order."""
        import torch

        texts = [str(t) for t in texts]
        out = np.empty((len(texts), len(self.labels)), dtype=np.float64)
        order = np.argsort([len(t) for t in texts], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                encoded = self.tokenizer(
                    [texts[i] for i in idx], padding=True, truncation=True,
                    max_length=self.max_length, return_tensors="pt",
                ).to(self.device)
                logits = self.model(**encoded).logits.float()
                out[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
        self.evaluations += len(texts)
        return out

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """shap's model interface: masked texts in, probabilities out."""
        return self.predict_proba(texts)
