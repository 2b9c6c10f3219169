"""RunRequest: what one run asks of the explainer, validated once, where it comes in.

Every door builds one: the ``explain_reviews`` DAG's params (:meth:`RunRequest.from_params`, in
its ``prepare`` task), a served request's or a ``spark_udf`` call's params (the pyfunc's
``predict``), the CLI. Later stages receive the record (the Spark job reads it back with
:meth:`Record.from_json`, which checks it again by construction) or a field of it, never a string
to parse by their own rules. The DAG's param forms are generated from the same rules
(:func:`param_schemas`), so no form accepts what the record refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dlexplain.base.records import Record
from dlexplain.errors import ConfigError
from dlexplain.explain.config import (
    GRANULARITIES,
    MAX_MAX_EVALS,
    MIN_MAX_EVALS,
    check_granularity,
    check_max_evals,
)


class Method(StrEnum):
    """How values are computed: shap's exact Partition explainer, the gated fast network, or
    the fast network with each row checked and explained exactly where the check fails
    (``dlexplain.fast.verify``; each row's own ``method`` then says which produced it)."""

    EXACT = "exact"
    FAST = "fast"
    FAST_VERIFY = "fast+verify"


#: The ``method`` a run may name: a method, or ``fast+audit`` (fast, and a seeded sample of the
#: texts explained exactly too, whose fidelity is logged).
FAST_AUDIT = "fast+audit"
RUN_METHODS = (*(m.value for m in Method), FAST_AUDIT)
#: The seeds an audit sample may take (a 31-bit integer: Spark's hash seed).
MAX_SEED = 2**31 - 1


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_method(method: str) -> tuple[Method, bool]:
    """``(the method, whether a sample is audited)`` of a run's ``method``: the one rule of every
    door that takes a method (ConfigError naming the choices otherwise)."""
    if method == FAST_AUDIT:
        return Method.FAST, True
    try:
        return Method(method), False
    except ValueError:
        raise ConfigError(f"method {method!r} must be one of {list(RUN_METHODS)}") from None


@dataclass(frozen=True)
class RunRequest(Record):
    """One run's explanation settings; invalid values never make a record."""

    method: str = Method.EXACT.value
    #: the unit of the values (``GRANULARITIES``; a fast method answers token or word)
    granularity: str = "token"
    #: measure each explanation's faithfulness (ERASER, ~20 more forward passes a text)
    faithfulness: bool = False
    #: model evaluations per text of the explainer to use (None: the setting)
    max_evals: int | None = None
    #: share of the texts also explained exactly (fast only; 0: no audit)
    audit_fraction: float = 0.0
    #: seed of the audited sample
    audit_seed: int = 0

    def __post_init__(self) -> None:
        method, audited = parse_method(self.method)
        if audited:
            raise ConfigError(
                f"method {FAST_AUDIT!r} names a night's run: a request is method 'fast' with "
                "an audit_fraction"
            )
        check_granularity(self.granularity, method.value)
        if not isinstance(self.faithfulness, bool):
            raise ConfigError(f"faithfulness={self.faithfulness!r} must be true or false")
        if self.max_evals is not None:
            check_max_evals(self.max_evals)
        if isinstance(self.audit_fraction, bool) or not isinstance(
            self.audit_fraction, int | float
        ):
            raise ConfigError(f"audit_fraction={self.audit_fraction!r} must be a number")
        if not 0 <= self.audit_fraction <= 1:
            raise ConfigError(f"audit_fraction={self.audit_fraction!r} must be from 0 to 1")
        if self.audit_fraction and method is not Method.FAST:
            raise ConfigError("only a fast run audits a sample (method fast+audit)")
        if not _is_int(self.audit_seed) or not 0 <= self.audit_seed <= MAX_SEED:
            raise ConfigError(f"audit_seed={self.audit_seed!r} must be an integer 0..{MAX_SEED}")

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> RunRequest:
        """The request of a DAG run's params: ``method`` ``fast+audit`` is ``fast`` with the
        ``audit_fraction`` param; the audit params of another method are not used."""
        method, audited = parse_method(params.get("method", Method.EXACT.value))
        return cls(
            method=method.value,
            granularity=params.get("granularity", "token"),
            faithfulness=params.get("faithfulness", False),
            max_evals=params.get("max_evals"),
            audit_fraction=params.get("audit_fraction", 0.0) if audited else 0.0,
            audit_seed=params.get("audit_seed", 0) if audited else 0,
        )

    @property
    def audited(self) -> bool:
        return self.audit_fraction > 0

    @property
    def run_method(self) -> str:
        """The method as a run names it (``fast+audit`` when a sample is audited)."""
        return FAST_AUDIT if self.audited else self.method


def param_schemas() -> dict[str, dict[str, Any]]:
    """JSON-schema keywords of each request param, from the rules :class:`RunRequest` checks (the
    DAG's ``Param(default, **schema)``)."""
    return {
        "method": {"type": "string", "enum": list(RUN_METHODS)},
        "granularity": {"type": "string", "enum": list(GRANULARITIES)},
        "faithfulness": {"type": "boolean"},
        "max_evals": {
            "type": ["null", "integer"],
            "minimum": MIN_MAX_EVALS,
            "maximum": MAX_MAX_EVALS,
        },
        "audit_fraction": {"type": "number", "minimum": 0, "maximum": 1},
        "audit_seed": {"type": "integer", "minimum": 0, "maximum": MAX_SEED},
    }
