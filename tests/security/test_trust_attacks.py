"""Issue 25, items 1 and 2: a model in the registry that is not exactly what ``log_explainer``
writes is never loaded: each attack is uploaded to the real tracking server and loaded the way
every loader does (download once, check that folder, load that folder)."""

from __future__ import annotations

import sqlite3
import sys
import uuid
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from dlexplain.errors import ModelError
from dlexplain.explain.classifier import TextClassifier
from dlexplain.explain.config import ExplainerConfig
from dlexplain.model.identity import explainer_identity
from dlexplain.model.registry import TAG_IDENTITY, ExplainerSpec, log_explainer
from dlexplain.model.trust import UntrustedExplainer, download_and_load, load_checked, untrusted
from dlexplain.tracking.sources import describe_source
from tests.security.attacks import (
    FOLDER_ATTACKS,
    Marker,
    changed_package_file,
    classifier_dir,
    mlflow_load_runs,
    nested_model,
    symlinked_file,
    tampered_copy,
    upload,
)

MAX_EVALS = 20


@pytest.fixture(scope="module")
def trusted(mlflow_server, tiny_model_dir, tmp_path_factory):
    """One explainer of the tiny model, logged by dlexplain, and its download (what attackers
    start from)."""
    mlflow.set_tracking_uri(mlflow_server.url)
    unique = uuid.uuid4().hex[:8]
    # bytecode on, as CI runs (this session may not write any): nothing of it is logged
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, False
    try:
        ref = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=MAX_EVALS)),
                            f"security-{unique}", registered_model_name=f"security-{unique}")
    finally:
        sys.dont_write_bytecode = writes_bytecode
    folder = Path(mlflow.artifacts.download_artifacts(
        ref.model_uri, dst_path=str(tmp_path_factory.mktemp("trusted"))))
    mlflow.set_tracking_uri(None)
    return ref, folder


def _load(ref, tmp_path: Path):
    """What every loader does: download once, check that folder, load it."""
    return download_and_load(ref, tmp_path / "download")


def test_the_trusted_explainer_loads(trusted, tracking_uri, tmp_path):
    ref, _ = trusted
    assert untrusted(ref) is None
    model = _load(ref, tmp_path)
    assert model.unwrap_python_model().methods == ("exact",)


@pytest.mark.parametrize("attack", sorted(FOLDER_ATTACKS))
def test_a_tampered_explainer_is_refused_before_any_load(attack, trusted, tracking_uri, tmp_path):
    tamper, refusal = FOLDER_ATTACKS[attack]
    marker = Marker(tmp_path / "marker")
    folder = tampered_copy(trusted[1], tmp_path, attack)
    tamper(folder, marker)
    experiment = mlflow.set_experiment(f"attack-{uuid.uuid4().hex[:8]}")
    assert experiment
    ref = upload(folder)
    with pytest.raises(UntrustedExplainer, match=refusal.replace("[", r"\[").replace("]", r"\]")):
        _load(ref, tmp_path)
    assert not marker.written, "nothing of the attacker's ran"


def test_a_local_folder_with_a_symlink_is_refused(trusted, tmp_path):
    """A folder on disk (a Spark executor's unpacked copy, a source folder) is walked without
    following links: a symlink is refused, whatever it points at."""
    marker = Marker(tmp_path / "marker")
    folder = tampered_copy(trusted[1], tmp_path, "linked")
    symlinked_file(folder, marker)
    with pytest.raises(UntrustedExplainer, match="tokenizer.json' is a symlink"):
        load_checked(folder)
    classifier = classifier_dir(folder)
    with pytest.raises(ModelError, match="is a symlink"):
        TextClassifier.from_pretrained(classifier)


@pytest.mark.slow
@pytest.mark.parametrize("tamper", [nested_model, changed_package_file])
def test_the_attacks_are_real(tamper, trusted, tmp_path):
    """Without the check, MLflow's loader runs the attacker's code (pickles disallowed)."""
    marker = Marker(tmp_path / "marker")
    folder = tampered_copy(trusted[1], tmp_path, tamper.__name__)
    tamper(folder, marker)
    assert mlflow_load_runs(folder, marker, tmp_path), "the payload runs on a plain load"


def test_a_run_that_did_not_finish_is_refused(trusted, tracking_uri, tmp_path):
    mlflow.set_experiment(f"attack-{uuid.uuid4().hex[:8]}")
    ref = upload(trusted[1], status="FAILED")  # the very files of the trusted explainer
    with pytest.raises(UntrustedExplainer, match="is FAILED, not FINISHED"):
        _load(ref, tmp_path)


def test_a_version_not_ready_is_refused(trusted, tracking_uri, mlflow_server, tmp_path):
    ref, _ = trusted
    name = f"pending-{uuid.uuid4().hex[:8]}"
    version = mlflow.register_model(ref.model_uri, name).version
    # the server's own database: a registration still pending (the OSS store marks versions
    # READY at once; a plugin store or a slow copy leaves them PENDING_REGISTRATION)
    with sqlite3.connect(Path(mlflow_server.root) / "mlflow.db") as db:
        db.execute("UPDATE model_versions SET status='PENDING_REGISTRATION' WHERE name=?", (name,))
    pending = type(ref).of_uri(f"models:/{name}/{version}")
    assert MlflowClient().get_model_version(name, version).status == "PENDING_REGISTRATION"
    with pytest.raises(UntrustedExplainer, match="is PENDING_REGISTRATION, not READY"):
        _load(pending, tmp_path)


def test_the_nightly_path_refuses_a_planted_explainer_before_spark(trusted, tracking_uri,
                                                                   tiny_model_dir, settings,
                                                                   tmp_path):
    """Someone plants a run with the identity the night will look for (so ``log_explainer``
    reuses it) holding altered code: the ``log_explainer`` task refuses it, Spark never starts."""
    from dataclasses import replace

    from dlexplain.explain.request import RunRequest
    from dlexplain.pipelines.explain_reviews import ensure_explainer
    from dlexplain.tracking.runs import EXPLAINERS_EXPERIMENT

    # settings no other test explains with: the planted identity is this test's alone
    night = replace(settings, explainer=replace(settings.explainer, max_tokens=77))
    config = replace(night.explainer, max_evals=MAX_EVALS)
    identity = explainer_identity(describe_source(tiny_model_dir).key, config, "text")
    marker = Marker(tmp_path / "marker")
    folder = tampered_copy(trusted[1], tmp_path, "planted")
    changed_package_file(folder, marker)
    mlflow.set_experiment(EXPLAINERS_EXPERIMENT)
    planted = upload(folder, tags={TAG_IDENTITY: identity})
    with pytest.raises(UntrustedExplainer, match=f"run {planted.run_id}.*its code differs"):
        ensure_explainer(str(tiny_model_dir), RunRequest(max_evals=MAX_EVALS), night,
                         registered_name=f"nightly-{uuid.uuid4().hex[:8]}")
    assert not marker.written
