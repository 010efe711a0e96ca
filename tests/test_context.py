"""Folding events into the customer context (proactive.context)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

import pytest

from proactive.context import MAX_CYCLES, Contact, CustomerContext, apply_event
from proactive.events import Event

MB = 1024.0
Make = Callable[..., Event]


def month_cycle(year: int, month: int) -> tuple[str, str]:
    start = date(year, month, 1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start.isoformat(), end.isoformat()


def usage(make_event: Make, at: str, used_gb: float, month: tuple[int, int] = (2026, 5)) -> Event:
    start, end = month_cycle(*month)
    return make_event(
        "usage.data",
        "C1",
        at,
        used_mb=used_gb * MB,
        bundle_mb=5 * MB,
        cycle_start=start,
        cycle_end=end,
    )


def fold(ctx: CustomerContext, *events: Event) -> CustomerContext:
    for ev in events:
        apply_event(ctx, ev)
    return ctx


def test_usage_reports_are_cumulative_within_a_cycle(make_event: Make) -> None:
    """Later reports of the same cycle replace the used amount; one cycle stays one entry."""
    ctx = fold(
        CustomerContext("C1"),
        usage(make_event, "2026-05-05T10:00:00Z", 1.0),
        usage(make_event, "2026-05-12T10:00:00Z", 2.5),
        usage(make_event, "2026-05-19T10:00:00Z", 4.2),
    )
    assert len(ctx.cycles) == 1
    cur = ctx.current_cycle()
    assert cur is not None
    assert cur.used_mb == pytest.approx(4.2 * MB)
    assert cur.cycle_start == date(2026, 5, 1)
    assert cur.reported_at == datetime.fromisoformat("2026-05-19T10:00:00+00:00")


def test_late_smaller_report_does_not_lower_usage(make_event: Make) -> None:
    """A report that arrives late with a smaller total must not undo the larger one."""
    ctx = fold(
        CustomerContext("C1"),
        usage(make_event, "2026-05-19T10:00:00Z", 4.2),
        usage(make_event, "2026-05-12T10:00:00Z", 2.5),
    )
    cur = ctx.current_cycle()
    assert cur is not None
    assert cur.used_mb == pytest.approx(4.2 * MB)
    assert cur.reported_at == datetime.fromisoformat("2026-05-19T10:00:00+00:00")


def test_new_cycle_is_appended_and_previous_kept_as_history(make_event: Make) -> None:
    """A report for a new cycle opens a new entry; the last one becomes history."""
    ctx = fold(
        CustomerContext("C1"),
        usage(make_event, "2026-04-29T10:00:00Z", 4.8, (2026, 4)),
        usage(make_event, "2026-05-03T10:00:00Z", 0.3, (2026, 5)),
    )
    assert [c.cycle_start for c in ctx.cycles] == [date(2026, 4, 1), date(2026, 5, 1)]
    assert [c.used_mb for c in ctx.previous_cycles()] == [pytest.approx(4.8 * MB)]
    assert ctx.current_cycle().used_mb == pytest.approx(0.3 * MB)  # type: ignore[union-attr]


def test_report_for_an_already_closed_cycle_is_ignored(make_event: Make) -> None:
    """A straggler for an older cycle does not reopen it or reorder history."""
    ctx = fold(
        CustomerContext("C1"),
        usage(make_event, "2026-04-29T10:00:00Z", 4.8, (2026, 4)),
        usage(make_event, "2026-05-03T10:00:00Z", 0.3, (2026, 5)),
        usage(make_event, "2026-05-04T10:00:00Z", 5.0, (2026, 4)),
    )
    assert [c.cycle_start for c in ctx.cycles] == [date(2026, 4, 1), date(2026, 5, 1)]
    assert ctx.cycles[0].used_mb == pytest.approx(4.8 * MB)


def test_usage_history_is_bounded_to_twelve_cycles(make_event: Make) -> None:
    """After 15 monthly cycles only the newest 12 are kept, oldest first."""
    ctx = CustomerContext("C1")
    months = [(2025 + (m - 1) // 12, (m - 1) % 12 + 1) for m in range(1, 16)]
    for i, (y, m) in enumerate(months):
        apply_event(ctx, usage(make_event, f"{y}-{m:02d}-20T10:00:00Z", 1.0 + i / 10, (y, m)))
    assert MAX_CYCLES == 12
    assert len(ctx.cycles) == 12
    assert ctx.cycles[0].cycle_start == date(2025, 4, 1)
    assert ctx.cycles[-1].cycle_start == date(2026, 3, 1)


def test_usage_plan_id_updates_the_plan(make_event: Make) -> None:
    """A usage report that names the plan keeps the context's plan current."""
    start, end = month_cycle(2026, 5)
    ctx = fold(
        CustomerContext("C1", plan_id="data-2gb"),
        make_event(
            "usage.data",
            "C1",
            "2026-05-10T10:00:00Z",
            used_mb=100,
            bundle_mb=5120,
            cycle_start=start,
            cycle_end=end,
            plan_id="data-5gb",
        ),
    )
    assert ctx.plan_id == "data-5gb"


def consent(make_event: Make, at: str, **data: object) -> Event:
    return make_event("customer.consent_changed", "C1", at, **data)


def test_consent_is_kept_per_purpose_and_channel(make_event: Make) -> None:
    """Consent for one purpose×channel says nothing about other channels or purposes."""
    ctx = fold(
        CustomerContext("C1"),
        consent(
            make_event, "2026-01-01T09:00:00Z", purpose="commercial", channel="sms", granted=True
        ),
    )
    assert ctx.consent("commercial", "sms") is True
    assert ctx.consent("commercial", "email") is None
    assert ctx.consent("advice", "sms") is None


def test_channel_statement_overrides_an_all_channel_consent(make_event: Make) -> None:
    """After 'all: yes', a later 'sms: no' withdraws SMS only."""
    ctx = fold(
        CustomerContext("C1"),
        consent(
            make_event, "2026-01-01T09:00:00Z", purpose="commercial", channel="all", granted=True
        ),
        consent(
            make_event, "2026-02-01T09:00:00Z", purpose="commercial", channel="sms", granted=False
        ),
    )
    assert ctx.consent("commercial", "sms") is False
    assert ctx.consent("commercial", "email") is True
    assert ctx.consent("commercial", "push") is True


def test_all_channel_statement_replaces_channel_entries(make_event: Make) -> None:
    """'all: no' replaces earlier per-channel consents of that purpose, not of others."""
    ctx = fold(
        CustomerContext("C1"),
        consent(
            make_event, "2026-01-01T09:00:00Z", purpose="commercial", channel="sms", granted=True
        ),
        consent(
            make_event, "2026-01-01T09:01:00Z", purpose="commercial", channel="email", granted=True
        ),
        consent(make_event, "2026-01-01T09:02:00Z", purpose="advice", channel="sms", granted=True),
        consent(
            make_event, "2026-03-01T09:00:00Z", purpose="commercial", channel="all", granted=False
        ),
    )
    assert ctx.consents == {"commercial:all": False, "advice:sms": True}
    for ch in ("sms", "email", "push", "app_inbox"):
        assert ctx.consent("commercial", ch) is False
    assert ctx.consent("advice", "sms") is True


def test_objection_to_direct_marketing_is_recorded_and_can_be_lifted(make_event: Make) -> None:
    """The objection is its own flag, independent of channel consents."""
    ctx = fold(
        CustomerContext("C1"),
        consent(
            make_event, "2026-01-01T09:00:00Z", purpose="commercial", channel="all", granted=True
        ),
        consent(make_event, "2026-02-01T09:00:00Z", objection_direct_marketing=True),
    )
    assert ctx.objection_direct_marketing is True
    assert ctx.consent("commercial", "email") is True  # consent untouched; the limit decides
    apply_event(ctx, consent(make_event, "2026-03-01T09:00:00Z", objection_direct_marketing=False))
    assert ctx.objection_direct_marketing is False


def test_complaints_open_and_close(make_event: Make) -> None:
    """Open complaints are tracked by id; closing one leaves the others open."""
    ctx = fold(
        CustomerContext("C1"),
        make_event(
            "customer.complaint_opened",
            "C1",
            "2026-05-01T09:00:00Z",
            complaint_id="K1",
            topic="billing",
        ),
        make_event(
            "customer.complaint_opened",
            "C1",
            "2026-05-02T09:00:00Z",
            complaint_id="K2",
            topic="network",
        ),
        make_event("customer.complaint_closed", "C1", "2026-05-03T09:00:00Z", complaint_id="K1"),
    )
    assert ctx.open_complaints == {"K2": "network"}
    apply_event(
        ctx,
        make_event("customer.complaint_closed", "C1", "2026-05-04T09:00:00Z", complaint_id="K2"),
    )
    assert ctx.open_complaints == {}


def payment_failed(make_event: Make, at: str) -> Event:
    return make_event("billing.payment_failed", "C1", at, invoice_id="INV-1", amount_eur=27.5)


def test_two_failed_payments_within_60_days_mean_financial_trouble(make_event: Make) -> None:
    """The second failure within 60 days marks financial trouble, dated at that failure."""
    ctx = fold(CustomerContext("C1"), payment_failed(make_event, "2026-03-01T09:00:00Z"))
    assert "financial_trouble" not in ctx.vulnerabilities
    apply_event(ctx, payment_failed(make_event, "2026-04-20T09:00:00Z"))
    assert ctx.vulnerabilities["financial_trouble"] == date(2026, 4, 20)


def test_failed_payments_further_apart_than_60_days_are_not_trouble(make_event: Make) -> None:
    """Two failures 61 days apart are two incidents, not a pattern; the old one is dropped."""
    ctx = fold(
        CustomerContext("C1"),
        payment_failed(make_event, "2026-01-01T09:00:00Z"),
        payment_failed(make_event, "2026-03-03T09:00:00Z"),
    )
    assert "financial_trouble" not in ctx.vulnerabilities
    assert len(ctx.failed_payments) == 1


def arrangement(make_event: Make, at: str, status: str) -> Event:
    return make_event(
        "billing.payment_arrangement",
        "C1",
        at,
        arrangement_id="A1",
        status=status,
        instalments=3,
        amount_eur=90.0,
    )


def test_payment_arrangement_started_and_ended(make_event: Make) -> None:
    """An arrangement marks financial trouble while it runs; its end clears both."""
    ctx = fold(CustomerContext("C1"), arrangement(make_event, "2026-02-10T09:00:00Z", "started"))
    assert ctx.arrangement_active is True
    assert ctx.vulnerabilities["financial_trouble"] == date(2026, 2, 10)
    apply_event(ctx, arrangement(make_event, "2026-05-10T09:00:00Z", "ended"))
    assert ctx.arrangement_active is False
    assert "financial_trouble" not in ctx.vulnerabilities


def test_bereavement_is_recorded_with_the_date_it_happened(make_event: Make) -> None:
    """The vulnerability carries the date of the loss, not of the report."""
    ctx = fold(
        CustomerContext("C1"),
        make_event(
            "customer.life_event",
            "C1",
            "2026-05-10T09:00:00Z",
            kind="bereavement",
            occurred_on="2026-05-02",
        ),
    )
    assert ctx.vulnerabilities == {"bereavement": date(2026, 5, 2)}


def test_life_events_that_are_not_vulnerabilities_are_not_flagged(make_event: Make) -> None:
    """Moving house is a life event, not a reason to treat the customer as vulnerable."""
    ctx = fold(
        CustomerContext("C1"),
        make_event(
            "customer.life_event",
            "C1",
            "2026-05-10T09:00:00Z",
            kind="moving",
            occurred_on="2026-05-01",
        ),
    )
    assert ctx.vulnerabilities == {}


def test_declined_offer_is_remembered_with_its_time(make_event: Make) -> None:
    """A 'no' is kept so it can be respected next time."""
    ctx = fold(
        CustomerContext("C1"),
        make_event("customer.offer_declined", "C1", "2026-05-10T09:00:00Z", offer_id="data-10gb"),
    )
    assert ctx.declined_offers == {"data-10gb": datetime.fromisoformat("2026-05-10T09:00:00+00:00")}


def test_profile_update_is_partial(make_event: Make) -> None:
    """Fields absent from a profile update keep their earlier value."""
    ctx = fold(
        CustomerContext("C1"),
        make_event(
            "customer.profile_updated",
            "C1",
            "2026-01-01T09:00:00Z",
            name="Sem de Vries",
            language="en",
            preferred_channel="sms",
            quiet_hours={"start": "22:00", "end": "07:00"},
        ),
        make_event(
            "customer.profile_updated", "C1", "2026-02-01T09:00:00Z", preferred_channel="email"
        ),
    )
    assert (ctx.name, ctx.language, ctx.preferred_channel) == ("Sem de Vries", "en", "email")
    assert (ctx.quiet_start, ctx.quiet_end) == (time(22, 0), time(7, 0))


def test_record_contact_keeps_90_days(make_event: Make) -> None:
    """Contacts older than 90 days before the newest one are forgotten."""
    ctx = CustomerContext("C1")
    base = datetime.fromisoformat("2026-01-01T10:00:00+00:00")
    for days in (0, 50, 100):
        ctx.record_contact(Contact(base + timedelta(days=days), "r", "service", "sms"))
    assert [c.at for c in ctx.contacts] == [base + timedelta(days=50), base + timedelta(days=100)]
    assert ctx.last_contact("r") == ctx.contacts[-1]


def full_context(make_event: Make) -> CustomerContext:
    """A context touched by every kind of event."""
    ctx = fold(
        CustomerContext("C1"),
        make_event(
            "customer.profile_updated",
            "C1",
            "2026-01-01T09:00:00Z",
            name="Noor Bakker",
            language="nl",
            preferred_channel="app_inbox",
            time_zone="Europe/Amsterdam",
            quiet_hours={"start": "21:30", "end": "07:30"},
            values=["sustainability"],
            age_band="25-39",
            segment="consumer",
            managed_by_proxy=True,
        ),
        consent(
            make_event, "2026-01-01T09:01:00Z", purpose="commercial", channel="email", granted=True
        ),
        usage(make_event, "2026-04-20T10:00:00Z", 4.9, (2026, 4)),
        usage(make_event, "2026-05-20T10:00:00Z", 4.6, (2026, 5)),
        make_event(
            "billing.invoice_issued",
            "C1",
            "2026-05-01T09:00:00Z",
            invoice_id="I1",
            amount_eur=21.3,
            due_date="2026-05-15",
        ),
        payment_failed(make_event, "2026-05-16T09:00:00Z"),
        arrangement(make_event, "2026-05-18T09:00:00Z", "started"),
        make_event(
            "customer.complaint_opened",
            "C1",
            "2026-05-19T09:00:00Z",
            complaint_id="K1",
            topic="billing",
        ),
        make_event(
            "customer.life_event",
            "C1",
            "2026-05-19T09:30:00Z",
            kind="illness",
            occurred_on="2026-05-10",
        ),
        make_event("customer.offer_declined", "C1", "2026-05-19T10:00:00Z", offer_id="data-20gb"),
        make_event(
            "contract.ending_soon",
            "C1",
            "2026-05-19T11:00:00Z",
            contract_end="2026-07-01",
            plan_id="data-5gb",
            monthly_fee_eur=13.5,
        ),
        make_event("usage.roaming_started", "C1", "2026-05-19T12:00:00Z", country="NO", zone="eu"),
        make_event(
            "service.outage_started",
            "C1",
            "2026-05-19T13:00:00Z",
            outage_id="O1",
            area="NL-20",
            services=["data"],
        ),
    )
    ctx.record_contact(
        Contact(
            datetime.fromisoformat("2026-05-19T14:00:00+00:00"), "outage-started", "service", "sms"
        )
    )
    ctx.pending["contract-renewal"] = "d-1"
    return ctx


def test_to_doc_from_doc_round_trip(make_event: Make) -> None:
    """A context survives ``to_doc``/``from_doc`` unchanged (struct equality)."""
    ctx = full_context(make_event)
    back = CustomerContext.from_doc("C1", ctx.to_doc())
    assert back == ctx
    assert back.roaming_country == "NO"  # a country code, never a boolean


def test_encode_decode_round_trip(make_event: Make) -> None:
    """The stored JSON document rebuilds the same context."""
    ctx = full_context(make_event)
    assert CustomerContext.decode(ctx.encode()) == ctx


def test_round_trip_detects_a_difference(make_event: Make) -> None:
    """Equality is real: a changed field makes the rebuilt context differ."""
    ctx = full_context(make_event)
    doc = ctx.to_doc()
    doc["open_complaints"] = {}
    assert CustomerContext.from_doc("C1", doc) != ctx
