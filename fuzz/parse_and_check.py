"""atheris harness: any bytes, as a rule file, through the parser and the load-time checks.

Only a checked pack or a BcmError with diagnostics may come out; any other exception, an input
that takes longer than libFuzzer's -timeout, or memory past -rss_limit_mb is a finding, saved
by libFuzzer as `crash-*`/`timeout-*`/`oom-*` for `python fuzz/parse_and_check.py FILE` to
replay. Run it through fuzz/run.py, which bounds its time.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # replays run it as a script
from fuzz import keeping_failures

with atheris.instrument_imports(include=["checker", "lark"]):
    from checker.diagnostics import BcmError, render_all
    from checker.lang.check import check_files
    from checker.lang.checked import Manifest
    from checker.lang.parse import parse

FILE = "fuzz.bcm"
MANIFEST = Manifest("fuzz", "0.0.0")


def one_input(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        tree = parse(text, FILE)
    except BcmError as err:
        if not err.diagnostics:
            raise AssertionError("a BcmError without diagnostics") from err
        render_all(err.diagnostics, {FILE: text})
        return
    _, diagnostics = check_files([tree], MANIFEST, {FILE: text})
    for diagnostic in diagnostics:
        if not diagnostic.code or not diagnostic.message:
            raise AssertionError(f"a diagnostic without code or message: {diagnostic}")
    render_all(diagnostics, {FILE: text})


def main() -> None:
    atheris.Setup(sys.argv, keeping_failures(one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
