"""Fast explainer runs: a trained network, its fidelity and the gate's verdict, in MLflow.

Every training logs a run (kind ``fast_explainer``) in the explainers experiment: the training
settings, the held-out figures (fidelity, faithfulness of fast vs exact vs random), the learning
curve (figures at step = training texts), a report artifact, and the gate's verdict as a tag.
Only a run whose gate passed also logs the explainer pyfunc (the exact explainer's classifier and
settings plus the network) and registers it as ``<exact explainer>-fast``; it answers
``method="fast"`` by default and ``"exact"`` on request.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from dlexplain.base.records import Record
from dlexplain.explain.config import ExplainerConfig
from dlexplain.fast.gate import GateResult, GateThresholds
from dlexplain.model import pyfunc
from dlexplain.model.refs import ExplainerRef
from dlexplain.model.registry import (
    TAG_IDENTITY,
    ExplainerSpec,
    log_explainer_model,
)
from dlexplain.tracking.filters import tag, where
from dlexplain.tracking.provenance import own_versions
from dlexplain.tracking.runs import (
    EXPLAINERS_EXPERIMENT,
    KIND_FAST,
    TAG_EXACT_RUN_ID,
    TAG_KIND,
    TAG_SOURCE_KEY,
    experiment_id,
)

logger = logging.getLogger(__name__)

TAG_GATE = "dlexplain.gate"
TAG_TRAIN_TEXTS = "dlexplain.train_texts"
#: distinct explained texts there were when it was trained (training and held out)
TAG_TEXTS = "dlexplain.texts"
FAST_SUFFIX = "-fast"
REPORT = "fast/report.json"
CURVE_PLOT = "fast/learning_curve.png"
#: the figures the learning curve follows
CURVE_FIGURES = ("median_spearman", "mean_top5_overlap", "top5_sign_agreement")


@dataclass(frozen=True)
class FastRun(Record):
    """One training of a fast explainer: its run, the verdict, and where it was registered."""

    run_id: str
    passed: bool
    failures: list[str]
    train_texts: int
    registered_model: str | None = None
    version: str | None = None


def fast_name(exact_registered_name: str) -> str:
    """The registered name of the fast explainer of an exact explainer."""
    return f"{exact_registered_name}{FAST_SUFFIX}"


def exact_spec(run_id: str) -> tuple[ExplainerSpec, dict[str, str]]:
    """The settings an exact explainer run was logged with, and its tags."""
    run = MlflowClient().get_run(run_id)
    params = run.data.params
    spec = ExplainerSpec(ExplainerConfig.from_strings(params), params.get("text_column", "text"))
    return spec, run.data.tags


def download_classifier(exact: ExplainerRef, workdir: Path) -> Path:
    """The exact explainer's classifier folder (weights and tokenizer), downloaded to
    ``workdir`` with its model and checked (``dlexplain.model.trust``) before anything in it
    is loaded."""
    from dlexplain.model.trust import download_checked

    model = download_checked(exact, workdir / "exact-explainer")
    flavor = mlflow.models.Model.load(str(model)).flavors["python_function"]
    return model / flavor["artifacts"][pyfunc.ARTIFACT_CLASSIFIER]["path"]


def _fast_runs(
    exact_run_id: str, experiment: str, passed: bool | None = None, max_results: int = 1000
):
    """Fast explainer runs trained for ``exact_run_id``, newest first (by gate verdict, if
    asked)."""
    conditions = {tag(TAG_KIND): KIND_FAST, tag(TAG_EXACT_RUN_ID): exact_run_id}
    if passed is not None:
        conditions[tag(TAG_GATE)] = "passed" if passed else "failed"
    return MlflowClient().search_runs(
        [experiment_id(experiment)],
        filter_string=where(conditions),
        order_by=["attributes.start_time DESC"],
        max_results=max_results,
    )


def last_fast_run(
    exact_run_id: str, *, passed: bool | None = None, experiment: str = EXPLAINERS_EXPERIMENT
):
    """The newest fast explainer run trained for ``exact_run_id`` (passed the gate, if asked)."""
    runs = _fast_runs(exact_run_id, experiment, passed, max_results=1)
    return runs[0] if runs else None


def gated_fast(exact: ExplainerRef) -> ExplainerRef | None:
    """The newest registered (so gated) fast explainer trained from ``exact``, or None."""
    if not exact.registered_model:
        return None
    name = fast_name(exact.registered_model)
    trained = {
        run.info.run_id for run in _fast_runs(exact.run_id, EXPLAINERS_EXPERIMENT, passed=True)
    }
    versions = own_versions(
        v
        for v in MlflowClient().search_model_versions(where({"name": name}))
        if v.run_id in trained
    )
    if not versions:
        return None
    newest = max(versions, key=lambda v: int(v.version))
    return ExplainerRef(
        run_id=newest.run_id,
        model_uri=f"models:/{name}/{newest.version}",
        text_column=exact.text_column,
        registered_model=name,
        version=str(newest.version),
        exact_run_id=exact.run_id,
        exact_registered_model=exact.registered_model,
    )


def _curve_plot(curve: Sequence[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [point["train_texts"] for point in curve]
    figure, axes = plt.subplots(1, len(CURVE_FIGURES), figsize=(4 * len(CURVE_FIGURES), 3.2))
    for axis, name in zip(axes, CURVE_FIGURES):
        axis.plot(sizes, [point[name] for point in curve], marker="o", color="#ff0051")
        axis.set_title(name)
        axis.set_xlabel("training texts")
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def log_fast_explainer(
    exact: ExplainerRef,
    classifier_folder: Path,
    network_folder: Path,
    *,
    figures: dict,
    gate: GateResult,
    thresholds: GateThresholds,
    training: dict,
    curve: Sequence[dict],
    train_texts: int,
    texts: int,
    experiment: str = EXPLAINERS_EXPERIMENT,
) -> FastRun:
    """Log one training (see the module docstring); register it only if ``gate`` passed."""
    spec, exact_tags = exact_spec(exact.run_id)
    verdict = "passed" if gate.passed else "failed"
    tags = {
        TAG_KIND: KIND_FAST,
        TAG_EXACT_RUN_ID: exact.run_id,
        TAG_GATE: verdict,
        TAG_TRAIN_TEXTS: str(train_texts),
        TAG_TEXTS: str(texts),
        TAG_SOURCE_KEY: exact_tags.get(TAG_SOURCE_KEY, ""),
        TAG_IDENTITY: exact_tags.get(TAG_IDENTITY, ""),
    }
    client = MlflowClient()
    with mlflow.start_run(experiment_id=experiment_id(experiment), tags=tags) as run:
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            params=[mlflow.entities.Param(f"train_{k}", str(v)) for k, v in training.items()]
            + [mlflow.entities.Param(f"gate_{k}", str(v)) for k, v in thresholds.to_dict().items()],
        )
        client.log_batch(
            run_id,
            metrics=[
                mlflow.entities.Metric(k, float(v), 0, 0) for k, v in figures.items() if v == v
            ],
        )  # NaN figures are in the report, not metrics
        for point in curve:
            client.log_batch(
                run_id,
                metrics=[
                    mlflow.entities.Metric(
                        f"curve_{name}", float(point[name]), 0, int(point["train_texts"])
                    )
                    for name in CURVE_FIGURES
                    if point[name] == point[name]
                ],
            )
        with tempfile.TemporaryDirectory(prefix="dlexplain-fast-report-") as tmp:
            report = {
                "gate": verdict,
                "failures": list(gate.failures),
                "figures": figures,
                "thresholds": thresholds.to_dict(),
                "training": training,
                "learning_curve": list(curve),
                "exact_run_id": exact.run_id,
            }
            (Path(tmp) / Path(REPORT).name).write_text(json.dumps(report, indent=2))
            if curve:
                _curve_plot(curve, Path(tmp) / Path(CURVE_PLOT).name)
            client.log_artifacts(run_id, tmp, str(Path(REPORT).parent))
        if gate.passed:
            log_explainer_model(
                run_id,
                classifier_folder,
                spec,
                exact_tags.get(TAG_IDENTITY, ""),
                tags,
                network_folder,
            )
    if not gate.passed:
        logger.warning(
            "fast explainer run %s failed the gate: %s", run_id, "; ".join(gate.failures)
        )
        return FastRun(run_id, False, list(gate.failures), train_texts)
    name = fast_name(exact.registered_model or f"run-{exact.run_id[:12]}-explainer")
    version = mlflow.register_model(ExplainerRef.of_run(run_id).model_uri, name).version
    logger.info(
        "fast explainer run %s passed the gate: registered as %s version %s", run_id, name, version
    )
    return FastRun(run_id, True, [], train_texts, name, str(version))
