"""A small read-only JSON API under ``/api`` (the same sign-in, roles and rule scope).

Without a session it answers 401 (pages redirect to the sign-in page instead).
Actions are taken through the pages' forms, which carry the CSRF token; an API
client that posts sends the session's token in an ``X-CSRF-Token`` header.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from proactive.review import STATUSES
from proactive.web.accounts import Session
from proactive.web.audit import verify_store
from proactive.web.explorer import decision_search
from proactive.web.queries import search_decisions
from proactive.web.review_queue import QueueFilter, queue_items
from proactive.web.security import Forbidden, require
from proactive.web.state import web_state

router = APIRouter(prefix="/api")


@router.get("/me")
async def me(session: Annotated[Session, Depends(require("decisions.read"))]) -> dict[str, Any]:
    """Who is signed in, with which role and rules."""
    u = session.user
    return {"username": u.username, "role": u.role, "rules": u.rules}


@router.get("/queue")
async def queue(
    request: Request,
    session: Annotated[Session, Depends(require("queue.read"))],
    rule: Annotated[str, Query(max_length=128)] = "",
    reason: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=16)] = "pending",
) -> list[dict[str, Any]]:
    """The queue items the user may see (as ``proactive review list --json``)."""
    if status not in (*STATUSES, "all"):
        raise HTTPException(422, f"unknown status {status!r}")
    web = web_state(request)
    f = QueueFilter(rule=rule, reason=reason, status=status)
    items = await run_in_threadpool(queue_items, web, session.user, f)
    return [i.as_dict() for i in items]


@router.get("/decisions")
async def decisions(
    request: Request,
    session: Annotated[Session, Depends(require("decisions.read"))],
    customer: Annotated[str, Query(max_length=64)] = "",
    rule: Annotated[str, Query(max_length=128)] = "",
    verdict: Annotated[str, Query(max_length=16)] = "",
    since: Annotated[str, Query(max_length=10, alias="from")] = "",
    until: Annotated[str, Query(max_length=10, alias="to")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """Decisions matching the explorer's filters, newest first."""
    errors: list[str] = []
    q = decision_search(customer, rule, verdict, since, until, errors)
    if errors:
        raise HTTPException(422, "; ".join(errors))
    web = web_state(request)
    rows = await run_in_threadpool(
        search_decisions, web.store, q, scope=session.user.rule_scope, limit=limit, offset=offset
    )
    return [
        {
            "decision_id": r.decision_id,
            "chain": r.chain,
            "seq": r.seq,
            "customer_id": r.customer_id,
            "rule_id": r.rule_id,
            "verdict": r.verdict,
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]


@router.get("/decisions/{decision_id}")
async def decision(
    request: Request,
    decision_id: str,
    session: Annotated[Session, Depends(require("decisions.read"))],
) -> dict[str, Any]:
    """One decision (or review) record, as stored."""
    web = web_state(request)
    rec = await run_in_threadpool(web.store.decision_record, decision_id[:64])
    if rec is None:
        raise HTTPException(404, f"no decision {decision_id!r}")
    if not session.user.sees_rule(str(rec.get("rule_id"))):
        raise Forbidden("this decision belongs to a rule that is not one of yours")
    return rec


@router.get("/audit")
async def audit(
    request: Request, session: Annotated[Session, Depends(require("audit.verify"))]
) -> dict[str, Any]:
    """Every chain verified, as ``proactive audit verify --json`` prints it."""
    web = web_state(request)
    report = await run_in_threadpool(verify_store, web.store)
    return report.as_dict()
