"""A second corpus for the benchmarks: NYT editorial sentences (another genre than the IMDb
reviews), from the source distribution of ``vaderSentiment`` 3.3.2 on PyPI (MIT; the data of
Hutto & Gilbert, ICWSM 2014), fetched with ``pip download`` once and checked by sha256."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

REQUIREMENT = "vaderSentiment==3.3.2"
ARCHIVE = "vaderSentiment-3.3.2.tar.gz"
ARCHIVE_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
MEMBERS = {
    "nyt": (
        "hutto_ICWSM_2014/nytEditorialSnippets_GroundTruth.txt",
        "7d8fbcce7dde5d716da53e78f4ef4be6b706e9ef1e1d51887e6d0ad4b69cc27e",
    ),
    "tweets": (
        "hutto_ICWSM_2014/tweets_GroundTruth.txt",
        "dfbe7102e2f92579ed8b19df9a3822491880697c67adf712fb66e520cc05102f",
    ),
}


def _checked(data: bytes, expected: str, what: str) -> bytes:
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise RuntimeError(f"{what} has sha256 {digest}, expected {expected}")
    return data


def fetch_archive(cache_dir: Path) -> Path:
    """The sdist in ``<cache_dir>/wheels`` (downloaded once)."""
    path = cache_dir / "wheels" / ARCHIVE
    if not path.is_file():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--quiet", "--dest", str(path.parent), REQUIREMENT]
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    _checked(path.read_bytes(), ARCHIVE_SHA256, ARCHIVE)
    return path


def sentences(cache_dir: Path, corpus: str = "nyt", min_words: int = 10) -> list[str]:
    """The distinct texts of ``corpus`` (``nyt`` or ``tweets``) with at least ``min_words``
    words, in file order."""
    member, digest = MEMBERS[corpus]
    with tarfile.open(fetch_archive(cache_dir)) as outer:
        inner_bytes = outer.extractfile(INNER).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        data = _checked(inner.extractfile(member).read(), digest, member)
    texts = (line.split("\t")[2].strip() for line in data.decode("utf-8").splitlines()
             if line.count("\t") == 2)
    return [t for t in dict.fromkeys(texts) if len(t.split()) >= min_words]
