"""Synthetic history records for the store tests (importable without pytest, so the importer
processes start quickly)."""

from __future__ import annotations

from typing import Any

from checker.documents import PolicyChange


def record_data(n: int, **changes: Any) -> dict[str, Any]:
    """A valid history record numbered n, with fields changed as given (a nested field as
    `rationale__trigger`)."""
    data: dict[str, Any] = {
        "id": f"T-{n:05d}",
        "title": f"Synthetic change {n}: 受入れ見込数の再設定",
        "jurisdiction": "JP",
        "area": "entry_stay",
        "target": "low_skilled_workers",
        "direction": "expand" if n % 2 else "restrict",
        "magnitude": "minor",
        "instrument": "public_notice",
        "legal_basis": ["ICRRA Art. 2-2"],
        "effective_on": f"{2000 + n % 25}-04-01",
        "status": "enacted",
        "rationale": {
            "trigger": "evidence",
            "evidence": [
                {"indicator": "job_openings_to_applicants_ratio", "value": 1.36, "previous": 1.2}
            ],
        },
        "extensions": {"note": "x" * 400},
    }
    for key, value in changes.items():
        target = data
        *parents, last = key.split("__")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return data


def record(n: int, **changes: Any) -> PolicyChange:
    return PolicyChange.model_validate(record_data(n, **changes))
