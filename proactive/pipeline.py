"""The pipeline: events → context → rules → candidates → ethics check → decisions → notifications.

:class:`Engine` processes events in batches. For each batch it validates the raw
events (bad ones become dead-letter records with the reason), drops events it has
processed before, folds each event into its customer's context, runs the rules,
builds and judges the candidates, arbitrates between candidates that compete for
one customer, and writes everything in one store transaction before the sinks see
it. Deferred messages whose time has come (stream time) are checked again and
released. Decisions held for review are queued (``proactive.review``); once per batch
the engine expires queue items past their expiry and folds messages reviewers approved
into the contexts it holds. Nothing reaches the notification sink without a decision
record whose verdict allowed it (or, for a reviewed one, an approval on the review
chain).

The engine caches contexts. Before each batch it also looks at the ``erasure`` chain
(``proactive.gdpr``: forget, retention): when an erasure that may have deleted
contexts appeared, it drops the cache, so an erased customer's context is never written
back from memory; a new event of that customer starts a fresh context. A batch
prepared before such an erasure and committed after it is caught by the store's commit
(:meth:`~proactive.store.ContextStore.commit`).

With a :class:`~proactive.reload.Reloader`, the engine looks for a new rule or policy
revision between two batches (:meth:`Engine.reload`) and swaps it in there: every
batch is decided by one revision, recorded in each of its decisions. The policy in
force also says which fields logs mask (``masking.log_fields``, applied through
:func:`proactive.logs.apply_policy` when the engine starts and at each swap).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import orjson

from proactive.candidates import Candidate, build_candidate, without_offer
from proactive.context import Contact, CustomerContext, apply_event
from proactive.decisions import build_record, seal, with_arbitration_loss
from proactive.errors import EventError
from proactive.ethics.check import Assessment, EthicsCheck
from proactive.ethics.limits import COMMERCIAL_ONLY
from proactive.ethics.policy import DIMENSIONS
from proactive.events import Event, event_from_dict, parse_event
from proactive.facts import ALL_GROUPS, build_facts
from proactive.logs import apply_policy, mask
from proactive.metrics import Metrics
from proactive.notifications import build_notification
from proactive.reload import Reloader, retire
from proactive.review import REVIEW_CHAIN, contact_of, expire_stale, queue_row
from proactive.rules import CompiledRule, RuleSet
from proactive.secure_notice import secure_notice_for
from proactive.sinks import Sink
from proactive.store import ERASURE_CHAIN, Batch, ContextStore

log = logging.getLogger(__name__)

RawEvent = tuple[bytes | str, str] | tuple[bytes | str, str, str]
"""An undecoded event, where it came from (``file:line``, ``topic/partition@offset``) and,
optionally, the decision chain its decisions join (default ``main``; one per partition
in the Kafka service)."""

MAIN_CHAIN = "main"


@dataclass
class RuleStats:
    """What one rule did in a run."""

    fired: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    score_sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DIMENSIONS, 0.0))
    scored: int = 0

    def means(self) -> dict[str, float | None]:
        return {
            d: (round(self.score_sums[d] / self.scored, 3) if self.scored else None)
            for d in DIMENSIONS
        }


@dataclass
class Summary:
    """Counts of a run, per rule and overall (``--json`` prints :meth:`as_dict`)."""

    events_read: int = 0
    accepted: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    decisions: int = 0
    notifications: int = 0
    deferred: int = 0
    released: int = 0
    reviews: int = 0
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    rules: dict[str, RuleStats] = field(default_factory=dict)
    verdicts: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": {
                "read": self.events_read,
                "accepted": self.accepted,
                "dead_lettered": self.dead_lettered,
                "duplicates_skipped": self.duplicates,
                "dead_letter_reasons": dict(self.dead_letter_reasons),
            },
            "decisions": self.decisions,
            "notifications": self.notifications,
            "deferred": self.deferred,
            "released": self.released,
            "reviews": self.reviews,
            "verdicts": {v: self.verdicts.get(v, 0) for v in ("send", "defer", "review", "block")},
            "rules": {
                rid: {
                    "fired": st.fired,
                    "verdicts": {
                        v: st.verdicts.get(v, 0) for v in ("send", "defer", "review", "block")
                    },
                    "mean_scores": st.means(),
                }
                for rid, st in sorted(self.rules.items())
            },
        }


@dataclass
class Outputs:
    """The three output streams of the engine."""

    decisions: Sink
    notifications: Sink
    dead_letters: Sink

    def close(self) -> None:
        for s in (self.decisions, self.notifications, self.dead_letters):
            s.close()


@dataclass
class _Judged:
    cand: Candidate
    assessment: Assessment
    record: dict[str, Any]


@dataclass
class Prepared:
    """A processed batch not yet committed: its outputs and its state changes.

    The embedded run commits it straight away; the Kafka service first produces the
    outputs in a Kafka transaction, then commits the state (see ``kafka_service``).
    """

    batch: Batch = field(default_factory=Batch)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)


class Engine:
    """Runs events through one rule revision and one policy revision at a time.

    Example::

        engine = Engine(load_ruleset(Path("rules")), EthicsCheck(load_policy(...)), store, outputs)
        summary = engine.run(lines_of("events.jsonl"))

    With ``reloader``, :meth:`run` (and the Kafka service, through :meth:`reload`)
    swaps in a new valid revision of the rules or the policy between two batches.
    """

    def __init__(
        self,
        ruleset: RuleSet,
        check: EthicsCheck,
        store: ContextStore,
        outputs: Outputs,
        *,
        batch_size: int = 500,
        cache_size: int = 20_000,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        reloader: Reloader | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.check = check
        self.store = store
        self.outputs = outputs
        self.batch_size = batch_size
        self.cache_size = cache_size
        self.metrics = metrics or Metrics()
        self.summary = Summary()
        self.clock = clock
        # a bounded window: a service runs for months (Prometheus has the full histogram)
        self.latencies: deque[float] = deque(maxlen=100_000)
        self._cache: OrderedDict[str, CustomerContext] = OrderedDict()
        self._rules = {cr.id: cr for cr in ruleset.rules}
        self.metrics.revisions.info({"rules": ruleset.revision, "policy": check.revision})
        self._heads: dict[str, tuple[int, str]] = {}
        self._committed_heads: dict[str, tuple[int, str]] = {}
        self._stream_time: datetime | None = None
        self._review_seq: int | None = None
        self._erasure_seq: int | None = None
        self._new: set[str] = set()
        """Cached contexts this engine created that the store does not hold yet."""
        self.owned_chains: set[str] | None = None
        """Chains whose deferred messages this engine releases (None: all; the Kafka
        service sets the chains of its assigned partitions)."""
        self.reloader = reloader
        """Where new revisions come from (None: the revision given here stays)."""
        # logs mask what the policy in force says (process-wide: one policy per process)
        apply_policy(check.policy.masking)

    # -- driving -----------------------------------------------------------------------

    def run(
        self, raws: Iterable[RawEvent], progress: Callable[[int], None] | None = None
    ) -> Summary:
        """Process every event, in batches; release deferred messages that fall due.

        Per batch: look for a new revision (:meth:`reload`), read the next chunk from
        the source (this may block, e.g. on stdin), drain the customers' choices that
        are waiting (:meth:`drain_inbound`) — after the read, so a choice made while
        the source was blocked counts for the very chunk that ends the wait — then
        process the chunk. When the source has ended, the choices still waiting are
        drained before returning.
        """
        it: Iterator[RawEvent] = iter(raws)
        while True:
            self.reload()
            chunk = list(islice(it, self.batch_size))
            if not chunk:
                # a final drain: everything waiting now, a batch at a time
                while self.drain_inbound() >= self.batch_size:
                    pass
                break
            self.drain_inbound()
            self.process_batch(chunk)
            if progress is not None:
                progress(len(chunk))
        return self.summary

    def reload(self) -> bool:
        """The safe point: swap in a new revision if the reloader has one ready.

        Call it only where no batch is in flight — after a batch is committed (or rolled
        back) and before the next one is prepared. Idempotence is untouched: which
        events were processed lives in the store, which offsets were consumed in Kafka,
        and neither depends on the revision. True if a revision was swapped in.
        """
        if self.reloader is None:
            return False
        change = self.reloader.maybe_reload()
        if change is None:
            return False
        old = self.ruleset
        self.swap(change.ruleset, change.check)
        if change.ruleset is not None:
            retire(old)  # nothing refers to it any more: free its durable_rules ruleset
        return True

    def drain_inbound(self) -> int:
        """Process the customers' choices waiting in the store (the preference page).

        Called between batches (by :meth:`run`: after the next chunk is read from the
        source and before it is processed), so that chunk's decisions honour them. At
        most ``batch_size`` choices, as one batch of their own. The rows are deleted only
        after their batch is committed; if the engine stops in between, they are read
        again and skipped as duplicates (their event ids are in ``processed_events``). A choice carries the
        wall-clock time it was made, which must not move the stream's clock (a replay of
        last month would release every deferred message at once): the stream time is
        kept, and nothing is released in this batch. Returns how many.
        """
        rows = self.store.inbound(self.batch_size)
        if not rows:
            return 0
        stream_time = self._stream_time
        self.commit(
            self.prepare([(raw, f"inbound:{row_id}") for row_id, raw in rows], release=False)
        )
        self._stream_time = stream_time if stream_time is not None else self._stream_time
        self.store.drop_inbound([row_id for row_id, _ in rows])
        return len(rows)

    def swap(self, ruleset: RuleSet | None = None, check: EthicsCheck | None = None) -> None:
        """Put a new rule set and/or ethics check in force, for every batch from the next one.

        Between batches only (see :meth:`reload`). Deferred messages and review
        approvals released later are checked again with what is in force then; a
        deferred message whose rule no longer exists is dropped, and says so.
        """
        if ruleset is not None:
            self.ruleset = ruleset
            self._rules = {cr.id: cr for cr in ruleset.rules}
        if check is not None:
            self.check = check
            apply_policy(check.policy.masking)
        self.metrics.revisions.info({"rules": self.ruleset.revision, "policy": self.check.revision})

    def process_batch(self, raws: list[RawEvent]) -> None:
        """Process one batch and commit it (store first, then the sinks)."""
        self.commit(self.prepare(raws))

    def prepare(
        self, raws: list[RawEvent], release_until: datetime | None = None, *, release: bool = True
    ) -> Prepared:
        """Process one batch without committing it.

        Deferred messages due by ``release_until`` (default: the stream time, the
        newest event time seen) are checked again and released in the same batch,
        unless ``release`` is false (a replay that only rebuilds state).
        """
        out = Prepared()
        # before any event: no context of an erased customer, and this batch's decisions
        # must see messages reviewers approved
        self._catch_up(out)
        events: list[tuple[Event, str]] = []
        for item in raws:
            raw, origin = item[0], item[1]
            chain = item[2] if len(item) > 2 else MAIN_CHAIN
            self.summary.events_read += 1
            self.metrics.consumed.inc()
            try:
                events.append((parse_event(raw), chain))
            except EventError as exc:
                self._dead_letter(out, raw, origin, exc.reason, exc.detail)
        seen = self.store.seen([e.id for e, _ in events]) if events else set()
        self._prefetch({e.customer_id for e, _ in events})
        in_batch: set[str] = set()
        for ev, chain in events:
            if ev.id in seen or ev.id in in_batch:
                self.summary.duplicates += 1
                self.metrics.duplicate.inc()
                continue
            in_batch.add(ev.id)
            started = time.perf_counter()
            self._handle(ev, out, chain)
            took = time.perf_counter() - started
            self.latencies.append(took)
            self.metrics.latency.observe(took)
        until = release_until or self._stream_time
        if release and until is not None:
            self.release_due(until, out)
            expire_stale(self.store, until)
        return out

    def commit(self, prepared: Prepared, *, sinks: bool = True) -> None:
        """Commit a prepared batch to the store (one transaction), then write the sinks.

        A customer erased while the batch was in flight (prepared before the erasure,
        committed after it) is left out by the store (see ``ContextStore.commit``): its
        context is not written back, and here it is dropped from the cache and its
        notifications are withheld (the embedded run; the Kafka service has produced
        them already). Its decision records stay, as links of the chain; they name the
        customer until ``forget`` runs again, which the warning asks for.
        """
        batch = prepared.batch
        # the store tells an erased context from one this batch created by this set
        batch.new_contexts = {cid for cid in batch.contexts if cid in self._new}
        erased = self.store.commit(batch, self.clock())
        self._new.difference_update(batch.contexts)
        self._committed_heads.update(batch.chains)
        notifications = prepared.notifications
        if erased:
            for cid in erased:
                self._cache.pop(cid, None)
            notifications = [n for n in notifications if n.get("subject") not in erased]
            for cid in sorted(erased):
                held = sum(1 for n in prepared.notifications if n.get("subject") == cid)
                log.warning(
                    "customer=%s was erased while a batch was in flight: its context is not "
                    "written back (%s notification(s) %s); the batch's decision records "
                    "still name the customer: run forget again",
                    mask(cid),
                    held,
                    "withheld" if sinks else "produced already",
                )
        if sinks:
            self.outputs.decisions.write(prepared.decisions)
            self.outputs.notifications.write(notifications)
            self.outputs.dead_letters.write(prepared.dead_letters)
        while len(self._cache) > self.cache_size:
            evicted, _ = self._cache.popitem(last=False)
            self._new.discard(evicted)

    def rollback(self, prepared: Prepared) -> None:
        """Forget a prepared batch that could not be committed.

        The contexts it touched are dropped from the cache (they are read again from
        the store) and the decision chains go back to their committed heads.
        """
        for cid in prepared.batch.contexts:
            self._cache.pop(cid, None)
            self._new.discard(cid)
        for chain in prepared.batch.chains:
            if chain in self._committed_heads:
                self._heads[chain] = self._committed_heads[chain]
            else:
                self._heads.pop(chain, None)

    def forget_all(self) -> None:
        """Drop every cached context and chain head (they are read again from the store).

        Called when partitions move to another engine, or after a connection failure.
        """
        self._cache.clear()
        self._new.clear()
        self._heads.clear()
        self._committed_heads.clear()

    def finish(self, until: datetime | None = None) -> Summary:
        """Release what is due (by ``until``, default the stream time) and return the summary."""
        until = until or self._stream_time
        if until is not None:
            out = Prepared()
            self._catch_up(out)
            self.release_due(until, out)
            expire_stale(self.store, until)
            self.commit(out)
        return self.summary

    # -- one event -------------------------------------------------------------------

    def _handle(self, ev: Event, out: Prepared, chain: str = MAIN_CHAIN) -> None:
        self.summary.accepted += 1
        self.metrics.accepted.inc()
        ctx = self._context(ev.customer_id)
        apply_event(ctx, ev)
        out.batch.contexts[ctx.customer_id] = ctx
        out.batch.processed.append(
            {"event_id": ev.id, "customer_id": ev.customer_id, "event_time": ev.time}
        )
        if self._stream_time is None or ev.time > self._stream_time:
            self._stream_time = ev.time
        if self.ruleset.listens_to(ev.type):
            self._decide(ev, ctx, out, chain)

    def _decide(self, ev: Event, ctx: CustomerContext, out: Prepared, chain: str) -> None:
        facts = build_facts(ev, ctx, self.ruleset.groups_by_type[ev.type])
        fired = self.ruleset.engine.match(facts)
        if not fired:
            return
        # candidates and their check may use any fact, not only those the rules tested
        facts = build_facts(ev, ctx, ALL_GROUPS)
        judged: list[_Judged] = []
        for rule_id in fired:
            cr = self._rules[rule_id]
            self._stats(rule_id).fired += 1
            cand = build_candidate(cr, ev, ctx, facts, self.ruleset, self.check.policy)
            judged.append(self._judge(cand))
            fallback = self._fallback(cr, judged[-1])
            if fallback is not None:
                judged.append(self._judge(fallback))
        winners = self._arbitrate(judged, ctx)
        for j in judged:
            self._record(j, out, chain)
        for j in winners:
            self._act(j, out, chain)

    def _judge(self, cand: Candidate, released_from: str | None = None) -> _Judged:
        a = self.check.assess(cand, self.ruleset)
        rec = build_record(
            cand,
            a,
            rules_revision=self.ruleset.revision,
            ethics_revision=self.check.revision,
            mask_message=self.check.policy.masking.message == "hash",
            released_from=released_from,
        )
        return _Judged(cand, a, rec)

    def _fallback(self, cr: CompiledRule, j: _Judged) -> Candidate | None:
        """The offer-less service notice, when only commercial limits stopped the offer."""
        spec = cr.rule.offer
        if spec is None or spec.fallback != "without_offer" or j.cand.offer is None:
            return None
        blocking = {h.id for h in j.assessment.limits if h.effect == "block"}
        if j.assessment.verdict == "block" and blocking and blocking <= COMMERCIAL_ONLY:
            j.record["reasons"].append("the rule's fallback sends the notice without the offer")
            return without_offer(j.cand, self.ruleset, self.check.policy)
        return None

    def _arbitrate(self, judged: list[_Judged], ctx: CustomerContext) -> list[_Judged]:
        """Declared arbitration: order by the ruleset's keys; caps per event and window."""
        arb = self.ruleset.arbitration
        rank = {p: i for i, p in enumerate(arb.purpose_rank)}

        def key(j: _Judged) -> tuple[Any, ...]:
            parts: list[Any] = []
            for k in arb.order:
                if k == "verdict":
                    parts.append(j.assessment.verdict == "review")
                elif k == "priority":
                    parts.append(-j.cand.rule.rule.priority)
                elif k == "purpose":
                    parts.append(rank.get(j.cand.purpose, len(rank)))
                else:
                    parts.append(j.cand.rule_id)
            return tuple(parts)

        contenders = sorted((j for j in judged if j.assessment.verdict != "block"), key=key)
        winners: list[_Judged] = []
        now = contenders[0].cand.at if contenders else None
        recent_commercial = (
            len(ctx.contacts_since(now - arb.commercial_window, "commercial"))
            if now is not None
            else 0
        )
        for j in contenders:
            if winners and len(winners) >= arb.max_per_event:
                w = winners[0].cand.rule_id
                with_arbitration_loss(
                    j.record,
                    w,
                    f"at most {arb.max_per_event} message(s) per event, by {', '.join(arb.order)}",
                )
                continue
            if j.cand.purpose == "commercial":
                won = sum(1 for x in winners if x.cand.purpose == "commercial")
                if won + recent_commercial >= arb.max_commercial:
                    with_arbitration_loss(
                        j.record,
                        winners[0].cand.rule_id if winners else "an earlier message",
                        f"at most {arb.max_commercial} commercial message(s) per customer per {arb.commercial_window}",
                    )
                    continue
            winners.append(j)
        return winners

    def _head(self, chain: str) -> tuple[int, str]:
        head = self._heads.get(chain)
        if head is None:
            head = self._heads[chain] = self._committed_heads[chain] = self.store.chain_head(chain)
        return head

    def _record(self, j: _Judged, out: Prepared, chain: str) -> None:
        seq, prev = self._head(chain)
        seq += 1
        j.record["chain"] = chain
        j.record["seq"] = seq
        rec = seal(j.record, prev)
        self._heads[chain] = (seq, rec["hash"])
        out.decisions.append(rec)
        out.batch.decisions.append(
            {
                "chain": chain,
                "seq": seq,
                "decision_id": rec["decision_id"],
                "event_id": rec["event_id"],
                "customer_id": rec["customer_id"],
                "rule_id": rec["rule_id"],
                "verdict": rec["verdict"],
                "created_at": datetime.fromisoformat(rec["created_at"]),
                "prev_hash": rec["prev_hash"],
                "hash": rec["hash"],
                "record": _dumps(rec),
            }
        )
        out.batch.chains[chain] = self._heads[chain]
        verdict = rec["verdict"]
        st = self._stats(rec["rule_id"])
        st.verdicts[verdict] += 1
        if rec["scores"]:
            st.scored += 1
            for d in DIMENSIONS:
                score = rec["scores"][d]["score"]
                st.score_sums[d] += score
                self.metrics.score_of[d].observe(score)
        self.summary.decisions += 1
        self.summary.verdicts[verdict] += 1
        self.metrics.decisions.labels(rec["rule_id"], verdict).inc()
        log.debug(
            "decision %s rule=%s customer=%s verdict=%s",
            rec["decision_id"],
            rec["rule_id"],
            mask(rec["customer_id"]),
            verdict,
        )

    def _act(self, j: _Judged, out: Prepared, chain: str) -> None:
        verdict, c, rec = j.record["verdict"], j.cand, j.record
        if verdict == "send":
            deliver_at = j.assessment.deliver_at or c.at
            out.notifications.append(build_notification(c, rec, deliver_at))
            notice = secure_notice_for(c, rec, deliver_at, self.ruleset.templates)
            if notice is not None:
                out.notifications.append(notice)
            c.ctx.record_contact(
                Contact(
                    deliver_at,
                    c.rule_id,
                    c.purpose,
                    c.channel,
                    c.offer.offer_id if c.offer else None,
                )
            )
            out.batch.contacts.append(
                {
                    "customer_id": c.ctx.customer_id,
                    "rule_id": c.rule_id,
                    "purpose": c.purpose,
                    "channel": c.channel,
                    "offer_id": c.offer.offer_id if c.offer else None,
                    "decision_id": rec["decision_id"],
                    "sent_at": deliver_at,
                }
            )
            self.summary.notifications += 1
            self.metrics.notifications.labels(c.channel).inc()
        elif verdict == "defer":
            assert j.assessment.deliver_at is not None
            c.ctx.pending[c.rule_id] = rec["decision_id"]
            out.batch.deferred.append(
                {
                    "decision_id": rec["decision_id"],
                    "customer_id": c.ctx.customer_id,
                    "chain": chain,
                    "due_at": j.assessment.deliver_at,
                    "candidate": _dumps(_spec(c, chain)),
                    "status": "pending",
                }
            )
            self.summary.deferred += 1
        elif verdict == "review":
            # a reviewer acts on it later: keep what rebuilds the candidate then
            out.batch.reviews.append(
                queue_row(
                    decision_id=rec["decision_id"],
                    customer_id=c.ctx.customer_id,
                    rule_id=c.rule_id,
                    chain=chain,
                    created_at=c.at,
                    spec=_spec(c, chain),
                    reasons=rec["reasons"],
                    policy=self.check.policy,
                )
            )
            self.summary.reviews += 1
        out.batch.contexts[c.ctx.customer_id] = c.ctx

    # -- deferred messages -----------------------------------------------------------

    def release_due(self, until: datetime, out: Prepared) -> None:
        """Check again, and send, deferred messages due at ``until`` (stream time)."""
        until = until.astimezone(UTC)
        owned = self.owned_chains
        due = self.store.due_deferred(until, owned)
        fresh = [
            d
            for d in out.batch.deferred
            if d["due_at"] <= until
            and d["status"] == "pending"
            and (owned is None or d["chain"] in owned)
        ]
        items = [
            *due,
            *(
                {
                    "decision_id": d["decision_id"],
                    "customer_id": d["customer_id"],
                    "due_at": d["due_at"],
                    "candidate": _loads(d["candidate"]),
                }
                for d in fresh
            ),
        ]
        if not items:
            return
        self._prefetch({d["customer_id"] for d in items})
        for d in items:
            ctx = self._context(d["customer_id"])
            spec = d["candidate"]
            original = d["decision_id"]
            ctx.pending.pop(spec["rule_id"], None)
            out.batch.contexts[ctx.customer_id] = ctx
            cr = self._rules.get(spec["rule_id"])
            if cr is None:
                self._close_deferred(out, original, "dropped")
                log.warning(
                    "deferred %s dropped: rule %s no longer exists", original, spec["rule_id"]
                )
                continue
            ev = event_from_dict(spec["event"])
            facts = build_facts(ev, ctx, ALL_GROUPS)
            cand = build_candidate(
                cr,
                ev,
                ctx,
                facts,
                self.ruleset,
                self.check.policy,
                at=d["due_at"],
                variant="released",
            )
            if spec.get("variant") == "without_offer":
                cand = without_offer(cand, self.ruleset, self.check.policy)
            j = self._judge(cand, released_from=original)
            j.record["reasons"].append(
                f"released from deferral {original}; checked again at {d['due_at'].isoformat()}"
            )
            judged = [j]
            fallback = self._fallback(cr, j)
            if fallback is not None:
                judged.append(self._judge(fallback, released_from=original))
            for x in judged:
                self._record(x, out, spec.get("chain", MAIN_CHAIN))
            going = next((x for x in judged if x.record["verdict"] != "block"), None)
            if going is not None:
                self._act(going, out, spec.get("chain", MAIN_CHAIN))
            verdict = going.record["verdict"] if going is not None else "block"
            status = {"send": "released", "defer": "deferred", "review": "review"}
            self._close_deferred(out, original, status.get(verdict, "blocked"))
            self.summary.released += verdict == "send"

    def _close_deferred(self, out: Prepared, decision_id: str, status: str) -> None:
        for d in out.batch.deferred:
            if d["decision_id"] == decision_id:
                d["status"] = status
                return
        out.batch.deferred_closed.append((decision_id, status))

    # -- what other processes changed --------------------------------------------------

    def _catch_up(self, out: Prepared) -> None:
        """Before a batch: follow the erasure chain, then the review chain.

        Erasures first: dropping the cache after folding approvals into it would lose
        nothing (the store has them), but folding first would write back a context the
        erasure deleted. The batch carries the erasure watermark its contexts are read
        against, for the store's check at commit.
        """
        self._follow_erasures()
        out.batch.erasure_seq = self._erasure_seq
        self._follow_reviews(out)

    def _follow_erasures(self) -> None:
        """Drop the cached contexts when an erasure may have deleted some since the last batch.

        ``forget`` (and a retention purge of inactive customers) deletes contexts in
        another process; a context this engine still caches would be written back at
        its next commit, bringing the erased data back. An erasure record names only a
        pseudonym, never the customer, so the whole cache goes: erasures are rare, and
        the contexts are read again from the store (an erased one is absent: a new
        event of that customer starts a fresh context). Records that cannot have
        deleted a context (retention of message texts, event payloads, dead letters:
        ``removed`` has no contexts) keep the cache. As with the review chain, the
        erasure chain's sequence number is an exact watermark (it is written under the
        review lock, one record at a time), so asking for what is new is one indexed
        query per batch.

        Between batches nothing uncommitted is cached, so dropping is always safe. A
        batch that was already prepared when the erasure committed is the store's
        concern: see :meth:`commit`.
        """
        if self._erasure_seq is None:
            # contexts read from the store from now on are read after these erasures
            self._erasure_seq = self.store.chain_head(ERASURE_CHAIN)[0]
            return
        drop = False
        for rec in self.store.decision_records(ERASURE_CHAIN, after=self._erasure_seq):
            self._erasure_seq = max(self._erasure_seq, int(rec["seq"]))
            drop = drop or _may_delete_contexts(rec)
        if drop:
            self._cache.clear()
            self._new.clear()
            log.info("erasure up to seq %s: cached contexts dropped", self._erasure_seq)

    # -- the review queue --------------------------------------------------------------

    def _follow_reviews(self, out: Prepared) -> None:
        """Fold contacts that reviewers approved since the last batch into cached contexts.

        An approval records its contact in the store's copy of the context; a context
        this engine holds in memory would not see it (and the next commit would write
        it back without it), so caps and cooldowns would miss the message. The review
        chain is written one action at a time, so its sequence number is an exact
        watermark; asking for what is new is one indexed query.
        """
        if self._review_seq is None:
            # contexts read from the store from now on already hold earlier approvals
            self._review_seq = self.store.chain_head(REVIEW_CHAIN)[0]
            return
        for rec in self.store.decision_records(REVIEW_CHAIN, after=self._review_seq):
            self._review_seq = max(self._review_seq, int(rec["seq"]))
            contact = contact_of(rec)
            ctx = self._cache.get(rec["customer_id"]) if contact is not None else None
            if ctx is None or contact is None or contact in ctx.contacts:
                continue
            ctx.record_contact(contact)
            out.batch.contexts[ctx.customer_id] = ctx

    # -- state -----------------------------------------------------------------------

    def _prefetch(self, customer_ids: set[str]) -> None:
        missing = [c for c in customer_ids if c not in self._cache]
        if missing:
            self._cache.update(self.store.load(missing))

    def _context(self, customer_id: str) -> CustomerContext:
        ctx = self._cache.get(customer_id)
        if ctx is None:
            ctx = CustomerContext(customer_id)
            self._cache[customer_id] = ctx
            self._new.add(customer_id)
        else:
            self._cache.move_to_end(customer_id)
        return ctx

    def _dead_letter(
        self, out: Prepared, raw: bytes | str, origin: str, reason: str, detail: str
    ) -> None:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        now = self.clock()
        out.dead_letters.append(
            {
                "reason": reason,
                "detail": detail,
                "origin": origin,
                "original": text,
                "received_at": now.isoformat(),
            }
        )
        out.batch.dead_letters.append(
            {"reason": reason, "detail": detail, "raw": text, "received_at": now}
        )
        self.summary.dead_lettered += 1
        self.summary.dead_letter_reasons[reason] += 1
        self.metrics.dead_letter.inc()
        log.warning("dead-lettered %s: %s (%s)", origin, reason, detail)

    def _stats(self, rule_id: str) -> RuleStats:
        st = self.summary.rules.get(rule_id)
        if st is None:
            st = self.summary.rules[rule_id] = RuleStats()
        return st


def _may_delete_contexts(rec: dict[str, Any]) -> bool:
    """Whether an erasure record may stand for deleted contexts (see ``proactive.gdpr``).

    Only a retention record whose ``removed`` counts no contexts is known not to: a
    ``forget``, or any kind this engine does not know, is taken to have deleted some.
    """
    if rec.get("kind") != "retention":
        return True
    removed = rec.get("removed")
    return not isinstance(removed, dict) or bool(removed.get("contexts"))


def _spec(c: Candidate, chain: str) -> dict[str, Any]:
    """What rebuilds a candidate later (a deferred release, a review approval)."""
    return {
        "event": c.event.to_cloudevent(),
        "rule_id": c.rule_id,
        "variant": c.variant,
        "chain": chain,
    }


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _loads(text: str) -> Any:
    return orjson.loads(text)
