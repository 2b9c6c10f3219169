"""A text as the engine takes it: cleaned, cut to the model's limit without splitting a character
(:func:`prepare`), and a row checked before it is stored (:func:`verified`)."""

from __future__ import annotations

import logging
import math
import unicodedata
from dataclasses import dataclass

from dlexplain.explain.classifier import TextClassifier
from dlexplain.explain.row import TextExplanation

logger = logging.getLogger(__name__)

_KEEP_CONTROL = {"\t", "\n", "\r"}


#: Largest ``|base + sum(values) - probability|`` a stored row may have. Every explainer here
#: is additive by construction (the exact one evaluates each distinct masked input once per
#: group, the full text's probabilities included; the fast one projects onto them), so only
#: float rounding remains, in fp32 and bf16 alike; a row above it is refused, never stored.
ADDITIVITY_TOLERANCE = 1e-6


#: How a refused row's error starts: the night counts these rows (``rows_refused``).
REFUSED = "refused: "


def clean_text(raw: object) -> tuple[str | None, str | None]:
    """``(text, None)`` with control characters blanked and ends stripped, or ``(None, error)``
    for an input that is no text (missing, not a string, empty). Needs no model."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None, "text is missing (None/NaN)"
    if not isinstance(raw, str):
        return None, f"text must be a string, got {type(raw).__name__}"
    text = "".join(
        " " if unicodedata.category(c) == "Cc" and c not in _KEEP_CONTROL else c for c in raw
    ).strip()
    if not text:
        return None, "text is empty or whitespace only"
    return text, None


@dataclass(frozen=True)
class Prepared:
    """A text as it will be explained (cleaned, cut to the token limit), or why it cannot be."""

    text: str | None
    truncated: bool = False
    error: str | None = None

    @property
    def ready(self) -> str:
        """The text to explain: only a text without ``error`` is explained."""
        assert self.text is not None, self.error  # prepare() gives a text or an error
        return self.text


def prepare(raw: object, tokenizer, max_tokens: int) -> Prepared:
    """:func:`clean_text`, then cut to ``max_tokens`` tokens (special tokens not counted) at a
    token boundary; every explainer (exact or fast) prepares its texts so."""
    text, error = clean_text(raw)
    if text is None:  # then error says why
        return Prepared(None, error=error)
    encoded = tokenizer(
        text, add_special_tokens=False, return_offsets_mapping=True, truncation=False, verbose=False
    )
    offsets = encoded["offset_mapping"]
    if not offsets:
        return Prepared(None, error="text has no tokens the model can read")
    if len(offsets) <= max_tokens:
        return Prepared(text)
    keep = max_tokens
    while keep > 0:
        cut = offsets[keep - 1][1]
        # a cut inside a character of several byte tokens re-tokenizes longer: cut earlier
        if (
            len(tokenizer(text[:cut], add_special_tokens=False, verbose=False)["input_ids"])
            <= max_tokens
        ):
            break
        keep -= 1
    logger.info("text of %d tokens truncated to %d", len(offsets), max_tokens)
    return Prepared(text[:cut], truncated=True)


def verified(row: TextExplanation, text: str) -> TextExplanation:
    """``row`` when it is right for ``text``: its tokens concatenate to the text and it is
    additive within :data:`ADDITIVITY_TOLERANCE`; else an error row saying which (a NaN model
    output is not additive)."""
    if not row.ok:
        return row
    # a row without an additivity error is refused like NaN (an explained row always has one)
    error = math.nan if row.additivity_error is None else row.additivity_error
    joined = "".join(row.tokens)
    if row.values.shape[0] != len(row.tokens):
        problem = f"{row.values.shape[0]} value rows for {len(row.tokens)} tokens"
    elif joined != text:
        at = next(
            (i for i, (a, b) in enumerate(zip(joined, text)) if a != b), min(len(joined), len(text))
        )
        problem = (
            f"tokens do not rebuild the text (first difference at character {at}: "
            f"{joined[at : at + 12]!r} instead of {text[at : at + 12]!r})"
        )
    elif not error <= ADDITIVITY_TOLERANCE:  # NaN is refused too
        problem = f"additivity error {error:.3g} above {ADDITIVITY_TOLERANCE:g}"
    else:
        return row
    logger.warning("a row is refused: %s", problem)
    return TextExplanation.failed(REFUSED + problem, row.output_names, row.method)


def token_limit(classifier: TextClassifier, max_tokens: int | None) -> int:
    """Tokens an explainer keeps per text: ``max_tokens`` within the model's own limit."""
    limit = classifier.max_length - classifier.num_special_tokens
    return min(max_tokens or limit, limit)
