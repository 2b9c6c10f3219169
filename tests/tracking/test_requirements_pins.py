"""The logged model's pins are the lock's pins (the venv is installed from the lock)."""

from pathlib import Path

from dlexplain.model.pyfunc import pinned_requirements

LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"


def test_pins_equal_the_lock():
    lock = {line.split("==")[0]: line.strip() for line in LOCK.read_text().splitlines()
            if "==" in line and not line.startswith("#")}
    for pin in pinned_requirements():
        assert lock[pin.split("==")[0]] == pin
