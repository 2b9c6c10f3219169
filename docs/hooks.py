"""mkdocs hook: the tables the documentation generates from the code, never copies by hand.

A page says where a table goes with a marker on a line of its own:

- ``<!-- dlexplain:settings -->``: every setting of :func:`dlexplain.config.settings_table`
  (variable, default, meaning), one table per section of :class:`dlexplain.config.Settings`;
- ``<!-- dlexplain:params DAG_ID -->``: the params of that DAG (param, default, allowed values,
  meaning), read from the DAG object itself: its ``Param`` defaults, descriptions and JSON schemas.

The DAG files of ``dags/`` are imported the way Airflow's DAG processor would see them (``dags/``,
``plugins/`` and ``include/`` on ``sys.path``); without ``AIRFLOW_HOME`` Airflow gets a throwaway
home under ``.dlexplain/``. :func:`param_names` is what the documentation test reads.
"""

from __future__ import annotations

import atexit
import functools
import html
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"

MARKER = re.compile(
    r"^[ \t]*<!--\s*dlexplain:(?P<kind>settings|params)(?:\s+(?P<arg>[\w.-]+))?\s*-->[ \t]*$",
    re.MULTILINE,
)


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace every marker of the page with its generated table."""

    def replace(match: re.Match) -> str:
        if match["kind"] == "settings":
            return settings_markdown()
        if not match["arg"]:
            raise ValueError(f"{page.file.src_uri}: 'dlexplain:params' needs a DAG id")
        return params_markdown(match["arg"])

    return MARKER.sub(replace, markdown)


# --- importing the code ---------------------------------------------------------------------------


def _prepare_imports() -> None:
    """``dags/``, ``plugins/`` and ``include/`` importable; Airflow configured before its import."""
    for folder in (REPO / "include", REPO / "plugins", DAGS):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    if not os.environ.get("AIRFLOW_HOME"):
        state = REPO / ".dlexplain"
        state.mkdir(exist_ok=True)
        home = tempfile.mkdtemp(prefix="docs-airflow-", dir=state)
        atexit.register(shutil.rmtree, home, ignore_errors=True)
        os.environ["AIRFLOW_HOME"] = home
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"


@functools.cache
def load_dags() -> dict[str, Any]:
    """Every DAG the files of ``dags/`` define, by DAG id."""
    _prepare_imports()
    import airflow.sdk  # noqa: F401  (Airflow installs its own warning display at import)

    with warnings.catch_warnings():  # what the DAGs' libraries warn about at import is not ours
        warnings.simplefilter("ignore")
        warnings.showwarning = lambda *args, **kwargs: None  # some add filters of their own
        return _load_dags()


def _load_dags() -> dict[str, Any]:
    from airflow.sdk import DAG

    found: dict[str, Any] = {}
    for path in sorted(DAGS.glob("*.py")):
        name = f"_dlexplain_docs_dag_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        dags = [value for value in vars(module).values() if isinstance(value, DAG)]
        if not dags:
            # ``@dag def x(): ...; x()`` keeps no DAG in the module: the decorated function
            # (defined in this module, wrapping the original) returns a new one when called
            for value in list(vars(module).values()):
                if (
                    callable(value)
                    and hasattr(value, "__wrapped__")
                    and getattr(value, "__module__", None) == name
                ):
                    made = value()
                    if isinstance(made, DAG):
                        dags.append(made)
        for dag in dags:
            found[dag.dag_id] = dag
    return found


def load_dag(dag_id: str):
    dags = load_dags()
    if dag_id not in dags:
        raise KeyError(f"no DAG {dag_id!r} in {DAGS} (found: {', '.join(sorted(dags)) or 'none'})")
    return dags[dag_id]


def param_names(dag_id: str) -> list[str]:
    """The names of a DAG's params, in the order the DAG declares them."""
    return list(load_dag(dag_id).params)


# --- cells --------------------------------------------------------------------------------------

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]|])")


def text(value: object) -> str:
    """Plain text for a table cell: one line, no HTML, no Markdown emphasis or column breaks."""
    one_line = re.sub(r"\s+", " ", str(value))
    return _MARKDOWN_SPECIALS.sub(r"\\\1", html.escape(one_line, quote=False))


def prose(value: object) -> str:
    """:func:`text`, with the text's own `code spans` kept as code."""
    parts = re.split(r"`([^`]*)`", " ".join(str(value).split()))  # odd parts: code spans
    return "".join(code(part) if i % 2 else text(part) for i, part in enumerate(parts))


def code(value: object) -> str:
    """Code for a table cell (``<code>``, so that ``|`` and backticks need no Markdown escape)."""
    one_line = " ".join(str(value).split())
    return "<code>" + html.escape(one_line, quote=False).replace("|", "&#124;") + "</code>"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# --- the settings ---------------------------------------------------------------------------------


def settings_markdown() -> str:
    _prepare_imports()
    from dlexplain.config import settings_table

    sections: dict[str, list[dict[str, str]]] = {}
    for row in settings_table():
        sections.setdefault(row["section"], []).append(row)
    parts = []
    for section, rows in sections.items():
        parts.append(f"### {section}\n")
        parts.append(
            _table(
                ["variable", "default", "meaning"],
                [
                    [
                        code(row["variable"]),
                        code(row["default"]) if row["default"] else "empty",
                        prose(row["meaning"]),
                    ]
                    for row in rows
                ],
            )
        )
        parts.append("")
    return "\n".join(parts)


# --- the params of a DAG --------------------------------------------------------------------------

_TYPES = {
    "string": "text",
    "integer": "integer",
    "number": "number",
    "boolean": "true or false",
    "array": "list",
    "object": "object",
}


def _json(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def default_cell(value: object) -> str:
    if value is None or value == "":
        return "empty"
    return code(_json(value))


def allowed_cell(schema: dict) -> str:
    """What the param's JSON schema allows, in words."""
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else list(types)
    nullable = "null" in types or None in schema.get("enum", [])
    types = [t for t in types if t != "null"]
    if "enum" in schema:
        words = "one of " + ", ".join(code(_json(v)) for v in schema["enum"] if v is not None)
    else:
        words = " or ".join(_TYPES.get(t, t) for t in types) or "any"
        if schema.get("format") == "date":
            words = "a date (YYYY-MM-DD)"
        elif "string" in types and schema.get("minLength", 0) >= 1:
            words = "non-empty " + words
        bounds = []
        if "minimum" in schema:
            bounds.append(f"≥ {schema['minimum']:,}")
        if "exclusiveMinimum" in schema:
            bounds.append(f"> {schema['exclusiveMinimum']:,}")
        if "maximum" in schema:
            bounds.append(f"≤ {schema['maximum']:,}")
        if "exclusiveMaximum" in schema:
            bounds.append(f"< {schema['exclusiveMaximum']:,}")
        if bounds:
            words += ", " + " and ".join(bounds)
    if nullable:
        words += ", or empty"
    return words


def params_rows(dag_id: str) -> list[list[str]]:
    dag = load_dag(dag_id)
    rows = []
    for name in dag.params:
        param = dag.params.get_param(name)
        rows.append(
            [
                code(name),
                default_cell(param.value),
                allowed_cell(dict(param.schema)),
                prose(param.description or ""),
            ]
        )
    return rows


def params_markdown(dag_id: str) -> str:
    rows = params_rows(dag_id)
    if not rows:
        return f"`{dag_id}` has no params."
    return _table(["param", "default", "allowed", "meaning"], rows) + "\n"
