"""The Kafka service against a real broker and a real PostgreSQL: exactly once, faults, interop.

Every engine here is a separate process (``python -m proactive run --bootstrap-servers``),
as users run it. The reference is an uninterrupted run over the same events; the fault
runs must produce exactly the same decisions (event, rule, variant, verdict), none twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from .streams import daytime_stream, lines

REPO = Path(__file__).resolve().parents[2]
PARTITIONS = 4


class TopicSet:
    """Four uniquely named topics for one engine run."""

    def __init__(self, bootstrap: str, events: str, tag: str) -> None:
        self.events = events
        self.notifications = f"notifications-{tag}"
        self.decisions = f"decisions-{tag}"
        self.dead_letter = f"dead-letter-{tag}"
        _create(bootstrap, [self.notifications, self.decisions, self.dead_letter], 1)

    def args(self) -> list[str]:
        return [
            "--events-topic", self.events,
            "--notifications-topic", self.notifications,
            "--decisions-topic", self.decisions,
            "--dead-letter-topic", self.dead_letter,
        ]  # fmt: skip


def _create(bootstrap: str, names: list[str], partitions: int) -> None:
    with KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000) as admin:
        admin.create_topics(
            {n: {"num_partitions": partitions, "replication_factor": 1} for n in names},
            timeout_ms=15_000,
            wait_for_metadata=True,
        )


def produce(bootstrap: str, topic: str, values: list[bytes], key_of: Any = None) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for v in values:
        key = key_of(v) if key_of else json.loads(v)["subject"].encode()
        producer.send(topic, key=key, value=v)
    producer.flush()
    producer.close()


def read(bootstrap: str, topic: str, idle_ms: int = 3000) -> list[dict[str, Any]]:
    """Everything a read_committed reader sees on ``topic``."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        consumer_timeout_ms=idle_ms,
    )
    out = [json.loads(m.value) for m in consumer]
    consumer.close()
    return out


def engine(
    bootstrap: str,
    topics: TopicSet,
    store_url: str,
    group: str,
    instance: str,
    out: Path,
    until_idle: float = 8,
    batch: int = 25,
    extra: list[str] | None = None,
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PROACTIVE_BATCH_SIZE": str(batch), "PROACTIVE_LOG_LEVEL": "WARNING"}
    cmd = [
        sys.executable, "-m", "proactive",
        "--rules", str(REPO / "rules"), "--policy", str(REPO / "ethics" / "policy.yaml"),
        "run", "--bootstrap-servers", bootstrap, "--group", group, "--instance-id", instance,
        "--store", store_url, "--out", str(out), "--until-idle", str(until_idle), "--json",
        *topics.args(), *(extra or []),
    ]  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    # the child keeps its own copies of the descriptors; ours close at once
    with (
        (out.parent / f"{instance}.json").open("wb") as stdout,
        (out.parent / f"{instance}.log").open("wb") as stderr,
    ):
        return subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env, cwd=REPO)


def wait(proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("engine did not finish in time")
    assert code == 0, f"engine exited with {code}"


def _every_notification_names_a_send_decision(
    notes: list[dict[str, Any]], decisions: list[dict[str, Any]]
) -> None:
    verdict = {d["decision_id"]: d["verdict"] for d in decisions}
    for n in notes:
        assert verdict.get(n["data"]["decision_id"]) == "send", n["id"]


def until_quarter_decided(boot: str, topics: TopicSet, reference: dict[str, Any]) -> None:
    """Wait until a quarter of the reference run's decisions are visible: mid-stream."""
    target = len(reference["decisions"]) // 4
    deadline = time.monotonic() + 120
    while len(read(boot, topics.decisions, idle_ms=500)) < target:
        assert time.monotonic() < deadline, "the engines produced too little before the fault"
        time.sleep(0.2)


def keys(decisions: list[dict[str, Any]]) -> Counter[tuple[str, str, str, str]]:
    return Counter((d["event_id"], d["rule_id"], d["variant"], d["verdict"]) for d in decisions)


@pytest.fixture(scope="module")
def stream() -> list[bytes]:
    return lines(daytime_stream(customers=150, seed=5))


@pytest.fixture(scope="module")
def events_topic(kafka_broker: Any, stream: list[bytes]) -> str:
    """The shared input: one events topic with 4 partitions, keyed by customer."""
    name = f"customer-events-{uuid.uuid4().hex[:8]}"
    _create(kafka_broker.bootstrap, [name], PARTITIONS)
    produce(kafka_broker.bootstrap, name, stream)
    return name


@pytest.fixture(scope="module")
def reference(
    kafka_broker: Any,
    events_topic: str,
    postgres_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """One engine, no faults: the decisions every other run must reproduce."""
    import psycopg

    db = f"ref_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url.replace("+psycopg", "") + "/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db}"')
    tmp = tmp_path_factory.mktemp("reference")
    topics = TopicSet(kafka_broker.bootstrap, events_topic, uuid.uuid4().hex[:8])
    wait(
        engine(kafka_broker.bootstrap, topics, f"{postgres_url}/{db}", "ref", "ref-1", tmp / "out")
    )
    decisions = read(kafka_broker.bootstrap, topics.decisions)
    notes = read(kafka_broker.bootstrap, topics.notifications)
    assert decisions and notes, "the reference run decided nothing"
    return {"decisions": decisions, "notifications": notes}


def test_reference_run_is_exactly_once(reference: dict[str, Any], stream: list[bytes]) -> None:
    """Each decision and notification appears once; every send decision has its notification."""
    decisions, notes = reference["decisions"], reference["notifications"]
    assert len({d["decision_id"] for d in decisions}) == len(decisions)
    assert len({n["id"] for n in notes}) == len(notes)
    sends = {d["decision_id"] for d in decisions if d["verdict"] == "send"}
    assert {n["data"]["decision_id"] for n in notes} == sends
    assert {"send", "block"} <= {d["verdict"] for d in decisions}


def test_sigkill_mid_stream_two_engines_on_postgres(
    kafka_broker: Any,
    events_topic: str,
    reference: dict[str, Any],
    postgres_db: Any,
    tmp_path: Path,
) -> None:
    """One of two engines (shared PostgreSQL store) is SIGKILLed mid-stream and restarted.

    A read_committed reader sees exactly the decisions of the uninterrupted run: none
    missing, none twice; no notification id twice.
    """
    boot = kafka_broker.bootstrap
    store = postgres_db("faults")
    topics = TopicSet(boot, events_topic, uuid.uuid4().hex[:8])
    e1 = engine(boot, topics, store, "faults", "f-1", tmp_path / "o1", until_idle=10)
    e2 = engine(boot, topics, store, "faults", "f-2", tmp_path / "o2", until_idle=10)
    until_quarter_decided(boot, topics, reference)
    e1.send_signal(signal.SIGKILL)
    e1.wait()
    e1 = engine(boot, topics, store, "faults", "f-1", tmp_path / "o1b", until_idle=10)
    wait(e2)
    wait(e1)
    decisions = read(boot, topics.decisions)
    notes = read(boot, topics.notifications)
    assert keys(decisions) == keys(reference["decisions"])
    assert max(keys(decisions).values()) == 1
    ids = [n["id"] for n in notes]
    assert len(ids) == len(set(ids)) == len(reference["notifications"])
    _every_notification_names_a_send_decision(notes, decisions)


def test_broker_restart_mid_stream(
    kafka_broker: Any, events_topic: str, reference: dict[str, Any], tmp_path: Path
) -> None:
    """The broker stops and comes back while the engine works: it resumes and completes."""
    boot = kafka_broker.bootstrap
    topics = TopicSet(boot, events_topic, uuid.uuid4().hex[:8])
    store = f"sqlite:///{tmp_path / 'state.sqlite'}"
    proc = engine(boot, topics, store, "restart", "r-1", tmp_path / "out", until_idle=40)
    until_quarter_decided(boot, topics, reference)
    kafka_broker.restart()
    wait(proc, timeout=300)
    decisions = read(boot, topics.decisions)
    assert keys(decisions) == keys(reference["decisions"])
    notes = read(boot, topics.notifications)
    ids = [n["id"] for n in notes]
    assert len(ids) == len(set(ids)) == len(reference["notifications"])
    _every_notification_names_a_send_decision(notes, decisions)


def test_poison_events_are_dead_lettered_and_the_stream_continues(
    kafka_broker: Any, tmp_path: Path
) -> None:
    boot = kafka_broker.bootstrap
    name = f"customer-events-{uuid.uuid4().hex[:8]}"
    _create(boot, [name], 1)
    good = daytime_stream(customers=1, seed=9)
    bad = [
        b'{"specversion":"1.0","id":"x1",',
        json.dumps({**good[0], "id": "x2", "type": "usage.voice_minutes"}).encode(),
        json.dumps({**good[0], "id": "x3", "data": {"language": "fr"}}).encode(),
        json.dumps({**good[0], "id": "x4", "data": {"name": "x" * 70_000}}).encode(),
    ]
    produce(boot, name, bad + lines(good), key_of=lambda v: b"K00000")
    topics = TopicSet(boot, name, uuid.uuid4().hex[:8])
    proc = engine(
        boot,
        topics,
        f"sqlite:///{tmp_path / 's.sqlite'}",
        "poison",
        "p-1",
        tmp_path / "out",
        until_idle=5,
    )
    wait(proc)
    dead = read(boot, topics.dead_letter)
    assert sorted(d["reason"] for d in dead) == [
        "malformed_json",
        "oversized",
        "schema_violation",
        "unknown_type",
    ]
    assert all(d["origin"].startswith(f"{name}/0@") for d in dead)
    assert any(d["original"].startswith('{"specversion":"1.0","id":"x1"') for d in dead)
    summary = json.loads((tmp_path / "p-1.json").read_text())
    assert summary["events"]["accepted"] == len(good)


def _kcat(*args: str, stdin: bytes | None = None) -> bytes:
    res = subprocess.run(["kcat", *args], input=stdin, capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout


def test_kcat_structured_and_binary_mode_in_cloudevents_out(
    kafka_broker: Any, tmp_path: Path
) -> None:
    """Events produced by kcat (structured and binary mode) are processed; kcat reads valid CloudEvents."""
    boot = kafka_broker.bootstrap
    name = f"customer-events-{uuid.uuid4().hex[:8]}"
    _create(boot, [name], 2)
    now = datetime(2026, 5, 20, 10, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    profile = {"language": "en", "preferred_channel": "sms", "time_zone": "Europe/Amsterdam"}
    outage = {"outage_id": "O-k", "area": "NL-1", "services": ["data"]}
    structured = [
        {"specversion": "1.0", "id": "kc-1", "source": "/kcat", "type": "customer.profile_updated", "subject": "S1", "time": now.isoformat(), "data": profile},
        {"specversion": "1.0", "id": "kc-2", "source": "/kcat", "type": "service.outage_started", "subject": "S1", "time": (now + timedelta(minutes=1)).isoformat(), "data": outage},
    ]  # fmt: skip
    payload = b"".join(b"S1|" + json.dumps(e).encode() + b"\n" for e in structured)
    _kcat("-P", "-b", boot, "-t", name, "-K", "|", stdin=payload)
    for i, (etype, data) in enumerate(
        [("customer.profile_updated", profile), ("service.outage_started", outage)]
    ):
        headers = {
            "ce_specversion": "1.0", "ce_id": f"kb-{i}", "ce_source": "/kcat", "ce_type": etype,
            "ce_subject": "B1", "ce_time": (now + timedelta(minutes=i)).isoformat(),
        }  # fmt: skip
        args = ["-P", "-b", boot, "-t", name, "-k", "B1", "-H", "content-type=application/json"]
        for k, v in headers.items():
            args += ["-H", f"{k}={v}"]
        _kcat(*args, stdin=json.dumps(data).encode())
    topics = TopicSet(boot, name, uuid.uuid4().hex[:8])
    wait(
        engine(
            boot,
            topics,
            f"sqlite:///{tmp_path / 's.sqlite'}",
            "kcat",
            "k-1",
            tmp_path / "out",
            until_idle=5,
        )
    )
    out = _kcat(
        "-C",
        "-b",
        boot,
        "-t",
        topics.notifications,
        "-o",
        "beginning",
        "-e",
        "-q",
        "-X",
        "isolation.level=read_committed",
    )
    notes = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert {n["subject"] for n in notes} == {"S1", "B1"}
    for n in notes:
        assert n["specversion"] == "1.0" and n["type"] == "proactive.notification"
        assert n["id"] and n["source"] and n["time"]
        assert (
            n["data"]["rule_id"] == "outage-started" and n["data"]["why"] and n["data"]["decline"]
        )


def test_deferred_message_survives_a_restart_and_is_checked_again(
    kafka_broker: Any, tmp_path: Path
) -> None:
    """Quiet hours hold a message past the engine's exit; the next engine releases it when due."""
    boot = kafka_broker.bootstrap
    name = f"customer-events-{uuid.uuid4().hex[:8]}"
    _create(boot, [name], 1)
    tz = ZoneInfo("Europe/Amsterdam")
    now = datetime.now(UTC)
    local = now.astimezone(tz)
    quiet_end = (local + timedelta(seconds=75)).replace(second=0, microsecond=0) + timedelta(
        minutes=1
    )
    quiet_start = (local - timedelta(hours=1)).replace(second=0, microsecond=0)
    profile = {
        "language": "nl", "preferred_channel": "push", "time_zone": "Europe/Amsterdam",
        "quiet_hours": {"start": quiet_start.strftime("%H:%M"), "end": quiet_end.strftime("%H:%M")},
    }  # fmt: skip
    events = [
        {"specversion": "1.0", "id": "q-1", "source": "/t", "type": "customer.profile_updated", "subject": "Q1", "time": (now - timedelta(seconds=5)).isoformat(), "data": profile},
        {"specversion": "1.0", "id": "q-2", "source": "/t", "type": "service.outage_started", "subject": "Q1", "time": now.isoformat(), "data": {"outage_id": "O-q", "area": "NL-2", "services": ["data"]}},
    ]  # fmt: skip
    produce(boot, name, [json.dumps(e).encode() for e in events])
    topics = TopicSet(boot, name, uuid.uuid4().hex[:8])
    store = f"sqlite:///{tmp_path / 's.sqlite'}"
    wait(engine(boot, topics, store, "quiet", "q-1", tmp_path / "o1", until_idle=3))
    first = read(boot, topics.decisions)
    assert [d["verdict"] for d in first] == ["defer"]
    assert read(boot, topics.notifications, idle_ms=1000) == []
    due = datetime.fromisoformat(first[0]["deliver_at"])
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1)
    wait(engine(boot, topics, store, "quiet", "q-1", tmp_path / "o2", until_idle=4))
    decisions = read(boot, topics.decisions)
    assert [d["variant"] for d in decisions] == ["primary", "released"]
    assert decisions[1]["verdict"] == "send"
    assert any("checked again" in r for r in decisions[1]["reasons"])
    (note,) = read(boot, topics.notifications)
    assert note["data"]["decision_id"] == decisions[1]["decision_id"]


@pytest.fixture(autouse=True)
def _broker_up(kafka_broker: Any) -> Iterator[None]:
    """A test that stopped the broker must not take the next ones down with it."""
    yield
    if not kafka_broker.running:
        kafka_broker.restart()


def test_crash_between_kafka_commit_and_store_commit_rebuilds_state_exactly(
    kafka_broker: Any, events_topic: str, reference: dict[str, Any], tmp_path: Path
) -> None:
    """The process dies after a Kafka transaction committed but before the store did.

    A new engine finds the store behind Kafka's committed offsets, rebuilds the state
    for the gap without producing anything, and carries on: the outputs equal the
    uninterrupted run and the store holds every decision exactly once.
    """
    from proactive.app import open_engine
    from proactive.config import load_settings
    from proactive.kafka_service import KafkaService, KafkaSettings, Topics
    from proactive.store import ContextStore

    boot = kafka_broker.bootstrap
    topics = TopicSet(boot, events_topic, uuid.uuid4().hex[:8])
    names = Topics(topics.events, topics.notifications, topics.decisions, topics.dead_letter)
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    settings = load_settings(
        rules_dir=REPO / "rules",
        policy=REPO / "ethics" / "policy.yaml",
        store_url=url,
        batch_size=25,
    )

    class Crash(BaseException):
        """Stands for the process dying (not an Exception: nothing may catch it)."""

    first = open_engine(settings, tmp_path / "o1")
    real_commit = first.commit
    commits = {"n": 0}

    def commit_then_die(prepared: Any, *, sinks: bool = True) -> None:
        commits["n"] += 1
        if commits["n"] == 12:
            raise Crash  # the Kafka transaction of this batch is already committed
        real_commit(prepared, sinks=sinks)

    first.commit = commit_then_die  # type: ignore[method-assign]
    service = KafkaService(
        first, KafkaSettings(boot, group_id="gap", instance_id="g-1", topics=names, max_batch=25)
    )
    with pytest.raises(Crash):
        service.run(until_idle=10)
    service.close()
    first.outputs.close()
    first.store.close()

    second = open_engine(settings, tmp_path / "o2")
    KafkaService(
        second, KafkaSettings(boot, group_id="gap", instance_id="g-1", topics=names, max_batch=25)
    ).run(until_idle=8)
    second.outputs.close()
    second.store.close()
    decisions = read(boot, topics.decisions)
    assert keys(decisions) == keys(reference["decisions"])
    stored = list(ContextStore(url).decision_records())
    assert keys(stored) == keys(reference["decisions"])
    assert len({n["id"] for n in read(boot, topics.notifications)}) == len(
        reference["notifications"]
    )


def test_sigterm_finishes_the_batch_and_leaves_cleanly(
    kafka_broker: Any, events_topic: str, reference: dict[str, Any], tmp_path: Path
) -> None:
    """SIGTERM mid-stream: the engine commits what it has and exits 0; a restart completes."""
    boot = kafka_broker.bootstrap
    topics = TopicSet(boot, events_topic, uuid.uuid4().hex[:8])
    store = f"sqlite:///{tmp_path / 'state.sqlite'}"
    # small batches: many transactions, so the signal lands mid-stream
    proc = engine(boot, topics, store, "term", "t-1", tmp_path / "o1", until_idle=30, batch=5)
    until_quarter_decided(boot, topics, reference)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    wait(proc, timeout=60)
    assert time.monotonic() - started < 30, "a graceful stop must not wait for idleness"
    summary = json.loads((tmp_path / "t-1.json").read_text())
    assert summary["events"]["read"] < len(read(boot, topics.events, idle_ms=1000))
    wait(engine(boot, topics, store, "term", "t-1", tmp_path / "o2", until_idle=8))
    decisions = read(boot, topics.decisions)
    assert keys(decisions) == keys(reference["decisions"])
    assert max(keys(decisions).values()) == 1


def test_metrics_endpoint_is_scraped_and_parsed(
    kafka_broker: Any, events_topic: str, reference: dict[str, Any], tmp_path: Path
) -> None:
    """--metrics-port serves Prometheus text that a parser reads, with the numbers that matter."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    port = __import__("socket").socket()
    port.bind(("127.0.0.1", 0))
    metrics_port = port.getsockname()[1]
    port.close()
    boot = kafka_broker.bootstrap
    topics = TopicSet(boot, events_topic, uuid.uuid4().hex[:8])
    proc = engine(
        boot,
        topics,
        f"sqlite:///{tmp_path / 's.sqlite'}",
        "metrics",
        "m-1",
        tmp_path / "out",
        until_idle=6,
        extra=["--metrics-port", str(metrics_port)],
    )
    deadline = time.monotonic() + 120
    families: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=2) as r:
                text = r.read().decode()
        except OSError:
            time.sleep(0.3)
            continue
        families = {f.name: f for f in text_string_to_metric_families(text)}
        commits = [
            s.value
            for s in families["proactive_kafka_transactions"].samples
            if s.labels.get("outcome") == "commit" and s.name.endswith("_total")
        ]
        sends = [
            s for s in families["proactive_decisions"].samples if s.labels.get("verdict") == "send"
        ]
        if commits and commits[0] >= 5 and sends:
            break
        time.sleep(0.3)
    wait(proc)
    assert families, "the metrics endpoint never answered"
    consumed = families["proactive_events_consumed"].samples[0].value
    assert consumed > 0
    verdicts = {s.labels["verdict"] for s in families["proactive_decisions"].samples if s.labels}
    assert "send" in verdicts
    dims = {s.labels["dimension"] for s in families["proactive_dimension_score"].samples}
    assert dims == {
        "language",
        "place",
        "time",
        "complexity",
        "relevance",
        "trust",
        "empathy",
        "autonomy",
    }
    assert any(
        s.name.endswith("_bucket") for s in families["proactive_event_processing_seconds"].samples
    )
    lag = families["proactive_consumer_lag"].samples
    assert lag and all(s.value >= 0 for s in lag)
    info = families["proactive_revisions_info"].samples[0].labels
    assert info["rules"].startswith("rules-") and info["policy"]
