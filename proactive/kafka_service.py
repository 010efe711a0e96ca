"""The Kafka service: consume → decide → produce, exactly once, on a real broker.

One loop per engine process, in a consumer group on ``customer-events``:

1. ``poll`` a batch (``read_committed``);
2. ``Engine.prepare`` it — decisions, notifications, dead letters and the state
   changes, nothing committed yet; deferred messages of this engine's partitions
   that are due (wall clock) are checked again and released in the same batch;
3. in **one Kafka transaction**: produce the outputs and ``send_offsets_to_transaction``
   the consumed offsets, then commit;
4. commit the state to the store, with the next offset of every partition.

Why this order, and what a crash between 3 and 4 does: the Kafka transaction is the
point of no return for what others see. If the process dies after it but before the
store commit, the store's offsets for those partitions lag Kafka's committed offsets.
On assignment the service compares both; the records in between are processed again
in *state-only* mode (nothing produced, nothing released) — processing is
deterministic (event time, deterministic ids), so the store ends exactly where an
uninterrupted run would be, and every output was produced exactly once. If the Kafka
transaction fails, it is aborted, the engine forgets the prepared batch (its
contexts are re-read from the store) and the partitions are re-sought.

Hot reload (``--watch``): at the top of each loop turn, when no batch is in flight,
the engine swaps in a new valid rule or policy revision (:meth:`Engine.reload`). A
batch is decided by one revision from start to end; offsets and processed events do
not depend on the revision, so a swap neither loses nor repeats an event.

The customers' choices (the preference page, ``proactive.web.customer``) wait in the
store's ``inbound_events`` table. At the same safe point the service forwards them to
the events topic, keyed by their ``subject`` like every other event there, in a
transaction of their own; only after its commit are the rows deleted. So a choice lands
in its customer's partition, after the events already there and before the next ones,
and whichever engine owns that partition applies it in order (with several instances,
any of them may forward it). A crash between the commit and the delete sends the rows
again, and two instances may both forward a row before either deletes it; either way
the engine skips the copies (their event ids are in ``processed_events``). A row
whose subject cannot be read is sent without a key, and the engine dead-letters it
with the reason.

With a :class:`~proactive.housekeeping.Housekeeper` (``proactive run --purge-every``,
default daily) the service also runs the retention purge at that safe point, with the
policy in force.

Events arrive in structured mode (a CloudEvents JSON value) or binary mode (the
``data`` as value, attributes in ``ce_*`` headers); both are accepted.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata, TopicPartition

from proactive.housekeeping import Housekeeper
from proactive.pipeline import Engine, Prepared, RawEvent, Summary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Topics:
    """Topic names (configurable)."""

    events: str = "customer-events"
    notifications: str = "proactive-notifications"
    decisions: str = "proactive-decisions"
    dead_letter: str = "proactive-dead-letter"

    def all(self) -> list[str]:
        return [self.events, self.notifications, self.decisions, self.dead_letter]


def create_topics(bootstrap: str, topics: Topics, partitions: int = 3) -> list[str]:
    """Create the four topics with ``partitions`` each; existing ones are left alone."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="proactive-admin")
    created = []
    try:
        for name in topics.all():
            try:
                admin.create_topics(
                    {name: {"num_partitions": partitions, "replication_factor": 1}},
                    timeout_ms=15_000,
                    wait_for_metadata=True,
                )
                created.append(name)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()
    return created


class TransactionStuck(KafkaError):  # type: ignore[misc]
    """A transactional call did not finish in time (the producer is replaced)."""


def _bounded(call: Any, timeout: float, what: str) -> None:
    """Run a blocking transactional call with a time limit.

    kafka-python 3.0 can wait forever in ``commit_transaction`` (and the other
    transactional calls) when the coordinator connection fails at the wrong moment;
    the caller then replaces the producer, which fences the stuck one.
    """
    box: list[BaseException | None] = [None]
    done = threading.Event()

    def run() -> None:
        try:
            call()
        except BaseException as exc:  # handed to the caller's thread
            box[0] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"kafka-{what}", daemon=True).start()
    if not done.wait(timeout):
        raise TransactionStuck(f"{what} did not finish within {timeout:.0f} s")
    if box[0] is not None:
        raise box[0]


def _subject_key(raw: str) -> bytes | None:
    """The Kafka key of an inbound event: its ``subject`` (the customer id), else None."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    subject = event.get("subject") if isinstance(event, dict) else None
    return subject.encode() if isinstance(subject, str) and subject else None


def _binary_to_structured(value: bytes | None, headers: list[tuple[str, bytes]]) -> bytes | None:
    """A binary-mode CloudEvent (``ce_*`` headers + data) as structured JSON, else None."""
    attrs = {k[3:]: v.decode("utf-8", "replace") for k, v in headers if k.startswith("ce_")}
    if "specversion" not in attrs:
        return None
    try:
        data = orjson.loads(value) if value else None
    except orjson.JSONDecodeError:
        data = (value or b"").decode("utf-8", "replace")
    event: dict[str, Any] = dict(attrs)
    event["data"] = data
    return orjson.dumps(event)


@dataclass
class KafkaSettings:
    """How the service talks to Kafka."""

    bootstrap: str
    group_id: str = "proactive-engine"
    instance_id: str = ""
    topics: Topics = Topics()
    max_batch: int = 500
    poll_timeout_ms: int = 500
    transaction_timeout_ms: int = 15_000
    session_timeout_ms: int = 6_000
    max_poll_interval_ms: int = 60_000

    def transactional_id(self) -> str:
        # stable per instance: a restarted instance fences its predecessor's open
        # transaction at once instead of waiting for it to time out
        return f"{self.group_id}-{self.instance_id or socket.gethostname()}"


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: KafkaService) -> None:
        self.service = service

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.service._revoked(set(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.service._assigned(set(assigned))


class KafkaService:
    """Runs an :class:`Engine` as a member of a consumer group.

    ``housekeeper``: run the retention purge through it at the loop's safe point
    (``proactive run`` makes one, daily by default); None purges nothing.
    """

    def __init__(
        self, engine: Engine, settings: KafkaSettings, housekeeper: Housekeeper | None = None
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.topics = settings.topics
        self.housekeeper = housekeeper
        self._stop = threading.Event()
        self._recover: set[TopicPartition] = set()
        self._replay_until: dict[TopicPartition, int] = {}
        self.consumer: KafkaConsumer | None = None
        self.producer: KafkaProducer | None = None
        self.transactions = 0

    # -- lifecycle ---------------------------------------------------------------------

    def stop(self, *_: Any) -> None:
        """Ask the loop to finish its current batch and leave (SIGTERM/SIGINT)."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """Stop gracefully on SIGTERM and SIGINT."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def _connect(self) -> None:
        s = self.settings
        self.consumer = KafkaConsumer(
            bootstrap_servers=s.bootstrap,
            group_id=s.group_id,
            client_id=f"{s.transactional_id()}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=s.max_batch,
            reconnect_backoff_max_ms=2000,
            # a dead engine's partitions move to the others within seconds
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=max(500, s.session_timeout_ms // 3),
            max_poll_interval_ms=s.max_poll_interval_ms,
        )
        self.consumer.subscribe([self.topics.events], listener=_Rebalance(self))
        self.producer = KafkaProducer(
            bootstrap_servers=s.bootstrap,
            client_id=f"{s.transactional_id()}-producer",
            transactional_id=s.transactional_id(),
            enable_idempotence=True,
            acks="all",
            transaction_timeout_ms=s.transaction_timeout_ms,
            reconnect_backoff_max_ms=2000,
        )
        self.producer.init_transactions()

    def close(self) -> None:
        """Close consumer and producer (no offsets are committed outside transactions)."""
        if self.consumer is not None:
            try:
                self.consumer.close(autocommit=False)
            except Exception:  # closing a consumer of a dead broker may fail; we are leaving
                log.warning("consumer did not close cleanly", exc_info=True)
        if self.producer is not None:
            try:
                self.producer.close(timeout=5)
            except Exception:
                log.warning("producer did not close cleanly", exc_info=True)

    # -- rebalance ---------------------------------------------------------------------

    def _chain(self, tp: TopicPartition) -> str:
        return f"{tp.topic}-{tp.partition}"

    def _revoked(self, revoked: set[TopicPartition]) -> None:
        # no batch is in flight during poll(): work is prepared only after poll returns.
        # Another engine may now change these customers: forget what we cached.
        self.engine.forget_all()
        self._recover -= revoked
        for tp in revoked:
            self._replay_until.pop(tp, None)
        self._owned_changed()
        log.info("partitions revoked: %s", sorted(p.partition for p in revoked))

    def _assigned(self, assigned: set[TopicPartition]) -> None:
        self._recover |= assigned
        self._owned_changed()
        log.info("partitions assigned: %s", sorted(p.partition for p in assigned))

    def _owned_changed(self) -> None:
        assert self.consumer is not None
        self.engine.owned_chains = {self._chain(tp) for tp in self.consumer.assignment()}

    def _recover_partitions(self) -> None:
        """Align each newly assigned partition with the store (see the module docstring)."""
        assert self.consumer is not None
        stored = self.engine.store.offsets(self.settings.group_id)
        for tp in sorted(self._recover, key=lambda t: t.partition):
            committed = self.consumer.committed(tp)
            db_next = stored.get((tp.topic, tp.partition))
            # always seek: records polled before alignment were dropped and must come again
            if committed is None and db_next is None:
                self.consumer.seek_to_beginning(tp)  # a fresh partition
            elif db_next is None:
                # state never stored for this partition: rebuild it from the log
                self.consumer.seek_to_beginning(tp)
                self._replay_until[tp] = committed or 0
            elif committed is not None and db_next < committed:
                self.consumer.seek(tp, db_next)
                self._replay_until[tp] = committed
            else:
                self.consumer.seek(tp, committed if committed is not None else db_next)
            if tp in self._replay_until:
                log.warning(
                    "partition %s: store at %s, Kafka at %s: rebuilding state for the gap",
                    tp.partition,
                    db_next,
                    committed,
                )
        self._recover.clear()

    # -- the loop ----------------------------------------------------------------------

    def run(self, until_idle: float | None = None) -> Summary:
        """Consume until stopped (or idle for ``until_idle`` seconds); return the summary."""
        idle_since = time.monotonic()
        connected = False
        while not self._stop.is_set():
            try:
                if not connected:
                    self._connect()
                    connected = True
                assert self.consumer is not None
                # the safe point for a new rule or policy revision: the last batch is
                # committed (or rolled back) and the next one not yet polled; also where
                # the customers' choices go out and the retention purge runs
                self.engine.reload()
                if self._forward_inbound():
                    idle_since = time.monotonic()
                self._housekeeping()
                polled = self.consumer.poll(timeout_ms=self.settings.poll_timeout_ms)
                if self._recover:
                    # records fetched before alignment are dropped; they are fetched again
                    self._recover_partitions()
                    continue
                records = [
                    r for tp in sorted(polled, key=lambda t: t.partition) for r in polled[tp]
                ]
                if records:
                    self._process(records)
                    idle_since = time.monotonic()
                elif self._release_due():
                    idle_since = time.monotonic()
                elif until_idle is not None and self._idle(idle_since, until_idle):
                    break
            except KafkaError:
                log.warning("Kafka error; reconnecting", exc_info=True)
                self.engine.forget_all()
                self.close()
                connected = False
                self.consumer = self.producer = None
                time.sleep(1)
        self.close()
        return self.engine.summary

    def _forward_inbound(self) -> int:
        """Produce the customers' waiting choices to the events topic; how many.

        One transaction of their own, keyed by subject (see the module docstring); the
        rows are deleted only once it is committed. On a Kafka error the transaction is
        aborted, the rows stay, and the error goes to the loop, which reconnects.
        """
        assert self.producer is not None
        rows = self.engine.store.inbound(self.settings.max_batch)
        if not rows:
            return 0
        p = self.producer
        limit = self.settings.transaction_timeout_ms / 1000
        try:
            p.begin_transaction()
            for row_id, raw in rows:
                key = _subject_key(raw)
                if key is None:
                    # sent rather than kept: kept, it would be read at every turn and never
                    # leave the table; sent, the engine that gets it dead-letters it with
                    # the reason (malformed JSON, no subject) where operators look for
                    # unreadable events, and the rows around it go on as usual
                    log.warning(
                        "inbound event row %s has no readable subject: sent unkeyed", row_id
                    )
                p.send(
                    self.topics.events,
                    key=key,
                    value=raw.encode("utf-8", "replace"),
                    headers=[("content-type", b"application/cloudevents+json")],
                )
            _bounded(p.commit_transaction, limit, "commit")
        except KafkaError:
            log.warning(
                "forwarding %d inbound event(s) failed; aborting, they stay queued",
                len(rows),
                exc_info=True,
            )
            self.engine.metrics.aborts.inc()
            with contextlib.suppress(Exception):
                _bounded(p.abort_transaction, 5, "abort")
            raise
        self.transactions += 1
        self.engine.metrics.commits.inc()
        # Committed: the choices are on the topic. A crash before this delete sends these
        # rows again after the restart; harmless, because the engine skips an event id it
        # has processed before (processed_events), so each choice is applied once.
        self.engine.store.drop_inbound([row_id for row_id, _ in rows])
        log.info("forwarded %d inbound event(s) to %s", len(rows), self.topics.events)
        return len(rows)

    def _housekeeping(self) -> None:
        """Run the retention purge when it is due (never raises; see the housekeeper)."""
        if self.housekeeper is None:
            return
        result = self.housekeeper.maybe_purge()
        if result is not None and result.removed.get("contexts"):
            # contexts the purge deleted may still be cached here: read them again, or the
            # next event of such a customer would write the old context back
            self.engine.forget_all()

    def _idle(self, since: float, until_idle: float) -> bool:
        """Idle: no new events for ``until_idle`` seconds *while owning partitions*.

        Waiting for the group (a rebalance, a dead member's session to expire) is not
        idleness; a member that gets no partition at all still leaves after 3×.
        """
        assert self.consumer is not None
        waited = time.monotonic() - since
        if self.consumer.assignment() and not self._recover:
            return waited >= until_idle
        return waited >= 3 * until_idle

    def _raws(self, records: Iterable[Any]) -> list[RawEvent]:
        raws: list[RawEvent] = []
        for r in records:
            value = r.value
            headers = list(r.headers or [])
            if headers:
                structured = _binary_to_structured(value, headers)
                if structured is not None:
                    value = structured
            tp = TopicPartition(r.topic, r.partition)
            raws.append((value or b"", f"{r.topic}/{r.partition}@{r.offset}", self._chain(tp)))
        return raws

    def _process(self, records: list[Any]) -> None:
        # records below a partition's replay mark only rebuild state (see the docstring)
        replay: list[Any] = []
        live: list[Any] = []
        for r in records:
            mark = self._replay_until.get(TopicPartition(r.topic, r.partition), -1)
            (replay if r.offset < mark else live).append(r)
        if replay:
            offsets = self._next_offsets(replay)
            prepared = self.engine.prepare(self._raws(replay), release=False)
            prepared.batch.offsets = self._for_store(offsets)
            self.engine.commit(prepared, sinks=False)
            for tp, nxt in offsets.items():
                if nxt >= self._replay_until.get(tp, 0):
                    self._replay_until.pop(tp, None)
        if live:
            offsets = self._next_offsets(live)
            prepared = self.engine.prepare(self._raws(live), release_until=datetime.now(UTC))
            prepared.batch.offsets = self._for_store(offsets)
            self._transact(prepared, offsets)

    def _release_due(self) -> bool:
        """Release deferred messages that fell due while no events came; True if any."""
        if not self.engine.owned_chains:
            return False
        prepared = self.engine.prepare([], release_until=datetime.now(UTC))
        if not prepared.decisions:
            return False
        self._transact(prepared, {})
        return True

    def _transact(self, prepared: Prepared, offsets: dict[TopicPartition, int]) -> None:
        assert self.producer is not None and self.consumer is not None
        p = self.producer
        limit = self.settings.transaction_timeout_ms / 1000
        try:
            p.begin_transaction()
            for rec in prepared.decisions:
                p.send(
                    self.topics.decisions, key=rec["customer_id"].encode(), value=orjson.dumps(rec)
                )
            for note in prepared.notifications:
                p.send(
                    self.topics.notifications,
                    key=note["subject"].encode(),
                    value=orjson.dumps(note),
                    headers=[("content-type", b"application/cloudevents+json")],
                )
            for dl in prepared.dead_letters:
                p.send(self.topics.dead_letter, value=orjson.dumps(dl))
            if offsets:
                meta = self.consumer.group_metadata()
                commit = {tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()}
                _bounded(lambda: p.send_offsets_to_transaction(commit, meta), limit, "send-offsets")
            _bounded(p.commit_transaction, limit, "commit")
        except KafkaError:
            log.warning("transaction failed; aborting and re-reading", exc_info=True)
            self.engine.metrics.aborts.inc()
            self.engine.rollback(prepared)
            with contextlib.suppress(Exception):
                _bounded(p.abort_transaction, 5, "abort")
            # the caller reconnects: a new producer with the same transactional id fences
            # this one (and aborts whatever it left open), the consumer re-aligns offsets
            raise
        self.transactions += 1
        self.engine.metrics.commits.inc()
        self._update_lag()
        # the outputs are out: now the state, with the offsets it reached
        self.engine.commit(prepared, sinks=False)

    def _update_lag(self) -> None:
        """Consumer lag per assigned partition: end offset minus our position."""
        assert self.consumer is not None
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            if end is None:
                continue
            try:
                position = self.consumer.position(tp)
            except KafkaError:
                continue
            self.engine.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(0, end - position))

    def _next_offsets(self, records: Iterable[Any]) -> dict[TopicPartition, int]:
        """The next offset to read per partition after these records."""
        out: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            out[tp] = max(out.get(tp, 0), r.offset + 1)
        return out

    def _for_store(self, offsets: dict[TopicPartition, int]) -> dict[tuple[str, str, int], int]:
        g = self.settings.group_id
        return {(g, tp.topic, tp.partition): o for tp, o in offsets.items()}
