"""Signing in and out, and the home page (``/``, ``/login``, ``/logout``)."""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from proactive.web.accounts import LoginRefused, Session
from proactive.web.security import check_csrf, client_ip, current_session, safe_next
from proactive.web.state import render, web_state

log = logging.getLogger(__name__)

router = APIRouter()


@router.get("/")
async def home(session: Annotated[Session | None, Depends(current_session)]) -> Response:
    """The first page a role works with: the queue, or the decision explorer."""
    if session is None:
        return RedirectResponse("/login", status_code=303)
    target = "/queue" if session.user.can("queue.read") else "/decisions"
    return RedirectResponse(target, status_code=303)


def _login_page(
    request: Request, *, next_url: str, error: str = "", status_code: int = 200, name: str = ""
) -> Response:
    web = web_state(request)
    nonce, token = web.login_tokens.new()
    response = render(
        request,
        "login.html.j2",
        None,
        status_code=status_code,
        title="Sign in",
        next_url=safe_next(next_url),
        error=error,
        name=name,
        login_token=token,
        max_failures=web.settings.login_max_failures,
        lock_minutes=web.settings.login_lock_minutes,
    )
    web.login_tokens.set_cookie(response, nonce)
    return response


@router.get("/login")
async def login_form(
    request: Request,
    session: Annotated[Session | None, Depends(current_session)],
    next_url: Annotated[str, Query(alias="next", max_length=2000)] = "/",
) -> Response:
    """The sign-in form (an already signed-in user goes straight on)."""
    if session is not None:
        return RedirectResponse(safe_next(next_url), status_code=303)
    return _login_page(request, next_url=next_url)


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    login_token: Annotated[str, Form(max_length=200)] = "",
    next_url: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    """Check the name and password (rate limited) and open a session."""
    web = web_state(request)
    if not web.login_tokens.valid(request, login_token):
        return _login_page(
            request,
            next_url=next_url,
            name=username,
            status_code=403,
            error="The sign-in form expired or was not sent from this site. Please try again.",
        )
    ip = client_ip(request)
    now = web.clock()
    try:
        user = await run_in_threadpool(
            web.accounts.authenticate, username, password, ip=ip, now=now
        )
    except LoginRefused as exc:
        log.warning("sign-in refused (%s) for %r from %s", exc.reason, username[:64], ip)
        if exc.reason == "locked":
            wait = exc.retry_after - now if exc.retry_after is not None else timedelta(minutes=1)
            seconds = max(1, math.ceil(wait.total_seconds()))
            response = _login_page(
                request,
                next_url=next_url,
                name=username,
                status_code=429,
                error=f"Too many failed sign-ins. Try again in {math.ceil(seconds / 60)} minute(s).",
            )
            response.headers["Retry-After"] = str(seconds)
            return response
        return _login_page(
            request,
            next_url=next_url,
            name=username,
            status_code=401,
            error="Unknown name or wrong password.",
        )
    old = request.cookies.get(web.cookies.session)
    if old:  # a new session on every sign-in: a planted cookie is never promoted
        await run_in_threadpool(web.accounts.close_session, old)
    token, _ = await run_in_threadpool(web.accounts.open_session, user, ip=ip, now=now)
    log.info("signed in: %s (%s) from %s", user.username, user.role, ip)
    response = RedirectResponse(safe_next(next_url), status_code=303)
    limits = web.accounts.sessions
    web.cookies.set_session(response, token, int(limits.absolute.total_seconds()))
    response.delete_cookie(web.cookies.login, path="/", secure=web.cookies.secure)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session: its row is deleted, the cookie cleared."""
    web = web_state(request)
    session = await current_session(request)
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    if session is None:
        return response
    await check_csrf(request, session)
    token = request.cookies.get(web.cookies.session, "")
    await run_in_threadpool(web.accounts.close_session, token)
    log.info("signed out: %s", session.user.username)
    web.cookies.clear_session(response)
    return response
