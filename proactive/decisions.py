"""Decision records: one per candidate action, whatever the verdict, in a hash chain.

A record holds everything needed to explain and audit the decision: the trigger,
the rule and both revisions, the action, channel and language, the message (or its
hash where the policy masks it), the score per dimension with reasons and evidence,
the value check, the limits, the verdict with reasons, and ``prev_hash``/``hash``.
``hash`` is SHA-256 over the canonical JSON of the record without ``hash``, so
changing any stored record breaks the chain from that record on.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from proactive.candidates import Candidate
from proactive.ethics.check import Assessment
from proactive.ethics.policy import DIMENSIONS

SCHEMA_VERSION = 1
_NS = uuid.UUID("6f1d3a52-5b0e-4f7e-9c7e-2a8f6d1c0b11")


def decision_id(event_id: str, rule_id: str, variant: str, attempt: str = "") -> str:
    """Deterministic id: a replay of the same event decides under the same id."""
    return str(uuid.uuid5(_NS, f"decision|{event_id}|{rule_id}|{variant}|{attempt}"))


def window_key(c: Candidate) -> str:
    """The trigger window of a candidate: one notification per customer, rule and window."""
    rule = c.rule.rule
    if rule.window == "event":
        return f"event:{c.event.id}"
    if rule.window == "day":
        return f"day:{c.event.time.date().isoformat()}"
    if rule.window == "billing_cycle":
        cur = c.ctx.current_cycle()
        return f"cycle:{cur.cycle_start.isoformat()}" if cur else f"event:{c.event.id}"
    seconds = int(rule.cooldown.total_seconds())
    if seconds <= 0:
        return f"event:{c.event.id}"
    return f"cooldown:{int(c.event.time.timestamp()) // seconds}"


def notification_id(c: Candidate) -> str:
    """Idempotency key of the notification: customer, rule and trigger window."""
    return str(uuid.uuid5(_NS, f"notification|{c.ctx.customer_id}|{c.rule_id}|{window_key(c)}"))


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes a record's hash is computed over."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str)


def seal(record: dict[str, Any], prev_hash: str) -> dict[str, Any]:
    """Link a record to the chain: set ``prev_hash`` and ``hash``."""
    record["prev_hash"] = prev_hash
    record["hash"] = hashlib.sha256(canonical(record)).hexdigest()
    return record


@dataclass(frozen=True)
class ChainBreak:
    """Where a chain stops verifying."""

    index: int
    decision_id: str
    problem: str


def verify_chain(records: Iterable[dict[str, Any]], genesis: str = "0" * 64) -> ChainBreak | None:
    """Check every link; return the first broken one, or None when the chain holds."""
    prev = genesis
    for i, rec in enumerate(records):
        did = str(rec.get("decision_id"))
        if rec.get("prev_hash") != prev:
            return ChainBreak(i, did, "prev_hash does not match the previous record's hash")
        if hashlib.sha256(canonical(rec)).hexdigest() != rec.get("hash"):
            return ChainBreak(i, did, "record content does not match its hash (altered)")
        prev = str(rec["hash"])
    return None


def build_record(
    c: Candidate,
    a: Assessment,
    *,
    rules_revision: str,
    ethics_revision: str,
    mask_message: bool,
    arbitration: str | None = None,
    released_from: str | None = None,
) -> dict[str, Any]:
    """The decision record of one assessed candidate (not yet sealed)."""
    m = c.message
    message: dict[str, Any] | None = None
    if m is not None:
        message = {
            "sender": m.sender,
            "subject": m.subject,
            "body": m.body,
            "reason": m.reason,
            "decline": m.decline,
            "human_route": m.human,
        }
        if m.sms is not None:
            message["sms"] = {
                "encoding": m.sms.encoding,
                "units": m.sms.units,
                "segments": m.sms.segments,
            }
        if mask_message:
            message = {"sha256": hashlib.sha256(m.text.encode()).hexdigest()}
    scores = a.scores_dict()
    return {
        "schema_version": SCHEMA_VERSION,
        "decision_id": decision_id(c.event.id, c.rule_id, c.variant, released_from or ""),
        "event_id": c.event.id,
        "event_type": c.event.type,
        "customer_id": c.ctx.customer_id,
        "rule_id": c.rule_id,
        "rules_revision": rules_revision,
        "ethics_revision": ethics_revision,
        "variant": c.variant,
        "released_from": released_from,
        "action": {
            "purpose": c.purpose,
            "offer": None
            if c.offer is None
            else {
                "id": c.offer.offer_id,
                "name": c.offer.name,
                "price_eur": c.offer.price_eur,
                "recurring": c.offer.recurring,
                "basis": c.offer.basis,
            },
            "template": c.rule.rule.template,
            # a sensitive message in the secure inbox: the plain notice's channel
            "notice_channel": c.notice_channel,
        },
        "channel": c.channel,
        "channel_reason": c.channel_reason,
        "language": c.language,
        # who the decision concerns, coarsely: reports compare outcomes per segment
        "segment": {
            "age_band": c.ctx.age_band,
            "language": c.ctx.language,
            "channel": c.channel,
            "segment": c.ctx.segment,
        },
        "message": message,
        "scores": {d: scores[d] for d in DIMENSIONS if d in scores},
        "overall": a.overall,
        "value": a.value.as_dict() if a.value else None,
        "limits": [h.as_dict() for h in a.limits],
        "manipulation": [f.as_dict() for f in a.manipulation],
        "verdict": a.verdict,
        "reasons": a.reasons,
        "warnings": a.warnings,
        "arbitration": arbitration,
        "exception": a.exception,
        "deliver_at": a.deliver_at.isoformat() if a.deliver_at else None,
        "notification_id": notification_id(c),
        "trigger_time": c.event.time.isoformat(),
        "decided_at": c.at.isoformat(),
        # the decision moment (event time, or due time of a release): replaying the
        # same events yields byte-identical records and hashes
        "created_at": c.at.isoformat(),
    }


def with_arbitration_loss(record: dict[str, Any], winner: str, why: str) -> dict[str, Any]:
    """Turn a record into a block because another candidate won arbitration.

    ``ethics_verdict`` keeps what the ethics check itself said, so a report can tell an
    action the check held back from one that only lost its turn.
    """
    record["ethics_verdict"] = record["verdict"]
    record["verdict"] = "block"
    record["arbitration"] = f"lost to {winner}: {why}"
    record["reasons"] = [*record["reasons"], f"arbitration: {why}; {winner} goes instead"]
    return record
