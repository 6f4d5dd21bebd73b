"""The reference evaluator: a plain-Python interpreter of a CheckedPack.

It is the oracle the durable-rules engine is tested against, the fallback that answers when a
worker dies, and what `bcm explain` uses to say which conditions of a rule held. Every value
and operation comes from `checker.semantics`, so it has no rules of its own about nulls,
decimals or dates.

Typical use:

    evaluator = Evaluator(pack)
    history = HistoryIndex(records)              # once; `.add()` appends
    params = evaluator.params(None, proposal["jurisdiction"])
    for fired in evaluator.check(proposal, history, params):
        ...                                      # fired.rule, fired.severity, fired.env
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from checker import semantics
from checker.diagnostics import Span
from checker.lang import ast
from checker.lang.checked import CheckedPack, RuleInfo, Type, param_value

__all__ = [
    "CheckMemo",
    "Env",
    "Evaluator",
    "Explanation",
    "Fired",
    "HistoryIndex",
    "Step",
    "UnknownName",
    "children",
    "unparse",
    "walk",
]

Fact = dict[str, Any]


class UnknownName(LookupError):
    """A name that is neither a variable, a let, `proposal`, a parameter nor a definition."""


# --- environments ---------------------------------------------------------------------------

IN_PROGRESS: Final = object()


@dataclass
class CheckMemo:
    """What one check computes once for all its rules: definitions and history queries.

    Both depend only on the proposal, the parameters and the history, never on a rule's lets,
    so every rule of a check shares them.
    """

    defines: dict[str, Any] = field(default_factory=dict)
    queries: dict[tuple[int, ast.Query], Any] = field(default_factory=dict)


class Env:
    """The names in scope while an expression is evaluated.

    `proposal` is a fact; `params` maps parameter names to their values in force (Decimal,
    percentages as ratios); `lets` holds the rule's bindings so far; `vars` the quantifier or
    query variables; `memo` the per-check cache of definitions and queries.
    """

    __slots__ = ("lets", "memo", "params", "proposal", "vars")

    def __init__(
        self,
        proposal: Mapping[str, Any],
        params: Mapping[str, Any],
        lets: Mapping[str, Any] | None = None,
        vars: Mapping[str, Any] | None = None,
        memo: CheckMemo | None = None,
    ) -> None:
        self.proposal = proposal
        self.params = params
        self.lets: dict[str, Any] = dict(lets) if lets else {}
        self.vars: dict[str, Any] = dict(vars) if vars else {}
        self.memo = memo if memo is not None else CheckMemo()

    def bind(self, name: str, value: Any) -> Env:
        """The same scope with one more variable (a quantifier's item, a query's record)."""
        return Env(self.proposal, self.params, self.lets, {**self.vars, name: value}, self.memo)

    def base(self) -> Env:
        """Proposal, parameters and definitions only: the scope of a query's `where`."""
        return Env(self.proposal, self.params, memo=self.memo)


# --- history --------------------------------------------------------------------------------


class _Run:
    """Records of one partition, sorted by (effective_on, id), with their dates for bisect."""

    __slots__ = ("dates", "records")

    def __init__(self) -> None:
        self.records: list[Fact] = []
        self.dates: list[dt.date] = []

    def append(self, record: Fact) -> None:
        self.records.append(record)
        self.dates.append(record["effective_on"])

    def before(self, date: dt.date) -> Sequence[Fact]:
        return self.records[: bisect.bisect_left(self.dates, date)]


_SCOPE: Final = ("jurisdiction", "area", "target")


class HistoryIndex:
    """The policy history as facts, sorted by date and partitioned by scope on demand.

    A query whose `where` pins part of the scope by equality (`h.scope == proposal.scope`,
    `h.jurisdiction == proposal.jurisdiction`, `h.area == "exit"`) scans only that partition.
    """

    def __init__(self, records: Iterable[semantics.PolicyChangeLike] = ()) -> None:
        self._all = _Run()
        self._partitions: dict[tuple[str, ...], dict[tuple[Any, ...], _Run]] = {}
        self.add(records)

    def add(self, records: Iterable[semantics.PolicyChangeLike]) -> None:
        """Append records (documents or facts); partitions are rebuilt when next needed."""
        new = [_fact(r) for r in records]
        for record in new:
            if not isinstance(record.get("effective_on"), dt.date) or not isinstance(
                record.get("id"), str
            ):
                raise ValueError("a history record needs an `id` and an `effective_on` date")
        if not new:
            return
        merged = sorted([*self._all.records, *new], key=semantics.record_order)
        self._all = _Run()
        for record in merged:
            self._all.append(record)
        self._partitions.clear()

    def __len__(self) -> int:
        return len(self._all.records)

    def __iter__(self) -> Iterator[Fact]:
        return iter(self._all.records)

    @property
    def records(self) -> Sequence[Fact]:
        """Every record, by effective_on then id."""
        return self._all.records

    def before(self, date: dt.date, pins: Mapping[str, Any] | None = None) -> Sequence[Fact]:
        """Records effective strictly before `date` whose scope fields equal `pins`."""
        if not pins:
            return self._all.before(date)
        fields = tuple(f for f in _SCOPE if f in pins)
        partition = self._partitions.get(fields)
        if partition is None:
            partition = {}
            for record in self._all.records:
                key = tuple(record.get(f) for f in fields)
                run = partition.get(key)
                if run is None:
                    run = partition[key] = _Run()
                run.append(record)
            self._partitions[fields] = partition
        run = partition.get(tuple(pins[f] for f in fields))
        return run.before(date) if run is not None else ()


# --- queries: which scope fields a `where` pins ---------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """Equalities between the query's record and something that does not depend on it, and
    the rest of the `where`: every record of the pinned partition satisfies the pins, so only
    the rest is evaluated per record."""

    pins: tuple[tuple[str, ast.Expr], ...]  # (jurisdiction | area | target | scope, expr)
    rest: tuple[ast.Expr, ...]


def _conjuncts(expr: ast.Expr) -> Iterator[ast.Expr]:
    if isinstance(expr, ast.And):
        for operand in expr.operands:
            yield from _conjuncts(operand)
    else:
        yield expr


def _mentions(expr: ast.Expr | ast.Query, name: str) -> bool:
    """Whether `name` occurs as the root of a path anywhere in `expr` (conservatively)."""
    return any(isinstance(node, ast.Path) and node.root == name for node in walk(expr))


def walk(expr: ast.Expr | ast.Query) -> Iterator[ast.Expr | ast.Query]:
    """Every node of an expression, parents before children."""
    stack: list[ast.Expr | ast.Query] = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))


def children(node: ast.Expr | ast.Query) -> list[ast.Expr | ast.Query]:
    """The direct sub-expressions of a node, in source order."""
    if isinstance(node, ast.Minus | ast.Not | ast.IsNull | ast.IsEmpty):
        return [node.operand]
    if isinstance(node, ast.Arith | ast.Compare):
        return [node.left, node.right]
    if isinstance(node, ast.Member):
        return [node.item, node.container]
    if isinstance(node, ast.And | ast.Or):
        return list(node.operands)
    if isinstance(node, ast.ListExpr):
        return list(node.items)
    if isinstance(node, ast.Call):
        return list(node.args)
    if isinstance(node, ast.Quantifier):
        return [node.source, node.condition]
    if isinstance(node, ast.Query):
        return [node.condition]
    return []


def _plan(query: ast.Query) -> _Plan:
    pins: list[tuple[str, ast.Expr]] = []
    rest: list[ast.Expr] = []
    for conjunct in _conjuncts(query.condition):
        pin = _pin(conjunct, query.var)
        if pin is None:
            rest.append(conjunct)
        else:
            pins.append(pin)
    return _Plan(tuple(pins), tuple(rest))


def _pin(conjunct: ast.Expr, var: str) -> tuple[str, ast.Expr] | None:
    """`h.F == X` or `X == h.F` for a scope field F and an X that does not read `h`."""
    if not isinstance(conjunct, ast.Compare) or conjunct.op != "==":
        return None
    for mine, other in ((conjunct.left, conjunct.right), (conjunct.right, conjunct.left)):
        if (
            isinstance(mine, ast.Path)
            and mine.root == var
            and len(mine.fields) == 1
            and mine.fields[0] in (*_SCOPE, "scope")
            and not _mentions(other, var)
        ):
            return (mine.fields[0], other)
    return None


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fired:
    """A rule whose lets all found their records and whose `when` held."""

    rule: RuleInfo
    severity: str
    env: Env


@dataclass
class Step:
    """One node of an explanation: an expression, its value, and whether it held.

    `held` is None for a value that is not a condition (an operand, a let's value).
    """

    text: str
    span: Span
    value: Any
    held: bool | None
    type: Type | None = None
    children: list[Step] = field(default_factory=list)
    label: str | None = None  # "all", "any", "not", "item", "more": how render() words it


_MAX_ITEMS: Final = 20

_WORDS: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "rule": "rule",
        "proposal": "proposal",
        "fires": "fires",
        "quiet": "does not fire",
        "severity": "severity",
        "when": "when",
        "all": "all of",
        "any": "any of",
        "not": "not",
        "none_found": "found no record: the rule cannot fire",
        "more": "more",
        "no_items": "(no items)",
        "high": "high",
        "medium": "medium",
        "low": "low",
        "chosen": "chosen",
        "comma": ", ",
    },
    "ja": {
        "rule": "規則",
        "proposal": "提案",
        "fires": "該当",
        "quiet": "該当なし",
        "severity": "重大度",
        "when": "条件",
        "all": "すべて成立",
        "any": "いずれか成立",
        "not": "否定",
        "none_found": "該当する記録がないため、この規則は該当しません",
        "more": "件省略",
        "no_items": "（項目なし）",
        "high": "重大",
        "medium": "中程度",
        "low": "軽微",
        "chosen": "採用",
        "comma": "、",
    },
}


def _words(lang: str) -> Mapping[str, str]:
    return _WORDS.get(lang, _WORDS["en"])


@dataclass
class Explanation:
    """Why a rule fired or not for one proposal: its lets, every sub-condition of its `when`
    with its value, and how its severity was chosen."""

    rule: RuleInfo
    proposal: str
    lets: list[Step]
    missing: str | None  # the latest/earliest let that found no record, if any
    when: Step | None  # None when a let found nothing, so the condition was not reached
    severity: str | None  # the level chosen, when the rule fires
    severity_steps: list[Step]
    fired: bool

    def render(self, lang: str = "en") -> str:
        w = _words(lang)
        lines = [f"{w['rule']} {self.rule.id} ({self.rule.principle}, {self.rule.kind})"]
        lines.append(f"  --> {self.rule.source}")
        verdict = w["fires"] if self.fired else w["quiet"]
        if self.fired and self.severity is not None:
            verdict += f"{w['comma']}{w['severity']} {w.get(self.severity, self.severity)}"
        lines.append(f"{w['proposal']} {self.proposal}: {verdict}")
        for step in self.lets:
            lines.append(
                f"let {step.label} = {semantics.format_value(step.value, step.type, lang)}"
            )
            lines.append(f"    {step.text}")
            if step.label == self.missing:
                lines.append(f"    {w['none_found']}")
        if self.when is not None:
            lines.append(f"{w['when']}:")
            _render_step(self.when, 1, lang, lines)
        if self.severity_steps:
            lines.append(f"{w['severity']}:")
            for step in self.severity_steps:
                _render_step(step, 1, lang, lines)
        return "\n".join(lines)


def _mark(held: bool | None) -> str:
    return "✔" if held else "✘"


def _render_step(step: Step, depth: int, lang: str, lines: list[str]) -> None:
    w = _words(lang)
    pad = "  " * depth
    if step.label == "more":
        lines.append(f"{pad}… {step.value} {w['more']}")
        return
    if step.label == "no_items":
        lines.append(f"{pad}{w['no_items']}")
        return
    if step.label in ("all", "any", "not"):
        lines.append(f"{pad}{_mark(step.held)} {w[step.label]}:")
    elif step.label == "severity":
        chosen = f"  ← {w['chosen']}" if step.held else ""
        lines.append(f"{pad}{step.text}{chosen}")
    elif step.held is None:
        lines.append(f"{pad}  {step.text} = {semantics.format_value(step.value, step.type, lang)}")
    else:
        lines.append(f"{pad}{_mark(step.held)} {step.text}")
    for child in step.children:
        _render_step(child, depth + 1, lang, lines)


# --- the evaluator --------------------------------------------------------------------------

_LITERALS: Final = (ast.Number, ast.Text, ast.DateLit, ast.Bool, ast.Null)


class Evaluator:
    """Evaluates the expressions, queries and rules of one CheckedPack."""

    def __init__(self, pack: CheckedPack) -> None:
        self.pack = pack
        self._plans: dict[int, tuple[ast.Query, _Plan]] = {}
        self._line_starts: dict[str, list[int]] = {}
        self._dispatch: dict[type, Callable[[Any, Env], Any]] = {
            ast.Number: self._number,
            ast.Text: lambda e, _: e.value,
            ast.DateLit: lambda e, _: e.value,
            ast.Bool: lambda e, _: e.value,
            ast.Null: lambda e, _: None,
            ast.Path: self._path,
            ast.Minus: lambda e, env: semantics.negate(self.evaluate(e.operand, env)),
            ast.Arith: lambda e, env: semantics.arith(
                e.op, self.evaluate(e.left, env), self.evaluate(e.right, env)
            ),
            ast.Compare: lambda e, env: semantics.compare(
                e.op, self.evaluate(e.left, env), self.evaluate(e.right, env)
            ),
            ast.IsNull: lambda e, env: (self.evaluate(e.operand, env) is None) != e.negated,
            ast.IsEmpty: lambda e, env: (
                semantics.is_empty(self.evaluate(e.operand, env)) != e.negated
            ),
            ast.Member: lambda e, env: semantics.member(
                self.evaluate(e.item, env), self.evaluate(e.container, env), e.negated
            ),
            ast.And: self._and,
            ast.Or: self._or,
            ast.Not: lambda e, env: not semantics.truthy(self.evaluate(e.operand, env)),
            ast.ListExpr: lambda e, env: [self.evaluate(item, env) for item in e.items],
            ast.Call: lambda e, env: semantics.call(
                e.name, [self.evaluate(a, env) for a in e.args]
            ),
            ast.Quantifier: self._quantifier,
        }

    # --- parameters

    def params(
        self,
        overrides: Mapping[str, Decimal | int | ast.Number] | None = None,
        jurisdiction: str | None = None,
    ) -> dict[str, Decimal]:
        """The parameter values in force: the pack's defaults, then the manifest's overrides
        for `jurisdiction`, then `overrides` for this check.

        An override given as an `ast.Number` (with its unit, as parsed from `"15%"`) is
        converted like a default (15% → 0.15); a bare number is taken as the value in force.
        """
        values = {name: param_value(info.default) for name, info in self.pack.params.items()}
        if jurisdiction is not None:
            for name, number in self.pack.manifest.overrides.get(jurisdiction, {}).items():
                values[name] = param_value(number)
        for name, value in (overrides or {}).items():
            if name not in values:
                raise KeyError(f"unknown parameter `{name}`")
            values[name] = param_value(value) if isinstance(value, ast.Number) else Decimal(value)
        return values

    def env(
        self,
        proposal: semantics.PolicyChangeLike,
        params: Mapping[str, Any],
        lets: Mapping[str, Any] | None = None,
    ) -> Env:
        """A fresh scope for one check of `proposal` (a document or a fact)."""
        return Env(_fact(proposal), params, lets)

    # --- expressions

    def evaluate(self, expr: ast.Expr, env: Env) -> Any:
        """The value of an expression. Never raises on document data."""
        return self._dispatch[type(expr)](expr, env)

    def function(self, expr: ast.Expr) -> Callable[[Env], Any]:
        """The expression as a function of the scope: `function(expr)(env)` is
        `evaluate(expr, env)`, for callers that evaluate one expression again and again."""
        return functools.partial(self.evaluate, expr)

    def _number(self, expr: ast.Number, env: Env) -> Decimal:
        return param_value(expr)

    def _path(self, expr: ast.Path, env: Env) -> Any:
        return semantics.path_value(self.lookup(expr.root, env), expr.fields)

    def lookup(self, name: str, env: Env) -> Any:
        """The value of a bare name: a variable, a let, `proposal`, a parameter, a define."""
        if name in env.vars:
            return env.vars[name]
        if name in env.lets:
            return env.lets[name]
        if name == "proposal":
            return env.proposal
        if name in env.params:
            return env.params[name]
        define = self.pack.defines.get(name)
        if define is not None:
            return self._define(define, env)
        if name in self.pack.params:
            return param_value(self.pack.params[name].default)
        raise UnknownName(name)

    def _define(self, define: ast.Define, env: Env) -> Any:
        memo = env.memo.defines
        if define.name in memo:
            value = memo[define.name]
            if value is IN_PROGRESS:
                raise RecursionError(f"definition `{define.name}` refers to itself")
            return value
        memo[define.name] = IN_PROGRESS
        try:
            value = self.evaluate(define.expr, env.base())
        except BaseException:
            del memo[define.name]
            raise
        memo[define.name] = value
        return value

    def _and(self, expr: ast.And, env: Env) -> bool:
        return all(semantics.truthy(self.evaluate(op, env)) for op in expr.operands)

    def _or(self, expr: ast.Or, env: Env) -> bool:
        return any(semantics.truthy(self.evaluate(op, env)) for op in expr.operands)

    def _items(self, expr: ast.Quantifier, env: Env) -> list[Any]:
        items = self.evaluate(expr.source, env)
        # A list that is absent (an extension not given) has no items.
        return list(items) if isinstance(items, list) else []

    def _quantifier(self, expr: ast.Quantifier, env: Env) -> Any:
        held = (
            semantics.truthy(self.evaluate(expr.condition, env.bind(expr.var, item)))
            for item in self._items(expr, env)
        )
        if expr.kind == "any":
            return any(held)
        if expr.kind == "all":
            return all(held)
        return sum(1 for h in held if h)

    # --- history queries

    def run_query(self, query: ast.Query, env: Env, history: HistoryIndex) -> Any:
        """The value of a history query for the proposal of `env`.

        Only records effective strictly before the proposal take part. `latest`: the greatest
        (effective_on, id); `earliest`: the least effective_on, ties to the greater id; None
        when nothing matches. `count`: an int. `sequence`: a list by (effective_on, id).
        """
        key = (id(history), query)
        memo = env.memo.queries
        if key in memo:
            return memo[key]
        result = self._scan(query, env.base(), history)
        memo[key] = result
        return result

    def _scan(self, query: ast.Query, env: Env, history: HistoryIndex) -> Any:
        date = semantics.field(env.proposal, "effective_on")
        plan = self._plan(query)
        pins = self._pins(plan, env) if isinstance(date, dt.date) else None
        if pins is None:
            return semantics.query_result(query.kind, ())
        candidates = history.before(date, pins)
        where = Env(env.proposal, env.params, memo=env.memo)
        scope = where.vars  # rebound per record below, without a new Env for each
        rest = plan.rest

        def matches(record: Fact) -> bool:
            scope[query.var] = record
            return all(semantics.truthy(self.evaluate(c, where)) for c in rest)

        if query.kind == "latest":
            return next((r for r in reversed(candidates) if matches(r)), None)
        if query.kind == "earliest":
            found: Fact | None = None
            for record in candidates:
                if found is not None and record["effective_on"] != found["effective_on"]:
                    break
                if matches(record):
                    found = record  # later in the run means a greater id on the same date
            return found
        if query.kind == "count":
            return sum(1 for r in candidates if matches(r))
        return [r for r in candidates if matches(r)]

    def _plan(self, query: ast.Query) -> _Plan:
        cached = self._plans.get(id(query))
        if cached is None or cached[0] is not query:
            cached = (query, _plan(query))
            self._plans[id(query)] = cached
        return cached[1]

    def _pins(self, plan: _Plan, env: Env) -> dict[str, Any] | None:
        """The scope values the query pins, or None when the pins cannot all hold."""
        pins: dict[str, Any] = {}
        for name, expr in plan.pins:
            value = self.evaluate(expr, env)
            if name == "scope":
                if not (isinstance(value, tuple) and len(value) == 3):
                    return None
                wanted = dict(zip(_SCOPE, value, strict=True))
            else:
                wanted = {name: value}
            for f, v in wanted.items():
                # Record scope fields are always texts: anything else matches no record.
                if not isinstance(v, str) or pins.setdefault(f, v) != v:
                    return None
        return pins

    # --- rules

    def bind_lets(self, rule: ast.Rule, env: Env, history: HistoryIndex) -> Env | None:
        """`env` with the rule's lets bound in order; None when a latest or earliest query
        found no record (the rule cannot fire)."""
        bound = Env(env.proposal, env.params, env.lets, env.vars, env.memo)
        for let in rule.lets:
            if isinstance(let.value, ast.Query):
                value = self.run_query(let.value, bound, history)
                if value is None and let.value.kind in ("latest", "earliest"):
                    return None
            else:
                value = self.evaluate(let.value, bound)
            bound.lets[let.name] = value
        return bound

    def choose_severity(self, rule: ast.Rule, env: Env) -> str:
        """The first level whose condition holds, or the last level."""
        options = rule.severity.options if rule.severity is not None else (("medium", None),)
        for level, condition in options:
            if condition is None or semantics.truthy(self.evaluate(condition, env)):
                return level
        return options[-1][0]

    def check(
        self,
        proposal: semantics.PolicyChangeLike,
        history: HistoryIndex | Iterable[semantics.PolicyChangeLike],
        params: Mapping[str, Any],
    ) -> list[Fired]:
        """The rules that fire for `proposal`, in pack order, with their severity and bindings."""
        fact = _fact(proposal)
        index = history if isinstance(history, HistoryIndex) else HistoryIndex(history)
        memo = CheckMemo()
        fired: list[Fired] = []
        for info in self.pack.rules:
            env = self.bind_lets(info.rule, Env(fact, params, memo=memo), index)
            if env is None or info.rule.when is None:
                continue
            if semantics.truthy(self.evaluate(info.rule.when, env)):
                fired.append(Fired(info, self.choose_severity(info.rule, env), env))
        return fired

    # --- explain

    def explain(
        self,
        proposal: semantics.PolicyChangeLike,
        history: HistoryIndex | Iterable[semantics.PolicyChangeLike],
        params: Mapping[str, Any],
        rule_id: str,
    ) -> Explanation:
        """Every let and sub-condition of one rule with its value, for `bcm explain`."""
        info = self.pack.rule(rule_id)
        rule = info.rule
        fact = _fact(proposal)
        index = history if isinstance(history, HistoryIndex) else HistoryIndex(history)
        env = Env(fact, params)
        lets: list[Step] = []
        missing: str | None = None
        for let in rule.lets:
            if isinstance(let.value, ast.Query):
                value = self.run_query(let.value, env, index)
                if value is None and let.value.kind in ("latest", "earliest"):
                    missing = let.name
            else:
                value = self.evaluate(let.value, env)
            env.lets[let.name] = value
            let_type = self.type_of(let.value, rule)
            lets.append(
                Step(self.text_of(let.value), let.span, value, None, let_type, label=let.name)
            )
            if missing is not None:
                break
        when = None
        severity = None
        severity_steps: list[Step] = []
        fired = False
        if missing is None and rule.when is not None:
            when = self._explain(rule.when, env, rule)
            fired = bool(when.held)
        if fired and rule.severity is not None:
            severity = self.choose_severity(rule, env)
            for level, condition in rule.severity.options:
                if condition is None:
                    step = Step(level, rule.severity.span, level, level == severity)
                else:
                    step = Step(
                        f"{level} if {self.text_of(condition)}",
                        condition.span,
                        level,
                        level == severity,
                        children=[self._explain(condition, env, rule)],
                    )
                step.label = "severity"
                severity_steps.append(step)
                if level == severity:
                    break
        return Explanation(
            info, str(fact.get("id")), lets, missing, when, severity, severity_steps, fired
        )

    def _explain(self, expr: ast.Expr, env: Env, rule: ast.Rule) -> Step:
        """A condition with its value and, below it, what it is made of."""
        text = self.text_of(expr)
        if isinstance(expr, ast.And | ast.Or):
            parts = [self._explain(op, env, rule) for op in expr.operands]
            values = [bool(c.held) for c in parts]
            held = all(values) if isinstance(expr, ast.And) else any(values)
            label = "all" if isinstance(expr, ast.And) else "any"
            return Step(text, expr.span, held, held, children=parts, label=label)
        if isinstance(expr, ast.Not):
            child = self._explain(expr.operand, env, rule)
            held = not child.held
            return Step(text, expr.span, held, held, children=[child], label="not")
        value = self.evaluate(expr, env)
        step = Step(text, expr.span, value, semantics.truthy(value), self.type_of(expr, rule))
        if isinstance(expr, ast.Quantifier):
            items = self._items(expr, env)
            if not items:
                step.children.append(Step("", expr.span, None, None, label="no_items"))
            for n, item in enumerate(items[:_MAX_ITEMS], start=1):
                inner = self._explain(expr.condition, env.bind(expr.var, item), rule)
                inner.text = f"{expr.var} #{n}: {inner.text}"
                step.children.append(inner)
            if len(items) > _MAX_ITEMS:
                step.children.append(
                    Step("", expr.span, len(items) - _MAX_ITEMS, None, label="more")
                )
        elif isinstance(expr, ast.Path) and not expr.fields and expr.root in self.pack.defines:
            if expr.root not in env.vars and expr.root not in env.lets:
                define = self.pack.defines[expr.root]
                step.children.append(self._explain(define.expr, env.base(), rule))
        else:
            for operand in children(expr):
                if isinstance(operand, ast.Query) or _is_constant(operand):
                    continue  # a literal says its own value
                step.children.append(self._operand(operand, env, rule))
        return step

    def _operand(self, expr: ast.Expr, env: Env, rule: ast.Rule) -> Step:
        value = self.evaluate(expr, env)
        return Step(self.text_of(expr), expr.span, value, None, self.type_of(expr, rule))

    # --- types and source text, for showing values

    def type_of(self, expr: ast.Expr | ast.Query, rule: ast.Rule | None = None) -> Type | None:
        """The type the load-time checks inferred, or what the node's shape says of it."""
        known = self.pack.types.get(id(expr))
        if known is not None:
            return known
        if isinstance(expr, ast.Query):
            return {
                "count": Type("number", integral=True),
                "sequence": Type("sequence", item=Type("record", model="PolicyChange")),
            }.get(expr.kind, Type("record", model="PolicyChange", nullable=True))
        if isinstance(expr, ast.Number):
            return _unit_type(expr.unit)
        if isinstance(expr, ast.Path):
            return self._path_type(expr, rule)
        if isinstance(expr, ast.Call):
            if expr.name == "days":
                return Type("duration", nullable=True, integral=True)
            if expr.name == "change":
                return Type("percent", nullable=True)
            if expr.name in ("abs", "min", "max") and expr.args:
                return self.type_of(expr.args[0], rule)
        if isinstance(expr, ast.Minus):
            return self.type_of(expr.operand, rule)
        if isinstance(expr, ast.Arith) and expr.op in ("+", "-"):
            left, right = self.type_of(expr.left, rule), self.type_of(expr.right, rule)
            kinds = {t.kind for t in (left, right) if t is not None}
            if "date" in kinds:
                return Type("date") if expr.op == "+" or kinds == {"date", "duration"} else None
            for t in (left, right):
                if t is not None and t.kind in ("duration", "percent"):
                    return t
        return None

    def _path_type(self, expr: ast.Path, rule: ast.Rule | None) -> Type | None:
        if expr.fields:
            last = expr.fields[-1]
            if last.endswith("_days"):
                return Type("duration", nullable=True, integral=True)
            if last == "scope":
                return Type("scope")
            return None
        if rule is not None:
            for let in rule.lets:
                if let.name == expr.root:
                    return self.type_of(let.value, rule)
        if expr.root in self.pack.params:
            return _unit_type(self.pack.params[expr.root].unit)
        define = self.pack.defines.get(expr.root)
        if define is not None:
            return self.type_of(define.expr)
        return None

    def text_of(self, node: ast.Expr | ast.Query) -> str:
        """The node's source text as the author wrote it (whitespace folded), or unparsed."""
        span = node.span
        source = self.pack.sources.get(span.file)
        empty = (span.end_line, span.end_column) <= (span.line, span.column)
        if source is None or span.line < 1 or empty:
            return unparse(node)
        starts = self._line_starts.get(span.file)
        if starts is None:
            starts = [0]
            for i, ch in enumerate(source):
                if ch == "\n":
                    starts.append(i + 1)
            self._line_starts[span.file] = starts
        if span.end_line > len(starts):
            return unparse(node)
        begin = starts[span.line - 1] + span.column - 1
        end = starts[span.end_line - 1] + span.end_column - 1
        return " ".join(source[begin:end].split()) or unparse(node)


def _is_constant(expr: ast.Expr) -> bool:
    if isinstance(expr, ast.ListExpr):
        return all(_is_constant(item) for item in expr.items)
    return isinstance(expr, _LITERALS)


def _unit_type(unit: str | None) -> Type:
    if unit == "days":
        return Type("duration", integral=True)
    if unit == "%":
        return Type("percent")
    return Type("number")


def _fact(proposal: semantics.PolicyChangeLike) -> Fact:
    if isinstance(proposal, dict):
        return proposal  # a dict is taken to be a fact already: the common case, no copy
    return semantics.to_fact(proposal)


# --- unparsing, for nodes without source text -----------------------------------------------

_TIGHTEST: Final = 8


def _precedence(expr: ast.Expr) -> int:
    if isinstance(expr, ast.Or):
        return 1
    if isinstance(expr, ast.And):
        return 2
    if isinstance(expr, ast.Not):
        return 3
    if isinstance(expr, ast.Compare | ast.IsNull | ast.IsEmpty | ast.Member):
        return 4
    if isinstance(expr, ast.Arith):
        return 5 if expr.op in ("+", "-") else 6
    if isinstance(expr, ast.Minus):
        return 7
    return _TIGHTEST


def _wrap(expr: ast.Expr, at_least: int) -> str:
    text = unparse(expr)
    return f"({text})" if _precedence(expr) < at_least else text


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\t", "\\t") + '"'


def unparse(node: ast.Expr | ast.Query) -> str:
    """An expression or query in the language's own syntax, parenthesised where needed."""
    match node:
        case ast.Query(kind=kind, var=var, condition=condition):
            return f"{kind} {var} in history where {unparse(condition)}"
        case ast.Number(value=value, unit=unit):
            suffix = {"days": " days", "%": "%", "persons": " persons"}.get(unit or "", "")
            return f"{value}{suffix}"
        case ast.Text(value=value):
            return _quote(value)
        case ast.DateLit(value=value):
            return value.isoformat()
        case ast.Bool(value=value):
            return "true" if value else "false"
        case ast.Null():
            return "null"
        case ast.Path():
            return node.dotted
        case ast.Minus(operand=operand):
            return "-" + _wrap(operand, 7)
        case ast.Arith(op=op, left=left, right=right):
            level = _precedence(node)
            return f"{_wrap(left, level)} {op} {_wrap(right, level + 1)}"
        case ast.Compare(op=op, left=left, right=right):
            return f"{_wrap(left, 5)} {op} {_wrap(right, 5)}"
        case ast.IsNull(operand=operand, negated=negated):
            return f"{_wrap(operand, 5)} is {'not ' if negated else ''}null"
        case ast.IsEmpty(operand=operand, negated=negated):
            return f"{_wrap(operand, 5)} is {'not ' if negated else ''}empty"
        case ast.Member(item=item, container=container, negated=negated):
            return f"{_wrap(item, 5)} {'not in' if negated else 'in'} {_wrap(container, 5)}"
        case ast.And(operands=operands):
            return " and ".join(_wrap(o, 3) for o in operands)
        case ast.Or(operands=operands):
            return " or ".join(_wrap(o, 2) for o in operands)
        case ast.Not(operand=operand):
            return "not " + _wrap(operand, 3)
        case ast.ListExpr(items=items):
            return "[" + ", ".join(unparse(i) for i in items) + "]"
        case ast.Call(name=name, args=args):
            return f"{name}(" + ", ".join(unparse(a) for a in args) + ")"
        case ast.Quantifier(kind=kind, var=var, source=source, condition=condition):
            return f"{kind}({var} in {unparse(source)}: {unparse(condition)})"
    raise TypeError(f"not an expression: {type(node).__name__}")
