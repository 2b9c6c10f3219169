"""Explanation cache: never explain the same text with the same explainer twice.

Entries are keyed by ``sha256(explainer identity, text)`` and hold the explanation's JSON form
(no pickle). The store is one SQLite file in WAL mode, so several processes (two DAG runs, the
Python workers of a Spark executor, a serving process) can read and write it at once; writers
wait up to ``busy_timeout`` for each other. Only successful explanations are stored.

Eviction: when the stored JSON exceeds ``max_bytes``, the least recently used entries (by last
read or write) are deleted until it is under 90% of the bound.

A cache is never a reason to fail: a file that cannot be opened (garbage, no permission), a read
that fails (corruption) or a write that fails (a full disk) is logged as a warning and the texts
are explained without it (:func:`open_cache`, :func:`explain_cached`).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from dlexplain.explain.row import TextExplanation

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
#: what a broken cache file raises: SQLite's errors, the file system's, a stored value unreadable
CACHE_FAULTS = (sqlite3.Error, OSError, ValueError)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS explanations (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    size INTEGER NOT NULL,
    used REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS explanations_used ON explanations (used);
"""


def cache_key(identity: str, text: str) -> str:
    """Key of ``text`` explained by the explainer ``identity``."""
    digest = hashlib.sha256()
    digest.update(identity.encode())
    digest.update(b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


class ExplanationCache:
    """SQLite-backed store of explanations, bounded by ``max_bytes`` (LRU eviction)."""

    def __init__(self, path: str | Path, max_bytes: int = 1 << 30, busy_timeout_s: float = 60.0):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        self._use_wal(busy_timeout_s)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def _use_wal(self, timeout_s: float) -> None:
        """Switch the file to WAL mode, waiting up to ``timeout_s`` for other connections.

        SQLite answers "database is locked" at once, without its busy wait, when another
        connection holds a lock during the switch (two Spark workers opening a new cache file
        together), so the switch is retried here.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def get_many(self, keys: Sequence[str]) -> dict[str, TextExplanation]:
        """The cached explanations among ``keys`` (their last-used time is refreshed)."""
        found: dict[str, TextExplanation] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, value FROM explanations WHERE key IN ({marks})", chunk
            ).fetchall()
            found.update((key, TextExplanation.from_json(value)) for key, value in rows)
        if found:
            now = time.time()
            try:
                with self._transaction():
                    self._db.executemany(
                        "UPDATE explanations SET used = ? WHERE key = ?",
                        [(now, key) for key in found],
                    )
            except sqlite3.Error as err:  # e.g. a full disk: the hits are still good
                logger.warning(
                    "explanation cache %s: last-used times not updated (%s)", self.path, err
                )
        return found

    def put_many(self, entries: dict[str, TextExplanation]) -> None:
        """Store explanations (failed ones are skipped), then evict if over the bound."""
        now = time.time()
        rows = [
            (key, value, len(value), now)
            for key, value in ((k, e.to_json()) for k, e in entries.items() if e.ok)
        ]
        if not rows:
            return
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO explanations VALUES (?, ?, ?, ?)", rows)
            self._evict()

    def size_bytes(self) -> int:
        return int(
            self._db.execute("SELECT COALESCE(SUM(size), 0) FROM explanations").fetchone()[0]
        )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM explanations").fetchone()[0])

    def _evict(self) -> None:
        total = self.size_bytes()
        if total <= self.max_bytes:
            return
        target = int(self.max_bytes * 0.9)
        victims, freed = [], 0
        for key, size in self._db.execute("SELECT key, size FROM explanations ORDER BY used"):
            if total - freed <= target:
                break
            victims.append((key,))
            freed += size
        self._db.executemany("DELETE FROM explanations WHERE key = ?", victims)
        logger.info(
            "explanation cache over %d bytes: evicted %d entries (%d bytes)",
            self.max_bytes,
            len(victims),
            freed,
        )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlocks
        try:
            yield
        except BaseException:
            if self._db.in_transaction:  # SQLite has already rolled back on a full disk
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def open_cache(path: str | Path, max_bytes: int = 1 << 30) -> ExplanationCache | None:
    """The cache at ``path``, or None (with a warning) when it cannot be opened: explain without."""
    try:
        return ExplanationCache(path, max_bytes)
    except CACHE_FAULTS as err:
        logger.warning("explanation cache %s cannot be used (%s): explaining without it", path, err)
        return None


def _tolerated(action: Callable[[], _T], fallback: _T, what: str, cache: ExplanationCache) -> _T:
    try:
        return action()
    except CACHE_FAULTS as err:
        logger.warning(
            "explanation cache %s: %s failed (%s); explaining without it", cache.path, what, err
        )
        return fallback


def explain_cached(
    texts: Sequence[object],
    explain: Callable[[list], list[TextExplanation]],
    cache: ExplanationCache | None,
    identity: str,
) -> tuple[list[TextExplanation], int]:
    """``explain(texts)`` for the texts not in ``cache``; returns (results in order, cache hits).

    Only string inputs are looked up; anything else goes to ``explain`` (which reports the error).
    A cache that fails to read or write is warned about and skipped.
    """
    if cache is None:
        return explain(list(texts)), 0
    keys = [cache_key(identity, t) if isinstance(t, str) else None for t in texts]
    found: dict[str, TextExplanation] = _tolerated(
        lambda: cache.get_many([k for k in keys if k is not None]), {}, "reading", cache
    )
    missing = [i for i, key in enumerate(keys) if key not in found]
    fresh = explain([texts[i] for i in missing]) if missing else []
    _tolerated(
        lambda: cache.put_many(
            {key: result for i, result in zip(missing, fresh) if (key := keys[i]) is not None}
        ),
        None,
        "writing",
        cache,
    )
    fresh_at = dict(zip(missing, fresh))  # every text not found has its fresh result
    results = [found[k] if k in found else fresh_at[i] for i, k in enumerate(keys)]
    hits = len(texts) - len(missing)
    logger.info("explanation cache: %d of %d texts found", hits, len(texts))
    return results, hits
