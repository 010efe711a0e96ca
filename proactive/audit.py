"""The audit: every decision chain verified end to end, every redaction vouched for.

:func:`verify` reads the store (every chain: ``main`` of an embedded run, one per
Kafka partition of the service, ``review``, ``erasure``) and/or the
``decisions.jsonl`` of an embedded run, and reports per chain the first broken link:

* **gap in seq** — a record is missing (or records are out of order);
* **prev_hash mismatch** — a record does not point at the one before it;
* **hash mismatch** — a record's content (or a committed personal field) changed;
* the stored chain head does not match the last record (records cut off the end),
  or a row's columns disagree with its record (sequence, id, hashes, and the
  customer, rule and verdict columns the explorer and ``forget`` select by).

Then the cross-checks an erasure needs (see :mod:`proactive.gdpr`): every redaction
mark on a record must be listed by the erasure record it names — same record, same
fields, and for a schema 1 record the same digest of the redacted content — and every
record an erasure record lists must be redacted, in the store and in the file. Where
both the store and the file hold a record, their hashes must agree.

A chain that verifies proves the records were not changed *since* their successors
were sealed; to prove the newest ones, keep the head hashes somewhere else too
(``proactive audit verify --json`` prints them).

Example::

    report = verify(store, Path("out/decisions.jsonl"))
    report.ok, report.first  # False, Finding(source='store', chain='main', seq=2, ...)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from proactive import jsonl
from proactive.decisions import ChainBreak, record_type, verify_chain
from proactive.gdpr import DECISIONS, ERASURE_CHAIN
from proactive.store import GENESIS_HASH, ContextStore
from proactive.store.privacy import chain_heads, chain_names, chain_rows

__all__ = ["AuditReport", "ChainStatus", "Finding", "verify"]

STORE = "store"


@dataclass(frozen=True)
class Finding:
    """One problem: where (source, chain, seq, decision id) and what is wrong."""

    source: str
    chain: str
    seq: int | None
    decision_id: str
    problem: str

    def __str__(self) -> str:
        seq = "?" if self.seq is None else str(self.seq)
        return (
            f"{self.source}: chain {self.chain}, seq {seq}, decision {self.decision_id}: "
            f"{self.problem}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "chain": self.chain,
            "seq": self.seq,
            "decision_id": self.decision_id,
            "problem": self.problem,
        }


@dataclass
class ChainStatus:
    """One chain in one source: how many records, its head, whether it verifies."""

    source: str
    chain: str
    records: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    ok: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "chain": self.chain,
            "records": self.records,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "ok": self.ok,
        }


@dataclass
class AuditReport:
    """Every chain checked and every problem found (the first per chain, then the
    cross-checks)."""

    chains: list[ChainStatus] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether everything verifies."""
        return not self.findings

    @property
    def first(self) -> Finding | None:
        """The first problem found, or None."""
        return self.findings[0] if self.findings else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``audit verify --json``)."""
        return {
            "ok": self.ok,
            "chains": [c.as_dict() for c in self.chains],
            "findings": [f.as_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class _Vouched:
    """One record an erasure record lists as redacted."""

    erasure_id: str
    erasure_seq: int
    fields: frozenset[str]
    content_sha256: str | None
    only_in: str | None


class _Erasures:
    """What the erasure chain vouches for, by (chain, seq) of the redacted record."""

    def __init__(self) -> None:
        self.by_record: dict[tuple[str, int], list[_Vouched]] = defaultdict(list)

    def add(self, erasure: dict[str, Any]) -> None:
        for item in erasure.get("items") or []:
            try:
                key = (str(item["chain"]), int(item["seq"]))
                self.by_record[key].append(
                    _Vouched(
                        str(erasure.get("decision_id")),
                        int(erasure.get("seq") or 0),
                        frozenset(item.get("fields") or ()),
                        item.get("content_sha256"),
                        item.get("only_in"),
                    )
                )
            except (KeyError, TypeError, ValueError):
                continue  # a malformed item vouches for nothing; its marks will show up

    def check(self, rec: dict[str, Any], seen: set[tuple[str, int, str]]) -> str | None:
        """Why the redaction marks of ``rec`` are not vouched for (None: they are)."""
        marks = rec.get("redactions") or []
        if not marks:
            return None
        key = (str(rec.get("chain")), int(rec.get("seq") or 0))
        vouched = self.by_record.get(key, [])
        for i, m in enumerate(marks):
            by, fields = str(m.get("by")), frozenset(m.get("fields") or ())
            match = next((v for v in vouched if v.erasure_id == by and v.fields == fields), None)
            if match is None:
                return (
                    f"redaction of {', '.join(sorted(fields)) or 'nothing'} is not vouched for: "
                    f"erasure record {by} does not list it (altered)"
                )
            # a schema 1 record: its last redaction vouches for the content as it is now
            last = i == len(marks) - 1
            digest = match.content_sha256
            if last and digest is not None and m.get("content_sha256") != digest:
                return (
                    "hash mismatch: the redacted content differs from what erasure record "
                    f"{by} vouched for (altered)"
                )
            seen.add((*key, by))
        return None

    def unredacted(
        self,
        source: str,
        copy: str,
        present: Iterable[tuple[str, int]],
        seen: set[tuple[str, int, str]],
    ) -> Iterator[Finding]:
        """Records an erasure lists that are in ``present`` but not redacted by it.

        ``copy`` is ``store`` or ``decisions.jsonl``: an item the erasure found only in
        the file (``only_in``) is not expected in the store.
        """
        for key in sorted(set(present) & set(self.by_record)):
            for v in self.by_record[key]:
                if v.only_in is not None and v.only_in != copy:
                    continue
                if (*key, v.erasure_id) not in seen:
                    yield Finding(
                        source,
                        key[0],
                        key[1],
                        "?",
                        f"erasure record {v.erasure_id} (erasure seq {v.erasure_seq}) lists "
                        f"{', '.join(sorted(v.fields))} of this record as erased, but the record "
                        "still holds them (not redacted, or restored)",
                    )


def verify(store: ContextStore | None = None, decisions_file: Path | None = None) -> AuditReport:
    """Verify every chain of the store and/or ``decisions.jsonl`` (see the module docstring)."""
    report = AuditReport()
    erasures = _Erasures()
    # the store's hashes, to compare with the file's (kept only when there is a file)
    store_hashes: dict[tuple[str, int], str] = {}
    keep = store_hashes if decisions_file is not None and decisions_file.exists() else None
    if store is not None:
        names = chain_names(store)
        # the erasure chain first: the other chains' redactions are checked against it
        order = sorted(names, key=lambda c: (c != ERASURE_CHAIN, c))
        heads = chain_heads(store)
        for chain in order:
            _store_chain(store, chain, heads.get(chain), erasures, report, keep)
    if decisions_file is not None and decisions_file.exists():
        _file(decisions_file, erasures, report, store, store_hashes)
    return report


def _columns(rec: dict[str, Any], chain: str) -> list[tuple[str, Any]]:
    """The columns that place a row in its chain; they must equal its record's fields."""
    return [
        ("seq", rec.get("seq")),
        ("decision_id", rec.get("decision_id")),
        ("prev_hash", rec.get("prev_hash")),
        ("hash", rec.get("hash")),
        ("chain", rec.get("chain", chain)),
    ]


def _search_columns(rec: dict[str, Any]) -> list[tuple[str, Any]]:
    """The columns the explorer's search, a product user's rule scope and ``forget``
    select by: a row altered to hide a decision (another customer, rule or verdict) is
    as broken as an altered record. The ``verdict`` column holds a decision's verdict, a
    review's action, an erasure's kind. Checked after the chain and the erasures, so an
    altered record is reported as what it is (a hash mismatch, a redaction nobody
    vouched for, erased data put back), not as its column."""
    kind = record_type(rec)
    verdict = (
        rec.get("action")
        if kind == "review"
        else rec.get("kind")
        if kind == "erasure"
        else rec.get("verdict")
    )
    return [
        ("customer_id", rec.get("customer_id") or ""),
        ("rule_id", rec.get("rule_id") or ""),
        ("verdict", verdict or ""),
    ]


def _disagreement(
    chain: str, row: dict[str, Any], expected: list[tuple[str, Any]]
) -> Finding | None:
    """The first of these columns whose stored value is not what the record says."""
    for col, value in expected:
        stored = row[col] if row[col] is not None else ""
        if value != stored:
            return Finding(
                STORE,
                chain,
                row["seq"],
                row["decision_id"],
                f"the row's {col} column ({row[col]}) disagrees with its record ({value}) "
                "(altered)",
            )
    return None


def _store_chain(
    store: ContextStore,
    chain: str,
    head: tuple[int, str] | None,
    erasures: _Erasures,
    report: AuditReport,
    hashes: dict[tuple[str, int], str] | None,
) -> None:
    status = ChainStatus(STORE, chain)
    report.chains.append(status)
    seen: set[tuple[str, int, str]] = set()
    present: list[tuple[str, int]] = []
    problems: list[Finding] = []
    columns: list[Finding] = []  # search columns: reported only if the chain holds

    def records() -> Iterator[dict[str, Any]]:
        for row in chain_rows(store, chain):
            try:
                rec = orjson.loads(row["record"])
            except orjson.JSONDecodeError:
                rec = None
            if not isinstance(rec, dict):
                problems.append(
                    Finding(STORE, chain, row["seq"], row["decision_id"], "unreadable record")
                )
                return
            placed = _disagreement(chain, row, _columns(rec, chain))
            if placed is not None:
                problems.append(placed)
                return
            if not columns:
                searched = _disagreement(chain, row, _search_columns(rec))
                if searched is not None:
                    columns.append(searched)
            yield rec

    def counted(recs: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for rec in recs:
            status.records += 1
            seq = int(rec.get("seq") or 0)
            status.head_seq, status.head_hash = seq, str(rec.get("hash"))
            if (chain, seq) in erasures.by_record:  # read first: the erasure chain comes first
                present.append((chain, seq))
            if hashes is not None:
                hashes[(chain, seq)] = status.head_hash
            if chain == ERASURE_CHAIN:
                erasures.add(rec)
            yield rec

    broken = verify_chain(counted(records()))
    if broken is not None:
        problems.insert(0, _finding(STORE, chain, broken))
    elif not problems:
        for rec in _redacted(store, chain):
            why = erasures.check(rec, seen)
            if why is not None:
                problems.append(
                    Finding(STORE, chain, rec.get("seq"), str(rec.get("decision_id")), why)
                )
                break
        if head is None:
            if status.records:
                problems.append(
                    Finding(STORE, chain, None, "-", "the chain has records but no stored head")
                )
        elif head != (status.head_seq, status.head_hash):
            problems.append(
                Finding(
                    STORE,
                    chain,
                    head[0],
                    "-",
                    f"chain head mismatch: the stored head is seq {head[0]} ({head[1][:12]}…), "
                    f"the last record is seq {status.head_seq} ({status.head_hash[:12]}…) "
                    "(records removed from the end, or the head moved)",
                )
            )
        problems += list(erasures.unredacted(STORE, STORE, present, seen))
        if not problems and columns:
            problems.append(columns[0])
    if problems:
        status.ok = False
        report.findings.append(problems[0])
        report.findings += [p for p in problems[1:] if "erasure record" in p.problem]


def _redacted(store: ContextStore, chain: str) -> Iterator[dict[str, Any]]:
    """The chain's redacted records (a second pass: most records carry no marks)."""
    for row in chain_rows(store, chain):
        if b'"redactions"' in row["record"].encode():
            rec = orjson.loads(row["record"])
            if rec.get("redactions"):
                yield rec


def _file(
    path: Path,
    erasures: _Erasures,
    report: AuditReport,
    store: ContextStore | None,
    store_hashes: dict[tuple[str, int], str],
) -> None:
    source = str(path)
    chains: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for n, _, rec in jsonl.lines(path):
        if rec is None:
            report.chains.append(ChainStatus(source, "?", ok=False))
            report.findings.append(Finding(source, "?", None, f"line {n}", "unreadable line"))
            return
        chains[str(rec.get("chain") or "main")].append(rec)
    for chain, recs in chains.items():
        status = ChainStatus(source, chain, records=len(recs))
        report.chains.append(status)
        first = recs[0].get("seq")
        genesis, first_seq = GENESIS_HASH, 1
        problems: list[Finding] = []
        if isinstance(first, int) and first > 1:
            # the file starts later (another run's store, a rotated file): anchor it
            anchor = store_hashes.get((chain, first - 1))
            if anchor is None:
                problems.append(
                    Finding(
                        source,
                        chain,
                        first,
                        str(recs[0].get("decision_id")),
                        f"gap in seq: the file starts at seq {first} and no source holds "
                        f"seq {first - 1} to anchor it",
                    )
                )
            genesis, first_seq = anchor or GENESIS_HASH, first
        last = recs[-1]
        status.head_seq, status.head_hash = int(last.get("seq") or 0), str(last.get("hash"))
        if not problems:
            broken = verify_chain(recs, genesis, first_seq=first_seq)
            if broken is not None:
                problems.append(_finding(source, chain, broken))
        if not problems:
            seen: set[tuple[str, int, str]] = set()
            for rec in recs:
                key = (chain, int(rec.get("seq") or 0))
                stored = store_hashes.get(key)
                if stored is not None and stored != rec.get("hash"):
                    problems.append(
                        Finding(
                            source,
                            chain,
                            key[1],
                            str(rec.get("decision_id")),
                            "the file and the store disagree on this record's hash (one of "
                            "them was rewritten)",
                        )
                    )
                    break
                # without the store there are no erasure records to check redactions against
                why = erasures.check(rec, seen) if store is not None else None
                if why is not None:
                    problems.append(
                        Finding(source, chain, key[1], str(rec.get("decision_id")), why)
                    )
                    break
            if not problems and store is not None:
                present = [(chain, int(r.get("seq") or 0)) for r in recs]
                problems += list(erasures.unredacted(source, DECISIONS, present, seen))
        if problems:
            status.ok = False
            report.findings.append(problems[0])
            report.findings += [p for p in problems[1:] if "erasure record" in p.problem]


def _finding(source: str, chain: str, broken: ChainBreak) -> Finding:
    return Finding(source, chain, broken.seq, broken.decision_id, broken.problem)
