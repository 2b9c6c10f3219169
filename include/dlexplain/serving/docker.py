"""The ``docker`` backend: ``dlexplain eaas serve`` in a container of the project image.

Containers carry labels with the explainer run id and registered version, so ``docker ps
--filter label=dlexplain.eaas`` shows what runs, and ``dlexplain.eaas.scope`` (the network and
the state file) tells one backend's containers from another's on the same engine. Where the
server is reached depends on ``network``: ``bridge``, the container's port 8080 mapped to a free
host port; ``host``, the
server listens on a free host port itself; any other (a user-defined network, e.g. the compose
stack's ``<project>_backend``), the container's name on that network, port 8080, nothing
published (the stack's EaaS front, :mod:`dlexplain.serving.front`, forwards to it).

Containers run with what a scoring server needs and no more: every capability dropped, no new
privileges, a read-only root file system (``/tmp`` a tmpfs), a bound on processes.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from dlexplain.base.processes import free_port
from dlexplain.model.refs import ExplainerRef
from dlexplain.serving.backend import DeployBackend
from dlexplain.serving.deployment import Deployment

LABEL = "dlexplain.eaas"
CONTAINER_PORT = 8080


class DockerBackend(DeployBackend):
    """Scoring servers as containers of ``image`` on the Docker Engine of ``client``."""

    name = "docker"

    def __init__(
        self,
        state_path: Path,
        *,
        image: str,
        network: str = "bridge",
        environment: dict[str, str] | None = None,
        volumes: dict | None = None,
        client=None,
        memory_mb: int = 4096,
        **kwargs,
    ):
        super().__init__(state_path, **kwargs)
        import docker

        # mypy takes `docker` for the repository's docker/ folder (a namespace package)
        self.client = client or docker.from_env()  # type: ignore[attr-defined]
        self.image = image
        self.network = network
        self.memory_mb = memory_mb
        self.environment = {
            **self.server_env,
            # the image's home may be read-only: keep the explanation cache in the container
            "DLEXPLAIN_EXPLANATION_CACHE_PATH": "/tmp/dlexplain/explanations.sqlite",
            "HOME": "/tmp",
            **(environment or {}),
        }
        self.volumes = volumes or {}
        self.scope = f"{network}:{state_path}"

    def start(self, target: ExplainerRef) -> Deployment:
        name = f"dlexplain-eaas-{target.run_id[:12]}-{secrets.token_hex(3)}"
        host, ports, placement = None, None, {"network_mode": self.network}
        if self.network == "host":
            port = free_port(self.url_host)
            command = self.serve_command(target, self.host, port)
        elif self.network == "bridge":
            port = free_port(self.url_host)
            command = self.serve_command(target, "0.0.0.0", CONTAINER_PORT)
            ports = {f"{CONTAINER_PORT}/tcp": (self.host, port)}
        else:
            host, port, placement = name, CONTAINER_PORT, {"network": self.network}
            command = self.serve_command(target, "0.0.0.0", CONTAINER_PORT)
        container = self.client.containers.run(
            self.image,
            ["python", *command],
            detach=True,
            name=name,
            labels={
                LABEL: "1",
                f"{LABEL}.run_id": target.run_id,
                f"{LABEL}.version": target.version or "",
                f"{LABEL}.model_uri": target.model_uri,
                f"{LABEL}.scope": self.scope,
            },
            environment=self.environment,
            ports=ports,
            **placement,
            volumes=self.volumes,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            read_only=True,
            tmpfs={"/tmp": "rw,exec"},
            pids_limit=1024,
            mem_limit=f"{self.memory_mb}m",
            memswap_limit=f"{self.memory_mb}m",
        )
        return self.deployment(target, port, container.id, host)

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
        """This backend's EaaS containers (its scope), running or not."""
        return self.client.containers.list(
            all=True, filters={"label": [LABEL, f"{LABEL}.scope={self.scope}"]}
        )
