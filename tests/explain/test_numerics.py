"""backend="auto": bf16 only where the hardware multiplies bfloat16, fp32 elsewhere."""

from __future__ import annotations

import logging
import subprocess

import pytest

from dlexplain.errors import ConfigError
from dlexplain.explain import numerics
from dlexplain.explain.classifier import TextClassifier
from dlexplain.explain.config import ExplainerConfig
from dlexplain.explain.engine import Explainer


def _lscpu_flags() -> set[str]:
    """The flags as lscpu reads them: a second source beside /proc/cpuinfo."""
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("Flags:"))
    return set(line.split(":", 1)[1].split())


def test_auto_on_this_machine_follows_its_cpu_flags(caplog):
    flags = _lscpu_flags()
    native = bool(flags & {"amx_bf16", "avx512_bf16"})
    with caplog.at_level(logging.INFO, logger="dlexplain.explain.numerics"):
        chosen = numerics.resolve_backend("auto", "cpu")
    # bf16 without native units is several times slower than fp32 (the module's docstring)
    assert chosen == ("bf16" if native else "fp32")
    assert f"backend auto on cpu: {chosen}" in caplog.text
    figures = numerics.machine_figures()
    assert figures["flag_amx_bf16"] == ("amx_bf16" in flags)
    assert figures["torch_threads"] >= 1 and figures["cpu"] != "unknown"


@pytest.mark.parametrize("flags, expected", [
    ({"avx2", "avx512f"}, "fp32"),  # an AMD EPYC without bf16 units (the machine)
    ({"avx2", "avx512f", "avx512_bf16"}, "bf16"),
    ({"avx2", "amx_tile", "amx_bf16"}, "bf16"),
    (set(), "fp32"),  # flags unreadable: the safe choice
])
def test_auto_picks_bf16_only_with_native_units(monkeypatch, flags, expected):
    monkeypatch.setattr(numerics, "cpu_flags", lambda: frozenset(flags))
    assert numerics.resolve_backend("auto", "cpu") == expected


def test_bf16_without_native_units_warns_loudly_and_unknown_is_refused(monkeypatch, caplog):
    monkeypatch.setattr(numerics, "cpu_flags", lambda: frozenset({"avx2"}))
    with pytest.warns(RuntimeWarning, match="slower than fp32"):
        assert numerics.resolve_backend("bf16", "cpu") == "bf16"
    assert "use backend 'auto' or 'fp32'" in caplog.text
    with pytest.raises(ConfigError, match="int8"):
        numerics.resolve_backend("int8", "cpu")
    with pytest.raises(ConfigError, match="backend"):
        ExplainerConfig(backend="fastest")


def test_the_engine_explains_with_the_resolved_backend(tiny_classifier, monkeypatch):
    monkeypatch.setattr(numerics, "cpu_flags", lambda: frozenset({"avx2"}))
    classifier = TextClassifier(tiny_classifier.model, tiny_classifier.tokenizer, device="cpu",
                                backend="auto")
    assert classifier.backend == "fp32"
    explainer = Explainer(classifier, ExplainerConfig(max_evals=20, backend="auto"))
    assert explainer.config.backend == "fp32"
    assert explainer.config.fingerprint() == ExplainerConfig(max_evals=20,
                                                                masking="text").fingerprint()
    with pytest.raises(ConfigError, match="bf16"):
        Explainer(classifier, ExplainerConfig(backend="bf16"))


def test_bf16_rows_are_as_additive_as_fp32_ones(tiny_classifier):
    """bfloat16 changes a model's last bits with each batch's make-up, but each distinct masked
    input is evaluated once per group, the text's own probabilities included: bf16 rows are
    stored within the same 1e-6 as fp32 ones."""
    from dlexplain.explain.inputs import ADDITIVITY_TOLERANCE

    classifier = TextClassifier(tiny_classifier.model, tiny_classifier.tokenizer, device="cpu",
                                backend="bf16")
    texts = ["the film was great", "a dull and boring movie , a waste of time",
             "love this story , best acting !"]
    for row in Explainer(classifier, ExplainerConfig(max_evals=60, backend="bf16")).explain(texts):
        assert row.ok and row.additivity_error <= ADDITIVITY_TOLERANCE, row.additivity_error
