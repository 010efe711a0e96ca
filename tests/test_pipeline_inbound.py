"""When ``Engine.run`` drains the customers' waiting choices (the preference page's
``inbound_events``): after the next chunk is read from the source and before it is
processed, so a choice made while the source was blocked counts for that very chunk;
and once more when the source has ended, so nothing is left waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_preferences import customer, june
from test_review import T0, check, rules

from proactive.pipeline import Engine, Outputs, RawEvent
from proactive.preferences import PAGE_SOURCE
from proactive.sinks import MemorySink
from proactive.store import ContextStore, sqlite_url

PRESSED = T0 + timedelta(days=2)
BUNDLE = "data-bundle-nearly-used"


class Run:
    def __init__(self, tmp_path: Path) -> None:
        self.store = ContextStore(sqlite_url(tmp_path / "state.sqlite"))
        self.notifications = MemorySink()
        self.decisions = MemorySink()
        self.engine = Engine(
            rules(),
            check(),
            self.store,
            Outputs(self.decisions, self.notifications, MemorySink()),
            batch_size=1,
        )

    def choose(self, n: int, etype: str, **data: Any) -> None:
        """The page records a choice of C1 (as ``proactive.web.customer`` writes it)."""
        event = {
            "specversion": "1.0",
            "id": f"pref-{n}",
            "source": PAGE_SOURCE,
            "type": etype,
            "subject": "C1",
            "time": PRESSED.isoformat(),
            "datacontenttype": "application/json",
            "data": data,
        }
        self.store.add_inbound(event, PRESSED)

    def purposes(self) -> list[str]:
        return [str(n["data"]["purpose"]) for n in self.notifications.records]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    r = Run(tmp_path)
    yield r
    r.store.close()


def source(lines: list[str], before: dict[int, Any] | None = None) -> Iterator[RawEvent]:
    """The lines as a source; ``before[i]()`` runs while the engine waits for line ``i``
    (as if the source blocked until it came)."""
    for i, line in enumerate(lines):
        if before and i in before:
            before[i]()
        yield line, f"test:{i}"


def test_a_choice_made_while_the_source_waits_counts_for_the_next_event(run: Run) -> None:
    """The customer objects to direct marketing while the engine waits for the next
    event; that event is June's 90% warning with an offer: the offer is blocked."""
    lines = [*customer(), june()[1]]
    stop = lambda: run.choose(1, "customer.consent_changed", objection_direct_marketing=True)  # noqa: E731
    run.engine.run(source(lines, {len(lines) - 1: stop}))
    # May's offer, before the choice; in June only the notice without the offer
    assert run.purposes() == ["commercial", "service"]
    june_bundle = [
        d for d in run.decisions.records if d["rule_id"] == BUNDLE and "-2026-06" in d["event_id"]
    ]
    offer = june_bundle[0]
    assert offer["verdict"] == "block"
    assert "objection_direct_marketing" in str(offer["reasons"])
    assert run.store.inbound() == []


def test_without_the_choice_the_same_event_gets_the_offer(run: Run) -> None:
    """The control: the June offer is sent when nobody objected."""
    run.engine.run(source([*customer(), june()[1]]))
    assert run.purposes() == ["commercial", "commercial"]


def test_choices_still_waiting_when_the_source_ends_are_drained(run: Run) -> None:
    """Three choices (more than a batch) arrive after the last event: all are applied
    before ``run`` returns."""

    def after_the_last() -> Iterator[RawEvent]:
        yield from source(customer())
        run.choose(1, "customer.preferences_changed", stop_rule=BUNDLE)
        run.choose(2, "customer.preferences_changed", callback_requested=True)
        run.choose(3, "customer.profile_updated", preferred_channel="email")

    run.engine.run(after_the_last())
    assert run.store.inbound() == []
    ctx = run.store.load(["C1"])["C1"]
    assert set(ctx.stopped_rules) == {BUNDLE}
    assert ctx.callback_requested_at == PRESSED
    assert ctx.preferred_channel == "email"
