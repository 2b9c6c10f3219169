"""MLflow search filters, built in one place with every value quoted.

MLflow's filter grammar has no escape character: a value is written between single quotes, or
between double quotes when it holds a single quote. A value holding both kinds cannot be written
at all and is refused here, instead of silently matching something else.
"""

from __future__ import annotations

from collections.abc import Mapping

from dlexplain.errors import ConfigError


def quote(value: str) -> str:
    """``value`` as an MLflow filter string literal."""
    value = str(value)
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ConfigError(f"{value!r} holds both quote kinds; MLflow filters cannot search for it")


def tag(key: str) -> str:
    """The filter identifier of tag ``key`` (backquoted: tag keys hold dots)."""
    if "`" in key:
        raise ConfigError(f"tag key {key!r} holds a backquote; MLflow filters cannot name it")
    return f"tags.`{key}`"


def where(conditions: Mapping[str, str]) -> str:
    """``identifier = 'value' and …`` for each item of ``conditions`` (identifiers as MLflow
    names them: ``name``, ``run_id``, ``attributes.status``, or :func:`tag` of a key)."""
    return " and ".join(
        f"{identifier} = {quote(value)}" for identifier, value in conditions.items()
    )
