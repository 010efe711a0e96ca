"""The review queue (``/queue``) and the approve and reject actions.

The queue reads as ``proactive review list``: items past their expiry are expired
first (by ``system``, on the review chain), then the items are listed oldest first,
filtered by rule, by a text in their reasons and by age. Approve and reject go through
the :class:`~proactive.web.desk.ReviewDesk`, so each is a review record with the
signed-in user as reviewer and the reason they typed; an approval is checked again
now and may be refused (the item then stays pending, and the page says why).

After an action the browser is sent back (303) to the page it came from with
``done=<review record id>``; that page shows what the record says happened.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from proactive.review import (
    STATUSES,
    AlreadyDecided,
    DeliveryError,
    Outcome,
    ReviewError,
    ReviewItem,
    expire_stale,
    list_items,
)
from proactive.web.accounts import Session, User
from proactive.web.queries import review_record, rule_ids
from proactive.web.security import Forbidden, require, safe_next
from proactive.web.state import WebState, lenient, render, web_state

log = logging.getLogger(__name__)

router = APIRouter()

MAX_REASON = 2000
MAX_JUSTIFICATION = 4000


@dataclass(frozen=True)
class QueueFilter:
    """The queue page's filters."""

    rule: str = ""
    reason: str = ""
    older_than: float | None = None
    """Hours."""
    status: str = "pending"

    def query(self) -> str:
        """The filters as a query string (to come back to the same view)."""
        pairs = {
            "rule": self.rule,
            "reason": self.reason,
            "older_than": "" if self.older_than is None else f"{self.older_than:g}",
            "status": "" if self.status == "pending" else self.status,
        }
        return urlencode({k: v for k, v in pairs.items() if v})


def queue_items(web: WebState, user: User, f: QueueFilter) -> list[ReviewItem]:
    """The items the user may see that match ``f``, oldest first (stale ones expired first)."""
    now = web.clock()
    expire_stale(web.store, now)
    items = list_items(
        web.store,
        status=None if f.status == "all" else f.status,
        rule_id=f.rule or None,
        older_than=None if f.older_than is None else timedelta(hours=f.older_than),
        now=now,
    )
    needle = f.reason.casefold().strip()
    return [
        i
        for i in items
        if user.sees_rule(i.rule_id)
        and (not needle or any(needle in r.casefold() for r in i.reasons))
    ]


@router.get("/queue")
async def queue_page(
    request: Request,
    session: Annotated[Session, Depends(require("queue.read"))],
    rule: Annotated[str, Query(max_length=128)] = "",
    reason: Annotated[str, Query(max_length=200)] = "",
    older_than: Annotated[str, Query(max_length=16)] = "",
    status: Annotated[str, Query(max_length=16)] = "pending",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    done: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """The queue, filtered; with approve/reject forms for those who may act."""
    errors: list[str] = []
    hours: float | None = None
    if older_than.strip():
        try:
            hours = float(older_than)
            if not math.isfinite(hours) or not 0 <= hours <= 24 * 3650:
                raise ValueError
        except ValueError:
            errors.append("“Older than” takes a number of hours, such as 24.")
            hours = None
    if status not in (*STATUSES, "all"):
        errors.append(f"Unknown status {status!r}: showing pending items.")
        status = "pending"
    f = QueueFilter(rule=rule.strip(), reason=reason, older_than=hours, status=status)
    return await _page(request, session, f, page=page, done=done, errors=errors)


async def _page(
    request: Request,
    session: Session,
    f: QueueFilter,
    *,
    page: int = 1,
    done: str = "",
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    web = web_state(request)
    items = await run_in_threadpool(queue_items, web, session.user, f)
    record = await run_in_threadpool(review_record, web.store, done, session.user.rule_scope)
    rules = await run_in_threadpool(rule_ids, web.store, session.user.rule_scope)
    size = web.settings.page_size
    start = (page - 1) * size
    return render(
        request,
        "queue.html.j2",
        session,
        status_code=status_code,
        title="Review queue",
        filters=f,
        statuses=("pending", "approved", "rejected", "expired", "all"),
        rules=rules,
        items=items[start : start + size],
        total=len(items),
        page=page,
        pages=max(1, -(-len(items) // size)),
        now=web.clock(),
        done=lenient(record),
        errors=errors or [],
        back="/queue" + (f"?{f.query()}" if f.query() else ""),
        can_send=web.desk.can_send,
        nav="queue",
    )


# -- acting ------------------------------------------------------------------------------


def _back(back: str, **params: str) -> str:
    """``back`` (a path on this site) with ``params`` added to its query."""
    parts = urlsplit(safe_next(back))
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in params]
    query += list(params.items())
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


async def _act(
    request: Request, session: Session, back: str, action: Callable[[], Outcome]
) -> Response:
    """Run an action; redirect back with its record, or show the page with the error."""
    try:
        outcome: Outcome = await run_in_threadpool(action)
    except DeliveryError as exc:
        log.error("approval recorded, delivery failed: %s", exc)
        return _refused(request, session, back, str(exc), 502)
    except AlreadyDecided as exc:
        return _refused(request, session, back, str(exc), 409)
    except ReviewError as exc:  # no reason, unknown item, a joker without justification …
        return _refused(request, session, back, str(exc), 422)
    log.info(
        "review %s of %s by %s (record %s)",
        outcome.action,
        outcome.item.decision_id,
        session.user.username,
        outcome.record["decision_id"],
    )
    return RedirectResponse(_back(back, done=outcome.record["decision_id"]), status_code=303)


def _refused(request: Request, session: Session, back: str, message: str, code: int) -> Response:
    return render(
        request,
        "action_refused.html.j2",
        session,
        status_code=code,
        title="Not done",
        message=message,
        back=safe_next(back),
    )


@router.post("/queue/{decision_id}/approve")
async def approve_item(
    request: Request,
    decision_id: str,
    session: Annotated[Session, Depends(require("queue.act"))],
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
    except_limits: Annotated[list[str] | None, Form()] = None,
    justification: Annotated[str, Form(max_length=MAX_JUSTIFICATION)] = "",
    back: Annotated[str, Form(max_length=2000)] = "/queue",
) -> Response:
    """Approve: re-checked now, sent if it may still go (the joker for compliance only)."""
    web = web_state(request)
    limits = [x for x in (except_limits or []) if x.strip()]
    exception: tuple[list[str], str] | None = None
    if limits or justification.strip():
        if not session.user.can("queue.except"):
            raise Forbidden("only compliance may grant an exception (the joker)")
        if not limits:
            return _refused(
                request, session, back, "a justification was given but no limit was chosen", 422
            )
        exception = (limits, justification)
    user = session.user.username

    def action() -> Outcome:
        return web.desk.approve(
            web.store,
            decision_id,
            reviewer=user,
            reason=reason,
            now=web.clock(),
            exception=exception,
        )

    return await _act(request, session, back, action)


@router.post("/queue/{decision_id}/reject")
async def reject_item(
    request: Request,
    decision_id: str,
    session: Annotated[Session, Depends(require("queue.act"))],
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
    back: Annotated[str, Form(max_length=2000)] = "/queue",
) -> Response:
    """Reject: nothing is sent; the rejection is recorded with the reason."""
    web = web_state(request)
    user = session.user.username

    def action() -> Outcome:
        return web.desk.reject(
            web.store, decision_id, reviewer=user, reason=reason, now=web.clock()
        )

    return await _act(request, session, back, action)
