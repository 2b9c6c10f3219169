"""Checks several tests make on explanations read back from what the pipeline stored."""

from __future__ import annotations

import numpy as np

from dlexplain.explain.inputs import ADDITIVITY_TOLERANCE


def additivity(result) -> float:
    """max over classes of |base + Σ values − probability|, recomputed from the row's own
    arrays (never its stored ``additivity_error``)."""
    return float(np.max(np.abs(result.base_values + result.values.sum(axis=0)
                               - result.probabilities)))


def assert_additive(results, tolerance: float = ADDITIVITY_TOLERANCE) -> None:
    """Every explained row adds up (within the tolerance rows are stored with), and its label
    and score are its most likely class."""
    for result in results:
        if not result.ok:
            continue
        assert additivity(result) < tolerance, (result.tokens, additivity(result))
        best = int(np.argmax(result.probabilities))
        assert result.label == result.output_names[best]
        assert abs(result.score - result.probabilities[best]) < 1e-12


def run_failures(run) -> str:
    """What went wrong in a ``dag.test()`` run: each task instance that did not succeed, with
    its state and tries (the assertion message when a test expects success)."""
    failed = [f"{ti.task_id}[{ti.map_index}]={ti.state} (try {ti.try_number})"
              for ti in run.get_task_instances() if ti.state not in ("success", "skipped")]
    return f"run {run.run_id} {run.state}: " + (", ".join(failed) or "no failed task")
