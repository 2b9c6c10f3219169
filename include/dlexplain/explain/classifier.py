"""Text-classifier adapter: a Hugging Face model folder → batched class probabilities."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dlexplain.errors import ConfigError, ModelError
from dlexplain.explain.cls_forward import cls_logits, supports_cls_forward
from dlexplain.explain.config import ExplainerConfig, check_device
from dlexplain.explain.numerics import resolve_backend

logger = logging.getLogger(__name__)


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when a CUDA device is present, else ``cpu``."""
    import torch

    if check_device(device) == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "device 'cuda' was asked for but torch sees no CUDA device; use 'auto' or 'cpu'"
        )
    return device


def class_labels(config) -> tuple[str, ...]:
    """Class names of a Hugging Face model config, in output order."""
    return tuple(config.id2label[i] for i in range(config.num_labels))


def pad_token_id(tokenizer) -> int:
    """The id to pad rows with: the pad token's, else the end of text's, else the unknown
    token's (a model that attends to the mask ignores it; a decoder-only one stops before it)."""
    for name in ("pad_token_id", "eos_token_id", "unk_token_id"):
        found = getattr(tokenizer, name, None)
        if found is not None:
            return int(found)
    raise ModelError("the tokenizer has no pad, end-of-text or unknown token to pad rows with")


class TextClassifier:
    """Callable ``texts -> probabilities`` of shape (n, classes), batched with dynamic padding.

    Texts are tokenized once, sorted by token length and batched (length buckets), and truncated
    to the model's maximum length. ``backend="bf16"`` runs the forward pass under bfloat16
    autocast (AMX/AVX-512-BF16 CPUs, CUDA): about 3x faster on such CPUs, not bit-equal to fp32;
    ``"auto"`` resolves to it only there (``dlexplain.explain.numerics``).
    ``evaluations`` counts texts passed to the model.
    """

    def __init__(
        self,
        model,
        tokenizer,
        *,
        batch_size: int = 64,
        device: str = "auto",
        max_length: int | None = None,
        backend: str = "fp32",
    ) -> None:
        for name, value in (("batch_size", batch_size), ("backend", backend)):
            problem = ExplainerConfig.problem(name, value)  # the one validator of both
            if problem:
                raise ConfigError(f"TextClassifier: {problem}")
        self.device = resolve_device(device)
        self.backend = resolve_backend(backend, self.device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        config = model.config
        self.labels = class_labels(config)
        limit = getattr(config, "max_position_embeddings", None) or tokenizer.model_max_length
        self.max_length = int(min(max_length or limit, limit, tokenizer.model_max_length))
        self.use_batch_size(batch_size)
        self.evaluations = 0
        #: the id rows are padded with: the tokenizer's pad token, else its end of text (a
        #: decoder-only classifier such as GPT-2 or Llama has no pad token of its own)
        self.pad_id = pad_token_id(tokenizer)
        if getattr(config, "pad_token_id", None) is None:
            # such a model finds each row's last token by this id and refuses batches without it
            config.pad_token_id = self.pad_id
            logger.info(
                "the classifier has no pad token: rows are padded with id %d (%s)",
                self.pad_id,
                tokenizer.convert_ids_to_tokens(self.pad_id),
            )
        #: BERT classifiers run the last layer for [CLS] only (``dlexplain.explain.cls_forward``)
        self.cls_forward = supports_cls_forward(self.model)

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs) -> TextClassifier:
        """Load a sequence-classification model and its tokenizer from a local folder: only a
        folder that passes :func:`~dlexplain.explain.model_files.check_classifier`, with
        transformers' own classes (no remote code) and safetensors weights."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from dlexplain.explain.model_files import check_classifier

        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise ModelError(f"{str(folder)!r} is not a Hugging Face model folder (no config.json)")
        check_classifier(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, trust_remote_code=False, use_safetensors=True
        )
        logger.info("loaded classifier %s with labels %s", folder, model.config.id2label)
        return cls(model, tokenizer, **kwargs)

    def use_batch_size(self, batch_size: int) -> None:
        """Texts per forward pass: ``batch_size`` on the CPU, 4x on CUDA (halved on each
        out-of-memory error)."""
        self.batch_size = batch_size * (4 if self.device == "cuda" else 1)

    @property
    def num_special_tokens(self) -> int:
        """Tokens the tokenizer adds around one text (e.g. [CLS] and [SEP])."""
        return self.tokenizer.num_special_tokens_to_add(pair=False)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities (float64) for each text, in input order.

        All texts are tokenized in one call, then batched by token length (length buckets), so a
        batch pads only to the longest of near-equal lengths.
        """
        if not len(texts):
            return np.empty((0, len(self.labels)), dtype=np.float64)
        encoded = self.tokenizer(
            [str(t) for t in texts], truncation=True, max_length=self.max_length
        )
        return self._predict(
            {k: encoded[k] for k in ("input_ids", "token_type_ids") if k in encoded}
        )

    def predict_token_ids(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """Class probabilities for already tokenized inputs (special tokens included), as
        :meth:`predict_proba`; used by token-id masking (``dlexplain.explain.masking``)."""
        if not len(sequences):
            return np.empty((0, len(self.labels)), dtype=np.float64)
        encoded = {"input_ids": [list(ids) for ids in sequences]}
        longest = max(len(ids) for ids in encoded["input_ids"])
        if longest > self.max_length:  # the engine cuts texts first: cutting here would hide
            raise ValueError(
                f"an input of {longest} token ids is longer than the model's {self.max_length}"
            )
        if "token_type_ids" in self.tokenizer.model_input_names:
            encoded["token_type_ids"] = [[0] * len(ids) for ids in encoded["input_ids"]]
        return self._predict(encoded)

    def _predict(self, encoded: dict[str, list]) -> np.ndarray:
        """Probabilities of tokenized rows (``input_ids`` and maybe ``token_type_ids``)."""
        import torch

        count = len(encoded["input_ids"])
        out = np.empty((count, len(self.labels)), dtype=np.float64)
        columns = list(encoded)
        lengths = np.array([len(ids) for ids in encoded["input_ids"]])
        order = np.argsort(lengths, kind="stable")
        pad_id = self.pad_id
        autocast = torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.backend == "bf16")
        start = 0
        with torch.inference_mode(), autocast:
            while start < count:
                idx = order[start : start + self.batch_size]
                try:
                    out[idx] = self._forward(encoded, columns, lengths, idx, pad_id)
                except torch.OutOfMemoryError:
                    if self.batch_size == 1:
                        raise
                    self.batch_size = max(1, self.batch_size // 2)
                    if self.device == "cuda":
                        torch.cuda.empty_cache()
                    logger.warning("out of memory: batch size lowered to %d", self.batch_size)
                    continue
                start += len(idx)
        self.evaluations += count
        return out

    def _forward(self, encoded, columns, lengths, idx, pad_id) -> np.ndarray:
        """Probabilities of the rows ``idx`` of ``encoded``, padded to their longest."""
        import torch

        width = int(lengths[idx].max())
        batch = {
            k: np.full((len(idx), width), pad_id if k == "input_ids" else 0, dtype=np.int64)
            for k in columns
        }
        batch["attention_mask"] = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            for k in columns:
                batch[k][row, : lengths[i]] = encoded[k][i]
            batch["attention_mask"][row, : lengths[i]] = 1
        tensors = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
        logits = (
            cls_logits(self.model, **tensors) if self.cls_forward else self.model(**tensors).logits
        ).float()
        return torch.softmax(logits, dim=-1).cpu().numpy()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """shap's model interface: masked texts in, probabilities out."""
        return self.predict_proba(texts)
