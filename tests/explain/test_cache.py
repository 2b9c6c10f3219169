"""The explanation cache: zero model evaluations for texts already explained, bounded, shared."""

from __future__ import annotations

import multiprocessing
import sqlite3

import numpy as np
import pytest

from dlexplain.explain.cache import ExplanationCache, cache_key, explain_cached, open_cache
from dlexplain.explain.config import ExplainerConfig
from dlexplain.explain.engine import Explainer

TEXTS = ["the film was great", None, "a dull movie", "", "the film was great"]


@pytest.fixture()
def explainer(tiny_classifier):
    return Explainer(tiny_classifier, ExplainerConfig(max_evals=60, batch_size=16))


def test_second_pass_costs_no_evaluation_and_returns_identical_results(explainer, tmp_path):
    cache = ExplanationCache(tmp_path / "c.sqlite")
    first, hits = explain_cached(TEXTS, explainer.explain, cache, "explainer-a")
    assert hits == 0 and explainer.classifier.evaluations > 0
    before = explainer.classifier.evaluations
    second, hits = explain_cached(TEXTS, explainer.explain, cache, "explainer-a")
    assert explainer.classifier.evaluations == before, "no model evaluation on a re-run"
    assert hits == 3, "the two good texts (one twice) come from the cache; bad rows are recomputed"
    assert [r.error is None for r in second] == [True, False, True, False, True]
    for a, b in zip(first, second):
        assert a.to_json() == b.to_json()
    assert len(cache) == 2, "failed explanations are not stored"


def test_another_explainer_identity_misses(explainer, tmp_path):
    cache = ExplanationCache(tmp_path / "c.sqlite")
    explain_cached(["the film was great"], explainer.explain, cache, "explainer-a")
    before = explainer.classifier.evaluations
    _, hits = explain_cached(["the film was great"], explainer.explain, cache, "explainer-b")
    assert hits == 0 and explainer.classifier.evaluations > before
    assert cache_key("a", "x") != cache_key("b", "x") != cache_key("a", "y")


def test_turned_off_means_always_explained(explainer):
    explain_cached(["the film"], explainer.explain, None, "explainer-a")
    before = explainer.classifier.evaluations
    _, hits = explain_cached(["the film"], explainer.explain, None, "explainer-a")
    assert hits == 0 and explainer.classifier.evaluations > before


def test_least_recently_used_entries_are_evicted_past_the_bound(explainer, tmp_path):
    texts = [f"review number {i} was fine" for i in range(6)]
    results = explainer.explain(texts)
    size = len(results[0].to_json())
    cache = ExplanationCache(tmp_path / "c.sqlite", max_bytes=int(size * 4.5))
    keys = [cache_key("e", t) for t in texts]
    cache.put_many(dict(zip(keys[:4], results[:4])))
    cache.get_many([keys[0]])  # key 0 becomes the most recently used
    cache.put_many({keys[4]: results[4]})  # over the bound: evict down to 90%
    assert cache.size_bytes() <= cache.max_bytes
    left = cache.get_many(keys)
    assert keys[0] in left and keys[4] in left
    assert keys[1] not in left, "the least recently used goes first"


def _writer(path: str, worker: int, payload: str) -> None:
    from dlexplain.explain.row import TextExplanation

    cache = ExplanationCache(path)
    explanation = TextExplanation.from_json(payload)
    for i in range(50):
        cache.put_many({cache_key("e", f"{worker}-{i}"): explanation})
        cache.get_many([cache_key("e", f"{1 - worker}-{i}")])


def test_two_processes_write_at_once(explainer, tmp_path):
    payload = explainer.explain(["the film was great"])[0].to_json()
    path = str(tmp_path / "c.sqlite")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, payload)) for w in (0, 1)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    assert len(ExplanationCache(path)) == 100
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_opening_waits_for_a_writer_of_a_new_file(tmp_path):
    """The switch to WAL mode waits for a lock another process holds (SQLite itself would
    answer "database is locked" at once, whatever the busy timeout)."""
    import subprocess
    import sys
    import time

    path = tmp_path / "c.sqlite"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('CREATE TABLE t (x)'); db.execute('BEGIN IMMEDIATE')\n"
        "db.execute('INSERT INTO t VALUES (1)'); print('locked', flush=True)\n"
        "time.sleep(1.0); db.execute('COMMIT')\n"), str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        cache = ExplanationCache(path, busy_timeout_s=30)
        assert time.monotonic() - started > 0.2, "it waited for the holder's lock"
        assert cache._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        holder.wait(30)


def test_cached_values_round_trip_exactly(explainer, tmp_path):
    cache = ExplanationCache(tmp_path / "c.sqlite")
    result = explainer.explain(["a dull movie"])[0]
    cache.put_many({"k": result})
    back = cache.get_many(["k"])["k"]
    assert np.array_equal(back.values, result.values) and back.tokens == result.tokens


def test_a_garbage_cache_file_means_explaining_without_it(explainer, tmp_path, caplog):
    path = tmp_path / "c.sqlite"
    path.write_bytes(np.random.default_rng(0).bytes(64 << 10))
    with caplog.at_level("WARNING", logger="dlexplain.explain.cache"):
        cache = open_cache(path)
    assert cache is None
    assert "cannot be used" in caplog.text and str(path) in caplog.text
    results, hits = explain_cached(TEXTS, explainer.explain, cache, "explainer-a")
    assert hits == 0 and [r.error is None for r in results] == [True, False, True, False, True]


def test_a_full_disk_is_warned_about_and_the_explanations_still_returned(explainer, tmp_path,
                                                                          caplog):
    cache = open_cache(tmp_path / "c.sqlite")
    explain_cached(["the film was great"], explainer.explain, cache, "explainer-a")
    pages = cache._db.execute("PRAGMA page_count").fetchone()[0]
    cache._db.execute(f"PRAGMA max_page_count = {pages}")  # the file may not grow: a full disk
    texts = [f"review number {i} was fine" for i in range(8)]
    with caplog.at_level("WARNING", logger="dlexplain.explain.cache"):
        results, hits = explain_cached(texts + ["the film was great"], explainer.explain,
                                       cache, "explainer-a")
    assert "writing failed" in caplog.text and "full" in caplog.text
    assert hits == 1 and all(r.error is None for r in results)
    assert len(cache) == 1, "nothing new was stored"
    again, hits = explain_cached(texts[:1], explainer.explain, cache, "explainer-a")
    assert hits == 0 and again[0].tokens == results[0].tokens

