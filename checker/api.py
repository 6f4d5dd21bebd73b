"""The Python API, the product's core: load a rule pack once, check many proposals.

    pack = checker.load_pack("rules")
    report = pack.check(proposal, history=records, lang="ja")

The CLI and the HTTP API are thin adapters over this module.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checker.diagnostics import BcmError, Diagnostic, suggestion_help
from checker.documents import (
    MAX_EXPONENT,
    EngineInfo,
    Finding,
    PackInfo,
    PolicyChange,
    Report,
)
from checker.gcpause import cycle_collection_paused
from checker.lang import ast
from checker.lang.checked import CheckedPack
from checker.loading import RawDocument, validate

if TYPE_CHECKING:
    from checker.workers import WorkerPool

ParamValue = str | int | Decimal


def _as_document(item: PolicyChange | Mapping[str, Any], root: str) -> PolicyChange:
    if isinstance(item, PolicyChange):
        return item
    doc, problems = validate(RawDocument(dict(item), "<api>", (), {}, {}), root)
    if problems:
        raise BcmError(problems)
    return doc  # type: ignore[no-any-return]


class History:
    """A policy history kept resident in the engine across checks.

    Records are validated once, on entry. Adding records later updates the engine
    incrementally; a record with an id already present must be identical.
    """

    def __init__(self, records: Iterable[PolicyChange | Mapping[str, Any]] = ()):
        self.key = uuid.uuid4().hex
        self._docs: list[PolicyChange] = []
        self._facts: list[dict[str, Any]] = []
        self._by_id: dict[str, PolicyChange] = {}
        self._lock = threading.Lock()
        self.add(records)

    @property
    def version(self) -> int:
        return len(self._docs)

    def __len__(self) -> int:
        return len(self._docs)

    @property
    def records(self) -> Sequence[PolicyChange]:
        return tuple(self._docs)

    def facts(self, start: int = 0) -> Sequence[dict[str, Any]]:
        """The records from `start` on as engine facts, converted once and kept."""
        with self._lock:
            if len(self._facts) < len(self._docs):
                from checker.semantics import to_fact  # here: most calls find nothing new

                with cycle_collection_paused():
                    self._facts.extend(to_fact(d) for d in self._docs[len(self._facts) :])
            return self._facts[start:]

    @cycle_collection_paused()
    def add(self, records: Iterable[PolicyChange | Mapping[str, Any]]) -> None:
        new: list[PolicyChange] = []
        problems: list[Diagnostic] = []
        seen = dict(self._by_id)
        for n, item in enumerate(records):
            try:
                doc = _as_document(item, f"history[{len(self._docs) + n}]")
            except BcmError as err:
                problems.extend(err.diagnostics)
                continue
            old = seen.get(doc.id)
            if old is not None:
                if old != doc:
                    problems.append(
                        Diagnostic(
                            "D107",
                            f"two different history records share the id `{doc.id}`",
                            path=f"history[{len(self._docs) + n}].id",
                            help="ids are unique within a history; give a new version its own id",
                        )
                    )
                continue
            seen[doc.id] = doc
            new.append(doc)
        if problems:
            raise BcmError(problems)
        with self._lock:
            self._docs.extend(new)
            self._by_id.update((d.id, d) for d in new)


@dataclass(frozen=True)
class ParamSetting:
    value: Decimal  # as the rules see it (10% is 0.1)
    display: str  # as a person writes it ("10%", "1461 days")


def _display(number: ast.Number) -> str:
    text = (
        format(number.value.normalize(), "f")
        if number.value == number.value.to_integral()
        else str(number.value)
    )
    if number.unit == "%":
        return f"{text}%"
    if number.unit:
        return f"{text} {number.unit}"
    return text


def parse_param_value(name: str, raw: ParamValue, declared: ast.Number) -> ast.Number:
    """A parameter override as given on the command line or in an API call."""
    from checker.lang.parse import parse

    if isinstance(raw, bool):
        raise BcmError([Diagnostic("P011", f"`{name}` takes a number, not {raw}")])
    if isinstance(raw, int | Decimal):
        # The bound of documents: 1e999999 would take minutes to become a whole number.
        number = Decimal(raw) if not isinstance(raw, int) or abs(raw) < 10**MAX_EXPONENT else None
        too_large = number is not None and number and abs(number.adjusted()) > MAX_EXPONENT
        if number is None or not number.is_finite() or too_large:
            raise BcmError(
                [
                    Diagnostic(
                        "P011",
                        f"`{name}` takes a finite number within 10^-{MAX_EXPONENT} and "
                        f"10^{MAX_EXPONENT}",
                        help=f"write a number in the unit of the parameter: `{_display(declared)}`",
                    )
                ]
            )
        return ast.Number(number, declared.unit)
    try:
        # One value and nothing else: the text is data, and a line break could smuggle in
        # further declarations.
        if not isinstance(raw, str) or any(ch in raw for ch in "\n\r{}#"):
            raise BcmError([])
        parsed_file = parse(f"param {name} = {raw}", "<param>")
        if len(parsed_file.params) != 1 or parsed_file.principles or parsed_file.defines:
            raise BcmError([])
        parsed = parsed_file.params[0].value
    except BcmError:
        raise BcmError(
            [
                Diagnostic(
                    "P011",
                    f"`{raw}` is not a value for the parameter `{name}`",
                    help=f"write a number in the unit of the parameter: `{_display(declared)}`",
                )
            ]
        ) from None
    unit = parsed.unit or declared.unit
    if unit != declared.unit:
        raise BcmError(
            [
                Diagnostic(
                    "P011",
                    f"`{name}` is declared in {declared.unit or 'plain numbers'}, "
                    f"but `{raw}` is in {parsed.unit or 'plain numbers'}",
                    help=f"write it like the declaration: `{_display(declared)}`",
                )
            ]
        )
    return ast.Number(parsed.value, unit)


class _InForce:
    """Parameter settings as a check uses them: the values the rules see, the texts a report
    shows."""

    __slots__ = ("display", "settings", "values")

    def __init__(self, settings: dict[str, ParamSetting]) -> None:
        self.settings = settings
        self.values = {n: s.value for n, s in settings.items()}
        self.display = {n: s.display for n, s in settings.items()}


_JURISDICTIONS_KEPT = 1024
_DURABLE = EngineInfo(name="durable-rules", reason=None)


class Pack:
    """A loaded, checked and compiled rule pack: compile once, check many times."""

    def __init__(self, checked: CheckedPack, runner: WorkerPool):
        from checker.reference import Evaluator

        self.checked = checked
        self.info = PackInfo(
            name=checked.manifest.name, version=checked.manifest.version, hash=checked.hash
        )
        from checker.findings import CompiledEvaluator, make_finding
        from checker.semantics import to_fact

        self.evaluator: Evaluator = CompiledEvaluator(checked)
        self._runner = runner
        # imported once: an import statement costs about a microsecond on every check
        self._make_finding = make_finding
        self._to_fact = to_fact
        self._defaults: dict[str | None, _InForce] = {}

    @property
    def default_lang(self) -> str:
        return self.checked.manifest.default_lang

    def titles(self, lang: str) -> dict[str, str]:
        """Principle titles in a language (falling back to English, then to the id)."""
        out: dict[str, str] = {}
        for pid, principle in self.checked.principles.items():
            by_lang = {t.lang: t.text for t in principle.titles}
            out[pid] = by_lang.get(lang) or by_lang.get("en") or pid
        return out

    # --- parameters

    def settings(
        self, overrides: Mapping[str, ParamValue] | None, jurisdiction: str | None
    ) -> dict[str, ParamSetting]:
        """The parameter values in force: defaults, the manifest's for the jurisdiction, then
        the per-check overrides."""
        if not overrides:
            return dict(self._in_force(jurisdiction).settings)
        return self._settings(overrides, jurisdiction)

    def _in_force(self, jurisdiction: str | None) -> _InForce:
        """The settings without overrides, made once per jurisdiction (they depend on nothing
        else)."""
        found = self._defaults.get(jurisdiction)
        if found is None:
            found = _InForce(self._settings(None, jurisdiction))
            if len(self._defaults) < _JURISDICTIONS_KEPT:
                self._defaults[jurisdiction] = found
        return found

    def _settings(
        self, overrides: Mapping[str, ParamValue] | None, jurisdiction: str | None
    ) -> dict[str, ParamSetting]:
        pack = self.checked
        numbers: dict[str, ast.Number] = {n: p.default for n, p in pack.params.items()}
        if jurisdiction is not None:
            numbers.update(pack.manifest.overrides.get(jurisdiction, {}))
        problems: list[Diagnostic] = []
        for name, raw in (overrides or {}).items():
            declared = pack.params.get(name)
            if declared is None:
                problems.append(
                    Diagnostic(
                        "P010",
                        f"unknown parameter `{name}`",
                        help=suggestion_help(name, pack.params, "parameter"),
                    )
                )
                continue
            try:
                numbers[name] = parse_param_value(name, raw, declared.default)
            except BcmError as err:
                problems.extend(err.diagnostics)
        if problems:
            raise BcmError(problems)
        from checker.lang.checked import param_value

        return {n: ParamSetting(param_value(v), _display(v)) for n, v in sorted(numbers.items())}

    # --- checking

    def check(
        self,
        proposal: PolicyChange | Mapping[str, Any],
        history: History | Iterable[PolicyChange | Mapping[str, Any]] | None = None,
        *,
        lang: str | None = None,
        params: Mapping[str, ParamValue] | None = None,
    ) -> Report:
        """Check one proposal against the pack and the history; return its report."""
        doc = _as_document(proposal, "proposal")
        hist = history if isinstance(history, History) else History(history or ())
        language = lang or self.default_lang
        in_force = (
            self._in_force(doc.jurisdiction)
            if not params
            else _InForce(self._settings(params, doc.jurisdiction))
        )
        findings, engine = self._run(doc, hist, in_force.values, language)
        return Report(
            proposal=doc.id,
            findings=findings,
            pack=self.info,
            lang=language,
            engine=engine,
            params=in_force.display,
        )

    def check_many(
        self,
        proposals: Iterable[PolicyChange | Mapping[str, Any]],
        history: History | Iterable[PolicyChange | Mapping[str, Any]] | None = None,
        *,
        lang: str | None = None,
        params: Mapping[str, ParamValue] | None = None,
    ) -> list[Report]:
        """Reports for several proposals, in the order given, against one history."""
        hist = history if isinstance(history, History) else History(history or ())
        return [self.check(p, hist, lang=lang, params=params) for p in proposals]

    def explain(
        self,
        proposal: PolicyChange | Mapping[str, Any],
        rule_id: str,
        history: History | Iterable[PolicyChange | Mapping[str, Any]] | None = None,
        *,
        params: Mapping[str, ParamValue] | None = None,
    ) -> Any:
        """Which conditions of one rule held for this proposal, and which did not."""
        from checker.reference import HistoryIndex
        from checker.semantics import to_fact

        doc = _as_document(proposal, "proposal")
        ids = [r.id for r in self.checked.rules]
        if rule_id not in ids:
            raise BcmError(
                [
                    Diagnostic(
                        "P012",
                        f"the pack has no rule `{rule_id}`",
                        help=suggestion_help(rule_id, ids, "rule"),
                    )
                ]
            )
        hist = history if isinstance(history, History) else History(history or ())
        settings = self.settings(params, doc.jurisdiction)
        index = HistoryIndex([to_fact(r) for r in hist.records])
        return self.evaluator.explain(
            to_fact(doc), index, {n: s.value for n, s in settings.items()}, rule_id
        )

    def _run(
        self, doc: PolicyChange, hist: History, params: dict[str, Decimal], lang: str
    ) -> tuple[list[Finding], EngineInfo]:
        make_finding, checked, evaluator = self._make_finding, self.checked, self.evaluator
        fired, engine = self._runner.check(self._to_fact(doc), hist.key, hist.facts, params)
        findings = [
            make_finding(checked, f.rule, f.severity, f.env, evaluator, lang) for f in fired
        ]
        reason = engine.get("reason")
        if reason is not None:
            # the history's key is a random name: keep reports of the same input identical
            reason = reason.replace(hist.key, "the history")
            info = EngineInfo(name=engine["name"], reason=reason)
        elif engine["name"] == _DURABLE.name:
            info = _DURABLE  # a frozen model: one for every report the engine answers
        else:
            info = EngineInfo(name=engine["name"], reason=None)
        if len(findings) > 1:
            findings.sort(key=Finding.sort_key)
        return findings, info

    def close(self) -> None:
        self._runner.close()

    def __enter__(self) -> Pack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_pack(path: str | Path = "rules", *, workers: int = 0, timeout: float = 10.0) -> Pack:
    """Load, check and compile a rule pack. Raises BcmError with every diagnostic on errors.

    `workers` engine processes answer checks (each a durable-rules host, supervised: a crash
    or a hang is answered by the reference evaluator, marked in the report); with 0 the engine
    runs in this process.
    """
    from checker.workers import WorkerPool

    runner = WorkerPool(str(path), workers, timeout=timeout)
    return Pack(runner.pack, runner)
