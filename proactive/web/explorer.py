"""The decision explorer: search decisions (``/decisions``) and read one (``/decisions/ID``).

One decision shows what compliance needs to judge it: the message as the customer
sees it (escaped, as text), the eight dimension scores as a chart with their reasons,
the value check with its flags, manipulation findings, the limits that applied, the
verdict with its reasons and warnings, any exception, the rule and policy revisions,
and, for an item held for review, the queue's state, its review history and (for
those who may act) the approve and reject forms. A review record (the ``review``
chain) is shown as what it is, with a link to the decision it is about.

A product user sees only the decisions of their rules (see docs/web.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from proactive import charts
from proactive.ethics.policy import DIMENSIONS
from proactive.explain import QUESTIONS
from proactive.review import ReviewItem, history
from proactive.web.accounts import Session
from proactive.web.queries import (
    VERDICTS,
    CustomerNow,
    DecisionSearch,
    customer_now,
    review_record,
    rule_ids,
    search_decisions,
)
from proactive.web.security import Forbidden, require
from proactive.web.state import WebState, lenient, render, web_state

router = APIRouter()


def parse_day(text: str, label: str, errors: list[str]) -> date | None:
    """A ``YYYY-MM-DD`` date from a form field, or None (and an error) when it is not one."""
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(f"“{label}” takes a date as YYYY-MM-DD; {text!r} is not one.")
        return None


def decision_search(
    customer: str, rule: str, verdict: str, since: str, until: str, errors: list[str]
) -> DecisionSearch:
    """The explorer's filters as typed (the page's form, the JSON API's query) as a
    search; what cannot be understood is left out and said in ``errors``."""
    if verdict and verdict not in VERDICTS:
        errors.append(f"Unknown verdict {verdict!r}; one of {', '.join(VERDICTS)}.")
        verdict = ""
    return DecisionSearch(
        customer=customer.strip(),
        rule=rule.strip(),
        verdict=verdict,
        since=parse_day(since, "From", errors),
        until=parse_day(until, "To", errors),
    )


@router.get("/decisions")
async def decisions_page(
    request: Request,
    session: Annotated[Session, Depends(require("decisions.read"))],
    customer: Annotated[str, Query(max_length=64)] = "",
    rule: Annotated[str, Query(max_length=128)] = "",
    verdict: Annotated[str, Query(max_length=16)] = "",
    since: Annotated[str, Query(max_length=10, alias="from")] = "",
    until: Annotated[str, Query(max_length=10, alias="to")] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Search by customer (id or its beginning), rule, verdict and date range."""
    web = web_state(request)
    errors: list[str] = []
    q = decision_search(customer, rule, verdict, since, until, errors)
    scope = session.user.rule_scope
    size = web.settings.page_size

    def load() -> tuple[list[Any], list[str], CustomerNow | None]:
        # one row more than a page: whether there is a next page, without counting all
        rows = search_decisions(web.store, q, scope=scope, limit=size + 1, offset=(page - 1) * size)
        # an exact customer id with decisions this user may see (the search is by
        # prefix: "C1" must not show C1's choices to someone who may only see C10's)
        shown = rows[:size]
        exact = bool(q.customer) and any(r.customer_id == q.customer for r in shown)
        now = customer_now(web.store, q.customer) if exact else None
        return rows, rule_ids(web.store, scope), now if now is not None and now.known else None

    rows, rules, customer_state = await run_in_threadpool(load)
    return render(
        request,
        "decisions.html.j2",
        session,
        title="Decisions",
        q=q,
        raw={"from": since, "to": until},
        rows=rows[:size],
        more=len(rows) > size,
        page=page,
        rules=rules,
        verdicts=VERDICTS,
        errors=errors,
        customer_state=customer_state,
        base_query=urlencode(
            [(k, v) for k, v in request.query_params.multi_items() if k != "page" and v]
        ),
        nav="decisions",
    )


@dataclass(frozen=True)
class Dimension:
    """One dimension's row on the decision page."""

    name: str
    question: str
    score: float | None
    reasons: list[str]
    evidence: dict[str, Any]


def dimensions(rec: dict[str, Any]) -> list[Dimension]:
    """The eight dimensions of a decision record, in the policy's order."""
    scores = rec.get("scores") or {}
    out = []
    for d in DIMENSIONS:
        s = scores.get(d) or {}
        score = s.get("score")
        out.append(
            Dimension(
                d,
                QUESTIONS.get(d, ""),
                float(score) if isinstance(score, int | float) else None,
                [str(r) for r in s.get("reasons") or []],
                s.get("evidence") or {},
            )
        )
    return out


def _load(
    web: WebState, decision_id: str
) -> tuple[dict[str, Any] | None, ReviewItem | None, list[dict[str, Any]]]:
    rec = web.store.decision_record(decision_id)
    if rec is None:
        return None, None, []
    row = web.store.review_item(decision_id)
    item = ReviewItem.from_row(row) if row is not None else None
    return rec, item, history(web.store, decision_id) if item is not None else []


@router.get("/decisions/{decision_id}")
async def decision_page(
    request: Request,
    decision_id: str,
    session: Annotated[Session, Depends(require("decisions.read"))],
    done: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """One decision (or review record), explained."""
    web = web_state(request)
    if len(decision_id) > 64:
        raise HTTPException(404, "no such decision")
    rec, item, past = await run_in_threadpool(_load, web, decision_id)
    if rec is None:
        raise HTTPException(404, f"no decision {decision_id!r} in this store")
    if not session.user.sees_rule(str(rec.get("rule_id"))):
        raise Forbidden("this decision belongs to a rule that is not one of yours")
    record = await run_in_threadpool(review_record, web.store, done, session.user.rule_scope)
    customer_state = await run_in_threadpool(customer_now, web.store, str(rec.get("customer_id")))
    dims = dimensions(rec)
    chart = Markup(
        charts.score_bars_svg(
            {d.name: d.score for d in dims}, title="service dimensions (0 = poor, 1 = good)"
        )
    )
    action = rec.get("action")
    policy = web.desk.policy
    hit = {str(h.get("id")) for h in rec.get("limits") or [] if isinstance(h, dict)}
    org_limits = [
        (lim.id, lim.reason, lim.id in hit) for lim in policy.limits if lim.frame == "organisation"
    ]
    return render(
        request,
        "decision.html.j2",
        session,
        title=f"Decision {decision_id}",
        rec=lenient(rec),
        is_review=rec.get("record_type") == "review",
        message=lenient(rec.get("message") or None),
        # a review record's "action" is what the reviewer did, not the proposed action
        offer=lenient(action.get("offer")) if isinstance(action, dict) else None,
        dims=dims,
        chart=chart,
        item=item,
        history=lenient(past),
        done=lenient(record),
        org_limits=org_limits,
        now=web.clock(),
        back=f"/decisions/{decision_id}",
        can_send=web.desk.can_send,
        customer_state=customer_state if customer_state.known else None,
        nav="decisions",
    )
