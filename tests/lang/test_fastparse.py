"""The fast path of the parser (checker/lang/fastparse.py) against Lark, the parser of record.

Wherever the fast path accepts a text, its tree equals Lark's, spans included; wherever Lark
rejects a text, the fast path gives up (so every diagnostic is Lark's). Shown on:

- every rule file of the repository, every rule text written in a test, the benchmark's
  shapes;
- generated trees written any way the language allows (tests/lang/strategies.py): the fast
  path reads every one of them;
- mutations of those texts (words swapped for keywords, tokens dropped, doubled or moved,
  fragments put in), and arbitrary text;
- the limits: nesting (S008) at and around MAX_NESTING, numbers of 1,000 digits (S009), dates
  (S007) and clauses given twice (S010), through `parse` and with `BCM_PARSER=lark`.
"""

from __future__ import annotations

import ast as pyast
import dataclasses
import importlib.util
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.diagnostics import BcmError, Diagnostic
from checker.lang import ast, fastparse
from checker.lang.parse import MAX_DIGITS, MAX_NESTING, PARSER_VARIABLE, parse, parse_lark, parser

from .strategies import JAPANESE, KEYWORDS, rule_texts

ROOT = Path(__file__).resolve().parents[2]
FUZZ = os.environ.get("BCM_FUZZ") == "1"
SETTINGS = settings(
    max_examples=2000 if FUZZ else 300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- comparing the two paths ----------------------------------------------------------------


def with_spans(node: Any) -> Any:
    """A tree as nested tuples, every node's span in it: equal only when the spans are."""
    if isinstance(node, ast.Node):
        values = tuple(
            with_spans(getattr(node, f.name)) for f in dataclasses.fields(node) if f.name != "span"
        )
        return (type(node).__name__, node.span, values)
    if isinstance(node, tuple):
        return tuple(with_spans(item) for item in node)
    return node


def lark(text: str, file: str = "t.bcm") -> ast.RuleFile | list[Diagnostic]:
    try:
        return parse_lark(text, file)
    except BcmError as err:
        return err.diagnostics


def fast(text: str, file: str = "t.bcm") -> ast.RuleFile | None:
    try:
        return fastparse.parse(text, file)
    except fastparse.GiveUp:
        return None


def agree(text: str, file: str = "t.bcm") -> bool:
    """Assert that the fast path gives Lark's tree or gives up, and gives up when Lark
    rejects; True when the fast path read the text."""
    expected = lark(text, file)
    got = fast(text, file)
    if isinstance(expected, list):
        assert got is None, f"the fast path accepts what Lark rejects: {expected}"
        return False
    if got is None:
        return False
    assert got == expected
    assert with_spans(got) == with_spans(expected)
    return True


# --- the texts of the repository ------------------------------------------------------------


def _rule_files() -> list[Path]:
    found = [
        path
        for path in ROOT.rglob("*.bcm")
        if not {".venv", ".git", "node_modules"} & set(path.relative_to(ROOT).parts)
    ]
    return sorted(p for p in found if p.is_file())


def _texts_in_tests() -> Iterator[str]:
    """String constants of the test suite that look like rule text."""
    for path in sorted((ROOT / "tests").rglob("*.py")):
        tree = pyast.parse(path.read_text(encoding="utf-8"))
        for node in pyast.walk(tree):
            if isinstance(node, pyast.Constant) and isinstance(node.value, str):
                value = node.value
                if re.search(r"\b(principle|rule|define|param)\b", value) and len(value) > 10:
                    yield value


def _bench_texts() -> list[str]:
    spec = importlib.util.spec_from_file_location("lang_bench", ROOT / "bench/lang_bench.py")
    assert spec is not None and spec.loader is not None
    bench = sys.modules.get("lang_bench") or importlib.util.module_from_spec(spec)
    if "lang_bench" not in sys.modules:
        sys.modules["lang_bench"] = bench  # its dataclasses look their module up
        spec.loader.exec_module(bench)
    shapes = [shape.replace("@", str(n)) for n, shape in enumerate(bench.SHAPES)]
    small = [bench.SMALL_RULE.replace("@", "0")] if hasattr(bench, "SMALL_RULE") else []
    return [
        bench.PARAMS,
        "principle p {\n" + "".join(shapes) + "}\n",
        *("principle p {\n" + s + "}\n" for s in small),
    ]


def test_every_rule_file_of_the_repository_reads_the_same_both_ways() -> None:
    files = _rule_files()
    assert len(files) > 50, "the rule files were not found"
    read = 0
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        read += agree(text, str(path.relative_to(ROOT)))
    # Every file Lark reads, the fast path reads: only the broken golden files are left.
    texts = [p.read_bytes().decode("utf-8", "replace") for p in files]
    accepted = [t for t in texts if not isinstance(lark(t), list)]
    assert read == len(accepted) >= 50


def test_the_default_pack_and_the_benchmark_take_the_fast_path() -> None:
    for path in sorted((ROOT / "rules").glob("*.bcm")):
        assert agree(path.read_text(encoding="utf-8"), path.name), path
    for text in _bench_texts():
        assert agree(text)


def test_every_rule_text_in_the_tests_reads_the_same_both_ways() -> None:
    texts = sorted(set(_texts_in_tests()))
    assert len(texts) > 100
    read = sum(agree(text) for text in texts)
    assert read > 50


# --- generated texts ------------------------------------------------------------------------


@given(rule_texts())
@SETTINGS
def test_generated_texts_read_the_same_both_ways(case: tuple[ast.RuleFile, str]) -> None:
    tree, text = case
    assert agree(text), "the fast path gave up on a text the generator wrote"
    assert fast(text, "<text>") == tree


_SWAPS = sorted(KEYWORDS | {"proposal", "h", "x", "not", "in", "is", "days", "history"})
_FRAGMENTS = [
    *"{}()[],.:=<-+*/%#\\",
    *["==", "!=", "<="],
    '"',
    '"""',
    '"t"',
    '"""a\nb"""',
    "\n",
    " ",
    "\t",
    "\f",
    "\r",
    "\v",
    "\u00a0",
    "\ufeff",
    "1",
    "1.5",
    "1.",
    "٣",
    "2019-04-01",
    "2019-02-30",
    "2019-04-011",
    "9" * (MAX_DIGITS + 1),
    "0." + "1" * (MAX_DIGITS + 1),
    "5days",
    "10%",
    "andx",
    "inhistory",
    JAPANESE,
]
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\S")


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A generated text with a few edits: words swapped (often for keywords), tokens dropped,
    doubled or moved, fragments put in."""
    _, text = draw(rule_texts())
    for _ in range(draw(st.integers(1, 4))):
        spots = [m.span() for m in _WORD.finditer(text)]
        if not spots:
            break
        start, end = draw(st.sampled_from(spots))
        edit = draw(st.integers(0, 4))
        if edit == 0:
            text = text[:start] + draw(st.sampled_from(_SWAPS)) + text[end:]
        elif edit == 1:
            text = text[:start] + text[end:]
        elif edit == 2:
            text = text[:start] + text[start:end] * 2 + text[end:]
        elif edit == 3:
            text = text[:start] + draw(st.sampled_from(_FRAGMENTS)) + text[start:]
        else:
            other, _ = draw(st.sampled_from(spots))
            word = text[start:end]
            text = text[:start] + text[end:]
            other = min(other, len(text))
            text = text[:other] + word + text[other:]
    return text


@given(mutated())
@SETTINGS
def test_mutated_texts_read_the_same_or_go_to_lark(text: str) -> None:
    agree(text)


_PIECES = [*sorted(KEYWORDS), "p", "r", "x", "proposal", "h", "e", *_FRAGMENTS]


@given(
    st.one_of(
        st.text(),
        st.lists(st.sampled_from(_PIECES), max_size=40).map(" ".join),
        st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=3)), max_size=30).map(
            "".join
        ),
    )
)
@SETTINGS
def test_arbitrary_texts_read_the_same_or_go_to_lark(text: str) -> None:
    agree(text)


# Keywords where the contextual lexer reads a name: the fast path reads them the same way.
@pytest.mark.parametrize(
    "text",
    [
        "principle rule { rule when { kind rule when history.in > days(1, 2) severity if } }",
        "define d = history + where + latest.is + earliest + sequence(1)",
        "principle p { rule r { kind note let in = count in in history where in.x == 1 } }",
        "principle p { rule r { kind note let x = count(e in in: e.x) when x > 0 } }",
        'principle p { about { principle if "t" title "u" } param param = 1 days }',
        "principle p { rule r { severity else if true else if } }",
        "param x = 5days define d = 10% define e = -1 day + 2 person * 3persons",
        'define d = proposal.not.and.or.is.null.true.any.count == "x"',
        "define d = (a) define e = ((a + b)) * -(c) define f = not not (x is not empty)",
        "define d = a not in [1, (2), [3]] and b in [] or f() or g((1), [])",
        'define d = """a\nb""" == "c" and 2019-04-01 < x # comment\n',
        "define d = 2019-04-011",
    ],
)
def test_words_and_shapes_where_the_lexer_decides(text: str) -> None:
    assert agree(text)


@pytest.mark.parametrize(
    "text",
    [
        "define d = a andb",  # Lark reads `and b`; the fast path leaves it to Lark
        "define d = 1 == not",  # `not` as a name after an operator
        "principle p { rule r { let x = latest h inhistory where true } }",
        "define d = true(1)",
        "define d = any",
        "param x = 2019-04-01",
        "define d = 2019-02-30",
        "principle p { rule r { kind a kind b } }",
        "principle p { about { } about { } }",
        "\ufeffdefine d = 1",
        "define d = ١",
    ],
)
def test_the_fast_path_leaves_unusual_texts_to_lark(text: str) -> None:
    assert fast(text) is None
    agree(text)


# --- the grammar's promises the fast path relies on -----------------------------------------

_ATOM_KEYWORDS = {"TRUE", "FALSE", "NULL", "ANY", "ALL", "COUNT"}


def test_where_a_name_may_stand_only_the_keywords_of_atoms_are_keywords() -> None:
    """The contextual lexer reads a word as a keyword only where its parser state accepts
    the keyword. Wherever NAME is accepted, the only keywords are none, those starting an
    atom, those with `not` (a negation may start), or those with `not` and the query kinds
    (after `let x =`): the readings fastparse.py makes."""
    lalr = parser().parser.parser.parser.parse_table
    keywords = {t.name for t in parser().terminals if t.pattern.value.isalpha()}
    seen = set()
    for actions in lalr.states.values():
        if "NAME" in actions:
            seen.add(frozenset(set(actions) & keywords))
    allowed = {
        frozenset(),
        frozenset(_ATOM_KEYWORDS),
        frozenset(_ATOM_KEYWORDS | {"NOT"}),
        frozenset(_ATOM_KEYWORDS | {"NOT", "LATEST", "EARLIEST", "SEQUENCE"}),
    }
    assert seen <= allowed, seen - allowed


# --- the limits, through both paths ---------------------------------------------------------


def _in_rule(condition: str, severity: str = "low") -> str:
    return (
        "principle p {\n  rule r {\n    kind note\n    when "
        + condition
        + f"\n    severity {severity}\n"
        + '    message en "m"\n  }\n}\n'
    )


def _answer(text: str) -> Any:
    try:
        return with_spans(parse(text, "t.bcm"))
    except BcmError as err:
        return err.diagnostics


def _limit_cases() -> Iterator[tuple[str, str]]:
    for n in (MAX_NESTING - 30, MAX_NESTING - 5, MAX_NESTING - 3, MAX_NESTING, MAX_NESTING + 3):
        yield f"{n} parentheses", _in_rule("(" * n + "true" + ")" * n)
        yield f"{n} nots", _in_rule("not " * n + "true")
        yield f"{n} minus signs", _in_rule("-" * n + "1 > 0")
        yield f"{n} terms", _in_rule("x" + " + 1" * n + " > 0")
        yield f"{n} products", _in_rule("x" + " * 1" * n + " > 0")
        yield f"{n} lists", _in_rule("1 in " + "[" * n + "1" + "]" * n)
        yield f"{n} calls", _in_rule("abs(" * n + "1" + ")" * n + " > 0")
        yield f"{n} quantifiers", _in_rule("any(e in x: " * n + "true" + ")" * n)
        yield f"{n} choices", _in_rule("true", severity="high if true else " * n + "low")
        yield f"{n} in a define", "define d = " + "(" * n + "1" + ")" * n
        yield (
            f"{n} in a let",
            (
                "principle p { rule r { let x = latest h in history where "
                + "(" * n
                + "true"
                + ")" * n
                + " } }"
            ),
        )
    for digits in (MAX_DIGITS - 1, MAX_DIGITS, MAX_DIGITS + 1):
        yield f"{digits} digits", _in_rule(f"x < {'9' * digits}")
        yield f"{digits} leading zeros", _in_rule(f"x < {'0' * digits}1")
        yield f"{digits} decimals", _in_rule(f"x < 0.{'1' * digits}")
        yield f"{digits} digits in a param", f"param x = {'9' * digits} days"
    yield "a date that is not one", _in_rule("x < 2019-02-29")
    yield "a leap day", _in_rule("x < 2020-02-29")
    yield "two whens", "principle p { rule r { when a when b } }"
    yield "two severities", "principle p { rule r { severity low severity high } }"
    yield "two abouts", "principle p { rule r { about { } about { } } }"


@pytest.mark.parametrize(("name", "text"), list(_limit_cases()))
def test_limits_and_diagnostics_are_the_same_through_both_paths(
    name: str, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    by_default = _answer(text)
    agree(text)
    monkeypatch.setenv(PARSER_VARIABLE, "lark")
    assert _answer(text) == by_default, name


def test_the_nesting_limit_is_lark_s() -> None:
    near = _in_rule("(" * (MAX_NESTING - 5) + "true" + ")" * (MAX_NESTING - 5))
    past = _in_rule("(" * (MAX_NESTING + 1) + "true" + ")" * (MAX_NESTING + 1))
    assert not isinstance(_answer(near), list)
    assert [d.code for d in _answer(past)] == ["S008"]
    assert fast(past) is None


def test_bcm_parser_lark_turns_the_fast_path_off(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "rules/normative_coherence.bcm").read_text(encoding="utf-8")
    calls: list[str] = []
    real = fastparse.parse

    def spy(text: str, file: str = "<text>") -> ast.RuleFile:
        calls.append(file)
        return real(text, file)

    monkeypatch.setattr(fastparse, "parse", spy)
    parse(text, "a.bcm")
    assert calls == ["a.bcm"]
    monkeypatch.setenv(PARSER_VARIABLE, "lark")
    assert with_spans(parse(text, "b.bcm")) == with_spans(real(text, "b.bcm"))
    assert calls == ["a.bcm"]
