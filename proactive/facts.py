"""The facts a rule condition may test: the event plus what we know of the customer.

Each fact has a dotted name (``usage.pct_used``), a type, the **data category** it
reveals (a rule must declare every category it uses; special categories such as
health may never feed a commercial rule) and a description for rule authors.
:func:`build_facts` computes, for one event, only the groups the rules need.
"""

from __future__ import annotations

import statistics
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from proactive.context import CustomerContext
from proactive.events import PAYLOADS, Event
from proactive.offers import MB_PER_GB, usage_outlook

DATA_CATEGORIES = (
    "profile",
    "consent",
    "usage",
    "location",
    "billing",
    "payment",
    "complaint",
    "contract",
    "service",
    "life_event",
    "health",
    "religion",
    "ethnicity",
    "sexual_orientation",
    "biometrics",
    "political_views",
    "union_membership",
    "criminal_records",
)
"""Categories of personal data a rule can declare (the last eight are GDPR art. 9/10)."""


@dataclass(frozen=True)
class Fact:
    """One fact rule conditions may use."""

    name: str
    type: type
    category: str | None
    description: str
    values: tuple[str, ...] = ()
    """Every value a text fact can take, when the set is fixed (empty: open-ended)."""


_FACTS: list[Fact] = [
    Fact("event.type", str, None, "the event type, e.g. usage.data"),
    Fact("event.source", str, None, "the system that sent the event"),
    Fact("usage.pct_used", float, "usage", "share of the bundle used this cycle (0.9 = 90%)"),
    Fact("usage.used_gb", float, "usage", "data used this cycle in GB"),
    Fact("usage.bundle_gb", float, "usage", "bundle size in GB"),
    Fact("usage.projected_pct", float, "usage", "projected use at cycle end / bundle"),
    Fact("usage.days_left", int, "usage", "days left in the billing cycle"),
    Fact(
        "usage.structural_need", bool, "usage", "over the bundle now and in 2 of the last 3 cycles"
    ),
    Fact("usage.spike", bool, "usage", "over the bundle now but not before (one-off)"),
    Fact("usage.cycles_seen", int, "usage", "billing cycles with usage history"),
    Fact("billing.invoice_eur", float, "billing", "amount of the latest invoice"),
    Fact("billing.avg_invoice_eur", float, "billing", "average of up to 6 earlier invoices"),
    Fact(
        "billing.earlier_invoices",
        int,
        "billing",
        "how many earlier invoices that average is taken over (0 to 6)",
    ),
    Fact("billing.invoice_ratio", float, "billing", "latest invoice / that average"),
    Fact("billing.failed_payments_60d", int, "payment", "failed payments in the last 60 days"),
    Fact("billing.arrangement_active", bool, "payment", "a payment arrangement is running"),
    Fact("customer.language", str, "profile", "nl or en", values=("nl", "en")),
    Fact("customer.segment", str, "profile", "commercial segment"),
    Fact(
        "customer.age_band",
        str,
        "profile",
        "18-24, 25-39, 40-64, 65+",
        values=("18-24", "25-39", "40-64", "65+"),
    ),
    Fact("customer.managed_by_proxy", bool, "profile", "account run by a relative or guardian"),
    Fact("customer.open_complaints", int, "complaint", "number of open complaints"),
    Fact("customer.has_open_complaint", bool, "complaint", "at least one open complaint"),
    Fact("customer.bereaved", bool, "life_event", "a bereavement is known"),
    Fact(
        "customer.financial_trouble", bool, "payment", "repeated failed payments or an arrangement"
    ),
    Fact("customer.ill", bool, "health", "the customer told us of an illness (special category)"),
    Fact("customer.objected_direct_marketing", bool, "consent", "objection to direct marketing"),
    Fact("roaming.zone", str, "location", "eu or world, while abroad", values=("eu", "world")),
    Fact("roaming.country", str, "location", "ISO country code, while abroad"),
    Fact("contract.days_to_end", int, "contract", "days until the contract ends"),
    Fact("contract.monthly_fee_eur", float, "contract", "current monthly fee"),
    Fact("contract.leaving", bool, "contract", "the customer has given notice"),
    Fact("outage.active", int, "service", "outages currently affecting the customer"),
]

_EVENT_CATEGORY = {
    "usage": "usage",
    "billing": "billing",
    "customer": "profile",
    "contract": "contract",
    "service": "service",
}


def event_category(event_type: str) -> str:
    """The data category an event type's payload reveals."""
    special = {
        "customer.life_event": "life_event",
        "customer.consent_changed": "consent",
        "customer.complaint_opened": "complaint",
        "customer.complaint_closed": "complaint",
        "billing.payment_failed": "payment",
        "billing.payment_arrangement": "payment",
        "usage.roaming_started": "location",
    }
    return special.get(event_type) or _EVENT_CATEGORY.get(event_type.split(".")[0], "profile")


def _data_facts() -> list[Fact]:
    out: dict[str, Fact] = {}
    for etype, model in PAYLOADS.items():
        category = event_category(etype)
        for fname, finfo in model.model_fields.items():
            ann = finfo.annotation
            # an optional field (bool | None) has the type of its value: a condition
            # `data.granted == true` must compare with True, not with the text "True"
            inner = [a for a in typing.get_args(ann) if a is not type(None)]
            if len(inner) == 1 and inner[0] in (bool, int, float, str):
                ann = inner[0]
            py: type = ann if isinstance(ann, type) and not issubclass(ann, BaseModel) else str
            out.setdefault(
                f"data.{fname}", Fact(f"data.{fname}", py, category, f"{etype}: {fname}")
            )
    return list(out.values())


FACTS: dict[str, Fact] = {f.name: f for f in [*_FACTS, *_data_facts()]}
"""The fact catalogue, by dotted name."""


def key(name: str) -> str:
    """The flat key a fact has in the message posted to durable_rules."""
    return name.replace(".", "__")


def _usage(event: Event, ctx: CustomerContext) -> dict[str, Any]:
    cur = ctx.current_cycle()
    if cur is None:
        return {}
    return {
        "usage__pct_used": round(cur.used_mb / cur.bundle_mb, 4),
        "usage__used_gb": round(cur.used_mb / MB_PER_GB, 3),
        "usage__bundle_gb": round(cur.bundle_mb / MB_PER_GB, 3),
        "usage__days_left": max(0, (cur.cycle_end - event.time.date()).days),
        "usage__cycles_seen": len(ctx.cycles),
    }


def _usage_outlook(event: Event, ctx: CustomerContext) -> dict[str, Any]:
    # projection and history: dearer than the plain usage facts, so its own group
    o = usage_outlook(ctx, event.time)
    if o is None:
        return {}
    return {
        "usage__projected_pct": round(o.projected_mb / o.bundle_mb, 4),
        "usage__structural_need": o.structural_need,
        "usage__spike": o.spike,
    }


def _billing(event: Event, ctx: CustomerContext) -> dict[str, Any]:
    out: dict[str, Any] = {
        "billing__failed_payments_60d": len(ctx.failed_payments),
        "billing__arrangement_active": ctx.arrangement_active,
    }
    if ctx.invoices:
        latest = ctx.invoices[-1][1]
        out["billing__invoice_eur"] = latest
        earlier = [a for _, a in ctx.invoices[-7:-1]]
        # how much history "usual" rests on: a rule can ask for at least a few invoices
        out["billing__earlier_invoices"] = len(earlier)
        if earlier:
            avg = statistics.fmean(earlier)
            out["billing__avg_invoice_eur"] = round(avg, 2)
            out["billing__invoice_ratio"] = round(latest / avg, 4) if avg else 0.0
    return out


def _customer(event: Event, ctx: CustomerContext) -> dict[str, Any]:
    out: dict[str, Any] = {
        "customer__managed_by_proxy": ctx.managed_by_proxy,
        "customer__open_complaints": len(ctx.open_complaints),
        "customer__has_open_complaint": bool(ctx.open_complaints),
        "customer__bereaved": "bereavement" in ctx.vulnerabilities,
        "customer__financial_trouble": "financial_trouble" in ctx.vulnerabilities,
        "customer__ill": "illness" in ctx.vulnerabilities,
        "customer__objected_direct_marketing": ctx.objection_direct_marketing,
    }
    for name in ("language", "segment", "age_band"):
        value = getattr(ctx, name)
        if value is not None:
            out[f"customer__{name}"] = value
    return out


def _roaming(event: Event, ctx: CustomerContext) -> dict[str, Any]:
    if ctx.roaming_zone is None:
        return {}
    return {"roaming__zone": ctx.roaming_zone, "roaming__country": ctx.roaming_country}


def _contract(event: Event, ctx: CustomerContext) -> dict[str, Any]:
    if ctx.contract_end is None:
        return {}
    out: dict[str, Any] = {"contract__days_to_end": (ctx.contract_end - event.time.date()).days}
    if ctx.contract_fee_eur is not None:
        out["contract__monthly_fee_eur"] = ctx.contract_fee_eur
    out["contract__leaving"] = ctx.notice_given_on is not None
    return out


def _outage(event: Event, ctx: CustomerContext) -> dict[str, Any]:
    return {"outage__active": len(ctx.active_outages)}


def _data(event: Event, ctx: CustomerContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in event.data:
        if isinstance(value, bool | int | float | str):
            out[f"data__{name}"] = value
        elif value is not None and not isinstance(value, BaseModel | list | dict):
            out[f"data__{name}"] = value.isoformat() if isinstance(value, datetime) else str(value)
    return out


GROUPS: dict[str, Callable[[Event, CustomerContext], dict[str, Any]]] = {
    "usage": _usage,
    "usage_outlook": _usage_outlook,
    "billing": _billing,
    "customer": _customer,
    "roaming": _roaming,
    "contract": _contract,
    "outage": _outage,
    "data": _data,
}
"""Fact groups by the first part of a fact name; each computed only when needed."""


_OUTLOOK = {"usage.projected_pct", "usage.structural_need", "usage.spike"}
ALL_GROUPS = frozenset(GROUPS)


def group_of(fact: str) -> str:
    """The group that computes a fact."""
    return "usage_outlook" if fact in _OUTLOOK else fact.split(".")[0]


def build_facts(event: Event, ctx: CustomerContext, groups: frozenset[str]) -> dict[str, Any]:
    """The flat fact message for one event: event attributes plus the requested groups."""
    facts: dict[str, Any] = {"event__type": event.type, "event__source": event.source}
    for group in groups:
        fn = GROUPS.get(group)
        if fn is not None:
            facts.update(fn(event, ctx))
    return facts
