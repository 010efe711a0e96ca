"""Benchmark: the Kafka service against its ceiling, on one real broker.

(a) the ceiling: a plain kafka-python consume → produce passthrough with transactions
    and the same batch size, no processing;
(b) the engine end to end (consume → decide → produce in one transaction → store);
then the event-to-decision latency (p50/p99) while events arrive at half of (b)'s rate.

    python benchmarks/service.py --events 40000 --customers 4000 --batch 500
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore", "(read|open)_text is deprecated", DeprecationWarning)

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer  # noqa: E402
from kafka.structs import OffsetAndMetadata, TopicPartition  # noqa: E402

from proactive.app import open_engine  # noqa: E402
from proactive.config import load_settings  # noqa: E402
from proactive.generate import generate_lines  # noqa: E402
from proactive.kafka_service import KafkaService, KafkaSettings, Topics  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _broker_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_broker", ROOT / "tests" / "broker" / "broker.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_broker"] = mod
    spec.loader.exec_module(mod)
    return mod


def create(boot: str, names: list[str], partitions: int) -> None:
    with KafkaAdminClient(bootstrap_servers=boot) as admin:
        admin.create_topics(
            {n: {"num_partitions": partitions, "replication_factor": 1} for n in names},
            wait_for_metadata=True,
        )


def _event(line: str) -> dict[str, Any]:
    try:
        ev = json.loads(line)
    except json.JSONDecodeError:
        return {}  # the generator's few malformed lines: sent as they are
    return ev if isinstance(ev, dict) else {}


def produce(boot: str, topic: str, lines: list[str]) -> None:
    p = KafkaProducer(bootstrap_servers=boot, linger_ms=5, batch_size=256 * 1024)
    for line in lines:
        key = _event(line).get("subject", "x")
        p.send(topic, key=str(key).encode(), value=line.encode())
    p.flush()
    p.close()


def passthrough(boot: str, source: str, sink: str, total: int, batch: int) -> float:
    """(a): events/s of a transactional consume → produce loop that does nothing else."""
    consumer = KafkaConsumer(
        source,
        bootstrap_servers=boot,
        group_id=f"pass-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=batch,
    )
    producer = KafkaProducer(
        bootstrap_servers=boot,
        transactional_id=f"pass-{uuid.uuid4().hex[:6]}",
        enable_idempotence=True,
    )
    producer.init_transactions()
    seen = 0
    started = None
    while seen < total:
        polled = consumer.poll(timeout_ms=1000)
        if not polled:
            continue
        started = started or time.perf_counter()
        producer.begin_transaction()
        offsets = {}
        for tp, records in polled.items():
            for r in records:
                producer.send(sink, key=r.key, value=r.value)
            offsets[TopicPartition(tp.topic, tp.partition)] = OffsetAndMetadata(
                records[-1].offset + 1, "", -1
            )
            seen += len(records)
        producer.send_offsets_to_transaction(offsets, consumer.group_metadata())
        producer.commit_transaction()
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    producer.close()
    return total / elapsed


def engine_run(boot: str, topics: Topics, total: int, batch: int, workdir: Path) -> float:
    """(b): events/s of the engine end to end (first poll to last store commit)."""
    settings = load_settings(
        rules_dir=ROOT / "rules",
        policy=ROOT / "ethics" / "policy.yaml",
        store_url=f"sqlite:///{workdir / 'engine.sqlite'}",
        batch_size=batch,
    )
    engine = open_engine(settings, workdir / "engine-out")
    marks: dict[str, float] = {}
    real_commit = engine.commit

    def commit(prepared: Any, *, sinks: bool = True) -> None:
        marks.setdefault("first", time.perf_counter())
        real_commit(prepared, sinks=sinks)
        marks["last"] = time.perf_counter()

    engine.commit = commit  # type: ignore[method-assign]
    service = KafkaService(
        engine,
        KafkaSettings(
            boot,
            group_id=f"eng-{uuid.uuid4().hex[:6]}",
            instance_id="bench",
            topics=topics,
            max_batch=batch,
        ),
    )
    service.run(until_idle=3)
    read = engine.summary.events_read
    engine.outputs.close()
    engine.store.close()
    assert read == total, f"the engine read {read} of {total} events"
    return total / (marks["last"] - marks["first"])


def latency(
    boot: str,
    topics: Topics,
    rate: float,
    seconds: float,
    customers: int,
    batch: int,
    workdir: Path,
) -> dict[str, float]:
    """Event-to-decision latency while events arrive at ``rate`` per second."""
    lines = list(generate_lines(customers=customers, events=int(rate * seconds), seed=99))
    env = {**os.environ, "PROACTIVE_BATCH_SIZE": str(batch), "PROACTIVE_LOG_LEVEL": "ERROR"}
    cmd = [
        sys.executable, "-m", "proactive", "--rules", str(ROOT / "rules"), "--policy", str(ROOT / "ethics" / "policy.yaml"),
        "run", "--bootstrap-servers", boot, "--group", f"lat-{uuid.uuid4().hex[:6]}", "--instance-id", "lat",
        "--store", f"sqlite:///{workdir / 'lat.sqlite'}", "--out", str(workdir / "lat-out"), "--until-idle", "10",
        "--events-topic", topics.events, "--notifications-topic", topics.notifications,
        "--decisions-topic", topics.decisions, "--dead-letter-topic", topics.dead_letter,
    ]  # fmt: skip
    with (workdir / "latency-engine.log").open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:
        c = KafkaConsumer(
            topics.decisions,
            bootstrap_servers=boot,
            group_id=None,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        while not stop.is_set():
            for records in c.poll(timeout_ms=200).values():
                now = time.time()
                for r in records:
                    seen.setdefault(json.loads(r.value)["event_id"], now)
        c.close()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    time.sleep(8)  # the engine starts and joins its group first
    producer = KafkaProducer(bootstrap_servers=boot, linger_ms=2)
    start = time.time()
    for i, line in enumerate(lines):
        due = start + i / rate
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        ev = _event(line)
        key = ev.get("subject", "x")
        if "id" in ev:
            sent[ev["id"]] = time.time()
        producer.send(topics.events, key=str(key).encode(), value=line.encode())
    producer.flush()
    code = proc.wait(timeout=300)
    if code != 0:
        print((workdir / "latency-engine.log").read_text()[-3000:], file=sys.stderr)
    time.sleep(1)
    stop.set()
    watcher.join()
    lat = sorted(seen[e] - sent[e] for e in seen if e in sent)
    if not lat:
        print(f"no decision matched: sent {len(sent)}, decisions seen {len(seen)}", file=sys.stderr)
        print((workdir / "latency-engine.log").read_text()[-2500:], file=sys.stderr)
    return {
        "rate_events_per_s": round(rate),
        "decisions_measured": len(lat),
        "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else float("nan"),
        "p99_ms": round(lat[int(len(lat) * 0.99)] * 1000, 1) if lat else float("nan"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--customers", type=int, default=4_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--latency-seconds", type=float, default=20)
    args = ap.parse_args()
    broker = _broker_module().Broker()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker.start(data_dir=work / "kafka")
        try:
            boot = broker.bootstrap
            tag = uuid.uuid4().hex[:6]
            src = f"events-{tag}"
            create(boot, [src], args.partitions)
            create(
                boot,
                [
                    f"pass-out-{tag}",
                    f"n-{tag}",
                    f"d-{tag}",
                    f"x-{tag}",
                    f"ln-{tag}",
                    f"ld-{tag}",
                    f"lx-{tag}",
                ],
                1,
            )
            create(boot, [f"lat-{tag}"], args.partitions)
            lines = list(generate_lines(customers=args.customers, events=args.events, seed=17))
            produce(boot, src, lines)
            a = passthrough(boot, src, f"pass-out-{tag}", len(lines), args.batch)
            b = engine_run(
                boot, Topics(src, f"n-{tag}", f"d-{tag}", f"x-{tag}"), len(lines), args.batch, work
            )
            lat = latency(
                boot,
                Topics(f"lat-{tag}", f"ln-{tag}", f"ld-{tag}", f"lx-{tag}"),
                b / 2,
                args.latency_seconds,
                args.customers,
                args.batch,
                work,
            )
        finally:
            broker.stop()
    figures = {
        "events": len(lines),
        "batch": args.batch,
        "passthrough_events_per_s": round(a),
        "engine_events_per_s": round(b),
        "ratio": round(b / a, 3),
        "latency_at_half_rate": lat,
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
