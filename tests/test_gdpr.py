"""The customer's rights and retention (proactive.gdpr, ``proactive customer``, ``purge``)
and masked logs (proactive.logs).

A customer with decisions, a review approval, messages, contacts and a dead letter is
made the real way (the embedded engine over events, a reviewer approving through
``proactive.review``); then exported, forgotten and purged, and after each step
``proactive.audit.verify`` must still pass while nothing personal is left.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from test_review import POLICY, RULES, Run, ce, check, held_for_review, rules

from proactive import logs
from proactive.audit import verify
from proactive.cli import customer as customer_cli
from proactive.cli import main
from proactive.decisions import seal, verify_chain
from proactive.ethics.policy import Masking, Policy, Retention
from proactive.gdpr import ERASURE_CHAIN, export_customer, forget, purge
from proactive.harness import Harness
from proactive.pipeline import Engine, Outputs
from proactive.review import REVIEW_CHAIN, AlreadyDecided, approve, history
from proactive.sinks import JsonlSink, MemorySink
from proactive.store import ContextStore, schema, sqlite_url

T0 = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)
"""When the customers' decisions are taken (a Wednesday, 12:00 in Amsterdam)."""
APPROVED_AT = T0 + timedelta(hours=2)
SAM, SAM_NAME = "CUST-4711", "Sam Jansen"
KIM, KIM_NAME = "CUST-0815", "Kim de Vries"
RULE_BUNDLE = "data-bundle-nearly-used"
BAD_EVENT = json.dumps(
    {
        "specversion": "1.0",
        "id": "dead-1",
        "source": "/crm",
        "type": "customer.profile_updated",
        "subject": SAM,
        "time": "2026-05-19T09:00:00Z",
        "data": {"name": SAM_NAME, "language": "klingon"},
    }
)
"""An event of Sam's that the engine refuses (dead letter), naming Sam."""


def opaque(lines: list[str], name: str, customer: str) -> list[str]:
    """The lines with opaque event ids (the review helpers put the customer id in them)
    and ``name`` as the customer's name."""
    out = []
    for line in lines:
        ev = json.loads(line)
        ev["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, ev["id"]))
        if ev["type"] == "customer.profile_updated" and ev["subject"] == customer:
            ev["data"]["name"] = name
        out.append(json.dumps(ev))
    return out


def payments(customer: str) -> list[str]:
    """Failed payments, each a decision; the first is sent (a message with the amount)."""
    return [
        ce(
            "billing.payment_failed",
            customer,
            T0 + timedelta(days=d, hours=3),
            invoice_id=f"INV-{d}",
            amount_eur=41.5 + d,
        )
        for d in range(3)
    ]


def held() -> list[str]:
    """Sam and Kim held for review, and Sam's refused event."""
    sam = opaque(held_for_review(SAM), SAM_NAME, SAM)
    kim = opaque(held_for_review(KIM), KIM_NAME, KIM)
    return [*sam, *kim, BAD_EVENT]


def later() -> list[str]:
    """After the approval: both customers' failed payments."""
    return [*opaque(payments(SAM), SAM_NAME, SAM), *opaque(payments(KIM), KIM_NAME, KIM)]


def stream() -> list[str]:
    return [*held(), *later()]


@dataclass
class ClockedRun(Run):
    """A run whose engine clock is fixed (dead letters and contexts are stamped with it)."""

    now: datetime = T0

    def engine(self) -> Engine:
        return Engine(
            self.ruleset,
            self.check,
            ContextStore(sqlite_url(self.out / "state.sqlite")),
            Outputs(
                JsonlSink(self.out / "decisions.jsonl"),
                JsonlSink(self.out / "notifications.jsonl"),
                JsonlSink(self.out / "dead-letter.jsonl"),
            ),
            clock=lambda: self.now,
        )


@pytest.fixture
def make_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., ClockedRun]]:
    monkeypatch.delenv("PROACTIVE_STORE_URL", raising=False)
    made: list[ClockedRun] = []

    def build(lines: list[str], name: str = "out") -> ClockedRun:
        out = tmp_path / name
        out.mkdir()
        store = ContextStore(sqlite_url(out / "state.sqlite"))
        run = ClockedRun(out, store, rules(), check())
        run.feed(lines)
        made.append(run)
        return run

    yield build
    for run in made:
        run.store.close()


@pytest.fixture
def run(make_run: Callable[..., ClockedRun]) -> ClockedRun:
    """Sam and Kim: held for review, failed payments, a dead letter; Sam's item approved
    by a reviewer whose reason names Sam."""
    r = make_run(held())
    outcome = r.approve(SAM, at=APPROVED_AT, reason=f"{SAM_NAME} asked for it in the shop")
    assert outcome.action == "approved", outcome.reasons
    r.feed(later())
    return r


def cli(args: list[str]) -> Result:
    return CliRunner().invoke(main, ["--rules", str(RULES), "--policy", str(POLICY), *args])


def everything(r: Run) -> str:
    """Every row of every table and every file of the run, as one text."""
    parts = []
    with r.store.engine.connect() as conn:
        for table in schema.metadata.tables.values():
            parts += [repr(tuple(row)) for row in conn.execute(select(table))]
    for path in sorted(r.out.glob("*.jsonl")):
        parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


def jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]


# -- export ------------------------------------------------------------------------------


def test_export_holds_everything_on_the_customer(run: ClockedRun) -> None:
    result = cli(["customer", "export", SAM, "--out", str(run.out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["format"] == "proactive.customer-export/1" and data["customer_id"] == SAM
    assert data["sources"] == [
        "store",
        "decisions.jsonl",
        "notifications.jsonl",
        "dead-letter.jsonl",
    ]
    assert data["profile"]["name"] == SAM_NAME
    assert data["profile"]["values"] == ["no_marketing"]
    # every event processed, the one still needed for the review item with its payload
    assert len(data["events"]) == len(held_for_review(SAM)) + len(payments(SAM))
    with_payload = [e for e in data["events"] if e["payload"] is not None]
    assert [e["payload"]["data"]["used_mb"] for e in with_payload] == [4700]
    stored = [d for d in run.decisions() if d["customer_id"] == SAM]
    assert [d["decision_id"] for d in data["decisions"]] == [d["decision_id"] for d in stored]
    assert any(d["message"] and "41" in d["message"]["body"] for d in data["decisions"])
    (item,) = data["review_items"]
    assert (item["status"], item["reviewer"], item["reason"]) == (
        "approved",
        "alice",
        f"{SAM_NAME} asked for it in the shop",
    )
    (action,) = data["review_actions"]
    assert action["action"] == "approved" and action["review_of"] == item["decision_id"]
    notes = data["notifications"]
    assert {n["data"]["rule_id"] for n in notes} >= {"payment-failed-support", RULE_BUNDLE}
    assert all(n["subject"] == SAM for n in notes)
    assert {c["rule_id"] for c in data["contacts"]} == {n["data"]["rule_id"] for n in notes}
    (dead,) = data["dead_letters"]
    assert dead["original"] == BAD_EVENT and dead["source"] == "store"
    # nothing of Kim's
    assert KIM not in result.stdout and KIM_NAME not in result.stdout


def test_export_reads_the_files_when_there_is_no_store(run: ClockedRun, tmp_path: Path) -> None:
    files = tmp_path / "files-only"
    files.mkdir()
    for name in ("decisions.jsonl", "notifications.jsonl", "dead-letter.jsonl"):
        (files / name).write_bytes((run.out / name).read_bytes())
    data = export_customer(None, SAM, out_dir=files)
    assert data["sources"] == ["decisions.jsonl", "notifications.jsonl", "dead-letter.jsonl"]
    assert data["profile"] is None and data["decisions"] and data["notifications"]
    assert [d["source"] for d in data["dead_letters"]] == ["dead-letter.jsonl"]


# -- forget ------------------------------------------------------------------------------


def test_forget_leaves_nothing_personal_and_every_chain_verifies(
    run: ClockedRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {d["decision_id"] for d in run.decisions() if d["customer_id"] == SAM}
    reviews_before = [r for r in run.review_records() if r["customer_id"] == SAM]
    assert SAM in everything(run) and SAM_NAME in everything(run)
    monkeypatch.setattr(customer_cli, "clock", lambda: APPROVED_AT + timedelta(days=1))
    result = cli(
        [
            "customer",
            "forget",
            SAM,
            "--out",
            str(run.out),
            "--yes",
            "--by",
            "dpo",
            "--reference",
            "AVG-7",
        ]
    )
    assert result.exit_code == 0, result.output
    assert f"forgot {SAM}: {len(before) + len(reviews_before)} record(s) redacted" in result.stdout

    text = everything(run)
    assert SAM not in text and SAM_NAME not in text
    report = verify(run.store, run.out / "decisions.jsonl")
    assert report.ok, [str(f) for f in report.findings]
    assert cli(["audit", "verify", "--out", str(run.out)]).exit_code == 0

    # the export shows nothing of Sam any more; Kim is untouched
    gone = export_customer(run.store, SAM, out_dir=run.out)
    for key in ("events", "decisions", "review_items", "review_actions", "notifications"):
        assert gone[key] == [], key
    assert gone["profile"] is None and gone["contacts"] == [] and gone["dead_letters"] == []
    kim = export_customer(run.store, KIM, out_dir=run.out)
    assert kim["profile"]["name"] == KIM_NAME and kim["decisions"] and kim["review_items"]

    # the decisions stay, about a pseudonym and without the message text
    (erasure,) = list(run.store.decision_records(ERASURE_CHAIN))
    pseudonym = erasure["customer_id"]
    assert pseudonym.startswith("anon-") and erasure["kind"] == "forget"
    assert (erasure["requested_by"], erasure["reference"]) == ("dpo", "AVG-7")
    redacted = [d for d in run.store.decision_records("main") if d["decision_id"] in before]
    assert len(redacted) == len(before)
    assert all(d["customer_id"] == pseudonym and d["message"] is None for d in redacted)
    assert all(d["verdict"] and d["scores"] is not None for d in redacted)
    assert {(i["chain"], i["decision_id"]) for i in erasure["items"]} == {
        *(("main", d) for d in before),
        *((REVIEW_CHAIN, r["decision_id"]) for r in reviews_before),
    }
    assert erasure["removed"]["context"] == 1 and erasure["removed"]["dead_letters"] == 1
    assert erasure["files"]["notifications.jsonl"] >= 2
    # the review history is kept, without the reviewer's words
    (review,) = [r for r in run.review_records() if r["customer_id"] == pseudonym]
    assert review["action"] == "approved" and review["reviewer"] == "alice"
    assert review["reason"] is None and review["message_sha256"] is None
    assert [h["decision_id"] for h in history(run.store, review["review_of"])] == [
        review["decision_id"]
    ]
    # the file holds exactly what the store holds
    stored = {d["decision_id"]: d for d in run.store.decision_records("main")}
    assert all(d == stored[d["decision_id"]] for d in jsonl(run.out / "decisions.jsonl"))


def test_a_replay_after_forget_does_not_bring_the_customer_back(run: ClockedRun) -> None:
    forget(run.store, SAM, now=APPROVED_AT, requested_by="dpo", out_dir=run.out)
    decisions = len(run.decisions())
    run.feed(stream())
    assert len(run.decisions()) == decisions
    assert run.store.load([SAM]) == {}
    assert verify(run.store, run.out / "decisions.jsonl").ok


def test_a_pending_review_item_of_a_forgotten_customer_can_never_be_sent(run: ClockedRun) -> None:
    item = run.item(KIM)
    assert item.status == "pending"
    forget(run.store, KIM, now=APPROVED_AT, requested_by="dpo")
    erased = next(i for i in run.items(None) if i.decision_id == item.decision_id)
    assert erased.status == "erased" and erased.candidate is None
    with pytest.raises(AlreadyDecided, match="already erased"):
        approve(
            run.store,
            item.decision_id,
            ruleset=run.ruleset,
            check=run.check,
            reviewer="alice",
            reason="ok",
            now=APPROVED_AT,
            sink=MemorySink(),
        )
    assert verify(run.store).ok


def test_forgetting_twice_or_an_unknown_customer_finds_nothing(run: ClockedRun) -> None:
    first = forget(run.store, SAM, now=APPROVED_AT, requested_by="dpo", out_dir=run.out)
    assert first.found
    again = forget(run.store, SAM, now=APPROVED_AT, requested_by="dpo", out_dir=run.out)
    assert not again.found and again.record["items"] == []
    result = cli(["customer", "forget", "NOBODY", "--out", str(run.out), "--yes", "--by", "dpo"])
    assert result.exit_code == 0 and "nothing held on NOBODY" in result.stdout
    report = verify(run.store, run.out / "decisions.jsonl")
    assert report.ok and [c.records for c in report.chains if c.chain == ERASURE_CHAIN] == [3]


def test_forget_repairs_a_file_a_crash_left_unrewritten(run: ClockedRun) -> None:
    """The store was erased but the process died before rewriting decisions.jsonl: the
    audit says so, and forgetting again copies the store's redacted records."""
    backup = (run.out / "decisions.jsonl").read_bytes()
    forget(run.store, SAM, now=APPROVED_AT, requested_by="dpo", out_dir=run.out)
    (run.out / "decisions.jsonl").write_bytes(backup)
    report = verify(run.store, run.out / "decisions.jsonl")
    assert not report.ok and "still holds them" in report.findings[0].problem
    forget(run.store, SAM, now=APPROVED_AT, requested_by="dpo", out_dir=run.out)
    assert verify(run.store, run.out / "decisions.jsonl").ok
    assert SAM not in (run.out / "decisions.jsonl").read_text(encoding="utf-8")


def test_cli_forget_asks_first_and_needs_a_store(run: ClockedRun, tmp_path: Path) -> None:
    refused = CliRunner().invoke(
        main, ["customer", "forget", SAM, "--out", str(run.out), "--by", "dpo"], input="n\n"
    )
    assert refused.exit_code == 1 and SAM_NAME in everything(run)
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    result = cli(["customer", "forget", SAM, "--out", str(nowhere), "--yes", "--by", "dpo"])
    assert result.exit_code == 2 and "no store" in result.stderr


def test_redacted_records_of_schema_1_verify_through_their_erasure_record(
    make_run: Callable[..., ClockedRun],
) -> None:
    """A store written before the commitments: forget redacts the old records too; their
    own hash no longer covers them, the erasure record vouches for the redacted form."""
    r = make_run(stream())
    # rewrite the main chain as schema 1 (as an older engine sealed it)
    t = schema.decisions
    prev = "0" * 64
    with r.store.engine.begin() as conn:
        rows = conn.execute(
            select(t.c.seq, t.c.record).where(t.c.chain == "main").order_by(t.c.seq)
        ).all()
        for seq, text in rows:
            rec = {k: v for k, v in json.loads(text).items() if k not in ("commitments", "salts")}
            rec["schema_version"] = 1
            rec = seal(rec, prev)
            prev = rec["hash"]
            conn.execute(
                t.update()
                .where(t.c.chain == "main", t.c.seq == seq)
                .values(record=json.dumps(rec), hash=rec["hash"], prev_hash=rec["prev_hash"])
            )
        conn.execute(
            schema.chain_head.update().where(schema.chain_head.c.chain == "main").values(hash=prev)
        )
    assert verify(r.store).ok
    forget(r.store, SAM, now=APPROVED_AT, requested_by="dpo")
    assert verify(r.store).ok
    old = [d for d in r.store.decision_records("main") if d.get("redactions")]
    assert old and all("content_sha256" in d["redactions"][-1] for d in old)
    # altering a redacted schema 1 record is still caught
    seq = old[0]["seq"]
    with r.store.engine.begin() as conn:
        rec = dict(old[0], verdict="send" if old[0]["verdict"] != "send" else "block")
        conn.execute(
            t.update().where(t.c.chain == "main", t.c.seq == seq).values(record=json.dumps(rec))
        )
    first = verify(r.store).first
    assert first is not None and (first.chain, first.seq) == ("main", seq)


# -- retention ---------------------------------------------------------------------------


def with_retention(**days: int) -> Policy:
    return check().policy.model_copy(update={"retention": Retention(**days)})


RETENTION = {
    "dead_letters_days": 7,
    "events_days": 30,
    "message_text_days": 60,
    "inactive_customer_days": 90,
}


def test_purge_removes_each_kind_when_its_period_has_run_out(run: ClockedRun) -> None:
    policy = with_retention(**RETENTION)
    notes_before = len(jsonl(run.out / "notifications.jsonl"))

    # day 10: dead letters (7 days); nothing decided in May is old enough otherwise
    p = purge(run.store, policy, T0 + timedelta(days=10), out_dir=run.out)
    assert p.removed["dead_letters"] == 1 and p.files == {"dead-letter.jsonl": 1}
    assert run.store.counts()["dead_letters"] == 0 and jsonl(run.out / "dead-letter.jsonl") == []
    assert p.redacted == 0 and p.removed["event_payloads"] == 0
    assert export_customer(run.store, SAM)["events"]  # May's events are still linked

    # day 40: which customer an event was, and the payload of the decided review item
    p = purge(run.store, policy, T0 + timedelta(days=40), out_dir=run.out)
    assert p.removed["event_links"] > 0 and p.removed["event_payloads"] >= 1
    assert export_customer(run.store, SAM)["events"] == []
    assert export_customer(run.store, KIM)["events"] == [
        {"event_id": e, "event_time": t, "payload": ev} for e, t, ev in pending_payloads(run)
    ]
    payloads = {i.customer_id: i.candidate is not None for i in run.items(None)}
    assert payloads == {SAM: False, KIM: True}  # Kim's item is still pending: kept

    # day 70: the message texts, in the store, the file and the notifications
    with_text = sum(1 for d in run.decisions() if d["message"] is not None)
    p = purge(run.store, policy, T0 + timedelta(days=70), out_dir=run.out)
    assert p.redacted == with_text + 1  # and the approval's message hash
    assert all(d["message"] is None for d in run.store.decision_records("main"))
    assert all(d["message"] is None for d in jsonl(run.out / "decisions.jsonl"))
    (approval,) = run.review_records()
    assert approval["message_sha256"] is None
    assert p.files["notifications.jsonl"] == notes_before
    assert jsonl(run.out / "notifications.jsonl") == []
    assert export_customer(run.store, SAM)["profile"]["name"] == SAM_NAME

    # day 100: the contexts of customers not seen for 90 days
    p = purge(run.store, policy, T0 + timedelta(days=100), out_dir=run.out)
    assert p.removed["contexts"] == 2 and p.removed["contacts"] >= 2
    assert run.store.load([SAM, KIM]) == {}

    report = verify(run.store, run.out / "decisions.jsonl")
    assert report.ok, [str(f) for f in report.findings]
    erasures = list(run.store.decision_records(ERASURE_CHAIN))
    assert {e["kind"] for e in erasures} == {"retention"} and len(erasures) >= 4
    # again at the same moment: nothing left to do, nothing recorded
    again = purge(run.store, policy, T0 + timedelta(days=100), out_dir=run.out)
    assert again.records == [] and again.redacted == 0


def pending_payloads(r: Run) -> list[tuple[str, str, dict[str, Any]]]:
    """(event id, time, payload) of the events pending review items still keep."""
    out = []
    for item in r.items("pending"):
        assert item.candidate is not None
        ev = item.candidate["event"]
        out.append((ev["id"], ev["time"], ev))
    return out


def test_purge_works_in_batches_each_vouched_for(run: ClockedRun) -> None:
    policy = with_retention(message_text_days=1)
    p = purge(run.store, policy, T0 + timedelta(days=30), batch=2)
    assert len(p.records) >= 3 and all(len(r["items"]) <= 2 for r in p.records[:-1])
    assert verify(run.store).ok
    assert verify_chain(run.store.decision_records(ERASURE_CHAIN)) is None


def test_a_customer_seen_recently_keeps_the_context(make_run: Callable[..., ClockedRun]) -> None:
    r = make_run(stream())
    r.now = T0 + timedelta(days=95)
    late = T0 + timedelta(days=95)
    r.feed([ce("billing.payment_failed", KIM, late, invoice_id="I-late", amount_eur=9.0)])
    p = purge(r.store, with_retention(inactive_customer_days=90), T0 + timedelta(days=100))
    assert p.removed["contexts"] == 1 and set(r.store.load([SAM, KIM])) == {KIM}


def test_purge_without_retention_in_the_policy_does_nothing(run: ClockedRun) -> None:
    p = purge(
        run.store, check().policy.model_copy(update={"retention": None}), T0 + timedelta(days=999)
    )
    assert p.note is not None and "no retention" in p.note and p.records == []


def test_cli_purge_uses_the_policy_and_now(run: ClockedRun) -> None:
    later = (T0 + timedelta(days=800)).isoformat()
    result = cli(["purge", "--out", str(run.out), "--now", later, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["redacted"] > 0 and data["removed"]["contexts"] == 2
    assert cli(["audit", "verify", "--out", str(run.out)]).exit_code == 0
    bad = cli(["purge", "--out", str(run.out), "--now", "yesterday"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.stderr


# -- masked logs -------------------------------------------------------------------------


@pytest.fixture
def masked_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog with the masking filter the CLI installs, at DEBUG; default fields after."""
    logs.install(caplog.handler)
    caplog.set_level(logging.DEBUG, logger="proactive")
    yield caplog
    logs.apply_policy(Masking(log_fields=list(logs.DEFAULT_FIELDS)))


def feed_harness(h: Harness) -> None:
    h.event("customer.profile_updated", SAM, "2026-05-01T09:00:00Z", name=SAM_NAME, language="en")
    h.event(
        "billing.payment_failed", SAM, "2026-05-20T13:00:00Z", invoice_id="I-1", amount_eur=41.0
    )
    h.raw(BAD_EVENT)


def test_decision_and_dead_letter_log_lines_hide_the_customer(
    masked_log: pytest.LogCaptureFixture, make_harness: Callable[..., Harness]
) -> None:
    """The shipped policy masks customer_id and name: the engine's lines about a decision
    and a dead letter (and any line that quotes the raw event) name Sam by pseudonym."""
    logs.apply_policy(check().policy.masking)
    h = make_harness()
    feed_harness(h)
    logging.getLogger("proactive.test").warning("could not use %s", BAD_EVENT)
    assert h.decisions and h.dead_letters
    text = masked_log.text
    assert "dead-lettered" in text and "decision " in text and "could not use" in text
    assert SAM not in text and SAM_NAME not in text
    assert logs.mask(SAM) in text  # an operator can still follow one customer


def test_an_exception_quoting_an_event_is_masked(masked_log: pytest.LogCaptureFixture) -> None:
    try:
        raise ValueError(f"bad record {{'subject': '{SAM}', 'name': '{SAM_NAME}'}}")
    except ValueError:
        logging.getLogger("proactive.test").exception("failed")
    assert "failed" in masked_log.text and SAM not in masked_log.text
    assert SAM_NAME not in masked_log.text


def test_the_policy_decides_which_fields_are_masked(
    masked_log: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """An engine whose policy masks only the name: the customer id may appear, the name
    not (the engine puts its policy's masking in force when it starts)."""
    for name in ("policy.yaml", "manipulation.yaml"):
        shutil.copy(POLICY.parent / name, tmp_path / name)
    text = (tmp_path / "policy.yaml").read_text(encoding="utf-8")
    (tmp_path / "policy.yaml").write_text(
        text.replace("log_fields: [customer_id, name]", "log_fields: [name]"), encoding="utf-8"
    )
    h = Harness(rules_dir=RULES, policy=tmp_path / "policy.yaml")
    assert logs.mask(SAM) == SAM and logs.mask(SAM_NAME, "name") != SAM_NAME
    feed_harness(h)
    logging.getLogger("proactive.test").warning("could not use %s", BAD_EVENT)
    assert SAM in masked_log.text and SAM_NAME not in masked_log.text
