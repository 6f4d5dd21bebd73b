"""Step two: syntax trees to a checked pack. Every name, field, type, enum literal and message
placeholder of a pack is checked against the document model when the pack loads, so that a
pack that loads cannot fail at check time for a reason visible in its text.

All problems are collected, never only the first; each has a stable code (docs/diagnostics.md),
a message quoting the offending text, the span of the offending node and a help line.

The checker is linear in the size of the pack: declarations are indexed once, definitions are
typed once in dependency order, each expression node is visited once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from checker.diagnostics import (
    Diagnostic,
    Level,
    Span,
    did_you_mean,
    sort_diagnostics,
    suggestion_help,
)
from checker.documents import FindingKind, PrincipleId, Severity
from checker.lang import ast
from checker.lang import types as T
from checker.lang.checked import CheckedPack, Manifest, ParamInfo, RuleInfo, Type

PRINCIPLE_IDS = tuple(p.value for p in PrincipleId)
KINDS = tuple(k.value for k in FindingKind)
LEVELS = tuple(s.value for s in Severity)
RULE_SECTIONS = ("detects", "why", "example", "remedy")
# A principle's about block states what the principle demands; its rules' blocks document them.
PRINCIPLE_SECTIONS = ("demands", "detects", "why", "example", "remedy")
BUILTINS = ("days", "abs", "min", "max", "len", "moved", "change", "direction_changes")
KEYWORDS = frozenset(
    {
        *("principle", "title", "about", "param", "define", "rule", "kind", "let", "when"),
        *("severity", "if", "else", "message", "remedy", "latest", "earliest", "count"),
        *("sequence", "in", "history", "where", "or", "and", "not", "is", "null", "empty"),
        *("true", "false", "any", "all", "day", "days", "person", "persons"),
    }
)
RESERVED = frozenset({"proposal", "history", *BUILTINS, *KEYWORDS})

_LANG = re.compile(r"[a-z]{2}")
# Country codes often written where a language is meant (`jp` for Japanese); each is not an
# ISO 639-1 language code, or names another language than the one meant.
_COUNTRY_NOT_LANGUAGE = {
    "jp": "ja",
    "cn": "zh",
    "kr": "ko",
    "gb": "en",
    "us": "en",
    "vn": "vi",
    "dk": "da",
    "gr": "el",
    "cz": "cs",
    "ua": "uk",
}
_NUMERIC = frozenset({"number", "percent", "duration"})
_ORDERED = frozenset({"number", "percent", "duration", "date"})
_EMPTIABLE = frozenset({"list", "text", "map", "sequence", "null"})
# Types a message can show; a whole record or a map is not a value a reader can be shown.
_SHOWABLE_NOT = frozenset({"record", "sequence", "map"})


# --- message templates ------------------------------------------------------------------------


@dataclass(frozen=True)
class Placeholder:
    """`{prior.effective_on}` in a message: the path it names and where it stands in the text."""

    path: tuple[str, ...]
    start: int  # offset of `{` in the text
    end: int  # offset just after `}`

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class TemplateProblem:
    code: str  # E502 not a name, E503 an unbalanced brace
    start: int
    end: int
    message: str
    help: str


_BRACE = re.compile(r"[{}]")
_PLACEHOLDER = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")


def split_template(text: str) -> tuple[list[str | Placeholder], list[TemplateProblem]]:
    """A message or remedy as literal pieces and placeholders; `{{` and `}}` are braces.

    Findings fill the placeholders with this same split, so what the checker accepted is
    exactly what is rendered.
    """
    parts: list[str | Placeholder] = []
    problems: list[TemplateProblem] = []
    literal: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        brace = _BRACE.search(text, i)
        if brace is None:
            literal.append(text[i:])
            break
        at = brace.start()
        literal.append(text[i:at])
        ch = text[at]
        if text.startswith(ch * 2, at):
            literal.append(ch)
            i = at + 2
        elif ch == "}":
            problems.append(
                TemplateProblem(
                    "E503",
                    at,
                    at + 1,
                    "a lone `}` in a text",
                    "write `}}` for a brace, or open a placeholder with `{`",
                )
            )
            i = at + 1
        else:
            close = text.find("}", at + 1)
            if close < 0:
                problems.append(
                    TemplateProblem(
                        "E503",
                        at,
                        at + 1,
                        "a `{` that is never closed",
                        "close the placeholder with `}`, or write `{{` for a brace",
                    )
                )
                literal.append(text[at:])
                break
            body = text[at + 1 : close]
            problem = _placeholder_problem(body)
            if problem is not None:
                problems.append(TemplateProblem("E502", at, close + 1, problem[0], problem[1]))
            else:
                if any(literal):
                    parts.append("".join(literal))
                literal = []
                parts.append(Placeholder(tuple(body.split(".")), at, close + 1))
            i = close + 1
    if any(literal):
        parts.append("".join(literal))
    return parts, problems


def _placeholder_problem(body: str) -> tuple[str, str] | None:
    if _PLACEHOLDER.fullmatch(body):
        return None
    shown = "{" + body + "}"
    if any(part.startswith("_") for part in body.split(".")) and re.fullmatch(r"[\w.]+", body):
        return (
            f"`{shown}` names a private attribute",
            "placeholders name values in scope and their fields, never attributes starting "
            "with `_`",
        )
    return (
        f"`{shown}` is not a name or a field",
        "a placeholder holds only a name and its fields, such as `{prior.id}`; bind a `let` "
        "for a computed value and name it; write `{{` and `}}` for braces",
    )


# --- where things stand in the source -------------------------------------------------------

_TOKEN = re.compile(
    r'\s+|#[^\n]*|"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"'
    r"|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|.",
    re.S,
)


class _Source:
    """Finds the exact span of a name or of a part of a text inside a node's span.

    Nodes carry the span of the whole construct (`rule NAME { ... }`); a diagnostic about the
    name points at the name. Computed only when a diagnostic needs it.
    """

    def __init__(self, sources: Mapping[str, str]):
        self.sources = sources
        self._starts: dict[str, list[int]] = {}

    def _line_starts(self, file: str) -> list[int] | None:
        starts = self._starts.get(file)
        if starts is None:
            text = self.sources.get(file)
            if text is None:
                return None
            starts = [0]
            starts.extend(m.end() for m in re.finditer("\n", text))
            self._starts[file] = starts
        return starts

    def offset(self, file: str, line: int, column: int) -> int | None:
        starts = self._line_starts(file)
        if starts is None or not 1 <= line <= len(starts):
            return None
        return starts[line - 1] + column - 1

    def position(self, file: str, offset: int) -> tuple[int, int]:
        starts = self._line_starts(file) or [0]
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - starts[lo] + 1

    def span_of(self, file: str, start: int, end: int) -> Span:
        line, col = self.position(file, start)
        end_line, end_col = self.position(file, end)
        return Span(file, line, col, end_line, end_col)

    def tokens(self, span: Span) -> Iterator[tuple[int, int, str]]:
        """(start, end, text) of the tokens from the start of a span, comments skipped."""
        text = self.sources.get(span.file)
        at = self.offset(span.file, span.line, span.column)
        if text is None or at is None:
            return
        while at < len(text):
            m = _TOKEN.match(text, at)
            if m is None:
                return
            at = m.end()
            tok = m.group()
            if tok[0].isspace() or tok[0] == "#":
                continue
            yield m.start(), m.end(), tok

    def token(self, span: Span, n: int) -> Span:
        """The span of the n-th token (from 0) after the start of `span`, or `span` itself."""
        for index, (start, end, _) in enumerate(self.tokens(span)):
            if index == n:
                return self.span_of(span.file, start, end)
        return span

    def literal(self, span: Span) -> tuple[int, list[int]] | None:
        """The first string literal after the start of `span`: its offset and, for each
        character of its value, the offset of that character in the file."""
        for start, _, tok in self.tokens(span):
            if tok.startswith('"'):
                quote = 3 if tok.startswith('"""') and len(tok) >= 6 else 1
                body_at = start + quote
                body = tok[quote:-quote]
                offsets: list[int] = []
                i = 0
                while i < len(body):
                    offsets.append(body_at + i)
                    i += 2 if body[i] == "\\" and i + 1 < len(body) else 1
                offsets.append(body_at + len(body))
                return start, offsets
        return None

    def text(self, span: Span) -> str | None:
        text = self.sources.get(span.file)
        start = self.offset(span.file, span.line, span.column)
        end = self.offset(span.file, span.end_line, span.end_column)
        if text is None or start is None or end is None or end < start:
            return None
        return text[start:end]


# --- the walk ---------------------------------------------------------------------------------


def children(node: ast.Expr) -> tuple[ast.Expr, ...]:
    """The sub-expressions of an expression, in written order."""
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


def _free_roots(node: ast.Expr, bound: frozenset[str] = frozenset()) -> Iterator[str]:
    """The names an expression reads that it does not bind itself (quantifier variables)."""
    stack: list[tuple[ast.Expr, frozenset[str]]] = [(node, bound)]
    while stack:
        current, names = stack.pop()
        if isinstance(current, ast.Path):
            if current.root not in names:
                yield current.root
        elif isinstance(current, ast.Quantifier):
            stack.append((current.source, names))
            stack.append((current.condition, names | {current.var}))
        else:
            stack.extend((child, names) for child in children(current))


@dataclass(frozen=True)
class _Env:
    """What a name can mean at one point of an expression."""

    rule: str | None = None  # the rule being checked; None in a definition
    define: str | None = None  # the definition being checked
    lets: Mapping[str, Type] = field(default_factory=dict)  # lets bound so far
    rule_lets: frozenset[str] = frozenset()  # every let of the rule
    vars: Mapping[str, Type] = field(default_factory=dict)  # query and quantifier variables
    in_where: bool = False


@dataclass
class _Checked:
    """What is known of an expression beyond its type."""

    constant: set[int] = field(default_factory=set)  # ids of nodes that read no name
    plain: set[int] = field(default_factory=set)  # ids of unit-less constant numbers


def _a(t: Type) -> str:
    return T.describe(t)


# A span, or how to find it: locating a name inside a node costs a scan of the source, paid
# only when a diagnostic is made.
_Where = Span | Callable[[], Span] | None


class _Checker:
    def __init__(self, manifest: Manifest, sources: Mapping[str, str]):
        self.manifest = manifest
        self.src = _Source(sources)
        self.diagnostics: list[Diagnostic] = []
        self.types: dict[int, Type] = {}
        self.known = _Checked()
        self.params: dict[str, ParamInfo] = {}
        self.param_types: dict[str, Type] = {}
        self.defines: dict[str, ast.Define] = {}
        self.define_types: dict[str, Type] = {}
        self.used: set[str] = set()
        self.let_owner: dict[str, str] = {}  # let name -> the first rule that binds it
        self.rule_ids: dict[str, ast.Rule] = {}
        self._dispatch: dict[type, Callable[[ast.Expr, _Env], Type]] = {
            ast.Number: self._number,  # type: ignore[dict-item]
            ast.Text: self._text,  # type: ignore[dict-item]
            ast.DateLit: self._literal_date,  # type: ignore[dict-item]
            ast.Bool: self._literal_bool,  # type: ignore[dict-item]
            ast.Null: self._literal_null,  # type: ignore[dict-item]
            ast.Path: self._path,  # type: ignore[dict-item]
            ast.Minus: self._minus,  # type: ignore[dict-item]
            ast.Arith: self._arith,  # type: ignore[dict-item]
            ast.Compare: self._compare,  # type: ignore[dict-item]
            ast.IsNull: self._is_null,  # type: ignore[dict-item]
            ast.IsEmpty: self._is_empty,  # type: ignore[dict-item]
            ast.Member: self._member,  # type: ignore[dict-item]
            ast.And: self._logic,  # type: ignore[dict-item]
            ast.Or: self._logic,  # type: ignore[dict-item]
            ast.Not: self._not,  # type: ignore[dict-item]
            ast.ListExpr: self._list,  # type: ignore[dict-item]
            ast.Call: self._call,  # type: ignore[dict-item]
            ast.Quantifier: self._quantifier,  # type: ignore[dict-item]
        }

    # --- reporting

    def error(self, code: str, message: str, span: _Where, help: str | None = None) -> None:
        where = span() if callable(span) else span
        self.diagnostics.append(Diagnostic(code, message, where, help=help))

    def warn(self, code: str, message: str, span: _Where, help: str | None = None) -> None:
        where = span() if callable(span) else span
        self.diagnostics.append(Diagnostic(code, message, where, help=help, level=Level.warning))

    def at_token(self, span: Span, n: int) -> Callable[[], Span]:
        """The span of the n-th token of a node, found only if a diagnostic needs it."""
        return lambda: self.src.token(span, n)

    def show(self, node: ast.Node) -> str:
        """The text of a node as written, shortened to fit in a message."""
        text = self.src.text(node.span)
        if text is None or "\n" in text:
            text = _unparse(node)
        return text if len(text) <= 60 else text[:57] + "..."

    # --- the whole pack

    def run(
        self,
        files: list[ast.RuleFile],
        root: str,
        pack_hash: str,
        source_names: Mapping[str, str] | None,
    ) -> tuple[CheckedPack | None, list[Diagnostic]]:
        principles = self._declarations(files)
        self._check_defines()
        rules: list[RuleInfo] = []
        for principle_id, rule in self._rules(files):
            self._check_rule(rule)
            kind = rule.kind.value if rule.kind else ""
            where = (source_names or {}).get(rule.span.file, rule.span.file)
            source = f"{where}:{rule.span.line}:{rule.span.column}"
            rules.append(RuleInfo(rule.name, principle_id, kind, rule, source))
        self._check_languages(files)
        self._check_overrides()
        self._check_unused()
        diagnostics = sort_diagnostics(self.diagnostics)
        if any(d.is_error for d in diagnostics):
            return None, diagnostics
        pack = CheckedPack(
            manifest=self.manifest,
            root=root,
            hash=pack_hash,
            files=tuple(files),
            sources=dict(self.src.sources),
            params=dict(self.params),
            defines=dict(self.defines),
            principles=principles,
            rules=tuple(rules),
            types=self.types,
            warnings=tuple(diagnostics),
        )
        return pack, diagnostics

    @staticmethod
    def _rules(files: Iterable[ast.RuleFile]) -> Iterator[tuple[str, ast.Rule]]:
        for file in files:
            for principle in file.principles:
                for rule in principle.rules:
                    yield principle.name, rule

    # --- declarations

    def _declarations(self, files: list[ast.RuleFile]) -> dict[str, ast.Principle]:
        merged: dict[str, ast.Principle] = {}
        for file in files:
            for param in file.params:
                self._declare_param(param, None)
            for define in file.defines:
                self._declare_define(define)
            for principle in file.principles:
                self._check_principle_name(principle)
                for param in principle.params:
                    self._declare_param(param, principle.name)
                for define in principle.defines:
                    self._declare_define(define)
                for rule in principle.rules:
                    self._declare_rule(rule)
                merged[principle.name] = self._merge(merged.get(principle.name), principle)
        for principle in merged.values():
            self._check_principle_texts(principle)
        return merged

    def _merge(self, first: ast.Principle | None, more: ast.Principle) -> ast.Principle:
        """A principle written in several files is one principle."""
        if first is None:
            return more
        about = first.about or more.about
        if first.about is not None and more.about is not None:
            self.error(
                "E112",
                f"principle `{more.name}` has a second `about` block",
                self.src.token(more.about.span, 0),
                f"its first `about` block is at {first.about.span}; keep one",
            )
        return ast.Principle(
            first.name,
            first.titles + more.titles,
            first.params + more.params,
            first.defines + more.defines,
            first.rules + more.rules,
            about,
            span=first.span,
        )

    def _check_principle_name(self, principle: ast.Principle) -> None:
        if principle.name in PRINCIPLE_IDS:
            return
        self.error(
            "E101",
            f"`{principle.name}` is not a principle of the model",
            self.src.token(principle.span, 1),
            suggestion_help(principle.name, PRINCIPLE_IDS, "principle"),
        )

    def _check_principle_texts(self, principle: ast.Principle) -> None:
        self._check_texts(principle.titles, "title", f"principle `{principle.name}`")
        if not any(t.lang == "en" for t in principle.titles):
            self.error(
                "E111",
                f"principle `{principle.name}` has no `title en`",
                self.src.token(principle.span, 1),
                'add `title en "..."`: reports and `bcm docs` name the principle by it',
            )
        if principle.about is not None:
            self._check_about(principle.about, PRINCIPLE_SECTIONS)

    def _reserved(self, name: str, what: str, span: _Where) -> bool:
        if name not in RESERVED:
            return False
        meaning = (
            "a built-in function"
            if name in BUILTINS
            else "the proposal"
            if name == "proposal"
            else "the history of policy changes"
            if name == "history"
            else "a word of the language"
        )
        self.error(
            "E104",
            f"the {what} `{name}` takes the name of {meaning}",
            span,
            "choose another name",
        )
        return True

    def _declare_param(self, param: ast.Param, principle: str | None) -> None:
        name_span = self.at_token(param.span, 1)
        if self._reserved(param.name, "parameter", name_span):
            return
        earlier = self.params.get(param.name) or self.defines.get(param.name)
        if earlier is not None:
            what = "parameter" if param.name in self.params else "definition"
            self.error(
                "E103",
                f"the name `{param.name}` is declared twice",
                name_span,
                f"a {what} of that name is declared at {earlier.span}; parameter and "
                "definition names are shared by the whole pack",
            )
            return
        self.params[param.name] = ParamInfo(param.name, param.value, principle, param.span)
        value = param.value
        whole = value.value == value.value.to_integral_value()
        unit_type = {
            "days": Type("duration", integral=whole),
            "%": T.PERCENT,
            "persons": Type("number", integral=whole),
        }.get(value.unit or "", Type("number", integral=whole))
        self.param_types[param.name] = unit_type
        self.types[id(value)] = unit_type
        self.known.constant.add(id(value))

    def _declare_define(self, define: ast.Define) -> None:
        name_span = self.at_token(define.span, 1)
        if self._reserved(define.name, "definition", name_span):
            return
        earlier = self.params.get(define.name) or self.defines.get(define.name)
        if earlier is not None:
            what = "parameter" if define.name in self.params else "definition"
            self.error(
                "E103",
                f"the name `{define.name}` is declared twice",
                name_span,
                f"a {what} of that name is declared at {earlier.span}; parameter and "
                "definition names are shared by the whole pack",
            )
            return
        self.defines[define.name] = define

    def _declare_rule(self, rule: ast.Rule) -> None:
        first = self.rule_ids.get(rule.name)
        if first is not None:
            self.error(
                "E102",
                f"the rule id `{rule.name}` is used twice",
                self.src.token(rule.span, 1),
                f"the first rule `{rule.name}` is at {first.span}; rule ids name findings and "
                "must be unique in the pack",
            )
        else:
            self.rule_ids[rule.name] = rule
        for let in rule.lets:
            self.let_owner.setdefault(let.name, rule.name)

    # --- definitions

    def _check_defines(self) -> None:
        """Type definitions in dependency order, so each is typed once; report cycles."""
        refs: dict[str, list[str]] = {}
        for name, define in self.defines.items():
            refs[name] = [r for r in dict.fromkeys(_free_roots(define.expr)) if r in self.defines]
        order: list[str] = []
        state: dict[str, int] = {}  # 1 in progress, 2 done
        for start in self.defines:
            if state.get(start):
                continue
            path: list[str] = [start]
            state[start] = 1
            iters = [iter(refs[start])]
            while iters:
                nxt = next(iters[-1], None)
                if nxt is None:
                    done = path.pop()
                    iters.pop()
                    state[done] = 2
                    order.append(done)
                elif state.get(nxt) == 1:
                    cycle = [*path[path.index(nxt) :], nxt]
                    self._report_cycle(cycle)
                elif not state.get(nxt):
                    state[nxt] = 1
                    path.append(nxt)
                    iters.append(iter(refs[nxt]))
        for name in order:
            define = self.defines[name]
            t = self.expr(define.expr, _Env(define=name))
            self.define_types[name] = t
            self._warn_constant(define.expr)

    def _report_cycle(self, cycle: list[str]) -> None:
        define = self.defines[cycle[0]]
        chain = " → ".join(f"`{n}`" for n in cycle)
        self.error(
            "E203",
            f"the definition `{cycle[0]}` refers to itself: {chain}",
            self.src.token(define.span, 1),
            "a definition cannot depend on itself; write the condition out in one of them",
        )

    # --- rules

    def _check_rule(self, rule: ast.Rule) -> None:
        name_span = self.at_token(rule.span, 1)
        if rule.kind is None:
            self._missing(rule, name_span, "kind", "kind conflict")
        elif rule.kind.value not in KINDS:
            self.error(
                "E106",
                f"`{rule.kind.value}` is not a kind of finding",
                rule.kind.span,
                suggestion_help(rule.kind.value, KINDS, "kind"),
            )
        rule_lets = frozenset(let.name for let in rule.lets)
        lets: dict[str, Type] = {}
        for let in rule.lets:
            env = _Env(rule=rule.name, lets=dict(lets), rule_lets=rule_lets)
            if isinstance(let.value, ast.Query):
                t = self._query(let.value, env)
            else:
                t = self.expr(let.value, env)
            let_span = self.at_token(let.span, 1)
            if self._reserved(let.name, "let", let_span):
                pass
            elif let.name in lets:
                self.error(
                    "E103",
                    f"rule `{rule.name}` binds `{let.name}` twice",
                    let_span,
                    "each `let` needs its own name",
                )
            else:
                self._clashes(let.name, "let", let_span, {}, {})
            lets[let.name] = t
        env = _Env(rule=rule.name, lets=lets, rule_lets=rule_lets)
        if rule.when is None:
            self._missing(rule, name_span, "when", "when CONDITION")
        else:
            self._condition(rule.when, env, "the `when` of a rule")
        if rule.severity is None:
            self._missing(rule, name_span, "severity", "severity medium")
        else:
            self._severity(rule.severity, env)
        for texts, what in ((rule.messages, "message"), (rule.remedies, "remedy")):
            self._check_texts(texts, what, f"rule `{rule.name}`")
            if not any(t.lang == "en" for t in texts):
                self._missing(rule, name_span, f"{what} en", f'{what} en "..."')
            for text in texts:
                self._template(text, env)
        if rule.about is not None:
            self._check_about(rule.about, RULE_SECTIONS)

    def _missing(self, rule: ast.Rule, span: _Where, clause: str, example: str) -> None:
        self.error(
            "E108",
            f"rule `{rule.name}` has no `{clause}`",
            span,
            f"every rule needs `{example}`",
        )

    def _clashes(
        self, name: str, what: str, span: _Where, lets: Mapping[str, Type], vars: Mapping[str, Type]
    ) -> bool:
        """A let or variable must not hide a parameter, a definition or another variable."""
        other = (
            "parameter"
            if name in self.params
            else "definition"
            if name in self.defines
            else "variable"
            if name in vars
            else "let"
            if (name in lets and what != "let")
            else None
        )
        if other is None:
            return False
        self.error(
            "E105",
            f"the {what} `{name}` hides the {other} `{name}`",
            span,
            f"rename the {what}: a name means one thing in a rule",
        )
        return True

    def _severity(self, choice: ast.Choice, env: _Env) -> None:
        level_span: _Where = self.at_token(choice.span, 1)
        for level, condition in choice.options:
            if level not in LEVELS:
                self.error(
                    "E107",
                    f"`{level}` is not a severity",
                    level_span,
                    suggestion_help(level, LEVELS, "severity"),
                )
            if condition is not None:
                self._condition(condition, env, "a severity's `if`")
                after = condition.span
                # the next level is the word after `else`
                level_span = self.at_token(
                    Span(after.file, after.end_line, after.end_column, after.end_line, 0), 1
                )

    def _check_texts(self, texts: Iterable[ast.Localized], what: str, owner: str) -> None:
        seen: dict[str, ast.Localized] = {}
        for text in texts:
            if not _LANG.fullmatch(text.lang) or text.lang in _COUNTRY_NOT_LANGUAGE:
                self._bad_lang(text.lang, self.src.token(text.span, 1))
            first = seen.get(text.lang)
            if first is not None:
                self.error(
                    "E112",
                    f"{owner} has two `{what} {text.lang}` texts",
                    self.src.token(text.span, 0),
                    f"the first is at {first.span}; keep one text per language",
                )
            else:
                seen[text.lang] = text

    def _bad_lang(self, lang: str, span: _Where) -> None:
        lowered = lang.lower()
        fixed: str | None
        if lowered in _COUNTRY_NOT_LANGUAGE:
            message = f"`{lang}` is a country code, not a language code"
            fixed = _COUNTRY_NOT_LANGUAGE[lowered]
        else:
            message = f"`{lang}` is not a language code"
            fixed = lowered if len(lang) == 2 and lang.isalpha() else None
        self.error(
            "E109",
            message,
            span,
            (f"did you mean `{fixed}`? " if fixed else "")
            + "write a two-letter lower-case ISO 639-1 code, such as `en` or `ja`",
        )

    def _check_about(self, about: ast.About, allowed: tuple[str, ...]) -> None:
        seen: dict[tuple[str, str], ast.Section] = {}
        for section in about.sections:
            if section.name not in allowed:
                self.error(
                    "E110",
                    f"`{section.name}` is not a section of an `about` block",
                    self.src.token(section.span, 0),
                    suggestion_help(section.name, allowed, "section"),
                )
                continue
            if not _LANG.fullmatch(section.lang) or section.lang in _COUNTRY_NOT_LANGUAGE:
                self._bad_lang(section.lang, self.src.token(section.span, 1))
            key = (section.name, section.lang)
            first = seen.get(key)
            if first is not None:
                self.error(
                    "E112",
                    f"the `about` block has two `{section.name} {section.lang}` sections",
                    self.src.token(section.span, 0),
                    f"the first is at {first.span}; keep one per language",
                )
            else:
                seen[key] = section

    # --- templates

    def _template(self, text: ast.Localized, env: _Env) -> None:
        parts, problems = split_template(text.text)
        for problem in problems:
            self.error(
                problem.code,
                problem.message,
                self._text_span(text, problem.start, problem.end),
                problem.help,
            )
        scope = _Env(rule=env.rule, lets=env.lets, rule_lets=env.rule_lets)
        for part in parts:
            if isinstance(part, Placeholder):
                self._placeholder(text, part, scope)

    def _text_span(self, text: ast.Localized, start: int, end: int) -> Span:
        found = self.src.literal(text.span)
        if found is None:
            return text.span
        _, offsets = found
        if end >= len(offsets) or start >= len(offsets):
            return text.span
        return self.src.span_of(text.span.file, offsets[start], offsets[end])

    def _placeholder(self, text: ast.Localized, part: Placeholder, env: _Env) -> None:
        root = part.path[0]

        def span() -> Span:
            return self._text_span(text, part.start, part.end)

        base = self._name_type(root, env)
        if base is None:
            visible = [*env.lets, *self.params, *self.defines, "proposal"]
            self.error(
                "E501",
                f"the placeholder `{{{part.dotted}}}` names `{root}`, which is not in scope",
                span,
                suggestion_help(root, visible)
                or "a placeholder names a parameter, a definition, a `let` of the rule or "
                "`proposal`",
            )
            return
        t = base
        for index, name in enumerate(part.path[1:], start=1):
            step = T.field_of(t, name, ".".join(part.path[:index]))
            if isinstance(step, T.FieldError):
                self.error(step.code, step.message, span, step.help)
                return
            t = step
        if t.kind in _SHOWABLE_NOT and not (t.kind == "map" and (t.item or T.ANY).kind == "any"):
            example = "{" + part.dotted + ".id}" if t.kind == "record" else None
            self.error(
                "E504",
                f"the placeholder `{{{part.dotted}}}` is {_a(t)}, not a value a reader can see",
                span,
                f"name one of its fields, such as `{example}`"
                if example
                else "name a single value: a field, a count, a date",
            )

    def _name_type(self, root: str, env: _Env) -> Type | None:
        if root in env.vars:
            return env.vars[root]
        if root in env.lets:
            return env.lets[root]
        if root == "proposal":
            return T.POLICY_CHANGE
        if root in self.params:
            self.used.add(root)
            return self.param_types[root]
        if root in self.defines:
            self.used.add(root)
            return self.define_types.get(root, T.ANY)
        return None

    # --- expressions

    def expr(self, node: ast.Expr, env: _Env) -> Type:
        t = self._dispatch[type(node)](node, env)
        self.types[id(node)] = t
        return t

    def _condition(self, node: ast.Expr, env: _Env, what: str) -> None:
        t = self.expr(node, env)
        self._need_bool(node, t, what)
        self._warn_constant(node)

    def _need_bool(self, node: ast.Expr, t: Type, what: str) -> None:
        if t.kind in ("bool", "any"):
            return
        self.error(
            "E405",
            f"{what} must be a condition, but `{self.show(node)}` is {_a(t)}",
            node.span,
            "a condition is true or false: compare the value, e.g. `x > 0`, `x is not null`",
        )

    def _literal(self, node: ast.Node, t: Type) -> Type:
        self.known.constant.add(id(node))
        return t

    def _number(self, node: ast.Number, env: _Env) -> Type:
        self.known.constant.add(id(node))
        whole = node.value == node.value.to_integral_value()
        if node.unit == "days":
            return Type("duration", integral=whole)
        if node.unit == "%":
            return T.PERCENT
        if node.unit is None:
            self.known.plain.add(id(node))
        return Type("number", integral=whole)

    def _text(self, node: ast.Text, env: _Env) -> Type:
        return self._literal(node, T.TEXT)

    def _literal_date(self, node: ast.DateLit, env: _Env) -> Type:
        return self._literal(node, T.DATE)

    def _literal_bool(self, node: ast.Bool, env: _Env) -> Type:
        return self._literal(node, T.BOOL)

    def _literal_null(self, node: ast.Null, env: _Env) -> Type:
        return self._literal(node, T.NULL)

    def _path(self, node: ast.Path, env: _Env) -> Type:
        base = self._root(node, env)
        if base is None:
            return T.ANY
        t = base
        for index, name in enumerate(node.fields):
            shown = ".".join((node.root, *node.fields[:index]))
            step = T.field_of(t, name, shown)
            if isinstance(step, T.FieldError):
                self.error(
                    step.code, step.message, self.src.token(node.span, 2 * index + 2), step.help
                )
                return T.ANY
            t = step
        return t

    def _root(self, node: ast.Path, env: _Env) -> Type | None:
        root = node.root
        if env.in_where and root in env.rule_lets and root not in env.vars:
            self.error(
                "E206",
                f"the `where` of a query cannot use the let `{root}`",
                self.src.token(node.span, 0),
                "a query's condition may use its own variable, the proposal, parameters and "
                "definitions; move the test into the rule's `when`",
            )
            return None
        if root == "history":
            self.error(
                "E205",
                "`history` can be read only by a query",
                self.src.token(node.span, 0),
                "bind a query: `let prior = latest h in history where ...`",
            )
            return None
        found = self._name_type(root, env)
        if found is not None:
            return found
        span = self.src.token(node.span, 0)
        if env.define is not None and root in self.let_owner:
            self.error(
                "E204",
                f"the definition `{env.define}` uses `{root}`, a `let` of rule "
                f"`{self.let_owner[root]}`",
                span,
                "definitions read only the proposal, parameters and other definitions; "
                "move the test into the rule",
            )
            return None
        if root in env.rule_lets:
            self.error(
                "E202",
                f"`{root}` is used before its `let`",
                span,
                f"move `let {root} = ...` above its first use",
            )
            return None
        if root in self.let_owner:
            self.error(
                "E202",
                f"`{root}` is a `let` of rule `{self.let_owner[root]}`, not visible here",
                span,
                "a rule's lets are visible only inside that rule; bind it in this rule too, "
                "or make it a `define` if it reads only the proposal",
            )
            return None
        visible = [*env.vars, *env.lets, *self.params, *self.defines, "proposal"]
        self.error(
            "E201",
            f"unknown name `{root}`",
            span,
            suggestion_help(root, visible)
            or "names are parameters, definitions, the rule's lets, query and quantifier "
            "variables, and `proposal`",
        )
        return None

    def _minus(self, node: ast.Minus, env: _Env) -> Type:
        t = self.expr(node.operand, env)
        self._inherit(node, (node.operand,))
        if t.kind in _NUMERIC or t.kind == "any":
            return t
        self.error(
            "E404",
            f"cannot negate `{self.show(node.operand)}`, which is {_a(t)}",
            node.span,
            "only numbers, durations and percentages have a sign",
        )
        return T.ANY

    def _inherit(self, node: ast.Expr, parts: tuple[ast.Expr, ...]) -> None:
        known = self.known
        if all(id(p) in known.constant for p in parts):
            known.constant.add(id(node))
            if all(id(p) in known.plain for p in parts):
                known.plain.add(id(node))

    def _arith(self, node: ast.Arith, env: _Env) -> Type:
        a = self.expr(node.left, env)
        b = self.expr(node.right, env)
        self._inherit(node, (node.left, node.right))
        result = _arith_type(
            node.op, a, b, id(node.left) in self.known.plain, id(node.right) in self.known.plain
        )
        if isinstance(result, Type):
            return result
        self.error(
            "E404",
            f"cannot compute `{self.show(node)}`: {_a(a)} {node.op} {_a(b)}",
            node.span,
            result,
        )
        return T.ANY

    def _compare(self, node: ast.Compare, env: _Env) -> Type:
        a = self.expr(node.left, env)
        b = self.expr(node.right, env)
        self._inherit(node, (node.left, node.right))
        if node.op in ("==", "!="):
            if not self._equatable(node.left, a, node.right, b):
                self._incomparable(node, a, b)
            else:
                self._enum_literal(node.left, a, node.right)
                self._enum_literal(node.right, b, node.left)
            return T.BOOL
        for side, t in ((node.left, a), (node.right, b)):
            if t.kind not in _ORDERED and t.kind != "any":
                self.error(
                    "E403",
                    f"`{node.op}` orders numbers, durations, percentages and dates, but "
                    f"`{self.show(side)}` is {_a(t)}",
                    side.span,
                    "test text and enum values with `==`, `!=` or `in`",
                )
                return T.BOOL
        if not self._equatable(node.left, a, node.right, b):
            self._incomparable(node, a, b)
        return T.BOOL

    def _equatable(self, left: ast.Expr, a: Type, right: ast.Expr, b: Type) -> bool:
        plain = self.known.plain
        return _compatible(a, b, id(left) in plain, id(right) in plain)

    def _incomparable(self, node: ast.Compare, a: Type, b: Type) -> None:
        kinds = {a.kind, b.kind}
        if kinds == {"scope", "text"}:
            help_text = (
                "a scope compares with another scope (`h.scope == proposal.scope`); "
                'to test one part, name it: `proposal.area == "entry_stay"`'
            )
        elif "date" in kinds and kinds & _NUMERIC:
            help_text = "a date compares with a date; for the time between two dates use days(a, b)"
        elif kinds == {"duration", "number"}:
            help_text = "write the number with its unit, e.g. `365 days`"
        elif kinds == {"percent", "number"}:
            help_text = "write the number as a percentage, e.g. `10%`, or multiply it by one"
        elif kinds == {"record"}:
            help_text = "compare their fields: `prior.id == proposal.id`, `prior.scope == ...`"
        elif kinds == {"enum"}:
            help_text = "these fields never hold the same value"
        else:
            help_text = "both sides need the same kind of value"
        self.error(
            "E401",
            f"cannot compare `{self.show(node.left)}` ({_a(a)}) with "
            f"`{self.show(node.right)}` ({_a(b)})",
            node.span,
            help_text,
        )

    def _enum_literal(self, field_node: ast.Expr, t: Type, literal: ast.Expr) -> None:
        """A text compared with an enum field must be one of its values."""
        if t.kind != "enum" or t.values is None or not isinstance(literal, ast.Text):
            return
        if literal.value in t.values:
            return
        allowed = ", ".join(sorted(t.values))
        best = did_you_mean(literal.value, t.values)
        self.error(
            "E402",
            f'"{literal.value}" is not a value of `{self.show(field_node)}`',
            literal.span,
            (f"did you mean `{best}`? " if best else "") + f"allowed: {allowed}",
        )

    def _is_null(self, node: ast.IsNull, env: _Env) -> Type:
        self.expr(node.operand, env)
        self._inherit(node, (node.operand,))
        return T.BOOL

    def _is_empty(self, node: ast.IsEmpty, env: _Env) -> Type:
        t = self.expr(node.operand, env)
        self._inherit(node, (node.operand,))
        if t.kind not in _EMPTIABLE and t.kind != "any":
            self.error(
                "E407",
                f"`is empty` tests lists, texts and maps, but `{self.show(node.operand)}` is "
                f"{_a(t)}",
                node.span,
                "use `is null` to test for a missing value",
            )
        return T.BOOL

    def _member(self, node: ast.Member, env: _Env) -> Type:
        item = self.expr(node.item, env)
        container = self.expr(node.container, env)
        self._inherit(node, (node.item, node.container))
        if container.kind == "any":
            return T.BOOL
        if container.kind != "list":
            self.error(
                "E406",
                f"`in` needs a list, but `{self.show(node.container)}` is {_a(container)}",
                node.container.span,
                'write the values as a list: `x in ["a", "b"]`',
            )
            return T.BOOL
        element = container.item or T.ANY
        items = node.container.items if isinstance(node.container, ast.ListExpr) else ()
        plain_item = id(node.item) in self.known.plain
        plain_element = bool(items) and all(id(i) in self.known.plain for i in items)
        if not _compatible(item, element, plain_item, plain_element):
            self.error(
                "E406",
                f"`{self.show(node.item)}` ({_a(item)}) is never an item of "
                f"`{self.show(node.container)}` ({_a(container)})",
                node.span,
                "the value and the list's items need the same kind",
            )
            return T.BOOL
        self._enum_literal(node.container, element, node.item)
        for entry in items:
            self._enum_literal(node.item, item, entry)
        return T.BOOL

    def _logic(self, node: ast.And | ast.Or, env: _Env) -> Type:
        word = "and" if isinstance(node, ast.And) else "or"
        for operand in node.operands:
            t = self.expr(operand, env)
            self._need_bool(operand, t, f"each side of `{word}`")
        self._inherit(node, node.operands)
        if id(node) not in self.known.constant:
            for operand in node.operands:
                self._warn_constant(operand)
        return T.BOOL

    def _not(self, node: ast.Not, env: _Env) -> Type:
        t = self.expr(node.operand, env)
        self._need_bool(node.operand, t, "the operand of `not`")
        self._inherit(node, (node.operand,))
        return T.BOOL

    def _list(self, node: ast.ListExpr, env: _Env) -> Type:
        item: Type | None = None
        first: ast.Expr | None = None
        for entry in node.items:
            t = self.expr(entry, env)
            if t.kind == "null":
                continue
            if item is None or first is None:
                item, first = t, entry
            elif not self._equatable(first, item, entry, t):
                self.error(
                    "E411",
                    f"the list mixes {_a(item)} (`{self.show(first)}`) and {_a(t)} "
                    f"(`{self.show(entry)}`)",
                    entry.span,
                    "a list holds values of one kind",
                )
        self._inherit(node, node.items)
        return Type("list", item=item or T.ANY)

    def _call(self, node: ast.Call, env: _Env) -> Type:
        args = [self.expr(arg, env) for arg in node.args]
        self._inherit(node, node.args)
        check = _BUILTINS.get(node.name)
        if check is None:
            self.error(
                "E207",
                f"unknown function `{node.name}`",
                self.src.token(node.span, 0),
                suggestion_help(node.name, BUILTINS, "function"),
            )
            return T.ANY
        plain = [id(arg) in self.known.plain for arg in node.args]
        outcome = check(args, plain)
        if isinstance(outcome, Type):
            return outcome
        code, index, message, help_text = outcome
        if code == "E409":
            self.error(code, message.format(name=node.name), node.span, help_text)
        else:
            arg = node.args[index]
            self.error(
                code,
                message.format(name=node.name, arg=self.show(arg), type=_a(args[index])),
                arg.span,
                help_text,
            )
        return T.ANY

    def _bind_var(self, var: str, span: _Where, env: _Env) -> None:
        if not self._reserved(var, "variable", span):
            self._clashes(var, "variable", span, {n: T.ANY for n in env.rule_lets}, env.vars)

    def _quantifier(self, node: ast.Quantifier, env: _Env) -> Type:
        source = self.expr(node.source, env)
        item = T.ANY
        if source.kind == "list" and isinstance(node.source, ast.Path):
            item = source.item or T.ANY
        elif source.kind != "any" or not isinstance(node.source, ast.Path):
            self.error(
                "E408",
                f"`{node.kind}` runs over a list of the document, but "
                f"`{self.show(node.source)}` is {_a(source)}",
                node.source.span,
                "name a list field, such as `proposal.rationale.evidence`"
                + (
                    "; a sequence is read with direction_changes()"
                    if source.kind == "sequence"
                    else ""
                ),
            )
        self._bind_var(node.var, self.at_token(node.span, 2), env)
        inner = _Env(
            rule=env.rule,
            define=env.define,
            lets=env.lets,
            rule_lets=env.rule_lets,
            vars={**env.vars, node.var: T.non_null(item)},
            in_where=env.in_where,
        )
        t = self.expr(node.condition, inner)
        self._need_bool(node.condition, t, f"the condition of `{node.kind}`")
        self._warn_constant(node.condition)
        return T.WHOLE if node.kind == "count" else T.BOOL

    def _query(self, query: ast.Query, env: _Env) -> Type:
        self._bind_var(query.var, self.at_token(query.span, 1), env)
        inner = _Env(
            rule=env.rule,
            lets={},
            rule_lets=env.rule_lets,
            vars={query.var: T.POLICY_CHANGE},
            in_where=True,
        )
        self._condition(query.condition, inner, "the `where` of a query")
        result = {
            "latest": T.POLICY_CHANGE,
            "earliest": T.POLICY_CHANGE,
            "count": T.WHOLE,
            "sequence": Type("sequence", item=T.POLICY_CHANGE),
        }[query.kind]
        self.types[id(query)] = result
        return result

    # --- warnings

    def _warn_constant(self, node: ast.Expr) -> None:
        """A condition that reads nothing is always true or always false: a mistake.

        Called on conditions and on the operands of `and`, `or` and `not` whose whole is not
        constant, so only the largest constant part of a condition is reported.
        """
        if id(node) not in self.known.constant:
            return
        t = self.types.get(id(node))
        if t is not None and t.kind == "bool":
            self.warn(
                "W003",
                f"the condition `{self.show(node)}` is the same for every proposal",
                node.span,
                "a condition should read the proposal, a parameter or a query",
            )

    def _check_languages(self, files: Iterable[ast.RuleFile]) -> None:
        all_langs: set[str] = set()
        for _, rule in self._rules(files):
            all_langs.update(t.lang for t in rule.messages)
            all_langs.update(t.lang for t in rule.remedies)
        for _, rule in self._rules(files):
            for what, texts in (("message", rule.messages), ("remedy", rule.remedies)):
                have = {t.lang for t in texts}
                for lang in sorted(all_langs - have):
                    # a missing `en` is an error of its own (E108); a bad code is E109
                    if lang == "en" or not _LANG.fullmatch(lang):
                        continue
                    self.warn(
                        "W004",
                        f"rule `{rule.name}` has no `{what} {lang}`, which other rules have",
                        self.src.token(rule.span, 1),
                        f'add `{what} {lang} "..."`; until then readers in `{lang}` see English',
                    )

    def _check_unused(self) -> None:
        for name, param in self.params.items():
            if name not in self.used:
                self.warn(
                    "W001",
                    f"the parameter `{name}` is never used",
                    self.src.token(param.span, 1),
                    "remove it, or use it in a rule",
                )
        for name, define in self.defines.items():
            if name not in self.used:
                self.warn(
                    "W002",
                    f"the definition `{name}` is never used",
                    self.src.token(define.span, 1),
                    "remove it, or use it in a rule",
                )

    def _check_overrides(self) -> None:
        for jurisdiction, values in self.manifest.overrides.items():
            for name, number in values.items():
                param = self.params.get(name)
                if param is None:
                    self.error(
                        "P006",
                        f"the override `{name}` for {jurisdiction} names no parameter of the pack",
                        number.span,
                        suggestion_help(name, self.params, "parameter")
                        or "overrides change parameters declared with `param`",
                    )
                elif number.unit != param.unit:
                    self.error(
                        "P007",
                        f"the override `{name}` for {jurisdiction} is {_unit_words(number.unit)}, "
                        f"but the parameter is {_unit_words(param.unit)}",
                        number.span,
                        "write it with the unit of the parameter, e.g. "
                        f'"{_example(param.default)}"',
                    )


def _unit_words(unit: str | None) -> str:
    return {
        "days": "in days",
        "%": "a percentage",
        "persons": "in persons",
    }.get(unit or "", "a plain number")


def _example(number: ast.Number) -> str:
    unit = number.unit or ""
    return f"{number.value}{unit}" if unit == "%" else f"{number.value} {unit}".strip()


# --- type rules -------------------------------------------------------------------------------


def _compatible(a: Type, b: Type, a_plain: bool, b_plain: bool) -> bool:
    """Whether two values can be compared with `==` (and, for ordered kinds, ordered)."""
    if a.kind in ("any", "null") or b.kind in ("any", "null"):
        return True
    if a.kind == b.kind:
        if a.kind == "enum":
            return a.values is None or b.values is None or bool(a.values & b.values)
        if a.kind == "list":
            return _compatible(a.item or T.ANY, b.item or T.ANY, a_plain, b_plain)
        return a.kind not in ("record", "sequence", "map")
    if a.kind in _NUMERIC and b.kind in _NUMERIC:
        # a plain number literal takes the unit of the other side: `days(a, b) <= 365`
        return (a_plain and a.kind == "number") or (b_plain and b.kind == "number")
    return {a.kind, b.kind} == {"enum", "text"}


def _arith_type(op: str, a: Type, b: Type, a_plain: bool, b_plain: bool) -> Type | str:
    """The type of `a op b`, or the help line of the error."""
    if a.kind == "any" or b.kind == "any":
        return T.ANY
    nullable = a.nullable or b.nullable or op == "/"
    days_help = "for the days between two dates use days(a, b)"
    if "date" in (a.kind, b.kind):
        other, other_plain = (b, b_plain) if a.kind == "date" else (a, a_plain)
        if a.kind == b.kind == "date":
            return days_help
        moves = other.kind == "duration" or (other.kind == "number" and other_plain)
        if moves and (op == "+" or (op == "-" and a.kind == "date")):
            return Type("date", nullable=nullable)
        if op in "*/":
            return "dates cannot be multiplied or divided; " + days_help
        return "a date moves by a duration, such as `30 days`; " + days_help
    if a.kind not in _NUMERIC or b.kind not in _NUMERIC:
        return "arithmetic works on numbers, durations and percentages, and a date ± a duration"
    integral = a.integral and b.integral and op != "/"
    kinds = {a.kind, b.kind}
    if a_plain and a.kind == "number" and b.kind != "number":
        kinds = {b.kind}
    elif b_plain and b.kind == "number" and a.kind != "number":
        kinds = {a.kind}
    if len(kinds) == 1:
        kind = kinds.pop()
        if op == "/" and a.kind == b.kind and kind in ("duration", "percent"):
            return Type("number", nullable=True)
        return Type(kind, nullable=nullable, integral=integral and kind != "percent")
    if kinds == {"number", "duration"}:
        return Type("duration", nullable=nullable, integral=integral)
    if kinds == {"number", "percent"}:
        if op == "*" or (op == "/" and a.kind == "number"):
            return Type("number", nullable=nullable)
        if op == "/":
            return Type("percent", nullable=nullable)
        return "add percentages to percentages (`10%`); `x * 10%` is 10% of x"
    # duration and percent
    if op == "*" or (op == "/" and a.kind == "duration"):
        return Type("duration", nullable=nullable)
    return "a percentage scales a duration (`d * 10%`); it cannot be added to one"


# --- built-in functions: each checks its arguments and gives its result type ------------------

_Outcome = Type | tuple[str, int, str, str]
_ARG_TYPE = "{name}() needs {want} here, but `{arg}` is {type}"


def _nullable_of(args: list[Type]) -> bool:
    return any(a.nullable for a in args)


def _arity(n: int, at_least: bool = False) -> Callable[[list[Type]], _Outcome | None]:
    def check(args: list[Type]) -> _Outcome | None:
        if len(args) == n or (at_least and len(args) > n):
            return None
        want = f"at least {n}" if at_least else str(n)
        noun = "argument" if n == 1 and not at_least else "arguments"
        return ("E409", 0, f"{{name}}() takes {want} {noun}, not {len(args)}", _SIGNATURES_HELP)

    return check


_SIGNATURES_HELP = (
    "days(date, date), moved(value, previous, threshold), change(value, previous), len(x), "
    "abs(x), min(x, y, ...), max(x, y, ...), direction_changes(sequence, proposal)"
)


def _want(index: int, want: str, help_text: str) -> _Outcome:
    return ("E410", index, _ARG_TYPE.replace("{want}", want), help_text)


def _days(args: list[Type], plain: list[bool]) -> _Outcome:
    bad = _arity(2)(args)
    if bad is not None:
        return bad
    for i, a in enumerate(args):
        if a.kind not in ("date", "any", "null"):
            return _want(i, "a date", "days(a, b) counts the days from date a to date b")
    return Type("duration", nullable=_nullable_of(args), integral=True)


def _numeric_arg(a: Type) -> bool:
    return a.kind in _NUMERIC or a.kind in ("any", "null")


def _moved(args: list[Type], plain: list[bool]) -> _Outcome:
    bad = _arity(3)(args)
    if bad is not None:
        return bad
    for i in (0, 1):
        if not _numeric_arg(args[i]):
            return _want(i, "a number", "moved(value, previous, threshold) compares two numbers")
    t = args[2]
    if t.kind not in ("percent", "any", "null") and not (t.kind == "number" and plain[2]):
        return _want(2, "a percentage", "the threshold of moved() is a percentage, e.g. `10%`")
    return T.BOOL


def _change(args: list[Type], plain: list[bool]) -> _Outcome:
    bad = _arity(2)(args)
    if bad is not None:
        return bad
    for i, a in enumerate(args):
        if not _numeric_arg(a):
            return _want(i, "a number", "change(value, previous) is the relative change")
    return Type("percent", nullable=True)


def _len(args: list[Type], plain: list[bool]) -> _Outcome:
    bad = _arity(1)(args)
    if bad is not None:
        return bad
    if args[0].kind not in ("list", "text", "map", "sequence", "any", "null"):
        return _want(0, "a list, a text or a map", "len(x) counts the items of x")
    return Type("number", nullable=args[0].nullable, integral=True)


def _abs(args: list[Type], plain: list[bool]) -> _Outcome:
    bad = _arity(1)(args)
    if bad is not None:
        return bad
    if not _numeric_arg(args[0]):
        return _want(0, "a number", "abs(x) is the size of a number, duration or percentage")
    return args[0] if args[0].kind != "null" else T.ANY


def _extreme(args: list[Type], plain: list[bool]) -> _Outcome:
    bad = _arity(2, at_least=True)(args)
    if bad is not None:
        return bad
    result: Type | None = None
    result_plain = False
    for i, a in enumerate(args):
        if not _numeric_arg(a):
            return _want(i, "a number", "min() and max() take numbers of one kind")
        if a.kind in ("any", "null"):
            continue
        if result is None:
            result, result_plain = a, plain[i]
        elif not _compatible(result, a, result_plain, plain[i]):
            return _want(i, _a(result), "min() and max() take numbers of one kind")
        elif result_plain and not plain[i]:
            result, result_plain = a, False
    if result is None:
        return T.ANY
    return Type(result.kind, nullable=_nullable_of(args), integral=result.integral)


def _direction_changes(args: list[Type], plain: list[bool]) -> _Outcome:
    bad = _arity(2)(args)
    if bad is not None:
        return bad
    if args[0].kind not in ("sequence", "any"):
        return _want(
            0, "a sequence", "bind one first: `let steps = sequence h in history where ...`"
        )
    if args[1].kind not in ("record", "any") or args[1].model not in (None, "PolicyChange"):
        return _want(1, "a policy change", "the second argument is `proposal`")
    return T.WHOLE


_BUILTINS: dict[str, Callable[[list[Type], list[bool]], _Outcome]] = {
    "days": _days,
    "moved": _moved,
    "change": _change,
    "len": _len,
    "abs": _abs,
    "min": _extreme,
    "max": _extreme,
    "direction_changes": _direction_changes,
}


def _unparse(node: ast.Node) -> str:
    """A short rendering of a node, for messages when its source text is not at hand."""
    if isinstance(node, ast.Path):
        return node.dotted
    if isinstance(node, ast.Number):
        unit = node.unit or ""
        return f"{node.value}{unit}" if unit == "%" else f"{node.value} {unit}".strip()
    if isinstance(node, ast.Text):
        return f'"{node.value}"'
    if isinstance(node, ast.DateLit):
        return node.value.isoformat()
    if isinstance(node, ast.Bool):
        return "true" if node.value else "false"
    if isinstance(node, ast.Null):
        return "null"
    if isinstance(node, ast.Compare | ast.Arith):
        return f"{_unparse(node.left)} {node.op} {_unparse(node.right)}"
    if isinstance(node, ast.Call):
        return f"{node.name}(" + ", ".join(_unparse(a) for a in node.args) + ")"
    return "..."


def check_files(
    files: list[ast.RuleFile],
    manifest: Manifest,
    sources: Mapping[str, str],
    *,
    root: str = "",
    pack_hash: str = "",
    source_names: Mapping[str, str] | None = None,
) -> tuple[CheckedPack | None, list[Diagnostic]]:
    """Check parsed rule files as one pack.

    Returns the checked pack (None when there is any error) and every diagnostic, sorted:
    errors and warnings alike. `source_names` maps a file as named in spans to the name a
    finding's `source` gives it (`<pack folder>/<file>`); by default the span's own.
    """
    return _Checker(manifest, sources).run(files, root, pack_hash, source_names)


__all__ = [
    "BUILTINS",
    "KINDS",
    "LEVELS",
    "PRINCIPLE_IDS",
    "Placeholder",
    "TemplateProblem",
    "check_files",
    "children",
    "split_template",
]
