"""The context store: one storage layer over SQLite (embedded default) and PostgreSQL.

The engine works in batches: it asks which events of a batch were processed
before (:meth:`ContextStore.seen`), loads the contexts of the batch's customers
(:meth:`ContextStore.load`), and writes everything the batch changed — processed
event ids, customer documents, decisions and their chain head, contacts, deferred
messages, review items, dead letters — in **one transaction**
(:meth:`ContextStore.commit`). A replayed event is found in ``processed_events`` and
skipped, so it cannot change the store twice.

Review actions (``proactive.review``: approvals, rejections, expiry) are the other
writer: each is one transaction of its own, taken in turns under a lock
(:meth:`ContextStore.review_write`), and extends only the ``review`` chain.
Erasures and retention purges (``proactive.gdpr``, through
:mod:`proactive.store.privacy`) take the same lock, redact records in place and
extend only the ``erasure`` chain.

An erasure must not be undone by an engine that still holds the customer's context in
memory. Engines follow the ``erasure`` chain and drop their cached contexts when it
grows (``Engine._follow_erasures``); a batch *prepared* before an erasure and
*committed* after it is caught here: the batch carries the erasure chain's head it was
prepared against (:attr:`Batch.erasure_seq`), and the commit transaction, taking turns
with erasures (:data:`ERASURE_LOCK`), leaves out the rows of customers whose stored
context disappeared in between (see :meth:`ContextStore.commit`).

The schema is created and upgraded by Alembic migrations at open time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool

from proactive.context import Contact, CustomerContext
from proactive.errors import StoreError
from proactive.store import schema

__all__ = ["ERASURE_CHAIN", "Batch", "ContextStore", "ReviewWrite", "sqlite_url"]

MIGRATIONS = Path(__file__).parent / "migrations"
GENESIS_HASH = "0" * 64
REVIEW_LOCK = 7301002
"""PostgreSQL advisory lock key that serialises review actions (see :meth:`ContextStore.review_write`)."""
ERASURE_LOCK = 7301003
"""PostgreSQL advisory lock key: an erasure that deletes rows holds it exclusively, an
engine's commit of contexts holds it shared (engines do not wait for each other), so the
two take turns (SQLite's single write lock does the same there)."""
ERASURE_CHAIN = "erasure"
"""The chain of erasure records (forget and retention), written under the review lock."""


def sqlite_url(path: Path | str) -> str:
    """SQLAlchemy URL of an SQLite file."""
    return f"sqlite:///{Path(path)}"


@dataclass
class Batch:
    """Everything one batch of events changed, written in one transaction."""

    processed: list[dict[str, Any]] = field(default_factory=list)
    contexts: dict[str, CustomerContext] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    deferred_closed: list[tuple[str, str]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    chains: dict[str, tuple[int, str]] = field(default_factory=dict)
    """New head (sequence number, hash) of each decision chain the batch extended."""
    offsets: dict[tuple[str, str, int], int] = field(default_factory=dict)
    """Next offset to read per (consumer group, topic, partition), stored with the state."""
    erasure_seq: int | None = None
    """The head of the ``erasure`` chain the batch's contexts were read against (None:
    not checked). If the chain grew since, :meth:`ContextStore.commit` checks that the
    contexts are still stored."""
    new_contexts: set[str] = field(default_factory=set)
    """Customers whose context the batch created (the store held none): an absent row
    is expected for them, not a sign of an erasure."""


class ContextStore:
    """Customer contexts and the engine's records, in SQLite or PostgreSQL.

    Example::

        store = ContextStore("sqlite:///out/state.sqlite")
        contexts = store.load(["C1"])
    """

    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite") and ":memory:" in url:
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        self.engine: Engine = create_engine(url, **kwargs)
        self._sql_cache: dict[str, str] = {}
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.migrate()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # engines starting together must not migrate the same database at once
                conn.execute(text("SELECT pg_advisory_xact_lock(7301001)"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    # -- reads -------------------------------------------------------------------------

    def seen(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these event ids were processed before."""
        found: set[str] = set()
        t = schema.processed_events
        with self.engine.connect() as conn:
            for chunk in _chunks(event_ids, 500):
                rows = conn.execute(select(t.c.event_id).where(t.c.event_id.in_(chunk)))
                found.update(r[0] for r in rows)
        return found

    def load(self, customer_ids: Iterable[str]) -> dict[str, CustomerContext]:
        """The stored contexts of these customers (absent ones are not in the result)."""
        t = schema.customers
        out: dict[str, CustomerContext] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(customer_ids), 500):
                rows = conn.execute(
                    select(t.c.customer_id, t.c.doc).where(t.c.customer_id.in_(chunk))
                )
                for cid, doc in rows:
                    out[cid] = CustomerContext.decode(doc)
        return out

    def chain_head(self, chain: str = "main") -> tuple[int, str]:
        """Sequence number and hash of a chain's newest decision record (0 and genesis if none)."""
        t = schema.chain_head
        with self.engine.connect() as conn:
            row = conn.execute(select(t.c.seq, t.c.hash).where(t.c.chain == chain)).first()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def chains(self) -> list[str]:
        """Names of every decision chain in the store."""
        t = schema.chain_head
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(t.c.chain).order_by(t.c.chain))]

    def offsets(self, group: str) -> dict[tuple[str, int], int]:
        """The next offset to read per (topic, partition), as committed with the state."""
        t = schema.consumer_offsets
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.topic, t.c.partition, t.c.next_offset).where(t.c.consumer_group == group)
            )
            return {(r[0], r[1]): r[2] for r in rows}

    def due_deferred(
        self, until: datetime, chains: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        """Deferred messages whose time has come, oldest first."""
        t = schema.deferred
        # SQLite compares stored timestamps as text: every time in this store is UTC
        until = until.astimezone(UTC)
        q = select(t.c.decision_id, t.c.customer_id, t.c.due_at, t.c.candidate).where(
            t.c.status == "pending", t.c.due_at <= until
        )
        if chains is not None:
            q = q.where(t.c.chain.in_(list(chains)))
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(t.c.due_at, t.c.decision_id)).all()
        return [
            {
                "decision_id": r[0],
                "customer_id": r[1],
                "due_at": _aware(r[2]),
                "candidate": orjson.loads(r[3]),
            }
            for r in rows
        ]

    def decision_records(
        self, chain: str | None = None, *, after: int = 0
    ) -> Iterable[dict[str, Any]]:
        """Decision records in chain order (one chain, or all chains one after another).

        ``after`` skips a chain's records up to that sequence number (a reader that
        follows a chain asks only for what is new). The ``review`` chain holds review
        records (``record_type: "review"``), not decisions.
        """
        t = schema.decisions
        q = select(t.c.record).order_by(t.c.chain, t.c.seq)
        if chain is not None:
            q = q.where(t.c.chain == chain)
        if after:
            q = q.where(t.c.seq > after)
        with self.engine.connect() as conn:
            for row in conn.execute(q):
                yield orjson.loads(row[0])

    def decision_record(self, decision_id: str) -> dict[str, Any] | None:
        """One decision (or review) record by its id, or None."""
        t = schema.decisions
        with self.engine.connect() as conn:
            row = conn.execute(select(t.c.record).where(t.c.decision_id == decision_id)).first()
        return orjson.loads(row[0]) if row else None

    def customer_records(self, customer_id: str, chain: str) -> list[dict[str, Any]]:
        """The records of one customer in one chain, in chain order."""
        t = schema.decisions
        q = (
            select(t.c.record)
            .where(t.c.customer_id == customer_id, t.c.chain == chain)
            .order_by(t.c.seq)
        )
        with self.engine.connect() as conn:
            return [orjson.loads(r[0]) for r in conn.execute(q)]

    # -- the review queue ------------------------------------------------------------

    def review_items(
        self,
        *,
        status: str | None = None,
        rule_id: str | None = None,
        created_before: datetime | None = None,
        expired_by: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Review queue items, oldest first; each filter is optional.

        ``created_before`` keeps items queued before that moment (``--older-than``);
        ``expired_by`` keeps items whose ``expires_at`` is at or before it.
        """
        t = schema.review_queue
        q = select(t).order_by(t.c.created_at, t.c.decision_id)
        if status is not None:
            q = q.where(t.c.status == status)
        if rule_id is not None:
            q = q.where(t.c.rule_id == rule_id)
        # SQLite compares stored timestamps as text: every time in this store is UTC
        if created_before is not None:
            q = q.where(t.c.created_at <= created_before.astimezone(UTC))
        if expired_by is not None:
            q = q.where(t.c.expires_at <= expired_by.astimezone(UTC))
        with self.engine.connect() as conn:
            return [_review_row(r._mapping) for r in conn.execute(q)]

    def review_item(self, decision_id: str) -> dict[str, Any] | None:
        """One review queue item, or None."""
        t = schema.review_queue
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.decision_id == decision_id)).first()
        return _review_row(row._mapping) if row else None

    def review_ids(self, prefix: str) -> list[str]:
        """Ids of the review items that start with ``prefix`` (at most 10)."""
        t = schema.review_queue
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        q = (
            select(t.c.decision_id)
            .where(t.c.decision_id.like(escaped + "%", escape="\\"))
            .order_by(t.c.decision_id)
            .limit(10)
        )
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(q)]

    @contextmanager
    def review_write(self) -> Iterator[ReviewWrite]:
        """One review action as one transaction, serialised with every other review action.

        Review actions come from reviewers (the command line) and from every engine
        (expiry) at once, and all of them extend the one ``review`` chain: the lock
        taken first makes them take turns, so each reads the chain head, the item and
        the customer's context as the previous one left them. Nothing is written
        when the block raises.

        Example::

            with store.review_write() as w:
                item = w.item(decision_id)
                ...
        """
        with self._locked("could not record the review action") as conn:
            yield ReviewWrite(self, conn)

    @contextmanager
    def _locked(self, what: str, *, erasure: bool = False) -> Iterator[Connection]:
        """A transaction holding the review lock (review actions, erasures: see
        :mod:`proactive.store.privacy`); a database error becomes ``StoreError(what)``.

        ``erasure``: also hold :data:`ERASURE_LOCK` exclusively (a step that may delete
        contexts), so that no engine commits a context meanwhile.
        """
        try:
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": REVIEW_LOCK})
                    if erasure:
                        # always after the review lock: one order, no deadlock
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ERASURE_LOCK})
                else:
                    _sqlite_write_lock(conn)
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"{what}: {exc}") from exc

    def counts(self) -> dict[str, int]:
        """Row counts per table (for summaries and tests)."""
        out: dict[str, int] = {}
        with self.engine.connect() as conn:
            for name, table in schema.metadata.tables.items():
                out[name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
            t = schema.deferred
            out["deferred_pending"] = conn.execute(
                select(func.count()).select_from(t).where(t.c.status == "pending")
            ).scalar_one()
        return out

    # -- inbound events (the customer's choices, issue 6 part 4) ---------------------

    def add_inbound(self, event: dict[str, Any], now: datetime) -> None:
        """Queue one CloudEvent (a customer's choice) for the engine's next drain."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    schema.inbound_events.insert().values(
                        event_id=event["id"],
                        customer_id=event["subject"],
                        event=orjson.dumps(event).decode(),
                        received_at=now,
                    )
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"queue inbound event {event.get('id')!r}: {exc}") from exc

    def inbound(self, limit: int = 500) -> list[tuple[int, str]]:
        """The oldest waiting inbound events: (row id, CloudEvent JSON)."""
        t = schema.inbound_events
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.id, t.c.event).order_by(t.c.id).limit(limit))
            return [(int(r[0]), str(r[1])) for r in rows]

    def inbound_of(self, customer_id: str) -> list[str]:
        """One customer's waiting inbound events (CloudEvent JSON), oldest first."""
        t = schema.inbound_events
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.c.event).where(t.c.customer_id == customer_id).order_by(t.c.id)
            )
            return [str(r[0]) for r in rows]

    def inbound_customers(self) -> list[str]:
        """The customers with inbound events waiting."""
        t = schema.inbound_events
        with self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(select(t.c.customer_id).distinct())]

    def drop_inbound(self, ids: Sequence[int]) -> None:
        """Delete drained inbound rows (their events are processed, and in ``processed_events``)."""
        t = schema.inbound_events
        with self.engine.begin() as conn:
            for start in range(0, len(ids), 500):
                conn.execute(t.delete().where(t.c.id.in_(list(ids[start : start + 500]))))

    # -- the one write ---------------------------------------------------------------

    def commit(self, batch: Batch, now: datetime) -> set[str]:
        """Write everything the batch changed in one transaction.

        Returns the customers erased while the batch was in flight, whose rows were
        left out (usually none). That happens when an erasure (``proactive.gdpr.forget``,
        or a retention purge of inactive customers) commits after the engine read a
        context and before this commit: writing the context would bring the erased
        customer back (profile, consents, contact history). So when the ``erasure``
        chain has grown past :attr:`Batch.erasure_seq`, a context the batch did not
        create whose row is gone is not written, and neither are that customer's
        contacts, deferred messages and review items of this batch (no message is left
        to go out later on erased data). What stays: the processed event ids (a replay
        must not bring the customer back) and the decision records, which are links of
        a chain and may be published already; they name the customer until ``forget``
        runs again (it is idempotent). The check takes turns with erasures
        (:data:`ERASURE_LOCK`; SQLite: the write lock, taken first).
        """
        erased: set[str] = set()
        try:
            with self.engine.begin() as conn:
                erased = self._erased_meanwhile(conn, batch)
                if erased:
                    batch = _without(batch, erased)
                if batch.processed:
                    for r in batch.processed:
                        r["event_time"] = self._dt(r["event_time"])
                    self._bulk(conn, schema.processed_events.insert(), batch.processed)
                if batch.contexts:
                    stamp = self._dt(now)
                    rows = [
                        {
                            "customer_id": cid,
                            "doc": ctx.encode().decode(),
                            "updated_at": stamp,
                        }
                        for cid, ctx in batch.contexts.items()
                    ]
                    self._bulk(conn, self._upsert_customers(), rows)
                if batch.decisions:
                    conn.execute(schema.decisions.insert(), _utc(batch.decisions))
                if batch.contacts:
                    conn.execute(schema.contacts.insert(), _utc(batch.contacts))
                if batch.deferred:
                    conn.execute(schema.deferred.insert(), _utc(batch.deferred))
                for decision_id, status in batch.deferred_closed:
                    conn.execute(
                        update(schema.deferred)
                        .where(schema.deferred.c.decision_id == decision_id)
                        .values(status=status)
                    )
                if batch.reviews:
                    conn.execute(schema.review_queue.insert(), _utc(batch.reviews))
                if batch.dead_letters:
                    conn.execute(schema.dead_letters.insert(), _utc(batch.dead_letters))
                for chain, (seq, digest) in batch.chains.items():
                    conn.execute(self._upsert_chain(), {"chain": chain, "seq": seq, "hash": digest})
                for (group, topic, partition), offset in batch.offsets.items():
                    conn.execute(
                        self._upsert_offset(),
                        {
                            "consumer_group": group,
                            "topic": topic,
                            "partition": partition,
                            "next_offset": offset,
                        },
                    )
        except Exception as exc:  # SQLAlchemy raises many kinds; the caller needs one
            raise StoreError(f"could not commit batch: {exc}") from exc
        return erased

    def _erased_meanwhile(self, conn: Connection, batch: Batch) -> set[str]:
        """Customers of the batch whose stored context an erasure removed after the
        batch's contexts were read (see :meth:`commit`); one indexed read when none."""
        if batch.erasure_seq is None or not batch.contexts:
            return set()
        if self.dialect == "postgresql":
            # an erasure in progress finishes first; one that starts now waits for us
            conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": ERASURE_LOCK})
        else:
            _sqlite_write_lock(conn)  # from here on no other writer, and we read the latest
        h = schema.chain_head
        head = conn.execute(select(h.c.seq).where(h.c.chain == ERASURE_CHAIN)).scalar()
        if head is None or head <= batch.erasure_seq:
            return set()
        known = [cid for cid in batch.contexts if cid not in batch.new_contexts]
        c = schema.customers
        stored: set[str] = set()
        for chunk in _chunks(known, 500):
            rows = conn.execute(select(c.c.customer_id).where(c.c.customer_id.in_(chunk)))
            stored.update(r[0] for r in rows)
        return set(known) - stored

    def _bulk(self, conn: Connection, stmt: Any, rows: list[dict[str, Any]]) -> None:
        """executemany straight on the driver for the two tables written per event.

        SQLAlchemy's per-row parameter processing costs more than SQLite's insert on
        the hot path; the statement is still compiled by SQLAlchemy for the dialect,
        with named parameters so the row dicts go to the driver as they are.
        """
        key = str(stmt)
        sql = self._sql_cache.get(key)
        if sql is None:
            dialect = self.engine.dialect
            if dialect.name == "sqlite":
                dialect = sqlite.pysqlite.dialect(paramstyle="named")
            sql = self._sql_cache[key] = str(stmt.compile(dialect=dialect))
        conn.exec_driver_sql(sql, rows)

    def _dt(self, value: datetime) -> Any:
        """A timestamp as the driver stores it (bypassing SQLAlchemy's type processing)."""
        if self.dialect == "sqlite":
            # SQLAlchemy's SQLite DateTime storage format, in UTC
            if value.tzinfo is not UTC:
                value = value.astimezone(UTC)
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    def _upsert_customers(self) -> Any:
        t = schema.customers
        if self.dialect == "postgresql":
            pg = postgresql.insert(t)
            return pg.on_conflict_do_update(
                index_elements=[t.c.customer_id],
                set_={"doc": pg.excluded.doc, "updated_at": pg.excluded.updated_at},
            )
        lite = sqlite.insert(t)
        return lite.on_conflict_do_update(
            index_elements=[t.c.customer_id],
            set_={"doc": lite.excluded.doc, "updated_at": lite.excluded.updated_at},
        )

    def _upsert_offset(self) -> Any:
        t = schema.consumer_offsets
        ins = postgresql.insert(t) if self.dialect == "postgresql" else sqlite.insert(t)
        return ins.on_conflict_do_update(
            index_elements=[t.c.consumer_group, t.c.topic, t.c.partition],
            set_={"next_offset": ins.excluded.next_offset},
        )

    def _upsert_chain(self) -> Any:
        t = schema.chain_head
        ins = postgresql.insert(t) if self.dialect == "postgresql" else sqlite.insert(t)
        return ins.on_conflict_do_update(
            index_elements=[t.c.chain], set_={"seq": ins.excluded.seq, "hash": ins.excluded.hash}
        )


class ReviewWrite:
    """The open transaction of one review action (from :meth:`ContextStore.review_write`).

    Everything read here is read under the review lock, so it is what the action
    must be judged against; everything written commits together when the ``with``
    block ends.
    """

    def __init__(self, store: ContextStore, conn: Connection) -> None:
        self._store = store
        self._conn = conn

    def item(self, decision_id: str) -> dict[str, Any] | None:
        """The review queue item as it is now."""
        t = schema.review_queue
        row = self._conn.execute(select(t).where(t.c.decision_id == decision_id)).first()
        return _review_row(row._mapping) if row else None

    def decision_record(self, decision_id: str) -> dict[str, Any] | None:
        """A decision record by id."""
        t = schema.decisions
        row = self._conn.execute(select(t.c.record).where(t.c.decision_id == decision_id)).first()
        return orjson.loads(row[0]) if row else None

    def context(self, customer_id: str) -> CustomerContext | None:
        """The customer's stored context as it is now (None if the customer is unknown).

        On PostgreSQL the row stays locked until the action commits: an engine's commit
        of this customer waits, so neither overwrites the other (SQLite's write lock,
        taken first, already does this).
        """
        t = schema.customers
        q = select(t.c.doc).where(t.c.customer_id == customer_id).with_for_update()
        row = self._conn.execute(q).first()
        return CustomerContext.decode(row[0]) if row else None

    def head(self, chain: str) -> tuple[int, str]:
        """Sequence number and hash of the chain's newest record."""
        t = schema.chain_head
        row = self._conn.execute(select(t.c.seq, t.c.hash).where(t.c.chain == chain)).first()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def append(self, row: dict[str, Any]) -> None:
        """Add a sealed record (a ``decisions`` row) and move its chain's head to it."""
        self._conn.execute(schema.decisions.insert(), _utc([row]))
        self._conn.execute(
            self._store._upsert_chain(),
            {"chain": row["chain"], "seq": row["seq"], "hash": row["hash"]},
        )

    def close_item(self, decision_id: str, **values: Any) -> None:
        """Set the item's status and its latest action (reviewer, action, reason, decided_at)."""
        t = schema.review_queue
        self._conn.execute(
            update(t).where(t.c.decision_id == decision_id).values(**_utc([values])[0])
        )

    def record_contact(
        self, customer_id: str, contact: Contact, decision_id: str, at: datetime
    ) -> None:
        """Record a sent message: a ``contacts`` row, and in the customer's context.

        The context is read again here, under the lock, so the engine's latest
        committed state is kept and only the contact is added.
        """
        self._conn.execute(
            schema.contacts.insert(),
            _utc(
                [
                    {
                        "customer_id": customer_id,
                        "rule_id": contact.rule_id,
                        "purpose": contact.purpose,
                        "channel": contact.channel,
                        "offer_id": contact.offer_id,
                        "decision_id": decision_id,
                        "sent_at": contact.at,
                    }
                ]
            ),
        )
        ctx = self.context(customer_id) or CustomerContext(customer_id)
        ctx.record_contact(contact)
        self._conn.execute(
            self._store._upsert_customers(),
            {
                "customer_id": customer_id,
                "doc": ctx.encode().decode(),
                "updated_at": at.astimezone(UTC),
            },
        )


def _review_row(row: Any) -> dict[str, Any]:
    """A review queue row as a dict: times aware, JSON columns decoded."""
    out = dict(row)
    for key in ("created_at", "expires_at", "decided_at"):
        if out.get(key) is not None:
            out[key] = _aware(out[key])
    out["candidate"] = orjson.loads(out["candidate"]) if out.get("candidate") else None
    out["reasons"] = orjson.loads(out["reasons"]) if out.get("reasons") else []
    return out


def _without(batch: Batch, erased: set[str]) -> Batch:
    """The batch without the rows of erased customers (except processed events and
    decision records: see :meth:`ContextStore.commit`)."""

    def keep(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in rows if r["customer_id"] not in erased]

    # (closing a deferred message the erasure deleted changes no row: left as is)
    return replace(
        batch,
        contexts={cid: ctx for cid, ctx in batch.contexts.items() if cid not in erased},
        contacts=keep(batch.contacts),
        deferred=keep(batch.deferred),
        reviews=keep(batch.reviews),
    )


def _sqlite_write_lock(conn: Connection) -> None:
    # a write as the first statement takes SQLite's write lock now, not at the first
    # real write (when a reader upgrading would fail as busy)
    conn.execute(
        update(schema.chain_head)
        .where(schema.chain_head.c.chain == "")
        .values(seq=schema.chain_head.c.seq)
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers (explain, a review UI) work while the engine writes;
    # NORMAL sync is durable at each commit of a WAL database.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA cache_size=-16000")
    # checkpoint the WAL every ~40 MB instead of every 4 MB: fewer syncs of the main file
    cur.execute("PRAGMA wal_autocheckpoint=10000")
    cur.close()


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _utc(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with every aware time converted to UTC.

    SQLAlchemy's SQLite DateTime drops the offset; storing UTC keeps the instant.
    """
    out = []
    for row in rows:
        fixed = {
            k: v.astimezone(UTC) if isinstance(v, datetime) and v.tzinfo is not None else v
            for k, v in row.items()
        }
        out.append(fixed)
    return out


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time in this store is UTC
    return value if value.tzinfo else value.replace(tzinfo=UTC)
