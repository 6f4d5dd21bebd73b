"""History records from CSV, as spreadsheets save them, and the files an import reads.

A CSV file has a header row of field paths, one column per field (`id`, `rationale.trigger`,
`impact.expected_inflow`, ...), and one record per row. Cells are text, so each is read by the
type of its field: an empty cell leaves the field out (its default applies); lists are a JSON
list or items separated by `;`; `rationale.evidence` is a JSON list; maps (`extensions`,
`impact.assessments`) are a JSON object or one column per key (`extensions.title_ja`); true and
false may be written as Excel writes them (TRUE/FALSE) or as 1/0; dates as YYYY-MM-DD or
YYYY/M/D, the form a Japanese spreadsheet shows; whole numbers may carry thousands separators;
`null` is null. The text is UTF-8, or CP932 (Shift_JIS) as Excel saves it on Japanese systems,
detected unless the encoding is given. The records then go through the same validation as
every other document, and every problem is reported with its row and column.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import re
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from checker.diagnostics import BcmError, Diagnostic, Span, did_you_mean
from checker.documents import PolicyChange
from checker.loading import (
    DEFAULT_MAX_BYTES,
    MAX_DEPTH,
    MAX_PROBLEMS,
    PathKey,
    RawDocument,
    _DuplicateKey,
    _json_loads,
    _stopped,
    format_path,
    validate,
)

ENCODINGS = ("utf-8", "cp932")

# --- the columns, from the document model -------------------------------------------------------


def _kind(annotation: Any) -> str | type[BaseModel]:
    """How a cell holding a value of this type is read."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kind(args[0])
    if origin in (typing.Union, types.UnionType):
        return _kind(args[0])
    if origin is list:
        item = args[0]
        return "json" if isinstance(item, type) and issubclass(item, BaseModel) else "list"
    if origin is dict:
        return "map"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return annotation
        if issubclass(annotation, bool):
            return "bool"
        if issubclass(annotation, int):
            return "int"
        if issubclass(annotation, dt.date):
            return "date"
        if issubclass(annotation, Decimal):
            return "number"
        if issubclass(annotation, str | Enum):
            return "text"
    return "json"


def _columns(model: type[BaseModel], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for name, field in model.model_fields.items():
        kind = _kind(field.annotation)
        if isinstance(kind, type):
            out.update(_columns(kind, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = kind
    return out


COLUMNS: dict[str, str] = _columns(PolicyChange)
"""Every column a history CSV may have, with how its cells are read."""


def _column_kind(header: str) -> str | None:
    if header in COLUMNS:
        return COLUMNS[header]
    parent, _, key = header.rpartition(".")
    if key and COLUMNS.get(parent) == "map":
        return "map-entry"
    return None


# --- decoding ---------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """UTF-8 when the whole file decodes as UTF-8 (a BOM allowed), else CP932 when it decodes
    as that; anything else is an error pointing at the first byte that is not UTF-8."""
    first_bad: tuple[int, int, int] | None = None  # offset, line, column
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = line = 0
    line_start = 0
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 16), b""):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as err:
                at = offset + err.start
                line += chunk.count(b"\n", 0, err.start) + 1
                nl = chunk.rfind(b"\n", 0, err.start)
                column = (err.start - nl) if nl >= 0 else (at - line_start + 1)
                first_bad = (at, line, column)
                break
            line += chunk.count(b"\n")
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                line_start = offset + nl + 1
            offset += len(chunk)
    if first_bad is None:
        return "utf-8-sig"
    try:
        with path.open("r", encoding="cp932") as stream:
            for _ in iter(lambda: stream.read(1 << 16), ""):
                pass
        return "cp932"
    except UnicodeDecodeError:
        at, line, column = first_bad
        raise BcmError(
            [
                Diagnostic(
                    "D007",
                    f"the CSV file is neither UTF-8 nor CP932 (Shift_JIS) text "
                    f"(byte at offset {at} is not UTF-8)",
                    Span.point(str(path), line, column),
                    help="save it as UTF-8 CSV, or name its encoding with --encoding",
                )
            ]
        ) from None


# --- rows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvRow:
    """One record's row: the raw document and the cell behind each field it sets."""

    document: RawDocument
    row: int
    cells: dict[PathKey, _Cell]


@dataclass(frozen=True)
class _Cell:
    row: int  # 1 is the header row, as a spreadsheet numbers it
    column: int  # 1 is column A
    header: str
    line: int
    char: int

    @property
    def where(self) -> str:
        return f"row {self.row}, column {column_letters(self.column)} (`{self.header}`)"


def column_letters(n: int) -> str:
    """A spreadsheet's name for the n-th column (1 is A, 27 is AA)."""
    out = ""
    while n > 0:
        n, rest = divmod(n - 1, 26)
        out = chr(ord("A") + rest) + out
    return out


def _cell_starts(text: str) -> list[int]:
    """Where each cell of a CSV row starts in its text (offsets), honouring quotes."""
    starts = [0]
    quoted = False
    for mark in _QUOTE_OR_COMMA.finditer(text):
        if mark.group() == '"':
            quoted = not quoted
        elif not quoted:
            starts.append(mark.end())
    return starts


_QUOTE_OR_COMMA = re.compile(r'[",]')


def _offset_location(text: str, offset: int, first_line: int) -> tuple[int, int]:
    line = first_line + text.count("\n", 0, offset)
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


class _LineRecorder:
    """Feeds csv.reader and keeps the text of the lines each row came from."""

    def __init__(self, stream: typing.TextIO):
        self.stream = stream
        self.lines: list[str] = []
        self.line_no = 0

    def __iter__(self) -> _LineRecorder:
        return self

    def __next__(self) -> str:
        line = next(self.stream)
        self.lines.append(line)
        self.line_no += 1
        return line

    def take(self) -> tuple[str, int]:
        """The text of the row just read and the number of its first line."""
        text = "".join(self.lines)
        first = self.line_no - len(self.lines) + 1
        self.lines = []
        return text, first


_INT = re.compile(r"[+-]?(\d+|\d{1,3}(,\d{3})+)")
_SLASH_DATE = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


class _BadCell(ValueError):
    pass


def _cell_value(kind: str, text: str) -> Any:
    """A cell's text as the value of its field; raises _BadCell with what was expected."""
    stripped = text.strip()
    if kind in ("text", "map-entry"):
        return text
    if stripped == "null" and kind in ("int", "date", "number", "text"):
        return None
    if kind == "int":
        if not _INT.fullmatch(stripped):
            raise _BadCell("expected a whole number (or null)")
        try:
            return int(stripped.replace(",", ""))
        except ValueError:  # more digits than Python reads
            raise _BadCell("a whole number with more digits than a document may hold") from None
    if kind == "number":
        try:
            return Decimal(stripped.replace(",", ""))
        except ArithmeticError:
            raise _BadCell("expected a number (or null)") from None
    if kind == "bool":
        low = stripped.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise _BadCell("expected true or false")
    if kind == "date":
        slash = _SLASH_DATE.fullmatch(stripped)
        if slash:
            year, month, day = (int(part) for part in slash.groups())
            return f"{year:04d}-{month:02d}-{day:02d}"
        return stripped
    if kind in ("list", "json") and not stripped:
        return []
    if kind == "list" and not stripped.startswith("["):
        return [item.strip() for item in text.split(";") if item.strip()]
    try:  # as a JSON document is read: no key twice, no NaN, no lone surrogate
        value = _json_loads(stripped)
    except RecursionError:
        raise _BadCell(f"JSON nested more than {MAX_DEPTH} levels deep") from None
    except _DuplicateKey as err:
        raise _BadCell(f"the key `{err.key}` appears twice in one object") from None
    except ValueError as err:
        raise _BadCell(f"broken JSON: {str(err).split(':')[0].lower()}") from None
    expected = {"list": list, "json": list, "map": dict}.get(kind)
    if expected is not None and not isinstance(value, expected):
        raise _BadCell(f"expected a JSON {'object' if expected is dict else 'list'}")
    return value


def _set(data: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {})
    data[path[-1]] = value


def _positions(value: Any, path: PathKey, at: tuple[int, int], out: dict[PathKey, Any]) -> None:
    # Every part of a value written in one cell is located at that cell.
    out[path] = at
    if isinstance(value, dict):
        for key, item in value.items():
            _positions(item, (*path, key), at, out)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _positions(item, (*path, n), at, out)


def read_csv_documents(
    path: str | Path, encoding: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[CsvRow], list[Diagnostic]]:
    """The rows of a history CSV as raw documents, with the cell behind each field; and every
    problem of the header and cells (the documents of rows with problems are left out)."""
    p = Path(path)
    file = str(path)
    try:
        chosen = encoding or detect_encoding(p)
        codecs.lookup(chosen)
    except LookupError:
        raise BcmError(
            [Diagnostic("D007", f"unknown encoding `{encoding}`", help="e.g. utf-8 or cp932")]
        ) from None
    except OSError as err:
        raise BcmError([Diagnostic("D001", f"cannot read `{file}`: {err.strerror}")]) from None
    problems: list[Diagnostic] = []
    documents: list[CsvRow] = []
    try:
        with p.open("r", encoding=chosen, newline="") as stream:
            lines = _LineRecorder(stream)
            reader = csv.reader(lines)
            header = next(reader, None)
            header_text, header_line = lines.take()
            if header is None or not any(h.strip() for h in header):
                raise BcmError(
                    [
                        Diagnostic(
                            "D009",
                            "the CSV file has no header row",
                            Span.point(file, 1, 1),
                            help="the first row names the field of each column, e.g. id,title",
                        )
                    ]
                )
            kinds = _header(file, header, header_text, header_line, problems)
            if problems:
                raise BcmError(problems)
            row = 1
            n = 0
            for cells in reader:
                row += 1
                text, first_line = lines.take()
                if not any(c.strip() for c in cells):
                    continue
                if len(text.encode("utf-8", "replace")) > max_bytes:
                    problems.append(
                        Diagnostic(
                            "D008",
                            f"row {row} is over the limit of {max_bytes} bytes",
                            Span.point(file, first_line, 1),
                        )
                    )
                    continue
                document = _row_document(
                    file, n, row, cells, header, kinds, text, first_line, problems
                )
                if document is not None:
                    documents.append(document)
                n += 1
    except UnicodeDecodeError as err:
        raise BcmError(
            [
                Diagnostic(
                    "D007",
                    f"the CSV file is not {chosen} text ({err.reason})",
                    Span.point(file, 1, 1),
                    help="name the file's encoding with --encoding, e.g. --encoding cp932",
                )
            ]
        ) from None
    except csv.Error as err:
        raise BcmError(
            [Diagnostic("D002", f"broken CSV: {err}", Span.point(file, lines.line_no, 1))]
        ) from None
    except OSError as err:
        raise BcmError([Diagnostic("D001", f"cannot read `{file}`: {err.strerror}")]) from None
    if not documents and not problems:
        problems.append(Diagnostic("D009", "the CSV file has no records", Span.point(file, 1, 1)))
    return documents, problems


def _header(
    file: str, header: list[str], text: str, line: int, problems: list[Diagnostic]
) -> list[str | None]:
    starts = _cell_starts(text)
    kinds: list[str | None] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(header):
        name = raw.strip().lstrip("\ufeff")
        at = _offset_location(text, starts[n], line) if n < len(starts) else (line, 1)
        span = Span.point(file, at[0], at[1], max(len(name), 1))
        where = f"column {column_letters(n + 1)}"
        if not name:
            kinds.append(None)
            continue
        kind = _column_kind(name)
        if kind is None:
            best = did_you_mean(name, COLUMNS)
            problems.append(
                Diagnostic(
                    "D102",
                    f"unknown column `{name}` ({where} of the header)",
                    span,
                    help=f"did you mean `{best}`?"
                    if best
                    else "columns are field paths such as `rationale.trigger`; "
                    "data of your own goes in `extensions.NAME` columns",
                )
            )
        elif name in seen:
            problems.append(
                Diagnostic(
                    "D003",
                    f"the column `{name}` appears twice ({where} and column "
                    f"{column_letters(seen[name] + 1)})",
                    span,
                    help="each field may be given once; remove or rename one of them",
                )
            )
        seen.setdefault(name, n)
        kinds.append(kind)
    return kinds


def _row_document(
    file: str,
    n: int,
    row: int,
    cells: list[str],
    header: list[str],
    kinds: list[str | None],
    text: str,
    first_line: int,
    problems: list[Diagnostic],
) -> CsvRow | None:
    starts = _cell_starts(text)
    data: dict[str, Any] = {}
    positions: dict[PathKey, Any] = {(n,): (first_line, 1)}
    located: dict[PathKey, _Cell] = {}
    bad = False
    if len(cells) > len(header):
        problems.append(
            Diagnostic(
                "D106",
                f"row {row} has {len(cells)} cells, but the header names {len(header)} columns",
                Span.point(file, first_line, 1),
                path=format_path("history", (n,)),
                help="a comma inside a cell needs the cell in double quotes",
            )
        )
        return None
    for column, (value_text, kind) in enumerate(zip(cells, kinds, strict=False)):
        name = header[column].strip().lstrip("\ufeff")
        # An empty cell leaves a field out, except a list's: `legal_basis` is required and may
        # be empty, and an empty cell is how a spreadsheet writes an empty list.
        if kind is None or (not value_text.strip() and kind not in ("list", "json")):
            continue
        at = (
            _offset_location(text, starts[column], first_line)
            if column < len(starts)
            else (
                first_line,
                1,
            )
        )
        cell = _Cell(row, column + 1, name, at[0], at[1])
        # A map entry's key is the text after the field's path, whatever it holds.
        parent, _, entry = name.rpartition(".") if kind == "map-entry" else (name, "", "")
        field_path = [*parent.split("."), entry] if kind == "map-entry" else name.split(".")
        try:
            value = _cell_value(kind, value_text)
        except _BadCell as err:
            problems.append(
                Diagnostic(
                    "D106",
                    f"{json.dumps(value_text.strip()[:40], ensure_ascii=False)} is not a value "
                    f"for `{name}`: {err}",
                    Span.point(file, at[0], at[1], len(value_text.strip()) or 1),
                    path=format_path("history", (n, *field_path)),
                    notes=(cell.where,),
                )
            )
            bad = True
            continue
        _set(data, field_path, value)
        key: PathKey = (n, *field_path)
        _positions(value, key, at, positions)
        located[key] = cell
    if bad:
        return None
    return CsvRow(RawDocument(data, file, (n,), positions, dict(positions)), row, located)


def load_csv_history(
    path: str | Path, encoding: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[PolicyChange]:
    """Validated history records from a CSV file; BcmError with every problem, located by row
    and column."""
    documents, problems = read_csv_documents(path, encoding, max_bytes)
    records: list[PolicyChange] = []
    for row in documents:
        raw = row.document
        record, found = validate(raw, "history")
        if "status" not in raw.data:
            found.append(
                Diagnostic(
                    "D101",
                    "missing required field `status`",
                    Span.point(raw.file, *raw.positions[raw.path]),
                    path=format_path("history", (*raw.path, "status")),
                    help="a history record says whether it was `enacted`, `withdrawn`, ...",
                )
            )
        problems.extend(_with_cell(d, row) for d in found)
        if len(problems) > MAX_PROBLEMS:
            raise BcmError([*problems[:MAX_PROBLEMS], _stopped(str(path))])
        if record is not None and not found:
            records.append(record)
    if problems:
        raise BcmError(problems)
    return records


def _with_cell(diagnostic: Diagnostic, row: CsvRow) -> Diagnostic:
    """The diagnostic with the spreadsheet's row and column added as a note."""
    best: _Cell | None = None
    if diagnostic.path is not None:
        for key, cell in row.cells.items():
            written = format_path("history", key)
            if diagnostic.path == written or diagnostic.path.startswith(
                (written + ".", written + "[")
            ):
                best = cell
    note = best.where if best is not None else f"row {row.row}"
    return Diagnostic(
        diagnostic.code,
        diagnostic.message,
        diagnostic.span,
        help=diagnostic.help,
        level=diagnostic.level,
        path=diagnostic.path,
        notes=(*diagnostic.notes, note),
    )


# --- every kind of history file ---------------------------------------------------------------


def is_csv(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".csv"


def read_history_files(
    paths: list[str], encoding: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[PolicyChange]:
    """Every record of the files (JSON, YAML, JSON Lines, CSV), validated; BcmError with every
    problem of every file when any is bad."""
    from checker.loading import load_history

    records: list[PolicyChange] = []
    problems: list[Diagnostic] = []
    documents = [p for p in paths if not is_csv(p)]
    if documents:
        try:
            records.extend(load_history(documents, max_bytes=max_bytes))
        except BcmError as err:
            problems.extend(err.diagnostics)
    for path in (p for p in paths if is_csv(p)):
        try:
            records.extend(load_csv_history(path, encoding, max_bytes))
        except BcmError as err:
            problems.extend(err.diagnostics)
    if problems:
        raise BcmError(problems)
    return records
