"""Explanation artifacts of a batch: bar plot PNG, text plot HTML, arrays, summary.json.

Layout under ``<prefix>/`` (e.g. ``explanations/ds=2026-01-03/batch-0000``)::

    bar_<CLASS>.png     shap.plots.bar of the top tokens by mean |SHAP value| for one class
                        (one per class the batch predicts, or the asked classes)
    first_row_<CLASS>.png  the seed's signed shap.plots.bar of the batch's first explained row,
                        for its predicted class
    text/row-<i>.html   shap.plots.text of each explained row
    shap_values.npz     values (sum tokens × classes), offsets (rows + 1), tokens, output_names,
                        probabilities (rows × classes); load with np.load(..., allow_pickle=False)
    base_values.npy     rows × classes (NaN for rows that failed)
    summary.json        rows, errors, additivity, mean faithfulness, top tokens per class

Row i's values are ``values[offsets[i]:offsets[i + 1]]`` and its tokens the same slice of
``tokens``; a failed row has an empty slice.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dlexplain.errors import DataError
from dlexplain.explain.row import TextExplanation
from dlexplain.explain.table import summarize

logger = logging.getLogger(__name__)


def top_tokens(importance, class_name: str, k: int = 10) -> list[dict]:
    """Tokens with the largest mean |SHAP value| for one class, from an importance table
    (``dlexplain.quality.importance.token_importance``)."""
    rows = importance[importance["class"] == class_name].nlargest(k, "mean_abs", keep="first")
    return [
        {
            "token": row["token"],
            "mean_abs_value": float(row["mean_abs"]),
            "mean_value": float(row["mean_value"]),
            "count": int(row["count"]),
        }
        for row in rows.to_dict(orient="records")
    ]


def _save_figure(path: Path, title: str) -> None:
    import matplotlib.pyplot as plt

    figure = plt.gcf()
    figure.suptitle(title)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def write_bar_plot(
    results: Sequence[TextExplanation], importance, class_name: str, path: Path, k: int = 20
) -> None:
    """A shap bar plot of the top ``k`` tokens by mean |value| for ``class_name``, from the
    batch's importance table (``dlexplain.quality.importance.token_importance`` of ``results``)."""
    import shap

    ranked = top_tokens(importance, class_name, k)
    explanation = shap.Explanation(
        values=np.array([t["mean_abs_value"] for t in ranked]),
        feature_names=[t["token"] for t in ranked],
    )
    shap.plots.bar(explanation, max_display=k, show=False)
    _save_figure(
        path, f"mean |SHAP value| for {class_name} over {sum(r.ok for r in results)} texts"
    )


def write_row_plot(result: TextExplanation, path: Path, k: int = 20) -> None:
    """The seed's plot: signed SHAP values of one text for its predicted class."""
    import shap

    from dlexplain.explain.shap_form import to_shap

    shap.plots.bar(to_shap(result)[:, result.label], max_display=k, show=False)
    _save_figure(path, f"SHAP values for {result.label} (p={result.score:.2f})")


def write_arrays(results: Sequence[TextExplanation], folder: Path, n_classes: int) -> None:
    """``shap_values.npz`` (ragged rows as flat arrays + offsets) and ``base_values.npy``."""
    lengths = [len(r.tokens) for r in results]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = [r.values for r in results if r.tokens]
    nan_row = np.full(n_classes, np.nan)
    np.savez(
        folder / "shap_values.npz",
        values=np.concatenate(values) if values else np.zeros((0, n_classes)),
        offsets=offsets,
        tokens=np.array([t for r in results for t in r.tokens], dtype=np.str_),
        output_names=np.array(next((r.output_names for r in results if r.ok), ()), dtype=np.str_),
        probabilities=np.array([r.probabilities if r.ok else nan_row for r in results]),
    )
    np.save(
        folder / "base_values.npy", np.array([r.base_values if r.ok else nan_row for r in results])
    )


def plotted_classes(
    results: Sequence[TextExplanation], class_names: Sequence[str] | None = None
) -> list[str]:
    """``class_names`` if every one is an output, or (None) the classes the rows predict, in
    output order; :class:`DataError` for a class that is no output."""
    good = [r for r in results if r.ok]
    names = good[0].output_names if good else ()
    if class_names is None:
        predicted = {r.label for r in good}
        return [name for name in names if name in predicted]
    unknown = [c for c in class_names if c not in names]
    if good and unknown:
        raise DataError(f"class {unknown[0]!r} is not one of the outputs {list(names)}")
    return list(class_names) if good else []


#: Text plots a batch (or group of batches) logs at most: a sample, so a night's count is bounded
#: (shap's text plot of a 500-character review with two classes is about 2.3 MB).
TEXT_PLOTS = 4


def text_plot_rows(results: Sequence[TextExplanation], limit: int = TEXT_PLOTS) -> list[int]:
    """Which explained rows get a text plot: all when at most ``limit``, else ``limit`` of them
    spread evenly over the batch (the first and the last included)."""
    good = [i for i, r in enumerate(results) if r.ok]
    if len(good) <= limit or limit < 2:
        return good[: max(limit, 0)]
    return [good[round(k * (len(good) - 1) / (limit - 1))] for k in range(limit)]


def write_explanations(
    results: Sequence[TextExplanation],
    folder: Path,
    class_names: Sequence[str] | None = None,
    top_k: int = 20,
) -> dict:
    """Write every artifact of one batch into ``folder``; returns the summary."""
    import matplotlib

    matplotlib.use("Agg")
    import shap

    from dlexplain.explain.shap_form import to_shap
    from dlexplain.quality.faithfulness import summarize as faithfulness_summary
    from dlexplain.quality.importance import token_importance

    good = [r for r in results if r.ok]
    names = good[0].output_names if good else ()
    plotted = plotted_classes(results, class_names)
    importance = token_importance(results)
    summary = {
        **summarize(results).to_json_dict(),
        "faithfulness": faithfulness_summary(results),
        "plotted_classes": plotted,
        "errors": [{"row": i, "error": r.error} for i, r in enumerate(results) if not r.ok],
        "top_tokens": {name: top_tokens(importance, name) for name in names},
    }
    write_arrays(results, folder, len(names))
    for name in plotted:
        write_bar_plot(results, importance, name, folder / f"bar_{name}.png", k=top_k)
    if good:
        write_row_plot(good[0], folder / f"first_row_{good[0].label}.png", k=top_k)
        (folder / "text").mkdir()
        for i in text_plot_rows(results):
            html = shap.plots.text(to_shap(results[i]), display=False)
            (folder / "text" / f"row-{i:04d}.html").write_text(html, encoding="utf-8")
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def log_explanations(
    results: Sequence[TextExplanation],
    prefix: str,
    *,
    run_id: str,
    class_names: Sequence[str] | None = None,
    step: int = 0,
    timestamp_ms: int | None = None,
) -> dict:
    """Log one batch's artifacts under ``prefix`` and its metrics into run ``run_id``.

    Through ``MlflowClient`` with the run named, never the fluent active run: a task process
    may hold an active run or experiment of its own (``mlflow.set_experiment``), and logging
    must not depend on it. Idempotent with ``timestamp_ms`` given: logging again (a retried
    task) rewrites the same artifact paths and the same metric points, which MLflow keeps once.
    """
    import time

    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient()
    with tempfile.TemporaryDirectory(prefix="dlexplain-artifacts-") as tmp:
        summary = write_explanations(results, Path(tmp), class_names)
        client.log_artifacts(run_id, tmp, artifact_path=prefix)
    faithfulness = {f"batch_{key}": value for key, value in summary["faithfulness"].items()}
    metrics = {
        "rows_explained": summary["explained"],
        "rows_failed": summary["failed"],
        "batch_max_additivity_error": summary["max_additivity_error"] or 0.0,
        **faithfulness,
    }
    now = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    client.log_batch(
        run_id, metrics=[Metric(key, float(value), now, step) for key, value in metrics.items()]
    )
    logger.info("logged %d explanations under %s", len(results), prefix)
    return summary
