"""What the load-time checks hand on: a checked, typed rule pack, ready to compile or interpret.

A `CheckedPack` is produced only when a pack has no error diagnostics; the guarantees it gives
(every name resolves, every type fits, every enum literal is allowed, every placeholder
resolves) are what let the compiler and the reference evaluator trust it without re-checking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from checker.diagnostics import Diagnostic, Span
from checker.lang import ast

# --- value types ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Type:
    """The type of an expression, as the load-time checks infer it.

    kind is one of: bool, number, percent, duration, date, text, enum, list, map, record,
    scope, sequence, any, null. `number` covers counts and persons; `duration` is a number of
    days; `percent` holds the ratio (10% is 0.1). `enum` carries its allowed values; `list`,
    `map` and `sequence` their item type; `record` the name of its model (`PolicyChange`,
    `Evidence`, ...). `nullable` says whether the value may be null at check time, which is
    what the compiler needs to know to use the engine's own comparisons safely. `integral`
    says a number is always whole (days, counts, inflows), which makes it exact in the engine.
    """

    kind: str
    values: frozenset[str] | None = None
    item: Type | None = None
    model: str | None = None
    nullable: bool = False
    integral: bool = False

    def __str__(self) -> str:
        if self.kind == "enum" and self.values is not None:
            return "one of " + ", ".join(sorted(self.values))
        if self.kind in ("list", "sequence") and self.item is not None:
            return f"{self.kind} of {self.item}"
        if self.kind == "record" and self.model:
            return self.model
        return self.kind


# --- the checked pack -----------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """pack.toml: name, version, default language, jurisdiction, parameter overrides."""

    name: str
    version: str
    default_lang: str = "en"
    jurisdiction: str | None = None
    # jurisdiction code -> parameter name -> value, e.g. {"JP": {"reversal_window": 1461 days}}
    overrides: Mapping[str, Mapping[str, ast.Number]] = field(default_factory=dict)


@dataclass(frozen=True)
class ParamInfo:
    name: str
    default: ast.Number
    principle: str | None  # None when declared at the top of a file
    span: Span

    @property
    def unit(self) -> str | None:
        return self.default.unit


@dataclass(frozen=True)
class RuleInfo:
    """One rule with what the engine and the reports need around it."""

    id: str
    principle: str
    kind: str  # conflict | reversal | tension | note
    rule: ast.Rule
    source: str  # "rules/normative_coherence.bcm:12:3", relative to the pack's parent folder


@dataclass(frozen=True)
class CheckedPack:
    manifest: Manifest
    root: str  # the pack directory as given
    hash: str  # "sha256:..." over the manifest and every rule file, in path order
    files: tuple[ast.RuleFile, ...]
    sources: Mapping[str, str]  # file path (as in spans) -> text, for rendering diagnostics
    params: Mapping[str, ParamInfo]
    defines: Mapping[str, ast.Define]
    principles: Mapping[str, ast.Principle]
    rules: tuple[RuleInfo, ...]
    # id(node) -> inferred type, for every expression node in the pack (defines included)
    types: Mapping[int, Type]
    warnings: tuple[Diagnostic, ...] = ()

    def rule(self, rule_id: str) -> RuleInfo:
        for info in self.rules:
            if info.id == rule_id:
                return info
        raise KeyError(rule_id)

    def type_of(self, node: ast.Node) -> Type:
        return self.types[id(node)]


def param_value(number: ast.Number) -> Decimal:
    """The value a parameter or literal stands for at check time: 10% is 0.1, 180 days is 180."""
    if number.unit == "%":
        return number.value / Decimal(100)
    return number.value
