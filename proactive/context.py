"""The customer context: what the engine knows about one customer when it decides.

A :class:`CustomerContext` is the aggregate for one customer — profile, consents,
usage per billing cycle (with history, to tell a structural need from a one-off
spike), open complaints, vulnerability flags, contact history (for caps and
cooldowns), declined offers and active outages. :func:`apply_event` folds one event
into it; the store (:mod:`proactive.store`) persists it as one document per customer
so that one customer's state changes atomically.

Collections are bounded (last 12 cycles, 90 days of contacts) so that memory and
row sizes stay flat however long the stream runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from proactive.events import (
    ComplaintClosed,
    ComplaintOpened,
    ConsentChanged,
    ContractEndingSoon,
    DataUsage,
    Event,
    InvoiceIssued,
    LifeEvent,
    OfferDeclined,
    OutageResolved,
    OutageStarted,
    PaymentArrangement,
    PaymentFailed,
    ProfileUpdated,
    RoamingStarted,
)

MAX_CYCLES = 12
MAX_INVOICES = 12
CONTACT_HISTORY = timedelta(days=90)
FAILED_PAYMENT_WINDOW = timedelta(days=60)


@dataclass
class UsageCycle:
    """Data used in one billing cycle (the latest report wins)."""

    cycle_start: date
    cycle_end: date
    used_mb: float
    bundle_mb: float
    reported_at: datetime


@dataclass
class Contact:
    """A message that was sent (or released) to the customer."""

    at: datetime
    rule_id: str
    purpose: str
    channel: str
    offer_id: str | None = None


@dataclass
class CustomerContext:
    """Everything the rules and the ethics check may know about one customer."""

    customer_id: str
    name: str | None = None
    language: str | None = None
    preferred_channel: str | None = None
    time_zone: str | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    values: list[str] = field(default_factory=list)
    age_band: str | None = None
    segment: str | None = None
    plan_id: str | None = None
    managed_by_proxy: bool = False
    consents: dict[str, bool] = field(default_factory=dict)
    objection_direct_marketing: bool = False
    cycles: list[UsageCycle] = field(default_factory=list)
    invoices: list[tuple[date, float]] = field(default_factory=list)
    failed_payments: list[datetime] = field(default_factory=list)
    arrangement_active: bool = False
    open_complaints: dict[str, str] = field(default_factory=dict)
    vulnerabilities: dict[str, date] = field(default_factory=dict)
    contacts: list[Contact] = field(default_factory=list)
    declined_offers: dict[str, datetime] = field(default_factory=dict)
    active_outages: dict[str, str] = field(default_factory=dict)
    roaming_zone: str | None = None
    roaming_country: str | None = None
    contract_end: date | None = None
    contract_fee_eur: float | None = None
    pending: dict[str, str] = field(default_factory=dict)
    """Deferred messages waiting, by rule id → decision id (a cooldown counts them)."""
    last_event_at: datetime | None = None

    # -- questions the rules and the check ask ---------------------------------------

    def consent(self, purpose: str, channel: str) -> bool | None:
        """The customer's consent for purpose × channel; None when never stated."""
        specific = self.consents.get(f"{purpose}:{channel}")
        if specific is not None:
            return specific
        return self.consents.get(f"{purpose}:all")

    def current_cycle(self) -> UsageCycle | None:
        """The latest billing cycle seen, if any."""
        return self.cycles[-1] if self.cycles else None

    def previous_cycles(self) -> list[UsageCycle]:
        """Completed cycles before the current one, oldest first."""
        return self.cycles[:-1]

    def contacts_since(self, since: datetime, purpose: str | None = None) -> list[Contact]:
        """Messages sent at or after ``since`` (optionally of one purpose)."""
        return [
            c for c in self.contacts if c.at >= since and (purpose is None or c.purpose == purpose)
        ]

    def last_contact(self, rule_id: str) -> Contact | None:
        """The latest message this rule sent to the customer."""
        for c in reversed(self.contacts):
            if c.rule_id == rule_id:
                return c
        return None

    def record_contact(self, contact: Contact) -> None:
        """Remember a sent message (for frequency caps and cooldowns)."""
        self.contacts.append(contact)
        horizon = contact.at - CONTACT_HISTORY
        self.contacts = [c for c in self.contacts if c.at >= horizon][-50:]

    # -- persistence as one JSON document ----------------------------------------------

    def to_doc(self) -> dict[str, Any]:
        """A JSON-ready document of this context (the store's row format)."""
        return {
            "name": self.name,
            "language": self.language,
            "preferred_channel": self.preferred_channel,
            "time_zone": self.time_zone,
            "quiet": [_t(self.quiet_start), _t(self.quiet_end)],
            "values": self.values,
            "age_band": self.age_band,
            "segment": self.segment,
            "plan_id": self.plan_id,
            "proxy": self.managed_by_proxy,
            "consents": self.consents,
            "objection_dm": self.objection_direct_marketing,
            "cycles": [
                [
                    c.cycle_start.isoformat(),
                    c.cycle_end.isoformat(),
                    c.used_mb,
                    c.bundle_mb,
                    c.reported_at.isoformat(),
                ]
                for c in self.cycles
            ],
            "invoices": [[d.isoformat(), a] for d, a in self.invoices],
            "failed": [d.isoformat() for d in self.failed_payments],
            "arrangement": self.arrangement_active,
            "complaints": self.open_complaints,
            "vulnerable": {k: v.isoformat() for k, v in self.vulnerabilities.items()},
            "contacts": [
                [c.at.isoformat(), c.rule_id, c.purpose, c.channel, c.offer_id]
                for c in self.contacts
            ],
            "declined": {k: v.isoformat() for k, v in self.declined_offers.items()},
            "outages": self.active_outages,
            "roaming": [self.roaming_zone, self.roaming_country],
            "contract": [
                self.contract_end.isoformat() if self.contract_end else None,
                self.contract_fee_eur,
            ],
            "pending": self.pending,
            "last_event_at": self.last_event_at.isoformat() if self.last_event_at else None,
        }

    @classmethod
    def from_doc(cls, customer_id: str, doc: dict[str, Any]) -> CustomerContext:
        """Rebuild a context from :meth:`to_doc` output."""
        dt = datetime.fromisoformat
        d = date.fromisoformat
        quiet = doc.get("quiet") or [None, None]
        contract = doc.get("contract") or [None, None]
        roaming = doc.get("roaming") or [None, None]
        return cls(
            customer_id=customer_id,
            name=doc.get("name"),
            language=doc.get("language"),
            preferred_channel=doc.get("preferred_channel"),
            time_zone=doc.get("time_zone"),
            quiet_start=time.fromisoformat(quiet[0]) if quiet[0] else None,
            quiet_end=time.fromisoformat(quiet[1]) if quiet[1] else None,
            values=list(doc.get("values") or []),
            age_band=doc.get("age_band"),
            segment=doc.get("segment"),
            plan_id=doc.get("plan_id"),
            managed_by_proxy=bool(doc.get("proxy")),
            consents=dict(doc.get("consents") or {}),
            objection_direct_marketing=bool(doc.get("objection_dm")),
            cycles=[UsageCycle(d(a), d(b), u, s, dt(r)) for a, b, u, s, r in doc.get("cycles", [])],
            invoices=[(d(a), amt) for a, amt in doc.get("invoices", [])],
            failed_payments=[dt(x) for x in doc.get("failed", [])],
            arrangement_active=bool(doc.get("arrangement")),
            open_complaints=dict(doc.get("complaints") or {}),
            vulnerabilities={k: d(v) for k, v in (doc.get("vulnerable") or {}).items()},
            contacts=[Contact(dt(a), r, p, c, o) for a, r, p, c, o in doc.get("contacts", [])],
            declined_offers={k: dt(v) for k, v in (doc.get("declined") or {}).items()},
            active_outages=dict(doc.get("outages") or {}),
            roaming_zone=roaming[0],
            roaming_country=roaming[1],
            contract_end=d(contract[0]) if contract[0] else None,
            contract_fee_eur=contract[1],
            pending=dict(doc.get("pending") or {}),
            last_event_at=dt(doc["last_event_at"]) if doc.get("last_event_at") else None,
        )


def _t(v: time | None) -> str | None:
    return v.isoformat(timespec="minutes") if v else None


def apply_event(ctx: CustomerContext, event: Event) -> None:
    """Fold one accepted event into the customer's context (in place).

    Pure bookkeeping: no decision is taken here. Rules see the context *after* the
    event is applied, so a usage event is judged with its own numbers included.
    """
    data = event.data
    at = event.time
    ctx.last_event_at = at
    if isinstance(data, DataUsage):
        _apply_usage(ctx, data, at)
    elif isinstance(data, ProfileUpdated):
        _apply_profile(ctx, data)
    elif isinstance(data, ConsentChanged):
        if data.objection_direct_marketing is not None:
            ctx.objection_direct_marketing = data.objection_direct_marketing
        if data.purpose is not None and data.granted is not None:
            if data.channel == "all":
                # a statement for all channels replaces the per-channel ones
                for key in [k for k in ctx.consents if k.startswith(f"{data.purpose}:")]:
                    del ctx.consents[key]
            ctx.consents[f"{data.purpose}:{data.channel}"] = data.granted
    elif isinstance(data, InvoiceIssued):
        ctx.invoices = [*ctx.invoices, (at.date(), data.amount_eur)][-MAX_INVOICES:]
    elif isinstance(data, PaymentFailed):
        horizon = at - FAILED_PAYMENT_WINDOW
        ctx.failed_payments = [d for d in ctx.failed_payments if d >= horizon] + [at]
        if len(ctx.failed_payments) >= 2:
            ctx.vulnerabilities.setdefault("financial_trouble", at.date())
    elif isinstance(data, PaymentArrangement):
        if data.status == "ended":
            ctx.arrangement_active = False
            ctx.vulnerabilities.pop("financial_trouble", None)
        else:
            ctx.arrangement_active = True
            ctx.vulnerabilities.setdefault("financial_trouble", at.date())
    elif isinstance(data, ComplaintOpened):
        ctx.open_complaints[data.complaint_id] = data.topic
    elif isinstance(data, ComplaintClosed):
        ctx.open_complaints.pop(data.complaint_id, None)
    elif isinstance(data, LifeEvent):
        if data.kind in ("bereavement", "illness"):
            ctx.vulnerabilities[data.kind] = data.occurred_on
    elif isinstance(data, OfferDeclined):
        ctx.declined_offers[data.offer_id] = at
    elif isinstance(data, ContractEndingSoon):
        ctx.contract_end = data.contract_end
        ctx.contract_fee_eur = data.monthly_fee_eur
        ctx.plan_id = ctx.plan_id or data.plan_id
    elif isinstance(data, RoamingStarted):
        ctx.roaming_zone = data.zone
        ctx.roaming_country = data.country
    elif isinstance(data, OutageStarted):
        ctx.active_outages[data.outage_id] = data.area
    elif isinstance(data, OutageResolved):
        ctx.active_outages.pop(data.outage_id, None)


def _apply_usage(ctx: CustomerContext, data: DataUsage, at: datetime) -> None:
    current = ctx.current_cycle()
    if data.plan_id:
        ctx.plan_id = data.plan_id
    if current is not None and current.cycle_start == data.cycle_start:
        # reports are cumulative; a late, smaller report must not undo a larger one
        current.used_mb = max(current.used_mb, data.used_mb)
        current.bundle_mb = data.bundle_mb
        current.reported_at = max(current.reported_at, at)
        return
    if current is not None and data.cycle_start < current.cycle_start:
        return  # a report for a cycle we have already closed; history keeps the final
    cycle = UsageCycle(data.cycle_start, data.cycle_end, data.used_mb, data.bundle_mb, at)
    ctx.cycles = [*ctx.cycles, cycle][-MAX_CYCLES:]


def _apply_profile(ctx: CustomerContext, data: ProfileUpdated) -> None:
    for name in (
        "name",
        "language",
        "preferred_channel",
        "time_zone",
        "age_band",
        "segment",
        "plan_id",
    ):
        value = getattr(data, name)
        if value is not None:
            setattr(ctx, name, value)
    if data.values is not None:
        ctx.values = list(data.values)
    if data.quiet_hours is not None:
        ctx.quiet_start = data.quiet_hours.start
        ctx.quiet_end = data.quiet_hours.end
    if data.managed_by_proxy is not None:
        ctx.managed_by_proxy = data.managed_by_proxy
