"""The HTTP API: FastAPI on uvicorn, a thin adapter over the Python API (`checker.api`), the
history store (`checker.store`) and the trajectory (`checker.trajectory`).

Request bodies are read by the service itself, not by FastAPI: the size limit then holds while
the body is read (a Content-Length is not trusted), numbers stay exact (a JSON number becomes a
Decimal, as in `bcm check`), a key given twice is refused, and every problem comes back with its
JSON path, its line and column in the body, and the words `bcm validate` uses. The OpenAPI
description is still generated from the pydantic models that validate those bodies.

Errors are `application/problem+json` (RFC 9457) with one entry per problem in `errors`. Bad
input is a 4xx, never a 500; a 500 carries an incident id that is also in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import http
import json
import logging
import os
import re
import signal
import threading
import time
import uuid
import warnings
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Final, Literal, TypeVar

from fastapi import FastAPI, Query, Request
from fastapi import Path as Path_
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from checker import __version__
from checker.api import History, Pack, load_pack
from checker.diagnostics import BcmError, Diagnostic, Span, render_all
from checker.documents import Area, PackInfo, PolicyChange, Report, Status
from checker.loading import (
    MAX_PROBLEMS,
    Location,
    PathKey,
    RawDocument,
    _index_json,
    _json_error,
    _json_loads,
    format_path,
    validate,
)
from checker.store import record_json
from checker.trajectory import Trajectory, trajectory
from checker.workers import NoWorkerAnswer, WorkerPool, report_json

log = logging.getLogger("bcm.service")

MiB = 1024 * 1024
MAX_HEAD_BYTES = 64 * 1024  # a request line and headers; a bearer token is a few dozen bytes
BODY = "request"  # the name a body's problems give as their file
STORE_RECHECK_SECONDS = 1.0
T = TypeVar("T")

# --- settings -------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    """The form in which the service keeps a token: sha256, hex. A token file holds these."""
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def read_token_file(path: str | os.PathLike[str]) -> frozenset[str]:
    """Hashed tokens, one per line (`sha256:` prefix allowed); blank lines and # comments skipped.

    A line that is not a sha256 digest is refused: a plain token written there by mistake
    would otherwise never match and fail silently.
    """
    hashes: set[str] = set()
    problems: list[Diagnostic] = []
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise BcmError(
            [Diagnostic("A001", f"cannot read the token file `{shown}`: {err.strerror or err}")]
        ) from None
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip().lower().removeprefix("sha256:")
        if not entry:
            continue
        if len(entry) != 64 or any(c not in "0123456789abcdef" for c in entry):
            # No source frame: the line may be a token written in the clear, and must not
            # reach a log.
            problems.append(
                Diagnostic(
                    "A002",
                    f"line {number} of the token file `{shown}` is not a sha256 digest",
                    help='write the sha256 of each token, e.g. `printf %s "$TOKEN" | sha256sum`',
                )
            )
            continue
        hashes.add(entry)
    if problems:
        raise BcmError(problems)
    return frozenset(hashes)


def tokens_from_environment(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The hashes of the tokens in BCM_API_TOKENS (comma-separated, in the clear)."""
    raw = (os.environ if environ is None else environ).get("BCM_API_TOKENS", "")
    return frozenset(hash_token(t) for t in raw.split(",") if t.strip())


@dataclasses.dataclass(frozen=True)
class ServiceSettings:
    """What `bcm serve` is told; every limit has a default that suits a single machine."""

    rules: Path = Path("rules")
    db: str | None = None  # the history store's URL; None: the store's own default
    token_hashes: frozenset[str] = frozenset()  # sha256 hex of the accepted bearer tokens
    token_file: Path | None = None  # more hashes, read at start and again on every reload
    require_token_for_checks: bool = False
    max_body_bytes: int = 1 * MiB
    max_batch: int = 100  # proposals per POST /v1/check/batch
    max_history_records: int = 10_000  # records per request (inline history, import)
    check_timeout: float = 10.0  # seconds for one request's checking work
    engine_workers: int = 0  # engine worker processes; 0 checks in the service's process
    check_threads: int = 0  # threads that run checks; 0: enough for the engine workers
    reload_on_sighup: bool = False  # set by `bcm serve`; tests drive reloads over HTTP

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, **given: Any
    ) -> ServiceSettings:
        """Settings from BCM_API_TOKENS and BCM_DATABASE_URL, then the arguments given."""
        env = os.environ if environ is None else environ
        hashes = tokens_from_environment(env) | frozenset(given.pop("token_hashes", ()))
        if given.get("db") is None and env.get("BCM_DATABASE_URL"):
            given["db"] = env["BCM_DATABASE_URL"]
        return cls(token_hashes=hashes, **given)

    @property
    def threads(self) -> int:
        return self.check_threads or max(4, 2 * self.engine_workers)


# --- the models of the API ------------------------------------------------------------------

Lang = Literal["en", "ja"]
# A parameter override as a person writes it ("1000 days", "10%") or a bare number; its
# checking (unit, name) is the Python API's, which locates it at `params.<name>`.
ParamInput = Annotated[Any, WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "number"}]})]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckRequest(_Body):
    """One proposal to check; without `history`, the stored history of its jurisdiction."""

    proposal: PolicyChange
    history: list[PolicyChange] | None = Field(
        default=None,
        description="history records to check against instead of the stored history; "
        "each needs `status`",
    )
    lang: Lang | None = Field(default=None, description="language of messages; the pack's default")
    params: dict[str, ParamInput] = Field(
        default_factory=dict,
        description='parameter overrides for this check, e.g. {"reversal_window": "1000 days"}',
        examples=[{"reversal_window": "1000 days"}],
    )


class BatchRequest(_Body):
    """Several proposals, checked against one history; one report each, in the order given."""

    proposals: list[PolicyChange] = Field(min_length=1)
    history: list[PolicyChange] | None = None
    lang: Lang | None = None
    params: dict[str, ParamInput] = Field(default_factory=dict)


class ExplainRequest(_Body):
    """One proposal and one rule: which of the rule's conditions held."""

    proposal: PolicyChange
    rule: str = Field(min_length=1, examples=["oscillation"])
    history: list[PolicyChange] | None = None
    lang: Lang | None = None
    params: dict[str, ParamInput] = Field(default_factory=dict)


RuleFileName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+\.bcm$", examples=["mine.bcm"])]


class LintRequest(_Body):
    """Rule text in, diagnostics out. Nothing is written anywhere."""

    files: dict[RuleFileName, str] = Field(
        min_length=1, description='rule files by name: `{"mine.bcm": "principle ..."}`'
    )
    manifest: str | None = Field(default=None, description="the text of a pack.toml")
    with_loaded_pack: bool = Field(
        default=False,
        description="check the files together with the loaded pack's own files (a file of the "
        "same name replaces the pack's), as a change to that pack",
    )


class HistoryImport(_Body):
    """Records to add to one jurisdiction's history: all of them or, on any problem, none."""

    records: list[PolicyChange] = Field(min_length=1)
    replace: bool = Field(
        default=False,
        description="a record whose id is stored with other content becomes a new version "
        "(the old one is kept) instead of an error",
    )


class ProblemItem(BaseModel):
    """One problem: where it is (a JSON path in the body, or a place in a rule file), what it
    is, and how to fix it."""

    code: str
    level: str = "error"
    message: str
    path: str | None = None
    help: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    notes: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, diagnostic: Diagnostic) -> ProblemItem:
        return cls.model_validate(diagnostic.to_dict())

    def document(self) -> dict[str, Any]:
        """As JSON: `path` and `help` always (null when there is none), a place in a file
        only when there is one."""
        always = ("code", "level", "message", "path", "help")
        return {
            k: v
            for k, v in self.model_dump(mode="json").items()
            if k in always or (v is not None and v != [])
        }


class Problem(BaseModel):
    """An error, as RFC 9457 describes it, with every problem found in `errors`."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemItem] = Field(default_factory=list)
    incident: str | None = Field(default=None, description="in the server's log; 500 only")


class ParameterDescription(BaseModel):
    name: str
    value: str = Field(description="as written in the rules", examples=["1461 days"])
    amount: str = Field(description="the number, exact", examples=["1461"])
    unit: str | None = None
    principle: str | None = None
    overrides: dict[str, str] = Field(
        default_factory=dict, description="jurisdiction → value, from pack.toml"
    )


class RuleDescription(BaseModel):
    id: str
    principle: str
    kind: str
    source: str


class PrincipleDescription(BaseModel):
    id: str
    titles: dict[str, str]
    rules: list[str]


class PackDescription(BaseModel):
    name: str
    version: str
    hash: str
    default_lang: str
    jurisdiction: str | None
    principles: list[PrincipleDescription]
    rules: list[RuleDescription]
    parameters: list[ParameterDescription]
    warnings: list[ProblemItem] = Field(default_factory=list)


class LintResult(BaseModel):
    ok: bool = Field(description="no error diagnostics (warnings allowed)")
    errors: int
    warnings: int
    diagnostics: list[ProblemItem]


class ReloadResult(BaseModel):
    pack: PackInfo
    previous: PackInfo
    changed: bool
    warnings: list[ProblemItem] = Field(default_factory=list)


class ExplainStep(BaseModel):
    """A condition (or a value) of the rule, with its value and whether it held."""

    expression: str
    value: str = Field(description="the value, as a report would print it")
    held: bool | None = Field(description="null for a value that is not a condition")
    label: str | None = None
    line: int | None = None
    column: int | None = None
    children: list[ExplainStep] = Field(default_factory=list)


class Explanation(BaseModel):
    rule: str
    principle: str
    kind: str
    source: str
    proposal: str
    fired: bool
    severity: str | None
    lets: list[ExplainStep]
    missing: str | None = Field(description="the let whose query found no record, if any")
    when: ExplainStep | None
    severity_steps: list[ExplainStep]
    text: str = Field(description="the explanation as `bcm explain` prints it")


class Health(BaseModel):
    status: str
    version: str = __version__


class Readiness(BaseModel):
    status: str
    pack: PackInfo | None = None
    store: str
    reasons: list[str] = Field(default_factory=list)


# --- problems -------------------------------------------------------------------------------


class ProblemError(Exception):
    """A request the service refuses, with the problem document that says why."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        diagnostics: Sequence[Diagnostic] = (),
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.diagnostics = list(diagnostics)
        self.headers = dict(headers or {})


PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_response(
    status: int,
    kind: str | None,
    detail: str | None,
    instance: str | None,
    diagnostics: Sequence[Diagnostic] = (),
    headers: Mapping[str, str] | None = None,
    incident: str | None = None,
) -> JSONResponse:
    problem = Problem(
        type=f"urn:bcm:problem:{kind}" if kind else "about:blank",
        title=http.HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance,
        errors=[ProblemItem.of(d) for d in diagnostics],
        incident=incident,
    )
    document = {k: v for k, v in problem.model_dump(mode="json").items() if v is not None}
    document["errors"] = [item.document() for item in problem.errors]
    return JSONResponse(
        document,
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _invalid(diagnostics: Sequence[Diagnostic], what: str = "the request") -> ProblemError:
    shown = list(diagnostics[:MAX_PROBLEMS])
    if len(diagnostics) > MAX_PROBLEMS:
        # 10,000 empty records would otherwise answer a 60 KB request with 26 MB of problems.
        shown.append(
            Diagnostic(
                "D012",
                f"more than {MAX_PROBLEMS} problems: the first {MAX_PROBLEMS} are shown",
                help="mend these (often one mistake repeated in every record) and send again",
            )
        )
    many = shown[-1].code == "D012" if shown else False
    detail = f"more than {MAX_PROBLEMS} problems" if many else _count(len(shown), "problem")
    return ProblemError(422, "invalid", f"{what} has {detail}", shown)


# --- reading bodies -------------------------------------------------------------------------

_JSON_TYPES = ("application/json",)


def _require_json(request: Request) -> None:
    raw = request.headers.get("content-type")
    media, _, params = (raw or "").partition(";")
    media = media.strip().lower()
    if media not in _JSON_TYPES and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        shown = f"`{raw}`" if raw else "no Content-Type"
        raise ProblemError(
            415,
            "unsupported-media-type",
            f"the body must be JSON (Content-Type: application/json), not {shown}",
            headers={"Accept-Post": "application/json"},
        )
    charset = [p.split("=", 1)[1].strip().strip('"').lower() for p in params.split(";") if "=" in p]
    if charset and charset[0] not in ("utf-8", "utf8"):
        raise ProblemError(
            415,
            "unsupported-media-type",
            f"JSON is UTF-8; the body says charset={charset[0]}",
            headers={"Accept-Post": "application/json"},
        )


# A client that is refused mid-body may still be sending; reading (and dropping) a bounded
# amount more lets it see the 413 instead of a reset connection.
_DRAIN_FACTOR = 8


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` bytes, whatever it declared."""
    too_large = ProblemError(
        413,
        "body-too-large",
        f"the body is over the limit of {_size(limit)}",
        headers={"Connection": "close"},
    )
    declared = request.headers.get("content-length", "")
    chunks: list[bytes] = []
    size = 0
    over = declared.isdigit() and int(declared) > limit
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            over = True
        if over:
            if size > limit * _DRAIN_FACTOR:
                break
            continue
        chunks.append(chunk)
    if over:
        raise too_large
    return b"".join(chunks)


def _size(n: int) -> str:
    if n >= MiB and n % MiB == 0:
        return f"{n // MiB} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


@dataclasses.dataclass
class JsonBody:
    data: Any
    text: str
    _found: tuple[dict[PathKey, Location], dict[PathKey, Location]] | None = None
    shallow: bool = False  # fewer brackets in the text than MAX_DEPTH: no value nests deeper

    def document(self, data: Any | None = None) -> RawDocument:
        """The body (or a part of it, standing where it stands in the body) as a raw document
        that finds its line and column positions only when a problem needs them."""
        return RawDocument(
            self.data if data is None else data,
            BODY,
            (),
            {},
            {},
            self._positions,
            shallow=self.shallow,
        )

    def _positions(self) -> tuple[dict[PathKey, Location], dict[PathKey, Location]]:
        if self._found is None:
            self._found = _index_json(self.text, 1, ())
        return self._found


def parse_json(body: bytes) -> JsonBody:
    """JSON text to values as `bcm check` reads documents: exact numbers, no NaN, no key twice."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ProblemError(
            400,
            "malformed",
            "the body is not UTF-8",
            [
                Diagnostic(
                    "D007",
                    f"the body is not UTF-8 text (byte 0x{body[err.start]:02x} at offset "
                    f"{err.start})",
                    help="send JSON as UTF-8",
                )
            ],
        ) from None
    if not text.strip():
        raise ProblemError(
            400, "malformed", "the body is empty", [Diagnostic("D009", "the body is empty")]
        )
    try:
        data = _json_loads(text)
    except RecursionError:
        raise ProblemError(
            400,
            "malformed",
            "the body is not valid JSON",
            [Diagnostic("D002", "the JSON is nested too deeply", Span.point(BODY, 1, 1))],
        ) from None
    except ValueError as err:
        raise ProblemError(
            400, "malformed", "the body is not valid JSON", [_json_error(BODY, text, err)]
        ) from None
    # Every object and list of the data opened with a bracket of the text: with fewer
    # brackets than MAX_DEPTH nothing can nest deeper, and the walk over the values is skipped.
    shallow = text.count("{") + text.count("[") < MAX_DEPTH
    deepest = None if shallow else _deepest(data)
    if deepest is not None:
        raise _invalid(
            [
                Diagnostic(
                    "A014",
                    f"a value is nested more than {MAX_DEPTH} levels deep",
                    path=format_path("", deepest),
                    help="a policy-change document is a few levels deep; flatten `extensions`",
                )
            ]
        )
    if _LARGE_EXPONENT.search(text):
        problems = list(_numbers_out_of_range(data, ()))
        if problems:
            raise _invalid(problems)
    return JsonBody(data, text, shallow=shallow)


# The document model and the rule engine walk values recursively; far below the depth where
# that fails, no document has any use for more.
MAX_DEPTH = 64


def _deepest(data: Any) -> tuple[str | int, ...] | None:
    """The path of a value nested deeper than MAX_DEPTH, or None."""
    if not isinstance(data, dict | list):
        return None  # a bare number, string, true, false or null: the caller says what it wants
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return _path_deeper_than(data, MAX_DEPTH)
        items = value.values() if isinstance(value, dict) else value
        stack.extend((item, depth + 1) for item in items if isinstance(item, dict | list))
    return None


def _path_deeper_than(data: Any, depth: int) -> tuple[str | int, ...]:
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > depth:
            return path
        items = value.items() if isinstance(value, dict) else enumerate(value)
        stack.extend((v, (*path, k)) for k, v in items if isinstance(v, dict | list))
    return ()


# JSON allows 1e999999999, and an exact decimal holds it; but turning it into a whole number,
# or writing it out in full, takes a long time and much memory in one thread that holds the
# interpreter. No figure of a policy document comes near 10^1000.
MAX_EXPONENT = 1000
_LARGE_EXPONENT = re.compile(r"[0-9][eE][+-]?0*[0-9]{4,}")


def _numbers_out_of_range(value: Any, path: tuple[str | int, ...]) -> Iterator[Diagnostic]:
    if isinstance(value, Decimal):
        if value.is_finite() and abs(value.adjusted()) > MAX_EXPONENT:
            yield _out_of_range(str(value), path)
    elif isinstance(value, str):
        # A parameter override is a number written as text ("1e9999999 days").
        if path[:1] == ("params",) and _LARGE_EXPONENT.search(value):
            yield _out_of_range(value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers_out_of_range(item, (*path, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _numbers_out_of_range(item, (*path, n))


def _out_of_range(shown: str, path: tuple[str | int, ...]) -> Diagnostic:
    return Diagnostic(
        "A013",
        f"`{shown[:40]}` is out of range: numbers stay within 10^-{MAX_EXPONENT} and "
        f"10^{MAX_EXPONENT}",
        path=format_path("", path),
        help="write the figure as it is measured, without an exponent this large",
    )


M = TypeVar("M", bound=BaseModel)


def validate_body(
    body: JsonBody,
    model: type[M],
    *,
    history_fields: Sequence[str] = (),
    data: Any | None = None,
) -> M:
    """The body as `model`, or 422 with every problem located by path, line and column.

    The lists named by `history_fields` hold history records, which must say their `status`.
    """
    value = body.data if data is None else data
    if not isinstance(value, dict):
        found = "a list" if isinstance(value, list) else "a single value"
        fields = ", ".join(f"`{name}`" for name, f in model.model_fields.items() if f.is_required())
        raise _invalid(
            [
                Diagnostic(
                    "D010",
                    f"expected a JSON object, found {found}",
                    Span.point(BODY, 1, 1),
                    path="(body)",
                    help=f"send an object with {fields}",
                )
            ]
        )
    raw = body.document(value)
    parsed, problems = validate(raw, "", model)
    problems.extend(_missing_statuses(value, history_fields, raw))
    if problems:
        raise _invalid(problems)
    return parsed  # type: ignore[no-any-return]


def _missing_statuses(
    data: Mapping[str, Any], fields: Sequence[str], raw: RawDocument
) -> list[Diagnostic]:
    problems = []
    for name in fields:
        records = data.get(name)
        if not isinstance(records, list):
            continue
        for n, record in enumerate(records):
            if isinstance(record, dict) and "status" not in record:
                at = raw.located()[0].get((name, n))
                problems.append(
                    Diagnostic(
                        "D101",
                        "missing required field `status`",
                        Span.point(BODY, *at) if at else None,
                        path=format_path("", (name, n, "status")),
                        help="a history record says whether it was `enacted`, `withdrawn`, ...",
                    )
                )
    return problems


# --- the service's state --------------------------------------------------------------------


@dataclasses.dataclass
class _Loaded:
    """A pack in force, and how many checks are using it (a replaced pack closes when the
    last check that holds it is done)."""

    pack: Pack
    users: int = 0
    retired: bool = False
    description: PackDescription | None = None


class _LruHistories:
    """Histories sent inline, by content: the same history twice is validated and made
    resident in the engine once."""

    def __init__(self, size: int = 16):
        self.size = size
        self._items: OrderedDict[str, History] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(records: Any) -> str:
        # The same records in another key order only miss the cache; sorting keys would cost
        # more than it saves.
        text = json.dumps(records, default=str, check_circular=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get(self, key: str) -> History | None:
        with self._lock:
            history = self._items.get(key)
            if history is not None:
                self._items.move_to_end(key)
            return history

    def put(self, key: str, history: History) -> None:
        with self._lock:
            self._items[key] = history
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class Service:
    """What the endpoints share: the pack in force, the history store, the check threads."""

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self.executor = ThreadPoolExecutor(settings.threads, thread_name_prefix="bcm-check")
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._token_hashes = settings.token_hashes | self._file_tokens()
        self._loaded = _Loaded(self._load())
        self._inline = _LruHistories()
        self._store: Any = None
        self._store_lock = threading.Lock()
        self.reload_listeners: list[Callable[[], None]] = []
        self._recent_histories: dict[str, tuple[float, History]] = {}

    # --- the pack

    def _load(self) -> Pack:
        return load_pack(
            self.settings.rules,
            workers=self.settings.engine_workers,
            timeout=self.settings.check_timeout,
        )

    def _file_tokens(self) -> frozenset[str]:
        if self.settings.token_file is None:
            return frozenset()
        return read_token_file(self.settings.token_file)

    @property
    def pack(self) -> Pack:
        return self._loaded.pack

    @staticmethod
    def pool_of(pack: Pack) -> WorkerPool | None:
        """The engine worker processes of a pack, or None when it checks in this process."""
        runner = pack._runner
        return runner if isinstance(runner, WorkerPool) and runner.size > 0 else None

    @contextlib.contextmanager
    def using_pack(self) -> Iterator[Pack]:
        with self._lock:
            loaded = self._loaded
            loaded.users += 1
        try:
            yield loaded.pack
        finally:
            with self._lock:
                loaded.users -= 1
                done = loaded.retired and loaded.users == 0
            if done:
                loaded.pack.close()

    def reload(self) -> tuple[Pack, Pack]:
        """Load the rule directory again and put it in force; on any error the pack in force
        stays and the BcmError (with every diagnostic) goes to the caller. The token file is
        read again too."""
        with self._reload_lock:
            tokens = self.settings.token_hashes | self._file_tokens()
            fresh = self._load()
            with self._lock:
                old = self._loaded
                self._loaded = _Loaded(fresh)
                self._token_hashes = tokens
                old.retired = True
                done = old.users == 0
            if done:
                old.pack.close()
            for listener in self.reload_listeners:
                listener()
            return fresh, old.pack

    def description(self) -> PackDescription:
        loaded = self._loaded
        if loaded.description is None:
            loaded.description = describe_pack(loaded.pack)
        return loaded.description

    # --- tokens

    def authorize(self, request: Request, *, write: bool) -> None:
        if not write and not self.settings.require_token_for_checks:
            return
        challenge = 'Bearer realm="bcm"'
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ProblemError(
                401,
                "unauthorized",
                "this request needs a bearer token: `Authorization: Bearer <token>`",
                headers={"WWW-Authenticate": challenge},
            )
        presented = hash_token(token)
        accepted = False
        for known in self._token_hashes:  # every one, so timing says nothing about which
            accepted |= hmac.compare_digest(presented, known)
        if not accepted:
            raise ProblemError(
                401,
                "unauthorized",
                "the bearer token is not accepted",
                headers={"WWW-Authenticate": f'{challenge}, error="invalid_token"'},
            )

    # --- the history store

    def open_store(self) -> Any:
        """The history store, opened on first use and again after a failure (a database that
        was down at start may be up now); BcmError (H001) when it cannot be opened."""
        with self._store_lock:
            if self._store is None:
                from checker.store import Store

                self._store = Store(self.settings.db)
            return self._store

    def stored_history(self, jurisdiction: str) -> History:
        """The stored history of a jurisdiction, kept resident while the store is unchanged.

        Whether the store changed is asked at most once every STORE_RECHECK_SECONDS per
        jurisdiction (the question costs a database round trip, a good part of a check); an
        import through this service is seen at once, one by another process within that time.
        """
        now = time.monotonic()
        recent = self._recent_histories.get(jurisdiction)
        if recent is not None and now - recent[0] < STORE_RECHECK_SECONDS:
            return recent[1]
        history: History = self.open_store().history(jurisdiction)
        self._recent_histories[jurisdiction] = (now, history)
        return history

    def store_changed(self) -> None:
        self._recent_histories.clear()

    def inline_history(self, body: JsonBody, field: str = "history") -> History | None:
        """A history sent with the request, validated once per distinct content."""
        records = body.data.get(field) if isinstance(body.data, dict) else None
        if records is None:
            return None
        limit = self.settings.max_history_records
        if isinstance(records, list) and len(records) > limit:
            raise ProblemError(
                422,
                "too-many-records",
                f"a request may carry at most {limit} history records; this one has {len(records)}",
                [
                    Diagnostic(
                        "A010",
                        f"{len(records)} history records, over the limit of {limit}",
                        path=field,
                        help="store the history (POST /v1/history/{jurisdiction}) and leave "
                        "`history` out, or send fewer records",
                    )
                ],
            )
        key = self._inline.key(records)
        history = self._inline.get(key)
        if history is None:
            wrapped = validate_body(
                body, _HistoryOnly, history_fields=("history",), data={"history": records}
            )
            try:
                history = History(wrapped.history)
            except BcmError as err:
                raise _invalid(err.diagnostics) from None
            self._inline.put(key, history)
        return history

    # --- reading bodies, running work within the time limit

    async def body(self, request: Request) -> bytes:
        _require_json(request)
        return await read_body(request, self.settings.max_body_bytes)

    async def run(self, work: Callable[[], T]) -> T:
        future = self.executor.submit(work)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.settings.check_timeout)
        except TimeoutError:
            future.cancel()
            raise ProblemError(
                503,
                "timeout",
                f"the check did not finish within the limit of {self.settings.check_timeout:g} s",
                headers={"Retry-After": "1"},
            ) from None

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._loaded.retired = True
            idle = self._loaded.users == 0
        if idle:
            self._loaded.pack.close()
        if self._store is not None and hasattr(self._store, "close"):
            self._store.close()


class _HistoryOnly(_Body):
    history: list[PolicyChange]


# --- translating to and from the Python API -------------------------------------------------


def describe_pack(pack: Pack) -> PackDescription:
    checked = pack.checked
    defaults = pack.settings(None, None)
    overrides = {code: pack.settings(None, code) for code in sorted(checked.manifest.overrides)}
    parameters = []
    for name, setting in defaults.items():
        info = checked.params[name]
        parameters.append(
            ParameterDescription(
                name=name,
                value=setting.display,
                amount=format(info.default.value, "f"),
                unit=info.unit,
                principle=info.principle,
                overrides={
                    code: values[name].display
                    for code, values in overrides.items()
                    if name in checked.manifest.overrides[code]
                },
            )
        )
    principles = [
        PrincipleDescription(
            id=pid,
            titles={t.lang: t.text for t in principle.titles},
            rules=[r.id for r in checked.rules if r.principle == pid],
        )
        for pid, principle in checked.principles.items()
    ]
    return PackDescription(
        name=checked.manifest.name,
        version=checked.manifest.version,
        hash=checked.hash,
        default_lang=checked.manifest.default_lang,
        jurisdiction=checked.manifest.jurisdiction,
        principles=principles,
        rules=[
            RuleDescription(id=r.id, principle=r.principle, kind=r.kind, source=r.source)
            for r in checked.rules
        ],
        parameters=parameters,
        warnings=[ProblemItem.of(d) for d in checked.warnings],
    )


def locate_params(
    pack: Pack, err: BcmError, params: Mapping[str, Any], jurisdiction: str
) -> BcmError:
    """The parameter problems of a check, each at `params.<name>`."""
    if not any(d.code in ("P010", "P011") and d.path is None for d in err.diagnostics):
        return err
    located: list[Diagnostic] = [
        d for d in err.diagnostics if not (d.code in ("P010", "P011") and d.path is None)
    ]
    for name, value in params.items():
        try:
            pack.settings({name: value}, jurisdiction)
        except BcmError as one:
            located.extend(
                dataclasses.replace(d, path=format_path("", ("params", name)))
                for d in one.diagnostics
            )
    return BcmError(located)


def lint_texts(
    files: Mapping[str, str], manifest_text: str | None, base: Pack | None
) -> list[Diagnostic]:
    """Diagnostics for rule texts, checked as one pack (with the loaded pack's files, when
    `base` is given), in memory: nothing is read from or written to disk."""
    from checker.lang.check import check_files
    from checker.lang.checked import Manifest
    from checker.lang.pack import MANIFEST, RULE_SUFFIX, read_manifest
    from checker.lang.parse import parse

    diagnostics: list[Diagnostic] = []
    texts: dict[str, str] = {}
    manifest = Manifest(name="lint", version="0.0.0")
    if base is not None:
        manifest = base.checked.manifest
        for shown, text in base.checked.sources.items():
            name = os.path.basename(shown)
            if name.endswith(RULE_SUFFIX) and name not in files:
                texts[name] = text
    texts.update(files)
    sources = dict(texts)
    if manifest_text is not None:
        given, problems = read_manifest(manifest_text, MANIFEST, manifest.name)
        diagnostics.extend(problems)
        manifest = given or manifest
        sources[MANIFEST] = manifest_text
    parsed = []
    for name in sorted(texts):
        try:
            parsed.append(parse(texts[name], name))
        except BcmError as err:
            diagnostics.extend(err.diagnostics)
    _, checked = check_files(parsed, manifest, sources)
    diagnostics.extend(checked)
    if base is not None:
        # The loaded pack's own files are context; their diagnostics are the pack's, not these.
        own = set(files) | {MANIFEST}
        diagnostics = [d for d in diagnostics if d.span is None or d.span.file in own]
    from checker.diagnostics import sort_diagnostics

    return sort_diagnostics(diagnostics)


def explanation_model(found: Any, lang: str) -> Explanation:
    """The reference evaluator's explanation (checker.reference.Explanation) as JSON."""
    from checker.semantics import format_value

    def step(s: Any) -> ExplainStep:
        return ExplainStep(
            expression=s.text,
            value=format_value(s.value, s.type, lang),
            held=s.held,
            label=s.label,
            line=s.span.line if s.span else None,
            column=s.span.column if s.span else None,
            children=[step(c) for c in s.children],
        )

    return Explanation(
        rule=found.rule.id,
        principle=found.rule.principle,
        kind=found.rule.kind,
        source=found.rule.source,
        proposal=found.proposal,
        fired=found.fired,
        severity=found.severity,
        lets=[step(s) for s in found.lets],
        missing=found.missing,
        when=step(found.when) if found.when is not None else None,
        severity_steps=[step(s) for s in found.severity_steps],
        text=found.render(lang),
    )


# --- the work of each endpoint, run in a check thread ----------------------------------------


def _without(data: Any, field: str) -> Any:
    return {k: v for k, v in data.items() if k != field} if isinstance(data, dict) else data


def _parse_with_history(
    service: Service, body: JsonBody, model: type[M]
) -> tuple[M, History | None]:
    """A request and the history it carries, validated together: all problems at once."""
    problems: list[Diagnostic] = []
    history: History | None = None
    data = body.data
    if isinstance(data, dict) and data.get("history") is not None:
        try:
            history = service.inline_history(body)
        except ProblemError as err:
            if err.kind != "invalid":
                raise
            problems.extend(err.diagnostics)
        data = _without(data, "history")
    try:
        request = validate_body(body, model, data=data)
    except ProblemError as err:
        if err.kind != "invalid" or not isinstance(data, dict):
            raise
        raise _invalid([*problems, *err.diagnostics]) from None
    if problems:
        raise _invalid(problems)
    return request, history


def _stored_history(service: Service, jurisdiction: str) -> History:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return service.stored_history(jurisdiction)
    except (BcmError, SQLAlchemyError) as err:
        diagnostics = err.diagnostics if isinstance(err, BcmError) else []
        raise ProblemError(
            503,
            "store-unavailable",
            "the history store cannot be read; send the history with the request "
            "(`history`) or try again",
            diagnostics,
            headers={"Retry-After": "5"},
        ) from None


def _checked(pack: Pack, work: Callable[[], T], params: Mapping[str, Any], jurisdiction: str) -> T:
    try:
        return work()
    except BcmError as err:
        raise _invalid(locate_params(pack, err, params, jurisdiction).diagnostics) from None


def _work_check(service: Service, raw: bytes) -> bytes:
    """The report's JSON.

    With engine workers, a body that names its proposal's jurisdiction and carries no history
    goes to a worker as it came: the worker reads, validates and checks it and makes the whole
    report, and this process only finds the stored history (from a quick look at the body) and
    passes bytes one way and the other. Everything else is read and validated here: no
    workers, a history in the body, a body the worker finds not valid (said here, located),
    or a check no worker could answer (the reference evaluator's, marked)."""
    jurisdiction = _jurisdiction_at_a_glance(raw)
    lost: NoWorkerAnswer | None = None
    if jurisdiction is not None:
        with service.using_pack() as pack:
            pool = service.pool_of(pack)
            if pool is not None:
                try:
                    history = _stored_history(service, jurisdiction)
                except ProblemError:
                    history = None  # the store is out of reach: said after validation, below
                if history is not None:
                    try:
                        report = pool.report(raw, history.key, history.facts)
                    except NoWorkerAnswer as err:
                        lost = err
                    else:
                        if report is not None:
                            return report
    return _work_check_here(service, raw, lost)


def _jurisdiction_at_a_glance(raw: bytes) -> str | None:
    """`proposal.jurisdiction` of a body without `history`, read without any of the checks
    of `parse_json` (the worker makes them): only to find the stored history to send along.
    None for anything unusual."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or "history" in data:
        return None
    proposal = data.get("proposal")
    jurisdiction = proposal.get("jurisdiction") if isinstance(proposal, dict) else None
    if isinstance(jurisdiction, str) and _JURISDICTION.fullmatch(jurisdiction):
        return jurisdiction
    return None


_JURISDICTION: Final = re.compile(r"[A-Z]{2}")  # as `documents.Jurisdiction` allows


def _work_check_here(service: Service, raw: bytes, lost: NoWorkerAnswer | None) -> bytes:
    """The report of a check request read and validated in this process; with `lost`, the
    reason no worker answered it, by the reference evaluator."""
    body = parse_json(raw)
    request, history = _parse_with_history(service, body, CheckRequest)
    proposal = request.proposal
    if history is None:
        history = _stored_history(service, proposal.jurisdiction)
    with service.using_pack() as pack:
        pool = service.pool_of(pack)
        checker = pack
        if pool is not None and lost is not None:
            checker = Pack(pack.checked, pool.reference_runner(str(lost)))
        report = _checked(
            pack,
            lambda: checker.check(proposal, history, lang=request.lang, params=request.params),
            request.params,
            proposal.jurisdiction,
        )
        return report_json(report)


def _work_batch(service: Service, raw: bytes) -> list[Report]:
    body = parse_json(raw)
    proposals = body.data.get("proposals") if isinstance(body.data, dict) else None
    limit = service.settings.max_batch
    if isinstance(proposals, list) and len(proposals) > limit:
        raise ProblemError(
            422,
            "batch-too-large",
            f"a batch holds at most {limit} proposals; this one has {len(proposals)}",
            [
                Diagnostic(
                    "A011",
                    f"{len(proposals)} proposals, over the limit of {limit}",
                    path="proposals",
                    help=f"send them in batches of {limit} or fewer",
                )
            ],
        )
    request, history = _parse_with_history(service, body, BatchRequest)
    histories = {
        p.jurisdiction: history if history is not None else _stored_history(service, p.jurisdiction)
        for p in request.proposals
    }
    with service.using_pack() as pack:
        return [
            _checked(
                pack,
                lambda p=p: pack.check(  # type: ignore[misc]
                    p, histories[p.jurisdiction], lang=request.lang, params=request.params
                ),
                request.params,
                p.jurisdiction,
            )
            for p in request.proposals
        ]


def _work_explain(service: Service, raw: bytes) -> Explanation:
    body = parse_json(raw)
    request, history = _parse_with_history(service, body, ExplainRequest)
    proposal = request.proposal
    if history is None:
        history = _stored_history(service, proposal.jurisdiction)
    with service.using_pack() as pack:
        try:
            found = pack.explain(proposal, request.rule, history, params=request.params)
        except BcmError as err:
            located = locate_params(pack, err, request.params, proposal.jurisdiction)
            raise _invalid(
                [
                    dataclasses.replace(d, path="rule") if d.code == "P012" else d
                    for d in located.diagnostics
                ]
            ) from None
        return explanation_model(found, request.lang or pack.default_lang)


def _work_lint(service: Service, raw: bytes) -> LintResult:
    request = validate_body(parse_json(raw), LintRequest)
    with service.using_pack() as pack:
        found = lint_texts(
            request.files, request.manifest, pack if request.with_loaded_pack else None
        )
    errors = sum(1 for d in found if d.is_error)
    return LintResult(
        ok=errors == 0,
        errors=errors,
        warnings=len(found) - errors,
        diagnostics=[ProblemItem.of(d) for d in found],
    )


def _work_import(service: Service, raw: bytes, jurisdiction: str) -> dict[str, Any]:
    body = parse_json(raw)
    records = body.data.get("records") if isinstance(body.data, dict) else None
    limit = service.settings.max_history_records
    if isinstance(records, list) and len(records) > limit:
        raise ProblemError(
            422,
            "too-many-records",
            f"an import may carry at most {limit} records; this one has {len(records)}",
            [
                Diagnostic(
                    "A010",
                    f"{len(records)} records, over the limit of {limit}",
                    path="records",
                    help=f"import them in parts of {limit} or fewer (or use `bcm history import`)",
                )
            ],
        )
    request = validate_body(body, HistoryImport, history_fields=("records",))
    elsewhere = [
        Diagnostic(
            "A012",
            f"the record `{r.id}` is of `{r.jurisdiction}`, posted to the history of "
            f"`{jurisdiction}`",
            path=format_path("", ("records", n, "jurisdiction")),
            help=f"post it to /v1/history/{r.jurisdiction}",
        )
        for n, r in enumerate(request.records)
        if r.jurisdiction != jurisdiction
    ]
    if elsewhere:
        raise _invalid(elsewhere)
    store = _open_store_or_503(service)
    index = {r.id: n for n, r in enumerate(request.records)}
    try:
        result = store.import_records(request.records, replace=request.replace)
        service.store_changed()
    except BcmError as err:
        located = [_import_problem(d, index) for d in err.diagnostics]
        if any(d.code == "H003" for d in located):
            raise ProblemError(
                409,
                "conflict",
                "the store holds some of these ids with other content; nothing was imported",
                located,
            ) from None
        raise _invalid(located) from None
    return {
        "added": list(result.added),
        "replaced": list(result.replaced),
        "unchanged": list(result.unchanged),
        "revision": result.revision,
    }


def _import_problem(diagnostic: Diagnostic, index: Mapping[str, int]) -> Diagnostic:
    """A store diagnostic located in the import body (`records[n]...`)."""
    if diagnostic.path and diagnostic.path.startswith("history["):
        return dataclasses.replace(diagnostic, path="records" + diagnostic.path[len("history") :])
    if diagnostic.code == "H003":
        record_id = diagnostic.message.split("`")[1] if "`" in diagnostic.message else ""
        n = index.get(record_id)
        return dataclasses.replace(
            diagnostic,
            path=format_path("", ("records", n)) if n is not None else "records",
            help='send `"replace": true` to make this the current version (the old one is '
            "kept), or give the record a new id",
        )
    return diagnostic


def _open_store_or_503(service: Service) -> Any:
    try:
        return service.open_store()
    except BcmError as err:
        raise ProblemError(
            503,
            "store-unavailable",
            "the history store cannot be opened",
            err.diagnostics,
            headers={"Retry-After": "5"},
        ) from None


# --- responses ------------------------------------------------------------------------------


class ImportOutcome(BaseModel):
    added: list[str]
    replaced: list[str]
    unchanged: list[str]
    revision: int = Field(description="the store's revision after the import")


class HistoryPage(BaseModel):
    jurisdiction: str
    revision: int
    count: int
    records: list[PolicyChange]


class RecordVersion(BaseModel):
    version: int
    revision: int
    recorded_at: str
    current: bool
    record: PolicyChange


class StoredRecord(BaseModel):
    record: PolicyChange
    versions: list[RecordVersion]


class TrajectoryChange(BaseModel):
    id: str
    title: str
    effective_on: dt.date
    direction: str
    magnitude: str
    step: float = Field(description="+ expand, - restrict, 0 neutral; height by magnitude")
    level: float = Field(description="the cumulative direction after this change")
    reversal: bool
    oscillation: bool
    turns: int


class TrajectoryModel(BaseModel):
    jurisdiction: str
    area: str
    target: str
    window_days: int
    elections: list[dt.date]
    changes: list[TrajectoryChange]


def trajectory_model(found: Trajectory) -> TrajectoryModel:
    return TrajectoryModel(
        jurisdiction=found.jurisdiction,
        area=found.area,
        target=found.target,
        window_days=found.window_days,
        elections=list(found.elections),
        changes=[
            TrajectoryChange(
                id=c.record.id,
                title=c.record.title,
                effective_on=c.on,
                direction=c.record.direction.value,
                magnitude=c.record.magnitude.value,
                step=float(c.step),
                level=float(c.level),
                reversal=c.reversal,
                oscillation=c.oscillation,
                turns=c.turns,
            )
            for c in found.changes
        ],
    )


def _trajectory(service: Service, jurisdiction: str, area: Area, target: str) -> Trajectory:
    store = _open_store_or_503(service)
    records = store.records(jurisdiction=jurisdiction, area=area.value, target=target)
    return trajectory(records, jurisdiction, area.value, target)


def chart_svg(found: Trajectory, lang: str) -> bytes:
    """The chart `bcm trajectory --chart x.svg` draws, in memory: an endpoint writes no file.

    It repeats the settings of `checker.trajectory.draw`, which writes only to a path.
    """
    import io

    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from checker.trajectory import _plot, japanese_font

    font = japanese_font() if lang == "ja" else None
    used = "ja" if font is not None else "en"
    families = ["DejaVu Sans", font] if font else ["DejaVu Sans"]
    with mpl.rc_context(
        {
            "font.family": families,
            "svg.hashsalt": "bcm-trajectory",
            "svg.fonttype": "path",
            "axes.unicode_minus": True,
        }
    ):
        figure = Figure(figsize=(11, 6), dpi=150)
        FigureCanvasAgg(figure)
        _plot(figure, found, used)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


class _RawJson(Response):
    """JSON already written (records keep their numbers exact: see `checker.store.record_json`)."""

    media_type = "application/json"


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    words = {
        400: "the body is not JSON (its line and column in `errors`)",
        401: "a bearer token is needed, or the one given is not accepted",
        404: "no such record",
        409: "the store holds an id with other content; nothing was written",
        413: "the body is over the size limit",
        415: "the body is not JSON (Content-Type)",
        422: "the body is JSON but not valid: every problem with its path in `errors`",
        503: "the check did not finish within the time limit, or the store is unreachable",
    }
    return {s: {"description": words.get(s, http.HTTPStatus(s).phrase)} for s in statuses}


BODY_ERRORS = (400, 401, 413, 415, 422, 503)  # of any endpoint that reads a body


class _Incidents:
    """An exception nothing else handled: 500, with an incident id that is also in the log."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            incident = uuid.uuid4().hex[:16]
            log.exception(
                "incident %s: %s %s failed", incident, scope.get("method"), scope.get("path")
            )
            if started:
                raise
            response = problem_response(
                500,
                "internal",
                f"the service failed on this request; quote incident {incident} when reporting it",
                scope.get("path"),
                incident=incident,
            )
            await response(scope, receive, send)


def _swagger_assets() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


# --- the application ------------------------------------------------------------------------

DESCRIPTION = """\
Check proposed migration-policy changes against the principles of the Balanced Coexistence
Model, over HTTP. The same checks as `bcm check`, the same reports.

Errors are `application/problem+json` (RFC 9457); `errors` lists every problem with its JSON
path (`proposal.rationale.evidence[0].value`), its line and column in the body, a stable code
and a help line. Writes (history import, pack reload) need `Authorization: Bearer <token>`.
"""


class _App(FastAPI):
    """FastAPI, with `POST /v1/check` answered without its routing and middleware.

    The check is the service's hot path: FastAPI's route matching, middleware stack and
    dependency solving cost about as much CPU as reading and validating the request. The lean
    path runs the same steps (token, body within its limit, the check within its time limit)
    with the same problem documents and the same incident handling; the route stays declared
    in FastAPI, which describes it in the OpenAPI document.
    """

    lean: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.lean is not None
            and scope["type"] == "http"
            and scope["path"] == "/v1/check"
            and scope["method"] == "POST"
            and not scope.get("root_path")
            and not self.root_path
        ):
            await self.lean(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _lean_check(service: Service) -> ASGIApp:
    """POST /v1/check as a plain ASGI application: what `check` in `_check_routes` does."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            service.authorize(request, write=False)
            raw = await service.body(request)
            response: Response = _RawJson(await service.run(lambda: _work_check(service, raw)))
        except ProblemError as exc:
            response = problem_response(
                exc.status, exc.kind, exc.detail, request.url.path, exc.diagnostics, exc.headers
            )
        await response(scope, receive, send)

    return _Incidents(app)


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The ASGI application. Loads the rule pack now: a pack with errors raises BcmError (with
    every diagnostic) and there is no application."""
    settings = settings or ServiceSettings.from_environment()
    service = Service(settings)
    # A chart of a scope whose name has characters no font draws shows boxes for them; that is
    # the reader's business, not a warning per request in the service's log.
    warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font", UserWarning)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        if settings.reload_on_sighup:
            loop.add_signal_handler(
                signal.SIGHUP, lambda: loop.create_task(_reload_on_signal(service))
            )
        try:
            await asyncio.to_thread(service.open_store)
        except BcmError as err:
            log.warning("the history store is not available yet: %s", err)
        try:
            yield
        finally:
            if settings.reload_on_sighup:
                loop.remove_signal_handler(signal.SIGHUP)
            service.close()

    app = _App(
        title="bcm",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.lean = _lean_check(service)
    app.add_middleware(_Incidents)
    bodies: dict[tuple[str, str], type[BaseModel]] = {}

    _error_handlers(app)
    _check_routes(app, service, bodies)
    _pack_routes(app, service, bodies)
    _history_routes(app, service, bodies)
    _health_and_docs_routes(app, service)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _openapi_document(app, service, bodies)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    def forget_description() -> None:
        # The description names the pack's rules; a reloaded pack may have others.
        app.openapi_schema = None

    service.reload_listeners.append(forget_description)
    return app


def _error_handlers(app: FastAPI) -> None:
    """Every error as a problem document."""

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, exc: ProblemError) -> Response:
        return problem_response(
            exc.status, exc.kind, exc.detail, request.url.path, exc.diagnostics, exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid_parameters(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            Diagnostic(
                "A020",
                f"{e.get('msg', 'not valid')} (found {json.dumps(e.get('input'), default=str)})",
                path=format_path("", tuple(e.get("loc", ()))),
            )
            for e in exc.errors()
        ]
        return problem_response(
            422,
            "invalid",
            f"the request has {_count(len(problems), 'problem')}",
            request.url.path,
            problems,
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(
            exc.status_code, None, detail, request.url.path, headers=exc.headers
        )


def _check_routes(
    app: FastAPI, service: Service, bodies: dict[tuple[str, str], type[BaseModel]]
) -> None:
    """POST /v1/check, /v1/check/batch, /v1/explain."""

    @app.post(
        "/v1/check",
        response_model=Report,
        responses=_error_responses(*BODY_ERRORS),
        tags=["checks"],
        summary="Check one proposal",
    )
    async def check(request: Request) -> Response:
        """The report of one proposal: against the `history` sent, or else the stored history
        of the proposal's jurisdiction."""
        service.authorize(request, write=False)
        raw = await service.body(request)
        return _RawJson(await service.run(lambda: _work_check(service, raw)))

    bodies[("/v1/check", "post")] = CheckRequest

    @app.post(
        "/v1/check/batch",
        response_model=list[Report],
        responses=_error_responses(*BODY_ERRORS),
        tags=["checks"],
        summary="Check several proposals",
    )
    async def check_batch(request: Request) -> Response:
        """One report per proposal, in the order given, all against one history."""
        service.authorize(request, write=False)
        raw = await service.body(request)
        reports = await service.run(lambda: _work_batch(service, raw))
        return JSONResponse([r.to_dict() for r in reports])

    bodies[("/v1/check/batch", "post")] = BatchRequest

    @app.post(
        "/v1/explain",
        response_model=Explanation,
        responses=_error_responses(*BODY_ERRORS),
        tags=["checks"],
        summary="Explain one rule for one proposal",
    )
    async def explain(request: Request) -> Response:
        """Which conditions of one rule held for this proposal, and which did not."""
        service.authorize(request, write=False)
        raw = await service.body(request)
        found = await service.run(lambda: _work_explain(service, raw))
        return JSONResponse(found.model_dump(mode="json"))

    bodies[("/v1/explain", "post")] = ExplainRequest


def _pack_routes(
    app: FastAPI, service: Service, bodies: dict[tuple[str, str], type[BaseModel]]
) -> None:
    """GET /v1/pack, POST /v1/pack/lint, POST /v1/pack/reload."""

    @app.get("/v1/pack", response_model=PackDescription, tags=["pack"], summary="The loaded pack")
    async def pack_description() -> Response:
        """Name, version, hash, principles, rules, and parameters with their values and units."""
        return JSONResponse(service.description().model_dump(mode="json"))

    @app.post(
        "/v1/pack/lint",
        response_model=LintResult,
        responses=_error_responses(*BODY_ERRORS),
        tags=["pack"],
        summary="Lint rule text",
    )
    async def pack_lint(request: Request) -> Response:
        """Rule text in, diagnostics out (what `bcm lint` says), without writing anything."""
        service.authorize(request, write=False)
        raw = await service.body(request)
        result = await service.run(lambda: _work_lint(service, raw))
        return JSONResponse(result.model_dump(mode="json"))

    bodies[("/v1/pack/lint", "post")] = LintRequest

    @app.post(
        "/v1/pack/reload",
        response_model=ReloadResult,
        responses=_error_responses(401, 422),
        tags=["pack"],
        summary="Reload the rule pack",
    )
    async def pack_reload(request: Request) -> Response:
        """Load the rule directory again and put it in force. A pack with errors is refused
        with its diagnostics, and the pack in force stays."""
        service.authorize(request, write=True)
        before = service.pack.info
        try:
            fresh, _ = await asyncio.to_thread(service.reload)
        except BcmError as err:
            raise ProblemError(
                422,
                "pack-refused",
                f"the rule pack in `{service.settings.rules}` has "
                f"{_count(len(err.diagnostics), 'problem')}; {_pack_words(before)} stays in force",
                err.diagnostics,
            ) from None
        log.info("reloaded over HTTP: %s (was %s)", _pack_words(fresh.info), _pack_words(before))
        result = ReloadResult(
            pack=fresh.info,
            previous=before,
            changed=fresh.info.hash != before.hash,
            warnings=[ProblemItem.of(d) for d in fresh.checked.warnings],
        )
        return JSONResponse(result.model_dump(mode="json"))


def _history_routes(
    app: FastAPI, service: Service, bodies: dict[tuple[str, str], type[BaseModel]]
) -> None:
    """The history and the trajectory of a scope."""

    @app.get(
        "/v1/history/{jurisdiction}",
        response_model=HistoryPage,
        responses=_error_responses(422, 503),
        tags=["history"],
        summary="The stored history of a jurisdiction",
    )
    async def history_list(
        jurisdiction: Annotated[str, Path_(pattern=r"^[A-Z]{2}$", examples=["JP"])],
        area: Area | None = None,
        target: str | None = None,
        status: Status | None = None,
        from_: Annotated[dt.date | None, Query(alias="from")] = None,
        to: dt.date | None = None,
    ) -> Response:
        """Current records in date order (then id); `from` and `to` bound `effective_on`,
        both inclusive."""

        def work() -> str:
            store = _open_store_or_503(service)
            records = store.records(
                jurisdiction=jurisdiction,
                area=area.value if area else None,
                target=target,
                status=status.value if status else None,
                effective_from=from_,
                effective_to=to,
            )
            return (
                f'{{"jurisdiction":{_json_text(jurisdiction)},"revision":{store.revision()},'
                f'"count":{len(records)},"records":['
                + ",".join(record_json(r) for r in records)
                + "]}"
            )

        return _RawJson(await service.run(work))

    @app.post(
        "/v1/history/{jurisdiction}",
        response_model=ImportOutcome,
        responses=_error_responses(409, *BODY_ERRORS),
        tags=["history"],
        summary="Import records",
    )
    async def history_import(
        request: Request,
        jurisdiction: Annotated[str, Path_(pattern=r"^[A-Z]{2}$", examples=["JP"])],
    ) -> Response:
        """All or nothing, as `bcm history import`: every record is validated first, then all
        are written in one transaction. The same record again is a no-op; the same id with
        other content is a 409 unless `replace`."""
        service.authorize(request, write=True)
        raw = await service.body(request)
        outcome = await service.run(lambda: _work_import(service, raw, jurisdiction))
        return JSONResponse(outcome)

    bodies[("/v1/history/{jurisdiction}", "post")] = HistoryImport

    @app.get(
        "/v1/history/{jurisdiction}/{id}",
        response_model=StoredRecord,
        responses=_error_responses(404, 422, 503),
        tags=["history"],
        summary="One stored record and its versions",
    )
    async def history_record(
        jurisdiction: Annotated[str, Path_(pattern=r"^[A-Z]{2}$", examples=["JP"])],
        id: str,
    ) -> Response:
        def work() -> str | None:
            store = _open_store_or_503(service)
            versions = store.versions(id)
            if not versions or versions[-1].record.jurisdiction != jurisdiction:
                return None
            listed = ",".join(
                f'{{"version":{v.version},"revision":{v.revision},'
                f'"recorded_at":{_json_text(v.recorded_at.isoformat())},'
                f'"current":{"true" if v.current else "false"},"record":{record_json(v.record)}}}'
                for v in versions
            )
            return f'{{"record":{record_json(versions[-1].record)},"versions":[{listed}]}}'

        found = await service.run(work)
        if found is None:
            raise ProblemError(
                404, "not-found", f"the history of `{jurisdiction}` holds no record `{id}`"
            )
        return _RawJson(found)

    @app.get(
        "/v1/trajectory/{jurisdiction}/{area}/{target}.svg",
        response_class=Response,
        responses={
            200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}},
            **_error_responses(422, 503),
        },
        tags=["history"],
        summary="The trajectory of one scope, as a chart",
    )
    async def trajectory_chart(
        jurisdiction: Annotated[str, Path_(pattern=r"^[A-Z]{2}$", examples=["JP"])],
        area: Area,
        target: Annotated[str, Path_(examples=["trainees"])],
        lang: Lang = "en",
    ) -> Response:
        """Time on x, the cumulative direction on y; elections, reversals and oscillations
        marked. Japanese words need a font with Japanese glyphs; without one, English."""
        found = await service.run(lambda: _trajectory(service, jurisdiction, area, target))
        svg = await service.run(lambda: chart_svg(found, lang))
        return Response(svg, media_type="image/svg+xml")

    @app.get(
        "/v1/trajectory/{jurisdiction}/{area}/{target}",
        response_model=TrajectoryModel,
        responses=_error_responses(422, 503),
        tags=["history"],
        summary="The trajectory of one scope",
    )
    async def trajectory_data(
        jurisdiction: Annotated[str, Path_(pattern=r"^[A-Z]{2}$", examples=["JP"])],
        area: Area,
        target: Annotated[str, Path_(examples=["trainees"])],
    ) -> Response:
        """The enacted changes of one scope in date order, each with its step, the cumulative
        level after it, and whether it is a reversal or part of an oscillation."""
        found = await service.run(lambda: _trajectory(service, jurisdiction, area, target))
        return JSONResponse(trajectory_model(found).model_dump(mode="json"))


def _health_and_docs_routes(app: FastAPI, service: Service) -> None:
    """Health, readiness and the interactive docs (assets served here, no CDN)."""

    @app.get("/healthz", response_model=Health, tags=["health"], summary="The process answers")
    async def healthz() -> Response:
        return JSONResponse(Health(status="ok").model_dump())

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses=_error_responses(503),
        tags=["health"],
        summary="Pack loaded, store reachable",
    )
    async def readyz() -> Response:
        try:
            await service.run(lambda: service.open_store().revision())
        except Exception as err:  # whatever the store's failure, the answer is: not ready
            reason = err.detail if isinstance(err, ProblemError) else str(err)
            raise ProblemError(
                503,
                "not-ready",
                f"the history store is not reachable: {reason}",
                headers={"Retry-After": "5"},
            ) from None
        ready = Readiness(status="ready", pack=service.pack.info, store="reachable")
        return JSONResponse(ready.model_dump(mode="json"))

    app.mount("/docs/assets", StaticFiles(directory=_swagger_assets()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="bcm HTTP API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon.png",
            swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": True},
        )

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")


def _pack_words(info: PackInfo) -> str:
    return f"{info.name} {info.version} ({info.hash[:19]})"


async def _reload_on_signal(service: Service) -> None:
    before = service.pack.info
    try:
        fresh, _ = await asyncio.to_thread(service.reload)
    except BcmError as err:
        sources = getattr(err, "sources", None)
        log.error(
            "SIGHUP: the rule pack has %s; %s stays in force\n%s",
            _count(len(err.diagnostics), "problem"),
            _pack_words(before),
            render_all(err.diagnostics, sources),
        )
        return
    except Exception:
        log.exception("SIGHUP: reloading failed; %s stays in force", _pack_words(before))
        return
    log.info("SIGHUP: reloaded %s (was %s)", _pack_words(fresh.info), _pack_words(before))


def _openapi_document(
    app: FastAPI, service: Service, bodies: Mapping[tuple[str, str], type[BaseModel]]
) -> dict[str, Any]:
    """FastAPI's description, with the request bodies the service reads itself, the problem
    documents of every error response, and what only the running service knows: its limits,
    the rules of its pack, and that a history record says its `status`."""
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    models: list[type[BaseModel]] = [*bodies.values(), Problem]
    _, generated = models_json_schema(
        [(model, "validation") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    for name, schema in generated.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    _refine(schemas, service)
    document["components"]["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "a token of BCM_API_TOKENS"}
    }
    writes = {("/v1/history/{jurisdiction}", "post"), ("/v1/pack/reload", "post")}
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            model = bodies.get((path, method))
            if (path, method) in writes or (
                model is not None and service.settings.require_token_for_checks
            ):
                operation["security"] = [{"bearer": []}]
            if model is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}
                        }
                    },
                }
            for status, response in operation.get("responses", {}).items():
                if status[0] in "45":
                    response["content"] = {PROBLEM_MEDIA_TYPE: problem}
            if model is not None or operation.get("parameters"):
                operation["responses"].setdefault(
                    "422", {"description": "not valid", "content": {PROBLEM_MEDIA_TYPE: problem}}
                )
    return document


def _refine(schemas: dict[str, Any], service: Service) -> None:
    settings = service.settings
    schemas["HistoryRecord"] = {
        "title": "HistoryRecord",
        "description": "a policy-change document that says its `status`",
        "allOf": [{"$ref": "#/components/schemas/PolicyChange"}],
        "required": ["status"],
    }
    record = {"$ref": "#/components/schemas/HistoryRecord"}

    def bound(schema: dict[str, Any], field: str, limit: int, items: Any = None) -> None:
        prop = schema.get("properties", {}).get(field)
        if prop is None:
            return
        for branch in [prop, *prop.get("anyOf", [])]:
            if branch.get("type") == "array":
                branch["maxItems"] = limit
                if items is not None:
                    branch["items"] = items

    for name in ("CheckRequest", "BatchRequest", "ExplainRequest"):
        if name in schemas:
            bound(schemas[name], "history", settings.max_history_records, record)
    if "BatchRequest" in schemas:
        bound(schemas["BatchRequest"], "proposals", settings.max_batch)
    if "HistoryImport" in schemas:
        bound(schemas["HistoryImport"], "records", settings.max_history_records, record)
    if "ExplainRequest" in schemas:
        rule = schemas["ExplainRequest"]["properties"]["rule"]
        rule["enum"] = [r.id for r in service.pack.checked.rules]
    if "LintRequest" in schemas:
        # pydantic says "keys matching the pattern are texts" and leaves other keys open; the
        # service refuses any other key.
        files = schemas["LintRequest"]["properties"]["files"]
        [(pattern, texts)] = files.pop("patternProperties").items()
        files["propertyNames"] = {**files.get("propertyNames", {}), "pattern": pattern}
        files["additionalProperties"] = texts


# --- bcm serve ------------------------------------------------------------------------------


def _bounded_httptools() -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol (a C parser: a fraction of h11's CPU per request), with a
    bound on a request's head: httptools alone buffers an endless header line (300 MB of one
    took a server to 640 MB). Bytes are counted from a request's start to the blank line that
    ends its head; past MAX_HEAD_BYTES the answer is a 400 and the connection is closed."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpTools(HttpToolsProtocol):
        _head = 0  # bytes of the current request's head seen so far
        _in_head = True
        _tail = b""  # the last bytes seen, for a blank line split between two reads

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                end = (self._tail + data).find(b"\r\n\r\n")
                self._head += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
                if self._head > MAX_HEAD_BYTES:
                    self.send_400_response("Request head too large.")
                    return
                self._tail = data[-3:]
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_head, self._head, self._tail = True, 0, b""
            super().on_message_complete()

    return BoundedHttpTools


def serve(
    settings: ServiceSettings,
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    access_log: bool = True,
    log_level: str = "info",
) -> None:
    """Run the service until SIGINT or SIGTERM; SIGHUP reloads the rule pack."""
    import uvicorn

    if not logging.getLogger("bcm").handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("bcm").addHandler(handler)
        logging.getLogger("bcm").setLevel(log_level.upper())
    app = create_app(dataclasses.replace(settings, reload_on_sighup=True))
    service: Service = app.state.service
    log.info(
        "pack %s from %s; %s; docs at http://%s:%d/docs",
        _pack_words(service.pack.info),
        settings.rules,
        "engine in process"
        if settings.engine_workers <= 0
        else f"{_count(settings.engine_workers, 'engine worker')}",
        host,
        port,
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=access_log,
        log_level=log_level,
        server_header=False,
        timeout_graceful_shutdown=5,
        # httptools, with a bound on a request's head; the body has the service's own limit
        http=_bounded_httptools(),
    )
    uvicorn.Server(config).run()
