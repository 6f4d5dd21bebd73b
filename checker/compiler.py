"""CheckedPack → Plan: durable-rules ruleset definitions as plain data, and lowering tables.

A check runs in two phases (ARCHITECTURE.md, "The engine"):

1. *Queries.* Every distinct history query `where` becomes one join rule `proposal × history`
   in a join ruleset shared by the queries that pin the same part of the scope (the
   *partition*: the sid their records live in). Each `where` conjunct goes where it is exact:
   a test on the history record alone is an alpha test on the history fact; a comparison of
   the record with the proposal is a join term; the rest (the *residue*) is evaluated by the
   reference evaluator on the candidate pairs the engine found.
   A query whose record tests do not read the proposal (the common case: a scope, a status,
   a direction, a date window) is *ordered*: its records, in date order, answer it, so the
   engine finds only the bounds (the last record before the proposal, the first in the
   window) and Python takes the records between them. Each record then enters as copies
   filed by date bucket, with its neighbour's day number, and the join has an equality term
   on the bucket: durable scans one bucket instead of the whole partition.
2. *Rules.* One fact per check (proposal fields, parameters, query results, derived flags)
   goes into rule rulesets of at most 32 rules; a rule's severity conditions are extra rules
   `<rule>#<level>` that fire with it.

A comparison runs in the engine only where the engine's semantics equal the spec's for the
operand types (whole numbers, day numbers of dates, texts and enums by equality, bools, and
nulls only where the engine's null behaviour coincides). Everything else is *lowered*: the
sub-expression becomes a derived flag `_d<N>` (1 or 0) that the reference evaluator computes
in Python before the fact is asserted, and the engine tests the flag. Lowering knows node
shapes and types only, never a rule.

The plan only uses the shapes known to be safe in durable-rules 2.0.28
(`shared/durable-evidence/README.md`); `check_plan_safety` states them as checks.

This module does not import durable: a plan is data, and the engine (checker/engine.py)
builds hosts from it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from checker.lang import ast
from checker.lang.checked import CheckedPack, Type

__all__ = [
    "DURABLE_STRING_LIMIT",
    "ENGINE_INT_LIMIT",
    "Derived",
    "FactSpec",
    "FieldSpec",
    "Join",
    "Plan",
    "RulesetPlan",
    "Slot",
    "check_plan_safety",
    "compile_pack",
    "engine_text",
    "fnv1a32",
]

# --- limits of the engine, and the margins kept below them --------------------------------

MAX_RULES_PER_RULESET: Final = 32  # the probe rule included
MAX_ALPHA_STACK: Final = 60  # the engine's alpha walk has 64 slots (error 303 beyond)
MAX_TESTS_PER_RULESET: Final = 500  # create_ruleset hangs past 512 tests under one node
MAX_JOIN_EXPRESSIONS: Final = 28  # a beta expression sequence holds 32 entries
MAX_FACT_PROPERTIES: Final = 240  # a fact holds 255 properties, id and sid included
JOIN_CAP: Final = 65535  # frames handed to one join action (an unsigned short)
# Whole numbers in facts stay far from 64-bit overflow under a few additions.
ENGINE_INT_LIMIT: Final = 2**53
# The engine compares strings over an unsigned short length; longer texts go in as digests.
DURABLE_STRING_LIMIT: Final = 4096

SENTINEL: Final[Mapping[str, Any]] = {"_k": {"p": "_k"}}
PROBE_RULE: Final = "_probe"
PROBE_CONDITION: Final[Mapping[str, Any]] = {"all": [{"m": {"_probe": 1}}]}

_SCOPE: Final = ("jurisdiction", "area", "target")
_ORDER_OPS: Final = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_FLIPPED: Final = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_NEGATED: Final = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


def fnv1a32(text: str) -> int:
    """The 32-bit FNV-1a hash durable-rules gives ids, sids and property names (bytes signed,
    as C `char` is on x86)."""
    h = 0x811C9DC5
    for b in text.encode("utf-8"):
        signed = b - 256 if b > 127 else b
        h = ((h ^ (signed & 0xFFFFFFFF)) * 16777619) & 0xFFFFFFFF
    return h


def engine_text(value: str) -> str:
    """A text as the engine compares it: itself, or a digest when too long for the engine's
    string comparison (equal texts give equal digests)."""
    if (
        len(value) <= DURABLE_STRING_LIMIT // 4
        or len(value.encode("utf-8")) <= DURABLE_STRING_LIMIT
    ):
        return value
    return "…sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One property of an engine fact, copied from a runtime value.

    `source` is `record` (the proposal, or a history record), `param`, or a query slot key
    (`_q3`: the record that query bound). `conv` says how the value enters the engine:
    `text` (texts and enum values), `bool`, `int` (whole numbers and durations), `day`
    (a date as its day number).
    """

    key: str
    source: str
    path: tuple[str, ...]
    conv: str


@dataclass(frozen=True)
class Derived:
    """A lowered condition: the flag `key` is 1 when `expr` is true, else 0.

    `phase` says when it is computed: `proposal` (on the proposal, parameters and definitions,
    before phase 1), `history` (on one history record, bound to `var`, when it is asserted),
    or `rule` (after the queries, in the scope of the lets of `rule`).
    """

    key: str
    expr: ast.Expr
    phase: str
    rule: str | None = None
    var: str | None = None


@dataclass(frozen=True)
class Join:
    """One distinct history `where`: a join rule in `ruleset`, and what the engine cannot do.

    `pins` are the conjuncts `h.<scope field> == <value>` that choose the partition; the
    engine evaluates the values per check. `residue` are the conjuncts the reference
    evaluator tests on each candidate record the engine found.
    """

    index: int
    var: str
    condition: ast.Expr
    ruleset: str
    rule: str
    pins: tuple[tuple[str, ast.Expr], ...]
    residue: tuple[ast.Expr, ...]
    # An ordered join: apart from the dates, every test reads the record alone, so the records
    # of a partition that pass them (`record_tests`, which Python also evaluates), in date
    # order, answer every query. The engine finds the last of them before the proposal and,
    # with a lower date bound (`bound`, reading the proposal only), the first in the window;
    # Python takes what lies between. Each record enters as copies of kind `upper_kind` and
    # `lower_kind`, one per date bucket it may answer for, carrying its neighbour's day number;
    # the proposal carries its buckets, so that durable scans one bucket, not a partition.
    ordered: bool = False
    record_tests: tuple[ast.Expr, ...] = ()
    bound: Any = None
    # An ordered join whose last record before the proposal is the one another ordered join
    # (this index) finds: the same variable, record tests and pins make the same upper rule,
    # which the engine then runs once. Its own window (if any) is its first rule's: a first
    # record in the window exists only when the last before the proposal is in it too.
    upper_from: int | None = None

    @property
    def windowed(self) -> bool:
        return self.bound is not None

    @property
    def first_rule(self) -> str:
        return f"{self.rule}#first"

    @property
    def upper_kind(self) -> str:
        return f"u{self.index}"

    @property
    def lower_kind(self) -> str:
        return f"l{self.index}"

    @property
    def upper_bucket(self) -> str:
        return f"_bu{self.index}"

    @property
    def lower_bucket(self) -> str:
        return f"_bl{self.index}"


# Properties of an ordered join's record copies: their bucket, and the day number of the
# next (upper copies) or previous (lower copies) record that passes the join's own tests.
BUCKET: Final = "_b"
NEXT_DAY: Final = "_n"
PREV_DAY: Final = "_v"
# A neighbour that does not exist: beyond any day number or bound (values stay below
# ENGINE_INT_LIMIT).
NO_NEXT: Final = 2**60
NO_PREV: Final = -(2**60)


@dataclass(frozen=True)
class Slot:
    """A query's result in the phase-2 fact: `key` holds the found flag (latest, earliest) or
    the count; the bound record's fields are `key.<path>`. A sequence is known to Python only.
    """

    key: str
    join: int
    kind: str


@dataclass(frozen=True)
class FactSpec:
    """The properties of one kind of engine fact, besides `sid`, `id`, `_k` and `_t`."""

    fields: tuple[FieldSpec, ...]
    derived: tuple[str, ...] = ()
    slots: tuple[str, ...] = ()

    def keys(self) -> list[str]:
        return [f.key for f in self.fields] + list(self.derived) + list(self.slots)


@dataclass(frozen=True)
class RulesetPlan:
    """A durable ruleset: its rules as durable JSON (without actions) and what each rule's
    action reports: `("join", n)`, `("rule", rule_id, level or "")`, `("probe",)`."""

    name: str
    phase: str  # join | rule
    rules: Mapping[str, Mapping[str, Any]]
    actions: Mapping[str, tuple[str, ...]]
    fact: FactSpec
    partition: tuple[str, ...] = ()  # join rulesets: the scope fields their sids pin
    pins: tuple[tuple[str, ast.Expr], ...] = ()


@dataclass(frozen=True)
class Plan:
    pack_hash: str
    join_rulesets: tuple[RulesetPlan, ...]
    rule_rulesets: tuple[RulesetPlan, ...]
    joins: tuple[Join, ...]
    slots: tuple[Slot, ...]
    slot_of: Mapping[ast.Query, str]  # every query of the pack (structurally) → its slot
    derived: tuple[Derived, ...]
    history_fact: FactSpec  # the projection of a history record
    probe_fact: FactSpec  # the proposal as phase 1 sees it
    params: tuple[str, ...]  # parameters the engine reads; each must be whole at check time
    severity_levels: Mapping[str, tuple[str, ...]]  # rule id → levels with a condition

    @property
    def rulesets(self) -> tuple[RulesetPlan, ...]:
        return self.join_rulesets + self.rule_rulesets


# --- values as the engine sees them -----------------------------------------------------------

# A property reference: (side, key). Side `m` is the fact under test (alpha), `p` the
# proposal fact of a join, `h` the history fact of a join.
_Ref = tuple[str, str]


@dataclass(frozen=True)
class _Linear:
    """An integer linear form Σ coef·ref + const: whole numbers, days, durations."""

    terms: tuple[tuple[_Ref, int], ...]
    const: int
    nullable: frozenset[_Ref]
    arithmetic: bool  # more than a bare property or constant

    @staticmethod
    def of_ref(ref: _Ref, nullable: bool) -> _Linear:
        return _Linear(((ref, 1),), 0, frozenset([ref]) if nullable else frozenset(), False)

    @staticmethod
    def of_const(value: int) -> _Linear:
        return _Linear((), value, frozenset(), False)

    def plus(self, other: _Linear, sign: int) -> _Linear:
        coefs: dict[_Ref, int] = dict(self.terms)
        for ref, coef in other.terms:
            coefs[ref] = coefs.get(ref, 0) + sign * coef
        terms = tuple(sorted((r, c) for r, c in coefs.items() if c != 0))
        return _Linear(terms, self.const + sign * other.const, self.nullable | other.nullable, True)

    def negated(self) -> _Linear:
        terms = tuple((r, -c) for r, c in self.terms)
        return _Linear(terms, -self.const, self.nullable, self.arithmetic)


@dataclass(frozen=True)
class _Scalar:
    """A text, enum or bool value: one property, or a constant."""

    kind: str  # text | bool
    ref: _Ref | None
    const: Any
    nullable: bool


@dataclass(frozen=True)
class _Scope:
    """A record's scope: three text properties."""

    refs: tuple[_Ref, _Ref, _Ref]


_Value = _Linear | _Scalar | _Scope


# --- contexts: what a name means where a condition is compiled -----------------------------


@dataclass(frozen=True)
class _Ctx:
    """Where an expression is compiled.

    `mode` is `rule` (the phase-2 fact, side `m`), `where` (a query's condition: the query
    variable is side `h`, the proposal and parameters side `p`), or `base` (a definition's
    body inside either: the proposal and parameters only).
    """

    mode: str
    rule: ast.Rule | None = None
    var: str | None = None
    # names bound by an enclosing quantifier: never native
    bound: frozenset[str] = frozenset()

    @property
    def proposal_side(self) -> str:
        return "m" if self.mode == "rule" else "p"


# --- the compiler ---------------------------------------------------------------------------


class CompileError(Exception):
    """A pack the compiler cannot turn into a safe plan (never expected for a checked pack)."""


class _Compiler:
    def __init__(self, pack: CheckedPack) -> None:
        self.pack = pack
        self.derived: dict[str, Derived] = {}
        self._derived_keys: dict[tuple[str, str | None, str | None, ast.Expr], str] = {}
        self.joins: list[Join] = []
        self._join_keys: dict[tuple[str, ast.Expr], int] = {}
        # (var, record tests, pins, proposal pattern) → the ordered join whose upper rule
        # finds the last record passing those tests before the proposal: equal upper rules
        # are compiled once
        self._uppers: dict[tuple[str, tuple[ast.Expr, ...], tuple[Any, ...], str], int] = {}
        self.slots: list[Slot] = []
        self._slot_keys: dict[tuple[int, str], str] = {}
        self.slot_of: dict[ast.Query, str] = {}
        self.params: set[str] = set()
        # properties per fact kind, by key
        self.rule_fields: dict[str, FieldSpec] = {}
        self.probe_fields: dict[str, FieldSpec] = {}
        self.history_fields: dict[str, FieldSpec] = {}
        # join rulesets: pins key → (partition fields, pins, rules, actions)
        self.join_groups: dict[tuple[tuple[str, ast.Expr], ...], list[tuple[str, Any, int]]] = {}
        self.rule_queries: dict[str, list[tuple[ast.Let, str]]] = {}

    # --- types

    def type_of(self, node: ast.Expr) -> Type | None:
        return self.pack.types.get(id(node))

    # --- derived flags

    def flag(self, expr: ast.Expr, ctx: _Ctx, phase: str | None = None) -> dict[str, Any]:
        """Lower `expr`: a derived flag the reference evaluator computes; the engine tests it."""
        if phase is None:
            phase = "rule" if ctx.mode == "rule" and self._reads_lets(expr, ctx) else "proposal"
        rule = ctx.rule.name if phase == "rule" and ctx.rule is not None else None
        var = ctx.var if phase == "history" else None
        dedupe = (phase, rule, var, expr)
        key = self._derived_keys.get(dedupe)
        if key is None:
            key = f"_d{len(self.derived)}"
            self._derived_keys[dedupe] = key
            self.derived[key] = Derived(key, expr, phase, rule, var)
        return {key: 1}

    def _reads_lets(self, expr: ast.Expr, ctx: _Ctx) -> bool:
        if ctx.rule is None:
            return False
        lets = {let.name for let in ctx.rule.lets}
        return any(name in lets for name in _free_names(expr))

    # --- names

    def resolve(self, path: ast.Path, ctx: _Ctx) -> tuple[str, Any] | None:
        """What a path stands for: ("field", (side, source, fields)), ("inline", (expr, ctx)),
        ("slot", (slot key, kind)), or None when the engine cannot read it."""
        root = path.root
        if root in ctx.bound:
            return None
        if ctx.mode == "where" and root == ctx.var:
            return ("field", ("h", "record", path.fields))
        if ctx.mode == "rule" and ctx.rule is not None:
            for let in ctx.rule.lets:
                if let.name != root:
                    continue
                if isinstance(let.value, ast.Query):
                    return ("slot", (self.slot_of[let.value], let.value.kind))
                if path.fields:
                    return None
                return ("inline", (let.value, ctx))
        if root == "proposal":
            return ("field", (ctx.proposal_side, "record", path.fields))
        if root in self.pack.params:
            if path.fields:
                return None
            return ("param", (ctx.proposal_side, root))
        define = self.pack.defines.get(root)
        if define is not None and not path.fields:
            # a definition reads the proposal, parameters and definitions only
            return ("inline", (define.expr, _Ctx(ctx.mode)))
        return None

    def register(self, side: str, spec: FieldSpec) -> _Ref:
        facts = {"m": self.rule_fields, "p": self.probe_fields, "h": self.history_fields}[side]
        existing = facts.get(spec.key)
        if existing is not None and existing != spec:
            raise CompileError(f"two values share the engine property {spec.key!r}")
        facts[spec.key] = spec
        return (side, spec.key)

    def field_value(
        self, side: str, source: str, fields: tuple[str, ...], t: Type, prefix: str
    ) -> _Value | None:
        if not fields:
            return None
        dotted = ".".join(fields)
        if t.kind == "scope":
            refs = tuple(
                self.register(
                    side,
                    FieldSpec(
                        f"{prefix}{'.'.join((*fields[:-1], f))}", source, (*fields[:-1], f), "text"
                    ),
                )
                for f in _SCOPE
            )
            return _Scope((refs[0], refs[1], refs[2]))
        conv = _conversion(t)
        if conv is None:
            return None
        key = f"{prefix}{dotted}#day" if conv == "day" else f"{prefix}{dotted}"
        ref = self.register(side, FieldSpec(key, source, fields, conv))
        if conv in ("int", "day"):
            return _Linear.of_ref(ref, t.nullable)
        return _Scalar(conv, ref, None, t.nullable)

    # --- values

    def value(self, expr: ast.Expr, ctx: _Ctx) -> _Value | None:
        """The expression as something the engine computes exactly, or None."""
        t = self.type_of(expr)
        if isinstance(expr, ast.Number):
            if expr.unit == "%" or expr.value != expr.value.to_integral_value():
                return None
            number = int(expr.value)
            return _Linear.of_const(number) if abs(number) < ENGINE_INT_LIMIT else None
        if isinstance(expr, ast.DateLit):
            return _Linear.of_const(expr.value.toordinal())
        if isinstance(expr, ast.Text):
            return _Scalar("text", None, engine_text(expr.value), False)
        if isinstance(expr, ast.Bool):
            return _Scalar("bool", None, expr.value, False)
        if isinstance(expr, ast.Path):
            return self.path_value(expr, ctx, t)
        if isinstance(expr, ast.Arith) and expr.op in ("+", "-"):
            left, right = self.value(expr.left, ctx), self.value(expr.right, ctx)
            if not isinstance(left, _Linear) or not isinstance(right, _Linear):
                return None
            # `date ± duration` can leave the calendar (null in the spec, a number in the
            # engine): only whole numbers and durations, `date - date` included, are exact
            if not _integral(t):
                return None
            return left.plus(right, 1 if expr.op == "+" else -1)
        if isinstance(expr, ast.Call) and expr.name == "days" and len(expr.args) == 2:
            start, end = self.value(expr.args[0], ctx), self.value(expr.args[1], ctx)
            kinds = [self.type_of(a) for a in expr.args]
            if not all(k is not None and k.kind == "date" for k in kinds):
                return None
            if not isinstance(start, _Linear) or not isinstance(end, _Linear):
                return None
            return end.plus(start, -1)
        return None

    def path_value(self, expr: ast.Path, ctx: _Ctx, t: Type | None) -> _Value | None:
        resolved = self.resolve(expr, ctx)
        if resolved is None:
            return None
        what, detail = resolved
        if what == "inline":
            inner, inner_ctx = detail
            return self.value(inner, inner_ctx)
        if what == "param":
            side, name = detail
            if t is None or not _integral(t) or t.kind not in ("number", "duration"):
                return None
            self.params.add(name)
            ref = self.register(side, FieldSpec(f"_p.{name}", "param", (name,), "int"))
            return _Linear.of_ref(ref, False)
        if t is None:
            return None
        if what == "slot":
            slot_key, kind = detail
            if kind == "count" and not expr.fields:
                ref = self.register("m", FieldSpec(slot_key, slot_key, (), "count"))
                return _Linear.of_ref(ref, False)
            if kind in ("latest", "earliest") and expr.fields:
                return self.field_value("m", slot_key, expr.fields, t, f"{slot_key}.")
            return None
        side, source, fields = detail
        return self.field_value(side, source, fields, t, "r.")

    # --- conditions

    def cond(self, expr: ast.Expr, ctx: _Ctx) -> dict[str, Any]:
        """A condition for a single-fact pattern: native where exact, lowered elsewhere."""
        native = self.native(expr, ctx, False)
        if native is not None:
            return native
        if isinstance(expr, ast.And):
            return _all_of([self.cond(op, ctx) for op in expr.operands])
        if isinstance(expr, ast.Or):
            return _any_of([self.cond(op, ctx) for op in expr.operands])
        if isinstance(expr, ast.Path):
            resolved = self.resolve(expr, ctx)
            if resolved is not None and resolved[0] == "inline":
                inner, inner_ctx = resolved[1]
                return self.cond(inner, inner_ctx)
        return self.flag(expr, ctx)

    def native(self, expr: ast.Expr, ctx: _Ctx, negated: bool) -> dict[str, Any] | None:
        """`expr` (or `not expr`) as an engine condition on one fact, exactly; else None."""
        if isinstance(expr, ast.And | ast.Or):
            parts = [self.native(op, ctx, negated) for op in expr.operands]
            if any(p is None for p in parts):
                return None
            conjunctive = isinstance(expr, ast.And) != negated
            present = [p for p in parts if p is not None]
            return _all_of(present) if conjunctive else _any_of(present)
        if isinstance(expr, ast.Not):
            return self.native(expr.operand, ctx, not negated)
        if isinstance(expr, ast.Compare):
            return self.compare(expr.op, expr.left, expr.right, ctx, negated)
        if isinstance(expr, ast.IsNull):
            return self.is_null(expr.operand, ctx, expr.negated != negated)
        if isinstance(expr, ast.Member):
            return self.member(expr, ctx, negated)
        if isinstance(expr, ast.Bool):
            return None  # a constant condition: the checker warns; the flag computes it
        if isinstance(expr, ast.Path):
            t = self.type_of(expr)
            if t is None or t.kind != "bool":
                return None
            resolved = self.resolve(expr, ctx)
            if resolved is not None and resolved[0] == "inline":
                inner, inner_ctx = resolved[1]
                return self.native(inner, inner_ctx, negated)
            value = self.value(expr, ctx)
            if not isinstance(value, _Scalar) or value.ref is None or value.kind != "bool":
                return None
            key = _alpha_key(value.ref)
            if key is None:
                return None
            if not negated:
                # null is not `true`: the engine's bool test on null fails, as the spec says
                return {key: True}
            if value.nullable:
                return _any_of([{key: None}, {key: False}])
            return {key: False}
        return None

    def is_null(self, operand: ast.Expr, ctx: _Ctx, negated: bool) -> dict[str, Any] | None:
        if not isinstance(operand, ast.Path):
            return None
        value = self.value(operand, ctx)
        ref: _Ref | None = None
        if isinstance(value, _Scalar):
            ref = value.ref
        elif isinstance(value, _Linear) and not value.arithmetic and len(value.terms) == 1:
            ref = value.terms[0][0]
        if ref is None:
            return None
        key = _alpha_key(ref)
        if key is None:
            return None
        return {"$neq": {key: None}} if negated else {key: None}

    def member(self, expr: ast.Member, ctx: _Ctx, negated: bool) -> dict[str, Any] | None:
        if not isinstance(expr.container, ast.ListExpr) or not expr.container.items:
            return None
        item = self.value(expr.item, ctx)
        if not isinstance(item, _Scalar) or item.ref is None:
            return None
        key = _alpha_key(item.ref)
        if key is None:
            return None
        consts: list[Any] = []
        for entry in expr.container.items:
            value = self.value(entry, ctx)
            if not isinstance(value, _Scalar) or value.ref is not None or value.kind != item.kind:
                return None
            consts.append(value.const)
        inside = expr.negated == negated  # `x in L`, or `not (x not in L)`
        if inside:
            found = _any_of([{key: c} for c in consts])
            if item.nullable and negated:
                # `x not in L` is false for a null x, so `not (x not in L)` is true for it
                return _any_of([{key: None}, found])
            return found
        # `x not in L` is false for a null x, and so is every `$neq` on null in the engine;
        # `not (x in L)` is true for a null x.
        outside = _all_of([{"$neq": {key: c}} for c in consts])
        if item.nullable and negated and not expr.negated:
            return _any_of([{key: None}, outside])
        return outside

    def compare(
        self, op: str, left_expr: ast.Expr, right_expr: ast.Expr, ctx: _Ctx, negated: bool
    ) -> dict[str, Any] | None:
        if isinstance(right_expr, ast.Null) or isinstance(left_expr, ast.Null):
            if op not in ("==", "!="):
                return None
            other = left_expr if isinstance(right_expr, ast.Null) else right_expr
            return self.is_null(other, ctx, (op == "!=") != negated)
        left, right = self.value(left_expr, ctx), self.value(right_expr, ctx)
        if left is None or right is None:
            return None
        if isinstance(left, _Scope) or isinstance(right, _Scope):
            if not isinstance(left, _Scope) or not isinstance(right, _Scope):
                return None
            if (op == "==") == negated or op not in ("==", "!="):
                return None
            parts = [self._equal_refs(a, b) for a, b in zip(left.refs, right.refs, strict=True)]
            if any(p is None for p in parts):
                return None
            return _all_of([p for p in parts if p is not None])
        if isinstance(left, _Scalar) and isinstance(right, _Scalar):
            return self._compare_scalars(op, left, right, negated)
        if isinstance(left, _Linear) and isinstance(right, _Linear):
            return self._compare_linear(op, left, right, negated)
        return None

    def _equal_refs(self, a: _Ref, b: _Ref) -> dict[str, Any] | None:
        ka, kb = _alpha_key(a), _alpha_key(b)
        if ka is None or kb is None:
            return None
        return {ka: {"$m": kb}}

    def _compare_scalars(
        self, op: str, left: _Scalar, right: _Scalar, negated: bool
    ) -> dict[str, Any] | None:
        if op not in ("==", "!="):
            return None
        if negated:
            op = _NEGATED[op]
        if left.ref is None:
            left, right = right, left
        if left.ref is None:
            return None  # two constants: let the flag say
        key = _alpha_key(left.ref)
        if key is None:
            return None
        if right.ref is None:
            if op == "==":
                return {key: right.const}
            # null != "a" is true in the spec; the engine's `$neq` on null is false
            test = {"$neq": {key: right.const}}
            return _any_of([{key: None}, test]) if left.nullable else test
        other = _alpha_key(right.ref)
        if other is None:
            return None
        if op == "==":
            # null == null holds in both; null against a value fails in both
            return {key: {"$m": other}}
        if left.nullable or right.nullable:
            return None
        return {"$neq": {key: {"$m": other}}}

    def _compare_linear(
        self, op: str, left: _Linear, right: _Linear, negated: bool
    ) -> dict[str, Any] | None:
        diff = left.plus(right, -1)
        nullable = sorted(diff.nullable | left.nullable | right.nullable)
        arithmetic = left.arithmetic or right.arithmetic
        if op in ("==", "!="):
            if arithmetic and nullable:
                return None  # (null + 1) == null holds in the spec: not the engine's way
            effective = _NEGATED[op] if negated else op
            if effective == "!=" and nullable:
                if len(nullable) == 1 and (not left.terms or not right.terms):
                    # `x != 5` with x nullable: null, or a value other than 5
                    test = self._linear_test("!=", diff)
                    if test is None:
                        return None
                    key = _alpha_key(nullable[0])
                    return None if key is None else _any_of([{key: None}, test])
                return None
            return self._linear_test(effective, diff)
        test = self._linear_test(_NEGATED[op] if negated else op, diff)
        if test is None:
            return None
        guards: list[dict[str, Any]] = []
        for ref in nullable:
            key = _alpha_key(ref)
            if key is None:
                return None
            guards.append({key: None} if negated else {"$neq": {key: None}})
        if negated:
            # not (a < b) is true when either side is null
            return _any_of([*guards, test]) if guards else test
        if arithmetic and guards:
            # arithmetic on null is not null in the engine: test only when every operand is set
            return _all_of([*guards, test])
        return test  # an ordering on a bare null property is false in the engine, as in the spec

    def _linear_test(self, op: str, diff: _Linear) -> dict[str, Any] | None:
        """`diff op 0` as `{op: {key: right}}` on the fact under test (side m)."""
        sides = {ref[0] for ref, _ in diff.terms}
        if sides - {"m", "p", "h"} or len(sides) > 1:
            return None
        units = [(r, c) for r, c in diff.terms if abs(c) == 1]
        # the tested property is a record field where there is one: parameters read worse
        pick = next((u for u in units if not u[0][1].startswith("_p.")), None) or next(
            iter(units), None
        )
        if pick is None:
            return None
        ref, coef = pick
        if coef < 0:
            diff, op = diff.negated(), _FLIPPED[op]
        key = _alpha_key(ref)
        if key is None:
            return None
        rest = _Linear(
            tuple((r, c) for r, c in diff.terms if r != ref), diff.const, frozenset(), True
        )
        right = _expression(rest.negated(), lambda r: {"$m": _alpha_key(r)})
        return _op_test(op, key, right)

    # --- history queries

    def query(self, query: ast.Query) -> str:
        """The slot of a query: its join rule compiled once per distinct `where`."""
        existing = self.slot_of.get(query)
        if existing is not None:
            return existing
        join_key = (query.var, query.condition)
        index = self._join_keys.get(join_key)
        if index is None:
            index = self._compile_join(query)
            self._join_keys[join_key] = index
        slot_key = self._slot_keys.get((index, query.kind))
        if slot_key is None:
            slot_key = f"_q{len(self.slots)}"
            self._slot_keys[(index, query.kind)] = slot_key
            self.slots.append(Slot(slot_key, index, query.kind))
        self.slot_of[query] = slot_key
        return slot_key

    def _compile_join(self, query: ast.Query) -> int:
        var = query.var
        ctx = _Ctx("where", None, var)
        pins: list[tuple[str, ast.Expr]] = []
        p_tests: list[dict[str, Any]] = []
        h_tests: list[dict[str, Any]] = []
        record_tests: list[ast.Expr] = []
        pinned: list[dict[str, Any]] = []
        terms: list[tuple[ast.Expr, list[dict[str, Any]]]] = []
        group: dict[str, Any] | None = None
        group_conjunct: ast.Expr | None = None
        residue: list[ast.Expr] = []
        for conjunct in _conjuncts(query.condition):
            pin = _pin(conjunct, var)
            if pin is not None:
                pins.append(pin)
                # the partition holds it; the term is a defence only
                pinned.extend(self._join_terms(conjunct, ctx) or [])
                continue
            names = _free_names(conjunct)
            reads_record = var in names
            reads_proposal = bool(names - {var})
            if reads_record and not reads_proposal:
                test = self._atom(conjunct, ctx, "h")
                h_tests.append(test if test is not None else self.flag(conjunct, ctx, "history"))
                record_tests.append(conjunct)
            elif not reads_record:
                test = self._atom(conjunct, ctx, "p")
                p_tests.append(test if test is not None else self.flag(conjunct, ctx, "proposal"))
            else:
                found = self._join_terms(conjunct, ctx)
                if found is not None:
                    terms.append((conjunct, found))
                elif group is None and (candidate := self._join_group(conjunct, ctx)):
                    group, group_conjunct = candidate, conjunct
                else:
                    residue.append(conjunct)
        # only records strictly before the proposal take part
        day = self.register(
            "h", FieldSpec("r.effective_on#day", "record", ("effective_on",), "day")
        )
        pday = self.register(
            "p", FieldSpec("r.effective_on#day", "record", ("effective_on",), "day")
        )
        before = {"$lt": {day[1]: {"p": pday[1]}}}
        index = len(self.joins)
        rule_name = f"join{index}"
        pins_key = tuple(pins)
        p_pattern = _all_of([{"_t": "p"}, *p_tests])
        bounds = [t for _, found in terms for t in found if _lower_bound(t) is not None]
        if not residue and group is None and len(terms) <= 1 and len(bounds) == len(terms):
            bound = _lower_bound(bounds[0]) if bounds else None
            # the proposal's own tests are part of the rule too
            upper_key = (var, tuple(record_tests), pins_key, json.dumps(p_pattern, sort_keys=True))
            join = Join(
                index, var, query.condition, "", rule_name, pins_key, (), True,
                tuple(record_tests), bound, self._uppers.get(upper_key),
            )  # fmt: skip
            tests = [*h_tests, *pinned]
            rules = []
            if join.upper_from is None:
                # the last passing record before the proposal, window or not: a window is
                # the first rule's to test (no first record in it: the span is empty)
                self._uppers[upper_key] = index
                last = [
                    {"_t": join.upper_kind},
                    *tests,
                    {BUCKET: {"p": join.upper_bucket}},
                    before,
                    {"$gte": {NEXT_DAY: {"p": pday[1]}}},
                ]
                rules.append((rule_name, last))
            if bound is not None:
                first = [
                    {"_t": join.lower_kind},
                    *tests,
                    {BUCKET: {"p": join.lower_bucket}},
                    {"$gte": {day[1]: bound}},
                    {"$lt": {PREV_DAY: bound}},
                    before,
                ]
                rules.append((join.first_rule, first))
            for name, terms_of in rules:
                h_pattern = {"$and": [*terms_of, dict(SENTINEL)]}
                definition = {"all": [{"p": p_pattern}, {"h": h_pattern}], "cap": JOIN_CAP}
                self.join_groups.setdefault(pins_key, []).append((name, definition, index))
            self.joins.append(join)
            return index
        kept: list[dict[str, Any]] = [before, *pinned]
        budget = MAX_JOIN_EXPRESSIONS - len(kept)
        if group is not None:
            budget -= len(group["$or"]) + 2
            if budget < 0:
                assert group_conjunct is not None
                residue.append(group_conjunct)
                budget += len(group["$or"]) + 2
                group = None
        for source, found in terms:
            if len(found) <= budget:
                kept.extend(found)
                budget -= len(found)
            else:
                residue.append(source)  # the engine holds no more terms: Python tests it
        tail = [group] if group is not None else []
        h_pattern = {"$and": [{"_t": "h"}, *h_tests, *kept, *tail, dict(SENTINEL)]}
        definition = {"all": [{"p": p_pattern}, {"h": h_pattern}], "cap": JOIN_CAP}
        self.join_groups.setdefault(pins_key, []).append((rule_name, definition, index))
        self.joins.append(
            Join(index, var, query.condition, "", rule_name, pins_key, tuple(residue))
        )
        return index

    def _atom(self, expr: ast.Expr, ctx: _Ctx, side: str) -> dict[str, Any] | None:
        """A test on one side of a join as a single atom: groups are unsafe in joins."""
        test = self.native(expr, ctx, False)
        if test is None or not _is_atom(test):
            return None
        other = "p" if side == "h" else "h"
        if _mentions_side(test, other) or _mentions_side(test, "m"):
            return None
        stripped: dict[str, Any] = _strip_sides(test)
        return stripped

    def _join_terms(self, expr: ast.Expr, ctx: _Ctx) -> list[dict[str, Any]] | None:
        """A comparison of the record with the proposal as join terms, on non-null values
        only (a null in a join term makes the engine's assertion fail)."""
        negated = False
        while isinstance(expr, ast.Not):
            expr, negated = expr.operand, not negated
        if not isinstance(expr, ast.Compare):
            return None
        left, right = self.value(expr.left, ctx), self.value(expr.right, ctx)
        if left is None or right is None:
            return None
        op = _NEGATED[expr.op] if negated else expr.op
        if isinstance(left, _Scope) and isinstance(right, _Scope):
            if op != "==":
                return None
            pairs = [_join_equal(a, b) for a, b in zip(left.refs, right.refs, strict=True)]
            if any(p is None for p in pairs):
                return None
            return [p for p in pairs if p is not None]
        if isinstance(left, _Scalar) and isinstance(right, _Scalar):
            if op not in ("==", "!=") or left.nullable or right.nullable:
                return None
            if left.ref is None or right.ref is None:
                return None
            h_ref, p_ref = (left.ref, right.ref) if left.ref[0] == "h" else (right.ref, left.ref)
            if h_ref[0] != "h" or p_ref[0] != "p":
                return None
            return [_op_test(op, h_ref[1], {"p": p_ref[1]})]
        if isinstance(left, _Linear) and isinstance(right, _Linear):
            if left.nullable or right.nullable:
                return None
            diff = left.plus(right, -1)
            if any(r[0] not in ("h", "p") for r, _ in diff.terms):
                return None
            h_terms = [(r, c) for r, c in diff.terms if r[0] == "h"]
            if len(h_terms) != 1 or abs(h_terms[0][1]) != 1:
                return None
            ref, coef = h_terms[0]
            if coef < 0:
                diff, op = diff.negated(), _FLIPPED[op]
            rest = _Linear(
                tuple((r, c) for r, c in diff.terms if r != ref), diff.const, frozenset(), True
            )
            return [_op_test(op, ref[1], _expression(rest.negated(), lambda r: {"p": r[1]}))]
        return None

    def _join_group(self, expr: ast.Expr, ctx: _Ctx) -> dict[str, Any] | None:
        """An `or` of single join terms, placed last before the sentinel (the one safe place
        for a group in a join)."""
        if not isinstance(expr, ast.Or):
            return None
        alternatives: list[dict[str, Any]] = []
        for operand in expr.operands:
            found = self._join_terms(operand, ctx)
            if found is None or len(found) != 1:
                return None
            alternatives.append(found[0])
        return {"$or": alternatives}

    # --- rules

    def compile_rules(self) -> list[tuple[str, dict[str, Any], tuple[str, ...]]]:
        """Phase-2 rules, in pack order: (name, durable rule, action)."""
        out: list[tuple[str, dict[str, Any], tuple[str, ...]]] = []
        for info in self.pack.rules:
            rule = info.rule
            if rule.when is None:
                continue
            found: list[dict[str, Any]] = []
            for let in rule.lets:
                if isinstance(let.value, ast.Query):
                    slot = self.query(let.value)
                    if let.value.kind in ("latest", "earliest"):
                        self.register("m", FieldSpec(slot, slot, (), "found"))
                        found.append({slot: 1})
            ctx = _Ctx("rule", rule)
            entries = self._rule_entries(info.id, rule, found, ctx, lower=False)
            if not _fits([d for _, d, _ in entries]):
                # too wide for any ruleset natively: the condition is computed in Python
                entries = self._rule_entries(info.id, rule, found, ctx, lower=True)
            out.extend(entries)
        return out

    def _rule_entries(
        self, rule_id: str, rule: ast.Rule, found: list[dict[str, Any]], ctx: _Ctx, lower: bool
    ) -> list[tuple[str, dict[str, Any], tuple[str, ...]]]:
        """The rule and its severity rules `<rule>#<level>`, which fire with it."""
        assert rule.when is not None
        when = self.flag(rule.when, ctx) if lower else self.cond(rule.when, ctx)
        out: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
            (rule_id, _rule(_all_of([*found, when])), ("rule", rule_id, ""))
        ]
        for level, condition in rule.severity.options if rule.severity is not None else ():
            if condition is None:
                continue
            test = self.flag(condition, ctx) if lower else self.cond(condition, ctx)
            name = f"{rule_id}#{level}"
            out.append((name, _rule(_all_of([*found, when, test])), ("rule", rule_id, level)))
        return out


# --- helpers: conditions as durable JSON -----------------------------------------------------

# Alpha tests name properties of the fact under test. During compilation a key carries its
# side as a prefix `<side>|` so that a one-sided test of a join can be checked; it is removed
# before the rule is emitted.


def _alpha_key(ref: _Ref | None) -> str | None:
    if ref is None:
        return None
    side, key = ref
    return key if side == "m" else f"{side}|{key}"


def _mentions_side(node: Any, side: str) -> bool:
    if isinstance(node, dict):
        return any(
            (isinstance(k, str) and k.startswith(f"{side}|")) or _mentions_side(v, side)
            for k, v in node.items()
        )
    if isinstance(node, list):
        return any(_mentions_side(v, side) for v in node)
    return isinstance(node, str) and node.startswith(f"{side}|")


def _strip_sides(node: Any) -> Any:
    if isinstance(node, dict):
        return {_strip_key(k): _strip_sides(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_strip_sides(v) for v in node]
    if isinstance(node, str):
        return _strip_key(node)
    return node


def _strip_key(key: str) -> str:
    if len(key) > 2 and key[1] == "|" and key[0] in "mph":
        return key[2:]
    return key


def _expression(form: _Linear, ref_json: Any) -> Any:
    """A linear form as a durable operand: a constant, a reference, or `$add`/`$sub` of them.

    Constants are folded: durable takes an expression of constants alone for a reference to
    another fact and never evaluates it as a number."""
    if not form.terms:
        return form.const
    items: list[tuple[int, Any]] = []
    for ref, coef in form.terms:
        items.extend([(1 if coef > 0 else -1, ref_json(ref))] * abs(coef))
    if form.const:
        items.append((1 if form.const > 0 else -1, abs(form.const)))
    positives = [i for i, (sign, _) in enumerate(items) if sign > 0]
    acc: Any = items.pop(positives[0])[1] if positives else 0
    for sign, operand in items:
        acc = {"$add" if sign > 0 else "$sub": {"$l": acc, "$r": operand}}
    return acc


def _op_test(op: str, key: str, right: Any) -> dict[str, Any]:
    if op == "==":
        return {key: right}
    if op == "!=":
        return {"$neq": {key: right}}
    return {_ORDER_OPS[op]: {key: right}}


def _all_of(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return _group("$and", parts)


def _any_of(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return _group("$or", parts)


def _group(op: str, parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """`$and`/`$or` of parts, nested groups of the same kind flattened, repeats dropped (a
    null guard written twice is one test)."""
    flat: list[dict[str, Any]] = []
    seen: set[str] = set()  # by text: comparing each test with every other is quadratic
    for part in parts:
        for item in part[op] if set(part) == {op} else [part]:
            key = json.dumps(item, sort_keys=True, default=str)
            if key not in seen:
                seen.add(key)
                flat.append(item)
    return flat[0] if len(flat) == 1 else {op: flat}


def _is_atom(test: Mapping[str, Any]) -> bool:
    return not ({"$and", "$or"} & set(test))


def _rule(condition: dict[str, Any]) -> dict[str, Any]:
    return {"all": [{"m": condition}]}


def _lower_bound(term: Mapping[str, Any]) -> Any:
    """The bound B of a join term `h.effective_on >= B` (or `> B`, as `>= B + 1`) where B reads
    the proposal only; None for any other term."""
    if len(term) != 1:
        return None
    op, inner = next(iter(term.items()))
    if op not in ("$gte", "$gt") or not isinstance(inner, Mapping) or len(inner) != 1:
        return None
    key, bound = next(iter(inner.items()))
    if key != "r.effective_on#day" or '"$m"' in json.dumps(bound):
        return None
    return bound if op == "$gte" else {"$add": {"$l": bound, "$r": 1}}


def _join_equal(a: _Ref, b: _Ref) -> dict[str, Any] | None:
    h_ref, p_ref = (a, b) if a[0] == "h" else (b, a)
    if h_ref[0] != "h" or p_ref[0] != "p":
        return None
    return {h_ref[1]: {"p": p_ref[1]}}


def _conversion(t: Type) -> str | None:
    if t.kind in ("text", "enum"):
        return "text"
    if t.kind == "bool":
        return "bool"
    if t.kind == "date":
        return "day"
    if t.kind in ("number", "duration") and t.integral:
        return "int"
    return None


def _integral(t: Type | None) -> bool:
    return t is not None and t.kind in ("number", "duration") and t.integral


# --- helpers: expressions ---------------------------------------------------------------------


def _conjuncts(expr: ast.Expr) -> Iterator[ast.Expr]:
    if isinstance(expr, ast.And):
        for operand in expr.operands:
            yield from _conjuncts(operand)
    else:
        yield expr


def _free_names(expr: ast.Expr, bound: frozenset[str] = frozenset()) -> set[str]:
    """The root names an expression reads, outside the variables it binds itself."""
    if isinstance(expr, ast.Path):
        return set() if expr.root in bound else {expr.root}
    if isinstance(expr, ast.Quantifier):
        return _free_names(expr.source, bound) | _free_names(expr.condition, bound | {expr.var})
    names: set[str] = set()
    for child in _children(expr):
        names |= _free_names(child, bound)
    return names


def _children(node: ast.Expr) -> tuple[ast.Expr, ...]:
    if isinstance(node, ast.Minus | ast.Not | ast.IsNull | ast.IsEmpty):
        return (node.operand,)
    if isinstance(node, ast.Arith | ast.Compare):
        return (node.left, node.right)
    if isinstance(node, ast.Member):
        return (node.item, node.container)
    if isinstance(node, ast.And | ast.Or):
        return node.operands
    if isinstance(node, ast.ListExpr):
        return node.items
    if isinstance(node, ast.Call):
        return node.args
    if isinstance(node, ast.Quantifier):
        return (node.source, node.condition)
    return ()


def _pin(conjunct: ast.Expr, var: str) -> tuple[str, ast.Expr] | None:
    """`h.<scope field> == value` with a value that does not read `h`: a partition pin, as the
    reference evaluator reads it."""
    if not isinstance(conjunct, ast.Compare) or conjunct.op != "==":
        return None
    for mine, other in ((conjunct.left, conjunct.right), (conjunct.right, conjunct.left)):
        if (
            isinstance(mine, ast.Path)
            and mine.root == var
            and len(mine.fields) == 1
            and mine.fields[0] in (*_SCOPE, "scope")
            and var not in _free_names(other)
        ):
            return (mine.fields[0], other)
    return None


def _partition_fields(pins: Sequence[tuple[str, ast.Expr]]) -> tuple[str, ...]:
    pinned: set[str] = set()
    for name, _ in pins:
        pinned |= set(_SCOPE) if name == "scope" else {name}
    return tuple(f for f in _SCOPE if f in pinned)


# --- splitting into rulesets ----------------------------------------------------------------


class _AlphaNetwork:
    """A model of the alpha network durable-rules builds for a ruleset, to bound what one
    fact can make its alpha walk hold.

    As in the engine (rete.c, createAlpha/findAlpha), a test under a parent is shared with an
    equal test already there; an `$or` hangs each alternative under the current node and
    joins them in a fresh forward node, where the chain goes on. The walk (events.c,
    handleAlpha) pushes every matching child of the node it visits onto a stack of 64.
    """

    def __init__(self) -> None:
        self.children: list[list[int]] = [[]]
        self._index: dict[tuple[int, str], int] = {}

    def _node(self, parent: int, test: Any) -> int:
        key = (parent, json.dumps(test, sort_keys=True, default=str))
        found = self._index.get(key)
        if found is None:
            found = len(self.children)
            self.children.append([])
            self.children[parent].append(found)
            self._index[key] = found
        return found

    def add(self, condition: Any, parent: int = 0) -> int:
        if isinstance(condition, dict) and set(condition) == {"$and"}:
            for part in condition["$and"]:
                parent = self.add(part, parent)
            return parent
        if isinstance(condition, dict) and set(condition) == {"$or"}:
            forward = len(self.children)
            self.children.append([])
            for alternative in condition["$or"]:
                end = self.add(alternative, parent)
                if forward not in self.children[end]:
                    self.children[end].append(forward)
            return forward
        return self._node(parent, condition)

    def stack_bound(self) -> int:
        """The most entries the walk's stack can hold, every test taken to match."""
        extra: dict[int, int] = {}
        pending = [0]
        while pending:  # children before parents, without recursion: a long `and` is a chain
            node = pending[-1]
            kids = self.children[node]
            waiting = [k for k in kids if k not in extra]
            if waiting:
                pending.extend(waiting)
                continue
            pending.pop()
            extra[node] = 0 if not kids else len(kids) - 1 + max(1, *(extra[k] for k in kids))
        return 1 + extra[0]

    def widest(self) -> int:
        return max(len(kids) for kids in self.children)

    def tests(self) -> int:
        return len(self.children) - 1


def rule_patterns(definition: Mapping[str, Any]) -> list[Any]:
    return [next(iter(p.values())) for p in definition.get("all", [])]


def _network(rules: Sequence[Mapping[str, Any]]) -> _AlphaNetwork:
    network = _AlphaNetwork()
    for definition in rules:
        for pattern in rule_patterns(definition):
            network.add(pattern)
    return network


def _fits(rules: Sequence[Mapping[str, Any]]) -> bool:
    network = _network([dict(PROBE_CONDITION), *rules])
    return (
        len(rules) + 1 <= MAX_RULES_PER_RULESET
        and network.stack_bound() <= MAX_ALPHA_STACK
        and network.tests() <= MAX_TESTS_PER_RULESET
    )


def _split(
    entries: Sequence[tuple[str, dict[str, Any], tuple[str, ...]]],
) -> list[list[tuple[str, dict[str, Any], tuple[str, ...]]]]:
    """Pack rules into rulesets below the engine's limits, keeping pack order; a rule and its
    severity rules stay together."""
    units: list[list[tuple[str, dict[str, Any], tuple[str, ...]]]] = []
    for entry in entries:
        if entry[2][2] and units:
            units[-1].append(entry)
        else:
            units.append([entry])
    chunks: list[list[tuple[str, dict[str, Any], tuple[str, ...]]]] = []
    current: list[tuple[str, dict[str, Any], tuple[str, ...]]] = []
    for unit in units:
        if current and not _fits([d for _, d, _ in current + unit]):
            chunks.append(current)
            current = []
        current.extend(unit)
    if current:
        chunks.append(current)
    return chunks


def condition_keys(definition: Mapping[str, Any]) -> set[str]:
    """The properties of the fact under test that a single-fact rule reads."""
    keys: set[str] = set()
    for pattern in rule_patterns(definition):
        _fact_keys(pattern, keys)
    return keys


def _fact_keys(condition: Any, found: set[str]) -> None:
    """The properties of the fact under test that a condition reads."""
    if isinstance(condition, dict):
        for key, value in condition.items():
            if key in ("$and", "$or"):
                for part in value:
                    _fact_keys(part, found)
            elif key.startswith("$") and key not in ("$m",):
                _fact_keys(value, found)
            elif key == "$m":
                found.add(value)
            else:
                found.add(key)
                _fact_keys(value, found)
    elif isinstance(condition, list):
        for part in condition:
            _fact_keys(part, found)


# --- the entry point ------------------------------------------------------------------------


def compile_pack(pack: CheckedPack) -> Plan:
    """Compile a checked pack to a plan of durable rulesets and lowering tables."""
    compiler = _Compiler(pack)
    entries = compiler.compile_rules()
    # every query of the pack has a slot, used or not, so the engine answers all of them
    for info in pack.rules:
        for let in info.rule.lets:
            if isinstance(let.value, ast.Query):
                compiler.query(let.value)

    joins = list(compiler.joins)
    join_rulesets = _join_rulesets(compiler, joins)
    rule_rulesets = _rule_rulesets(compiler, entries)
    history_fact = FactSpec(
        tuple(f for _, f in sorted(compiler.history_fields.items())),
        tuple(sorted(d.key for d in compiler.derived.values() if d.phase == "history")),
    )
    probe_keys: set[str] = set()
    for rs in join_rulesets:
        probe_keys.update(rs.fact.keys())
    probe_fact = FactSpec(
        tuple(f for k, f in sorted(compiler.probe_fields.items()) if k in probe_keys),
        tuple(sorted(k for k in probe_keys if k in compiler.derived)),
    )
    severity_levels = {
        info.id: tuple(level for level, cond in info.rule.severity.options if cond is not None)
        for info in pack.rules
        if info.rule.severity is not None
    }
    return Plan(
        pack_hash=pack.hash,
        join_rulesets=tuple(join_rulesets),
        rule_rulesets=tuple(rule_rulesets),
        joins=tuple(joins),
        slots=tuple(compiler.slots),
        slot_of=dict(compiler.slot_of),
        derived=tuple(compiler.derived.values()),
        history_fact=history_fact,
        probe_fact=probe_fact,
        params=tuple(sorted(compiler.params)),
        severity_levels=severity_levels,
    )


def _join_rulesets(compiler: _Compiler, joins: list[Join]) -> list[RulesetPlan]:
    """One join ruleset per partition key (more when a key has over 31 queries)."""
    out: list[RulesetPlan] = []
    for n, (pins, members) in enumerate(compiler.join_groups.items()):
        chunks: list[list[tuple[str, dict[str, Any], int]]] = []
        for member in members:
            if not chunks or not _fits([d for _, d, _ in [*chunks[-1], member]]):
                chunks.append([])
            chunks[-1].append(member)
        for m, chunk in enumerate(chunks):
            name = f"bcm-join-{n}-{m}"
            rules: dict[str, Mapping[str, Any]] = {PROBE_RULE: dict(PROBE_CONDITION)}
            actions: dict[str, tuple[str, ...]] = {PROBE_RULE: ("probe",)}
            keys: set[str] = set()
            for rule_name, definition, index in chunk:
                rules[rule_name] = definition
                kind = "first" if rule_name.endswith("#first") else "join"
                actions[rule_name] = (kind, str(index))
                joins[index] = _with_ruleset(joins[index], name)
                p_pattern, h_pattern = rule_patterns(definition)
                _fact_keys(p_pattern, keys)
                _fact_keys(_join_refs(h_pattern), keys)
            fact = FactSpec(
                tuple(f for k, f in sorted(compiler.probe_fields.items()) if k in keys),
                tuple(sorted(k for k in keys if k in compiler.derived)),
            )
            out.append(
                RulesetPlan(name, "join", rules, actions, fact, _partition_fields(pins), pins)
            )
    return out


def _rule_rulesets(
    compiler: _Compiler, entries: Sequence[tuple[str, dict[str, Any], tuple[str, ...]]]
) -> list[RulesetPlan]:
    out: list[RulesetPlan] = []
    for n, chunk in enumerate(_split(entries)):
        rules: dict[str, Mapping[str, Any]] = {PROBE_RULE: dict(PROBE_CONDITION)}
        actions: dict[str, tuple[str, ...]] = {PROBE_RULE: ("probe",)}
        keys: set[str] = set()
        for name, definition, action in chunk:
            rules[name] = definition
            actions[name] = action
            _fact_keys(rule_patterns(definition)[0], keys)
        fields = tuple(f for k, f in sorted(compiler.rule_fields.items()) if k in keys)
        fact = FactSpec(fields, tuple(sorted(k for k in keys if k in compiler.derived)))
        out.append(RulesetPlan(f"bcm-rules-{n}", "rule", rules, actions, fact))
    return out


def _with_ruleset(join: Join, ruleset: str) -> Join:
    return dataclasses.replace(join, ruleset=ruleset)


def join_term_keys(definition: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """The record and proposal properties a join rule's terms read. They must hold values:
    a null in a join term makes the engine's assertion fail (error 312)."""
    record_keys: set[str] = set()
    proposal_keys = {ref["$m"] for ref in _join_refs(rule_patterns(definition)[1])}
    for term in rule_patterns(definition)[1]["$and"]:
        for atom in term["$or"] if set(term) == {"$or"} else [term]:
            if _join_refs(atom):
                record_keys.add(_tested_key(atom))
    return record_keys, proposal_keys


def _tested_key(atom: Mapping[str, Any]) -> str:
    """The property an atom tests: `{key: value}` or `{"$op": {key: value}}`."""
    key, value = next(iter(atom.items()))
    if key.startswith("$") and isinstance(value, Mapping):
        return str(next(iter(value)))
    return str(key)


def _join_refs(h_pattern: Any) -> list[Any]:
    """The proposal properties a join's terms read (`{"p": key}`), as `$m` references."""
    found: list[Any] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"p"} and isinstance(node["p"], str):
                found.append({"$m": node["p"]})
                return
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(h_pattern)
    return found


# --- safety -----------------------------------------------------------------------------------

_FORBIDDEN_OPERATORS: Final = ("$div", "$nex", "$mt", "$imt", "$iall", "$iany", "$mul")
_HASH_ID: Final = 926444256
_HASH_SID: Final = 3593476751


def check_plan_safety(plan: Plan) -> list[str]:
    """Every way the plan departs from the shapes known to be safe in durable-rules 2.0.28;
    an empty list for a safe plan."""
    problems: list[str] = []
    for ruleset in plan.rulesets:
        where = f"ruleset {ruleset.name}"
        if PROBE_RULE not in ruleset.rules or ruleset.actions.get(PROBE_RULE) != ("probe",):
            problems.append(
                f"{where}: no probe rule (delete_state would free uninitialised memory)"
            )
        if len(ruleset.rules) > MAX_RULES_PER_RULESET:
            problems.append(
                f"{where}: {len(ruleset.rules)} rules, more than {MAX_RULES_PER_RULESET}"
            )
        network = _network(list(ruleset.rules.values()))
        if network.stack_bound() > MAX_ALPHA_STACK:
            problems.append(
                f"{where}: its alpha walk may hold {network.stack_bound()} nodes (the engine "
                "stops at 64 and fires nothing)"
            )
        if network.tests() > MAX_TESTS_PER_RULESET:
            problems.append(
                f"{where}: {network.tests()} tests (ruleset creation hangs past 512 under one node)"
            )
        if set(ruleset.rules) != set(ruleset.actions):
            problems.append(f"{where}: rules and actions differ")
        keys = ruleset.fact.keys()
        if len(keys) + 4 > MAX_FACT_PROPERTIES:
            problems.append(f"{where}: its fact has {len(keys)} properties")
        for name, definition in ruleset.rules.items():
            problems.extend(_rule_problems(f"{where}, rule {name}", definition, ruleset.phase))
    problems.extend(_property_problems(plan))
    return problems


def _rule_problems(where: str, definition: Mapping[str, Any], phase: str) -> list[str]:
    problems: list[str] = []
    text = json.dumps(definition, ensure_ascii=False, default=str)
    for op in _FORBIDDEN_OPERATORS:
        if f'"{op}"' in text:
            problems.append(f"{where}: uses {op}")
    if set(definition) - {"all", "cap"}:
        problems.append(f"{where}: unexpected settings {sorted(set(definition) - {'all', 'cap'})}")
    patterns = rule_patterns(definition)
    for pattern in patterns:
        for key in _property_names(pattern):
            if key in ("id", "sid"):
                problems.append(f"{where}: tests `{key}` (the engine reads freed memory)")
    if len(patterns) == 1:
        condition = patterns[0]
        if _lone_missing(condition):
            problems.append(f"{where}: a lone test for a missing field")
        return problems
    if len(patterns) != 2:
        return [*problems, f"{where}: joins of {len(patterns)} facts are not used"]
    p_pattern, h_pattern = patterns
    for pattern in (p_pattern,):
        if not _is_atom(pattern) and not (
            set(pattern) == {"$and"} and all(_is_atom(t) for t in pattern["$and"])
        ):
            problems.append(f"{where}: the proposal pattern of a join holds a group")
    if set(h_pattern) != {"$and"}:
        return [*problems, f"{where}: the record pattern of a join is not an `$and`"]
    terms = h_pattern["$and"]
    if not terms or terms[-1] != dict(SENTINEL):
        problems.append(f"{where}: the join does not end with the sentinel {dict(SENTINEL)}")
    body = terms[:-1]
    groups = [i for i, t in enumerate(body) if not _is_atom(t)]
    if len(groups) > 1:
        problems.append(f"{where}: more than one group in a join")
    if groups and groups[0] != len(body) - 1:
        problems.append(f"{where}: a group in a join is not last before the sentinel")
    for i in groups:
        group = body[i]
        if set(group) != {"$or"} or not all(_is_atom(t) for t in group["$or"]):
            problems.append(f"{where}: a join group is not a flat `$or` of terms")
    beta = sum(1 for t in body if _is_join_term(t)) + sum(
        len(t.get("$or", [])) for t in body if not _is_atom(t)
    )
    if beta + 3 > MAX_JOIN_EXPRESSIONS + 4:
        problems.append(f"{where}: {beta} join terms (the engine holds 32 expressions)")
    return problems


def _is_join_term(test: Mapping[str, Any]) -> bool:
    return '{"p": ' in json.dumps(test)


def _lone_missing(condition: Any) -> bool:
    return isinstance(condition, dict) and set(condition) == {"$nex"}


def _property_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$and", "$or"):
                for part in value:
                    yield from _property_names(part)
            elif key == "$m" or key == "p":
                if isinstance(value, str):
                    yield value
            elif key.startswith("$"):
                if key in ("$l", "$r"):
                    yield from _property_names(value)
                else:
                    yield from _property_names(value)
            else:
                yield key
                yield from _property_names(value)
    elif isinstance(node, list):
        for part in node:
            yield from _property_names(part)


def _property_problems(plan: Plan) -> list[str]:
    """Property names are told apart by their 32-bit hash only: they must not collide, with
    each other or with `id` and `sid`."""
    problems: list[str] = []
    names: set[str] = {"_k", "_t", "_rid", "_probe"}
    for ruleset in plan.rulesets:
        names.update(ruleset.fact.keys())
        for definition in ruleset.rules.values():
            for pattern in rule_patterns(definition):
                names.update(_property_names(pattern))
    names.update(plan.history_fact.keys())
    names.update(plan.probe_fact.keys())
    seen: dict[int, str] = {_HASH_ID: "id", _HASH_SID: "sid"}
    for name in sorted(names):
        h = fnv1a32(name)
        other = seen.get(h)
        if other is not None and other != name:
            problems.append(f"properties `{name}` and `{other}` share the hash {h:#x}")
        seen[h] = name
    return problems


# --- values for facts (shared by the engine) ------------------------------------------------


def day_number(value: dt.date) -> int:
    return value.toordinal()


def whole(value: int | Decimal) -> int | None:
    """A number as an engine integer, or None when it is not whole or out of range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            return None
        value = int(value)
    if abs(value) >= ENGINE_INT_LIMIT:
        return None
    return value
