"""Properties of the parser and the formatter, over generated input.

- Any text at all, parsed, gives a tree or a BcmError whose diagnostics each have a code and a
  place: never another exception.
- A generated tree, written any way the language allows, parses back to itself; formatting it
  keeps the tree (`parse(format_text(t)) == parse(t)`), is idempotent, and keeps every comment.

Example counts stay modest so the suite is fast; `make fuzz` (BCM_FUZZ=1) runs the slow
variants with many more.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.diagnostics import BcmError
from checker.lang import ast
from checker.lang.fmt import format_text
from checker.lang.parse import parse, parse_with_comments

from .strategies import JAPANESE, rule_texts, words

FUZZ = os.environ.get("BCM_FUZZ") == "1"
QUICK = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LONG = settings(QUICK, max_examples=5000 if FUZZ else 30)

# Fragments of the language, so that random text gets past the first token now and then.
_FRAGMENTS = [
    *words(
        "principle rule p r { } ( ) [ ] , . : = == <= kind note when let severity high if else "
        "message en ja remedy about detects title param define latest h in history where and or "
        "not is null empty any count days % 10 1.5 2019-04-01 2019-13-45 - + * / true false "
        "proposal.scope 「規範」"
    ),
    *['"text"', '"""a\nb"""', '"unclosed', "#", "# note\n", JAPANESE, "\n", " ", "\t"],
]
_ANY_TEXT = st.one_of(
    st.text(),
    st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map(" ".join),
    st.lists(st.one_of(st.sampled_from(_FRAGMENTS), st.text(max_size=3)), max_size=30).map("".join),
)


def _parse_or_diagnose(text: str) -> None:
    try:
        parse(text, "fuzz.bcm")
    except BcmError as err:
        assert err.diagnostics, "a BcmError without diagnostics"
        for d in err.diagnostics:
            assert d.code and d.code[0].isalpha() and d.code[1:].isdigit(), d
            assert d.span is not None and d.span.file == "fuzz.bcm", d
            assert d.span.line >= 1 and d.span.column >= 1, d
            assert d.message


@given(_ANY_TEXT)
@QUICK
def test_any_text_parses_or_fails_with_located_diagnostics(text: str) -> None:
    _parse_or_diagnose(text)


@pytest.mark.slow
@given(_ANY_TEXT)
@LONG
def test_any_text_parses_or_fails_with_located_diagnostics_long(text: str) -> None:
    _parse_or_diagnose(text)


def _check_round_trip(tree: ast.RuleFile, text: str) -> None:
    # The generator and the parser agree on what the text means...
    assert parse(text) == tree
    formatted = format_text(text)
    # ...formatting keeps that meaning, and a second pass finds nothing to change.
    assert parse(formatted) == tree
    assert format_text(formatted) == formatted
    # Every comment the generator wrote is a comment to the parser, and survives formatting.
    _, before = parse_with_comments(text)
    _, after = parse_with_comments(formatted)
    labels = [f"# c{i} " for i in range(len(before))]
    assert [c.text[: len(label)] for c, label in zip(before, labels, strict=True)] == labels
    kept = {c.text.rstrip() for c in after}
    assert [c.text.rstrip() for c in before if c.text.rstrip() not in kept] == []
    assert len(after) == len(before)


@given(rule_texts())
@QUICK
def test_formatting_keeps_the_tree_is_idempotent_and_keeps_comments(
    case: tuple[ast.RuleFile, str],
) -> None:
    _check_round_trip(*case)


@pytest.mark.slow
@given(rule_texts())
@LONG
def test_formatting_keeps_the_tree_is_idempotent_and_keeps_comments_long(
    case: tuple[ast.RuleFile, str],
) -> None:
    _check_round_trip(*case)
