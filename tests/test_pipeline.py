"""The pipeline end to end through the Harness: dead letters, decisions, deferrals, arbitration."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from proactive.decisions import verify_chain
from proactive.generate import generate_lines
from proactive.harness import Harness

AMS = ZoneInfo("Europe/Amsterdam")
MB = 1024


def ams(day: str, clock: str) -> datetime:
    """A moment in Amsterdam local time."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=AMS)


def outage_at(h: Harness, customer: str, when: datetime, outage_id: str = "O1") -> str:
    return h.event(
        "service.outage_started",
        customer,
        when,
        outage_id=outage_id,
        area="NL-20",
        services=["data"],
    )


def valid_line(event_id: str, customer: str = "C7") -> str:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "/network",
            "type": "service.outage_started",
            "subject": customer,
            "time": "2026-05-20T10:00:00Z",
            "data": {"outage_id": "O-77", "area": "NL-31", "services": ["voice"]},
        }
    )


# -- bad input ------------------------------------------------------------------------------


def test_malformed_lines_go_to_dead_letters_and_the_run_continues(
    make_harness: Callable[..., Harness],
) -> None:
    """Bad JSON, an unknown type and a schema violation each become a dead letter with the
    reason, detail and original text; the valid event after them is still decided."""
    h = make_harness()
    broken = '{"specversion": "1.0", "id": "x1", "type": '
    unknown = valid_line("x2").replace("service.outage_started", "service.maintenance_planned")
    schema = valid_line("x3").replace('"services": ["voice"]', '"services": "voice"')
    for line in (broken, unknown, schema):
        h.raw(line)
    h.raw(valid_line("ok-1"))
    assert [d["reason"] for d in h.dead_letters] == [
        "malformed_json",
        "unknown_type",
        "schema_violation",
    ]
    assert [d["original"] for d in h.dead_letters] == [broken, unknown, schema]
    assert "service.maintenance_planned" in h.dead_letters[1]["detail"]
    assert "data.services" in h.dead_letters[2]["detail"]
    assert all(d["origin"].startswith("harness:") for d in h.dead_letters)
    assert h.store.counts()["dead_letters"] == 3
    assert [d["event_id"] for d in h.decisions] == ["ok-1"]
    assert h.engine.summary.dead_lettered == 3 and h.engine.summary.accepted == 1


def test_replayed_line_is_skipped_as_a_duplicate(make_harness: Callable[..., Harness]) -> None:
    """The same event fed twice is decided once."""
    h = make_harness()
    h.raw(valid_line("dup-1"))
    h.raw(valid_line("dup-1"))
    assert len(h.decisions) == 1 and len(h.notifications) == 1
    assert h.engine.summary.duplicates == 1


# -- decisions and notifications -----------------------------------------------------------


def test_notifications_only_for_send_decisions_over_a_realistic_stream(
    make_harness: Callable[..., Harness],
) -> None:
    """Over a generated stream every notification refers to a decision with verdict send
    (one notification per send decision), every verdict occurs, and the chain verifies."""
    h = make_harness()
    h.engine.batch_size = 200
    lines = list(generate_lines(customers=150, events=2500, seed=3))
    h.engine.run([(line, f"gen:{n}") for n, line in enumerate(lines, 1)])
    h.engine.finish()
    by_id = {d["decision_id"]: d for d in h.decisions}
    assert len(by_id) == len(h.decisions)
    verdicts = Counter(d["verdict"] for d in h.decisions)
    assert verdicts["send"] > 0 and verdicts["block"] > 0 and verdicts["defer"] > 0
    messages = [n for n in h.notifications if n["data"]["kind"] == "message"]
    notices = [n for n in h.notifications if n["data"]["kind"] == "secure_notice"]
    assert len(messages) + len(notices) == len(h.notifications)
    for n in messages:
        decision = by_id[n["data"]["decision_id"]]
        assert decision["verdict"] == "send"
        assert n["id"] == decision["notification_id"]
        assert n["subject"] == decision["customer_id"]
    # a sensitive message in the secure inbox has at most one plain notice, on the
    # channel its decision names
    for n in notices:
        decision = by_id[n["data"]["decision_id"]]
        assert decision["verdict"] == "send"
        assert n["data"]["notice_for"] == decision["notification_id"]
        assert n["data"]["channel"] == decision["action"]["notice_channel"]
    assert len({n["data"]["notice_for"] for n in notices}) == len(notices)
    sent = [n["data"]["decision_id"] for n in messages]
    assert sorted(sent) == sorted(d["decision_id"] for d in h.decisions if d["verdict"] == "send")
    assert verify_chain(h.decisions) is None


def test_every_fired_rule_has_a_primary_decision_record(
    make_harness: Callable[..., Harness],
) -> None:
    """Each time a rule fires, its candidate gets a decision record, whatever the verdict."""
    h = make_harness()
    h.engine.batch_size = 200
    lines = list(generate_lines(customers=100, events=1500, seed=9))
    h.engine.run([(line, f"gen:{n}") for n, line in enumerate(lines, 1)])
    primary = Counter(d["rule_id"] for d in h.decisions if d["variant"] == "primary")
    fired = {rid: st.fired for rid, st in h.engine.summary.rules.items() if st.fired}
    assert fired and dict(primary) == fired


def bundle_customer(h: Harness, customer: str = "C1") -> None:
    """An app user on 5 GB, with commercial consent, who used ~7 GB in each of 3 months."""
    h.event(
        "customer.profile_updated",
        customer,
        ams("2026-01-01", "09:00"),
        language="nl",
        preferred_channel="app_inbox",
        time_zone="Europe/Amsterdam",
        plan_id="data-5gb",
    )
    h.event(
        "customer.consent_changed",
        customer,
        ams("2026-01-01", "09:01"),
        purpose="commercial",
        channel="all",
        granted=True,
    )
    for start, end, used in (
        ("2026-02-01", "2026-03-01", 7.0),
        ("2026-03-01", "2026-04-01", 6.8),
        ("2026-04-01", "2026-05-01", 7.2),
    ):
        h.event(
            "usage.data",
            customer,
            ams(end, "00:30"),
            used_mb=used * MB,
            bundle_mb=5 * MB,
            cycle_start=start,
            cycle_end=end,
        )


def test_blocked_offer_and_its_fallback_both_get_records(
    make_harness: Callable[..., Harness],
) -> None:
    """An objection blocks the offer; the offer candidate and the offer-less notice are both
    recorded, and only the notice is sent."""
    h = make_harness()
    bundle_customer(h)
    h.event(
        "customer.consent_changed",
        "C1",
        ams("2026-05-02", "09:00"),
        objection_direct_marketing=True,
    )
    h.event(
        "usage.data",
        "C1",
        ams("2026-05-20", "12:00"),
        used_mb=4.6 * MB,
        bundle_mb=5 * MB,
        cycle_start="2026-05-01",
        cycle_end="2026-06-01",
    )
    ds = h.decisions_for("C1", "data-bundle-nearly-used")
    assert [(d["variant"], d["verdict"]) for d in ds] == [
        ("primary", "block"),
        ("without_offer", "send"),
    ]
    assert ds[0]["action"]["offer"] is not None
    assert any("objection_direct_marketing" in r for r in ds[0]["reasons"])
    (n,) = h.notifications_for("C1")
    assert n["data"]["decision_id"] == ds[1]["decision_id"]
    assert n["data"]["offer"] is None and n["data"]["purpose"] == "service"


# -- deferral and release -----------------------------------------------------------------


def test_message_at_2300_is_deferred_then_released_after_a_recheck(
    make_harness: Callable[..., Harness],
) -> None:
    """An outage at 23:00 Amsterdam time is deferred to 08:00; advancing the clock past it
    re-checks the message and sends it at 08:00, linked to the deferral."""
    h = make_harness()
    h.event(
        "customer.profile_updated",
        "C2",
        ams("2026-05-01", "09:00"),
        language="nl",
        preferred_channel="push",
    )
    outage_at(h, "C2", ams("2026-05-20", "23:00"))
    (deferred,) = h.decisions_for("C2", "outage-started")
    assert deferred["verdict"] == "defer"
    assert datetime.fromisoformat(deferred["deliver_at"]) == ams("2026-05-21", "08:00")
    assert any("quiet_hours" in r for r in deferred["reasons"])
    assert h.notifications_for("C2") == []
    assert h.store.counts()["deferred_pending"] == 1

    h.advance(ams("2026-05-21", "08:05"))
    released = h.decisions_for("C2", "outage-started")[1]
    assert released["variant"] == "released"
    assert released["released_from"] == deferred["decision_id"]
    assert released["verdict"] == "send"
    assert any("checked again" in r for r in released["reasons"])
    (n,) = h.notifications_for("C2")
    assert n["data"]["decision_id"] == released["decision_id"]
    assert datetime.fromisoformat(n["data"]["deliver_at"]) == ams("2026-05-21", "08:00")
    assert h.store.counts()["deferred_pending"] == 0


def test_deferred_message_is_not_released_before_its_time(
    make_harness: Callable[..., Harness],
) -> None:
    """Advancing the clock to 07:30 Amsterdam time releases nothing that is due at 08:00."""
    h = make_harness()
    h.event(
        "customer.profile_updated",
        "C2",
        ams("2026-05-01", "09:00"),
        language="nl",
        preferred_channel="push",
    )
    outage_at(h, "C2", ams("2026-05-20", "23:00"))
    h.advance(ams("2026-05-21", "07:30"))
    assert [d["variant"] for d in h.decisions_for("C2")] == ["primary"]
    assert h.notifications_for("C2") == []
    h.advance(ams("2026-05-21", "08:00"))
    assert [d["variant"] for d in h.decisions_for("C2")] == ["primary", "released"]
    assert len(h.notifications_for("C2")) == 1


def renewal_customer(h: Harness) -> None:
    """A customer on 20 GB using ~3 GB, commercial consent, contract ending in July,
    noticed at 23:00 (so the renewal offer is deferred to the morning)."""
    h.event(
        "customer.profile_updated",
        "C4",
        ams("2026-01-01", "09:00"),
        language="en",
        preferred_channel="app_inbox",
        time_zone="Europe/Amsterdam",
        plan_id="data-20gb",
    )
    h.event(
        "customer.consent_changed",
        "C4",
        ams("2026-01-01", "09:01"),
        purpose="commercial",
        channel="all",
        granted=True,
    )
    for start, end, used in (
        ("2026-02-01", "2026-03-01", 3.1),
        ("2026-03-01", "2026-04-01", 2.8),
        ("2026-04-01", "2026-05-01", 3.3),
    ):
        h.event(
            "usage.data",
            "C4",
            ams(end, "00:30"),
            used_mb=used * MB,
            bundle_mb=20 * MB,
            cycle_start=start,
            cycle_end=end,
        )
    h.event(
        "contract.ending_soon",
        "C4",
        ams("2026-05-20", "23:00"),
        contract_end="2026-07-15",
        plan_id="data-20gb",
        monthly_fee_eur=20.0,
    )


def test_deferred_commercial_offer_is_released_when_consent_holds(
    make_harness: Callable[..., Harness],
) -> None:
    """Control case: with consent still given, the deferred renewal offer is sent at 08:00."""
    h = make_harness()
    renewal_customer(h)
    (first,) = h.decisions_for("C4", "contract-renewal")
    assert first["verdict"] == "defer" and first["action"]["offer"]["id"] == "data-5gb"
    h.advance(ams("2026-05-21", "09:00"))
    released = h.decisions_for("C4", "contract-renewal")[-1]
    assert (released["variant"], released["verdict"]) == ("released", "send")
    (n,) = h.notifications_for("C4")
    assert n["data"]["offer"]["id"] == "data-5gb" and n["data"]["purpose"] == "commercial"


def test_deferred_commercial_offer_is_not_released_after_consent_is_withdrawn(
    make_harness: Callable[..., Harness],
) -> None:
    """Consent withdrawn at 07:00, before the 08:00 release: the re-check blocks the offer
    (law limit, 'withdrawn'); only the offer-less service notice goes."""
    h = make_harness()
    renewal_customer(h)
    h.event(
        "customer.consent_changed",
        "C4",
        ams("2026-05-21", "07:00"),
        purpose="commercial",
        channel="all",
        granted=False,
    )
    h.advance(ams("2026-05-21", "09:00"))
    ds = h.decisions_for("C4", "contract-renewal")
    assert [(d["variant"], d["verdict"]) for d in ds] == [
        ("primary", "defer"),
        ("released", "block"),
        ("released_without_offer", "send"),
    ]
    blocked = ds[1]
    assert blocked["action"]["offer"]["id"] == "data-5gb"
    assert blocked["released_from"] == ds[0]["decision_id"]
    assert any(
        "consent_for_purpose_and_channel" in r and "withdrawn" in r for r in blocked["reasons"]
    )
    assert all(n["data"]["offer"] is None for n in h.notifications_for("C4"))
    assert [n["data"]["purpose"] for n in h.notifications_for("C4")] == ["service"]


# -- arbitration ----------------------------------------------------------------------------

EXTRA_OUTAGE_RULE = """\
rules:
  - id: outage-extra-tips
    description: A second notice on an outage, to compete with outage-started
    on: [service.outage_started]
    purpose: service
    data: [service]
    template: outage_started
    channels: [sms, push, app_inbox, email]
    priority: 40
    window: event
"""


def test_two_rules_firing_for_one_event_send_only_one(
    make_harness: Callable[..., Harness], make_rules_dir: Callable[..., Path]
) -> None:
    """Both rules fire and both are recorded; the higher priority one is sent, the other is
    recorded as block with an arbitration reason naming the winner."""
    h = make_harness(make_rules_dir({"zz_extra.yaml": EXTRA_OUTAGE_RULE}))
    h.event(
        "customer.profile_updated",
        "C5",
        ams("2026-05-01", "09:00"),
        language="en",
        preferred_channel="sms",
    )
    eid = outage_at(h, "C5", ams("2026-05-20", "12:00"))
    ds = {d["rule_id"]: d for d in h.decisions_for("C5") if d["event_id"] == eid}
    assert set(ds) == {"outage-started", "outage-extra-tips"}
    assert ds["outage-started"]["verdict"] == "send"
    loser = ds["outage-extra-tips"]
    assert loser["verdict"] == "block"
    assert loser["arbitration"].startswith("lost to outage-started")
    assert any(r.startswith("arbitration:") for r in loser["reasons"])
    (n,) = h.notifications_for("C5")
    assert n["data"]["rule_id"] == "outage-started"
    assert verify_chain(h.decisions) is None


# -- what the customer reads ----------------------------------------------------------------


def test_outage_end_time_is_shown_in_the_customers_time_zone(
    make_harness: Callable[..., Harness],
) -> None:
    """An outage expected to end at 14:30 UTC is 16:30 for a customer in Amsterdam (CEST);
    the message must say 16:30, not the UTC clock time."""
    h = make_harness()
    h.event(
        "customer.profile_updated",
        "C6",
        ams("2026-05-01", "09:00"),
        language="nl",
        preferred_channel="sms",
        time_zone="Europe/Amsterdam",
    )
    h.event(
        "service.outage_started",
        "C6",
        ams("2026-05-20", "12:00"),
        outage_id="O6",
        area="NL-20",
        services=["data"],
        expected_end="2026-05-20T14:30:00Z",
    )
    (n,) = h.notifications_for("C6")
    assert "16:30" in n["data"]["body"]
    assert "14:30" not in n["data"]["body"]


def test_usage_facts_do_not_leak_into_the_scores_of_other_messages() -> None:
    """An outage notice is not 'too late' because the customer's bundle ran out, and a
    renewal is not a 'permanent change for a spike' because this month is a busy one."""
    from proactive.harness import Harness

    h = Harness()
    h.event(
        "customer.profile_updated",
        "L1",
        "2026-05-01T08:00:00Z",
        language="en",
        preferred_channel="app_inbox",
    )
    h.event(
        "customer.consent_changed",
        "L1",
        "2026-05-01T08:00:00Z",
        purpose="commercial",
        channel="all",
        granted=True,
    )
    for month, used in ((2, 2100), (3, 2300), (4, 1900)):
        h.event(
            "usage.data", "L1", f"2026-0{month}-25T09:00:00Z", used_mb=used, bundle_mb=5120,
            cycle_start=f"2026-0{month}-01", cycle_end=f"2026-0{month + 1}-01", plan_id="data-5gb",
        )  # fmt: skip
    h.event(
        "usage.data", "L1", "2026-05-10T09:00:00Z", used_mb=5300, bundle_mb=5120,
        cycle_start="2026-05-01", cycle_end="2026-06-01", plan_id="data-5gb",
    )  # fmt: skip
    h.event(
        "service.outage_started",
        "L1",
        "2026-05-12T09:00:00Z",
        outage_id="O1",
        area="NL-1",
        services=["data"],
    )
    h.event(
        "contract.ending_soon",
        "L1",
        "2026-05-13T09:00:00Z",
        contract_end="2026-07-01",
        plan_id="data-5gb",
        monthly_fee_eur=13.5,
    )
    outage = h.decisions_for("L1", "outage-started")[-1]
    assert not any("bundle" in r for r in outage["scores"]["time"]["reasons"])
    assert outage["verdict"] == "send"
    renewal = h.decisions_for("L1", "contract-renewal")[0]
    assert not any("spike" in r for r in renewal["scores"]["relevance"]["reasons"])
    assert renewal["value"]["evidence"].get("charges_avoidable_eur") is None
