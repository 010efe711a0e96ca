"""From a fired rule to a candidate action: offer, channel, language, rendered message.

A candidate is what the ethics check judges. When a rule's offer may not be sent
(no consent, an objection, a vulnerable customer), the rule's ``fallback`` asks for a
second candidate without the offer, as a plain service notice; both are judged and
both are recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from proactive.context import CustomerContext
from proactive.events import Channel, Event, Language, Purpose
from proactive.offers import MB_PER_GB, OfferChoice, select_offer, usage_outlook
from proactive.render import Rendered
from proactive.rules import CompiledRule, RuleSet, table_offer

if TYPE_CHECKING:  # the policy package imports candidates; avoid the cycle at run time
    from proactive.ethics.policy import Policy

Variant = Literal["primary", "without_offer", "released", "released_without_offer"]


@dataclass
class Candidate:
    """One proposed message, before the ethics check."""

    event: Event
    rule: CompiledRule
    ctx: CustomerContext
    purpose: Purpose
    offer: OfferChoice | None
    channel: Channel
    channel_reason: str
    language: Language
    message: Rendered | None
    variant: Variant
    at: datetime
    facts: dict[str, Any]
    render_error: str | None = None
    offer_error: str | None = None
    notes: list[str] = field(default_factory=list)
    notice_channel: Channel | None = None
    """For a sensitive message kept to the secure inbox: the customer's own channel,
    which gets only a plain notice that the message is waiting (DOMAIN S16)."""

    @property
    def rule_id(self) -> str:
        return self.rule.id


def secure_notice_channel(
    cr: CompiledRule, ctx: CustomerContext, purpose: str, channel: str, policy: Policy
) -> Channel | None:
    """Where to tell the customer that a sensitive message waits in the secure inbox.

    Their preferred channel, when the message itself could not go there because the
    channel is not secure (and consent allows it); otherwise no notice is needed.
    """
    pref = ctx.preferred_channel
    if (
        not cr.rule.sensitive
        or pref is None
        or pref == channel
        or channel not in policy.channels.secure_channels
        or pref in policy.channels.secure_channels
    ):
        return None
    if purpose in policy.consent.required_for and not ctx.consent(purpose, pref):
        return None
    return cast(Channel, pref)


def choose_channel(
    cr: CompiledRule, ctx: CustomerContext, purpose: str, policy: Policy
) -> tuple[Channel, str]:
    """The channel for this message and why: the customer's choice when the rule allows it.

    Sensitive content is kept to the secure channels the rule allows; a rule that
    allows none sends by its own channel and the check blocks it (never in the clear).
    """
    allowed = list(cr.rule.channels)
    if cr.rule.sensitive:
        secure = [c for c in allowed if c in policy.channels.secure_channels]
        allowed = secure or allowed
    needs_consent = purpose in policy.consent.required_for
    usable = [c for c in allowed if not needs_consent or ctx.consent(purpose, c)]
    pref = ctx.preferred_channel
    if pref in usable:
        return pref, "the customer's preferred channel"
    if usable:
        why = (
            f"preferred channel {pref} is not allowed for this message"
            if pref
            else "no preferred channel known; first channel the rule allows"
        )
        return usable[0], why
    if pref in allowed:
        return pref, "the customer's preferred channel (no consent on any channel)"
    return allowed[0], "no channel with consent; first channel the rule allows"


def template_variables(c: Candidate, ruleset: RuleSet) -> dict[str, Any]:
    """What a template may use: customer, offer, usage, the event data, roaming, contract."""
    ctx = c.ctx
    variables: dict[str, Any] = {
        "customer": {"name": ctx.name or "", "proxy": ctx.managed_by_proxy},
        "data": dict(c.event.data),
        "offer": None,
        "usage": None,
        "roaming": None,
        "contract": None,
        "rule": {"id": c.rule.id, "purpose": c.purpose},
        "table": None,
    }
    outcome = c.rule.outcome(c.facts)
    if outcome is not None:
        variables["table"] = outcome.values
    o = usage_outlook(ctx, c.at)
    cur = ctx.current_cycle()
    if o is not None and cur is not None:
        variables["usage"] = {
            "pct": int(o.pct_used * 100),
            "used_gb": round(o.used_mb / MB_PER_GB, 1),
            "bundle_gb": round(o.bundle_mb / MB_PER_GB, 1),
            "projected_gb": round(o.projected_mb / MB_PER_GB, 1),
            "days_left": max(0, (cur.cycle_end - c.at.date()).days),
            "renews_on": cur.cycle_end,
        }
    if c.offer is not None:
        variables["offer"] = {
            "id": c.offer.offer_id,
            "name": c.offer.name,
            "price": c.offer.price_eur,
            "gb": None if c.offer.data_mb is None else round(c.offer.data_mb / MB_PER_GB),
            "recurring": c.offer.recurring,
            "cost_without": c.offer.customer_cost_without,
            "cost_with": c.offer.customer_cost_with,
            "saves": c.offer.customer_value,
        }
    if ctx.roaming_zone:
        zone = ruleset.catalogue.roaming.get(ctx.roaming_zone)  # type: ignore[call-overload]
        if zone is not None:
            variables["roaming"] = {
                "zone": ctx.roaming_zone,
                "country": ctx.roaming_country,
                "note": zone.note_nl if c.language == "nl" else zone.note_en,
                "price_per_mb": zone.price_per_mb_eur,
            }
    if ctx.contract_end is not None:
        variables["contract"] = {"end": ctx.contract_end, "fee": ctx.contract_fee_eur}
    return variables


def build_candidate(
    cr: CompiledRule,
    event: Event,
    ctx: CustomerContext,
    facts: dict[str, Any],
    ruleset: RuleSet,
    policy: Policy,
    *,
    at: datetime | None = None,
    variant: Variant = "primary",
) -> Candidate:
    """The candidate of a fired rule (with its offer, if the rule makes one).

    ``at`` is the decision moment (the event time, or the due time of a released
    deferral); ``variant`` marks a re-check of a deferred message as ``released``.
    """
    at = at or event.time
    offer: OfferChoice | None = None
    offer_error: str | None = None
    purpose: Purpose = cr.rule.purpose
    if cr.rule.offer is not None:
        try:
            if cr.rule.offer.select == "table":
                outcome = cr.outcome(facts)
                offer = table_offer(ruleset.catalogue, ctx, at, cr, outcome) if outcome else None
            else:
                offer = select_offer(
                    cr.rule.offer.select, ruleset.catalogue, ctx, at, cr.rule.offer.on_spike
                )
        except Exception as exc:  # a selector bug must not take the pipeline down
            offer_error = f"offer selection failed: {exc}"
        if offer is not None:
            purpose = cr.rule.offer.purpose
    cand = _candidate(cr, event, ctx, facts, ruleset, policy, purpose, offer, variant, at)
    cand.offer_error = offer_error
    return cand


def without_offer(c: Candidate, ruleset: RuleSet, policy: Policy) -> Candidate:
    """The same message without its offer, as a service notice (the rule's fallback)."""
    variant: Variant = (
        "released_without_offer" if c.variant.startswith("released") else "without_offer"
    )
    return _candidate(
        c.rule, c.event, c.ctx, c.facts, ruleset, policy, c.rule.rule.purpose, None, variant, c.at
    )


def _candidate(
    cr: CompiledRule,
    event: Event,
    ctx: CustomerContext,
    facts: dict[str, Any],
    ruleset: RuleSet,
    policy: Policy,
    purpose: Purpose,
    offer: OfferChoice | None,
    variant: Variant,
    at: datetime,
) -> Candidate:
    language: Language = "en" if ctx.language == "en" else "nl"
    channel, why = choose_channel(cr, ctx, purpose, policy)
    cand = Candidate(
        event, cr, ctx, purpose, offer, channel, why, language, None, variant, at, facts
    )
    cand.notice_channel = secure_notice_channel(cr, ctx, purpose, channel, policy)
    try:
        cand.message = ruleset.templates.render(
            cr.rule.template,
            language,
            channel,
            template_variables(cand, ruleset),
            ctx.time_zone or policy.contact.default_time_zone,
        )
    except Exception as exc:  # any template failure blocks this candidate (fail closed)
        cand.render_error = str(exc)
    return cand
