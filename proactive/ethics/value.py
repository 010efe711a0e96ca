"""Value and values: what the action is worth to whom, and whether it fits.

*Value* comes from the offer economics the selector computed from the customer's own
numbers (cost per period with and without the offer) and from the harm a service
message prevents (e.g. out-of-bundle charges avoided by a timely warning). *Values*
compares the action with the customer's declared values and the organisation's
(service first, no hard sell, duty of care). Flags push the verdict as the policy says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proactive.candidates import Candidate
from proactive.ethics.dimensions import TextFacts
from proactive.ethics.limits import active_vulnerabilities
from proactive.ethics.policy import LoadedPolicy
from proactive.offers import current_bundle
from proactive.rules import RuleSet


@dataclass
class ValueCheck:
    """The value and values verdict on one candidate."""

    customer: float
    organisation: float
    alignment: float
    flags: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer": round(self.customer, 2),
            "organisation": round(self.organisation, 2),
            "alignment": round(self.alignment, 3),
            "flags": self.flags,
            "reasons": self.reasons,
            "evidence": self.evidence,
        }


def _prevented(c: Candidate, ruleset: RuleSet) -> float:
    """Charges a service message helps the customer avoid (EUR, this period)."""
    if c.event.type != "usage.data":
        return 0.0  # only a usage warning prevents out-of-bundle charges
    projected = c.facts.get("usage__projected_pct")
    bundle_gb = c.facts.get("usage__bundle_gb")
    if projected is not None and bundle_gb is not None and projected > 1:
        over_gb = (float(projected) - 1) * float(bundle_gb)
        return round(over_gb * ruleset.catalogue.out_of_bundle.price_per_gb_eur, 2)
    return 0.0


def assess_value(c: Candidate, t: TextFacts, lp: LoadedPolicy, ruleset: RuleSet) -> ValueCheck:
    """Customer value, organisation value, alignment with both sides' values, and flags."""
    pol = lp.policy
    vp = pol.value
    v = ValueCheck(customer=0.0, organisation=0.0, alignment=1.0)
    parts: dict[str, float] = {}
    if c.offer is not None:
        # a recurring offer counts every cycle of the horizon; a one-off add-on once
        cycles = vp.horizon_cycles if c.offer.recurring else 1
        v.customer = round(c.offer.customer_value * cycles, 2)
        parts["revenue"] = round(c.offer.org_revenue_delta * cycles, 2)
        v.evidence["offer"] = {
            "id": c.offer.offer_id,
            "cost_without": c.offer.customer_cost_without,
            "cost_with": c.offer.customer_cost_with,
            "org_revenue_delta": c.offer.org_revenue_delta,
            "cycles": cycles,
        }
        v.reasons.append(
            f"customer pays EUR {c.offer.customer_cost_with:.2f} instead of EUR "
            f"{c.offer.customer_cost_without:.2f} per {'month' if c.offer.recurring else 'cycle'}"
            f" (EUR {v.customer:+.2f} for the customer over {cycles} cycle(s)); "
            f"organisation revenue changes by EUR {parts['revenue']:+.2f}"
        )
    prevented = _prevented(c, ruleset)
    if prevented:
        v.customer += prevented if c.offer is None else 0.0
        v.evidence["charges_avoidable_eur"] = prevented
        v.reasons.append(f"a timely warning can save EUR {prevented:.2f} in out-of-bundle charges")
    if c.purpose == "service":
        # a service message answers the question before the customer has to ask it, and
        # a warned customer is not surprised by a bill or an outage: value to both sides
        v.customer = max(v.customer, 1.0)
        parts["avoided_contact"] = vp.avoided_contact_eur
        if prevented or c.event.type.startswith("service.") or c.rule.rule.sensitive:
            parts["retention"] = vp.retention_eur
        v.reasons.append("service information the customer needs")
    send_cost = vp.cost_to_serve_eur.get(c.channel, 0.0)
    if send_cost:
        parts["cost_to_serve"] = -send_cost
    v.organisation = round(sum(parts.values()), 2)
    v.evidence["organisation"] = parts
    if parts:
        v.reasons.append(
            "organisation value EUR "
            f"{v.organisation:+.2f} ("
            + ", ".join(f"{k.replace('_', ' ')} {x:+.2f}" for k, x in parts.items())
            + ")"
        )
    # -- organisation-only benefit ---------------------------------------------------
    if (
        c.purpose != "service"
        and v.customer <= pol.value.min_customer_value_eur
        and v.organisation > 0
    ):
        v.flags.append("organisation_only")
        v.alignment -= 0.5
        v.reasons.append("the organisation gains and the customer does not")
    # -- the customer's declared values -----------------------------------------------
    for value in c.ctx.values:
        spec = pol.values.customer.get(value)
        if spec is None:
            continue
        traits = _traits(c, ruleset)
        clash = sorted(set(spec.dislikes) & traits)
        fit = sorted(set(spec.likes) & traits)
        if clash:
            v.alignment -= 0.3
            v.reasons.append(f"clashes with the customer's value '{value}' ({', '.join(clash)})")
        if fit:
            v.reasons.append(f"fits the customer's value '{value}' ({', '.join(fit)})")
    # -- the organisation's values ----------------------------------------------------
    org = {ov.id for ov in pol.values.organisation}
    hard_sell = t.tactics(
        "false_urgency", "scarcity", "social_proof", "confirmshaming", "misdirection"
    )
    if "no_hard_sell" in org and hard_sell:
        v.alignment -= 0.3
        tactics = sorted({f.category.replace("_", " ") for f in hard_sell})
        v.reasons.append(f"{', '.join(tactics)} at odds with 'no hard sell'")
    if "duty_of_care" in org and c.purpose == "commercial" and active_vulnerabilities(c, pol):
        v.alignment -= 0.4
        v.reasons.append("selling to a vulnerable customer is at odds with 'duty of care'")
    if (
        "service_first" in org
        and c.purpose == "commercial"
        and c.offer is not None
        and c.offer.customer_value < 0
        and not prevented
    ):
        v.alignment -= 0.2
        v.reasons.append(
            "an offer that costs more without preventing a problem is at odds with 'service first'"
        )
    # -- big brother and betutteling -----------------------------------------------------
    labels = t.findings.get("labels", [])
    special = set(c.rule.rule.data) & set(pol.special_categories)
    if labels or special:
        v.flags.append("big_brother")
        v.alignment -= 0.3
        what = [f"label '{f.text}'" for f in labels] + [f"{s} data used" for s in sorted(special)]
        v.reasons.append("big brother: " + ", ".join(what))
    advice = t.findings.get("lifestyle_advice", [])
    if advice:
        v.flags.append("betutteling")
        v.alignment -= 0.3
        v.reasons.append(
            "betutteling: unsolicited advice about personal behaviour: "
            + ", ".join(f"'{f.text}'" for f in advice)
        )
    v.alignment = max(0.0, min(1.0, v.alignment))
    return v


def _traits(c: Candidate, ruleset: RuleSet) -> set[str]:
    traits: set[str] = set()
    if c.purpose == "commercial":
        traits.add("commercial")
    if c.offer is not None:
        if c.offer.customer_value < 0:
            traits.add("cost_increase")
        current = current_bundle(ruleset.catalogue, c.ctx)
        if (
            current is not None
            and current.data_mb is not None
            and c.offer.data_mb is not None
            and c.offer.data_mb < current.data_mb
        ):
            traits.add("smaller_bundle")
    if c.purpose != "service" and {"location", "life_event"} & set(c.rule.rule.data):
        # service notices that need the data (roaming prices abroad) are not profiling
        traits.add("profiling_data")
    return traits
