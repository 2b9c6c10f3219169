"""The suite's order: the longest files first, by the seconds the last run recorded."""

from __future__ import annotations

from tests.conftest import REPO, longest_first, recorded_durations


def test_longest_recorded_first_and_the_rest_in_order():
    assert longest_first(["a", "b", "c", "d"], {"b": 5.0, "d": 9.0}) == ["d", "b", "a", "c"]


def test_recorded_files_exist():
    durations = recorded_durations()
    assert durations, "tests/durations.json holds the last run's seconds per file"
    assert all((REPO / path).is_file() for path in durations), "a removed file's figure stays"
