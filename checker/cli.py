"""The `bcm` command: a thin adapter over the Python API.

Exit codes: 0 nothing to report, 1 findings (or lint errors), 2 bad input of any kind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from checker import __version__
from checker.diagnostics import BcmError, Diagnostic, render_all
from checker.loading import DEFAULT_MAX_BYTES, document_sources, load_documents

EXIT_OK, EXIT_FINDINGS, EXIT_BAD_INPUT = 0, 1, 2


def _size(text: str) -> int:
    units = {"kb": 1024, "mb": 1024 * 1024, "gb": 1024 * 1024 * 1024, "b": 1}
    low = text.strip().lower()
    for unit, factor in units.items():
        if low.endswith(unit):
            return int(float(low[: -len(unit)]) * factor)
    return int(low)


def _print_problems(err: BcmError, files: list[str], out: TextIO) -> None:
    spanned = {d.span.file for d in err.diagnostics if d.span is not None}
    print(render_all(err.diagnostics, document_sources([*files, *sorted(spanned)])), file=out)
    n = len(err.diagnostics)
    print(f"\n{n} problem{'s' if n != 1 else ''} found.", file=out)


# --- verbs ----------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    total = 0
    failed = False
    for file in args.files:
        try:
            docs = load_documents(file, max_bytes=args.max_size)
        except BcmError as err:
            _print_problems(err, [file], sys.stdout)
            failed = True
            continue
        total += len(docs)
        for doc in docs:
            print(
                f"ok  {file}: {doc.id}  {doc.jurisdiction}/{doc.area.value}/{doc.target}  "
                f"{doc.direction.value} {doc.magnitude.value}, effective {doc.effective_on}"
            )
    if failed:
        return EXIT_BAD_INPUT
    print(f"{total} document{'s' if total != 1 else ''} valid.")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from checker.documents import PolicyChange, Report

    model = Report if args.report else PolicyChange
    schema = model.model_json_schema(mode="serialization" if args.report else "validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    print(json.dumps(schema, indent=2, ensure_ascii=False))
    return EXIT_OK


def _param_overrides(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise BcmError(
                [
                    Diagnostic(
                        "P011",
                        f"`{item}` is not a parameter setting",
                        help='write NAME=VALUE, e.g. --param reversal_window="1000 days"',
                    )
                ]
            )
        out[name.strip()] = value.strip()
    return out


def _write_output(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from pathlib import Path

    target = Path(output)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def cmd_check(args: argparse.Namespace) -> int:
    from checker.api import History, load_pack
    from checker.loading import load_history
    from checker.report import ReportContext, progress, render, render_summary
    from checker.store import records_for

    files = list(args.proposals) + list(args.history or [])
    proposals: list[Any] = []
    read_from: dict[str, str] = {}
    problems: list[Diagnostic] = []
    # File by file, so that a SARIF result can point at the file its proposal came from.
    for file in args.proposals:
        try:
            docs = load_documents(file, max_bytes=args.max_size)
        except BcmError as err:
            problems.extend(err.diagnostics)
            continue
        proposals.extend(docs)
        read_from.update((d.id, file) for d in docs)
    try:
        if problems:
            raise BcmError(problems)
        # Without --history, the stored records of the proposals' jurisdictions (if a store).
        records = (
            load_history(args.history, max_bytes=args.max_size)
            if args.history
            else records_for({p.jurisdiction for p in proposals}, args.db)
        )
    except BcmError as err:
        _print_problems(err, files, sys.stdout)
        return EXIT_BAD_INPUT
    pack = load_pack(args.rules)
    params = _param_overrides(args.param)
    history = History(records)
    lang = args.lang or pack.default_lang
    checking = progress(proposals, lang, show=len(proposals) > 1 and sys.stderr.isatty())
    reports = [pack.check(p, history, lang=lang, params=params) for p in checking]
    if args.summary:
        text = render_summary(reports, lang)
    else:
        context = ReportContext.of_pack(pack, lang, proposals, records, read_from)
        text = render(
            args.format,
            reports,
            context,
            as_list=not (len(reports) == 1 and len(args.proposals) == 1),
            colour=args.output is None and sys.stdout.isatty(),
            fail_on_tension=args.fail_on == "tension",
        )
    _write_output(text, args.output)
    failing = {"conflict"} | ({"tension"} if args.fail_on == "tension" else set())
    return EXIT_FINDINGS if any(r.verdict.value in failing for r in reports) else EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from checker.api import load_pack
    from checker.loading import load_history

    files = [args.proposal, *(args.history or [])]
    try:
        (proposal, *rest) = load_documents(args.proposal)
        records = load_history(args.history) if args.history else []
    except BcmError as err:
        _print_problems(err, files, sys.stdout)
        return EXIT_BAD_INPUT
    if rest:
        print(f"`{args.proposal}` holds {len(rest) + 1} documents; explain takes one proposal.")
        return EXIT_BAD_INPUT
    pack = load_pack(args.rules)
    explanation = pack.explain(proposal, args.rule, records, params=_param_overrides(args.param))
    print(explanation.render(args.lang or pack.default_lang))
    return EXIT_OK


def cmd_docs(args: argparse.Namespace) -> int:
    from pathlib import Path

    from checker.docsgen import principles_markdown
    from checker.lang.pack import load_checked_pack

    text = principles_markdown(load_checked_pack(args.rules))
    if args.output == "-" and not args.check:
        sys.stdout.write(text)
        return EXIT_OK
    target = Path(args.output)
    try:
        if args.check:
            current = target.read_text(encoding="utf-8") if target.is_file() else None
            if current != text:
                print(
                    f"{target} is out of date: run `bcm docs --rules {args.rules} "
                    f"--output {target}`"
                )
                return EXIT_FINDINGS
            print(f"{target} is up to date.")
            return EXIT_OK
        target.write_text(text, encoding="utf-8")
    except OSError as err:
        print(f"cannot {'read' if args.check else 'write'} {target}: {err.strerror}")
        return EXIT_BAD_INPUT
    print(f"wrote {target}")
    return EXIT_OK


def cmd_lint(args: argparse.Namespace) -> int:
    from checker.diagnostics import Level
    from checker.lang.pack import UNREADABLE, lint_paths

    diagnostics, sources = lint_paths(args.paths)
    if args.format == "json":
        print(json.dumps([d.to_dict() for d in diagnostics], indent=2, ensure_ascii=False))
    elif args.format == "sarif":
        from checker.sarif import diagnostics_sarif, sarif_json

        sys.stdout.write(sarif_json(diagnostics_sarif(diagnostics)))
    else:
        if diagnostics:
            print(render_all(diagnostics, sources) + "\n")
        errors = sum(1 for d in diagnostics if d.level is Level.error)
        warnings = len(diagnostics) - errors
        if not diagnostics:
            print(f"no problems in {len(sources)} file{'s' if len(sources) != 1 else ''}.")
        else:
            print(
                f"{errors} error{'s' if errors != 1 else ''}, "
                f"{warnings} warning{'s' if warnings != 1 else ''}."
            )
    if any(d.code in UNREADABLE for d in diagnostics):
        return EXIT_BAD_INPUT
    return EXIT_FINDINGS if any(d.is_error for d in diagnostics) else EXIT_OK


def cmd_fmt(args: argparse.Namespace) -> int:
    from checker.lang.fmt import format_file, read_rule_text, rule_files

    try:
        files = rule_files(args.paths)
    except BcmError as err:
        _print_problems(err, [], sys.stdout)
        return EXIT_BAD_INPUT
    bad_input = would_change = False
    for file in files:
        try:
            outcome = format_file(file, write=not args.check)
        except BcmError as err:
            print(render_all(err.diagnostics, {str(file): read_rule_text(file)}) + "\n")
            bad_input = True
            continue
        except (OSError, UnicodeDecodeError) as err:
            print(f"cannot format {file}: {getattr(err, 'strerror', None) or err}")
            bad_input = True
            continue
        if outcome.changed:
            would_change = True
            print(f"{'would reformat' if args.check else 'reformatted'} {file}")
    if bad_input:
        return EXIT_BAD_INPUT
    return EXIT_FINDINGS if args.check and would_change else EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from checker.service import ServiceSettings, serve

    settings = ServiceSettings.from_environment(
        rules=Path(args.rules),
        db=args.db,
        token_file=Path(args.token_file) if args.token_file else None,
        require_token_for_checks=args.require_token_for_checks,
        max_body_bytes=args.max_body,
        max_batch=args.max_batch,
        max_history_records=args.max_history,
        check_timeout=args.timeout,
        engine_workers=args.workers,
    )
    serve(settings, args.host, args.port, access_log=not args.no_access_log)
    return EXIT_OK


# --- the history store and the trajectory ---------------------------------------------------


def _store(args: argparse.Namespace, create: bool = False) -> Any:
    from checker.store import Store

    return Store(args.db, create=create)


@contextmanager
def _import_progress(total: int) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on standard error for large imports, when a person is watching."""
    if total < 1000 or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = ("writing records", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("import", total=total)
        yield lambda done, of: bar.update(task, completed=done, total=of)


def cmd_history_import(args: argparse.Namespace) -> int:
    from checker.history_csv import read_history_files

    try:
        if sys.stderr.isatty():
            from rich.console import Console

            with Console(stderr=True).status(f"reading {len(args.files)} file(s)"):
                records = read_history_files(args.files, args.encoding, args.max_size)
        else:
            records = read_history_files(args.files, args.encoding, args.max_size)
        with _store(args, create=True) as store, _import_progress(len(records)) as progress:
            result = store.import_records(records, replace=args.replace, progress=progress)
    except BcmError as err:
        _print_problems(err, args.files, sys.stdout)
        print("Nothing was imported.")
        return EXIT_BAD_INPUT
    print(result.summary())
    return EXIT_OK


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "jurisdiction": args.jurisdiction,
        "area": args.area,
        "target": args.target,
        "status": args.status,
        "effective_from": args.effective_from,
        "effective_to": args.effective_to,
    }


def cmd_history_export(args: argparse.Namespace) -> int:
    import io

    with _store(args) as store:
        buffer = io.StringIO()
        count = store.export(buffer, **_filters(args))
    _write_output(buffer.getvalue(), args.output)
    if args.output:
        print(f"{count} record{'s' if count != 1 else ''} written to {args.output}")
    return EXIT_OK


def cmd_history_list(args: argparse.Namespace) -> int:
    from checker.store import record_json

    with _store(args) as store:
        records = store.records(**_filters(args))
    if args.format == "json":
        sys.stdout.write("".join(record_json(r) + "\n" for r in records))
        return EXIT_OK
    for r in records:
        print(
            f"{r.effective_on}  {r.id}  {r.jurisdiction}/{r.area.value}/{r.target}  "
            f"{r.direction.value} {r.magnitude.value}  {r.status.value}  {r.title}"
        )
    print(f"{len(records)} record{'s' if len(records) != 1 else ''}.")
    return EXIT_OK


def cmd_history_show(args: argparse.Namespace) -> int:
    from checker.store import differing_fields, record_json

    with _store(args) as store:
        versions = store.versions(args.id)
    if not versions:
        print(f"The store holds no record `{args.id}`.")
        return EXIT_BAD_INPUT
    if not args.versions:
        print(record_json(versions[-1].record, indent=2))
        return EXIT_OK
    previous = None
    for v in versions:
        when = v.recorded_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        note = " (current)" if v.current else ""
        print(f"version {v.version}{note}: recorded {when}, store revision {v.revision}")
        if previous is not None:
            print("  changed: " + ", ".join(differing_fields(previous, v.record)))
        previous = v.record
    return EXIT_OK


def cmd_trajectory(args: argparse.Namespace) -> int:
    from checker.history_csv import read_history_files
    from checker.trajectory import draw, render_text, trajectory

    if args.history:
        try:
            records = read_history_files(args.history, max_bytes=args.max_size)
        except BcmError as err:
            _print_problems(err, args.history, sys.stdout)
            return EXIT_BAD_INPUT
    else:
        with _store(args) as store:
            records = store.records(args.jurisdiction, args.area, args.target)
    found = trajectory(records, args.jurisdiction, args.area, args.target)
    sys.stdout.write(render_text(found, args.lang))
    if args.chart:
        try:
            used = draw(found, args.chart, args.lang)
        except (ValueError, OSError) as err:
            print(f"cannot draw the chart: {err}")
            return EXIT_BAD_INPUT
        if used != args.lang:
            print(
                "note: no font with Japanese glyphs is installed, so the chart's words are in "
                "English (install fonts-noto-cjk or fonts-ipafont-gothic)",
                file=sys.stderr,
            )
        print(f"chart written to {args.chart}")
    return EXIT_OK


def _add_history_verbs(verbs: Any) -> None:
    from checker.documents import Area, Status

    db_help = "the history store: an SQLite file or a postgresql+psycopg:// URL "
    db_help += "(default: $BCM_DATABASE_URL, else ./bcm.db)"
    history = verbs.add_parser("history", help="the policy history store: import, export, list")
    actions = history.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = actions.add_parser("import", help="import records, all or nothing")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSON, YAML, JSON Lines or CSV")
    p.add_argument(
        "--replace",
        action="store_true",
        help="make records whose id is stored with other content the current "
        "version (the old version is kept)",
    )
    p.add_argument(
        "--encoding",
        metavar="NAME",
        help="the encoding of CSV files (default: UTF-8 or CP932, detected)",
    )
    p.add_argument(
        "--max-size",
        type=_size,
        default=DEFAULT_MAX_BYTES,
        help="largest record accepted (default 10MB)",
    )
    p.add_argument("--db", metavar="URL", help=db_help)
    p.set_defaults(run=cmd_history_import)

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--jurisdiction", metavar="CODE", help="e.g. JP")
        p.add_argument("--area", choices=[a.value for a in Area])
        p.add_argument("--target", metavar="GROUP", help="e.g. trainees")
        p.add_argument("--status", choices=[s.value for s in Status])
        p.add_argument(
            "--from",
            dest="effective_from",
            type=_iso_date,
            metavar="DATE",
            help="effective on or after DATE (YYYY-MM-DD)",
        )
        p.add_argument(
            "--to",
            dest="effective_to",
            type=_iso_date,
            metavar="DATE",
            help="effective on or before DATE (YYYY-MM-DD)",
        )
        p.add_argument("--db", metavar="URL", help=db_help)

    p = actions.add_parser("export", help="write the current records as JSON Lines")
    filters(p)
    p.add_argument("--output", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(run=cmd_history_export)

    p = actions.add_parser("list", help="list the current records in date order")
    filters(p)
    p.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="json: one record per line (JSON Lines)",
    )
    p.set_defaults(run=cmd_history_list)

    p = actions.add_parser("show", help="show one record, or with --versions every version")
    p.add_argument("id", metavar="ID")
    p.add_argument("--versions", action="store_true", help="list every version of the record")
    p.add_argument("--db", metavar="URL", help=db_help)
    p.set_defaults(run=cmd_history_show)

    p = verbs.add_parser(
        "trajectory",
        help="the enacted changes of one scope: reversals, oscillations, "
        "elections; --chart draws them",
    )
    p.add_argument("--jurisdiction", required=True, metavar="CODE", help="e.g. JP")
    p.add_argument("--area", required=True, choices=[a.value for a in Area])
    p.add_argument("--target", required=True, metavar="GROUP", help="e.g. trainees")
    p.add_argument("--chart", metavar="FILE", help="draw the chart to FILE (.svg or .png)")
    p.add_argument("--lang", choices=["en", "ja"], default="en")
    p.add_argument(
        "--history",
        action="append",
        metavar="FILE",
        help="read the records from files instead of the store; may be repeated",
    )
    p.add_argument(
        "--max-size",
        type=_size,
        default=DEFAULT_MAX_BYTES,
        help="largest record accepted (default 10MB)",
    )
    p.add_argument("--db", metavar="URL", help=db_help)
    p.set_defaults(run=cmd_trajectory)


def _iso_date(text: str) -> str:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


# --- parser ---------------------------------------------------------------------------------

Verb = Callable[[argparse.Namespace], int]
_extra_verbs: list[Callable[[Any], None]] = []


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bcm",
        description="Check proposed migration-policy changes against the principles of the "
        "Balanced Coexistence Model.",
    )
    parser.add_argument("--version", action="version", version=f"bcm {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND")

    p = verbs.add_parser("validate", help="validate policy-change documents against the spec")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSON, YAML or JSON Lines documents")
    p.add_argument(
        "--max-size",
        type=_size,
        default=DEFAULT_MAX_BYTES,
        help="largest document or record accepted (default 10MB)",
    )
    p.set_defaults(run=cmd_validate)

    p = verbs.add_parser("schema", help="print the JSON Schema of the policy-change document")
    p.add_argument("--report", action="store_true", help="the schema of a report instead")
    p.set_defaults(run=cmd_schema)

    p = verbs.add_parser("lint", help="check rule packs and rule files; report every problem")
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="pack folders, or .bcm files (checked together as one pack)",
    )
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.set_defaults(run=cmd_lint)

    p = verbs.add_parser("check", help="check proposals against a rule pack and their history")
    p.add_argument("proposals", nargs="+", metavar="PROPOSAL", help="JSON or YAML documents")
    p.add_argument(
        "--history",
        action="append",
        metavar="FILE",
        help="the policy history (JSON, YAML or JSON Lines); may be repeated",
    )
    p.add_argument("--rules", default="rules", metavar="DIR", help="the rule pack (default: rules)")
    p.add_argument("--lang", choices=["en", "ja"], help="language of messages and headings")
    p.add_argument(
        "--format",
        choices=["text", "json", "md", "html", "sarif", "junit"],
        default="text",
        help="report format (default text)",
    )
    p.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help='override a parameter for this check, e.g. reversal_window="1000 days"',
    )
    p.add_argument(
        "--fail-on",
        choices=["conflict", "tension"],
        default="conflict",
        help="exit 1 also on tensions with `tension`",
    )
    p.add_argument("--output", metavar="FILE", help="write the report to FILE")
    p.add_argument(
        "--summary",
        action="store_true",
        help="print only the summary table: verdict and counts per proposal",
    )
    p.add_argument(
        "--max-size",
        type=_size,
        default=DEFAULT_MAX_BYTES,
        help="largest document or record accepted (default 10MB)",
    )
    p.add_argument(
        "--db",
        metavar="URL",
        help="without --history, read the history of the proposals' jurisdictions "
        "from this store (default: $BCM_DATABASE_URL, else ./bcm.db if it exists)",
    )
    p.set_defaults(run=cmd_check)

    p = verbs.add_parser("explain", help="show which conditions of one rule held for a proposal")
    p.add_argument("proposal", metavar="PROPOSAL")
    p.add_argument("--rule", required=True, metavar="ID", help="the rule id, e.g. oscillation")
    p.add_argument("--history", action="append", metavar="FILE")
    p.add_argument("--rules", default="rules", metavar="DIR")
    p.add_argument("--lang", choices=["en", "ja"])
    p.add_argument("--param", action="append", metavar="NAME=VALUE")
    p.set_defaults(run=cmd_explain)

    p = verbs.add_parser("docs", help="write the principles reference from a rule pack")
    p.add_argument("--rules", default="rules", metavar="DIR", help="the rule pack (default: rules)")
    p.add_argument(
        "--output",
        default="docs/principles.md",
        metavar="FILE",
        help="where to write it (default: docs/principles.md; - for standard output)",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when FILE differs from what the pack generates",
    )
    p.set_defaults(run=cmd_docs)

    p = verbs.add_parser("fmt", help="lay rule files out canonically (comments are kept)")
    p.add_argument("paths", nargs="+", metavar="PATH", help=".bcm files or folders of them")
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when a file would be reformatted",
    )
    p.set_defaults(run=cmd_fmt)

    p = verbs.add_parser("serve", help="serve the HTTP API (docs at /docs)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    p.add_argument("--rules", default="rules", metavar="DIR", help="the rule pack (default: rules)")
    p.add_argument(
        "--db", metavar="URL", help="the history store (default: $BCM_DATABASE_URL, else bcm.db)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="supervised engine worker processes (default: one per core; 0 checks in the "
        "server's process, unprotected from engine crashes)",
    )
    p.add_argument(
        "--token-file",
        metavar="FILE",
        help="sha256 hashes of accepted tokens, one a line (and $BCM_API_TOKENS)",
    )
    p.add_argument(
        "--require-token-for-checks",
        action="store_true",
        help="checks need a bearer token too (writes always do)",
    )
    p.add_argument(
        "--max-body",
        type=_size,
        default=1024 * 1024,
        metavar="SIZE",
        help="largest request body (default 1MB)",
    )
    p.add_argument(
        "--max-batch",
        type=int,
        default=100,
        metavar="N",
        help="proposals per batch request (default 100)",
    )
    p.add_argument(
        "--max-history",
        type=int,
        default=10_000,
        metavar="N",
        help="history records per request (default 10000)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="time limit of one request's checking (default 10)",
    )
    p.add_argument("--no-access-log", action="store_true", help="do not log every request")
    p.set_defaults(run=cmd_serve)

    _add_history_verbs(verbs)
    for add in _extra_verbs:
        add(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Verb | None = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return run(args)
    except BcmError as err:
        _print_problems(err, [], sys.stdout)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
