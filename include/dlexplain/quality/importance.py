"""Global token importance of a set of explanations (one night's partition, or several pooled).

Tokens are normalized (whitespace runs to one space, stripped, lower-cased; special tokens, which
are empty, are left out). For each class and token the table holds:

=============  ==============================================================================
``class``      the output class whose SHAP values are summed
``token``      the normalized token
``count``      occurrences over the explained texts
``texts``      explained texts in the table (the same on every row)
``sum_abs``    sum of |value|; ``sum_value``: sum of signed values (pooling adds these up)
``mean_abs``   mean |value| per occurrence; ``mean_value``: mean signed value per occurrence
``importance`` ``sum_abs / texts``: mean |value| per text, a text without the token counting 0
               (the tabular "mean |SHAP|" over rows); the ranking drift compares
=============  ==============================================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from dlexplain.explain.row import TextExplanation

COLUMNS = [
    "class",
    "token",
    "count",
    "texts",
    "sum_abs",
    "sum_value",
    "mean_abs",
    "mean_value",
    "importance",
]
_SPACES = re.compile(r"\s+")


def normalize_token(token: str) -> str:
    """The form tokens are compared in: one space for whitespace runs, stripped, lower case."""
    return _SPACES.sub(" ", token).strip().lower()


def _with_means(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table["mean_abs"] = table["sum_abs"] / table["count"]
    table["mean_value"] = table["sum_value"] / table["count"]
    table["importance"] = table["sum_abs"] / table["texts"]
    return table.sort_values(
        ["class", "importance", "token"], ascending=[True, False, True], ignore_index=True
    )[COLUMNS]


#: The per-text table (one row per explained text, class and token; ``text`` numbers the texts
#: from 0): what the drift check compares and its noise floor splits at random.
TEXT_COLUMNS = ["text", "class", "token", "count", "sum_abs", "sum_value"]


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {name: pd.Series(dtype=object if name in ("class", "token") else float) for name in columns}
    )


def text_tokens(rows: Sequence[TextExplanation]) -> pd.DataFrame:
    """The per-text table (:data:`TEXT_COLUMNS`) of the explained ``rows``; :func:`aggregate`
    turns it, or any part of it, into an importance table."""
    good = [row for row in rows if row.ok and row.tokens]
    if not good:
        return _empty(TEXT_COLUMNS)
    names = good[0].output_names
    text = np.repeat(np.arange(len(good)), [len(row.tokens) for row in good])
    tokens = [normalize_token(t) for row in good for t in row.tokens]
    values = np.concatenate([row.values for row in good])
    frames = []
    for index, name in enumerate(names):
        frame = pd.DataFrame({"text": text, "token": tokens, "value": values[:, index]})
        frame = frame[frame["token"] != ""]
        frame["abs"] = frame["value"].abs()
        grouped = frame.groupby(["text", "token"], sort=False).agg(
            count=("value", "size"), sum_abs=("abs", "sum"), sum_value=("value", "sum")
        )
        frames.append(grouped.reset_index().assign(**{"class": name}))
    return pd.concat(frames, ignore_index=True)[TEXT_COLUMNS]


def aggregate(texts: pd.DataFrame) -> pd.DataFrame:
    """The importance table of a per-text table (its texts: those with a ranked token)."""
    if texts.empty:
        return _empty(COLUMNS)
    summed = (
        texts.groupby(["class", "token"], sort=False)[["count", "sum_abs", "sum_value"]]
        .sum()
        .reset_index()
    )
    summed["texts"] = text_count(texts)
    return _with_means(summed)


def token_importance(rows: Sequence[TextExplanation]) -> pd.DataFrame:
    """The importance table (see the module docstring) of the explained ``rows``."""
    return aggregate(text_tokens(rows))


def pool(tables: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Several nights' per-text tables as one, the texts numbered anew."""
    parts, offset = [], 0
    for table in tables:
        if table.empty:
            continue
        numbers, _ = pd.factorize(table["text"], sort=True)
        parts.append(table.assign(text=numbers + offset))
        offset += int(numbers.max()) + 1
    if not parts:
        return text_tokens([])
    return pd.concat(parts, ignore_index=True)


def text_count(texts: pd.DataFrame) -> int:
    """How many texts a per-text table holds."""
    return int(texts["text"].nunique())


def classes(table: pd.DataFrame) -> list[str]:
    """The classes of a table, in the order they appear."""
    return list(dict.fromkeys(table["class"]))


def for_class(table: pd.DataFrame, class_name: str, *, min_count: int = 1) -> pd.DataFrame:
    """One class's rows, tokens seen at least ``min_count`` times, by importance."""
    rows = table[(table["class"] == class_name) & (table["count"] >= min_count)]
    return rows.sort_values(["importance", "token"], ascending=[False, True], ignore_index=True)


def top_signed(
    table: pd.DataFrame, class_name: str, k: int = 20, *, min_count: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``k`` tokens pushing hardest towards ``class_name`` and the ``k`` pushing hardest
    away from it, by mean signed value."""
    rows = for_class(table, class_name, min_count=min_count)
    towards = rows[rows["mean_value"] > 0].nlargest(k, "mean_value")
    away = rows[rows["mean_value"] < 0].nsmallest(k, "mean_value")
    return towards, away
