"""Run several sequential model-calling jobs in lock-step so their model calls share one batch.

shap's Partition explainer is a sequential loop per text: pick the next masks, call the model on
about ten of them, repeat. Run alone, each forward pass sees ten short inputs. Here each job (one
text's shap loop) runs in its own thread, but only one thread runs at a time: every round, each
job runs until it calls the model (or ends), then the round's requests of all jobs go to the
model as ONE call, and each job gets its rows back. The jobs compute exactly what they would
compute alone; only the batching of the forward passes changes.

shap breaks priority ties with ``np.random.randn()``: each job gets its own copy of numpy's global
random state (seeded with ``seed``), swapped in while it runs, so a job's draws do not depend on
the other jobs, and the caller's global random state is restored at the end. That state is
process-wide, so runs in one process take
turns (``_RANDOM_STATE``): concurrent callers, such as the scoring server's request threads,
wait for each other instead of drawing from each other's streams.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlexplain.base.bounds import WorkAbandoned, check_bound

#: Held for a whole run: numpy's global random state is swapped per job, and is one per process.
_RANDOM_STATE = threading.Lock()

#: A job: gets a ``model(inputs) -> rows`` callable, returns its result.
Job = Callable[[Callable[[Sequence[Any]], np.ndarray]], Any]
#: numpy's global random state, as ``np.random.get_state`` returns it
RngState = dict[str, Any] | tuple[Any, ...]


@dataclass
class Outcome:
    """What a job returned, or the exception it raised."""

    result: Any = None
    error: BaseException | None = None


class _Worker(threading.Thread):
    def __init__(self, job: Job, rng_state: RngState) -> None:
        super().__init__(daemon=True, name="dlexplain-lockstep")
        self.job = job
        self.rng_state = rng_state
        self.outcome = Outcome()
        self.request: list[Any] = []  # the inputs of the model call it waits on
        self.response: np.ndarray | BaseException | None = None
        self.done = False
        self._go = threading.Event()
        self._paused = threading.Event()

    def run(self) -> None:
        self._wait_turn()
        try:
            self.outcome.result = self.job(self._call_model)
        except BaseException as err:  # handed back to the caller, never lost
            self.outcome.error = err
        finally:
            self.done = True
            self._paused.set()

    def _wait_turn(self) -> None:
        self._go.wait()
        self._go.clear()

    def _call_model(self, inputs: Sequence[Any]) -> np.ndarray:
        self.request = list(inputs)
        self._paused.set()
        self._wait_turn()
        response, self.response = self.response, None
        if isinstance(response, BaseException):
            raise response
        assert response is not None  # the driver answers every request before this turn
        return response

    def step(self) -> None:
        """Run this job until its next model call or its end, with its own random state."""
        np.random.set_state(self.rng_state)
        self._paused.clear()
        self._go.set()
        self._paused.wait()
        self.rng_state = np.random.get_state()


def run_lockstep(
    jobs: Sequence[Job],
    model: Callable[[list[Any]], np.ndarray],
    *,
    seed: int = 0,
    on_round: Callable[[int], None] | None = None,
) -> list[Outcome]:
    """Run ``jobs`` with their model calls merged into one ``model`` call per round.

    ``model`` gets the round's distinct inputs (in first-seen order) and returns one row per input.
    ``on_round`` is told after each round how many jobs have ended (progress). Returns one
    :class:`Outcome` per job, in order. Concurrent runs in one process take turns.
    """
    with _RANDOM_STATE:
        return _run(jobs, model, seed, on_round or (lambda done: None))


def _run(
    jobs: Sequence[Job],
    model: Callable[[list[Any]], np.ndarray],
    seed: int,
    on_round: Callable[[int], None],
) -> list[Outcome]:
    saved = np.random.get_state()
    initial = np.random.RandomState(seed).get_state()
    workers = [_Worker(job, initial) for job in jobs]
    abandoned: WorkAbandoned | None = None
    for worker in workers:
        worker.start()
    try:
        active = workers
        while active:
            for worker in active:
                worker.step()
            active = [w for w in active if not w.done]
            on_round(len(workers) - len(active))
            if not active:
                break
            distinct = list(dict.fromkeys(x for w in active for x in w.request))
            try:
                check_bound()  # a request that has gone stops here, between two rounds
                rows = model(distinct)
            except BaseException as err:  # every waiting job fails with the model's error
                for worker in active:
                    worker.response = err
                if isinstance(err, WorkAbandoned):
                    abandoned = err
                continue
            position = {x: i for i, x in enumerate(distinct)}
            for worker in active:
                worker.response = rows[[position[x] for x in worker.request]]
                worker.request = []
    finally:
        np.random.set_state(saved)
    for worker in workers:
        worker.join()
    if abandoned is not None:
        raise abandoned
    return [w.outcome for w in workers]
