"""Seed a cache from another one: what a host already built, copied into a fresh stack's volume."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from dlexplain.base.files import atomic_dir, atomic_write_bytes
from dlexplain.defaults.imdb import reviews_path
from dlexplain.defaults.model import ACCURACY_FILE, default_model_dir

logger = logging.getLogger(__name__)


def seed_cache(cache_dir: Path, seed: Path) -> list[Path]:
    """Copy the default model and the cleaned reviews from the cache ``seed`` into ``cache_dir``
    where ``seed`` has them finished and ``cache_dir`` does not; the paths copied."""
    copied = []
    model, seeded_model = default_model_dir(cache_dir), default_model_dir(Path(seed))
    if not (model / ACCURACY_FILE).is_file() and (seeded_model / ACCURACY_FILE).is_file():
        with atomic_dir(model) as tmp:
            shutil.copytree(seeded_model, tmp, dirs_exist_ok=True)
        copied.append(model)
    reviews, seeded_reviews = reviews_path(cache_dir), reviews_path(Path(seed))
    if not reviews.is_file() and seeded_reviews.is_file():
        atomic_write_bytes(reviews, seeded_reviews.read_bytes())
        copied.append(reviews)
    for path in copied:
        logger.info("seeded %s from %s", path, seed)
    return copied
