"""Read-only queries the pages need, over the engine's store (SQLAlchemy Core).

Everything a user types reaches the database as a bound parameter, never as SQL
text; a ``LIKE`` pattern built from input has its ``%``, ``_`` and ``\\`` escaped,
so ``%`` searches for a percent sign, not for everything. Review records (the
``review`` chain) and erasure records (``erasure``) are not decisions: the explorer
and the reports leave them out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select

from proactive.context import CustomerContext
from proactive.gdpr import ERASURE_CHAIN
from proactive.inbound import with_waiting
from proactive.review import REVIEW_CHAIN
from proactive.store import ContextStore, schema

VERDICTS = ("send", "defer", "review", "block")
NOT_DECISIONS = (REVIEW_CHAIN, ERASURE_CHAIN)
"""Chains whose records are about decisions, not decisions themselves."""


def escape_like(text: str) -> str:
    """``text`` as a literal inside a ``LIKE`` pattern (escape character ``\\``).

    >>> escape_like("50%_off")
    '50\\\\%\\\\_off'
    """
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class DecisionSearch:
    """The explorer's filters; empty ones do not filter."""

    customer: str = ""
    """A customer id, or the beginning of one."""
    rule: str = ""
    verdict: str = ""
    since: date | None = None
    until: date | None = None
    """Inclusive: the whole day."""


@dataclass(frozen=True)
class DecisionRow:
    """One line of the explorer's result."""

    decision_id: str
    chain: str
    seq: int
    customer_id: str
    rule_id: str
    verdict: str
    created_at: datetime


def search_decisions(
    store: ContextStore,
    q: DecisionSearch,
    *,
    scope: frozenset[str] | None,
    limit: int,
    offset: int = 0,
) -> list[DecisionRow]:
    """Decisions matching ``q``, newest first; ``scope`` limits the rules (None: all)."""
    if scope is not None and not scope:
        return []
    t = schema.decisions
    stmt = select(
        t.c.decision_id,
        t.c.chain,
        t.c.seq,
        t.c.customer_id,
        t.c.rule_id,
        t.c.verdict,
        t.c.created_at,
    ).where(t.c.chain.not_in(NOT_DECISIONS))
    if q.customer:
        stmt = stmt.where(t.c.customer_id.like(escape_like(q.customer) + "%", escape="\\"))
    if q.rule:
        stmt = stmt.where(t.c.rule_id == q.rule)
    if q.verdict:
        stmt = stmt.where(t.c.verdict == q.verdict)
    # SQLite compares stored timestamps as text: every time in this store is UTC
    if q.since is not None:
        stmt = stmt.where(t.c.created_at >= datetime.combine(q.since, time(), UTC))
    if q.until is not None:
        stmt = stmt.where(t.c.created_at <= datetime.combine(q.until, time.max, UTC))
    if scope is not None:
        stmt = stmt.where(t.c.rule_id.in_(sorted(scope)))
    stmt = (
        stmt.order_by(t.c.created_at.desc(), t.c.chain, t.c.seq.desc()).limit(limit).offset(offset)
    )
    with store.engine.connect() as conn:
        return [
            DecisionRow(r[0], r[1], r[2], r[3], r[4], r[5], _aware(r[6]))
            for r in conn.execute(stmt)
        ]


def review_record(
    store: ContextStore, record_id: str, scope: frozenset[str] | None = None
) -> dict[str, Any] | None:
    """The review record with this id (what an action left, shown after it), or None —
    also when its rule is outside ``scope`` (a product user's rules; None: all)."""
    if not record_id or len(record_id) > 64:
        return None
    rec = store.decision_record(record_id)
    if rec is None or rec.get("record_type") != "review":
        return None
    return rec if scope is None or rec.get("rule_id") in scope else None


def rule_ids(store: ContextStore, scope: frozenset[str] | None = None) -> list[str]:
    """The rules that have decisions in the store, by id (within ``scope``)."""
    t = schema.decisions
    stmt = (
        select(t.c.rule_id).where(t.c.chain.not_in(NOT_DECISIONS)).distinct().order_by(t.c.rule_id)
    )
    with store.engine.connect() as conn:
        found = [r[0] for r in conn.execute(stmt)]
    return [r for r in found if scope is None or r in scope]


def verdicts_per_rule(
    store: ContextStore, scope: frozenset[str] | None = None
) -> dict[str, dict[str, int]]:
    """Per rule, the number of decisions per verdict (the four always, in order)."""
    t = schema.decisions
    stmt = (
        select(t.c.rule_id, t.c.verdict, func.count())
        .where(t.c.chain.not_in(NOT_DECISIONS))
        .group_by(t.c.rule_id, t.c.verdict)
    )
    out: dict[str, dict[str, int]] = {}
    with store.engine.connect() as conn:
        for rule_id, verdict, n in conn.execute(stmt):
            if scope is not None and rule_id not in scope:
                continue
            counts = out.setdefault(rule_id, dict.fromkeys(VERDICTS, 0))
            counts[verdict] = counts.get(verdict, 0) + int(n)
    return dict(sorted(out.items()))


def rule_records(store: ContextStore, rule_id: str) -> Iterator[dict[str, Any]]:
    """Every decision record of one rule, oldest first (streamed)."""
    t = schema.decisions
    stmt = (
        select(t.c.record)
        .where(t.c.rule_id == rule_id, t.c.chain.not_in(NOT_DECISIONS))
        .order_by(t.c.created_at, t.c.chain, t.c.seq)
    )
    with store.engine.connect() as conn:
        for row in conn.execution_options(yield_per=500).execute(stmt):
            yield orjson.loads(row[0])


@dataclass(frozen=True)
class JokerUse:
    """One decision or approval that used an exception (the joker)."""

    decision_id: str
    kind: str
    """``decision`` (a rule's own exception) or ``approval`` (a reviewer's)."""
    rule_id: str
    customer_id: str
    created_at: datetime
    limits: tuple[str, ...]
    justification: str
    by: str
    verdict: str
    review_of: str | None


def joker_uses(store: ContextStore, *, limit: int = 1000) -> list[JokerUse]:
    """Decisions and approvals that used an exception, newest first.

    The records are JSON text; ``"exception":{`` appears only where one was used
    (``null`` otherwise), so the database does the coarse filtering and each record
    is confirmed after parsing.
    """
    t = schema.decisions
    stmt = (
        select(t.c.record)
        .where(t.c.record.like('%"exception":{%'))
        .order_by(t.c.created_at.desc(), t.c.chain, t.c.seq.desc())
        .limit(limit)
    )
    out: list[JokerUse] = []
    with store.engine.connect() as conn:
        for (raw,) in conn.execute(stmt):
            rec = orjson.loads(raw)
            exc = rec.get("exception")
            if not isinstance(exc, dict):
                continue
            limits = exc.get("limits") or ()
            out.append(
                JokerUse(
                    decision_id=str(rec.get("decision_id")),
                    kind="approval" if rec.get("record_type") == "review" else "decision",
                    rule_id=str(rec.get("rule_id")),
                    customer_id=str(rec.get("customer_id")),
                    created_at=_moment(rec.get("created_at")),
                    limits=(limits,) if isinstance(limits, str) else tuple(map(str, limits)),
                    justification=str(exc.get("justification") or ""),
                    by=str(exc.get("by") or exc.get("approved_by") or rec.get("reviewer") or ""),
                    verdict=str(rec.get("verdict") or rec.get("action") or ""),
                    review_of=rec.get("review_of"),
                )
            )
    return out


def day_buckets(days: Counter[date]) -> tuple[list[str], list[date]]:
    """Labels and bucket starts for a verdicts-over-time chart: days, or weeks past 62 days."""
    if not days:
        return [], []
    first, last = min(days), max(days)
    if (last - first).days <= 62:
        starts = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        return [d.isoformat() for d in starts], starts
    monday = first - timedelta(days=first.weekday())
    starts = []
    while monday <= last:
        starts.append(monday)
        monday += timedelta(days=7)
    return [f"{d.isocalendar().year}-W{d.isocalendar().week:02d}" for d in starts], starts


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _moment(value: Any) -> datetime:
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass
class CustomerNow:
    """A customer's context as the next decision will see it, and how much of it is
    still waiting for the engine."""

    context: CustomerContext
    known: bool
    """False when the store holds nothing on this customer (never seen, or erased)."""
    waiting: int
    """Choices made on the preference page that the engine has not drained yet."""


def customer_now(store: ContextStore, customer_id: str) -> CustomerNow:
    """The store's context of ``customer_id`` with the choices still waiting applied on
    top: the preference page must not show a choice as undone, nor the explorer miss
    it, just because the engine has not drained it yet."""
    found = store.load([customer_id]).get(customer_id)
    ctx = found or CustomerContext(customer_id)
    waiting = with_waiting(ctx, store)
    return CustomerNow(ctx, found is not None or waiting > 0, waiting)


def last_message(store: ContextStore, customer_id: str, rule_id: str) -> dict[str, Any] | None:
    """The newest decision record of ``rule_id`` for this customer that carries a message
    (on any chain: "main" embedded, one per partition with Kafka), or None."""
    t = schema.decisions
    stmt = (
        select(t.c.record)
        .where(
            t.c.customer_id == customer_id,
            t.c.rule_id == rule_id,
            t.c.chain.not_in(NOT_DECISIONS),
        )
        .order_by(t.c.created_at.desc(), t.c.seq.desc())
        .limit(20)
    )
    with store.engine.connect() as conn:
        for (raw,) in conn.execute(stmt):
            rec: dict[str, Any] = orjson.loads(raw)
            if isinstance(rec.get("message"), dict) and rec.get("verdict") in ("send", "defer"):
                return rec
    return None


@dataclass(frozen=True)
class CallbackRequest:
    """A customer waiting for a person to call back."""

    customer_id: str
    asked_at: datetime
    via: str
    language: str | None
    waiting: bool
    """True while the request itself is still waiting for the engine."""


def open_callbacks(store: ContextStore, limit: int) -> list[CallbackRequest]:
    """Customers who asked to be called back and were not yet, oldest request first.

    A context holds ``callback_requested_at`` only while a request is open (the JSON
    omits empty fields), so a ``LIKE`` on the document finds them without decoding
    every customer; requests still waiting for the engine are added from the inbound
    table.
    """
    t = schema.customers
    with store.engine.connect() as conn:
        stmt = select(t.c.customer_id).where(t.c.doc.like('%"callback_requested_at"%'))
        asked_ids = {r[0] for r in conn.execute(stmt)}
    waiting_ids = set(store.inbound_customers())
    # one read for all the contexts; waiting choices only for those that have some
    stored = store.load(asked_ids | waiting_ids)
    found: list[CallbackRequest] = []
    for cid in asked_ids | waiting_ids:
        ctx = stored.get(cid) or CustomerContext(cid)
        waiting = with_waiting(ctx, store) if cid in waiting_ids else 0
        asked = ctx.callback_requested_at
        if asked is None:
            continue
        via = next((c.via for c in reversed(ctx.choices) if c.what == "callback"), "unknown")
        found.append(CallbackRequest(cid, asked, via, ctx.language, waiting > 0))
    found.sort(key=lambda r: (r.asked_at, r.customer_id))
    return found[:limit]
