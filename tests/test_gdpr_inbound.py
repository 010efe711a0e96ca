"""Export and forget cover the choices a customer made on the preference page that still
wait for the engine (the ``inbound_events`` table, drained by ``Engine.drain_inbound``).

A waiting choice is the customer's by its CloudEvent ``subject``, exactly: another
customer whose id starts the same (``C1`` and ``C10``), or an event that merely mentions
the id somewhere in its JSON, is not theirs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_review import check, rules

from proactive.audit import verify
from proactive.gdpr import ERASURE_CHAIN, export_customer, forget
from proactive.pipeline import Engine, Outputs
from proactive.preferences import PAGE_SOURCE
from proactive.sinks import MemorySink
from proactive.store import ContextStore, sqlite_url

AT = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


def choice(event_id: str, subject: str, **data: Any) -> dict[str, Any]:
    """A choice as the preference page writes it (``proactive.web.customer._event``)."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": PAGE_SOURCE,
        "type": "customer.preferences_changed",
        "subject": subject,
        "time": AT.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": data or {"callback_requested": True},
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ContextStore]:
    """C1 with two waiting choices; C10 (same prefix) and C2 (whose event id and data
    mention C1) with one each."""
    s = ContextStore(sqlite_url(tmp_path / "state.sqlite"))
    s.add_inbound(choice("pref-a", "C1"), AT)
    s.add_inbound(choice("pref-b", "C10"), AT)
    s.add_inbound(choice("pref-C1-c", "C2", stop_rule="C1"), AT + timedelta(minutes=1))
    s.add_inbound(
        choice("pref-d", "C1", stop_rule="data-bundle-nearly-used"), AT + timedelta(minutes=2)
    )
    yield s
    s.close()


def waiting(store: ContextStore) -> list[str]:
    """The ids of the events still waiting."""
    return [orjson.loads(raw)["id"] for _, raw in store.inbound()]


def test_export_holds_the_customers_waiting_choices_and_no_one_elses(
    store: ContextStore,
) -> None:
    data = export_customer(store, "C1", now=AT)
    held = data["inbound_events"]
    assert [e["event_id"] for e in held] == ["pref-a", "pref-d"]
    assert all(e["event"]["subject"] == "C1" for e in held)
    assert held[1]["event"]["data"] == {"stop_rule": "data-bundle-nearly-used"}
    assert held[0]["received_at"] == AT.isoformat()
    assert [e["event_id"] for e in export_customer(store, "C10")["inbound_events"]] == ["pref-b"]
    assert [e["event_id"] for e in export_customer(store, "C2")["inbound_events"]] == ["pref-C1-c"]
    assert export_customer(store, "C")["inbound_events"] == []


def test_forget_deletes_the_waiting_choices_and_counts_them(store: ContextStore) -> None:
    erasure = forget(store, "C1", now=AT, requested_by="dpo")
    assert erasure.found  # a waiting choice alone is something held on the customer
    assert erasure.removed["inbound_events"] == 2
    (record,) = store.decision_records(ERASURE_CHAIN)
    assert record["removed"]["inbound_events"] == 2
    assert waiting(store) == ["pref-b", "pref-C1-c"]  # the others' choices wait on
    assert export_customer(store, "C1")["inbound_events"] == []
    assert verify(store).ok

    again = forget(store, "C1", now=AT, requested_by="dpo")
    assert again.removed["inbound_events"] == 0 and not again.found


def test_an_engine_draining_after_forget_does_not_bring_the_customer_back(
    store: ContextStore,
) -> None:
    forget(store, "C1", now=AT, requested_by="dpo")
    engine = Engine(rules(), check(), store, Outputs(MemorySink(), MemorySink(), MemorySink()))
    assert engine.drain_inbound() == 2
    assert store.inbound() == []
    assert set(store.load(["C1", "C10", "C2"])) == {"C10", "C2"}
