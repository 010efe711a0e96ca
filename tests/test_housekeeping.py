"""The running service's retention purge (proactive.housekeeping.Housekeeper).

A real SQLite store holds the customers of ``test_gdpr`` (decisions with message texts,
a review approval, a dead letter), made the real way by the embedded engine; a fake
wall clock moves the housekeeper through the days.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from test_gdpr import (
    APPROVED_AT,
    KIM,
    KIM_NAME,
    RETENTION,
    SAM,
    SAM_NAME,
    T0,
    ClockedRun,
    held,
    later,
    with_retention,
)
from test_review import check, rules

from proactive import housekeeping
from proactive.errors import StoreError
from proactive.ethics.policy import Policy
from proactive.gdpr import ERASURE_CHAIN
from proactive.housekeeping import Housekeeper
from proactive.store import ContextStore, sqlite_url

DAY = timedelta(days=1)


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Policies:
    """The policy in force, as ``lambda: engine.check.policy`` gives it; counts the looks."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.looks = 0

    def __call__(self) -> Policy:
        self.looks += 1
        return self.policy


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClockedRun]:
    """Sam and Kim as in ``test_gdpr``: decisions of 20 May, an approval, a dead letter."""
    monkeypatch.delenv("PROACTIVE_STORE_URL", raising=False)
    out = tmp_path / "out"
    out.mkdir()
    r = ClockedRun(out, ContextStore(sqlite_url(out / "state.sqlite")), rules(), check())
    r.feed(held())
    outcome = r.approve(SAM, at=APPROVED_AT, reason=f"{SAM_NAME} asked for it in the shop")
    assert outcome.action == "approved", outcome.reasons
    r.feed(later())
    yield r
    r.store.close()


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_purges_at_start_not_again_before_the_interval_and_again_after(
    run: ClockedRun, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(T0 + 10 * DAY)
    policies = Policies(with_retention(dead_letters_days=7))
    registry = CollectorRegistry()
    keeper = Housekeeper(run.store, policies, clock=clock, registry=registry)
    caplog.set_level(logging.INFO, logger="proactive.housekeeping")

    # at start: the dead letter (7 days) goes at once
    assert keeper.due()
    first = keeper.maybe_purge()
    assert first is not None and first.removed["dead_letters"] == 1
    assert run.store.counts()["dead_letters"] == 0
    assert keeper.last_run == clock.at and policies.looks == 1

    # a minute short of 24 hours later: not due, the store is not touched
    clock.at += DAY - timedelta(minutes=1)
    assert not keeper.due()
    assert keeper.maybe_purge() is None
    assert policies.looks == 1

    # the policy in force changes (hot reload): the next purge uses the new one
    policies.policy = with_retention(**RETENTION)
    with_text = sum(1 for d in run.decisions() if d["message"] is not None)
    assert with_text > 0
    clock.at = T0 + 70 * DAY  # past the interval, and past the 60 days of message text
    again = keeper.maybe_purge()
    assert again is not None and policies.looks == 2
    assert again.redacted == with_text + 1  # the decisions' texts and the approval's hash
    assert all(d["message"] is None for d in run.store.decision_records("main"))
    assert {e["kind"] for e in run.store.decision_records(ERASURE_CHAIN)} == {"retention"}

    # the interval runs from the last purge
    clock.at += timedelta(hours=23)
    assert keeper.maybe_purge() is None and policies.looks == 2

    # counted, and logged as counts without anything personal
    assert sample(registry, "proactive_retention_purges_total", result="ok") == 2
    assert sample(registry, "proactive_retention_purges_total", result="failed") == 0
    assert sample(registry, "proactive_retention_purged_total", what="dead_letters") == 1
    assert sample(registry, "proactive_retention_purged_total", what="redacted") == with_text + 1
    lines = [r.getMessage() for r in caplog.records]
    assert any("dead_letters 1" in line for line in lines), lines
    assert any(f"redacted {with_text + 1}" in line for line in lines), lines
    for secret in (SAM, KIM, SAM_NAME, KIM_NAME):
        assert secret not in caplog.text


def test_a_failing_purge_is_logged_and_retried_at_the_next_interval(
    run: ClockedRun, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(T0 + 10 * DAY)
    registry = CollectorRegistry()
    keeper = Housekeeper(
        run.store,
        lambda: with_retention(dead_letters_days=7),
        clock=clock,
        interval=timedelta(hours=6),
        registry=registry,
    )
    real_purge = housekeeping.purge

    def broken(*args: object, **kwargs: object) -> object:
        raise StoreError("database is locked")

    monkeypatch.setattr(housekeeping, "purge", broken)
    assert keeper.maybe_purge() is None  # no exception reaches the service
    failed = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in failed] == ["retention purge failed; next attempt in 6:00:00"]
    assert failed[0].exc_info is not None and isinstance(failed[0].exc_info[1], StoreError)
    assert sample(registry, "proactive_retention_purges_total", result="failed") == 1
    assert run.store.counts()["dead_letters"] == 1  # nothing happened

    # not retried before the interval, even though the last one failed
    monkeypatch.setattr(housekeeping, "purge", real_purge)
    clock.at += timedelta(hours=5)
    assert keeper.maybe_purge() is None
    assert run.store.counts()["dead_letters"] == 1

    clock.at += timedelta(hours=1)
    result = keeper.maybe_purge()
    assert result is not None and result.removed["dead_letters"] == 1
    assert sample(registry, "proactive_retention_purges_total", result="ok") == 1


def test_a_policy_that_cannot_be_read_is_a_failed_purge_too(run: ClockedRun) -> None:
    def unreadable() -> Policy:
        raise RuntimeError("no policy")

    keeper = Housekeeper(run.store, unreadable, clock=Clock(T0))
    assert keeper.maybe_purge() is None
    assert not keeper.due()


def test_no_retention_in_the_policy_purges_nothing(
    run: ClockedRun, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="proactive.housekeeping")
    policy = check().policy.model_copy(update={"retention": None})
    result = Housekeeper(run.store, lambda: policy, clock=Clock(T0 + 999 * DAY)).maybe_purge()
    assert result is not None and result.records == []
    assert run.store.counts()["dead_letters"] == 1
    assert "no retention periods" in caplog.text


def test_housekeepers_share_a_registry_and_need_a_positive_interval(run: ClockedRun) -> None:
    registry = CollectorRegistry()
    policy: Callable[[], Policy] = lambda: with_retention(dead_letters_days=7)  # noqa: E731
    for _ in range(2):  # e.g. a service restarted in the same process
        Housekeeper(run.store, policy, clock=Clock(T0 + 10 * DAY), registry=registry).maybe_purge()
    assert sample(registry, "proactive_retention_purges_total", result="ok") == 2
    assert sample(registry, "proactive_retention_purged_total", what="dead_letters") == 1
    with pytest.raises(ValueError, match="positive"):
        Housekeeper(run.store, policy, interval=timedelta(0))
