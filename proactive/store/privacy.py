"""The store's side of the GDPR rights and the audit: reading everything about a
customer, redacting and deleting it, and reading the chains row by row.

:mod:`proactive.gdpr` decides *what* to erase; this module only knows the tables.
Writes happen inside :func:`privacy_write`, one transaction under the review lock:
an erasure and a review action never interleave (both change the review queue and
a chain head), and on PostgreSQL the customer's row is locked like an approval
locks it, so an engine committing that customer waits for the erasure. A step that
may delete contexts also holds the erasure lock (``proactive.store.ERASURE_LOCK``),
with which every engine commit takes turns: the commit then sees the erasure and
does not write the erased context back (``ContextStore.commit``).

Example::

    with privacy_write(store) as w:
        rows = w.decisions_of("C1")
        ...
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import delete, or_, select, update

from proactive.store import ContextStore, ReviewWrite, _aware, _review_row, schema

__all__ = [
    "ERASED",
    "PrivacyWrite",
    "chain_heads",
    "chain_names",
    "chain_rows",
    "customer_rows",
    "dead_letter_rows",
    "privacy_write",
]

T = TypeVar("T")

ERASED = "erased"
"""Status of a review item or deferred message whose customer was erased (never sent)."""


def _batches(items: list[T], size: int) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _redacted_column(fields: Iterable[str]) -> str | None:
    names = sorted(set(fields))
    # delimited so that LIKE '%,message,%' does not match message_sha256
    return f",{','.join(names)}," if names else None


# -- reading -----------------------------------------------------------------------------


def chain_names(store: ContextStore) -> list[str]:
    """Every chain that has records or a head (a head without records is a break too)."""
    d, h = schema.decisions, schema.chain_head
    with store.engine.connect() as conn:
        names = {r[0] for r in conn.execute(select(d.c.chain).distinct())}
        names |= {r[0] for r in conn.execute(select(h.c.chain)) if r[0]}
    return sorted(names)


def chain_heads(store: ContextStore) -> dict[str, tuple[int, str]]:
    """The stored head (seq, hash) of each chain."""
    h = schema.chain_head
    with store.engine.connect() as conn:
        return {r[0]: (r[1], r[2]) for r in conn.execute(select(h.c.chain, h.c.seq, h.c.hash))}


def chain_rows(store: ContextStore, chain: str) -> Iterator[dict[str, Any]]:
    """The rows of one chain in ``seq`` order, columns as stored and ``record`` as text."""
    d = schema.decisions
    q = (
        select(
            d.c.chain,
            d.c.seq,
            d.c.decision_id,
            d.c.customer_id,
            d.c.rule_id,
            d.c.verdict,
            d.c.prev_hash,
            d.c.hash,
            d.c.record,
        )
        .where(d.c.chain == chain)
        .order_by(d.c.seq)
    )
    with store.engine.connect() as conn:
        for row in conn.execute(q).yield_per(1000):
            yield dict(row._mapping)


def customer_rows(store: ContextStore, customer_id: str) -> dict[str, Any]:
    """Everything the store holds under one customer id, table by table (one snapshot).

    ``context`` is the customer document as JSON-ready data (None if there is none);
    ``decisions`` are the records of every chain (decisions and review actions);
    ``inbound`` the customer's choices waiting for the engine (inbound events whose
    ``subject`` is the customer: the ``customer_id`` column holds exactly that).
    """
    with store.engine.begin() as conn:
        c = schema.customers
        doc = conn.execute(
            select(c.c.doc, c.c.updated_at).where(c.c.customer_id == customer_id)
        ).first()
        p = schema.processed_events
        events = [
            {"event_id": r[0], "event_time": _aware(r[1]).isoformat()}
            for r in conn.execute(
                select(p.c.event_id, p.c.event_time)
                .where(p.c.customer_id == customer_id)
                .order_by(p.c.event_time, p.c.event_id)
            )
        ]
        d = schema.decisions
        decisions = [
            orjson.loads(r[0])
            for r in conn.execute(
                select(d.c.record)
                .where(d.c.customer_id == customer_id)
                .order_by(d.c.created_at, d.c.chain, d.c.seq)
            )
        ]
        k = schema.contacts
        contacts = [
            {
                "rule_id": r.rule_id,
                "purpose": r.purpose,
                "channel": r.channel,
                "offer_id": r.offer_id,
                "decision_id": r.decision_id,
                "sent_at": _aware(r.sent_at).isoformat(),
            }
            for r in conn.execute(
                select(k).where(k.c.customer_id == customer_id).order_by(k.c.sent_at, k.c.id)
            )
        ]
        f = schema.deferred
        deferred = [
            {
                "decision_id": r.decision_id,
                "chain": r.chain,
                "due_at": _aware(r.due_at).isoformat(),
                "status": r.status,
                "candidate": orjson.loads(r.candidate),
            }
            for r in conn.execute(
                select(f).where(f.c.customer_id == customer_id).order_by(f.c.due_at)
            )
        ]
        q = schema.review_queue
        reviews = [
            _review_row(r._mapping)
            for r in conn.execute(
                select(q).where(q.c.customer_id == customer_id).order_by(q.c.created_at)
            )
        ]
        i = schema.inbound_events
        inbound = [
            {
                "event_id": r.event_id,
                "received_at": _aware(r.received_at).isoformat(),
                "event": orjson.loads(r.event),
            }
            for r in conn.execute(
                select(i.c.event_id, i.c.received_at, i.c.event)
                .where(i.c.customer_id == customer_id)
                .order_by(i.c.id)
            )
        ]
    return {
        "context": orjson.loads(doc[0]) if doc else None,
        "context_updated_at": _aware(doc[1]).isoformat() if doc else None,
        "events": events,
        "decisions": decisions,
        "contacts": contacts,
        "deferred": deferred,
        "review_items": reviews,
        "inbound": inbound,
    }


def dead_letter_rows(store: ContextStore) -> Iterator[dict[str, Any]]:
    """Every stored dead letter (id, reason, detail, raw, received_at), oldest first."""
    t = schema.dead_letters
    with store.engine.connect() as conn:
        for r in conn.execute(select(t).order_by(t.c.received_at, t.c.id)).yield_per(1000):
            row = dict(r._mapping)
            row["received_at"] = _aware(row["received_at"])
            yield row


# -- writing -----------------------------------------------------------------------------


@contextmanager
def privacy_write(store: ContextStore, *, deletes: bool = True) -> Iterator[PrivacyWrite]:
    """One erasure or purge step as one transaction, in turns with review actions.

    ``deletes``: the step may delete contexts (or other rows an engine writes), so it
    also takes turns with engine commits; false for a step that only redacts records.
    """
    with store._locked("could not record the erasure", erasure=deletes) as conn:
        yield PrivacyWrite(store, conn)


class PrivacyWrite(ReviewWrite):
    """The open transaction of an erasure (from :func:`privacy_write`).

    Besides what a review action may do (chain head, append a sealed record, lock and
    read a context), it finds, redacts and deletes a customer's rows.
    """

    # -- decision records ----------------------------------------------------------------

    def decisions_of(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's records in every chain: chain, seq, decision_id, record (parsed)."""
        d = schema.decisions
        q = (
            select(d.c.chain, d.c.seq, d.c.decision_id, d.c.record)
            .where(d.c.customer_id == customer_id)
            .order_by(d.c.chain, d.c.seq)
        )
        return [
            {"chain": r[0], "seq": r[1], "decision_id": r[2], "record": orjson.loads(r[3])}
            for r in self._conn.execute(q)
        ]

    def decisions_before(
        self, cutoff: datetime, field: str, *, exclude_chain: str, limit: int
    ) -> list[dict[str, Any]]:
        """Records decided before ``cutoff`` whose ``field`` was not yet dealt with."""
        d = schema.decisions
        q = (
            select(d.c.chain, d.c.seq, d.c.decision_id, d.c.record)
            .where(
                d.c.created_at < cutoff.astimezone(UTC),
                d.c.chain != exclude_chain,
                or_(d.c.redacted.is_(None), d.c.redacted.not_like(f"%,{field},%")),
            )
            .order_by(d.c.created_at, d.c.chain, d.c.seq)
            .limit(limit)
        )
        return [
            {"chain": r[0], "seq": r[1], "decision_id": r[2], "record": orjson.loads(r[3])}
            for r in self._conn.execute(q)
        ]

    def update_decision(
        self,
        chain: str,
        seq: int,
        record: dict[str, Any],
        *,
        done: Iterable[str] = (),
        customer_id: str | None = None,
    ) -> None:
        """Store a redacted record; ``done``: fields to note as no longer held."""
        marks = record.get("redactions") or []
        fields = {f for m in marks for f in m.get("fields", ())} | set(done)
        values: dict[str, Any] = {
            "record": orjson.dumps(record, default=str).decode(),
            "redacted": _redacted_column(fields),
        }
        if customer_id is not None:
            values["customer_id"] = customer_id
        d = schema.decisions
        self._conn.execute(update(d).where(d.c.chain == chain, d.c.seq == seq).values(**values))

    # -- one customer --------------------------------------------------------------------

    def delete_customer(self, customer_id: str) -> int:
        """Delete the customer document (the context)."""
        c = schema.customers
        return self._count(delete(c).where(c.c.customer_id == customer_id))

    def delete_contacts(self, customer_ids: Iterable[str]) -> int:
        """Delete the contact history rows of these customers."""
        k, n = schema.contacts, 0
        for chunk in _batches(list(customer_ids), 500):
            n += self._count(delete(k).where(k.c.customer_id.in_(chunk)))
        return n

    def delete_deferred(self, customer_id: str) -> int:
        """Delete the customer's deferred messages (pending ones are never sent)."""
        f = schema.deferred
        return self._count(delete(f).where(f.c.customer_id == customer_id))

    def erase_review_items(self, customer_id: str, pseudonym: str) -> int:
        """Keep the customer's review items under the pseudonym, without the event payload
        or the reviewer's words; a pending one becomes ``erased`` (it can never be sent)."""
        q = schema.review_queue
        mine = q.c.customer_id == customer_id
        self._conn.execute(update(q).where(mine, q.c.status == "pending").values(status=ERASED))
        return self._count(
            update(q).where(mine).values(customer_id=pseudonym, candidate=None, reason=None)
        )

    def relink_events(self, customer_id: str, pseudonym: str) -> int:
        """Processed event ids stay (a replayed event must still be recognised) under the
        pseudonym."""
        p = schema.processed_events
        return self._count(
            update(p).where(p.c.customer_id == customer_id).values(customer_id=pseudonym)
        )

    def delete_inbound(self, customer_id: str) -> int:
        """Delete the customer's choices still waiting for the engine (inbound events
        whose ``subject``, kept in ``customer_id``, is the customer)."""
        i = schema.inbound_events
        return self._count(delete(i).where(i.c.customer_id == customer_id))

    def dead_letters(self) -> list[tuple[int, str]]:
        """(id, raw) of every stored dead letter."""
        t = schema.dead_letters
        return [(r[0], r[1]) for r in self._conn.execute(select(t.c.id, t.c.raw))]

    def delete_dead_letters(self, ids: Iterable[int]) -> int:
        """Delete these dead letters."""
        t, n = schema.dead_letters, 0
        for chunk in _batches(list(ids), 500):
            n += self._count(delete(t).where(t.c.id.in_(chunk)))
        return n

    # -- retention -----------------------------------------------------------------------

    def unlink_events_before(self, cutoff: datetime) -> int:
        """Processed events older than ``cutoff`` no longer say whose they were."""
        p = schema.processed_events
        return self._count(
            update(p)
            .where(p.c.event_time < cutoff.astimezone(UTC), p.c.customer_id != "")
            .values(customer_id="")
        )

    def drop_event_payloads_before(self, cutoff: datetime) -> tuple[int, int]:
        """Event payloads kept to act later, once nothing will act on them any more:
        deferred messages decided (released, blocked …) and review items decided, whose
        time is before ``cutoff``. Returns (deferred rows deleted, review payloads dropped).
        """
        f, q = schema.deferred, schema.review_queue
        when = cutoff.astimezone(UTC)
        n_deferred = self._count(delete(f).where(f.c.status != "pending", f.c.due_at < when))
        n_review = self._count(
            update(q)
            .where(q.c.status != "pending", q.c.created_at < when, q.c.candidate.is_not(None))
            .values(candidate=None)
        )
        return n_deferred, n_review

    def delete_dead_letters_before(self, cutoff: datetime) -> int:
        """Delete dead letters received before ``cutoff``."""
        t = schema.dead_letters
        return self._count(delete(t).where(t.c.received_at < cutoff.astimezone(UTC)))

    def quiet_customers(self, cutoff: datetime) -> list[tuple[str, str]]:
        """(customer id, document) of customers whose context nobody changed since ``cutoff``."""
        c = schema.customers
        q = select(c.c.customer_id, c.c.doc).where(c.c.updated_at < cutoff.astimezone(UTC))
        return [(r[0], r[1]) for r in self._conn.execute(q)]

    def delete_customers(self, customer_ids: Iterable[str]) -> int:
        """Delete these customer documents."""
        c, n = schema.customers, 0
        for chunk in _batches(list(customer_ids), 500):
            n += self._count(delete(c).where(c.c.customer_id.in_(chunk)))
        return n

    def _count(self, stmt: Any) -> int:
        result = self._conn.execute(stmt)
        return int(result.rowcount or 0)
