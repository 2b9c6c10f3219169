"""Parsers of settings values: each takes the variable's text and returns the value, or raises
ValueError saying what a good value is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dlexplain.errors import ConfigError
from dlexplain.explain.config import check_device


def path(value: str) -> Path:
    return Path(value).expanduser()


def optional_path(value: str) -> Path | None:
    return Path(value).expanduser() if value else None


def int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if number < minimum:
            raise ValueError(f"must be >= {minimum}")
        return number

    return parse


positive_int, count = int_at_least(1), int_at_least(0)


def nonempty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def roots(value: str) -> tuple[str, ...]:
    roots = tuple(part.strip() for part in value.split(",") if part.strip())
    if not roots:
        raise ValueError("must name at least one folder or URI prefix")
    return roots


def addresses(value: str) -> tuple[str, ...]:
    found = tuple(part.strip() for part in value.split(",") if part.strip())
    bad = [a for a in found if "@" not in a or any(c.isspace() for c in a)]
    if bad:
        raise ValueError(f"must be e-mail addresses, comma-separated (not {bad})")
    return found


def share(value: str) -> float:
    share = float(value)
    if not 0 <= share <= 1:
        raise ValueError("must be between 0 and 1")
    return share


def switch(value: str) -> bool:
    if value.lower() not in ("on", "off"):
        raise ValueError("must be 'on' or 'off'")
    return value.lower() == "on"


def choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {choices}")
        return value

    return parse


def device(value: str) -> str:
    try:
        return check_device(value)
    except ConfigError as err:
        raise ValueError(str(err)) from err
