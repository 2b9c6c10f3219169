"""What an attacker with a user of the tracking server can do: payloads and tampered models.

Every payload is harmless but real: it writes a marker file when it runs. A test performs the
attack against the real server (and the real scoring server or Spark job) and asserts that it is
refused with a message and that the marker was never written.
"""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import yaml

from dlexplain.model.refs import ExplainerRef
from dlexplain.tracking.runs import KIND_EXPLAINER, TAG_KIND

#: Python that writes a marker when it is imported or executed.
PAYLOAD = 'from pathlib import Path\nPath({marker!r}).write_text("attacker code ran")\n'


class Marker:
    """A file the attacker's code writes: absent until, and unless, that code runs."""

    def __init__(self, path: Path):
        self.path = path

    def payload(self) -> str:
        return PAYLOAD.format(marker=str(self.path))

    @property
    def written(self) -> bool:
        return self.path.exists()


def read_mlmodel(folder: Path) -> dict:
    return yaml.safe_load((folder / "MLmodel").read_text())


def write_mlmodel(folder: Path, mlmodel: dict) -> None:
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))


def classifier_dir(folder: Path) -> Path:
    """The classifier artifact folder of a downloaded explainer."""
    flavor = read_mlmodel(folder)["flavors"]["python_function"]
    return folder / flavor["artifacts"]["classifier"]["path"]


def upload(folder: Path, tags: dict | None = None, status: str = "FINISHED") -> ExplainerRef:
    """Log ``folder`` as the model ``explainer`` of a new run tagged as an explainer, as any user
    who may create runs can (MLflow's logged-model API, no pyfunc call), ending the run with
    ``status``; its ref (``models:/<model id>``)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    run = mlflow.start_run(tags={TAG_KIND: KIND_EXPLAINER, **(tags or {})})
    model = client.create_logged_model(run.info.experiment_id, name="explainer",
                                       source_run_id=run.info.run_id)
    client.log_model_artifacts(model.model_id, str(folder))
    client.finalize_logged_model(model.model_id, "READY")
    mlflow.end_run(status)
    return ExplainerRef(run_id=run.info.run_id, model_uri=f"models:/{model.model_id}")


def tampered_copy(trusted: Path, workdir: Path, name: str) -> Path:
    """A copy of the downloaded trusted explainer ``trusted`` to tamper with."""
    copy = workdir / name
    shutil.copytree(trusted, copy, symlinks=True)
    return copy


def nested_model(folder: Path, marker: Marker) -> None:
    """Issue 25, item 1: a ``data:`` key that sends MLflow's loader to a subfolder with its own
    ``MLmodel`` and entry file (the attacker's), the top level untouched."""
    inner = folder / "artifacts" / "nested"
    inner.mkdir(parents=True)
    (inner / "pyfunc_entry.py").write_text(
        marker.payload() + "import mlflow\nfrom dlexplain.model.pyfunc import ExplainerModel\n"
        "mlflow.models.set_model(ExplainerModel())\n")
    mlmodel = read_mlmodel(folder)
    inner_mlmodel = {"flavors": {"python_function": {
        **mlmodel["flavors"]["python_function"], "model_code_path": "pyfunc_entry.py"}}}
    write_mlmodel(inner, inner_mlmodel)
    shutil.copytree(classifier_dir(folder), inner / classifier_dir(folder).relative_to(folder))
    mlmodel["flavors"]["python_function"]["data"] = "artifacts/nested"
    write_mlmodel(folder, mlmodel)


def changed_package_file(folder: Path, marker: Marker) -> None:
    """A package file other than the entry file, with the payload appended."""
    target = folder / "code" / "dlexplain" / "model" / "pyfunc.py"  # what the entry imports
    target.write_text(target.read_text() + "\n" + marker.payload())


def pickle_weights(folder: Path, marker: Marker) -> None:
    """The classifier's weights replaced by a pickle that runs the payload when unpickled."""
    (classifier_dir(folder) / "model.safetensors").write_bytes(pickle.dumps(Unpickles(marker)))


def pickle_shard(folder: Path, marker: Marker) -> None:
    """A pickle under a name no suffix list knows (a shard an index file would name)."""
    (classifier_dir(folder) / "weights.shard-00001").write_bytes(pickle.dumps(Unpickles(marker)))


def pycache_file(folder: Path, marker: Marker) -> None:
    """An extra file under ``code/dlexplain/__pycache__`` (once skipped by the code digest)."""
    cache = folder / "code" / "dlexplain" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "engine.cpython-311.pyc").write_bytes(b"\x00" * 16 + marker.payload().encode())


def extra_file(folder: Path, marker: Marker) -> None:
    """A file the logger never writes, at the model's root."""
    (folder / "sitecustomize.py").write_text(marker.payload())


def absolute_artifact(folder: Path, marker: Marker) -> None:
    """The classifier artifact's path absolute: outside the checked folder."""
    mlmodel = read_mlmodel(folder)
    mlmodel["flavors"]["python_function"]["artifacts"]["classifier"]["path"] = str(
        classifier_dir(folder).resolve())
    write_mlmodel(folder, mlmodel)


def escaping_artifact(folder: Path, marker: Marker) -> None:
    """The classifier artifact's path leaving the model folder with ``..``."""
    mlmodel = read_mlmodel(folder)
    artifacts = mlmodel["flavors"]["python_function"]["artifacts"]
    artifacts["classifier"]["path"] = "artifacts/../../outside/classifier"
    write_mlmodel(folder, mlmodel)


def foreign_model_config(folder: Path, marker: Marker) -> None:
    """A ``model_config`` with a key dlexplain never writes."""
    mlmodel = read_mlmodel(folder)
    mlmodel["flavors"]["python_function"]["config"]["loader"] = str(marker.path)
    write_mlmodel(folder, mlmodel)


def symlinked_file(folder: Path, marker: Marker) -> None:
    """The tokenizer replaced by a symlink to a file outside the model (a secret, say)."""
    target = classifier_dir(folder) / "tokenizer.json"
    target.unlink()
    target.symlink_to("/etc/hostname")


def remote_code_config(folder: Path, marker: Marker) -> None:
    """The classifier's config names custom code (``auto_map``) and ships it."""
    classifier = classifier_dir(folder)
    add_remote_code(classifier, marker)


def add_remote_code(classifier: Path, marker: Marker) -> None:
    """Turn a Hugging Face folder into one whose ``auto_map`` names a ``modeling_evil.py`` that
    runs the payload when transformers imports it with ``trust_remote_code``."""
    import json

    config = json.loads((classifier / "config.json").read_text())
    config["auto_map"] = {
        "AutoConfig": "configuration_evil.EvilConfig",
        "AutoModelForSequenceClassification": "modeling_evil.EvilModel"}
    (classifier / "config.json").write_text(json.dumps(config))
    base = config["architectures"][0]
    family = config["model_type"]
    (classifier / "configuration_evil.py").write_text(
        marker.payload() + f"from transformers import AutoConfig\n"
        f"EvilConfig = type(AutoConfig.for_model({family!r}))\n")
    (classifier / "modeling_evil.py").write_text(
        marker.payload() + f"from transformers import {base} as EvilModel\n")


def requirements_include(folder: Path, marker: Marker) -> None:
    """``requirements.txt`` that includes a file elsewhere (MLflow's loader reads it and logs its
    lines: a token file's content in the task log) and names a module to import."""
    (folder / "requirements.txt").write_text("-r /etc/hostname\nthis\n")


def input_example_elsewhere(folder: Path, marker: Marker) -> None:
    """``saved_input_example_info`` naming a file outside the model (MLflow opens and parses it)."""
    mlmodel = read_mlmodel(folder)
    mlmodel["saved_input_example_info"]["artifact_path"] = "../../../../etc/hostname"
    write_mlmodel(folder, mlmodel)


def shard_index(folder: Path, marker: Marker) -> None:
    """Sharded weights whose index names a pickle saved as ``vocab.txt`` (transformers would
    ``torch.load`` a shard whose name does not end in ``.safetensors``)."""
    import json

    classifier = classifier_dir(folder)
    (classifier / "model.safetensors").rename(classifier / "model-00001-of-00001.safetensors")
    (classifier / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"classifier.weight": "vocab.txt"}}))
    (classifier / "vocab.txt").write_bytes(pickle.dumps(Unpickles(marker)))


def pickle_as_text(folder: Path, marker: Marker) -> None:
    """A pickle under an allowed text file's name."""
    (classifier_dir(folder) / "vocab.txt").write_bytes(pickle.dumps(Unpickles(marker)))


def tokenizer_file_elsewhere(folder: Path, marker: Marker) -> None:
    """``tokenizer_config.json`` naming a fast tokenizer file outside the folder."""
    import json

    path = classifier_dir(folder) / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["fast_tokenizer_files"] = ["../../../../tmp/tokenizer.1.0.json"]
    path.write_text(json.dumps(config))


def changed_entry_file(folder: Path, marker: Marker) -> None:
    """The root entry file MLflow runs, with the payload appended (everything else ours)."""
    entry = folder / "pyfunc_entry.py"
    entry.write_text(entry.read_text() + "\n" + marker.payload())


def auto_map_only(folder: Path, marker: Marker) -> None:
    """The classifier's config names remote code, and no code file is shipped with it (the
    Hub would be asked for it)."""
    import json

    path = classifier_dir(folder) / "config.json"
    config = json.loads(path.read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "evil/repo--modeling.EvilModel"}
    path.write_text(json.dumps(config))


def unchanged(folder: Path, marker: Marker) -> None:
    """The trusted explainer's own files, logged again by another run (its identity and run id
    copied: it would share the trusted explainer's cached explanations)."""


class Unpickles:
    """An object whose unpickling writes the marker (what a pickle weights file can do)."""

    def __init__(self, marker: Marker):
        self.path = str(marker.path)

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "attacker pickle ran"))


#: tamper name -> (tamper, the words of the refusal)
FOLDER_ATTACKS = {
    "nested_model_via_data_key": (nested_model, "keys dlexplain never writes: ['data']"),
    "changed_package_file": (changed_package_file, "its code differs from the installed"),
    "pickle_weights": (pickle_weights, "is not a safetensors file"),
    "pickle_with_unknown_suffix": (pickle_shard, "not on the allow-list"),
    "pycache_file": (pycache_file, "code differs from the installed"),
    "extra_file": (extra_file, "not on the allow-list"),
    "absolute_artifact_path": (absolute_artifact, "outside the model's artifacts/"),
    "escaping_artifact_path": (escaping_artifact, "outside the model's artifacts/"),
    "foreign_model_config": (foreign_model_config, "its model_config has keys"),
    "remote_code_classifier": (remote_code_config, "not on the allow-list"),
    # uploading dereferences a symlink: its target's bytes (a secret) arrive as the file
    "symlink_uploaded": (symlinked_file, "'tokenizer.json' is not JSON"),
    "requirements_include": (requirements_include, "requirements"),
    "input_example_elsewhere": (input_example_elsewhere, "saved_input_example_info"),
    "shard_index": (shard_index, "not on the allow-list"),
    "pickle_as_text": (pickle_as_text, "'vocab.txt' is not"),
    "tokenizer_file_elsewhere": (tokenizer_file_elsewhere, "names files to load"),
    "copied_run": (unchanged, "its model_config names run"),
    "changed_entry_file": (changed_entry_file, "pyfunc_entry.py logged by another version"),
    "auto_map_only": (auto_map_only, "config.json has 'auto_map'"),
}


def mlflow_load_runs(folder: Path, marker: Marker, tmp: Path) -> bool:
    """Does MLflow's own loader, on ``folder``, with pickles disallowed, run the payload? (The
    attack is real: what the trust check refuses would run code.) In a subprocess."""
    code = ("import os, sys, mlflow\nos.environ['MLFLOW_ALLOW_PICKLE_DESERIALIZATION']='false'\n"
            "try:\n    mlflow.pyfunc.load_model(sys.argv[1])\nexcept Exception as err:\n"
            "    print(type(err).__name__, err)\n")
    subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, timeout=300,
                   cwd=tmp)
    ran = marker.written
    if ran:
        marker.path.unlink()
    return ran


def stored_folder(server_root: str, model_uri: str) -> Path:
    """Where the tracking server keeps the files of the logged model ``models:/<model id>``
    (what whoever can write the artifact store, or the bucket behind it, can swap)."""
    location = mlflow.get_logged_model(model_uri.removeprefix("models:/")).artifact_location
    return Path(server_root) / "artifacts" / location.removeprefix("mlflow-artifacts:/")
