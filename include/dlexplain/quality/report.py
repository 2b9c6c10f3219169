"""What a person reads: the signed importance bar plot and the drift report (one HTML file with
its plots inline, so it renders straight from the MLflow artifact URL)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from dlexplain.quality.drift import Drift
from dlexplain.quality.importance import for_class, top_signed

#: Tokens shown each way in the signed plot, and per class in the drift plot.
SHOWN = 20


def _figure(height: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(8, height))


def _png(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _label(token: str) -> str:
    """A token as a tick label: ``$`` escaped (matplotlib reads ``$...$`` as math text, and a
    sentence or paragraph may hold two)."""
    return token.replace("$", r"\$")


def signed_importance_png(
    table: pd.DataFrame, class_name: str, *, k: int = SHOWN, title: str = ""
) -> bytes:
    """Bars of the ``k`` tokens pushing hardest towards ``class_name`` (red, right) and away
    from it (blue, left), by mean signed SHAP value, with their counts."""
    towards, away = top_signed(table, class_name, k)
    rows = pd.concat([away.iloc[::-1], towards.iloc[::-1]])  # strongest at the ends
    figure, axes = _figure(max(2.5, 0.25 * len(rows) + 1))
    labels = [f"{_label(t)} ({c})" for t, c in zip(rows["token"], rows["count"])]
    colors = ["#ff0051" if v > 0 else "#008bfb" for v in rows["mean_value"]]  # shap's colors
    axes.barh(range(len(rows)), rows["mean_value"], color=colors)
    axes.set_yticks(range(len(rows)), labels)
    axes.axvline(0, color="#999999", linewidth=0.8)
    axes.set_xlabel(f"mean SHAP value for {class_name} (token count)")
    axes.set_title(title or f"tokens for and against {class_name}")
    return _png(figure)


def write_signed_importance(table: pd.DataFrame, class_name: str, path: Path, **kwargs) -> None:
    path.write_bytes(signed_importance_png(table, class_name, **kwargs))


def _comparison_png(
    tonight: pd.DataFrame, baseline: pd.DataFrame, class_name: str, min_count: int
) -> bytes:
    """Importance of tonight's and the baseline's top tokens side by side."""
    now = for_class(tonight, class_name, min_count=min_count).set_index("token")["importance"]
    before = for_class(baseline, class_name, min_count=min_count).set_index("token")["importance"]
    tokens = list(dict.fromkeys([*now.index[:SHOWN], *before.index[:SHOWN]]))[::-1]
    figure, axes = _figure(max(2.5, 0.22 * len(tokens) + 1))
    positions = range(len(tokens))
    axes.barh(
        [p + 0.2 for p in positions],
        [now.get(t, 0.0) for t in tokens],
        height=0.4,
        label="tonight",
        color="#ff0051",
    )
    axes.barh(
        [p - 0.2 for p in positions],
        [before.get(t, 0.0) for t in tokens],
        height=0.4,
        label="baseline",
        color="#008bfb",
    )
    axes.set_yticks(list(positions), [_label(t) for t in tokens])
    axes.set_xlabel(f"importance for {class_name} (mean |SHAP value| per text)")
    axes.legend(loc="lower right")
    return _png(figure)


def _list(items) -> str:
    return ", ".join(f"<code>{html.escape(str(i))}</code>" for i in items) or "none"


def _chance_text(drift: Drift) -> str:
    """The noise floor in words."""
    chance = drift.chance
    if chance is None:
        return (
            f"Too few texts to tell drift from chance: {drift.texts} tonight and "
            f"{drift.baseline_texts} in the baseline; each needs at least {drift.min_texts}."
        )
    return (
        f"By chance alone ({chance.draws} random splits of tonight's and the baseline's texts "
        f"into groups of their sizes) a score below <span id='low'>{chance.low:.3f}</span> "
        f"comes up in under {drift.alpha:g} of the draws (median {chance.median:.3f}); "
        f"tonight's p-value: <span id='p'>{chance.p_value:.3f}</span> (drift when it is below "
        f"{drift.alpha:g} and the score below {drift.threshold})."
    )


def drift_html(
    drift: Drift,
    tonight: pd.DataFrame,
    baseline: pd.DataFrame,
    *,
    night: str,
    left_out: Sequence[Sequence[str]] = (),
) -> str:
    """The drift report of one night: status, score, the noise floor, the nights pooled and
    those passed over (``[night, why]``), and per class the nDCG, the tokens that entered or
    left the top k, the largest signed changes and a comparison plot."""
    status = {"drift": "DRIFT", "stable": "no drift", "too_small": "too few texts to tell"}
    color = "#b00020" if drift.drifted else "#1b5e20"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>dlexplain drift {html.escape(night)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:60em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>Explanation drift, night {html.escape(night)}</h1>",
        f"<p id='status' style='color:{color};font-size:1.4em'><b>{status[drift.status]}</b>: "
        f"nDCG@{drift.top_k} = <span id='score'>{drift.score:.3f}</span> "
        f"(threshold {drift.threshold})</p>",
        f"<p id='chance'>{_chance_text(drift)}</p>",
        f"<p>Tonight: {drift.texts} texts. Baseline: {drift.baseline_texts} texts of "
        f"{len(drift.baseline_nights)} nights pooled ({_list(drift.baseline_nights)}). Tokens "
        f"seen at least {drift.min_count} times are ranked by importance (mean |SHAP value| per "
        "text); a token the baseline never saw earns 0.</p>",
    ]
    if left_out:
        items = "".join(
            f"<li><code>{html.escape(day)}</code>: {html.escape(why)}</li>" for day, why in left_out
        )
        parts.append(f"<p>Nights not pooled:</p><ul id='left-out'>{items}</ul>")
    for item in drift.classes:
        image = base64.b64encode(
            _comparison_png(tonight, baseline, item.class_name, drift.min_count)
        ).decode()
        rows = "".join(
            f"<tr><td><code>{html.escape(t)}</code></td><td>{now:+.4f}</td><td>{before:+.4f}</td>"
            f"<td>{now - before:+.4f}</td></tr>"
            for t, now, before in item.changes
        )
        parts += [
            f"<h2>{html.escape(item.class_name)}: nDCG {item.ndcg:.3f}</h2>",
            f"<p><img alt='importance of {html.escape(item.class_name)}' "
            f"src='data:image/png;base64,{image}'></p>",
            f"<p>{item.shared_tokens} tokens seen in both.</p>",
            f"<p>Entered the top {drift.top_k}: {_list(item.entered)}</p>",
            f"<p>Left the top {drift.top_k}: {_list(item.left)}</p>",
            "<table><tr><th>token</th><th>mean value tonight</th><th>baseline</th>"
            f"<th>change</th></tr>{rows}</table>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts)
