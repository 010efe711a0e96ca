"""Value and values (DOMAIN.md §3) and the verdict of the ethics check.

The verdict order is block > review > defer > send; an error inside the check, or a
message that could not be rendered, blocks (fail closed).
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ethics_helpers import (
    MODEST,
    NOON,
    POLICY_PATH,
    STRUCTURAL,
    assess,
    candidate,
    catalogue_offer,
    customer,
    event,
    limits,
    policy,
    ruleset,
    score,
    usage_event,
    usage_history,
    with_commercial_consent,
    with_offer,
    with_rule,
    with_text,
)

from proactive.candidates import Candidate, without_offer
from proactive.context import CustomerContext
from proactive.ethics import dimensions
from proactive.ethics.check import Assessment, EthicsCheck
from proactive.ethics.dimensions import DimensionScore, analyse
from proactive.ethics.policy import DIMENSIONS, load_policy
from proactive.ethics.value import ValueCheck, assess_value

AMS = ZoneInfo("Europe/Amsterdam")


def bundle_offer(ctx: CustomerContext, at: str | datetime = NOON) -> Candidate:
    """A better-fitting, cheaper bundle for a customer with a structural need (S1)."""
    usage_history(with_commercial_consent(ctx), STRUCTURAL)
    c = candidate("data-bundle-nearly-used", usage_event(4700, at), ctx)
    assert c.purpose == "commercial" and c.offer is not None and c.offer.customer_value > 0
    return c


def outage_notice(ctx: CustomerContext, at: str | datetime = NOON) -> Candidate:
    ev = event("service.outage_started", at, outage_id="O-1", area="Utrecht", services=["data"])
    return candidate("outage-started", ev, ctx)


def value_of(c: Candidate) -> ValueCheck:
    return assess_value(c, analyse(c, policy()), policy(), ruleset())


def appended(c: Candidate, line: str) -> Candidate:
    assert c.message is not None
    return with_text(c, body=c.message.body + "\n" + line)


def unlimited_upsell(ctx: CustomerContext) -> Candidate:
    """S10: 'Unlimited' for a customer whose use fits a 10 GB bundle: only the organisation gains."""
    c = bundle_offer(ctx)
    assert c.offer is not None
    upsell = catalogue_offer(
        "data-unlimited",
        cost_without=c.offer.customer_cost_without,
        cost_with=32.5,
        org_delta=8.5,
    )
    return with_offer(c, upsell)


# ------------------------------------------------------------------------------ value


def test_fair_offer_has_value_for_the_customer_and_passes() -> None:
    """S1/S27: a cheaper, better-fitting bundle benefits the customer and is sent."""
    c = bundle_offer(customer())
    v = value_of(c)
    assert v.customer > 0 and not v.flags and v.alignment == 1.0
    assert assess(c).verdict == "send"


def test_service_warning_is_worth_the_charges_it_prevents() -> None:
    """S1: a timely warning is worth the out-of-bundle charges it helps avoid."""
    ctx = customer()
    usage_history(ctx, STRUCTURAL)
    c = candidate("data-bundle-nearly-used", usage_event(4700), ctx)  # no consent: no offer...
    notice = without_offer(c, ruleset(), policy().policy)  # ...so the rule's plain warning goes
    v = value_of(notice)
    projected_over_gb = (notice.facts["usage__projected_pct"] - 1) * notice.facts[
        "usage__bundle_gb"
    ]
    expected = round(projected_over_gb * ruleset().catalogue.out_of_bundle.price_per_gb_eur, 2)
    assert v.evidence["charges_avoidable_eur"] == pytest.approx(expected, abs=0.01)
    assert v.customer >= expected > 0


def test_a_recurring_offer_is_valued_over_the_policy_horizon() -> None:
    """§3: customer and organisation value of a monthly bundle count every cycle of the
    horizon; the parts of the organisation value are named (revenue, cost to serve)."""
    c = bundle_offer(customer())
    assert c.offer is not None and c.offer.recurring
    vp = policy().policy.value
    v = value_of(c)
    assert v.customer == pytest.approx(c.offer.customer_value * vp.horizon_cycles, abs=0.01)
    parts = v.evidence["organisation"]
    assert parts["revenue"] == pytest.approx(c.offer.org_revenue_delta * vp.horizon_cycles)
    assert parts["cost_to_serve"] == -vp.cost_to_serve_eur[c.channel]
    assert v.organisation == pytest.approx(sum(parts.values()), abs=0.01)


def test_a_service_notice_is_worth_the_call_and_the_churn_it_prevents() -> None:
    """§3: an outage notice saves a support call and a customer left in the dark (cost to
    serve and retention); an SMS costs more to send than an app message."""
    vp = policy().policy.value
    by_app = value_of(outage_notice(customer(preferred_channel="app_inbox")))
    by_sms = value_of(outage_notice(customer(preferred_channel="sms")))
    for v in (by_app, by_sms):
        assert v.evidence["organisation"]["avoided_contact"] == vp.avoided_contact_eur
        assert v.evidence["organisation"]["retention"] == vp.retention_eur
        assert v.organisation > 0 and not v.flags
    assert by_sms.organisation < by_app.organisation


def test_organisation_only_benefit_is_flagged_for_review() -> None:
    """S10: value to the organisation high, to the customer none → fails the value check."""
    c = unlimited_upsell(customer())
    v = value_of(c)
    assert "organisation_only" in v.flags
    assert "the organisation gains and the customer does not" in v.reasons
    a = assess(c)
    assert a.verdict == "review"
    assert "value check flag 'organisation_only'" in a.reasons


def test_org_only_effect_block_in_the_policy_blocks(tmp_path: Path) -> None:
    """§3/§8: compliance can make an organisation-only action a block (value.org_only_effect)."""
    text = POLICY_PATH.read_text(encoding="utf-8")
    assert "org_only_effect: review" in text
    strict = tmp_path / "policy.yaml"
    strict.write_text(text.replace("org_only_effect: review", "org_only_effect: block"))
    shutil.copy(POLICY_PATH.parent / "manipulation.yaml", tmp_path / "manipulation.yaml")
    lp = load_policy(strict)
    assert lp.policy.value.org_only_effect == "block"
    a = EthicsCheck(lp).assess(unlimited_upsell(customer()), ruleset())
    assert a.verdict == "block"
    assert any("organisation_only" in r for r in a.reasons)


@pytest.mark.parametrize(
    ("language", "label"),
    [("nl", "Als echte grootverbruiker past 10 GB beter bij u."), ("en", "You are a big spender.")],
)
def test_label_on_the_customer_is_a_big_brother_flag(language: str, label: str) -> None:
    """S9: a message that labels the customer's spending type → big-brother flag → review."""
    c = bundle_offer(customer(language=language))
    assert "big_brother" not in value_of(c).flags
    labelled = appended(c, label)
    v = value_of(labelled)
    assert "big_brother" in v.flags
    assert any(r.startswith("big brother: label") for r in v.reasons)
    a = assess(labelled)
    assert a.verdict == "review"
    # big brother is a society item of the policy: its effect, reason and source apply
    assert any(r.startswith("society limit 'big_brother'") and "source:" in r for r in a.reasons)


def test_special_category_data_is_a_big_brother_flag_even_in_a_service_message() -> None:
    """§6/S9: health data behind a service notice is not a law block, but a human looks at it."""
    c = outage_notice(customer())
    health = with_rule(c, data=["service", "health"])
    assert "special_category_in_commercial" not in limits(health)
    v = value_of(health)
    assert "big_brother" in v.flags and "big brother: health data used" in v.reasons
    assert assess(c).verdict == "send"
    assert assess(health).verdict == "review"


def test_lifestyle_advice_is_a_betutteling_flag() -> None:
    """S8: unsolicited advice about personal behaviour → betutteling flag → review."""
    ctx = customer()
    usage_history(ctx, MODEST)
    spike = candidate("data-bundle-nearly-used", usage_event(4700), ctx)
    c = without_offer(spike, ruleset(), policy().policy)  # the plain bundle warning
    assert assess(c).verdict == "send"
    assert "betutteling" not in value_of(c).flags
    advice = appended(c, "Tip: minder scrollen voor het slapengaan is gezonder.")
    v = value_of(advice)
    assert "betutteling" in v.flags
    assert "'minder scrollen'" in v.reasons[-1] and "'gezonder'" in v.reasons[-1]
    a = assess(advice)
    assert a.verdict == "review"
    assert any(r.startswith("society limit 'betutteling'") for r in a.reasons)


def test_declared_no_marketing_value_lowers_alignment_to_review() -> None:
    """§3: an offer to a customer who declared 'no marketing' does not fit their values."""
    plain = bundle_offer(customer())
    clash = bundle_offer(customer(values=["no_marketing"]))
    assert value_of(plain).alignment - value_of(clash).alignment >= 0.25
    assert value_of(clash).alignment < policy().policy.value.min_alignment
    a = assess(clash)
    assert a.verdict == "review"
    assert any("clashes with the customer's value 'no_marketing'" in r for r in a.reasons)
    # the same rule's plain service notice fits them
    notice = without_offer(clash, ruleset(), policy().policy)
    assert value_of(notice).alignment == 1.0


def test_smaller_bundle_fits_a_sustainability_value() -> None:
    """§3: value fit is configuration: a smaller bundle fits a 'sustainability' customer."""
    ctx = with_commercial_consent(customer(values=["sustainability"]))
    usage_history(ctx, [2500.0, 2600.0, 2400.0], bundle_mb=10240)
    ev = event(
        "contract.ending_soon",
        NOON,
        contract_end="2026-07-01",
        plan_id="data-10gb",
        monthly_fee_eur=16.5,
    )
    c = candidate("contract-renewal", ev, ctx)
    assert c.offer is not None and c.offer.data_mb is not None and c.offer.data_mb < 10240
    v = value_of(c)
    assert "fits the customer's value 'sustainability' (smaller_bundle)" in v.reasons
    assert v.alignment == 1.0 and v.customer > 0


def test_pressure_is_at_odds_with_no_hard_sell() -> None:
    """§3: the organisation's own value 'no hard sell' is broken by pressure."""
    c = bundle_offer(customer())
    pushed = appended(c, "Laatste kans!")
    assert value_of(c).alignment - value_of(pushed).alignment >= 0.25
    assert "false urgency at odds with 'no hard sell'" in value_of(pushed).reasons


def test_old_bereavement_outside_the_policy_window_no_longer_stops_selling() -> None:
    """S11: 'recent' bereavement is the policy's window (180 days); after it the customer is
    treated like anyone else, by the limits, the empathy score and the value check alike."""
    never = bundle_offer(customer())
    long_ago = bundle_offer(customer(vulnerabilities={"bereavement": date(2024, 1, 10)}))
    assert "no_selling_when_vulnerable" not in limits(long_ago)
    assert "selling to a customer in a hard time" not in " ".join(
        score("empathy", long_ago).shortfalls
    )
    assert value_of(long_ago).alignment == value_of(never).alignment
    assert assess(long_ago).verdict == assess(never).verdict == "send"


# ---------------------------------------------------------------------------- verdict


def test_block_beats_review() -> None:
    """Verdict order: a law limit blocks even when a value flag would send it to review."""
    c = appended(
        bundle_offer(customer(objection_direct_marketing=True)), "U bent een grootverbruiker."
    )
    a = assess(c)
    assert "big_brother" in (a.value.flags if a.value else [])
    assert a.verdict == "block"
    assert any(r.startswith("law limit 'objection_direct_marketing'") for r in a.reasons)


def test_review_beats_defer_and_keeps_the_delivery_moment() -> None:
    """Verdict order: a human reviews first; the quiet-hours moment is kept for after."""
    c = bundle_offer(customer(values=["no_marketing"]), at=datetime(2026, 5, 20, 22, 0, tzinfo=AMS))
    a = assess(c)
    assert "quiet_hours" in {h.id for h in a.limits}
    assert a.verdict == "review"
    assert a.deliver_at == datetime(2026, 5, 21, 8, 0, tzinfo=AMS)


def test_defer_beats_send() -> None:
    """S14: a message that would be sent waits for the end of quiet hours."""
    day = assess(bundle_offer(customer()))
    night = assess(bundle_offer(customer(), at=datetime(2026, 5, 20, 22, 0, tzinfo=AMS)))
    assert day.verdict == "send"
    assert night.verdict == "defer"
    assert night.reasons == [f"organisation limit 'quiet_hours': {night.limits[0].detail}"]


def test_a_dimension_below_the_block_level_blocks() -> None:
    """S2: a permanent bundle for a one-off spike that costs more: relevance near zero.

    (An offer to a proxy-managed account is now stopped by a limit, no_offer_to_proxy.)"""
    ctx = with_commercial_consent(customer())
    usage_history(ctx, MODEST)
    spike = candidate("data-bundle-nearly-used", usage_event(4700), ctx)
    c = with_offer(
        spike, catalogue_offer("data-10gb", cost_without=9.31, cost_with=16.5, org_delta=1.0)
    )
    a = assess(c)
    assert not [h for h in a.limits if h.effect == "block"]
    assert a.scores["relevance"].score < policy().policy.thresholds.block_dimension
    assert a.verdict == "block"
    assert any(r.startswith("relevance score") and "one-off spike" in r for r in a.reasons)


def test_a_dimension_below_the_minimum_sends_to_review() -> None:
    """S18: a message the customer cannot read (wrong language) goes to a human."""
    c = bundle_offer(customer(language="en"))
    c.ctx.language = "nl"
    a = assess(c)
    th = policy().policy.thresholds
    assert th.block_dimension <= a.scores["language"].score < th.min_dimension
    assert a.verdict == "review"
    assert any(r.startswith("language score 0.20 is below 0.4") for r in a.reasons)


def test_low_overall_score_blocks() -> None:
    """§2: many shortcomings together, none fatal on its own, block the message."""
    check = EthicsCheck(policy())
    th = check.policy.thresholds
    # every dimension above the block level, the weighted score below the review level
    low = th.block_dimension + 0.05
    assert low < th.review
    a = Assessment(
        "send",
        [],
        scores={d: DimensionScore(low, ["weak"], shortfalls=["weak"]) for d in DIMENSIONS},
        overall=low,
    )
    check._verdict(a)
    assert a.verdict == "block"
    assert a.reasons[-1] == f"service score {low:.2f} is below the review level {th.review}"


def test_warning_near_the_send_threshold_and_not_far_from_it() -> None:
    """§8: warn before a limit is reached; keep a margin."""
    th = policy().policy.thresholds
    far = assess(bundle_offer(customer()))
    assert not [w for w in far.warnings if "score" in w]
    c = bundle_offer(customer(language="en"))
    c.ctx.language = "nl"
    near = assess(appended(c, "Last chance. Terms apply."))
    assert near.overall is not None and abs(near.overall - th.send) < th.near_margin
    assert f"within {th.near_margin} of the send level {th.send}" in " ".join(near.warnings)


def test_warning_when_a_dimension_is_close_to_the_minimum() -> None:
    """§8: a dimension just above the minimum is reported before it drops below."""
    ev = event("billing.payment_failed", NOON, invoice_id="INV-7", amount_eur=42.5)
    c = candidate("payment-failed-support", ev, customer(preferred_channel=None))
    by_sms = with_text(
        c, channel="sms", body="Een betaling is niet gelukt. Geen zorgen, we helpen u."
    )
    a = assess(by_sms)
    th = policy().policy.thresholds
    assert 0 <= a.scores["place"].score - th.min_dimension < th.near_margin
    assert any(w.startswith("place score") and "close to the minimum" in w for w in a.warnings)
    assert not any(w.startswith("place score") for w in assess(c).warnings)


# ------------------------------------------------------------------------ fail closed


@pytest.mark.parametrize(
    "function",
    [
        "analyse",
        "language",
        "place",
        "time_",
        "complexity",
        "relevance",
        "trust",
        "empathy",
        "autonomy",
    ],
)
def test_an_error_inside_the_check_blocks(monkeypatch: pytest.MonkeyPatch, function: str) -> None:
    """Fail closed: if any part of the check breaks, the message is blocked, never sent."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("lexicon unavailable")

    c = bundle_offer(customer())
    assert assess(c).verdict == "send"
    monkeypatch.setattr(dimensions, function, broken)
    a = assess(c)
    assert a.verdict == "block"
    assert a.reasons == [
        "the ethics check failed (RuntimeError: lexicon unavailable); blocked to be safe"
    ]
    assert a.error == "RuntimeError: lexicon unavailable"


def test_a_message_that_could_not_be_rendered_is_blocked() -> None:
    """Fail closed: a template that fails for this customer blocks the candidate."""
    ctx = customer()
    usage_history(ctx, STRUCTURAL)
    # a renewal message wired to a usage event has no contract to talk about
    c = candidate("contract-renewal", usage_event(4700), ctx, must_fire=False)
    assert c.message is None and c.render_error
    a = assess(c)
    assert a.verdict == "block"
    assert a.reasons == [f"the message could not be rendered: {c.render_error}"]
    assert a.error == c.render_error


def test_a_message_that_uses_up_a_cap_carries_a_near_limit_warning() -> None:
    """§8: the engine warns when a decision comes close to a limit: the commercial offer
    that uses the last place under the weekly cap says so; an exempt service notice does
    not."""
    offer = assess(bundle_offer(customer()))
    assert offer.verdict == "send"
    assert any(
        w.startswith("frequency cap: this is commercial message 1 of the 1") for w in offer.warnings
    )
    notice = assess(outage_notice(customer(preferred_channel="app_inbox")))
    assert notice.verdict == "send"
    assert not [w for w in notice.warnings if w.startswith("frequency cap")]
