"""Offer selection from the catalogue (proactive.offers): fit the customer's own usage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from proactive.context import CustomerContext, UsageCycle
from proactive.errors import RuleFileError
from proactive.offers import (
    HEADROOM,
    MB_PER_GB,
    Bundle,
    Catalogue,
    best_fit_bundle,
    current_bundle,
    load_catalogue,
    monthly_cost,
    select_addon,
    select_best_fit,
    select_offer,
    select_renewal,
    usage_outlook,
)

REPO = Path(__file__).resolve().parent.parent
GB = MB_PER_GB
# 19 days into a 31-day May cycle
NOW = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)


@cache
def catalogue() -> Catalogue:
    return load_catalogue(REPO / "rules" / "offers.yaml")


def bundle(offer_id: str) -> Bundle:
    item = catalogue().item(offer_id)
    assert isinstance(item, Bundle)
    return item


def customer(
    history_gb: list[float],
    current_gb: float,
    bundle_gb: float = 5,
    plan_id: str | None = "data-5gb",
    declined: tuple[str, ...] = (),
) -> CustomerContext:
    """A customer with monthly history (oldest first) and this May's usage so far."""
    cycles = []
    start = date(2026, 5, 1)
    starts = []
    for _ in history_gb:
        start = (start - timedelta(days=1)).replace(day=1)
        starts.append(start)
    for s, used in zip(reversed(starts), history_gb, strict=True):
        end = (s + timedelta(days=32)).replace(day=1)
        cycles.append(
            UsageCycle(
                s, end, used * GB, bundle_gb * GB, datetime.combine(end, datetime.min.time(), UTC)
            )
        )
    cycles.append(
        UsageCycle(date(2026, 5, 1), date(2026, 6, 1), current_gb * GB, bundle_gb * GB, NOW)
    )
    return CustomerContext(
        "C1",
        plan_id=plan_id,
        cycles=cycles,
        declined_offers=dict.fromkeys(declined, NOW - timedelta(days=3)),
    )


# -- the catalogue and its arithmetic -----------------------------------------------------


def test_broken_catalogue_is_refused_with_its_line(tmp_path: Path) -> None:
    """A negative price in the catalogue is refused with the file and line."""
    text = (
        (REPO / "rules" / "offers.yaml")
        .read_text()
        .replace("monthly_eur: 13.50", "monthly_eur: -13.50")
    )
    path = tmp_path / "offers.yaml"
    path.write_text(text)
    with pytest.raises(RuleFileError) as info:
        load_catalogue(path)
    (problem,) = info.value.problems
    lines = text.splitlines()
    assert lines[problem.line - 1].strip() == "monthly_eur: -13.50"
    assert problem.key == "bundles.1.monthly_eur"


def test_monthly_cost_includes_out_of_bundle_charges() -> None:
    """A 5 GB bundle at 7 GB of use costs the fee plus 2 GB at the out-of-bundle price."""
    cat = catalogue()
    fee = bundle("data-5gb").monthly_eur
    per_gb = cat.out_of_bundle.price_per_gb_eur
    assert monthly_cost(cat, bundle("data-5gb"), 7 * GB) == pytest.approx(fee + 2 * per_gb)
    assert monthly_cost(cat, bundle("data-5gb"), 3 * GB) == pytest.approx(fee)
    assert (
        monthly_cost(cat, bundle("data-unlimited"), 500 * GB)
        == bundle("data-unlimited").monthly_eur
    )


def test_best_fit_bundle_is_the_cheapest_for_the_need() -> None:
    """The cheapest monthly cost at the need (plus headroom) wins, whatever its size."""
    cat = catalogue()
    for need_gb in (0.5, 1.9, 3.0, 4.0, 7.0, 12.0, 30.0, 80.0):
        best = best_fit_bundle(cat, need_gb * GB, set())
        costs = [monthly_cost(cat, b, need_gb * GB * HEADROOM) for b in cat.bundles]
        assert monthly_cost(cat, best, need_gb * GB * HEADROOM) == min(costs), need_gb


def test_best_fit_bundle_excludes_declined() -> None:
    """A bundle the customer declined is not proposed; the next best one is."""
    cat = catalogue()
    assert best_fit_bundle(cat, 7 * GB, set()).id == "data-10gb"
    assert best_fit_bundle(cat, 7 * GB, {"data-10gb"}).id == "data-20gb"


# -- usage outlook ------------------------------------------------------------------------


def test_usage_outlook_structural_need() -> None:
    """Over the bundle now and in at least two of the last three cycles: structural."""
    o = usage_outlook(customer([7.0, 6.8, 7.2], 4.6), NOW)
    assert o is not None
    assert o.structural_need and not o.spike
    assert o.over_in_history == 3
    assert o.projected_mb > o.bundle_mb
    assert o.pct_used == pytest.approx(4.6 / 5)


def test_usage_outlook_one_off_spike() -> None:
    """Over the bundle now but within it before: a spike, not a structural need."""
    o = usage_outlook(customer([2.1, 2.4, 1.9], 4.6), NOW)
    assert o is not None
    assert o.spike and not o.structural_need
    assert o.over_in_history == 0
    assert o.expected_mb == pytest.approx(2.1 * GB)  # the median of the history


def test_usage_outlook_neither_when_on_track() -> None:
    """On course to stay inside the bundle: neither flag."""
    o = usage_outlook(customer([4.9, 5.0, 4.95], 2.0), NOW)
    assert o is not None
    assert not o.spike and not o.structural_need


def test_usage_outlook_without_usage_is_none() -> None:
    """No cycle seen yet: nothing to say."""
    assert usage_outlook(CustomerContext("C1"), NOW) is None


# -- the selectors --------------------------------------------------------------------------


def test_structural_overuse_gets_a_bigger_bundle_that_saves_money() -> None:
    """S1: 7 GB a month on 5 GB → the 10 GB bundle, which costs less at that use."""
    choice = select_best_fit(catalogue(), customer([7.0, 6.8, 7.2], 4.6), NOW, "addon")
    assert choice is not None
    assert choice.offer_id == "data-10gb"
    assert choice.recurring and choice.kind == "bundle"
    assert bundle("data-10gb").data_mb > bundle("data-5gb").data_mb  # type: ignore[operator]
    assert choice.customer_value > 0
    assert choice.price_eur == bundle("data-10gb").monthly_eur
    assert "5 GB" in choice.basis and "10 GB" in choice.basis


def test_declined_bundle_is_not_offered_again() -> None:
    """The customer said no to 10 GB: the selector proposes the next best fit instead."""
    choice = select_best_fit(
        catalogue(), customer([7.0, 6.8, 7.2], 4.6, declined=("data-10gb",)), NOW, "addon"
    )
    assert choice is not None
    assert choice.offer_id != "data-10gb"
    assert choice.offer_id == "data-20gb"


def test_spike_gets_a_one_off_addon_not_an_upgrade() -> None:
    """S2: a one-off spike earns an add-on for this cycle, never a permanent bundle."""
    choice = select_best_fit(catalogue(), customer([2.1, 2.4, 1.9], 4.6), NOW, "addon")
    assert choice is not None
    assert choice.kind == "addon" and not choice.recurring
    assert choice.offer_id == "addon-3gb"
    assert choice.customer_cost_with < choice.customer_cost_without


def test_spike_with_on_spike_none_gets_nothing() -> None:
    """A rule saying ``on_spike: none`` gets no offer for a spike."""
    assert select_best_fit(catalogue(), customer([2.1, 2.4, 1.9], 4.6), NOW, "none") is None


def test_small_overuse_gets_nothing_when_paying_overuse_is_cheaper() -> None:
    """A projected shortfall of a few hundred MB costs less than any add-on: no offer."""
    ctx = customer([2.1, 2.4, 1.9], 3.3)  # projects to about 5.4 GB on a 5 GB bundle
    o = usage_outlook(ctx, NOW)
    assert o is not None and o.spike
    oob = (o.projected_mb - o.bundle_mb) / GB * catalogue().out_of_bundle.price_per_gb_eur
    assert oob < min(a.price_eur for a in catalogue().addons)
    assert select_addon(catalogue(), ctx, NOW) is None


def test_declined_addon_is_not_offered() -> None:
    """A declined add-on is skipped; with no other fitting add-on there is no offer."""
    ctx = customer([2.1, 2.4, 1.9], 4.6, declined=("addon-3gb",))
    assert select_addon(catalogue(), ctx, NOW) is None


def test_no_offer_when_already_on_the_best_bundle() -> None:
    """Structural use just above 5 GB: paying a little overuse on 5 GB is still cheaper
    than 10 GB, so the current bundle is the best fit and nothing is proposed."""
    ctx = customer([4.9, 5.0, 5.1], 3.2)
    o = usage_outlook(ctx, NOW)
    assert o is not None and o.structural_need
    assert best_fit_bundle(catalogue(), o.expected_mb, set()).id == "data-5gb"
    assert select_best_fit(catalogue(), ctx, NOW, "addon") is None


def test_renewal_with_low_usage_proposes_a_smaller_cheaper_bundle() -> None:
    """A fair renewal: 3 GB a month on 20 GB → a smaller bundle that costs less."""
    ctx = customer([3.1, 2.8, 3.3], 1.9, bundle_gb=20, plan_id="data-20gb")
    choice = select_renewal(catalogue(), ctx, NOW)
    assert choice is not None
    new, old = bundle(choice.offer_id), bundle("data-20gb")
    assert new.data_mb < old.data_mb  # type: ignore[operator]
    assert new.monthly_eur < old.monthly_eur  # type: ignore[union-attr]
    assert choice.customer_value > 0
    assert choice.org_revenue_delta < 0  # good for the customer, less for us: still proposed


def test_renewal_with_heavy_usage_proposes_a_bigger_bundle() -> None:
    """A renewal follows usage both ways: 14 GB a month on 10 GB → 20 GB."""
    ctx = customer([14.0, 13.5, 14.2], 9.0, bundle_gb=10, plan_id="data-10gb")
    choice = select_renewal(catalogue(), ctx, NOW)
    assert choice is not None and choice.offer_id == "data-20gb"


def test_renewal_without_usage_history_has_no_offer() -> None:
    """Nothing known about usage: no renewal suggestion."""
    assert select_renewal(catalogue(), CustomerContext("C1", plan_id="data-5gb"), NOW) is None


def test_current_bundle_by_plan_or_by_size() -> None:
    """The current bundle comes from the plan id, else from the cycle's bundle size."""
    assert current_bundle(catalogue(), customer([], 1.0, plan_id="data-5gb")).id == "data-5gb"  # type: ignore[union-attr]
    by_size = customer([], 1.0, bundle_gb=10, plan_id=None)
    assert current_bundle(catalogue(), by_size).id == "data-10gb"  # type: ignore[union-attr]


def test_select_offer_dispatches_and_refuses_unknown_selector() -> None:
    """The named selector runs; an unknown name is an error."""
    ctx = customer([7.0, 6.8, 7.2], 4.6)
    assert select_offer("best_fit_bundle", catalogue(), ctx, NOW) == select_best_fit(
        catalogue(), ctx, NOW, "addon"
    )
    with pytest.raises(ValueError, match="cheapest"):
        select_offer("cheapest", catalogue(), ctx, NOW)
