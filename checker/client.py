"""A Python client of the HTTP API (`bcm serve`), typed with the models the service uses.

    with Client("http://127.0.0.1:8080") as bcm:
        report = bcm.check(proposal)                 # a checker.documents.Report
        reports = bcm.check_batch([a, b], history=records)

Numbers travel exactly: a Decimal goes out as the JSON number it is and comes back a Decimal,
never through a float. A refused request raises `ApiError`, a `BcmError` whose diagnostics are
the problems the service listed (with their JSON paths), so a caller handles a remote check's
bad input the way it handles a local one's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from checker.diagnostics import BcmError, Diagnostic, Level, Span
from checker.documents import PolicyChange, Report
from checker.service import (
    Explanation,
    HistoryPage,
    ImportOutcome,
    LintResult,
    PackDescription,
    Problem,
    ReloadResult,
    StoredRecord,
    TrajectoryModel,
)

Document = PolicyChange | Mapping[str, Any]


class ApiError(BcmError):
    """The service refused a request: its status and problem document, and the problems as
    diagnostics."""

    def __init__(self, status: int, problem: Problem):
        diagnostics = [
            Diagnostic(
                item.code,
                item.message,
                Span(
                    item.file,
                    item.line,
                    item.column,
                    item.end_line or item.line,
                    item.end_column or item.column + 1,
                )
                if item.file and item.line and item.column
                else None,
                help=item.help,
                level=Level(item.level) if item.level in ("error", "warning") else Level.error,
                path=item.path,
                notes=tuple(item.notes),
            )
            for item in problem.errors
        ]
        if not diagnostics:
            diagnostics = [Diagnostic(f"HTTP{status}", problem.detail or problem.title)]
        super().__init__(diagnostics)
        self.status = status
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.status} {self.problem.title}: {self.problem.detail or ''}".rstrip(": ")


def exact_json(value: Any) -> str:
    """JSON text of documents and models, decimals written as the numbers they are."""
    if isinstance(value, BaseModel):
        return exact_json(value.model_dump(mode="python"))
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return exact_json(value.value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a number JSON can hold")
        return str(value)
    if isinstance(value, float):
        return json.dumps(value)  # NaN and infinities raise below, as the service would refuse
    if isinstance(value, dt.date):
        return json.dumps(value.isoformat())
    if isinstance(value, Mapping):
        return (
            "{" + ",".join(f"{exact_json(str(k))}:{exact_json(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(exact_json(v) for v in value) + "]"
    raise TypeError(f"a value of type {type(value).__name__} cannot be sent as JSON")


def _report(data: Mapping[str, Any]) -> Report:
    # `verdict` is computed from the findings; the model recomputes it.
    return Report.model_validate({k: v for k, v in data.items() if k != "verdict"})


class Client:
    """The HTTP API from Python. `token` is sent as a bearer token (writes need one)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ):
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    # --- checks

    def check(
        self,
        proposal: Document,
        history: Iterable[Document] | None = None,
        *,
        lang: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Report:
        """The report of one proposal; without `history`, against the stored history."""
        body = self._checking({"proposal": proposal}, history, lang, params)
        return _report(self._post("/v1/check", body))

    def check_batch(
        self,
        proposals: Iterable[Document],
        history: Iterable[Document] | None = None,
        *,
        lang: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> list[Report]:
        """One report per proposal, in the order given."""
        body = self._checking({"proposals": list(proposals)}, history, lang, params)
        return [_report(r) for r in self._post("/v1/check/batch", body)]

    def explain(
        self,
        proposal: Document,
        rule: str,
        history: Iterable[Document] | None = None,
        *,
        lang: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Explanation:
        """Which conditions of one rule held for the proposal."""
        body = self._checking({"proposal": proposal, "rule": rule}, history, lang, params)
        return Explanation.model_validate(self._post("/v1/explain", body))

    @staticmethod
    def _checking(
        body: dict[str, Any],
        history: Iterable[Document] | None,
        lang: str | None,
        params: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        if history is not None:
            body["history"] = list(history)
        if lang is not None:
            body["lang"] = lang
        if params:
            body["params"] = dict(params)
        return body

    # --- history

    def history(
        self,
        jurisdiction: str,
        *,
        area: str | None = None,
        target: str | None = None,
        status: str | None = None,
        effective_from: dt.date | str | None = None,
        effective_to: dt.date | str | None = None,
    ) -> list[PolicyChange]:
        """The stored records of a jurisdiction, in date order; dates bound `effective_on`."""
        query = {
            "area": area,
            "target": target,
            "status": status,
            "from": str(effective_from) if effective_from is not None else None,
            "to": str(effective_to) if effective_to is not None else None,
        }
        page = self._get(
            f"/v1/history/{jurisdiction}", {k: v for k, v in query.items() if v is not None}
        )
        return HistoryPage.model_validate(page).records

    def record(self, jurisdiction: str, id: str) -> StoredRecord:
        """One stored record, with every version of it."""
        return StoredRecord.model_validate(
            self._get(f"/v1/history/{jurisdiction}/{quote(id, safe='')}")
        )

    def import_history(
        self, jurisdiction: str, records: Iterable[Document], *, replace: bool = False
    ) -> ImportOutcome:
        """Add records to the store: all of them, or none (needs a token)."""
        body = {"records": list(records), "replace": replace}
        return ImportOutcome.model_validate(self._post(f"/v1/history/{jurisdiction}", body))

    def trajectory(self, jurisdiction: str, area: str, target: str) -> TrajectoryModel:
        return TrajectoryModel.model_validate(
            self._get(f"/v1/trajectory/{jurisdiction}/{area}/{quote(target, safe='')}")
        )

    def trajectory_svg(self, jurisdiction: str, area: str, target: str, lang: str = "en") -> bytes:
        response = self._http.get(
            f"/v1/trajectory/{jurisdiction}/{area}/{quote(target, safe='')}.svg",
            params={"lang": lang},
        )
        self._raise_for_problem(response)
        return response.content

    # --- the pack

    def pack(self) -> PackDescription:
        return PackDescription.model_validate(self._get("/v1/pack"))

    def lint(
        self,
        files: Mapping[str, str],
        *,
        manifest: str | None = None,
        with_loaded_pack: bool = False,
    ) -> LintResult:
        """Diagnostics for rule texts (`{"mine.bcm": "principle ..."}`)."""
        body: dict[str, Any] = {"files": dict(files), "with_loaded_pack": with_loaded_pack}
        if manifest is not None:
            body["manifest"] = manifest
        return LintResult.model_validate(self._post("/v1/pack/lint", body))

    def reload(self) -> ReloadResult:
        """Reload the service's rule pack (needs a token); ApiError with the pack's
        diagnostics when it has errors (the old pack stays in force)."""
        return ReloadResult.model_validate(self._post("/v1/pack/reload", None))

    def ready(self) -> bool:
        return self._http.get("/readyz").status_code == 200

    # --- transport

    def _post(self, path: str, body: Any) -> Any:
        content = exact_json(body).encode("utf-8") if body is not None else b""
        response = self._http.post(
            path, content=content, headers={"Content-Type": "application/json"}
        )
        return self._json(response)

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return self._json(self._http.get(path, params=params))

    def _json(self, response: httpx.Response) -> Any:
        self._raise_for_problem(response)
        return json.loads(response.text, parse_float=Decimal)

    @staticmethod
    def _raise_for_problem(response: httpx.Response) -> None:
        if response.is_success:
            return
        try:
            problem = Problem.model_validate(response.json())
        except (ValueError, TypeError):
            problem = Problem(
                title=response.reason_phrase, status=response.status_code, detail=response.text
            )
        raise ApiError(response.status_code, problem)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
