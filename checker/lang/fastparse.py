"""The fast path of step one: a hand-written tokenizer and recursive-descent parser for the rule
texts people write, producing the same syntax tree, spans included, as the Lark front end.

`grammar/bcm.lark` stays the definition of the language and Lark the parser of record: this
module accepts a subset of what Lark accepts and gives up on anything else (any syntax error,
a duplicate clause, a bad date, a number of more than 1,000 digits, deep nesting, `not` where
the contextual lexer reads it as a name, a word it would split, characters outside the usual
ones). `checker.lang.parse.parse` then runs Lark, so every diagnostic is Lark's.

Why it is exact where it accepts:

- Tokens. One compiled pattern with Lark's own terminal expressions (DATE before NUMBER, as
  DATE's priority orders them; triple-quoted strings before plain ones), whitespace (WS) and
  `#` comments skipped. Keywords are names whose text the parser tests in the places
  where the grammar expects that keyword. The contextual lexer, in the states this parser
  goes through, either accepts NAME and no keyword (so any word is a name), or accepts
  NAME and only the keywords that start an atom (`true false null any all count`, with `not`
  where a negation may start and `latest earliest sequence` after `let x =`), which turn a
  name of exactly that text into the keyword: the same reading as here. Where Lark would
  split a word (`andx` as `and x` after an expression) this parser sees one unexpected name
  and gives up.
- Spans. Lark builds each node's span from its first token to its last, keywords and
  parentheses included, except that an expression in parentheses spans its inside and the
  parentheses widen its parent (see parse.py). Here a node spans the tokens its parse
  function consumed, and a parenthesised operand is consumed with its parentheses.
- Nesting. The depth of Lark's tree is tracked (`self.h`, the height of the last expression
  parsed); a file whose tree comes near MAX_NESTING goes to Lark, which reports S008.

tests/lang/test_fastparse.py compares both paths on every rule file of the repository and on
generated texts, and checks that this path never accepts a text Lark rejects.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_left
from decimal import Decimal
from itertools import accumulate, chain
from operator import itemgetter

from checker.diagnostics import Span
from checker.lang import ast

# Lark's terminals (grammar/bcm.lark), in the order its lexer tries them; then any other
# character, so that every position is a match and a stray character costs one step.
_TOKENS = re.compile(
    r"((?:[ \t\f\r\n]|#[^\n]*+)*+)"  # %ignore WS, COMMENT
    r"(\d{4}-\d{2}-\d{2}(?![\d])"  # DATE (priority 2)
    r"|\d+(?:\.\d+)?"  # NUMBER
    r"|[A-Za-z_][A-Za-z0-9_]*"  # NAME, and every keyword
    r'|"""(?:[^"\\]|\\.|"(?!""))*"""'  # STRING, triple-quoted
    r'|"(?:[^"\\\n]|\\.)*"'  # STRING
    r"|==|!=|<=|>=|[<>=+\-*/%{}()\[\],.:]"
    r"|[\s\S]|\Z)"
)

# The kind of a token by its first character: n name, 1 number, d date (a number with `-`),
# s string; punctuation is its own kind. Anything else (non-ASCII digits, stray characters)
# sends the text to Lark.
_FIRST: dict[str, str] = {c: "n" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"}
_FIRST.update({c: "1" for c in "0123456789"})  # a number or, with a `-`, a date
_FIRST['"'] = "s"
_FIRST.update({c: "p" for c in "=!<>+-*/%{}()[],.:"})
_NEWLINE = re.compile("\n")
_ONE = 1

_UNITS = {"days": "days", "day": "days", "persons": "persons", "person": "persons"}
_COMPARE = frozenset(["==", "!=", "<", "<=", ">", ">="])
_ADD = frozenset(["+", "-"])
_MUL = frozenset(["*", "/"])
_QUERY = frozenset(["latest", "earliest", "sequence", "count"])
_QUANTIFIERS = frozenset(["any", "all", "count"])
# Where an atom may start, the contextual lexer reads `true false null any all count` as
# keywords, `not` as one where a negation may start and as a name after an operator, and
# every other word as a name (`days(a, b)`, `history`): `let x = latest ...` is read before
# any atom. `not` in an atom's place is left to Lark.
_RESERVED = frozenset(["not"])

# Lark's tree may be MAX_NESTING deep (parse.py); the fast path stops well before, and well
# before Python's recursion limit (each level of parentheses is eight calls here).
_MAX_HEIGHT = 80
_MAX_DEPTH = 40

_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPED = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}

# A number in a rule file, like one in a document, stays within 10^-1000 and 10^1000: turning
# anything larger into a whole number, or writing it out, takes minutes (S009, parse.py).
MAX_DIGITS = 1000


class GiveUp(Exception):
    """The text is not one this parser reads: Lark decides."""


def unquote(token: str) -> str:
    """The value of a string literal: `\\"`, `\\\\`, `\\n` and `\\t` escapes, triple quotes.
    Any other backslash stays as written."""
    body = token[3:-3] if token.startswith('"""') else token[1:-1]
    if "\\" not in body:
        return body
    return _ESCAPE.sub(lambda m: _ESCAPED.get(m.group(1), m.group(0)), body)


class _Parser:
    __slots__ = ("depth", "ends", "file", "h", "i", "k", "newlines", "starts", "v")
    v: list[str]  # the tokens' texts, then "" at the end
    k: list[str | None]  # their kinds (see _FIRST), then "$"
    starts: list[int]  # the offset of each token, and the offset just after it
    ends: list[int]
    newlines: list[int]  # the offset of each line break

    def __init__(self, text: str, file: str):
        self.file = file
        self.i = 0
        self.h = 0  # the height in Lark's tree of the expression parsed last
        self.depth = 0  # nesting of the calls below, against Python's recursion limit
        # The tokens and their offsets, all in C; lines and columns come from the offsets,
        # for the tokens a span begins or ends with (`span`).
        found = _TOKENS.findall(text)
        if not found or found[-1][1]:
            raise GiveUp  # no match at the end of the text: cannot be, but Lark would know
        while found and not found[-1][1]:
            found.pop()  # the whitespace at the end, and the empty match after it
        v: list[str] = [tok for _, tok in found]
        k = list(map(_FIRST.get, map(itemgetter(0), v)))
        if None in k or '"' in v:
            raise GiveUp  # a stray character, or a string that does not close
        # Every position matches (a token, a stray character, the end), so the matches
        # cover the text, and their lengths give the offsets.
        offsets = list(accumulate(map(len, chain.from_iterable(found))))
        self.starts = offsets[0::2]
        self.ends = offsets[1::2]
        self.newlines = [m.start() for m in _NEWLINE.finditer(text)]
        v.append("")
        k.append("$")
        self.v = v
        self.k = k

    # --- helpers

    def span(self, first: int, last: int) -> Span:
        """From token `first` to token `last`, lines and columns counted as Lark counts them:
        from 1, a line ending at each `\\n`, a column being a character."""
        newlines = self.newlines
        start = self.starts[first]
        end = self.ends[last]
        line = bisect_left(newlines, start)
        end_line = bisect_left(newlines, end, line)
        return Span(
            self.file,
            line + 1,
            start - newlines[line - 1] if line else start + 1,
            end_line + 1,
            end - newlines[end_line - 1] if end_line else end + 1,
        )

    def expect(self, word: str) -> None:
        if self.v[self.i] != word:
            raise GiveUp
        self.i += 1

    def name(self) -> str:
        i = self.i
        if self.k[i] != "n":
            raise GiveUp
        self.i = i + 1
        return self.v[i]

    def string(self) -> str:
        i = self.i
        if self.k[i] != "s":
            raise GiveUp
        self.i = i + 1
        return unquote(self.v[i])

    # --- declarations

    def rule_file(self) -> ast.RuleFile:
        principles: list[ast.Principle] = []
        params: list[ast.Param] = []
        defines: list[ast.Define] = []
        v = self.v
        while True:
            word = v[self.i]
            if word == "principle":
                principles.append(self.principle())
            elif word == "param":
                params.append(self.param())
            elif word == "define":
                defines.append(self.define(2))
            elif self.k[self.i] == "$":
                break
            else:
                raise GiveUp
        return ast.RuleFile(
            self.file,
            tuple(principles),
            tuple(params),
            tuple(defines),
            span=Span(self.file, 1, 1, 1, 1),
        )

    def principle(self) -> ast.Principle:
        first = self.i
        self.i += 1
        name = self.name()
        self.expect("{")
        titles: list[ast.Localized] = []
        params: list[ast.Param] = []
        defines: list[ast.Define] = []
        rules: list[ast.Rule] = []
        about: ast.About | None = None
        v = self.v
        while True:
            word = v[self.i]
            if word == "rule":
                rules.append(self.rule())
            elif word == "title":
                titles.append(self.localized())
            elif word == "param":
                params.append(self.param())
            elif word == "define":
                defines.append(self.define(3))
            elif word == "about":
                if about is not None:
                    raise GiveUp  # S010
                about = self.about()
            elif word == "}":
                break
            else:
                raise GiveUp
        self.i += 1
        return ast.Principle(
            name,
            tuple(titles),
            tuple(params),
            tuple(defines),
            tuple(rules),
            about,
            span=self.span(first, self.i - 1),
        )

    def localized(self) -> ast.Localized:
        """`title|message|remedy LANG "text"`."""
        first = self.i
        self.i += 1
        lang = self.name()
        text = self.string()
        return ast.Localized(lang, text, span=self.span(first, self.i - 1))

    def about(self) -> ast.About:
        first = self.i
        self.i += 1
        self.expect("{")
        sections: list[ast.Section] = []
        k = self.k
        while k[self.i] == "n":
            start = self.i
            name = self.name()
            lang = self.name() if k[self.i] == "n" else "en"
            text = self.string()
            sections.append(ast.Section(name, lang, text, span=self.span(start, self.i - 1)))
        self.expect("}")
        return ast.About(tuple(sections), span=self.span(first, self.i - 1))

    def param(self) -> ast.Param:
        first = self.i
        self.i += 1
        name = self.name()
        self.expect("=")
        if self.k[self.i] != "1" or "-" in self.v[self.i]:
            raise GiveUp  # not a number, or a date
        value = self.number()
        return ast.Param(name, value, span=self.span(first, self.i - 1))

    def define(self, depth: int) -> ast.Define:
        first = self.i
        self.i += 1
        name = self.name()
        self.expect("=")
        expr = self.expr()
        self.height(depth + self.h)
        return ast.Define(name, expr, span=self.span(first, self.i - 1))

    def height(self, deepest: int) -> None:
        if deepest >= _MAX_HEIGHT:
            raise GiveUp  # near Lark's S008

    def rule(self) -> ast.Rule:
        first = self.i
        self.i += 1
        name = self.name()
        self.expect("{")
        kind: ast.Name | None = None
        when: ast.Expr | None = None
        severity: ast.Choice | None = None
        about: ast.About | None = None
        lets: list[ast.Let] = []
        messages: list[ast.Localized] = []
        remedies: list[ast.Localized] = []
        v = self.v
        while True:
            word = v[self.i]
            if word == "let":
                lets.append(self.let())
            elif word == "message":
                messages.append(self.localized())
            elif word == "remedy":
                remedies.append(self.localized())
            elif word == "when":
                if when is not None:
                    raise GiveUp  # S010
                self.i += 1
                when = self.expr()
                self.height(4 + self.h)
            elif word == "kind":
                if kind is not None:
                    raise GiveUp
                self.i += 1
                at = self.i
                kind = ast.Name(self.name(), span=self.span(at, at))
            elif word == "severity":
                if severity is not None:
                    raise GiveUp
                severity = self.severity()
            elif word == "about":
                if about is not None:
                    raise GiveUp
                about = self.about()
            elif word == "}":
                break
            else:
                raise GiveUp
        self.i += 1
        return ast.Rule(
            name,
            kind,
            tuple(lets),
            when,
            severity,
            tuple(messages),
            tuple(remedies),
            about,
            span=self.span(first, self.i - 1),
        )

    def let(self) -> ast.Let:
        first = self.i
        self.i += 1
        name = self.name()
        self.expect("=")
        i = self.i
        value: ast.Query | ast.Expr
        if self.v[i] in _QUERY and (self.v[i] != "count" or self.k[i + 1] == "n"):
            kind = self.v[i]
            self.i = i + 1
            var = self.name()
            self.expect("in")
            self.expect("history")
            self.expect("where")
            condition = self.expr()
            self.height(5 + self.h)
            value = ast.Query(kind, var, condition, span=self.span(i, self.i - 1))
        else:
            value = self.expr()
            self.height(4 + self.h)
        return ast.Let(name, value, span=self.span(first, self.i - 1))

    def severity(self) -> ast.Choice:
        first = self.i
        self.i += 1
        options: list[tuple[str, ast.Expr | None]] = []
        while True:
            level = self.name()
            if self.v[self.i] != "if":
                options.append((level, None))
                break
            self.i += 1
            condition = self.expr()
            self.height(5 + len(options) + self.h)
            self.expect("else")
            options.append((level, condition))
        return ast.Choice(tuple(options), span=self.span(first, self.i - 1))

    # --- expressions: each sets self.h to the height of its node in Lark's tree

    def expr(self) -> ast.Expr:
        """`expr`: or over and over not over comparison over sum over product over unary."""
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise GiveUp
        first = self.i
        node = self.conjunction()
        if self.v[self.i] == "or":
            operands = [node]
            height = self.h
            while self.v[self.i] == "or":
                self.i += 1
                operands.append(self.conjunction())
                if self.h > height:
                    height = self.h
            self.h = height + 1
            node = ast.Or(tuple(operands), span=self.span(first, self.i - 1))
        self.depth -= 1
        return node

    def conjunction(self) -> ast.Expr:
        first = self.i
        node = self.negation()
        if self.v[self.i] == "and":
            operands = [node]
            height = self.h
            while self.v[self.i] == "and":
                self.i += 1
                operands.append(self.negation())
                if self.h > height:
                    height = self.h
            self.h = height + 1
            node = ast.And(tuple(operands), span=self.span(first, self.i - 1))
        return node

    def negation(self) -> ast.Expr:
        first = self.i
        if self.v[first] == "not":
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise GiveUp
            self.i += 1
            operand = self.negation()
            self.depth -= 1
            self.h += 1
            return ast.Not(operand, span=self.span(first, self.i - 1))
        return self.comparison()

    def comparison(self) -> ast.Expr:
        first = self.i
        left = self.sum()
        v = self.v
        word = v[self.i]
        if word in _COMPARE:
            height = self.h
            self.i += 1
            right = self.sum()
            self.h = max(height, self.h) + 1
            return ast.Compare(word, left, right, span=self.span(first, self.i - 1))
        if word == "is":
            negated = v[self.i + 1] == "not"
            self.i += 2 if negated else 1
            what = v[self.i]
            self.i += 1
            self.h += 1
            if what == "null":
                return ast.IsNull(left, negated, span=self.span(first, self.i - 1))
            if what == "empty":
                return ast.IsEmpty(left, negated, span=self.span(first, self.i - 1))
            raise GiveUp
        if word == "in" or (word == "not" and v[self.i + 1] == "in"):
            negated = word == "not"
            height = self.h
            self.i += 2 if negated else 1
            container = self.sum()
            self.h = max(height, self.h) + 1
            return ast.Member(left, container, negated, span=self.span(first, self.i - 1))
        return left

    def sum(self) -> ast.Expr:
        first = self.i
        node = self.product()
        v = self.v
        while v[self.i] in _ADD:
            op = v[self.i]
            height = self.h
            self.i += 1
            right = self.product()
            self.h = max(height, self.h) + 1
            node = ast.Arith(op, node, right, span=self.span(first, self.i - 1))
        return node

    def product(self) -> ast.Expr:
        first = self.i
        node = self.unary()
        v = self.v
        while v[self.i] in _MUL:
            op = v[self.i]
            height = self.h
            self.i += 1
            right = self.unary()
            self.h = max(height, self.h) + 1
            node = ast.Arith(op, node, right, span=self.span(first, self.i - 1))
        return node

    def unary(self) -> ast.Expr:
        first = self.i
        if self.v[first] == "-":
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise GiveUp
            self.i += 1
            operand = self.unary()
            self.depth -= 1
            self.h += 1
            return ast.Minus(operand, span=self.span(first, self.i - 1))
        return self.atom()

    def atom(self) -> ast.Expr:
        i = self.i
        kind = self.k[i]
        word = self.v[i]
        if kind == "n":
            # `true`, `false`, `null`, `any`, `all` and `count` are keywords wherever an atom
            # may start; other words are names.
            if word == "true" or word == "false":
                self.i = i + 1
                self.h = 1
                return ast.Bool(word == "true", span=self.span(i, i))
            if word == "null":
                self.i = i + 1
                self.h = 1
                return ast.Null(span=self.span(i, i))
            if word in _QUANTIFIERS:
                if self.v[i + 1] != "(":
                    raise GiveUp
                return self.quantifier()
            if word in _RESERVED:
                raise GiveUp
            if self.v[i + 1] == "(":
                return self.call()
            self.h = 1
            return self.path()
        if kind == "1":
            self.h = 1
            if "-" not in word:
                return self.number()
            try:
                value = dt.date.fromisoformat(word)
            except ValueError:
                raise GiveUp from None  # S007
            self.i = i + 1
            return ast.DateLit(value, span=self.span(i, i))
        if kind == "s":
            self.i = i + 1
            self.h = 1
            return ast.Text(unquote(word), span=self.span(i, i))
        if word == "(":
            self.i = i + 1
            node = self.expr()
            self.expect(")")
            self.h += 1  # Lark's `atom` node, which keeps the parentheses
            return node
        if word == "[":
            self.i = i + 1
            items = self.items("]")
            return ast.ListExpr(items, span=self.span(i, self.i - 1))
        raise GiveUp

    def items(self, close: str) -> tuple[ast.Expr, ...]:
        """`[expr ("," expr)*] close`, after the opening bracket; sets the height of the node."""
        out: list[ast.Expr] = []
        height = 0
        if self.v[self.i] != close:
            out.append(self.expr())
            height = self.h
            while self.v[self.i] == ",":
                self.i += 1
                out.append(self.expr())
                if self.h > height:
                    height = self.h
        self.expect(close)
        self.h = height + 1
        return tuple(out)

    def path(self) -> ast.Path:
        first = i = self.i
        v = self.v
        k = self.k
        root = v[i]
        i += 1
        if v[i] != ".":
            self.i = i
            return ast.Path(root, (), span=self.span(first, first))
        fields: list[str] = []
        while v[i] == ".":
            if k[i + 1] != "n":
                raise GiveUp
            fields.append(v[i + 1])
            i += 2
        self.i = i
        return ast.Path(root, tuple(fields), span=self.span(first, i - 1))

    def number(self) -> ast.Number:
        first = i = self.i
        digits = self.v[i]
        if len(digits) > MAX_DIGITS:
            raise GiveUp  # perhaps S009: Lark's path decides
        unit: str | None = None
        following = self.v[i + 1]
        if following == "%":
            unit = "%"
            i += 1
        elif following in _UNITS and self.k[i + 1] == "n":
            unit = _UNITS[following]
            i += 1
        self.i = i + 1
        return ast.Number(Decimal(digits), unit, span=self.span(first, i))

    def call(self) -> ast.Call:
        first = self.i
        name = self.v[first]
        self.i += 2
        args = self.items(")")
        return ast.Call(name, args, span=self.span(first, self.i - 1))

    def quantifier(self) -> ast.Quantifier:
        first = self.i
        kind = self.v[first]
        self.i += 2
        var = self.name()
        self.expect("in")
        source = self.expr()
        height = self.h
        self.expect(":")
        condition = self.expr()
        self.expect(")")
        self.h = max(height, self.h) + 1
        return ast.Quantifier(kind, var, source, condition, span=self.span(first, self.i - 1))


def parse(text: str, file: str = "<text>") -> ast.RuleFile:
    """The syntax tree of `text`, as checker.lang.parse would build it; GiveUp for any text
    this parser does not read (Lark then parses it, and reports what is wrong)."""
    try:
        return _Parser(text, file).rule_file()
    except RecursionError:
        raise GiveUp from None
