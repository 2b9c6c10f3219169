"""EaaS with the docker backend on a real Docker Engine: deploy, redeploy, rollback."""

from __future__ import annotations

import pytest
from docker.errors import NotFound

from dlexplain.model.lookup import newest_explainer
from dlexplain.serving.checks import ServingError, explain
from dlexplain.serving.docker import LABEL, DockerBackend
from dlexplain.serving.redeploy import redeploy
from tests.conftest import REPO
from tests.serving.conftest import break_weights, version_of
from tests.serving.docker_image import base_image, checkout_mounts

pytestmark = pytest.mark.slow
TEXTS = ["A wonderful, moving film.", "Dull and far too long.", "The cast is fine."]


@pytest.fixture(scope="session")
def docker_client():
    """The engine ``make test`` starts (scripts/docker_engine.sh); fails loudly when absent."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as err:  # noqa: BLE001 - any failure means: no engine
        pytest.fail(f"no Docker Engine answers ({err}); start one with scripts/docker_engine.sh")
    return client


def _served_by(url: str, run_id: str) -> None:
    rows = explain(url, TEXTS)
    assert [r["explainer_run_id"] for r in rows] == [run_id] * 3
    assert all(r["error"] is None and r["additivity_error"] < 1e-4 for r in rows)


def test_docker_deploy_redeploy_rollback(docker_client, settings, tracking_uri, tmp_path,
                                         mlflow_server, registered, log_version):
    volumes, environment = checkout_mounts(REPO)
    backend = DockerBackend(tmp_path / "deployment.json", tracking_uri=tracking_uri,
                            image=base_image(docker_client, settings.paths.cache_dir), network="host",
                            volumes=volumes, environment=environment, client=docker_client)
    try:
        run_a = log_version(max_evals=60)
        first = redeploy(backend, newest_explainer(registered), timeout=300)
        container_a = docker_client.containers.get(first.handle)
        assert container_a.labels[f"{LABEL}.run_id"] == run_a
        assert container_a.labels[f"{LABEL}.version"] == first.version == "1"
        _served_by(first.url, run_a)

        run_b = log_version(max_evals=80)
        second = redeploy(backend, newest_explainer(registered), timeout=300)
        assert backend.state.active() == second and second.run_id == run_b
        _served_by(second.url, run_b)
        with pytest.raises(NotFound):
            docker_client.containers.get(first.handle)
        assert [c.id for c in backend.containers()] == [second.handle]

        run_c = log_version(max_evals=100)
        break_weights(registered, version_of(registered, run_c))
        with pytest.raises(ServingError, match=f"redeploy of explainer run {run_c} rolled back"):
            redeploy(backend, newest_explainer(registered), timeout=300)
        assert backend.state.active() == second
        assert [c.id for c in backend.containers()] == [second.handle]
        _served_by(second.url, run_b)
        assert backend.state.history()[-1]["event"] == "rollback"
    finally:
        backend.undeploy()
        for container in backend.containers():
            container.remove(force=True)
