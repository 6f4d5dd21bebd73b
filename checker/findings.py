"""A fired rule and its bindings, made into a Finding a reader can act on.

The message and remedy are the rule's texts in the requested language (English where the rule
has none in it), with their `{name.field}` placeholders filled by values formatted for that
language. `evidence` holds every value the rule's condition read; `related` the ids of the
history records its queries bound; `source` where the rule is written.
"""

from __future__ import annotations

from typing import Any

from checker import semantics
from checker.documents import Finding, FindingKind, PrincipleId, Severity
from checker.lang import ast
from checker.lang.checked import CheckedPack, RuleInfo, Type
from checker.reference import Env, Evaluator, UnknownName, children

__all__ = ["evidence_paths", "localized", "make_finding"]


def localized(texts: tuple[ast.Localized, ...], lang: str) -> tuple[str, str]:
    """The text in `lang`, else in English, else the first one written; with its language."""
    by_lang = {t.lang: t.text for t in texts}
    for chosen in (lang, "en"):
        if chosen in by_lang:
            return chosen, by_lang[chosen]
    return (texts[0].lang, texts[0].text) if texts else (lang, "")


def _fill(texts: tuple[ast.Localized, ...], lang: str, lookup: semantics.Lookup) -> str:
    # Values are shown the way the text's own language writes them: an English fallback in a
    # Japanese report reads "2019-04-01", not "2019年4月1日" inside an English sentence.
    text_lang, template = localized(texts, lang)
    return semantics.interpolate(template, lookup, text_lang)


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
    rule = fired_rule.rule

    def lookup(name: str) -> tuple[Any, Type | None]:
        root, *fields = name.split(".")
        path = ast.Path(root, tuple(fields))
        try:
            value = evaluator.eval(path, _without_vars(env))
        except UnknownName as err:
            raise LookupError(name) from err
        return value, evaluator.type_of(path, rule)

    evidence: dict[str, Any] = {}
    if rule.when is not None:
        for path in evidence_paths(rule.when):
            try:
                value = evaluator.eval(path, env)
            except UnknownName:
                continue
            evidence[path.dotted] = semantics.to_json_value(value)

    return Finding(
        kind=FindingKind(fired_rule.kind),
        principle=PrincipleId(fired_rule.principle),
        rule=fired_rule.id,
        severity=Severity(severity),
        message=_fill(rule.messages, lang, lookup),
        remedy=_fill(rule.remedies, lang, lookup),
        evidence=dict(sorted(evidence.items())),
        related=_related(rule, env),
        source=fired_rule.source,
    )


def _without_vars(env: Env) -> Env:
    # Messages see the rule's lets, the proposal, parameters and definitions: no variable of
    # a quantifier or query is in scope there.
    return Env(env.proposal, env.params, env.lets, memo=env.memo)


def _related(rule: ast.Rule, env: Env) -> list[str]:
    """Ids of the records the rule's latest/earliest lets bound and its sequences hold."""
    ids: dict[str, None] = {}
    for let in rule.lets:
        if not isinstance(let.value, ast.Query) or let.value.kind == "count":
            continue
        value = env.lets.get(let.name)
        records = value if isinstance(value, list) else [value]
        for record in records:
            record_id = semantics.field(record, "id")
            if isinstance(record_id, str):
                ids.setdefault(record_id, None)
    return list(ids)
