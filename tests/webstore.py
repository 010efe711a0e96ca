"""Stores for the web UI's tests (API tests and the browser tests): made the real way.

An embedded engine run over customers built as ``tests/test_review.py`` builds them
(``held_for_review``: the best-fitting bundle clashes with the customer's value
``no_marketing``, so the check says *review*), plus an outage notice for each (a
service message of another rule, sent), so a store holds a queue, decisions of two
rules and a review chain to verify. The web app's clock is fixed at
:data:`DAYTIME`, inside the send window and every item's review window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import orjson
from sqlalchemy import insert
from test_review import DAYTIME, RULE, T0, ce, check, held_for_review, rules

from proactive.decisions import seal
from proactive.pipeline import Engine, Outputs
from proactive.sinks import JsonlSink
from proactive.store import ContextStore, schema, sqlite_url

__all__ = [
    "DAYTIME",
    "OUTAGE_RULE",
    "RULE",
    "T0",
    "add_record",
    "consent_withdrawn",
    "customers",
    "fill_store",
    "outage",
]

OUTAGE_RULE = "outage-started"


def customers(n: int) -> list[str]:
    """``n`` customer ids that sort in the order they are queued: C001, C002, …"""
    return [f"C{i:03d}" for i in range(1, n + 1)]


def outage(customer: str, at: Sequence[int] = (0,)) -> str:
    """An outage that affects ``customer`` (a service notice the check lets through)."""
    when = T0 + timedelta(minutes=at[0], seconds=30)
    return ce(
        "service.outage_started",
        customer,
        when,
        outage_id=f"O-{customer}",
        area="Utrecht",
        services=["data"],
        expected_end=(when + timedelta(hours=3)).isoformat(),
    )


def fill_store(
    out: Path,
    ids: Sequence[str],
    *,
    outages: bool = True,
    then: Sequence[str] = (),
    store_url: str | None = None,
) -> Path:
    """Run the embedded engine over ``ids`` (and then the event lines ``then``) into
    ``out`` (its store: ``store_url``, else ``out/state.sqlite``); the SQLite store's path.

    Customer number ``k`` (0-based) is queued ``k`` seconds after :data:`T0`, so the
    queue's order is the order of ``ids``.
    """
    out.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for k, cid in enumerate(ids):
        lines += held_for_review(cid, at=T0 + timedelta(seconds=k))
        if outages:
            lines.append(outage(cid))
    lines += then
    engine = Engine(
        rules(),
        check(),
        ContextStore(store_url or sqlite_url(out / "state.sqlite")),
        Outputs(
            JsonlSink(out / "decisions.jsonl"),
            JsonlSink(out / "notifications.jsonl"),
            JsonlSink(out / "dead-letter.jsonl"),
        ),
    )
    engine.run([(line, f"test:{n}") for n, line in enumerate(lines, 1)])
    engine.finish()
    engine.outputs.close()
    engine.store.close()
    return out / "state.sqlite"


def consent_withdrawn(customer: str, minutes: int = 1) -> str:
    """The customer withdraws commercial consent, ``minutes`` after :data:`T0`."""
    return ce(
        "customer.consent_changed",
        customer,
        T0 + timedelta(minutes=minutes),
        purpose="commercial",
        channel="all",
        granted=False,
    )


def add_record(store: ContextStore, changes: dict[str, object], chain: str = "crafted") -> str:
    """Seal a copy of the store's first decision, with ``changes``, as the next record of
    ``chain``: a record the engine could have written (tests of what pages show).
    Returns its decision id."""
    first, *_ = store.decision_records("main")
    seq, prev = store.chain_head(chain)
    record = {**first, **changes, "chain": chain, "seq": seq + 1}
    record.pop("hash", None)
    rec = seal(record, prev)
    with store.engine.begin() as conn:
        conn.execute(
            insert(schema.decisions).values(
                chain=chain,
                seq=seq + 1,
                decision_id=rec["decision_id"],
                event_id=rec["event_id"],
                customer_id=rec["customer_id"],
                rule_id=rec["rule_id"],
                verdict=rec["verdict"],
                created_at=T0,
                prev_hash=rec["prev_hash"],
                hash=rec["hash"],
                record=orjson.dumps(rec).decode(),
            )
        )
        conn.execute(store._upsert_chain(), {"chain": chain, "seq": seq + 1, "hash": rec["hash"]})
    return str(rec["decision_id"])
