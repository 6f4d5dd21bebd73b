"""One diagnostic type for every problem bcm reports: rule files, documents, packs.

A diagnostic has a stable code (documented in docs/diagnostics.md), a severity, a short message
that quotes the offending text, where it is (a source span, a JSON path, or both) and a separate
help line. The CLI renders it as a source frame with a caret; the HTTP API as JSON.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Level(enum.StrEnum):
    error = "error"
    warning = "warning"


@dataclass(frozen=True, order=True)
class Span:
    """A region of a source file; lines and columns count from 1, the end is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @classmethod
    def point(cls, file: str, line: int, column: int, width: int = 1) -> Span:
        return cls(file, line, column, line, column + max(width, 1))


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None = None
    help: str | None = None
    level: Level = Level.error
    path: str | None = None  # the JSON path inside a document, where there is one
    notes: tuple[str, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.level is Level.error

    def sort_key(self) -> tuple[str, int, int, str, str]:
        if self.span is None:
            return (self.path or "", 0, 0, self.code, self.message)
        return (self.span.file, self.span.line, self.span.column, self.code, self.message)

    def location(self) -> str:
        where = str(self.span) if self.span else ""
        if self.path:
            where = f"{where} (at {self.path})" if where else f"at {self.path}"
        return where

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "level": self.level.value,
            "message": self.message,
        }
        if self.span is not None:
            out["file"] = self.span.file
            out["line"] = self.span.line
            out["column"] = self.span.column
            out["end_line"] = self.span.end_line
            out["end_column"] = self.span.end_column
        if self.path is not None:
            out["path"] = self.path
        if self.help:
            out["help"] = self.help
        if self.notes:
            out["notes"] = list(self.notes)
        return out


class BcmError(Exception):
    """Bad input: carries every diagnostic found, sorted, so callers can show them all at once."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sort_diagnostics(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(
            f"{first.location()}: {first.code}: {first.message}" if first else "bad input"
        )


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    unique: dict[tuple[Any, ...], Diagnostic] = {}
    for d in diagnostics:
        unique.setdefault((d.sort_key(), d.help, d.level), d)
    return sorted(unique.values(), key=lambda d: d.sort_key())


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The nearest known name to a mistyped one, or None when nothing is close."""
    pool = sorted(set(candidates))
    if not pool:
        return None
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if close:
        return close[0]
    lowered = {c.lower(): c for c in pool}
    return lowered.get(word.lower())


def suggestion_help(word: str, candidates: Iterable[str], what: str = "") -> str | None:
    pool = sorted(set(candidates))
    best = did_you_mean(word, pool)
    if best is not None:
        return f"did you mean `{best}`?"
    if pool and len(pool) <= 12:
        label = f"{what} " if what else ""
        return f"known {label}names: " + ", ".join(f"`{c}`" for c in pool)
    return None


def render(diagnostic: Diagnostic, sources: Mapping[str, str] | None = None) -> str:
    """A diagnostic as a source frame with a caret, in the style of ruff and rustc."""
    head = f"{diagnostic.level.value}[{diagnostic.code}]: {diagnostic.message}"
    lines = [head]
    span = diagnostic.span
    if span is not None or diagnostic.path:
        lines.append(f"  --> {diagnostic.location()}")
    text = sources.get(span.file) if (sources is not None and span is not None) else None
    if span is not None and text is not None:
        line = _source_line(text, span.line)
        if line is not None:
            gutter = len(str(span.line))
            pad = " " * gutter
            end_col = span.end_column if span.end_line == span.line else len(line) + 1
            src, column, width = _excerpt(line, span.column, max(1, end_col - span.column))
            caret = " " * _display_width(src[: column - 1]) + "^" * max(
                1, _display_width(src[column - 1 : column - 1 + width])
            )
            lines.append(f"{pad} |")
            lines.append(f"{span.line} | {src}")
            lines.append(f"{pad} | {caret}")
    for note in diagnostic.notes:
        lines.append(f"  = note: {note}")
    if diagnostic.help:
        lines.append(f"  = help: {diagnostic.help}")
    return "\n".join(lines)


def _source_line(text: str, number: int) -> str | None:
    """Line `number` (from 1) as the parsers count lines: only `\\n` ends one."""
    if number < 1:
        return None
    start = 0
    for _ in range(number - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return None
    end = text.find("\n", start)
    line = text[start:] if end < 0 else text[start:end]
    if end < 0 and not line:  # past the last line
        return None
    return line.removesuffix("\r")


# Characters of a source line shown around the caret: a minified document is one line of
# megabytes, and a frame per problem must not print it whole each time.
_SHOWN = 200


def _excerpt(line: str, column: int, width: int) -> tuple[str, int, int]:
    """The part of `line` shown, with the span's column and width in it."""
    if len(line) <= _SHOWN:
        return line, column, width
    start = max(0, min(column - 1 - _SHOWN // 4, len(line) - _SHOWN))
    end = start + _SHOWN
    lead = "…" if start > 0 else ""
    tail = "…" if end < len(line) else ""
    shown_width = max(1, min(width, end - (column - 1)))
    return lead + line[start:end] + tail, column - start + len(lead), shown_width


def render_all(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str] | None = None) -> str:
    return "\n\n".join(render(d, sources) for d in diagnostics)


def _display_width(text: str) -> int:
    # East Asian wide characters take two cells in a terminal, so the caret lines up under them.
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
