"""The audit (proactive.audit, ``proactive audit verify``): every chain, every source.

Stores are made the real way — the embedded engine over a small stream with review
items (the helpers of ``test_review``), reviewers approving and rejecting, the Kafka
service's partition chains — then one record is altered, removed or cut off, in the
store or in ``decisions.jsonl``, and the audit must name that link.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import delete, select, update
from test_review import DAYTIME, POLICY, RULES, Run, ce, check, held_for_review, rules

from proactive.audit import verify
from proactive.cli import main
from proactive.decisions import seal, verify_chain
from proactive.gdpr import ERASURE_CHAIN, forget
from proactive.pipeline import Engine, Outputs
from proactive.review import REVIEW_CHAIN, reject
from proactive.sinks import MemorySink
from proactive.store import ContextStore, schema, sqlite_url

T0 = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def make_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Run]]:
    """Factory: an embedded run's output folder over ``lines`` (as in ``test_review``)."""
    monkeypatch.delenv("PROACTIVE_STORE_URL", raising=False)
    made: list[Run] = []

    def build(lines: list[str], name: str = "out") -> Run:
        out = tmp_path / name
        out.mkdir()
        run = Run(out, ContextStore(sqlite_url(out / "state.sqlite")), rules(), check())
        run.feed(lines)
        made.append(run)
        return run

    yield build
    for run in made:
        run.store.close()


def failed_payments(customer: str) -> list[str]:
    """A customer whose failed payments each lead to a decision (send, then cooldowns)."""
    profile = ce(
        "customer.profile_updated",
        customer,
        "2026-01-15T09:00:00Z",
        name="Kim",
        language="en",
        preferred_channel="app_inbox",
    )
    return [profile] + [
        ce(
            "billing.payment_failed",
            customer,
            T0 + timedelta(days=d),
            invoice_id=f"I-{customer}-{d}",
            amount_eur=20.0 + d,
        )
        for d in range(3)
    ]


@pytest.fixture
def reviewed(make_run: Callable[..., Run]) -> Run:
    """Three customers held for review, one approved, one rejected, plus ordinary traffic."""
    lines = [*held_for_review("C1"), *held_for_review("C2"), *held_for_review("C3")]
    lines += [*failed_payments("C4"), *failed_payments("C5")]
    run = make_run(lines)
    assert run.approve("C1").action == "approved"
    reject(run.store, run.item("C2").decision_id, reviewer="bob", reason="no", now=DAYTIME)
    return run


def rewrite_row(
    store: ContextStore, chain: str, seq: int, change: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Change one stored record in place (as someone with database access could)."""
    t = schema.decisions
    where = (t.c.chain == chain, t.c.seq == seq)
    with store.engine.begin() as conn:
        rec = orjson.loads(conn.execute(select(t.c.record).where(*where)).scalar_one())
        change(rec)
        conn.execute(update(t).where(*where).values(record=orjson.dumps(rec).decode()))
    return rec


def rewrite_line(path: Path, seq: int, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        rec = json.loads(line)
        if rec["seq"] == seq:
            change(rec)
            lines[i] = json.dumps(rec)
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            return dict(rec)
    raise AssertionError(f"no seq {seq} in {path}")


def flip_verdict(rec: dict[str, Any]) -> None:
    rec["verdict"] = "send" if rec["verdict"] != "send" else "block"


# -- everything intact -------------------------------------------------------------------


def test_an_untouched_run_verifies_in_every_chain_and_source(reviewed: Run) -> None:
    report = verify(reviewed.store, reviewed.out / "decisions.jsonl")
    assert report.ok, [str(f) for f in report.findings]
    by = {(c.source if c.source == "store" else "file", c.chain): c for c in report.chains}
    assert set(by) == {("store", "main"), ("store", REVIEW_CHAIN), ("file", "main")}
    main_chain = by[("store", "main")]
    assert main_chain.records == len(reviewed.decisions()) > 4
    assert (main_chain.head_seq, main_chain.head_hash) == reviewed.store.chain_head("main")
    assert by[("file", "main")].head_hash == main_chain.head_hash
    assert by[("store", REVIEW_CHAIN)].records == 2


# -- the store ---------------------------------------------------------------------------


def test_an_altered_stored_decision_is_named_by_chain_seq_and_id(reviewed: Run) -> None:
    rec = rewrite_row(reviewed.store, "main", 3, flip_verdict)
    report = verify(reviewed.store)
    assert not report.ok
    first = report.first
    assert first is not None
    assert (first.source, first.chain, first.seq, first.decision_id) == (
        "store",
        "main",
        3,
        rec["decision_id"],
    )
    assert first.problem.startswith("hash mismatch")
    # the review chain is not affected and says so
    assert [c.ok for c in report.chains if c.chain == REVIEW_CHAIN] == [True]


def test_an_altered_personal_field_breaks_its_commitment(reviewed: Run) -> None:
    def other_customer(rec: dict[str, Any]) -> None:
        rec["customer_id"] = "C999"

    rewrite_row(reviewed.store, "main", 2, other_customer)
    first = verify(reviewed.store).first
    assert first is not None and first.seq == 2
    assert "'customer_id' does not match its commitment" in first.problem


def test_a_deleted_record_is_a_gap_in_seq(reviewed: Run) -> None:
    t = schema.decisions
    with reviewed.store.engine.begin() as conn:
        conn.execute(delete(t).where(t.c.chain == "main", t.c.seq == 2))
    first = verify(reviewed.store).first
    assert first is not None and (first.chain, first.seq) == ("main", 3)
    assert first.problem == "gap in seq: expected seq 2, found seq 3"


def test_a_resealed_forgery_breaks_the_next_link(reviewed: Run) -> None:
    """Re-computing the hash of the altered record moves the break to its successor."""

    def forge(rec: dict[str, Any]) -> None:
        flip_verdict(rec)
        seal(rec, rec["prev_hash"])

    forged = rewrite_row(reviewed.store, "main", 2, forge)
    t = schema.decisions
    with reviewed.store.engine.begin() as conn:
        conn.execute(update(t).where(t.c.chain == "main", t.c.seq == 2).values(hash=forged["hash"]))
    first = verify(reviewed.store).first
    assert first is not None and (first.chain, first.seq) == ("main", 3)
    assert first.problem.startswith("prev_hash mismatch")


def test_records_cut_off_the_end_are_caught_by_the_chain_head(reviewed: Run) -> None:
    head_seq, _ = reviewed.store.chain_head("main")
    t = schema.decisions
    with reviewed.store.engine.begin() as conn:
        conn.execute(delete(t).where(t.c.chain == "main", t.c.seq == head_seq))
    first = verify(reviewed.store).first
    assert first is not None and first.chain == "main" and first.seq == head_seq
    assert first.problem.startswith("chain head mismatch")


def test_an_altered_review_record_is_named_in_the_review_chain(reviewed: Run) -> None:
    def mallory(rec: dict[str, Any]) -> None:
        rec["reviewer"] = "mallory"

    rec = rewrite_row(reviewed.store, REVIEW_CHAIN, 2, mallory)
    report = verify(reviewed.store)
    assert [f.chain for f in report.findings] == [REVIEW_CHAIN]
    first = report.first
    assert first is not None and (first.seq, first.decision_id) == (2, rec["decision_id"])


def test_the_rows_columns_must_agree_with_the_record(reviewed: Run) -> None:
    t = schema.decisions
    with reviewed.store.engine.begin() as conn:
        conn.execute(update(t).where(t.c.chain == "main", t.c.seq == 2).values(hash="f" * 64))
    first = verify(reviewed.store).first
    assert first is not None and first.seq == 2 and "hash column" in first.problem


@pytest.mark.parametrize(
    ("chain", "column", "value"),
    [
        ("main", "verdict", "send"),  # a blocked decision shown as sent in the explorer
        ("main", "rule_id", "outage-started"),  # moved out of a product user's scope
        ("main", "customer_id", "C9"),  # hidden from forget and the customer search
        (REVIEW_CHAIN, "verdict", "rejected"),  # the review's action
    ],
)
def test_the_columns_search_and_forget_select_by_must_agree_too(
    reviewed: Run, chain: str, column: str, value: str
) -> None:
    t = schema.decisions
    with reviewed.store.engine.begin() as conn:
        seq = conn.execute(
            select(t.c.seq)
            .where(t.c.chain == chain, getattr(t.c, column) != value)
            .order_by(t.c.seq)
            .limit(1)
        ).scalar_one()
        conn.execute(update(t).where(t.c.chain == chain, t.c.seq == seq).values({column: value}))
    report = verify(reviewed.store)
    assert [(f.chain, f.seq) for f in report.findings] == [(chain, seq)]
    assert f"the row's {column} column ({value}) disagrees" in report.findings[0].problem


def test_every_partition_chain_of_the_service_is_checked(tmp_path: Path) -> None:
    """The Kafka service keeps one chain per partition: each verifies on its own, and an
    altered record in one of them is named there."""
    store = ContextStore(sqlite_url(tmp_path / "state.sqlite"))
    try:
        engine = Engine(rules(), check(), store, Outputs(MemorySink(), MemorySink(), MemorySink()))
        raws: list[Any] = []
        for n, customer in enumerate(("C1", "C2", "C3", "C4")):
            chain = f"customer-events-{n % 2}"
            raws += [(line, f"p{n % 2}", chain) for line in held_for_review(customer)]
        engine.run(raws)
        engine.finish()
        assert verify(store).ok
        assert {c.chain for c in verify(store).chains} == {"customer-events-0", "customer-events-1"}
        rewrite_row(store, "customer-events-1", 2, flip_verdict)
        report = verify(store)
        assert [(f.chain, f.seq) for f in report.findings] == [("customer-events-1", 2)]
    finally:
        store.close()


def test_a_schema_1_record_still_verifies_and_still_breaks() -> None:
    """Records sealed before the commitments (schema 1: hash over the whole record)."""
    old = {"schema_version": 1, "decision_id": "d1", "customer_id": "C1", "chain": "main", "seq": 1}
    rec = seal(dict(old), "0" * 64)
    assert "commitments" not in rec and verify_chain([rec]) is None
    rec["customer_id"] = "C2"
    broken = verify_chain([rec])
    assert broken is not None and broken.seq == 1 and broken.problem.startswith("hash mismatch")


# -- decisions.jsonl ---------------------------------------------------------------------


def test_an_altered_line_of_decisions_jsonl_is_named(reviewed: Run) -> None:
    path = reviewed.out / "decisions.jsonl"
    rec = rewrite_line(path, 4, flip_verdict)
    report = verify(reviewed.store, path)
    assert [(f.source, f.chain, f.seq, f.decision_id) for f in report.findings] == [
        (str(path), "main", 4, rec["decision_id"])
    ]
    assert "hash mismatch" in report.findings[0].problem
    # and without the store (only the file of a run)
    alone = verify(None, path)
    assert alone.first is not None and alone.first.seq == 4


def test_a_line_removed_from_decisions_jsonl_is_a_gap(reviewed: Run) -> None:
    path = reviewed.out / "decisions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:2] + lines[3:]) + "\n", encoding="utf-8")
    first = verify(None, path).first
    assert first is not None and first.seq == 4 and first.problem.startswith("gap in seq")


# -- the command line --------------------------------------------------------------------


def cli(args: list[str]) -> Result:
    return CliRunner().invoke(main, ["--rules", str(RULES), "--policy", str(POLICY), *args])


def test_cli_verify_exits_0_when_intact_and_1_naming_the_broken_link(reviewed: Run) -> None:
    out = str(reviewed.out)
    ok = cli(["audit", "verify", "--out", out])
    assert ok.exit_code == 0, ok.output
    assert "all 3 chain(s) verify" in ok.stdout
    rec = rewrite_row(reviewed.store, "main", 5, flip_verdict)
    broken = cli(["audit", "verify", "--out", out])
    assert broken.exit_code == 1
    assert f"chain main, seq 5, decision {rec['decision_id']}: hash mismatch" in broken.stderr
    as_json = cli(
        ["audit", "verify", "--store", sqlite_url(reviewed.out / "state.sqlite"), "--json"]
    )
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["ok"] is False
    assert data["findings"][0]["seq"] == 5 and data["findings"][0]["chain"] == "main"


def test_cli_verify_needs_something_to_verify(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli(["audit", "verify", "--out", str(empty)])
    assert result.exit_code == 2 and "nothing to verify" in result.stderr
    missing = cli(["audit", "verify", "--store", sqlite_url(tmp_path / "nope.sqlite")])
    assert missing.exit_code == 2 and "no such SQLite store" in missing.stderr


# -- erasures ----------------------------------------------------------------------------


def test_a_redaction_nobody_vouched_for_is_caught(reviewed: Run) -> None:
    """Someone "redacts" a record to hide who it was about: the mark names a real erasure
    record, but that record does not list this one."""
    erasure = forget(reviewed.store, "C3", now=DAYTIME, requested_by="dpo")
    assert verify(reviewed.store).ok
    c4 = next(r for r in reviewed.store.decision_records("main") if r["customer_id"] == "C4")

    def hide(rec: dict[str, Any]) -> None:
        rec["customer_id"] = "anon-0000"
        del rec["salts"]["customer_id"]
        rec["redactions"] = [
            {
                "by": erasure.record["decision_id"],
                "seq": 1,
                "kind": "forget",
                "at": "x",
                "fields": ["customer_id"],
            }
        ]

    rewrite_row(reviewed.store, "main", c4["seq"], hide)
    first = verify(reviewed.store).first
    assert first is not None and first.seq == c4["seq"] and "not vouched for" in first.problem


def test_erased_data_put_back_is_caught(reviewed: Run) -> None:
    """Restoring an erased record from a backup: the chain links still hold, but the
    erasure record says it was erased."""
    before = {r["seq"]: r for r in reviewed.store.decision_records("main")}
    forget(reviewed.store, "C3", now=DAYTIME, requested_by="dpo")
    (seq, original), *_ = [(s, r) for s, r in before.items() if r["customer_id"] == "C3"]
    t = schema.decisions
    with reviewed.store.engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.chain == "main", t.c.seq == seq)
            .values(record=orjson.dumps(original).decode())
        )
    report = verify(reviewed.store)
    assert [(f.chain, f.seq) for f in report.findings] == [("main", seq)]
    assert "still holds them" in report.findings[0].problem


def test_the_erasure_chain_is_verified_first_and_like_any_other(reviewed: Run) -> None:
    forget(reviewed.store, "C3", now=DAYTIME, requested_by="dpo")
    forget(reviewed.store, "C4", now=DAYTIME, requested_by="dpo")
    report = verify(reviewed.store)
    assert report.ok and report.chains[0].chain == ERASURE_CHAIN
    assert report.chains[0].records == 2

    def other_dpo(rec: dict[str, Any]) -> None:
        rec["requested_by"] = "someone else"

    rewrite_row(reviewed.store, ERASURE_CHAIN, 1, other_dpo)
    first = verify(reviewed.store).first
    assert first is not None and (first.chain, first.seq) == (ERASURE_CHAIN, 1)
