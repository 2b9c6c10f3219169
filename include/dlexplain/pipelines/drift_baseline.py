"""Which earlier nights a night's explanation drift is judged against, and why the others are not.

A night pools into another's baseline only when it was explained by the same unit (granularity),
logged its per-text table (the noise floor draws from it), and explained the same classifier
weights (``SourceModel.key``, tag ``dlexplain.source_key``): a new classifier version starts its
own history. A pinned range (``drift_baseline_from``/``_to``) pools the nights in it whichever
classifier explained them: the user chose them.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlexplain.base.records import Record
from dlexplain.quality.rule import DriftRule
from dlexplain.tracking.quality_runs import TAG_TEXTS, night_runs
from dlexplain.tracking.runs import (
    TAG_EXPLAINER_RUN_ID,
    TAG_GRANULARITY,
    TAG_SOURCE_KEY,
    run_tags,
)

#: Nights left out that a report lists (the newest).
LEFT_OUT_SHOWN = 20


@dataclass(frozen=True)
class Baseline(Record):
    """The nights pooled (oldest first) and the nights passed over, newest first, with why."""

    nights: list[str]
    run_ids: list[str]
    left_out: list[list[str]]  #: ``[night, why]``


def classifier_of(tags: dict[str, str], explainers: dict[str, str | None]) -> str | None:
    """The classifier key of a night (its tag, or its explainer run's for nights logged before
    the tag); ``explainers`` caches explainer runs' keys."""
    if TAG_SOURCE_KEY in tags:
        return tags[TAG_SOURCE_KEY]
    explainer = tags.get(TAG_EXPLAINER_RUN_ID)
    if not explainer:
        return None
    if explainer not in explainers:
        explainers[explainer] = run_tags(explainer).get(TAG_SOURCE_KEY)
    return explainers[explainer]


def _in_window(day: str, night: str, rule: DriftRule) -> bool:
    if rule.pinned:
        return (not rule.baseline_from or day >= rule.baseline_from) and (
            not rule.baseline_to or day <= rule.baseline_to
        )
    return day < night


def choose_baseline(dag_id: str, night: str, run_id: str, rule: DriftRule) -> Baseline:
    """The baseline of ``night`` (explanation run ``run_id``) under ``rule``: the
    ``rule.baseline_nights`` latest usable nights before it, or every usable night of the
    pinned range; never the night itself."""
    tonight = run_tags(run_id)
    granularity = tonight.get(TAG_GRANULARITY, "token")
    explainers: dict[str, str | None] = {}
    classifier = classifier_of(tonight, explainers)
    chosen: list[tuple[str, str]] = []
    left_out: list[list[str]] = []
    for day, night_run, tags in night_runs(dag_id):  # newest first
        if day == night or not _in_window(day, night, rule):
            continue
        if not rule.pinned and len(chosen) == rule.baseline_nights:
            break
        if tags.get(TAG_GRANULARITY, "token") != granularity:
            why = f"explained by {tags.get(TAG_GRANULARITY, 'token')}, tonight by {granularity}"
        elif TAG_TEXTS not in tags:
            why = "logged before per-text tables: no noise floor to draw"
        elif not rule.pinned and classifier_of(tags, explainers) != classifier:
            why = f"another classifier ({classifier_of(tags, explainers)}; tonight {classifier})"
        else:
            chosen.append((day, night_run))
            continue
        left_out.append([day, why])
    chosen.reverse()
    return Baseline(
        nights=[day for day, _ in chosen],
        run_ids=[night_run for _, night_run in chosen],
        left_out=left_out[:LEFT_OUT_SHOWN],
    )
