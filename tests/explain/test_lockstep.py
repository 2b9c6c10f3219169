"""Lock-step jobs: merged model calls, per-job random state, errors kept per job."""

from __future__ import annotations

import numpy as np
import pytest

from dlexplain.explain.lockstep import run_lockstep


def squares(inputs):
    return np.array([[float(x) ** 2] for x in inputs])


def counting(model):
    calls = []

    def wrapped(inputs):
        calls.append(list(inputs))
        return model(inputs)

    return wrapped, calls


def job(values, rounds=3):
    """Calls the model ``rounds`` times, drawing random numbers between calls like shap does."""
    def run(call_model):
        seen = []
        for r in range(rounds):
            seen.append(call_model([v + r for v in values])[:, 0].tolist())
            seen.append(float(np.random.randn()))
        return seen
    return run


def test_jobs_get_what_they_would_get_alone_with_one_model_call_per_round():
    model, calls = counting(squares)
    jobs = [job([1, 2]), job([2, 5]), job([7])]
    together = run_lockstep(jobs, model, seed=3)
    assert len(calls) == 3, "three rounds, one merged call each"
    assert calls[0] == [1, 2, 5, 7], "distinct inputs only, first-seen order"
    for j, outcome in zip(jobs, together):
        alone = run_lockstep([j], squares, seed=3)[0]
        assert outcome.error is None and outcome.result == alone.result


def test_each_job_draws_from_its_own_seeded_state_and_the_callers_state_is_restored():
    np.random.seed(123)
    expected_next = np.random.RandomState(123).randn()
    draws = lambda call_model: [np.random.randn() for _ in range(3)]  # noqa: E731
    outcomes = run_lockstep([draws, draws], squares, seed=5)
    reference = np.random.RandomState(5).randn(3).tolist()
    assert outcomes[0].result == reference and outcomes[1].result == reference
    assert np.random.randn() == expected_next


def test_a_failing_job_does_not_stop_the_others():
    def bad(call_model):
        call_model([1])
        raise ValueError("boom")

    outcomes = run_lockstep([job([1]), bad, job([3])], squares)
    assert isinstance(outcomes[1].error, ValueError)
    assert outcomes[0].error is None and outcomes[2].error is None


def test_a_model_error_reaches_every_waiting_job():
    def broken(inputs):
        raise RuntimeError("out of memory")

    outcomes = run_lockstep([job([1]), job([2])], broken)
    assert all(isinstance(o.error, RuntimeError) for o in outcomes)


@pytest.mark.parametrize("count", [0, 1, 40])
def test_any_number_of_jobs(count):
    outcomes = run_lockstep([job([i]) for i in range(count)], squares)
    assert [o.result[0] for o in outcomes] == [[float(i) ** 2] for i in range(count)]


def test_concurrent_runs_take_turns_and_draw_what_they_would_draw_alone():
    """Two callers at once (the scoring server's threads): neither draws from the other's stream."""
    import threading

    def solo_draws(model):
        return [float(np.random.randn()) for _ in range(3)]

    (alone,) = run_lockstep([solo_draws], lambda rows: np.zeros((len(rows), 1)), seed=7)
    started, release = threading.Event(), threading.Event()

    def slow_draws(model):
        first = float(np.random.randn())
        started.set()
        release.wait(timeout=10)  # the other run would swap the global state in here
        return [first, *(float(np.random.randn()) for _ in range(2))]

    results = {}
    first = threading.Thread(target=lambda: results.update(a=run_lockstep([slow_draws], None,
                                                                          seed=7)))
    second = threading.Thread(target=lambda: results.update(b=run_lockstep([solo_draws], None,
                                                                           seed=7)))
    first.start()
    assert started.wait(timeout=10)
    second.start()
    second.join(timeout=0.5)
    assert second.is_alive(), "the second run must wait for the first"
    release.set()
    first.join()
    second.join()
    assert results["a"][0].result == alone.result == results["b"][0].result
