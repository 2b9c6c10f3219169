"""log_explainer against a live server: idempotent per explainer identity, registered, and a
re-run downloads no weights; search filters quote what they search for."""

from __future__ import annotations

import tempfile

import mlflow
import pytest
from mlflow import MlflowClient

from dlexplain.errors import ConfigError, ModelError
from dlexplain.explain.config import ExplainerConfig
from dlexplain.model import pyfunc
from dlexplain.model.identity import explainer_identity
from dlexplain.model.lookup import newest_explainer
from dlexplain.model.registry import TAG_IDENTITY, ExplainerSpec, log_explainer
from dlexplain.tracking.runs import TAG_SOURCE_KEY
from dlexplain.model.source_model import register_classifier
from dlexplain.tracking.filters import quote, where
from dlexplain.tracking.runs import experiment_id


def _counts(experiment: str, registered: str) -> tuple[int, int]:
    client = MlflowClient()
    runs = client.search_runs([experiment_id(experiment)])
    return len(runs), len(client.search_model_versions(where({"name": registered})))


def _model_config(run_id: str) -> dict:
    info = mlflow.models.get_model_info(f"runs:/{run_id}/explainer")
    return info.flavors["python_function"]["config"]


def test_log_explainer_is_idempotent(tracking_uri, tiny_model_dir, unique):
    experiment, registered = f"exp-{unique}", f"explainer-{unique}"
    spec = ExplainerSpec(ExplainerConfig(max_evals=50))
    first = log_explainer(tiny_model_dir, spec, experiment, registered_model_name=registered)
    logged = mlflow.get_logged_model(first.model_uri.removeprefix("models:/"))
    assert (logged.source_run_id, logged.name) == (first.run_id, "explainer")
    assert _counts(experiment, registered) == (1, 1)
    again = log_explainer(tiny_model_dir, spec, experiment, registered_model_name=registered)
    assert again == first
    assert _counts(experiment, registered) == (1, 1), "no new run, no new version"

    changed = ExplainerSpec(ExplainerConfig(max_evals=80))
    other = log_explainer(tiny_model_dir, changed, experiment, registered_model_name=registered)
    assert other.run_id != first.run_id
    assert _counts(experiment, registered) == (2, 2)
    tags = MlflowClient().get_run(other.run_id).data.tags
    assert tags[TAG_SOURCE_KEY].startswith("sha256:")
    assert {"shap_version", "transformers_version", "torch_version"} <= set(tags)
    # one identity, computed at log time, in the run's tags and the model's config alike
    identities = [MlflowClient().get_run(r.run_id).data.tags[TAG_IDENTITY] for r in (first, other)]
    assert identities[0] != identities[1]
    assert [_model_config(r.run_id)[pyfunc.CONFIG_IDENTITY] for r in (first, other)] == identities
    assert identities[1] == explainer_identity(tags[TAG_SOURCE_KEY], changed.config, "text")


def test_registered_source_rerun_downloads_no_weights(tracking_uri, tiny_model_dir, unique,
                                                     monkeypatch, tmp_path):
    experiment = f"exp-{unique}"
    uri = register_classifier(tiny_model_dir, f"clf-{unique}", "champion", experiment)
    assert uri == f"models:/clf-{unique}@champion"
    assert register_classifier(tiny_model_dir, f"clf-{unique}", "champion", experiment) == uri
    versions = MlflowClient().search_model_versions(where({"name": f"clf-{unique}"}))
    assert len(versions) == 1, "registering the same folder twice reuses its version"

    downloads = []
    real_download = mlflow.artifacts.download_artifacts

    def counting_download(artifact_uri=None, *args, **kwargs):  # the real download, counted
        if artifact_uri and artifact_uri.startswith(f"models:/clf-{unique}"):
            downloads.append(artifact_uri)
        return real_download(artifact_uri, *args, **kwargs)

    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", counting_download)
    scratch = tmp_path / "tmp"  # the temp dir of this call: empty again after it
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    spec = ExplainerSpec(ExplainerConfig(max_evals=50))
    explainer = log_explainer(uri, spec, experiment, registered_model_name=f"expl-{unique}")
    assert downloads == [f"models:/clf-{unique}/1"], "a new explainer downloads the pinned version"
    # the classifier's download is not left behind (MLflow's own reads of an MLmodel file, a few
    # KB each, still are)
    assert [p.name for p in scratch.rglob("*") if p.is_file() and p.name != "MLmodel"] == []
    tags = MlflowClient().get_run(explainer.run_id).data.tags
    assert tags[TAG_SOURCE_KEY].startswith(f"models:/clf-{unique}/1 (run ")

    again = log_explainer(uri, spec, experiment, registered_model_name=f"expl-{unique}")
    by_version = log_explainer(f"models:/clf-{unique}/1", spec, experiment,
                               registered_model_name=f"expl-{unique}")
    assert again == by_version == explainer, "alias and version name the same source model"
    assert len(downloads) == 1, "re-runs found the existing explainer before any download"


def test_unknown_source_is_a_clear_error(tracking_uri, tmp_path, unique):
    with pytest.raises(ModelError, match="neither an MLflow model URI"):
        log_explainer(tmp_path, experiment=f"exp-{unique}")
    with pytest.raises(ModelError, match="cannot resolve"):
        log_explainer(f"models:/missing-{unique}@champion", experiment=f"exp-{unique}")


def test_filters_quote_values():
    assert where({"name": "plain"}) == "name = 'plain'"
    assert where({"name": "it's", "run_id": "r"}) == "name = \"it's\" and run_id = 'r'"
    with pytest.raises(ConfigError, match="both quote kinds"):
        quote("it's \"both\"")


def test_a_model_name_with_a_quote_is_found(tracking_uri, tiny_model_dir, unique):
    name = f"o'brien-explainer-{unique}"
    explainer = log_explainer(tiny_model_dir, ExplainerSpec(ExplainerConfig(max_evals=50)),
                              f"exp-{unique}", registered_model_name=name)
    newest = newest_explainer(name)
    assert newest is not None and newest.run_id == explainer.run_id
    assert newest.model_uri == f"models:/{name}/1" and newest.registered_model == name


def test_each_classifier_gets_its_own_explainer(tracking_uri, tiny_model_dir, tiny_family_dirs,
                                                unique):
    from dlexplain.model.lookup import explainer_for, registered_explainer
    from dlexplain.tracking.sources import describe_source, source_labels

    experiment = f"exp-{unique}"
    spec = ExplainerSpec(ExplainerConfig(max_evals=20))
    uri = register_classifier(tiny_family_dirs["distilbert"], f"tweets-{unique}-classifier",
                              "champion", experiment)
    # the labels come from config.json alone, before any explainer exists
    assert source_labels(describe_source(uri)) == ("negative", "neutral", "positive")

    tweets = log_explainer(uri, spec, experiment)
    assert (tweets.registered_model, tweets.version) == (f"tweets-{unique}-explainer", "1")
    folder = log_explainer(tiny_model_dir, spec, experiment)
    assert folder.registered_model == f"{tiny_model_dir.name}-explainer"
    found = explainer_for(uri)
    assert (found.run_id, found.registered_model, found.version) == (
        tweets.run_id, tweets.registered_model, "1")
    assert explainer_for(str(tiny_model_dir)).run_id == folder.run_id

    # asked under another name, the same explainer is registered there, not logged again
    pinned = log_explainer(uri, spec, experiment, registered_model_name=f"pinned-{unique}")
    assert pinned.run_id == tweets.run_id and pinned.registered_model == f"pinned-{unique}"
    assert len(MlflowClient().search_runs([experiment_id(experiment)])) == 3  # + the classifier

    MlflowClient().set_registered_model_alias(f"pinned-{unique}", "production", "1")
    assert registered_explainer(f"pinned-{unique}", alias="production").run_id == tweets.run_id
    assert registered_explainer(f"tweets-{unique}-explainer", version="1") == found
    with pytest.raises(ModelError, match="no explainer"):
        registered_explainer(f"pinned-{unique}", alias="nope")
