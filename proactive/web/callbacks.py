"""Callbacks: the customers who asked for a person to call them back (``/callbacks``).

A customer asks on the preference page ("call me back") or by SMS ("BEL MIJ"); the
request stays open in their context until someone marks it done here. Marking it done
needs a note (what was agreed, without more personal data than needed) and is itself an
event in the pipeline — ``customer.preferences_changed {callback_requested: false, via:
agent, handled_by, note}`` — so it reaches the context (and the explorer's list of the
customer's choices, with who called and the note) the same way the customer's own
choices do; the note is personal data of the customer, exported and erased with them,
and never logged.
Reviewers and compliance see and act; product and auditors do not see this list.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from proactive.inbound import choice_event
from proactive.web.accounts import Session
from proactive.web.queries import customer_now, open_callbacks
from proactive.web.security import require
from proactive.web.state import render, web_state

log = logging.getLogger(__name__)

router = APIRouter()

SHOWN = 500
"""The oldest open requests listed (the oldest waited longest)."""
SOURCE = "/proactive/web/callbacks"
MIN_NOTE = 3
MAX_NOTE = 500
ERRORS = {
    "note": "A note of at least 3 characters is required.",
    "closed": "That request is no longer open (done by someone else, or the customer "
    "cancelled it or was erased). Nothing was recorded.",
}


@router.get("/callbacks")
async def callbacks_page(
    request: Request,
    session: Annotated[Session, Depends(require("callbacks.read"))],
    done: str = "",
    error: str = "",
) -> Response:
    """Open callback requests, oldest first."""
    web = web_state(request)
    rows = await run_in_threadpool(open_callbacks, web.store, SHOWN)
    return render(
        request,
        "callbacks.html.j2",
        session,
        title="Callbacks",
        rows=rows,
        shown=SHOWN,
        done=done[:64],
        error=ERRORS.get(error, ""),
        nav="callbacks",
    )


@router.post("/callbacks/done")
async def callback_done(
    request: Request,
    session: Annotated[Session, Depends(require("callbacks.act"))],
    customer: Annotated[str, Form(max_length=64)] = "",
    note: Annotated[str, Form(max_length=MAX_NOTE)] = "",
) -> Response:
    """Mark one open request as called back (an event for the engine, like the
    customer's own). The customer id travels in the form body, not the URL: URLs end
    up in access logs."""
    web = web_state(request)
    if len(note.strip()) < MIN_NOTE:
        return RedirectResponse("/callbacks?error=note", status_code=303)
    now_of = await run_in_threadpool(customer_now, web.store, customer)
    if now_of.context.callback_requested_at is None:
        # closed already, erased, or never asked: nothing to mark, nothing written (a
        # stale page must not bring back a forgotten customer with a staff note)
        return RedirectResponse("/callbacks?error=closed", status_code=303)
    customer_id = customer
    now = web.clock()
    data = {
        "callback_requested": False,
        "via": "agent",
        "handled_by": session.user.username,
        "note": note.strip(),
    }
    event = choice_event(customer_id, "customer.preferences_changed", data, source=SOURCE, now=now)
    await run_in_threadpool(web.store.add_inbound, event, now)
    # the note may hold personal data: it goes to the customer's context (exported and
    # erased with it), never to the log
    log.info("callback marked done by %s", session.user.username)
    return RedirectResponse("/callbacks?done=1", status_code=303)
