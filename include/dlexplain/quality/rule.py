"""DriftRule: when a night counts as drifted, and which nights it is compared with, validated once.

The ``explain_reviews`` DAG builds it from its ``drift_*`` params in ``prepare`` (a bad value fails
the run before Spark starts) and again in ``check_drift``; the params' forms are generated from
the same rules (:func:`param_schemas`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from dlexplain.base.records import Record
from dlexplain.errors import ConfigError
from dlexplain.quality.drift import ALPHA, DRAWS, MIN_TEXTS, THRESHOLD

#: The smallest ``alpha`` allowed: a night's p-value is at least 1 / (DRAWS + 1) = 0.002, so an
#: alpha near it could hardly ever be reached.
MIN_ALPHA = 0.005
MAX_ALPHA = 0.5
MAX_BASELINE_NIGHTS = 366
MAX_MIN_TEXTS = 100_000


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _day(name: str, value: str | None) -> None:
    if value is None:
        return
    try:
        date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} must be a date (YYYY-MM-DD) or null") from None


@dataclass(frozen=True)
class DriftRule(Record):
    """A night drifted when its nDCG is below ``threshold`` and its p-value against chance below
    ``alpha``, with at least ``min_texts`` texts tonight and in the baseline; the baseline pools
    the ``baseline_nights`` latest nights of the same classifier, or the pinned range."""

    threshold: float = THRESHOLD
    alpha: float = ALPHA
    min_texts: int = MIN_TEXTS
    baseline_nights: int = 7
    baseline_from: str | None = None
    baseline_to: str | None = None

    def __post_init__(self) -> None:
        if not _number(self.threshold) or not 0 <= self.threshold <= 1:
            raise ConfigError(f"drift_threshold={self.threshold!r} must be a number from 0 to 1")
        if not _number(self.alpha) or not MIN_ALPHA <= self.alpha <= MAX_ALPHA:
            raise ConfigError(
                f"drift_alpha={self.alpha!r} must be a number from {MIN_ALPHA} to {MAX_ALPHA} "
                f"(a night's p-value is at least 1/{DRAWS + 1})"
            )
        for name, value, low, high in (
            ("drift_min_texts", self.min_texts, 2, MAX_MIN_TEXTS),
            ("drift_baseline_nights", self.baseline_nights, 1, MAX_BASELINE_NIGHTS),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ConfigError(f"{name}={value!r} must be an integer from {low} to {high}")
        _day("drift_baseline_from", self.baseline_from)
        _day("drift_baseline_to", self.baseline_to)
        if self.baseline_from and self.baseline_to and self.baseline_from > self.baseline_to:
            raise ConfigError(
                f"drift baseline range is empty: {self.baseline_from} is after {self.baseline_to}"
            )

    @property
    def pinned(self) -> bool:
        """Whether the baseline is a pinned range of nights (of any classifier)."""
        return bool(self.baseline_from or self.baseline_to)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> DriftRule:
        """The rule of a DAG run's ``drift_*`` params (a missing one: its default)."""
        defaults = cls()
        return cls(
            **{
                name: params.get(f"drift_{name}", getattr(defaults, name))
                for name in cls.__dataclass_fields__
            }
        )


def param_schemas() -> dict[str, dict[str, Any]]:
    """JSON-schema keywords of each ``drift_*`` param, from the rules :class:`DriftRule` checks."""
    return {
        "drift_threshold": {"type": "number", "minimum": 0, "maximum": 1},
        "drift_alpha": {"type": "number", "minimum": MIN_ALPHA, "maximum": MAX_ALPHA},
        "drift_min_texts": {"type": "integer", "minimum": 2, "maximum": MAX_MIN_TEXTS},
        "drift_baseline_nights": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_BASELINE_NIGHTS,
        },
        "drift_baseline_from": {"type": ["null", "string"], "format": "date"},
        "drift_baseline_to": {"type": ["null", "string"], "format": "date"},
    }
