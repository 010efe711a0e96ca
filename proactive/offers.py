"""The offer catalogue and how a rule picks an offer from it.

Product teams name a *selector* in a rule (``best_fit_bundle``, ``fair_renewal``,
``one_off_addon``); the selector works out, from this customer's own numbers, which
catalogue item fits and what it is worth to the customer and to the organisation.
A better-fitting bundle may be smaller or cheaper; a one-off spike never earns a
permanent upgrade. Prices come only from ``rules/offers.yaml``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from proactive.context import CustomerContext
from proactive.datafile import validate_file
from proactive.errors import RuleFileError

MB_PER_GB = 1024.0
HEADROOM = 1.1
"""Suggest a bundle with 10% room above the expected need, so the customer is not
back at the limit next month."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bundle(_Strict):
    """A monthly data bundle (``data_mb: null`` means unlimited)."""

    id: str
    name: str
    data_mb: float | None
    monthly_eur: float = Field(ge=0)
    margin_eur: float


class Addon(_Strict):
    """A one-off extra for the current billing cycle."""

    id: str
    name: str
    data_mb: float = Field(gt=0)
    price_eur: float = Field(ge=0)
    margin_eur: float


class OutOfBundle(_Strict):
    price_per_gb_eur: float = Field(ge=0)


class RoamingZone(_Strict):
    price_per_mb_eur: float = Field(ge=0)
    note_en: str
    note_nl: str


class Catalogue(_Strict):
    """``rules/offers.yaml``."""

    currency: Literal["EUR"] = "EUR"
    out_of_bundle: OutOfBundle
    bundles: list[Bundle] = Field(min_length=1)
    addons: list[Addon] = Field(default_factory=list)
    roaming: dict[Literal["eu", "world"], RoamingZone] = Field(default_factory=dict)

    def item(self, offer_id: str) -> Bundle | Addon | None:
        """The bundle or add-on with this id."""
        for b in self.bundles:
            if b.id == offer_id:
                return b
        for a in self.addons:
            if a.id == offer_id:
                return a
        return None

    def ids(self) -> set[str]:
        """Every offer id in the catalogue."""
        return {b.id for b in self.bundles} | {a.id for a in self.addons}


def load_catalogue(path: Path) -> Catalogue:
    """Load and validate the offer catalogue (all problems reported with their lines)."""
    cat, _ = validate_file(path, Catalogue, RuleFileError)
    return cat


@dataclass(frozen=True)
class UsageOutlook:
    """What this customer's usage history says about their need."""

    used_mb: float
    bundle_mb: float
    pct_used: float
    elapsed: float
    projected_mb: float
    cycles_seen: int
    history_mb: tuple[float, ...]
    over_in_history: int
    structural_need: bool
    spike: bool
    expected_mb: float


def usage_outlook(ctx: CustomerContext, at: datetime) -> UsageOutlook | None:
    """Project the current cycle and classify the need as structural or a one-off spike."""
    cur = ctx.current_cycle()
    if cur is None:
        return None
    total = (cur.cycle_end - cur.cycle_start).days or 1
    elapsed_days = (at.date() - cur.cycle_start).days + at.hour / 24
    elapsed = min(max(elapsed_days / total, 1 / total), 1.0)
    projected = cur.used_mb / elapsed
    history = tuple(c.used_mb for c in ctx.previous_cycles()[-3:])
    over = sum(1 for c in ctx.previous_cycles()[-3:] if c.used_mb >= 0.95 * c.bundle_mb)
    over_now = projected > cur.bundle_mb
    # structural: the need showed before, in at least two of the last three cycles
    structural = over_now and over >= 2
    spike = over_now and not structural
    if history:
        expected = (
            statistics.median([*history, projected]) if structural else statistics.median(history)
        )
    else:
        expected = projected
    return UsageOutlook(
        used_mb=cur.used_mb,
        bundle_mb=cur.bundle_mb,
        pct_used=cur.used_mb / cur.bundle_mb,
        elapsed=elapsed,
        projected_mb=projected,
        cycles_seen=len(ctx.cycles),
        history_mb=history,
        over_in_history=over,
        structural_need=structural,
        spike=spike,
        expected_mb=expected,
    )


@dataclass(frozen=True)
class OfferChoice:
    """The offer a selector chose, with the economics behind it (evidence for the check)."""

    offer_id: str
    kind: Literal["bundle", "addon"]
    name: str
    price_eur: float
    data_mb: float | None
    recurring: bool
    customer_cost_without: float
    customer_cost_with: float
    org_revenue_delta: float
    basis: str

    @property
    def customer_value(self) -> float:
        """What the customer saves per period (negative: it costs them more)."""
        return round(self.customer_cost_without - self.customer_cost_with, 2)


def monthly_cost(cat: Catalogue, bundle: Bundle, need_mb: float) -> float:
    """What a month with ``need_mb`` of data costs on ``bundle``, out-of-bundle use included."""
    if bundle.data_mb is None:
        return bundle.monthly_eur
    extra_gb = max(0.0, need_mb - bundle.data_mb) / MB_PER_GB
    return round(bundle.monthly_eur + extra_gb * cat.out_of_bundle.price_per_gb_eur, 2)


def current_bundle(cat: Catalogue, ctx: CustomerContext) -> Bundle | None:
    """The catalogue bundle the customer is on (by plan id, else by bundle size)."""
    if ctx.plan_id:
        item = cat.item(ctx.plan_id)
        if isinstance(item, Bundle):
            return item
    cur = ctx.current_cycle()
    if cur is not None:
        for b in cat.bundles:
            if b.data_mb == cur.bundle_mb:
                return b
    return None


def best_fit_bundle(cat: Catalogue, need_mb: float, exclude: set[str]) -> Bundle:
    """The bundle with the lowest monthly cost for this need (smaller wins a tie)."""
    candidates = [b for b in cat.bundles if b.id not in exclude] or list(cat.bundles)
    return min(
        candidates,
        key=lambda b: (monthly_cost(cat, b, need_mb * HEADROOM), b.data_mb or float("inf")),
    )


def bundle_choice(
    item: Bundle, without: float, with_: float, org_delta: float, basis: str
) -> OfferChoice:
    """A monthly bundle offer with the customer's cost without and with it."""
    return OfferChoice(
        offer_id=item.id,
        kind="bundle",
        name=item.name,
        price_eur=item.monthly_eur,
        data_mb=item.data_mb,
        recurring=True,
        customer_cost_without=without,
        customer_cost_with=with_,
        org_revenue_delta=round(org_delta, 2),
        basis=basis,
    )


def addon_choice(addon: Addon, oob: float, basis: str) -> OfferChoice:
    """A one-off add-on against ``oob``, what the extra use would cost without it.

    The organisation gains the add-on's margin and forgoes about half the out-of-bundle
    revenue (its margin on overuse).
    """
    return OfferChoice(
        offer_id=addon.id,
        kind="addon",
        name=addon.name,
        price_eur=addon.price_eur,
        data_mb=addon.data_mb,
        recurring=False,
        customer_cost_without=oob,
        customer_cost_with=addon.price_eur,
        org_revenue_delta=round(addon.margin_eur - oob * 0.5, 2),
        basis=basis,
    )


def select_best_fit(
    cat: Catalogue, ctx: CustomerContext, at: datetime, on_spike: str
) -> OfferChoice | None:
    """Warning rule: the bundle that fits structural usage, or a one-off add-on for a spike."""
    outlook = usage_outlook(ctx, at)
    current = current_bundle(cat, ctx)
    if outlook is None or current is None:
        return None
    if outlook.spike:
        return select_addon(cat, ctx, at, outlook) if on_spike == "addon" else None
    if not outlook.structural_need:
        return None
    best = best_fit_bundle(cat, outlook.expected_mb, set(ctx.declined_offers))
    if best.id == current.id:
        return None
    without = monthly_cost(cat, current, outlook.expected_mb)
    with_ = monthly_cost(cat, best, outlook.expected_mb)
    hist = ", ".join(f"{h / MB_PER_GB:.1f} GB" for h in outlook.history_mb)
    return bundle_choice(
        best,
        without,
        with_,
        best.margin_eur - current.margin_eur,
        f"usage in the last cycles {hist}; expected {outlook.expected_mb / MB_PER_GB:.1f} GB "
        f"per month; {current.name} costs EUR {without:.2f} a month at that use, "
        f"{best.name} EUR {with_:.2f}",
    )


def select_addon(
    cat: Catalogue, ctx: CustomerContext, at: datetime, outlook: UsageOutlook | None = None
) -> OfferChoice | None:
    """A one-off add-on covering this cycle's projected shortfall, if cheaper than overuse."""
    outlook = outlook or usage_outlook(ctx, at)
    if outlook is None or not cat.addons:
        return None
    shortfall = outlook.projected_mb - outlook.bundle_mb
    if shortfall <= 0:
        return None
    oob = round(shortfall / MB_PER_GB * cat.out_of_bundle.price_per_gb_eur, 2)
    fitting = [a for a in cat.addons if a.data_mb >= shortfall and a.id not in ctx.declined_offers]
    if not fitting:
        return None
    addon = min(fitting, key=lambda a: a.price_eur)
    if addon.price_eur >= oob:
        return None  # paying for the extra use is cheaper: suggest nothing
    return addon_choice(
        addon,
        oob,
        f"this cycle is projected at {outlook.projected_mb / MB_PER_GB:.1f} GB against a "
        f"{outlook.bundle_mb / MB_PER_GB:.0f} GB bundle, earlier cycles stayed within it; "
        f"extra use would cost EUR {oob:.2f}, {addon.name} costs EUR {addon.price_eur:.2f}",
    )


def select_renewal(cat: Catalogue, ctx: CustomerContext, at: datetime) -> OfferChoice | None:
    """Contract renewal: the bundle that fits typical usage, even if smaller and cheaper."""
    history = [c.used_mb for c in ctx.cycles[-6:]]
    if not history:
        return None
    need = statistics.median(history)
    best = best_fit_bundle(cat, need, set(ctx.declined_offers))
    current = current_bundle(cat, ctx)
    without = (
        monthly_cost(cat, current, need)
        if current is not None
        else round(ctx.contract_fee_eur or best.monthly_eur, 2)
    )
    with_ = monthly_cost(cat, best, need)
    org_delta = best.margin_eur - (current.margin_eur if current else best.margin_eur)
    return bundle_choice(
        best,
        without,
        with_,
        org_delta,
        f"typical use {need / MB_PER_GB:.1f} GB a month over {len(history)} cycles; "
        f"current plan costs EUR {without:.2f} at that use, {best.name} EUR {with_:.2f}",
    )


SELECTORS = ("best_fit_bundle", "one_off_addon", "fair_renewal")
"""Offer selectors a rule may name."""


def select_offer(
    selector: str, cat: Catalogue, ctx: CustomerContext, at: datetime, on_spike: str = "addon"
) -> OfferChoice | None:
    """Run the named selector."""
    if selector == "best_fit_bundle":
        return select_best_fit(cat, ctx, at, on_spike)
    if selector == "one_off_addon":
        return select_addon(cat, ctx, at)
    if selector == "fair_renewal":
        return select_renewal(cat, ctx, at)
    raise ValueError(f"unknown offer selector {selector!r}")
