"""The policy-change document: every field, every class of bad input, as `bcm validate` shows it."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main
from checker.diagnostics import BcmError
from checker.documents import Direction, PolicyChange, Status
from checker.loading import load_documents, load_history

SPEC_EXAMPLE: dict[str, Any] = {
    "id": "JP-2018-SSW",
    "title": "Create the Specified Skilled Worker status of residence",
    "jurisdiction": "JP",
    "area": "entry_stay",
    "target": "low_skilled_workers",
    "statuses": ["specified_skilled_worker_i", "specified_skilled_worker_ii"],
    "direction": "expand",
    "magnitude": "major",
    "instrument": "act",
    "legal_basis": ["ICRRA Art. 2-2", "ICRRA Annexed Table I(2)"],
    "proposed_on": "2018-11-02",
    "effective_on": "2019-04-01",
    "status": "enacted",
    "rationale": {
        "principles": ["economic_rationality"],
        "statement": "Labour shortages in 14 designated sectors.",
        "trigger": "evidence",
        "evidence": [
            {
                "indicator": "job_openings_to_applicants_ratio",
                "value": 1.63,
                "previous": 1.36,
                "unit": "ratio",
                "as_of": "2018-10",
                "source": "MHLW monthly labour statistics",
            }
        ],
    },
    "impact": {
        "expected_inflow": 69000,
        "integration_capacity": None,
        "affects_current_residents": False,
        "retroactive": False,
        "transition_days": None,
        "assessments": {"integration_capacity": "Support plans required of employers."},
    },
    "context": {"next_election_on": "2019-07-21", "announced_in_campaign": False},
    "sources": ["https://www.moj.go.jp/isa/"],
}

MINIMAL: dict[str, Any] = {
    "id": "P-1",
    "title": "t",
    "jurisdiction": "JP",
    "area": "exit",
    "target": "students",
    "direction": "neutral",
    "magnitude": "minor",
    "instrument": "guideline",
    "legal_basis": [],
    "effective_on": "2020-01-01",
}


def write(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return str(path)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


# --- every field -----------------------------------------------------------------------------


def test_spec_example_loads_with_every_field() -> None:
    doc = PolicyChange.model_validate(SPEC_EXAMPLE)
    assert doc.direction is Direction.expand
    assert doc.status is Status.enacted
    assert doc.rationale.evidence[0].value == Decimal("1.63")
    assert doc.rationale.evidence[0].previous == Decimal("1.36")
    assert doc.impact.expected_inflow == 69000
    assert doc.impact.integration_capacity is None
    assert str(doc.context.next_election_on) == "2019-07-21"
    assert doc.scope == ("JP", "entry_stay", "low_skilled_workers")


def test_defaults_follow_the_spec() -> None:
    doc = PolicyChange.model_validate(MINIMAL)
    assert doc.status is Status.proposed
    assert doc.impact.affects_current_residents is False
    assert doc.impact.retroactive is False
    assert doc.context.announced_in_campaign is False
    assert doc.rationale.principles == []
    assert doc.extensions == {}


def test_numbers_are_exact_decimals_from_json(tmp_path: Path) -> None:
    path = write(tmp_path, "d.json", json.dumps(SPEC_EXAMPLE))
    (doc,) = load_documents(path)
    ev = doc.rationale.evidence[0]
    assert (ev.value - ev.previous) / ev.previous == Decimal("0.1985294117647058823529411765")
    assert Decimal("1.496") - Decimal("1.36") == Decimal("0.136")


def test_yaml_and_json_spell_the_same_document(tmp_path: Path) -> None:
    import yaml

    j = write(tmp_path, "d.json", json.dumps(SPEC_EXAMPLE))
    y = write(tmp_path, "d.yaml", yaml.safe_dump(SPEC_EXAMPLE, allow_unicode=True))
    assert load_documents(j) == load_documents(y)


def test_a_list_of_documents_and_json_lines(tmp_path: Path) -> None:
    other = dict(MINIMAL, id="P-2", status="enacted")
    lst = write(tmp_path, "l.json", json.dumps([MINIMAL, other]))
    assert [d.id for d in load_documents(lst)] == ["P-1", "P-2"]
    jl = write(tmp_path, "h.jsonl", "\n".join(json.dumps(d) for d in [SPEC_EXAMPLE, other]) + "\n")
    assert [d.id for d in load_history(jl)] == ["JP-2018-SSW", "P-2"]


def test_japanese_text_is_kept_exactly(tmp_path: Path) -> None:
    doc = dict(
        MINIMAL,
        title="特定技能1号の受入れ見込数の見直し",
        rationale={"statement": "人手不足（有効求人倍率 1.63倍）への対応。"},
        extensions={"title_ja": "在留資格「特定技能」の創設", "メモ": "〜①㈱"},
    )
    path = write(tmp_path, "ja.json", json.dumps(doc, ensure_ascii=False))
    (loaded,) = load_documents(path)
    assert loaded.title == doc["title"]
    assert loaded.rationale.statement == "人手不足（有効求人倍率 1.63倍）への対応。"
    round_trip = json.loads(loaded.model_dump_json())
    assert round_trip["extensions"] == doc["extensions"]
    assert PolicyChange.model_validate(round_trip) == loaded


def test_extensions_carry_data_of_ones_own() -> None:
    doc = PolicyChange.model_validate(dict(MINIMAL, extensions={"prefecture": "愛知県", "n": 3}))
    assert doc.extensions == {"prefecture": "愛知県", "n": 3}


def test_history_records_need_a_status(tmp_path: Path) -> None:
    path = write(tmp_path, "h.jsonl", json.dumps(MINIMAL) + "\n")
    with pytest.raises(BcmError) as err:
        load_history(path)
    (d,) = err.value.diagnostics
    assert d.message == "missing required field `status`"
    assert d.path == "history[0].status"


# --- bad input: what `bcm validate` prints ----------------------------------------------------


def mutate(change: dict[str, Any]) -> str:
    doc = copy.deepcopy(SPEC_EXAMPLE)
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        target = doc
        for p in parents:
            target = target[p]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return json.dumps(doc, indent=2, ensure_ascii=False)


BAD_DOCUMENTS = [
    # (what, document text, expected lines in the output)
    (
        "missing required field",
        mutate({"effective_on": KeyError}),
        ["error[D101]: missing required field `effective_on`", "(at effective_on)"],
    ),
    (
        "wrong enum value, with a suggestion",
        mutate({"direction": "expnad"}),
        [
            'error[D103]: "expnad" is not a valid value for `direction`',
            "help: did you mean `expand`? allowed: expand, restrict, neutral",
            ":11:",
        ],
    ),
    (
        "enum inside a list",
        mutate({"rationale.principles": ["economic_rationalty"]}),
        [
            "`principles`",
            "did you mean `economic_rationality`?",
            "(at rationale.principles[0])",
        ],
    ),
    (
        "bad date",
        mutate({"effective_on": "2019-02-30"}),
        ['error[D104]: "2019-02-30" is not a calendar date', "YYYY-MM-DD"],
    ),
    (
        "a timestamp is not a date",
        mutate({"proposed_on": 1541116800}),
        ["error[D104]", "(at proposed_on)"],
    ),
    (
        "wrong type",
        mutate({"legal_basis": "ICRRA Art. 2-2"}),
        ['error[D106]: `legal_basis` should be a list, found "ICRRA Art. 2-2"'],
    ),
    (
        "unknown field, with a suggestion",
        mutate({"legal_bases": []}),
        ["error[D102]: unknown field `legal_bases`", "help: did you mean `legal_basis`?"],
    ),
    (
        "unknown nested field",
        mutate({"impact.transition_day": 30}),
        [
            "unknown field `transition_day`",
            "did you mean `transition_days`?",
            "(at impact.transition_day)",
        ],
    ),
    (
        "a number given as text",
        mutate({"rationale.evidence": [{"indicator": "x", "value": "1.2"}]}),
        ["(at rationale.evidence[0].value)", "expected a number"],
    ),
    (
        "assessments keyed by something other than a principle",
        mutate({"impact.assessments": {"dignity": "ok"}}),
        ["(at impact.assessments.dignity", "did you mean `human_dignity`?"],
    ),
    (
        "jurisdiction not an ISO code",
        mutate({"jurisdiction": "Japan"}),
        ['"Japan" is not an ISO 3166-1 alpha-2 code'],
    ),
    (
        "a whole number expected",
        mutate({"impact.expected_inflow": 12.5}),
        ["(at impact.expected_inflow)", "expected a whole number"],
    ),
]


@pytest.mark.parametrize(
    ("what", "text", "expected"), BAD_DOCUMENTS, ids=[b[0] for b in BAD_DOCUMENTS]
)
def test_bad_document_is_located_and_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str, text: str, expected: list[str]
) -> None:
    path = write(tmp_path, "bad.json", text)
    code, out = run_cli(capsys, "validate", path)
    assert code == 2
    assert "Traceback" not in out
    for line in expected:
        assert line in out, f"{what}: {line!r} not in\n{out}"
    assert f"--> {path}:" in out


def test_every_problem_is_reported_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = mutate(
        {"direction": "up", "legal_basis": KeyError, "legal_bases": [], "effective_on": "soon"}
    )
    code, out = run_cli(capsys, "validate", write(tmp_path, "bad.json", text))
    assert code == 2
    for code_ in ("D101", "D102", "D103", "D104"):
        assert f"error[{code_}]" in out
    assert "4 problems found." in out


BAD_FILES = [
    ("empty file", "e.json", "", ["error[D009]: the file is empty"]),
    ("blank YAML", "e.yaml", "   \n", ["error[D009]: the file is empty"]),
    (
        "broken JSON",
        "b.json",
        '{"id": "x",\n "title": }',
        ["error[D002]: broken JSON: expecting value", "b.json:2:11"],
    ),
    (
        "broken YAML",
        "b.yaml",
        "id: x\ntitle: [unclosed\nzz: 1\n",
        ["error[D004]: broken YAML"],
    ),
    (
        "a list where an object belongs",
        "l.json",
        '[["not", "a", "document"]]',
        ["error[D010]: expected a policy-change object, found a list", "(at [0])"],
    ),
    (
        "a bare value",
        "v.json",
        '"just text"',
        ['error[D010]: expected a policy-change object, found "just text"'],
    ),
    (
        "duplicate keys",
        "d.json",
        '{"id": "a", "id": "b"}',
        ["error[D003]: the key `id` appears twice in one object"],
    ),
    ("NaN is not a number", "n.json", '{"id": NaN}', ["error[D002]", "NaN"]),
    (
        "YAML object tags are refused",
        "t.yaml",
        "id: !!python/object/apply:os.system ['echo pwned']\n",
        ["error[D005]: broken YAML: YAML tag not allowed"],
    ),
    (
        "YAML aliases are refused",
        "a.yaml",
        "a: &x [1, 2]\nb: *x\n",
        ["error[D005]: YAML aliases (`*name`) are not allowed"],
    ),
    (
        "not UTF-8",
        "s.json",
        '{"title": "特定技能"}'.encode("cp932"),
        ["error[D007]: the file is not UTF-8"],
    ),
]


@pytest.mark.parametrize(
    ("what", "name", "content", "expected"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_bad_file_is_a_clear_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    what: str,
    name: str,
    content: str | bytes,
    expected: list[str],
) -> None:
    code, out = run_cli(capsys, "validate", write(tmp_path, name, content))
    assert code == 2
    assert "Traceback" not in out
    for line in expected:
        assert line in out, f"{what}: {line!r} not in\n{out}"


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "validate", "/nonexistent/x.json")
    assert code == 2
    assert "error[D001]: cannot read `/nonexistent/x.json`" in out


def test_oversized_document_is_rejected_before_parsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = dict(MINIMAL, title="x" * (10 * 1024 * 1024 + 10))
    path = write(tmp_path, "big.json", json.dumps(doc))
    code, out = run_cli(capsys, "validate", path)
    assert code == 2
    assert "error[D008]: the document is 10.0 MB, over the limit of 10.0 MB" in out
    code, out = run_cli(capsys, "validate", "--max-size", "20MB", path)
    assert code == 0


def test_oversized_record_in_json_lines_names_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = json.dumps(dict(MINIMAL, status="enacted"))
    path = write(
        tmp_path, "h.jsonl", small + "\n" + json.dumps(dict(MINIMAL, title="x" * 2000)) + "\n"
    )
    code, out = run_cli(capsys, "validate", "--max-size", "1kb", path)
    assert code == 2
    assert "record on line 2" in out


def test_validate_prints_each_valid_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "ok.json", json.dumps(SPEC_EXAMPLE))
    code, out = run_cli(capsys, "validate", path)
    assert code == 0
    assert (
        "JP-2018-SSW  JP/entry_stay/low_skilled_workers  expand major, effective 2019-04-01" in out
    )
    assert "1 document valid." in out


def test_bundled_examples_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).resolve().parents[1] / "examples" / "jp"
    files = sorted(str(p) for p in root.rglob("*.json"))
    assert len(files) >= 15
    code, out = run_cli(capsys, "validate", *files)
    assert code == 0, out


def test_schema_is_generated_from_the_models(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(capsys, "schema")
    schema = json.loads(out)
    assert code == 0
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) >= {
        "id",
        "title",
        "jurisdiction",
        "area",
        "legal_basis",
        "effective_on",
    }
    assert schema["properties"]["effective_on"] == {
        "format": "date",
        "title": "Effective On",
        "type": "string",
    }
    defs = json.dumps(schema["$defs"])
    assert "normative_coherence" in defs and "electoral_pledge" in defs


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("bcm 0.")
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "validate" in out and "schema" in out
