"""Decision records (proactive.decisions): the hash chain and deterministic ids."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from proactive.candidates import Candidate, build_candidate
from proactive.context import CustomerContext, apply_event
from proactive.decisions import (
    build_record,
    decision_id,
    notification_id,
    seal,
    verify_chain,
    window_key,
)
from proactive.ethics.check import EthicsCheck
from proactive.ethics.policy import DIMENSIONS, load_policy
from proactive.events import Event
from proactive.facts import ALL_GROUPS, build_facts
from proactive.harness import Harness
from proactive.rules import RuleSet, load_ruleset

REPO = Path(__file__).resolve().parent.parent
GENESIS = "0" * 64


@cache
def ruleset() -> RuleSet:
    return load_ruleset(REPO / "rules")


@cache
def check() -> EthicsCheck:
    return EthicsCheck(load_policy(REPO / "ethics" / "policy.yaml"))


def candidate(rule_id: str, ev: Event, ctx: CustomerContext | None = None) -> Candidate:
    """The real candidate the pipeline would build for ``rule_id`` on ``ev``."""
    ctx = ctx or CustomerContext(ev.customer_id, language="nl", preferred_channel="sms")
    apply_event(ctx, ev)
    rs = ruleset()
    facts = build_facts(ev, ctx, ALL_GROUPS)
    return build_candidate(rs.rule(rule_id), ev, ctx, facts, rs, check().policy)


def record_for(c: Candidate) -> dict[str, Any]:
    a = check().assess(c, ruleset())
    return build_record(
        c,
        a,
        rules_revision=ruleset().revision,
        ethics_revision=check().revision,
        mask_message=False,
    )


@pytest.fixture
def chain(make_harness: Callable[..., Harness]) -> list[dict[str, Any]]:
    """Sealed decision records from the real engine: outages, a payment, a roaming notice."""
    h = make_harness()
    h.event(
        "customer.profile_updated",
        "C1",
        "2026-05-01T09:00:00Z",
        language="en",
        preferred_channel="sms",
    )
    h.event(
        "service.outage_started",
        "C1",
        "2026-05-20T10:00:00Z",
        outage_id="O1",
        area="NL-20",
        services=["data"],
    )
    h.event(
        "service.outage_resolved",
        "C1",
        "2026-05-20T12:00:00Z",
        outage_id="O1",
        resolved_at="2026-05-20T11:55:00Z",
    )
    h.event(
        "billing.payment_failed", "C2", "2026-05-20T13:00:00Z", invoice_id="I-9", amount_eur=41.0
    )
    h.event("usage.roaming_started", "C3", "2026-05-21T09:00:00Z", country="BE", zone="eu")
    assert len(h.decisions) >= 4
    return copy.deepcopy(h.decisions)


def records(n: int) -> list[dict[str, Any]]:
    """``n`` small records sealed into a chain."""
    prev, out = GENESIS, []
    for i in range(n):
        rec = seal(
            {
                "decision_id": f"d{i}",
                "verdict": "send",
                "reasons": [f"r{i}"],
                "scores": {"trust": {"score": 0.9}},
            },
            prev,
        )
        prev = rec["hash"]
        out.append(rec)
    return out


def test_chain_from_the_engine_verifies(chain: list[dict[str, Any]]) -> None:
    """The engine's records link up from the genesis hash and each hash matches its content."""
    assert verify_chain(chain) is None
    assert chain[0]["prev_hash"] == GENESIS
    for prev, rec in pairwise(chain):
        assert rec["prev_hash"] == prev["hash"]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("verdict",), "block"),
        (("reasons",), []),
        (("customer_id",), "C999"),
        (("scores", "trust", "score"), 0.1),
        (("message", "body"), "Something else"),
    ],
)
def test_altering_one_field_is_detected_at_that_record(
    chain: list[dict[str, Any]], path: tuple[str, ...], value: Any
) -> None:
    """Changing one stored field of record 1 breaks the chain exactly there."""
    target = chain[1]
    for key in path[:-1]:
        target = target[key]
    assert target[path[-1]] != value
    target[path[-1]] = value
    broken = verify_chain(chain)
    assert broken is not None
    assert broken.index == 1
    assert broken.decision_id == chain[1]["decision_id"]
    assert "altered" in broken.problem


def test_recomputing_the_hash_of_an_altered_record_breaks_the_next_link(
    chain: list[dict[str, Any]],
) -> None:
    """Re-sealing a forged record does not help: the following record no longer links."""
    chain[1]["verdict"] = "send" if chain[1]["verdict"] != "send" else "block"
    seal(chain[1], chain[1]["prev_hash"])
    broken = verify_chain(chain)
    assert broken is not None and broken.index == 2
    assert "prev_hash" in broken.problem


def test_removing_a_record_is_detected(chain: list[dict[str, Any]]) -> None:
    """Deleting record 1 makes record 2 point at a hash that is no longer there."""
    removed = chain.pop(1)
    broken = verify_chain(chain)
    assert broken is not None
    assert broken.index == 1
    assert broken.decision_id != removed["decision_id"]


def test_removing_the_first_record_is_detected() -> None:
    """The chain starts at the genesis hash: dropping the head is visible too."""
    recs = records(4)
    assert verify_chain(recs) is None
    broken = verify_chain(recs[1:])
    assert broken is not None and broken.index == 0


def test_reordering_records_is_detected() -> None:
    """Swapping two records breaks the chain."""
    recs = records(4)
    recs[1], recs[2] = recs[2], recs[1]
    broken = verify_chain(recs)
    assert broken is not None and broken.index == 1


def test_seal_is_canonical_over_key_order() -> None:
    """The hash does not depend on the order keys were written in."""
    a = seal({"a": 1, "b": [1, 2], "c": {"x": 1, "y": 2}}, GENESIS)
    b = seal({"c": {"y": 2, "x": 1}, "b": [1, 2], "a": 1}, GENESIS)
    assert a["hash"] == b["hash"]
    assert seal({"a": 2, "b": [1, 2], "c": {"x": 1, "y": 2}}, GENESIS)["hash"] != a["hash"]


def test_decision_id_is_deterministic() -> None:
    """Same trigger, rule and variant → same id; any difference → a different id."""
    base = decision_id("evt-1", "outage-started", "primary")
    assert decision_id("evt-1", "outage-started", "primary") == base
    others = {
        decision_id("evt-2", "outage-started", "primary"),
        decision_id("evt-1", "outage-resolved", "primary"),
        decision_id("evt-1", "outage-started", "without_offer"),
        decision_id("evt-1", "outage-started", "released", "d-original"),
    }
    assert base not in others and len(others) == 4


def test_notification_id_is_the_same_within_a_billing_cycle(
    make_event: Callable[..., Event],
) -> None:
    """The bundle warning's window is the billing cycle: two triggers in May share an id,
    a trigger in June gets another."""

    def usage(at: str, start: str, end: str) -> Event:
        return make_event(
            "usage.data", "C1", at, used_mb=4700, bundle_mb=5120, cycle_start=start, cycle_end=end
        )

    may_a = candidate(
        "data-bundle-nearly-used", usage("2026-05-20T10:00:00Z", "2026-05-01", "2026-06-01")
    )
    may_b = candidate(
        "data-bundle-nearly-used", usage("2026-05-24T10:00:00Z", "2026-05-01", "2026-06-01")
    )
    june = candidate(
        "data-bundle-nearly-used", usage("2026-06-25T10:00:00Z", "2026-06-01", "2026-07-01")
    )
    assert window_key(may_a) == "cycle:2026-05-01"
    assert notification_id(may_a) == notification_id(may_b)
    assert notification_id(june) != notification_id(may_a)


def test_notification_id_per_event_window(make_event: Callable[..., Event]) -> None:
    """Outage notices have an event window: each outage event its own id; a rebuild of the
    same event gives the same id again."""
    ev1 = make_event(
        "service.outage_started",
        "C1",
        "2026-05-20T10:00:00Z",
        outage_id="O1",
        area="NL-20",
        services=["data"],
    )
    ev2 = make_event(
        "service.outage_started",
        "C1",
        "2026-05-20T10:05:00Z",
        outage_id="O2",
        area="NL-20",
        services=["data"],
    )
    a, again, b = (candidate("outage-started", e) for e in (ev1, ev1, ev2))
    assert notification_id(a) == notification_id(again)
    assert notification_id(a) != notification_id(b)


def test_notification_id_per_cooldown_window_and_customer(make_event: Callable[..., Event]) -> None:
    """Roaming notices (cooldown window of 14 days): same window same id, next window and
    another customer different ids."""

    def roam(customer: str, at: str) -> Candidate:
        return candidate(
            "roaming-cost-info",
            make_event("usage.roaming_started", customer, at, country="FR", zone="eu"),
        )

    first = roam("C1", "2026-05-20T10:00:00Z")
    key = window_key(first)
    bucket = int(key.split(":")[1])
    seconds = 14 * 24 * 3600
    same_window = datetime.fromtimestamp((bucket + 1) * seconds - 60, UTC).isoformat()
    next_window = datetime.fromtimestamp((bucket + 1) * seconds + 60, UTC).isoformat()
    assert notification_id(roam("C1", same_window)) == notification_id(first)
    assert notification_id(roam("C1", next_window)) != notification_id(first)
    assert notification_id(roam("C2", "2026-05-20T10:00:00Z")) != notification_id(first)


def test_record_holds_every_dimension_and_is_deterministic(
    make_event: Callable[..., Event],
) -> None:
    """A record carries all eight scores with reasons, and rebuilding it gives the same
    record and hash (replays are byte-identical)."""
    ev = make_event(
        "service.outage_started",
        "C1",
        "2026-05-20T10:00:00Z",
        outage_id="O1",
        area="NL-20",
        services=["data"],
    )
    rec1 = record_for(candidate("outage-started", ev))
    rec2 = record_for(candidate("outage-started", ev))
    assert list(rec1["scores"]) == list(DIMENSIONS)
    for d in DIMENSIONS:
        assert 0.0 <= rec1["scores"][d]["score"] <= 1.0
    assert rec1["decision_id"] == decision_id(ev.id, "outage-started", "primary")
    assert rec1["verdict"] in ("send", "defer", "review", "block") and rec1["reasons"]
    assert seal(rec1, GENESIS)["hash"] == seal(rec2, GENESIS)["hash"]


def test_masked_record_keeps_only_a_hash_of_the_message(make_event: Callable[..., Event]) -> None:
    """With masking on, the record holds the SHA-256 of the text, not the text."""
    ev = make_event(
        "billing.payment_failed", "C1", "2026-05-20T10:00:00Z", invoice_id="I-1", amount_eur=41.0
    )
    c = candidate("payment-failed-support", ev)
    rec = build_record(
        c, check().assess(c, ruleset()), rules_revision="r", ethics_revision="e", mask_message=True
    )
    assert set(rec["message"]) == {"sha256"}
    assert len(rec["message"]["sha256"]) == 64
    assert "41" not in str(rec["message"])
