"""The types of document fields, as the rule language sees them, derived from the pydantic
models of `checker/documents.py`.

The document model is the single source of truth: a field added to `PolicyChange` is readable
by rules, with the right type, without touching this module. Only the language's own readings
are stated here: fields ending in `_days` are durations, a record has the virtual field `scope`,
`extensions` holds values of any type.
"""

from __future__ import annotations

import datetime as dt
import functools
import types as pytypes
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

from checker.diagnostics import did_you_mean, suggestion_help
from checker.documents import PolicyChange, PrincipleId
from checker.lang.checked import Type

ROOT_MODEL: type[BaseModel] = PolicyChange

BOOL = Type("bool")
TEXT = Type("text")
DATE = Type("date")
NUMBER = Type("number")
WHOLE = Type("number", integral=True)
PERCENT = Type("percent")
DURATION = Type("duration", integral=True)
SCOPE = Type("scope")
ANY = Type("any", nullable=True)
NULL = Type("null", nullable=True)
PRINCIPLE_IDS = frozenset(p.value for p in PrincipleId)


def record(model: type[BaseModel] | str) -> Type:
    name = model if isinstance(model, str) else model.__name__
    return Type("record", model=name)


POLICY_CHANGE = record(PolicyChange)


@dataclass(frozen=True)
class FieldError:
    """A path that does not resolve: which part failed, why, and the nearest known name."""

    index: int  # position in the path of the part that failed
    message: str
    help: str | None
    code: str  # E301 unknown field, E302 not a record, E303 not a principle id


def nullable(t: Type) -> Type:
    if t.nullable:
        return t
    return Type(t.kind, t.values, t.item, t.model, True, t.integral)


def non_null(t: Type) -> Type:
    if not t.nullable or t.kind in ("any", "null"):
        return t
    return Type(t.kind, t.values, t.item, t.model, False, t.integral)


# --- introspection of the pydantic models ----------------------------------------------------


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, pytypes.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            inner, _ = _unwrap_optional(args[0])
            return inner, True
    if origin is typing.Annotated:
        return _unwrap_optional(typing.get_args(annotation)[0])
    return annotation, False


def _type_of_annotation(annotation: Any, field_name: str = "") -> Type:
    inner, optional = _unwrap_optional(annotation)
    t = _plain_type(inner, field_name)
    return nullable(t) if optional else t


def _plain_type(annotation: Any, field_name: str) -> Type:
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return ANY
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        return Type("list", item=_type_of_annotation(item))
    if origin is dict:
        key, value = typing.get_args(annotation) or (str, Any)
        # A map's `values` are its allowed keys (principle ids for assessments), None for any
        # key; a key that is absent reads as null, so every entry of a map is nullable.
        keys = frozenset(str(v.value) for v in key) if _is_enum(key) else None
        return Type("map", values=keys, item=nullable(_type_of_annotation(value)))
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return record(annotation)
        if issubclass(annotation, Enum):
            return Type("enum", values=frozenset(str(v.value) for v in annotation))
        if issubclass(annotation, bool):
            return BOOL
        if issubclass(annotation, dt.datetime):
            return ANY  # the documents hold no date-times; be explicit rather than wrong
        if issubclass(annotation, dt.date):
            return DATE
        if issubclass(annotation, int):
            return DURATION if field_name.endswith("_days") else WHOLE
        if issubclass(annotation, Decimal | float):
            return DURATION if field_name.endswith("_days") else NUMBER
        if issubclass(annotation, str):
            return TEXT
    return ANY


def _is_enum(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Enum)


@functools.cache
def models() -> dict[str, type[BaseModel]]:
    """Every model reachable from the policy-change document, by name."""
    found: dict[str, type[BaseModel]] = {}
    pending: list[type[BaseModel]] = [ROOT_MODEL]
    while pending:
        model = pending.pop()
        if model.__name__ in found:
            continue
        found[model.__name__] = model
        for info in model.model_fields.values():
            pending.extend(_models_in(info.annotation))
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out.extend(_models_in(arg))
    return out


@functools.cache
def fields_of(model_name: str) -> dict[str, Type]:
    """The fields of a record type, with their types; `scope` on policy changes."""
    model = models()[model_name]
    out = {
        name: _type_of_annotation(info.annotation, name)
        for name, info in model.model_fields.items()
    }
    if model is ROOT_MODEL:
        out["scope"] = SCOPE
    return out


# --- lookups the checker asks for ------------------------------------------------------------


def field_of(base: Type, name: str, shown: str = "") -> Type | FieldError:
    """The type of field `name` of a value of type `base`; `shown` names the value in messages."""
    what = f"`{shown}`" if shown else "this value"
    if base.kind == "any":
        return ANY
    if base.kind == "record" and base.model is not None:
        known = fields_of(base.model)
        found = known.get(name)
        if found is not None:
            return found
        return FieldError(
            0,
            f"`{name}` is not a field of {what} ({base.model})",
            suggestion_help(name, known, "field")
            or f"see `bcm schema` for the fields of {base.model}",
            "E301",
        )
    if base.kind == "map":
        item = base.item or ANY
        if base.values is None or name in base.values:
            return item
        best = did_you_mean(name, base.values)
        listing = ", ".join(sorted(base.values))
        return FieldError(
            0,
            f"`{name}` is not a principle id, so it is never a key of {what}",
            (f"did you mean `{best}`? " if best else "") + f"keys are principle ids: {listing}",
            "E303",
        )
    return FieldError(
        0,
        f"{what} is {_a(base)}, which has no field `{name}`",
        "only the proposal, records bound by `latest`/`earliest`, list items and maps have fields",
        "E302",
    )


def field_type(model: type[BaseModel] | str, path: Sequence[str]) -> Type | FieldError:
    """The type at a field path of a model: `field_type(PolicyChange, ["impact", "assessments",
    "human_dignity"])`. A FieldError says which part failed and suggests the nearest name."""
    current = record(model)
    shown: list[str] = []
    for index, name in enumerate(path):
        step = field_of(current, name, ".".join(shown))
        if isinstance(step, FieldError):
            return FieldError(index, step.message, step.help, step.code)
        # a nullable record still has fields; their values are null when it is
        current = step
        shown.append(name)
    return current


def _a(t: Type) -> str:
    words = {
        "number": "a number",
        "percent": "a percentage",
        "duration": "a duration",
        "date": "a date",
        "text": "a text",
        "bool": "true or false",
        "enum": "an enum value",
        "list": "a list",
        "sequence": "a sequence of records",
        "scope": "a scope",
        "null": "null",
        "map": "a map",
        "record": "a record",
    }
    return words.get(t.kind, t.kind)


def describe(t: Type) -> str:
    """A type in the words of a rule author: `a date`, `a list of text`."""
    if t.kind in ("list", "sequence") and t.item is not None:
        return f"{_a(t)} of {describe(t.item).removeprefix('a ').removeprefix('an ')}"
    if t.kind == "record" and t.model:
        return f"a {t.model} record"
    if t.kind == "enum" and t.values is not None:
        return "an enum value (" + ", ".join(sorted(t.values)) + ")"
    return _a(t)
