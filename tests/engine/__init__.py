"""Tests of runtime semantics, the reference evaluator and findings, with small helpers.

`pack_from_text` turns the text of one rule file into a CheckedPack, through the real loader
(`checker.lang.pack.load_checked_pack`) so that the tests see exactly what users' packs give.
`policy` builds a policy-change fact from the few fields a test cares about.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from checker.documents import PolicyChange
from checker.lang.checked import CheckedPack
from checker.semantics import to_fact

MANIFEST = """name = "test-pack"
version = "0.0.1"
default_lang = "en"
"""


def pack_from_text(
    text: str, folder: Path, manifest: str = MANIFEST, file: str = "rules.bcm"
) -> CheckedPack:
    """A checked pack made of one rule file, written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.toml").write_text(manifest, encoding="utf-8")
    (folder / file).write_text(text, encoding="utf-8")
    try:
        from checker.lang.pack import load_checked_pack
    except ImportError:  # the loader is being written; until then, assemble the pack by hand
        return _assemble(text, folder, manifest, file)
    return load_checked_pack(str(folder))


def _assemble(text: str, folder: Path, manifest: str, file: str) -> CheckedPack:
    import tomllib

    from checker.lang.checked import Manifest, ParamInfo, RuleInfo
    from checker.lang.parse import parse

    data = tomllib.loads(manifest)
    overrides = {
        j: {n: _number(v) for n, v in values.items()}
        for j, values in data.get("overrides", {}).items()
    }
    path = f"{folder.name}/{file}"
    tree = parse(text, path)
    params = {p.name: ParamInfo(p.name, p.value, None, p.span) for p in tree.params}
    defines = {d.name: d for d in tree.defines}
    rules = []
    for principle in tree.principles:
        for p in principle.params:
            params[p.name] = ParamInfo(p.name, p.value, principle.name, p.span)
        defines.update({d.name: d for d in principle.defines})
        for rule in principle.rules:
            kind = rule.kind.value if rule.kind else "note"
            source = f"{path}:{rule.span.line}:{rule.span.column}"
            rules.append(RuleInfo(rule.name, principle.name, kind, rule, source))
    return CheckedPack(
        manifest=Manifest(
            data["name"],
            data["version"],
            data.get("default_lang", "en"),
            data.get("jurisdiction"),
            overrides,
        ),
        root=str(folder),
        hash="sha256:test",
        files=(tree,),
        sources={path: text},
        params=params,
        defines=defines,
        principles={p.name: p for p in tree.principles},
        rules=tuple(rules),
        types={},
    )


def _number(text: str) -> Any:
    from decimal import Decimal

    from checker.lang import ast

    value, _, unit = text.strip().partition(" ")
    if value.endswith("%"):
        return ast.Number(Decimal(value[:-1]), "%")
    return ast.Number(Decimal(value), unit or None)


def policy(
    id: str,
    effective_on: str,
    direction: str = "expand",
    *,
    status: str = "enacted",
    jurisdiction: str = "JP",
    area: str = "entry_stay",
    target: str = "trainees",
    **fields: Any,
) -> dict[str, Any]:
    """A policy-change fact, validated by the document model like any user's document."""
    data: dict[str, Any] = {
        "id": id,
        "title": f"policy {id}",
        "jurisdiction": jurisdiction,
        "area": area,
        "target": target,
        "direction": direction,
        "magnitude": "minor",
        "instrument": "act",
        "legal_basis": [],
        "effective_on": effective_on,
        "status": status,
        **fields,
    }
    return to_fact(PolicyChange.model_validate(data))


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
