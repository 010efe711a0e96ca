"""Forget and the audit on a real PostgreSQL store (the store several engines share).

The engine decides into PostgreSQL (one decision chain per Kafka partition, as the
service keeps them), a reviewer approves one customer's item, then the customer is
forgotten: every chain still verifies, nothing of the customer is left in any table,
and altering a record afterwards is named by chain and seq.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select, update

from proactive.audit import verify
from proactive.ethics.check import EthicsCheck
from proactive.ethics.policy import load_policy
from proactive.gdpr import ERASURE_CHAIN, export_customer, forget
from proactive.pipeline import Engine, Outputs
from proactive.review import REVIEW_CHAIN, approve
from proactive.rules import load_ruleset
from proactive.sinks import MemorySink
from proactive.store import ContextStore, schema

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)


def ce(etype: str, customer: str, time: str, n: int, **data: Any) -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": f"pg-gdpr-{n:04d}",
            "source": "/tests/gdpr",
            "type": etype,
            "subject": customer,
            "time": time,
            "data": data,
        }
    )


def held_for_review(customer: str, name: str, start: int) -> list[bytes]:
    """A customer whose bundle warning with an offer is held for review (value misfit)."""
    usage = {"bundle_mb": 5120}
    months = [("2026-02", 7000), ("2026-03", 7200), ("2026-04", 6900)]
    lines = [
        ce(
            "customer.profile_updated",
            customer,
            "2026-01-15T09:00:00Z",
            start,
            name=name,
            language="en",
            preferred_channel="app_inbox",
            values=["no_marketing"],
        ),
        ce(
            "customer.consent_changed",
            customer,
            "2026-01-15T09:01:00Z",
            start + 1,
            purpose="commercial",
            channel="all",
            granted=True,
        ),
    ]
    for i, (month, used) in enumerate(months):
        nxt = f"2026-{int(month[5:]) + 1:02d}"
        lines.append(
            ce(
                "usage.data",
                customer,
                f"{month}-28T10:00:00Z",
                start + 2 + i,
                used_mb=used,
                cycle_start=f"{month}-01",
                cycle_end=f"{nxt}-01",
                **usage,
            )
        )
    lines.append(
        ce(
            "usage.data",
            customer,
            T0.isoformat(),
            start + 5,
            used_mb=4700,
            cycle_start="2026-05-01",
            cycle_end="2026-06-01",
            **usage,
        )
    )
    return lines


def test_forget_and_verify_on_postgresql(postgres_db: Callable[[str], str]) -> None:
    store = ContextStore(postgres_db("gdpr"))
    try:
        ruleset = load_ruleset(REPO / "rules")
        check = EthicsCheck(load_policy(REPO / "ethics" / "policy.yaml"))
        engine = Engine(ruleset, check, store, Outputs(MemorySink(), MemorySink(), MemorySink()))
        raws: list[Any] = []
        people = (("PG-NOOR", "Noor Bakker"), ("PG-OTHER", "Ali Yilmaz"), ("PG-THIRD", "Eva Smit"))
        for n, (customer, name) in enumerate(people):
            chain = f"customer-events-{n % 2}"
            lines = held_for_review(customer, name, 10 * n)
            raws += [(line, f"p{n % 2}", chain) for line in lines]
        engine.run(raws)
        engine.finish()
        item = next(r for r in store.review_items() if r["customer_id"] == "PG-NOOR")
        outcome = approve(
            store,
            item["decision_id"],
            ruleset=ruleset,
            check=check,
            reviewer="alice",
            reason="Noor asked for it",
            now=T0 + timedelta(hours=2),
            sink=MemorySink(),
        )
        assert outcome.action == "approved", outcome.reasons
        assert verify(store).ok

        erasure = forget(store, "PG-NOOR", now=T0 + timedelta(days=1), requested_by="dpo")
        assert erasure.found and erasure.redacted >= 2
        report = verify(store)
        assert report.ok, [str(f) for f in report.findings]
        assert {c.chain for c in report.chains} == {
            ERASURE_CHAIN,
            REVIEW_CHAIN,
            "customer-events-0",
            "customer-events-1",
        }
        with store.engine.connect() as conn:
            dump = "\n".join(
                repr(tuple(row))
                for table in schema.metadata.tables.values()
                for row in conn.execute(select(table))
            )
        assert "PG-NOOR" not in dump and "Noor" not in dump
        assert export_customer(store, "PG-NOOR")["decisions"] == []
        assert export_customer(store, "PG-OTHER")["profile"]["name"] == "Ali Yilmaz"

        # an altered record after the erasure is still named by chain and seq
        t = schema.decisions
        where = (t.c.chain == "customer-events-0", t.c.seq == 2)
        with store.engine.begin() as conn:
            rec = orjson.loads(conn.execute(select(t.c.record).where(*where)).scalar_one())
            rec["verdict"] = "send" if rec["verdict"] != "send" else "block"
            conn.execute(update(t).where(*where).values(record=orjson.dumps(rec).decode()))
        first = verify(store).first
        assert first is not None
        assert (first.chain, first.seq) == ("customer-events-0", 2)
        assert first.problem.startswith("hash mismatch")
    finally:
        store.close()
