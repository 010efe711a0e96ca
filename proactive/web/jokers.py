"""Exceptions (the joker): every decision and approval that lifted an organisation limit.

DOMAIN §8: an exception is allowed only with a written justification, is stated as
an exception, registered and visible to the team. This page is that register: who,
when, which limits, why — from the decision records themselves, so it cannot drift
from what was decided. The per-rule exception rate is on each rule's report.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from proactive.web.accounts import Session
from proactive.web.queries import joker_uses
from proactive.web.security import require
from proactive.web.state import render, web_state

router = APIRouter()

SHOWN = 1000
"""The newest exceptions listed; more are counted in the reports."""


@router.get("/exceptions")
async def exceptions_page(
    request: Request, session: Annotated[Session, Depends(require("exceptions.read"))]
) -> Response:
    """The register of exceptions, newest first."""
    web = web_state(request)
    uses = await run_in_threadpool(joker_uses, web.store, limit=SHOWN)
    policy = web.desk.policy
    frames = {lim.id: lim.frame for lim in policy.limits}
    return render(
        request,
        "exceptions.html.j2",
        session,
        title="Exceptions",
        uses=uses,
        frames=frames,
        shown=SHOWN,
        nav="exceptions",
    )
