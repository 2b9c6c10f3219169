"""The ``docker`` backend: ``dlexplain eaas serve`` in a container of the project image.

Containers carry labels with the explainer run id and registered version, so ``docker ps
--filter label=dlexplain.eaas`` shows what runs. With ``network="bridge"`` the container's port
8080 is mapped to a free host port; with ``network="host"`` the server listens on that port itself.
"""

from __future__ import annotations

from pathlib import Path

from dlexplain.base.processes import free_port
from dlexplain.serving.backend import DeployBackend
from dlexplain.serving.deployment import Deployment
from dlexplain.tracking.registry import ExplainerRef

LABEL = "dlexplain.eaas"
CONTAINER_PORT = 8080


class DockerBackend(DeployBackend):
    """Scoring servers as containers of ``image`` on the Docker Engine of ``client``."""

    name = "docker"

    def __init__(self, state_path: Path, *, image: str, network: str = "bridge",
                 environment: dict[str, str] | None = None, volumes: dict | None = None,
                 client=None, **kwargs):
        super().__init__(state_path, **kwargs)
        import docker

        self.client = client or docker.from_env()
        self.image = image
        self.network = network
        self.environment = {
            **self.server_env,
            # the image's home may be read-only: keep the explanation cache in the container
            "DLEXPLAIN_EXPLANATION_CACHE_PATH": "/tmp/dlexplain/explanations.sqlite",
            **(environment or {}),
        }
        self.volumes = volumes or {}

    def start(self, target: ExplainerRef) -> Deployment:
        port = free_port(self.url_host)
        if self.network == "host":
            command, ports = self.serve_command(target, self.host, port), None
        else:
            command = self.serve_command(target, "0.0.0.0", CONTAINER_PORT)
            ports = {f"{CONTAINER_PORT}/tcp": (self.host, port)}
        container = self.client.containers.run(
            self.image, ["python", *command], detach=True,
            name=f"dlexplain-eaas-{target.run_id[:12]}-{port}",
            labels={LABEL: "1", f"{LABEL}.run_id": target.run_id,
                    f"{LABEL}.version": target.version or "", f"{LABEL}.model_uri": target.model_uri},
            environment=self.environment, network_mode=self.network, ports=ports,
            volumes=self.volumes,
        )
        return self.deployment(target, port, container.id)

    def _container(self, deployment: Deployment):
        from docker.errors import NotFound

        try:
            return self.client.containers.get(deployment.handle)
        except NotFound:
            return None

    def problem(self, deployment: Deployment) -> str | None:
        container = self._container(deployment)
        if container is None:
            return f"container {deployment.handle[:12]} is gone"
        if container.status in ("running", "created", "restarting"):
            return None
        tail = container.logs(tail=40).decode(errors="replace")
        code = container.attrs.get("State", {}).get("ExitCode")
        return f"container {container.name} is {container.status} (exit code {code}):\n{tail}"

    def stop(self, deployment: Deployment) -> None:
        container = self._container(deployment)
        if container is not None:
            container.remove(force=True)

    def containers(self) -> list:
        """Every EaaS container on the engine, running or not."""
        return self.client.containers.list(all=True, filters={"label": LABEL})
