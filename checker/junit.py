"""Reports as JUnit XML, for pipelines that gate on proposals.

One test suite per proposal, one test case per rule of the pack: a case fails when its rule
found a conflict or a reversal (also a tension with `fail_on_tension`, as `--fail-on tension`
makes the exit code do), and passes otherwise; a passing case whose rule fired (a tension, a
note) carries the finding in its output, so nothing a report says is lost.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from checker.documents import Finding, FindingKind, Report
from checker.i18n import word
from checker.report import FAILING_KINDS, ReportContext, RuleEntry, evidence_text

# Characters XML 1.0 cannot carry at all; a document's text could hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _finding_text(report: Report, f: Finding) -> str:
    lang = report.lang
    lines = [f.message, f"{word('remedy', lang)}: {f.remedy}"]
    if f.evidence:
        lines.append(f"{word('evidence', lang)}:")
        lines.extend(
            f"  {key} = {evidence_text(value, lang, key, report.params)}"
            for key, value in f.evidence.items()
        )
    if f.related:
        lines.append(f"{word('related', lang)}: {', '.join(f.related)}")
    lines.append(f"{word('source', lang)}: {f.source}")
    return _clean("\n".join(lines))


def render_junit(
    reports: Sequence[Report], context: ReportContext, *, fail_on_tension: bool = False
) -> str:
    failing = FAILING_KINDS | ({FindingKind.tension} if fail_on_tension else set())
    root = ET.Element("testsuites", name="bcm")
    total_tests = total_failures = 0
    for report in reports:
        rules = list(context.rules)
        listed = {r.id for r in rules}
        rules.extend(
            RuleEntry(f.rule, f.principle.value, f.kind.value, f.source)
            for f in report.findings
            if f.rule not in listed
        )
        suite = ET.SubElement(root, "testsuite", name=_clean(report.proposal))
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("verdict", report.verdict.value),
            ("pack", f"{report.pack.name} {report.pack.version}"),
            ("pack.hash", report.pack.hash),
            ("engine", report.engine.name),
            ("lang", report.lang),
        ):
            ET.SubElement(properties, "property", name=name, value=_clean(value))
        failures = 0
        for rule in rules:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=_clean(f"{report.proposal}.{rule.principle}"),
                name=rule.id,
                file=rule.file,
                line=str(rule.line),
            )
            found = [f for f in report.findings if f.rule == rule.id]
            failed = [f for f in found if f.kind in failing]
            for f in failed:
                failure = ET.SubElement(
                    case, "failure", message=_clean(f.message), type=f.kind.value
                )
                failure.text = _finding_text(report, f)
            passed = [f for f in found if f.kind not in failing]
            if passed:
                out = ET.SubElement(case, "system-out")
                out.text = "\n\n".join(
                    f"[{word('kind.' + f.kind.value, report.lang)}] {_finding_text(report, f)}"
                    for f in passed
                )
            failures += bool(failed)
        suite.set("tests", str(len(rules)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total_tests += len(rules)
        total_failures += failures
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", "0")
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
