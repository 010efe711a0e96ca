"""The ethics report: what the check decided over a run or a store, per rule, with alerts.

Compliance reads it to see, per rule, the verdicts, how each service dimension and the
overall score are distributed, the value flags, the most common reasons, the near-limit
warnings and every exception (the "joker") with its written justification; and, across
rules, whether outcomes differ between customer segments. Two kinds of alert:

* **governance** (DOMAIN §8, scenario S21): a rule's exception rate above
  ``policy.governance.max_exception_rate`` (once it has
  ``min_decisions_for_alert`` decisions); an exception without a written
  justification; an exception to a *law* limit (the law frame has no joker);
* **fairness** (scenario S25): per segment in ``policy.fairness.segments``, the send
  or block rate of the highest group over that of the lowest group, above
  ``policy.fairness.max_disparity`` (see :func:`disparity` for groups that never get
  an outcome).

Three parts, so the backtest report and the web UI can reuse them:
:func:`summarise` (pure: records in, :class:`EthicsReport` out), :func:`render_html`
(one self-contained page) and :func:`print_report` (rich tables). The page's pieces
are public too: :func:`rule_charts`, :func:`fairness_chart` and :func:`render_page`
(another template in the same environment).

Example::

    from proactive.ethics.policy import load_policy

    policy = load_policy(Path("ethics/policy.yaml")).policy
    report = summarise(records_from_jsonl(Path("out/demo/decisions.jsonl")), policy)
    Path("ethics-report.html").write_text(render_html(report), encoding="utf-8")
    print_report(report, Console())
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from proactive import charts, jsonl
from proactive.ethics.policy import DIMENSIONS, Policy

VERDICTS = ("send", "defer", "review", "block")
"""The verdicts, in the order they are reported."""

BINS = 10
"""Histograms of scores have this many equal bins over 0..1 (a score of 1.0 is in the last)."""

TOP_REASONS = 10
"""How many of the most common (normalised) reasons each rule lists."""

UNKNOWN = "unknown"
"""The group of a record that does not say (older records carry no ``segment``)."""

UNREADABLE = "unreadable"
"""The ``record_type`` :func:`records_from_jsonl` gives a line that is not a JSON object."""

RATES = ("send_rate", "review_rate", "block_rate")
"""The verdict rates compared between the groups of a segment."""

FLAGGED_RATES = ("send_rate", "block_rate")
"""The rates whose disparity raises a fairness alert, as ``ethics/policy.yaml`` states it
("a group whose send or block rate differs"). The review rate is shown with its ratio
but not flagged: reviews are rare, so its ratio between small counts is mostly noise."""


# -- the report --------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """How a 0..1 score is distributed over a set of decisions.

    ``histogram[i]`` counts the scores in ``[i/BINS, (i+1)/BINS)``; 1.0 counts in the
    last bin. ``p10`` and ``median`` interpolate linearly between ranks (as numpy's
    default and ``statistics.quantiles(method="inclusive")`` do). None when empty.
    """

    count: int
    mean: float | None
    p10: float | None
    median: float | None
    histogram: tuple[int, ...]


@dataclass(frozen=True)
class ReasonCount:
    """One reason pattern (numbers and ids masked) and how often it was given."""

    pattern: str
    count: int
    example: str
    """The first reason seen with this pattern, as written."""


@dataclass(frozen=True)
class ExceptionUse:
    """Decisions that used the same exception: the limits, the justification, who."""

    limits: tuple[str, ...]
    justification: str
    by: str
    count: int


@dataclass(frozen=True)
class RuleReport:
    """Everything the report says about one rule."""

    rule_id: str
    decisions: int
    verdicts: dict[str, int]
    released: int
    """Decisions taken when a deferred message came due (its first decision was a defer)."""
    overall: Distribution
    dimensions: dict[str, Distribution]
    flags: dict[str, int]
    top_reasons: tuple[ReasonCount, ...]
    distinct_reasons: int
    warnings: int
    """Near-limit warnings given (a decision may carry several)."""
    decisions_with_warnings: int
    top_warnings: tuple[ReasonCount, ...]
    exceptions: int
    exception_rate: float
    justifications: tuple[ExceptionUse, ...]


@dataclass(frozen=True)
class GroupStats:
    """Outcomes for one group of a segment (e.g. age band 65+)."""

    group: str
    decisions: int
    verdicts: dict[str, int]
    send_rate: float
    review_rate: float
    block_rate: float
    mean_overall: float | None
    judged: bool
    """Whether the group counts for disparity: known, with at least ``min_group_size`` decisions."""


@dataclass(frozen=True)
class Disparity:
    """The highest group's rate over the lowest group's, for one rate of one segment."""

    rate: str
    ratio: float | None
    """None when fewer than two groups are judged."""
    highest: str | None
    lowest: str | None
    corrected: bool
    """The Haldane–Anscombe correction was applied because the lowest rate is zero."""
    flagged: bool


@dataclass(frozen=True)
class SegmentReport:
    """Outcomes per group of one segment (``age_band``, ``language``, ``channel``, ``segment``)."""

    segment: str
    groups: tuple[GroupStats, ...]
    disparities: tuple[Disparity, ...]


@dataclass(frozen=True)
class Alert:
    """Something compliance must look at; ``--fail-on-alert`` exits 1 on any."""

    kind: Literal["governance", "fairness"]
    code: Literal["exception_rate", "unjustified_exception", "law_limit_excepted", "disparity"]
    subject: str
    """The rule id (governance) or the segment (fairness)."""
    message: str


@dataclass(frozen=True)
class Bounds:
    """The policy values the alerts were judged against."""

    policy_revision: str
    max_exception_rate: float
    min_decisions_for_alert: int
    max_disparity: float
    min_group_size: int


@dataclass(frozen=True)
class EthicsReport:
    """The ethics report over a set of decision records (see :func:`summarise`)."""

    source: str
    decisions: int
    other_records: dict[str, int]
    """Records that are not decisions, by ``record_type`` (skipped, e.g. review actions)."""
    verdicts: dict[str, int]
    exceptions: int
    overall: Distribution
    first_decision: str | None
    last_decision: str | None
    ethics_revisions: tuple[str, ...]
    rules: tuple[RuleReport, ...]
    fairness: tuple[SegmentReport, ...]
    alerts: tuple[Alert, ...]
    bounds: Bounds

    @property
    def governance_alerts(self) -> tuple[Alert, ...]:
        """The alerts about exceptions."""
        return tuple(a for a in self.alerts if a.kind == "governance")

    @property
    def fairness_alerts(self) -> tuple[Alert, ...]:
        """The alerts about disparities between groups."""
        return tuple(a for a in self.alerts if a.kind == "fairness")

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (what ``--json`` prints)."""
        return dataclasses.asdict(self)


# -- reading records ---------------------------------------------------------------------


def records_from_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Decision records from a ``decisions.jsonl``, one at a time.

    A line that is not a JSON object (a run cut off mid-write) does not stop the
    report: it comes out as ``{"record_type": "unreadable", "line": n}`` and is
    counted with the other non-decision records.
    """
    for n, _, rec in jsonl.lines(Path(path)):
        yield rec if rec is not None else {"record_type": UNREADABLE, "line": n}


# -- normalising reasons -----------------------------------------------------------------

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I)
_HEX = re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{12,}\b", re.I)
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_WEEKDAY = re.compile(r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)(?= #)")


# reasons repeat across decisions, so each wording is normalised once
@functools.lru_cache(maxsize=16_384)
def normalise_reason(text: str) -> str:
    """The pattern of a reason: ids, hashes, numbers, dates and times masked.

    Reasons that differ only in those group together: "04:48 is in the customer's
    quiet hours 21:00-08:00 …; next allowed Sun 08:00" and the same at 00:09 on a
    Saturday are one pattern. A weekday is masked only before a masked time, where
    it names the next allowed moment.

    >>> normalise_reason("service score 0.96 meets the send level 0.75")
    'service score # meets the send level #'
    """
    text = _UUID.sub("<id>", text)
    text = _HEX.sub("<id>", text)
    text = _NUMBER.sub("#", text)
    return _WEEKDAY.sub("<day>", text)


# -- summarising -------------------------------------------------------------------------


class _Scores:
    """A score distribution in bounded memory: a count per distinct score.

    Scores are recorded with at most four decimals, so there are at most 10,001
    distinct values whatever the number of decisions, and mean, quantiles and
    histogram stay exact.
    """

    def __init__(self) -> None:
        self.counts: Counter[float] = Counter()
        self.total = 0.0

    def add(self, value: Any) -> None:
        # bool is an int; a record is never meant to hold one as a score
        if isinstance(value, int | float) and not isinstance(value, bool):
            self.counts[round(float(value), 4)] += 1
            self.total += float(value)

    def distribution(self) -> Distribution:
        n = sum(self.counts.values())
        hist = [0] * BINS
        for v, k in self.counts.items():
            # the epsilon keeps 0.3 * 10 == 2.9999… out of the bin below
            hist[min(BINS - 1, max(0, int(v * BINS + 1e-9)))] += k
        if n == 0:
            return Distribution(0, None, None, None, tuple(hist))
        ordered = sorted(self.counts.items())
        return Distribution(
            n,
            round(self.total / n, 4),
            round(_quantile(ordered, n, 0.1), 4),
            round(_quantile(ordered, n, 0.5), 4),
            tuple(hist),
        )


def _quantile(ordered: Sequence[tuple[float, int]], n: int, q: float) -> float:
    """Linear interpolation between the order statistics around rank ``(n-1)*q``."""
    h = (n - 1) * q
    lo_rank = int(h)
    hi_rank = min(lo_rank + 1, n - 1)
    lo = hi = ordered[-1][0]
    seen = 0
    found_lo = False
    for value, k in ordered:
        seen += k
        if not found_lo and lo_rank < seen:
            lo, found_lo = value, True
        if hi_rank < seen:
            hi = value
            break
    return lo + (hi - lo) * (h - lo_rank)


class _Reasons:
    """Counts of normalised reasons, each with its first wording."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    def add(self, text: Any) -> None:
        text = str(text)
        pattern = normalise_reason(text)
        self.counts[pattern] += 1
        self.examples.setdefault(pattern, text)

    def top(self, n: int) -> tuple[ReasonCount, ...]:
        # ties by pattern, so the same records always give the same report
        ranked = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))[:n]
        return tuple(ReasonCount(p, k, self.examples[p]) for p, k in ranked)


@dataclass
class _Rule:
    decisions: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    released: int = 0
    overall: _Scores = field(default_factory=_Scores)
    dimensions: dict[str, _Scores] = field(
        default_factory=lambda: {d: _Scores() for d in DIMENSIONS}
    )
    flags: Counter[str] = field(default_factory=Counter)
    reasons: _Reasons = field(default_factory=_Reasons)
    warnings: _Reasons = field(default_factory=_Reasons)
    with_warnings: int = 0
    exceptions: Counter[tuple[tuple[str, ...], str, str]] = field(default_factory=Counter)


@dataclass
class _Group:
    decisions: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    overall: float = 0.0
    scored: int = 0


def _exception(raw: Any) -> tuple[tuple[str, ...], str, str] | None:
    """(limits, justification, by) of a record's exception, or None when it has none."""
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        # an exception in a shape we do not know still counts, as one without justification
        return ((), "", "")
    limits = raw.get("limits") or ()
    if isinstance(limits, str):
        limits = (limits,)
    return (
        tuple(str(x) for x in limits),
        str(raw.get("justification") or "").strip(),
        str(raw.get("by") or "").strip(),
    )


def _moment(value: Any) -> datetime | None:
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    # a naive time cannot be compared with an aware one; records are written in UTC
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _texts(value: Any) -> Iterable[str]:
    """A record's list of texts (reasons, warnings, flags); a lone string is one text."""
    if isinstance(value, str):
        return (value,)
    return (str(v) for v in value) if isinstance(value, list | tuple) else ()


def summarise(
    records: Iterable[Mapping[str, Any]], policy: Policy, *, source: str = ""
) -> EthicsReport:
    """Fold decision records into an :class:`EthicsReport`, judged against ``policy``.

    One pass, in memory bounded by the number of rules, segment groups and distinct
    reasons (not by the number of records), so a whole store can be reported.
    Records whose ``record_type`` is set and is not ``"decision"`` are counted in
    ``other_records`` and otherwise skipped. A missing ``segment`` (records written
    before it existed) or segment value counts as the group ``"unknown"``, which is
    shown but never compared.

    Example::

        report = summarise(harness.decisions, policy, source="harness")
        report.rules[0].verdicts  # {"send": 3, "defer": 1, "review": 0, "block": 0}
    """
    rules: dict[str, _Rule] = defaultdict(_Rule)
    groups: dict[str, dict[str, _Group]] = {
        s: defaultdict(_Group) for s in policy.fairness.segments
    }
    other: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    overall_all = _Scores()
    revisions: set[str] = set()
    first: tuple[datetime, str] | None = None
    last: tuple[datetime, str] | None = None

    for rec in records:
        record_type = rec.get("record_type") or "decision"
        if record_type != "decision":
            other[str(record_type)] += 1
            # a reviewer's joker (on the review chain) is an exception of that rule too
            exc = _exception(rec.get("exception")) if record_type == "review" else None
            if exc is not None:
                rules[str(rec.get("rule_id") or UNKNOWN)].exceptions[exc] += 1
            continue
        r = rules[str(rec.get("rule_id") or UNKNOWN)]
        verdict = str(rec.get("verdict") or UNKNOWN)
        r.decisions += 1
        r.verdicts[verdict] += 1
        totals[verdict] += 1
        if rec.get("released_from"):
            r.released += 1
        overall = rec.get("overall")
        r.overall.add(overall)
        overall_all.add(overall)
        scores = rec.get("scores")
        if isinstance(scores, Mapping):
            for dim in DIMENSIONS:
                entry = scores.get(dim)
                if isinstance(entry, Mapping):
                    r.dimensions[dim].add(entry.get("score"))
        value = rec.get("value")
        if isinstance(value, Mapping):
            r.flags.update(_texts(value.get("flags")))
        for reason in _texts(rec.get("reasons")):
            r.reasons.add(reason)
        warned = False
        for warning in _texts(rec.get("warnings")):
            r.warnings.add(warning)
            warned = True
        r.with_warnings += warned
        exc = _exception(rec.get("exception"))
        if exc is not None:
            r.exceptions[exc] += 1
        if rec.get("ethics_revision"):
            revisions.add(str(rec["ethics_revision"]))
        at = _moment(rec.get("created_at"))
        if at is not None:
            stamp = (at, str(rec["created_at"]))
            first = stamp if first is None or at < first[0] else first
            last = stamp if last is None or at > last[0] else last
        segment = rec.get("segment")
        for name, by_group in groups.items():
            raw = segment.get(name) if isinstance(segment, Mapping) else None
            g = by_group[str(raw) if raw not in (None, "") else UNKNOWN]
            g.decisions += 1
            g.verdicts[verdict] += 1
            if isinstance(overall, int | float) and not isinstance(overall, bool):
                g.overall += float(overall)
                g.scored += 1

    bounds = Bounds(
        policy_revision=policy.revision,
        max_exception_rate=policy.governance.max_exception_rate,
        min_decisions_for_alert=policy.governance.min_decisions_for_alert,
        max_disparity=policy.fairness.max_disparity,
        min_group_size=policy.fairness.min_group_size,
    )
    rule_reports = tuple(_rule_report(rid, rules[rid]) for rid in sorted(rules))
    segments = tuple(_segment_report(name, by_group, bounds) for name, by_group in groups.items())
    alerts = (
        *(a for rr in rule_reports for a in _governance_alerts(rr, policy, bounds)),
        *(a for sr in segments for a in _fairness_alerts(sr, bounds)),
    )
    return EthicsReport(
        source=source,
        decisions=sum(rr.decisions for rr in rule_reports),
        other_records=dict(sorted(other.items())),
        verdicts=_verdicts(totals),
        exceptions=sum(rr.exceptions for rr in rule_reports),
        overall=overall_all.distribution(),
        first_decision=first[1] if first else None,
        last_decision=last[1] if last else None,
        ethics_revisions=tuple(sorted(revisions)),
        rules=rule_reports,
        fairness=segments,
        alerts=tuple(alerts),
        bounds=bounds,
    )


def _verdicts(counts: Counter[str]) -> dict[str, int]:
    """The four verdicts always (in order), then anything else a record said."""
    out = {v: counts.get(v, 0) for v in VERDICTS}
    out.update(sorted((k, n) for k, n in counts.items() if k not in out))
    return out


def _rule_report(rule_id: str, r: _Rule) -> RuleReport:
    exceptions = sum(r.exceptions.values())
    return RuleReport(
        rule_id=rule_id,
        decisions=r.decisions,
        verdicts=_verdicts(r.verdicts),
        released=r.released,
        overall=r.overall.distribution(),
        dimensions={d: r.dimensions[d].distribution() for d in DIMENSIONS},
        flags=dict(sorted(r.flags.items(), key=lambda kv: (-kv[1], kv[0]))),
        top_reasons=r.reasons.top(TOP_REASONS),
        distinct_reasons=len(r.reasons.counts),
        warnings=sum(r.warnings.counts.values()),
        decisions_with_warnings=r.with_warnings,
        top_warnings=r.warnings.top(TOP_REASONS),
        exceptions=exceptions,
        exception_rate=exceptions / r.decisions if r.decisions else 0.0,
        justifications=tuple(
            ExceptionUse(limits, justification, by, n)
            for (limits, justification, by), n in sorted(
                r.exceptions.items(), key=lambda kv: (-kv[1], kv[0])
            )
        ),
    )


def _governance_alerts(rr: RuleReport, policy: Policy, bounds: Bounds) -> Iterator[Alert]:
    if rr.decisions >= bounds.min_decisions_for_alert and (
        rr.exception_rate > bounds.max_exception_rate
    ):
        yield Alert(
            "governance",
            "exception_rate",
            rr.rule_id,
            f"rule {rr.rule_id}: {rr.exceptions} of {rr.decisions} decisions "
            f"({rr.exception_rate:.1%}) use an exception; the policy allows at most "
            f"{bounds.max_exception_rate:.1%}",
        )
    unjustified = sum(u.count for u in rr.justifications if not u.justification)
    if unjustified:
        yield Alert(
            "governance",
            "unjustified_exception",
            rr.rule_id,
            f"rule {rr.rule_id}: {unjustified} exception(s) without a written justification",
        )
    frames = {lim.id: lim.frame for lim in policy.limits}
    law = sorted({lid for u in rr.justifications for lid in u.limits if frames.get(lid) == "law"})
    if law:
        n = sum(u.count for u in rr.justifications if set(u.limits) & set(law))
        yield Alert(
            "governance",
            "law_limit_excepted",
            rr.rule_id,
            f"rule {rr.rule_id}: {n} exception(s) to law limit(s) {', '.join(law)}; "
            "the law frame has no joker",
        )


def _segment_report(name: str, by_group: Mapping[str, _Group], bounds: Bounds) -> SegmentReport:
    stats = []
    for group in sorted(by_group):
        g = by_group[group]
        n = g.decisions
        stats.append(
            GroupStats(
                group=group,
                decisions=n,
                verdicts=_verdicts(g.verdicts),
                send_rate=g.verdicts["send"] / n,
                review_rate=g.verdicts["review"] / n,
                block_rate=g.verdicts["block"] / n,
                mean_overall=round(g.overall / g.scored, 4) if g.scored else None,
                judged=group != UNKNOWN and n >= bounds.min_group_size,
            )
        )
    judged = [s for s in stats if s.judged]
    return SegmentReport(
        segment=name,
        groups=tuple(stats),
        disparities=tuple(
            disparity(
                rate,
                [(s.group, s.verdicts[rate.removesuffix("_rate")], s.decisions) for s in judged],
                bounds.max_disparity if rate in FLAGGED_RATES else None,
            )
            for rate in RATES
        ),
    )


def disparity(
    rate: str, groups: Sequence[tuple[str, int, int]], max_disparity: float | None
) -> Disparity:
    """Highest rate over lowest rate among ``groups`` of (name, count, decisions).

    Zero rates: when every group's rate is 0 there is no difference (ratio 1.0). When
    only the lowest is 0 the plain ratio is infinite however few decisions make the
    difference, so the Haldane–Anscombe correction is used, as for a risk ratio with an
    empty cell: each group's rate becomes ``(count + 0.5) / (decisions + 1)``. Then 1 of
    40 against 0 of 40 gives 3.0 and 20 of 40 against 0 of 40 gives 41.0: large where
    the difference is large, finite always. ``flagged`` when the ratio exceeds
    ``max_disparity`` (never when that is None).

    >>> disparity("block_rate", [("a", 0, 40), ("b", 1, 40)], 1.25).ratio
    3.0
    """
    if len(groups) < 2:
        return Disparity(rate, None, None, None, False, False)
    plain = {name: k / n for name, k, n in groups}
    corrected = min(plain.values()) == 0 and max(plain.values()) > 0
    rates = {name: (k + 0.5) / (n + 1) for name, k, n in groups} if corrected else plain
    # ties resolve to the first group by name, so the same data names the same groups
    ordered = sorted(rates.items(), key=lambda kv: kv[0])
    hi = max(ordered, key=lambda kv: kv[1])
    lo = min(ordered, key=lambda kv: kv[1])
    ratio = 1.0 if hi[1] == 0 else hi[1] / lo[1]
    ratio = round(ratio, 4)
    return Disparity(
        rate,
        ratio,
        hi[0],
        lo[0],
        corrected,
        max_disparity is not None and ratio > max_disparity,
    )


def _fairness_alerts(sr: SegmentReport, bounds: Bounds) -> Iterator[Alert]:
    by_group = {g.group: g for g in sr.groups}
    for d in sr.disparities:
        if not d.flagged or d.highest is None or d.lowest is None:
            continue
        hi, lo = by_group[d.highest], by_group[d.lowest]
        what = d.rate.replace("_", " ")
        yield Alert(
            "fairness",
            "disparity",
            sr.segment,
            f"{sr.segment}: {what} of {hi.group} ({getattr(hi, d.rate):.1%} of "
            f"{hi.decisions}) is {d.ratio:.2f} times that of {lo.group} "
            f"({getattr(lo, d.rate):.1%} of {lo.decisions}); the policy allows "
            f"{bounds.max_disparity}" + (" (zero rate corrected)" if d.corrected else ""),
        )


# -- rendering ---------------------------------------------------------------------------

_ENV = Environment(
    loader=PackageLoader("proactive", "templates"),
    # every text in the page comes from records (reasons, justifications, rule ids):
    # escaped, always; only the charts' SVG is marked safe, in render_html
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


_ENV.filters["pct"] = _pct
_ENV.filters["num"] = _num


def rule_charts(rr: RuleReport) -> dict[str, Markup]:
    """The two charts of one rule, as inline SVG ready for a page.

    ``verdicts``: one bar split by verdict; ``scores``: the overall score and each of
    the eight dimensions as 100% bars split by score bin. The backtest report shows
    the same charts per rule.
    """
    return {
        "verdicts": Markup(
            charts.stacked_share_svg(rr.verdicts, title=f"verdicts of {rr.rule_id}")
        ),
        "scores": Markup(
            charts.distribution_bars_svg(
                {"overall": rr.overall.histogram}
                | {d: rr.dimensions[d].histogram for d in DIMENSIONS},
                title=f"score distribution of {rr.rule_id}",
            )
        ),
    }


def fairness_chart(sr: SegmentReport) -> Markup:
    """Send, review and block rate per group of one segment, as inline SVG."""
    return Markup(
        charts.grouped_bars_svg(
            [g.group for g in sr.groups],
            {
                "send": [g.send_rate for g in sr.groups],
                "review": [g.review_rate for g in sr.groups],
                "block": [g.block_rate for g in sr.groups],
            },
            title=f"verdict rates per {sr.segment}",
        )
    )


def render_page(template: str, **context: Any) -> str:
    """Render a page template of ``proactive/templates`` as the ethics report is rendered.

    Same environment: autoescape on, undefined names are errors, and the ``pct`` and
    ``num`` filters. Pass charts as :class:`~markupsafe.Markup` so they are not escaped.

    Example::

        html = render_page("backtest.html.j2", backtest=result, colours=charts.VERDICT_COLOURS)
    """
    return _ENV.get_template(template).render(**context)


def render_html(report: EthicsReport) -> str:
    """The report as one HTML page: inline CSS and SVG, no script, nothing fetched.

    Everything taken from records is escaped (a reason reading ``<script>`` shows as
    text); the page's Content-Security-Policy forbids scripts and remote loads as a
    second line of defence.
    """
    per_rule = {rr.rule_id: rule_charts(rr) for rr in report.rules}
    per_segment = {sr.segment: fairness_chart(sr) for sr in report.fairness if sr.groups}
    overall_chart = Markup(
        charts.histogram_svg(report.overall.histogram, title="overall score, all rules")
    )
    return render_page(
        "ethics_report.html.j2",
        report=report,
        verdicts=VERDICTS,
        flagged_rates=FLAGGED_RATES,
        rule_charts=per_rule,
        fairness_charts=per_segment,
        overall_chart=overall_chart,
        colours=charts.VERDICT_COLOURS,
        generated=datetime.now().astimezone().isoformat(timespec="seconds"),
    )


_SHORT = {
    "language": "lang",
    "place": "place",
    "time": "time",
    "complexity": "cmplx",
    "relevance": "relev",
    "trust": "trust",
    "empathy": "empat",
    "autonomy": "auton",
}


def fairness_table(
    sr: SegmentReport, title: str, rate: Callable[[GroupStats, str], str] | None = None
) -> Table:
    """One segment's groups as a table: decisions, send/review/block rates, mean score.

    ``rate(group, "send_rate")`` formats a rate (default: a percentage); the backtest
    adds the points against its baseline.
    """
    fmt = rate or (lambda g, name: _pct(float(getattr(g, name))))
    ft = Table(title=title, title_justify="left")
    for col in ("group", "decisions", "send", "review", "block", "mean overall"):
        ft.add_column(col, justify="left" if col == "group" else "right")
    for g in sr.groups:
        ft.add_row(
            escape(g.group) if g.judged else f"[dim]{escape(g.group)} (not compared)[/dim]",
            str(g.decisions),
            fmt(g, "send_rate"),
            fmt(g, "review_rate"),
            fmt(g, "block_rate"),
            _num(g.mean_overall),
        )
    return ft


def disparity_line(sr: SegmentReport, *, alerted_only: bool = False) -> str:
    """The segment's highest/lowest ratios, alerts marked (rates the policy does not
    alert on are shown as such, or left out with ``alerted_only``)."""
    return "  disparity (highest / lowest): " + "; ".join(
        f"{d.rate.removesuffix('_rate')} "
        + ("–" if d.ratio is None else f"{d.ratio:.2f}")
        + (" [bold red]ALERT[/bold red]" if d.flagged else "")
        + ("" if d.rate in FLAGGED_RATES else " (shown, not alerted)")
        for d in sr.disparities
        if not alerted_only or d.rate in FLAGGED_RATES
    )


def print_report(report: EthicsReport, console: Console) -> None:
    """The report's summary as rich tables: rules, dimensions, exceptions, fairness, alerts."""
    table = Table(title="Ethics report per rule", title_justify="left")
    table.add_column("rule")
    for col in ("decisions", *VERDICTS, "overall", "p10", "flags", "warn", "exceptions"):
        table.add_column(col, justify="right")
    for rr in report.rules:
        alert = any(a.subject == rr.rule_id for a in report.governance_alerts)
        table.add_row(
            escape(rr.rule_id),
            str(rr.decisions),
            *(str(rr.verdicts[v]) for v in VERDICTS),
            _num(rr.overall.mean),
            _num(rr.overall.p10),
            str(sum(rr.flags.values())),
            str(rr.warnings),
            ("[bold red]" if alert else "") + f"{rr.exceptions} ({rr.exception_rate:.0%})",
        )
    table.add_row(
        "[b]total[/b]",
        f"[b]{report.decisions}[/b]",
        *(f"[b]{report.verdicts[v]}[/b]" for v in VERDICTS),
        _num(report.overall.mean),
        _num(report.overall.p10),
        "",
        "",
        f"[b]{report.exceptions}[/b]",
    )
    console.print(table)

    dims = Table(title="Dimension scores: mean / p10 / median", title_justify="left")
    dims.add_column("rule")
    for d in DIMENSIONS:
        dims.add_column(_SHORT[d], justify="right")
    for rr in report.rules:
        dims.add_row(
            escape(rr.rule_id),
            *(
                f"{_num(s.mean)} {_num(s.p10)} {_num(s.median)}"
                for s in (rr.dimensions[d] for d in DIMENSIONS)
            ),
        )
    console.print(dims)

    uses = [(rr.rule_id, u) for rr in report.rules for u in rr.justifications]
    if uses:
        exc = Table(title="Exceptions (the joker)", title_justify="left")
        for col in ("rule", "limits", "n", "by", "justification"):
            exc.add_column(col, justify="right" if col == "n" else "left")
        for rid, u in uses:
            exc.add_row(
                escape(rid),
                escape(", ".join(u.limits)) or "–",
                str(u.count),
                escape(u.by) or "–",
                escape(u.justification) or "[bold red](none)[/bold red]",
            )
        console.print(exc)

    for sr in report.fairness:
        console.print(fairness_table(sr, f"Fairness by {sr.segment}"))
        console.print(disparity_line(sr))

    other = ", ".join(f"{k} {n}" for k, n in report.other_records.items())
    console.print(
        f"decisions {report.decisions}"
        + (f"; other records skipped: {other}" if other else "")
        + f"; policy {report.bounds.policy_revision}: exception rate ≤ "
        f"{report.bounds.max_exception_rate:.0%} (from {report.bounds.min_decisions_for_alert} "
        f"decisions), disparity ≤ {report.bounds.max_disparity} (groups of "
        f"{report.bounds.min_group_size}+)"
    )
    if report.alerts:
        for a in report.alerts:
            console.print(
                f"[bold red]{a.kind} alert[/bold red] {escape(a.message)}", highlight=False
            )
    else:
        console.print("no governance or fairness alerts")
