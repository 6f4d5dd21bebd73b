"""Step one: rule text to syntax tree. Lark (LALR, contextual lexer, strict) builds the parse
tree from grammar/bcm.lark; a thin transformer turns it into the frozen nodes of `ast.py`.

Spans: Lark's `propagate_positions` would do the bookkeeping on every reduction, two per token
through the precedence chain, which was half of the parse time. Instead the tree keeps every
token (`keep_all_tokens`) and `_build` gives each node the span from its first token to its last,
keywords and parentheses included: the same spans, computed once per node.

Syntax errors become diagnostics; common mistakes get named errors with a help line.

`parse` first tries the hand-written parser of `fastparse.py`, which reads the texts people
usually write six times faster and gives the same tree, spans included; it leaves every
other text (all texts with a mistake among them) to Lark, the parser of record, so every
diagnostic is made here. `BCM_PARSER=lark` in the environment turns the fast path off.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Callable
from decimal import Decimal
from importlib import resources
from pathlib import Path as FsPath
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from checker.diagnostics import BcmError, Diagnostic, Span
from checker.lang import ast, fastparse
from checker.lang.fastparse import MAX_DIGITS, unquote

_UNITS = {"days": "days", "day": "days", "%": "%", "persons": "persons", "person": "persons"}


def _grammar_text() -> str:
    # The grammar ships beside the package in a source checkout (grammar/bcm.lark); an
    # installed wheel carries a copy inside the package.
    here = FsPath(__file__).resolve().parents[2] / "grammar" / "bcm.lark"
    if here.is_file():
        return here.read_text(encoding="utf-8")
    return resources.files("checker.lang").joinpath("bcm.lark").read_text(encoding="utf-8")


@functools.cache
def parser() -> Lark:
    return Lark(
        _grammar_text(),
        parser="lalr",
        lexer="contextual",
        strict=True,
        keep_all_tokens=True,  # spans from the tokens themselves: see the module's docstring
        maybe_placeholders=False,
    )


@functools.cache
def _named_terminals() -> frozenset[str]:
    """The terminals the grammar names (NAME, STRING, COMPARE, ...): the tokens the transformer
    is given; keywords and punctuation written in quotes only delimit."""
    return frozenset(re.findall(r"^([A-Z][A-Z0-9_]*)(?:\.\d+)?\s*:", _grammar_text(), re.M))


def _span_of(file: str, item: Any) -> Span:
    if isinstance(item, Token):
        return Span(
            file, item.line or 1, item.column or 1, item.end_line or 1, item.end_column or 1
        )
    meta = item.meta if isinstance(item, Tree) else item
    if getattr(meta, "empty", True):
        return Span(file, 1, 1, 1, 1)
    return Span(file, meta.line, meta.column, meta.end_line, meta.end_column)


class _Build(Transformer[Token, Any]):
    """Parse tree to AST, collecting structural problems (duplicate or missing clauses)."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file
        self.problems: list[Diagnostic] = []

    def sp(self, item: Any) -> Span:
        return _span_of(self.file, item)

    # --- expressions

    @v_args(meta=True)
    def path(self, meta: Any, names: list[Token]) -> ast.Path:
        return ast.Path(str(names[0]), tuple(str(n) for n in names[1:]), span=self.sp(meta))

    @v_args(meta=True)
    def number(self, meta: Any, items: list[Token]) -> ast.Number:
        unit = _UNITS[str(items[1])] if len(items) > 1 else None
        digits = str(items[0])
        whole, _, fraction = digits.partition(".")
        if len(whole.lstrip("0")) > MAX_DIGITS or len(fraction) > MAX_DIGITS:
            self.problems.append(
                Diagnostic(
                    "S009",
                    f"`{digits[:12]}...` has more than {MAX_DIGITS} digits before or after the "
                    "point",
                    self.sp(items[0]),
                    help="write the figure as it is meant; numbers stay within 10^-1000 and "
                    "10^1000, as in documents",
                )
            )
        return ast.Number(Decimal(digits), unit, span=self.sp(meta))

    def text(self, items: list[Token]) -> ast.Text:
        return ast.Text(unquote(str(items[0])), span=self.sp(items[0]))

    def date(self, items: list[Token]) -> ast.Expr:
        tok = items[0]
        try:
            return ast.DateLit(dt.date.fromisoformat(str(tok)), span=self.sp(tok))
        except ValueError:
            self.problems.append(
                Diagnostic(
                    "S007",
                    f"`{tok}` is not a calendar date",
                    self.sp(tok),
                    help="write dates as YYYY-MM-DD with a real month and day, e.g. 2019-04-01",
                )
            )
            return ast.Null(span=self.sp(tok))

    @v_args(meta=True)
    def true(self, meta: Any, _: list[Any]) -> ast.Bool:
        return ast.Bool(True, span=self.sp(meta))

    @v_args(meta=True)
    def false(self, meta: Any, _: list[Any]) -> ast.Bool:
        return ast.Bool(False, span=self.sp(meta))

    @v_args(meta=True)
    def null(self, meta: Any, _: list[Any]) -> ast.Null:
        return ast.Null(span=self.sp(meta))

    @v_args(meta=True)
    def minus(self, meta: Any, items: list[Any]) -> ast.Expr:
        return ast.Minus(items[0], span=self.sp(meta))

    @v_args(meta=True)
    def arith(self, meta: Any, items: list[Any]) -> ast.Arith:
        return ast.Arith(str(items[1]), items[0], items[2], span=self.sp(meta))

    @v_args(meta=True)
    def compare(self, meta: Any, items: list[Any]) -> ast.Compare:
        return ast.Compare(str(items[1]), items[0], items[2], span=self.sp(meta))

    @v_args(meta=True)
    def is_null(self, meta: Any, items: list[Any]) -> ast.IsNull:
        return ast.IsNull(items[0], False, span=self.sp(meta))

    @v_args(meta=True)
    def is_not_null(self, meta: Any, items: list[Any]) -> ast.IsNull:
        return ast.IsNull(items[0], True, span=self.sp(meta))

    @v_args(meta=True)
    def is_empty(self, meta: Any, items: list[Any]) -> ast.IsEmpty:
        return ast.IsEmpty(items[0], False, span=self.sp(meta))

    @v_args(meta=True)
    def is_not_empty(self, meta: Any, items: list[Any]) -> ast.IsEmpty:
        return ast.IsEmpty(items[0], True, span=self.sp(meta))

    @v_args(meta=True)
    def member(self, meta: Any, items: list[Any]) -> ast.Member:
        return ast.Member(items[0], items[1], False, span=self.sp(meta))

    @v_args(meta=True)
    def not_member(self, meta: Any, items: list[Any]) -> ast.Member:
        return ast.Member(items[0], items[1], True, span=self.sp(meta))

    @v_args(meta=True)
    def all_of(self, meta: Any, items: list[Any]) -> ast.And:
        return ast.And(tuple(items), span=self.sp(meta))

    @v_args(meta=True)
    def any_of(self, meta: Any, items: list[Any]) -> ast.Or:
        return ast.Or(tuple(items), span=self.sp(meta))

    @v_args(meta=True)
    def negation(self, meta: Any, items: list[Any]) -> ast.Not:
        return ast.Not(items[0], span=self.sp(meta))

    @v_args(meta=True)
    def list_expr(self, meta: Any, items: list[Any]) -> ast.ListExpr:
        return ast.ListExpr(tuple(items), span=self.sp(meta))

    @v_args(meta=True)
    def call(self, meta: Any, items: list[Any]) -> ast.Call:
        return ast.Call(str(items[0]), tuple(items[1:]), span=self.sp(meta))

    @v_args(meta=True)
    def quantifier(self, meta: Any, items: list[Any]) -> ast.Quantifier:
        return ast.Quantifier(str(items[0]), str(items[1]), items[2], items[3], span=self.sp(meta))

    # --- declarations

    @v_args(meta=True)
    def title(self, meta: Any, items: list[Token]) -> ast.Localized:
        return ast.Localized(str(items[0]), unquote(str(items[1])), span=self.sp(meta))

    @v_args(meta=True)
    def message(self, meta: Any, items: list[Token]) -> tuple[str, ast.Localized]:
        return ("message", self.title(meta, items))

    @v_args(meta=True)
    def remedy(self, meta: Any, items: list[Token]) -> tuple[str, ast.Localized]:
        return ("remedy", self.title(meta, items))

    @v_args(meta=True)
    def section(self, meta: Any, items: list[Token]) -> ast.Section:
        lang = str(items[1]) if len(items) == 3 else "en"
        return ast.Section(str(items[0]), lang, unquote(str(items[-1])), span=self.sp(meta))

    @v_args(meta=True)
    def about(self, meta: Any, items: list[ast.Section]) -> ast.About:
        return ast.About(tuple(items), span=self.sp(meta))

    @v_args(meta=True)
    def param(self, meta: Any, items: list[Any]) -> ast.Param:
        return ast.Param(str(items[0]), items[1], span=self.sp(meta))

    @v_args(meta=True)
    def define(self, meta: Any, items: list[Any]) -> ast.Define:
        return ast.Define(str(items[0]), items[1], span=self.sp(meta))

    @v_args(meta=True)
    def query(self, meta: Any, items: list[Any]) -> ast.Query:
        return ast.Query(str(items[0]), str(items[1]), items[2], span=self.sp(meta))

    @v_args(meta=True)
    def let(self, meta: Any, items: list[Any]) -> ast.Let:
        return ast.Let(str(items[0]), items[1], span=self.sp(meta))

    @v_args(meta=True)
    def when(self, meta: Any, items: list[Any]) -> tuple[str, Any]:
        return ("when", (items[0], self.sp(meta)))

    @v_args(meta=True)
    def kind(self, meta: Any, items: list[Token]) -> tuple[str, Any]:
        return ("kind", (ast.Name(str(items[0]), span=self.sp(items[0])), self.sp(meta)))

    @v_args(meta=True)
    def fixed(self, meta: Any, items: list[Token]) -> ast.Choice:
        return ast.Choice(((str(items[0]), None),), span=self.sp(meta))

    @v_args(meta=True)
    def conditional(self, meta: Any, items: list[Any]) -> ast.Choice:
        rest: ast.Choice = items[2]
        return ast.Choice(((str(items[0]), items[1]), *rest.options), span=self.sp(meta))

    @v_args(meta=True)
    def severity(self, meta: Any, items: list[Any]) -> tuple[str, Any]:
        choice: ast.Choice = items[0]
        return ("severity", (ast.Choice(choice.options, span=self.sp(meta)), self.sp(meta)))

    def _single(
        self, rule_or_principle: str, name: str, clause: str, found: list[tuple[Any, Span]]
    ) -> Any:
        if len(found) > 1:
            self.problems.append(
                Diagnostic(
                    "S010",
                    f"{rule_or_principle} `{name}` has {len(found)} `{clause}` clauses",
                    found[1][1],
                    help=f"a {rule_or_principle} takes one `{clause}`; combine them"
                    + (" with `and`" if clause == "when" else ""),
                )
            )
        return found[0][0] if found else None

    @v_args(meta=True)
    def rule(self, meta: Any, items: list[Any]) -> ast.Rule:
        name = str(items[0])
        clauses: dict[str, list[tuple[Any, Span]]] = {"kind": [], "when": [], "severity": []}
        lets, messages, remedies, abouts = [], [], [], []
        for item in items[1:]:
            if isinstance(item, ast.Let):
                lets.append(item)
            elif isinstance(item, ast.About):
                abouts.append((item, item.span))
            elif item[0] == "message":
                messages.append(item[1])
            elif item[0] == "remedy":
                remedies.append(item[1])
            else:
                clauses[item[0]].append(item[1])
        return ast.Rule(
            name,
            self._single("rule", name, "kind", clauses["kind"]),
            tuple(lets),
            self._single("rule", name, "when", clauses["when"]),
            self._single("rule", name, "severity", clauses["severity"]),
            tuple(messages),
            tuple(remedies),
            self._single("rule", name, "about", abouts),
            span=self.sp(meta),
        )

    @v_args(meta=True)
    def principle(self, meta: Any, items: list[Any]) -> ast.Principle:
        name = str(items[0])
        titles, params, defines, rules, abouts = [], [], [], [], []
        for item in items[1:]:
            if isinstance(item, ast.Localized):
                titles.append(item)
            elif isinstance(item, ast.Param):
                params.append(item)
            elif isinstance(item, ast.Define):
                defines.append(item)
            elif isinstance(item, ast.Rule):
                rules.append(item)
            elif isinstance(item, ast.About):
                abouts.append((item, item.span))
        return ast.Principle(
            name,
            tuple(titles),
            tuple(params),
            tuple(defines),
            tuple(rules),
            self._single("principle", name, "about", abouts),
            span=self.sp(meta),
        )


class _Meta:
    """Where a parse tree node stands: what `_Build`'s methods read as `meta`."""

    __slots__ = ("column", "empty", "end_column", "end_line", "line")

    def __init__(self, first: Token | None, last: Token | None):
        self.empty = first is None or last is None
        if first is not None and last is not None:
            self.line, self.column = first.line, first.column
            self.end_line, self.end_column = last.end_line, last.end_column


# Far deeper than any rule a person writes, and shallow enough that the stages after parsing,
# which walk expressions recursively, stay clear of Python's recursion limit.
MAX_NESTING = 100


class _TooDeep(Exception):
    def __init__(self, tree: Tree[Token]):
        super().__init__()
        self.tree = tree


def _build(
    tree: Tree[Token], callbacks: dict[str, Callback], named: frozenset[str], depth: int = 0
) -> tuple[Any, Token | None, Token | None]:
    """The node of `tree`, with its first and last token (None for a node without text)."""
    children: list[Any] = []
    first: Token | None = None
    last: Token | None = None
    for child in tree.children:
        if isinstance(child, Tree):
            if depth >= MAX_NESTING:
                raise _TooDeep(child)
            value, child_first, child_last = _build(child, callbacks, named, depth + 1)
            if child_first is None:
                children.append(value)
                continue
        else:
            value = child_first = child_last = child
            if child.type not in named:  # a keyword or punctuation: part of the span only
                first = first or child
                last = child
                continue
        children.append(value)
        first = first or child_first
        last = child_last
    data = str(tree.data)
    if data == "atom":  # `( expr )`: the parentheses widen the parent's span, not the node's
        return children[0], first, last
    callback = callbacks.get(data)
    if callback is None:
        return Tree(data, children), first, last
    return callback(children, _Meta(first, last)), first, last


Callback = Callable[[list[Any], _Meta], Any]


def _callbacks(build: _Build) -> dict[str, Callback]:
    # Looked up once per file: a `v_args` method is wrapped anew at every attribute access.
    out: dict[str, Callback] = {}
    for name in vars(_Build):
        if name.startswith("_") or name == "sp":
            continue
        method = getattr(build, name)
        wrapper = getattr(method, "visit_wrapper", None)
        out[name] = _with_meta(method, name, wrapper) if wrapper else _without_meta(method)
    return out


def _with_meta(method: Any, name: str, wrapper: Any) -> Callback:
    def call(children: list[Any], meta: _Meta) -> Any:
        return wrapper(method, name, children, meta)

    return call


def _without_meta(method: Any) -> Callback:
    def call(children: list[Any], _meta: _Meta) -> Any:
        return method(children)

    return call


def _transform(tree: Tree[Token], file: str) -> tuple[ast.RuleFile, list[Diagnostic]]:
    build = _Build(file)
    principles, params, defines = [], [], []
    top, _, _ = _build(tree, _callbacks(build), _named_terminals())
    for item in top.children:
        if isinstance(item, ast.Principle):
            principles.append(item)
        elif isinstance(item, ast.Param):
            params.append(item)
        elif isinstance(item, ast.Define):
            defines.append(item)
    node = ast.RuleFile(
        file, tuple(principles), tuple(params), tuple(defines), span=Span(file, 1, 1, 1, 1)
    )
    return node, build.problems


# --- syntax errors --------------------------------------------------------------------------

# Examples of common mistakes, for Lark's match_examples: each label is a named error.
_EXAMPLES: dict[str, list[str]] = {
    "S002": [
        'principle p { rule r { kind note when proposal.area = "exit" } }',
        "principle p { define d = proposal.magnitude = 1 }",
        'principle p { rule r { kind note let x = latest h in history where h.area = "exit" } }',
    ],
    "S004": [
        "principle p { rule r { kind note when true message en hello } }",
        "principle p { rule r { kind note when true remedy en fix } }",
        "principle p { title en Normative }",
    ],
    "S005": [
        "principle p { rule r { kind note proposal.magnitude } }",
        'principle p { rule r { kind note severity low message en "x" proposal.area } }',
        "principle p { rule r { kind note let x = 1 proposal.area } }",
        'principle p { rule r { proposal.area == "exit" } }',
    ],
    "S006": [
        'principle p { rule r { kind note when true message "x" } }',
        'principle p { rule r { kind note when true remedy "x" } }',
    ],
}

_NAMED: dict[str, tuple[str, str]] = {
    "S002": (
        "`=` where a comparison belongs",
        "compare with `==`; `=` only names a param, define or let",
    ),
    "S004": ("text without quotes", 'put messages and titles in double quotes: message en "..."'),
    "S005": ("a condition without `when`", "start the rule's condition with `when`"),
    "S006": ("a text without its language", 'name the language before the text: message en "..."'),
}

_TOKEN_WORDS = {
    "RBRACE": "`}`",
    "LBRACE": "`{`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "RSQB": "`]`",
    "LSQB": "`[`",
    "STRING": "a quoted text",
    "NAME": "a name",
    "NUMBER": "a number",
    "EQUAL": "`=`",
    "COMPARE": "a comparison",
    "COLON": "`:`",
    "COMMA": "`,`",
    "DOT": "`.`",
    "$END": "the end of the file",
}


def _expected_words(expected: set[str]) -> str:
    words = sorted({_TOKEN_WORDS.get(e, f"`{e.lower()}`" if e.isalpha() else e) for e in expected})
    if len(words) > 8:
        words = [*words[:8], "..."]
    return ", ".join(words)


@functools.cache
def _example_states() -> list[tuple[int, frozenset[str], str]]:
    """(parser state, accepted tokens, label) of each example of a common mistake."""
    states = []
    for label, examples in _EXAMPLES.items():
        for example in examples:
            try:
                parser().parse(example)
            except UnexpectedToken as ut:
                states.append((ut.state.position, frozenset(ut.accepts or ()), label))
            except UnexpectedInput:
                continue
    return states


def _match_example(err: UnexpectedInput) -> str | None:
    # Lark's match_examples also compares the depth of the parser's stack, which differs with
    # what comes before the mistake (a rule after a title is one level deeper than a first
    # rule); the state and the tokens it accepts are what identify the mistake.
    if not isinstance(err, UnexpectedToken) or err.state is None:
        return None
    accepts = frozenset(err.accepts or ())
    for position, example_accepts, label in _example_states():
        if position == err.state.position and example_accepts == accepts:
            return label
    return None


def _syntax_diagnostic(err: UnexpectedInput, text: str, file: str) -> Diagnostic:
    line = getattr(err, "line", 1) or 1
    column = getattr(err, "column", 1) or 1
    if line < 1:  # end of input
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    width = 1
    found = ""
    if isinstance(err, UnexpectedToken):
        tok = err.token
        found = f"`{tok}`" if tok.type != "$END" else "the end of the file"
        width = max(1, len(str(tok)))
    elif isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream or 0
        found = f"`{text[pos]}`" if pos < len(text) else "?"
    span = Span.point(file, line, column, width)

    label = _match_example(err)
    if isinstance(err, UnexpectedEOF) or (
        isinstance(err, UnexpectedToken) and err.token.type == "$END"
    ):
        return Diagnostic(
            "S003",
            "the file ends inside a block: a closing `}` is missing",
            span,
            help="every `principle {`, `rule {` and `about {` needs its `}`",
        )
    if label is not None and label in _NAMED:
        title, named_help = _NAMED[label]
        return Diagnostic(label, f"{title}: found {found}", span, help=named_help)
    expected: set[str] = set(getattr(err, "expected", None) or getattr(err, "allowed", None) or ())
    message = f"unexpected {found or 'text'}"
    help_text = f"expected {_expected_words(expected)}" if expected else None
    return Diagnostic("S001", message, span, help=help_text)


def _too_deep(tree: Tree[Token], file: str) -> Diagnostic:
    node: Any = tree
    while isinstance(node, Tree) and node.children:  # its first token, without recursion
        node = node.children[0]
    span = Span.point(file, 1, 1)
    if isinstance(node, Token) and node.line is not None and node.column is not None:
        span = Span.point(file, node.line, node.column, len(node))
    return Diagnostic(
        "S008",
        f"nested too deeply: more than {MAX_NESTING} levels of parentheses, operators or `else`",
        span,
        help="name the inner parts with `define` or `let`, or write a long chain without "
        "parentheses: `a or b or c`",
    )


# `BCM_PARSER=lark` in the environment turns the fast path off (for tests and comparisons).
PARSER_VARIABLE = "BCM_PARSER"


def parse(text: str, file: str = "<text>") -> ast.RuleFile:
    """Parse one rule file. Raises BcmError with located diagnostics on bad syntax.

    The hand-written parser of `fastparse` reads the texts people usually write, and gives the
    same tree as Lark, spans included; anything else (every text with a mistake among them)
    goes to Lark, which makes every diagnostic."""
    if os.environ.get(PARSER_VARIABLE) != "lark":
        try:
            return fastparse.parse(text, file)
        except fastparse.GiveUp:
            pass
    return parse_lark(text, file)


def parse_lark(text: str, file: str = "<text>") -> ast.RuleFile:
    """Parse one rule file with Lark alone: the parser of record."""
    try:
        tree = parser().parse(text)
    except UnexpectedInput as err:
        raise BcmError([_syntax_diagnostic(err, text, file)]) from None
    try:
        node, problems = _transform(tree, file)
    except _TooDeep as deep:
        raise BcmError([_too_deep(deep.tree, file)]) from None
    if problems:
        raise BcmError(problems)
    return node


def parse_with_comments(text: str, file: str = "<text>") -> tuple[ast.RuleFile, list[ast.Comment]]:
    """Parse and keep the comments aside (for the formatter)."""
    node = parse(text, file)
    return node, comments_of(text)


# In a text that parses, a `#` starts a comment unless it is inside a string, and a `"` starts
# a string unless it is inside a comment: scanning for both, in order, finds every comment.
# (Lark's own `lex(dont_ignore=True)` builds and checks a new lexer at every call.)
_STRING_OR_COMMENT = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"|(?P<comment>#[^\n]*)'
)


def comments_of(text: str) -> list[ast.Comment]:
    """The comments of a rule text that parses, with their line and column (from 1)."""
    comments = []
    line, line_start, counted = 1, 0, 0
    for match in _STRING_OR_COMMENT.finditer(text):
        if match.group("comment") is None:
            continue
        start = match.start()
        line += text.count("\n", counted, start)
        line_start = text.rfind("\n", 0, start) + 1
        counted = start
        comments.append(ast.Comment(line, start - line_start + 1, match.group()))
    return comments
