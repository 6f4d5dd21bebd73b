"""Hostile documents: each is a clear diagnostic (code, message, place) within a time and size
budget, through `bcm validate` as a user runs it and through the Python API.

Deep nesting, huge numbers, NaN and Infinity, 10 MB strings, duplicate keys, invalid UTF-8,
lone surrogates, YAML billion laughs and object tags, floods of broken records; then any JSON
value at all, generated, through the document reader.
"""

from __future__ import annotations

import copy
import json
import resource
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.api import load_pack
from checker.cli import main
from checker.diagnostics import BcmError
from checker.loading import DEFAULT_MAX_BYTES, MAX_DEPTH, MAX_PROBLEMS, load_documents

from . import examples, within

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = json.loads((ROOT / "examples/jp/2019-specified-skilled-worker.json").read_text())
MB = 1024 * 1024


def document(**fields: Any) -> dict[str, Any]:
    """A copy of the example document with some fields replaced (None removes one)."""
    data = {**copy.deepcopy(EXAMPLE), **fields}
    return {k: v for k, v in data.items() if v is not None}


def as_json(**fields: Any) -> str:
    return json.dumps(document(**fields), ensure_ascii=False)


def with_raw(field: str, raw: str) -> str:
    """The example as JSON with `field` (dotted) holding `raw`, written as it stands."""
    data = document()
    *parents, last = field.split(".")
    target = data
    for name in parents:
        target = target[name]
    target[last] = "@@RAW@@"
    return json.dumps(data, ensure_ascii=False).replace('"@@RAW@@"', raw)


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)
MARKER = "/tmp/bcm-hostile-yaml-ran"

# name, file name, content, the code it must give, words of the message, budget in seconds
CASES: list[tuple[str, str, Callable[[], str | bytes], str, str, float]] = [
    (
        "JSON nested 100,000 deep",
        "deep.json",
        lambda: '{"id": ' + nested(100_000) + "}",
        "D011",
        f"nested more than {MAX_DEPTH} levels deep",
        10,
    ),
    (
        "extensions nested 500 deep",
        "deep-extensions.json",
        lambda: with_raw("extensions", '{"x": ' + nested(500) + "}"),
        "D011",
        f"nested more than {MAX_DEPTH} levels deep",
        10,
    ),
    (
        "a typed field nested 900 deep",
        "deep-field.json",
        lambda: with_raw("legal_basis", nested(900)),
        "D011",
        f"nested more than {MAX_DEPTH} levels deep",
        10,
    ),
    (
        "YAML flow nested 100,000 deep",
        "deep.yaml",
        lambda: "id: " + nested(100_000) + "\n",
        "D011",
        f"nested more than {MAX_DEPTH} levels deep",
        10,
    ),
    (
        "YAML blocks nested 3,000 deep",
        "deep-blocks.yaml",
        lambda: "".join("  " * i + "a:\n" for i in range(3_000)),
        "D011",
        f"nested more than {MAX_DEPTH} levels deep",
        20,
    ),
    (
        "a JSON Lines record nested 100,000 deep",
        "deep.jsonl",
        lambda: '{"id": ' + nested(100_000) + "}\n",
        "D011",
        f"nested more than {MAX_DEPTH} levels deep",
        10,
    ),
    (
        "1e999999 as a whole number",
        "huge-exponent.json",
        lambda: with_raw("impact.expected_inflow", "1e999999"),
        "D106",
        "expected a number between 10^-1000 and 10^1000",
        10,
    ),
    (
        "1e999999999 as an exact number",
        "huge-evidence.json",
        lambda: with_raw("rationale.evidence", '[{"indicator": "x", "value": 1e999999999}]'),
        "D106",
        "expected a number between 10^-1000 and 10^1000",
        10,
    ),
    (
        "1e-999999 as an exact number",
        "tiny-evidence.json",
        lambda: with_raw("rationale.evidence", '[{"indicator": "x", "value": 1e-999999}]'),
        "D106",
        "expected a number between 10^-1000 and 10^1000",
        10,
    ),
    (
        "a whole number of 5,000 digits",
        "long-integer.json",
        lambda: with_raw("impact.expected_inflow", "9" * 5_000),
        "D002",
        "a whole number of 5000 digits is more than a document may hold",
        10,
    ),
    (
        "a whole number of 2,000 digits",
        "long-integer-2000.json",
        lambda: with_raw("impact.expected_inflow", "9" * 2_000),
        "D106",
        "expected a number between 10^-1000 and 10^1000",
        10,
    ),
    (
        "a YAML whole number of 5,000 digits",
        "long-integer.yaml",
        lambda: "id: " + "9" * 5_000 + "\n",
        "D006",
        "is not a number a policy document may hold",
        10,
    ),
    (
        "a YAML hexadecimal of 20,000 digits",
        "long-hex.yaml",
        lambda: "id: 0x" + "f" * 20_000 + "\n",
        "D006",
        "is not a number a policy document may hold",
        10,
    ),
    ("NaN", "nan.json", lambda: with_raw("impact.expected_inflow", "NaN"), "D002", "NaN", 5),
    (
        "Infinity",
        "inf.json",
        lambda: with_raw("rationale.evidence", '[{"indicator": "x", "value": -Infinity}]'),
        "D002",
        "-Infinity is not a number a policy document may hold",
        5,
    ),
    ("YAML .nan", "nan.yaml", lambda: "value: .nan\n", "D006", "`.nan` is not a number", 5),
    ("YAML .inf", "inf.yaml", lambda: "value: -.inf\n", "D006", "`-.inf` is not a number", 5),
    (
        "a 10 MB string",
        "huge-string.json",
        lambda: as_json(title="あ" * (4 * MB)),
        "D008",
        "over the limit of 10.0 MB",
        10,
    ),
    (
        "a 10 MB YAML string",
        "huge-string.yaml",
        lambda: "id: " + "a" * (10 * MB) + "\n",
        "D008",
        "over the limit of 10.0 MB",
        10,
    ),
    (
        "a JSON Lines record of 11 MB",
        "huge-line.jsonl",
        lambda: as_json(title="a" * (11 * MB)) + "\n",
        "D008",
        "record on line 1 is 11.0 MB, over the limit of 10.0 MB",
        20,
    ),
    (
        "a key given twice",
        "twice.json",
        lambda: as_json()[:-1] + ', "title": "again"}',
        "D003",
        "the key `title` appears twice in one object",
        5,
    ),
    (
        "a key given twice, deep inside",
        "twice-deep.json",
        lambda: with_raw("impact", '{"retroactive": true, "retroactive": false}'),
        "D003",
        "the key `retroactive` appears twice",
        5,
    ),
    (
        "a YAML key given twice",
        "twice.yaml",
        lambda: "id: a\ntitle: b\nid: c\n",
        "D003",
        "the key `id` appears twice",
        5,
    ),
    (
        "invalid UTF-8",
        "latin1.json",
        lambda: '{"id": "Ausländer"}'.encode("latin-1"),
        "D007",
        "is not UTF-8 text (byte 0xe4",
        5,
    ),
    (
        "UTF-16",
        "utf16.json",
        lambda: as_json().encode("utf-16"),
        "D007",
        "is not UTF-8 text",
        5,
    ),
    (
        "invalid UTF-8 in YAML",
        "latin1.yaml",
        lambda: "title: Ausländer\n".encode("cp1252"),
        "D007",
        "is not UTF-8 text",
        5,
    ),
    (
        "invalid UTF-8 on line 3 of JSON Lines",
        "latin1.jsonl",
        lambda: (as_json() + "\n" + as_json(id="B") + "\n").encode() + b'{"id": "\xff"}\n',
        "D007",
        "is not UTF-8 text",
        5,
    ),
    (
        "a lone surrogate escape",
        "surrogate.json",
        lambda: with_raw("title", '"\\ud800 alone"'),
        "D002",
        "`\\ud800` is half of a UTF-16 surrogate pair",
        5,
    ),
    (
        "a lone surrogate escape in a key",
        "surrogate-key.json",
        lambda: with_raw("extensions", '{"\\udfff": 1}'),
        "D002",
        "`\\udfff` is half of a UTF-16 surrogate pair",
        5,
    ),
    (
        "YAML billion laughs",
        "laughs.yaml",
        lambda: BILLION_LAUGHS,
        "D005",
        "YAML aliases (`*name`) are not allowed in a policy document",
        5,
    ),
    (
        "a YAML object tag that runs a command",
        "object.yaml",
        lambda: f"id: !!python/object/apply:os.system ['touch {MARKER}']\n",
        "D005",
        "YAML tag not allowed",
        5,
    ),
    (
        "a YAML object tag that builds an object",
        "object-new.yaml",
        lambda: "!!python/object/new:subprocess.Popen [['touch', '/tmp/x']]\n",
        "D005",
        "YAML tag not allowed",
        5,
    ),
    ("a YAML tag of one's own", "local-tag.yaml", lambda: "id: !local x\n", "D005", "!local", 5),
    ("a YAML merge key", "merge.yaml", lambda: "impact: {<<: {a: 1}}\n", "D005", "merge", 5),
    (
        "a YAML list as a key",
        "complex-key.yaml",
        lambda: "? [a, b]\n: c\n",
        "D004",
        "a key must be a plain value, not a list or a mapping",
        5,
    ),
    ("two YAML documents", "two.yaml", lambda: "id: a\n---\nid: b\n", "D004", "document", 5),
    ("an empty file", "empty.json", lambda: "  \n", "D009", "the file is empty", 5),
    (
        "a field named like pydantic's key marker",  # found by atheris: an IndexError
        "key-marker.json",
        lambda: with_raw("impact", '{"assessments": {"[key]": "x"}, "[key]": 1}'),
        "D102",
        "unknown field `[key]`",
        5,
    ),
    (
        "300,000 empty records in 1 MB",
        "empties.json",
        lambda: "[" + ",".join(["{}"] * 300_000) + "]",
        "D012",
        f"more than {MAX_PROBLEMS} problems",
        30,
    ),
    (
        "300,000 broken JSON Lines",
        "broken.jsonl",
        lambda: "{\n" * 300_000,
        "D012",
        f"more than {MAX_PROBLEMS} problems",
        30,
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "code", "words", "budget"),
    [pytest.param(f, c, code, w, b, id=n) for n, f, c, code, w, b in CASES],
)
def test_a_hostile_document_is_a_clear_error_in_time(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: Callable[[], str | bytes],
    code: str,
    words: str,
    budget: float,
) -> None:
    path = tmp_path / name
    data = content()
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    with within(budget, f"bcm validate {name}"):
        status = main(["validate", str(path)])
    shown = capsys.readouterr().out
    assert status == 2, shown[:2000]
    assert f"error[{code}]" in shown, shown[:2000]
    assert words in shown, shown[:2000]
    # what is printed stays small, whatever was read
    assert len(shown) < 200_000, f"{len(shown)} characters printed"
    assert not Path(MARKER).exists(), "a YAML tag ran a command"


def test_the_billion_laughs_cost_nothing(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(BILLION_LAUGHS, encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with within(2, "the billion laughs"), pytest.raises(BcmError) as caught:
        load_documents(str(path))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert [d.code for d in caught.value.diagnostics] == ["D005"]
    d = caught.value.diagnostics[0]
    assert d.span is not None and (d.span.line, d.span.column) == (2, 8)  # the first `*a`
    assert grown_mb < 50


def test_a_document_just_under_the_limits_loads_in_time(tmp_path: Path) -> None:
    # 9 MB of Japanese text in `extensions`, nested as deep as allowed, numbers at the bound
    deep: Any = "深"
    for _ in range(MAX_DEPTH - 3):
        deep = [deep]
    data = document(
        extensions={"note": "規範" * (9 * MB // 6), "deep": deep},
        impact={**EXAMPLE["impact"], "expected_inflow": 10**1000},
    )
    path = tmp_path / "large.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert DEFAULT_MAX_BYTES - MB < path.stat().st_size < DEFAULT_MAX_BYTES
    with within(30, "a 9 MB document"):
        (doc,) = load_documents(str(path))
    assert doc.impact.expected_inflow == 10**1000
    assert doc.extensions["note"].startswith("規範")


def test_a_9_mb_minified_file_of_bad_records_prints_little(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [document(id=f"R{n}", direction="expnad") for n in range(3_500)]
    path = tmp_path / "minified.json"
    path.write_text(json.dumps(records, ensure_ascii=False, separators=(",", ":")))
    assert path.stat().st_size > 7 * MB
    with within(60, "bcm validate on 7 MB of bad records"):  # measured: 6 s
        assert main(["validate", str(path)]) == 2
    shown = capsys.readouterr().out
    assert shown.count("error[D103]") == MAX_PROBLEMS
    assert "error[D012]" in shown
    assert len(shown) < 100_000  # was 919 MB: every frame printed the whole line


# --- the Python API -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pack() -> Any:
    with load_pack(ROOT / "rules") as loaded:
        yield loaded


@pytest.mark.parametrize(
    ("fields", "code", "words"),
    [
        pytest.param(
            {"extensions": {"x": json.loads(nested(200))}},
            "D011",
            "nested more than 64 levels deep",
            id="deep extensions",
        ),
        pytest.param(
            {"impact": {"expected_inflow": Decimal("1e999999")}},
            "D106",
            "between 10^-1000 and 10^1000",
            id="1e999999",
        ),
        pytest.param(
            {"impact": {"expected_inflow": float("inf")}},
            "D106",
            "expected a finite number",
            id="float infinity",
        ),
        pytest.param(
            {"rationale": {"evidence": [{"indicator": "x", "value": float("nan")}]}},
            "D106",
            "expected a finite number",
            id="float NaN",
        ),
        pytest.param(
            {"impact": {"expected_inflow": 10**5000}},
            "D106",
            "between 10^-1000 and 10^1000",
            id="10 to the 5000",
        ),
    ],
)
def test_the_python_api_refuses_hostile_values_with_diagnostics(
    pack: Any, fields: dict[str, Any], code: str, words: str
) -> None:
    with within(5, "a check"), pytest.raises(BcmError) as caught:
        pack.check(document(**fields))
    assert [d.code for d in caught.value.diagnostics] == [code]
    assert words in caught.value.diagnostics[0].message


@pytest.mark.parametrize(
    "value",
    [Decimal("1e999999"), Decimal("NaN"), Decimal("Infinity"), 10**5000],
    ids=["1e999999", "NaN", "Infinity", "10 to the 5000"],
)
def test_a_parameter_override_out_of_range_is_p011(pack: Any, value: Any) -> None:
    with within(5, "a check"), pytest.raises(BcmError) as caught:
        pack.check(EXAMPLE, params={"reversal_window": value})
    (d,) = caught.value.diagnostics
    assert (d.code, d.message) == (
        "P011",
        "`reversal_window` takes a finite number within 10^-1000 and 10^1000",
    )


# --- any JSON at all ------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)
FIELDS = st.sampled_from(sorted(EXAMPLE))


@given(st.one_of(JSON_VALUES, st.dictionaries(FIELDS, JSON_VALUES)), st.booleans())
@settings(
    max_examples=examples(200, 10_000),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_any_json_is_a_document_or_diagnostics(
    tmp_path: Path, replacement: Any, merge: bool
) -> None:
    data = {**EXAMPLE, **replacement} if merge and isinstance(replacement, dict) else replacement
    path = tmp_path / "any.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8", errors="surrogatepass")
    try:
        load_documents(str(path))
    except BcmError as err:
        assert err.diagnostics
        for d in err.diagnostics:
            assert d.code[0] == "D" and d.message, d


# --- CSV history ----------------------------------------------------------------------------

CSV_HEADER = (
    "id,title,jurisdiction,area,target,direction,magnitude,instrument,legal_basis,effective_on,"
    "status,rationale.evidence,impact.expected_inflow"
)


def csv_row(n: int, evidence: str = "", inflow: str = "69000", area: str = "entry_stay") -> str:
    cells = [f"T-{n}", "ok", "JP", area, "trainees", "expand", "minor", "act", "", "2019/4/1"]
    cells += ["enacted", evidence, inflow]
    return ",".join('"' + cell.replace('"', '""') + '"' for cell in cells)


@pytest.mark.parametrize(
    ("rows", "code", "words"),
    [
        pytest.param(
            [csv_row(1, inflow="9" * 5_000)],
            "D106",
            "a whole number with more digits than a document may hold",
            id="a whole number of 5,000 digits",
        ),
        pytest.param(
            [csv_row(1, evidence="[" * 50_000 + "]" * 50_000)],
            "D106",
            "JSON nested more than 64 levels deep",
            id="JSON nested 50,000 deep in a cell",
        ),
        pytest.param(
            [csv_row(1, evidence='[{"indicator": "x", "value": 1, "value": 2}]')],
            "D106",
            "the key `value` appears twice in one object",
            id="a key twice in a JSON cell",
        ),
        pytest.param(
            [csv_row(1, evidence='[{"indicator": "\\ud800", "value": 1}]')],
            "D106",
            "half of a utf-16 surrogate pair",
            id="a lone surrogate in a JSON cell",
        ),
        pytest.param(
            [csv_row(n, area="bogus") for n in range(3_000)],
            "D012",
            f"more than {MAX_PROBLEMS} problems",
            id="3,000 bad rows",
        ),
    ],
)
def test_a_hostile_csv_history_is_a_clear_error(
    tmp_path: Path, rows: list[str], code: str, words: str
) -> None:
    from checker.history_csv import load_csv_history

    path = tmp_path / "history.csv"
    path.write_text("\n".join([CSV_HEADER, *rows]) + "\n", encoding="utf-8")
    with within(20, "reading a CSV history"), pytest.raises(BcmError) as caught:
        load_csv_history(path)
    found = caught.value.diagnostics
    assert any(d.code == code and words in d.message for d in found), found[:3]
    assert len(found) <= MAX_PROBLEMS + 1
