"""The backtest: replay a history of events through a candidate rule set, with no side effects.

A rule author asks "what would this rule set have done to last quarter's customers?"
before it goes live. :func:`run_backtest` answers it by running the real engine
(:func:`proactive.app.open_engine`: the same rules, check, arbitration, deferral and
release as ``proactive run``) over a JSONL history, once per rule set, and folding what
came out into a :class:`Backtest`:

* per rule: how often it fired, the verdicts, how many customers would get a message,
  on which channel, with which offer, and the score distributions (the ethics report's
  :class:`~proactive.report.RuleReport`);
* with a baseline rule set (the same events through ``--baseline``): per rule the
  counts of both with their deltas, the rules only one of them has, and the customers
  who would gain or lose a message (:class:`Diff`);
* the fairness breakdown per segment of ``policy.fairness.segments`` (age band,
  language, channel by default) and the governance and fairness alerts.

No side effects: each rule set runs against a throw-away SQLite store of its own,
inside ``OUT/candidate`` or ``OUT/baseline`` and deleted when the replay ends. The
settings' store URL and metrics port are ignored, so a ``PROACTIVE_STORE_URL`` pointing
at the production database is never opened; nothing goes to Kafka and nothing is sent.
What stays in ``OUT/<side>`` is what ``proactive run`` writes there (``decisions.jsonl``,
``notifications.jsonl``: what *would* have been sent, ``dead-letter.jsonl``), so
``proactive explain ID --out OUT/candidate`` explains any decision of the backtest, plus
that side's full ethics report.

Both rule sets read the history in one pass, batch by batch (``settings.batch_size``,
as ``proactive run`` does: batch boundaries decide when deferred messages are
released, so the same size gives the same decisions).

Example::

    settings = load_settings()
    bt = run_backtest(settings, "history.jsonl", Path("out/bt"), baseline_dir=Path("rules"))
    bt.diff.only_baseline  # ("roaming-cost-info",): the candidate dropped it
    write_report(bt)       # out/bt/backtest.html
    print_backtest(bt, Console())
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, Literal

import orjson
from markupsafe import Markup
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proactive import charts
from proactive.app import clear_outputs, open_engine, read_lines
from proactive.config import Settings
from proactive.ethics.policy import DIMENSIONS, Policy
from proactive.events import CHANNELS
from proactive.pipeline import Engine, Summary
from proactive.report import (
    FLAGGED_RATES,
    VERDICTS,
    Alert,
    EthicsReport,
    GroupStats,
    RuleReport,
    disparity_line,
    fairness_chart,
    fairness_table,
    records_from_jsonl,
    render_html,
    render_page,
    rule_charts,
    summarise,
)

CANDIDATE = "candidate"
BASELINE = "baseline"
PAGE = "backtest.html"
"""The backtest page, in ``--out``."""

ETHICS_PAGE = "ethics-report.html"
"""Each side's full ethics report (reasons, warnings, exceptions), in ``OUT/<side>``."""

CUSTOMER_LIMIT = 500
"""How many changed customers the page and ``--json`` list; all of them are counted."""

NO_OFFER = "none"

SECURE_NOTICE = "secure_notice"
"""The ``data.kind`` of a notification that only says a sensitive message waits."""
"""The offer key of a message without an offer (a service notice)."""

COUNTS = ("fired", "decisions", *VERDICTS, "customers", "messages")
"""The per-rule counts compared between candidate and baseline, in this order."""

SIDE_COLOURS: Mapping[str, str] = {BASELINE: "#9e9e9e", CANDIDATE: "#1565c0"}

_STATE_FILES = ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm")


# -- the result ----------------------------------------------------------------------


@dataclass(frozen=True)
class EventCounts:
    """What happened to the lines of the history (the same for both rule sets)."""

    read: int
    accepted: int
    dead_lettered: int
    dead_letter_reasons: dict[str, int]
    duplicates: int


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule would have done over the history."""

    rule_id: str
    fired: int
    """Events that matched the rule (a fired rule can give several decisions: an
    offer-less fallback, a release of a deferred message)."""
    decisions: int
    verdicts: dict[str, int]
    customers: int
    """Distinct customers who would get at least one message of this rule."""
    messages: int
    """Messages that would have been sent (released deferrals included)."""
    notices: int
    """Secure notices: when a sensitive message goes to the secure inbox, a plain
    notice on the customer's own channel says that it waits. Counted apart: it
    accompanies a message and is never one of its own."""
    channels: dict[str, int]
    """Messages per channel."""
    offers: dict[str, int]
    """Messages per offer id; ``"none"`` for a message without an offer."""
    ethics: RuleReport | None
    """The rule's part of the ethics report (score distributions, reasons); None
    when the rule took no decision."""

    def counts(self) -> dict[str, int]:
        """The counts :data:`COUNTS` names, for the comparison with a baseline."""
        return {
            "fired": self.fired,
            "decisions": self.decisions,
            **{v: self.verdicts.get(v, 0) for v in VERDICTS},
            "customers": self.customers,
            "messages": self.messages,
        }

    def as_dict(self) -> dict[str, Any]:
        rr = self.ethics
        return {
            **self.counts(),
            "notices": self.notices,
            "verdicts": dict(self.verdicts),
            "channels": dict(self.channels),
            "offers": dict(self.offers),
            "overall": None
            if rr is None
            else {"mean": rr.overall.mean, "p10": rr.overall.p10, "median": rr.overall.median},
            "mean_scores": {d: None if rr is None else rr.dimensions[d].mean for d in DIMENSIONS},
        }


@dataclass(frozen=True)
class Replay:
    """One rule set over the history."""

    label: str
    rules_dir: str
    rules_revision: str
    out_dir: str
    events: EventCounts
    rules: tuple[RuleOutcome, ...]
    """Every rule of the rule set, in id order, also those that never fired."""
    ethics: EthicsReport
    definitions: dict[str, str] = dataclasses.field(repr=False)
    """Each rule's definition as canonical JSON, to tell a changed rule from the same."""
    messages: dict[str, dict[str, int]] = dataclasses.field(repr=False)
    """Messages per customer and rule (for the diff; not printed: one entry per customer)."""

    def rule(self, rule_id: str) -> RuleOutcome | None:
        """The outcome of one rule, or None when this rule set does not have it."""
        return next((r for r in self.rules if r.rule_id == rule_id), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rules_dir": self.rules_dir,
            "rules_revision": self.rules_revision,
            "out_dir": self.out_dir,
            "decisions": self.ethics.decisions,
            "verdicts": dict(self.ethics.verdicts),
            "messages": sum(r.messages for r in self.rules),
            "customers": len(self.messages),
            "rules": {r.rule_id: r.as_dict() for r in self.rules},
            "fairness": [dataclasses.asdict(s) for s in self.ethics.fairness],
            "alerts": [dataclasses.asdict(a) for a in self.ethics.alerts],
        }


@dataclass(frozen=True)
class RuleDelta:
    """One rule's counts in the candidate and the baseline (None where it is absent)."""

    rule_id: str
    status: Literal["added", "removed", "changed", "unchanged"]
    """``changed``: the rule's own YAML entry differs. A changed template or offer
    catalogue changes the revision, not this status."""
    candidate: dict[str, int] | None
    baseline: dict[str, int] | None

    @property
    def delta(self) -> dict[str, int]:
        """Candidate minus baseline per count (an absent side counts as zero)."""
        c, b = self.candidate or {}, self.baseline or {}
        return {k: c.get(k, 0) - b.get(k, 0) for k in COUNTS}

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "candidate": self.candidate,
            "baseline": self.baseline,
            "delta": self.delta,
        }


@dataclass(frozen=True)
class CustomerChange:
    """A customer who would get more or fewer messages from the candidate."""

    customer_id: str
    baseline: int
    candidate: int
    rules: dict[str, int]
    """Per rule whose messages differ: candidate minus baseline."""


@dataclass(frozen=True)
class GroupDelta:
    """One group of a segment in both runs (None where a run has no decision for it)."""

    group: str
    candidate: GroupStats | None
    baseline: GroupStats | None


@dataclass(frozen=True)
class SegmentDelta:
    """One segment's groups in both runs."""

    segment: str
    groups: tuple[GroupDelta, ...]


@dataclass(frozen=True)
class Diff:
    """The candidate against the baseline."""

    rules: tuple[RuleDelta, ...]
    only_candidate: tuple[str, ...]
    only_baseline: tuple[str, ...]
    customers_gaining: int
    """Customers with more messages of at least one rule (may also lose another's)."""
    customers_losing: int
    messages_gained: int
    messages_lost: int
    changed_customers: int
    changes: tuple[CustomerChange, ...]
    """The first :data:`CUSTOMER_LIMIT` changed customers, largest change first."""
    fairness: tuple[SegmentDelta, ...]
    new_alerts: tuple[Alert, ...]
    """Candidate alerts the baseline does not raise (same kind, code and subject)."""
    resolved_alerts: tuple[Alert, ...]
    """Baseline alerts the candidate no longer raises."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rules": {d.rule_id: d.as_dict() for d in self.rules},
            "only_candidate": list(self.only_candidate),
            "only_baseline": list(self.only_baseline),
            "customers_gaining": self.customers_gaining,
            "customers_losing": self.customers_losing,
            "messages_gained": self.messages_gained,
            "messages_lost": self.messages_lost,
            "changed_customers": self.changed_customers,
            "changes": [dataclasses.asdict(c) for c in self.changes],
            "new_alerts": [dataclasses.asdict(a) for a in self.new_alerts],
            "resolved_alerts": [dataclasses.asdict(a) for a in self.resolved_alerts],
        }


@dataclass(frozen=True)
class Backtest:
    """A backtest: the candidate's replay, the baseline's (optional) and the difference."""

    events_file: str
    out_dir: str
    policy_revision: str
    seconds: float
    """Wall time of the replay (every rule set; without loading and reporting)."""
    candidate: Replay
    baseline: Replay | None
    diff: Diff | None

    @property
    def events(self) -> EventCounts:
        return self.candidate.events

    @property
    def events_per_second(self) -> float:
        """History lines replayed per second (through every rule set)."""
        return self.events.read / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The machine summary (what ``--json`` prints)."""
        return {
            "events_file": self.events_file,
            "out": self.out_dir,
            "policy_revision": self.policy_revision,
            "events": dataclasses.asdict(self.events),
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
            CANDIDATE: self.candidate.as_dict(),
            BASELINE: None if self.baseline is None else self.baseline.as_dict(),
            "diff": None if self.diff is None else self.diff.as_dict(),
        }


# -- running -------------------------------------------------------------------------


def run_backtest(
    settings: Settings,
    events: str,
    out: Path,
    *,
    rules_dir: Path | None = None,
    baseline_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> Backtest:
    """Replay ``events`` (a JSONL file, or ``-`` for stdin) through the rule sets.

    ``rules_dir`` is the candidate (default ``settings.rules_dir``), ``baseline_dir``
    the rule set to compare with (default none: no :class:`Diff`); both are judged by
    ``settings.policy``. ``progress`` is called with the number of lines after each
    batch. Raises :class:`~proactive.errors.DataFileError` when a rule set or the policy
    is broken, before any event is read.
    """
    # the replay's own store and no metrics port, whatever the environment says
    isolated = settings.model_copy(update={"store_url": None, "metrics_port": None})
    sides = {CANDIDATE: Path(rules_dir or settings.rules_dir)}
    if baseline_dir is not None:
        sides[BASELINE] = Path(baseline_dir)
    else:
        # a baseline of an earlier backtest into the same folder would mislead
        clear_outputs(out / BASELINE)
        (out / BASELINE / ETHICS_PAGE).unlink(missing_ok=True)
    engines: dict[str, Engine] = {}
    summaries: dict[str, Summary] = {}
    lines = read_lines(events)
    try:
        for label, directory in sides.items():
            clear_outputs(out / label)
            side_settings = isolated.model_copy(update={"rules_dir": directory})
            engines[label] = open_engine(side_settings, out / label)
        started = time.perf_counter()
        while chunk := list(islice(lines, settings.batch_size)):
            for engine in engines.values():
                engine.process_batch(chunk)
            if progress is not None:
                progress(len(chunk))
        for label, engine in engines.items():
            summaries[label] = engine.finish()
        seconds = time.perf_counter() - started
    finally:
        # read_lines is a generator: closing it closes the file at once, also on an error
        getattr(lines, "close", lambda: None)()
        for label, engine in engines.items():
            _close(engine, out / label)
    policy = engines[CANDIDATE].check.policy
    replays = {
        label: _replay(label, sides[label], engines[label], summaries[label], out / label, policy)
        for label in sides
    }
    baseline = replays.get(BASELINE)
    return Backtest(
        events_file=events,
        out_dir=str(out),
        policy_revision=engines[CANDIDATE].check.revision,
        seconds=seconds,
        candidate=replays[CANDIDATE],
        baseline=baseline,
        diff=None if baseline is None else compare(replays[CANDIDATE], baseline),
    )


def _close(engine: Engine, out_dir: Path) -> None:
    """Close the sinks and the store, and throw the store away."""
    engine.outputs.close()
    engine.store.close()
    for name in _STATE_FILES:
        (out_dir / name).unlink(missing_ok=True)


def _replay(
    label: str, rules_dir: Path, engine: Engine, summary: Summary, out_dir: Path, policy: Policy
) -> Replay:
    decisions = out_dir / "decisions.jsonl"
    ethics = summarise(records_from_jsonl(decisions), policy, source=str(decisions))
    by_rule = {rr.rule_id: rr for rr in ethics.rules}
    tally = _Tally.of(out_dir / "notifications.jsonl")
    ids = sorted({cr.id for cr in engine.ruleset.rules} | set(by_rule) | set(summary.rules))
    outcomes = []
    for rid in ids:
        rr = by_rule.get(rid)
        stats = summary.rules.get(rid)
        outcomes.append(
            RuleOutcome(
                rule_id=rid,
                fired=stats.fired if stats is not None else 0,
                decisions=rr.decisions if rr is not None else 0,
                verdicts=dict(rr.verdicts) if rr is not None else dict.fromkeys(VERDICTS, 0),
                customers=len(tally.customers[rid]),
                messages=sum(tally.channels[rid].values()),
                notices=tally.notices[rid],
                channels={
                    ch: tally.channels[rid][ch]
                    for ch in sorted(tally.channels[rid], key=_channel_order)
                },
                offers=dict(sorted(tally.offers[rid].items(), key=lambda kv: (-kv[1], kv[0]))),
                ethics=rr,
            )
        )
    return Replay(
        label=label,
        rules_dir=str(rules_dir),
        rules_revision=engine.ruleset.revision,
        out_dir=str(out_dir),
        events=EventCounts(
            read=summary.events_read,
            accepted=summary.accepted,
            dead_lettered=summary.dead_lettered,
            dead_letter_reasons=dict(summary.dead_letter_reasons),
            duplicates=summary.duplicates,
        ),
        rules=tuple(outcomes),
        ethics=ethics,
        definitions={
            cr.id: orjson.dumps(
                cr.rule.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS
            ).decode()
            for cr in engine.ruleset.rules
        },
        messages={cid: dict(per_rule) for cid, per_rule in tally.per_customer.items()},
    )


_CHANNEL_RANK: dict[str, int] = {ch: i for i, ch in enumerate(CHANNELS)}


def _channel_order(channel: str) -> tuple[int, str]:
    return (_CHANNEL_RANK.get(channel, len(CHANNELS)), channel)


@dataclass
class _Tally:
    """Notifications counted per rule (customers, channels, offers) and per customer."""

    customers: defaultdict[str, set[str]]
    channels: defaultdict[str, Counter[str]]
    offers: defaultdict[str, Counter[str]]
    per_customer: defaultdict[str, Counter[str]]
    notices: Counter[str]

    @classmethod
    def of(cls, path: Path) -> _Tally:
        tally = cls(
            defaultdict(set),
            defaultdict(Counter),
            defaultdict(Counter),
            defaultdict(Counter),
            Counter(),
        )
        for rec in records_from_jsonl(path):
            data = rec.get("data")
            if not isinstance(data, Mapping):
                continue  # the engine wrote this file: never, but a report must not crash
            rid, cid = str(data.get("rule_id")), str(data.get("customer_id"))
            if data.get("kind") == SECURE_NOTICE:
                tally.notices[rid] += 1
                continue
            offer = data.get("offer")
            tally.customers[rid].add(cid)
            tally.channels[rid][str(data.get("channel"))] += 1
            tally.offers[rid][str(offer.get("id")) if isinstance(offer, Mapping) else NO_OFFER] += 1
            tally.per_customer[cid][rid] += 1
        return tally


# -- comparing -----------------------------------------------------------------------


def compare(candidate: Replay, baseline: Replay) -> Diff:
    """The candidate against the baseline: per rule counts, customers, fairness, alerts.

    Pure: two replays in, a :class:`Diff` out (so ``compare(b, a)`` is the inverse).
    """
    ids = sorted({r.rule_id for r in candidate.rules} | {r.rule_id for r in baseline.rules})
    deltas = []
    for rid in ids:
        c, b = candidate.rule(rid), baseline.rule(rid)
        status: Literal["added", "removed", "changed", "unchanged"]
        if b is None:
            status = "added"
        elif c is None:
            status = "removed"
        elif candidate.definitions.get(rid) != baseline.definitions.get(rid):
            status = "changed"
        else:
            status = "unchanged"
        deltas.append(
            RuleDelta(
                rid,
                status,
                None if c is None else c.counts(),
                None if b is None else b.counts(),
            )
        )

    changes: list[CustomerChange] = []
    gaining = losing = gained = lost = 0
    empty: dict[str, int] = {}
    for cid in candidate.messages.keys() | baseline.messages.keys():
        mine, theirs = candidate.messages.get(cid, empty), baseline.messages.get(cid, empty)
        if mine == theirs:
            continue
        per_rule = {
            rid: mine.get(rid, 0) - theirs.get(rid, 0)
            for rid in sorted(mine.keys() | theirs.keys())
            if mine.get(rid, 0) != theirs.get(rid, 0)
        }
        up = sum(d for d in per_rule.values() if d > 0)
        down = -sum(d for d in per_rule.values() if d < 0)
        gaining += up > 0
        losing += down > 0
        gained += up
        lost += down
        changes.append(CustomerChange(cid, sum(theirs.values()), sum(mine.values()), per_rule))
    changes.sort(key=lambda ch: (-sum(abs(d) for d in ch.rules.values()), ch.customer_id))

    def key(a: Alert) -> tuple[str, str, str]:
        return (a.kind, a.code, a.subject)

    theirs_alerts = {key(a) for a in baseline.ethics.alerts}
    mine_alerts = {key(a) for a in candidate.ethics.alerts}
    return Diff(
        rules=tuple(deltas),
        only_candidate=tuple(d.rule_id for d in deltas if d.status == "added"),
        only_baseline=tuple(d.rule_id for d in deltas if d.status == "removed"),
        customers_gaining=gaining,
        customers_losing=losing,
        messages_gained=gained,
        messages_lost=lost,
        changed_customers=len(changes),
        changes=tuple(changes[:CUSTOMER_LIMIT]),
        fairness=_fairness(candidate.ethics, baseline.ethics),
        new_alerts=tuple(a for a in candidate.ethics.alerts if key(a) not in theirs_alerts),
        resolved_alerts=tuple(a for a in baseline.ethics.alerts if key(a) not in mine_alerts),
    )


def _fairness(candidate: EthicsReport, baseline: EthicsReport) -> tuple[SegmentDelta, ...]:
    theirs = {s.segment: {g.group: g for g in s.groups} for s in baseline.fairness}
    out = []
    for seg in candidate.fairness:
        mine = {g.group: g for g in seg.groups}
        other = theirs.get(seg.segment, {})
        out.append(
            SegmentDelta(
                seg.segment,
                tuple(
                    GroupDelta(g, mine.get(g), other.get(g))
                    for g in sorted(mine.keys() | other.keys())
                ),
            )
        )
    return tuple(out)


# -- the page ------------------------------------------------------------------------


def write_report(bt: Backtest) -> Path:
    """Write ``backtest.html`` in the out folder and each side's full ethics report.

    Returns the backtest page. Every page is one offline file (inline CSS and SVG, no
    script), like the ethics report.
    """
    out = Path(bt.out_dir)
    for replay in (bt.candidate, bt.baseline):
        if replay is not None:
            Path(replay.out_dir, ETHICS_PAGE).write_text(
                render_html(replay.ethics), encoding="utf-8"
            )
    page = out / PAGE
    page.write_text(render_backtest(bt), encoding="utf-8")
    return page


def render_backtest(bt: Backtest) -> str:
    """The backtest as one HTML page (the charts are the ethics report's where they can be)."""
    cand, base = bt.candidate, bt.baseline
    rule_ids = [r.rule_id for r in cand.rules]
    page_charts: dict[str, Markup] = {
        "channels": Markup(
            charts.grouped_bars_svg(
                rule_ids,
                {ch: [float(r.channels.get(ch, 0)) for r in cand.rules] for ch in CHANNELS},
                colours={},
                percent=False,
                title="messages per rule and channel (candidate)",
            )
        )
    }
    if base is not None and bt.diff is not None:
        ids = [d.rule_id for d in bt.diff.rules]
        page_charts["messages"] = Markup(
            charts.grouped_bars_svg(
                ids,
                {
                    BASELINE: [float((d.baseline or {}).get("messages", 0)) for d in bt.diff.rules],
                    CANDIDATE: [
                        float((d.candidate or {}).get("messages", 0)) for d in bt.diff.rules
                    ],
                },
                colours=SIDE_COLOURS,
                percent=False,
                title="messages per rule: baseline and candidate",
            )
        )
    segment_charts: dict[str, dict[str, Markup]] = {}
    for sr in cand.ethics.fairness:
        if not sr.groups:
            continue
        segment_charts[sr.segment] = {"rates": fairness_chart(sr)}
    if bt.diff is not None:
        for sd in bt.diff.fairness:
            if sd.segment not in segment_charts:
                continue
            segment_charts[sd.segment]["send"] = Markup(
                charts.grouped_bars_svg(
                    [g.group for g in sd.groups],
                    {
                        BASELINE: [_rate(g.baseline, "send_rate") for g in sd.groups],
                        CANDIDATE: [_rate(g.candidate, "send_rate") for g in sd.groups],
                    },
                    colours=SIDE_COLOURS,
                    title=f"send rate per {sd.segment}: baseline and candidate",
                )
            )
    return render_page(
        "backtest.html.j2",
        bt=bt,
        cand=cand,
        base=base,
        diff=bt.diff,
        counts=COUNTS,
        verdicts=VERDICTS,
        channels=CHANNELS,
        flagged_rates=FLAGGED_RATES,
        page_charts=page_charts,
        rule_charts={r.rule_id: rule_charts(r.ethics) for r in cand.rules if r.ethics},
        segment_charts=segment_charts,
        baseline_groups={
            sd.segment: {g.group: g.baseline for g in sd.groups if g.baseline is not None}
            for sd in (bt.diff.fairness if bt.diff else ())
        },
        colours=charts.VERDICT_COLOURS,
        ethics_page=ETHICS_PAGE,
        customer_limit=CUSTOMER_LIMIT,
        generated=datetime.now().astimezone().isoformat(timespec="seconds"),
    )


def _rate(g: GroupStats | None, rate: str) -> float | None:
    return None if g is None else float(getattr(g, rate))


# -- the terminal --------------------------------------------------------------------


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _signed(n: int) -> str:
    return "" if n == 0 else (f"[green]+{n}[/green]" if n > 0 else f"[red]−{-n}[/red]")


def print_backtest(bt: Backtest, console: Console, *, customers: int = 10) -> None:
    """The backtest's summary as rich tables: rules, the diff, fairness, alerts, speed.

    At most ``customers`` changed customers are listed (the page lists more).
    """
    cand, base, diff = bt.candidate, bt.baseline, bt.diff
    table = Table(
        title=f"Backtest per rule: {escape(cand.rules_dir)} ({cand.rules_revision})",
        title_justify="left",
    )
    table.add_column("rule")
    for col in ("fired", *VERDICTS, "customers", "messages", *CHANNELS, "offers", "overall", "p10"):
        table.add_column(col, justify="right")
    for r in cand.rules:
        rr = r.ethics
        table.add_row(
            escape(r.rule_id),
            str(r.fired),
            *(str(r.verdicts.get(v, 0)) for v in VERDICTS),
            str(r.customers),
            str(r.messages),
            *(str(r.channels.get(ch, 0)) for ch in CHANNELS),
            str(r.messages - r.offers.get(NO_OFFER, 0)),
            _num(rr.overall.mean if rr else None),
            _num(rr.overall.p10 if rr else None),
        )
    total = cand.ethics.verdicts
    table.add_row(
        "[b]total[/b]",
        f"[b]{sum(r.fired for r in cand.rules)}[/b]",
        *(f"[b]{total.get(v, 0)}[/b]" for v in VERDICTS),
        f"[b]{len(cand.messages)}[/b]",
        f"[b]{sum(r.messages for r in cand.rules)}[/b]",
        *(f"[b]{sum(r.channels.get(ch, 0) for r in cand.rules)}[/b]" for ch in CHANNELS),
        "",
        _num(cand.ethics.overall.mean),
        _num(cand.ethics.overall.p10),
    )
    console.print(table)

    if base is not None and diff is not None:
        _print_diff(base, diff, console, customers)
    _print_fairness(bt, console)

    alerts = cand.ethics.alerts
    new = set(diff.new_alerts) if diff is not None else set()
    for a in alerts:
        mark = " [b](new)[/b]" if a in new else ""
        console.print(
            f"[bold red]{a.kind} alert[/bold red]{mark} {escape(a.message)}", highlight=False
        )
    if diff is not None:
        for a in diff.resolved_alerts:
            console.print(f"[green]resolved[/green] {escape(a.message)}", highlight=False)
    if not alerts:
        console.print("no governance or fairness alerts")

    e = bt.events
    reasons = ", ".join(f"{k} {n}" for k, n in e.dead_letter_reasons.items())
    console.print(
        f"events read {e.read}, accepted {e.accepted}, dead-lettered {e.dead_lettered}"
        + (f" ({reasons})" if reasons else "")
        + f", duplicates skipped {e.duplicates}",
        highlight=False,
    )
    notices = sum(r.notices for r in cand.rules)
    if notices:
        console.print(
            f"secure notices {notices} (a plain notice that a sensitive message waits in the "
            "secure inbox; not counted as messages)",
            highlight=False,
        )
    sets = 1 if base is None else 2
    console.print(
        f"replayed {e.read} events through {sets} rule set(s) in {bt.seconds:.2f} s: "
        f"[b]{bt.events_per_second:,.0f} events/s[/b]; nothing was stored or sent",
        highlight=False,
    )


def _print_diff(base: Replay, diff: Diff, console: Console, customers: int) -> None:
    table = Table(
        title=f"Candidate against baseline {escape(base.rules_dir)} ({base.rules_revision})",
        title_justify="left",
    )
    table.add_column("rule")
    table.add_column("status")
    shown = ("fired", *VERDICTS, "customers", "messages")
    for col in shown:
        table.add_column(col, justify="right")
    for d in diff.rules:
        delta = d.delta

        def cell(k: str, d: RuleDelta = d, delta: dict[str, int] = delta) -> str:
            b = "–" if d.baseline is None else str(d.baseline[k])
            c = "–" if d.candidate is None else str(d.candidate[k])
            change = _signed(delta[k])
            return f"{b} → {c}" + (f" {change}" if change else "")

        style = {"added": "green", "removed": "red", "changed": "yellow"}.get(d.status, "dim")
        table.add_row(
            escape(d.rule_id), f"[{style}]{d.status}[/{style}]", *(cell(k) for k in shown)
        )
    console.print(table)
    if diff.only_candidate:
        console.print("only in the candidate: " + ", ".join(diff.only_candidate), highlight=False)
    if diff.only_baseline:
        console.print("only in the baseline: " + ", ".join(diff.only_baseline), highlight=False)
    console.print(
        f"customers gaining a message: {diff.customers_gaining} (+{diff.messages_gained} "
        f"messages); losing a message: {diff.customers_losing} (−{diff.messages_lost} messages)",
        highlight=False,
    )
    if diff.changes and customers > 0:
        ct = Table(
            title=f"Changed customers (largest {min(customers, diff.changed_customers)} "
            f"of {diff.changed_customers})",
            title_justify="left",
        )
        for col in ("customer", "baseline", "candidate", "per rule"):
            ct.add_column(col, justify="right" if col in ("baseline", "candidate") else "left")
        for ch in diff.changes[:customers]:
            ct.add_row(
                escape(ch.customer_id),
                str(ch.baseline),
                str(ch.candidate),
                ", ".join(f"{escape(rid)} {_signed(n)}" for rid, n in ch.rules.items()),
            )
        console.print(ct)


def _print_fairness(bt: Backtest, console: Console) -> None:
    deltas = (
        {sd.segment: {g.group: g for g in sd.groups} for sd in bt.diff.fairness} if bt.diff else {}
    )
    for sr in bt.candidate.ethics.fairness:
        others = deltas.get(sr.segment, {})

        def rate(g: GroupStats, name: str, others: dict[str, GroupDelta] = others) -> str:
            now = float(getattr(g, name))
            if not bt.diff:
                return _pct(now)
            gd = others.get(g.group)
            if gd is None or gd.baseline is None:
                return f"{_pct(now)} (new)"
            points = (now - float(getattr(gd.baseline, name))) * 100
            return f"{_pct(now)} ({points:+.1f})"

        title = f"Fairness by {sr.segment}" + (" (points against the baseline)" if bt.diff else "")
        console.print(fairness_table(sr, title, rate))
        console.print(disparity_line(sr, alerted_only=True))


def count_lines(path: str) -> int | None:
    """Non-blank lines of a history file, for the progress bar (None for stdin)."""
    if path == "-":
        return None
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())
