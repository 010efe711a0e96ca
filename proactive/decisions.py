"""Decision records: one per candidate action, whatever the verdict, in a hash chain.

A record holds everything needed to explain and audit the decision: the trigger,
the rule and both revisions, the action, channel and language, the message (or its
hash where the policy masks it), the score per dimension with reasons and evidence,
the value check, the limits, the verdict with reasons, and ``prev_hash``/``hash``.

**Schema 2: personal fields are committed, not hashed.** The chain must stay
verifiable after a customer's data is erased (GDPR art. 17) or its retention period
ends, so ``hash`` is not computed over personal data itself. The personal fields of a
record (:data:`PERSONAL_FIELDS`: the customer id and the message text of a decision;
the customer id and the reviewer's words of a review record) are each *committed*:
``commitments[f] = SHA-256(salt_f | f | canonical JSON of the value)`` with a 128-bit
salt kept next to it in ``salts[f]``. ``hash`` is SHA-256 over the canonical JSON of
the record without ``hash``, ``salts``, ``redactions`` and the committed fields, but
*with* ``commitments``. Verifying checks both: every committed value still matches
its commitment, and the rest matches the hash. So changing any stored field still
breaks the chain at that record, while :func:`redact` can replace a personal value
(and drop its salt) and every hash stays valid: the commitment keeps binding the record
to the value it held, and without the salt nobody can test a guess against it.

Salts are derived as HMAC(seal key, chain | decision id | field): with ``PROACTIVE_SEAL_KEY``
set, a replay of the same events seals byte-identical records; without it each
process uses a fresh random key. The key is needed only to seal, never to verify
(the salts are stored), so it can be rotated at any time; whoever holds the key of a
record's time could confirm a guessed erased value, so keep it secret like the log
mask key (see ``docs/privacy.md``).

Schema 1 records (hash over the whole record) still verify. They can be redacted
too, but then their own hash can no longer be checked: the redaction mark carries a
digest of the redacted content, which the sealed erasure record vouches for (see
:mod:`proactive.audit`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from proactive.candidates import Candidate
from proactive.ethics.check import Assessment
from proactive.ethics.policy import DIMENSIONS

SCHEMA_VERSION = 2
"""2: personal fields committed (see the module docstring); 1: hash over the whole record."""
_NS = uuid.UUID("6f1d3a52-5b0e-4f7e-9c7e-2a8f6d1c0b11")

PERSONAL_FIELDS: Mapping[str, tuple[str, ...]] = {
    # what says who the decision was about and what they were told
    "decision": ("customer_id", "message"),
    # the reviewer's own words may describe the customer; message_sha256 is unsalted
    "review": ("customer_id", "reason", "reasons", "message_sha256"),
    # an erasure record holds a pseudonym and counts, nothing personal
    "erasure": (),
}
"""The committed (redactable) fields of each record type (``record_type``, default decision)."""

UNHASHED = ("hash", "salts", "redactions")
"""Keys outside the hash: the hash itself, the salts (dropped on redaction), redaction marks."""

_SEAL_KEY = os.environ.get("PROACTIVE_SEAL_KEY", "").encode() or os.urandom(32)


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


def record_type(record: Mapping[str, Any]) -> str:
    """``decision``, ``review`` or ``erasure``."""
    return str(record.get("record_type") or "decision")


def personal_fields(record: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields of this record that are personal data (committed in schema 2)."""
    return PERSONAL_FIELDS.get(record_type(record), ())


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's hash is computed over.

    Schema 1: everything but ``hash``. Schema 2: also without the salts, the redaction
    marks and the committed personal fields (``commitments`` stands in for them).
    """
    skip = {*UNHASHED, *(record.get("commitments") or ())}
    body = {k: v for k, v in record.items() if k not in skip}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str)


def commitment(salt: str, name: str, value: Any) -> str:
    """The commitment to one personal field: SHA-256 over salt, field name and value."""
    data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(bytes.fromhex(salt) + b"|" + name.encode() + b"|" + data).hexdigest()


def _salt(record: Mapping[str, Any], name: str) -> str:
    msg = f"{record.get('chain', '')}|{record.get('decision_id', '')}|{name}".encode()
    return hmac.new(_SEAL_KEY, msg, hashlib.sha256).hexdigest()[:32]


def seal(record: dict[str, Any], prev_hash: str) -> dict[str, Any]:
    """Link a record to the chain: set ``prev_hash`` and ``hash``.

    A schema 2 record also gets ``commitments`` and ``salts`` for its personal fields.

    Example::

        rec = seal({"schema_version": 2, "decision_id": "d1", "customer_id": "C1"}, "0" * 64)
        verify_chain([rec]) is None  # True
    """
    record["prev_hash"] = prev_hash
    if int(record.get("schema_version") or 1) >= 2:
        names = [f for f in personal_fields(record) if f in record]
        salts = {f: _salt(record, f) for f in names}
        record["commitments"] = {f: commitment(salts[f], f, record[f]) for f in names}
        record["salts"] = salts
    record["hash"] = hashlib.sha256(canonical(record)).hexdigest()
    return record


@dataclass(frozen=True)
class ChainBreak:
    """Where a chain stops verifying: the record's position, its id, what is wrong.

    ``problem`` starts with the kind of break: ``gap in seq``, ``prev_hash mismatch``
    or ``hash mismatch``.
    """

    index: int
    decision_id: str
    problem: str
    seq: int | None = None
    chain: str | None = None


def content_problem(rec: Mapping[str, Any]) -> str | None:
    """Why one record's content does not match what was sealed (None: it matches).

    Checks the committed personal fields (unless redacted) and the hash; a redacted
    schema 1 record is checked against the content digest of its last redaction mark
    (:mod:`proactive.audit` checks that an erasure record vouches for that digest).
    """
    marks = rec.get("redactions") or []
    commitments = rec.get("commitments")
    if commitments is None and int(rec.get("schema_version") or 1) >= 2:
        return "hash mismatch: a schema 2 record without its commitments (altered)"
    if commitments is None and marks:
        want = marks[-1].get("content_sha256")
        if want is None or hashlib.sha256(canonical(rec)).hexdigest() != want:
            return (
                "hash mismatch: the redacted record does not match its redaction digest (altered)"
            )
        return None
    if commitments is not None:
        redacted = {f for m in marks for f in m.get("fields", ())}
        salts = rec.get("salts") or {}
        for name, want in sorted(commitments.items()):
            if name in redacted:
                continue
            salt = salts.get(name)
            if not isinstance(salt, str) or name not in rec:
                return f"hash mismatch: personal field {name!r} was removed without a redaction mark (altered)"
            if commitment(salt, name, rec[name]) != want:
                return f"hash mismatch: personal field {name!r} does not match its commitment (altered)"
        for m in marks:
            stray = [f for f in m.get("fields", ()) if f not in commitments]
            if stray:
                return f"hash mismatch: redacted field(s) {', '.join(stray)} were not committed (altered)"
    if hashlib.sha256(canonical(rec)).hexdigest() != rec.get("hash"):
        return "hash mismatch: the record's content does not match its hash (altered)"
    return None


def verify_chain(
    records: Iterable[Mapping[str, Any]],
    genesis: str = "0" * 64,
    *,
    first_seq: int | None = None,
) -> ChainBreak | None:
    """Check every link; return the first broken one, or None when the chain holds.

    Records that carry ``seq`` must count up by one from ``first_seq`` (default 1 when
    the chain starts at the all-zero genesis hash): a missing record is named as a gap.

    Example::

        broken = verify_chain(store.decision_records("main"))
        broken and print(broken.seq, broken.decision_id, broken.problem)
    """
    prev = genesis
    expect = first_seq if first_seq is not None else (1 if genesis == "0" * 64 else None)
    for i, rec in enumerate(records):
        did = str(rec.get("decision_id"))
        raw_seq, raw_chain = rec.get("seq"), rec.get("chain")
        seq = raw_seq if isinstance(raw_seq, int) else None
        chain = raw_chain if isinstance(raw_chain, str) else None
        if seq is not None:
            if expect is not None and seq != expect:
                gap = f"gap in seq: expected seq {expect}, found seq {seq}"
                return ChainBreak(i, did, gap, seq, chain)
            expect = seq + 1
        if rec.get("prev_hash") != prev:
            unlinked = "prev_hash mismatch: prev_hash does not match the previous record's hash"
            return ChainBreak(i, did, unlinked, seq, chain)
        problem = content_problem(rec)
        if problem is not None:
            return ChainBreak(i, did, problem, seq, chain)
        prev = str(rec["hash"])
    return None


@dataclass(frozen=True)
class RedactionMark:
    """Who vouches for a redaction: the erasure record (id and seq on the erasure
    chain), its kind (``forget`` or ``retention``) and when."""

    by: str
    erasure_seq: int
    kind: str
    at: str


def redact(
    record: dict[str, Any], replacements: Mapping[str, Any], mark: RedactionMark
) -> list[str]:
    """Replace personal fields of a sealed record and mark it; the chain stays verifiable.

    ``replacements`` maps field → what takes its place (None, or a pseudonym for the
    customer id). Fields absent from the record, already redacted, or already holding
    the replacement are left alone. ``mark`` names the erasure record that vouches for
    the redaction. Returns the fields redacted (empty: nothing changed).

    Example::

        redact(rec, {"customer_id": "anon-1f2e", "message": None},
               RedactionMark(erasure_id, 3, "forget", now.isoformat()))
    """
    marks: list[dict[str, Any]] = record.get("redactions") or []
    done = {f for m in marks for f in m.get("fields", ())}
    commitments = record.get("commitments")
    fields = []
    for name, value in replacements.items():
        if name not in record or name in done or record[name] == value:
            continue
        if commitments is not None and name not in commitments:
            raise ValueError(
                f"{name!r} is not a committed field of record {record.get('decision_id')}"
            )
        fields.append(name)
    if not fields:
        return []
    for name in fields:
        record[name] = replacements[name]
        if commitments is not None:
            record["salts"].pop(name, None)
    entry: dict[str, Any] = {
        "by": mark.by,
        "seq": mark.erasure_seq,
        "kind": mark.kind,
        "at": mark.at,
        "fields": fields,
    }
    if commitments is None:
        # schema 1: the hash covered the personal data; the erasure record vouches instead
        entry["content_sha256"] = hashlib.sha256(canonical(record)).hexdigest()
    record["redactions"] = [*marks, entry]
    return fields


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
