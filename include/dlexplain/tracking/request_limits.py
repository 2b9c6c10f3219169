"""Request limits of the served explainer: what MLflow's scoring server may ask of one worker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestLimits:
    """Most texts per request and most characters per text."""

    max_texts: int = 64
    max_chars: int = 20000

    def problem(self, texts: list) -> str | None:
        """Why a request of ``texts`` is refused, or None when it is within the limits."""
        if not texts:
            return "the request holds no texts"
        if len(texts) > self.max_texts:
            return (f"the request holds {len(texts)} texts; at most {self.max_texts} are served "
                    "per request (DLEXPLAIN_SERVE_MAX_TEXTS): split it, or use the batch DAG")
        for row, text in enumerate(texts):
            if text is not None and not isinstance(text, str):
                return f"row {row}: the text is a {type(text).__name__}, not a string"
            if isinstance(text, str) and len(text) > self.max_chars:
                return (f"row {row}: the text has {len(text)} characters; at most "
                        f"{self.max_chars} are served (DLEXPLAIN_SERVE_MAX_CHARS)")
        return None

    def environment(self) -> dict[str, str]:
        """The limits as the ``DLEXPLAIN_SERVE_*`` variables a scoring server's Settings read."""
        return {"DLEXPLAIN_SERVE_MAX_TEXTS": str(self.max_texts),
                "DLEXPLAIN_SERVE_MAX_CHARS": str(self.max_chars)}


def in_scoring_server() -> bool:
    """True inside MLflow's scoring server (``mlflow models serve``), which sets this variable."""
    from mlflow.environment_variables import _MLFLOW_IS_IN_SERVING_ENVIRONMENT

    return bool(_MLFLOW_IS_IN_SERVING_ENVIRONMENT.get())
