"""Ethics reports in the browser: every rule (``/reports``) and one rule (``/reports/RULE``).

The overview counts verdicts per rule in the database. A rule's page folds that rule's
decision records through :func:`proactive.report.summarise` — the same report as
``proactive ethics report``, judged against the policy in force — and draws it with
the report's own charts (:func:`~proactive.report.rule_charts`,
:func:`~proactive.report.fairness_chart`) plus the verdicts over time.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from proactive import charts
from proactive.report import (
    FLAGGED_RATES,
    VERDICTS,
    EthicsReport,
    fairness_chart,
    rule_charts,
    summarise,
)
from proactive.web.accounts import Session
from proactive.web.queries import day_buckets, rule_records, verdicts_per_rule
from proactive.web.security import Forbidden, require
from proactive.web.state import WebState, render, web_state

router = APIRouter()


@router.get("/reports")
async def reports_page(
    request: Request, session: Annotated[Session, Depends(require("reports.read"))]
) -> Response:
    """Every rule the user may see, with its verdict counts and a link to its report."""
    web = web_state(request)
    counts = await run_in_threadpool(verdicts_per_rule, web.store, session.user.rule_scope)
    return render(
        request,
        "reports.html.j2",
        session,
        title="Reports",
        counts=counts,
        verdicts=VERDICTS,
        policy_revision=web.desk.check.revision,
        nav="reports",
    )


class _PerDay:
    """Counts verdicts per day while the records stream through ``summarise``."""

    def __init__(self) -> None:
        self.days: Counter[date] = Counter()
        self.by_verdict: dict[date, Counter[str]] = defaultdict(Counter)

    def watch(self, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for rec in records:
            try:
                day = date.fromisoformat(str(rec.get("created_at", ""))[:10])
            except ValueError:
                day = None
            if day is not None:
                self.days[day] += 1
                self.by_verdict[day][str(rec.get("verdict"))] += 1
            yield rec

    def chart(self, rule_id: str) -> Markup | None:
        labels, starts = day_buckets(self.days)
        if not starts:
            return None
        series: dict[str, list[int]] = {v: [0] * len(starts) for v in VERDICTS}
        for day, counts in self.by_verdict.items():
            # the bucket is the last start on or before the day
            i = max(n for n, s in enumerate(starts) if s <= day)
            for verdict, k in counts.items():
                if verdict in series:
                    series[verdict][i] += k
        return Markup(
            charts.verdicts_over_time_svg(labels, series, title=f"verdicts over time, {rule_id}")
        )


def rule_report(web: WebState, rule_id: str) -> tuple[EthicsReport, Markup | None]:
    """The ethics report over one rule's decisions, and its verdicts-over-time chart."""
    per_day = _PerDay()
    report = summarise(
        per_day.watch(rule_records(web.store, rule_id)),
        web.desk.policy,
        source=f"store, rule {rule_id}",
    )
    return report, per_day.chart(rule_id)


@router.get("/reports/{rule_id}")
async def rule_report_page(
    request: Request,
    rule_id: str,
    session: Annotated[Session, Depends(require("reports.read"))],
) -> Response:
    """One rule: verdicts (and over time), scores, top reasons, warnings, exceptions, fairness."""
    web = web_state(request)
    if len(rule_id) > 128:
        raise HTTPException(404, "no such rule")
    if not session.user.sees_rule(rule_id):
        raise Forbidden("this rule is not one of yours")
    report, over_time = await run_in_threadpool(rule_report, web, rule_id)
    if not report.rules:
        raise HTTPException(404, f"no decisions of rule {rule_id!r} in this store")
    rr = report.rules[0]
    return render(
        request,
        "report.html.j2",
        session,
        title=f"Report: {rule_id}",
        report=report,
        rr=rr,
        charts=rule_charts(rr),
        over_time=over_time,
        fairness=[(sr, fairness_chart(sr)) for sr in report.fairness if sr.groups],
        verdicts=VERDICTS,
        flagged_rates=FLAGGED_RATES,
        nav="reports",
    )
