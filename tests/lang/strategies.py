"""Hypothesis strategies for the rule language: syntax trees, and the many ways to write them.

- `expressions()`, `rule_files()`, ...: syntax trees (`checker.lang.ast`, spans left at their
  default) that the grammar can express.
- `written(tree)`: one way of writing a tree as rule text, drawn at random: clauses and
  declarations in any order the language allows, redundant parentheses, any whitespace
  between tokens, strings escaped or triple-quoted, `10 %`, `1 day`, and comments wherever
  whitespace may go. `parse(text) == tree` holds for every text it draws.
- `rule_texts()`: `(tree, text)` pairs, the common case of the two above.

The comments `written` emits read `# c0 ...`, `# c1 ...`, in the order of the text, so a test
can tell them all apart.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from hypothesis import strategies as st

from checker.lang import ast

T = TypeVar("T")


def words(text: str) -> tuple[str, ...]:
    """The words of a text: long lists of names read best written as one."""
    return tuple(text.split())


# Every word the grammar gives a meaning to. The contextual lexer lets most of them serve as
# names where the keyword cannot stand, but generated names avoid them all.
KEYWORDS = frozenset(
    words(
        "principle title param define rule kind let when severity if else message remedy about "
        "latest earliest count sequence in history where is not null empty and or true false any "
        "all days day persons person"
    )
)

FIELDS = words(
    "scope direction status effective_on proposed_on magnitude area target jurisdiction id "
    "rationale trigger evidence value previous impact expected_inflow integration_capacity "
    "context announced_in_campaign next_election_on transition_days statuses legal_basis"
)
FUNCTIONS = ("days", "abs", "min", "max", "len", "moved", "change", "direction_changes")
LEVELS = ("high", "medium", "low")
KINDS = ("conflict", "reversal", "tension", "note")
PRINCIPLES = (
    "integration_capacity",
    "legal_integrity",
    "economic_rationality",
    "social_stability",
    "human_dignity",
    "normative_coherence",
)
SECTIONS = ("detects", "why", "example", "remedy", "demands")

JAPANESE = "規範的一貫性の原則に基づく方向性と受入れ・統合能力（エビデンス）を確認してください。"


@functools.cache
def names() -> st.SearchStrategy[str]:
    """Identifiers: mostly the words of real packs, sometimes any name the grammar allows."""
    made_up = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
    return st.one_of(
        st.sampled_from(("prior", "gap", "recent", "pledged", "electoral", "e", "h", "x")),
        st.sampled_from(FIELDS),
        made_up,
    ).filter(lambda name: name not in KEYWORDS)


@functools.cache
def texts() -> st.SearchStrategy[str]:
    """Message text: anything, with quotes, backslashes, braces, line breaks and Japanese."""
    tricky = st.sampled_from(
        ['"', '""', '"""', "\\", "\\n", "\n", "\t", "{prior.id}", "{{", "}}", "#", JAPANESE]
    )
    piece = st.one_of(st.text(max_size=8), tricky)
    return st.lists(piece, max_size=3).map("".join)


@functools.cache
def numbers() -> st.SearchStrategy[ast.Number]:
    digits = st.from_regex(r"[0-9]{1,7}(\.[0-9]{1,4})?", fullmatch=True)
    unit = st.sampled_from((None, None, "days", "%", "persons"))
    return st.builds(lambda d, u: ast.Number(Decimal(d), u), digits, unit)


@functools.cache
def _path() -> st.SearchStrategy[ast.Path]:
    root = st.one_of(st.sampled_from(("proposal", "prior", "h", "e")), names())
    fields = st.lists(st.one_of(st.sampled_from(FIELDS), names()), max_size=3).map(tuple)
    return st.builds(ast.Path, root, fields)


@functools.cache
def _leaves() -> st.SearchStrategy[ast.Expr]:
    return st.one_of(
        _path(),
        numbers(),
        texts().map(ast.Text),
        st.dates(min_value=dt.date(1, 1, 1)).map(ast.DateLit),
        st.booleans().map(ast.Bool),
        st.just(ast.Null()),
    )


def _compound(children: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
    several = st.lists(children, min_size=2, max_size=4).map(tuple)
    few = st.lists(children, max_size=3).map(tuple)
    return st.one_of(
        st.builds(ast.And, several),
        st.builds(ast.Or, several),
        st.builds(ast.Not, children),
        st.builds(
            ast.Compare, st.sampled_from(("==", "!=", "<", "<=", ">", ">=")), children, children
        ),
        st.builds(ast.Arith, st.sampled_from("+-*/"), children, children),
        st.builds(ast.Minus, children),
        st.builds(ast.IsNull, children, st.booleans()),
        st.builds(ast.IsEmpty, children, st.booleans()),
        st.builds(ast.Member, children, children, st.booleans()),
        st.builds(ast.ListExpr, few),
        st.builds(ast.Call, st.one_of(st.sampled_from(FUNCTIONS), names()), few),
        st.builds(
            ast.Quantifier, st.sampled_from(("any", "all", "count")), names(), children, children
        ),
    )


@functools.cache
def expressions(max_leaves: int = 6) -> st.SearchStrategy[ast.Expr]:
    return st.recursive(_leaves(), _compound, max_leaves=max_leaves)


@functools.cache
def localized() -> st.SearchStrategy[ast.Localized]:
    return st.builds(ast.Localized, st.sampled_from(("en", "ja", "ko")), texts())


@functools.cache
def abouts() -> st.SearchStrategy[ast.About]:
    section = st.builds(
        ast.Section, st.sampled_from(SECTIONS), st.sampled_from(("en", "ja")), texts()
    )
    return st.builds(ast.About, st.lists(section, max_size=3).map(tuple))


@functools.cache
def params() -> st.SearchStrategy[ast.Param]:
    return st.builds(ast.Param, names(), numbers())


@functools.cache
def defines() -> st.SearchStrategy[ast.Define]:
    return st.builds(ast.Define, names(), expressions())


@functools.cache
def lets() -> st.SearchStrategy[ast.Let]:
    query = st.builds(
        ast.Query,
        st.sampled_from(("latest", "earliest", "count", "sequence")),
        names(),
        expressions(),
    )
    return st.builds(ast.Let, names(), st.one_of(query, expressions()))


@functools.cache
def choices() -> st.SearchStrategy[ast.Choice]:
    level = st.one_of(st.sampled_from(LEVELS), names())
    conditional = st.lists(st.tuples(level, expressions(max_leaves=4)), max_size=2)
    return st.builds(lambda options, last: ast.Choice((*options, (last, None))), conditional, level)


def _maybe(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.one_of(st.none(), strategy)


@functools.cache
def rules() -> st.SearchStrategy[ast.Rule]:
    return st.builds(
        ast.Rule,
        names(),
        st.one_of(st.sampled_from(KINDS).map(ast.Name), st.none()),
        st.lists(lets(), max_size=2).map(tuple),
        _maybe(expressions()),
        _maybe(choices()),
        st.lists(localized(), max_size=2).map(tuple),
        st.lists(localized(), max_size=2).map(tuple),
        _maybe(abouts()),
    )


@functools.cache
def principles() -> st.SearchStrategy[ast.Principle]:
    return st.builds(
        ast.Principle,
        st.one_of(st.sampled_from(PRINCIPLES), names()),
        st.lists(localized(), max_size=2).map(tuple),
        st.lists(params(), max_size=2).map(tuple),
        st.lists(defines(), max_size=2).map(tuple),
        st.lists(rules(), max_size=2).map(tuple),
        _maybe(abouts()),
    )


@functools.cache
def rule_files(path: str = "<text>") -> st.SearchStrategy[ast.RuleFile]:
    return st.builds(
        ast.RuleFile,
        st.just(path),
        st.lists(principles(), max_size=2).map(tuple),
        st.lists(params(), max_size=2).map(tuple),
        st.lists(defines(), max_size=2).map(tuple),
    )


# --- writing a tree as text, one of many ways -----------------------------------------------

# Loosest first, as in the grammar: or < and < not < comparison < + - < * / < unary minus.
_PRECEDENCE = {
    ast.Or: 1,
    ast.And: 2,
    ast.Not: 3,
    ast.Compare: 4,
    ast.IsNull: 4,
    ast.IsEmpty: 4,
    ast.Member: 4,
    ast.Minus: 7,
}


def _precedence(expr: ast.Expr) -> int:
    if isinstance(expr, ast.Arith):
        return 5 if expr.op in "+-" else 6
    return _PRECEDENCE.get(type(expr), 8)


# What the writer draws from, built once.
_PERCENT = st.integers(0, 99)
_THREE = st.integers(0, 2)
_GAP_KIND = st.integers(0, 19)
_SPACES = st.sampled_from(("\n", "\n  ", "\n\n    ", "\t", "   "))
_COMMENT_WORDS = st.text(st.characters(exclude_characters="\n\r"), max_size=10)


class _Writer:
    """Writes a tree as a list of tokens, then joins them with drawn whitespace and comments."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]):
        self.draw = draw
        self.comments = 0

    def flip(self, chance: float) -> bool:
        return bool(self.draw(_PERCENT) < chance * 100)

    def comment(self) -> str:
        words = self.draw(_COMMENT_WORDS)
        text = f"# c{self.comments} {words}"
        self.comments += 1
        return text

    def gap(self) -> str:
        kind = self.draw(_GAP_KIND)
        if kind < 12:
            return " "
        if kind < 15:
            return self.draw(_SPACES)
        if kind < 17:
            return f" {self.comment()}\n"
        return f"\n{self.comment()}\n  "

    def join(self, tokens: Sequence[str]) -> str:
        opening = self.draw(_THREE)
        out = [f"{self.comment()}\n\n" if opening == 2 else "\n" * opening]
        for i, token in enumerate(tokens):
            if i:
                out.append(self.gap())
            out.append(token)
        closing = self.draw(_THREE)
        out.append(f"\n{self.comment()}" if closing == 2 else "\n" * closing)
        return "".join(out)

    def shuffle(self, groups: Sequence[Sequence[list[str]]]) -> list[str]:
        """Items of several groups, interleaved at random, each group keeping its own order."""
        tags = [g for g, group in enumerate(groups) for _ in group]
        order = self.draw(st.permutations(tags))
        taken = [0] * len(groups)
        tokens: list[str] = []
        for g in order:
            tokens += groups[g][taken[g]]
            taken[g] += 1
        return tokens

    # --- literals

    def text(self, value: str) -> str:
        style = self.draw(_THREE)
        if style == 0 or ("\n" not in value and style == 1):
            escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            return '"' + escaped.replace("\t", "\\t" if self.flip(0.5) else "\t") + '"'
        # Triple quotes: every quote escaped keeps the literal closed where it should be.
        return '"""' + value.replace("\\", "\\\\").replace('"', '\\"') + '"""'

    def number(self, number: ast.Number) -> list[str]:
        digits = format(number.value, "f")
        if self.flip(0.1):
            digits = "0" + digits
        if number.unit is None:
            return [digits]
        if number.unit == "%":
            return [digits + "%"] if self.flip(0.5) else [digits, "%"]
        singular = {"days": "day", "persons": "person"}[number.unit]
        return [digits, singular if self.flip(0.3) else number.unit]

    # --- expressions

    def expr(self, expr: ast.Expr, min_precedence: int = 0) -> list[str]:
        tokens = self.bare(expr)
        if _precedence(expr) < min_precedence or self.flip(0.1):
            return ["(", *tokens, ")"]
        return tokens

    def separated(
        self, items: Sequence[ast.Expr], separator: str, min_precedence: int = 0
    ) -> list[str]:
        tokens: list[str] = []
        for i, item in enumerate(items):
            if i:
                tokens.append(separator)
            tokens += self.expr(item, min_precedence)
        return tokens

    def bare(self, expr: ast.Expr) -> list[str]:
        match expr:
            case ast.Or(operands=operands):
                return self.separated(operands, "or", 2)
            case ast.And(operands=operands):
                return self.separated(operands, "and", 3)
            case ast.Not(operand=operand):
                return ["not", *self.expr(operand, 3)]
            case ast.Compare(op=op, left=left, right=right):
                return [*self.expr(left, 5), op, *self.expr(right, 5)]
            case ast.IsNull(operand=operand, negated=negated):
                return [*self.expr(operand, 5), "is", *(["not"] if negated else []), "null"]
            case ast.IsEmpty(operand=operand, negated=negated):
                return [*self.expr(operand, 5), "is", *(["not"] if negated else []), "empty"]
            case ast.Member(item=item, container=container, negated=negated):
                word = ["not", "in"] if negated else ["in"]
                return [*self.expr(item, 5), *word, *self.expr(container, 5)]
            case ast.Arith(op=op, left=left, right=right):
                level = _precedence(expr)
                return [*self.expr(left, level), op, *self.expr(right, level + 1)]
            case ast.Minus(operand=operand):
                return ["-", *self.expr(operand, 7)]
            case ast.Number():
                return self.number(expr)
            case ast.Text(value=value):
                return [self.text(value)]
            case ast.DateLit(value=value):
                return [value.isoformat()]
            case ast.Bool(value=value):
                return ["true" if value else "false"]
            case ast.Null():
                return ["null"]
            case ast.Path(root=root, fields=fields):
                tokens = [root]
                for name in fields:
                    tokens += [".", name]
                return tokens
            case ast.ListExpr(items=items):
                return ["[", *self.separated(items, ","), "]"]
            case ast.Call(name=name, args=args):
                return [name, "(", *self.separated(args, ","), ")"]
            case ast.Quantifier(kind=kind, var=var, source=source, condition=condition):
                return [kind, "(", var, "in", *self.expr(source), ":", *self.expr(condition), ")"]
        raise TypeError(f"not an expression: {expr!r}")

    # --- declarations

    def localized(self, keyword: str, item: ast.Localized) -> list[str]:
        return [keyword, item.lang, self.text(item.text)]

    def about(self, about: ast.About) -> list[str]:
        tokens = ["about", "{"]
        for section in about.sections:
            lang = [] if section.lang == "en" and self.flip(0.7) else [section.lang]
            tokens += [section.name, *lang, self.text(section.text)]
        return [*tokens, "}"]

    def param(self, param: ast.Param) -> list[str]:
        return ["param", param.name, "=", *self.number(param.value)]

    def define(self, define: ast.Define) -> list[str]:
        return ["define", define.name, "=", *self.expr(define.expr)]

    def let(self, let: ast.Let) -> list[str]:
        value = let.value
        if isinstance(value, ast.Query):
            written = [value.kind, value.var, "in", "history", "where", *self.expr(value.condition)]
        else:
            written = self.expr(value)
        return ["let", let.name, "=", *written]

    def severity(self, choice: ast.Choice) -> list[str]:
        tokens = ["severity"]
        for level, condition in choice.options:
            tokens.append(level)
            if condition is not None:
                tokens += ["if", *self.expr(condition), "else"]
        return tokens

    def rule(self, rule: ast.Rule) -> list[str]:
        single: list[list[str]] = []
        if rule.kind is not None:
            single.append(["kind", rule.kind.value])
        if rule.when is not None:
            single.append(["when", *self.expr(rule.when)])
        if rule.severity is not None:
            single.append(self.severity(rule.severity))
        if rule.about is not None:
            single.append(self.about(rule.about))
        body = self.shuffle(
            [
                [self.let(let) for let in rule.lets],
                [self.localized("message", m) for m in rule.messages],
                [self.localized("remedy", r) for r in rule.remedies],
                *([item] for item in single),
            ]
        )
        return ["rule", rule.name, "{", *body, "}"]

    def principle(self, principle: ast.Principle) -> list[str]:
        body = self.shuffle(
            [
                [self.localized("title", t) for t in principle.titles],
                [self.param(p) for p in principle.params],
                [self.define(d) for d in principle.defines],
                [self.rule(r) for r in principle.rules],
                [self.about(principle.about)] if principle.about is not None else [],
            ]
        )
        return ["principle", principle.name, "{", *body, "}"]

    def rule_file(self, rule_file: ast.RuleFile) -> list[str]:
        return self.shuffle(
            [
                [self.param(p) for p in rule_file.params],
                [self.define(d) for d in rule_file.defines],
                [self.principle(p) for p in rule_file.principles],
            ]
        )


@st.composite
def written(draw: st.DrawFn, tree: ast.RuleFile) -> str:
    """One way, drawn at random, of writing `tree` as rule text."""
    writer = _Writer(draw)
    return writer.join(writer.rule_file(tree))


@st.composite
def rule_texts(draw: st.DrawFn) -> tuple[ast.RuleFile, str]:
    """A syntax tree and one way of writing it."""
    tree = draw(rule_files())
    return tree, draw(written(tree))
