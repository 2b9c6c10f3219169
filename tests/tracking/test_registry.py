"""log_explainer against a live server: idempotent per (source model, config), registered."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from dlexplain.engine import ExplainerConfig
from dlexplain.errors import ModelError
from dlexplain.registry import (TAG_CONFIG_HASH, TAG_SOURCE_IDENTITY, ExplainerSpec,
                                experiment_id, log_explainer, register_classifier)


def _counts(experiment: str, registered: str) -> tuple[int, int]:
    client = MlflowClient()
    runs = client.search_runs([experiment_id(experiment)])
    return len(runs), len(client.search_model_versions(f"name = '{registered}'"))


def test_log_explainer_is_idempotent(tracking_uri, tiny_model_dir, unique):
    experiment, registered = f"exp-{unique}", f"explainer-{unique}"
    spec = ExplainerSpec(ExplainerConfig(max_evals=50))
    first = log_explainer(tiny_model_dir, spec, experiment, registered_model_name=registered)
    assert _counts(experiment, registered) == (1, 1)
    again = log_explainer(tiny_model_dir, spec, experiment, registered_model_name=registered)
    assert again == first
    assert _counts(experiment, registered) == (1, 1), "no new run, no new version"

    changed = ExplainerSpec(ExplainerConfig(max_evals=80))
    other = log_explainer(tiny_model_dir, changed, experiment, registered_model_name=registered)
    assert other != first
    assert _counts(experiment, registered) == (2, 2)
    tags = MlflowClient().get_run(other).data.tags
    assert tags[TAG_CONFIG_HASH] == changed.config_hash() != spec.config_hash()
    assert tags[TAG_SOURCE_IDENTITY].startswith("sha256:")
    assert {"shap_version", "transformers_version", "torch_version"} <= set(tags)


def test_source_from_registered_transformers_model(tracking_uri, tiny_model_dir, unique):
    experiment = f"exp-{unique}"
    uri = register_classifier(tiny_model_dir, f"clf-{unique}", "champion", experiment)
    assert uri == f"models:/clf-{unique}@champion"
    assert register_classifier(tiny_model_dir, f"clf-{unique}", "champion", experiment) == uri
    versions = MlflowClient().search_model_versions(f"name = 'clf-{unique}'")
    assert len(versions) == 1, "registering the same folder twice reuses its version"

    spec = ExplainerSpec(ExplainerConfig(max_evals=50))
    run_id = log_explainer(uri, spec, experiment, registered_model_name=f"expl-{unique}")
    tags = MlflowClient().get_run(run_id).data.tags
    assert tags[TAG_SOURCE_IDENTITY] == f"models:/clf-{unique}/1"
    by_version = log_explainer(f"models:/clf-{unique}/1", spec, experiment,
                               registered_model_name=f"expl-{unique}")
    assert by_version == run_id, "alias and version name the same source model"


def test_unknown_source_is_a_clear_error(tracking_uri, tmp_path, unique):
    with pytest.raises(ModelError, match="neither an MLflow model URI"):
        log_explainer(tmp_path, experiment=f"exp-{unique}")
    with pytest.raises(ModelError, match="cannot resolve"):
        log_explainer(f"models:/missing-{unique}@champion", experiment=f"exp-{unique}")
