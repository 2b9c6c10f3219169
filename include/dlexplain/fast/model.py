"""The amortized network: the classifier's own encoder with a per-token linear head.

The encoder starts from the classifier's weights (same tokenizer); the head gives one value per
class for every token position. Stored as safetensors only (no pickle): the encoder through
``save_pretrained``, the head as a tensor file, and a JSON file of what else it needs.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import torch

from dlexplain.errors import ModelError

ENCODER_DIR = "encoder"
HEAD_FILE = "head.safetensors"
META_FILE = "fast.json"


class AmortizedModel(torch.nn.Module):
    """``(input_ids, attention_mask) -> (batch, positions, classes)`` values, in probability
    units (the head's output times ``value_scale``, the spread of the training targets)."""

    def __init__(self, encoder, n_classes: int, value_scale: float = 1.0) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(encoder.config.hidden_size, n_classes)
        torch.nn.init.zeros_(self.head.weight)  # starts at "no token matters": the projection
        torch.nn.init.zeros_(self.head.bias)  # then spreads f(x) - base evenly
        self.value_scale = float(value_scale)
        self._takes_token_types = "token_type_ids" in inspect.signature(encoder.forward).parameters

    @classmethod
    def from_classifier(cls, model) -> AmortizedModel:
        """A new network whose encoder is a copy of ``model``'s (a sequence classifier)."""
        import copy

        encoder = copy.deepcopy(model.base_model)
        return cls(encoder, model.config.num_labels)

    def forward(self, input_ids, attention_mask):
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self._takes_token_types:
            inputs["token_type_ids"] = torch.zeros_like(input_ids)
        hidden = self.encoder(**inputs).last_hidden_state
        return self.head(hidden.float()) * self.value_scale

    def save(self, folder: Path) -> None:
        """Write the network to ``folder`` (safetensors and JSON only)."""
        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(folder / ENCODER_DIR)
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in self.head.state_dict().items()},
            str(folder / HEAD_FILE),
        )
        meta = {"n_classes": self.head.out_features, "value_scale": self.value_scale}
        (folder / META_FILE).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: Path) -> AmortizedModel:
        """The network :meth:`save` wrote to ``folder``."""
        from safetensors.torch import load_file
        from transformers import AutoModel

        folder = Path(folder)
        if not (folder / META_FILE).is_file():
            raise ModelError(f"{str(folder)!r} holds no fast explainer (no {META_FILE})")
        meta = json.loads((folder / META_FILE).read_text())
        model = cls(
            AutoModel.from_pretrained(
                folder / ENCODER_DIR, trust_remote_code=False, use_safetensors=True
            ),
            meta["n_classes"],
            meta["value_scale"],
        )
        model.head.load_state_dict(load_file(str(folder / HEAD_FILE)))
        return model.eval()


def project(values, explained, target):
    """Values shifted so that, per text and class, those of the explained positions sum to
    ``target`` (= f(x) - base) and the rest are 0: the additive efficient normalisation.

    ``values``: (texts, positions, classes); ``explained``: (texts, positions) bool;
    ``target``: (texts, classes).
    """
    weight = explained.to(values.dtype).unsqueeze(-1)
    count = weight.sum(dim=1).clamp(min=1.0)
    residual = (target - (values * weight).sum(dim=1)) / count
    return (values + residual.unsqueeze(1)) * weight
