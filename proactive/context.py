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

from datetime import date, datetime, time, timedelta
from typing import Any

import msgspec

from proactive.events import (
    ComplaintClosed,
    ComplaintOpened,
    ConsentChanged,
    ContractEndingSoon,
    CustomerReply,
    DataUsage,
    Event,
    InvoiceIssued,
    LifeEvent,
    NoticeGiven,
    OfferDeclined,
    OutageResolved,
    OutageStarted,
    PaymentArrangement,
    PaymentFailed,
    PreferencesChanged,
    ProfileUpdated,
    RoamingStarted,
)
from proactive.preferences import PAGE_SOURCE, reply_intent

MAX_CYCLES = 12
MAX_CHOICES = 20
"""The customer's own choices kept in the context (newest last), for the explorer."""
MAX_INVOICES = 12
CONTACT_HISTORY = timedelta(days=90)
FAILED_PAYMENT_WINDOW = timedelta(days=60)


class UsageCycle(msgspec.Struct):
    """Data used in one billing cycle (the latest report wins)."""

    cycle_start: date
    cycle_end: date
    used_mb: float
    bundle_mb: float
    reported_at: datetime


class Contact(msgspec.Struct):
    """A message that was sent (or released) to the customer."""

    at: datetime
    rule_id: str
    purpose: str
    channel: str
    offer_id: str | None = None


class Choice(msgspec.Struct, omit_defaults=True):
    """One choice the customer made themselves (preference page, SMS reply).

    ``what`` is one of ``stop_commercial``, ``resume_commercial``, ``stop_rule``,
    ``resume_rule``, ``channel``, ``language``, ``quiet_hours``,
    ``quiet_hours_removed``, ``callback``,
    ``callback_cancelled`` and ``called_back`` (by staff, ``via: agent``); ``detail`` the
    rule, channel, language or hours chosen, or who called back.
    """

    at: datetime
    what: str
    via: str
    detail: str | None = None


class CustomerContext(msgspec.Struct, omit_defaults=True):
    """Everything the rules and the ethics check may know about one customer.

    A msgspec struct: it is serialised for every customer a batch touches, and
    msgspec encodes it (dates, times and nested structs included) an order of
    magnitude faster than building dicts for a JSON library.
    """

    customer_id: str
    name: str | None = None
    language: str | None = None
    preferred_channel: str | None = None
    time_zone: str | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    values: list[str] = msgspec.field(default_factory=list)
    age_band: str | None = None
    segment: str | None = None
    plan_id: str | None = None
    managed_by_proxy: bool = False
    consents: dict[str, bool] = msgspec.field(default_factory=dict)
    objection_direct_marketing: bool = False
    cycles: list[UsageCycle] = msgspec.field(default_factory=list)
    invoices: list[tuple[date, float]] = msgspec.field(default_factory=list)
    failed_payments: list[datetime] = msgspec.field(default_factory=list)
    arrangement_active: bool = False
    open_complaints: dict[str, str] = msgspec.field(default_factory=dict)
    vulnerabilities: dict[str, date] = msgspec.field(default_factory=dict)
    contacts: list[Contact] = msgspec.field(default_factory=list)
    declined_offers: dict[str, datetime] = msgspec.field(default_factory=dict)
    active_outages: dict[str, str] = msgspec.field(default_factory=dict)
    roaming_zone: str | None = None
    roaming_country: str | None = None
    contract_end: date | None = None
    contract_fee_eur: float | None = None
    notice_given_on: date | None = None
    """The day the customer gave notice (they are leaving); None when they are not."""
    pending: dict[str, str] = msgspec.field(default_factory=dict)
    """Deferred messages waiting, by rule id → decision id (a cooldown counts them)."""
    last_event_at: datetime | None = None
    stopped_rules: dict[str, datetime] = msgspec.field(default_factory=dict)
    """Kinds of message the customer stopped (rule id → when): the limit
    ``customer_stopped_rule`` blocks them (GDPR art. 21)."""
    callback_requested_at: datetime | None = None
    """When the customer last asked for a human to call back (None: not asked)."""
    choices: list[Choice] = msgspec.field(default_factory=list)
    """The customer's own latest choices (at most :data:`MAX_CHOICES`), shown to staff
    in the decision explorer so a decision can be read next to what the customer said."""

    def note_choice(self, at: datetime, what: str, via: str, detail: str | None = None) -> None:
        """Remember one of the customer's own choices (bounded, newest last)."""
        self.choices = [*self.choices, Choice(at, what, via, detail)][-MAX_CHOICES:]

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

    def encode(self) -> bytes:
        """The JSON document the store keeps for this customer."""
        return _ENCODER.encode(self)

    @classmethod
    def decode(cls, doc: bytes | str) -> CustomerContext:
        """Rebuild a context from :meth:`encode` output."""
        return _DECODER.decode(doc)

    def to_doc(self) -> dict[str, Any]:
        """The document as plain JSON-ready data (dates as ISO strings)."""
        out: dict[str, Any] = msgspec.to_builtins(self)
        return out

    @classmethod
    def from_doc(cls, customer_id: str, doc: dict[str, Any]) -> CustomerContext:
        """Rebuild a context from :meth:`to_doc` output."""
        return msgspec.convert({**doc, "customer_id": customer_id}, cls)


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(CustomerContext)


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
        if event.source == PAGE_SOURCE:
            _note_profile_choice(ctx, data, at)
    elif isinstance(data, ConsentChanged):
        if data.objection_direct_marketing is not None:
            ctx.objection_direct_marketing = data.objection_direct_marketing
            if event.source == PAGE_SOURCE:
                what = "stop" if data.objection_direct_marketing else "resume"
                ctx.note_choice(at, f"{what}_commercial", "preference_page")
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
    elif isinstance(data, NoticeGiven):
        ctx.notice_given_on = at.date()
        ctx.contract_end = data.contract_end
    elif isinstance(data, RoamingStarted):
        ctx.roaming_zone = data.zone
        ctx.roaming_country = data.country
    elif isinstance(data, OutageStarted):
        ctx.active_outages[data.outage_id] = data.area
    elif isinstance(data, OutageResolved):
        ctx.active_outages.pop(data.outage_id, None)
    elif isinstance(data, PreferencesChanged):
        _apply_preferences(ctx, data, at)
    elif isinstance(data, CustomerReply):
        _apply_reply(ctx, data, at)


def _apply_preferences(ctx: CustomerContext, data: PreferencesChanged, at: datetime) -> None:
    if data.stop_rule is not None:
        ctx.stopped_rules[data.stop_rule] = at
        ctx.note_choice(at, "stop_rule", data.via, data.stop_rule)
    if data.resume_rule is not None:
        ctx.stopped_rules.pop(data.resume_rule, None)
        ctx.note_choice(at, "resume_rule", data.via, data.resume_rule)
    if data.callback_requested is not None:
        ctx.callback_requested_at = at if data.callback_requested else None
        if data.callback_requested:
            ctx.note_choice(at, "callback", data.via)
        elif data.via == "agent":
            who = data.handled_by or "staff"
            ctx.note_choice(
                at, "called_back", data.via, f"{who}: {data.note}" if data.note else who
            )
        else:
            ctx.note_choice(at, "callback_cancelled", data.via)


def _note_profile_choice(ctx: CustomerContext, data: ProfileUpdated, at: datetime) -> None:
    if data.preferred_channel is not None:
        ctx.note_choice(at, "channel", "preference_page", data.preferred_channel)
    if data.language is not None:
        ctx.note_choice(at, "language", "preference_page", data.language)
    if data.clear_quiet_hours:
        ctx.note_choice(at, "quiet_hours_removed", "preference_page")
    if data.quiet_hours is not None:
        hours = f"{data.quiet_hours.start:%H:%M}-{data.quiet_hours.end:%H:%M}"
        ctx.note_choice(at, "quiet_hours", "preference_page", hours)


def _apply_reply(ctx: CustomerContext, data: CustomerReply, at: datetime) -> None:
    intent = reply_intent(data.text)
    if intent == "stop_commercial":
        # an objection to direct marketing, as on the preference page (GDPR art. 21(2))
        ctx.objection_direct_marketing = True
        ctx.note_choice(at, "stop_commercial", "sms_reply")
    elif intent == "callback":
        ctx.callback_requested_at = at
        ctx.note_choice(at, "callback", "sms_reply")


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
    if data.clear_quiet_hours:
        ctx.quiet_start = ctx.quiet_end = None
    if data.quiet_hours is not None:
        ctx.quiet_start = data.quiet_hours.start
        ctx.quiet_end = data.quiet_hours.end
    if data.managed_by_proxy is not None:
        ctx.managed_by_proxy = data.managed_by_proxy
