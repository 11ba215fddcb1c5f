"""The secondary-CRM model: the entities every source is mapped into.

Every mapped record carries a :class:`SourceRef`; golden records (consolidated customers and
contacts) carry a stable ``golden_id`` instead and list the source references they came from.
Money is :class:`~decimal.Decimal` end to end so no amount is ever rounded through a float.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class SourceRef(BaseModel):
    """Where a record came from: ``(system, object, id)`` is unique across all sources."""

    model_config = ConfigDict(frozen=True)

    system: str = Field(min_length=1, description="source system, e.g. 'salesforce'")
    object: str = Field(min_length=1, description="object or stream in that system, e.g. 'Account'")
    id: str = Field(min_length=1, description="the record's id in that system")

    def key(self) -> tuple[str, str, str]:
        return (self.system, self.object, self.id)

    def __str__(self) -> str:
        return f"{self.system}/{self.object}/{self.id}"


class CustomerKind(StrEnum):
    DIRECT = "direct"
    PARTNER = "partner"
    DISTRIBUTOR = "distributor"
    SUPPLIER = "supplier"


class LifecycleStage(StrEnum):
    ONBOARDING = "onboarding"
    GROWTH = "growth"
    STABLE = "stable"
    AT_RISK = "at_risk"
    CHURNED = "churned"
    TERMINATED = "terminated"


class Tier(StrEnum):
    A = "A"
    B = "B"
    C = "C"


class Channel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    MEETING = "meeting"
    SOCIAL = "social"
    CHAT = "chat"


class SurveyKind(StrEnum):
    CSAT = "csat"
    NPS = "nps"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Address(BaseModel):
    street: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2")


class Contribution(BaseModel):
    """One factor's share in a score, so a score can always be explained."""

    factor: str
    value: float | str | None = None
    contribution: float
    note: str | None = None


class Score(BaseModel):
    """A computed score with the inputs and contributions that produced it."""

    name: str
    value: float | str
    band: str | None = None
    reasons: list[Contribution] = Field(default_factory=list)
    computed_at: datetime | None = None


class Entity(BaseModel):
    """Base of every mapped source record."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    entity: ClassVar[str]
    source: SourceRef


class Customer(Entity):
    """A customer as one source sees it; the golden record has the same fields."""

    entity: ClassVar[str] = "customer"

    name: str = Field(min_length=1)
    legal_name: str | None = None
    tax_id: str | None = None
    domain: str | None = None
    phone: str | None = Field(default=None, description="E.164")
    email: str | None = None
    address: Address | None = None
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2")
    industry: str | None = None
    kind: CustomerKind = CustomerKind.DIRECT
    parent: str | None = Field(default=None, description="source id of the parent customer")
    owner: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Contact(Entity):
    entity: ClassVar[str] = "contact"

    customer: str | None = Field(default=None, description="source id of the customer")
    first_name: str | None = None
    last_name: str = Field(min_length=1)
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    country: str | None = None
    updated_at: datetime | None = None


class Deal(Entity):
    """An opportunity or quote."""

    entity: ClassVar[str] = "deal"

    customer: str | None = None
    name: str
    stage: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    probability: Annotated[float, Field(ge=0, le=100)] | None = None
    close_date: date | None = None
    won: bool | None = None
    closed: bool | None = None
    updated_at: datetime | None = None


class Order(Entity):
    entity: ClassVar[str] = "order"

    customer: str | None = None
    number: str | None = None
    ordered_at: datetime
    status: str | None = None
    total: Decimal
    cost: Decimal | None = Field(default=None, description="cost of goods, for margin")
    currency: str = Field(min_length=3, max_length=3)
    updated_at: datetime | None = None


class Invoice(Entity):
    entity: ClassVar[str] = "invoice"

    customer: str | None = None
    number: str | None = None
    issued_on: date
    due_on: date | None = None
    amount: Decimal
    tax: Decimal | None = None
    currency: str = Field(min_length=3, max_length=3)
    status: str | None = None
    paid_on: date | None = None
    updated_at: datetime | None = None


class Payment(Entity):
    entity: ClassVar[str] = "payment"

    customer: str | None = None
    invoice: str | None = None
    paid_at: datetime
    amount: Decimal
    currency: str | None = None
    method: str | None = None
    updated_at: datetime | None = None


class Interaction(Entity):
    entity: ClassVar[str] = "interaction"

    customer: str | None = None
    contact: str | None = None
    channel: Channel
    occurred_at: datetime
    subject: str | None = None
    direction: str | None = None


class ServiceCase(Entity):
    entity: ClassVar[str] = "service_case"

    customer: str | None = None
    contact: str | None = None
    subject: str | None = None
    priority: Priority = Priority.MEDIUM
    status: str | None = None
    opened_at: datetime
    first_response_at: datetime | None = None
    closed_at: datetime | None = None
    complaint: bool = False


class Survey(Entity):
    entity: ClassVar[str] = "survey"

    customer: str | None = None
    contact: str | None = None
    kind: SurveyKind
    score: Annotated[float, Field(ge=0, le=10)]
    responded_at: datetime
    comment: str | None = None


class GoldenCustomer(BaseModel):
    """The consolidated customer: one per real customer, with a stable id."""

    golden_id: str
    name: str
    legal_name: str | None = None
    tax_id: str | None = None
    domain: str | None = None
    phone: str | None = None
    email: str | None = None
    address: Address | None = None
    country: str | None = None
    industry: str | None = None
    kind: CustomerKind = CustomerKind.DIRECT
    parent: str | None = Field(default=None, description="golden id of the parent")
    owner: str | None = None
    lifecycle_stage: LifecycleStage | None = None
    tier: Tier | None = None
    scores: dict[str, Score] = Field(default_factory=dict)
    sources: list[SourceRef] = Field(default_factory=list)


ENTITIES: dict[str, type[Entity]] = {
    cls.entity: cls
    for cls in (Customer, Contact, Deal, Order, Invoice, Payment, Interaction, ServiceCase, Survey)
}
"""Target entities by name, as mapping files refer to them."""
