"""The event contract: CloudEvents 1.0 (structured JSON) with typed payloads.

``subject`` is the customer id (and the Kafka key, so one customer's events stay in
order). ``type`` selects the payload model below. Anything that cannot be accepted
raises :class:`~proactive.errors.EventError` with a stable reason code; the pipeline
turns that into a dead-letter record and carries on.

Example::

    >>> ev = parse_event(b'{"specversion":"1.0","id":"e1","source":"/billing",'
    ...   b'"type":"billing.payment_failed","subject":"C1","time":"2026-05-01T10:00:00Z",'
    ...   b'"data":{"invoice_id":"I1","amount_eur":42.5}}')
    >>> ev.customer_id, type(ev.data).__name__
    ('C1', 'PaymentFailed')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from proactive.errors import EventError

MAX_EVENT_BYTES = 64 * 1024
"""Events larger than this are dead-lettered as ``oversized`` before parsing."""

Channel = Literal["sms", "email", "push", "app_inbox"]
CHANNELS: tuple[Channel, ...] = ("sms", "email", "push", "app_inbox")
Language = Literal["nl", "en"]
Purpose = Literal["service", "commercial", "advice"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataUsage(_Payload):
    """``usage.data``: data used so far in the current billing cycle."""

    used_mb: float = Field(ge=0)
    bundle_mb: float = Field(gt=0)
    cycle_start: date
    cycle_end: date
    plan_id: str | None = None

    @field_validator("cycle_end")
    @classmethod
    def _end_after_start(cls, v: date, info: Any) -> date:
        start = info.data.get("cycle_start")
        if start is not None and v <= start:
            raise ValueError("cycle_end must be after cycle_start")
        return v


class RoamingStarted(_Payload):
    """``usage.roaming_started``: the customer's phone registered abroad."""

    country: str = Field(min_length=2, max_length=2)
    zone: Literal["eu", "world"]


class InvoiceIssued(_Payload):
    """``billing.invoice_issued``."""

    invoice_id: str
    amount_eur: float = Field(ge=0)
    due_date: date
    period: str | None = None


class PaymentFailed(_Payload):
    """``billing.payment_failed``: a direct debit or card payment bounced."""

    invoice_id: str
    amount_eur: float = Field(ge=0)
    attempt: int = Field(default=1, ge=1)
    reason: str | None = None


class PaymentArrangement(_Payload):
    """``billing.payment_arrangement``: an instalment plan was agreed, ended or missed."""

    arrangement_id: str
    status: Literal["started", "ended", "missed"]
    instalments: int = Field(default=1, ge=1)
    amount_eur: float = Field(default=0, ge=0)


class ComplaintOpened(_Payload):
    """``customer.complaint_opened``."""

    complaint_id: str
    topic: str


class ComplaintClosed(_Payload):
    """``customer.complaint_closed``."""

    complaint_id: str
    resolution: str | None = None


class QuietHours(_Payload):
    """Local times between which nothing may be sent (may wrap midnight).

    Times of day without an offset — they are read in the customer's ``time_zone`` — and
    two different times: an empty window would silently drop the policy's own quiet
    hours for this customer.
    """

    start: time
    end: time

    @field_validator("start", "end")
    @classmethod
    def _local(cls, v: time) -> time:
        if v.tzinfo is not None:
            raise ValueError(
                "a local time of day without an offset (the customer's time zone applies)"
            )
        return v

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are the same time: the window would be empty")
        return self


Value = Literal[
    "price_conscious", "no_marketing", "sustainability", "privacy_minded", "convenience"
]


class ProfileUpdated(_Payload):
    """``customer.profile_updated``: a partial update; absent fields stay as they were."""

    name: str | None = None
    language: Language | None = None
    preferred_channel: Channel | None = None
    time_zone: str | None = None
    quiet_hours: QuietHours | None = None
    clear_quiet_hours: bool | None = None
    """True: the customer's own quiet hours are removed (the policy's apply again)."""
    values: list[Value] | None = None
    age_band: Literal["18-24", "25-39", "40-64", "65+"] | None = None
    segment: str | None = None
    plan_id: str | None = None
    managed_by_proxy: bool | None = None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v


class ConsentChanged(_Payload):
    """``customer.consent_changed``: consent per purpose and channel, or an objection.

    ``channel: all`` applies to every channel. ``objection_direct_marketing: true``
    records the customer's objection (GDPR art. 21), which stops commercial messages.
    """

    purpose: Purpose | None = None
    channel: Channel | Literal["all"] = "all"
    granted: bool | None = None
    objection_direct_marketing: bool | None = None


class LifeEvent(_Payload):
    """``customer.life_event``: something that changes how we should speak to the customer."""

    kind: Literal["bereavement", "moving", "illness", "new_job", "birth", "retirement"]
    occurred_on: date
    source: Literal["customer", "agent", "inferred"] = "customer"


class OfferDeclined(_Payload):
    """``customer.offer_declined``: the customer said no to an offer (respected next time)."""

    offer_id: str
    rule_id: str | None = None


class ContractEndingSoon(_Payload):
    """``contract.ending_soon``."""

    contract_end: date
    plan_id: str
    monthly_fee_eur: float = Field(ge=0)


class NoticeGiven(_Payload):
    """``contract.notice_given``: the customer ends the contract; the last day is ``contract_end``.

    From then on the customer is leaving: no offer to stay, only what they need to
    leave well (DOMAIN S28).
    """

    contract_end: date


class OutageStarted(_Payload):
    """``service.outage_started``: an outage that affects this customer."""

    outage_id: str
    area: str
    services: list[Literal["data", "voice", "sms", "internet"]] = Field(min_length=1)
    expected_end: datetime | None = None


class OutageResolved(_Payload):
    """``service.outage_resolved``."""

    outage_id: str
    resolved_at: datetime


class PreferencesChanged(_Payload):
    """``customer.preferences_changed``: a choice the customer made on the preference page.

    ``stop_rule`` is an objection to one kind of message (one rule): no further message
    of that rule (GDPR art. 21; Telecommunicatiewet art. 11.7). ``resume_rule`` lifts it.
    ``callback_requested`` asks for a human to call back. Stopping all commercial
    messages, a channel or a language travel as ``customer.consent_changed`` and
    ``customer.profile_updated``, which already say so.
    """

    stop_rule: str | None = Field(default=None, min_length=1, max_length=128)
    resume_rule: str | None = Field(default=None, min_length=1, max_length=128)
    callback_requested: bool | None = None
    via: Literal["preference_page", "sms_reply", "agent"] = "preference_page"
    handled_by: str | None = Field(default=None, min_length=1, max_length=64)
    """The staff member who called back (``via: agent``, from the callbacks page)."""
    note: str | None = Field(default=None, max_length=500)
    """What the staff member noted about the call (shown to staff with the choice)."""


class CustomerReply(_Payload):
    """``customer.reply``: the text of a customer's reply to a message (an SMS answer).

    The engine reads a few keywords (:func:`proactive.preferences.reply_intent`):
    STOP / NEE stop commercial messages, BEL MIJ / CALL ME ask for a callback. Anything
    else is kept for nobody: the text is not stored in the context.
    """

    text: str = Field(max_length=1600)
    channel: Channel = "sms"
    rule_id: str | None = None
    """The rule of the message answered, when the gateway knows it."""


PAYLOADS: dict[str, type[_Payload]] = {
    "usage.data": DataUsage,
    "usage.roaming_started": RoamingStarted,
    "billing.invoice_issued": InvoiceIssued,
    "billing.payment_failed": PaymentFailed,
    "billing.payment_arrangement": PaymentArrangement,
    "customer.complaint_opened": ComplaintOpened,
    "customer.complaint_closed": ComplaintClosed,
    "customer.profile_updated": ProfileUpdated,
    "customer.consent_changed": ConsentChanged,
    "customer.life_event": LifeEvent,
    "customer.offer_declined": OfferDeclined,
    "customer.preferences_changed": PreferencesChanged,
    "customer.reply": CustomerReply,
    "contract.ending_soon": ContractEndingSoon,
    "contract.notice_given": NoticeGiven,
    "service.outage_started": OutageStarted,
    "service.outage_resolved": OutageResolved,
}
"""Event type → payload model. The event catalogue rules may refer to."""


class Envelope(BaseModel):
    """CloudEvents 1.0 context attributes (structured mode)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    id: Annotated[str, Field(min_length=1)]
    source: Annotated[str, Field(min_length=1)]
    type: Annotated[str, Field(min_length=1)]
    subject: Annotated[str, Field(min_length=1)]
    time: datetime
    datacontenttype: str | None = "application/json"
    data: Any

    @field_validator("time")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("time must carry a UTC offset (RFC 3339)")
        return v


@dataclass(frozen=True, slots=True)
class Event:
    """An accepted event: envelope attributes plus its validated payload.

    A plain dataclass: envelope and payload are validated by pydantic on the way in,
    and this object is built once per event on the hot path.
    """

    id: str
    source: str
    type: str
    customer_id: str
    time: datetime
    data: _Payload

    def to_cloudevent(self) -> dict[str, Any]:
        """The event as a CloudEvents structured-mode JSON object."""
        return {
            "specversion": "1.0",
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.customer_id,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": self.data.model_dump(mode="json", exclude_none=True),
        }


def _envelope_for(event_type: str, payload: type[_Payload]) -> type[Envelope]:
    tag: Any = Literal[event_type]
    model: type[Envelope] = create_model(
        f"{payload.__name__}Event",
        __base__=Envelope,
        type=(tag, ...),
        data=(payload, ...),
    )
    return model


_ENVELOPES = [_envelope_for(t, m) for t, m in PAYLOADS.items()]
# One discriminated union over all event types: JSON decoding and validation of the
# envelope and its payload happen in one pass inside pydantic-core.
_UNION: Any = Annotated[Union[tuple(_ENVELOPES)], Field(discriminator="type")]  # noqa: UP007
_ADAPTER: TypeAdapter[Any] = TypeAdapter(_UNION)


def _error(exc: ValidationError) -> EventError:
    errors = exc.errors()
    kinds = {e["type"] for e in errors}
    if "json_invalid" in kinds:
        return EventError("malformed_json", errors[0]["msg"])
    if "union_tag_not_found" in kinds:
        return EventError("schema_violation", "type: the CloudEvents attribute 'type' is missing")
    if "union_tag_invalid" in kinds:
        tag = errors[0].get("input", {})
        etype = tag.get("type") if isinstance(tag, dict) else None
        return EventError("unknown_type", f"event type {etype!r} is not in the event catalogue")
    if kinds & {"model_attributes_type", "dict_type", "model_type"} and all(
        len(e["loc"]) == 0 for e in errors
    ):
        return EventError("malformed_json", "an event must be a JSON object")
    parts = []
    for err in errors[:5]:
        # the first location element is the union tag (the event type); drop it
        loc = ".".join(
            str(p) for p in err["loc"][1:] if isinstance(err["loc"][0], str)
        ) or ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return EventError("schema_violation", "; ".join(parts))


def _to_event(env: Any) -> Event:
    # pydantic's own tzinfo is slow in every later comparison: normalise to UTC once
    t: datetime = env.time
    offset = t.utcoffset()
    t = t.replace(tzinfo=UTC) - offset if offset is not None else t
    # both envelope and payload are validated; construct without validating again
    return Event(env.id, env.source, env.type, env.subject, t, env.data)


def parse_event(raw: bytes | str) -> Event:
    """Parse and validate one CloudEvent; raise :class:`EventError` if it is not acceptable."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode())
    if size > MAX_EVENT_BYTES:
        raise EventError("oversized", f"{size} bytes exceeds the limit of {MAX_EVENT_BYTES}")
    try:
        return _to_event(_ADAPTER.validate_json(raw))
    except ValidationError as exc:
        raise _error(exc) from None


def event_from_dict(obj: dict[str, Any]) -> Event:
    """Validate an already-decoded CloudEvent object."""
    try:
        return _to_event(_ADAPTER.validate_python(obj))
    except ValidationError as exc:
        raise _error(exc) from None
