"""Units of explanation coarser than a token: words, sentences, paragraphs.

A unit is a feature of its own: shap masks it as a whole (every token of it at once, through the
tokenizer's own masking, string or token ids: ``dlexplain.explain.masking``), so its value is
its Shapley value, not a sum of token values. The units of a text are contiguous spans that
cover it (each unit keeps the whitespace after it), so a row's ``tokens`` are the units and
concatenate back to the text: additivity, plots, ``to_shap``, faithfulness and drift read such a
row like any other.

- ``word``: whitespace-delimited words (punctuation stays with its word);
- ``sentence``: pySBD (pragmatic sentence boundary disambiguation, Sadvilkar and Neumann 2020):
  rule-based, no model to download, pure Python, and it passes the "Golden Rules" of
  abbreviations ("Dr.", "e.g.", "p.m."), decimals ("3.50"), ellipses and quotes that regex
  splitters and NLTK's Punkt without its trained data get wrong;
- ``paragraph``: text between blank lines.

Tokens belong to the unit of their first non-space character (a SentencePiece ``▁The`` whose
offset starts at the space before it belongs to the sentence it begins); special tokens belong
to none and are never masked.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from dlexplain.explain.config import GRANULARITIES

_WORD_START = re.compile(r"(?<=\s)(?=\S)")
_PARAGRAPH_START = re.compile(r"(?<=\n)[ \t\r\f\v]*\n\s*(?=\S)")


def unit_starts(text: str, granularity: str) -> list[int]:
    """Where each unit of ``text`` starts (the first is 0; each unit ends where the next
    starts, the last at the end of the text)."""
    if granularity == "word":
        cuts = [m.start() for m in _WORD_START.finditer(text)]
    elif granularity == "paragraph":
        cuts = [m.end() for m in _PARAGRAPH_START.finditer(text)]
    elif granularity == "sentence":
        cuts, at = [], 0
        for sentence in _sentence_splitter().segment(text):
            found = text.find(sentence.strip(), at)
            if found < 0:  # pySBD changed the text: keep what was found so far
                break
            cuts.append(found)
            at = found + len(sentence.strip())
    else:
        raise ValueError(f"granularity {granularity!r} is not one of {GRANULARITIES[1:]}")
    return sorted({0, *(c for c in cuts if 0 < c < len(text))})


def units(text: str, granularity: str) -> list[str]:
    """The units of ``text``; they concatenate back to it."""
    return pieces(text, unit_starts(text, granularity))


def pieces(text: str, starts: list[int]) -> list[str]:
    """``text`` cut at ``starts`` (from :func:`unit_starts`)."""
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)])]


@functools.lru_cache(maxsize=1)
def _sentence_splitter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def token_units(text: str, offsets, starts: list[int]) -> np.ndarray:
    """The unit of each token (by its first non-space character), -1 for special tokens."""
    bounds = np.asarray(starts[1:])
    out = np.full(len(offsets), -1)
    for i, span in enumerate(offsets):
        start, end = (0, 0) if span is None else span
        if start == end:
            continue
        piece = text[start:end]
        first = start + (len(piece) - len(piece.lstrip()) if piece.strip() else 0)
        out[i] = int(np.searchsorted(bounds, first, side="right"))
    return out


def balanced_tree(n: int) -> np.ndarray:
    """A partition tree (scipy linkage rows ``[left, right, height, size]``) that joins
    neighbouring units in halves, so shap's Partition explainer splits a text in its middle
    first; heights are the clusters' sizes over ``n``, as shap's own text masker scales them."""
    rows: list[list[float]] = []

    def build(lo: int, hi: int) -> int:
        if hi - lo == 1:
            return lo
        mid = (lo + hi + 1) // 2
        left, right = build(lo, mid), build(mid, hi)
        rows.append([left, right, (hi - lo) / n, hi - lo])
        return n + len(rows) - 1

    build(0, n)
    return np.array(rows, dtype=float).reshape(-1, 4)


def unit_masker(token_masker, granularity: str):
    """A shap masker whose features are ``granularity`` units: a unit's mask is handed to every
    token of it through ``token_masker`` (shap's Text masker or the token-id one)."""
    import shap

    class UnitMasker(shap.maskers.Masker):
        """Masks whole units through a token-level text masker."""

        def __init__(self) -> None:
            self.tokens = token_masker
            self.granularity = granularity
            self.immutable_outputs = True
            self._key: str | None = None

        def _cut(self, s: str):
            if self._key != s:
                encoded = self.tokens.tokenizer(s, return_offsets_mapping=True)
                starts = unit_starts(s, self.granularity)
                self._units = pieces(s, starts)
                self._of_token = token_units(s, encoded["offset_mapping"], starts)
                self._key = s
            return self._units, self._of_token

        def __call__(self, mask, s):
            _, of_token = self._cut(s)
            mask = np.asarray(mask, dtype=bool)
            token_mask = np.where(of_token < 0, True, mask[np.maximum(of_token, 0)])
            return self.tokens(token_mask, s)

        def shape(self, s):
            return (1, len(self._cut(s)[0]))

        def mask_shapes(self, s):
            return [(len(self._cut(s)[0]),)]

        def data_transform(self, s):
            return (np.array(self._cut(s)[0], dtype=object),)

        def feature_names(self, s):
            return [list(self._cut(s)[0])]

        def clustering(self, s):
            return balanced_tree(len(self._cut(s)[0]))

    return UnitMasker()
