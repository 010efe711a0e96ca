"""The development broker does what the Kafka service relies on.

Transactions (read_committed isolation, consume-transform-produce with offsets committed in
the transaction) and durability across a broker restart, all through kafka-python.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from .conftest import KafkaBroker, TopicFactory

#: Upper bound for reading a topic back; normal runs need well under a second.
DRAIN_TIMEOUT_S = 30.0


def _drain(bootstrap: str, topic: str, isolation_level: str = "read_committed") -> list[bytes]:
    """Every record value of ``topic`` visible at ``isolation_level``, in partition order.

    Uses manual assignment (no consumer group, so no rebalance wait) and reads until each
    partition's position reaches its end offset; for read_committed that end offset is the
    last stable offset, so records of open transactions are not waited for.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level=isolation_level,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assert partitions, f"no metadata for {topic}"
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        values: list[bytes] = []
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while any(consumer.position(tp) < end[tp] for tp in tps):
            assert time.monotonic() < deadline, f"could not read {topic} to {end}"
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in records)
        return values
    finally:
        consumer.close()


def _transactional_producer(bootstrap: str, name: str) -> KafkaProducer:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=f"{name}-{uuid.uuid4().hex[:8]}",
        enable_idempotence=True,
    )
    producer.init_transactions()
    return producer


def test_read_committed_consumer_sees_only_committed_transactions(
    kafka_broker: KafkaBroker, kafka_topics: TopicFactory
) -> None:
    (topic,) = kafka_topics("customer-events", partitions=3)
    committed = [f"committed-{i}".encode() for i in range(10)]
    aborted = [f"aborted-{i}".encode() for i in range(5)]

    producer = _transactional_producer(kafka_broker.bootstrap, "test-commit-abort")
    try:
        producer.begin_transaction()
        for i, value in enumerate(committed):
            producer.send(topic, key=f"customer-{i}".encode(), value=value)
        producer.commit_transaction()

        producer.begin_transaction()
        for i, value in enumerate(aborted):
            producer.send(topic, key=f"customer-{i}".encode(), value=value)
        # Flush first so the aborted records really are in the log; otherwise the abort could
        # drop them client-side and the read_committed check below would prove nothing.
        producer.flush()
        producer.abort_transaction()
    finally:
        producer.close()

    assert sorted(_drain(kafka_broker.bootstrap, topic, "read_committed")) == sorted(committed)
    # The control: a read_uncommitted reader does see the aborted records.
    everything = _drain(kafka_broker.bootstrap, topic, "read_uncommitted")
    assert sorted(everything) == sorted(committed + aborted)


def test_consume_transform_produce_commits_offsets_in_the_transaction(
    kafka_broker: KafkaBroker, kafka_topics: TopicFactory
) -> None:
    """The exactly-once loop the engine will run: offsets ride in the output transaction."""
    source, sink = kafka_topics("customer-events", "decisions")
    inputs = [f"event-{i}".encode() for i in range(5)]
    plain = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    try:
        for value in inputs:
            plain.send(source, value=value)
        plain.flush()
    finally:
        plain.close()

    group = f"engine-{uuid.uuid4().hex[:8]}"
    consumer = KafkaConsumer(
        source,
        bootstrap_servers=kafka_broker.bootstrap,
        group_id=group,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = _transactional_producer(kafka_broker.bootstrap, "test-eos")
    try:
        records: list[Any] = []  # kafka-python's ConsumerRecord is untyped
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while len(records) < len(inputs):
            assert time.monotonic() < deadline, f"consumed only {len(records)} records"
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)

        producer.begin_transaction()
        for record in records:
            producer.send(sink, value=record.value.upper())
        tp = TopicPartition(source, 0)
        offsets = {tp: OffsetAndMetadata(records[-1].offset + 1, "", -1)}
        # group_metadata() (not the bare group id) lets the broker fence zombie instances.
        producer.send_offsets_to_transaction(offsets, consumer.group_metadata())
        producer.commit_transaction()

        assert consumer.committed(tp) == len(inputs)
    finally:
        producer.close()
        consumer.close()

    assert _drain(kafka_broker.bootstrap, sink) == [value.upper() for value in inputs]


def test_restart_keeps_data(kafka_broker: KafkaBroker, kafka_topics: TopicFactory) -> None:
    """A clean restart and a SIGKILL + restart both keep acknowledged records."""
    (topic,) = kafka_topics("restart-check")

    def produce(value: bytes) -> None:
        producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
        try:
            producer.send(topic, value=value).get(timeout=30)
        finally:
            producer.close()

    produce(b"before-restart")
    kafka_broker.restart()
    assert _drain(kafka_broker.bootstrap, topic) == [b"before-restart"]

    produce(b"before-kill")
    # The process dies but the OS keeps its page cache: this is a broker crash, not power loss.
    kafka_broker.kill()
    assert not kafka_broker.running
    kafka_broker.restart()
    assert _drain(kafka_broker.bootstrap, topic) == [b"before-restart", b"before-kill"]
