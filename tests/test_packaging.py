"""Packaging: conda.yaml pins equal the lock's; the lock pins the stack the issues name."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.strip().lstrip("- ").strip()
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def test_conda_pins_equal_the_lock():
    lock = _pins((ROOT / "requirements.lock").read_text().splitlines())
    conda = _pins((ROOT / "conda.yaml").read_text().splitlines())
    assert conda == lock


def test_lock_pins_the_stack():
    lock = _pins((ROOT / "requirements.lock").read_text().splitlines())
    assert lock["apache-airflow"] == "3.3.2"
    assert lock["apache-airflow-providers-apache-spark"] == "6.3.4"
    assert lock["mlflow"] == "3.17.2" and lock["shap"] == "0.51.0"
    assert lock["torch"] == "2.13.0", "no local tag: installs from the index where no wheel is"
    assert lock["pyspark"] == lock["pyspark-client"] == "4.2.0"
    assert lock["transformers"].startswith("5.24.")
    assert lock["numpy"].startswith("2.") and lock["pandas"].startswith("2.")
