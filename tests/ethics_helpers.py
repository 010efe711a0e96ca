"""Shared builders for the ethics tests: realistic candidates from the real rules and policy.

A candidate is built the way the pipeline builds it: an event is folded into a
customer context, the facts are computed, the real rule's offer is selected and the
real template is rendered. Tests that need a particular wording replace the
rendered text with :func:`with_text`, and score it with :func:`score`.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from proactive.candidates import Candidate, build_candidate, template_variables
from proactive.context import Contact, CustomerContext, UsageCycle, apply_event
from proactive.ethics import dimensions
from proactive.ethics.check import Assessment, EthicsCheck
from proactive.ethics.dimensions import DimensionScore
from proactive.ethics.limits import LimitHit, evaluate_limits, next_allowed
from proactive.ethics.policy import LoadedPolicy, load_policy
from proactive.events import Event, event_from_dict
from proactive.facts import ALL_GROUPS, build_facts
from proactive.offers import Bundle, OfferChoice
from proactive.render import sms_length
from proactive.rules import CompiledRule, RuleSet, load_ruleset

ROOT = Path(__file__).resolve().parent.parent
POLICY_PATH = ROOT / "ethics" / "policy.yaml"
RULES_DIR = ROOT / "rules"

BUNDLE_5GB = 5120.0
"""The customer's current bundle in most scenarios (catalogue item data-5gb)."""

# A Wednesday, 12:00 in Amsterdam (CEST): inside every send window and opening hour.
NOON = "2026-05-20T10:00:00Z"


@cache
def policy() -> LoadedPolicy:
    """The shipped ethics policy (loaded once)."""
    return load_policy(POLICY_PATH)


@cache
def ruleset() -> RuleSet:
    """The shipped rules, offers and templates (loaded once)."""
    return load_ruleset(RULES_DIR)


def when(value: str | datetime) -> datetime:
    """An aware datetime from ISO text ("...Z" allowed); naive values are taken as UTC."""
    t = (
        value
        if isinstance(value, datetime)
        else datetime.fromisoformat(value.replace("Z", "+00:00"))
    )
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


_ids = iter(range(1, 10**9))


def event(etype: str, at: str | datetime = NOON, customer: str = "C1", **data: Any) -> Event:
    """A validated CloudEvent of ``etype`` for ``customer`` (payload from ``data``)."""
    return event_from_dict(
        {
            "specversion": "1.0",
            "id": f"t-{next(_ids):06d}",
            "source": "/tests",
            "type": etype,
            "subject": customer,
            "time": when(at).isoformat(),
            "data": data,
        }
    )


def customer(**fields: Any) -> CustomerContext:
    """A customer who reads Dutch and prefers the app inbox, unless told otherwise."""
    fields.setdefault("language", "nl")
    fields.setdefault("preferred_channel", "app_inbox")
    fields.setdefault("name", "Sam de Vries")
    return CustomerContext(customer_id="C1", **fields)


def with_commercial_consent(ctx: CustomerContext) -> CustomerContext:
    """The customer agreed to commercial messages on every channel."""
    ctx.consents["commercial:all"] = True
    return ctx


def usage_history(
    ctx: CustomerContext, used_mb: list[float], bundle_mb: float = BUNDLE_5GB
) -> None:
    """Completed billing cycles February, March, April 2026 with these totals."""
    for i, used in enumerate(used_mb):
        month = 2 + i
        ctx.cycles.append(
            UsageCycle(
                date(2026, month, 1),
                date(2026, month + 1, 1),
                used,
                bundle_mb,
                datetime(2026, month + 1, 1, 0, 0, tzinfo=UTC),
            )
        )


STRUCTURAL = [7000.0, 7200.0, 6900.0]
"""Three cycles well above a 5 GB bundle: a structural need for more data."""
MODEST = [3000.0, 3200.0, 2900.0]
"""Three cycles well within a 5 GB bundle: this month's high use is a one-off spike."""


def usage_event(used_mb: float, at: str | datetime = NOON, bundle_mb: float = BUNDLE_5GB) -> Event:
    """A data-usage report for the May 2026 cycle."""
    return event(
        "usage.data",
        at,
        used_mb=used_mb,
        bundle_mb=bundle_mb,
        cycle_start="2026-05-01",
        cycle_end="2026-06-01",
    )


def fires(ev: Event, ctx: CustomerContext) -> list[str]:
    """The rules that fire for ``ev`` (after it is folded into ``ctx``)."""
    rs = ruleset()
    return rs.engine.match(build_facts(ev, ctx, rs.groups_by_type.get(ev.type, frozenset())))


def candidate(
    rule_id: str,
    ev: Event,
    ctx: CustomerContext,
    *,
    at: str | datetime | None = None,
    must_fire: bool = True,
) -> Candidate:
    """The candidate the pipeline would build for ``rule_id`` on ``ev``.

    The event is folded into ``ctx`` first, as the pipeline does. With ``must_fire``
    the rule's conditions must hold, so the candidate is one the engine can produce.
    """
    rs = ruleset()
    apply_event(ctx, ev)
    facts = build_facts(ev, ctx, rs.groups_by_type.get(ev.type, frozenset()))
    if must_fire:
        fired = rs.engine.match(facts)
        assert rule_id in fired, f"{rule_id} does not fire for this event (fired: {fired})"
    # like the pipeline: a fired rule's candidate sees every fact group
    facts = build_facts(ev, ctx, ALL_GROUPS)
    return build_candidate(
        rs.rule(rule_id),
        ev,
        ctx,
        facts,
        rs,
        policy().policy,
        at=None if at is None else when(at),
    )


def with_text(c: Candidate, **parts: Any) -> Candidate:
    """The same candidate with a rendered message whose parts are replaced.

    ``parts`` are fields of :class:`proactive.render.Rendered` (body, subject, reason,
    sender, decline, human, channel, language). Channel and language also change
    on the candidate; an SMS gets its length measured again.
    """
    assert c.message is not None, c.render_error
    msg = dataclasses.replace(c.message, **parts)
    msg = dataclasses.replace(msg, sms=sms_length(msg.text) if msg.channel == "sms" else None)
    return dataclasses.replace(c, message=msg, channel=msg.channel, language=msg.language)


def score(name: str, c: Candidate) -> DimensionScore:
    """Score one of the eight dimensions the way the check does."""
    lp = policy()
    t = dimensions.analyse(c, lp)
    if name == "time":
        return dimensions.time_(c, t, lp, next_allowed(c, lp.policy)[0])
    if name == "trust":
        return dimensions.trust(c, t, lp, ruleset())
    scorer = getattr(dimensions, name)
    result: DimensionScore = scorer(c, t, lp)
    return result


def reasons(s: DimensionScore) -> str:
    """The shortfalls of a score as one lower-case string (for `in` assertions)."""
    return " | ".join(s.shortfalls).lower()


def assess(c: Candidate) -> Assessment:
    """The full ethics check on a candidate."""
    return EthicsCheck(policy()).assess(c, ruleset())


def limits(c: Candidate) -> dict[str, LimitHit]:
    """The hard limits a candidate runs into, by id."""
    return {h.id: h for h in evaluate_limits(c, policy().policy, ruleset())}


def sent(ctx: CustomerContext, at: str | datetime, rule_id: str, purpose: str = "service") -> None:
    """Remember that a message went to the customer at ``at``."""
    ctx.record_contact(Contact(when(at), rule_id, purpose, "app_inbox"))


def catalogue_offer(
    offer_id: str, *, cost_without: float, cost_with: float, org_delta: float
) -> OfferChoice:
    """An offer of a catalogue item at its catalogue price, with the given economics."""
    item = ruleset().catalogue.item(offer_id)
    assert item is not None, offer_id
    recurring = isinstance(item, Bundle)
    return OfferChoice(
        offer_id=item.id,
        kind="bundle" if recurring else "addon",
        name=item.name,
        price_eur=item.monthly_eur if isinstance(item, Bundle) else item.price_eur,
        data_mb=item.data_mb,
        recurring=recurring,
        customer_cost_without=cost_without,
        customer_cost_with=cost_with,
        org_revenue_delta=org_delta,
        basis="set by the test",
    )


def with_offer(c: Candidate, offer: OfferChoice) -> Candidate:
    """The candidate with another offer (as a commercial action), rendered again."""
    out = dataclasses.replace(c, offer=offer, purpose="commercial")
    return _rerender(out)


def with_rule(c: Candidate, **updates: Any) -> Candidate:
    """The candidate as if its rule had these settings (e.g. ``data=[..., "health"]``)."""
    rule = c.rule.rule.model_copy(update=updates)
    cr = CompiledRule(rule, c.rule.conditions, c.rule.file, c.rule.line)
    return dataclasses.replace(c, rule=cr)


def _rerender(c: Candidate) -> Candidate:
    rs = ruleset()
    c.message = rs.templates.render(
        c.rule.rule.template, c.language, c.channel, template_variables(c, rs)
    )
    return c
