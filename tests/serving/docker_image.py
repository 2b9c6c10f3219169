"""A base image for the docker-backend tests, built here: no registry can be reached.

A Debian bookworm ``minbase`` rootfs from ``debootstrap`` (with the shared libraries CPython
needs), imported once per engine. The project's venv, its Python and the repository are
bind-mounted read-only at their own paths, so the container runs this checkout's code.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

IMAGE_REPOSITORY, IMAGE_TAG = "dlexplain-test-base", "bookworm"
PACKAGES = ("libsqlite3-0", "libssl3", "libffi8", "zlib1g", "libbz2-1.0", "liblzma5",
            "libreadline8", "libncursesw6", "libuuid1", "ca-certificates", "libgomp1")
MIRROR = "http://deb.debian.org/debian"


def rootfs_tar(cache_dir: Path) -> Path:
    """The rootfs tarball, made with debootstrap on first use (about 45 s, 224 MB)."""
    tar = cache_dir / "rootfs" / f"bookworm-minbase-{len(PACKAGES)}.tar"
    if tar.is_file():
        return tar
    tar.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dlexplain-rootfs-") as work:
        root = Path(work) / "root"
        subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                        "bookworm", str(root), MIRROR], check=True, capture_output=True)
        partial = tar.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
        partial.rename(tar)
    return tar


def base_image(client, cache_dir: Path) -> str:
    """``dlexplain-test-base:bookworm`` on the engine of ``client``, imported when missing."""
    from docker.errors import ImageNotFound

    name = f"{IMAGE_REPOSITORY}:{IMAGE_TAG}"
    try:
        client.images.get(name)
    except ImageNotFound:
        client.api.import_image_from_file(str(rootfs_tar(cache_dir)), repository=IMAGE_REPOSITORY,
                                          tag=IMAGE_TAG)
    return name


def checkout_mounts(repo: Path) -> tuple[dict, dict]:
    """Volumes and environment that run this checkout's venv inside the test image."""
    venv = Path(sys.prefix)
    python_home = Path(sys.base_prefix).resolve()
    volumes = {str(path): {"bind": str(path), "mode": "ro"} for path in {venv, python_home, repo}}
    env = {"PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp"}
    return volumes, env
