"""From exact explanation rows to a judged fast explainer: split, train, learning curve, gate.

Texts are held out by a stable hash of the text (so a text held out once stays held out as the
data grow, and the same text explained on two nights is never on both sides). The learning curve
trains on growing shares of the training texts (a fixed count of steps shrinks in proportion)
and scores each on the same held-out texts.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from dlexplain.errors import DataError
from dlexplain.explain.classifier import TextClassifier
from dlexplain.explain.row import TextExplanation
from dlexplain.fast.data import Segmenter, examples_from_rows
from dlexplain.fast.evaluate import Evaluation, evaluate
from dlexplain.fast.explainer import FastExplainer
from dlexplain.fast.fidelity import fidelity
from dlexplain.fast.gate import GateResult, GateThresholds, judge
from dlexplain.fast.model import AmortizedModel
from dlexplain.fast.train import TrainingConfig, TrainingReport, train

logger = logging.getLogger(__name__)

#: shares of the training texts the learning curve trains on (the last is the model kept)
CURVE = (0.25, 0.5, 1.0)


@dataclass(frozen=True)
class Fitted:
    explainer: FastExplainer
    evaluation: Evaluation
    gate: GateResult
    training: TrainingReport
    #: one dict per curve point: ``train_texts`` and the fidelity figures on the held-out texts
    curve: list[dict]
    train_texts: int
    left_out: int


def held_out(text: str, fraction: float) -> bool:
    """Whether ``text`` belongs to the held-out share ``fraction`` (stable across runs)."""
    bucket = int(hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8], 16)
    return bucket / 0xFFFFFFFF < fraction


def split(
    rows: Sequence[TextExplanation], fraction: float
) -> tuple[list[TextExplanation], list[TextExplanation]]:
    """``(train, held_out)`` rows by :func:`held_out` of their text."""
    test = [held_out("".join(row.tokens), fraction) for row in rows]
    return ([r for r, t in zip(rows, test) if not t], [r for r, t in zip(rows, test) if t])


def fit(
    classifier: TextClassifier,
    train_rows: Sequence[TextExplanation],
    held_out_rows: Sequence[TextExplanation],
    *,
    thresholds: GateThresholds = GateThresholds(),
    config: TrainingConfig = TrainingConfig(),
    curve: Sequence[float] = CURVE,
    max_tokens: int | None = None,
    progress: bool = False,
) -> Fitted:
    """Train a fast explainer on ``train_rows`` (exact explanations of ``classifier``) and judge
    it on ``held_out_rows`` (never trained on)."""
    segmenter, names = Segmenter(classifier.tokenizer), classifier.labels
    train_set, left_out = examples_from_rows(train_rows, segmenter, names)
    test_set, left_out_test = examples_from_rows(held_out_rows, segmenter, names)
    held = {e.segmented.text for e in test_set}
    train_set = [e for e in train_set if e.segmented.text not in held]
    left_out += left_out_test
    logger.info(
        "fast explainer: %d training texts, %d held out (%d rows left out)",
        len(train_set),
        len(test_set),
        left_out,
    )
    if not test_set or not train_set:
        raise DataError(
            f"{len(train_set)} training and {len(test_set)} held-out texts: explain "
            "more texts before training a fast explainer"
        )
    references = [e.row for e in test_set]
    pad_id = classifier.pad_id
    points: list[dict] = []
    for share in sorted(set(curve) | {1.0}):
        subset = train_set[: max(1, round(share * len(train_set)))]
        model = AmortizedModel.from_classifier(classifier.model)
        steps = config.steps and max(1, round(share * config.steps))
        report = train(model, subset, pad_id, replace(config, steps=steps), progress=progress)
        explainer = FastExplainer(classifier, model, max_tokens=max_tokens)
        if share < 1.0:
            scores = fidelity(explainer.explain([e.segmented.text for e in test_set]), references)
        else:  # the model kept: its full evaluation holds the curve's last point
            evaluation = evaluate(explainer, references)
            scores = evaluation.fidelity
        points.append({"train_texts": len(subset), **scores.to_dict()})
        logger.info(
            "learning curve: %d texts -> median Spearman %.3f, top-5 overlap %.2f",
            len(subset),
            scores.median_spearman,
            scores.mean_top5_overlap,
        )
    gate = judge(evaluation.figures, thresholds)
    return Fitted(explainer, evaluation, gate, report, points, len(train_set), left_out)
