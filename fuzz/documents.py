"""atheris harness: any bytes, as a JSON, YAML or JSON Lines document (the first byte picks
which), through the document reader and the model, as `bcm validate` reads a file.

Only documents or a BcmError with diagnostics may come out; anything else, a timeout or an
out-of-memory is a finding (see parse_and_check.py). Run it through fuzz/run.py.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # replays run it as a script
from fuzz import keeping_failures

with atheris.instrument_imports(include=["checker"]):
    from checker.diagnostics import BcmError, render_all
    from checker.loading import document_sources, load_documents

FORMATS = (".json", ".yaml", ".jsonl")
FOLDER = tempfile.mkdtemp(
    prefix="bcm-fuzz-documents-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
)
# Small enough that libFuzzer explores; large inputs have their own tests.
MAX_BYTES = 64 * 1024


def one_input(data: bytes) -> None:
    if not data:
        return
    path = os.path.join(FOLDER, "document" + FORMATS[data[0] % len(FORMATS)])
    with open(path, "wb") as out:
        out.write(data[1:])
    try:
        load_documents(path, max_bytes=MAX_BYTES)
    except BcmError as err:
        if not err.diagnostics:
            raise AssertionError("a BcmError without diagnostics") from err
        for diagnostic in err.diagnostics:
            if not diagnostic.code.startswith("D") or not diagnostic.message:
                raise AssertionError(f"not a document diagnostic: {diagnostic}") from err
        render_all(err.diagnostics, document_sources([path]))


def main() -> None:
    atheris.Setup(sys.argv, keeping_failures(one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
