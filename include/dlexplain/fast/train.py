"""Fitting the amortized network to exact explanations (mean squared error after projection).

The loss is taken after :func:`dlexplain.fast.model.project`, the same projection that makes the
explainer additive at inference, with ``f(x)`` and the base of each example's own exact row, so
the network only learns how ``f(x) - base`` is shared among the tokens.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dlexplain.errors import ConfigError
from dlexplain.fast.data import Example, pad

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingConfig:
    """How the network is fitted; part of what a trained fast explainer records."""

    epochs: int = 16
    batch_size: int = 16
    #: optimizer steps in all (None: ``epochs`` passes over the texts); a fixed count keeps the
    #: training time of a label budget the same however it is split into texts
    steps: int | None = None
    #: encoder learning rate (AdamW, linear warm-up then decay)
    learning_rate: float = 1e-4
    #: the new head's learning rate
    head_learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    #: weight of the rank-aware term: 1 - Pearson correlation of each text's values with its
    #: targets on the predicted class (what Spearman and top-k judge; MSE alone favours scale)
    correlation_weight: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"TrainingConfig.{name}={value!r} must be a positive integer")
        if self.steps is not None and (
            not isinstance(self.steps, int) or isinstance(self.steps, bool) or self.steps < 1
        ):
            raise ConfigError(f"TrainingConfig.steps={self.steps!r} must be a positive integer")
        for name in ("learning_rate", "head_learning_rate"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"TrainingConfig.{name} must be positive")
        if not self.correlation_weight >= 0:
            raise ConfigError("TrainingConfig.correlation_weight must not be negative")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TrainingReport:
    texts: int
    steps: int
    seconds: float
    #: mean loss of each epoch (in units of the target spread: 1.0 = no better than zero)
    epoch_losses: tuple[float, ...]


def target_spread(examples: Sequence[Example]) -> float:
    """Root mean square of the exact values at explained positions (the network's unit)."""
    squares = np.concatenate([e.row.values[e.segmented.explained].ravel() ** 2 for e in examples])
    return float(math.sqrt(squares.mean())) if squares.size and squares.mean() > 0 else 1.0


def batch_tensors(examples: Sequence[Example], pad_id: int):
    """Padded inputs, explained-position mask, targets, ``f(x) - base`` and the predicted
    class of a batch."""
    import torch

    ids, mask, explained = pad([e.segmented for e in examples], pad_id)
    targets = torch.zeros((*ids.shape, examples[0].row.values.shape[1]), dtype=torch.float32)
    for i, e in enumerate(examples):
        targets[i, : len(e.segmented.input_ids)] = torch.from_numpy(e.row.values.astype(np.float32))
    gap = torch.tensor(
        np.stack([e.row.probabilities - e.row.base_values for e in examples]), dtype=torch.float32
    )
    predicted = torch.tensor([e.row.output_names.index(e.row.label) for e in examples])
    return ids, mask, explained, targets, gap, predicted


def correlation(values, targets, explained, predicted):
    """Per text, the Pearson correlation of ``values`` with ``targets`` over the explained
    positions, on the ``predicted`` class (where fidelity is judged)."""
    index = predicted.view(-1, 1, 1).expand(-1, values.shape[1], 1)
    weight = explained.float()
    count = weight.sum(dim=1).clamp(min=1.0)
    centred = []
    for tensor in (values, targets):
        picked = tensor.gather(2, index).squeeze(-1)
        mean = (picked * weight).sum(dim=1, keepdim=True) / count.unsqueeze(1)
        centred.append((picked - mean) * weight)
    a, b = centred
    eps = 1e-12  # inside the roots: a network that starts flat (zero head) has zero spread
    return (a * b).sum(dim=1) / (
        ((a * a).sum(dim=1) + eps).sqrt() * ((b * b).sum(dim=1) + eps).sqrt()
    )


def train(
    model,
    examples: Sequence[Example],
    pad_id: int,
    config: TrainingConfig = TrainingConfig(),
    *,
    progress: bool = False,
) -> TrainingReport:
    """Fit ``model`` (an :class:`~dlexplain.fast.model.AmortizedModel`) to ``examples``."""
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    from dlexplain.fast.model import project

    if not examples:
        raise ConfigError("no exact explanations to train the fast explainer on")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model.value_scale = target_spread(examples)
    model.train()
    optimizer = torch.optim.AdamW(
        [
            {"params": model.encoder.parameters(), "lr": config.learning_rate},
            {"params": model.head.parameters(), "lr": config.head_learning_rate},
        ],
        weight_decay=config.weight_decay,
    )
    per_epoch = math.ceil(len(examples) / config.batch_size)
    total = config.steps or per_epoch * config.epochs
    epochs = math.ceil(total / per_epoch)
    schedule = get_linear_schedule_with_warmup(
        optimizer, int(config.warmup_fraction * total), total
    )
    started, losses, step = time.monotonic(), [], 0
    with tqdm(
        total=total, desc="training fast explainer", unit="step", disable=not progress
    ) as bar:
        for epoch in range(epochs):
            order = rng.permutation(len(examples))
            running = []
            for start in range(0, len(order), config.batch_size):
                if step == total:
                    break
                batch = [examples[i] for i in order[start : start + config.batch_size]]
                ids, mask, explained, targets, gap, predicted = batch_tensors(batch, pad_id)
                values = project(model(ids, mask), explained, gap)
                weight = explained.unsqueeze(-1).float()
                error = ((values - targets) / model.value_scale) ** 2 * weight
                loss = error.sum() / (weight.sum() * targets.shape[-1]).clamp(min=1.0)
                if config.correlation_weight:
                    loss = (
                        loss
                        + config.correlation_weight
                        * (1 - correlation(values, targets, explained, predicted)).mean()
                    )
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                running.append(loss.item())
                step += 1
                bar.update(1)
            losses.append(float(np.mean(running)))
            logger.info("epoch %d of %d: loss %.4f", epoch + 1, epochs, losses[-1])
    model.eval()
    return TrainingReport(len(examples), total, round(time.monotonic() - started, 1), tuple(losses))
