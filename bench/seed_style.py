"""The seed chapter's explainer, kept as the reference the engine is measured against.

``shap.Explainer(transformers.pipeline(..., top_k=None))`` called once per row through
``DataFrame.apply`` (``top_k=None``: every class score; transformers 5 ignores the chapter's
``return_all_scores``). numpy's random state is reset to the engine's ``SEED`` before each row:
shap breaks priority ties with ``np.random.randn()`` and the engine starts each text from that
seed, so both evaluate the same masks. It changes no cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def seed_style_values(model_path: str | Path, texts: Sequence[str], max_evals: int) -> list[np.ndarray]:
    """Attributions (tokens x classes) of each text, computed the seed's way, on the CPU."""
    import pandas as pd
    import shap
    import transformers

    from dlexplain.explain.engine import SEED

    pipe = transformers.pipeline("text-classification", model=str(model_path),
                                 tokenizer=str(model_path), top_k=None, device="cpu")
    explainer = shap.Explainer(pipe)

    def explain_row(text: str):
        np.random.seed(SEED)
        return explainer([text], max_evals=max_evals, silent=True)

    rows = pd.DataFrame({"text": list(texts)})["text"].apply(explain_row)
    return [np.asarray(row.values[0]) for row in rows]
