"""An in-memory engine for tests, Gherkin scenarios and dry runs.

It runs the real pipeline — real rules, real policy, real SQLite store (in memory) —
with events built from a few keywords, and keeps every output in lists::

    h = Harness()
    h.profile("C1", language="en", preferred_channel="app_inbox")
    h.event("usage.data", "C1", "2026-05-20T10:00:00Z", used_mb=4700, bundle_mb=5120,
            cycle_start="2026-05-01", cycle_end="2026-06-01")
    h.notifications  # what would have been sent
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proactive.context import CustomerContext
from proactive.errors import EventError
from proactive.ethics.check import EthicsCheck
from proactive.ethics.policy import load_policy
from proactive.events import Event, parse_event
from proactive.pipeline import Engine, Outputs
from proactive.rules import load_ruleset
from proactive.sinks import MemorySink
from proactive.store import ContextStore

ROOT = Path(__file__).resolve().parent.parent


class Harness:
    """The real engine over an in-memory store, fed event by event."""

    def __init__(self, rules_dir: Path | None = None, policy: Path | None = None) -> None:
        self.rules_dir = Path(rules_dir or ROOT / "rules")
        self.policy_path = Path(policy or ROOT / "ethics" / "policy.yaml")
        self.decisions_sink = MemorySink()
        self.notifications_sink = MemorySink()
        self.dead_letters_sink = MemorySink()
        self.store = ContextStore("sqlite:///:memory:")
        self.engine = Engine(
            load_ruleset(self.rules_dir),
            EthicsCheck(load_policy(self.policy_path)),
            self.store,
            Outputs(self.decisions_sink, self.notifications_sink, self.dead_letters_sink),
            batch_size=1,
        )
        self._ids = itertools.count(1)
        self.last_time: datetime | None = None
        self.trail: list[tuple[Event, CustomerContext]] = []
        """Every accepted event with a copy of its customer's context just before it: what
        :func:`proactive.authoring.why` needs to say afterwards why a rule did (not) fire."""

    @property
    def decisions(self) -> list[dict[str, Any]]:
        """Every decision record so far."""
        return self.decisions_sink.records

    @property
    def notifications(self) -> list[dict[str, Any]]:
        """Every notification so far."""
        return self.notifications_sink.records

    @property
    def dead_letters(self) -> list[dict[str, Any]]:
        """Every dead-letter record so far."""
        return self.dead_letters_sink.records

    def raw(self, line: str) -> None:
        """Feed one raw line, exactly as it would arrive."""
        self.engine.process_batch([(line, f"harness:{next(self._ids)}")])

    def event(self, etype: str, customer: str, time: str | datetime, **data: Any) -> str:
        """Feed one event; returns its id."""
        import orjson

        when = (
            time
            if isinstance(time, datetime)
            else datetime.fromisoformat(time.replace("Z", "+00:00"))
        )
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        eid = f"h-{next(self._ids):06d}"
        ce = {
            "specversion": "1.0",
            "id": eid,
            "source": "/harness",
            "type": etype,
            "subject": customer,
            "time": when.isoformat(),
            "data": data,
        }
        line = orjson.dumps(ce, default=str).decode()
        try:
            parsed: Event | None = parse_event(line)
        except EventError:
            parsed = None  # the engine dead-letters it; nothing to explain
        before = self._snapshot(customer) if parsed is not None else None
        refused = len(self.dead_letters)
        self.engine.process_batch([(line, f"harness:{eid}")])
        if parsed is not None and before is not None and len(self.dead_letters) == refused:
            self.trail.append((parsed, before))
        self.last_time = when
        return eid

    def _snapshot(self, customer: str) -> CustomerContext:
        # peek without creating: Engine._context would cache an empty context
        ctx = self.engine._cache.get(customer)
        if ctx is None:
            ctx = self.store.load([customer]).get(customer)
        return copy.deepcopy(ctx) if ctx is not None else CustomerContext(customer)

    def advance(self, time: str | datetime) -> None:
        """Let the clock run to ``time``: deferred messages due by then are checked and released."""
        when = (
            time
            if isinstance(time, datetime)
            else datetime.fromisoformat(time.replace("Z", "+00:00"))
        )
        self.engine._stream_time = max(self.engine._stream_time or when, when)
        self.engine.finish()

    def context(self, customer: str) -> Any:
        """The engine's current context of a customer."""
        return self.engine._context(customer)

    def decisions_for(self, customer: str, rule: str | None = None) -> list[dict[str, Any]]:
        """Decision records of one customer (and rule)."""
        return [
            d
            for d in self.decisions
            if d["customer_id"] == customer and (rule is None or d["rule_id"] == rule)
        ]

    def notifications_for(self, customer: str, rule: str | None = None) -> list[dict[str, Any]]:
        """Notifications of one customer (and rule)."""
        return [
            n
            for n in self.notifications
            if n["subject"] == customer and (rule is None or n["data"]["rule_id"] == rule)
        ]
