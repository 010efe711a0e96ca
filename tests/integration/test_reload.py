"""Hot reload in the Kafka service, on a real broker: refused, then applied, mid-stream.

One engine process (``proactive run --bootstrap-servers ... --watch``) consumes a stream
produced in three parts. Between parts the test edits the engine's rule directory:
first a broken file (refused: logged with file:line, counted, the old revision stays),
then a valid new rule (applied). Decisions of part 1 and 2 carry the old revision,
those of part 3 the new one; every event is processed once (exactly-once through the
swap), read from the decisions topic with a read_committed reader.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from proactive.reload import revision_of, rule_files
from proactive.store import ContextStore

from .conftest import KafkaBroker, TopicFactory, broker_module
from .streams import daytime_stream, lines

REPO = Path(__file__).resolve().parents[2]

NEW_RULE = """\
rules:
  - id: usage-echo
    description: Answers every usage event (hot reload test)
    on: [usage.data]
    purpose: service
    data: [usage]
    template: data_bundle_warning
    channels: [app_inbox, sms, push, email]
    priority: 1
"""
BROKEN_YAML = "rules:\n  - id: usage-echo\n    on: [usage.data\n    purpose: service\n"


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample on the engine's /metrics: (name, sorted labels) → value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
        text = resp.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def until(
    what: str, check: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the engine exited ({proc.returncode}) waiting for {what}"
        try:
            if check():
                return
        except OSError:  # the metrics server is not up yet
            pass
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for v in values:
        producer.send(topic, key=json.loads(v)["subject"].encode(), value=v)
    producer.flush()
    producer.close()


def read(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        consumer_timeout_ms=3000,
    )
    out = [json.loads(m.value) for m in consumer]
    consumer.close()
    return out


def test_rule_change_mid_stream_refused_then_applied_exactly_once(
    kafka_broker: KafkaBroker, kafka_topics: TopicFactory, tmp_path: Path
) -> None:
    boot = kafka_broker.bootstrap
    events, notes, decisions, dead = kafka_topics(
        "customer-events", "notifications", "decisions", "dead-letter", partitions=2
    )
    rules_dir = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules_dir, ignore=shutil.ignore_patterns("features"))
    old_revision = revision_of(rule_files(rules_dir))
    stream = lines(daytime_stream(customers=25, seed=11))
    parts = [stream[: len(stream) // 3], stream[len(stream) // 3 : 2 * len(stream) // 3]]
    parts.append(stream[2 * len(stream) // 3 :])
    part_of = {json.loads(v)["id"]: i for i, part in enumerate(parts) for v in part}
    port = broker_module.free_ports(1)[0]
    store = tmp_path / "state.sqlite"
    cmd = [
        sys.executable, "-m", "proactive",
        "--rules", str(rules_dir), "--policy", str(REPO / "ethics" / "policy.yaml"),
        "run", "--bootstrap-servers", boot, "--group", "reload", "--instance-id", "reload-1",
        "--store", f"sqlite:///{store}", "--out", str(tmp_path / "out"),
        "--events-topic", events, "--notifications-topic", notes,
        "--decisions-topic", decisions, "--dead-letter-topic", dead,
        "--watch", "--reload-interval", "0.3", "--metrics-port", str(port), "--json",
    ]  # fmt: skip
    env = {**os.environ, "PROACTIVE_BATCH_SIZE": "25", "PROACTIVE_LOG_LEVEL": "WARNING"}
    log = tmp_path / "engine.log"
    with log.open("wb") as stderr, (tmp_path / "engine.json").open("wb") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, env=env, cwd=REPO)
    try:

        def sample(name: str, **labels: str) -> float:
            return scrape(port).get((name, tuple(sorted(labels.items()))), 0.0)

        def consumed(n: int) -> Callable[[], bool]:
            return lambda: sample("proactive_events_consumed_total") == n

        def reloads(result: str, n: int) -> Callable[[], bool]:
            return lambda: (
                sample("proactive_rules_reload_total", target="rules", result=result) == n
            )

        produce(boot, events, parts[0])
        until("part 1 consumed", consumed(len(parts[0])), proc)

        (rules_dir / "usage_echo.yaml").write_text(BROKEN_YAML)
        until("the broken revision refused", reloads("refused", 1), proc)
        assert sample("proactive_rules_reload_refused", target="rules") == 1
        produce(boot, events, parts[1])
        until("part 2 consumed", consumed(len(parts[0]) + len(parts[1])), proc)

        (rules_dir / "usage_echo.yaml").write_text(NEW_RULE)
        new_revision = revision_of(rule_files(rules_dir))
        until("the fixed revision applied", reloads("applied", 1), proc)
        assert sample("proactive_rules_reload_refused", target="rules") == 0
        info = [k for k in scrape(port) if k[0] == "proactive_revisions_info"]
        assert [dict(labels)["rules"] for _, labels in info] == [new_revision]
        produce(boot, events, parts[2])
        until("part 3 consumed", consumed(len(stream)), proc)
        assert sample("proactive_rules_reload_total", target="rules", result="refused") == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    assert code == 0, log.read_text()[-3000:]

    records = read(boot, decisions)
    assert records, "no decisions"
    ids = [d["decision_id"] for d in records]
    assert len(ids) == len(set(ids))
    assert max(Counter((d["event_id"], d["rule_id"], d["variant"]) for d in records).values()) == 1
    for d in records:
        if d["released_from"] is None:  # a deferred release is decided later, by then-current rules
            want = new_revision if part_of[d["event_id"]] == 2 else old_revision
            assert d["rules_revision"] == want, d
    echoed = {d["event_id"] for d in records if d["rule_id"] == "usage-echo"}
    usage_in_3 = {json.loads(v)["id"] for v in parts[2] if json.loads(v)["type"] == "usage.data"}
    assert echoed == usage_in_3
    summary = json.loads((tmp_path / "engine.json").read_text())
    assert summary["events"]["read"] == summary["events"]["accepted"] == len(stream)
    assert summary["events"]["duplicates_skipped"] == 0
    state = ContextStore(f"sqlite:///{store}")
    counts = state.counts()
    state.close()
    assert counts["processed_events"] == len(stream)
    text = log.read_text()
    assert f"{rules_dir / 'usage_echo.yaml'}:" in text and "yaml_syntax" in text
    assert f"revision {new_revision} replaces {old_revision}" in text
