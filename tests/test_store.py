"""The context store (proactive.store): migrations, the one-transaction commit, replays."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from proactive.context import CustomerContext, UsageCycle
from proactive.errors import StoreError
from proactive.ethics.check import EthicsCheck
from proactive.ethics.policy import load_policy
from proactive.generate import generate_lines
from proactive.pipeline import Engine, Outputs
from proactive.rules import load_ruleset
from proactive.sinks import MemorySink
from proactive.store import GENESIS_HASH, Batch, ContextStore, schema, sqlite_url

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[Callable[..., ContextStore]]:
    """Factory: a migrated SQLite store in ``tmp_path`` (closed after the test)."""
    opened: list[ContextStore] = []

    def build(name: str = "state.sqlite") -> ContextStore:
        store = ContextStore(sqlite_url(tmp_path / name))
        opened.append(store)
        return store

    yield build
    for store in opened:
        store.close()


def context(cid: str, used_gb: float = 1.5) -> CustomerContext:
    return CustomerContext(
        cid,
        name="Daan Visser",
        language="nl",
        consents={"commercial:email": True},
        cycles=[
            UsageCycle(
                NOW.date().replace(day=1),
                NOW.date().replace(month=6, day=1),
                used_gb * 1024,
                5120,
                NOW,
            )
        ],
        open_complaints={"K1": "network"},
    )


# -- schema and migrations ---------------------------------------------------------------


def test_migrations_create_every_table_of_the_schema(
    make_store: Callable[..., ContextStore],
) -> None:
    """After migrating, the database has exactly the schema module's tables (plus Alembic's)."""
    store = make_store()
    tables = set(inspect(store.engine).get_table_names())
    assert tables - {"alembic_version"} == set(schema.metadata.tables)


@pytest.mark.parametrize("table", sorted(schema.metadata.tables))
def test_migration_and_schema_module_agree_column_by_column(
    make_store: Callable[..., ContextStore], table: str
) -> None:
    """Name, type, nullability and primary key of every column, and the indexes and
    unique constraints, are the same in the migrated database and in store/schema.py."""
    store = make_store()
    insp = inspect(store.engine)
    dialect = store.engine.dialect
    declared = schema.metadata.tables[table]

    actual_cols = {
        c["name"]: (str(c["type"].compile(dialect=dialect)), c["nullable"])
        for c in insp.get_columns(table)
    }
    declared_cols = {
        c.name: (str(c.type.compile(dialect=dialect)), bool(c.nullable)) for c in declared.columns
    }
    assert actual_cols == declared_cols
    assert [c["name"] for c in insp.get_columns(table)] == [c.name for c in declared.columns]

    assert set(insp.get_pk_constraint(table)["constrained_columns"]) == {
        c.name for c in declared.primary_key.columns
    }
    actual_ix = {(tuple(ix["column_names"]), bool(ix["unique"])) for ix in insp.get_indexes(table)}
    declared_ix = {(tuple(c.name for c in ix.columns), bool(ix.unique)) for ix in declared.indexes}
    assert actual_ix == declared_ix
    actual_uq = {tuple(u["column_names"]) for u in insp.get_unique_constraints(table)}
    declared_uq = {(c.name,) for c in declared.columns if c.unique}
    assert actual_uq == declared_uq


def test_alembic_finds_no_difference_between_migrations_and_schema(
    make_store: Callable[..., ContextStore],
) -> None:
    """Autogenerate against the migrated database proposes nothing: no migration is missing."""
    store = make_store()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []


def test_migrate_is_idempotent_and_keeps_data(make_store: Callable[..., ContextStore]) -> None:
    """Opening the same file again runs the migrations again without harm."""
    first = make_store()
    batch = Batch(contexts={"C1": context("C1")})
    first.commit(batch, NOW)
    first.close()
    again = make_store()
    again.migrate()
    assert again.load(["C1"]) == {"C1": context("C1")}


# -- reads and the one write -------------------------------------------------------------


def test_commit_writes_and_load_reads_back_contexts(
    make_store: Callable[..., ContextStore],
) -> None:
    """Contexts written by a commit are read back equal; absent customers are left out."""
    store = make_store()
    store.commit(Batch(contexts={"C1": context("C1"), "C2": context("C2", 4.4)}), NOW)
    loaded = store.load(["C1", "C2", "C3"])
    assert loaded == {"C1": context("C1"), "C2": context("C2", 4.4)}


def test_commit_upserts_a_customer(make_store: Callable[..., ContextStore]) -> None:
    """A second commit for the same customer replaces the document (one row per customer)."""
    store = make_store()
    store.commit(Batch(contexts={"C1": context("C1", 1.0)}), NOW)
    store.commit(Batch(contexts={"C1": context("C1", 3.0)}), NOW + timedelta(minutes=1))
    assert store.load(["C1"])["C1"].cycles[0].used_mb == pytest.approx(3.0 * 1024)
    assert store.counts()["customers"] == 1


def processed(*ids: str) -> list[dict[str, Any]]:
    return [{"event_id": i, "customer_id": "C1", "event_time": NOW} for i in ids]


def test_seen_reports_processed_event_ids(make_store: Callable[..., ContextStore]) -> None:
    """``seen`` answers which of the asked ids were processed, in chunks for long lists."""
    store = make_store()
    done = [f"evt-{i:05d}" for i in range(0, 1400, 2)]
    store.commit(Batch(processed=processed(*done)), NOW)
    asked = [f"evt-{i:05d}" for i in range(1400)]
    assert store.seen(asked) == set(done)
    assert store.seen(["evt-99999"]) == set()
    assert store.seen([]) == set()


def test_commit_is_one_transaction(make_store: Callable[..., ContextStore]) -> None:
    """A batch that fails half-way (an event id already processed) writes nothing at all."""
    store = make_store()
    store.commit(Batch(processed=processed("e1")), NOW)
    bad = Batch(processed=processed("e2", "e1"), contexts={"C9": context("C9")})
    with pytest.raises(StoreError, match="could not commit"):
        store.commit(bad, NOW)
    assert store.seen(["e1", "e2"]) == {"e1"}
    assert store.load(["C9"]) == {}


def deferred(
    decision_id: str,
    due: datetime,
    customer: str = "C1",
    status: str = "pending",
    chain: str = "main",
) -> dict[str, Any]:
    return {
        "decision_id": decision_id,
        "customer_id": customer,
        "chain": chain,
        "due_at": due,
        "candidate": json.dumps({"rule_id": "outage-started", "variant": "primary"}),
        "status": status,
    }


def test_due_deferred_orders_by_due_time_then_id(make_store: Callable[..., ContextStore]) -> None:
    """Due messages come oldest first (ties by decision id); future and closed ones stay;
    asked per chain, only that chain's messages come."""
    store = make_store()
    t8 = datetime(2026, 5, 21, 6, 0, tzinfo=UTC)
    rows = [
        deferred("d-c", t8 + timedelta(hours=1)),
        deferred("d-b", t8),
        deferred("d-a", t8),
        deferred("d-late", t8 + timedelta(days=1)),
        deferred("d-closed", t8 - timedelta(hours=1), status="released"),
        deferred("d-other", t8 - timedelta(minutes=5), customer="C2", chain="customer-events/1"),
    ]
    store.commit(Batch(deferred=rows), NOW)
    due = store.due_deferred(t8 + timedelta(hours=1))
    assert [d["decision_id"] for d in due] == ["d-other", "d-a", "d-b", "d-c"]
    assert all(d["due_at"].tzinfo is not None for d in due)
    assert due[1]["due_at"] == t8
    assert due[1]["candidate"] == {"rule_id": "outage-started", "variant": "primary"}
    assert [d["decision_id"] for d in store.due_deferred(t8, ["main"])] == ["d-a", "d-b"]
    assert [d["decision_id"] for d in store.due_deferred(t8, ["customer-events/1"])] == ["d-other"]


def test_closing_a_deferred_message_removes_it_from_due(
    make_store: Callable[..., ContextStore],
) -> None:
    """``deferred_closed`` marks a message released; it is no longer due."""
    store = make_store()
    t8 = datetime(2026, 5, 21, 6, 0, tzinfo=UTC)
    store.commit(Batch(deferred=[deferred("d-1", t8), deferred("d-2", t8)]), NOW)
    store.commit(Batch(deferred_closed=[("d-1", "released")]), NOW)
    assert [d["decision_id"] for d in store.due_deferred(t8)] == ["d-2"]
    assert store.counts()["deferred_pending"] == 1


def test_due_deferred_compares_instants_not_wall_clock(
    make_store: Callable[..., ContextStore],
) -> None:
    """Asked with a local time, ``due_deferred`` compares instants: a message due 06:00 UTC
    (08:00 in Amsterdam) is not due at 07:30 Amsterdam time, and is due at 08:00 there."""
    store = make_store()
    cest = timezone(timedelta(hours=2))
    store.commit(Batch(deferred=[deferred("d-utc", datetime(2026, 5, 21, 6, 0, tzinfo=UTC))]), NOW)
    assert store.due_deferred(datetime(2026, 5, 21, 7, 30, tzinfo=cest)) == []
    due = store.due_deferred(datetime(2026, 5, 21, 8, 0, tzinfo=cest))
    assert [d["decision_id"] for d in due] == ["d-utc"]


def test_deferred_written_with_an_offset_keeps_its_instant(
    make_store: Callable[..., ContextStore],
) -> None:
    """A due time written as 08:00+02:00 is stored as the instant 06:00 UTC: not due at
    05:30 UTC, due at 06:30 UTC, and read back as 06:00 UTC (the offset is not dropped)."""
    store = make_store()
    cest = timezone(timedelta(hours=2))
    store.commit(Batch(deferred=[deferred("d-ams", datetime(2026, 5, 22, 8, 0, tzinfo=cest))]), NOW)
    assert store.due_deferred(datetime(2026, 5, 22, 5, 30, tzinfo=UTC)) == []
    due = store.due_deferred(datetime(2026, 5, 22, 6, 30, tzinfo=UTC))
    assert [d["decision_id"] for d in due] == ["d-ams"]
    assert due[0]["due_at"] == datetime(2026, 5, 22, 6, 0, tzinfo=UTC)


def test_chain_head_starts_at_genesis_and_follows_commits(
    make_store: Callable[..., ContextStore],
) -> None:
    """Each chain's head is (0, genesis) until written, then the last committed (seq, hash)."""
    store = make_store()
    assert store.chain_head() == (0, GENESIS_HASH)
    store.commit(Batch(chains={"main": (3, "a" * 64)}), NOW)
    store.commit(Batch(chains={"main": (5, "b" * 64), "customer-events/1": (1, "c" * 64)}), NOW)
    assert store.chain_head() == (5, "b" * 64)
    assert store.chain_head("main") == (5, "b" * 64)
    assert store.chain_head("customer-events/1") == (1, "c" * 64)
    assert store.chain_head("customer-events/2") == (0, GENESIS_HASH)


# -- replaying events through the engine -------------------------------------------------


def engine_on(path: Path) -> Engine:
    return Engine(
        load_ruleset(REPO / "rules"),
        EthicsCheck(load_policy(REPO / "ethics" / "policy.yaml")),
        ContextStore(sqlite_url(path)),
        Outputs(MemorySink(), MemorySink(), MemorySink()),
        batch_size=97,
    )


def snapshot(store: ContextStore) -> dict[str, Any]:
    """Every customer document and every decision row, as stored."""
    with store.engine.connect() as conn:
        docs = dict(
            conn.execute(select(schema.customers.c.customer_id, schema.customers.c.doc)).all()
        )
        decisions = conn.execute(
            select(schema.decisions.c.decision_id, schema.decisions.c.hash)
        ).all()
        deferred_rows = conn.execute(
            select(schema.deferred.c.decision_id, schema.deferred.c.status)
        ).all()
    return {"customers": docs, "decisions": sorted(decisions), "deferred": sorted(deferred_rows)}


def test_replaying_the_same_events_does_not_change_the_store_twice(tmp_path: Path) -> None:
    """The same JSONL lines run twice against one SQLite file: the second run sees only
    duplicates, makes no decision or notification, and leaves every document unchanged."""
    lines = list(generate_lines(customers=40, events=1200, seed=11))
    lines.insert(100, '{"specversion": "1.0", "id": "broken"')  # one malformed line
    raws = [(line, f"events.jsonl:{n}") for n, line in enumerate(lines, 1)]
    db = tmp_path / "state.sqlite"

    first = engine_on(db)
    s1 = first.run(raws)
    first.finish()
    assert s1.accepted > 1000 and s1.decisions > 0
    before, counts_before = snapshot(first.store), first.store.counts()
    first.store.close()

    second = engine_on(db)
    s2 = second.run(raws)
    second.finish()
    assert s2.duplicates == s1.accepted
    assert s2.accepted == 0
    assert s2.decisions == 0 and s2.notifications == 0
    assert second.outputs.decisions.records == []  # type: ignore[attr-defined]
    assert second.outputs.notifications.records == []  # type: ignore[attr-defined]
    assert snapshot(second.store) == before
    counts_after = second.store.counts()
    for table, n in counts_before.items():
        if table != "dead_letters":
            assert counts_after[table] == n, table
    second.store.close()
