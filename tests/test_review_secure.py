"""Approving a sensitive message held for review (DOMAIN S16, proactive.review).

A sensitive message (a failed payment, with its amount) goes only to the secure inbox;
a customer who prefers another channel gets there only the plain ``secure_notice``.
An approval must send exactly what the engine sends: the message in the secure inbox
*and* the plain notice — never the amount on an open channel, never without the notice.

The shipped policy sends the payment-support message straight away (score ≈ 0.96), so
these tests use a copy of it whose send level is 0.99: the same message is then held
for review, and a reviewer approves it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from proactive.app import open_engine
from proactive.cli import main
from proactive.cli import review as review_cli
from proactive.config import load_settings
from proactive.harness import Harness
from proactive.review import (
    REVIEW_CHAIN,
    DeliveryError,
    Outcome,
    ReviewItem,
    approve,
    find_item,
    list_items,
    verify_review_chain,
)
from proactive.sinks import MemorySink
from proactive.web.desk import ReviewDesk

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"
RULE = "payment-failed-support"

T0 = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)
"""When the payment fails: a Wednesday, 12:00 in Amsterdam."""
DAYTIME = T0 + timedelta(hours=2)
"""An approval moment well inside the send window and the review window."""


def ce(etype: str, customer: str, time: datetime | str, **data: Any) -> str:
    """One CloudEvent line; its id is derived from type, customer and time."""
    when = time if isinstance(time, str) else time.isoformat()
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"{etype}-{customer}-{when}",
            "source": "/tests/review-secure",
            "type": etype,
            "subject": customer,
            "time": when,
            "data": data,
        }
    )


def payment_failed(
    customer: str = "C1",
    *,
    language: str = "en",
    channel: str = "sms",
    proxy: bool = False,
) -> list[str]:
    """A customer who prefers ``channel`` and whose payment of € 42.50 fails at T0."""
    return [
        ce(
            "customer.profile_updated",
            customer,
            "2026-01-15T09:00:00Z",
            name="Sam",
            language=language,
            preferred_channel=channel,
            managed_by_proxy=proxy,
        ),
        ce("billing.payment_failed", customer, T0, invoice_id="I-1", amount_eur=42.5),
    ]


@pytest.fixture(scope="module")
def strict_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped policy with the send level at 0.99: the payment message goes to review."""
    target = tmp_path_factory.mktemp("strict-policy")
    shutil.copy(REPO / "ethics" / "manipulation.yaml", target / "manipulation.yaml")
    text = (REPO / "ethics" / "policy.yaml").read_text(encoding="utf-8")
    strict = re.sub(r"(?m)^(\s+send: )0\.75\b", r"\g<1>0.99", text, count=1)
    strict = re.sub(r'(?m)^revision: "([^"]+)"', r'revision: "\1-strict"', strict, count=1)
    assert strict != text
    (target / "policy.yaml").write_text(strict, encoding="utf-8")
    return target / "policy.yaml"


@pytest.fixture
def held(strict_policy: Path) -> Iterator[Callable[..., Harness]]:
    """Factory: ``held(lines)`` → a harness under the strict policy that has run ``lines``."""
    made: list[Harness] = []

    def build(lines: list[str] | None = None) -> Harness:
        h = Harness(rules_dir=RULES, policy=strict_policy)
        for line in lines if lines is not None else payment_failed():
            h.raw(line)
        made.append(h)
        return h

    yield build
    for h in made:
        h.store.close()


def item_of(h: Harness, customer: str = "C1") -> ReviewItem:
    (item,) = [i for i in list_items(h.store) if i.customer_id == customer]
    return item


def approve_in(
    h: Harness, sink: MemorySink, at: datetime = DAYTIME, customer: str = "C1"
) -> Outcome:
    return approve(
        h.store,
        item_of(h, customer).decision_id,
        ruleset=h.engine.ruleset,
        check=h.engine.check,
        reviewer="alice",
        reason="checked the amount with billing",
        now=at,
        sink=sink,
    )


def no_review_id(notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**n, "data": {k: v for k, v in n["data"].items() if k != "review_id"}} for n in notes]


# -- the gap: an approval sends the message to the secure inbox AND the plain notice ------


def test_approving_a_sensitive_message_sends_it_to_the_secure_inbox_with_the_plain_notice(
    held: Callable[..., Harness],
) -> None:
    h = held()
    (decision,) = h.decisions_for("C1", RULE)
    assert decision["verdict"] == "review", decision["reasons"]
    assert (decision["channel"], decision["action"]["notice_channel"]) == ("app_inbox", "sms")
    assert h.notifications == []
    item = item_of(h)

    sink = MemorySink()
    outcome = approve_in(h, sink)
    assert outcome.action == "approved" and outcome.sent, outcome.reasons

    # one write: the message, then its notice (the engine's order)
    assert sink.records == outcome.notifications == [outcome.notification, outcome.notice]
    message, notice = sink.records
    assert message["data"]["kind"] == "message" and message["data"]["channel"] == "app_inbox"
    assert "€42.50" in message["data"]["body"]

    n = notice["data"]
    assert n["kind"] == "secure_notice" and n["channel"] == "sms"
    assert notice["subject"] == "C1" and notice["type"] == "proactive.notification"
    # the engine's text from _common.yaml, in the customer's language; no amount, no detail
    assert n["body"] == h.engine.ruleset.templates.secure_notice("en")
    assert n["body"].startswith("You have a new message from Example Telecom")
    assert not re.search(r"\d", n["body"]) and "€" not in n["body"] and "EUR" not in n["body"]
    assert (n["subject"], n["why"], n["offer"]) == (None, None, None)
    assert not re.search(r"\d", json.dumps([n["subject"], n["why"], n["offer"]]))
    # it points to the message and belongs to the same approval
    assert n["notice_for"] == message["id"] and notice["id"] != message["id"]
    for note in (message, notice):
        assert note["data"]["decision_id"] == item.decision_id
        assert note["data"]["review_id"] == outcome.record["decision_id"]
        assert note["data"]["deliver_at"] == DAYTIME.isoformat()
    for key in ("language", "addressee", "preferences_url", "customer_id", "rule_id", "purpose"):
        assert n[key] == message["data"][key], key

    # recorded: the review record names the notice; the contact is the message's, once
    rec = outcome.record
    assert (rec["channel"], rec["notification_id"]) == ("app_inbox", message["id"])
    assert (rec["notice_channel"], rec["notice_id"]) == ("sms", notice["id"])
    assert rec["recheck"]["notice_channel"] == "sms"
    (stored,) = [r for r in h.store.decision_records(REVIEW_CHAIN) if r["action"] == "approved"]
    assert (stored["notice_id"], stored["notice_channel"]) == (notice["id"], "sms")
    assert verify_review_chain(h.store) is None
    ctx = h.store.load(["C1"])["C1"]
    assert [(c.rule_id, c.channel, c.at) for c in ctx.contacts] == [(RULE, "app_inbox", DAYTIME)]


@pytest.mark.parametrize(
    ("language", "proxy"), [("en", False), ("nl", False), ("en", True), ("nl", True)]
)
def test_an_approval_sends_exactly_what_the_engine_sends(
    held: Callable[..., Harness], language: str, proxy: bool
) -> None:
    """The same customer and event: what the engine sends under the shipped policy and
    what an approval at the same moment sends under the strict one are the same two
    notifications (text, language, addressee, preferences link, ids), bar ``review_id``."""
    lines = payment_failed(language=language, proxy=proxy)
    engine = Harness(rules_dir=RULES, policy=REPO / "ethics" / "policy.yaml")
    try:
        for line in lines:
            engine.raw(line)
        sent = engine.notifications_for("C1", RULE)
    finally:
        engine.store.close()
    assert [n["data"]["kind"] for n in sent] == ["message", "secure_notice"]

    h = held(lines)
    sink = MemorySink()
    outcome = approve_in(h, sink, at=T0)
    assert outcome.action == "approved", outcome.reasons
    assert no_review_id(sink.records) == sent
    notice = sink.records[1]["data"]
    assert notice["language"] == language
    assert notice["addressee"]["role"] == ("proxy" if proxy else "holder")
    assert notice["body"] == h.engine.ruleset.templates.secure_notice(language)


@pytest.mark.parametrize(
    ("now_prefers", "message_channel", "notice_channel"),
    [("push", "app_inbox", "push"), ("app_inbox", "app_inbox", None), ("email", "email", None)],
)
def test_the_notice_follows_the_customers_channel_at_approval(
    held: Callable[..., Harness],
    now_prefers: str,
    message_channel: str,
    notice_channel: str | None,
) -> None:
    """The approval rebuilds the candidate against the current context, as the engine
    would decide now: a customer who switched to push gets the notice by push; one who
    now prefers a secure channel gets the message there and no notice."""
    h = held()
    h.raw(
        ce(
            "customer.profile_updated",
            "C1",
            T0 + timedelta(minutes=30),
            preferred_channel=now_prefers,
        )
    )
    sink = MemorySink()
    outcome = approve_in(h, sink)
    assert outcome.action == "approved", outcome.reasons
    assert outcome.notification is not None
    assert outcome.notification["data"]["channel"] == message_channel
    if notice_channel is None:
        assert outcome.notice is None and sink.records == [outcome.notification]
        assert (outcome.record["notice_id"], outcome.record["notice_channel"]) == (None, None)
    else:
        assert outcome.notice is not None
        assert outcome.notice["data"]["channel"] == notice_channel
        assert [n["data"]["kind"] for n in sink.records] == ["message", "secure_notice"]
    # never the amount on an open channel
    for note in sink.records:
        if note["data"]["channel"] not in h.engine.check.policy.channels.secure_channels:
            assert not re.search(r"\d", note["data"]["body"])


def test_a_delivery_failure_keeps_the_notice_with_the_message(
    held: Callable[..., Harness],
) -> None:
    """DeliveryError carries both, so a second delivery sends the notice too."""

    class Broken(MemorySink):
        def write(self, records: list[dict[str, Any]]) -> None:
            raise OSError("disk full")

    h = held()
    decision_id = item_of(h).decision_id
    with pytest.raises(DeliveryError, match="secure-inbox notice") as info:
        approve_in(h, Broken())
    outcome = info.value.outcome
    assert [n["data"]["kind"] for n in outcome.notifications] == ["message", "secure_notice"]
    assert outcome.notice is not None and outcome.notice["id"] in str(info.value)
    assert outcome.record["notice_id"] == outcome.notice["id"]
    assert find_item(h.store, decision_id).status == "approved"  # the approval stands


def test_the_review_desk_of_the_web_ui_sends_the_notice_too(
    held: Callable[..., Harness],
) -> None:
    h = held()
    sink = MemorySink()
    desk = ReviewDesk(h.engine.ruleset, h.engine.check, sink=sink)
    outcome = desk.approve(
        h.store, item_of(h).decision_id, reviewer="bob", reason="fine to send", now=DAYTIME
    )
    assert outcome.action == "approved", outcome.reasons
    assert [(n["data"]["kind"], n["data"]["channel"]) for n in sink.records] == [
        ("message", "app_inbox"),
        ("secure_notice", "sms"),
    ]


def test_cli_approve_writes_the_message_and_the_notice(
    strict_policy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``proactive review approve`` over an embedded run's folder: notifications.jsonl
    gets the message in the secure inbox and the plain notice by SMS."""
    monkeypatch.delenv("PROACTIVE_STORE_URL", raising=False)
    monkeypatch.delenv("PROACTIVE_BOOTSTRAP_SERVERS", raising=False)
    out = tmp_path / "out"
    out.mkdir()
    engine = open_engine(load_settings(rules_dir=RULES, policy=strict_policy), out)
    try:
        engine.run([(line, f"test:{n}") for n, line in enumerate(payment_failed(), 1)])
        engine.finish()
        (item,) = list_items(engine.store)
    finally:
        engine.outputs.close()
        engine.store.close()
    monkeypatch.setattr(review_cli, "clock", lambda: DAYTIME)
    args = ["--rules", str(RULES), "--policy", str(strict_policy), "review", "approve"]
    result = CliRunner().invoke(
        main, [*args, item.decision_id, "--out", str(out), "--reason", "ok", "--reviewer", "carol"]
    )
    assert result.exit_code == 0, result.output
    lines = (out / "notifications.jsonl").read_text(encoding="utf-8").splitlines()
    notes = [json.loads(x) for x in lines if x]
    assert [(n["data"]["kind"], n["data"]["channel"]) for n in notes] == [
        ("message", "app_inbox"),
        ("secure_notice", "sms"),
    ]
    assert notes[1]["data"]["notice_for"] == notes[0]["id"]
    assert not re.search(r"\d", notes[1]["data"]["body"])
