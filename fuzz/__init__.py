"""Bounded fuzzing for `make fuzz`: atheris harnesses and the runner that drives them and the
long hypothesis and schemathesis runs (see run.py)."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path


def keeping_failures(one_input: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """`one_input`, saving an input that raises as `crash-<sha1>` under libFuzzer's
    -artifact_prefix before the exception goes on to libFuzzer.

    libFuzzer writes the input itself too, but a harness whose process is killed while the
    crash is being reported (a timer signal of -timeout, a worker thread) would lose it; this
    copy is written first, so every finding can be replayed."""
    prefix = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("-artifact_prefix=")), "")

    def guarded(data: bytes) -> None:
        try:
            one_input(data)
        except BaseException:
            if prefix:
                name = f"{prefix}crash-{hashlib.sha1(data).hexdigest()}"
                Path(name).write_bytes(data)
            raise

    return guarded
