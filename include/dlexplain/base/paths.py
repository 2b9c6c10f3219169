"""Confined paths: a path a run may read or replace must lie under one of its roots.

A template such as ``{home}/data`` or ``../x`` resolves anywhere; the job then replaces whatever
folder that is. :func:`confined` resolves a local path the way the filesystem will (``..`` and
every symlink followed) and checks it against the roots; a URI (``s3://bucket/key``) is
normalised and checked by prefix, and one with ``..`` segments is refused outright.
"""

from __future__ import annotations

import os
import posixpath
import re

from dlexplain.errors import DataError


def _normal(path: str) -> str:
    if "://" in path:
        scheme, rest = path.split("://", 1)
        if ".." in rest.split("/"):
            raise DataError(f"{path!r} has '..' segments")
        return f"{scheme.lower()}://{posixpath.normpath(rest)}"
    return os.path.realpath(os.path.expanduser(path))


def confined(path: str, roots: list[str], what: str, setting: str) -> str:
    """``path`` resolved, when it lies strictly under one of ``roots``; else a ``DataError``
    naming ``what`` the path is for and the ``setting`` that lists the roots."""
    resolved = _normal(path)
    for root in roots:
        base = _normal(root)
        if resolved != base and resolved.startswith(base.rstrip("/") + "/"):
            return resolved
    raise DataError(
        f"the {what} {path!r} (resolved: {resolved!r}) is not under "
        f"{' or '.join(repr(_normal(r)) for r in roots)}; widen {setting} to "
        "allow it"
    )


#: A template's placeholders: a name in braces; anything else in braces is refused.
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def fill_template(template: str, fields: dict[str, str]) -> str:
    """``template`` with each ``{name}`` of ``fields`` replaced by its value, literally (no
    format spec, attribute or index is ever evaluated); :class:`DataError` for any other text in
    braces or a lone brace."""

    def value(match: re.Match) -> str:
        if match[1] not in fields:
            raise DataError(
                f"bad path template {template!r}: {{{match[1]}}} is not a placeholder;"
                f" use {', '.join('{' + name + '}' for name in fields)}"
            )
        return fields[match[1]]

    filled = _PLACEHOLDER.sub(value, template)
    if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
        raise DataError(
            f"bad path template {template!r}: a brace that opens or closes no "
            f"placeholder; use {', '.join('{' + name + '}' for name in fields)}"
        )
    return filled
