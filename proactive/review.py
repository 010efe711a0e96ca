"""The human review queue: actions the ethics check held for a person to decide.

When the check's verdict is *review*, the engine queues the candidate — its spec
(the triggering event, rule, variant and chain, as for a deferred message), the
verdict's reasons and ``expires_at`` (``policy.review.expire_after_hours`` after
the decision). A reviewer then acts on it:

* **approve** — the candidate is rebuilt from its spec against the customer's
  *current* context, at the approval moment, and judged again. The approval stands
  in for the *review* verdict only: a block (consent withdrawn, an objection, a
  vulnerability, a cap, an offer that changed, a message no longer timely …)
  **refuses** the approval and the item stays pending; quiet hours move the delivery
  to the next allowed moment. An approved notification is delivered as the engine
  delivers one, and the contact is recorded so caps and cooldowns see it. A sensitive
  message goes to the secure inbox with, on the customer's own channel, the same plain
  notice the engine sends (:func:`proactive.secure_notice.secure_notice_for`): never
  the text in the clear, never without the notice.
* **reject** — nothing is sent.

An item nobody decided by ``expires_at`` **expires** (:func:`expire_stale`), and an
approval that comes too late expires it: an expired action is never sent.

Every action — approved, rejected, expired, refused — is a record with
``record_type: "review"`` sealed onto the store's own ``review`` chain (never onto
a partition chain, which a running engine owns). Review actions take turns through
:meth:`~proactive.store.ContextStore.review_write`, so reviewers and engines never
extend the chain, decide an item or change a context at the same time.

Example::

    outcome = approve(store, decision_id, ruleset=rs, check=check, reviewer="alice",
                      reason="fits what she asked for", now=now, sink=sink)
    outcome.action  # "approved", "refused" or "expired"
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from proactive.candidates import Candidate, Variant, build_candidate, without_offer
from proactive.context import Contact, CustomerContext
from proactive.decisions import ChainBreak, build_record, seal, verify_chain
from proactive.errors import EventError, ProactiveError
from proactive.ethics.check import Assessment, EthicsCheck
from proactive.ethics.policy import Policy
from proactive.events import event_from_dict
from proactive.facts import ALL_GROUPS, build_facts
from proactive.inbound import with_waiting
from proactive.notifications import build_notification
from proactive.rules import ExceptionSpec, RuleSet
from proactive.secure_notice import secure_notice_for
from proactive.sinks import Sink
from proactive.store import ContextStore, ReviewWrite

__all__ = [
    "REVIEW_CHAIN",
    "STATUSES",
    "AlreadyDecided",
    "DeliveryError",
    "Outcome",
    "Recheck",
    "ReviewError",
    "ReviewItem",
    "approve",
    "contact_of",
    "expire_stale",
    "find_item",
    "history",
    "list_items",
    "queue_row",
    "recheck",
    "reject",
    "verify_review_chain",
]

log = logging.getLogger(__name__)

Action = Literal["approved", "rejected", "expired", "refused"]

REVIEW_CHAIN = "review"
"""The decision chain that holds every review record (one writer at a time, by lock)."""

STATUSES = ("pending", "approved", "rejected", "expired", "erased")
"""An item's status; a refused approval leaves it ``pending`` (see the module docstring);
``erased``: the customer was forgotten while it waited (``proactive.gdpr``), never sent."""

SYSTEM_REVIEWER = "system"
"""Who expires items nobody decided in time."""

RECORD_VERSION = 2
"""2: personal fields committed, as decision records (see :mod:`proactive.decisions`)."""
MAX_REASONS = 6
MAX_REASON_CHARS = 240
_NS = uuid.UUID("ddf563ca-d46d-452e-8467-8a1439f960cd")


class ReviewError(ProactiveError):
    """A review action cannot be taken: unknown item, already decided, no reason given …"""


class AlreadyDecided(ReviewError):
    """The item is no longer pending: approved, rejected or expired before this action."""

    def __init__(self, message: str, status: str) -> None:
        super().__init__(message)
        self.status = status


class DeliveryError(ReviewError):
    """An approval was recorded but its notification could not be delivered.

    ``outcome`` holds the approval and the notification (with its secure-inbox notice,
    if any: :attr:`Outcome.notifications`), so they can be delivered again (an ``id``
    is the idempotency key: a second delivery is recognised downstream).
    """

    def __init__(self, message: str, outcome: Outcome) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True)
class ReviewItem:
    """One review queue item, as stored."""

    decision_id: str
    customer_id: str
    rule_id: str
    chain: str
    created_at: datetime
    expires_at: datetime
    status: str
    reasons: tuple[str, ...]
    candidate: dict[str, Any] | None
    reviewer: str | None = None
    action: str | None = None
    reason: str | None = None
    decided_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ReviewItem:
        """An item from a row of :meth:`ContextStore.review_items`."""
        return cls(
            decision_id=row["decision_id"],
            customer_id=row["customer_id"],
            rule_id=row["rule_id"],
            chain=row["chain"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            status=row["status"],
            reasons=tuple(row["reasons"]),
            candidate=row["candidate"],
            reviewer=row.get("reviewer"),
            action=row.get("action"),
            reason=row.get("reason"),
            decided_at=row.get("decided_at"),
        )

    @property
    def event_id(self) -> str:
        """The triggering event's id ('' for an item queued without a candidate spec)."""
        return str(self.candidate["event"]["id"]) if self.candidate else ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (what ``review list --json`` prints)."""
        spec = self.candidate or {}
        return {
            "decision_id": self.decision_id,
            "customer_id": self.customer_id,
            "rule_id": self.rule_id,
            "chain": self.chain,
            "event_id": self.event_id or None,
            "variant": spec.get("variant"),
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "status": self.status,
            "reasons": list(self.reasons),
            "reviewer": self.reviewer,
            "action": self.action,
            "reason": self.reason,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
        }


@dataclass
class Recheck:
    """The approval-time check of a queued candidate.

    ``refusals`` empty means the approval may stand; otherwise they say why not.
    ``verdict`` is None when the candidate could not even be rebuilt.
    """

    verdict: str | None = None
    reasons: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    candidate: Candidate | None = None
    assessment: Assessment | None = None
    record: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """What a review record keeps of the re-check."""
        rec = self.record or {}
        offer = (rec.get("action") or {}).get("offer") or {}
        return {
            "verdict": self.verdict,
            "reasons": self.reasons,
            "warnings": rec.get("warnings", []),
            "limits": [
                {"id": h["id"], "effect": h["effect"], "detail": h["detail"]}
                for h in rec.get("limits", [])
            ],
            "overall": rec.get("overall"),
            "deliver_at": rec.get("deliver_at"),
            "channel": rec.get("channel"),
            "offer_id": offer.get("id"),
            # a sensitive message in the secure inbox: the plain notice's channel
            "notice_channel": (rec.get("action") or {}).get("notice_channel"),
            "rules_revision": rec.get("rules_revision"),
            "ethics_revision": rec.get("ethics_revision"),
        }


@dataclass
class Outcome:
    """What one review action did."""

    item: ReviewItem
    """The item as it was before the action."""
    action: Action
    reasons: list[str]
    """Why: the re-check's reasons (approved), what stopped it (refused, expired)."""
    record: dict[str, Any]
    """The sealed review record."""
    notification: dict[str, Any] | None = None
    """The approved message (kind ``message``)."""
    notice: dict[str, Any] | None = None
    """For a sensitive message in the secure inbox: the plain notice on the customer's
    own channel (kind ``secure_notice``), as the engine sends it."""

    @property
    def sent(self) -> bool:
        """Whether a notification was produced."""
        return self.notification is not None

    @property
    def notifications(self) -> list[dict[str, Any]]:
        """What goes to the sink, in the engine's order: the message, then its notice."""
        return [n for n in (self.notification, self.notice) if n is not None]


# -- the engine's side -------------------------------------------------------------------


def short_reasons(reasons: list[str]) -> list[str]:
    """The verdict's reasons as a queue row keeps them: the first few, each clipped."""
    out = [r if len(r) <= MAX_REASON_CHARS else r[: MAX_REASON_CHARS - 1] + "…" for r in reasons]
    if len(out) > MAX_REASONS:
        out = [*out[: MAX_REASONS - 1], f"… and {len(out) - MAX_REASONS + 1} more"]
    return out


def queue_row(
    *,
    decision_id: str,
    customer_id: str,
    rule_id: str,
    chain: str,
    created_at: datetime,
    spec: dict[str, Any],
    reasons: list[str],
    policy: Policy,
) -> dict[str, Any]:
    """The ``review_queue`` row for a decision whose verdict is *review*.

    ``spec`` is the candidate spec (event as CloudEvent, rule_id, variant, chain),
    the same the engine keeps for a deferred message.
    """
    return {
        "decision_id": decision_id,
        "customer_id": customer_id,
        "rule_id": rule_id,
        "created_at": created_at,
        "status": "pending",
        "chain": chain,
        "candidate": _dumps(spec),
        "reasons": _dumps(short_reasons(reasons)),
        "expires_at": created_at + timedelta(hours=policy.review.expire_after_hours),
    }


def contact_of(record: dict[str, Any]) -> Contact | None:
    """The contact an approval recorded (None for any other review record).

    A running engine folds these into the contexts it holds in memory, so its caps
    and cooldowns see messages a reviewer approved (see ``Engine``).
    """
    c = record.get("contact")
    if record.get("record_type") != "review" or not c:
        return None
    return Contact(
        datetime.fromisoformat(c["at"]), c["rule_id"], c["purpose"], c["channel"], c["offer_id"]
    )


# -- reading the queue -------------------------------------------------------------------


def list_items(
    store: ContextStore,
    *,
    status: str | None = "pending",
    rule_id: str | None = None,
    older_than: timedelta | None = None,
    now: datetime | None = None,
) -> list[ReviewItem]:
    """Queue items, oldest first: by status (None: all), rule, and age at ``now``."""
    if status is not None and status not in STATUSES:
        raise ReviewError(f"unknown status {status!r}; one of {', '.join(STATUSES)}")
    created_before = None
    if older_than is not None:
        created_before = (now or datetime.now(UTC)) - older_than
    rows = store.review_items(status=status, rule_id=rule_id, created_before=created_before)
    return [ReviewItem.from_row(r) for r in rows]


def find_item(store: ContextStore, decision_id: str) -> ReviewItem:
    """The item with this decision id, or with this unique prefix of one."""
    row = store.review_item(decision_id)
    if row is None and decision_id:
        ids = store.review_ids(decision_id)
        if len(ids) > 1:
            raise ReviewError(f"{decision_id!r} matches several review items: {', '.join(ids)}")
        row = store.review_item(ids[0]) if ids else None
    if row is None:
        raise ReviewError(f"no review item {decision_id!r}")
    return ReviewItem.from_row(row)


def history(store: ContextStore, decision_id: str) -> list[dict[str, Any]]:
    """Every review record about one item, oldest first."""
    row = store.review_item(decision_id)
    if row is None:
        return []
    return [
        r
        for r in store.customer_records(row["customer_id"], REVIEW_CHAIN)
        if r.get("review_of") == decision_id
    ]


def verify_review_chain(store: ContextStore) -> ChainBreak | None:
    """Check every link of the review chain; the first broken one, or None."""
    return verify_chain(store.decision_records(REVIEW_CHAIN))


# -- acting on it ------------------------------------------------------------------------


def expire_stale(store: ContextStore, now: datetime) -> list[Outcome]:
    """Mark pending items whose ``expires_at`` has passed as expired; one record each.

    Cheap when nothing is due (one indexed query, no lock), so the engine calls it
    once per batch; ``review expire`` and ``review list`` call it too.
    """
    now = now.astimezone(UTC)
    due = store.review_items(status="pending", expired_by=now)
    if not due:
        return []
    outcomes: list[Outcome] = []
    with store.review_write() as w:
        for row in due:
            current = w.item(row["decision_id"])
            # another engine or a reviewer may have acted since the query above
            if current is None or current["status"] != "pending" or current["expires_at"] > now:
                continue
            item = ReviewItem.from_row(current)
            hours = (item.expires_at - item.created_at).total_seconds() / 3600
            reason = f"not reviewed within {hours:g} hours"
            reasons = [
                f"{reason} (expired at {item.expires_at.isoformat()}); an expired action is never sent"
            ]
            rec = _decide(w, item, "expired", SYSTEM_REVIEWER, reason, now, reasons)
            outcomes.append(Outcome(item, "expired", reasons, rec))
    if outcomes:
        log.info("expired %d review item(s) not decided in time", len(outcomes))
    return outcomes


def reject(
    store: ContextStore, decision_id: str, *, reviewer: str, reason: str, now: datetime
) -> Outcome:
    """Reject a pending item: nothing is sent; the rejection is recorded."""
    reviewer, reason = _required(reviewer, reason)
    now = now.astimezone(UTC)
    with store.review_write() as w:
        item = _pending(w, decision_id)
        reasons = [f"rejected by {reviewer}: {reason}"]
        rec = _decide(w, item, "rejected", reviewer, reason, now, reasons)
    return Outcome(item, "rejected", reasons, rec)


def approve(
    store: ContextStore,
    decision_id: str,
    *,
    ruleset: RuleSet,
    check: EthicsCheck,
    reviewer: str,
    reason: str,
    now: datetime,
    sink: Sink,
    exception: tuple[list[str], str] | None = None,
) -> Outcome:
    """Approve a pending item: check it again now and, if it may still go, send it.

    ``exception`` is the reviewer's joker: (organisation limits, written
    justification). The re-check lifts those limits if they are organisation limits
    and the justification has at least 20 characters; a law limit named in it is
    refused and keeps blocking. The exception is recorded on the review chain.

    Past ``expires_at`` the item expires instead. A re-check that blocks refuses the
    approval (the item stays pending, the refusal is recorded). Otherwise the
    notification is built as the engine builds one — delivered at the next allowed
    moment when it is quiet hours now; a sensitive message in the secure inbox with the
    engine's plain notice on the customer's own channel — the contact is recorded in
    the same transaction as the approval, and after the commit the notification (and
    notice) go to ``sink`` in one write. A delivery failure raises
    :class:`DeliveryError` (the approval stands).
    """
    reviewer, reason = _required(reviewer, reason)
    joker: ExceptionSpec | None = None
    if exception is not None:
        limits, justification = exception
        try:
            joker = ExceptionSpec(
                limits=limits, justification=justification.strip(), approved_by=reviewer
            )
        except ValidationError as exc:
            raise ReviewError(
                "an exception needs the limit(s) and a written justification of at least 20 "
                f"characters: {exc.errors()[0]['msg']}"
            ) from None
    now = now.astimezone(UTC)
    with store.review_write() as w:
        item = _pending(w, decision_id)
        if now >= item.expires_at:
            reasons = [
                f"the review window closed at {item.expires_at.isoformat()}; "
                "an expired action is never sent"
            ]
            rec = _decide(w, item, "expired", reviewer, reason, now, reasons)
            return Outcome(item, "expired", reasons, rec)
        ctx = w.context(item.customer_id) or CustomerContext(item.customer_id)
        # choices the customer made that no engine has applied yet count already: an
        # objection made a minute ago stops the offer approved now (GDPR art. 21(3));
        # only this in-memory copy sees them, the engine applies them for real
        with_waiting(ctx, store)
        try:
            rc = recheck(item, w.decision_record(item.decision_id), ctx, ruleset, check, now, joker)
        except Exception as exc:  # fail closed, as the engine does: a broken re-check sends nothing
            log.exception("re-check of review item %s failed", item.decision_id)
            rc = Recheck(
                refusals=[f"the re-check failed ({type(exc).__name__}: {exc}); refused to be safe"]
            )
        if rc.refusals:
            rec = _append(w, item, "refused", reviewer, reason, now, rc.refusals, "pending", rc)
            w.close_item(
                item.decision_id, reviewer=reviewer, action="refused", reason=reason, decided_at=now
            )
            return Outcome(item, "refused", rc.refusals, rec)
        outcome = _approved(w, item, rc, ruleset, reviewer, reason, now)
    assert outcome.notification is not None
    try:
        sink.write(outcome.notifications)
    except Exception as exc:  # any sink failure: the approval is recorded, say so plainly
        what = f"notification {outcome.notification['id']}"
        if outcome.notice is not None:
            what += f" and its secure-inbox notice {outcome.notice['id']}"
        raise DeliveryError(
            f"approved and recorded (review record {outcome.record['decision_id']}), but "
            f"{what} could not be delivered: {exc}",
            outcome,
        ) from exc
    return outcome


def recheck(
    item: ReviewItem,
    original: dict[str, Any] | None,
    ctx: CustomerContext,
    ruleset: RuleSet,
    check: EthicsCheck,
    now: datetime,
    exception: ExceptionSpec | None = None,
) -> Recheck:
    """Rebuild the queued candidate against ``ctx`` at ``now`` and judge it again.

    Like the release of a deferred message, plus what a human approval must not
    paper over: the rule still fires for the customer's current data (a bundle
    warning after the bundle ran out is too late), and the offer is the one the
    reviewer saw.
    """
    out = Recheck()
    spec = item.candidate
    if spec is None:
        out.refusals.append(
            "the item was queued before the queue kept candidates (store migration 0002); "
            "it cannot be rebuilt, only rejected"
        )
        return out
    try:
        cr = ruleset.rule(spec["rule_id"])
    except KeyError:
        out.refusals.append(f"rule {spec['rule_id']} no longer exists (rules {ruleset.revision})")
        return out
    try:
        ev = event_from_dict(spec["event"])
    except EventError as exc:
        out.refusals.append(f"the stored event cannot be read again: {exc}")
        return out
    groups = ruleset.groups_by_type.get(ev.type, frozenset())
    if cr.id not in ruleset.engine.match(build_facts(ev, ctx, groups)):
        out.refusals.append(
            f"no longer timely: the conditions of rule {cr.id} no longer hold "
            "for the customer's current data"
        )
    variant = str(spec.get("variant") or "primary")
    base: Variant = "released" if variant.startswith("released") else "primary"
    facts = build_facts(ev, ctx, ALL_GROUPS)
    cand = build_candidate(cr, ev, ctx, facts, ruleset, check.policy, at=now, variant=base)
    if variant.endswith("without_offer"):
        cand = without_offer(cand, ruleset, check.policy)
    a = check.assess(cand, ruleset, exception)
    out.candidate, out.assessment, out.verdict, out.reasons = cand, a, a.verdict, list(a.reasons)
    out.record = build_record(
        cand,
        a,
        rules_revision=ruleset.revision,
        ethics_revision=check.revision,
        mask_message=check.policy.masking.message == "hash",
        released_from=item.decision_id,
    )
    if a.verdict == "block":
        # the approval stands in for a review verdict only; a block is never overridden
        out.refusals += [f"the check now blocks it: {r}" for r in a.reasons]
    if original is None:
        out.refusals.append("the original decision record is missing")
    else:
        was = ((original.get("action") or {}).get("offer") or {}).get("id")
        now_offer = cand.offer.offer_id if cand.offer else None
        if was != now_offer:
            out.refusals.append(
                f"the offer changed since the review: it was {was or 'none'}, "
                f"it would now be {now_offer or 'none'}"
            )
    return out


# -- internals ---------------------------------------------------------------------------


def _approved(
    w: ReviewWrite,
    item: ReviewItem,
    rc: Recheck,
    ruleset: RuleSet,
    reviewer: str,
    reason: str,
    now: datetime,
) -> Outcome:
    cand, a, full = rc.candidate, rc.assessment, rc.record
    assert cand is not None and a is not None and full is not None and cand.message is not None
    deliver_at = max(a.deliver_at or now, now)
    seq = w.head(REVIEW_CHAIN)[0] + 1
    review_id = _review_id(seq, item.decision_id, "approved")
    # the notification carries the reviewed decision's id; the approval (this review
    # record, named in review_id) is what allowed it, standing in for a send verdict
    sent = {**full, "verdict": "send", "decision_id": item.decision_id}
    note = build_notification(cand, sent, deliver_at)
    note["data"]["review_id"] = review_id
    # sensitive: the message waits in the secure inbox; the customer's own channel gets
    # the engine's plain notice (same text, language, addressee, consent check)
    notice = secure_notice_for(cand, sent, deliver_at, ruleset.templates)
    if notice is not None:
        notice["data"]["review_id"] = review_id
    contact = Contact(
        deliver_at,
        cand.rule_id,
        cand.purpose,
        cand.channel,
        cand.offer.offer_id if cand.offer else None,
    )
    w.record_contact(item.customer_id, contact, item.decision_id, now)
    extra = {
        # the reviewer's joker, when one lifted an organisation limit
        "exception": a.exception,
        "notification_id": note["id"],
        "deliver_at": deliver_at.isoformat(),
        "channel": cand.channel,
        # the plain secure-inbox notice sent with a sensitive message (None: no notice)
        "notice_id": notice["id"] if notice is not None else None,
        "notice_channel": notice["data"]["channel"] if notice is not None else None,
        "message_sha256": hashlib.sha256(cand.message.text.encode()).hexdigest(),
        "contact": {
            "at": deliver_at.isoformat(),
            "rule_id": contact.rule_id,
            "purpose": contact.purpose,
            "channel": contact.channel,
            "offer_id": contact.offer_id,
        },
    }
    rec = _decide(w, item, "approved", reviewer, reason, now, rc.reasons, rc, extra)
    return Outcome(item, "approved", rc.reasons, rec, note, notice)


def _decide(
    w: ReviewWrite,
    item: ReviewItem,
    action: Action,
    reviewer: str,
    reason: str,
    now: datetime,
    reasons: list[str],
    rc: Recheck | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record a final action (approved, rejected, expired) and close the item with it."""
    rec = _append(w, item, action, reviewer, reason, now, reasons, action, rc, extra)
    w.close_item(
        item.decision_id,
        status=action,
        reviewer=reviewer,
        action=action,
        reason=reason,
        decided_at=now,
    )
    return rec


def _append(
    w: ReviewWrite,
    item: ReviewItem,
    action: Action,
    reviewer: str,
    reason: str,
    now: datetime,
    reasons: list[str],
    status: str,
    rc: Recheck | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Seal a review record onto the review chain (inside the action's transaction)."""
    seq, prev = w.head(REVIEW_CHAIN)
    seq += 1
    record: dict[str, Any] = {
        "schema_version": RECORD_VERSION,
        "record_type": "review",
        "decision_id": _review_id(seq, item.decision_id, action),
        "review_of": item.decision_id,
        "event_id": item.event_id,
        "customer_id": item.customer_id,
        "rule_id": item.rule_id,
        "action": action,
        "status": status,
        "reviewer": reviewer,
        "reason": reason,
        "reasons": reasons,
        "recheck": rc.as_dict() if rc is not None else None,
        "notification_id": None,
        "deliver_at": None,
        "expires_at": item.expires_at.isoformat(),
        "decided_at": now.isoformat(),
        "created_at": now.isoformat(),
        "chain": REVIEW_CHAIN,
        "seq": seq,
        **(extra or {}),
    }
    rec = seal(record, prev)
    w.append(
        {
            "chain": REVIEW_CHAIN,
            "seq": seq,
            "decision_id": rec["decision_id"],
            "event_id": item.event_id,
            "customer_id": item.customer_id,
            "rule_id": item.rule_id,
            "verdict": action,
            "created_at": now,
            "prev_hash": rec["prev_hash"],
            "hash": rec["hash"],
            "record": _dumps(rec),
        }
    )
    return rec


def _pending(w: ReviewWrite, decision_id: str) -> ReviewItem:
    row = w.item(decision_id)
    if row is None:
        raise ReviewError(f"no review item {decision_id!r}")
    item = ReviewItem.from_row(row)
    if item.status != "pending":
        when = item.decided_at.isoformat() if item.decided_at else "earlier"
        raise AlreadyDecided(
            f"review item {decision_id} is already {item.status} "
            f"({item.action} by {item.reviewer} at {when}); nothing was done",
            item.status,
        )
    return item


def _required(reviewer: str, reason: str) -> tuple[str, str]:
    reviewer, reason = (reviewer or "").strip(), (reason or "").strip()
    if not reason:
        raise ReviewError("a reason is required: say why, for the audit trail")
    if not reviewer:
        raise ReviewError("the reviewer's name is required")
    return reviewer, reason


def _review_id(seq: int, decision_id: str, action: str) -> str:
    # the sequence number makes it unique; the rest makes it readable in a diff
    return str(uuid.uuid5(_NS, f"review|{seq}|{decision_id}|{action}"))


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj, default=str).decode()
