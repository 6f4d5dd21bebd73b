"""`bcm fmt`: one canonical layout for rule files.

The formatter parses a file and prints its syntax tree again, so the output means what the input
meant by construction: `parse(format_text(t)) == parse(t)`. The layout:

- two spaces of indentation; at the top of a file parameters, then definitions, then principles;
  inside a principle titles, about, parameters, definitions, rules; inside a rule kind, lets,
  when, severity, messages, remedies, about (the order in which the AST already groups them);
- a blank line between groups, between rules and between principles;
- a `when`, `define` or `let` condition longer than the line limit is broken before each `and`
  / `or` of its top level; a parenthesised `and`/`or` on such a line that is still too long is
  broken in turn, its operands aligned after the parenthesis;
- parentheses only where precedence needs them; texts re-escaped, triple-quoted when they hold
  a line break; numbers as written; dates in ISO form.

Comments survive. The parser hands them back with their line and column. Each printed line
knows where its code started in the source (its *origin*) and where it ended; a comment after
code on its line stays at the end of the printed line that holds that code, and a comment on
a line of its own goes before the line it stands inside or, failing that, before the next
line that starts after it (the closing `}` of its block, or the end of the file). A comment
block at the top of a file, separated from the code by a blank line, stays the file's header.

To decide where a condition breaks, the file is first laid out with every `and`/`or` broken,
comments are attached to those lines, and a condition is kept broken when a comment needs one
of its inner line ends; then it is laid out for real and the comments follow the lines they
were attached to. Formatting twice changes nothing.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path as FsPath

from checker.diagnostics import BcmError, Diagnostic, Span
from checker.lang import ast
from checker.lang.parse import parse_with_comments

LINE_LIMIT = 100
INDENT = 2

Pos = tuple[int, int]  # (line, column), both from 1, as Lark counts them
_END_OF_FILE: Pos = (1 << 62, 0)

# --- expressions ----------------------------------------------------------------------------

# Binding strength, loosest first: or < and < not < comparison < + - < * / < unary minus < atom.
_OR, _AND, _NOT, _COMPARISON, _SUM, _PRODUCT, _UNARY, _ATOM = range(1, 9)


def _precedence(expr: ast.Expr) -> int:
    if isinstance(expr, ast.Or):
        return _OR
    if isinstance(expr, ast.And):
        return _AND
    if isinstance(expr, ast.Not):
        return _NOT
    if isinstance(expr, ast.Compare | ast.IsNull | ast.IsEmpty | ast.Member):
        return _COMPARISON
    if isinstance(expr, ast.Arith):
        return _SUM if expr.op in "+-" else _PRODUCT
    if isinstance(expr, ast.Minus):
        return _UNARY
    return _ATOM


def quote(text: str) -> str:
    """A text as a string literal that reads back as the same text.

    Texts with a line break are triple-quoted and keep their lines as written (indentation
    inside a text is part of the text). Only what must be escaped is: backslashes, tabs, and
    quotes where they would end the literal.
    """
    body = text.replace("\\", "\\\\").replace("\t", "\\t")
    if "\n" not in text:
        return '"' + body.replace('"', '\\"') + '"'
    # Inside """...""", a quote may stand alone; two or more in a row, or one at the very end,
    # would be read as the closing quotes.
    return '"""' + _QUOTES.sub(_escape_quotes, body) + '"""'


_QUOTES = re.compile(r'"+')


def _escape_quotes(run: re.Match[str]) -> str:
    quotes = run.group()
    alone = len(quotes) == 1 and run.end() < len(run.string)
    return quotes if alone else '\\"' * len(quotes)


def number_text(number: ast.Number) -> str:
    digits = format(number.value, "f")
    if number.unit is None:
        return digits
    if number.unit == "%":
        return digits + "%"
    unit = number.unit
    if number.value == 1:
        unit = {"days": "day", "persons": "person"}.get(unit, unit)
    return f"{digits} {unit}"


def expr_text(expr: ast.Expr, min_precedence: int = 0) -> str:
    """An expression on one line, with the parentheses its context needs and no others."""
    text = _bare_text(expr)
    return f"({text})" if _precedence(expr) < min_precedence else text


def _bare_text(expr: ast.Expr) -> str:
    match expr:
        case ast.Or(operands=operands):
            return " or ".join(expr_text(o, _AND) for o in operands)
        case ast.And(operands=operands):
            return " and ".join(expr_text(o, _NOT) for o in operands)
        case ast.Not(operand=operand):
            # `not (a == b)`, never `not a == b`: the same to the parser, but a reader should
            # not need the precedence table to see what is negated.
            return "not " + expr_text(operand, _NOT if isinstance(operand, ast.Not) else _SUM)
        case ast.Compare(op=op, left=left, right=right):
            return f"{expr_text(left, _SUM)} {op} {expr_text(right, _SUM)}"
        case ast.IsNull(operand=operand, negated=negated):
            return f"{expr_text(operand, _SUM)} is {'not ' if negated else ''}null"
        case ast.IsEmpty(operand=operand, negated=negated):
            return f"{expr_text(operand, _SUM)} is {'not ' if negated else ''}empty"
        case ast.Member(item=item, container=container, negated=negated):
            word = "not in" if negated else "in"
            return f"{expr_text(item, _SUM)} {word} {expr_text(container, _SUM)}"
        case ast.Arith(op=op, left=left, right=right):
            # Left-associative: the right operand binds one level tighter than the operator.
            level = _SUM if op in "+-" else _PRODUCT
            return f"{expr_text(left, level)} {op} {expr_text(right, level + 1)}"
        case ast.Minus(operand=operand):
            return "-" + expr_text(operand, _UNARY)
        case ast.Number():
            return number_text(expr)
        case ast.Text(value=value):
            return quote(value)
        case ast.DateLit(value=value):
            return value.isoformat()
        case ast.Bool(value=value):
            return "true" if value else "false"
        case ast.Null():
            return "null"
        case ast.Path():
            return expr.dotted
        case ast.ListExpr(items=items):
            return "[" + ", ".join(expr_text(i) for i in items) + "]"
        case ast.Call(name=name, args=args):
            return f"{name}(" + ", ".join(expr_text(a) for a in args) + ")"
        case ast.Quantifier(kind=kind, var=var, source=source, condition=condition):
            return f"{kind}({var} in {expr_text(source)}: {expr_text(condition)})"
    raise TypeError(f"not an expression: {expr!r}")  # pragma: no cover - the AST is closed


def choice_text(choice: ast.Choice) -> str:
    parts = [
        level if cond is None else f"{level} if {expr_text(cond)}" for level, cond in choice.options
    ]
    return " else ".join(parts)


# --- lines ----------------------------------------------------------------------------------


@dataclass
class _Line:
    """One printed line (its text may hold the line breaks of a triple-quoted text)."""

    indent: int
    text: str
    origin: Pos  # where the code of this line starts in the source
    end: Pos  # where it ends; equal to origin for block headers and closing braces
    comment_indent: int  # where comments before this line go
    blank_before: bool = False
    blank_if_commented: bool = False  # a commented declaration stands apart from the previous
    leading: list[str] = field(default_factory=list)
    trailing: list[str] = field(default_factory=list)


def _start(span: Span) -> Pos:
    return (span.line, span.column)


def _end(span: Span) -> Pos:
    return (span.end_line, span.end_column)


def _width(text: str) -> int:
    return max(len(part) for part in text.split("\n"))


# Decides whether an `and`/`or` breaks: given the node and the width of its line if it does not.
Decide = Callable[[ast.And | ast.Or, int], bool]


def _declaration_groups(
    node: ast.RuleFile | ast.Principle,
) -> tuple[tuple[ast.Param | ast.Define, ...], ...]:
    return (node.params, node.defines)


class _Layout:
    """Lays a rule file out as lines, breaking conditions as `decide` says."""

    def __init__(self, decide: Decide, keyword_start: Callable[[Pos, str], Pos]):
        self.decide = decide
        self.keyword_start = keyword_start
        self.lines: list[_Line] = []
        # id of an `and`/`or` node that broke -> (index of its first line, of its last line)
        self.groups: dict[int, tuple[int, int]] = {}

    # --- building lines

    def line(
        self,
        depth: int,
        text: str,
        origin: Pos,
        end: Pos | None = None,
        *,
        blank: bool = False,
        blank_if_commented: bool = False,
        closer: bool = False,
    ) -> None:
        indent = depth * INDENT
        self.lines.append(
            _Line(
                indent,
                text,
                origin,
                origin if end is None else end,
                indent + (INDENT if closer else 0),
                blank,
                blank_if_commented,
            )
        )

    @property
    def current(self) -> _Line:
        return self.lines[-1]

    def column(self) -> int:
        """The column (from 0) at which text added to the current line would start."""
        line = self.current
        text = " " * line.indent + line.text
        return len(text) - text.rfind("\n") - 1 if "\n" in text else len(text)

    def condition(self, expr: ast.Expr, depth: int, end: Pos) -> None:
        """The expression of a clause begun on the current line, broken as decided."""
        self.expr(expr, 0, (depth + 1) * INDENT, "")
        self.current.end = max(self.current.end, end)

    def expr(self, expr: ast.Expr, min_precedence: int, continuation: int, suffix: str) -> None:
        if isinstance(expr, ast.And | ast.Or):
            joined = " " * self.current.indent + self.current.text + expr_text(expr, min_precedence)
            if self.decide(expr, _width(joined + suffix)):
                self.broken(expr, min_precedence, continuation, suffix)
                return
        self.current.text += expr_text(expr, min_precedence)
        self.current.end = _end(expr.span)

    def broken(
        self, expr: ast.And | ast.Or, min_precedence: int, continuation: int, suffix: str
    ) -> None:
        parens = _precedence(expr) < min_precedence
        word = "and" if isinstance(expr, ast.And) else "or"
        if parens:
            self.current.text += "("
        first = len(self.lines) - 1
        # A clause's own condition continues one step in; a group nested in it (always with a
        # precedence to respect) lines its operands up under its first one.
        inner = continuation if min_precedence == 0 else self.column()
        last = len(expr.operands) - 1
        for k, operand in enumerate(expr.operands):
            if k:
                self.lines.append(
                    _Line(inner, word + " ", _start(operand.span), _end(operand.span), inner)
                )
            tail = ((")" if parens else "") + suffix) if k == last else ""
            self.expr(operand, _precedence(expr) + 1, inner, tail)
        if parens:
            self.current.text += ")"
        self.groups[id(expr)] = (first, len(self.lines) - 1)

    # --- declarations

    def rule_file(self, node: ast.RuleFile) -> None:
        first = True
        for group in _declaration_groups(node):
            for i, item in enumerate(group):
                self.declaration(item, 0, blank=not first and i == 0, separate=i > 0)
                first = False
        for principle in node.principles:
            self.principle(principle, blank=not first)
            first = False

    def declaration(
        self, item: ast.Param | ast.Define, depth: int, *, blank: bool, separate: bool
    ) -> None:
        origin = _start(item.span)
        if isinstance(item, ast.Param):
            self.line(
                depth,
                f"param {item.name} = {number_text(item.value)}",
                origin,
                _end(item.span),
                blank=blank,
                blank_if_commented=separate,
            )
            return
        self.line(depth, f"define {item.name} = ", origin, blank=blank, blank_if_commented=separate)
        self.condition(item.expr, depth, _end(item.span))

    def principle(self, node: ast.Principle, *, blank: bool) -> None:
        self.line(0, f"principle {node.name} {{", _start(node.span), blank=blank)
        first = True
        for i, title in enumerate(node.titles):
            self.localized("title", title, 1, blank=False, separate=i > 0)
            first = False
        if node.about is not None:
            self.about(node.about, 1, blank=not first)
            first = False
        for group in _declaration_groups(node):
            for i, item in enumerate(group):
                self.declaration(item, 1, blank=not first and i == 0, separate=i > 0)
                first = False
        for rule in node.rules:
            self.rule(rule, blank=not first)
            first = False
        self.closer(node.span, 0)

    def closer(self, span: Span, depth: int) -> None:
        brace = (span.end_line, span.end_column - 1)
        self.line(depth, "}", brace, closer=True)

    def localized(
        self,
        keyword: str,
        item: ast.Localized,
        depth: int,
        *,
        blank: bool = False,
        separate: bool = False,
    ) -> None:
        self.line(
            depth,
            f"{keyword} {item.lang} {quote(item.text)}",
            _start(item.span),
            _end(item.span),
            blank=blank,
            blank_if_commented=separate,
        )

    def about(self, node: ast.About, depth: int, *, blank: bool = False) -> None:
        self.line(depth, "about {", _start(node.span), blank=blank)
        for section in node.sections:
            lang = "" if section.lang == "en" else f" {section.lang}"
            self.line(
                depth + 1,
                f"{section.name}{lang} {quote(section.text)}",
                _start(section.span),
                _end(section.span),
            )
        self.closer(node.span, depth)

    def rule(self, node: ast.Rule, *, blank: bool) -> None:
        self.line(1, f"rule {node.name} {{", _start(node.span), blank=blank)
        if node.kind is not None:
            origin = self.keyword_start(_start(node.kind.span), "kind")
            self.line(2, f"kind {node.kind.value}", origin, _end(node.kind.span))
        for let in node.lets:
            value = let.value
            if isinstance(value, ast.Query):
                self.line(
                    2,
                    f"let {let.name} = {value.kind} {value.var} in history where ",
                    _start(let.span),
                )
                self.condition(value.condition, 2, _end(let.span))
            else:
                self.line(2, f"let {let.name} = ", _start(let.span))
                self.condition(value, 2, _end(let.span))
        if node.when is not None:
            self.line(2, "when ", self.keyword_start(_start(node.when.span), "when"))
            self.condition(node.when, 2, _end(node.when.span))
        if node.severity is not None:
            self.line(
                2,
                f"severity {choice_text(node.severity)}",
                _start(node.severity.span),
                _end(node.severity.span),
            )
        for message in node.messages:
            self.localized("message", message, 2)
        for remedy in node.remedies:
            self.localized("remedy", remedy, 2)
        if node.about is not None:
            self.about(node.about, 2)
        self.closer(node.span, 1)

    def end_of_file(self) -> None:
        self.lines.append(_Line(0, "", _END_OF_FILE, _END_OF_FILE, 0))


# --- comments -------------------------------------------------------------------------------


class _Source:
    """The source text as Lark counts it (lines split on "\\n" only), with its comments."""

    def __init__(self, text: str, comments: list[ast.Comment]):
        self.lines = text.split("\n")
        self.comments = comments
        self.comment_columns = {c.line: c.column for c in comments}

    def after_code(self, comment: ast.Comment) -> bool:
        return bool(self.lines[comment.line - 1][: comment.column - 1].strip())

    def keyword_start(self, pos: Pos, keyword: str) -> Pos:
        """Where `keyword` starts, given the start of what follows it (the spans of `when` and
        `kind` clauses begin after their keyword)."""
        line, column = pos
        while line >= 1:
            limit = column - 1
            comment_column = self.comment_columns.get(line)
            if comment_column is not None and comment_column - 1 < limit:
                limit = comment_column - 1
            head = self.lines[line - 1][:limit].rstrip()
            if head:
                if head.endswith(keyword):
                    return (line, len(head) - len(keyword) + 1)
                return pos
            line, column = line - 1, 1 << 62
        return pos

    def header(self, first_code: Pos | None) -> list[ast.Comment]:
        """The comments a file opens with, up to the last blank line before its code."""
        if first_code is None:
            return list(self.comments)
        blank = max(
            (n for n in range(1, first_code[0]) if not self.lines[n - 1].strip()), default=0
        )
        return [c for c in self.comments if c.line < blank]


def _attach(lines: list[_Line], comments: Iterable[ast.Comment], source: _Source) -> None:
    origins = sorted((line.origin, i) for i, line in enumerate(lines))
    starts = [origin for origin, _ in origins]
    for comment in comments:
        pos = (comment.line, comment.column)
        text = comment.text.rstrip()
        at = bisect.bisect_right(starts, pos) - 1
        if source.after_code(comment) and at >= 0:
            lines[origins[at][1]].trailing.append(text)
        elif at >= 0 and lines[origins[at][1]].end > pos:
            lines[origins[at][1]].leading.append(text)
        else:
            lines[origins[at + 1][1]].leading.append(text)


def _needs_break(lines: list[_Line], first: int, last: int) -> bool:
    """Whether comments attached inside a broken group would lose their place if it joined."""
    return any(lines[i].leading for i in range(first + 1, last + 1)) or any(
        lines[i].trailing for i in range(first, last)
    )


def _carry_comments(fully_broken: list[_Line], final: list[_Line]) -> None:
    """Moves the comments of the fully broken layout onto the lines of the final one."""
    index = {line.origin: i for i, line in enumerate(fully_broken)}
    starts = [index[line.origin] for line in final] + [len(fully_broken)]
    for k, line in enumerate(final):
        covered = fully_broken[starts[k] : starts[k + 1]]
        line.leading = [c for m in covered for c in m.leading]
        trailing = [c for m in covered for c in m.trailing]
        # One comment fits at the end of a line; the others go before it, in source order.
        line.leading += trailing[:-1]
        line.trailing = trailing[-1:]


# --- the formatter --------------------------------------------------------------------------


def _layout(node: ast.RuleFile, decide: Decide, source: _Source) -> _Layout:
    layout = _Layout(decide, source.keyword_start)
    layout.rule_file(node)
    layout.end_of_file()
    return layout


def format_text(text: str, file: str = "<text>") -> str:
    """The canonical layout of one rule file. Raises BcmError on a syntax error."""
    node, comments = parse_with_comments(text, file)
    source = _Source(text, comments)

    fully_broken = _layout(node, lambda _node, _width: True, source)
    code = [line.origin for line in fully_broken.lines if line.origin != _END_OF_FILE]
    header = source.header(min(code) if code else None)
    _attach(fully_broken.lines, comments[len(header) :], source)
    keep_broken = {
        group
        for group, (first, last) in fully_broken.groups.items()
        if _needs_break(fully_broken.lines, first, last)
    }

    final = _layout(
        node, lambda group, width: id(group) in keep_broken or width > LINE_LIMIT, source
    )
    _carry_comments(fully_broken.lines, final.lines)
    return _render(header, final.lines)


def _render(header: list[ast.Comment], lines: list[_Line]) -> str:
    out: list[str] = []
    for i, comment in enumerate(header):
        if i and comment.line > header[i - 1].line + 1:
            out.append("")
        out.append(comment.text.rstrip())
    if header and len(lines) > 1:
        out.append("")
    for line in lines:
        if line.origin == _END_OF_FILE:
            if line.leading and out:
                out.append("")
            out.extend(line.leading)
            continue
        if out and (line.blank_before or (line.blank_if_commented and line.leading)):
            out.append("")
        out.extend(" " * line.comment_indent + c for c in line.leading)
        text = " " * line.indent + line.text.rstrip(" ")
        out.append(f"{text}  {line.trailing[0]}" if line.trailing else text)
    return "\n".join(out) + "\n" if out else ""


# --- files ----------------------------------------------------------------------------------


def rule_files(paths: Iterable[str | os.PathLike[str]]) -> list[FsPath]:
    """The `.bcm` files named, and those found (recursively, in name order) in folders named.

    Raises BcmError (P001, as `bcm lint` reports it) for a path that does not exist.
    """
    found: list[FsPath] = []
    missing: list[Diagnostic] = []
    for raw in paths:
        path = FsPath(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.bcm") if p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            missing.append(
                Diagnostic(
                    "P001",
                    f"cannot read `{raw}`: no such file or folder",
                    help="name .bcm files, or folders that hold them",
                )
            )
    if missing:
        raise BcmError(missing)
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class FormatOutcome:
    """One file through the formatter: its text before and after."""

    path: FsPath
    original: str
    formatted: str

    @property
    def changed(self) -> bool:
        return self.original != self.formatted


def format_file(path: str | os.PathLike[str], *, write: bool = True) -> FormatOutcome:
    """Formats one rule file, rewriting it (atomically, only when it changes) if `write`.

    Raises BcmError on a syntax error (the file is left as it was) and OSError when the file
    cannot be read or written.
    """
    target = FsPath(path)
    original = read_rule_text(target)
    outcome = FormatOutcome(target, original, format_text(original, str(path)))
    if write and outcome.changed:
        write_atomically(target, outcome.formatted)
    return outcome


def read_rule_text(path: str | os.PathLike[str]) -> str:
    """A rule file's text as the pack loader reads it: UTF-8, a byte-order mark dropped, line
    ends not translated (a carriage return inside a triple-quoted text is part of the text)."""
    return FsPath(path).read_bytes().decode("utf-8-sig")


def write_atomically(target: FsPath, text: str) -> None:
    """Replaces a file's text so that a reader sees the old text or the new, never half of one
    (a temporary file in the same folder, then one rename)."""
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        mode = target.stat().st_mode & 0o7777 if target.exists() else None
        if mode is not None:
            os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
