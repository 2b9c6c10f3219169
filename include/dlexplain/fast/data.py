"""Training examples from exact explanation rows, aligned to the tokenizer's positions.

shap's text maskers (and ``dlexplain.explain.masking``'s token-id masker) cut a text into one
segment per token id of ``tokenizer(text)``, special tokens included, so segment ``i`` of an
explanation is position ``i`` of the model's input. A row is re-segmented with the fast
explainer's own masker and used only when its tokens come back the same: a row of another
tokenizer, or of a text changed since, is left out and counted, never misaligned.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dlexplain.explain.masking import choose_masking, text_masker
from dlexplain.explain.row import TextExplanation

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Segmented:
    """A text cut the way its explanation is: one segment per position of its token ids."""

    text: str
    tokens: tuple[str, ...]
    input_ids: tuple[int, ...]
    explained: np.ndarray  #: (positions,) bool: True where a value may be non-zero (not special)


@dataclass(frozen=True, eq=False)
class Example:
    """One training example: a segmented text and its exact explanation (same tokens)."""

    segmented: Segmented
    row: TextExplanation


class Segmenter:
    """Cuts texts into the segments and token ids an exact explanation of them has."""

    def __init__(self, tokenizer, masking: str = "auto") -> None:
        """``masking``: the exact explainer's (``ExplainerConfig.masking``); ``auto`` probes
        the tokenizer as the exact explainer did when it was built."""
        self.tokenizer = tokenizer
        self.masker = text_masker(tokenizer, choose_masking(tokenizer, masking).token_ids)

    def __call__(self, text: str) -> Segmented:
        parts, ids = self.masker.token_segments(text)
        ids = [int(i) for i in ids]
        special = self.tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)
        return Segmented(
            text,
            tuple(str(p) for p in parts),
            tuple(ids),
            np.array([not s for s in special], dtype=bool),
        )


def examples_from_rows(
    rows: Iterable[TextExplanation], segmenter: Segmenter, output_names: Sequence[str]
) -> tuple[list[Example], int]:
    """``(examples, left_out)``: one example per distinct explained text (the last row of a text
    wins); rows with an error, of other classes, or whose tokens do not re-segment the same are
    left out."""
    by_text: dict[str, Example] = {}
    left_out = 0
    for row in rows:
        if not row.ok or tuple(row.output_names) != tuple(output_names) or row.method != "exact":
            left_out += 1
            continue
        text = "".join(row.tokens)
        segmented = segmenter(text)
        if segmented.tokens != tuple(row.tokens):
            left_out += 1
            continue
        by_text[text] = Example(segmented, row)
    if left_out:
        logger.info(
            "left out %d explanation rows (errors, other classes or tokenizer, or not exact)",
            left_out,
        )
    return list(by_text.values()), left_out


def pad(segmented: Sequence[Segmented], pad_id: int):
    """``(input_ids, attention_mask, explained)`` tensors of ``segmented`` texts, padded to the
    longest (padding is neither attended to nor explained)."""
    import torch

    width = max(len(s.input_ids) for s in segmented)
    ids = torch.full((len(segmented), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(segmented), width), dtype=torch.long)
    explained = torch.zeros((len(segmented), width), dtype=torch.bool)
    for row, s in enumerate(segmented):
        n = len(s.input_ids)
        ids[row, :n] = torch.tensor(s.input_ids, dtype=torch.long)
        mask[row, :n] = 1
        explained[row, :n] = torch.from_numpy(s.explained)
    return ids, mask, explained
