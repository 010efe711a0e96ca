"""The eight service dimensions (DOMAIN.md §2): each scorer separates good from bad.

Every test builds a realistic candidate from the shipped rules, templates and
policy (see ``ethics_helpers``), makes one thing worse, and checks that the score
drops by a clear margin and that the reasons name what is wrong.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from ethics_helpers import (
    MODEST,
    NOON,
    STRUCTURAL,
    candidate,
    catalogue_offer,
    customer,
    event,
    policy,
    reasons,
    ruleset,
    score,
    sent,
    usage_event,
    usage_history,
    when,
    with_commercial_consent,
    with_offer,
    with_text,
)

from proactive.candidates import Candidate, without_offer
from proactive.context import CustomerContext, apply_event
from proactive.ethics import dimensions
from proactive.ethics.policy import DIMENSIONS

MARGIN = 0.2
"""A bad input must score at least this much lower than the good one."""


def bundle_offer(ctx: CustomerContext, at: str = NOON, used_mb: float = 4700) -> Candidate:
    """A 5 GB customer with a structural need, offered a better-fitting bundle."""
    usage_history(with_commercial_consent(ctx), STRUCTURAL)
    c = candidate("data-bundle-nearly-used", usage_event(used_mb, at), ctx)
    assert c.offer is not None and c.offer.recurring
    return c


def payment_failed(ctx: CustomerContext, at: str = NOON) -> Candidate:
    """The supportive message after a failed direct debit (sensitive, invites a call)."""
    ev = event("billing.payment_failed", at, invoice_id="INV-7", amount_eur=42.5)
    return candidate("payment-failed-support", ev, ctx)


def assert_separates(good: float, bad: float) -> None:
    assert good - bad >= MARGIN, f"good {good:.2f} vs bad {bad:.2f}"


def test_shipped_messages_score_well_on_every_dimension() -> None:
    """The templates as shipped are the 'good' baseline every other test departs from."""
    c = bundle_offer(customer())
    for name in DIMENSIONS:
        s = score(name, c)
        assert s.score >= 0.9, (name, s.shortfalls)


# ------------------------------------------------------------------------- 1 language


def test_language_message_not_in_the_customers_language() -> None:
    """§2 Taal: a customer who reads English gets English, not Dutch."""
    good = bundle_offer(customer(language="en"))
    bad = bundle_offer(customer(language="nl"))
    bad.ctx.language = "en"  # the customer changed language after the text was made
    g, b = score("language", good), score("language", bad)
    assert good.message is not None and good.message.language == "en"
    assert_separates(g.score, b.score)
    assert "written in nl but the customer reads en" in reasons(b)


JARGON_NL = (
    "Conform de bepalingen van uw tariefplan attenderen wij u er derhalve op dat bij een "
    "databundel-overschrijding dienovereenkomstige aanvullende facturatie plaatsvindt tegen de "
    "op dat moment geldende tarieven voor mobiele datacommunicatie. Teneinde onvoorziene kosten "
    "te voorkomen adviseren wij u tijdig over te gaan tot prolongatie van een databundel met een "
    "grotere capaciteit, hetgeen u kunt realiseren via de daartoe bestemde digitale klantomgeving."
)


def test_language_jargon_and_long_sentences_score_below_plain_b1() -> None:
    """S18: text above B1, full of jargon, gets a low language score with the words named."""
    good = bundle_offer(customer())
    bad = with_text(good, body=JARGON_NL)
    g, b = score("language", good), score("language", bad)
    assert_separates(g.score, b.score)
    assert b.evidence["readability"]["score"] < policy().policy.language.readability_min["nl"]
    assert "below the b1 target" in reasons(b)
    assert "'tariefplan' (say 'abonnement')" in reasons(b)
    assert "'prolongatie' (say 'verlenging')" in reasons(b)
    assert "jargon" not in reasons(g)


def test_language_sms_too_long_for_the_channel() -> None:
    """§2 Taal: channel length limits; an SMS in more than three parts is cut up badly."""
    ctx = customer(preferred_channel="sms")
    good = bundle_offer(ctx)
    assert good.channel == "sms" and good.message is not None and good.message.sms is not None
    bad = with_text(good, body=" ".join([good.message.body] * 4))
    assert bad.message is not None and bad.message.sms is not None
    assert bad.message.sms.segments > policy().policy.channels.sms_max_segments
    g, b = score("language", good), score("language", bad)
    assert g.score - b.score >= 0.25
    assert "too long for the channel" in reasons(b)


# ---------------------------------------------------------------------------- 2 place


def test_place_preferred_channel_beats_another_channel() -> None:
    """S15: the customer's chosen channel; a channel they did not choose scores lower."""
    ev_args = {"contract_end": "2026-07-01", "plan_id": "data-5gb", "monthly_fee_eur": 13.5}
    good = candidate(
        "contract-renewal", event("contract.ending_soon", **ev_args), customer()
    )  # prefers app_inbox, which the rule allows
    bad = candidate(
        "contract-renewal",
        event("contract.ending_soon", **ev_args),
        customer(preferred_channel="sms"),  # the renewal rule only allows e-mail and app
    )
    assert good.channel == "app_inbox" and bad.channel == "email"
    g, b = score("place", good), score("place", bad)
    assert g.score - b.score >= 0.3
    assert "not the customer's preferred sms" in reasons(b)


def test_place_sensitive_content_by_sms_instead_of_secure_inbox() -> None:
    """S16: sensitive content belongs behind login (app inbox), not in an SMS."""
    good = payment_failed(customer(preferred_channel=None))
    assert good.channel in policy().policy.channels.secure_channels
    assert good.message is not None
    bad = with_text(good, channel="sms")  # the full payment message as a text message
    g, b = score("place", good), score("place", bad)
    assert g.score - b.score >= 0.4
    assert "sensitive content by sms" in reasons(b)
    assert "sensitive" not in reasons(g)


def test_place_commercial_by_a_channel_without_consent() -> None:
    """§6: a commercial message needs consent for that channel."""
    good = bundle_offer(customer())
    bad = bundle_offer(customer())
    bad.ctx.consents = {"commercial:email": True}  # consent for e-mail only; this goes to the app
    g, b = score("place", good), score("place", bad)
    assert_separates(g.score, b.score)
    assert "no consent for commercial messages by app_inbox" in reasons(b)


# ----------------------------------------------------------------------------- 3 time


def test_time_warning_after_the_bundle_ran_out_is_too_late() -> None:
    """§2 Tijd: warn before the bundle runs out (90%), not after (100%)."""
    good = bundle_offer(customer(), used_mb=4700)
    ctx = with_commercial_consent(customer())
    usage_history(ctx, STRUCTURAL)
    # e.g. a warning held back and released after the bundle ran out
    bad = candidate("data-bundle-nearly-used", usage_event(5120), ctx, must_fire=False)
    assert bad.facts["usage__pct_used"] >= 1.0
    g, b = score("time", good), score("time", bad)
    assert_separates(g.score, b.score)
    assert "already run out" in reasons(b)


def test_time_message_right_after_another_message() -> None:
    """§2 Tijd: not right after another message (policy min_gap_hours)."""
    good_ctx, bad_ctx = customer(), customer()
    sent(good_ctx, when(NOON) - timedelta(days=2), "payment-failed-support")
    sent(bad_ctx, when(NOON) - timedelta(hours=1), "outage-resolved")
    g = score("time", payment_failed(good_ctx))
    b = score("time", payment_failed(bad_ctx))
    assert_separates(g.score, b.score)
    assert "another message went 1.0 hours earlier" in reasons(b)


def test_time_call_invitation_while_the_line_is_closed() -> None:
    """S14: a 'call us' message only when the line is open (scored at its delivery moment)."""
    wednesday = payment_failed(customer(), at="2026-05-20T10:00:00Z")  # Wed 12:00 Amsterdam
    sunday = payment_failed(customer(), at="2026-05-24T10:00:00Z")  # Sun 12:00 Amsterdam
    lp = policy()
    g = dimensions.time_(wednesday, dimensions.analyse(wednesday, lp), lp, wednesday.at)
    b = dimensions.time_(sunday, dimensions.analyse(sunday, lp), lp, sunday.at)
    assert_separates(g.score, b.score)
    assert "invites a call while the line is closed" in reasons(b)
    assert "line is open" in " ".join(g.reasons)


def test_time_held_too_long_after_the_trigger() -> None:
    """§2 Tijd: timely relative to the trigger; a Saturday-evening call invitation waits till Monday."""
    good = payment_failed(customer(), at="2026-05-20T10:00:00Z")
    bad = payment_failed(customer(), at="2026-05-23T16:00:00Z")  # Sat 18:00, line closed till Mon
    g, b = score("time", good), score("time", bad)
    assert g.score - b.score >= 0.15
    assert "hours after the trigger" in reasons(b)


# ----------------------------------------------------------------------- 4 complexity


def test_complexity_price_not_stated() -> None:
    """§2 Complexiteit: price and conditions stated in full."""
    good = bundle_offer(customer())
    bad = with_text(
        good,
        body=(
            "U heeft 4,6 GB van uw 5 GB gebruikt. Uw gebruik past beter bij 10 GB. "
            "Wilt u wisselen? Dat kan op mijn.example-telecom.nl/bundel."
        ),
    )
    g, b = score("complexity", good), score("complexity", bad)
    assert_separates(g.score, b.score)
    assert "price is not stated" in reasons(b)
    assert "monthly price without saying it is monthly" in reasons(b)


def test_complexity_monthly_price_without_saying_monthly() -> None:
    """§2 Complexiteit: a recurring price must say it recurs."""
    good = bundle_offer(customer())
    bad = with_text(good, body="Uw gebruik past beter bij 10 GB. Dat kost € 16,50.")
    g, b = score("complexity", good), score("complexity", bad)
    assert g.score - b.score >= 0.15
    assert reasons(b) == "a monthly price without saying it is monthly"


@pytest.mark.parametrize(
    "small_print",
    [
        "Voorwaarden van toepassing.",
        "* Alleen de eerste 3 maanden.",
        # the usual footnote: a marker on the price and the condition under it
        "Dat kost € 16,50 per maand*.\n*Alleen de eerste 3 maanden.",
    ],
)
def test_complexity_small_print(small_print: str) -> None:
    """Golden rule 4: no small print ('voorwaarden van toepassing', an asterisk footnote)."""
    good = bundle_offer(customer())
    assert good.message is not None
    bad = with_text(good, body=good.message.body + "\n" + small_print)
    g, b = score("complexity", good), score("complexity", bad)
    assert g.score - b.score >= 0.3
    assert "small print" in reasons(b)


# ------------------------------------------------------------------------ 5 relevance


def test_relevance_permanent_bundle_for_a_one_off_spike() -> None:
    """S1/S2: a structural need earns a better bundle; a one-off spike does not."""
    good = bundle_offer(customer())
    ctx = with_commercial_consent(customer())
    usage_history(ctx, MODEST)  # earlier months stayed well inside the bundle
    spike = candidate("data-bundle-nearly-used", usage_event(4700), ctx)
    assert spike.facts["usage__spike"] is True
    assert spike.offer is not None and spike.offer.kind == "addon"  # what the selector offers
    bad = with_offer(
        spike, catalogue_offer("data-10gb", cost_without=9.31, cost_with=16.5, org_delta=1.0)
    )
    g, s, b = score("relevance", good), score("relevance", spike), score("relevance", bad)
    assert_separates(g.score, b.score)
    assert_separates(s.score, b.score)
    assert "permanent bundle change for what looks like a one-off spike" in reasons(b)
    assert not s.shortfalls


def test_relevance_offer_to_an_account_managed_by_a_relative() -> None:
    """S26: no offers aimed at the proxy who manages the account."""
    good = bundle_offer(customer())
    bad = bundle_offer(customer(managed_by_proxy=True))
    g, b = score("relevance", good), score("relevance", bad)
    assert_separates(g.score, b.score)
    assert "managed by a relative" in reasons(b)


def test_relevance_outage_notice_after_the_outage_is_over() -> None:
    """§2 Individuele relevantie: an outage notice held overnight is no use once it is fixed."""
    ev = event(
        "service.outage_started",
        "2026-05-20T20:00:00Z",
        outage_id="O-1",
        area="Utrecht",
        services=["data"],
    )
    good = candidate("outage-started", ev, customer())
    bad = candidate("outage-started", ev, customer())
    apply_event(
        bad.ctx,
        event(
            "service.outage_resolved",
            "2026-05-20T21:00:00Z",
            outage_id="O-1",
            resolved_at="2026-05-20T21:00:00Z",
        ),
    )
    g, b = score("relevance", good), score("relevance", bad)
    assert_separates(g.score, b.score)
    assert "outage is already over" in reasons(b)


# ---------------------------------------------------------------------------- 6 trust


def _append(c: Candidate, line: str) -> Candidate:
    assert c.message is not None
    return with_text(c, body=c.message.body + "\n" + line)


def test_trust_link_to_an_unknown_domain() -> None:
    """S5/§2 Vertrouwen: links only to the organisation's own domains."""
    good = bundle_offer(customer())
    bad = _append(good, "Kies uw bundel op https://bundel-aanbieding.nl/actie.")
    g, b = score("trust", good), score("trust", bad)
    assert_separates(g.score, b.score)
    assert "unknown domains: bundel-aanbieding.nl" in reasons(b)
    assert "unknown_links" not in g.evidence


def test_trust_phishing_words() -> None:
    """§2 Vertrouwen: no credential requests ('wachtwoord')."""
    good = payment_failed(customer())
    bad = _append(good, "Log in met uw wachtwoord om de betaling te bevestigen.")
    g, b = score("trust", good), score("trust", bad)
    assert_separates(g.score, b.score)
    assert "phishing" in reasons(b) and "wachtwoord" in reasons(b)


def test_trust_amount_not_in_the_catalogue() -> None:
    """S5: the price in the text must be the catalogue price."""
    good = bundle_offer(customer())
    bad = with_text(good, body="Uw gebruik past beter bij 10 GB. Dat kost € 14,99 per maand.")
    g, b = score("trust", good), score("trust", bad)
    assert_separates(g.score, b.score)
    assert "not backed by the catalogue" in reasons(b) and "14.99" in reasons(b)
    assert "prices match the catalogue" in g.reasons


def test_trust_no_reply_sender_and_no_reason() -> None:
    """S17: a no-reply sender is rejected; §2: the message says why it was sent."""
    good = payment_failed(customer())
    bad = with_text(good, sender="no-reply@example-telecom.nl", reason="")
    g, b = score("trust", good), score("trust", bad)
    assert_separates(g.score, b.score)
    assert "no-reply sender" in reasons(b)
    assert "does not say why it was sent" in reasons(b)


def test_trust_stale_usage_data() -> None:
    """§2 Vertrouwen: data is fresh; a warning on usage reported days ago is less trustworthy."""
    good = bundle_offer(customer())
    ctx = with_commercial_consent(customer())
    usage_history(ctx, STRUCTURAL)
    bad = candidate(
        "data-bundle-nearly-used", usage_event(4700), ctx, at=when(NOON) + timedelta(days=3)
    )
    g, b = score("trust", good), score("trust", bad)
    assert g.score - b.score >= 0.15
    assert "usage data is 3 days old" in reasons(b)


# -------------------------------------------------------------------------- 7 empathy


def test_empathy_commercial_to_a_bereaved_customer_versus_the_plain_notice() -> None:
    """S11: no selling in a hard time; the plain service notice is considerate."""
    offer = bundle_offer(customer(vulnerabilities={"bereavement": date(2026, 5, 1)}))
    notice = without_offer(offer, ruleset(), policy().policy)
    assert notice.purpose == "service" and notice.offer is None
    g, b = score("empathy", notice), score("empathy", offer)
    assert_separates(g.score, b.score)
    assert "selling to a customer in a hard time (bereavement)" in reasons(b)
    assert not g.shortfalls


def test_empathy_supportive_words_about_payment_trouble() -> None:
    """S13: a message about money trouble is supportive ('geen zorgen', 'samen een oplossing')."""
    good = payment_failed(customer())
    bad = with_text(
        good,
        body=(
            "Een betaling van € 42,50 is niet gelukt. Maak het bedrag binnen 5 dagen over via "
            "mijn.example-telecom.nl/rekening."
        ),
    )
    g, b = score("empathy", good), score("empathy", bad)
    assert g.score - b.score >= 0.25
    assert "payment without a supportive word" in reasons(b)


def test_empathy_exclamations_towards_a_customer_in_a_hard_time() -> None:
    """S11: any message to a bereaved customer is calm, not loud."""
    ev = event("service.outage_started", NOON, outage_id="O-2", area="Zwolle", services=["voice"])
    ctx_good = customer(vulnerabilities={"bereavement": date(2026, 5, 1)})
    ctx_bad = customer(vulnerabilities={"bereavement": date(2026, 5, 1)})
    good = candidate("outage-started", ev, ctx_good)
    bad = with_text(
        candidate("outage-started", ev, ctx_bad),
        body="Storing in uw buurt! Wij werken eraan!",
    )
    g, b = score("empathy", good), score("empathy", bad)
    assert g.score - b.score >= 0.25
    assert "exclamatory or pushy tone" in reasons(b)


def test_empathy_offer_while_a_complaint_is_open() -> None:
    """S12: an open complaint means no upselling."""
    good = bundle_offer(customer())
    bad = bundle_offer(customer(open_complaints={"K-9": "wrong invoice"}))
    g, b = score("empathy", good), score("empathy", bad)
    assert_separates(g.score, b.score)
    assert "complaint is still open" in reasons(b)


# ------------------------------------------------------------------------- 8 autonomy


@pytest.mark.parametrize(
    ("language", "pressure", "quoted", "tactic"),
    [
        ("nl", "Alleen vandaag!", "alleen vandaag", "false urgency"),
        ("nl", "Op = op.", "op = op", "scarcity"),
        ("nl", "Wacht niet te lang.", "wacht niet", "false urgency"),
        ("en", "Only 3 left.", "only 3 left", "scarcity"),
        ("en", "Offer ends in 2 hours.", "ends in 2 hours", "false urgency"),
    ],
)
def test_autonomy_time_pressure_and_scarcity(
    language: str, pressure: str, quoted: str, tactic: str
) -> None:
    """S3/§4: scarcity and false urgency ('Alleen vandaag', 'only 3 left') take away the choice."""
    good = bundle_offer(customer(language=language))
    bad = _append(good, pressure)
    g, b = score("autonomy", good), score("autonomy", bad)
    assert g.score - b.score >= 0.35
    assert tactic in reasons(b)
    assert f"'{quoted}'" in reasons(b)


def test_autonomy_automatic_enrolment() -> None:
    """§2 Autonomie: no automatic enrolment; the customer opts in."""
    good = bundle_offer(customer())
    bad = _append(
        good, "U wordt automatisch overgezet naar 10 GB, tenzij u binnen 14 dagen bezwaar maakt."
    )
    g, b = score("autonomy", good), score("autonomy", bad)
    assert g.score - b.score >= 0.45
    assert "automatic enrolment" in reasons(b)


def test_autonomy_confirmshaming() -> None:
    """§4: confirmshaming ('Nee, ik betaal graag te veel') is manipulation."""
    good = bundle_offer(customer())
    bad = _append(good, "Nee, ik betaal graag te veel.")
    g, b = score("autonomy", good), score("autonomy", bad)
    assert g.score - b.score >= 0.45
    assert "confirmshaming" in reasons(b)


def test_autonomy_no_decline_and_no_human_route() -> None:
    """S19/§2: a clear way to decline and a findable human route."""
    good = payment_failed(customer())
    bad = with_text(good, decline="", human="")
    g, b = score("autonomy", good), score("autonomy", bad)
    assert g.score - b.score >= 0.6
    assert "no way to decline" in reasons(b)
    assert "no way to reach a person" in reasons(b)


def test_autonomy_offering_again_what_the_customer_declined() -> None:
    """§2 Autonomie: 'no' is respected next time."""
    good = bundle_offer(customer())
    bad = bundle_offer(customer())
    assert bad.offer is not None
    bad.ctx.declined_offers[bad.offer.offer_id] = when(NOON) - timedelta(days=10)
    g, b = score("autonomy", good), score("autonomy", bad)
    assert g.score - b.score >= 0.45
    assert "offers again what the customer said no to" in reasons(b)
