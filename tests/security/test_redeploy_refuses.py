"""Only explainers whose files are this package's are served: checked without loading them."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient

from dlexplain.model.identity import PACKAGE_DIR
from dlexplain.model.lookup import set_alias
from dlexplain.model.refs import ExplainerRef
from dlexplain.model.trust import UntrustedExplainer, untrusted
from dlexplain.serving.process import ProcessBackend
from dlexplain.serving.redeploy import redeploy
from dlexplain.tracking.runs import KIND_EXPLAINER, TAG_KIND
from tests.serving.conftest import version_of

MALICIOUS = '''
from pathlib import Path
Path({marker!r}).write_text("ran on import")  # what an attacker's code would do instead
from dlexplain.model.pyfunc_entry import *  # and then behave like the real thing
'''


class Echo(mlflow.pyfunc.PythonModel):
    """A harmless model, but logged the only way a class instance can be: cloudpickled."""

    def predict(self, context, model_input, params=None):
        return model_input


def _log_foreign(registered: str, tmp_path, **model) -> ExplainerRef:
    """A model logged by someone else under our registered name, its run tagged like ours."""
    with mlflow.start_run(tags={TAG_KIND: KIND_EXPLAINER}) as run:
        mlflow.pyfunc.log_model(name="explainer", registered_model_name=registered, **model)
    return ExplainerRef(run_id=run.info.run_id, model_uri=f"runs:/{run.info.run_id}/explainer",
                        registered_model=registered,
                        version=version_of(registered, run.info.run_id))


def test_redeploy_refuses_code_it_did_not_log_and_pickles(tracking_uri, log_version, registered,
                                                          dlexplain_home, tmp_path):
    trusted_run = log_version(20)
    trusted = ExplainerRef(run_id=trusted_run, model_uri=f"runs:/{trusted_run}/explainer",
                           registered_model=registered,
                           version=version_of(registered, trusted_run))
    assert untrusted(trusted) is None
    set_alias(registered, "production", trusted.version)

    marker = tmp_path / "marker"
    entry = tmp_path / "attack" / "pyfunc_entry.py"  # our entry file's name, other code
    entry.parent.mkdir()
    entry.write_text(MALICIOUS.format(marker=str(marker)))
    altered = _log_foreign(registered, tmp_path, python_model=str(entry),
                           code_paths=[str(PACKAGE_DIR)])
    pickled = _log_foreign(registered, tmp_path, python_model=Echo())
    marker.unlink()  # logging a models-from-code pyfunc imports it: in the attacker's process

    backend = ProcessBackend(dlexplain_home / "eaas" / "deployment.json",
                             tracking_uri=tracking_uri)
    # altered: our entry file's name, other code, none of log_explainer's config or artifacts
    for target, reason in ((altered, "its model_config has keys None"),
                           (pickled, "not a models-from-code pyfunc")):
        with pytest.raises(UntrustedExplainer, match=f"untrusted explainer .*{reason}"):
            redeploy(backend, target, 60)
        assert not marker.exists(), "the refused explainer's code never ran"
        assert backend.state.active() is None and backend.state.history() == []
        assert MlflowClient().get_model_version_by_alias(
            registered, "production").version == trusted.version
