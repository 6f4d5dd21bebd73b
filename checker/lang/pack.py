"""A pack folder to a checked pack: read the manifest and every rule file, parse each, check
them together (step two, `check.py`), and hash what was read.

A pack never reads outside its folder: files are the `.bcm` files directly inside it, in name
order; a symbolic link that leads outside is skipped with an error. Problems of every file are
collected before anything is returned.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from checker.diagnostics import BcmError, Diagnostic, Span, sort_diagnostics, suggestion_help
from checker.gcpause import cycle_collection_paused
from checker.lang import ast
from checker.lang.check import check_files
from checker.lang.checked import CheckedPack, Manifest
from checker.lang.parse import parse

MANIFEST = "pack.toml"
RULE_SUFFIX = ".bcm"
MANIFEST_KEYS = ("name", "version", "default_lang", "jurisdiction", "overrides")
# Diagnostics that mean the input could not be read at all (exit 2 of `bcm lint`), as opposed
# to input that was read and found wrong (exit 1).
UNREADABLE = frozenset({"P001", "P002"})

_LANG = re.compile(r"[a-z]{2}")
_JURISDICTION = re.compile(r"[A-Z]{2}")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_TOML_TABLE = re.compile(r"\s*\[\s*([^\]\[]+?)\s*\]\s*(#.*)?$")
_TOML_KEY = re.compile(r"\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")


class PackError(BcmError):
    """A pack that does not load: every diagnostic, and the texts to render them against."""

    def __init__(self, diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]):
        super().__init__(diagnostics)
        self.sources = dict(sources)


@dataclass
class _Reading:
    """What reading one pack (or a set of loose rule files) gathered."""

    sources: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[ast.RuleFile] = field(default_factory=list)
    digest: Any = field(default_factory=hashlib.sha256)
    source_names: dict[str, str] = field(default_factory=dict)

    def unreadable(self, message: str, span: Span | None = None, help: str | None = None) -> None:
        self.diagnostics.append(Diagnostic("P001", message, span, help=help))

    def read(self, shown: str, fs_path: str, relative: str) -> str | None:
        """Read one file: its text (UTF-8) or None with a diagnostic; hash it as read."""
        try:
            raw = _read_regular_file(fs_path)
        except OSError as err:
            self.unreadable(f"cannot read `{shown}`: {err.strerror or err}")
            return None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = raw.count(b"\n", 0, err.start) + 1
            column = (
                len(raw[raw.rfind(b"\n", 0, err.start) + 1 : err.start].decode("utf-8", "replace"))
                + 1
            )
            self.diagnostics.append(
                Diagnostic(
                    "P002",
                    f"`{shown}` is not UTF-8 text (byte 0x{raw[err.start]:02x} at line {line})",
                    Span.point(shown, line, column),
                    help="save rule files and pack.toml as UTF-8",
                )
            )
            return None
        self.digest.update(relative.encode("utf-8") + b"\0" + raw + b"\0")
        self.sources[shown] = text
        return text

    def parse(self, shown: str, text: str, source_name: str) -> None:
        try:
            self.files.append(parse(text, shown))
        except BcmError as err:
            self.diagnostics.extend(err.diagnostics)
        self.source_names[shown] = source_name


def _read_regular_file(path: str) -> bytes:
    # The path as resolved when it was found inside the pack, opened without following a link
    # put there since; a named pipe would block the reading forever, a device never end.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(os.path.realpath(path), flags)
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return stream.read()


def _inside(folder_real: str, path: str) -> bool:
    real = os.path.realpath(path)
    return os.path.commonpath([folder_real, real]) == folder_real


@cycle_collection_paused()
def _read_pack(path: str) -> tuple[CheckedPack | None, list[Diagnostic], dict[str, str]]:
    folder = os.path.normpath(path)
    reading = _Reading()
    if not os.path.isdir(folder):
        reading.unreadable(f"cannot read `{path}`: no such folder")
        return None, reading.diagnostics, reading.sources
    pack_name = os.path.basename(os.path.abspath(folder))
    folder_real = os.path.realpath(folder)
    try:
        names = sorted(os.listdir(folder))
    except OSError as err:
        reading.unreadable(f"cannot read `{path}`: {err.strerror or err}")
        return None, reading.diagnostics, reading.sources

    manifest = Manifest(name=pack_name, version="0.0.0")
    manifest_path = os.path.join(folder, MANIFEST)
    if MANIFEST in names and _within(reading, folder_real, manifest_path):
        text = reading.read(manifest_path, manifest_path, MANIFEST)
        if text is not None:
            found, problems = read_manifest(text, manifest_path, pack_name)
            reading.diagnostics.extend(problems)
            manifest = found or manifest

    rule_files = [n for n in names if n.endswith(RULE_SUFFIX)]
    for name in rule_files:
        shown = os.path.join(folder, name)
        if not _within(reading, folder_real, shown) or os.path.isdir(shown):
            continue
        text = reading.read(shown, shown, name)
        if text is not None:
            reading.parse(shown, text, f"{pack_name}/{name}")
    if not rule_files:
        reading.diagnostics.append(
            Diagnostic(
                "P009",
                f"the pack `{path}` has no rule files",
                Span.point(manifest_path, 1, 1) if manifest_path in reading.sources else None,
                help=f"a pack is a folder of `{RULE_SUFFIX}` files (and a {MANIFEST})",
            )
        )
    return _check(reading, manifest, folder)


def _within(reading: _Reading, folder_real: str, path: str) -> bool:
    if _inside(folder_real, path):
        return True
    reading.diagnostics.append(
        Diagnostic(
            "P008",
            f"`{path}` leads outside the pack folder; it was not read",
            Span.point(path, 1, 1),
            help="a pack reads only its own folder: copy the file in instead of linking it",
        )
    )
    return False


def _check(
    reading: _Reading, manifest: Manifest, root: str
) -> tuple[CheckedPack | None, list[Diagnostic], dict[str, str]]:
    pack, found = check_files(
        reading.files,
        manifest,
        reading.sources,
        root=root,
        pack_hash="sha256:" + reading.digest.hexdigest(),
        source_names=reading.source_names,
    )
    diagnostics = sort_diagnostics([*reading.diagnostics, *found])
    if any(d.is_error for d in diagnostics):
        pack = None
    return pack, diagnostics, reading.sources


@cycle_collection_paused()
def _read_loose_files(paths: Sequence[str]) -> tuple[list[Diagnostic], dict[str, str]]:
    """Rule files named one by one are checked together, as one pack with a default manifest."""
    reading = _Reading()
    for path in paths:
        if not path.endswith(RULE_SUFFIX):
            reading.unreadable(
                f"`{path}` is neither a rule file ({RULE_SUFFIX}) nor a pack folder",
                help="name a pack folder or its .bcm files",
            )
            continue
        text = reading.read(path, path, os.path.basename(path))
        if text is not None:
            reading.parse(path, text, path)
    if not reading.files and not reading.diagnostics:
        return [], reading.sources
    _, diagnostics, sources = _check(reading, Manifest(name="files", version="0.0.0"), "")
    return diagnostics, sources


# --- the manifest -----------------------------------------------------------------------------


def read_manifest(
    text: str, file: str, default_name: str = "pack"
) -> tuple[Manifest | None, list[Diagnostic]]:
    """pack.toml to a Manifest; every problem as a diagnostic located in the file."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        at = _TOML_POSITION.search(message)
        line, column = (int(at.group(1)), int(at.group(2))) if at else (1, 1)
        problem = _TOML_POSITION.sub("", message).strip()
        return None, [
            Diagnostic(
                "P003",
                f"{MANIFEST} is not valid TOML: {problem[:1].lower()}{problem[1:]}",
                Span.point(file, line, column),
                help='write `key = value` lines, texts in quotes: name = "my-pack"',
            )
        ]
    keys = _key_spans(text, file)
    problems: list[Diagnostic] = []

    def bad(key: tuple[str, ...], message: str, help: str | None, code: str = "P004") -> None:
        problems.append(
            Diagnostic(code, message, keys.get(key) or Span.point(file, 1, 1), help=help)
        )

    for key in data:
        if key not in MANIFEST_KEYS:
            bad(
                (key,),
                f"`{key}` is not a setting of {MANIFEST}",
                suggestion_help(key, MANIFEST_KEYS, "setting"),
            )
    texts: dict[str, str] = {}
    for key, required in (
        ("name", True),
        ("version", True),
        ("default_lang", False),
        ("jurisdiction", False),
    ):
        value = data.get(key)
        if value is None:
            if required:
                problems.append(
                    Diagnostic(
                        "P004",
                        f"{MANIFEST} has no `{key}`",
                        Span.point(file, 1, 1),
                        help=f'add `{key} = "..."`: reports name the pack by its name and version',
                    )
                )
            continue
        if not isinstance(value, str) or not value.strip():
            bad((key,), f"`{key}` must be a text in quotes", f'write `{key} = "..."`')
            continue
        texts[key] = value
    lang = texts.get("default_lang", "en")
    if not _LANG.fullmatch(lang):
        bad(
            ("default_lang",),
            f"`{lang}` is not a language code",
            "write a two-letter lower-case code such as `en` or `ja`",
        )
    jurisdiction = texts.get("jurisdiction")
    if jurisdiction is not None and not _JURISDICTION.fullmatch(jurisdiction):
        bad(
            ("jurisdiction",),
            f"`{jurisdiction}` is not an ISO 3166-1 alpha-2 code",
            "write two capital letters, e.g. JP",
        )

    overrides: dict[str, dict[str, ast.Number]] = {}
    raw_overrides = data.get("overrides", {})
    if not isinstance(raw_overrides, dict):
        bad(
            ("overrides",),
            "`overrides` must be tables of parameter values",
            'write `[overrides.JP]` and then `name = "120 days"` lines',
        )
        raw_overrides = {}
    for code, values in raw_overrides.items():
        table = ("overrides", code)
        if not _JURISDICTION.fullmatch(code):
            bad(
                table,
                f"`{code}` is not an ISO 3166-1 alpha-2 code",
                "name the jurisdiction with two capital letters: [overrides.JP]",
            )
            continue
        if not isinstance(values, dict):
            bad(
                table,
                f"`overrides.{code}` must be a table of parameter values",
                f'write `[overrides.{code}]` and then `name = "120 days"` lines',
            )
            continue
        overrides[code] = {}
        for name, value in values.items():
            span = keys.get((*table, name)) or Span.point(file, 1, 1)
            number = _override_number(value)
            if number is None:
                problems.append(
                    Diagnostic(
                        "P005",
                        f"the override `{name}` = {_toml_text(value)} is not a number with a unit",
                        span,
                        help='write a number and its unit as in a rule file: "120 days", "10%", 3',
                    )
                )
                continue
            overrides[code][name] = ast.Number(number.value, number.unit, span=span)
    if problems:
        return None, problems
    return (
        Manifest(
            name=texts.get("name", default_name),
            version=texts.get("version", "0.0.0"),
            default_lang=lang,
            jurisdiction=jurisdiction,
            overrides=overrides,
        ),
        [],
    )


def _toml_text(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _override_number(value: Any) -> ast.Number | None:
    """A parameter value from the manifest, read with the number syntax of the language."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        return None
    if "\n" in text or "#" in text:
        return None
    try:
        parsed = parse(f"param override = {text}", MANIFEST)
    except BcmError:
        return None
    if len(parsed.params) != 1 or parsed.principles or parsed.defines:
        return None
    return parsed.params[0].value


def _key_spans(text: str, file: str) -> dict[tuple[str, ...], Span]:
    """Where each key of a TOML text stands, by its full dotted path (tables included).

    tomllib does not report positions; a line scan finds them for the simple layouts a
    manifest uses (`[table.sub]` headers and `key = value` lines).
    """
    spans: dict[tuple[str, ...], Span] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _TOML_TABLE.match(line)
        if header is not None and not line.lstrip().startswith("[["):
            table = tuple(_toml_key_parts(header.group(1)))
            start = line.index("[") + 1
            spans.setdefault(table, Span(file, number, start, number, len(line.rstrip()) + 1))
            continue
        key = _TOML_KEY.match(line)
        if key is None or line.lstrip().startswith("#"):
            continue
        parts = tuple(_toml_key_parts(key.group(1)))
        start = key.start(1) + 1
        end = len(line.split("#", 1)[0].rstrip()) + 1 if '"' not in line else len(line.rstrip()) + 1
        spans.setdefault((*table, *parts), Span(file, number, start, number, max(end, start + 1)))
    return spans


def _toml_key_parts(dotted: str) -> list[str]:
    return [part.strip().strip("\"'") for part in dotted.split(".")]


# --- what others call -------------------------------------------------------------------------


def load_checked_pack(path: str) -> CheckedPack:
    """Load a pack folder: pack.toml (defaults when absent) and its .bcm files.

    Raises PackError (a BcmError) with every diagnostic, and the texts to render them, when
    the pack has any error; warnings travel in `CheckedPack.warnings`.
    """
    pack, diagnostics, sources = _read_pack(path)
    if pack is None:
        raise PackError(diagnostics, sources)
    return pack


def lint_paths(paths: Sequence[str]) -> tuple[list[Diagnostic], dict[str, str]]:
    """What `bcm lint` reports for pack folders and rule files: every diagnostic, sorted, and
    the texts of the files read, to render them against.

    A folder is a pack (with its pack.toml, or default settings when it has none); rule files
    named one by one are checked together as one pack.
    """
    diagnostics: list[Diagnostic] = []
    sources: dict[str, str] = {}
    loose: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            _, found, texts = _read_pack(path)
            diagnostics.extend(found)
            sources.update(texts)
        elif os.path.isfile(path):
            loose.append(path)
        else:
            diagnostics.append(Diagnostic("P001", f"cannot read `{path}`: no such file or folder"))
    if loose:
        found, texts = _read_loose_files(loose)
        diagnostics.extend(found)
        sources.update(texts)
    return sort_diagnostics(diagnostics), sources
