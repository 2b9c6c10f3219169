"""Request limits of the served explainer: what MLflow's scoring server may ask of one worker."""

from __future__ import annotations

from dataclasses import dataclass, fields

#: Forward passes a text's faithfulness costs on top of its explanation (about 20).
FAITHFULNESS_EVALS = 20
#: Forward passes the ``fast+verify`` check costs a text (about 10: half of faithfulness).
VERIFY_EVALS = 10


#: Bytes a request may carry beyond its texts (column names, params, JSON quoting).
BODY_OVERHEAD = 64 << 10


@dataclass(frozen=True)
class RequestLimits:
    """Most texts per request and characters per text, the work one request may cost (tokens x
    model evaluations, checked before any work), requests in flight (more answer 503 at once)
    and seconds a request's work may run (then it stops, between two rounds of forward passes).
    """

    max_texts: int = 64
    max_chars: int = 20000
    max_work: int = 200_000
    max_in_flight: int = 2
    timeout: int = 60

    @classmethod
    def from_settings(cls, settings) -> RequestLimits:
        """The limits of ``Settings`` (its ``serve`` section)."""
        return cls(**{f.name: getattr(settings.serve, f.name) for f in fields(cls)})

    @property
    def max_body(self) -> int:
        """Bytes a request body may hold: its texts as JSON (4 bytes a character at most, with
        quotes and brackets) and ``BODY_OVERHEAD`` for column names and params."""
        return self.max_texts * (4 * self.max_chars + 8) + BODY_OVERHEAD

    def problem(self, texts: list) -> str | None:
        """Why a request of ``texts`` is refused, or None when it is within the limits."""
        if not texts:
            return "the request holds no texts"
        if len(texts) > self.max_texts:
            return (
                f"the request holds {len(texts)} texts; at most {self.max_texts} are served "
                "per request (DLEXPLAIN_SERVE_MAX_TEXTS): split it, or use the batch DAG"
            )
        for row, text in enumerate(texts):
            if text is not None and not isinstance(text, str):
                return f"row {row}: the text is a {type(text).__name__}, not a string"
            if isinstance(text, str) and len(text) > self.max_chars:
                return (
                    f"row {row}: the text has {len(text)} characters; at most "
                    f"{self.max_chars} are served (DLEXPLAIN_SERVE_MAX_CHARS)"
                )
        return None

    def work_problem(self, tokens: list[int], evaluations: int) -> str | None:
        """Why texts of ``tokens`` tokens, each run through the model ``evaluations`` times,
        are more work than one request may ask (None when they are not)."""
        work = sum(tokens) * evaluations
        if work <= self.max_work:
            return None
        return (
            f"the request is {work:,} units of work ({sum(tokens):,} tokens x {evaluations} "
            f"model evaluations); at most {self.max_work:,} are served per request "
            "(DLEXPLAIN_SERVE_MAX_WORK): send fewer or shorter texts, ask for method 'fast' "
            "where the explainer has one, or use the batch DAG"
        )

    def environment(self) -> dict[str, str]:
        """The limits as the ``DLEXPLAIN_SERVE_*`` variables a scoring server's Settings read."""
        return {
            f"DLEXPLAIN_SERVE_{f.name.upper()}": str(getattr(self, f.name)) for f in fields(self)
        }


def in_scoring_server() -> bool:
    """True inside MLflow's scoring server app (``dlexplain eaas serve``, ``mlflow models serve``),
    whose ``init`` sets this variable."""
    from mlflow.environment_variables import _MLFLOW_IS_IN_SERVING_ENVIRONMENT

    return bool(_MLFLOW_IS_IN_SERVING_ENVIRONMENT.get())
