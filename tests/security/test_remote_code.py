"""Issue 25, item 3: a classifier that ships code (``auto_map`` and ``modeling_*.py``) is refused
where the night first reads it, as a local folder or as a version in the real registry, and its
code never runs; which registered version is reused does not depend on who added one last."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import yaml
from mlflow import MlflowClient

from dlexplain.errors import ModelError
from dlexplain.model.registry import TAG_FOLDER_DIGEST, ExplainerSpec, log_explainer
from dlexplain.model.source_model import register_classifier
from dlexplain.tracking.sources import describe_source, folder_digest, source_labels
from tests.security.attacks import Marker, add_remote_code

#: transformers as MLflow's transformers flavor loads a model whose instance_type is not one of
#: transformers' classes: with remote code allowed
LOAD_WITH_REMOTE_CODE = ("import sys\nfrom transformers import AutoModelForSequenceClassification"
                         "\nAutoModelForSequenceClassification.from_pretrained(sys.argv[1], "
                         "trust_remote_code=True)\n")


@pytest.fixture()
def evil_folder(tiny_model_dir, tmp_path):
    marker = Marker(tmp_path / "marker")
    folder = tmp_path / "evil-classifier"
    shutil.copytree(tiny_model_dir, folder)
    add_remote_code(folder, marker)
    return folder, marker


def test_the_payload_runs_where_remote_code_is_allowed(evil_folder, tmp_path):
    folder, marker = evil_folder
    subprocess.run([sys.executable, "-c", LOAD_WITH_REMOTE_CODE, str(folder)], timeout=300,
                   capture_output=True, cwd=tmp_path)
    assert marker.written, "the attack is real: trust_remote_code imports modeling_evil.py"


def test_a_local_classifier_with_code_is_refused_in_prepare_and_logging(evil_folder,
                                                                        tracking_uri, unique):
    folder, marker = evil_folder
    with pytest.raises(ModelError, match="config.json has 'auto_map'"):
        source_labels(describe_source(folder))  # what prepare reads
    with pytest.raises(ModelError, match=r"not on the allow-list.*configuration_evil.py"):
        log_explainer(folder, ExplainerSpec(), f"remote-{unique}")
    assert not marker.written


def test_a_registered_classifier_with_code_is_refused_and_never_reused(
        tiny_model_dir, tracking_uri, unique, tmp_path):
    name = f"classifier-{unique}"
    register_classifier(tiny_model_dir, name)
    client = MlflowClient()
    # the attacker: another version of the same registered classifier, tagged with the same
    # weights digest, its weights folder carrying auto_map and code, its instance_type no
    # transformers class (so mlflow.transformers.load_model would allow remote code)
    marker = Marker(tmp_path / "marker")
    folder = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/1",
                                                      dst_path=str(tmp_path / "copy")))
    add_remote_code(folder / "model", marker)
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    mlmodel["flavors"]["transformers"]["instance_type"] = "EvilPipeline"
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with mlflow.start_run() as run:
        model = client.create_logged_model(run.info.experiment_id, name="classifier",
                                           source_run_id=run.info.run_id)
        client.log_model_artifacts(model.model_id, str(folder))
        client.finalize_logged_model(model.model_id, "READY")
    planted = mlflow.register_model(f"models:/{model.model_id}", name).version
    client.set_model_version_tag(name, planted, TAG_FOLDER_DIGEST, folder_digest(tiny_model_dir))

    with pytest.raises(ModelError, match="config.json has 'auto_map'"):
        source_labels(describe_source(f"models:/{name}/{planted}"))  # what prepare reads
    with pytest.raises(ModelError, match=r"not on the allow-list.*configuration_evil.py"):
        log_explainer(f"models:/{name}/{planted}", ExplainerSpec(), f"remote-{unique}")
    assert register_classifier(tiny_model_dir, name) == f"models:/{name}@champion"
    assert client.get_model_version_by_alias(name, "champion").version == "1", \
        "the first version registered from these weights, not the newest tagged like it"
    assert not marker.written
