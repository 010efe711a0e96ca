"""Hard limits: what no score can outweigh.

Each hit names the limit, its frame (law, organisation, systems, society), its
effect (block, defer, review), its source and a plain reason with the evidence.
Quiet hours *defer* to the next allowed moment — in the customer's time zone, and
for a message that invites a call, only when the line is open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from proactive.candidates import Candidate
from proactive.ethics.policy import Policy
from proactive.ethics.terms import amounts, unbacked_amounts, unknown_products
from proactive.render import NO_REPLY_RE
from proactive.rules import RuleSet

COMMERCIAL_ONLY = frozenset(
    {
        "consent_for_purpose_and_channel",
        "objection_direct_marketing",
        "no_selling_when_vulnerable",
        "no_upsell_with_open_complaint",
        "no_offer_to_proxy",
        "declined_offer_respected",
        "frequency_cap",
        "offer_in_catalogue",
        "no_retention_offer_after_notice",
    }
)
"""Limits that stop the *offer*; the rule's fallback may still send the notice without it."""


@dataclass(frozen=True)
class LimitHit:
    """One hard limit that applies to a candidate."""

    id: str
    frame: str
    effect: str
    source: str
    reason: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "frame": self.frame,
            "effect": self.effect,
            "source": self.source,
            "reason": self.reason,
            "detail": self.detail,
        }


def active_vulnerabilities(c: Candidate, policy: Policy) -> list[str]:
    """The customer's vulnerabilities still inside the policy's window, at the decision moment."""
    days = policy.contact.vulnerability_days
    out = []
    for kind, since in c.ctx.vulnerabilities.items():
        window = days.get(kind)
        if window is None or (c.at.date() - since).days <= window:
            out.append(kind)
    return sorted(out)


def _in_window(t: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= t < end
    return t >= start or t < end  # the window wraps midnight


def quiet_hours(c: Candidate, policy: Policy) -> tuple[time, time, ZoneInfo]:
    """The customer's quiet hours and time zone (policy defaults where not stated)."""
    tz = ZoneInfo(c.ctx.time_zone or policy.contact.default_time_zone)
    start = c.ctx.quiet_start or policy.contact.default_quiet_hours.start
    end = c.ctx.quiet_end or policy.contact.default_quiet_hours.end
    return start, end, tz


def next_allowed(c: Candidate, policy: Policy) -> tuple[datetime, list[str]]:
    """The first moment at or after the decision when this message may go, and why it waits."""
    start, end, tz = quiet_hours(c, policy)
    at = c.at
    why: list[str] = []
    for _ in range(4):  # quiet hours and opening hours may push each other along
        local = at.astimezone(tz)
        if _in_window(local.time(), start, end):
            day = local.date() if local.time() < end else local.date() + timedelta(days=1)
            at = datetime.combine(day, end, tz).astimezone(c.at.tzinfo)
            why.append(
                f"{local:%H:%M} is in the customer's quiet hours {start:%H:%M}-{end:%H:%M} "
                f"({tz.key}); next allowed {at.astimezone(tz):%a %H:%M}"
            )
            continue
        if c.rule.rule.invites_contact and not policy.human_route.is_open(at):
            opened = policy.human_route.next_open(at)
            why.append(
                f"the message invites a call and the line is closed at {local:%a %H:%M}; it opens {opened.astimezone(tz):%a %H:%M}"
            )
            at = opened
            continue
        break
    return at, why


def evaluate_limits(c: Candidate, policy: Policy, ruleset: RuleSet) -> list[LimitHit]:
    """Every hard limit this candidate runs into."""
    hits: list[LimitHit] = []

    def hit(limit_id: str, detail: str) -> None:
        lim = policy.limit(limit_id)
        hits.append(LimitHit(lim.id, lim.frame, lim.effect, lim.source, lim.reason, detail))

    ctx, rule = c.ctx, c.rule.rule
    commercial = c.purpose == "commercial"
    if c.purpose in policy.consent.required_for and not ctx.consent(c.purpose, c.channel):
        state = ctx.consent(c.purpose, c.channel)
        hit(
            "consent_for_purpose_and_channel",
            f"no consent for {c.purpose} messages by {c.channel}"
            + (" (withdrawn)" if state is False else " (never given)"),
        )
    if commercial and ctx.objection_direct_marketing:
        hit("objection_direct_marketing", "the customer objected to direct marketing")
    if rule.id in ctx.stopped_rules:
        # not commercial-only: the customer stopped this kind of message, offer or not
        hit(
            "customer_stopped_rule",
            f"the customer stopped these messages on {ctx.stopped_rules[rule.id]:%Y-%m-%d}",
        )
    special = sorted(set(rule.data) & set(policy.special_categories))
    if special and (commercial or rule.purpose == "commercial"):
        hit("special_category_in_commercial", f"the rule uses {', '.join(special)} data")
    if c.offer is not None:
        item = ruleset.catalogue.item(c.offer.offer_id)
        if item is None:
            hit("offer_in_catalogue", f"offer {c.offer.offer_id!r} is not in the catalogue")
        else:
            price = getattr(item, "monthly_eur", None) or getattr(item, "price_eur", None)
            if price is not None and abs(price - c.offer.price_eur) > 0.005:
                hit(
                    "offer_in_catalogue",
                    f"offer price {c.offer.price_eur} differs from catalogue {price}",
                )
    if c.offer_error:
        hit("offer_in_catalogue", c.offer_error)
    m = c.message
    if m is not None and (c.offer is not None or commercial):
        text = m.text if not ctx.name else m.text.replace(ctx.name, "")
        wrong = unbacked_amounts(c, ruleset, amounts(text)) if c.offer is not None else []
        if wrong:
            stated = ", ".join(f"€ {a:.2f}" for a in wrong)
            hit(
                "offer_in_catalogue",
                f"the text states {stated}, which neither the catalogue nor the customer's"
                " own figures back",
            )
        names = unknown_products(text, ruleset.catalogue, tuple(policy.terms.product_words))
        if names:
            hit(
                "offer_in_catalogue",
                f"the text names {', '.join(repr(n) for n in names)}, which is not in the catalogue",
            )
    if m is not None and NO_REPLY_RE.search(m.sender):
        hit("answerable_sender", f"sent from {m.sender!r}, which the customer cannot answer")
    if rule.sensitive and c.channel not in policy.channels.secure_channels:
        hit(
            "sensitive_in_secure_channel",
            f"sensitive content would go by {c.channel}; the rule allows no secure channel"
            f" ({', '.join(policy.channels.secure_channels)})",
        )
    if commercial:
        for kind in active_vulnerabilities(c, policy):
            since = ctx.vulnerabilities[kind].isoformat()
            hit("no_selling_when_vulnerable", f"{kind.replace('_', ' ')} known since {since}")
        if ctx.open_complaints:
            topics = ", ".join(sorted(ctx.open_complaints.values()))
            hit(
                "no_upsell_with_open_complaint",
                f"{len(ctx.open_complaints)} open complaint(s): {topics}",
            )
        if ctx.notice_given_on is not None:
            hit(
                "no_retention_offer_after_notice",
                f"the customer gave notice on {ctx.notice_given_on.isoformat()}",
            )
        if ctx.managed_by_proxy and c.offer is not None:
            hit(
                "no_offer_to_proxy",
                "the account is managed by a relative; the offer would be aimed at them",
            )
        if c.offer is not None and c.offer.offer_id in ctx.declined_offers:
            when = ctx.declined_offers[c.offer.offer_id]
            if c.at - when <= timedelta(days=policy.contact.declined_respect_days):
                hit(
                    "declined_offer_respected",
                    f"the customer declined {c.offer.offer_id} on {when.date().isoformat()}",
                )
    if not c.variant.startswith("released") and rule.id in ctx.pending:
        hit("cooldown", "a message from this rule is already waiting to be sent")
    elif rule.cooldown:
        last = ctx.last_contact(rule.id)
        if last is not None and c.at - last.at < rule.cooldown:
            hit(
                "cooldown",
                f"this rule messaged the customer on {last.at:%Y-%m-%d %H:%M}; cooldown {rule.cooldown}",
            )
    week = c.at - timedelta(days=7)
    if not (c.purpose == "service" and policy.contact.service_exempt_from_cap):
        recent = ctx.contacts_since(week)
        if len(recent) >= policy.contact.max_per_week:
            hit(
                "frequency_cap",
                f"{len(recent)} messages in the last 7 days (cap {policy.contact.max_per_week})",
            )
        elif commercial:
            recent_c = ctx.contacts_since(week, "commercial")
            if len(recent_c) >= policy.contact.max_commercial_per_week:
                hit(
                    "frequency_cap",
                    f"{len(recent_c)} commercial message(s) in the last 7 days (cap {policy.contact.max_commercial_per_week})",
                )
    if (
        c.message is not None
        and c.message.sms is not None
        and c.message.sms.segments > policy.channels.sms_max_segments
    ):
        hit(
            "sms_segments",
            f"{c.message.sms.segments} SMS parts (max {policy.channels.sms_max_segments})",
        )
    deliver_at, why = next_allowed(c, policy)
    if deliver_at > c.at:
        hit("quiet_hours", "; ".join(why))
    return hits
