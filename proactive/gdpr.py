"""The customer's rights and retention: export everything, forget, purge by age.

* :func:`export_customer` — everything held on one customer (GDPR art. 15 and 20) as
  JSON-ready data: the context (profile, consents, usage, contact history), the events
  processed (ids and times, and the payloads still kept to act later), every decision
  and review record, the review items, contacts, deferred messages, the choices made on
  the preference page that still wait for the engine (``inbound_events``),
  notifications and dead letters — from the store and, for an embedded run, its output
  folder.
* :func:`forget` — erasure (art. 17) that keeps the audit trail verifiable. The
  customer's records in every chain are *redacted*, not deleted: the customer id
  becomes a random pseudonym and the personal fields (the message text of a decision;
  the reviewer's words of a review record) are removed. A schema 2 record's hash covers
  only commitments to those fields (:mod:`proactive.decisions`), so every hash and link
  stays valid. The context, contacts, deferred messages, waiting inbound events (the
  customer's choices not yet drained by an engine) and dead letters are deleted;
  review items and processed event ids stay under the pseudonym without their
  payloads. A sealed **erasure record** on the ``erasure`` chain lists every record
  redacted and counts what was deleted; ``proactive audit verify`` checks that every
  redaction is vouched for by one.
* :func:`purge` — retention (``retention`` in the policy): the same redaction, per
  item whose period has run out, with erasure records of kind ``retention``. The
  running service can call ``purge(store, policy, now)`` once a day.

A running engine follows the ``erasure`` chain and drops its cached contexts when it
grows, and its store commit does not write back a context erased while its batch was
in flight (``proactive.pipeline.Engine``, ``ContextStore.commit``).

Files of an embedded run (``decisions.jsonl``, ``notifications.jsonl``,
``dead-letter.jsonl``) are rewritten to match, when their folder is given. Do not run
these while an embedded run is writing to that folder (its open files would keep
appending to the replaced ones).

Example::

    erasure = forget(store, "C1", now=datetime.now(UTC), requested_by="dpo", out_dir=out)
    export_customer(store, "C1", out_dir=out)["decisions"]  # []
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from proactive import jsonl
from proactive.context import CustomerContext
from proactive.decisions import SCHEMA_VERSION, RedactionMark, record_type, redact, seal
from proactive.errors import ProactiveError
from proactive.ethics.policy import Policy
from proactive.review import ReviewItem
from proactive.store import ERASURE_CHAIN, ContextStore
from proactive.store.privacy import (
    PrivacyWrite,
    customer_rows,
    dead_letter_rows,
    privacy_write,
)

__all__ = [
    "ERASURE_CHAIN",
    "EXPORT_FORMAT",
    "Erasure",
    "GdprError",
    "PurgeResult",
    "export_customer",
    "forget",
    "purge",
]

EXPORT_FORMAT = "proactive.customer-export/1"

ITEMS_PER_RECORD = 1000
"""Redacted records listed per erasure record (a purge of many writes several)."""

DECISIONS, NOTIFICATIONS, DEAD_LETTERS = (
    "decisions.jsonl",
    "notifications.jsonl",
    "dead-letter.jsonl",
)

_NS = uuid.UUID("0b7f0c3e-8f3a-4d55-9d57-5a0e2c61b9a4")


class GdprError(ProactiveError):
    """An export, erasure or purge cannot be done (no customer id, no store …)."""


@dataclass
class Erasure:
    """What one :func:`forget` did."""

    record: dict[str, Any]
    """The sealed erasure record."""
    pseudonym: str
    redacted: int
    """Records redacted (decisions and review actions)."""
    removed: dict[str, int]
    files: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """Whether anything was held on the customer."""
        return bool(self.redacted or any(self.removed.values()) or any(self.files.values()))


@dataclass
class PurgeResult:
    """What one :func:`purge` did."""

    records: list[dict[str, Any]] = field(default_factory=list)
    """The sealed erasure records (kind ``retention``)."""
    redacted: int = 0
    removed: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    cutoffs: dict[str, str] = field(default_factory=dict)
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``purge --json``)."""
        return {
            "redacted": self.redacted,
            "removed": self.removed,
            "files": self.files,
            "cutoffs": self.cutoffs,
            "erasure_records": [r["decision_id"] for r in self.records],
            "note": self.note,
        }


# -- export ------------------------------------------------------------------------------


def export_customer(
    store: ContextStore | None,
    customer_id: str,
    *,
    out_dir: Path | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Everything held on ``customer_id`` as JSON-ready data (see the module docstring).

    Records are given as stored, with their chain links, so the customer (or a
    regulator) can check them with ``proactive audit verify``.
    """
    cid = _customer(customer_id)
    if store is None and out_dir is None:
        raise GdprError("nothing to export from: give a store or an output folder")
    held: dict[str, Any] = {
        "context": None,
        "context_updated_at": None,
        "events": [],
        "decisions": [],
        "contacts": [],
        "deferred": [],
        "review_items": [],
        "inbound": [],
    }
    sources: list[str] = []
    if store is not None:
        held = customer_rows(store, cid)
        sources.append("store")
    by_id: dict[str, dict[str, Any]] = {r["decision_id"]: r for r in held["decisions"]}
    notifications: list[dict[str, Any]] = []
    dead_letters: list[dict[str, Any]] = []
    if store is not None:
        for row in dead_letter_rows(store):
            if _mentions(row["raw"], cid):
                dead_letters.append(
                    {
                        "source": "store",
                        "reason": row["reason"],
                        "detail": row["detail"],
                        "original": row["raw"],
                        "received_at": row["received_at"].isoformat(),
                    }
                )
    if out_dir is not None:
        path = out_dir / DECISIONS
        if path.exists():
            sources.append(DECISIONS)
            for rec in jsonl.objects(path):
                if rec.get("customer_id") == cid and rec.get("decision_id") not in by_id:
                    by_id[str(rec.get("decision_id"))] = rec
        path = out_dir / NOTIFICATIONS
        if path.exists():
            sources.append(NOTIFICATIONS)
            notifications = [n for n in jsonl.objects(path) if _notification_of(n, cid)]
        path = out_dir / DEAD_LETTERS
        if path.exists():
            sources.append(DEAD_LETTERS)
            seen = {d["original"] for d in dead_letters}
            for d in jsonl.objects(path):
                original = str(d.get("original", ""))
                if _mentions(original, cid) and original not in seen:
                    dead_letters.append({"source": DEAD_LETTERS, **d})
    records = sorted(
        by_id.values(), key=lambda r: (str(r.get("created_at")), str(r.get("decision_id")))
    )
    payloads = {
        spec["event"]["id"]: spec["event"]
        for spec in [
            *(d["candidate"] for d in held["deferred"]),
            *(i["candidate"] for i in held["review_items"]),
        ]
        if isinstance(spec, dict) and isinstance(spec.get("event"), dict)
    }
    events = [{**e, "payload": payloads.pop(e["event_id"], None)} for e in held["events"]]
    # payloads of events whose processed-event row is gone (retention) are still held
    events += [
        {"event_id": eid, "event_time": ev.get("time"), "payload": ev}
        for eid, ev in payloads.items()
    ]
    return {
        "format": EXPORT_FORMAT,
        "customer_id": cid,
        "exported_at": (now or datetime.now(UTC)).isoformat(),
        "sources": sources,
        "profile": held["context"],
        "profile_updated_at": held["context_updated_at"],
        "events": events,
        "decisions": [r for r in records if record_type(r) == "decision"],
        "review_items": [ReviewItem.from_row(i).as_dict() for i in held["review_items"]],
        "review_actions": [r for r in records if record_type(r) == "review"],
        "notifications": notifications,
        "contacts": held["contacts"],
        "deferred": held["deferred"],
        # choices made on the preference page that no engine has processed yet
        "inbound_events": held["inbound"],
        "dead_letters": dead_letters,
    }


# -- forget ------------------------------------------------------------------------------


def forget(
    store: ContextStore,
    customer_id: str,
    *,
    now: datetime,
    requested_by: str,
    reference: str = "",
    out_dir: Path | None = None,
) -> Erasure:
    """Erase everything personal held on ``customer_id``; the chains stay verifiable.

    ``requested_by``: who carried it out (recorded); ``reference``: the request's case
    number, if any (recorded; put no personal data in it). With ``out_dir`` the files
    of that embedded run are rewritten too. Running it again for the same id finds
    nothing more in the store, and repairs files a crash left unrewritten.
    """
    cid = _customer(customer_id)
    who = requested_by.strip()
    if not who:
        raise GdprError("say who carries out the erasure (requested_by): it is recorded")
    now = now.astimezone(UTC)
    pseudonym = f"anon-{secrets.token_hex(8)}"
    plan = _FilePlan.scan(out_dir, lambda rec: rec.get("customer_id") == cid, cid)
    redacted: dict[str, tuple[RedactionMark, dict[str, Any]]] = {}
    with privacy_write(store) as w:
        seq, prev, eid = _next_erasure(w, "forget")
        mark = RedactionMark(eid, seq, "forget", now.isoformat())
        w.context(cid)  # PostgreSQL: lock the customer's row, as an approval does
        items = []
        for row in w.decisions_of(cid):
            rec = row["record"]
            changes = _forget_fields(rec, pseudonym)
            fields = redact(rec, changes, mark)
            if fields:
                items.append(_item(row["chain"], row["seq"], rec, fields))
            w.update_decision(row["chain"], row["seq"], rec, customer_id=pseudonym)
            # the file gets the record exactly as the store now holds it
            plan.sync[row["decision_id"]] = rec
            redacted[row["decision_id"]] = (mark, changes)
        for did in list(plan.only_in_file):
            if did not in plan.sync:
                stored = w.decision_record(did)
                if stored is None:
                    continue
                # erased before (the file was not rewritten then): copy the store's record
                plan.sync[did] = stored
            del plan.only_in_file[did]
        for did, rec in plan.only_in_file.items():
            # a record the file holds and this store does not (another store was used)
            changes = _forget_fields(rec, pseudonym)
            fields = redact(rec, changes, mark)
            if fields:
                items.append({**_item(rec["chain"], rec["seq"], rec, fields), "only_in": DECISIONS})
            redacted[did] = (mark, changes)
        dead = [i for i, raw in w.dead_letters() if _mentions(raw, cid)]
        removed = {
            "context": w.delete_customer(cid),
            "contacts": w.delete_contacts([cid]),
            "deferred": w.delete_deferred(cid),
            "review_items": w.erase_review_items(cid, pseudonym),
            "processed_events": w.relink_events(cid, pseudonym),
            "inbound_events": w.delete_inbound(cid),
            "dead_letters": w.delete_dead_letters(dead),
        }
        record = _erasure_record(
            seq,
            eid,
            "forget",
            now,
            who,
            items,
            removed,
            plan.counts(redacted),
            customer_id=pseudonym,
            reference=reference.strip() or None,
        )
        _append(w, record, prev)
    files = plan.rewrite(redacted)
    warnings = plan.warnings
    inputs = out_dir / "events.jsonl" if out_dir is not None else None
    if inputs is not None and inputs.exists() and _file_mentions(inputs, cid):
        warnings.append(
            f"{inputs} (an input, not an output of the engine) still "
            "holds events of this customer: erase them at their source"
        )
    return Erasure(record, pseudonym, len(items), removed, files, warnings)


def _forget_fields(rec: dict[str, Any], pseudonym: str) -> dict[str, Any]:
    if record_type(rec) == "review":
        return {"customer_id": pseudonym, "reason": None, "reasons": None, "message_sha256": None}
    return {"customer_id": pseudonym, "message": None}


# -- retention ---------------------------------------------------------------------------


def purge(
    store: ContextStore,
    policy: Policy,
    now: datetime,
    *,
    out_dir: Path | None = None,
    requested_by: str = "retention",
    batch: int = ITEMS_PER_RECORD,
) -> PurgeResult:
    """Remove what the policy's retention periods say is too old at ``now``.

    What goes, per period (each optional; see ``Retention`` in the policy model):
    ``message_text_days`` — the message text of decision records (and the message
    hash of review records); ``events_days`` — stored event payloads nothing will act
    on any more, and which customer a processed event id was; ``dead_letters_days`` —
    dead letters; ``inactive_customer_days`` — the context and contact history of a
    customer the engine has not seen for that long. Every redacted record is listed
    in an erasure record (kind ``retention``), at most ``batch`` per record and
    transaction, so an engine is never held up for long.

    Idempotent; a daily call from the running service::

        purge(engine.store, engine.check.policy, datetime.now(UTC))
    """
    now = now.astimezone(UTC)
    ret = policy.retention
    result = PurgeResult()
    if ret is None:
        result.note = "the policy sets no retention periods: nothing purged"
        return result

    def cutoff(days: int | None) -> datetime | None:
        return None if days is None else now - timedelta(days=days)

    text_cut = cutoff(ret.message_text_days)
    events_cut = cutoff(ret.events_days)
    dead_cut = cutoff(ret.dead_letters_days)
    quiet_cut = cutoff(ret.inactive_customer_days)
    result.cutoffs = {
        k: v.isoformat()
        for k, v in (
            ("message_text", text_cut),
            ("events", events_cut),
            ("dead_letters", dead_cut),
            ("inactive_customers", quiet_cut),
        )
        if v is not None
    }
    plan = _FilePlan.scan(out_dir, None, None, text_cut=text_cut, dead_cut=dead_cut)
    redacted: dict[str, tuple[RedactionMark, dict[str, Any]]] = {}
    if text_cut is not None:
        while True:
            # redacting only: engines go on committing meanwhile
            with privacy_write(store, deletes=False) as w:
                rows = w.decisions_before(
                    text_cut, "message", exclude_chain=ERASURE_CHAIN, limit=batch
                )
                if not rows:
                    break
                seq, prev, eid = _next_erasure(w, "retention")
                mark = RedactionMark(eid, seq, "retention", now.isoformat())
                items = []
                for row in rows:
                    rec = row["record"]
                    changes = _text_fields(rec)
                    fields = redact(rec, changes, mark) if changes else []
                    if fields:
                        items.append(_item(row["chain"], row["seq"], rec, fields))
                        redacted[row["decision_id"]] = (mark, changes)
                    w.update_decision(row["chain"], row["seq"], rec, done=["message"])
                if items:
                    record = _erasure_record(
                        seq,
                        eid,
                        "retention",
                        now,
                        requested_by,
                        items,
                        {},
                        {},
                        purpose="message_text",
                        cutoff=text_cut,
                    )
                    _append(w, record, prev)
                    result.records.append(record)
                    result.redacted += len(items)
    with privacy_write(store) as w:
        removed: dict[str, int] = {}
        if events_cut is not None:
            deferred, payloads = w.drop_event_payloads_before(events_cut)
            removed["event_payloads"] = deferred + payloads
            removed["event_links"] = w.unlink_events_before(events_cut)
        if dead_cut is not None:
            removed["dead_letters"] = w.delete_dead_letters_before(dead_cut)
        if quiet_cut is not None:
            gone = _inactive(w, quiet_cut)
            removed["contexts"] = w.delete_customers(gone)
            removed["contacts"] = w.delete_contacts(gone)
        files = plan.counts(redacted)
        result.removed = removed
        if any(removed.values()) or any(files.values()):
            seq, prev, eid = _next_erasure(w, "retention")
            record = _erasure_record(
                seq,
                eid,
                "retention",
                now,
                requested_by,
                [],
                removed,
                files,
                purpose="store",
                cutoffs=result.cutoffs,
            )
            _append(w, record, prev)
            result.records.append(record)
    result.files = plan.rewrite(redacted)
    return result


def _text_fields(rec: dict[str, Any]) -> dict[str, Any]:
    kind = record_type(rec)
    if kind == "decision":
        return {"message": None}
    if kind == "review":
        return {"message_sha256": None}
    return {}


def _inactive(w: PrivacyWrite, cut: datetime) -> list[str]:
    """Customers quiet since ``cut``: not changed since, no event since, nothing pending."""
    out = []
    for cid, doc in w.quiet_customers(cut):
        ctx = CustomerContext.decode(doc)
        last = ctx.last_event_at
        if last is not None and last.astimezone(UTC) >= cut:
            continue
        if ctx.pending:
            continue
        out.append(cid)
    return out


# -- the erasure record ------------------------------------------------------------------


def _next_erasure(w: PrivacyWrite, kind: str) -> tuple[int, str, str]:
    """The next erasure record's place: (its seq, the hash it links to, its id)."""
    seq, prev = w.head(ERASURE_CHAIN)
    return seq + 1, prev, _erasure_id(seq + 1, kind)


def _erasure_id(seq: int, kind: str) -> str:
    return str(uuid.uuid5(_NS, f"erasure|{seq}|{kind}|{uuid.uuid4()}"))


def _item(chain: str, seq: int, rec: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "chain": chain,
        "seq": seq,
        "decision_id": rec["decision_id"],
        "fields": sorted(fields),
    }
    digest = rec["redactions"][-1].get("content_sha256")
    if digest is not None:
        item["content_sha256"] = digest
    return item


def _erasure_record(
    seq: int,
    eid: str,
    kind: str,
    now: datetime,
    who: str,
    items: list[dict[str, Any]],
    removed: dict[str, int],
    files: dict[str, int],
    *,
    customer_id: str = "",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "record_type": "erasure",
        "decision_id": eid,
        "event_id": "",
        "customer_id": customer_id,
        "rule_id": "",
        "kind": kind,
        "requested_by": who,
        **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in extra.items()},
        "items": items,
        "removed": removed,
        "files": files,
        "created_at": now.isoformat(),
        "chain": ERASURE_CHAIN,
        "seq": seq,
    }


def _append(w: PrivacyWrite, record: dict[str, Any], prev: str) -> None:
    rec = seal(record, prev)
    w.append(
        {
            "chain": ERASURE_CHAIN,
            "seq": rec["seq"],
            "decision_id": rec["decision_id"],
            "event_id": "",
            "customer_id": rec["customer_id"],
            "rule_id": "",
            "verdict": rec["kind"],
            "created_at": datetime.fromisoformat(rec["created_at"]),
            "prev_hash": rec["prev_hash"],
            "hash": rec["hash"],
            "record": orjson.dumps(rec, default=str).decode(),
        }
    )


# -- the files of an embedded run --------------------------------------------------------


class _FilePlan:
    """What an erasure or purge changes in an output folder, found before the store
    transaction (the counts go into the erasure record) and written after it."""

    def __init__(self, out_dir: Path | None) -> None:
        self.out_dir = out_dir
        self.only_in_file: dict[str, dict[str, Any]] = {}
        self.sync: dict[str, dict[str, Any]] = {}
        """Records to copy from the store as they are there (redacted before)."""
        self.in_file: set[str] = set()
        self.drop: dict[str, Callable[[dict[str, Any]], bool]] = {}
        self.dropped: dict[str, int] = {}
        self.warnings: list[str] = []

    @classmethod
    def scan(
        cls,
        out_dir: Path | None,
        mine: Callable[[dict[str, Any]], bool] | None,
        cid: str | None,
        *,
        text_cut: datetime | None = None,
        dead_cut: datetime | None = None,
    ) -> _FilePlan:
        plan = cls(out_dir)
        if out_dir is None:
            return plan
        path = out_dir / DECISIONS
        if path.exists():
            for rec in jsonl.objects(path):
                did = str(rec.get("decision_id"))
                plan.in_file.add(did)
                if mine is not None and mine(rec):
                    plan.only_in_file[did] = rec
        if cid is not None:
            plan.drop[NOTIFICATIONS] = lambda n: _notification_of(n, cid)
            plan.drop[DEAD_LETTERS] = lambda d: _mentions(str(d.get("original", "")), cid)
        else:
            if text_cut is not None:
                plan.drop[NOTIFICATIONS] = lambda n: _before(_delivered(n), text_cut)
            if dead_cut is not None:
                plan.drop[DEAD_LETTERS] = lambda d: _before(d.get("received_at"), dead_cut)
        for name, test in plan.drop.items():
            path = out_dir / name
            plan.dropped[name] = (
                sum(1 for r in jsonl.objects(path) if test(r)) if path.exists() else 0
            )
        return plan

    def counts(self, redacted: dict[str, Any]) -> dict[str, int]:
        """Lines to change per file (for the erasure record)."""
        if self.out_dir is None:
            return {}
        out = {name: n for name, n in self.dropped.items() if n}
        n = len(self.in_file & (set(redacted) | set(self.sync)))
        if n:
            out[DECISIONS] = n
        return out

    def rewrite(self, redacted: dict[str, tuple[RedactionMark, dict[str, Any]]]) -> dict[str, int]:
        """Apply the plan; lines changed per file."""
        if self.out_dir is None:
            return {}
        done: dict[str, int] = {}
        path = self.out_dir / DECISIONS
        if path.exists() and (redacted or self.sync):
            n = 0

            def fix(rec: dict[str, Any]) -> dict[str, Any] | None:
                nonlocal n
                did = str(rec.get("decision_id"))
                stored = self.sync.get(did)
                # the same sealed record (redacting keeps the hash): take the store's copy;
                # a line that differs is only redacted, and the audit reports the difference
                if stored is not None and stored.get("hash") == rec.get("hash"):
                    n += rec != stored
                    return stored
                hit = redacted.get(did)
                if hit is not None:
                    mark, changes = hit
                    if redact(rec, changes, mark):
                        n += 1
                return rec

            _rewrite(path, fix)
            if n:
                done[DECISIONS] = n
        for name, test in self.drop.items():
            path = self.out_dir / name
            if not path.exists():
                continue
            m = 0

            def keep(rec: dict[str, Any], test: Callable[[dict[str, Any]], bool] = test) -> Any:
                nonlocal m
                if test(rec):
                    m += 1
                    return None
                return rec

            _rewrite(path, keep)
            if m:
                done[name] = m
        return done


def _rewrite(path: Path, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    """Rewrite a JSONL file line by line (None drops a line), replacing it atomically.

    Lines that are not JSON objects are kept as they are.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for _, line, rec in jsonl.lines(path):
                if rec is None:
                    out.write(line if line.endswith(b"\n") else line + b"\n")
                    continue
                new = change(rec)
                if new is not None:
                    out.write(orjson.dumps(new, default=str) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- helpers -----------------------------------------------------------------------------


def _customer(customer_id: str) -> str:
    cid = (customer_id or "").strip()
    if not cid:
        raise GdprError("a customer id is required")
    return cid


def _mentions(raw: str, cid: str) -> bool:
    """Whether a raw event (a dead letter's original bytes) is about ``cid``."""
    try:
        ev = orjson.loads(raw)
    except orjson.JSONDecodeError:
        ev = None
    if isinstance(ev, dict):
        return ev.get("subject") == cid
    # not JSON (truncated, malformed): look for the subject attribute in the text
    return re.search(r'"subject"\s*:\s*"' + re.escape(cid) + '"', raw) is not None


def _file_mentions(path: Path, cid: str) -> bool:
    needle = orjson.dumps(cid)
    with path.open("rb") as fh:
        return any(
            needle in line and _mentions(line.decode("utf-8", "replace"), cid) for line in fh
        )


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _notification_of(n: dict[str, Any], cid: str) -> bool:
    data = _obj(n.get("data"))
    addressee = _obj(data.get("addressee"))
    return cid in (n.get("subject"), data.get("customer_id"), addressee.get("on_behalf_of"))


def _delivered(n: dict[str, Any]) -> Any:
    return _obj(n.get("data")).get("deliver_at") or n.get("time")


def _before(value: Any, cut: datetime) -> bool:
    if not isinstance(value, str):
        return False
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    t = t if t.tzinfo else t.replace(tzinfo=UTC)
    return t < cut
