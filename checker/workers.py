"""Supervised worker processes running the engine; the reference evaluator answers, marked,
when a worker dies, hangs or fails.

durable-rules is a C extension with known crash bugs: a check that kills its process must
not take the service with it, and must still be answered. Each worker process loads the pack,
compiles it and keeps histories resident by key (a history is sent to a worker once, then
only the records added since). A worker that dies (any signal), passes the time limit (it is
killed) or fails is replaced, and that check is answered by the reference evaluator with
`{"name": "reference", "reason": ...}`: never a lost request, never a silent wrong report.

    pool = WorkerPool("rules", workers=2)
    fired, engine = pool.check(proposal_fact, "h1", lambda start: facts[start:], params)

Workers are started with `forkserver` (or `spawn`), never by forking a process that may run
threads. Messages between processes are JSON, never pickles of documents. `workers=0` runs the
engine in this process (for the CLI), with the same fallback on engine errors.

`pool.report(body, key, provider)` hands a worker a whole check request as the bytes it came
in (the HTTP service's `/v1/check` body): the worker reads and validates it with the service's
own functions, checks it with a `Pack` of its own and answers with the report's JSON text, the
bytes the service sends (or says the request is not valid, and the service reads it again to
say why). Only text crosses the process boundary, once each way (request and report as they
are, after a one-byte tag, not escaped into a JSON string); reading, validation, findings, the
report and its JSON are made in the worker, in parallel with other workers, instead of in the
service's process.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import math
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, Final

from checker.api import History, Pack
from checker.lang.checked import CheckedPack
from checker.reference import Env, Evaluator, Fired, HistoryIndex

if TYPE_CHECKING:
    from checker.engine import Engine

__all__ = [
    "FiredData",
    "HistoryProvider",
    "NoWorkerAnswer",
    "WorkerPool",
    "decode",
    "encode",
    "report_json",
]

Fact = dict[str, Any]
# Given how many records of a history the worker already holds, the records after those.
HistoryProvider = Callable[[int], Sequence[Mapping[str, Any]]]
# What a check returns: the reference evaluator's Fired, rebuilt in this process.
FiredData = Fired

# Recognised only when BCM_TEST_FAULTS=1 in the worker's environment: a proposal with
# `extensions.bcm_test_fault` set to one of these makes the worker misbehave on purpose.
FAULTS_ENV: Final = "BCM_TEST_FAULTS"
FAULT_FIELD: Final = "bcm_test_fault"
START_TIMEOUT: Final = 120.0
# Histories indexed for the reference evaluator in this process, most recently used kept.
_MAX_INDEXES: Final = 8
# Histories a worker keeps for whole-request checks (`report`), most recently used kept; the
# engine itself keeps fewer resident and is sent one again from here when it let it go.
_MAX_WORKER_HISTORIES: Final = 64


def report_json(report: Any) -> bytes:
    """A report (`checker.documents.Report`) as the HTTP service sends it: JSON as Starlette's
    JSONResponse writes it (UTF-8, compact), in the report's field order."""
    return json.dumps(
        report.to_dict(), ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


# --- the wire format: JSON with tagged values -------------------------------------------------


def encode(value: Any) -> Any:
    """A runtime value as JSON data that `decode` turns back into the same value.

    Every mapping is wrapped (`{"$m": {...}}`), so a key of a document can never be taken for
    a tag."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, float):
        return {"$float": repr(value)}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, tuple):
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {"$m": {str(k): encode(v) for k, v in value.items()}}
    raise TypeError(f"cannot send a {type(value).__name__} to a worker")


def decode(data: Any) -> Any:
    if data is None or isinstance(data, bool | int | str):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict) and len(data) == 1:
        tag, body = next(iter(data.items()))
        if tag == "$m":
            return {k: decode(v) for k, v in body.items()}
        if tag == "$dec":
            return Decimal(body)
        if tag == "$float":
            return float(body)
        if tag == "$date":
            return dt.date.fromisoformat(body)
        if tag == "$datetime":
            return dt.datetime.fromisoformat(body)
        if tag == "$tuple":
            return tuple(decode(v) for v in body)
    raise ValueError(f"not a value of the worker protocol: {data!r}")


def _send(conn: Connection, message: Mapping[str, Any]) -> None:
    if message.get("op") == "report":
        # a whole check request: the body as it came, not escaped into a JSON string
        key = json.dumps(message["key"], ensure_ascii=False)
        conn.send_bytes(b"".join((_REPORT_REQUEST, key.encode("utf-8"), b"\n", message["body"])))
        return
    conn.send_bytes(json.dumps(message, ensure_ascii=False).encode("utf-8"))


def _send_report(conn: Connection, report: bytes) -> None:
    conn.send_bytes(_REPORT_ANSWER + report)


def _receive(conn: Connection) -> dict[str, Any]:
    data = conn.recv_bytes()
    # A message is a JSON object ("{...") or one of the two raw kinds: the report of a whole
    # check request, and that request (its history key, a line, the body's text)
    if data[:1] == _REPORT_ANSWER:
        return {"ok": True, "report": data[1:]}
    if data[:1] == _REPORT_REQUEST:
        key, _, body = data[1:].partition(b"\n")
        return {"op": "report", "key": json.loads(key), "body": body}
    message = json.loads(data.decode("utf-8"))
    if not isinstance(message, dict):
        raise ValueError("a message of the worker protocol is an object")
    return message


_REPORT_ANSWER: Final = b"R"
_REPORT_REQUEST: Final = b"Q"


# --- the worker process -----------------------------------------------------------------------


def _worker_main(conn: Connection, pack_path: str, faults: bool) -> None:
    """A worker: load, compile, build the engine, then answer requests until told to stop.

    `faults` is BCM_TEST_FAULTS=1 in the environment that started the pool, passed on: a
    forkserver's children inherit the server's environment, not the pool's."""
    from checker.compiler import compile_pack
    from checker.engine import Engine, EngineError, UnknownHistory
    from checker.lang.pack import load_checked_pack

    try:
        pack = load_checked_pack(pack_path)
        engine = Engine(pack, compile_pack(pack))
        reports = _Reports(pack, engine)
    except Exception as err:
        _send(conn, {"ok": False, "reason": f"{type(err).__name__}: {err}"})
        return
    _send(conn, {"ok": True})
    while True:
        try:
            request = _receive(conn)
        except (EOFError, OSError):
            return
        op = request.get("op")
        if op == "stop":
            return
        try:
            if op == "history":
                records = decode(request["records"])
                if request["start"] == 0:
                    engine.set_history(request["key"], records)
                else:
                    engine.add_history(request["key"], records)
                reports.held(request["key"], request["start"], records)
                _send(conn, {"ok": True})
            elif op == "report":
                report = reports.report(request["body"], request["key"], faults)
                if report is None:
                    _send(conn, {"ok": True, "invalid": True})
                else:
                    _send_report(conn, report)
            elif op == "check":
                proposal = decode(request["proposal"])
                if faults:
                    _misbehave(proposal)
                fired = engine.check(proposal, request["key"], decode(request["params"]))
                answer = [
                    {"rule": f.rule.id, "severity": f.severity, "lets": encode(f.env.lets)}
                    for f in fired
                ]
                _send(conn, {"ok": True, "fired": answer})
            else:
                _send(conn, {"ok": False, "reason": f"unknown request {op!r}"})
        except (UnknownHistory, _NotHeld):
            _send(conn, {"ok": False, "missing": True, "reason": "history not held"})
        except EngineError as err:
            _send(conn, {"ok": False, "reason": f"engine error: {err}"})
        except Exception as err:
            _send(conn, {"ok": False, "reason": f"worker error: {type(err).__name__}: {err}"})


class _Reports:
    """Whole check requests in a worker: the request's JSON text in, the report's out.

    The worker's `Pack` runs its engine in this process, as `load_pack(workers=0)` does (an
    engine error is answered by the reference evaluator, marked), so a report made here is the
    report the service's process would have made. Histories are the facts the pool sent, under
    the pool's key (so that a reason naming the key is worded as in the service's process).
    """

    def __init__(self, checked: CheckedPack, engine: Engine) -> None:
        self.pack = Pack(checked, WorkerPool.around(checked, engine))
        self.histories: dict[str, _FactsHistory] = {}

    def held(self, key: str, start: int, records: list[Fact]) -> None:
        history = self.histories.pop(key, None)
        if start == 0:
            history = _FactsHistory(key)
        elif history is None or len(history) != start:
            return  # not all of it here: the next report asks for it again, whole
        history.extend(records)
        self.histories[key] = history  # most recently used last
        while len(self.histories) > _MAX_WORKER_HISTORIES:
            del self.histories[next(iter(self.histories))]

    def report(self, body: bytes, key: str | None, faults: bool) -> bytes | None:
        """The report's JSON; None for a request that is not valid as it stands (the service
        reads it again itself, to say what is wrong): it is read and validated here only, by
        the service's own functions."""
        from checker.diagnostics import BcmError
        from checker.service import CheckRequest, ProblemError, parse_json, validate_body

        try:
            parsed = parse_json(body)
            proposal = parsed.data.get("proposal") if isinstance(parsed.data, dict) else None
            if faults and isinstance(proposal, dict):
                _misbehave(proposal)
            request = validate_body(parsed, CheckRequest)
        except ProblemError:
            return None
        if request.history is not None:
            return None  # a history in the body is the service's to hold, not a worker's
        history = History()
        if key is not None:
            found = self.histories.pop(key, None)
            if found is None:
                raise _NotHeld()
            self.histories[key] = found
            history = found
        try:
            report = self.pack.check(
                request.proposal, history, lang=request.lang, params=request.params
            )
        except BcmError:
            return None  # parameters not valid for the pack: located by the service
        return report_json(report)


class _NotHeld(Exception):
    """The worker let the history of a whole-request check go."""


class _FactsHistory(History):
    """A history known by the facts the pool sent: a worker has no documents."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self._held: list[Fact] = []

    def __len__(self) -> int:
        return len(self._held)

    def extend(self, facts: Sequence[Fact]) -> None:
        self._held.extend(facts)

    def facts(self, start: int = 0) -> Sequence[Fact]:
        return self._held[start:]


def _misbehave(proposal: Mapping[str, Any]) -> None:
    """The test hook: crash, hang or fail on request."""
    extensions = proposal.get("extensions")
    fault = extensions.get(FAULT_FIELD) if isinstance(extensions, Mapping) else None
    if fault == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif fault == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == "hang":
        time.sleep(3600)
    elif fault == "raise":
        raise RuntimeError("injected fault")
    elif fault == "exit":
        os._exit(3)


# --- the parent side --------------------------------------------------------------------------


class _WorkerLost(Exception):
    """The worker died, hung or broke the protocol: it is replaced."""


class _Refused(Exception):
    """The worker is fine, but its engine could not answer this check."""


class _Missing(Exception):
    """The worker no longer holds the history of the check."""


@dataclass
class _Worker:
    process: Any
    conn: Connection
    ready: bool = False
    resident: dict[str, int] = field(default_factory=dict)  # history key → records held
    # one poll object each for the answer pipe and the process's end (Connection.poll and
    # Process.is_alive build a selector per call, twice per check)
    _answers: Any = None
    _ended: Any = None

    def alive(self) -> bool:
        if self._ended is None:
            self._ended = select.poll()
            self._ended.register(self.process.sentinel, select.POLLIN)
        if self._ended.poll(0):  # the sentinel is readable once the process has ended
            return bool(self.process.is_alive())  # (which also reaps it)
        return True

    def answered(self, limit: float) -> bool:
        """Whether an answer (or the end of the pipe) came within `limit` seconds."""
        if self._answers is None:
            self._answers = select.poll()
            self._answers.register(self.conn.fileno(), select.POLLIN)
        return bool(self._answers.poll(max(0, math.ceil(limit * 1000))))


# Imported once by the fork server, so that each worker starts without importing them again.
_PRELOAD: Final = [
    "checker.api",
    "checker.service",  # a worker reads and validates whole check requests with its functions
    "checker.compiler",
    "checker.engine",
    "checker.findings",
    "checker.lang.pack",
    "checker.loading",
    "checker.reference",
]


def _context() -> Any:
    """`forkserver` where there is one, else `spawn`: never `fork` from a process that may
    run threads (a forked lock held by another thread stays held forever)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


class _Handoff:
    """A thread's place in the queue for a worker, and the worker it is given."""

    __slots__ = ("given", "worker")

    def __init__(self) -> None:
        self.given = threading.Event()
        self.worker: _Worker | None = None


class WorkerPool:
    """Checks on durable-rules in supervised worker processes (or in this one, `workers=0`)."""

    def __init__(
        self,
        pack_path: str,
        workers: int,
        *,
        timeout: float = 10.0,
        _loaded: tuple[CheckedPack, Engine] | None = None,
    ) -> None:
        from checker.lang.pack import load_checked_pack

        self.pack_path = pack_path
        self.pack: CheckedPack = load_checked_pack(pack_path) if _loaded is None else _loaded[0]
        self.evaluator = Evaluator(self.pack)
        self.timeout = timeout
        self.size = workers
        # the test hook, fixed when the pool starts: its replacement workers behave alike
        self._faults = os.environ.get(FAULTS_ENV) == "1"
        self._indexes: dict[str, HistoryIndex] = {}
        self._index_lock = threading.Lock()
        self._closed = False
        if workers <= 0:
            self._local = _Local(self.pack, None if _loaded is None else _loaded[1])
            return
        self._ctx = _context()
        self._idle: list[_Worker] = []
        # threads waiting for a worker, first come first served: a released worker is handed
        # to the longest waiting thread (a condition variable lets a thread that comes later
        # take it first, and a waiter could be passed over again and again)
        self._waiting: collections.deque[_Handoff] = collections.deque()
        self._available = threading.Lock()
        for _ in range(workers):
            self._idle.append(self._start())
        for worker in self._idle:
            self._wait_ready(worker)

    @classmethod
    def around(cls, pack: CheckedPack, engine: Engine) -> WorkerPool:
        """A pool that checks on an engine already built in this process (a worker's own)."""
        return cls("", 0, _loaded=(pack, engine))

    # --- workers

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=_worker_main,
            args=(child, self.pack_path, self._faults),
            name="bcm-worker",
            daemon=True,
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def _wait_ready(self, worker: _Worker) -> None:
        if worker.ready:
            return
        if not worker.conn.poll(START_TIMEOUT):
            self._stop(worker)
            raise RuntimeError("a worker did not start in time")
        answer = _receive(worker.conn)
        if not answer.get("ok"):
            self._stop(worker)
            raise RuntimeError(f"a worker could not start: {answer.get('reason')}")
        worker.ready = True

    def _stop(self, worker: _Worker) -> None:
        if worker.alive():
            worker.process.kill()
        worker.process.join(5)
        worker.conn.close()

    def _acquire(self) -> _Worker:
        with self._available:
            handoff = None
            if self._idle and not self._waiting:
                worker = self._idle.pop()
            else:
                handoff = _Handoff()
                self._waiting.append(handoff)
        if handoff is not None:
            handoff.given.wait()
            assert handoff.worker is not None
            worker = handoff.worker
        if not worker.alive():
            self._stop(worker)
            worker = self._start()
        self._wait_ready(worker)
        return worker

    def _release(self, worker: _Worker) -> None:
        with self._available:
            if self._waiting:
                handoff = self._waiting.popleft()
                handoff.worker = worker
                handoff.given.set()
            else:
                self._idle.append(worker)

    # --- checks

    def check(
        self,
        proposal_fact: Mapping[str, Any],
        history_key: str | None,
        history_records_provider: HistoryProvider | None,
        params: Mapping[str, Decimal],
        timeout: float | None = None,
    ) -> tuple[list[FiredData], dict[str, str]]:
        """The rules that fire for the proposal, in pack order, and which engine answered:
        `{"name": "durable-rules"}` or `{"name": "reference", "reason": ...}`."""
        if self._closed:
            raise RuntimeError("the worker pool is closed")
        if self.size <= 0:
            # in this process: the engine copies the proposal itself
            try:
                fired = self._local.check(
                    proposal_fact, history_key, history_records_provider, params
                )
                return fired, {"name": "durable-rules"}
            except _Refused as refused:
                return self._reference(
                    dict(proposal_fact),
                    history_key,
                    history_records_provider,
                    params,
                    str(refused),
                )
        proposal = dict(proposal_fact)
        limit = self.timeout if timeout is None else timeout
        worker = self._acquire()
        try:
            answer = self._ask_check(
                worker, proposal, history_key, history_records_provider, params, limit
            )
        except _WorkerLost as lost:
            self._stop(worker)
            worker = self._start()  # ready when next used; this check must not wait for it
            return self._reference(
                proposal, history_key, history_records_provider, params, str(lost)
            )
        except _Refused as refused:
            return self._reference(
                proposal, history_key, history_records_provider, params, str(refused)
            )
        finally:
            self._release(worker)
        return self._rebuild(answer, proposal, params), {"name": "durable-rules"}

    def report(
        self,
        body: bytes,
        key: str | None,
        provider: HistoryProvider | None,
        timeout: float | None = None,
    ) -> bytes | None:
        """The report of a whole check request, made by a worker: `body` is the request's
        body as it came (`{proposal, lang?, params?}` in JSON), `key` and `provider` its
        history as for `check`. The worker reads and validates it as the HTTP service does
        (`checker.service.parse_json`, `validate_body`) and answers with the report's JSON, as
        `report_json` writes it; or None when the request is not valid (no report: the caller
        reads it itself to say why).

        Raises `NoWorkerAnswer` (with the reason) when no worker could answer: the worker died,
        hung or broke the protocol (it is replaced), or cannot hold the history; the caller
        answers with the reference evaluator then (`reference_runner`), as `check` does."""
        if self._closed:
            raise RuntimeError("the worker pool is closed")
        if self.size <= 0:
            raise NoWorkerAnswer("no worker processes")
        limit = self.timeout if timeout is None else timeout
        message = {"op": "report", "body": body, "key": key}
        worker = self._acquire()
        try:
            answer = self._ask(worker, message, key, provider, limit)
        except _WorkerLost as lost:
            self._stop(worker)
            worker = self._start()  # ready when next used; this check must not wait for it
            raise NoWorkerAnswer(str(lost)) from None
        except _Refused as refused:
            raise NoWorkerAnswer(str(refused)) from None
        finally:
            self._release(worker)
        if answer.get("invalid") is True:
            return None
        report = answer.get("report")
        if not isinstance(report, bytes):
            raise NoWorkerAnswer("the worker answered out of protocol")
        return report

    def reference_runner(self, reason: str) -> _ReferenceRunner:
        """A runner for `checker.api.Pack` whose checks the reference evaluator answers, marked
        with `reason`: for a check no worker could answer."""
        return _ReferenceRunner(self, reason)

    def _ask_check(
        self,
        worker: _Worker,
        proposal: Fact,
        key: str | None,
        provider: HistoryProvider | None,
        params: Mapping[str, Decimal],
        limit: float,
    ) -> list[dict[str, Any]]:
        message = {
            "op": "check",
            "proposal": encode(proposal),
            "key": key,
            "params": encode(dict(params)),
        }
        fired = self._ask(worker, message, key, provider, limit).get("fired")
        if not isinstance(fired, list):
            raise _WorkerLost("the worker answered out of protocol")
        return fired

    def _ask(
        self,
        worker: _Worker,
        message: Mapping[str, Any],
        key: str | None,
        provider: HistoryProvider | None,
        limit: float,
    ) -> dict[str, Any]:
        """Send the history the worker lacks, then `message`; its answer."""
        if key is not None:
            held = worker.resident.get(key, 0)
            new = list(provider(held)) if provider is not None else []
            if new or key not in worker.resident:
                history = {"op": "history", "key": key, "start": held, "records": encode(new)}
                worker.resident.pop(key, None)  # until the worker says it holds them
                self._exchange(worker, history, max(limit, 60.0))
                worker.resident[key] = held + len(new)
        try:
            answer = self._exchange(worker, message, limit)
        except _Missing:
            # the worker let the history go (it keeps the most recently used): send it again
            assert key is not None
            worker.resident.pop(key, None)
            records = list(provider(0)) if provider is not None else []
            message_history = {"op": "history", "key": key, "start": 0, "records": encode(records)}
            self._exchange(worker, message_history, max(limit, 60.0))
            worker.resident[key] = len(records)
            try:
                answer = self._exchange(worker, message, limit)
            except _Missing as again:
                raise _Refused("engine error: the worker cannot hold the history") from again
        return answer

    def _exchange(
        self, worker: _Worker, message: Mapping[str, Any], limit: float
    ) -> dict[str, Any]:
        try:
            _send(worker.conn, message)
            if not worker.answered(limit):
                worker.process.kill()
                raise _WorkerLost(f"the worker took longer than {limit:g} s and was stopped")
            answer = _receive(worker.conn)
        except (EOFError, OSError, ValueError) as err:
            raise _WorkerLost(_death(worker, err)) from err
        if not answer.get("ok"):
            if answer.get("missing"):
                raise _Missing()
            reason = str(answer.get("reason"))
            if reason.startswith("engine error"):
                raise _Refused(reason)
            raise _WorkerLost(reason)
        return answer

    def _rebuild(
        self, answer: list[dict[str, Any]], proposal: Fact, params: Mapping[str, Decimal]
    ) -> list[Fired]:
        fired = []
        for item in answer:
            info = self.pack.rule(item["rule"])
            env = Env(proposal, params, lets=decode(item["lets"]))
            fired.append(Fired(info, item["severity"], env))
        return fired

    def _reference(
        self,
        proposal: Fact,
        key: str | None,
        provider: HistoryProvider | None,
        params: Mapping[str, Decimal],
        reason: str,
    ) -> tuple[list[FiredData], dict[str, str]]:
        index = self._index(key, provider)
        fired = self.evaluator.check(proposal, index, params)
        return fired, {"name": "reference", "reason": reason}

    def _index(self, key: str | None, provider: HistoryProvider | None) -> HistoryIndex:
        """The history for the reference evaluator, kept by key and grown like the workers'."""
        if key is None or provider is None:
            return HistoryIndex()
        with self._index_lock:
            index = self._indexes.pop(key, None)
            if index is None:
                index = HistoryIndex()
            self._indexes[key] = index  # most recently used last
            while len(self._indexes) > _MAX_INDEXES:
                del self._indexes[next(iter(self._indexes))]
            new = list(provider(len(index)))
            if new:
                index.add(new)
            return index

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.size <= 0:
            self._local.close()
            return
        with self._available:
            workers, self._idle = list(self._idle), []
        for worker in workers:
            try:
                if worker.alive() and worker.ready:
                    _send(worker.conn, {"op": "stop"})
                    worker.process.join(2)
            except OSError:
                pass
            self._stop(worker)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NoWorkerAnswer(Exception):
    """No worker could answer a whole check request; the message says why."""


class _ReferenceRunner(WorkerPool):
    """The reference evaluator in the pool's place, for one check: see `reference_runner`."""

    def __init__(self, pool: WorkerPool, reason: str) -> None:  # no super(): starts nothing
        self.pool = pool
        self.pack = pool.pack
        self.reason = reason

    def check(
        self,
        proposal_fact: Mapping[str, Any],
        history_key: str | None,
        history_records_provider: HistoryProvider | None,
        params: Mapping[str, Decimal],
        timeout: float | None = None,
    ) -> tuple[list[FiredData], dict[str, str]]:
        return self.pool._reference(
            dict(proposal_fact), history_key, history_records_provider, params, self.reason
        )

    def close(self) -> None:
        pass  # the pool it stands in for is closed with its pack


def _death(worker: _Worker, err: BaseException) -> str:
    worker.process.join(1)
    code = worker.process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker died ({name})"
    if code is not None:
        return f"the worker exited with status {code}"
    return f"the worker stopped answering ({type(err).__name__})"


class _Local:
    """The engine in this process: no protection from crashes, the same answers."""

    def __init__(self, pack: CheckedPack, engine: Engine | None = None) -> None:
        from checker.engine import EngineError

        if engine is None:
            from checker.compiler import compile_pack
            from checker.engine import Engine

            engine = Engine(pack, compile_pack(pack))
        self.engine = engine
        self.lock = threading.Lock()
        self._error = EngineError  # imported once, not on every check

    def check(
        self,
        proposal: Mapping[str, Any],
        key: str | None,
        provider: HistoryProvider | None,
        params: Mapping[str, Decimal],
    ) -> list[Fired]:
        EngineError = self._error  # the class, under its own name
        with self.lock:
            try:
                if key is not None:
                    held = self.engine.held(key)
                    new = provider(held or 0) if provider is not None else ()
                    if held is None:
                        self.engine.set_history(key, list(new))
                    elif new:
                        self.engine.add_history(key, list(new))
                return self.engine.check(proposal, key, params)
            except EngineError as err:
                if key is not None:
                    self.engine.drop_history(key)  # sent again in full next time
                raise _Refused(f"engine error: {err}") from err

    def close(self) -> None:
        self.engine.close()
