"""Hard limits (proactive.ethics.limits): what no score can outweigh (DOMAIN.md §6, §8, §9).

Each test runs a realistic candidate into one limit and checks its id, frame, effect
and evidence, next to a control case that differs in the one thing the limit is about.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from ethics_helpers import (
    NOON,
    STRUCTURAL,
    assess,
    candidate,
    customer,
    event,
    limits,
    policy,
    sent,
    usage_event,
    usage_history,
    when,
    with_commercial_consent,
    with_rule,
    with_text,
)

from proactive.candidates import Candidate
from proactive.context import CustomerContext, apply_event
from proactive.ethics.limits import next_allowed

AMS = ZoneInfo("Europe/Amsterdam")
CURACAO = ZoneInfo("America/Curacao")


def bundle_offer(ctx: CustomerContext, at: str | datetime = NOON) -> Candidate:
    """A commercial candidate: a better-fitting bundle for a structural need."""
    usage_history(ctx, STRUCTURAL)
    c = candidate("data-bundle-nearly-used", usage_event(4700, at), ctx)
    assert c.purpose == "commercial" and c.offer is not None
    return c


def outage_notice(ctx: CustomerContext, at: str | datetime = NOON) -> Candidate:
    """A service candidate: an outage in the customer's area."""
    ev = event("service.outage_started", at, outage_id="O-1", area="Utrecht", services=["data"])
    return candidate("outage-started", ev, ctx)


def payment_failed(ctx: CustomerContext, at: str | datetime = NOON) -> Candidate:
    """A service candidate that invites a call (sensitive, app inbox)."""
    ev = event("billing.payment_failed", at, invoice_id="INV-7", amount_eur=42.5)
    return candidate("payment-failed-support", ev, ctx)


# --------------------------------------------------------------------------- consent


def test_commercial_without_consent_is_blocked_by_law() -> None:
    """§6: a commercial message needs consent for that purpose and channel."""
    with_consent = limits(bundle_offer(with_commercial_consent(customer())))
    without = limits(bundle_offer(customer()))
    assert "consent_for_purpose_and_channel" not in with_consent
    hit = without["consent_for_purpose_and_channel"]
    assert (hit.frame, hit.effect) == ("law", "block")
    assert hit.detail == "no consent for commercial messages by app_inbox (never given)"


def test_withdrawn_consent_is_named_as_withdrawn() -> None:
    """§6: consent withdrawn stops the offer at once, and the record says it was withdrawn."""
    ctx = with_commercial_consent(customer())
    apply_event(
        ctx,
        event(
            "customer.consent_changed", "2026-05-01T09:00:00Z", purpose="commercial", granted=False
        ),
    )
    hit = limits(bundle_offer(ctx))["consent_for_purpose_and_channel"]
    assert hit.detail == "no consent for commercial messages by app_inbox (withdrawn)"


def test_service_message_needs_no_marketing_consent() -> None:
    """§6: service messages rest on the contract, not on marketing consent."""
    assert "consent_for_purpose_and_channel" not in limits(outage_notice(customer()))


# ------------------------------------------------------------------------- objection


def test_objection_stops_commercial_but_not_service() -> None:
    """S6: objection to direct marketing → no commercial offers; service notices still go."""
    offer = bundle_offer(with_commercial_consent(customer(objection_direct_marketing=True)))
    hit = limits(offer)["objection_direct_marketing"]
    assert (hit.frame, hit.effect) == ("law", "block")
    assert assess(offer).verdict == "block"

    notice = outage_notice(customer(objection_direct_marketing=True))
    assert "objection_direct_marketing" not in limits(notice)
    assert assess(notice).verdict == "send"


# ----------------------------------------------------------------- special categories


def test_health_data_in_a_commercial_rule_is_blocked() -> None:
    """S7: special-category data (health) is never input to a commercial rule."""
    clean = bundle_offer(with_commercial_consent(customer()))
    assert "special_category_in_commercial" not in limits(clean)
    health = with_rule(clean, data=[*clean.rule.rule.data, "health"])
    hit = limits(health)["special_category_in_commercial"]
    assert (hit.frame, hit.effect) == ("law", "block")
    assert "health" in hit.detail
    assert assess(health).verdict == "block"


def test_special_category_in_a_rule_declared_commercial_is_blocked_without_an_offer() -> None:
    """S7: the rule's own purpose counts, even when this message carries no offer."""
    notice = outage_notice(customer())
    religious = with_rule(notice, purpose="commercial", data=["service", "religion"])
    assert "religion" in limits(religious)["special_category_in_commercial"].detail


# ------------------------------------------------------------------------ vulnerable


@pytest.mark.parametrize(
    ("kind", "since", "hit"),
    [
        ("bereavement", date(2026, 4, 1), True),  # 49 days ago, window 180
        ("bereavement", date(2025, 6, 1), False),  # 353 days ago: outside the window
        ("financial_trouble", date(2026, 3, 1), True),  # window 120
        ("illness", date(2025, 9, 1), True),  # window 365
    ],
)
def test_no_selling_to_a_vulnerable_customer_within_the_window(
    kind: str, since: date, hit: bool
) -> None:
    """S11/S13: no commercial message while bereaved, in financial trouble or ill (policy window)."""
    c = bundle_offer(with_commercial_consent(customer(vulnerabilities={kind: since})))
    hits = limits(c)
    assert ("no_selling_when_vulnerable" in hits) is hit
    if hit:
        h = hits["no_selling_when_vulnerable"]
        assert h.frame == "organisation" and h.effect == "block"
        assert since.isoformat() in h.detail and kind.replace("_", " ") in h.detail


def test_financial_trouble_from_failed_payments_stops_offers_not_support() -> None:
    """S13: after two failed payments only supportive, problem-preventing messages go."""
    ctx = with_commercial_consent(customer())
    for day in ("2026-05-02T09:00:00Z", "2026-05-12T09:00:00Z"):
        support = payment_failed(ctx, at=day)
    assert "financial_trouble" in ctx.vulnerabilities
    assert "no_selling_when_vulnerable" not in limits(support)
    assert "no_selling_when_vulnerable" in limits(bundle_offer(ctx))


# -------------------------------------------------------------------- open complaint


def test_open_complaint_blocks_upsell_until_closed() -> None:
    """S12: no upselling while a complaint is open."""
    ctx = with_commercial_consent(customer(open_complaints={"K-1": "wrong invoice"}))
    hit = limits(bundle_offer(ctx))["no_upsell_with_open_complaint"]
    assert hit.effect == "block" and "wrong invoice" in hit.detail

    assert "no_upsell_with_open_complaint" not in limits(outage_notice(ctx))

    closed = with_commercial_consent(customer(open_complaints={"K-1": "wrong invoice"}))
    apply_event(closed, event("customer.complaint_closed", NOON, complaint_id="K-1"))
    assert "no_upsell_with_open_complaint" not in limits(bundle_offer(closed))


# ------------------------------------------------------------------- declined offer


@pytest.mark.parametrize(("days_ago", "hit"), [(10, True), (89, True), (120, False)])
def test_declined_offer_is_respected_for_the_respect_period(days_ago: int, hit: bool) -> None:
    """§2 Autonomie: an offer the customer declined is not offered again within 90 days."""
    c = bundle_offer(with_commercial_consent(customer()))
    assert c.offer is not None
    c.ctx.declined_offers[c.offer.offer_id] = c.at - timedelta(days=days_ago)
    assert ("declined_offer_respected" in limits(c)) is hit


# ------------------------------------------------------------- cooldown, frequency


def test_cooldown_stops_the_same_rule_again() -> None:
    """S22: the same rule does not message the same customer again within its cooldown (20d)."""
    recent, old = customer(), customer()
    sent(recent, when(NOON) - timedelta(days=5), "data-bundle-nearly-used")
    sent(old, when(NOON) - timedelta(days=25), "data-bundle-nearly-used")
    usage_history(recent, STRUCTURAL)
    usage_history(old, STRUCTURAL)
    hit = limits(candidate("data-bundle-nearly-used", usage_event(4700), recent)).get("cooldown")
    assert hit is not None and hit.effect == "block" and "cooldown 20 days" in hit.detail
    assert "cooldown" not in limits(candidate("data-bundle-nearly-used", usage_event(4700), old))


def test_cooldown_counts_a_message_that_is_still_waiting() -> None:
    """S22: a deferred message of this rule counts, but not when it is itself being released."""
    ctx = customer(pending={"outage-started": "d-1"})
    c = outage_notice(ctx)
    assert "already waiting" in limits(c)["cooldown"].detail
    c.variant = "released"
    assert "cooldown" not in limits(c)


def test_frequency_cap_stops_commercial_but_service_is_exempt() -> None:
    """S22: at most 3 proactive messages a week; service notices are exempt."""
    ctx = with_commercial_consent(customer())
    for hours in (24, 48, 72):
        sent(ctx, when(NOON) - timedelta(hours=hours), f"rule-{hours}")
    hit = limits(bundle_offer(ctx))["frequency_cap"]
    assert hit.effect == "block" and "3 messages in the last 7 days (cap 3)" in hit.detail
    assert "frequency_cap" not in limits(outage_notice(ctx))

    fewer = with_commercial_consent(customer())
    for hours in (24, 48):
        sent(fewer, when(NOON) - timedelta(hours=hours), f"rule-{hours}")
    sent(fewer, when(NOON) - timedelta(days=8), "rule-old")  # outside the week
    assert "frequency_cap" not in limits(bundle_offer(fewer))


def test_commercial_cap_is_one_a_week() -> None:
    """S22: at most one commercial message per week."""
    ctx = with_commercial_consent(customer())
    sent(ctx, when(NOON) - timedelta(days=2), "contract-renewal", purpose="commercial")
    hit = limits(bundle_offer(ctx))["frequency_cap"]
    assert "1 commercial message(s)" in hit.detail


# ------------------------------------------------------------------------------ sms


def test_sms_in_too_many_parts_is_blocked_by_the_systems_frame() -> None:
    """§8 Systems: the SMS gateway takes at most 3 parts."""
    short = outage_notice(customer(preferred_channel="sms"))
    assert short.channel == "sms" and short.message is not None
    assert "sms_segments" not in limits(short)
    long = with_text(short, body=" ".join([short.message.body] * 5))
    hit = limits(long)["sms_segments"]
    assert (hit.frame, hit.effect) == ("systems", "block")
    assert long.message is not None and long.message.sms is not None
    assert f"{long.message.sms.segments} SMS parts (max 3)" == hit.detail


# ---------------------------------------------------------------------- quiet hours


def test_quiet_hours_defer_to_the_next_morning_in_amsterdam() -> None:
    """S14: due at 22:00 Amsterdam time → deferred to 08:00 the next morning, not dropped."""
    c = outage_notice(customer(), at=datetime(2026, 5, 20, 22, 0, tzinfo=AMS))
    hit = limits(c)["quiet_hours"]
    assert (hit.frame, hit.effect) == ("organisation", "defer")
    due, why = next_allowed(c, policy().policy)
    assert due == datetime(2026, 5, 21, 8, 0, tzinfo=AMS)
    assert "22:00 is in the customer's quiet hours 21:00-08:00 (Europe/Amsterdam)" in why[0]
    a = assess(c)
    assert a.verdict == "defer" and a.deliver_at == due


def test_quiet_hours_in_winter_time() -> None:
    """S14: the local clock counts, also in winter (CET, UTC+1)."""
    c = outage_notice(customer(), at=datetime(2026, 1, 14, 23, 30, tzinfo=AMS))
    due, _ = next_allowed(c, policy().policy)
    assert due == datetime(2026, 1, 15, 8, 0, tzinfo=AMS)
    assert due.astimezone(UTC).hour == 7


def test_quiet_hours_after_midnight_wait_until_the_same_morning() -> None:
    """S14: at 03:00 the next allowed moment is 08:00 that day, not the day after."""
    c = outage_notice(customer(), at=datetime(2026, 5, 21, 3, 0, tzinfo=AMS))
    assert next_allowed(c, policy().policy)[0] == datetime(2026, 5, 21, 8, 0, tzinfo=AMS)


def test_quiet_hours_use_the_customers_time_zone() -> None:
    """S14: a customer on Curaçao: 22:00 there is 04:00 in Amsterdam; their own night counts."""
    at = datetime(2026, 5, 19, 22, 0, tzinfo=CURACAO)
    there = outage_notice(customer(time_zone="America/Curacao"), at=at)
    due, why = next_allowed(there, policy().policy)
    assert due == datetime(2026, 5, 20, 8, 0, tzinfo=CURACAO)
    assert "(America/Curacao)" in why[0]
    assert "quiet_hours" in limits(there)

    # 14:00 on Curaçao is 20:00 in Amsterdam: fine for this customer, no deferral
    afternoon = outage_notice(
        customer(time_zone="America/Curacao"), at=datetime(2026, 5, 20, 14, 0, tzinfo=CURACAO)
    )
    assert "quiet_hours" not in limits(afternoon)


def test_customers_own_quiet_hours() -> None:
    """S14: a customer's own quiet hours replace the default window."""
    from datetime import time

    c = outage_notice(
        customer(quiet_start=time(19, 0), quiet_end=time(9, 30)),
        at=datetime(2026, 5, 20, 20, 0, tzinfo=AMS),
    )
    assert next_allowed(c, policy().policy)[0] == datetime(2026, 5, 21, 9, 30, tzinfo=AMS)
    default = outage_notice(customer(), at=datetime(2026, 5, 20, 20, 0, tzinfo=AMS))
    assert "quiet_hours" not in limits(default)


def test_call_invitation_on_sunday_waits_for_the_line_to_open_on_monday() -> None:
    """S14: a 'call us' message only when the line is open (Sunday → Monday 08:00)."""
    c = payment_failed(customer(), at=datetime(2026, 5, 24, 12, 0, tzinfo=AMS))
    due, why = next_allowed(c, policy().policy)
    assert due == datetime(2026, 5, 25, 8, 0, tzinfo=AMS)
    assert "line is closed" in why[0]
    a = assess(c)
    assert a.verdict == "defer" and a.deliver_at == due
    # scored at the moment it will arrive, the line is open: no 'line closed' shortfall
    assert "closed" not in " ".join(a.scores["time"].shortfalls)

    # a notice that does not invite a call goes on Sunday afternoon
    notice = outage_notice(customer(), at=datetime(2026, 5, 24, 12, 0, tzinfo=AMS))
    assert "quiet_hours" not in limits(notice)


def test_call_invitation_from_curacao_respects_both_clocks() -> None:
    """S14: the line's opening hours (Amsterdam) and the customer's quiet hours (Curaçao) both hold."""
    # Friday 19:30 on Curaçao = Saturday 01:30 in Amsterdam: the line is closed.
    at = datetime(2026, 5, 22, 19, 30, tzinfo=CURACAO)
    c = payment_failed(customer(time_zone="America/Curacao"), at=at)
    due, why = next_allowed(c, policy().policy)
    # The line opens Sat 09:00 Amsterdam = 03:00 Curaçao, inside their quiet hours;
    # 08:00 Curaçao = 14:00 Amsterdam, when the line is open.
    assert due == datetime(2026, 5, 23, 8, 0, tzinfo=CURACAO)
    assert policy().policy.human_route.is_open(due)
    assert len(why) == 2
    a = assess(c)
    assert a.verdict == "defer" and a.deliver_at == due


# ----------------------------------------------------------------------- the frames


def test_law_limits_carry_the_law_frame_and_a_source() -> None:
    """§8: the law frame has no joker; every law hit says so and names its legal source."""
    ctx = with_commercial_consent(customer(objection_direct_marketing=True))
    c = bundle_offer(ctx)
    c = with_rule(c, data=[*c.rule.rule.data, "health"])
    c.ctx.consents.clear()
    hits = limits(c)
    law = {
        "consent_for_purpose_and_channel",
        "objection_direct_marketing",
        "special_category_in_commercial",
    }
    assert law <= set(hits)
    for limit_id in law:
        assert hits[limit_id].frame == "law"
        assert "GDPR" in hits[limit_id].source


def test_offer_not_in_catalogue_or_at_another_price_is_blocked() -> None:
    """S5: an offer must exist in the catalogue at its catalogue price (law frame)."""
    import dataclasses

    c = bundle_offer(with_commercial_consent(customer()))
    assert c.offer is not None
    assert "offer_in_catalogue" not in limits(c)
    cheaper = dataclasses.replace(c, offer=dataclasses.replace(c.offer, price_eur=14.99))
    hit = limits(cheaper)["offer_in_catalogue"]
    assert hit.frame == "law" and "differs from catalogue" in hit.detail
    unknown = dataclasses.replace(c, offer=dataclasses.replace(c.offer, offer_id="data-100gb"))
    assert "not in the catalogue" in limits(unknown)["offer_in_catalogue"].detail
