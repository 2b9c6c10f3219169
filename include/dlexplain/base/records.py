"""Frozen dataclasses that cross a process seam (Airflow XCom, a JSON file) as plain JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any, TypeVar

from dlexplain.errors import DataError

R = TypeVar("R", bound="Record")


class Record:
    """Mixin for frozen dataclasses: ``to_json_dict`` writes, ``from_json_dict`` reads and checks.

    Writer and reader share the class, so a field renamed on one side breaks loudly on the other
    (a missing or unknown key is a :class:`DataError`), never silently.
    """

    def to_json_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict of the fields (what Airflow stores as XCom)."""
        return asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict())

    @classmethod
    def from_json_dict(cls: type[R], data: Mapping[str, Any]) -> R:
        """The record of ``data``; unknown keys and missing required keys are refused."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - names
        if unknown:
            raise DataError(f"{cls.__name__}: unknown fields {sorted(unknown)}")
        try:
            return cls(**data)
        except TypeError as err:
            raise DataError(f"{cls.__name__}: {err}") from err

    @classmethod
    def from_json(cls: type[R], text: str) -> R:
        return cls.from_json_dict(json.loads(text))
