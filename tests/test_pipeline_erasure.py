"""A running engine does not keep, or write back, a forgotten customer's data.

The engine caches contexts. ``forget`` (or a retention purge of inactive customers)
runs in another process — here: over a second connection to the same SQLite file —
and deletes the customer's context; the engine must not write its cached copy back at
a later commit. It follows the ``erasure`` chain before each batch, and the store's
commit catches a batch that was prepared before the erasure and committed after it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_preferences import customer
from test_review import T0, ce, check, rules

from proactive.audit import verify
from proactive.ethics.policy import Retention
from proactive.gdpr import ERASURE_CHAIN, export_customer, forget, purge
from proactive.pipeline import Engine, Outputs
from proactive.sinks import MemorySink
from proactive.store import ContextStore, schema, sqlite_url

LATER = T0 + timedelta(days=3)


@dataclass
class Setup:
    engine: Engine
    other: ContextStore
    """A second connection to the engine's store: another process (the CLI, the DPO)."""
    notifications: MemorySink
    decisions: MemorySink

    @property
    def store(self) -> ContextStore:
        return self.engine.store

    def feed(self, lines: list[str]) -> None:
        """One batch."""
        self.engine.process_batch([(line, f"test:{n}") for n, line in enumerate(lines, 1)])

    def contacts_of(self, cid: str) -> int:
        t = schema.contacts
        with self.store.engine.connect() as conn:
            q = select(func.count()).select_from(t).where(t.c.customer_id == cid)
            return int(conn.execute(q).scalar_one())

    def sent_to(self, cid: str) -> list[dict[str, object]]:
        return [n for n in self.notifications.records if n["subject"] == cid]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    url = sqlite_url(tmp_path / "state.sqlite")
    notifications, decisions = MemorySink(), MemorySink()
    engine = Engine(
        rules(),
        check(),
        ContextStore(url),
        Outputs(decisions, notifications, MemorySink()),
        clock=lambda: LATER,  # contexts are stamped with it (retention measures from it)
    )
    s = Setup(engine, ContextStore(url), notifications, decisions)
    # C1 (Sam): a profile, commercial consent, three heavy months, a commercial message
    s.feed(customer("C1"))
    ctx = s.store.load(["C1"])["C1"]
    assert ctx.name == "Sam" and ctx.consents and ctx.contacts
    assert len(s.sent_to("C1")) == 1 and s.contacts_of("C1") == 1
    yield s
    s.other.close()
    s.store.close()


def new_profile(cid: str, at: datetime = LATER) -> str:
    """A new event of the customer after the erasure: only their language."""
    return ce("customer.profile_updated", cid, at, language="nl")


def payment_failed(cid: str, at: datetime = LATER) -> str:
    """A failed payment: a service message the engine sends."""
    return ce("billing.payment_failed", cid, at, invoice_id="INV-9", amount_eur=41.5)


def assert_fresh(s: Setup, cid: str = "C1") -> None:
    """The customer's stored context holds the new event and nothing from before."""
    ctx = s.store.load([cid])[cid]
    assert ctx.language == "nl"
    assert ctx.name is None and ctx.consents == {} and ctx.contacts == []
    assert ctx.cycles == [] and ctx.preferred_channel is None
    assert s.contacts_of(cid) == 0
    profile = export_customer(s.store, cid)["profile"]
    assert profile is not None and "Sam" not in str(profile)


def test_forget_in_another_process_is_not_undone_by_the_engines_cache(setup: Setup) -> None:
    forget(setup.other, "C1", now=LATER, requested_by="dpo")
    assert setup.store.load(["C1"]) == {}
    # the engine goes on with other customers, then gets a new event of C1
    setup.feed(customer("C2"))
    assert setup.store.load(["C1"]) == {}
    setup.feed([new_profile("C1")])
    assert_fresh(setup)
    assert setup.store.load(["C2"])["C2"].name == "Sam"  # the other customer is untouched
    assert verify(setup.store).ok


def test_a_retention_purge_of_inactive_customers_drops_the_cache_too(setup: Setup) -> None:
    policy = check().policy.model_copy(update={"retention": Retention(inactive_customer_days=730)})
    result = purge(setup.other, policy, T0 + timedelta(days=800))
    assert result.removed["contexts"] == 1
    setup.feed([new_profile("C1", T0 + timedelta(days=801))])
    assert_fresh(setup)


def test_a_purge_that_deleted_no_context_keeps_the_cache(setup: Setup) -> None:
    policy = check().policy.model_copy(update={"retention": Retention(message_text_days=1)})
    result = purge(setup.other, policy, LATER)
    assert result.records and result.redacted  # erasure records, none deleting a context
    setup.feed([new_profile("C2")])
    assert "C1" in setup.engine._cache  # a daily purge of message texts costs no re-reads


def test_a_batch_in_flight_during_forget_does_not_write_the_context_back(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    """Prepared (from the cached context) before the erasure, committed after it: the
    store leaves the customer's rows out, the notification is withheld, and a warning
    asks for forget to run again; running it again redacts the batch's decisions."""
    prepared = setup.engine.prepare([(payment_failed("C1"), "test:in-flight")])
    assert [n["subject"] for n in prepared.notifications] == ["C1"]
    assert prepared.batch.contacts and "C1" in prepared.batch.contexts
    forget(setup.other, "C1", now=LATER, requested_by="dpo")

    caplog.set_level(logging.WARNING, logger="proactive.pipeline")
    setup.engine.commit(prepared)
    assert setup.store.load(["C1"]) == {}
    assert setup.contacts_of("C1") == 0
    assert len(setup.sent_to("C1")) == 1  # only the one sent before the erasure
    assert "run forget again" in caplog.text and "C1" not in caplog.text  # masked
    # the batch's decisions are chain links: kept, and named until forget runs again
    named = [d["decision_id"] for d in setup.store.customer_records("C1", "main")]
    assert named and named == [d["decision_id"] for d in prepared.decisions]
    again = forget(setup.other, "C1", now=LATER, requested_by="dpo")
    assert again.redacted == len(named) and setup.store.customer_records("C1", "main") == []
    assert verify(setup.store).ok
    (first, second) = setup.store.decision_records(ERASURE_CHAIN)
    assert first["kind"] == second["kind"] == "forget"

    # the next event of C1 starts a fresh context
    setup.feed([new_profile("C1", LATER + timedelta(hours=1))])
    assert_fresh(setup)


def test_a_batch_in_flight_keeps_a_customer_it_creates_and_others(setup: Setup) -> None:
    """The commit's check leaves out only contexts that disappeared: a customer the
    batch itself creates, and customers nobody erased, are written as usual."""
    prepared = setup.engine.prepare(
        [(line, f"test:{n}") for n, line in enumerate([*customer("C3"), new_profile("C1")])]
    )
    forget(setup.other, "C9", now=LATER, requested_by="dpo")  # someone else, unknown here
    setup.engine.commit(prepared)
    assert set(setup.store.load(["C1", "C3"])) == {"C1", "C3"}
    assert setup.store.load(["C1"])["C1"].name == "Sam"
    assert setup.sent_to("C3")


def test_a_first_event_of_a_customer_is_not_lost_to_an_erasure_of_another(
    setup: Setup,
) -> None:
    prepared = setup.engine.prepare([(new_profile("C4"), "test:1")])
    forget(setup.other, "C1", now=LATER, requested_by="dpo")
    setup.engine.commit(prepared)
    assert setup.store.load(["C4"])["C4"].language == "nl"
    assert setup.store.load(["C1"]) == {}


def test_the_erasure_watermark_is_read_once_when_the_engine_starts(tmp_path: Path) -> None:
    """An engine started after earlier erasures reads contexts after them: its first
    batch is not treated as racing with them."""
    url = sqlite_url(tmp_path / "state.sqlite")
    store = ContextStore(url)
    forget(store, "C7", now=T0, requested_by="dpo")
    sink = MemorySink()
    engine = Engine(rules(), check(), store, Outputs(MemorySink(), sink, MemorySink()))
    engine.process_batch([(line, f"t:{n}") for n, line in enumerate(customer("C1"))])
    assert store.load(["C1"])["C1"].name == "Sam" and sink.records
    store.close()
