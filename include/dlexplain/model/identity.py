"""What identifies an explainer: its package code (digest, files), its source and settings
(``explainer_identity``), and the explanation cache's key derived from them."""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import metadata
from pathlib import Path

from dlexplain.explain.config import ExplainerConfig

#: The package an explainer is logged with (its ``code_paths``), and the file in it logged as
#: the model's code (models-from-code); ``dlexplain.model.trust`` compares both with a model's.
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def package_files(folder: Path) -> dict[str, bytes]:
    """The ``.py`` files of a package folder by relative path (``__pycache__`` skipped)."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*.py")
        if path.is_file() and "__pycache__" not in path.relative_to(folder).parts
    }


@functools.lru_cache(maxsize=1)
def code_digest(folder: Path = PACKAGE_DIR) -> str:
    """SHA-256 over the ``.py`` files of a package folder (relative path and bytes)."""
    digest = hashlib.sha256()
    for name, data in sorted(package_files(folder).items()):
        digest.update(name.encode() + b"\0" + data + b"\0")
    return digest.hexdigest()


def explainer_identity(source_key: str, config: ExplainerConfig, text_column: str) -> str:
    """What makes two explainers give the same values: the classifier's weights (by
    ``SourceModel.key``), the settings that change values, the input column, the package
    version and its code (an explainer logged by other code is never reused: the trust check
    would refuse it). Keys the registry's idempotency and the explanation cache alike."""
    payload = {
        "source": source_key,
        "engine": config.fingerprint(),
        "text_column": text_column,
        "dlexplain": metadata.version("dlexplain"),
        "code": code_digest(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def cache_identity(identity: str, classifier_dir: str) -> str:
    """The explanation cache's key of an explainer: its logged identity and the content digest
    of the classifier folder it loads."""
    from dlexplain.tracking.sources import folder_digest

    digest = folder_digest(Path(classifier_dir))
    return hashlib.sha256(f"{identity}:{digest}".encode()).hexdigest()


def legacy_identity(classifier_dir: str, config: ExplainerConfig) -> str:
    """The identity explainers logged by dlexplain 0.1 computed at every load (no identity in
    their model_config): kept so their cached explanations are still found."""
    from dlexplain.tracking.sources import folder_digest

    seed = f"{folder_digest(Path(classifier_dir))}:{config.fingerprint()}"
    return hashlib.sha256(seed.encode()).hexdigest()
