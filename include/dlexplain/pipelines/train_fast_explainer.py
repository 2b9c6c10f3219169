"""The steps of the ``train_fast_explainer`` DAG, free of Airflow imports.

1. :func:`gather_named` does, for every exact explainer the triggering Asset events name (several
   nights may fold into one run), what :func:`gather_training_data` does for one: it finds that
   explainer's explanations through MLflow (the explanation runs it made record their Parquet
   outputs) and counts the texts they hold against those the last fast explainer saw;
2. :func:`train_fast` trains on one explainer's, judges the result on held-out texts, logs it, and
   registers it as ``<exact explainer>-fast`` only when the gate passes.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from dlexplain.base.records import Record
from dlexplain.config import Settings
from dlexplain.errors import ConfigError, DataError
from dlexplain.explain.config import MAX_MAX_EVALS, MAX_REFERENCE_TEXTS, MIN_MAX_EVALS
from dlexplain.explain.request import Method
from dlexplain.fast.gate import GateThresholds, judge
from dlexplain.fast.train import TrainingConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingData(Record):
    """Where one exact explainer's explanations are, and whether there are enough new ones."""

    exact_run_id: str
    registered_model: str | None
    outputs: list[str]
    #: distinct texts explained without error
    texts: int
    #: of them, not seen by the last fast explainer trained for this explainer
    new_texts: int
    ready: bool


def explanation_outputs(exact_run_id: str) -> list[str]:
    """The Parquet outputs of the nights explained with explainer run ``exact_run_id`` or with a
    fast explainer trained from it, in night order (only those that still exist). Not those of
    ``fast+verify`` nights: their exact rows are the texts the fast explainer got wrong, a biased
    sample to train or judge the next one on."""
    from mlflow import MlflowClient
    from mlflow.entities import Run

    from dlexplain.tracking import runs
    from dlexplain.tracking.filters import tag, where

    found: list[Run] = []
    for run_tag in (runs.TAG_EXPLAINER_RUN_ID, runs.TAG_EXACT_RUN_ID):  # older runs lack the 2nd
        found += MlflowClient().search_runs(
            [runs.experiment_id(runs.EXPLANATIONS_EXPERIMENT)],
            filter_string=where(
                {tag(runs.TAG_KIND): runs.KIND_EXPLANATIONS, tag(run_tag): exact_run_id}
            ),
        )
    found = [r for r in found if r.data.tags.get(runs.TAG_METHOD) != Method.FAST_VERIFY]
    found.sort(key=lambda r: r.data.tags.get(runs.TAG_LOGICAL_DATE, ""))
    outputs = [r.data.tags[runs.TAG_OUTPUT] for r in found if runs.TAG_OUTPUT in r.data.tags]
    return [o for o in dict.fromkeys(outputs) if "://" in o or Path(o).exists()]


def read_rows(outputs: list[str]) -> list:
    """Every explanation row of ``outputs``, their audited exact rows included (fast rows are
    there too: training and counting keep the exact ones)."""
    from dlexplain.explain.table import read_explanations
    from dlexplain.spark.output import read_audit, read_output

    rows = []
    for output in outputs:
        rows.extend(read_explanations(read_output(output)))
        audit = read_audit(output)
        if audit is not None:
            rows.extend(read_explanations(audit))
    return rows


def _distinct_texts(rows) -> int:
    return len({"".join(r.tokens) for r in rows if r.ok and r.method == "exact"})


def gather_training_data(
    source: str,
    min_new_texts: int,
    settings: Settings,
    explainer_name: str | None = None,
    exact_run_id: str | None = None,
) -> TrainingData:
    """The exact explanations of ``source``'s newest exact explainer (or of the explainer run
    ``exact_run_id``, as the Asset event that triggered the DAG names it)."""
    from dlexplain.model.fast_runs import TAG_TEXTS, last_fast_run
    from dlexplain.model.lookup import explainer_for
    from dlexplain.model.source_model import resolve_source_model

    if exact_run_id is None:
        exact = explainer_for(resolve_source_model(source, settings), explainer_name)
        if exact is None:
            raise DataError(
                f"no exact explainer of {source!r} is registered yet: run explain_reviews first"
            )
        exact_run_id, registered = exact.run_id, exact.registered_model
    else:
        registered = explainer_name or _registered_name(exact_run_id)
    outputs = explanation_outputs(exact_run_id)
    texts = _distinct_texts(read_rows(outputs))
    last = last_fast_run(exact_run_id)
    seen = int(last.data.tags.get(TAG_TEXTS, 0)) if last else 0
    ready = texts - seen >= min_new_texts
    logger.info(
        "explainer run %s: %d explained texts in %d outputs, %d new (need %d): %s",
        exact_run_id,
        texts,
        len(outputs),
        texts - seen,
        min_new_texts,
        "training" if ready else "not training",
    )
    return TrainingData(exact_run_id, registered, outputs, texts, texts - seen, ready)


def named_explainers(events: Iterable[Mapping]) -> list[tuple[str, str | None]]:
    """``(exact_run_id, registered_model)`` of each distinct exact explainer that the Asset
    events' extras name, in the order of their newest event (events naming none are ignored)."""
    named: dict[str, str | None] = {}
    for extra in events:
        if extra.get("exact_run_id"):
            named.pop(extra["exact_run_id"], None)
            named[extra["exact_run_id"]] = extra.get("registered_model")
    return list(named.items())


def gather_named(
    source: str,
    min_new_texts: int,
    settings: Settings,
    explainer_name: str | None,
    events: Iterable[Mapping],
) -> list[TrainingData]:
    """:func:`gather_training_data` for every exact explainer the Asset events name, or for
    ``source``'s newest exact explainer when they name none (a run triggered by hand)."""
    named = named_explainers(events)
    if not named:
        return [gather_training_data(source, min_new_texts, settings, explainer_name)]
    return [
        gather_training_data(
            source, min_new_texts, settings, registered or explainer_name, exact_run_id=run_id
        )
        for run_id, registered in named
    ]


def _registered_name(run_id: str) -> str | None:
    from mlflow import MlflowClient

    from dlexplain.tracking.filters import where

    found = MlflowClient().search_model_versions(where({"run_id": run_id}))
    return found[0].name if found else None


def train_fast(
    data: TrainingData,
    *,
    thresholds,
    training,
    held_out_fraction: float,
    settings: Settings,
    reference_texts: int = 0,
    reference_max_evals: int = 2000,
):
    """Train, judge and log a fast explainer on ``data`` (a ``FastRun``); the first
    ``reference_texts`` held-out texts are also explained with ``reference_max_evals`` to score
    fast and exact against that finer reference (both bounded like the DAG's params)."""
    from dlexplain.explain.classifier import TextClassifier
    from dlexplain.explain.config import MAX_REFERENCE_TEXTS, check_max_evals

    check_max_evals(reference_max_evals, "reference_max_evals")
    if not 0 <= reference_texts <= MAX_REFERENCE_TEXTS:
        raise ConfigError(
            f"reference_texts={reference_texts!r} must be from 0 to {MAX_REFERENCE_TEXTS}"
        )
    from dlexplain.fast.fit import fit, split
    from dlexplain.model.fast_runs import download_classifier, exact_spec, log_fast_explainer
    from dlexplain.model.refs import ExplainerRef

    exact = replace(ExplainerRef.of_run(data.exact_run_id), registered_model=data.registered_model)
    spec, _ = exact_spec(exact.run_id)
    rows = read_rows(data.outputs)
    with tempfile.TemporaryDirectory(prefix="dlexplain-fast-") as tmp:
        folder = download_classifier(exact, Path(tmp) / "download")
        classifier = TextClassifier.from_pretrained(
            folder, device=settings.run.device, backend=spec.config.backend
        )
        fitted = fit(
            classifier,
            *split(rows, held_out_fraction),
            thresholds=thresholds,
            config=training,
            max_tokens=spec.config.max_tokens,
            progress=True,
        )
        figures, gate = dict(fitted.evaluation.figures), fitted.gate
        if reference_texts:  # judged against the finer reference too
            figures.update(
                _reference(classifier, spec.config, fitted, reference_texts, reference_max_evals)
            )
            gate = judge(figures, thresholds)
        network = Path(tmp) / "network"
        fitted.explainer.model.save(network)
        return log_fast_explainer(
            exact,
            folder,
            network,
            figures=figures,
            gate=gate,
            thresholds=thresholds,
            training={
                **training.to_dict(),
                "held_out_fraction": held_out_fraction,
                "reference_texts": reference_texts,
                "reference_max_evals": reference_max_evals,
                "seconds": fitted.training.seconds,
                "final_loss": fitted.training.epoch_losses[-1],
            },
            curve=fitted.curve,
            train_texts=fitted.train_texts,
            texts=data.texts,
        )


def _reference(classifier, config, fitted, count: int, max_evals: int) -> dict:
    """``reference_*`` figures: fast and exact against finer exact explanations of the first
    ``count`` held-out texts."""
    from dlexplain.explain.engine import Explainer
    from dlexplain.fast.evaluate import reference_figures

    exact_rows = fitted.evaluation.exact_rows[:count]
    finer = Explainer(classifier, replace(config, max_evals=max_evals))
    logger.info(
        "reference: %d held-out texts explained with max_evals %d", len(exact_rows), max_evals
    )
    reference_rows = finer.explain(["".join(r.tokens) for r in exact_rows], progress=True)
    return reference_figures(fitted.explainer, exact_rows, reference_rows)


#: The steps and records the DAG uses, and what its param forms read (the DAG file imports only
#: this package and config).
__all__ = [
    "MAX_MAX_EVALS",
    "MAX_REFERENCE_TEXTS",
    "MIN_MAX_EVALS",
    "GateThresholds",
    "TrainingConfig",
    "TrainingData",
    "gather_named",
    "gather_training_data",
    "train_fast",
]
