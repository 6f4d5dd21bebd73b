"""The syntax tree of the rule language: frozen dataclasses, each carrying its source span.

Spans stay out of equality (`compare=False`), so two trees are equal when their structure is,
wherever they were written: the formatter's promise ("the AST of the output equals the AST of
the input") is tested with plain `==`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from checker.diagnostics import Span

NOWHERE = Span("<generated>", 1, 1, 1, 1)


@dataclass(frozen=True)
class Node:
    span: Span = field(default=NOWHERE, compare=False, repr=False, kw_only=True)


# --- expressions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Number(Node):
    """A number as written. `unit` is `days`, `%` or `persons` (singular forms normalised)."""

    value: Decimal
    unit: str | None = None


@dataclass(frozen=True)
class Text(Node):
    value: str


@dataclass(frozen=True)
class DateLit(Node):
    value: dt.date


@dataclass(frozen=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True)
class Null(Node):
    pass


@dataclass(frozen=True)
class Path(Node):
    """A name, or a name followed by fields: `proposal.impact.expected_inflow`, `prior.id`."""

    root: str
    fields: tuple[str, ...] = ()

    @property
    def dotted(self) -> str:
        return ".".join((self.root, *self.fields))


@dataclass(frozen=True)
class Minus(Node):
    operand: Expr


@dataclass(frozen=True)
class Arith(Node):
    op: str  # + - * /
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Compare(Node):
    op: str  # == != < <= > >=
    left: Expr
    right: Expr


@dataclass(frozen=True)
class IsNull(Node):
    operand: Expr
    negated: bool = False


@dataclass(frozen=True)
class IsEmpty(Node):
    operand: Expr
    negated: bool = False


@dataclass(frozen=True)
class Member(Node):
    item: Expr
    container: Expr
    negated: bool = False


@dataclass(frozen=True)
class And(Node):
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or(Node):
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Not(Node):
    operand: Expr


@dataclass(frozen=True)
class ListExpr(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Quantifier(Node):
    """`any(e in LIST: COND)`, `all(...)`, `count(...)` over a list of the document."""

    kind: str  # any | all | count
    var: str
    source: Expr
    condition: Expr


Expr = (
    Number
    | Text
    | DateLit
    | Bool
    | Null
    | Path
    | Minus
    | Arith
    | Compare
    | IsNull
    | IsEmpty
    | Member
    | And
    | Or
    | Not
    | ListExpr
    | Call
    | Quantifier
)

# --- declarations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Localized(Node):
    """A text in one language: `message ja "..."`, `title en "..."`."""

    lang: str
    text: str


@dataclass(frozen=True)
class Section(Node):
    """One section of an `about` block: `detects`, `why`, `example`, `remedy`."""

    name: str
    lang: str
    text: str


@dataclass(frozen=True)
class About(Node):
    sections: tuple[Section, ...]


@dataclass(frozen=True)
class Param(Node):
    name: str
    value: Number


@dataclass(frozen=True)
class Define(Node):
    name: str
    expr: Expr


@dataclass(frozen=True)
class Query(Node):
    """A history query: `latest h in history where COND` (also earliest, count, sequence)."""

    kind: str  # latest | earliest | count | sequence
    var: str
    condition: Expr


@dataclass(frozen=True)
class Let(Node):
    name: str
    value: Query | Expr


@dataclass(frozen=True)
class Choice(Node):
    """A severity, fixed or chosen by conditions: `high if electoral else medium`.

    `options` pairs each level with its condition; the last option has none.
    """

    options: tuple[tuple[str, Expr | None], ...]


@dataclass(frozen=True)
class Name(Node):
    """A bare word in a declaration, kept with its span for diagnostics (`kind reversal`)."""

    value: str


@dataclass(frozen=True)
class Rule(Node):
    name: str
    kind: Name | None
    lets: tuple[Let, ...]
    when: Expr | None
    severity: Choice | None
    messages: tuple[Localized, ...]
    remedies: tuple[Localized, ...]
    about: About | None


@dataclass(frozen=True)
class Principle(Node):
    name: str
    titles: tuple[Localized, ...]
    params: tuple[Param, ...]
    defines: tuple[Define, ...]
    rules: tuple[Rule, ...]
    about: About | None


@dataclass(frozen=True)
class RuleFile(Node):
    """One `.bcm` file: principles, and parameters or definitions shared by the whole pack."""

    path: str
    principles: tuple[Principle, ...]
    params: tuple[Param, ...]
    defines: tuple[Define, ...]


@dataclass(frozen=True)
class Comment:
    """A `# comment`, kept aside by the parser so the formatter can put it back."""

    line: int
    column: int
    text: str
