"""The `bcm` command: a thin adapter over the Python API.

Exit codes: 0 nothing to report, 1 findings (or lint errors), 2 bad input of any kind.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from checker import __version__
from checker.diagnostics import BcmError, render_all
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
    print(render_all(err.diagnostics, document_sources(files)), file=out)
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
