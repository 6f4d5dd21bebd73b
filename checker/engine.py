"""The durable-rules engine: the only module that imports `durable`.

`Engine(pack, plan)` builds one host from a compiled plan (checker/compiler.py). Histories are
asserted once, by key, and stay resident across checks; `check()` asserts the proposal as a
fact, singly, collects what fired, retracts it, and leaves nothing behind:

    engine = Engine(pack, compile_pack(pack))
    engine.set_history("h1", [to_fact(r) for r in records])
    fired = engine.check(to_fact(proposal), "h1", params)   # [Fired], in pack order

The engine keeps to the shapes `shared/durable-evidence/README.md` shows to be safe: a host
without timer threads, actions of exactly one parameter made by closure factories, a probe
action in every state before it is deleted, fact ids and sids of its own checked for 32-bit
FNV-1a collisions, at most `max_resident` (< 1,024) live sids per ruleset. Whatever it cannot
answer exactly it refuses with `EngineError`, and the caller answers from the reference
evaluator.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import durable_rules_engine
from durable.engine import Host

from checker import semantics
from checker.compiler import (
    BUCKET,
    ENGINE_INT_LIMIT,
    NEXT_DAY,
    NO_NEXT,
    NO_PREV,
    PREV_DAY,
    FactSpec,
    Plan,
    RulesetPlan,
    check_plan_safety,
    condition_keys,
    engine_text,
    fnv1a32,
    join_term_keys,
    whole,
)
from checker.findings import CompiledEvaluator
from checker.gcpause import cycle_collection_paused
from checker.lang import ast
from checker.lang.checked import CheckedPack
from checker.reference import CheckMemo, Env, Evaluator, Fired

__all__ = ["Engine", "EngineError", "UnknownHistory"]

Fact = dict[str, Any]

# The engine allows 1,024 live sids per ruleset; the next one raises MemoryError.
MAX_RESIDENT: Final = 1000
# Histories kept, least recently used dropped first: a service sees a history per request.
MAX_HISTORIES: Final = 32
# durable keeps about 165 bytes of every join frame it fires in a state until the state is
# deleted: past this many frames in a join ruleset's states, the busiest state is deleted and
# loaded again when next needed...
RECYCLE_FRAMES: Final = 20_000
# ... once it has fired this many frames per fact it holds: loading a partition again costs in
# proportion to its facts, so a state's frames may grow in proportion to them. The frames kept
# stay under about max(RECYCLE_FRAMES, RECYCLE_FRAMES_PER_FACT × facts held) per join ruleset
# (3 MB, or 1.7 KB a fact held: ~23 MB at 10,000 records over 100 scopes), and reloading
# costs about 3 µs per check, spread out (a partition of 140 facts, ~4 ms, every ~1,400 of
# its frames).
RECYCLE_FRAMES_PER_FACT: Final = 10


# One encoder for every fact: json.dumps with options builds a new one per call.
_ENCODE: Final = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode

# `"key": ` and the values other than texts as _ENCODE writes them: a check's facts repeat the
# same few keys and values (enums, flags, parameters), and joining the known pieces costs a
# third of encoding them again. Texts are written by the encoder's own function. Bounded:
# cleared when full.
_KEYS: dict[str, str] = {}
_VALUES: dict[tuple[type, Any], str] = {}
_PIECES_KEPT: Final = 8192
_TEXT: Final = json.encoder.encode_basestring  # what _ENCODE writes a text with


def _encode_fact(fact: Mapping[str, Any]) -> str:
    """`_ENCODE(fact)` byte for byte, for a flat fact of scalar values."""
    keys, values = _KEYS, _VALUES
    parts = []
    for key, value in fact.items():
        prefix = keys.get(key)
        if prefix is None:
            if type(key) is not str:
                return _ENCODE(fact)
            prefix = _TEXT(key) + ": "
            if len(keys) >= _PIECES_KEPT:
                keys.clear()
            keys[key] = prefix
        if type(value) is str:
            parts.append(prefix + _TEXT(value))
            continue
        entry = (type(value), value)
        try:
            text = values.get(entry)
        except TypeError:  # an unhashable value: not a flat fact
            return _ENCODE(fact)
        if text is None:
            if type(value) not in _SCALARS:
                return _ENCODE(fact)
            text = _ENCODE(value)
            if len(values) >= _PIECES_KEPT:
                values.clear()
            values[entry] = text
        parts.append(prefix + text)
    return "{" + ", ".join(parts) + "}"


# FNV-1a's multiplier (`compiler.fnv1a32`): one step of the hash for an ASCII digit
_FNV_PRIME: Final = 16777619

_SCOPE_FIELDS: Final = ("jurisdiction", "area", "target")
_SCALARS: Final = frozenset({type(None), bool, int})


def _scalar_text(value: Any) -> str:
    """One value of a flat fact as `_ENCODE` writes it."""
    kind = type(value)
    if kind is str:
        return _TEXT(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    return _ENCODE(value)


# combinations of parameter values and of derived flags written once per fact builder
_CHUNKS_KEPT: Final = 1024
_RID: Final = re.compile(r'"_rid": (-?[0-9]+)[,}]')


class EngineError(Exception):
    """The engine cannot answer this check exactly; the reference evaluator must."""


class UnknownHistory(EngineError):
    """The engine holds no history of that key: give it the records again."""


class _QuietHost(Host):  # type: ignore[misc]
    """A host without the stock timer threads, which re-arm forever: every action runs inside
    the call that caused it."""

    def _run(self) -> None:
        pass


def _probe_action(c: Any) -> None:
    """Runs in a state before it is deleted: durable frees uninitialised pointers when
    deleting a state in which no action ever ran."""


# --- histories and resident sids ------------------------------------------------------------


@dataclass
class _History:
    records: list[Fact] = field(default_factory=list)
    projections: list[Fact] = field(default_factory=list)
    # join ruleset name → partition value → record numbers (`_rid`) in it
    partitions: dict[str, dict[tuple[str, ...], list[int]]] = field(default_factory=dict)
    # ordered join → whether each record passes the join's own tests
    passes: dict[int, list[bool]] = field(default_factory=dict)
    # (ordered join, partition value) → its passing records in date order
    orders: dict[tuple[int, tuple[str, ...]], _Order] = field(default_factory=dict)
    # (ordered join, partition value) → bucket width in days, fixed once chosen
    widths: dict[tuple[int, tuple[str, ...]], int] = field(default_factory=dict)


# Records per date bucket an ordered join aims at: durable scans one bucket per bound. The
# narrower the buckets, the more copies of records (a record stands in every bucket up to its
# neighbour's) and the fewer durable scans per check: at H=10,000 over 100 scopes, 8 a bucket
# cost 34 µs per join assertion and 218 MB at peak, 2 a bucket 21 µs and 248 MB; 1 a bucket
# 19 µs and 289 MB, too close to the 300 MB the engine is allowed.
_PER_BUCKET: Final = 2


@dataclass
class _Order:
    """The records of a partition that pass an ordered join's own tests, by (date, id), and
    the date buckets they are filed under.

    An order is made again whenever its partition gains records, so what is cached on it
    (`changes`) depends on the history's version, never on a proposal."""

    rids: list[int]
    days: list[int]
    position: dict[int, int]
    width: int
    records: list[Fact] = field(default_factory=list)  # the records of `rids`, in order
    _changes: list[int] | None = None
    _ids: tuple[list[str] | None] | None = None

    def ids(self) -> list[str] | None:
        """The `id` of every record, in order, when they are distinct texts (as a history's
        are; else None): over a run `lower..upper` the ids of a sequence are then a slice (a
        finding's `related`), not a walk over its records."""
        if self._ids is None:
            ids = [semantics.field(record, "id") for record in self.records]
            distinct = all(isinstance(i, str) for i in ids) and len(set(ids)) == len(ids)
            self._ids = (ids if distinct else None,)
        return self._ids[0]

    def changes(self) -> list[int]:
        """Prefix counts of direction changes along the order: `changes[i]` is how often
        `direction` changes between neighbours among `records[0..i]`, each neighbour pair
        judged by `semantics.direction_changes` itself, so that over a contiguous run
        `lower..upper` the count is `changes[upper] - changes[lower]`."""
        if self._changes is None:
            counts = [0] * len(self.records)
            total = 0
            for i in range(1, len(self.records)):
                total += semantics.direction_changes([self.records[i - 1]], self.records[i]) or 0
                counts[i] = total
            self._changes = counts
        return self._changes

    def bucket(self, day: int) -> int:
        return day // self.width

    def copies(self) -> Iterator[tuple[str, int, int, int]]:
        """(side, record, bucket, neighbour day) of every copy: `upper` copies of a record in
        its own bucket and in each later bucket before its successor's (where it is the last
        record before the bucket); `lower` copies likewise towards its predecessor."""
        days, n = self.days, len(self.days)
        if not n:
            return
        last_bucket = self.bucket(days[-1])
        for i, rid in enumerate(self.rids):
            own = self.bucket(days[i])
            following = days[i + 1] if i + 1 < n else NO_NEXT
            reach = self.bucket(following) if i + 1 < n else last_bucket + 1
            yield ("upper", rid, own, following)
            for b in range(own + 1, reach + 1):
                yield ("upper", rid, b, following)
            preceding = days[i - 1] if i > 0 else NO_PREV
            start = self.bucket(preceding) if i > 0 else own - 1
            yield ("lower", rid, own, preceding)
            for b in range(start, own):
                yield ("lower", rid, b, preceding)

    def upper_bucket(self, day: int) -> int:
        """The bucket whose copies hold the last record before `day`."""
        if not self.days:
            return 0
        return min(self.bucket(day), self.bucket(self.days[-1]) + 1)

    def lower_bucket(self, day: int) -> int:
        """The bucket whose copies hold the first record on or after `day`."""
        if not self.days:
            return 0
        return max(self.bucket(day), self.bucket(self.days[0]) - 1)


@dataclass
class _Resident:
    """One sid of a join ruleset holding the records of one (history, partition)."""

    sid: str
    owner: tuple[str, tuple[str, ...]]  # (history key, partition value)
    hashes: set[int] = field(default_factory=set)  # FNV-1a of every live fact id in the sid
    # (kind, record, bucket) → (the fact as asserted or None if refused, id hash, signature)
    stored: dict[tuple[str, int, int], tuple[str | None, int, Any]] = field(default_factory=dict)
    frames: int = 0  # join frames fired in the state since it was made


class _Residency:
    """The live sids of one join ruleset: a fixed pool checked once for hash collisions, used
    least recently first."""

    def __init__(self, capacity: int) -> None:
        self.free: list[str] = list(reversed(_sid_pool(capacity)))
        self.live: OrderedDict[tuple[str, tuple[str, ...]], _Resident] = OrderedDict()
        self.frames = 0  # join frames fired in the live states
        self.next_look = RECYCLE_FRAMES  # frames at which `_recycle` looks for a state again


@functools.cache
def _sid_pool(capacity: int) -> tuple[str, ...]:
    """`capacity` sids whose 32-bit hashes differ: colliding sids would share one state."""
    pool = tuple(f"s{n}" for n in range(capacity))
    if len({fnv1a32(s) for s in pool}) != len(pool):
        raise EngineError("the sid pool has colliding hashes")
    return pool


# --- values entering the engine -------------------------------------------------------------


def _refuse(value: Any, what: str) -> Any:
    raise EngineError(f"{what} = {value!r} cannot enter the engine exactly")


def _text(value: Any, what: str) -> Any:
    if type(value) is str:
        return value if len(value) <= 1024 else engine_text(value)
    if value is None:
        return None
    return _refuse(value, what)


def _bool(value: Any, what: str) -> Any:
    if value is None or type(value) is bool:
        return value
    return _refuse(value, what)


def _int(value: Any, what: str) -> Any:
    if type(value) is int and -ENGINE_INT_LIMIT < value < ENGINE_INT_LIMIT:
        return value  # what `whole` gives a plain int in range
    if value is None:
        return None
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        number = whole(value)
        if number is not None:
            return number
    return _refuse(value, what)


def _day(value: Any, what: str) -> Any:
    if type(value) is dt.date:
        return value.toordinal()
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.toordinal()
    return _refuse(value, what)


_CONVERTERS: Final[Mapping[str, Callable[[Any, str], Any]]] = {
    "text": _text,
    "bool": _bool,
    "int": _int,
    "count": _int,
    "day": _day,
}


# A converted value's JSON text (`_scalar_text(convert(value, what))`) in one call: the values
# most fields hold by their exact types first, everything else through the converter itself.


def _text_json(value: Any, what: str) -> str:
    if type(value) is str and len(value) <= 1024:
        return _TEXT(value)
    return _scalar_text(_text(value, what))


def _bool_json(value: Any, what: str) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return _scalar_text(_bool(value, what))


def _int_json(value: Any, what: str) -> str:
    if type(value) is int and -ENGINE_INT_LIMIT < value < ENGINE_INT_LIMIT:
        return int.__repr__(value)
    return _scalar_text(_int(value, what))


def _day_json(value: Any, what: str) -> str:
    if type(value) is dt.date:
        return int.__repr__(value.toordinal())
    return _scalar_text(_day(value, what))


_JSON_CONVERTERS: Final[Mapping[str, Callable[[Any, str], str]]] = {
    "text": _text_json,
    "bool": _bool_json,
    "int": _int_json,
    "count": _int_json,
    "day": _day_json,
}


def _getter(path: tuple[str, ...]) -> Callable[[Any], Any]:
    """`record.a.b` as `semantics.path_value` reads it, fast for the plain dicts of facts."""
    if len(path) == 1:
        name = path[0]

        def get_one(record: Any) -> Any:
            if type(record) is dict and name != "scope":
                return record.get(name)
            return semantics.path_value(record, path)

        return get_one

    def get(record: Any) -> Any:
        value = record
        for name in path:
            if type(value) is not dict:
                return semantics.path_value(record, path)
            value = value.get(name)
            if value is None:
                return None
        return value

    return get


class _FactBuilder:
    """Builds the engine fact of one FactSpec from the proposal, parameters, query results
    and derived flags."""

    def __init__(self, spec: FactSpec) -> None:
        self.records: list[tuple[str, Callable[[Any], Any], Callable[[Any, str], Any]]] = []
        self.params: list[tuple[str, str]] = []
        self.found: list[tuple[str, str]] = []
        self.counts: list[tuple[str, str]] = []
        self.bound: list[tuple[str, str, Callable[[Any], Any], Callable[[Any, str], Any]]] = []
        bound_specs: list[Any] = []
        for f in spec.fields:
            if f.source == "record":
                self.records.append((f.key, _getter(f.path), _CONVERTERS[f.conv]))
            elif f.source == "param":
                self.params.append((f.key, f.path[0]))
            elif f.conv == "found":
                self.found.append((f.key, f.source))
            elif f.conv == "count":
                self.counts.append((f.key, f.source))
            else:
                self.bound.append((f.key, f.source, _getter(f.path), _CONVERTERS[f.conv]))
                bound_specs.append(f)
        self.derived = spec.derived
        # `text`: the same fields with their `"key": ` written once; a proposal's fields by
        # name when the path is one field other than `scope` (as `_getter` reads them)
        self.record_texts = [
            (
                ", " + _TEXT(f.key) + ": ",
                f.path[0] if len(f.path) == 1 and f.path[0] != "scope" else "",
                _getter(f.path),
                _JSON_CONVERTERS[f.conv],
                f.key,
            )
            for f in spec.fields
            if f.source == "record"
        ]
        self.param_names = tuple(name for _, name in self.params)
        self.params_texts: dict[tuple[int, ...], str] = {}
        self.found_texts = [(", " + _TEXT(key) + ": ", slot) for key, slot in self.found]
        self.count_texts = [(", " + _TEXT(key) + ": ", slot, key) for key, slot in self.counts]
        self.bound_texts = [
            (", " + _TEXT(key) + ": ", slot, get, _JSON_CONVERTERS[f.conv], key)
            for (key, slot, get, _), f in zip(self.bound, bound_specs, strict=True)
        ]
        self.flags_texts: dict[tuple[int, ...], str] = {}
        keys = ["_k", "id"] + [f.key for f in spec.fields] + list(spec.derived)
        # with a key twice a dict keeps one entry and the text would hold two: never so made
        self.texts_exact = len(set(keys)) == len(keys)
        self.keys = frozenset(keys)
        # `"key": ` of the keys the engine adds after the fields (sid, _t, buckets)
        self.tail_prefixes: dict[str, str] = {}

    def record(self, record: Any, fact: Fact) -> Fact:
        for key, get, convert in self.records:
            fact[key] = convert(get(record), key)
        return fact

    def build(
        self,
        proposal: Fact,
        params: Mapping[str, int],
        results: Mapping[str, Any],
        flags: Mapping[str, int],
    ) -> Fact:
        fact: Fact = {"_k": 1}
        self.record(proposal, fact)
        for key, name in self.params:
            fact[key] = params[name]
        for key, slot in self.found:
            fact[key] = 0 if results[slot] is None else 1
        for key, slot in self.counts:
            fact[key] = _int(results[slot], key)
        for key, slot, get, convert in self.bound:
            record = results[slot]
            fact[key] = convert(get(record) if record is not None else None, key)
        for key in self.derived:
            fact[key] = flags[key]
        return fact

    def text(
        self,
        proposal: Fact,
        params: Mapping[str, int],
        results: Mapping[str, Any],
        flags: Mapping[str, int],
        tail: Sequence[tuple[str, Any]],
        fact_id: str,
    ) -> str:
        """`_encode_fact` of the fact `build` makes, with the `tail` of further keys and
        values and then `id` added, byte for byte, written as it is built.

        The parameters and the derived flags are written once per combination of their
        values (flags are the ints 0 and 1 `Engine._check` sets, never bools, which would be
        equal to them as keys). The values go through the same converters as in `build`,
        which refuse the same values."""
        tail_keys = [key for key, _ in tail]
        if (
            not self.texts_exact
            or type(proposal) is not dict
            or not self.keys.isdisjoint(tail_keys)
            or len(set(tail_keys)) != len(tail_keys)
        ):
            # a key twice: the dict keeps one entry where it was first set
            fact = self.build(proposal, params, results, flags)
            fact.update(tail)
            fact["id"] = fact_id
            return _encode_fact(fact)
        parts = ['{"_k": 1']
        append = parts.append
        for prefix, name, get, write, key in self.record_texts:
            append(prefix + write(proposal.get(name) if name else get(proposal), key))
        if self.param_names:
            values = tuple([params[name] for name in self.param_names])
            chunk = self.params_texts.get(values)
            if chunk is None:
                chunk = "".join(
                    ", " + _TEXT(key) + ": " + _scalar_text(params[name])
                    for key, name in self.params
                )
                if len(self.params_texts) >= _CHUNKS_KEPT:
                    self.params_texts.clear()
                self.params_texts[values] = chunk
            append(chunk)
        for prefix, slot in self.found_texts:
            append(prefix + ("0" if results[slot] is None else "1"))
        for prefix, slot, key in self.count_texts:
            append(prefix + _scalar_text(_int(results[slot], key)))
        for prefix, slot, get, write, key in self.bound_texts:
            record = results[slot]
            append(prefix + write(get(record) if record is not None else None, key))
        if self.derived:
            held = tuple([flags[key] for key in self.derived])
            chunk = self.flags_texts.get(held)
            if chunk is None:
                chunk = "".join(
                    ", " + _TEXT(key) + ": " + _scalar_text(flags[key]) for key in self.derived
                )
                if len(self.flags_texts) >= _CHUNKS_KEPT:
                    self.flags_texts.clear()
                self.flags_texts[held] = chunk
            append(chunk)
        prefixes = self.tail_prefixes
        for key, value in tail:
            known = prefixes.get(key)
            if known is None:
                known = ", " + _TEXT(key) + ": "
                if len(prefixes) < _CHUNKS_KEPT:
                    prefixes[key] = known
            append(known + _scalar_text(value))
        append(', "id": ' + _TEXT(fact_id) + "}")
        return "".join(parts)


def _bound_value(bound: Any, fact: Mapping[str, Any]) -> int:
    """A join's lower date bound, as the engine computes it from the proposal fact: only
    to choose the bucket whose copies the engine then compares exactly."""
    if isinstance(bound, int):
        return bound
    if set(bound) == {"p"}:
        return int(fact[bound["p"]])
    op, operands = next(iter(bound.items()))
    left, right = _bound_value(operands["$l"], fact), _bound_value(operands["$r"], fact)
    return left + right if op == "$add" else left - right


def _reduce(kind: str, span: tuple[list[Fact], _Order, int, int] | None, memo: _SpanMemo) -> Any:
    """A query's value from an ordered join's span, by the semantics of `query_result`: only
    the records that can decide it are handed over. A sequence is noted in `memo` with its
    span, for the functions `_SpanEvaluator` answers from the order's prefix counts."""
    if span is None:
        return semantics.query_result(kind, ())
    records, order, lower, upper = span
    if kind == "latest":
        return semantics.query_result(kind, [records[order.rids[upper]]])
    if kind == "earliest":
        end = lower
        while end < upper and order.days[end + 1] == order.days[lower]:
            end += 1
        return semantics.query_result(kind, [records[r] for r in order.rids[lower : end + 1]])
    if kind == "count":
        return upper - lower + 1
    # a sequence: the order is already by (effective_on, id), as query_result would sort it
    sequence = order.records[lower : upper + 1]
    memo.spans[id(sequence)] = (sequence, order, lower, upper)
    return sequence


@dataclass
class _SpanMemo(CheckMemo):
    """A check's memo, and the sequences of this check that are contiguous runs of an
    ordered join's order (by the id of the list, kept alive here): the compiler made a join
    ordered only when its records in date order are exactly those passing the record's own
    tests, bounded by dates, so a sequence of it is a run `lower..upper` of the order."""

    spans: dict[int, tuple[list[Fact], _Order, int, int]] = field(default_factory=dict)


class _SpanEvaluator(CompiledEvaluator):
    """The reference evaluator (compiled to closures), but `direction_changes` over a
    sequence that is a run of an ordered join (`_SpanMemo.spans`) is answered from the
    order's prefix counts in O(1) instead of a walk over the run; any other argument takes
    the general path. The count is the same by construction: the pairs inside the run, from
    the prefix counts, plus the pair (last record, the second argument), judged by
    `semantics.direction_changes` itself."""

    def __init__(self, pack: CheckedPack) -> None:
        super().__init__(pack)
        self._dispatch[ast.Call] = self._call

    def _call(self, expr: ast.Call, env: Env) -> Any:
        args = [self.evaluate(a, env) for a in expr.args]
        if expr.name == "direction_changes" and isinstance(env.memo, _SpanMemo):
            span = env.memo.spans.get(id(args[0]))
            if span is not None and span[0] is args[0] and span[0]:
                sequence, order, lower, upper = span
                changes = order.changes()
                last = semantics.direction_changes([sequence[-1]], args[1])
                return changes[upper] - changes[lower] + (last or 0)
        return semantics.call(expr.name, args)

    def _call_fn(self, expr: ast.Call) -> Callable[[Env], Any]:
        if expr.name != "direction_changes":
            return super()._call_fn(expr)
        call = self._call
        return lambda env: call(expr, env)


# --- the engine -------------------------------------------------------------------------------


class Engine:
    """One durable host running a compiled pack; histories resident by key."""

    def __init__(
        self,
        pack: CheckedPack,
        plan: Plan,
        *,
        max_resident: int = MAX_RESIDENT,
        max_histories: int = MAX_HISTORIES,
    ):
        problems = check_plan_safety(plan)
        if problems:
            raise EngineError("unsafe plan: " + "; ".join(problems))
        if not 0 < max_resident < 1024:
            raise ValueError("max_resident must be between 1 and 1023")
        self.pack = pack
        self.plan = plan
        self.evaluator: Evaluator = _SpanEvaluator(pack)
        self.max_resident = max_resident
        self.max_histories = max_histories
        self._lock = threading.RLock()
        self._histories: OrderedDict[str, _History] = OrderedDict()
        self._counter = 0
        # prefix -> (the counter's tens, fnv1a32 of the prefix and their digits): `_fresh_id`
        self._id_hashes: dict[str, tuple[int, int]] = {}
        # filled by the actions during one assertion, read and cleared by the caller
        self._fired: set[str] = set()
        self._candidates: dict[int, list[int]] = {j.index: [] for j in plan.joins}
        self._firsts: dict[int, list[int]] = {j.index: [] for j in plan.joins}
        # the ruleset whose sids hold each join's partitions: its own, or for an ordered join
        # that takes its last record from another's upper rule and (without a window) has no
        # rule and so no ruleset of its own, that join's (the same pins, the same partitions)
        self._ruleset_of: dict[int, str] = {
            j.index: (
                plan.joins[j.upper_from].ruleset
                if not j.ruleset and j.ordered and j.upper_from is not None
                else j.ruleset
            )
            for j in plan.joins
        }
        self._ordered_in: dict[str, list[Any]] = {}
        for join in plan.joins:
            if join.ordered:
                self._ordered_in.setdefault(self._ruleset_of[join.index], []).append(join)
        self._derived = {d.key: d for d in plan.derived}
        self._found_slots = {s.key for s in plan.slots if s.kind in ("latest", "earliest")}
        self._history_builder = _FactBuilder(plan.history_fact)
        self._builders = {rs.name: _FactBuilder(rs.fact) for rs in plan.rulesets}
        # a derived flag matters only when a rule reading it can still fire: its latest and
        # earliest queries all found a record
        self._probe_flags = [k for rs in plan.join_rulesets for k in rs.fact.derived]
        self._flag_users: dict[str, list[list[str]]] = {}
        for ruleset in plan.rule_rulesets:
            for definition in ruleset.rules.values():
                reads = condition_keys(definition)
                found = sorted(k for k in reads if k in self._found_slots)
                for key in reads:
                    if key in self._derived:
                        self._flag_users.setdefault(key, []).append(found)
        # the flags a check computes after its queries, with the found-slots of their users,
        # and whether a user needs none (the flag is computed whatever the queries found)
        self._check_flags = [
            (d, users, any(not found for found in users), self.evaluator.function(d.expr))
            for d in plan.derived
            if d.phase != "history"
            for users in [self._flag_users.get(d.key, [])]
        ]
        # per rule: (level, the name of its severity rule, None when unconditional), in order
        self._severities: dict[str, list[tuple[str, str | None]]] = {}
        for info in pack.rules:
            rule = info.rule
            options = rule.severity.options if rule.severity is not None else (("medium", None),)
            self._severities[info.id] = [
                (level, None if condition is None else f"{info.id}#{level}")
                for level, condition in options
            ]
        # parameter values in force → as the engine compares them (whole numbers)
        self._engine_params: dict[tuple[Any, ...], dict[str, int]] = {}
        self._slots = {s.key: s for s in plan.slots}
        self._rules_by_id = {info.id: info.rule for info in pack.rules}
        # per rule, its lets in order: (name, the query's slot, whether the query must find a
        # record, None) for a query, (name, None, False, the value's closure) otherwise; slots
        # found once: hashing a query's tree on every check costs
        self._let_plans: dict[str, tuple[tuple[str, str | None, bool, Any], ...]] = {
            info.id: tuple(
                (let.name, plan.slot_of[let.value], let.value.kind in ("latest", "earliest"), None)
                if isinstance(let.value, ast.Query)
                else (let.name, None, False, self.evaluator.function(let.value))
                for let in info.rule.lets
            )
            for info in pack.rules
        }
        self._joins_of: dict[str, list[int]] = {}
        for join in plan.joins:
            self._joins_of.setdefault(self._ruleset_of[join.index], []).append(join.index)
        # properties of join terms must hold values on both facts
        self._joined_record_keys: set[str] = set()
        self._joined_proposal_keys: dict[str, set[str]] = {}
        for ruleset in plan.join_rulesets:
            keys: set[str] = set()
            for name, definition in ruleset.rules.items():
                if ruleset.actions[name][0] == "join":
                    record_keys, proposal_keys = join_term_keys(definition)
                    self._joined_record_keys |= record_keys
                    keys |= proposal_keys
            self._joined_proposal_keys[ruleset.name] = keys
        # the bucket and neighbour fields of ordered joins are set on their copies
        self._joined_record_keys -= {BUCKET, NEXT_DAY, PREV_DAY}
        # base facts serve the joins that are not ordered
        self._needs_base = {
            rs.name
            for rs in plan.join_rulesets
            if any(not plan.joins[i].ordered for i in self._joins_of.get(rs.name, []))
        }
        # `_rid` is read from the frames' text unless a proposal fact could carry the key
        fact_keys = [rs.fact.keys() for rs in plan.rulesets]  # FactSpec.keys, not a dict's
        self._rids_in_text = not any("_rid" in keys for keys in fact_keys)
        # join rulesets pinned by the scope alone, partitioned by its fields: the pin's closure
        self._scope_pins = {
            rs.name: self.evaluator.function(rs.pins[0][1])
            for rs in plan.join_rulesets
            if len(rs.pins) == 1 and rs.pins[0][0] == "scope" and rs.partition == _SCOPE_FIELDS
        }
        self._phase2_sid = "0"
        self._phase2_taken = frozenset({fnv1a32(f"sid-{self._phase2_sid}")})
        self._closed = False
        self._build()

    # --- the host

    def _build(self) -> None:
        definitions: dict[str, dict[str, Any]] = {}
        self._dispatch: dict[str, dict[str, Callable[[Any], None]]] = {}
        # the lists the join and first actions collect record numbers into, by rule name
        self._buckets: dict[str, dict[str, list[int]]] = {}
        for ruleset in self.plan.rulesets:
            rules: dict[str, Any] = {}
            for name, definition in ruleset.rules.items():
                # durable takes the action out of the dict it is given: hand it a copy
                action = self._action(ruleset, name)
                self._dispatch.setdefault(ruleset.name, {})[name] = action
                rules[name] = {**copy.deepcopy(dict(definition)), "run": action}
            definitions[ruleset.name] = rules
        self._host = _QuietHost(definitions)
        self._handles = {name: self._host.get_ruleset(name)._handle for name in definitions}
        self._residency = {rs.name: _Residency(self.max_resident) for rs in self.plan.join_rulesets}
        self._broken = False

    def _action(self, ruleset: RulesetPlan, name: str) -> Callable[[Any], None]:
        """The action of one rule: a closure of exactly one parameter, the rule's frames.

        (durable takes an action with a second parameter, even a defaulted one, for an
        asynchronous action and silently stops later rules.)"""
        what = ruleset.actions[name]
        if what[0] == "probe":
            return _probe_action
        if what[0] in ("join", "first"):
            bucket = (self._candidates if what[0] == "join" else self._firsts)[int(what[1])]
            self._buckets.setdefault(ruleset.name, {})[name] = bucket

            def collect(frames: Any) -> None:
                for frame in frames if isinstance(frames, list) else [frames]:
                    bucket.append(frame["h"]["_rid"])

            return collect
        fired = self._fired

        def record(frames: Any) -> None:
            fired.add(name)

        return record

    def _assert(self, ruleset: str, fact_json: str) -> bool:
        """Assert one fact and run the actions it causes, in this call; False when the fact
        matched no pattern and was not stored.

        The C calls are made here rather than through durable's Host, whose dispatch builds
        a closure object and round-trips the state through JSON for every action: the same
        calls, in the same order, at a fraction of the cost.
        """
        handle = self._handles[ruleset]
        code, state = durable_rules_engine.assert_fact(handle, fact_json)
        if code == 1:
            return False
        if code != 0:
            # 2: a fact of this id is already stored; 3: actions deferred to a later call.
            # Neither can happen with fresh ids and single assertions.
            raise EngineError(f"the engine answered {code} to an assertion in {ruleset}")
        self._run_actions(ruleset, handle, state)
        return True

    def _retract(self, ruleset: str, fact_json: str) -> None:
        handle = self._handles[ruleset]
        code, state = durable_rules_engine.retract_fact(handle, fact_json)
        if code != 0:
            raise EngineError(f"the engine answered {code} to a retraction in {ruleset}")
        self._run_actions(ruleset, handle, state)

    def _run_actions(self, ruleset: str, handle: int, state: int) -> None:
        started = durable_rules_engine.start_action_for_state(handle, state)
        if not started:
            return
        actions = self._dispatch[ruleset]
        buckets = self._buckets.get(ruleset) if self._rids_in_text else None
        messages: str | None = started[1]
        while messages:
            # `{"<rule name>":<frames>}`: rule names are plain identifiers
            name = messages[2 : messages.index('"', 2)]
            action = actions.get(name)
            try:
                if action is None:
                    raise EngineError(f"no action for {name!r} in {ruleset}")
                bucket = buckets.get(name) if buckets is not None else None
                # what `collect` takes from the parsed frames, read from the text: only
                # history records carry `_rid`, written `"_rid": <n>` by _ENCODE (a text
                # value holding those characters has its quotes escaped); parsed when not
                # found so
                found = _RID.findall(messages) if bucket is not None else None
                if bucket is not None and found:
                    bucket.extend(map(int, found))
                elif action.__name__ == "collect":
                    action(next(iter(json.loads(messages).values())))
                else:
                    action(None)
            except BaseException:
                durable_rules_engine.abandon_action(handle, state)
                raise
            messages = durable_rules_engine.complete_and_start_action(handle, state)

    def close(self) -> None:
        """Free the engine's memory: every state probed and deleted, every ruleset deleted."""
        with self._lock:
            if self._closed:
                return
            if self._broken:
                self._closed = True  # the host is not to be trusted: leave it to the process
                return
            for ruleset in self.plan.join_rulesets:
                residency = self._residency[ruleset.name]
                for owner in list(residency.live):
                    self._evict(ruleset.name, owner)
            for ruleset in self.plan.rule_rulesets:
                self._probe_and_delete(ruleset.name, self._phase2_sid, set())
            for ruleset in self.plan.rulesets:
                durable_rules_engine.delete_ruleset(self._handles[ruleset.name])
            self._closed = True

    # --- ids

    def _fresh_id(self, prefix: str, taken: AbstractSet[int]) -> tuple[str, int]:
        """A fact id unique in its sid by the engine's 32-bit hash (a colliding id would make
        a different fact be taken for a duplicate and dropped).

        The id is `prefix` and the counter's digits. FNV-1a reads the text a byte at a time,
        so the hash of `prefix` and all digits but the last (kept per prefix, made again every
        ten ids) takes one step for the last digit: `fnv1a32(id)` without a byte loop in
        Python for each id."""
        while True:
            self._counter += 1
            count = self._counter
            tens, digit = divmod(count, 10)
            known = self._id_hashes.get(prefix)
            if known is None or known[0] != tens:
                known = (tens, fnv1a32(f"{prefix}{tens}" if tens else prefix))
                self._id_hashes[prefix] = known
            h = ((known[1] ^ (0x30 + digit)) * _FNV_PRIME) & 0xFFFFFFFF
            if h not in taken:
                return f"{prefix}{count}", h

    # --- histories

    def set_history(self, key: str, records: Iterable[Mapping[str, Any]]) -> None:
        """Make `records` (facts, `semantics.to_fact`) the history known as `key`; its records
        are asserted once and stay resident across checks."""
        with self._lock:
            self._ensure_host()
            self._drop(key)
            self._histories[key] = _History()
            self._append(key, list(records))
            self._forget_old()

    def add_history(self, key: str, records: Iterable[Mapping[str, Any]]) -> None:
        """Append records to the history `key`; only the new ones are asserted."""
        with self._lock:
            self._ensure_host()
            if key not in self._histories:
                self._histories[key] = _History()
            self._histories.move_to_end(key)
            self._append(key, list(records))
            self._forget_old()

    def held(self, key: str) -> int | None:
        """How many records of the history `key` the engine holds; None when it holds none
        (never given, or dropped as the least recently used)."""
        with self._lock:
            history = self._histories.get(key)
            return None if history is None else len(history.records)

    def _forget_old(self) -> None:
        while len(self._histories) > self.max_histories:
            self._drop(next(iter(self._histories)))

    def drop_history(self, key: str) -> None:
        with self._lock:
            self._drop(key)

    def _drop(self, key: str) -> None:
        if key not in self._histories:
            return
        for ruleset in self.plan.join_rulesets:
            residency = self._residency[ruleset.name]
            for owner in [o for o in residency.live if o[0] == key]:
                self._evict(ruleset.name, owner)
        del self._histories[key]

    @cycle_collection_paused()
    def _append(self, key: str, records: Sequence[Mapping[str, Any]]) -> None:
        history = self._histories[key]
        start = len(history.records)
        facts = [dict(record) for record in records]
        for fact in facts:
            if not isinstance(fact.get("effective_on"), dt.date) or not isinstance(
                fact.get("id"), str
            ):
                raise ValueError("a history record needs an `id` and an `effective_on` date")
        # all or nothing: a record the engine cannot hold leaves the history as it was
        projections = [self._project(fact, n) for n, fact in enumerate(facts, start=start)]
        passes: dict[int, list[bool]] = {}
        shared: dict[tuple[str, tuple[ast.Expr, ...]], list[bool]] = {}
        for joins in self._ordered_in.values():
            for join in joins:
                # equal tests (as in `prior` and `recent` of the default pack) are run once
                tests = (join.var, join.record_tests)
                if tests not in shared:
                    shared[tests] = [self._passes(join, fact) for fact in facts]
                passes[join.index] = shared[tests]
        history.records.extend(facts)
        history.projections.extend(projections)
        for index, flags in passes.items():
            history.passes.setdefault(index, []).extend(flags)
        for ruleset in self.plan.join_rulesets:
            partitions = history.partitions.setdefault(ruleset.name, {})
            touched: set[tuple[str, ...]] = set()
            for n in range(start, len(history.records)):
                parts = [history.records[n].get(f) for f in ruleset.partition]
                if not all(isinstance(v, str) for v in parts):
                    continue  # a record whose scope is not text matches no pin
                value = tuple(str(v) for v in parts)
                partitions.setdefault(value, []).append(n)
                touched.add(value)
            for join in self._ordered_in.get(ruleset.name, ()):
                for value in touched:
                    history.orders.pop((join.index, value), None)  # widths stay
            residency = self._residency[ruleset.name]
            for value in touched:
                resident = residency.live.get((key, value))
                if resident is not None:
                    self._load(ruleset.name, resident, history)
                elif residency.free:
                    # load while there is room: the first check of a scope is then as fast as
                    # the next one
                    self._resident(ruleset.name, key, value)

    def _project(self, record: Fact, rid: int) -> Fact:
        spec = self.plan.history_fact
        fact = self._history_builder.record(record, {"_t": "h", "_k": 1, "_rid": rid})
        for key in self._joined_record_keys:
            if fact.get(key) is None:
                raise EngineError(f"history record {record.get('id')!r} has no {key}")
        if spec.derived:
            env = Env({}, {})
            for key in spec.derived:
                derived = self._derived[key]
                assert derived.var is not None
                value = self.evaluator.evaluate(derived.expr, env.bind(derived.var, record))
                fact[key] = 1 if semantics.truthy(value) else 0
        return fact

    def _resident(self, ruleset: str, key: str, value: tuple[str, ...]) -> _Resident:
        """The sid holding the partition `value` of history `key`, loaded if it was not."""
        residency = self._residency[ruleset]
        owner = (key, value)
        resident = residency.live.get(owner)
        if resident is not None:
            residency.live.move_to_end(owner)
            return resident
        if not residency.free:
            self._evict(ruleset, next(iter(residency.live)))
        sid = residency.free.pop()
        # the state's own fact has the id `sid-<sid>`
        resident = _Resident(sid, owner, hashes={fnv1a32(f"sid-{sid}")})
        residency.live[owner] = resident
        self._load(ruleset, resident, self._histories[key])
        return resident

    def _passes(self, join: Any, record: Fact) -> bool:
        env = Env({}, {}, vars={join.var: record})
        return all(semantics.truthy(self.evaluator.evaluate(t, env)) for t in join.record_tests)

    def _order(self, history: _History, join: Any, value: tuple[str, ...]) -> _Order:
        key = (join.index, value)
        order = history.orders.get(key)
        if order is None:
            passes = history.passes[join.index]
            partition = history.partitions[self._ruleset_of[join.index]].get(value, ())
            rids = [r for r in partition if passes[r]]
            rids.sort(key=lambda r: semantics.record_order(history.records[r]))
            days = [history.records[r]["effective_on"].toordinal() for r in rids]
            width = history.widths.get(key)
            if width is None and days:
                # about _PER_BUCKET records a bucket; kept when records are added, so that
                # the copies already asserted stay valid
                span = days[-1] - days[0] + 1
                width = history.widths[key] = max(1, -(-span * _PER_BUCKET // len(days)))
            position = {r: n for n, r in enumerate(rids)}
            records = [history.records[r] for r in rids]
            order = _Order(rids, days, position, width or 1, records)
            history.orders[key] = order
        return order

    def _load(self, ruleset: str, resident: _Resident, history: _History) -> None:
        """Bring the sid up to date with its partition: assert what is new, retract and
        re-assert the copies of ordered joins whose neighbours or buckets changed."""
        value = resident.owner[1]
        rids = history.partitions[ruleset][value]
        wanted: dict[tuple[str, int, int], Any] = {}
        if ruleset in self._needs_base:
            for rid in rids:
                wanted[("h", rid, 0)] = None
        for join in self._ordered_in.get(ruleset, ()):
            order = self._order(history, join, value)
            for side, rid, bucket, neighbour in order.copies():
                kind = join.upper_kind if side == "upper" else join.lower_kind
                if side == "lower" and not join.windowed:
                    continue  # without a window the first record is the first of the order
                if side == "upper" and join.upper_from is not None:
                    continue  # another join's upper rule finds its last record
                wanted[(kind, rid, bucket)] = neighbour
        for key, (text, h, signature) in list(resident.stored.items()):
            if key in wanted and wanted[key] == signature:
                continue
            if text is not None:
                self._retract(ruleset, text)
                resident.hashes.discard(h)
            del resident.stored[key]
        for key, signature in wanted.items():
            if key in resident.stored:
                continue
            kind, rid, bucket = key
            fact_id, h = self._fresh_id("h", resident.hashes)
            fact = {**history.projections[rid], "sid": resident.sid, "id": fact_id, "_t": kind}
            if kind != "h":
                fact[BUCKET] = bucket
                fact[NEXT_DAY if kind[0] == "u" else PREV_DAY] = signature
            text = _ENCODE(fact)
            if self._assert(ruleset, text):
                resident.hashes.add(h)
                resident.stored[key] = (text, h, signature)
            else:
                # it passes no query's own tests: never a candidate; not stored, not retried
                resident.stored[key] = (None, 0, signature)

    def _evict(self, ruleset: str, owner: tuple[str, tuple[str, ...]]) -> None:
        residency = self._residency[ruleset]
        resident = residency.live.pop(owner)
        self._probe_and_delete(ruleset, resident.sid, resident.hashes)
        residency.free.append(resident.sid)
        residency.frames -= resident.frames

    def _probe_and_delete(self, ruleset: str, sid: str, hashes: set[int]) -> None:
        probe_id, _ = self._fresh_id("x", hashes | {fnv1a32(f"sid-{sid}")})
        self._assert(ruleset, json.dumps({"sid": sid, "id": probe_id, "_probe": 1}))
        durable_rules_engine.delete_state(self._handles[ruleset], sid)

    def _ensure_host(self) -> None:
        if self._closed:
            raise EngineError("the engine is closed")
        if self._broken:
            # a failed engine call may leave a state half-updated: start over with a new host
            histories = self._histories
            self._build()
            self._histories = OrderedDict()
            for key, history in histories.items():
                self._histories[key] = _History()
                self._append(key, history.records)

    # --- checks

    def check(
        self,
        proposal_fact: Mapping[str, Any],
        history_key: str | None,
        params: Mapping[str, Decimal],
    ) -> list[Fired]:
        """The rules that fire for the proposal against the history `history_key`, in pack
        order, as the reference evaluator would report them."""
        with self._lock:
            self._ensure_host()
            try:
                return self._check(dict(proposal_fact), history_key, params)
            except EngineError:
                raise
            except Exception as err:
                self._broken = True
                raise EngineError(f"engine failure: {type(err).__name__}: {err}") from err

    def _check(
        self, proposal: Fact, history_key: str | None, params: Mapping[str, Decimal]
    ) -> list[Fired]:
        plan = self.plan
        values = tuple([params.get(name) for name in plan.params])
        engine_params = self._engine_params.get(values)
        if engine_params is None:
            engine_params = {}
            for name in plan.params:
                number = whole(params[name]) if name in params else None
                if number is None:
                    raise EngineError(
                        f"parameter {name} = {params.get(name)} is not a whole number the "
                        "engine can compare exactly"
                    )
                engine_params[name] = number
            if len(self._engine_params) >= 64:
                self._engine_params.clear()
            self._engine_params[values] = engine_params
        memo = _SpanMemo()
        base = Env(proposal, params, memo=memo)
        flags: dict[str, int] = {}
        for key in self._probe_flags:
            held = semantics.truthy(self.evaluator.evaluate(self._derived[key].expr, base))
            flags[key] = 1 if held else 0

        results = self._queries(proposal, history_key, engine_params, flags, base, memo)
        envs: dict[str, Env | None] = {}

        def env_of(rule_id: str) -> Env | None:
            if rule_id not in envs:
                envs[rule_id] = self._bind_lets(rule_id, base, results)
            return envs[rule_id]

        truthy = semantics.truthy
        for derived, users, always, value_of in self._check_flags:
            if derived.key in flags:
                continue
            if not always and not any(
                all(results[s] is not None for s in found) for found in users
            ):
                flags[derived.key] = 0  # no rule reading it can fire
                continue
            if derived.phase == "rule":
                assert derived.rule is not None
                env = env_of(derived.rule)
            else:
                env = base
            held = env is not None and truthy(value_of(env))
            flags[derived.key] = 1 if held else 0

        fired = self._rules(proposal, engine_params, results, flags)
        out: list[Fired] = []
        for info in self.pack.rules:
            if info.id not in fired:
                continue
            env = env_of(info.id)
            if env is None:
                raise EngineError(f"{info.id} fired although a query of it found nothing")
            options = self._severities[info.id]
            severity = options[-1][0]
            for level, level_rule in options:
                if level_rule is None or level_rule in fired:
                    severity = level
                    break
            out.append(Fired(info, severity, env))
        return out

    def _bind_lets(self, rule_id: str, base: Env, results: Mapping[str, Any]) -> Env | None:
        """The rule's lets in order, queries answered by the engine; None when a latest or
        earliest query found no record (the rule cannot fire)."""
        bound = Env(base.proposal, base.params, memo=base.memo)
        lets = bound.lets
        for name, slot, must_find, value_of in self._let_plans[rule_id]:
            if slot is not None:
                value = results[slot]
                if value is None and must_find:
                    return None
            else:
                assert value_of is not None
                value = value_of(bound)
            lets[name] = value
        return bound

    def _queries(
        self,
        proposal: Fact,
        history_key: str | None,
        engine_params: Mapping[str, int],
        flags: Mapping[str, int],
        base: Env,
        memo: _SpanMemo,
    ) -> dict[str, Any]:
        """Phase 1: every query's value for this proposal (`base`: the check's scope of
        proposal, parameters and definitions, whose memo is `memo`)."""
        plan = self.plan
        history = self._histories.get(history_key) if history_key is not None else None
        if history_key is not None and history is None:
            raise UnknownHistory(f"unknown history {history_key!r}")
        if history_key is not None:
            self._histories.move_to_end(history_key)
        matched: dict[int, list[Fact]] = {}  # the records of joins that are not ordered
        spans: dict[int, tuple[list[Fact], _Order, int, int] | None] = {}
        lasts: dict[int, list[int]] = {}
        firsts: dict[int, list[int]] = {}
        partitions: dict[int, tuple[str, ...]] = {}
        date = proposal.get("effective_on")
        if history is not None and history.records and isinstance(date, dt.date):
            for ruleset in plan.join_rulesets:
                value = self._partition(ruleset, base)
                if value is None:
                    continue
                rids = history.partitions.get(ruleset.name, {}).get(value)
                if not rids:
                    continue
                assert history_key is not None
                resident = self._resident(ruleset.name, history_key, value)
                builder = self._builders[ruleset.name]
                fact = builder.build(proposal, engine_params, {}, flags)
                tail: list[tuple[str, Any]] = []
                for join in self._ordered_in.get(ruleset.name, ()):
                    order = self._order(history, join, value)
                    if join.upper_from is None:
                        bucket = order.upper_bucket(fact["r.effective_on#day"])
                        fact[join.upper_bucket] = bucket
                        tail.append((join.upper_bucket, bucket))
                    if join.windowed:
                        low = _bound_value(join.bound, fact)
                        fact[join.lower_bucket] = bucket = order.lower_bucket(low)
                        tail.append((join.lower_bucket, bucket))
                for key in self._joined_proposal_keys[ruleset.name]:
                    if fact.get(key) is None:
                        raise EngineError(f"the proposal has no {key}")
                tail += (("sid", resident.sid), ("_t", "p"))
                for index in self._joins_of[ruleset.name]:
                    self._candidates[index].clear()
                    self._firsts[index].clear()
                # asserted singly under a fresh id and retracted: nothing stays behind
                fact_id, _ = self._fresh_id("p", resident.hashes)
                text = builder.text(proposal, engine_params, {}, flags, tail, fact_id)
                if self._assert(ruleset.name, text):
                    self._retract(ruleset.name, text)
                fired = 0
                for index in self._joins_of[ruleset.name]:
                    fired += len(self._candidates[index]) + len(self._firsts[index])
                resident.frames += fired
                self._residency[ruleset.name].frames += fired
                for index in self._joins_of[ruleset.name]:
                    lasts[index] = self._candidates[index][:]
                    firsts[index] = self._firsts[index][:]
                    partitions[index] = value
                    self._candidates[index].clear()
                    self._firsts[index].clear()
            # every ruleset asserted first: an ordered join may take its last record from
            # another join's upper rule, in another ruleset
            for index, value in partitions.items():
                join = plan.joins[index]
                if join.ordered:
                    last = lasts.get(index if join.upper_from is None else join.upper_from, [])
                    spans[index] = self._span(history, join, value, last, firsts[index])
                else:
                    records = [history.records[rid] for rid in sorted(set(lasts[index]))]
                    matched[index] = self._residue(index, records, base)
        self._recycle()
        results: dict[str, Any] = {}
        for slot in plan.slots:
            if slot.join in spans:
                results[slot.key] = _reduce(slot.kind, spans[slot.join], memo)
            else:
                results[slot.key] = semantics.query_result(slot.kind, matched.get(slot.join, ()))
        return results

    def _recycle(self) -> None:
        """Delete the busiest state of a join ruleset whose states hold too many frames; its
        partition is loaded again when next needed."""
        for name, residency in self._residency.items():
            if residency.frames <= max(RECYCLE_FRAMES, residency.next_look):
                continue
            residency.next_look = 0
            while residency.frames > RECYCLE_FRAMES and residency.live:
                owner = max(residency.live, key=lambda o: residency.live[o].frames)
                busiest = residency.live[owner]
                if busiest.frames < RECYCLE_FRAMES_PER_FACT * len(busiest.stored):
                    # every state is within its budget: look again a while later, not at
                    # every check (a look reads every live state)
                    residency.next_look = residency.frames + RECYCLE_FRAMES // 20
                    break
                self._evict(name, owner)

    def _span(
        self,
        history: _History,
        join: Any,
        value: tuple[str, ...],
        last: list[int],
        first: list[int],
    ) -> tuple[list[Fact], _Order, int, int] | None:
        """An ordered join's answer: its passing records from the first in the window to
        the last before the proposal, as positions in the partition's order."""
        if len(last) > 1 or len(first) > 1:
            raise EngineError(f"join {join.index}: a bound matched more than one record")
        if not last or (join.windowed and not first):
            return None
        order = self._order(history, join, value)
        if last[0] not in order.position:
            # another join's upper rule answered: its passing records are this join's
            raise EngineError(f"join {join.index}: the last record is not in its order")
        upper = order.position[last[0]]
        lower = order.position[first[0]] if join.windowed else 0
        if lower > upper:
            return None
        return (history.records, order, lower, upper)

    def _partition(self, ruleset: RulesetPlan, base: Env) -> tuple[str, ...] | None:
        """The partition the proposal's pins choose, or None when they cannot all hold."""
        scope = self._scope_pins.get(ruleset.name)
        if scope is not None:
            # one pin, the scope, and a partition by its three fields in their order: the
            # scope's three texts are the partition (what the general loop below finds)
            value = scope(base)
            if (
                type(value) is tuple
                and len(value) == 3
                and type(value[0]) is str
                and type(value[1]) is str
                and type(value[2]) is str
            ):
                return value
        wanted: dict[str, str] = {}
        for name, expr in ruleset.pins:
            value = self.evaluator.evaluate(expr, base)
            if name == "scope":
                if not (isinstance(value, tuple) and len(value) == 3):
                    return None
                pairs = dict(zip(("jurisdiction", "area", "target"), value, strict=True))
            else:
                pairs = {name: value}
            for f, v in pairs.items():
                if not isinstance(v, str) or wanted.setdefault(f, v) != v:
                    return None
        return tuple(wanted[f] for f in ruleset.partition)

    def _residue(self, index: int, records: list[Fact], base: Env) -> list[Fact]:
        join = self.plan.joins[index]
        if not join.residue:
            return records
        kept = []
        for record in records:
            env = base.bind(join.var, record)
            if all(semantics.truthy(self.evaluator.evaluate(c, env)) for c in join.residue):
                kept.append(record)
        return kept

    def _rules(
        self,
        proposal: Fact,
        engine_params: Mapping[str, int],
        results: Mapping[str, Any],
        flags: Mapping[str, int],
    ) -> set[str]:
        """Phase 2: the names of the rules (and severity rules) that fired."""
        self._fired.clear()
        tail, taken = (("sid", self._phase2_sid),), self._phase2_taken
        for ruleset in self.plan.rule_rulesets:
            # asserted singly under a fresh id and retracted: nothing stays behind
            fact_id, _ = self._fresh_id("p", taken)
            builder = self._builders[ruleset.name]
            text = builder.text(proposal, engine_params, results, flags, tail, fact_id)
            if self._assert(ruleset.name, text):
                self._retract(ruleset.name, text)
        fired = set(self._fired)
        self._fired.clear()
        return fired
