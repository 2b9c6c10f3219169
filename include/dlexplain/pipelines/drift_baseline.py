"""Which earlier nights a night's explanation drift is judged against, and why the others are not.

A night pools into another's baseline only when it explained the same classifier weights
(``SourceModel.key``, tag ``dlexplain.source_key``: a new classifier version starts its own
history, and a night whose classifier is unknown pools with none), by the same method family
(exact, or fast with or without an audit: the fast explainer's values are not the exact one's)
and the same unit (granularity), with a per-text table and the same classes. A pinned range
(``drift_baseline_from``/``_to``) pools the nights in it whichever classifier or method explained
them: the user chose them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pandas as pd

from dlexplain.quality.importance import classes as classes_of
from dlexplain.quality.rule import DriftRule
from dlexplain.tracking.quality_runs import TAG_TEXTS, night_runs
from dlexplain.tracking.runs import (
    TAG_EXPLAINER_RUN_ID,
    TAG_GRANULARITY,
    TAG_METHOD,
    TAG_SOURCE_KEY,
    run_tags,
)

#: Nights passed over that a report lists (the newest).
LEFT_OUT_SHOWN = 20


@dataclass
class Baseline:
    """The nights pooled (oldest first) with their per-text tables, and the nights passed over,
    newest first, with why."""

    nights: list[str] = field(default_factory=list)
    tables: list[pd.DataFrame] = field(default_factory=list)
    left_out: list[list[str]] = field(default_factory=list)  #: ``[night, why]``


def classifier_of(tags: dict[str, str], explainers: dict[str, str | None]) -> str | None:
    """The classifier key of a night (its tag, or its explainer run's for nights logged before
    the tag; None when unknown); ``explainers`` caches explainer runs' keys."""
    if tags.get(TAG_SOURCE_KEY):
        return tags[TAG_SOURCE_KEY]
    explainer = tags.get(TAG_EXPLAINER_RUN_ID)
    if not explainer:
        return None
    if explainer not in explainers:
        explainers[explainer] = run_tags(explainer).get(TAG_SOURCE_KEY) or None
    return explainers[explainer]


def _method(tags: dict[str, str]) -> str:
    return "fast" if tags.get(TAG_METHOD, "exact").startswith("fast") else "exact"


def _in_window(day: str, night: str, rule: DriftRule) -> bool:
    if rule.pinned:
        return (not rule.baseline_from or day >= rule.baseline_from) and (
            not rule.baseline_to or day <= rule.baseline_to
        )
    return day < night


def _candidates(
    dag_id: str, night: str, tonight: dict[str, str], rule: DriftRule
) -> Iterator[tuple[str, str, str | None]]:
    """``(night, run_id, why not)`` of the nights in the rule's window, newest first (``why
    not`` None: usable, as far as the tags tell)."""
    explainers: dict[str, str | None] = {}
    classifier = classifier_of(tonight, explainers)
    granularity = tonight.get(TAG_GRANULARITY, "token")
    for day, night_run, tags in night_runs(dag_id):  # newest first
        if day == night or not _in_window(day, night, rule):
            continue
        why = None
        if tags.get(TAG_GRANULARITY, "token") != granularity:
            why = f"explained by {tags.get(TAG_GRANULARITY, 'token')}, tonight by {granularity}"
        elif TAG_TEXTS not in tags:
            why = "logged before per-text tables: nothing to compare"
        elif not rule.pinned:
            theirs = classifier_of(tags, explainers)
            if classifier is None or theirs != classifier:
                why = f"another or an unknown classifier ({theirs}; tonight {classifier})"
            elif _method(tags) != _method(tonight):
                why = (
                    f"explained by the {_method(tags)} explainer, tonight by the {_method(tonight)}"
                )
        yield day, night_run, why


def choose_baseline(
    dag_id: str,
    night: str,
    run_id: str,
    rule: DriftRule,
    classes: list[str],
    read: Callable[[str], pd.DataFrame],
) -> Baseline:
    """The baseline of ``night`` (explanation run ``run_id``, explaining ``classes``) under
    ``rule``: the ``rule.baseline_nights`` latest usable nights before it, or every usable night
    of the pinned range; never the night itself. ``read`` reads a night run's per-text table."""
    chosen = Baseline()
    for day, night_run, why in _candidates(dag_id, night, run_tags(run_id), rule):
        if why is None:
            table = read(night_run)
            theirs = classes_of(table)
            if set(theirs) == set(classes):
                chosen.nights.insert(0, day)
                chosen.tables.insert(0, table)
            else:
                why = f"other classes ({', '.join(theirs) or 'none'})"
        if why is not None and len(chosen.left_out) < LEFT_OUT_SHOWN:
            chosen.left_out.append([day, why])
        if not rule.pinned and len(chosen.nights) == rule.baseline_nights:
            break
    return chosen
