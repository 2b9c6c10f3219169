"""FastExplainer: explanations from the amortized network in a couple of forward passes.

Per text: the classifier on the text (``f(x)``), the classifier on the fully masked text (the
base, as shap computes it; shared by texts of the same token count), and the network; its values
are projected so that ``base + sum(values) = f(x)`` per class. The row is the exact explainer's,
with ``method="fast"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np

from dlexplain.explain.classifier import TextClassifier
from dlexplain.explain.config import check_granularity
from dlexplain.explain.engine import explain_texts
from dlexplain.explain.inputs import token_limit
from dlexplain.explain.row import TextExplanation
from dlexplain.explain.units import pieces, token_units, unit_starts
from dlexplain.fast.data import Segmented, Segmenter, pad
from dlexplain.fast.model import AmortizedModel, project

METHOD = "fast"


def by_word(segments: Sequence[str], values: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The words of the text the ``segments`` concatenate to, and the token values summed per
    word (a segment belongs to the word of its first non-space character; an empty one, to the
    word before)."""
    text = "".join(segments)
    starts = unit_starts(text, "word")
    offsets, at = [], 0
    for segment in segments:
        offsets.append((at, at + len(segment)))
        at += len(segment)
    owner = token_units(text, offsets, starts)
    owner = np.maximum.accumulate(np.where(owner < 0, 0, owner))  # "" goes with the word before
    summed = np.zeros((len(starts), values.shape[1]))
    np.add.at(summed, owner, values)
    return pieces(text, starts), summed


class FastExplainer:
    """Explains texts with the amortized network; ``explain`` never drops a row."""

    def __init__(
        self,
        classifier: TextClassifier,
        model: AmortizedModel,
        *,
        max_tokens: int | None = None,
        batch_size: int = 32,
        masking: str = "auto",
    ) -> None:
        if model.head.out_features != len(classifier.labels):
            raise ValueError(
                f"the fast explainer gives {model.head.out_features} classes, "
                f"the classifier {len(classifier.labels)}"
            )
        self.classifier = classifier
        self.model = model.to(classifier.device).eval()
        self.max_tokens = token_limit(classifier, max_tokens)
        self.batch_size = batch_size
        self.segmenter = Segmenter(classifier.tokenizer, masking)  # as the exact explainer
        self._bases: dict[object, np.ndarray] = {}

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.classifier.labels

    def explain(
        self, texts: Sequence[object], *, progress: bool = False, granularity: str = "token"
    ) -> list[TextExplanation]:
        """One explanation per input, in input order; bad inputs come back with ``error`` set
        (a batch whose network call fails too: its rows are never lost). ``granularity``:
        ``token``, or ``word`` (the values of a word's tokens summed: the network's values are
        additive, so a word's sum is its share of ``f(x) - base`` exactly as its tokens' are);
        a coarser unit is refused until a fast explainer is trained for it."""
        check_granularity(granularity, METHOD)
        return explain_texts(
            texts,
            self.classifier.tokenizer,
            self.max_tokens,
            self.output_names,
            lambda items, progress: self._explain_group(items, granularity),
            self.batch_size,
            method=METHOD,
            by_length=True,
            progress=progress,
        )

    def _explain_group(self, items, granularity: str = "token") -> list[TextExplanation]:
        """One batch of texts (a few forward passes: progress is logged between batches)."""
        segmented = [self.segmenter(item.text) for item in items]
        probabilities = self._probabilities(segmented)
        bases = self._base_values(segmented)
        values = self._values(segmented, probabilities - bases)
        tokens = [seg.tokens for seg in segmented]
        if granularity == "word":  # words of the segments' own text: a text they do not
            # rebuild is refused by the engine's check, never misaligned
            tokens, values = zip(*(by_word(seg.tokens, v) for seg, v in zip(segmented, values)))
        return [
            TextExplanation.explained(
                t, v, base, p, self.output_names, truncated=item.truncated, method=METHOD
            )
            for item, t, p, base, v in zip(items, tokens, probabilities, bases, values)
        ]

    def _probabilities(self, segmented: list[Segmented]) -> np.ndarray:
        """f(x), as the exact explainer computes it for the same masker."""
        if self.segmenter.masker.output_type == "token_ids":
            return self.classifier.predict_token_ids([s.input_ids for s in segmented])
        return self.classifier.predict_proba([s.text for s in segmented])

    def _base_values(self, segmented: list[Segmented]) -> np.ndarray:
        """The classifier on each fully masked text (shap's base), computed once per distinct
        masked input."""
        masked = [
            self.segmenter.masker(np.zeros(len(s.tokens), dtype=bool), s.text)[0][0]
            for s in segmented
        ]
        keys = [tuple(int(i) for i in m) if not isinstance(m, str) else m for m in masked]
        missing = list(dict.fromkeys(k for k in keys if k not in self._bases))
        if missing:  # one masker: all token ids, or all texts
            by_ids = not isinstance(missing[0], str)
            found = (
                self.classifier.predict_token_ids(cast("list[tuple[int, ...]]", missing))
                if by_ids
                else self.classifier.predict_proba(cast(list[str], missing))
            )
            self._bases.update(zip(missing, found))
        return np.stack([self._bases[k] for k in keys])

    def _values(self, segmented: list[Segmented], gaps: np.ndarray) -> list[np.ndarray]:
        """The network's values per text, projected onto ``f(x) - base``."""
        import torch

        device = self.classifier.device
        ids, mask, explained = pad(segmented, self.classifier.pad_id)
        autocast = torch.autocast(
            device, dtype=torch.bfloat16, enabled=self.classifier.backend == "bf16"
        )
        with torch.inference_mode(), autocast:
            raw = self.model(ids.to(device), mask.to(device)).double()
            values = (
                project(raw, explained.to(device), torch.from_numpy(gaps).to(device)).cpu().numpy()
            )
        return [values[row, : len(s.input_ids)] for row, s in enumerate(segmented)]
