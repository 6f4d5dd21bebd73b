"""A fired rule and its bindings, made into a Finding a reader can act on.

The message and remedy are the rule's texts in the requested language (English where the rule
has none in it), with their `{name.field}` placeholders filled by values formatted for that
language. `evidence` holds every value the rule's condition read; `related` the ids of the
history records its queries bound; `source` where the rule is written.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any, Final

from checker import semantics
from checker.documents import Finding, FindingKind, PrincipleId, Severity
from checker.lang import ast
from checker.lang.checked import CheckedPack, RuleInfo, Type, param_value
from checker.reference import IN_PROGRESS, Env, Evaluator, UnknownName, children

__all__ = ["CompiledEvaluator", "evidence_paths", "localized", "make_finding"]

_Fn = Callable[[Env], Any]
_CONSTANTS: Final = (ast.Text, ast.DateLit, ast.Bool)
_COMPILED_KEPT: Final = 65536


class CompiledEvaluator(Evaluator):
    """The reference evaluator, each expression made once into a closure over its operands'
    closures: the same semantics functions called on the same values in the same order (and
    so the same short cuts and the same errors), without a dispatch on the node's type and a
    method call per node. Nodes it has no closure for (quantifiers, calls, queries, ...) go
    through the evaluator's own dispatch, whose operands come back here."""

    def __init__(self, pack: CheckedPack) -> None:
        super().__init__(pack)
        # id(node) -> (node, closure): the node is kept, so its id cannot be reused
        self._compiled: dict[int, tuple[ast.Expr, _Fn]] = {}

    def evaluate(self, expr: ast.Expr, env: Env) -> Any:
        entry = self._compiled.get(id(expr))
        if entry is None or entry[0] is not expr:
            return self._fn(expr)(env)
        return entry[1](env)

    def function(self, expr: ast.Expr) -> _Fn:
        """The expression's closure itself."""
        return self._fn(expr)

    def _fn(self, expr: ast.Expr) -> _Fn:
        entry = self._compiled.get(id(expr))
        if entry is not None and entry[0] is expr:
            return entry[1]
        fn = self._make(expr)
        if len(self._compiled) >= _COMPILED_KEPT:
            self._compiled.clear()
        self._compiled[id(expr)] = (expr, fn)
        return fn

    def _make(self, expr: ast.Expr) -> _Fn:
        truthy = semantics.truthy
        if isinstance(expr, ast.Path) and type(expr) is ast.Path:
            return self._path_fn(expr.root, expr.fields)
        if isinstance(expr, ast.Text | ast.DateLit | ast.Bool) and type(expr) in _CONSTANTS:
            constant = expr.value
            return lambda env: constant
        if type(expr) is ast.Null:
            return lambda env: None
        if isinstance(expr, ast.Number) and type(expr) is ast.Number and expr.unit != "%":
            number = param_value(expr)  # the literal's own value (a % divides: kept per call)
            return lambda env: number
        if isinstance(expr, ast.Compare) and type(expr) is ast.Compare:
            op, left, right = expr.op, self._fn(expr.left), self._fn(expr.right)
            compare = semantics.compare
            return lambda env: compare(op, left(env), right(env))
        if isinstance(expr, ast.Arith) and type(expr) is ast.Arith:
            op, left, right = expr.op, self._fn(expr.left), self._fn(expr.right)
            arith = semantics.arith
            return lambda env: arith(op, left(env), right(env))
        if isinstance(expr, ast.IsNull) and type(expr) is ast.IsNull:
            operand, negated = self._fn(expr.operand), expr.negated
            return lambda env: (operand(env) is None) != negated
        if isinstance(expr, ast.IsEmpty) and type(expr) is ast.IsEmpty:
            operand, negated = self._fn(expr.operand), expr.negated
            is_empty = semantics.is_empty
            return lambda env: is_empty(operand(env)) != negated
        if isinstance(expr, ast.Member) and type(expr) is ast.Member:
            item, container, negated = self._fn(expr.item), self._fn(expr.container), expr.negated
            member = semantics.member
            return lambda env: member(item(env), container(env), negated)
        if isinstance(expr, ast.Not) and type(expr) is ast.Not:
            operand = self._fn(expr.operand)
            return lambda env: not truthy(operand(env))
        if isinstance(expr, ast.And) and type(expr) is ast.And:
            operands = tuple(self._fn(op) for op in expr.operands)

            def all_of(env: Env) -> bool:
                for operand in operands:  # noqa: SIM110 (a loop: no generator per call)
                    if not truthy(operand(env)):
                        return False
                return True

            return all_of
        if isinstance(expr, ast.Or) and type(expr) is ast.Or:
            operands = tuple(self._fn(op) for op in expr.operands)

            def any_of(env: Env) -> bool:
                for operand in operands:  # noqa: SIM110 (a loop: no generator per call)
                    if truthy(operand(env)):
                        return True
                return False

            return any_of
        if isinstance(expr, ast.Minus) and type(expr) is ast.Minus:
            operand, negate = self._fn(expr.operand), semantics.negate
            return lambda env: negate(operand(env))
        if isinstance(expr, ast.Call) and type(expr) is ast.Call:
            return self._call_fn(expr)
        if isinstance(expr, ast.ListExpr) and type(expr) is ast.ListExpr:
            items = tuple(self._fn(item) for item in expr.items)
            return lambda env: [item(env) for item in items]  # a new list each time
        if isinstance(expr, ast.Quantifier) and type(expr) is ast.Quantifier:
            return self._quantifier_fn(expr)
        dispatch = self._dispatch

        def general(env: Env) -> Any:
            return dispatch[type(expr)](expr, env)

        return general

    def _call_fn(self, expr: ast.Call) -> _Fn:
        """A built-in function called on its arguments' values (`semantics.call`)."""
        function, args = semantics.BUILTINS[expr.name], tuple(self._fn(a) for a in expr.args)
        if len(args) == 2:
            first, second = args
            return lambda env: function(first(env), second(env))
        return lambda env: function(*[arg(env) for arg in args])

    def _quantifier_fn(self, expr: ast.Quantifier) -> _Fn:
        # `Evaluator._quantifier`: the items of a list (none when absent), each bound in a
        # scope of its own, stopping where any() and all() stop
        source, condition, var, kind = (
            self._fn(expr.source),
            self._fn(expr.condition),
            expr.var,
            expr.kind,
        )
        truthy = semantics.truthy

        def quantifier(env: Env) -> Any:
            items = source(env)
            if not isinstance(items, list):
                items = []
            if kind == "any":
                for item in items:  # noqa: SIM110 (a loop: no generator per call)
                    if truthy(condition(env.bind(var, item))):
                        return True
                return False
            if kind == "all":
                for item in items:  # noqa: SIM110 (a loop: no generator per call)
                    if not truthy(condition(env.bind(var, item))):
                        return False
                return True
            return sum(1 for item in items if truthy(condition(env.bind(var, item))))

        return quantifier

    def _path_fn(self, root: str, fields: tuple[str, ...]) -> _Fn:
        # `_path`: `lookup` and `semantics.path_value` inlined, fast for plain-dict facts
        lookup, field, define_value = self.lookup, semantics.field, self._define
        define = self.pack.defines.get(root)
        proposal_root = root == "proposal"

        def beyond_scope(env: Env) -> Any:
            # the root when it is neither a variable, a let nor `proposal`
            if define is not None and root not in env.params:
                # a definition already worked out in this check (`_define`'s memo), else
                # worked out: `lookup` would find it so, past the names tested before
                value = env.memo.defines.get(root, IN_PROGRESS)
                if value is IN_PROGRESS:
                    value = define_value(define, env)
                return value
            return lookup(root, env)

        if len(fields) == 1 and fields[0] != "scope":
            # one field of a plain dict (`scope` is no key of a fact: `field` makes it)
            name = fields[0]

            def path_one(env: Env) -> Any:
                if root in env.vars:
                    value = env.vars[root]
                elif root in env.lets:
                    value = env.lets[root]
                else:
                    value = env.proposal if proposal_root else beyond_scope(env)
                if type(value) is dict:
                    return value.get(name)
                return field(value, name)

            return path_one

        def path(env: Env) -> Any:
            if root in env.vars:
                value = env.vars[root]
            elif root in env.lets:
                value = env.lets[root]
            else:
                value = env.proposal if proposal_root else beyond_scope(env)
            for name in fields:
                if type(value) is dict and name != "scope":
                    value = value.get(name)
                else:
                    value = field(value, name)
                if value is None:
                    return None
            return value

        return path


def localized(texts: tuple[ast.Localized, ...], lang: str) -> tuple[str, str]:
    """The text in `lang`, else in English, else the first one written; with its language."""
    by_lang = {t.lang: t.text for t in texts}
    for chosen in (lang, "en"):
        if chosen in by_lang:
            return chosen, by_lang[chosen]
    return (texts[0].lang, texts[0].text) if texts else (lang, "")


def evidence_paths(expr: ast.Expr) -> list[ast.Path]:
    """Every name and field an expression reads, outside the variables it binds itself
    (a quantifier's `e` is not evidence; the list it ranges over is)."""
    found: dict[str, ast.Path] = {}
    _collect(expr, frozenset(), found)
    return [found[k] for k in sorted(found)]


def _collect(expr: ast.Expr, bound: frozenset[str], found: dict[str, ast.Path]) -> None:
    if isinstance(expr, ast.Path):
        if expr.root not in bound:
            found.setdefault(expr.dotted, expr)
        return
    if isinstance(expr, ast.Quantifier):
        _collect(expr.source, bound, found)
        _collect(expr.condition, bound | {expr.var}, found)
        return
    for child in children(expr):
        if not isinstance(child, ast.Query):
            _collect(child, bound, found)


def make_finding(
    pack: CheckedPack,
    fired_rule: RuleInfo,
    severity: str,
    env: Env,
    evaluator: Evaluator,
    lang: str,
) -> Finding:
    """The finding for a rule that fired, with texts in `lang` (falling back to English)."""
    return _plan(fired_rule, evaluator).finding(severity, env, lang)


class _Template:
    """A message or remedy of a rule in one language: its literal pieces and placeholders,
    each placeholder with the path it reads (the type of the value is found once, when first
    shown)."""

    __slots__ = ("constant", "lang", "pieces")

    def __init__(self, texts: tuple[ast.Localized, ...], lang: str, evaluator: Evaluator) -> None:
        # Values are shown the way the text's own language writes them: an English fallback
        # in a Japanese report reads "2019-04-01", not "2019年4月1日" inside an English
        # sentence.
        self.lang, template = localized(texts, lang)
        pieces: list[str | tuple[str, ast.Path, _Fn]] = []
        for piece in semantics.template_pieces(template):
            if isinstance(piece, str):
                pieces.append(piece)
            else:
                path = ast.Path(*_split_name(piece.name))
                pieces.append((piece.name, path, evaluator.function(path)))
        self.pieces = tuple(pieces)
        # a text without placeholders is the same for every finding
        self.constant: str | None = (
            "".join(p for p in self.pieces if isinstance(p, str))
            if all(isinstance(p, str) for p in self.pieces)
            else None
        )


def _split_name(name: str) -> tuple[str, tuple[str, ...]]:
    root, *fields = name.split(".")
    return root, tuple(fields)


class _RulePlan:
    """What every finding of one rule shares, made once per rule: kind, principle, source,
    the evidence paths, the lets whose records are related, the texts per language."""

    def __init__(self, fired_rule: RuleInfo, evaluator: Evaluator) -> None:
        rule = fired_rule.rule
        self.info = fired_rule
        self.evaluator = evaluator
        self.rule = rule
        self.kind = FindingKind(fired_rule.kind)
        self.principle = PrincipleId(fired_rule.principle)
        self.evidence = (
            [(path.dotted, evaluator.function(path)) for path in evidence_paths(rule.when)]
            if rule.when is not None
            else []
        )
        self.related = tuple(
            let.name
            for let in rule.lets
            if isinstance(let.value, ast.Query) and let.value.kind != "count"
        )
        # filled in as languages and placeholders are first met (a dict's assignment is
        # atomic: threads that race make the same entry)
        self.texts: dict[str, tuple[_Template, _Template]] = {}
        self.types: dict[str, Type | None] = {}

    def templates(self, lang: str) -> tuple[_Template, _Template]:
        texts = self.texts.get(lang)
        if texts is None:
            texts = (
                _Template(self.rule.messages, lang, self.evaluator),
                _Template(self.rule.remedies, lang, self.evaluator),
            )
            if len(self.texts) < _LANGS_PER_RULE:
                self.texts[lang] = texts
        return texts

    def type_of(self, name: str, path: ast.Path) -> Type | None:
        if name in self.types:
            return self.types[name]
        found = self.types[name] = self.evaluator.type_of(path, self.rule)
        return found

    def fill(self, template: _Template, env: Env) -> str:
        if template.constant is not None:
            return template.constant
        out: list[str] = []
        types, lang, format_value = self.types, template.lang, semantics.format_value
        for piece in template.pieces:
            if isinstance(piece, str):
                out.append(piece)
                continue
            name, path, value_of = piece
            try:
                value = value_of(env)
                value_type = types[name] if name in types else self.type_of(name, path)
            except LookupError:  # a name not in scope (UnknownName): left as written
                out.append("{" + name + "}")
                continue
            out.append(format_value(value, value_type, lang))
        return "".join(out)

    def finding(self, severity: str, env: Env, lang: str) -> Finding:
        evidence: dict[str, Any] = {}
        to_json_value = semantics.to_json_value
        for dotted, value_of in self.evidence:  # in the order of their names
            try:
                value = value_of(env)
            except UnknownName:
                continue
            evidence[dotted] = to_json_value(value)
        message, remedy = self.templates(lang)
        shown = (
            _without_vars(env)
            if env.vars and (message.constant is None or remedy.constant is None)
            else env
        )
        # validated as `Finding(**fields)` validates them, without the keyword call
        return _validate_finding(
            {
                "kind": self.kind,
                "principle": self.principle,
                "rule": self.info.id,
                "severity": (
                    _SEVERITIES[severity] if severity in _SEVERITIES else Severity(severity)
                ),
                "message": self.fill(message, shown),
                "remedy": self.fill(remedy, shown),
                "evidence": evidence,
                "related": _related(self.related, env),
                "source": self.info.source,
            }
        )


_SEVERITIES: Final = {s.value: s for s in Severity}
_validate_finding: Final[Callable[[dict[str, Any]], Finding]] = (
    Finding.__pydantic_validator__.validate_python
)
_LANGS_PER_RULE: Final = 64
_PLANS_KEPT: Final = 4096

# (evaluator, rule) -> plan; the plan holds both, so neither id can be reused while it is kept
_plans: dict[tuple[int, int], _RulePlan] = {}
_plans_lock = threading.Lock()


def _plan(fired_rule: RuleInfo, evaluator: Evaluator) -> _RulePlan:
    key = (id(evaluator), id(fired_rule))
    plan = _plans.get(key)
    if plan is not None and plan.info is fired_rule and plan.evaluator is evaluator:
        return plan
    plan = _RulePlan(fired_rule, evaluator)
    with _plans_lock:
        if len(_plans) >= _PLANS_KEPT:
            _plans.clear()
        _plans[key] = plan
    return plan


def _without_vars(env: Env) -> Env:
    # Messages see the rule's lets, the proposal, parameters and definitions: no variable of
    # a quantifier or query is in scope there. (A scope without variables serves as it is.)
    return Env(env.proposal, env.params, env.lets, memo=env.memo)


def _related(names: tuple[str, ...], env: Env) -> list[str]:
    """Ids of the records the rule's latest/earliest lets bound and its sequences hold."""
    if len(names) == 1:
        record = env.lets.get(names[0])
        if type(record) is dict:
            # one record (a latest or earliest query's): what the general path below gives
            # for it, its id when that is a text
            record_id = record.get("id")
            return [record_id] if isinstance(record_id, str) else []
    parts: list[list[str]] = []
    distinct = False  # whether the one part is known to hold no id twice
    # The engine notes each sequence that is a run of one of its orders (`spans` of its memo):
    # the ids of such a run are a slice of the order's ids.
    spans = getattr(env.memo, "spans", None)
    for name in names:
        value = env.lets.get(name)
        span = spans.get(id(value)) if spans and type(value) is list else None
        if span is not None and span[0] is value:
            _, order, lower, upper = span
            ids = order.ids()
            if ids is not None:
                parts.append(ids[lower : upper + 1])
                distinct = True
                continue
        records: list[Any] = value if isinstance(value, list) else [value]
        if _types(records) == _DICT:
            # facts, as the engine and the evaluator bind them: ids read directly
            found: list[Any] = [record.get("id") for record in records]
        else:
            found = [semantics.field(record, "id") for record in records]
        if not _types(found) <= _STR:
            found = [i for i in found if isinstance(i, str)]
        parts.append(found)
        distinct = False
    if len(parts) == 1 and distinct:
        return parts[0]
    if len(parts) == 1:
        return list(dict.fromkeys(parts[0]))
    return list(dict.fromkeys(itertools.chain.from_iterable(parts)))


def _types(values: list[Any]) -> set[type]:
    return set(map(type, values))


_DICT: Final = {dict}
_STR: Final = {str}
