"""SARIF 2.1.0 logs, so rule files light up in editors and code-review tools.

Two kinds of log: findings of `bcm check` (each result points at the rule that fired, in its
`.bcm` file, with the proposal as a related location) and diagnostics of `bcm lint` (each at
its span in the rule file or manifest). Columns count code points, as bcm's spans do, and the
log says so (`columnKind`), so a Japanese line is underlined in the right place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from checker import __version__
from checker.diagnostics import Diagnostic, Level
from checker.documents import FindingKind, Report
from checker.i18n import word
from checker.report import ReportContext, RuleEntry, source_location

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

# A finding's kind decides whether the proposal passes, so it sets the level; the severity
# (how serious within its kind) travels in the properties.
_LEVEL = {
    FindingKind.conflict: "error",
    FindingKind.reversal: "error",
    FindingKind.tension: "warning",
    FindingKind.note: "note",
}


def artifact_uri(path: str) -> str:
    """A file path as a SARIF URI: relative paths stay relative (to the folder bcm ran in),
    absolute ones become `file:` URIs; non-ASCII names are percent-encoded."""
    if os.path.isabs(path) or PureWindowsPath(path).is_absolute():
        return "file://" + quote(PurePosixPath(path.replace("\\", "/")).as_posix(), safe="/:")
    return quote(path.replace("\\", "/"), safe="/")


def _tool(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "driver": {
            "name": "bcm",
            "fullName": "bcm: Balanced Coexistence Model consistency checker",
            "version": __version__,
            "semanticVersion": __version__,
            "rules": rules,
        }
    }


def _rule_descriptor(rule: RuleEntry, context: ReportContext) -> dict[str, Any]:
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "shortDescription": {"text": rule.summary or rule.id},
        "defaultConfiguration": {"level": _LEVEL[FindingKind(rule.kind)]},
        "properties": {
            "principle": rule.principle,
            "principleTitle": context.title_of(rule.principle),
            "kind": rule.kind,
            "tags": [rule.principle, rule.kind],
        },
    }
    return descriptor


def _region(
    line: int, column: int, end_line: int | None = None, end_column: int | None = None
) -> dict[str, int]:
    region: dict[str, int] = {"startLine": max(line, 1), "startColumn": max(column, 1)}
    if end_line is not None and end_column is not None:
        region["endLine"] = max(end_line, region["startLine"])
        region["endColumn"] = max(end_column, 1)
    return region


def findings_sarif(reports: Sequence[Report], context: ReportContext) -> dict[str, Any]:
    """A SARIF log of the findings of one run: one result per finding, at its rule's source."""
    lang = context.lang
    rules = list(context.rules)
    known = {r.id for r in rules}
    # A finding of a rule the context does not list (a hand-made report) still gets a
    # descriptor, so every result can name its rule by index.
    for report in reports:
        for f in report.findings:
            if f.rule not in known:
                known.add(f.rule)
                rules.append(RuleEntry(f.rule, f.principle.value, f.kind.value, f.source))
    index = {r.id: n for n, r in enumerate(rules)}
    results = []
    for report in reports:
        proposal_file = context.files.get(report.proposal)
        for f in report.findings:
            file, line, column = source_location(f.source)
            message = f"{f.message} {word('remedy', lang)}: {f.remedy}"
            result: dict[str, Any] = {
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "kind": "fail",
                "level": _LEVEL[f.kind],
                "message": {"text": f"{report.proposal}: {message}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {
                                "uri": artifact_uri(os.path.join(context.source_base, file))
                            },
                            "region": _region(line, column),
                        },
                        "logicalLocations": [
                            {"fullyQualifiedName": f"{f.principle.value}.{f.rule}", "kind": "rule"}
                        ],
                    }
                ],
                "partialFingerprints": {"proposalRule/v1": f"{report.proposal}:{f.rule}"},
                "properties": {
                    "proposal": report.proposal,
                    "principle": f.principle.value,
                    "kind": f.kind.value,
                    "severity": f.severity.value,
                    "remedy": f.remedy,
                    "evidence": f.evidence,
                    "related": f.related,
                },
            }
            if proposal_file is not None:
                result["relatedLocations"] = [
                    {
                        "id": 1,
                        "physicalLocation": {
                            "artifactLocation": {"uri": artifact_uri(proposal_file)}
                        },
                        "message": {"text": f"{word('sarif.proposal', lang)} {report.proposal}"},
                    }
                ]
            results.append(result)
    run: dict[str, Any] = {
        "tool": _tool([_rule_descriptor(r, context) for r in rules]),
        "language": lang,
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if reports:
        first = reports[0]
        run["properties"] = {
            "pack": {
                "name": first.pack.name,
                "version": first.pack.version,
                "hash": first.pack.hash,
            },
            "verdicts": {r.proposal: r.verdict.value for r in reports},
        }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def diagnostics_sarif(diagnostics: Iterable[Diagnostic]) -> dict[str, Any]:
    """A SARIF log of `bcm lint` diagnostics: one result each, at its span where it has one."""
    found = list(diagnostics)
    codes = sorted({d.code for d in found})
    index = {code: n for n, code in enumerate(codes)}
    results = []
    for d in found:
        text = d.message
        if d.help:
            text += f"\nhelp: {d.help}"
        for note in d.notes:
            text += f"\nnote: {note}"
        result: dict[str, Any] = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": "error" if d.level is Level.error else "warning",
            "message": {"text": text},
        }
        location: dict[str, Any] = {}
        if d.span is not None:
            location["physicalLocation"] = {
                "artifactLocation": {"uri": artifact_uri(d.span.file)},
                "region": _region(d.span.line, d.span.column, d.span.end_line, d.span.end_column),
            }
        if d.path is not None:
            location["logicalLocations"] = [{"fullyQualifiedName": d.path}]
        if location:
            result["locations"] = [location]
        results.append(result)
    rules = [{"id": code} for code in codes]
    run = {
        "tool": _tool(rules),
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def sarif_json(log: dict[str, Any]) -> str:
    return json.dumps(log, ensure_ascii=False, indent=2) + "\n"
