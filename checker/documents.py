"""The policy-change document, the finding and the report, as the spec names them.

These models are the contract between the people who describe policy changes and the checker
(`shared/spec/policy-change.md`). Field names, enum values and defaults follow the spec exactly;
the JSON Schema printed by `bcm schema` is generated from them.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    computed_field,
)


class Area(StrEnum):
    """The four policy areas of the DEMIG POLICY coding."""

    border_control = "border_control"
    entry_stay = "entry_stay"
    integration = "integration"
    exit = "exit"


class Direction(StrEnum):
    expand = "expand"
    restrict = "restrict"
    neutral = "neutral"


class Magnitude(StrEnum):
    fine_tuning = "fine_tuning"
    minor = "minor"
    mid_level = "mid_level"
    major = "major"


class Instrument(StrEnum):
    act = "act"
    cabinet_order = "cabinet_order"
    ministerial_ordinance = "ministerial_ordinance"
    landing_criteria = "landing_criteria"
    public_notice = "public_notice"
    guideline = "guideline"
    administrative_practice = "administrative_practice"
    program = "program"


class Status(StrEnum):
    proposed = "proposed"
    enacted = "enacted"
    withdrawn = "withdrawn"
    struck_down = "struck_down"


class Trigger(StrEnum):
    evidence = "evidence"
    scheduled_review = "scheduled_review"
    court_ruling = "court_ruling"
    treaty_obligation = "treaty_obligation"
    emergency = "emergency"
    electoral_pledge = "electoral_pledge"
    public_pressure = "public_pressure"
    incident = "incident"
    other = "other"


class PrincipleId(StrEnum):
    """The six principles of the Balanced Coexistence Model, as documents and rules name them."""

    integration_capacity = "integration_capacity"
    legal_integrity = "legal_integrity"
    economic_rationality = "economic_rationality"
    social_stability = "social_stability"
    human_dignity = "human_dignity"
    normative_coherence = "normative_coherence"


class FindingKind(StrEnum):
    conflict = "conflict"
    reversal = "reversal"
    tension = "tension"
    note = "note"


class Severity(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


class Verdict(StrEnum):
    consistent = "consistent"
    tension = "tension"
    conflict = "conflict"


SEVERITY_RANK = {Severity.high: 0, Severity.medium: 1, Severity.low: 2}

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date_only(value: Any) -> Any:
    # Lax pydantic would take a Unix timestamp or a datetime string for a date; a policy
    # document's dates are calendar dates written as ISO, nothing else.
    if isinstance(value, dt.datetime):
        raise ValueError("expected a calendar date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise ValueError("expected an ISO calendar date (YYYY-MM-DD)")


# 1e999999 is a finite decimal, but making it a whole number, or writing it out, takes minutes
# in one thread. No figure of a policy document comes near 10^1000 (the HTTP API's bound too).
MAX_EXPONENT = 1000
_WHOLE_LIMIT = 10 ** (MAX_EXPONENT + 1)
_OUT_OF_RANGE = f"expected a number between 10^-{MAX_EXPONENT} and 10^{MAX_EXPONENT}"


def _exact_number(value: Any) -> Any:
    # Numbers are compared exactly as written: a float from the Python API goes through its
    # shortest repr, so 1.36 stays 1.36 and never becomes 1.3600000000000000977.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("expected a number")
    if isinstance(value, int) and abs(value) >= _WHOLE_LIMIT:
        raise ValueError(_OUT_OF_RANGE)
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError("expected a finite number")
    if number and abs(number.adjusted()) > MAX_EXPONENT:
        raise ValueError(_OUT_OF_RANGE)
    return number


def _whole_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("expected a whole number")
    if isinstance(value, int):
        if abs(value) >= _WHOLE_LIMIT:
            raise ValueError(_OUT_OF_RANGE)
        return value
    number = _exact_number(value)
    if number == number.to_integral_value():
        return int(number)
    raise ValueError("expected a whole number")


IsoDate = Annotated[
    dt.date,
    BeforeValidator(_iso_date_only),
    WithJsonSchema({"type": "string", "format": "date"}),
]
ExactNumber = Annotated[
    Decimal,
    BeforeValidator(_exact_number),
    WithJsonSchema({"type": "number"}),
]
WholeNumber = Annotated[int, BeforeValidator(_whole_number), WithJsonSchema({"type": "integer"})]
Jurisdiction = Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["JP"])]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Evidence(_Strict):
    indicator: str = Field(min_length=1)
    value: ExactNumber
    previous: ExactNumber | None = None
    unit: str | None = None
    as_of: str | None = None
    source: str | None = None


class Rationale(_Strict):
    principles: list[PrincipleId] = Field(default_factory=list)
    statement: str | None = None
    trigger: Trigger | None = None
    evidence: list[Evidence] = Field(default_factory=list)


class Impact(_Strict):
    expected_inflow: WholeNumber | None = None
    integration_capacity: WholeNumber | None = None
    affects_current_residents: bool = False
    retroactive: bool = False
    transition_days: WholeNumber | None = None
    assessments: dict[PrincipleId, str] = Field(default_factory=dict)


class Context(_Strict):
    next_election_on: IsoDate | None = None
    announced_in_campaign: bool = False


class PolicyChange(_Strict):
    """A proposed policy change, or one record of the policy history: the same shape."""

    id: str = Field(min_length=1)
    title: str
    jurisdiction: Jurisdiction
    area: Area
    target: str = Field(min_length=1)
    statuses: list[str] = Field(default_factory=list)
    direction: Direction
    magnitude: Magnitude
    instrument: Instrument
    legal_basis: list[str]
    proposed_on: IsoDate | None = None
    effective_on: IsoDate
    status: Status = Status.proposed
    rationale: Rationale = Field(default_factory=Rationale)
    impact: Impact = Field(default_factory=Impact)
    context: Context = Field(default_factory=Context)
    sources: list[str] = Field(default_factory=list)
    extensions: dict[str, Any] = Field(default_factory=dict)

    @property
    def scope(self) -> tuple[str, str, str]:
        return (self.jurisdiction, self.area.value, self.target)


# --- what a check returns -------------------------------------------------------------------


class Finding(_Strict):
    kind: FindingKind
    principle: PrincipleId
    rule: str
    severity: Severity
    message: str
    remedy: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    related: list[str] = Field(default_factory=list)
    source: str

    def sort_key(self) -> tuple[int, str, str]:
        return (SEVERITY_RANK[self.severity], self.principle.value, self.rule)


class PackInfo(_Strict):
    name: str
    version: str
    hash: str


class EngineInfo(_Strict):
    name: str = "durable-rules"
    reason: str | None = None


def verdict_of(findings: list[Finding]) -> Verdict:
    kinds = {f.kind for f in findings}
    if kinds & {FindingKind.conflict, FindingKind.reversal}:
        return Verdict.conflict
    if FindingKind.tension in kinds:
        return Verdict.tension
    return Verdict.consistent


class Report(_Strict):
    proposal: str
    findings: list[Finding]
    pack: PackInfo
    lang: str
    engine: EngineInfo = Field(default_factory=EngineInfo)
    params: dict[str, Any] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def verdict(self) -> Verdict:
        return verdict_of(self.findings)

    def to_dict(self) -> dict[str, Any]:
        """The report in the spec's field order, JSON-ready."""
        data = self.model_dump(mode="json", exclude_none=False)
        engine = {k: v for k, v in data["engine"].items() if v is not None}
        return {
            "proposal": data["proposal"],
            "verdict": data["verdict"],
            "findings": data["findings"],
            "pack": data["pack"],
            "lang": data["lang"],
            "engine": engine,
            "params": data["params"],
        }
