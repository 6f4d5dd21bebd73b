"""Runtime values and the operations on them, exactly as the spec's semantics section states.

A *fact* is a plain dict made from a policy-change document by `to_fact`: enums as their text,
dates as `datetime.date`, numbers as `int` or `Decimal` (never `float`), absent optional values
as `None`, nested objects as dicts and lists as lists. A record's `scope` is the virtual field
`(jurisdiction, area, target)`.

Every operation here is total: nothing a document holds can make it raise. The rules of the
language, in one place:

- ordering (`<`, `<=`, `>`, `>=`) with a null operand is false;
- `==` and `!=` treat null as a value (null equals only null);
- `x in LIST` and `x not in LIST` are both false for a null `x` (docs/language.md, Conditions);
- arithmetic with a null operand, and division by zero, give null;
- numbers are exact decimals; `date ± duration` is a date;
- a bool is never equal to a number (`true == 1` is false, unlike Python);
- values of mismatched runtime types (possible only under `extensions`, typed `any`) make every
  comparison false, `!=` included, and every computation null;
- only `True` is true for `and`, `or`, `not` and `when`.

The compiler lowers what the engine cannot compute exactly to these functions, so the engine
and the reference evaluator (`checker/reference.py`) agree by construction.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from pydantic import BaseModel

from checker.lang.checked import Type

__all__ = [
    "BUILTINS",
    "NONE_TEXT",
    "Lookup",
    "Placeholder",
    "PolicyChangeLike",
    "abs_",
    "arith",
    "call",
    "change",
    "compare",
    "days",
    "direction_changes",
    "equal",
    "field",
    "format_value",
    "interpolate",
    "is_empty",
    "is_null",
    "len_",
    "max_",
    "member",
    "min_",
    "moved",
    "negate",
    "path_value",
    "placeholders",
    "query_result",
    "record_order",
    "template_pieces",
    "to_fact",
    "to_json_value",
    "truthy",
]

# Exact for every number a document can reasonably hold; the traps turn the rare overflow into
# an exception that the callers below turn into null. Results stay within the bound of
# documents and rule files, 10^1000: a larger one would take minutes to write out or to make
# whole, and Python refuses to print an integer of more than 4,300 digits.
_CTX: Final = decimal.Context(
    prec=60,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=1000,
    Emin=-1000,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

_WHOLE_LIMIT: Final = 10 ** (_CTX.Emax + 1)
_PERCENT: Final = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN, Emax=1002, Emin=-1002)

# --- facts ----------------------------------------------------------------------------------


PolicyChangeLike = BaseModel | Mapping[str, Any]


def to_fact(doc: PolicyChangeLike) -> dict[str, Any]:
    """A policy-change document (or one already made a fact) as a plain, exact dict."""
    if isinstance(doc, BaseModel):
        return _model_fact(doc)
    return {str(key): _plain(value) for key, value in doc.items()}


_PLAIN_EXACT: Final = frozenset({type(None), bool, str, int, dt.date})

# A model class's field names, in their order: asked of the class once.
_MODEL_FIELDS: dict[type, tuple[str, ...]] = {}
# Enum classes whose members are bools, texts or numbers: a member stands for its value.
_VALUE_ENUMS: set[type] = set()


def _model_fact(model: BaseModel) -> dict[str, Any]:
    kind = type(model)
    names = _MODEL_FIELDS.get(kind)
    if names is None:
        names = _MODEL_FIELDS[kind] = tuple(kind.model_fields)
    # A field's value is the instance's own attribute: read from its dict, one lookup each.
    data = model.__dict__
    out: dict[str, Any] = {}
    for name in names:
        value = data[name] if name in data else getattr(model, name)
        kind = type(value)
        if kind in _PLAIN_EXACT:
            out[name] = value
        elif kind in _VALUE_ENUMS:
            out[name] = value._value_
        elif kind in _MODEL_FIELDS:
            out[name] = _model_fact(value)  # what `_plain` does with a known model
        else:
            out[name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    # The exact types most values have first (an enum member or a subclass is not one of
    # them and takes the tests below); this runs for every value of every record.
    kind = type(value)
    if kind in _PLAIN_EXACT:
        return value
    if kind is list:
        return [v if type(v) in _PLAIN_EXACT else _plain(v) for v in value]
    if kind in _MODEL_FIELDS:
        return _model_fact(value)
    if kind in _VALUE_ENUMS:
        return value._value_
    if kind is Decimal:
        return value if value.is_finite() else None
    if value is None or isinstance(value, bool | str | int):
        # An enum member is a str (StrEnum) here: keep its text, not the member.
        if isinstance(value, enum.Enum):
            _VALUE_ENUMS.add(kind)
            return value._value_
        return value
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, float):
        # Python callers may put floats under `extensions`; their shortest repr is what they
        # wrote, so 1.36 stays exactly 1.36.
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, BaseModel):
        return _model_fact(value)
    if isinstance(value, Mapping):
        return {_plain_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return _plain(value.value)
    return value


def _plain_key(key: Any) -> Any:
    return key.value if isinstance(key, enum.Enum) else key


# --- runtime kinds --------------------------------------------------------------------------


class _Kind(enum.Enum):
    null = "null"
    bool = "bool"
    number = "number"
    text = "text"
    date = "date"
    scope = "scope"
    list = "list"
    map = "map"
    other = "other"


_EXACT_KINDS: Final[Mapping[type, _Kind]] = {
    type(None): _Kind.null,
    bool: _Kind.bool,
    int: _Kind.number,
    str: _Kind.text,
    dt.date: _Kind.date,
    list: _Kind.list,
    dict: _Kind.map,
}


def _kind(value: Any) -> _Kind:
    # The exact types of facts first: this runs for every operand of every comparison.
    kind = _EXACT_KINDS.get(type(value))
    if kind is not None:
        return kind
    if type(value) is Decimal:  # the numbers of documents and parameters
        return _Kind.number if value.is_finite() else _Kind.other
    if isinstance(value, bool):
        return _Kind.bool
    if isinstance(value, int):
        return _Kind.number
    if isinstance(value, Decimal):
        return _Kind.number if value.is_finite() else _Kind.other
    if isinstance(value, str):
        return _Kind.text
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return _Kind.date
    if isinstance(value, tuple):
        return _Kind.scope if len(value) == 3 else _Kind.list
    if isinstance(value, list):
        return _Kind.list
    if isinstance(value, Mapping):
        return _Kind.map
    return _Kind.other


# --- fields ---------------------------------------------------------------------------------

_SCOPE_FIELDS: Final = ("jurisdiction", "area", "target")


def field(record: Any, name: str) -> Any:
    """A field of a record or map; `scope` is (jurisdiction, area, target); missing → None."""
    # facts are plain dicts: their test first, before the slower one of any mapping
    if type(record) is not dict and not isinstance(record, Mapping):
        return None
    if name in record:
        return record[name]
    if name == "scope":
        # `tuple(record.get(f) for f in _SCOPE_FIELDS)`, all texts, without generators
        parts = (record.get("jurisdiction"), record.get("area"), record.get("target"))
        if isinstance(parts[0], str) and isinstance(parts[1], str) and isinstance(parts[2], str):
            return parts
    return None


def path_value(record: Any, fields: Iterable[str]) -> Any:
    """`record.a.b.c`: field after field, null as soon as one is missing."""
    value = record
    for name in fields:
        value = field(value, name)
        if value is None:
            return None
    return value


# --- comparisons ----------------------------------------------------------------------------


def equal(a: Any, b: Any) -> bool | None:
    """Equality in the language: True, False, or None when the two cannot be compared."""
    ka, kb = _kind(a), _kind(b)
    if ka is _Kind.null or kb is _Kind.null:
        return ka is kb
    if ka is not kb or ka is _Kind.other:
        return None
    if ka is _Kind.list:
        if len(a) != len(b):
            return False
        return _all_equal(equal(x, y) for x, y in zip(a, b, strict=True))
    if ka is _Kind.map:
        if set(a) != set(b):
            return False
        return _all_equal(equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _all_equal(results: Iterable[bool | None]) -> bool | None:
    verdict: bool | None = True
    for result in results:
        if result is None:
            return None
        if result is False:
            verdict = False
    return verdict


_ORDERED: Final = (_Kind.number, _Kind.date)


def compare(op: str, a: Any, b: Any) -> bool:
    """`a OP b` for OP in == != < <= > >=, per the null and type rules of the module doc."""
    if op == "==":
        if type(a) is str and type(b) is str:  # `equal` of two texts, without their kinds
            return a == b
        return equal(a, b) is True
    if op == "!=":
        if type(a) is str and type(b) is str:
            return a != b
        return equal(a, b) is False
    ka, kb = _kind(a), _kind(b)
    if ka is not kb or ka not in _ORDERED:
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    if op == ">=":
        return bool(a >= b)
    raise ValueError(f"unknown comparison {op!r}")


def is_null(value: Any) -> bool:
    return value is None


def is_empty(value: Any) -> bool:
    """Null, a blank text, a list with no items or only blank texts, or an empty map."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple) and _kind(value) is _Kind.list:
        return all(isinstance(item, str) and not item.strip() for item in value)
    if isinstance(value, Mapping):
        return len(value) == 0
    return False


def member(item: Any, container: Any, negated: bool = False) -> bool:
    """`item in container` (`not in` when negated): false either way when item is null.

    A list holds its items; a map holds its keys (`"human_dignity" in proposal.impact.assessments`).
    """
    if item is None or container is None:
        return False
    if item.__class__ is str and container.__class__ is list:
        # `equal(item, x) is True` for a text: x is a text (of any str class) equal to it
        found = False
        for x in container:
            if isinstance(x, str) and item == x:
                found = True
                break
        return not found if negated else found
    kind = _kind(container)
    if kind is _Kind.list:
        found = any(equal(item, x) is True for x in container)
    elif kind is _Kind.map:
        found = any(equal(item, k) is True for k in container)
    else:
        return False
    return not found if negated else found


def truthy(value: Any) -> bool:
    """Only `True` is true: a null, a number or a text never satisfies a condition."""
    return value is True


# --- arithmetic -----------------------------------------------------------------------------


def _decimal(value: int | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def _finite(value: Decimal) -> Decimal | None:
    return value if value.is_finite() else None


def _whole_days(value: int | Decimal) -> int | None:
    if isinstance(value, int):
        return value
    return int(value) if value == value.to_integral_value() else None


def arith(op: str, a: Any, b: Any) -> Any:
    """`a OP b` for OP in + - * /: exact; null with a null operand, a zero divisor or a
    mismatch; `date ± duration` is a date and `date - date` a duration."""
    ka, kb = _kind(a), _kind(b)
    try:
        if ka is _Kind.number and kb is _Kind.number:
            return _number_arith(op, a, b)
        if ka is _Kind.date and kb is _Kind.number and op in ("+", "-"):
            n = _whole_days(b)
            if n is None:
                return None
            return a + dt.timedelta(days=n) if op == "+" else a - dt.timedelta(days=n)
        if ka is _Kind.number and kb is _Kind.date and op == "+":
            n = _whole_days(a)
            return None if n is None else b + dt.timedelta(days=n)
        if ka is _Kind.date and kb is _Kind.date and op == "-":
            return (a - b).days
    except (ArithmeticError, OverflowError, ValueError):
        return None
    return None


def _number_arith(op: str, a: int | Decimal, b: int | Decimal) -> int | Decimal | None:
    if op == "/":
        if b == 0:
            return None
        return _finite(_CTX.divide(_decimal(a), _decimal(b)))
    if isinstance(a, int) and isinstance(b, int):
        if op == "+":
            whole = a + b
        elif op == "-":
            whole = a - b
        elif op == "*":
            whole = a * b
        else:
            raise ValueError(f"unknown arithmetic operator {op!r}")
        return whole if abs(whole) < _WHOLE_LIMIT else None  # an overflow, as for decimals
    elif op == "+":
        return _finite(_CTX.add(_decimal(a), _decimal(b)))
    elif op == "-":
        return _finite(_CTX.subtract(_decimal(a), _decimal(b)))
    elif op == "*":
        return _finite(_CTX.multiply(_decimal(a), _decimal(b)))
    raise ValueError(f"unknown arithmetic operator {op!r}")


def negate(value: Any) -> Any:
    """`-x`: null for null and for anything but a number."""
    if _kind(value) is not _Kind.number:
        return None
    if isinstance(value, int):
        return -value
    try:
        return _CTX.minus(value)
    except ArithmeticError:
        return None


# --- built-in functions ---------------------------------------------------------------------


def days(start: Any, end: Any) -> int | None:
    """The days from date `start` to date `end` (`end - start`); null unless both are dates."""
    if _kind(start) is not _Kind.date or _kind(end) is not _Kind.date:
        return None
    return int((end - start).days)


def abs_(value: Any) -> Any:
    if _kind(value) is not _Kind.number:
        return None
    if isinstance(value, int):
        return abs(value)
    return _CTX.abs(value)


def _extreme(values: Sequence[Any], pick: Callable[[Any, Any], bool]) -> Any:
    if not values:
        return None
    kinds = {_kind(v) for v in values}
    if len(kinds) != 1 or not kinds <= set(_ORDERED):
        return None
    best = values[0]
    for value in values[1:]:
        if pick(value, best):
            best = value
    return best


def min_(*values: Any) -> Any:
    """The least of numbers (or dates); null if any is null or they do not compare."""
    return _extreme(values, lambda x, y: bool(x < y))


def max_(*values: Any) -> Any:
    return _extreme(values, lambda x, y: bool(x > y))


def len_(value: Any) -> int | None:
    """Items of a list or map, characters of a text; null otherwise."""
    kind = _kind(value)
    if kind in (_Kind.list, _Kind.text, _Kind.map):
        return len(value)
    return None


def moved(value: Any, previous: Any, threshold: Any) -> bool:
    """Whether `value` moved from `previous` by at least `threshold` × |previous|.

    False when either is null; from a previous 0, any non-zero value moved.
    """
    if _kind(value) is not _Kind.number or _kind(previous) is not _Kind.number:
        return False
    if previous == 0:
        return bool(value != 0)
    return compare(">=", abs_(arith("-", value, previous)), arith("*", threshold, abs_(previous)))


def change(value: Any, previous: Any) -> Any:
    """The relative change (value - previous) / |previous|, a ratio; null from null or 0."""
    if _kind(previous) is not _Kind.number or previous == 0:
        return None
    return arith("/", arith("-", value, previous), abs_(previous))


def direction_changes(sequence: Any, proposal: Any) -> int | None:
    """How often `direction` changes between neighbours of the records, the proposal last."""
    if _kind(sequence) is not _Kind.list:
        return None
    directions = [field(record, "direction") for record in sequence]
    directions.append(field(proposal, "direction"))
    return sum(1 for a, b in itertools.pairwise(directions) if compare("!=", a, b))


BUILTINS: Final[Mapping[str, Callable[..., Any]]] = {
    "days": days,
    "abs": abs_,
    "min": min_,
    "max": max_,
    "len": len_,
    "moved": moved,
    "change": change,
    "direction_changes": direction_changes,
}


def call(name: str, args: Sequence[Any]) -> Any:
    """A built-in function on evaluated arguments (the load-time checks fixed name and arity)."""
    return BUILTINS[name](*args)


# --- history queries ------------------------------------------------------------------------


def record_order(record: Mapping[str, Any]) -> tuple[dt.date, str]:
    """The order of history: by `effective_on`, then `id` in code-point order."""
    return (record["effective_on"], record["id"])


def query_result(kind: str, matches: Iterable[Mapping[str, Any]]) -> Any:
    """Reduce the records a query's `where` matched (in any order) to the query's value.

    `latest`: greatest effective_on, ties to the greater id; `earliest`: least effective_on,
    ties to the greater id; None when nothing matched. `count`: an int. `sequence`: the records
    in date order, then id.
    """
    records = list(matches)
    if kind == "count":
        return len(records)
    if kind == "sequence":
        return sorted(records, key=record_order)
    if not records:
        return None
    if kind == "latest":
        return max(records, key=record_order)
    if kind == "earliest":
        first = min(r["effective_on"] for r in records)
        return max((r for r in records if r["effective_on"] == first), key=lambda r: r["id"])
    raise ValueError(f"unknown query kind {kind!r}")


# --- showing values -------------------------------------------------------------------------

NONE_TEXT: Final = "—"


def format_value(value: Any, type: Type | None, lang: str) -> str:
    """A value as a reader of `lang` expects it in a message (en, ja; others as en)."""
    if value.__class__ is str:
        return value  # a text as written (`str` of a text is the text)
    ja = lang == "ja"
    kind = _kind(value)
    declared = type.kind if type is not None else None
    if kind is _Kind.null:
        return NONE_TEXT
    if kind is _Kind.bool:
        if ja:
            return "はい" if value else "いいえ"
        return "yes" if value else "no"
    if kind is _Kind.date:
        return f"{value.year}年{value.month}月{value.day}日" if ja else value.isoformat()
    if kind is _Kind.number:
        number_type = value.__class__
        written = str(value) if number_type is Decimal or number_type is int else ""
        if not 0 < len(written) <= _NUMBER_WRITTEN_KEPT:
            return _format_number(value, declared, ja)
        # str() of a Decimal tells apart values that are equal but written differently (1.0
        # and 1, 1E+2 and 100), as any key of this memo must: the text may differ
        key = (number_type, written, declared, ja)
        text = _NUMBER_TEXTS.get(key)
        if text is None:
            text = _format_number(value, declared, ja)
            if len(_NUMBER_TEXTS) >= _NUMBER_TEXTS_KEPT:
                _NUMBER_TEXTS.clear()
            _NUMBER_TEXTS[key] = text
        return text
    if kind is _Kind.text:
        return str(value)
    if kind is _Kind.scope:
        return "/".join(str(part) for part in value)
    if kind is _Kind.list:
        item_type = type.item if type is not None else None
        parts = [format_value(item, item_type, lang) for item in value]
        return ("、" if ja else ", ").join(parts) if parts else NONE_TEXT
    if kind is _Kind.map:
        if isinstance(value.get("id"), str) and "effective_on" in value:
            return str(value["id"])  # a history record stands for itself by its id
        parts = [f"{k}: {format_value(v, None, lang)}" for k, v in value.items()]
        return ("、" if ja else ", ").join(parts) if parts else NONE_TEXT
    return str(value)


# A number's text by (its class, str(value), declared kind, ja): a pack's messages show the
# same few parameters and durations again and again, and rounding a Decimal costs. Bounded:
# cleared when full.
_NUMBER_TEXTS: dict[tuple[type, str, str | None, bool], str] = {}
_NUMBER_TEXTS_KEPT: Final = 4096
_NUMBER_WRITTEN_KEPT: Final = 64  # longer numbers are not kept


def _format_number(value: int | Decimal, declared: str | None, ja: bool) -> str:
    """A number as `format_value` shows it, by its declared kind."""
    if declared == "percent":
        # a ratio at the bound of 10^1000 is two digits past it as a percentage
        return _number_text(_decimal(value).scaleb(2, context=_PERCENT), 2) + "%"
    if declared == "duration":
        text = _number_text(value, 6)
        if ja:
            return f"{text}日"
        return f"{text} day" if value in (1, -1) else f"{text} days"
    return _number_text(value, 6)


def _number_text(value: int | Decimal, places: int) -> str:
    """Thousands separators, at most `places` decimals, no exponent, no trailing zeros."""
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value.adjusted()) > 40:
        return str(value)  # beyond any real figure: scientific rather than a wall of digits
    quantum = Decimal(1).scaleb(-places)
    if value.as_tuple().exponent < -places:  # type: ignore[operator]
        value = value.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN, context=_CTX)
    sign = "-" if value < 0 else ""
    whole, _, fraction = f"{abs(value):f}".partition(".")
    fraction = fraction.rstrip("0")
    text = f"{int(whole):,}"
    return f"{sign}{text}.{fraction}" if fraction else f"{sign}{text}"


# --- message templates ----------------------------------------------------------------------


@dataclass(frozen=True)
class Placeholder:
    """`{name.field}` in a message: the dotted name and where it stands (offsets in the text)."""

    name: str
    start: int
    end: int


def _is_name_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_name_char(ch: str) -> bool:
    return _is_name_start(ch) or ("0" <= ch <= "9")


def _scan(template: str) -> list[str | Placeholder]:
    """Literal pieces and placeholders, in order. `{{` and `}}` are literal braces; a brace
    that does not open a well-formed `{name(.name)*}` is kept as written."""
    pieces: list[str | Placeholder] = []
    literal: list[str] = []
    i, n = 0, len(template)
    while i < n:
        ch = template[i]
        if ch in "{}" and i + 1 < n and template[i + 1] == ch:
            literal.append(ch)
            i += 2
            continue
        if ch == "{":
            end = _placeholder_end(template, i + 1)
            if end is not None:
                if literal:
                    pieces.append("".join(literal))
                    literal = []
                pieces.append(Placeholder(template[i + 1 : end], i, end + 1))
                i = end + 1
                continue
        literal.append(ch)
        i += 1
    if literal:
        pieces.append("".join(literal))
    return pieces


def _placeholder_end(template: str, i: int) -> int | None:
    """The index of the `}` closing a dotted name that starts at `i`, or None."""
    n = len(template)
    while True:
        if i >= n or not _is_name_start(template[i]):
            return None
        while i < n and _is_name_char(template[i]):
            i += 1
        if i < n and template[i] == "}":
            return i
        if i < n and template[i] == ".":
            i += 1
            continue
        return None


def placeholders(template: str) -> list[Placeholder]:
    """Every `{name.field}` of a message or remedy, as the load-time checks must resolve them."""
    return [piece for piece in _scan(template) if isinstance(piece, Placeholder)]


Lookup = Callable[[str], tuple[Any, Type | None]]

# The templates of a pack are few and are filled for every finding: each is scanned once.
_SCANNED_TEXT: Final = 65536


@functools.lru_cache(maxsize=4096)
def _scanned(template: str) -> tuple[str | Placeholder, ...]:
    return tuple(_scan(template))


def template_pieces(template: str) -> tuple[str | Placeholder, ...]:
    """The literal pieces and placeholders of a message, in order (scanned once per text)."""
    return _scanned(template) if len(template) <= _SCANNED_TEXT else tuple(_scan(template))


def interpolate(template: str, lookup: Lookup, lang: str) -> str:
    """Fill `{name.field}` placeholders with values formatted for `lang`.

    `lookup(dotted_name)` returns the value and its type, or raises LookupError for a name not
    in scope, whose placeholder is then left as written. Text is never handed to str.format.
    """
    out: list[str] = []
    for piece in template_pieces(template):
        if isinstance(piece, str):
            out.append(piece)
            continue
        try:
            value, value_type = lookup(piece.name)
        except LookupError:
            out.append("{" + piece.name + "}")
            continue
        out.append(format_value(value, value_type, lang))
    return "".join(out)


# --- JSON -----------------------------------------------------------------------------------


_JSON_EXACT: Final = frozenset({type(None), bool, str, int})


def to_json_value(value: Any) -> Any:
    """A runtime value as JSON data: whole decimals as ints, other decimals as floats, dates as
    ISO text, scopes and lists as lists, maps with their keys as text."""
    if type(value) in _JSON_EXACT:
        return value
    if value is None or isinstance(value, bool | str | int):
        if isinstance(value, enum.Enum):
            return value.value
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(_plain_key(k)): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_value(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)
