"""ExplainerConfig: the one definition and the one validator of an explainer's settings.

``dlexplain.config.Settings`` builds it from ``DLEXPLAIN_*`` variables, the DAGs' params fall
back to those settings, and the logged pyfunc stores it in its ``model_config``. Nothing heavy is
imported here, so DAG files may read the bounds (``MIN_MAX_EVALS``) for their param forms.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from dlexplain.errors import ConfigError

#: Model numerics: fp32 (equal to shap on the pipeline), bf16 (bfloat16 autocast: faster where
#: the CPU has AMX/AVX-512-BF16 or on CUDA, slower elsewhere; fidelity in
#: ``bench/bench_explain.py``) or auto (bf16 where it is native, fp32 elsewhere:
#: ``dlexplain.explain.numerics``).
BACKENDS = ("auto", "fp32", "bf16")
#: Torch devices: auto (CUDA when present), cpu or cuda.
DEVICES = ("auto", "cpu", "cuda")
#: How masked texts reach the model: ``auto`` (decided per tokenizer by probing it,
#: ``dlexplain.explain.masking.choose_masking``), ``text`` (shap's string masker) or
#: ``token_ids`` (the text's own token ids, masked positions set to the mask token).
MASKINGS = ("auto", "text", "token_ids")
#: Units of explanation: each token (the default), or words, sentences or paragraphs masked
#: as wholes (``dlexplain.explain.units``).
GRANULARITIES = ("token", "word", "sentence", "paragraph")
#: The units a fast explainer answers: it is trained on token values, and a word's value is the
#: sum of its tokens' (exact for an additive explainer); coarser units need their own training.
FAST_GRANULARITIES = ("token", "word")
#: shap's Partition explainer needs at least two evaluations (the empty and the full text).
MIN_MAX_EVALS = 2
#: The most evaluations per text any door accepts (params, CLI, settings, logged configs): 5x the
#: finest reference we compute (2000); a larger value is a typo or an attack on the servers.
MAX_MAX_EVALS = 10_000
#: The most held-out texts a fast explainer's training explains with the finer reference.
MAX_REFERENCE_TEXTS = 1024
#: Version of how values are computed (shap call, tie-break seeding); part of the fingerprint.
ALGORITHM = 2


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _good_max_evals(value: Any) -> bool:
    """The one rule of evaluations per text, whichever door takes them (settings, params, the
    CLI, a logged config, a run's request: all through :meth:`ExplainerConfig.problem`)."""
    return _positive(value) and MIN_MAX_EVALS <= value <= MAX_MAX_EVALS


#: field -> (test, what a good value is); the fields absent here need no check
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "max_evals": (_good_max_evals, f"must be an integer from {MIN_MAX_EVALS} to {MAX_MAX_EVALS}"),
    "batch_size": (_positive, "must be a positive integer"),
    "max_tokens": (lambda v: v is None or _positive(v), "must be a positive integer or None"),
    "parallel_texts": (_positive, "must be a positive integer"),
    "backend": (lambda v: v in BACKENDS, f"must be one of {BACKENDS}"),
    "masking": (lambda v: v in MASKINGS, f"must be one of {MASKINGS}"),
}


def check_max_evals(value: int, name: str = "max_evals") -> int:
    """``value`` if it is a good ``max_evals`` (ConfigError naming ``name`` otherwise): the one
    rule of every door that takes evaluations per text."""
    problem = ExplainerConfig.problem("max_evals", value)
    if problem:
        raise ConfigError(f"{name}: {problem}")
    return value


def check_granularity(granularity: str, method: str = "exact") -> str:
    """``granularity`` if it is one of ``GRANULARITIES`` and ``method`` answers it (a fast one:
    ``FAST_GRANULARITIES``); ConfigError saying why otherwise."""
    if granularity not in GRANULARITIES:
        raise ConfigError(f"granularity {granularity!r} is not one of {GRANULARITIES}")
    if method != "exact" and granularity not in FAST_GRANULARITIES:
        raise ConfigError(
            f"method {method!r} answers granularity "
            f"{' or '.join(FAST_GRANULARITIES)}, not {granularity!r}: the fast "
            "explainer is trained on token values; use method exact"
        )
    return granularity


def check_device(device: str) -> str:
    """``device`` if it is one of ``DEVICES`` (ConfigError otherwise)."""
    if device not in DEVICES:
        raise ConfigError(f"device {device!r} is not one of {DEVICES}")
    return device


@dataclass(frozen=True)
class ExplainerConfig:
    """Knobs of an explanation; its ``fingerprint`` identifies settings that change values."""

    #: Model evaluations per explained text (shap's max_evals).
    max_evals: int = 500
    #: Masked texts per model forward pass.
    batch_size: int = 64
    #: Tokens kept per text (without special tokens); None → the model's limit.
    max_tokens: int | None = None
    #: Texts explained in lock-step, their model calls merged (speed only, not values).
    parallel_texts: int = 32
    #: Model numerics: "fp32" (equal to shap on the pipeline), "bf16" (faster where native,
    #: approximate) or "auto" (the faster of the two on the machine that runs it).
    backend: str = "fp32"
    #: "auto" (probe the tokenizer), "text" or "token_ids"; an explainer stores its resolved
    #: choice here, so a logged explainer masks as it did when it was built.
    masking: str = "auto"

    def __post_init__(self) -> None:
        for f in fields(self):
            problem = self.problem(f.name, getattr(self, f.name))
            if problem:
                raise ConfigError(f"ExplainerConfig.{problem}")

    @staticmethod
    def problem(name: str, value: Any) -> str | None:
        """Why ``value`` is no good for field ``name`` (``"name=value must …"``), or None."""
        test, rule = _RULES.get(name, (lambda v: True, ""))
        return None if test(value) else f"{name}={value!r} {rule}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_strings(cls, values: dict[str, str]) -> ExplainerConfig:
        """The config whose :meth:`to_dict` was logged as strings (MLflow params); other keys
        are ignored."""

        def parse(name: str, raw: str):
            if name in ("backend", "masking"):
                return raw
            return None if raw == "None" else int(raw)

        return cls(
            **{f.name: parse(f.name, values[f.name]) for f in fields(cls) if f.name in values}
        )

    def fingerprint(self) -> str:
        """Stable short hash of the settings that change explanation values (``auto`` is its
        own value here, for the backend and the masking: resolve it with the explainer's
        choice to key what it computed)."""
        relevant = {
            "max_evals": self.max_evals,
            "max_tokens": self.max_tokens,
            "algorithm": ALGORITHM,
            "backend": self.backend,
            "masking": self.masking,
        }
        return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]
