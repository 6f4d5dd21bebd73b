"""Reading policy-change documents from JSON, YAML and JSON Lines, with located problems.

Every problem in a file is collected before anything is returned: the file, the JSON path
(`history[3].rationale.evidence[0].value`), the line and column where the format gives them,
what was found and what was expected. YAML is read safely: no object tags, no aliases.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel, ValidationError

from checker.diagnostics import BcmError, Diagnostic, Span, did_you_mean
from checker.documents import PolicyChange
from checker.gcpause import cycle_collection_paused

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
# The document model, the rule engine and the reports walk values recursively; far below the
# depth where that fails, no document has any use for more (the HTTP API's bound too).
MAX_DEPTH = 64
# A file of 300,000 empty objects would otherwise give three million diagnostics (minutes and
# gigabytes) for a list nobody reads past its first screens.
MAX_PROBLEMS = 100
# Half of a UTF-16 surrogate pair: JSON and YAML escapes can write one, but no UTF-8 text (a
# report, a terminal, the store) can hold it.
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONG_NUMBER = re.compile(f"[0-9]{{{sys.get_int_max_str_digits() + 1},}}")
_SURROGATE_ESCAPE = re.compile(r"\\[uU](?:0000)?[dD][89a-fA-F]")

Location = tuple[int, int]  # line, column (1-based)
PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class RawDocument:
    """One parsed but not yet validated document, with where its parts stand in the file."""

    data: Any
    file: str
    path: PathKey  # where the document itself stands in the file, e.g. (3,) in a list
    positions: dict[PathKey, Location]
    key_positions: dict[PathKey, Location]
    # Finding positions costs a second walk over the text; a record that validates never
    # needs them, so JSON documents index themselves only when a problem must be located.
    indexer: Callable[[], tuple[dict[PathKey, Location], dict[PathKey, Location]]] | None = None
    # known to be nested less than MAX_DEPTH deep (its text has fewer brackets than that):
    # the walk that looks for deeper values is skipped
    shallow: bool = False

    def located(self) -> tuple[dict[PathKey, Location], dict[PathKey, Location]]:
        if self.indexer is not None and not self.positions:
            pos, keys = self.indexer()
            self.positions.update(pos)
            self.key_positions.update(keys)
        return self.positions, self.key_positions


# --- paths ----------------------------------------------------------------------------------


def format_path(root: str, path: PathKey) -> str:
    out = root
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def _size_text(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"


# --- JSON -----------------------------------------------------------------------------------


class _JsonIndexer:
    """Records where each value (and each object key) starts in a JSON text already known valid.

    The standard library parses; this walks the same text once more only to learn positions,
    which the standard parser does not report.
    """

    def __init__(self, text: str, base_line: int = 1):
        self.text = text
        self.i = 0
        self.base_line = base_line
        self.line_starts = [0]
        for n, ch in enumerate(text):
            if ch == "\n":
                self.line_starts.append(n + 1)
        self.positions: dict[PathKey, Location] = {}
        self.key_positions: dict[PathKey, Location] = {}

    def loc(self, offset: int) -> Location:
        import bisect

        row = bisect.bisect_right(self.line_starts, offset) - 1
        return (row + self.base_line, offset - self.line_starts[row] + 1)

    def ws(self) -> None:
        t = self.text
        while self.i < len(t) and t[self.i] in " \t\r\n\ufeff":
            self.i += 1

    def value(self, path: PathKey) -> None:
        self.ws()
        self.positions[path] = self.loc(self.i)
        ch = self.text[self.i]
        if ch == "{":
            self.i += 1
            self.ws()
            if self.text[self.i] == "}":
                self.i += 1
                return
            while True:
                self.ws()
                key_at = self.i
                key = self.string()
                self.key_positions[(*path, key)] = self.loc(key_at)
                self.ws()
                self.i += 1  # ':'
                self.value((*path, key))
                self.ws()
                if self.text[self.i] == ",":
                    self.i += 1
                    continue
                self.i += 1  # '}'
                return
        if ch == "[":
            self.i += 1
            self.ws()
            if self.text[self.i] == "]":
                self.i += 1
                return
            n = 0
            while True:
                self.value((*path, n))
                n += 1
                self.ws()
                if self.text[self.i] == ",":
                    self.i += 1
                    continue
                self.i += 1  # ']'
                return
        if ch == '"':
            self.string()
            return
        # number, true, false, null
        t = self.text
        while self.i < len(t) and t[self.i] not in ",]} \t\r\n":
            self.i += 1

    def string(self) -> str:
        value, end = json.decoder.scanstring(self.text, self.i + 1)  # type: ignore[attr-defined]
        self.i = end
        return str(value)


def _index_json(
    text: str, base_line: int, prefix: PathKey
) -> tuple[dict[PathKey, Location], dict[PathKey, Location]]:
    indexer = _JsonIndexer(text, base_line=base_line)
    with contextlib.suppress(IndexError, RecursionError):
        indexer.value(())
    return (
        {(*prefix, *k): v for k, v in indexer.positions.items()},
        {(*prefix, *k): v for k, v in indexer.key_positions.items()},
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a policy document may hold")


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


class _Unreadable(ValueError):
    """Valid JSON that no document may hold; `needle` is the text that shows where."""

    def __init__(self, message: str, needle: str):
        super().__init__(message)
        self.needle = needle


def _json_loads(text: str) -> Any:
    try:
        data = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_object_pairs,
        )
    except ValueError as err:
        # Python refuses a whole number of more than 4,300 digits, in words about its own
        # settings; a hook on every number to say it better would slow every document down.
        found = _LONG_NUMBER.search(text) if "integer string conversion" in str(err) else None
        if found is None:
            raise
        raise _Unreadable(
            f"a whole number of {len(found.group())} digits is more than a document may hold",
            found.group()[:40],
        ) from None
    if _SURROGATE_ESCAPE.search(text):  # most texts have no such escape: no walk for them
        lone = _lone_surrogate(data)
        if lone is not None:
            escape = f"\\u{ord(lone):04x}"
            raise _Unreadable(
                f"`{escape}` is half of a UTF-16 surrogate pair, which no UTF-8 text can hold",
                escape,
            )
    return data


def _lone_surrogate(data: Any) -> str | None:
    """The first lone surrogate in a text of `data` (keys included), without recursion."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            found = _SURROGATE.search(value)
            if found is not None:
                return found.group()
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return None


def _too_deep(file: str, at: Location = (1, 1), path: str | None = None) -> Diagnostic:
    return Diagnostic(
        "D011",
        f"the document is nested more than {MAX_DEPTH} levels deep",
        Span.point(file, *at),
        path=path,
        help="a policy-change document is a few levels deep; flatten `extensions`",
    )


def _json_error(file: str, text: str, err: Exception, base_line: int = 1) -> Diagnostic:
    if isinstance(err, json.JSONDecodeError):
        return Diagnostic(
            "D002",
            f"broken JSON: {err.msg.lower()}",
            Span.point(file, err.lineno + base_line - 1, err.colno),
            help="check the brackets, quotes and commas just before this point",
        )
    if isinstance(err, RecursionError):
        return _too_deep(file, (base_line, 1))
    if isinstance(err, _Unreadable):
        offset = text.lower().find(err.needle.lower())
        line = text.count("\n", 0, offset) + base_line if offset >= 0 else base_line
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1 if offset >= 0 else 1
        return Diagnostic(
            "D002",
            f"broken JSON: {err}",
            Span.point(file, line, column, len(err.needle)),
            help="write the figure or the text as it is meant: plain numbers, whole characters",
        )
    if isinstance(err, _DuplicateKey):
        at = _find_key(text, err.key)
        return Diagnostic(
            "D003",
            f"the key `{err.key}` appears twice in one object",
            Span.point(file, at[0] + base_line - 1, at[1], len(err.key) + 2) if at else None,
            help="each field may be given once; remove or rename one of them",
        )
    return Diagnostic(
        "D002",
        f"broken JSON: {err}",
        Span.point(file, base_line, 1),
        help="NaN, Infinity and -Infinity are not JSON numbers; write a number or null",
    )


def _find_key(text: str, key: str) -> Location | None:
    needle = json.dumps(key, ensure_ascii=False)
    first = text.find(needle)
    second = text.find(needle, first + 1) if first >= 0 else -1
    at = second if second >= 0 else first
    if at < 0:
        return None
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    return (line, col)


# --- YAML -----------------------------------------------------------------------------------


class _Refused(Exception):
    """A part of a YAML text that no document may hold, refused before it is built."""

    def __init__(self, code: str, message: str, mark: Any, help: str):
        super().__init__(message)
        self.diagnostic = (code, message, help)
        self.mark = mark


class _SafeLoader(yaml.SafeLoader):
    """Safe YAML with exact decimals, no aliases (billion laughs) and no duplicate keys."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        # Refused while the text is read, in one pass: aliases are how a tiny file expands
        # into gigabytes (billion laughs), and depth is what recursive readers cannot take.
        at = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            raise _Refused(
                "D005",
                "YAML aliases (`*name`) are not allowed in a policy document",
                at,
                "write the value out in full where it is needed",
            )
        if self._depth >= MAX_DEPTH:
            raise _Refused(
                "D011",
                f"the document is nested more than {MAX_DEPTH} levels deep",
                at,
                "a policy-change document is a few levels deep; flatten `extensions`",
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _decimal_float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    raw = str(node.value).replace("_", "")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"`{node.value}` is not a number a policy document may hold",
            node.start_mark,
        )
    return value


def _whole_number(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        value = loader.construct_yaml_int(node)
    except ValueError:  # more digits than Python turns into a number
        value = None
    if not isinstance(value, int) or value.bit_length() > 4 * sys.get_int_max_str_digits():
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"`{str(node.value)[:40]}` is not a number a policy document may hold",
            node.start_mark,
        )
    return value


def _text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    value = loader.construct_scalar(node)
    lone = _SURROGATE.search(value)
    if lone is not None:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"`\\u{ord(lone.group()):04x}` is half of a UTF-16 surrogate pair, which no UTF-8 "
            "text can hold",
            node.start_mark,
        )
    return value


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    # Dates stay text until the document model reads them, as in JSON.
    return str(node.value)


def _mapping_no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, list | dict):
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "a key must be a plain value, not a list or a mapping",
                key_node.start_mark,
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key `{key}` appears twice in one mapping", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_SafeLoader.add_constructor("tag:yaml.org,2002:float", _decimal_float)
_SafeLoader.add_constructor("tag:yaml.org,2002:int", _whole_number)
_SafeLoader.add_constructor("tag:yaml.org,2002:str", _text)
_SafeLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
_SafeLoader.add_constructor("tag:yaml.org,2002:map", _mapping_no_duplicates)


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _FastLoader(CParser, _SafeLoader):
        """The same loader reading with libyaml, about six times as fast: its events are
        composed by `_SafeLoader.compose_node` (with its checks), not by libyaml's composer."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            yaml.composer.Composer.__init__(self)

        check_node = yaml.composer.Composer.check_node
        get_node = yaml.composer.Composer.get_node
        get_single_node = yaml.composer.Composer.get_single_node


def _compose_yaml(text: str) -> yaml.Node | None:
    loader = _FastLoader(text) if yaml.__with_libyaml__ else _SafeLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _yaml_positions(
    node: yaml.Node, path: PathKey, pos: dict[PathKey, Location], keys: dict[PathKey, Location]
) -> None:
    pos[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            keys[(*path, key)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            _yaml_positions(value_node, (*path, key), pos, keys)
    elif isinstance(node, yaml.SequenceNode):
        for n, item in enumerate(node.value):
            _yaml_positions(item, (*path, n), pos, keys)


def _load_yaml(
    file: str, text: str
) -> tuple[Any, dict[PathKey, Location], dict[PathKey, Location]]:
    try:
        node = _compose_yaml(text)
        if node is None:
            return None, {}, {}
        loader = _SafeLoader("")
        try:
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except _Refused as refused:
        code, message, help_text = refused.diagnostic
        mark = refused.mark
        raise BcmError(
            [
                Diagnostic(
                    code, message, Span.point(file, mark.line + 1, mark.column + 1), help=help_text
                )
            ]
        ) from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "unreadable YAML"
        code, help_text = "D004", "check the indentation and the `key: value` layout here"
        if "could not determine a constructor" in problem:
            code = "D005"
            problem = f"YAML tag not allowed: {problem.split('tag')[-1].strip()}"
            help_text = "documents are data: remove the `!tag`; plain values only"
        elif "appears twice" in problem:
            code, help_text = "D003", "each field may be given once; remove or rename one of them"
        elif "not a number" in problem:
            code, help_text = "D006", "write a finite number or null"
        elif "nesting depth" in problem:  # libyaml's own bound, deeper than MAX_DEPTH
            code, help_text = "D011", "a policy-change document is a few levels deep"
            problem = f"the document is nested more than {MAX_DEPTH} levels deep"
        return_span = Span.point(file, mark.line + 1, mark.column + 1) if mark else None
        raise BcmError(
            [Diagnostic(code, f"broken YAML: {problem}", return_span, help=help_text)]
        ) from None
    except yaml.YAMLError as err:
        raise BcmError(
            [Diagnostic("D004", f"broken YAML: {err}", Span.point(file, 1, 1))]
        ) from None
    positions: dict[PathKey, Location] = {}
    keys: dict[PathKey, Location] = {}
    _yaml_positions(node, (), positions, keys)
    return data, positions, keys


# --- reading files --------------------------------------------------------------------------


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "json"


def _decode(file: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        col = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise BcmError(
            [
                Diagnostic(
                    "D007",
                    f"the file is not UTF-8 text "
                    f"(byte 0x{raw[err.start]:02x} at offset {err.start})",
                    Span.point(file, line, col),
                    help="save the document as UTF-8; JSON and YAML documents must be UTF-8",
                )
            ]
        ) from None


def _too_large(file: str, size: int, limit: int, what: str, line: int = 1) -> Diagnostic:
    return Diagnostic(
        "D008",
        f"{what} is {_size_text(size)}, over the limit of {_size_text(limit)}",
        Span.point(file, line, 1),
        help="split it, or raise the limit with --max-size if the document is genuine",
    )


def read_raw_documents(
    path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES
) -> Iterator[RawDocument]:
    """Parse a file into raw documents, without validating them against the model."""
    p = Path(path)
    file = str(path)
    try:
        if p.is_dir():
            raise BcmError([Diagnostic("D001", f"`{file}` is a directory, not a document")])
        fmt = detect_format(p)
        if fmt == "jsonl":
            yield from _read_jsonl(p, file, max_bytes)
            return
        size = p.stat().st_size
        if size > max_bytes:
            raise BcmError([_too_large(file, size, max_bytes, "the document")])
        raw = p.read_bytes()
    except OSError as err:
        raise BcmError(
            [Diagnostic("D001", f"cannot read `{file}`: {err.strerror or err}")]
        ) from None
    text = _decode(file, raw)
    if not text.strip():
        raise BcmError(
            [
                Diagnostic(
                    "D009",
                    "the file is empty",
                    Span.point(file, 1, 1),
                    help="a document is one JSON or YAML object with the fields of the spec",
                )
            ]
        )
    if fmt == "yaml":
        data, positions, keys = _load_yaml(file, text)
    else:
        try:
            data = _json_loads(text)
        except (ValueError, RecursionError) as err:
            raise BcmError([_json_error(file, text, err)]) from None
        json_text = text
        index = functools.cache(lambda: _index_json(json_text, 1, ()))
        positions, keys = {}, {}
    lazy = index if fmt == "json" else None
    if isinstance(data, list):
        for n, item in enumerate(data):
            yield RawDocument(item, file, (n,), positions, keys, lazy)
    else:
        yield RawDocument(data, file, (), positions, keys, lazy)


def _read_jsonl(p: Path, file: str, max_bytes: int) -> Iterator[RawDocument]:
    problems: list[Diagnostic] = []
    n = 0
    with p.open("rb") as stream:
        for lineno, raw_line in enumerate(stream, start=1):
            if len(raw_line) > max_bytes:
                problems.append(
                    _too_large(file, len(raw_line), max_bytes, f"record on line {lineno}", lineno)
                )
                continue
            try:
                text = _decode(file, raw_line)
            except BcmError as err:
                problems.extend(
                    Diagnostic(
                        d.code,
                        d.message,
                        Span.point(file, lineno, d.span.column if d.span else 1),
                        help=d.help,
                    )
                    for d in err.diagnostics
                )
                continue
            if not text.strip():
                continue
            try:
                data = _json_loads(text)
            except (ValueError, RecursionError) as err:
                problems.append(_json_error(file, text, err, base_line=lineno))
                if len(problems) > MAX_PROBLEMS:
                    break
                continue
            if not problems:
                index = functools.partial(_index_json, text, lineno, (n,))
                yield RawDocument(data, file, (n,), {}, {}, index)
            n += 1
    if problems:
        raise BcmError(problems)
    if n == 0:
        raise BcmError([Diagnostic("D009", "the file has no records", Span.point(file, 1, 1))])


# --- validation -----------------------------------------------------------------------------

_TYPE_WORDS = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "date_from_datetime_parsing": "an ISO calendar date (YYYY-MM-DD)",
    "date_parsing": "an ISO calendar date (YYYY-MM-DD)",
    "date_type": "an ISO calendar date (YYYY-MM-DD)",
}


def _found(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return json.dumps(text, ensure_ascii=False)
    if isinstance(value, int) and value.bit_length() > 3 * sys.get_int_max_str_digits():
        return "a whole number too long to show"
    return str(value)


def _deepest(data: Any) -> PathKey | None:
    """Where `data` is nested deeper than MAX_DEPTH, found without recursion; else None."""
    level, depth = [data], 0  # the objects and lists `depth` levels down
    while level:
        if depth >= MAX_DEPTH:
            return _path_at_depth(data, depth)
        below = []
        for value in level:
            for item in value.values() if isinstance(value, dict) else value:
                if isinstance(item, _CONTAINERS):
                    below.append(item)
        level, depth = below, depth + 1
    return None


_CONTAINERS: Final = (dict, list)  # a tuple: isinstance tests it faster than `dict | list`


def _path_at_depth(data: Any, depth: int) -> PathKey:
    # Only for a document already found too deep: paths cost a tuple per value.
    stack: list[tuple[Any, PathKey]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) >= depth:
            return path
        items = value.items() if isinstance(value, dict) else enumerate(value)
        stack.extend((v, (*path, k)) for k, v in items if isinstance(v, dict | list))
    return ()


def _fields_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The field names the model knows at a location, for "did you mean"."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = _model_in(field.annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> Any:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _problem(err: dict[str, Any], model: type[BaseModel]) -> tuple[str, str, str | None]:
    """(code, message, help) for one pydantic error, in the words of the spec."""
    kind = err["type"]
    loc = tuple(err["loc"])
    name = str(loc[-1]) if loc else "document"
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return (
            "D101",
            f"missing required field `{name}`",
            f"add `{name}`; see `bcm schema` for its type",
        )
    if kind == "extra_forbidden":
        known = _fields_at(model, loc[:-1])
        best = did_you_mean(name, known)
        hint = f"did you mean `{best}`?" if best else "put data of your own under `extensions`"
        return ("D102", f"unknown field `{name}`", hint)
    if kind == "enum":
        allowed = [
            a.strip().strip("'")
            for a in str(ctx.get("expected", "")).replace(" or ", ",").split(",")
        ]
        allowed = [a for a in allowed if a]
        best = did_you_mean(str(value), allowed)
        listing = ", ".join(allowed)
        hint = f"did you mean `{best}`? allowed: {listing}" if best else f"allowed: {listing}"
        field_name = name if isinstance(loc[-1], str) or len(loc) < 2 else str(loc[-2])
        return ("D103", f"{_found(value)} is not a valid value for `{field_name}`", hint)
    if kind in ("date_from_datetime_parsing", "date_parsing", "value_error") and "date" in str(
        err.get("msg", "")
    ):
        return (
            "D104",
            f"{_found(value)} is not a calendar date",
            "write the date as YYYY-MM-DD, e.g. 2019-04-01",
        )
    if kind == "string_pattern_mismatch" and name == "jurisdiction":
        return (
            "D105",
            f"{_found(value)} is not an ISO 3166-1 alpha-2 code",
            "write two capital letters, e.g. JP",
        )
    if kind in ("string_too_short",):
        return ("D105", f"`{name}` must not be empty", None)
    if kind == "value_error":
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        return ("D106", f"{_found(value)} for `{name}`: {msg}", None)
    expected = _TYPE_WORDS.get(kind)
    if expected is not None:
        return ("D106", f"`{name}` should be {expected}, found {_found(value)}", None)
    return ("D106", f"`{name}`: {err.get('msg', kind)} (found {_found(value)})", None)


def validate(
    raw: RawDocument, root: str = "", model: type[BaseModel] = PolicyChange
) -> tuple[Any, list[Diagnostic]]:
    """Validate one raw document; return the model (or None) and every problem found."""
    if not isinstance(raw.data, dict):
        what = "a list" if isinstance(raw.data, list) else _found(raw.data)
        line, col = raw.located()[0].get(raw.path, (1, 1))
        return None, [
            Diagnostic(
                "D010",
                f"expected a policy-change object, found {what}",
                Span.point(raw.file, line, col),
                path=format_path(root, raw.path),
                help="a document is an object with fields such as `id`, `title`, `direction`",
            )
        ]
    deepest = None if raw.shallow else _deepest(raw.data)
    if deepest is not None:
        place = raw.located()[0].get((*raw.path, *deepest), (1, 1))
        return None, [_too_deep(raw.file, place, format_path(root, (*raw.path, *deepest)))]
    try:
        return model.model_validate(raw.data), []
    except ValidationError as err:
        problems = []
        for e in err.errors(include_url=False):
            loc = tuple(e["loc"])
            # pydantic marks a bad map key with "[key]"; a field a document names "[key]" is
            # an unknown field, not that
            is_key = len(loc) >= 3 and loc[-1] == "[key]" and e["type"] != "extra_forbidden"
            if is_key:
                # a map key that is not allowed, e.g. an assessment not keyed by a principle id
                loc = loc[:-1]
                e = {**e, "loc": loc}
            code, message, help_text = _problem(dict(e), model)
            if is_key:
                message = f"{_found(e.get('input'))} is not a valid key of `{loc[-2]}`"
            full = (*raw.path, *loc)
            if e["type"] == "extra_forbidden" or is_key:
                at = raw.located()[1].get(full) or raw.located()[0].get(full)
                width = len(str(loc[-1])) + 2
            elif e["type"] == "missing":
                at = raw.located()[0].get(full[:-1]) or raw.located()[0].get(raw.path)
                width = 1
            else:
                at = raw.located()[0].get(full)
                width = (
                    len(json.dumps(e.get("input"), ensure_ascii=False, default=str)) if at else 1
                )
            span = Span.point(raw.file, at[0], at[1], min(width, 80)) if at else None
            problems.append(
                Diagnostic(code, message, span, help=help_text, path=format_path(root, full))
            )
        return None, problems


@cycle_collection_paused()
def load_documents(
    paths: list[str] | str,
    root: str = "",
    max_bytes: int = DEFAULT_MAX_BYTES,
    require_status: bool = False,
) -> list[PolicyChange]:
    """Load and validate every document of the files; raise BcmError with all problems."""
    if isinstance(paths, str):
        paths = [paths]
    docs: list[PolicyChange] = []
    problems: list[Diagnostic] = []
    for path in paths:
        try:
            for raw in read_raw_documents(path, max_bytes):
                doc, found = validate(raw, root)
                if require_status and isinstance(raw.data, dict) and "status" not in raw.data:
                    line, col = raw.located()[0].get(raw.path, (1, 1))
                    found.append(
                        Diagnostic(
                            "D101",
                            "missing required field `status`",
                            Span.point(raw.file, line, col),
                            path=format_path(root, (*raw.path, "status")),
                            help="a history record says whether it was `enacted`, `withdrawn`, ...",
                        )
                    )
                problems.extend(found)
                if len(problems) > MAX_PROBLEMS:
                    break
                if doc is not None and not found:
                    docs.append(doc)
        except BcmError as err:
            problems.extend(err.diagnostics)
        if len(problems) > MAX_PROBLEMS:
            raise BcmError([*problems[:MAX_PROBLEMS], _stopped(path)])
    if problems:
        raise BcmError(problems)
    return docs


def _stopped(file: str) -> Diagnostic:
    return Diagnostic(
        "D012",
        f"more than {MAX_PROBLEMS} problems: the first {MAX_PROBLEMS} are shown, and the rest "
        f"of `{file}` was not read",
        help="mend these and read the file again",
    )


def load_history(paths: list[str] | str, max_bytes: int = DEFAULT_MAX_BYTES) -> list[PolicyChange]:
    """History records: the same documents, with `status` required."""
    records = load_documents(paths, root="history", max_bytes=max_bytes, require_status=True)
    seen: dict[str, PolicyChange] = {}
    problems = []
    for n, rec in enumerate(records):
        if rec.id in seen and seen[rec.id] != rec:
            problems.append(
                Diagnostic(
                    "D107",
                    f"two different history records share the id `{rec.id}`",
                    path=f"history[{n}].id",
                    help="ids are unique within a history; give the later version its own id",
                )
            )
        seen[rec.id] = rec
    if problems:
        raise BcmError(problems)
    return list(seen.values())


def document_sources(paths: list[str]) -> dict[str, str]:
    """File texts for rendering source frames (only small files; frames are a courtesy)."""
    out: dict[str, str] = {}
    for path in paths:
        try:
            if os.path.getsize(path) <= DEFAULT_MAX_BYTES:
                out[path] = Path(path).read_text(encoding="utf-8-sig", errors="replace")
        except OSError:
            continue
    return out
