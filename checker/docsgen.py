"""The principles reference (docs/principles.md), written from a checked rule pack.

The pack is the single source of what each rule does and why: the reference is generated from
its titles, `about` blocks, parameters, conditions and messages, so it cannot drift from the
rules. Conditions and severities are quoted from the rule files as written.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable, Iterator

from checker import i18n
from checker.diagnostics import Span
from checker.lang import ast
from checker.lang.checked import CheckedPack, RuleInfo
from checker.lang.fmt import number_text

# Headings of the `about` sections, in the order they are shown; other sections follow them
# in the order written, under their own name.
_SECTIONS: dict[str, tuple[str, str]] = {
    "demands": ("What the model demands", "モデルの要請"),
    "detects": ("What it detects", "検出する内容"),
    "why": ("Why the model cares", "モデル上の意義"),
    "example": ("Example", "例"),
    "remedy": ("Remedy", "改善策"),
}

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)")


# --- text ------------------------------------------------------------------------------------


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def prose(text: str) -> str:
    """A text of a rule file as Markdown paragraphs.

    Long texts are written over several indented lines; a line break inside a paragraph is a
    space in English but nothing in Japanese, where words are not separated by spaces.
    """
    paragraphs = re.split(r"\n\s*\n", text.strip())
    out: list[str] = []
    for paragraph in paragraphs:
        lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
        if not lines:
            continue
        joined = lines[0]
        for line in lines[1:]:
            joined += "" if _wide(joined[-1]) or _wide(line[0]) else " "
            joined += line
        out.append(joined)
    return "\n\n".join(out)


def _source_text(pack: CheckedPack, span: Span) -> str:
    """The text a span covers; its continuation lines lose the indentation of its first line."""
    lines = pack.sources.get(span.file, "").splitlines()
    if not 1 <= span.line <= span.end_line <= len(lines):
        return ""
    if span.line == span.end_line:
        return lines[span.line - 1][span.column - 1 : span.end_column - 1]
    first = lines[span.line - 1][span.column - 1 :]
    middle = lines[span.line : span.end_line - 1]
    last = lines[span.end_line - 1][: span.end_column - 1]
    # Continuation lines keep their indentation relative to the line the span starts on.
    start = lines[span.line - 1]
    indent = len(start) - len(start.lstrip())
    body = [
        line[indent:] if line[:indent].strip() == "" else line.lstrip() for line in [*middle, last]
    ]
    return "\n".join([first, *body])


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- what a rule reads -------------------------------------------------------------------------


def _paths(node: object) -> Iterator[str]:
    """The root names of every path in an AST node (a generic walk over the frozen nodes)."""
    if isinstance(node, ast.Path):
        yield node.root
    if isinstance(node, tuple):
        for item in node:
            yield from _paths(item)
    elif dataclasses.is_dataclass(node) and isinstance(node, ast.Node):
        for f in dataclasses.fields(node):
            if f.name != "span":
                yield from _paths(getattr(node, f.name))


def _placeholders(texts: Iterable[ast.Localized]) -> Iterator[str]:
    for text in texts:
        yield from _PLACEHOLDER.findall(text.text.replace("{{", ""))


def _reads(pack: CheckedPack, rule: ast.Rule) -> tuple[list[str], list[str]]:
    """The parameters and definitions a rule depends on, through its definitions too, in the
    order the pack declares them."""
    names: set[str] = set(_paths((rule.lets, rule.when, rule.severity)))
    names.update(_placeholders((*rule.messages, *rule.remedies)))
    defines: set[str] = set()
    pending = [n for n in names if n in pack.defines]
    while pending:
        name = pending.pop()
        if name in defines:
            continue
        defines.add(name)
        for inner in _paths(pack.defines[name].expr):
            names.add(inner)
            if inner in pack.defines:
                pending.append(inner)
    params = [p for p in pack.params if p in names]
    return params, [d for d in pack.defines if d in defines]


# --- the page ----------------------------------------------------------------------------------


def _principle_order(pack: CheckedPack) -> list[str]:
    order: list[str] = []
    for file in pack.files:
        for principle in file.principles:
            if principle.name not in order:
                order.append(principle.name)
    for info in pack.rules:
        if info.principle not in order:
            order.append(info.principle)
    return order


def _parts(pack: CheckedPack, name: str) -> list[ast.Principle]:
    return [p for file in pack.files for p in file.principles if p.name == name]


def _titles(pack: CheckedPack, name: str) -> dict[str, str]:
    titles: dict[str, str] = {}
    for part in _parts(pack, name):
        for title in part.titles:
            titles.setdefault(title.lang, title.text)
    return titles


def _heading_of(titles: dict[str, str], name: str) -> str:
    en = titles.get("en", name)
    others = [text for lang, text in sorted(titles.items()) if lang != "en"]
    return f"{en} ({', '.join(others)})" if others else en


def _about(about: ast.About | None, level: str) -> list[str]:
    if about is None:
        return []
    names = [n for n in _SECTIONS if any(s.name == n for s in about.sections)]
    names += [s.name for s in about.sections if s.name not in _SECTIONS and s.name not in names]
    out: list[str] = []
    for name in names:
        en_title, ja_title = _SECTIONS.get(name, (name.replace("_", " ").capitalize(), ""))
        heading = f"{en_title} / {ja_title}" if ja_title else en_title
        out += [f"{level} {heading}", ""]
        sections = [s for s in about.sections if s.name == name]
        sections.sort(key=lambda s: (s.lang != "en", s.lang))
        for section in sections:
            out += [prose(section.text), ""]
    return out


def _texts(label: str, texts: tuple[ast.Localized, ...]) -> list[str]:
    out = [f"{label}:", ""]
    for text in sorted(texts, key=lambda t: (t.lang != "en", t.lang)):
        out.append(f"- **{text.lang}**: {text.text}")
    return [*out, ""]


def _condition(pack: CheckedPack, rule: ast.Rule) -> list[str]:
    lines = [_source_text(pack, let.span) for let in rule.lets]
    if rule.when is not None:
        lines.append("when " + _source_text(pack, rule.when.span))
    return ["```", *lines, "```", ""]


def _severity(pack: CheckedPack, rule: ast.Rule) -> str:
    if rule.severity is None:
        return ""
    text = _one_line(_source_text(pack, rule.severity.span))
    return text.removeprefix("severity").strip()


def _rule(pack: CheckedPack, info: RuleInfo) -> list[str]:
    rule = info.rule
    params, defines = _reads(pack, rule)
    kind_ja = i18n.word(f"kind.{info.kind}", "ja")
    rows = [
        ("kind", f"{info.kind} ({kind_ja})"),
        ("severity", f"`{_severity(pack, rule)}`"),
        (
            "parameters",
            ", ".join(f"`{p}` = {number_text(pack.params[p].default)}" for p in params) or "none",
        ),
        ("definitions", ", ".join(f"`{d}`" for d in defines) or "none"),
        ("source", f"`{info.source}`"),
    ]
    out = [f"### `{info.id}`", "", "| | |", "|---|---|"]
    out += [f"| {name} | {value} |" for name, value in rows]
    out.append("")
    out += _about(rule.about, "####")
    out += ["#### Condition / 条件", ""]
    out += _condition(pack, rule)
    out += ["#### Messages / 指摘の文言", ""]
    out += _texts("Finding", rule.messages)
    out += _texts("Remedy", rule.remedies)
    return out


def _principle(pack: CheckedPack, name: str) -> list[str]:
    titles = _titles(pack, name)
    parts = _parts(pack, name)
    out = [f"## {_heading_of(titles, name)}", "", f"Principle id: `{name}`", ""]
    about = next((p.about for p in parts if p.about is not None), None)
    out += _about(about, "###")
    params = [info for info in pack.params.values() if info.principle == name]
    if params:
        out += ["### Parameters / パラメータ", "", "| parameter | default | used by |"]
        out.append("|---|---|---|")
        for param in params:
            users = [f"`{r.id}`" for r in pack.rules if param.name in _reads(pack, r.rule)[0]]
            out.append(f"| `{param.name}` | {number_text(param.default)} | {', '.join(users)} |")
        out.append("")
    defines = [d for part in parts for d in part.defines]
    if defines:
        out += ["### Definitions / 定義", "", "```"]
        out += [f"define {d.name} = {_source_text(pack, d.expr.span)}" for d in defines]
        out += ["```", ""]
    for info in pack.rules:
        if info.principle == name:
            out += _rule(pack, info)
    return out


def principles_markdown(pack: CheckedPack) -> str:
    """The principles reference of a pack, as Markdown: the text of docs/principles.md."""
    manifest = pack.manifest
    order = _principle_order(pack)
    out = [
        "<!-- Generated by `bcm docs` from the rule pack; edit the rules, not this file. -->",
        "",
        "# The principles and their rules",
        "",
        f"The rule pack `{manifest.name}` version {manifest.version} states the principles of the "
        "Balanced Coexistence Model (均衡ある共生モデル) as rules. For each principle this page "
        "gives what the model demands, its parameters and definitions, and for each rule what "
        "it detects, why the model cares, an example, the remedy, the condition as written and "
        "the messages a report shows. Parameters can be overridden per check "
        '(`bcm check --param reversal_window="1000 days"`). '
        "[The rule language](language.md) explains the notation.",
        "",
        "| principle | rule | kind | severity |",
        "|---|---|---|---|",
    ]
    for name in order:
        for info in pack.rules:
            if info.principle == name:
                out.append(
                    f"| {name} | [`{info.id}`](#{info.id}) | {info.kind} | "
                    f"`{_severity(pack, info.rule)}` |"
                )
    out.append("")
    for name in order:
        out += _principle(pack, name)
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"
