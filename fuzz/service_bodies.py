"""atheris harness: any bytes as the body of POST /v1/check, /v1/check/batch, /v1/explain or
/v1/pack/lint (the first byte picks which), through the service's own reading, validation and
checking, and out as the JSON the client would get.

Only a report (or a lint result, an explanation) or a problem document may come out, and
either must encode as UTF-8 JSON; anything else, a timeout or an out-of-memory is a finding
(a 500 for a client). Run it through fuzz/run.py.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # replays run it as a script
from fuzz import keeping_failures

with atheris.instrument_imports(include=["checker"]):
    from checker.service import (
        ProblemError,
        Service,
        ServiceSettings,
        _work_batch,
        _work_check,
        _work_explain,
        _work_lint,
        problem_response,
    )

ROOT = Path(__file__).resolve().parents[1]
STORE = Path(tempfile.mkdtemp(prefix="bcm-fuzz-service-")) / "bcm.db"
SERVICE = Service(ServiceSettings(rules=ROOT / "rules", db=f"sqlite:///{STORE}", max_batch=5))
WORK = (_work_check, _work_batch, _work_explain, _work_lint)


def one_input(data: bytes) -> None:
    if not data:
        return
    work = WORK[data[0] % len(WORK)]
    try:
        result = work(SERVICE, data[1:])
    except ProblemError as problem:
        answer = problem_response(
            problem.status, problem.kind, problem.detail, "/fuzz", problem.diagnostics
        )
        if not 400 <= problem.status < 500 and problem.status != 503:
            raise AssertionError(f"{problem.status}: {problem.detail}") from problem
        answer.body.decode("utf-8")
        return
    json.dumps(_as_json(result), ensure_ascii=False).encode("utf-8")


def _as_json(result: Any) -> Any:
    """What the endpoint hands to the client, as JSON values."""
    if isinstance(result, bytes):  # already encoded: it must be UTF-8 JSON
        return json.loads(result.decode("utf-8"))
    if isinstance(result, list):
        return [_as_json(item) for item in result]
    if hasattr(result, "to_dict"):
        return result.to_dict()
    return result.model_dump(mode="json")


def main() -> None:
    atheris.Setup(sys.argv, keeping_failures(one_input))
    atheris.Fuzz()


if __name__ == "__main__":
    main()
