"""Worker processes: the engine's answers, and the reference evaluator's (marked) when a worker
crashes, hangs or fails; histories sent once per worker.

Faults are injected through a proposal extension that workers recognise only when the pool is
started with BCM_TEST_FAULTS=1.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from checker.reference import Evaluator, Fired, HistoryIndex
from checker.workers import WorkerPool, decode, encode

from . import policy

ROOT = Path(__file__).resolve().parents[2]
RULES = str(ROOT / "rules")

HISTORY = [
    policy("JP-2016-A", "2016-04-01", "restrict"),
    policy("JP-2018-B", "2018-04-01", "expand"),
    policy("JP-2017-C", "2017-04-01", "expand", target="students"),
]
REVERSAL = policy(
    "P", "2019-04-01", "restrict", status="proposed", magnitude="major", legal_basis=["Art. 1"]
)


class Provider:
    """A history as the pool asks for it: the records after the first `start`."""

    def __init__(self, records: Sequence[dict[str, Any]]) -> None:
        self.records = list(records)
        self.asked: list[int] = []

    def __call__(self, start: int) -> Sequence[dict[str, Any]]:
        self.asked.append(start)
        return self.records[start:]


def summary(fired: list[Fired]) -> list[tuple[str, str]]:
    return [(f.rule.id, f.severity) for f in fired]


def reference(proposal: dict[str, Any], records: Sequence[dict[str, Any]]) -> list[Any]:
    from checker.lang.pack import load_checked_pack

    evaluator = Evaluator(load_checked_pack(RULES))
    return summary(evaluator.check(proposal, HistoryIndex(records), evaluator.params(None, "JP")))


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    os.environ["BCM_TEST_FAULTS"] = "1"
    try:
        started = WorkerPool(RULES, 2, timeout=3)
    finally:
        del os.environ["BCM_TEST_FAULTS"]
    with started:
        yield started


def params(pool: WorkerPool) -> dict[str, Decimal]:
    return pool.evaluator.params(None, "JP")


def faulty(fault: str) -> dict[str, Any]:
    return {**REVERSAL, "extensions": {"bcm_test_fault": fault}}


def test_a_worker_answers_like_the_reference(pool: WorkerPool) -> None:
    fired, engine = pool.check(REVERSAL, "h1", Provider(HISTORY), params(pool))
    assert engine == {"name": "durable-rules"}
    assert summary(fired) == reference(REVERSAL, HISTORY)
    assert ("unprincipled_reversal", "medium") in summary(fired)
    reversal = next(f for f in fired if f.rule.id == "unprincipled_reversal")
    assert reversal.env.lets["prior"]["id"] == "JP-2018-B"
    assert reversal.env.lets["gap"] == 365


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("segv", "the worker died (SIGSEGV)"),
        ("kill", "the worker died (SIGKILL)"),
        ("exit", "the worker exited with status 3"),
        ("raise", "worker error: RuntimeError: injected fault"),
    ],
)
def test_a_failing_worker_is_replaced_and_the_reference_answers(
    pool: WorkerPool, fault: str, reason: str
) -> None:
    history = Provider(HISTORY)
    fired, engine = pool.check(faulty(fault), "h1", history, params(pool))
    assert engine == {"name": "reference", "reason": reason}
    assert summary(fired) == reference(faulty(fault), HISTORY)
    # the next checks are the engine's again, from a worker that has the history or is sent it
    for _ in range(2):
        fired, engine = pool.check(REVERSAL, "h1", history, params(pool))
        assert engine == {"name": "durable-rules"}
        assert summary(fired) == reference(REVERSAL, HISTORY)


def test_a_hanging_worker_is_stopped_at_the_time_limit(pool: WorkerPool) -> None:
    history = Provider(HISTORY)
    for _ in range(2):  # both workers ready and holding the history
        pool.check(REVERSAL, "h1", history, params(pool))
    started = time.monotonic()
    fired, engine = pool.check(faulty("hang"), "h1", history, params(pool), timeout=1.5)
    elapsed = time.monotonic() - started
    assert engine == {
        "name": "reference",
        "reason": "the worker took longer than 1.5 s and was stopped",
    }
    assert summary(fired) == reference(REVERSAL, HISTORY)
    assert 1.5 <= elapsed < 10


def test_a_history_is_sent_once_then_only_what_was_added(pool: WorkerPool) -> None:
    history = Provider(HISTORY[:1])
    for _ in range(4):
        pool.check(REVERSAL, "h-once", history, params(pool))
    # each worker asked for all of it (start 0) once, then for nothing new
    assert sorted(set(history.asked)) == [0, 1]
    assert history.asked.count(0) <= 2
    history.records.extend(HISTORY[1:])
    fired, engine = pool.check(REVERSAL, "h-once", history, params(pool))
    assert engine == {"name": "durable-rules"}
    assert summary(fired) == reference(REVERSAL, HISTORY)
    assert history.asked[-1] == 1


def test_checks_from_several_threads_are_all_answered(pool: WorkerPool) -> None:
    history = Provider(HISTORY)
    proposals = [
        policy(f"P{n}", f"201{6 + n % 4}-0{1 + n % 9}-01", ("restrict", "expand")[n % 2])
        for n in range(24)
    ]
    answers: dict[int, Any] = {}

    def work(offset: int) -> None:
        for n in range(offset, len(proposals), 3):
            fired, engine = pool.check(proposals[n], "h1", history, params(pool))
            answers[n] = (summary(fired), engine["name"])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {n: (reference(p, HISTORY), "durable-rules") for n, p in enumerate(proposals)}


def test_workers_go_to_waiting_threads_first_come_first_served(pool: WorkerPool) -> None:
    # Under load a thread that asked later must not take a released worker from one that
    # has been waiting: that made some checks wait for seconds behind others.
    held = [pool._acquire(), pool._acquire()]
    served: list[int] = []

    def wait_for_a_worker(n: int) -> None:
        worker = pool._acquire()
        served.append(n)
        pool._release(worker)

    threads = []
    for n in range(3):
        threads.append(threading.Thread(target=wait_for_a_worker, args=(n,)))
        threads[-1].start()
        deadline = time.monotonic() + 10
        while len(pool._waiting) < n + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert len(pool._waiting) == n + 1
    pool._release(held.pop())
    late = pool._acquire()  # asks after the three: served after them
    assert served == [0, 1, 2]
    pool._release(late)
    pool._release(held.pop())
    for thread in threads:
        thread.join(10)
    assert not pool._waiting


def test_the_fault_hook_is_ignored_without_the_switch() -> None:
    assert "BCM_TEST_FAULTS" not in os.environ
    with WorkerPool(RULES, 1, timeout=5) as quiet:
        fired, engine = quiet.check(faulty("segv"), None, None, params(quiet))
    assert engine == {"name": "durable-rules"}
    assert summary(fired) == reference(faulty("segv"), [])


def test_in_process_mode_falls_back_on_engine_errors() -> None:
    with WorkerPool(RULES, 0) as local:
        fired, engine = local.check(REVERSAL, "h", Provider(HISTORY), params(local))
        assert engine == {"name": "durable-rules"}
        assert summary(fired) == reference(REVERSAL, HISTORY)
        odd = {**params(local), "reversal_window": Decimal("365.5")}
        fired, engine = local.check(REVERSAL, "h", Provider(HISTORY), odd)
        assert engine["name"] == "reference"
        assert "reversal_window" in engine["reason"]


@pytest.mark.parametrize(
    "value",
    [
        None,
        Decimal("1.36"),
        [1, "二", True],
        {"$dec": "not a tag", "nested": {"a": (1, 2, 3)}},
        policy("P", "2019-04-01"),
    ],
    ids=["null", "decimal", "list", "tag-like keys", "policy"],
)
def test_the_wire_format_keeps_values(value: Any) -> None:
    assert decode(encode(value)) == value


def test_a_history_let_go_by_a_worker_is_sent_again(pool: WorkerPool) -> None:
    """Workers keep the histories used most recently; an older one is sent again, and the
    engine still answers."""
    first = Provider(HISTORY)
    pool.check(REVERSAL, "old", first, params(pool))
    for n in range(40):
        pool.check(REVERSAL, f"h-{n}", Provider(HISTORY[:1]), params(pool))
    fired, engine = pool.check(REVERSAL, "old", first, params(pool))
    assert engine == {"name": "durable-rules"}
    assert summary(fired) == reference(REVERSAL, HISTORY)
    assert first.asked.count(0) >= 2


def test_in_process_mode_sends_a_history_let_go_again() -> None:
    with WorkerPool(RULES, 0) as local:
        first = Provider(HISTORY)
        local.check(REVERSAL, "old", first, params(local))
        for n in range(40):
            local.check(REVERSAL, f"h-{n}", Provider(HISTORY[:1]), params(local))
        fired, engine = local.check(REVERSAL, "old", first, params(local))
    assert engine == {"name": "durable-rules"}
    assert summary(fired) == reference(REVERSAL, HISTORY)
    assert first.asked == [0, 0]
