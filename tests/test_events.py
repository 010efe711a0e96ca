"""The event contract (proactive.events): what is accepted, what is dead-lettered and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from proactive.errors import EventError
from proactive.events import MAX_EVENT_BYTES, PAYLOADS, parse_event

# One realistic payload per event type of the catalogue.
PAYLOAD_EXAMPLES: dict[str, dict[str, Any]] = {
    "usage.data": {
        "used_mb": 4710.5,
        "bundle_mb": 5120,
        "cycle_start": "2026-05-01",
        "cycle_end": "2026-06-01",
        "plan_id": "data-5gb",
    },
    "usage.roaming_started": {"country": "ES", "zone": "eu"},
    "billing.invoice_issued": {
        "invoice_id": "INV-2026-05-0042",
        "amount_eur": 27.35,
        "due_date": "2026-05-28",
        "period": "2026-05",
    },
    "billing.payment_failed": {
        "invoice_id": "INV-2026-05-0042",
        "amount_eur": 27.35,
        "attempt": 2,
        "reason": "insufficient_funds",
    },
    "billing.payment_arrangement": {
        "arrangement_id": "ARR-881",
        "status": "started",
        "instalments": 3,
        "amount_eur": 82.05,
    },
    "customer.complaint_opened": {"complaint_id": "K-1001", "topic": "billing"},
    "customer.complaint_closed": {"complaint_id": "K-1001", "resolution": "credited"},
    "customer.profile_updated": {
        "name": "Fatima Yilmaz",
        "language": "nl",
        "preferred_channel": "app_inbox",
        "time_zone": "Europe/Amsterdam",
        "quiet_hours": {"start": "21:30", "end": "07:30"},
        "values": ["price_conscious", "privacy_minded"],
        "age_band": "40-64",
        "segment": "consumer",
        "plan_id": "data-10gb",
        "managed_by_proxy": False,
    },
    "customer.consent_changed": {"purpose": "commercial", "channel": "email", "granted": True},
    "customer.life_event": {"kind": "bereavement", "occurred_on": "2026-04-30", "source": "agent"},
    "customer.preferences_changed": {
        "stop_rule": "data-bundle-nearly-used",
        "callback_requested": True,
        "via": "preference_page",
    },
    "customer.reply": {"text": "STOP", "channel": "sms", "rule_id": "data-bundle-nearly-used"},
    "customer.offer_declined": {"offer_id": "data-20gb", "rule_id": "data-bundle-nearly-used"},
    "contract.ending_soon": {
        "contract_end": "2026-07-15",
        "plan_id": "data-20gb",
        "monthly_fee_eur": 20.0,
    },
    "contract.notice_given": {"contract_end": "2026-07-15"},
    "service.outage_started": {
        "outage_id": "OUT-NL-20-77",
        "area": "NL-20",
        "services": ["data", "voice"],
        "expected_end": "2026-05-20T14:30:00+02:00",
    },
    "service.outage_resolved": {
        "outage_id": "OUT-NL-20-77",
        "resolved_at": "2026-05-20T13:55:00Z",
    },
}


def cloudevent(etype: str = "usage.data", **overrides: Any) -> dict[str, Any]:
    """A structured-mode CloudEvent with a realistic payload of ``etype``."""
    ce: dict[str, Any] = {
        "specversion": "1.0",
        "id": "evt-0001",
        "source": "/crm/" + etype.split(".")[0],
        "type": etype,
        "subject": "C-000042",
        "time": "2026-05-20T10:00:00+02:00",
        "datacontenttype": "application/json",
        "data": dict(PAYLOAD_EXAMPLES[etype]),
    }
    ce.update(overrides)
    return ce


def with_data(etype: str, **changes: Any) -> str:
    """A CloudEvent line whose payload has ``changes`` applied (``None`` deletes a field)."""
    data = dict(PAYLOAD_EXAMPLES[etype])
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    return json.dumps(cloudevent(etype, data=data))


def refused(raw: str | bytes) -> EventError:
    with pytest.raises(EventError) as info:
        parse_event(raw)
    return info.value


def test_examples_cover_the_whole_catalogue() -> None:
    """Every event type of the catalogue has an example here (a new type needs one)."""
    assert set(PAYLOAD_EXAMPLES) == set(PAYLOADS)


@pytest.mark.parametrize("etype", sorted(PAYLOADS))
def test_valid_event_of_every_type_parses(etype: str) -> None:
    """A realistic event of each type is accepted with its typed payload and customer id."""
    ev = parse_event(json.dumps(cloudevent(etype)).encode())
    assert ev.type == etype
    assert ev.customer_id == "C-000042"
    assert isinstance(ev.data, PAYLOADS[etype])
    dumped = ev.data.model_dump(mode="json", exclude_none=True)
    for name in PAYLOAD_EXAMPLES[etype]:
        assert name in dumped


def test_event_time_is_normalised_to_utc() -> None:
    """The envelope time keeps its instant but is expressed in UTC."""
    ev = parse_event(json.dumps(cloudevent("usage.data", time="2026-05-20T23:00:00+02:00")))
    assert ev.time == datetime(2026, 5, 20, 21, 0, tzinfo=UTC)
    assert ev.time.utcoffset() is not None and ev.time.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("etype", sorted(PAYLOADS))
def test_to_cloudevent_round_trips_through_parse_event(etype: str) -> None:
    """``Event.to_cloudevent()`` gives JSON that parses back to an equal event."""
    ev = parse_event(json.dumps(cloudevent(etype)))
    again = parse_event(json.dumps(ev.to_cloudevent()))
    assert again == ev
    assert ev.to_cloudevent()["subject"] == ev.customer_id


@pytest.mark.parametrize(
    "raw",
    ['{"specversion": "1.0", "id": "e1",', "not json at all", b"\xff\xfe\x00", "[1, 2, 3]", '"x"'],
    ids=["truncated", "text", "binary", "array", "string"],
)
def test_malformed_json_is_refused(raw: str | bytes) -> None:
    """Bytes that are not a JSON object are refused as ``malformed_json``."""
    assert refused(raw).reason == "malformed_json"


def test_unknown_type_is_refused_with_the_type_named() -> None:
    """A type outside the catalogue is ``unknown_type`` and the detail names it."""
    err = refused(json.dumps(cloudevent("usage.data", type="usage.voice_minutes")))
    assert err.reason == "unknown_type"
    assert "usage.voice_minutes" in err.detail


def test_missing_type_is_a_schema_violation_naming_type() -> None:
    """Without ``type`` the event cannot be read: schema violation on ``type``."""
    ce = cloudevent("usage.data")
    del ce["type"]
    err = refused(json.dumps(ce))
    assert err.reason == "schema_violation"
    assert "type" in err.detail


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (with_data("usage.data", used_mb="a lot"), "data.used_mb"),
        (with_data("usage.data", bundle_mb=None), "data.bundle_mb"),
        (with_data("billing.payment_failed", amount_eur=-5), "data.amount_eur"),
        (with_data("billing.payment_failed", attempt=0), "data.attempt"),
        (with_data("usage.roaming_started", zone="mars"), "data.zone"),
        (with_data("service.outage_started", services=[]), "data.services"),
        (with_data("customer.profile_updated", time_zone="Europe/Atlantis"), "data.time_zone"),
        (with_data("customer.consent_changed", channel="fax"), "data.channel"),
        (with_data("customer.complaint_opened", severity="high"), "data.severity"),
    ],
    ids=[
        "wrong-type",
        "missing-field",
        "negative-amount",
        "attempt-zero",
        "bad-literal",
        "empty-list",
        "unknown-zone",
        "bad-channel",
        "extra-field",
    ],
)
def test_payload_schema_violation_names_the_field(line: str, field: str) -> None:
    """A payload that breaks its model is ``schema_violation`` and the detail names the field."""
    err = refused(line)
    assert err.reason == "schema_violation"
    assert field in err.detail


@pytest.mark.parametrize("end", ["2026-05-01", "2026-05-31"])
def test_cycle_end_not_after_cycle_start_is_refused(end: str) -> None:
    """A billing cycle that ends before (or when) it starts is a violation on ``cycle_end``."""
    err = refused(with_data("usage.data", cycle_start="2026-05-31", cycle_end=end))
    assert err.reason == "schema_violation"
    assert "data.cycle_end" in err.detail


@pytest.mark.parametrize("when", ["2026-05-20T10:00:00", "2026-05-20 10:00"])
def test_naive_time_without_offset_is_refused(when: str) -> None:
    """A time without a UTC offset is ambiguous and refused, naming ``time``."""
    err = refused(json.dumps(cloudevent("usage.data", time=when)))
    assert err.reason == "schema_violation"
    assert err.detail.startswith("time")


@pytest.mark.parametrize("attr", ["id", "source", "subject", "specversion"])
def test_missing_envelope_attribute_is_named(attr: str) -> None:
    """Each required CloudEvents attribute is checked and named when absent."""
    ce = cloudevent("billing.payment_failed")
    del ce[attr]
    err = refused(json.dumps(ce))
    assert err.reason == "schema_violation"
    assert attr in err.detail


@pytest.mark.parametrize(
    ("attr", "value"), [("specversion", "0.3"), ("subject", ""), ("id", ""), ("time", "tomorrow")]
)
def test_bad_envelope_value_is_named(attr: str, value: str) -> None:
    """CloudEvents 1.0 only, a non-empty customer id and event id, a real timestamp."""
    err = refused(json.dumps(cloudevent("usage.data", **{attr: value})))
    assert err.reason == "schema_violation"
    assert err.detail.startswith(attr)


def test_oversized_event_is_refused_before_parsing() -> None:
    """An event above the size limit is ``oversized`` (even if it is otherwise valid)."""
    line = with_data("customer.complaint_opened", topic="x" * (MAX_EVENT_BYTES + 10))
    err = refused(line)
    assert err.reason == "oversized"
    assert str(MAX_EVENT_BYTES) in err.detail


def test_size_limit_counts_bytes_not_characters() -> None:
    """Multi-byte characters count by their UTF-8 size, so € text can exceed the limit."""
    topic = "€" * (MAX_EVENT_BYTES // 3 + 10)  # fewer characters than the limit, more bytes
    line = json.dumps(
        cloudevent("customer.complaint_opened", data={"complaint_id": "K1", "topic": topic}),
        ensure_ascii=False,
    )
    assert len(line) < MAX_EVENT_BYTES < len(line.encode())
    assert refused(line).reason == "oversized"


def test_event_just_under_the_limit_is_accepted() -> None:
    """The limit is a limit, not a guess: a large but allowed event passes."""
    base = with_data("customer.complaint_opened", topic="")
    topic = "x" * (MAX_EVENT_BYTES - len(base.encode()))
    line = with_data("customer.complaint_opened", topic=topic)
    assert len(line.encode()) == MAX_EVENT_BYTES
    assert parse_event(line).data.topic == topic  # type: ignore[attr-defined]
