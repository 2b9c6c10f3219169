"""Default data: daily partitions of held-out reviews, deterministic per date."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dlexplain.defaults import build_default_data, load_reviews
from dlexplain.defaults.data import partition_path
from dlexplain.errors import ConfigError

pytestmark = pytest.mark.slow  # reads the 50,000-review CSV once per machine


def test_partitions_hold_only_unseen_reviews(settings, tmp_path):
    paths = build_default_data(settings.paths.cache_dir, tmp_path, date(2026, 1, 1), date(2026, 1, 3),
                               rows_per_day=5)
    assert paths == [partition_path(tmp_path, date(2026, 1, d)) for d in (1, 2, 3)]
    assert paths[0].as_posix().endswith("reviews/ds=2026-01-01/part-0.parquet")
    frames = [pd.read_parquet(p) for p in paths]
    for frame in frames:
        assert list(frame.columns) == ["id", "text", "label"] and len(frame) == 5
    reviews = load_reviews(settings.paths.cache_dir)
    seen = set(reviews.loc[reviews["split"] != "holdout", "id"])
    ids = pd.concat(frames)["id"]
    assert ids.is_unique and not seen & set(ids)
    assert not list(tmp_path.rglob(".*")), "no temporary files left behind"


def test_same_date_same_rows_whatever_the_range(settings, tmp_path):
    day = date(2026, 1, 2)
    a = build_default_data(settings.paths.cache_dir, tmp_path / "a", day, day, rows_per_day=4)[0]
    b = build_default_data(settings.paths.cache_dir, tmp_path / "b", date(2025, 12, 30), day,
                           rows_per_day=4)[-1]
    pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))


def test_cleaning_and_split(settings):
    reviews = load_reviews(settings.paths.cache_dir)
    assert reviews["text"].is_unique
    assert not reviews["text"].str.contains("<br />", regex=False).any()
    assert reviews["split"].value_counts().to_dict()["train"] == 4000
    assert set(reviews["label"]) == {"NEGATIVE", "POSITIVE"}


def test_bad_range(settings, tmp_path):
    with pytest.raises(ConfigError, match="before start"):
        build_default_data(settings.paths.cache_dir, tmp_path, date(2026, 1, 2), date(2026, 1, 1))
