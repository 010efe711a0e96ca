"""Tests for the synthetic event stream in proactive.generate."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from proactive.errors import EventError
from proactive.events import (
    PAYLOADS,
    DataUsage,
    Event,
    OutageResolved,
    OutageStarted,
    parse_event,
)
from proactive.generate import PLANS, generate_lines

OFFERS = Path(__file__).resolve().parent.parent / "rules" / "offers.yaml"


def _parse_all(lines: list[str]) -> tuple[list[Event], list[EventError]]:
    good: list[Event] = []
    bad: list[EventError] = []
    for line in lines:
        try:
            good.append(parse_event(line))
        except EventError as exc:
            bad.append(exc)
    return good, bad


@pytest.fixture(scope="module")
def stream() -> list[str]:
    return list(generate_lines(customers=500, events=5000, seed=7))


@pytest.fixture(scope="module")
def parsed(stream: list[str]) -> tuple[list[Event], list[EventError]]:
    return _parse_all(stream)


@pytest.fixture(scope="module")
def long_stream() -> list[Event]:
    """Few customers over many days, so billing cycles roll over."""
    good, _ = _parse_all(list(generate_lines(customers=40, events=4000, seed=3)))
    return good


def test_same_arguments_give_identical_lines(stream: list[str]) -> None:
    assert list(generate_lines(customers=500, events=5000, seed=7)) == stream


def test_other_seed_gives_other_content(stream: list[str]) -> None:
    other = list(generate_lines(customers=500, events=5000, seed=8))

    def content(lines: list[str]) -> list[str]:
        # Ids carry the seed, so compare what remains to be sure the simulation differs.
        return [line.split('"source"', 1)[-1] for line in lines]

    assert content(other) != content(stream)


@pytest.mark.parametrize("events", [0, 1, 199, 200, 1234])
def test_exact_line_count(events: int) -> None:
    lines = list(generate_lines(customers=30, events=events, seed=1))
    assert len(lines) == events
    assert all(line and not line.endswith("\n") for line in lines)


def test_more_customers_than_events_still_stops_exactly() -> None:
    assert len(list(generate_lines(customers=2000, events=300, seed=2))) == 300


def test_all_fourteen_types_present(parsed: tuple[list[Event], list[EventError]]) -> None:
    types = Counter(ev.type for ev in parsed[0])
    assert set(types) == set(PAYLOADS)
    assert types["usage.data"] > types["billing.invoice_issued"] > types["customer.life_event"]


@pytest.mark.parametrize("seed", [1, 2, 42])
def test_all_types_present_for_other_seeds(seed: int) -> None:
    good, _ = _parse_all(list(generate_lines(customers=500, events=5000, seed=seed)))
    assert {ev.type for ev in good} == set(PAYLOADS)


def test_a_few_malformed_lines_of_each_kind(
    stream: list[str], parsed: tuple[list[Event], list[EventError]]
) -> None:
    good, bad = parsed
    assert 1 <= len(bad) <= 8
    assert len(good) + len(bad) == len(stream)
    assert {e.reason for e in bad} == {"malformed_json", "unknown_type", "schema_violation"}


def test_at_least_one_malformed_line_from_200_events() -> None:
    for seed in range(5):
        _, bad = _parse_all(list(generate_lines(customers=50, events=200, seed=seed)))
        assert bad, f"seed {seed}"


def test_event_ids_unique_and_times_in_utc(stream: list[str]) -> None:
    objs = [json.loads(line) for line in stream if line.endswith("}")]
    ids = [o["id"] for o in objs if isinstance(o, dict)]
    assert len(ids) == len(set(ids))
    assert all(o["time"].endswith("Z") for o in objs)


def test_times_non_decreasing(parsed: tuple[list[Event], list[EventError]]) -> None:
    times = [ev.time for ev in parsed[0]]
    assert times == sorted(times)
    assert times[0].date() == date(2026, 3, 1)
    assert times[-1] > datetime(2026, 3, 5, tzinfo=UTC)


def test_profile_then_consent_come_first(parsed: tuple[list[Event], list[EventError]]) -> None:
    seen: dict[str, list[str]] = defaultdict(list)
    for ev in parsed[0]:
        seen[ev.customer_id].append(ev.type)
    assert len(seen) == 500
    for types in seen.values():
        assert types[0] == "customer.profile_updated"
        assert types[1] == "customer.consent_changed"


def test_some_events_at_night(parsed: tuple[list[Event], list[EventError]]) -> None:
    hours = Counter(ev.time.hour for ev in parsed[0])
    night = sum(hours[h] for h in range(6))
    assert night > 0
    assert night < sum(hours[h] for h in range(9, 18))  # but daytime is busier


def test_usage_monotone_within_a_cycle_and_reset_after(long_stream: list[Event]) -> None:
    last: dict[str, tuple[date, float]] = {}
    resets = 0
    for ev in long_stream:
        if not isinstance(ev.data, DataUsage):
            continue
        usage = ev.data
        assert usage.cycle_start.day == 1 and usage.cycle_end.day == 1
        assert usage.cycle_start <= ev.time.date() < usage.cycle_end
        prev = last.get(ev.customer_id)
        if prev is not None and prev[0] == usage.cycle_start:
            assert usage.used_mb >= prev[1], ev.customer_id
        elif prev is not None:
            assert usage.cycle_start > prev[0]
            resets += 1
        last[ev.customer_id] = (usage.cycle_start, usage.used_mb)
    assert resets > 0


def test_bundle_matches_plan_and_usage_profiles_vary(long_stream: list[Event]) -> None:
    peak: dict[tuple[str, date], float] = {}
    for ev in long_stream:
        if isinstance(ev.data, DataUsage):
            assert ev.data.plan_id is not None
            assert ev.data.bundle_mb == PLANS[ev.data.plan_id][0]
            key = (ev.customer_id, ev.data.cycle_start)
            peak[key] = max(peak.get(key, 0.0), ev.data.used_mb / ev.data.bundle_mb)
    # Full March cycle: some customers run over their bundle, some stay far below it.
    march = [v for (_, cycle), v in peak.items() if cycle == date(2026, 3, 1)]
    assert any(v >= 1.0 for v in march)
    assert any(0.8 <= v < 1.0 for v in march)
    assert any(v < 0.4 for v in march)


def test_outages_resolve_for_the_same_customers(long_stream: list[Event]) -> None:
    started: dict[str, set[str]] = defaultdict(set)
    resolved: dict[str, set[str]] = defaultdict(set)
    for ev in long_stream:
        if isinstance(ev.data, OutageStarted):
            started[ev.data.outage_id].add(ev.customer_id)
        elif isinstance(ev.data, OutageResolved):
            assert ev.time >= ev.data.resolved_at
            resolved[ev.data.outage_id].add(ev.customer_id)
    assert started
    for ref, who in resolved.items():
        assert who <= started[ref]
    complete = [ref for ref in resolved if resolved[ref] == started[ref]]
    assert complete


def test_plans_mirror_the_offer_catalogue() -> None:
    offers = yaml.safe_load(OFFERS.read_text(encoding="utf-8"))
    catalogue = {b["id"]: (b["data_mb"], b["monthly_eur"]) for b in offers["bundles"]}
    assert catalogue == PLANS


def test_start_in_another_zone_and_mid_day() -> None:
    start = datetime(2026, 1, 31, 13, 30, tzinfo=ZoneInfo("Europe/Amsterdam"))
    good, _ = _parse_all(list(generate_lines(customers=20, events=600, seed=5, start=start)))
    assert good[0].time >= start
    assert [ev.time for ev in good] == sorted(ev.time for ev in good)
    cycles = {ev.data.cycle_start for ev in good if isinstance(ev.data, DataUsage)}
    assert date(2026, 2, 1) in cycles


def test_invalid_arguments_rejected() -> None:
    with pytest.raises(ValueError):
        generate_lines(customers=0, events=10)
    with pytest.raises(ValueError):
        generate_lines(customers=10, events=-1)


@pytest.mark.slow
def test_large_stream_completes() -> None:
    began = time.perf_counter()
    count = 0
    last = ""
    for line in generate_lines(customers=10_000, events=200_000, seed=11):
        count += 1
        last = line
    print(f"200k events for 10k customers in {time.perf_counter() - began:.2f} s")
    assert count == 200_000
    assert parse_event(last).time.date() > date(2026, 3, 10)
