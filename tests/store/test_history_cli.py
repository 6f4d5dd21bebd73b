"""`bcm history` as a user runs it: import (JSON, YAML, JSON Lines, CSV in UTF-8 or CP932),
all or nothing, versions, export, list, and `bcm check` reading the stored history."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from checker.cli import main
from checker.documents import PolicyChange
from checker.history_csv import COLUMNS
from checker.store import json_text, record_json

from .conftest import EXAMPLES, HISTORY, ROOT, record_data, write_jsonl


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test in a folder of its own: the default store is ./bcm.db there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BCM_DATABASE_URL", raising=False)
    return tmp_path


def bcm(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out + err


# --- CSV as a spreadsheet saves it -------------------------------------------------------------


def csv_cell(kind: str, value: Any) -> str:
    if value is None:
        return "null"
    if kind == "list":
        return ";".join(str(getattr(v, "value", v)) for v in value)
    if kind in ("json", "map"):
        return json_text(value)
    if kind == "bool":
        return "TRUE" if value else "FALSE"
    return str(getattr(value, "value", value))


def csv_text(records: list[PolicyChange], columns: list[str] | None = None) -> str:
    """The records as a CSV file with one column per field path."""
    names = columns or list(COLUMNS)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    for r in records:
        data = r.model_dump(mode="python")
        row = []
        for name in names:
            value: Any = data
            for part in name.split("."):
                value = value[part]
            row.append(csv_cell(COLUMNS[name], value))
        writer.writerow(row)
    return out.getvalue()


# --- importing --------------------------------------------------------------------------------


def test_import_every_format_then_list(
    capsys: pytest.CaptureFixture[str], examples: list[PolicyChange], in_tmp: Path
) -> None:
    yaml_file = in_tmp / "one.yaml"
    yaml_file.write_text(
        "id: T-YAML\ntitle: 受入れ見込数\njurisdiction: JP\narea: integration\n"
        "target: all_migrants\ndirection: expand\nmagnitude: minor\ninstrument: program\n"
        "legal_basis: []\neffective_on: 2021-04-01\nstatus: enacted\n",
        encoding="utf-8",
    )
    (in_tmp / "two.csv").write_text(csv_text([PolicyChange.model_validate(record_data(2))]))
    files = [str(HISTORY), str(EXAMPLES / "2019-specified-skilled-worker.json")]
    code, out = bcm(capsys, "history", "import", *files, str(yaml_file), "two.csv")
    assert code == 0, out
    assert out == "31 records read: 31 added, 0 replaced, 0 unchanged (store revision 1)\n"
    code, out = bcm(capsys, "history", "list", "--area", "integration")
    assert code == 0
    integration = sorted(
        (r for r in examples if r.area.value == "integration"), key=lambda r: r.effective_on
    )
    assert integration[0].id == "JP-2006-LIVING-MEASURES"
    assert out.splitlines() == [
        *(
            f"{r.effective_on}  {r.id}  JP/integration/all_migrants  {r.direction.value} "
            f"{r.magnitude.value}  enacted  {r.title}"
            for r in integration
        ),
        "2021-04-01  T-YAML  JP/integration/all_migrants  expand minor  enacted  受入れ見込数",
        f"{len(integration) + 1} records.",
    ]
    code, out = bcm(capsys, "history", "import", str(HISTORY))
    assert out == "29 records read: 0 added, 0 replaced, 29 unchanged (store revision 1)\n"


def test_a_bad_record_fails_the_whole_import_with_every_problem(
    capsys: pytest.CaptureFixture[str], in_tmp: Path
) -> None:
    bad = write_jsonl(
        in_tmp / "bad.jsonl",
        [
            record_data(1),
            record_data(2, magnitude="huge"),
            record_data(3, rationale__triger="evidence"),
        ],
    )
    code, out = bcm(capsys, "history", "import", str(HISTORY), bad.name)
    assert code == 2
    assert 'error[D103]: "huge" is not a valid value for `magnitude`' in out
    assert "--> bad.jsonl:2:" in out and "(at history[1].magnitude)" in out
    assert "error[D102]: unknown field `triger`" in out and "did you mean `trigger`?" in out
    assert "--> bad.jsonl:3:" in out
    assert out.rstrip().endswith("2 problems found.\nNothing was imported.")
    code, out = bcm(capsys, "history", "list")
    assert code == 2 and "there is no history store at bcm.db" in out


def test_conflict_then_replace_then_versions(
    capsys: pytest.CaptureFixture[str], in_tmp: Path
) -> None:
    write_jsonl(in_tmp / "v1.jsonl", [record_data(1), record_data(2)])
    write_jsonl(in_tmp / "v2.jsonl", [record_data(1), record_data(2, magnitude="major")])
    assert bcm(capsys, "history", "import", "v1.jsonl")[0] == 0
    code, out = bcm(capsys, "history", "import", "v2.jsonl")
    assert code == 2
    assert out == (
        "error[H003]: the store already holds `T-00002` with different content (fields that "
        "differ: `magnitude`)\n"
        "  = help: import with --replace to make this the current version (the old one is "
        "kept), or give the record a new id\n\n1 problem found.\nNothing was imported.\n"
    )
    code, out = bcm(capsys, "history", "import", "v2.jsonl", "--replace")
    assert out == "2 records read: 0 added, 1 replaced, 1 unchanged (store revision 2)\n"
    code, out = bcm(capsys, "history", "show", "T-00002", "--versions")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0].startswith("version 1: recorded ") and lines[0].endswith(
        " UTC, store revision 1"
    )
    assert lines[1].startswith("version 2 (current): recorded ")
    assert lines[2] == "  changed: magnitude"
    code, out = bcm(capsys, "history", "show", "T-00002")
    assert json.loads(out)["magnitude"] == "major"
    assert bcm(capsys, "history", "show", "T-99999") == (
        2,
        "The store holds no record `T-99999`.\n",
    )


def test_export_imports_back_identically(
    capsys: pytest.CaptureFixture[str], store_url: str, in_tmp: Path
) -> None:
    assert bcm(capsys, "history", "import", str(HISTORY), "--db", store_url)[0] == 0
    code, out = bcm(capsys, "history", "export", "--db", store_url, "--output", "all.jsonl")
    assert (code, out) == (0, "29 records written to all.jsonl\n")
    assert bcm(capsys, "history", "import", "all.jsonl", "--db", "copy.db")[0] == 0
    code, copied = bcm(capsys, "history", "export", "--db", "copy.db")
    assert copied == (in_tmp / "all.jsonl").read_text(encoding="utf-8")
    code, out = bcm(capsys, "history", "import", "all.jsonl", "--db", store_url)
    assert out == "29 records read: 0 added, 0 replaced, 29 unchanged (store revision 1)\n"
    code, out = bcm(
        capsys, "history", "export", "--db", store_url, "--area", "exit", "--from", "2010-01-01"
    )
    assert [json.loads(line)["id"] for line in out.splitlines()] == [
        "JP-2013-NIKKEI-REENTRY",
        "JP-2024-REMOVAL-EXCEPTION",
    ]


def test_list_as_json_lines_and_a_bad_date(capsys: pytest.CaptureFixture[str]) -> None:
    bcm(capsys, "history", "import", str(HISTORY))
    _, out = bcm(capsys, "history", "list", "--target", "trainees", "--format", "json")
    assert [json.loads(line)["effective_on"] for line in out.splitlines()] == [
        "1993-04-05",
        "2010-07-01",
        "2017-11-01",
        "2027-04-01",
    ]
    with pytest.raises(SystemExit) as exit_:
        main(["history", "list", "--from", "2019/04/01"])
    assert exit_.value.code == 2
    assert "'2019/04/01' is not a date (YYYY-MM-DD)" in capsys.readouterr().err


# --- CSV --------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
def test_csv_in_utf8_or_cp932_imports_like_the_json(
    capsys: pytest.CaptureFixture[str], examples: list[PolicyChange], encoding: str, in_tmp: Path
) -> None:
    # CP932 cannot hold every character of the examples (its wave dash decodes as a fullwidth
    # tilde), so take the records it holds exactly, Japanese text included.
    def cp932_safe(r: PolicyChange) -> bool:
        text = record_json(r)
        return text.encode("cp932", "replace").decode("cp932") == text

    chosen = [r for r in examples if cp932_safe(r)]
    assert len(chosen) >= 20 and any("定住者" in record_json(r) for r in chosen)
    (in_tmp / "history.csv").write_bytes(csv_text(chosen).encode(encoding))
    code, out = bcm(capsys, "history", "import", "history.csv")
    assert code == 0, out
    code, out = bcm(capsys, "history", "export")
    assert out == "".join(
        record_json(r) + "\n" for r in sorted(chosen, key=lambda r: (r.effective_on, r.id))
    )


def test_the_encoding_can_be_named(capsys: pytest.CaptureFixture[str], in_tmp: Path) -> None:
    one = PolicyChange.model_validate(record_data(1))
    (in_tmp / "sjis.csv").write_bytes(csv_text([one]).encode("cp932"))
    code, out = bcm(capsys, "history", "import", "sjis.csv", "--encoding", "utf-8")
    assert code == 2
    assert "error[D007]: the CSV file is not utf-8 text (invalid start byte)" in out
    assert "--encoding cp932" in out
    code, out = bcm(capsys, "history", "import", "sjis.csv", "--encoding", "cp932")
    assert code == 0, out
    code, out = bcm(capsys, "history", "import", "sjis.csv", "--encoding", "klingon")
    assert code == 2 and "unknown encoding `klingon`" in out


def test_a_file_in_neither_encoding_is_refused(
    capsys: pytest.CaptureFixture[str], in_tmp: Path
) -> None:
    (in_tmp / "latin.csv").write_bytes(b"id,title\nT-1,caf\xe9 \x81\x7f\n")
    code, out = bcm(capsys, "history", "import", "latin.csv")
    assert code == 2
    assert "error[D007]: the CSV file is neither UTF-8 nor CP932 (Shift_JIS) text" in out
    assert "--> latin.csv:2:" in out


HEADER = "id,title,jurisdiction,area,target,direction,magnitude,instrument,legal_basis,"
HEADER += "effective_on,status,rationale.trigger,rationale.evidence,impact.expected_inflow,"
HEADER += "impact.retroactive,extensions.title_ja"
GOOD = "T-1,ok,JP,entry_stay,trainees,expand,minor,act,,2019/4/1,enacted,evidence,,69000,FALSE,"

BAD_CELLS = [
    # (row, the problem a user sees, where: row and column)
    ("T-2,x,JP,entry_stay,trainees,expand,minor,act,,2019-04-01,enacted,evidence,,many,,",
     '"many" is not a value for `impact.expected_inflow`: expected a whole number (or null)',
     "row 3, column N (`impact.expected_inflow`)"),
    ("T-2,x,JP,entry_stay,trainees,expand,minor,act,,2019-04-01,enacted,evidence,,,maybe,",
     '"maybe" is not a value for `impact.retroactive`: expected true or false',
     "row 3, column O (`impact.retroactive`)"),
    ('T-2,x,JP,entry_stay,trainees,expand,minor,act,,2019-04-01,enacted,evidence,"[{""a"":",,,',
     "is not a value for `rationale.evidence`: broken JSON",
     "row 3, column M (`rationale.evidence`)"),
    ("T-2,x,JP,entry_stay,trainees,expand,minor,act,,2019-04-01,enacted,evidense,,,,",
     '"evidense" is not a valid value for `trigger`',
     "row 3, column L (`rationale.trigger`)"),
    ("T-2,x,JP,entry_stay,trainees,expand,minor,act,,2019-13-01,enacted,evidence,,,,",
     '"2019-13-01" is not a calendar date',
     "row 3, column J (`effective_on`)"),
    ('T-2,x,JP,entry_stay,trainees,expand,minor,act,,2019-04-01,enacted,evidence,'
     '"[{""indicator"":""r"",""value"":""1.2""}]",,,',
     '"1.2" for `value`: expected a number',
     "row 3, column M (`rationale.evidence`)"),
    ("T-2,x,JP,entry_stay,trainees,expand,minor,act,,2019-04-01,,evidence,,,,",
     "missing required field `status`", "row 3"),
]  # fmt: skip


@pytest.mark.parametrize(("row", "message", "where"), BAD_CELLS)
def test_bad_csv_cells_are_reported_with_row_and_column(
    capsys: pytest.CaptureFixture[str], in_tmp: Path, row: str, message: str, where: str
) -> None:
    (in_tmp / "h.csv").write_text(f"{HEADER}\n{GOOD}\n{row}\n", encoding="utf-8")
    code, out = bcm(capsys, "history", "import", "h.csv")
    assert code == 2
    assert message in out
    assert f"= note: {where}\n" in out
    assert "--> h.csv:3:" in out
    assert out.rstrip().endswith("1 problem found.\nNothing was imported.")


def test_every_bad_row_of_a_csv_is_reported_at_once(
    capsys: pytest.CaptureFixture[str], in_tmp: Path
) -> None:
    rows = [row for row, _, _ in BAD_CELLS]
    (in_tmp / "h.csv").write_text("\n".join([HEADER, GOOD, *rows]) + "\n", encoding="utf-8")
    code, out = bcm(capsys, "history", "import", "h.csv")
    assert code == 2 and f"{len(rows)} problems found." in out
    for n in range(len(rows)):
        assert f"--> h.csv:{n + 3}:" in out


def test_an_unknown_csv_column_names_the_nearest(
    capsys: pytest.CaptureFixture[str], in_tmp: Path
) -> None:
    (in_tmp / "h.csv").write_text(
        HEADER.replace("rationale.trigger", "rationale.triger") + "\n" + GOOD + "\n"
    )
    code, out = bcm(capsys, "history", "import", "h.csv")
    assert code == 2
    assert "error[D102]: unknown column `rationale.triger` (column L of the header)" in out
    assert "did you mean `rationale.trigger`?" in out
    assert "--> h.csv:1:" in out


def test_csv_cells_read_by_the_type_of_their_field(
    capsys: pytest.CaptureFixture[str], in_tmp: Path
) -> None:
    header = HEADER + ",statuses,rationale.principles,sources,impact.assessments.legal_integrity"
    row = GOOD + ',"technical_intern_training_i; technical_intern_training_ii",'
    row += '"[""legal_integrity""]",,法務省令で定める'
    (in_tmp / "h.csv").write_text(f"{header}\n{row}\n", encoding="utf-8")
    code, out = bcm(capsys, "history", "import", "h.csv")
    assert code == 0, out
    code, out = bcm(capsys, "history", "show", "T-1")
    shown = json.loads(out)
    assert shown["effective_on"] == "2019-04-01"
    assert shown["legal_basis"] == [] and shown["sources"] == []
    assert shown["statuses"] == ["technical_intern_training_i", "technical_intern_training_ii"]
    assert shown["rationale"]["principles"] == ["legal_integrity"]
    assert shown["impact"]["expected_inflow"] == 69000
    assert shown["impact"]["retroactive"] is False
    assert shown["impact"]["assessments"] == {"legal_integrity": "法務省令で定める"}
    assert shown["extensions"] == {}


def test_every_field_has_a_column() -> None:
    assert list(COLUMNS)[:5] == ["id", "title", "jurisdiction", "area", "target"]
    assert COLUMNS["rationale.trigger"] == "text"
    assert COLUMNS["rationale.evidence"] == "json"
    assert COLUMNS["impact.transition_days"] == "int"
    assert COLUMNS["context.next_election_on"] == "date"
    assert COLUMNS["context.announced_in_campaign"] == "bool"
    assert COLUMNS["legal_basis"] == "list" and COLUMNS["extensions"] == "map"
    assert len(COLUMNS) == 27


# --- progress ---------------------------------------------------------------------------------


class Terminal(io.StringIO):
    """Standard error as a terminal: what rich looks at to decide on a progress bar."""

    def isatty(self) -> bool:
        return True


def test_a_large_import_shows_progress_only_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, in_tmp: Path
) -> None:
    big = write_jsonl(in_tmp / "big.jsonl", [record_data(n) for n in range(1000)])
    code = main(["history", "import", big.name, "--db", "piped.db"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == "1000 records read: 1000 added, 0 replaced, 0 unchanged (store revision 1)\n"

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setenv("COLUMNS", "100")
    code = main(["history", "import", big.name, "--db", "terminal.db"])
    out, _ = capsys.readouterr()
    assert code == 0 and out.endswith("1000 added, 0 replaced, 0 unchanged (store revision 1)\n")
    shown = terminal.getvalue()
    assert "reading 1 file(s)" in shown
    assert "writing records" in shown and "1000/1000" in shown


# --- checks read the store --------------------------------------------------------------------


def check_json(capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    proposal = str(EXAMPLES / "proposals" / "demo-conflict.json")
    code, out = bcm(capsys, "check", proposal, "--rules", str(ROOT / "rules"), "--format",
                    "json", *extra)  # fmt: skip
    assert code in (0, 1), out
    report: dict[str, Any] = json.loads(out)
    return report


def test_check_without_history_reads_the_store(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, in_tmp: Path
) -> None:
    from_files = check_json(capsys, "--history", str(HISTORY))
    no_history = check_json(capsys)
    assert from_files != no_history  # the history matters to this proposal
    assert any(f["related"] for f in from_files["findings"])

    assert bcm(capsys, "history", "import", str(HISTORY))[0] == 0
    assert check_json(capsys) == from_files  # ./bcm.db

    (in_tmp / "bcm.db").rename(in_tmp / "elsewhere.db")
    assert check_json(capsys) == no_history
    assert check_json(capsys, "--db", "elsewhere.db") == from_files
    monkeypatch.setenv("BCM_DATABASE_URL", "sqlite:///elsewhere.db")
    assert check_json(capsys) == from_files
    monkeypatch.setenv("BCM_DATABASE_URL", "sqlite:///missing.db")
    code, out = bcm(capsys, "check", str(EXAMPLES / "proposals" / "demo-conflict.json"))
    assert code == 2 and "there is no history store at missing.db" in out
