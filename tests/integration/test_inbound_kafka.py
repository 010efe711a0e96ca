"""The customers' choices reach the Kafka service: inbound events, on a real broker.

The preference page writes a choice to the store's ``inbound_events`` table; the Kafka
service forwards it to the events topic keyed by the customer (between batches) and
deletes the row once that transaction is committed. The acceptance run, three engine
processes (``proactive run --bootstrap-servers``) in a row over one SQLite store:

1. a customer gets a commercial message (the 90% warning with a better bundle);
2. the customer presses "stop all commercial messages" (the row the page writes) and
   an unreadable row sits before it in the table; the service forwards both: the
   choice lands in the customer's partition and is applied, the unreadable one is
   dead-lettered with its reason, the table is empty; the retention purge ran;
3. a month later the next 90% warning's offer is blocked by the objection, while the
   outage notice still arrives; a customer who did not object still gets the offer.

Without a broker, a fake producer shows the forwarding's transaction and failure rules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from test_preferences import customer, june
from test_review import T0, check, rules

from proactive.gdpr import ERASURE_CHAIN
from proactive.inbound import choice_event
from proactive.kafka_service import KafkaService, KafkaSettings, Topics
from proactive.pipeline import Engine, Outputs
from proactive.preferences import PAGE_SOURCE
from proactive.sinks import MemorySink
from proactive.store import ContextStore, schema, sqlite_url

from .conftest import KafkaBroker, TopicFactory

REPO = Path(__file__).resolve().parents[2]
OBJECTS, CONTROL = "C1", "C2"
BUNDLE = "data-bundle-nearly-used"
PRESSED_AT = T0 + timedelta(days=1)
"""When the customer presses "stop all commercial messages" (after the May message)."""
UNREADABLE = '{"specversion": "1.0", "id": "bad-1", "subject": '
"""A row cut off mid-way (no readable subject)."""


# -- helpers ---------------------------------------------------------------------------------


def page_event(cid: str, etype: str, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A choice as the preference page writes it (``proactive.web.customer``)."""
    return choice_event(cid, etype, data, source=PAGE_SOURCE, now=now)


def produce(bootstrap: str, topic: str, values: list[str]) -> None:
    """Events as a source system produces them: keyed by customer (the subject)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for v in values:
        producer.send(topic, key=json.loads(v)["subject"].encode(), value=v.encode())
    producer.flush()
    producer.close()


def records(bootstrap: str, topic: str) -> list[Any]:
    """Every record a read_committed reader sees on ``topic``."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        consumer_timeout_ms=3000,
    )
    out = list(consumer)
    consumer.close()
    return out


def values(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records(bootstrap, topic)]


def run_service(
    bootstrap: str, topics: Topics, store: Path, tmp_path: Path, name: str
) -> subprocess.Popen[bytes]:
    """One engine process until idle (same group and instance each time: it resumes)."""
    cmd = [
        sys.executable, "-m", "proactive",
        "--rules", str(REPO / "rules"), "--policy", str(REPO / "ethics" / "policy.yaml"),
        "run", "--bootstrap-servers", bootstrap, "--group", "inbound",
        "--instance-id", "inbound-1", "--store", f"sqlite:///{store}",
        "--out", str(tmp_path / "out"), "--until-idle", "5", "--json",
        "--events-topic", topics.events, "--notifications-topic", topics.notifications,
        "--decisions-topic", topics.decisions, "--dead-letter-topic", topics.dead_letter,
        "--purge-every", "24",
    ]  # fmt: skip
    env = {**os.environ, "PROACTIVE_BATCH_SIZE": "25", "PROACTIVE_LOG_LEVEL": "WARNING"}
    with (
        (tmp_path / f"{name}.json").open("wb") as stdout,
        (tmp_path / f"{name}.log").open("wb") as stderr,
    ):
        return subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env, cwd=REPO)


def finish(proc: subprocess.Popen[bytes], tmp_path: Path, name: str) -> str:
    """Wait for the engine to leave (exit 0); its log."""
    try:
        code = proc.wait(180)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("engine did not finish in time")
    log = (tmp_path / f"{name}.log").read_text(encoding="utf-8", errors="replace")
    assert code == 0, f"engine exited with {code}:\n{log[-3000:]}"
    return log


def commercial(notes: list[dict[str, Any]], cid: str) -> list[dict[str, Any]]:
    return [
        n
        for n in notes
        if n["subject"] == cid
        and (n["data"]["purpose"] == "commercial" or n["data"]["offer"] is not None)
    ]


# -- on the broker ---------------------------------------------------------------------------


def test_a_choice_on_the_page_takes_effect_in_the_kafka_service(
    kafka_broker: KafkaBroker, kafka_topics: TopicFactory, tmp_path: Path
) -> None:
    boot = kafka_broker.bootstrap
    events, notifications, decisions, dead = kafka_topics(
        "customer-events", "notifications", "decisions", "dead-letter", partitions=2
    )
    topics = Topics(events, notifications, decisions, dead)
    store_path = tmp_path / "state.sqlite"

    # 1. May: both customers get the 90% warning with a bundle offer (commercial)
    produce(boot, events, [*customer(OBJECTS), *customer(CONTROL)])
    finish(run_service(boot, topics, store_path, tmp_path, "may"), tmp_path, "may")
    may = values(boot, notifications)
    assert commercial(may, OBJECTS) and commercial(may, CONTROL), may

    # 2. the customer presses "stop all commercial messages": the row the page writes,
    #    behind a row nobody can read (it must not hold the choice back)
    store = ContextStore(sqlite_url(store_path))
    try:
        with store.engine.begin() as conn:
            conn.execute(
                schema.inbound_events.insert().values(
                    event_id="bad-1", customer_id="", event=UNREADABLE, received_at=PRESSED_AT
                )
            )
        choice = page_event(
            OBJECTS,
            "customer.consent_changed",
            {"objection_direct_marketing": True},  # "stop all commercial messages"
            PRESSED_AT,
        )
        store.add_inbound(choice, PRESSED_AT)
        assert len(store.inbound()) == 2
        assert not store.load([OBJECTS])[OBJECTS].objection_direct_marketing

        log = finish(run_service(boot, topics, store_path, tmp_path, "choice"), tmp_path, "choice")

        assert store.inbound() == []  # forwarded, then deleted
        assert store.load([OBJECTS])[OBJECTS].objection_direct_marketing is True
        assert not store.load([CONTROL])[CONTROL].objection_direct_marketing
        # the purge ran at the service's start (May's events are past events_days by now)
        erasures = list(store.decision_records(ERASURE_CHAIN))
        assert erasures and {e["kind"] for e in erasures} == {"retention"}
        assert any(e["removed"].get("event_links") for e in erasures), erasures
    finally:
        store.close()

    # on the events topic: the choice keyed by its customer, in that customer's partition
    on_topic = records(boot, events)
    (forwarded,) = [r for r in on_topic if r.value == orjson.dumps(choice)]
    assert forwarded.key == OBJECTS.encode()
    assert {r.partition for r in on_topic if r.key == OBJECTS.encode()} == {forwarded.partition}
    assert ("content-type", b"application/cloudevents+json") in forwarded.headers
    (bad,) = [r for r in on_topic if r.value == UNREADABLE.encode()]
    assert bad.key is None
    assert "has no readable subject" in log
    (refused,) = values(boot, dead)
    assert refused["original"] == UNREADABLE and refused["reason"] == "malformed_json"

    # 3. June: an outage and the next 90% warning, for both customers
    produce(boot, events, [*june(OBJECTS), *june(CONTROL)])
    finish(run_service(boot, topics, store_path, tmp_path, "june"), tmp_path, "june")
    notes = values(boot, notifications)
    seen_in_may = {n["id"] for n in may}
    after = [n for n in notes if n["id"] not in seen_in_may]
    assert commercial(after, OBJECTS) == []
    assert any(
        n["subject"] == OBJECTS and n["data"]["rule_id"] == "outage-started" for n in after
    ), after
    # the offer was decided, and blocked by the objection
    june_offers = [
        d
        for d in values(boot, decisions)
        if d["customer_id"] == OBJECTS
        and d["rule_id"] == BUNDLE
        and d["event_id"].startswith(f"usage.data-{OBJECTS}-2026-06")
        and d["action"]["offer"] is not None
    ]
    assert june_offers and {d["verdict"] for d in june_offers} == {"block"}
    assert all("objection_direct_marketing" in str(d["reasons"]) for d in june_offers)
    # the customer who did not object still gets June's offer: the block is the choice's
    assert commercial(after, CONTROL), after
    # every event once: the choice was applied once, nothing was decided twice
    ids = [d["decision_id"] for d in values(boot, decisions)]
    assert len(ids) == len(set(ids))


# -- without a broker: the forwarding's rules ------------------------------------------------


class FakeProducer:
    """Records the transactional calls; ``fail_commit`` makes the commit raise."""

    def __init__(self, fail_commit: bool = False) -> None:
        self.calls: list[str] = []
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.fail_commit = fail_commit

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def send(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]
    ) -> None:
        self.sent.append((topic, key, value))

    def commit_transaction(self) -> None:
        self.calls.append("commit")
        if self.fail_commit:
            raise KafkaError("coordinator went away")

    def abort_transaction(self) -> None:
        self.calls.append("abort")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[KafkaService]:
    """A service over a fresh store, never connected: its producer is a fake."""
    store = ContextStore(sqlite_url(tmp_path / "state.sqlite"))
    engine = Engine(rules(), check(), store, Outputs(MemorySink(), MemorySink(), MemorySink()))
    svc = KafkaService(engine, KafkaSettings("127.0.0.1:1", topics=Topics(events="ev")))
    yield svc
    store.close()


def _queue(store: ContextStore, cid: str, n: int) -> dict[str, Any]:
    at = PRESSED_AT + timedelta(minutes=n)
    event = page_event(cid, "customer.preferences_changed", {"callback_requested": True}, at)
    store.add_inbound(event, datetime.now(UTC))
    return event


def test_forwarding_keys_by_subject_and_deletes_after_the_commit(service: KafkaService) -> None:
    store = service.engine.store
    first = _queue(store, "C7", 1)
    with store.engine.begin() as conn:
        conn.execute(
            schema.inbound_events.insert().values(
                event_id="bad", customer_id="", event="[1, 2", received_at=PRESSED_AT
            )
        )
    second = _queue(store, "C8", 2)
    producer = service.producer = FakeProducer()
    assert service._forward_inbound() == 3
    assert producer.calls == ["begin", "commit"]
    assert producer.sent == [
        ("ev", b"C7", orjson.dumps(first)),
        ("ev", None, b"[1, 2"),
        ("ev", b"C8", orjson.dumps(second)),
    ]
    assert store.inbound() == []
    assert service._forward_inbound() == 0 and producer.calls == ["begin", "commit"]


def test_a_failed_transaction_is_aborted_and_keeps_the_rows(service: KafkaService) -> None:
    store = service.engine.store
    _queue(store, "C7", 1)
    producer = service.producer = FakeProducer(fail_commit=True)
    with pytest.raises(KafkaError):  # to the loop, which reconnects
        service._forward_inbound()
    assert producer.calls == ["begin", "commit", "abort"]
    assert len(store.inbound()) == 1  # sent again on the next turn
    registry = service.engine.metrics.registry
    assert (
        registry.get_sample_value("proactive_kafka_transactions_total", {"outcome": "abort"}) == 1
    )
