"""Which files a model folder may hold before anything in it is loaded: an allow-list.

A Hugging Face folder can carry code (``auto_map`` in ``config.json`` or ``tokenizer_config.json``
names ``modeling_*.py`` that ``trust_remote_code`` would import) and pickles (``*.bin`` weights go
through ``torch.load``). A classifier is loaded only from a folder whose every file is on
:data:`CLASSIFIER_FILES` (safetensors weights, JSON, tokenizer text and SentencePiece files), whose
configs name transformers' own classes and no ``auto_map``, and which holds no symlink; it is then
loaded with ``trust_remote_code=False`` and ``use_safetensors=True``. Nothing here imports the
files it checks: JSON is parsed, safetensors headers are read.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import cast

from dlexplain.errors import ModelError

#: Files a classifier folder may hold (weights, configs, tokenizer files), by name. One
#: ``model.safetensors``: a shard index may name any file (transformers ``torch.load``s a shard
#: whose name does not end in ``.safetensors``), so sharded weights are refused.
CLASSIFIER_FILES = frozenset(
    {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "vocab.txt",
        "vocab.json",
        "merges.txt",
        "spiece.model",
        "spm.model",
        "tokenizer.model",
        "sentencepiece.bpe.model",
        "accuracy.json",  # the embedded default model's held-out accuracy (dlexplain.defaults)
    }
)
#: Text files, checked to be UTF-8 without NUL bytes (no pickle or zip passes as one).
TEXT_SUFFIXES = (".txt",)
#: Keys of a config that make transformers import code from the folder or the Hub.
REMOTE_CODE_KEYS = ("auto_map",)
#: Keys of ``tokenizer_config.json`` that name files to load (possibly outside the folder:
#: ``fast_tokenizer_files`` is joined onto it unchecked); transformers finds the folder's own.
FILE_KEYS = re.compile(r"(_file|_files)$")
#: What to tell a user whose folder was refused.
ADVICE = (
    "save the classifier with transformers' save_pretrained(safe_serialization=True) "
    "from one of transformers' own architectures (no custom code, no pickle weights)"
)


def walk_files(folder: Path) -> list[str]:
    """Every regular file under ``folder`` (POSIX paths relative to it); :class:`ModelError` on a
    symlink or anything that is neither a file nor a folder (links are never followed)."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = Path(root, name)
            mode = os.lstat(path).st_mode
            relative = path.relative_to(folder).as_posix()
            if stat.S_ISLNK(mode):
                raise ModelError(f"{relative!r} is a symlink: a model folder holds none")
            if name in files and not stat.S_ISREG(mode):
                raise ModelError(f"{relative!r} is not a regular file")
            if name in files:
                found.append(relative)
    return sorted(found)


def read_json(path: Path) -> object:
    """``path`` parsed as JSON; :class:`ModelError` when it is not JSON."""
    try:
        return json.loads(path.read_bytes())
    except (ValueError, RecursionError) as err:
        raise ModelError(f"{path.name!r} is not JSON: {err}") from None


def check_safetensors(path: Path) -> None:
    """:class:`ModelError` unless ``path`` starts like a safetensors file (an 8-byte header
    length, then a JSON header within the file); a pickle under that name fails here."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 2 <= length <= size - 8:
            raise ModelError(f"{path.name!r} is not a safetensors file")
        header = handle.read(length)
    try:
        parsed = json.loads(header)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise ModelError(f"{path.name!r} is not a safetensors file (its header is not JSON)")


def check_file(path: Path) -> None:
    """The content check of one allowed file, by its format (JSON parses, safetensors header,
    text is UTF-8 without NUL bytes)."""
    if path.suffix == ".json":
        read_json(path)
    elif path.suffix == ".safetensors":
        check_safetensors(path)
    elif path.suffix in TEXT_SUFFIXES:
        data = path.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise ModelError(f"{path.name!r} is not UTF-8 text") from None
        if b"\0" in data:
            raise ModelError(f"{path.name!r} is not text (it holds NUL bytes)")


def check_config(folder: Path) -> None:
    """``config.json`` (and ``tokenizer_config.json``) name no remote code and only transformers'
    own classes; :class:`ModelError` says which key is refused."""
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    config = read_json(folder / "config.json")
    if not isinstance(config, dict):
        raise ModelError("config.json is not a JSON object")
    tokenizer_path = folder / "tokenizer_config.json"
    tokenizer = read_json(tokenizer_path) if tokenizer_path.is_file() else {}
    for name, values in (("config.json", config), ("tokenizer_config.json", tokenizer)):
        if not isinstance(values, dict):
            raise ModelError(f"{name} is not a JSON object")
        for key in REMOTE_CODE_KEYS:
            if key in values:
                raise ModelError(f"{name} has {key!r}: it names custom code, which is never run")
    tokenizer = cast("dict[str, object]", tokenizer)  # a JSON object: checked just above
    if config.get("model_type") not in CONFIG_MAPPING:
        raise ModelError(
            f"config.json: model_type {config.get('model_type')!r} is not one of "
            "transformers' own architectures"
        )
    for architecture in config.get("architectures") or []:
        if not isinstance(architecture, str) or not hasattr(transformers, architecture):
            raise ModelError(
                f"config.json: architecture {architecture!r} is not a transformers class"
            )
    named = sorted(
        key for key, value in tokenizer.items() if FILE_KEYS.search(key) and value is not None
    )
    if named:
        raise ModelError(
            f"tokenizer_config.json names files to load: {named}; the folder's own "
            "tokenizer files are found by name"
        )
    tokenizer_class = tokenizer.get("tokenizer_class")
    if tokenizer_class is not None and (
        not isinstance(tokenizer_class, str) or not hasattr(transformers, tokenizer_class)
    ):
        raise ModelError(
            f"tokenizer_config.json: tokenizer_class {tokenizer_class!r} is not a "
            "transformers class"
        )


def classifier_problem(folder: Path) -> str | None:
    """Why the Hugging Face folder ``folder`` must not be loaded, or None when every file in it
    is on the allow-list and its configs name no code."""
    folder = Path(folder)
    try:
        if not (folder / "config.json").is_file():
            return "it has no config.json (not a Hugging Face model folder)"
        files = walk_files(folder)
        others = [f for f in files if f not in CLASSIFIER_FILES]
        if others:
            return (
                f"it holds files that are not on the allow-list of a classifier folder: "
                f"{others[:5]}"
            )
        if "model.safetensors" not in files:
            return "it has no safetensors weights (model.safetensors, in one file)"
        for name in files:
            check_file(folder / name)
        check_config(folder)
    except ModelError as err:
        return str(err)
    return None


def check_classifier(folder: Path) -> None:
    """Raise :class:`ModelError` when ``folder`` must not be loaded (:func:`classifier_problem`)."""
    problem = classifier_problem(folder)
    if problem:
        raise ModelError(f"classifier folder {str(folder)!r} refused: {problem}; {ADVICE}")
