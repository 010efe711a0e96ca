"""The human review queue (proactive.review, ``proactive review``).

Review items are made the real way: the embedded engine runs a small stream in which
customers who declared the value ``no_marketing`` (and gave commercial consent) pass
90% of their bundle, so the best-fitting bundle offer does not fit their values and
the check says *review*. Each test then acts on those items against the run's SQLite
store, at moments it chooses.
"""

from __future__ import annotations

import functools
import json
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from proactive.app import open_engine
from proactive.cli import main
from proactive.cli import review as review_cli
from proactive.config import load_settings
from proactive.decisions import verify_chain
from proactive.ethics.check import EthicsCheck
from proactive.ethics.policy import load_policy
from proactive.pipeline import Engine, Outputs
from proactive.report import summarise
from proactive.review import (
    REVIEW_CHAIN,
    DeliveryError,
    ReviewError,
    ReviewItem,
    approve,
    expire_stale,
    find_item,
    history,
    list_items,
    recheck,
    reject,
    verify_review_chain,
)
from proactive.rules import RuleSet, load_ruleset
from proactive.sinks import JsonlSink, MemorySink
from proactive.store import ContextStore, schema, sqlite_url

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"
POLICY = REPO / "ethics" / "policy.yaml"
RULE = "data-bundle-nearly-used"

T0 = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)
"""When the reviewed decisions are taken: a Wednesday, 12:00 in Amsterdam."""
DAYTIME = T0 + timedelta(hours=2)
"""An approval moment well inside the send window and the review window."""


def ce(etype: str, customer: str, time: datetime | str, **data: Any) -> str:
    """One CloudEvent line; its id is derived from type, customer and time."""
    when = time if isinstance(time, str) else time.isoformat()
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"{etype}-{customer}-{when}",
            "source": "/tests/review",
            "type": etype,
            "subject": customer,
            "time": when,
            "data": data,
        }
    )


def usage(customer: str, time: datetime | str, used_mb: float, month: int = 5) -> str:
    return ce(
        "usage.data",
        customer,
        time,
        used_mb=used_mb,
        bundle_mb=5120,
        cycle_start=f"2026-{month:02d}-01",
        cycle_end=f"2026-{month + 1:02d}-01",
    )


def held_for_review(customer: str, at: datetime = T0) -> list[str]:
    """A customer whose 90% warning with an offer goes to review (value misfit)."""
    return [
        ce(
            "customer.profile_updated",
            customer,
            "2026-01-15T09:00:00Z",
            name="Sam",
            language="en",
            preferred_channel="app_inbox",
            values=["no_marketing"],
        ),
        ce(
            "customer.consent_changed",
            customer,
            "2026-01-15T09:01:00Z",
            purpose="commercial",
            channel="all",
            granted=True,
        ),
        # three earlier cycles well above 5 GB: a structural need, so an offer
        usage(customer, "2026-02-28T10:00:00Z", 7000, month=2),
        usage(customer, "2026-03-28T10:00:00Z", 7200, month=3),
        usage(customer, "2026-04-28T10:00:00Z", 6900, month=4),
        usage(customer, at, 4700),
    ]


@functools.cache
def rules() -> RuleSet:
    return load_ruleset(RULES)


@functools.cache
def check() -> EthicsCheck:
    return EthicsCheck(load_policy(POLICY))


@dataclass
class Run:
    """An embedded run's output folder, and the store, rules and policy to act with."""

    out: Path
    store: ContextStore
    ruleset: RuleSet
    check: EthicsCheck

    def engine(self) -> Engine:
        """The embedded engine over this folder, wired as ``open_engine`` wires it (JSONL
        sinks, DIR/state.sqlite), with the rules and policy loaded once per module."""
        return Engine(
            self.ruleset,
            self.check,
            ContextStore(sqlite_url(self.out / "state.sqlite")),
            Outputs(
                JsonlSink(self.out / "decisions.jsonl"),
                JsonlSink(self.out / "notifications.jsonl"),
                JsonlSink(self.out / "dead-letter.jsonl"),
            ),
        )

    def feed(self, lines: list[str]) -> None:
        """Run the embedded engine over more events, in the same output folder."""
        engine = self.engine()
        engine.run([(line, f"test:{n}") for n, line in enumerate(lines, 1)])
        engine.finish()
        engine.outputs.close()
        engine.store.close()

    def items(self, status: str | None = "pending") -> list[ReviewItem]:
        return list_items(self.store, status=status)

    def item(self, customer: str = "C1") -> ReviewItem:
        (found,) = [i for i in self.items(None) if i.customer_id == customer]
        return found

    def notifications(self) -> list[dict[str, Any]]:
        path = self.out / "notifications.jsonl"
        if not path.exists():
            return []
        return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]

    def decisions(self) -> list[dict[str, Any]]:
        path = self.out / "decisions.jsonl"
        return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]

    def approve(self, customer: str = "C1", at: datetime = DAYTIME, **kw: Any) -> Any:
        sink = JsonlSink(self.out / "notifications.jsonl")
        try:
            return approve(
                self.store,
                self.item(customer).decision_id,
                ruleset=self.ruleset,
                check=self.check,
                reviewer=kw.pop("reviewer", "alice"),
                reason=kw.pop("reason", "fits what the customer asked for in the shop"),
                now=at,
                sink=sink,
                **kw,
            )
        finally:
            sink.close()

    def review_records(self) -> list[dict[str, Any]]:
        return list(self.store.decision_records(REVIEW_CHAIN))


@pytest.fixture
def make_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Run]]:
    """Factory: ``make_run(lines)`` runs the embedded engine over ``lines`` into a fresh
    output folder and returns the :class:`Run` (its store is closed after the test)."""
    monkeypatch.delenv("PROACTIVE_STORE_URL", raising=False)
    monkeypatch.delenv("PROACTIVE_BOOTSTRAP_SERVERS", raising=False)
    runs: list[Run] = []

    def build(lines: list[str] | None = None, name: str = "out") -> Run:
        out = tmp_path / name
        out.mkdir()
        run = Run(out, ContextStore(sqlite_url(out / "state.sqlite")), rules(), check())
        run.feed(lines if lines is not None else held_for_review("C1"))
        runs.append(run)
        return run

    yield build
    for run in runs:
        run.store.close()


def counts(run: Run) -> dict[str, int]:
    return run.store.counts()


# -- the queue the engine fills ----------------------------------------------------------


def test_a_review_verdict_queues_what_is_needed_to_act_later(make_run: Callable[..., Run]) -> None:
    """The queue row holds the candidate spec (like a deferred message), the chain, the
    verdict's reasons and expires_at = created_at + policy.review.expire_after_hours."""
    run = make_run()
    (decision,) = [d for d in run.decisions() if d["rule_id"] == RULE]
    assert decision["verdict"] == "review"
    (item,) = run.items()
    assert item.decision_id == decision["decision_id"]
    assert (item.customer_id, item.rule_id, item.chain, item.status) == (
        "C1",
        RULE,
        "main",
        "pending",
    )
    assert item.created_at == T0
    hours = check().policy.review.expire_after_hours
    assert item.expires_at == T0 + timedelta(hours=hours)
    assert list(item.reasons) == decision["reasons"]
    assert any("no_marketing" in r for r in item.reasons)
    assert item.candidate is not None
    assert item.candidate["rule_id"] == RULE and item.candidate["variant"] == "primary"
    assert item.candidate["event"]["id"] == decision["event_id"]
    assert item.candidate["event"]["data"]["used_mb"] == 4700
    assert (item.reviewer, item.action, item.reason, item.decided_at) == (None, None, None, None)
    assert run.notifications() == [] and counts(run)["contacts"] == 0


# -- approve -----------------------------------------------------------------------------


def test_approve_sends_one_notification_and_records_the_contact(
    make_run: Callable[..., Run],
) -> None:
    """Approved: exactly one notification, built as the engine builds one; the contact is
    in the contacts table and the customer's context; a second approval is refused."""
    run = make_run()
    item = run.item()
    outcome = run.approve()
    assert outcome.action == "approved" and outcome.sent

    (note,) = run.notifications()
    assert note == outcome.notification
    # not sensitive: no secure-inbox notice (tests/test_review_secure.py has the other case)
    assert outcome.notice is None and outcome.notifications == [note]
    assert (outcome.record["notice_id"], outcome.record["notice_channel"]) == (None, None)
    assert outcome.record["recheck"]["notice_channel"] is None
    assert note["type"] == "proactive.notification" and note["subject"] == "C1"
    data = note["data"]
    assert data["kind"] == "message"
    assert data["decision_id"] == item.decision_id
    assert data["review_id"] == outcome.record["decision_id"]
    assert data["offer"]["id"] == "data-10gb" and data["channel"] == "app_inbox"
    assert data["deliver_at"] == DAYTIME.isoformat()
    (original,) = [d for d in run.decisions() if d["decision_id"] == item.decision_id]
    assert note["id"] == original["notification_id"]

    with run.store.engine.connect() as conn:
        rows = conn.execute(select(schema.contacts)).mappings().all()
    assert [(r["customer_id"], r["rule_id"], r["purpose"], r["decision_id"]) for r in rows] == [
        ("C1", RULE, "commercial", item.decision_id)
    ]
    ctx = run.store.load(["C1"])["C1"]
    assert [(c.rule_id, c.at, c.offer_id) for c in ctx.contacts] == [(RULE, DAYTIME, "data-10gb")]

    after = run.item()
    assert (after.status, after.action, after.reviewer) == ("approved", "approved", "alice")
    assert after.reason == "fits what the customer asked for in the shop"
    assert after.decided_at == DAYTIME

    with pytest.raises(ReviewError, match="already approved"):
        run.approve(at=DAYTIME + timedelta(minutes=5))
    assert len(run.notifications()) == 1 and counts(run)["contacts"] == 1


def test_caps_and_cooldowns_of_a_later_run_see_the_approved_message(
    make_run: Callable[..., Run],
) -> None:
    """The next warning of the same rule, a day later, is blocked by the cooldown."""
    run = make_run()
    run.approve()
    run.feed([usage("C1", T0 + timedelta(days=1), 4900)])
    later = [
        d for d in run.decisions() if d["trigger_time"] == (T0 + timedelta(days=1)).isoformat()
    ]
    assert later and all(d["verdict"] == "block" for d in later)
    assert "cooldown" in {h["id"] for h in later[0]["limits"]}


def test_an_engine_holding_the_context_in_memory_sees_the_approved_message(
    make_run: Callable[..., Run], tmp_path: Path
) -> None:
    """A running engine (the Kafka service keeps contexts cached) folds the approval into
    its cached context before its next batch, and does not write it back without it."""
    run = make_run([])
    engine = open_engine(load_settings(rules_dir=RULES, policy=POLICY), run.out)
    try:
        engine.run([(line, "live") for line in held_for_review("C1")])
        assert engine._cache["C1"].contacts == []
        assert run.approve().action == "approved"
        engine.run([(usage("C1", T0 + timedelta(days=1), 4900), "live")])
        assert [c.at for c in engine._cache["C1"].contacts] == [DAYTIME]
    finally:
        engine.outputs.close()
        engine.store.close()
    last = run.decisions()[-1]
    assert last["verdict"] == "block" and "cooldown" in {h["id"] for h in last["limits"]}
    assert [c.at for c in run.store.load(["C1"])["C1"].contacts] == [DAYTIME]


def test_approve_in_quiet_hours_delivers_at_the_next_allowed_moment(
    make_run: Callable[..., Run],
) -> None:
    """Approved at 23:30 in Amsterdam: sent, with deliver_at the next morning at 08:00."""
    run = make_run()
    late = datetime(2026, 5, 20, 21, 30, tzinfo=UTC)
    outcome = run.approve(at=late)
    assert outcome.action == "approved"
    morning = datetime(2026, 5, 21, 6, 0, tzinfo=UTC)
    (note,) = run.notifications()
    assert note["data"]["deliver_at"] == morning.isoformat()
    assert note["time"] == "2026-05-21T06:00:00Z"
    assert outcome.record["deliver_at"] == morning.isoformat()
    assert "quiet_hours" in {h["id"] for h in outcome.record["recheck"]["limits"]}
    assert [c.at for c in run.store.load(["C1"])["C1"].contacts] == [morning]


def test_approve_after_consent_withdrawal_is_refused(make_run: Callable[..., Run]) -> None:
    """Consent withdrawn after the decision: the approval never overrides the block; the
    refusal and its reasons are recorded and nothing is sent."""
    run = make_run()
    run.feed(
        [
            ce(
                "customer.consent_changed",
                "C1",
                T0 + timedelta(hours=1),
                purpose="commercial",
                channel="all",
                granted=False,
            )
        ]
    )
    outcome = run.approve()
    assert outcome.action == "refused" and not outcome.sent
    assert any("consent_for_purpose_and_channel" in r for r in outcome.reasons)
    assert outcome.record["recheck"]["verdict"] == "block"
    assert run.notifications() == [] and counts(run)["contacts"] == 0
    assert run.store.load(["C1"])["C1"].contacts == []
    item = run.item()
    # refused is an action, not a final status: the item waits for a decision or expiry
    assert (item.status, item.action, item.reviewer) == ("pending", "refused", "alice")


def test_a_reviewer_exception_lifts_an_organisation_limit_and_is_recorded(
    make_run: Callable[..., Run],
) -> None:
    """S20 (reviewer's joker): a complaint was opened since, so the re-check blocks the
    upsell (organisation limit); the reviewer excepts it with a written justification:
    sent, and the exception with justification and reviewer is on the review chain."""
    run = make_run()
    complaint = ce(
        "customer.complaint_opened",
        "C1",
        T0 + timedelta(hours=1),
        complaint_id="K-1",
        topic="billing",
    )
    run.feed([complaint])
    refused = run.approve(reason="looks fine")
    assert refused.action == "refused"
    assert any("no_upsell_with_open_complaint" in r for r in refused.reasons)
    why = "The complaint was a typo in the address, fixed by phone; the customer asked for this bundle."
    outcome = run.approve(
        reason="asked for by the customer", exception=(["no_upsell_with_open_complaint"], why)
    )
    assert outcome.action == "approved" and outcome.sent, outcome.reasons
    exc = outcome.record["exception"]
    assert exc["limits"] == ["no_upsell_with_open_complaint"]
    assert exc["justification"] == why
    assert exc["approved_by"] == "alice" and exc["by"] == "reviewer:alice"
    (stored,) = [r for r in run.review_records() if r["action"] == "approved"]
    assert stored["exception"] == exc
    # the ethics report lists the reviewer's exception under the rule
    report = summarise([*run.decisions(), *run.review_records()], run.check.policy)
    (rule,) = [r for r in report.rules if r.rule_id == RULE]
    assert [(u.limits, u.by) for u in rule.justifications] == [
        (("no_upsell_with_open_complaint",), "reviewer:alice")
    ]


def test_a_reviewer_exception_cannot_lift_a_law_limit(make_run: Callable[..., Run]) -> None:
    """S20: consent withdrawn is a law limit; a reviewer's exception to it is refused and
    the approval with it; nothing is sent."""
    run = make_run()
    run.feed(
        [
            ce(
                "customer.consent_changed",
                "C1",
                T0 + timedelta(hours=1),
                purpose="commercial",
                channel="all",
                granted=False,
            )
        ]
    )
    why = "The customer surely still wants to hear about a better bundle for them."
    outcome = run.approve(exception=(["consent_for_purpose_and_channel"], why))
    assert outcome.action == "refused" and not outcome.sent
    assert any("only organisation limits can be excepted" in r for r in outcome.reasons)
    assert run.notifications() == []


def test_a_reviewer_exception_needs_a_written_justification(make_run: Callable[..., Run]) -> None:
    """A joker without a real justification is refused before anything is checked."""
    run = make_run()
    with pytest.raises(ReviewError, match="justification"):
        run.approve(exception=(["frequency_cap"], "ok"))
    assert run.item().status == "pending" and run.notifications() == []


def test_approve_when_no_longer_timely_is_refused(make_run: Callable[..., Run]) -> None:
    """The bundle has run out since: a 90% warning now comes too late, so it is refused."""
    run = make_run()
    run.feed([usage("C1", T0 + timedelta(hours=1), 5300)])
    outcome = run.approve()
    assert outcome.action == "refused" and not outcome.sent
    assert any("no longer timely" in r for r in outcome.reasons)
    assert run.notifications() == []


def test_approve_with_a_different_offer_now_is_refused(make_run: Callable[..., Run]) -> None:
    """The reviewer approved what they saw: if the offer would now differ, no approval."""
    run = make_run()
    item = run.item()
    with run.store.review_write() as w:
        ctx = w.context("C1")
        original = w.decision_record(item.decision_id)
    assert ctx is not None and original is not None
    seen = {**original, "action": {**original["action"], "offer": {"id": "data-20gb"}}}
    rc = recheck(item, seen, ctx, run.ruleset, run.check, DAYTIME)
    assert rc.verdict == "review"
    assert rc.refusals == [
        "the offer changed since the review: it was data-20gb, it would now be data-10gb"
    ]
    assert recheck(item, original, ctx, run.ruleset, run.check, DAYTIME).refusals == []


def test_a_broken_recheck_refuses_the_approval(
    make_run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed, as the engine does: an error while checking again sends nothing."""
    import proactive.review

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("selector exploded")

    run = make_run()
    monkeypatch.setattr(proactive.review, "build_candidate", broken)
    outcome = run.approve()
    assert outcome.action == "refused" and not outcome.sent
    assert outcome.reasons == [
        "the re-check failed (RuntimeError: selector exploded); refused to be safe"
    ]
    assert run.notifications() == [] and run.item().status == "pending"


def test_approve_after_expiry_is_refused(make_run: Callable[..., Run]) -> None:
    """An approval after expires_at expires the item: nothing is sent, ever."""
    run = make_run()
    item = run.item()
    outcome = run.approve(at=item.expires_at + timedelta(minutes=1))
    assert outcome.action == "expired" and not outcome.sent
    assert "review window closed" in outcome.reasons[0]
    assert run.notifications() == [] and counts(run)["contacts"] == 0
    assert run.item().status == "expired"
    with pytest.raises(ReviewError, match="already expired"):
        run.approve(at=item.expires_at - timedelta(hours=1))
    assert run.notifications() == []


def test_a_delivery_failure_says_the_approval_stands() -> None:
    """DeliveryError carries the recorded outcome, so the notification can go again."""

    class Broken(MemorySink):
        def write(self, records: list[dict[str, Any]]) -> None:
            raise OSError("disk full")

    from proactive.harness import Harness

    h = Harness()
    for line in held_for_review("C1"):
        h.raw(line)
    (item,) = list_items(h.store)
    with pytest.raises(DeliveryError, match="disk full") as info:
        approve(
            h.store,
            item.decision_id,
            ruleset=h.engine.ruleset,
            check=h.engine.check,
            reviewer="alice",
            reason="ok",
            now=DAYTIME,
            sink=Broken(),
        )
    assert info.value.outcome.notification is not None
    assert find_item(h.store, item.decision_id).status == "approved"


# -- reject, reasons, deciding once ------------------------------------------------------


def test_reject_sends_nothing(make_run: Callable[..., Run]) -> None:
    run = make_run()
    outcome = reject(
        run.store, run.item().decision_id, reviewer="bob", reason="too pushy", now=DAYTIME
    )
    assert outcome.action == "rejected" and not outcome.sent
    assert run.notifications() == [] and counts(run)["contacts"] == 0
    item = run.item()
    assert (item.status, item.action, item.reviewer, item.reason) == (
        "rejected",
        "rejected",
        "bob",
        "too pushy",
    )
    with pytest.raises(ReviewError, match="already rejected"):
        run.approve()
    assert run.notifications() == []


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required(make_run: Callable[..., Run], reason: str) -> None:
    run = make_run()
    with pytest.raises(ReviewError, match="reason is required"):
        run.approve(reason=reason)
    with pytest.raises(ReviewError, match="reason is required"):
        reject(run.store, run.item().decision_id, reviewer="bob", reason=reason, now=DAYTIME)
    assert run.review_records() == [] and run.item().status == "pending"
    assert run.notifications() == []


# -- expiry ------------------------------------------------------------------------------


def test_expire_stale_marks_overdue_items_once(make_run: Callable[..., Run]) -> None:
    run = make_run(held_for_review("C1") + held_for_review("C2", at=T0 + timedelta(hours=10)))
    first, _ = sorted(run.items(), key=lambda i: i.created_at)
    assert expire_stale(run.store, first.expires_at - timedelta(seconds=1)) == []
    outcomes = expire_stale(run.store, first.expires_at)
    assert [o.item.decision_id for o in outcomes] == [first.decision_id]
    assert expire_stale(run.store, first.expires_at) == []
    assert run.item("C1").status == "expired" and run.item("C1").reviewer == "system"
    assert run.item("C2").status == "pending"
    (rec,) = run.review_records()
    assert (rec["action"], rec["review_of"], rec["reviewer"]) == (
        "expired",
        first.decision_id,
        "system",
    )


def test_the_engine_expires_overdue_items_once_per_batch(make_run: Callable[..., Run]) -> None:
    """A later batch whose stream time is past expires_at expires the item."""
    run = make_run()
    item = run.item()
    engine = run.engine()
    try:
        engine.process_batch([(usage("C2", item.expires_at - timedelta(hours=1), 1000), "t:1")])
        assert run.item().status == "pending"
        engine.process_batch([(usage("C2", item.expires_at + timedelta(hours=1), 1100), "t:2")])
        assert run.item().status == "expired"
    finally:
        engine.outputs.close()
        engine.store.close()
    assert [r["action"] for r in run.review_records()] == ["expired"]
    assert run.notifications() == []


# -- the review chain --------------------------------------------------------------------


def test_every_action_appears_in_the_review_chain_and_it_verifies(
    make_run: Callable[..., Run],
) -> None:
    lines = [*held_for_review("C1"), *held_for_review("C2"), *held_for_review("C3")]
    lines += held_for_review("C4", at=T0 - timedelta(days=2))
    lines.append(
        ce(
            "customer.consent_changed",
            "C3",
            T0 + timedelta(minutes=5),
            objection_direct_marketing=True,
        )
    )
    run = make_run(lines)
    ids = {c: run.item(c).decision_id for c in ("C1", "C2", "C3", "C4")}
    assert run.approve("C3").action == "refused"
    assert run.approve("C1").action == "approved"
    reject(run.store, ids["C2"], reviewer="bob", reason="not for her", now=DAYTIME)
    overdue = run.item("C4").expires_at
    assert [o.item.customer_id for o in expire_stale(run.store, overdue)] == ["C4"]

    records = run.review_records()
    assert [(r["action"], r["review_of"]) for r in records] == [
        ("refused", ids["C3"]),
        ("approved", ids["C1"]),
        ("rejected", ids["C2"]),
        ("expired", ids["C4"]),
    ]
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert all(r["record_type"] == "review" and r["chain"] == REVIEW_CHAIN for r in records)
    assert [r["reviewer"] for r in records] == ["alice", "alice", "bob", "system"]
    refused = records[0]
    assert refused["recheck"]["verdict"] == "block"
    assert any("objection_direct_marketing" in r for r in refused["reasons"])
    assert records[1]["recheck"]["verdict"] == "review"
    assert records[1]["notification_id"] == run.notifications()[0]["id"]
    assert verify_chain(records) is None and verify_review_chain(run.store) is None
    assert run.store.chain_head(REVIEW_CHAIN) == (4, records[-1]["hash"])
    # the engine's own chain is not touched by review actions
    assert verify_chain(run.store.decision_records("main")) is None
    assert [r["action"] for r in history(run.store, ids["C3"])] == ["refused"]


def test_tampering_with_a_review_record_is_detected(make_run: Callable[..., Run]) -> None:
    run = make_run([*held_for_review("C1"), *held_for_review("C2")])
    run.approve("C1")
    reject(run.store, run.item("C2").decision_id, reviewer="bob", reason="no", now=DAYTIME)
    assert verify_review_chain(run.store) is None
    t = schema.decisions
    with run.store.engine.begin() as conn:
        text = conn.execute(
            select(t.c.record).where(t.c.chain == REVIEW_CHAIN, t.c.seq == 1)
        ).scalar_one()
        forged = orjson.loads(text)
        forged["reviewer"] = "mallory"
        conn.execute(
            update(t)
            .where(t.c.chain == REVIEW_CHAIN, t.c.seq == 1)
            .values(record=orjson.dumps(forged).decode())
        )
    broken = verify_review_chain(run.store)
    assert broken is not None
    assert broken.index == 0 and "altered" in broken.problem


def test_the_ethics_report_counts_review_records_apart(make_run: Callable[..., Run]) -> None:
    """Readers of every chain (``ethics report --store``) skip review records as decisions."""
    run = make_run()
    run.approve()
    report = summarise(run.store.decision_records(), run.check.policy, source="store")
    assert report.other_records == {"review": 1}
    assert report.decisions == len(list(run.store.decision_records("main")))


# -- the store ---------------------------------------------------------------------------


def test_migration_0002_fills_in_items_queued_before_it(tmp_path: Path) -> None:
    """A store at revision 0001 with a queued item upgrades: chain and reasons from the
    decision record, expires_at 72 hours after it was queued, no candidate spec."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from proactive.store import MIGRATIONS

    url = sqlite_url(tmp_path / "old.sqlite")
    engine = create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        record = {"decision_id": "d1", "reasons": ["service score 0.70 is below 0.75"]}
        conn.execute(
            text(
                "INSERT INTO decisions VALUES ('customer-events-2', 7, 'd1', 'e1', 'C9', :rule,"
                " 'review', '2026-05-20 10:00:00.000000', :z, :h, :rec)"
            ),
            {"rule": RULE, "z": "0" * 64, "h": "1" * 64, "rec": json.dumps(record)},
        )
        conn.execute(
            text(
                "INSERT INTO review_queue VALUES ('d1', 'C9', :rule,"
                " '2026-05-20 10:00:00.000000', 'pending')"
            ),
            {"rule": RULE},
        )
    engine.dispose()
    store = ContextStore(url)
    try:
        item = find_item(store, "d1")
        assert item.chain == "customer-events-2"
        assert item.reasons == ("service score 0.70 is below 0.75",)
        assert item.expires_at == T0 + timedelta(hours=72)
        assert item.candidate is None
        outcome = approve(
            store,
            "d1",
            ruleset=rules(),
            check=check(),
            reviewer="alice",
            reason="ok",
            now=DAYTIME,
            sink=MemorySink(),
        )
        assert outcome.action == "refused" and "migration 0002" in outcome.reasons[0]
    finally:
        store.close()


def test_find_item_accepts_a_unique_prefix(make_run: Callable[..., Run]) -> None:
    run = make_run()
    item = run.item()
    assert find_item(run.store, item.decision_id[:8]) == item
    with pytest.raises(ReviewError, match="no review item"):
        find_item(run.store, "zz")


# -- the command line --------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """``cli(args, now=...)``: the CLI with the repository's rules and policy, at ``now``."""

    def invoke(args: list[str], now: datetime = DAYTIME) -> Result:
        monkeypatch.setattr(review_cli, "clock", lambda: now)
        return CliRunner().invoke(main, ["--rules", str(RULES), "--policy", str(POLICY), *args])

    return invoke


def test_cli_list_shows_pending_items_with_filters(
    make_run: Callable[..., Run], cli: Callable[..., Result]
) -> None:
    run = make_run([*held_for_review("C1"), *held_for_review("C2", at=T0 + timedelta(hours=3))])
    out = str(run.out)
    shown = cli(["review", "list", "--out", out, "--json"], now=T0 + timedelta(hours=4))
    assert shown.exit_code == 0, shown.output
    items = json.loads(shown.output)
    assert [i["customer_id"] for i in items] == ["C1", "C2"]
    assert items[0]["rule_id"] == RULE and items[0]["status"] == "pending"
    assert items[0]["expires_at"] == (T0 + timedelta(hours=72)).isoformat()
    older = cli(
        ["review", "list", "--out", out, "--older-than", "2", "--json"], now=T0 + timedelta(hours=4)
    )
    assert [i["customer_id"] for i in json.loads(older.output)] == ["C1"]
    other_rule = cli(["review", "list", "--out", out, "--rule", "outage-started", "--json"])
    assert json.loads(other_rule.output) == []
    table = cli(["review", "list", "--out", out])
    assert table.exit_code == 0
    assert run.item("C1").decision_id in table.output and RULE in table.output


def test_cli_list_expires_overdue_items_first(
    make_run: Callable[..., Run], cli: Callable[..., Result]
) -> None:
    run = make_run()
    later = T0 + timedelta(days=4)
    pending = cli(["review", "list", "--out", str(run.out), "--json"], now=later)
    assert json.loads(pending.output) == []
    expired = cli(
        ["review", "list", "--out", str(run.out), "--status", "expired", "--json"], now=later
    )
    assert [(i["status"], i["action"]) for i in json.loads(expired.output)] == [
        ("expired", "expired")
    ]


def test_cli_show_explains_the_held_decision(
    make_run: Callable[..., Run], cli: Callable[..., Result]
) -> None:
    run = make_run()
    item = run.item()
    run.approve(at=DAYTIME - timedelta(hours=1), reason="first try")  # approved
    shown = cli(["review", "show", item.decision_id[:13], "--out", str(run.out)])
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert f"Review item {item.decision_id}" in text and "Status: APPROVED" in text
    assert "Held for review because:" in text and "no_marketing" in text
    assert "The message as the customer would see it:" in text  # the message
    assert "Service dimensions" in text and "relevance" in text  # scores
    assert "Value check:" in text  # the value check
    assert "APPROVED by alice: first try" in text and "re-check: REVIEW" in text


def test_cli_approve_writes_the_notification_of_an_embedded_run(
    make_run: Callable[..., Run], cli: Callable[..., Result]
) -> None:
    run = make_run()
    item = run.item()
    result = cli(
        [
            "review",
            "approve",
            item.decision_id,
            "--out",
            str(run.out),
            "--reason",
            "fits her",
            "--reviewer",
            "carol",
        ]
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"approved {item.decision_id}: notification")
    (note,) = run.notifications()
    assert note["data"]["decision_id"] == item.decision_id
    after = run.item()
    assert (after.status, after.reviewer, after.reason) == ("approved", "carol", "fits her")
    again = cli(["review", "approve", item.decision_id, "--out", str(run.out), "--reason", "x"])
    assert again.exit_code == 1 and "already approved" in again.output
    assert len(run.notifications()) == 1


def test_cli_reviewer_defaults_to_the_login_name(
    make_run: Callable[..., Run], cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(review_cli.getpass, "getuser", lambda: "dana")
    run = make_run()
    result = cli(
        ["review", "reject", run.item().decision_id, "--out", str(run.out), "--reason", "no"]
    )
    assert result.exit_code == 0, result.output
    assert "nothing is sent" in result.output
    assert (run.item().status, run.item().reviewer) == ("rejected", "dana")
    assert run.notifications() == []


def test_cli_requires_a_reason(make_run: Callable[..., Run], cli: Callable[..., Result]) -> None:
    run = make_run()
    did = run.item().decision_id
    missing = cli(["review", "approve", did, "--out", str(run.out)])
    assert missing.exit_code == 2 and "--reason" in missing.output
    empty = cli(["review", "reject", did, "--out", str(run.out), "--reason", "  "])
    assert empty.exit_code == 2 and "reason is required" in empty.output
    assert run.review_records() == [] and run.item().status == "pending"


def test_cli_refused_approval_exits_1_with_the_reasons(
    make_run: Callable[..., Run], cli: Callable[..., Result]
) -> None:
    run = make_run()
    item = run.item()
    late = cli(
        ["review", "approve", item.decision_id, "--out", str(run.out), "--reason", "ok"],
        now=item.expires_at + timedelta(hours=1),
    )
    assert late.exit_code == 1
    assert "expired" in late.output and "review window closed" in late.output
    assert run.notifications() == []


def test_cli_expire(make_run: Callable[..., Run], cli: Callable[..., Result]) -> None:
    run = make_run()
    item = run.item()
    none = cli(["review", "expire", "--out", str(run.out)])
    assert none.exit_code == 0 and "0 item(s) expired" in none.output
    done = cli(["review", "expire", "--out", str(run.out)], now=item.expires_at)
    assert done.exit_code == 0, done.output
    assert f"expired {item.decision_id}" in done.output and "1 item(s) expired" in done.output
    assert run.item().status == "expired"


def test_cli_needs_an_existing_store(tmp_path: Path, cli: Callable[..., Result]) -> None:
    nowhere = cli(["review", "list", "--out", str(tmp_path / "missing")])
    assert nowhere.exit_code == 2 and "no such SQLite store" in nowhere.output
    assert not (tmp_path / "missing" / "state.sqlite").exists()
    neither = cli(["review", "list"])
    assert neither.exit_code == 2 and "--out DIR" in neither.output


def test_cli_approve_produces_to_kafka_keyed_by_customer(
    make_run: Callable[..., Run], cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --bootstrap-servers the notification goes to the topic, not to the folder."""
    sent: list[tuple[str, bytes, bytes, Any]] = []

    class Done:
        def get(self, timeout: float) -> None:
            return None

    class FakeProducer:
        def __init__(self, **config: Any) -> None:
            assert config["bootstrap_servers"] == "broker:9092" and config["acks"] == "all"

        def send(self, topic: str, key: bytes, value: bytes, headers: Any) -> Done:
            sent.append((topic, key, value, headers))
            return Done()

        def close(self, timeout: float) -> None:
            return None

    # a stand-in module: the real client would look for a broker
    monkeypatch.setitem(sys.modules, "kafka", types.SimpleNamespace(KafkaProducer=FakeProducer))
    run = make_run()
    result = cli(
        [
            "review",
            "approve",
            run.item().decision_id,
            "--out",
            str(run.out),
            "--reason",
            "ok",
            "--bootstrap-servers",
            "broker:9092",
            "--notifications-topic",
            "notes",
        ]
    )
    assert result.exit_code == 0, result.output
    ((topic, key, value, headers),) = sent
    assert (topic, key) == ("notes", b"C1")
    assert orjson.loads(value)["data"]["decision_id"] == run.item().decision_id
    assert headers == [("content-type", b"application/cloudevents+json")]
    assert run.notifications() == []
