"""How a text is masked for shap: by substring (shap's Text masker) or by token id.

shap's Text masker rebuilds each masked text as a string and tokenizes it again. That is exact
for some tokenizers (WordPiece) and wrong for others: byte-level BPE (RoBERTa, GPT-2; shap issue
2849) splits a character of several bytes over tokens that share one offset, and a SentencePiece
Unigram with Metaspace (XLM-R style) gives tokens whose offsets overlap; shap repeats those
characters ("nneighborhood"), and its rebuilt string collapses runs of whitespace, so even the
unmasked text can differ from the input.

Both maskers here cut a text with :func:`segments` (each character given once, to the first
token that covers it; text before the first or after the last token given to it), so the tokens
shown concatenate back to the text. Which masking a tokenizer gets is decided by evidence, not by
its family's name: :func:`choose_masking` runs the string masker (shap's Text masker on those
segments) on :data:`PROBES` (accents, combining marks, emoji and ZWJ sequences, CJK, Arabic,
whitespace runs, URLs, @mentions, digits, ``&amp;``, a trailing variation selector) and keeps it
only when every probe's tokens rebuild the probe exactly and every masked text (whole words
masked, alternately, and nothing masked) re-tokenizes to the masked ids. Otherwise it masks token
ids: the model gets the text's own token ids with masked positions set to the mask token's id.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

logger = logging.getLogger(__name__)

#: Hard strings every tokenizer is probed with, ends stripped as the engine explains texts
#: (``inputs.clean_text``): leading and trailing spaces are probed inside a text.
PROBES = (
    "the neighborhood was early and the acting superb",
    "Café crème brûlée, naïve façade; cafe\u0301 with a combining accent",
    "great 😀 film 👍🏽 and 👨‍👩‍👧 family 🏳️‍🌈 flag",
    "日本語のテキストと中文句子",
    "هذا الفيلم رائع جدا",
    "Awful.  Just   awful,\n\n a\twaste \t of   time",
    "see https://example.com/a?b=1&c=2 and @some_user #tag",
    "rated 9.5/10 in 2024, 1,000,000 views &amp; 3 stars",
    "  spaced   out  ",
    "i love it ❤️",  # ends in a variation selector some tokenizers drop
)


def segments(text: str, offsets: Sequence[tuple[int, int] | None]) -> list[str]:
    """The substring of each token: from its start to the next token's start, no character
    given twice (tokens that share a character after the first get ``""``); the first token
    also takes any text before it, the last text token any text after it (a variation selector
    or a zero-width character the tokenizer drops), so the segments concatenate to ``text``."""
    spans = [(0, 0) if o is None else tuple(o) for o in offsets]
    out, cut, last = [], 0, None
    for i, (start, end) in enumerate(spans):
        if start == end == 0 and i:  # a special token after the text ([SEP], </s>)
            out.append("")
            continue
        stop = max(end, spans[i + 1][0]) if i + 1 < len(spans) and spans[i + 1] != (0, 0) else end
        begin = max(start, cut) if i else 0
        out.append(text[begin:stop] if stop > begin else "")
        cut = max(cut, stop)
        if end > start:
            last = i
    if last is not None and cut < len(text):
        out[last] += text[cut:]
    return out


@dataclass(frozen=True)
class Masking:
    """How a tokenizer's texts are masked, and why."""

    kind: str  #: "text" or "token_ids"
    reason: str

    @property
    def token_ids(self) -> bool:
        return self.kind == "token_ids"


def _words(text: str, offsets) -> list[int]:
    """Word number of each token (-1 for special tokens): a word starts at a token that starts
    with whitespace or follows it (whitespace-delimited words, punctuation included). Unlike
    ``units.token_units``, a token of whitespace alone is a word of its own here, so the probe
    also masks SentencePiece's lone ``▁`` tokens (masking them is what XLM-R gets wrong)."""
    numbers, word = [], -1
    for start, end in offsets:
        if start == end:
            numbers.append(-1)
            continue
        if word < 0 or text[start].isspace() or (start and text[start - 1].isspace()):
            word += 1
        numbers.append(word)
    return numbers


def _probe_problem(tokenizer, text: str) -> str | None:
    """Why the string masker (:func:`text_masker`) is not exact on ``text``, or None."""
    import numpy as np

    masker = text_masker(tokenizer, token_ids=False)
    parts = [str(p) for p in masker.data_transform(text)[0]]
    if "".join(parts) != text:
        return f"its tokens do not rebuild {text!r}: {''.join(parts)!r}"
    encoded = tokenizer(text, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    words = _words(text, [(0, 0) if o is None else tuple(o) for o in encoded["offset_mapping"]])
    for parity in (None, 0, 1):  # nothing masked, then every other word (both ways)
        keep = np.array([w < 0 or parity is None or w % 2 != parity for w in words])
        masked = str(masker(keep, text)[0][0])
        expected = []
        for token, kept in zip(ids, keep):
            if kept:
                expected.append(token)
            elif not (
                masker.collapse_mask_token and expected and expected[-1] == masker.mask_token_id
            ):
                expected.append(masker.mask_token_id)
        got = list(tokenizer(masked)["input_ids"])
        if got != expected:
            what = "unmasked" if parity is None else "masked"
            return (
                f"the {what} text {masked!r} of {text!r} re-tokenizes to other ids "
                f"({len(got)} ids, {len(expected)} expected)"
            )
    return None


@functools.lru_cache(maxsize=16)
def _choose(tokenizer) -> Masking:
    for probe in PROBES:
        problem = _probe_problem(tokenizer, probe.strip())
        if problem:
            return Masking("token_ids", f"the string masker is not exact: {problem}")
    return Masking("text", f"the string masker is exact on all {len(PROBES)} probes")


def choose_masking(tokenizer, masking: str = "auto") -> Masking:
    """The masking of ``tokenizer``'s texts: ``masking`` when a config names one (``text`` or
    ``token_ids``); for ``auto``, the string masker where it is exact on every probe of
    :data:`PROBES`, token ids otherwise, decided once per tokenizer object and logged."""
    if masking != "auto":
        return Masking(masking, "set in the explainer's config")
    try:
        chosen = _choose(tokenizer)
    except TypeError:  # an unhashable tokenizer: probe it every time
        chosen = _choose.__wrapped__(tokenizer)
    logger.info("masking %s: %s", chosen.kind, chosen.reason)
    return chosen


def text_masker(tokenizer, token_ids: bool):
    """shap's masker for ``tokenizer``: token-id masking when ``token_ids`` (see
    :func:`choose_masking`), else shap's own Text masker (strings to the model)."""
    import shap

    class SegmentedText(shap.maskers.Text):
        """shap's Text masker, its tokens' substrings from :func:`segments` (each character
        once, none dropped); with ``output_type="token_ids"`` it hands the model token ids."""

        def token_segments(self, s):
            encoded = self.tokenizer(s, return_offsets_mapping=True)
            return segments(s, encoded["offset_mapping"]), encoded["input_ids"]

    if not token_ids:
        return SegmentedText(tokenizer)
    return SegmentedText(tokenizer, output_type="token_ids")
