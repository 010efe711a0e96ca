"""Sign-in state, roles, CSRF and response headers of the web UI.

* **Session cookie**: the random token of a server-side session
  (:class:`~proactive.web.accounts.Accounts`), ``HttpOnly``, ``SameSite=Lax``,
  ``Secure`` (unless turned off for plain HTTP on a laptop), path ``/``; named with
  the ``__Host-`` prefix when ``Secure``, so no subdomain can set or shadow it.
* **Who may do what**: every staff route depends on :func:`require` with a
  permission. No session: a page redirects to ``/login`` (303, with ``next``), the
  JSON API answers 401. Signed in without the permission: 403.
* **CSRF**: every POST, PUT, PATCH or DELETE with a session must carry the
  session's token (form field ``csrf_token`` or header ``X-CSRF-Token``), compared in
  constant time, or it is refused with 403 before anything happens. The sign-in form
  has no session yet: it carries an HMAC of a random nonce that is also in a
  short-lived ``SameSite=Strict`` cookie (a signed double-submit token).
* **Headers** on every response: a Content-Security-Policy that allows no script at
  all (the UI has none) and nothing from elsewhere, ``frame-ancestors 'none'``,
  ``nosniff``, ``Referrer-Policy: same-origin``, and ``Cache-Control: no-store`` on
  everything but the stylesheet.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proactive.web.accounts import PERMISSIONS, Accounts, Session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""No script at all. Inline styles are allowed for the charts: pygal writes a ``<style>``
into each SVG; every text in a page is escaped, so no one else can write one."""


class NotSignedIn(HTTPException):
    """No live session: a page redirects to the sign-in page, the API answers 401."""

    def __init__(self) -> None:
        super().__init__(401, "sign in first")


class Forbidden(HTTPException):
    """Signed in, but the role does not allow this (or the CSRF token is wrong)."""

    def __init__(self, detail: str) -> None:
        super().__init__(403, detail)


@dataclass(frozen=True)
class Cookies:
    """Names and attributes of the UI's cookies."""

    secure: bool

    @property
    def session(self) -> str:
        """The session cookie's name."""
        return "__Host-proactive-session" if self.secure else "proactive-session"

    @property
    def login(self) -> str:
        """The sign-in form's nonce cookie."""
        return "__Host-proactive-login" if self.secure else "proactive-login"

    def set_session(self, response: Response, token: str, max_age: int) -> None:
        """Put a new session's token in the response."""
        response.set_cookie(
            self.session,
            token,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def clear_session(self, response: Response) -> None:
        """Tell the browser to forget the session cookie."""
        response.delete_cookie(
            self.session, path="/", secure=self.secure, httponly=True, samesite="lax"
        )


class LoginTokens:
    """The sign-in form's CSRF protection: a signed double-submit token."""

    def __init__(self, key: bytes, cookies: Cookies) -> None:
        self._key = key
        self._cookies = cookies

    def new(self) -> tuple[str, str]:
        """A fresh (nonce, form token): the nonce goes in the cookie, the token in the form."""
        nonce = secrets.token_urlsafe(24)
        return nonce, self._sign(nonce)

    def set_cookie(self, response: Response, nonce: str) -> None:
        """Put the nonce in a short-lived, same-site-only cookie."""
        response.set_cookie(
            self._cookies.login,
            nonce,
            max_age=3600,
            path="/",
            secure=self._cookies.secure,
            httponly=True,
            samesite="strict",
        )

    def valid(self, request: Request, token: str) -> bool:
        """Whether ``token`` is the HMAC of the nonce in this request's cookie."""
        nonce = request.cookies.get(self._cookies.login, "")
        return bool(nonce and token) and hmac.compare_digest(self._sign(nonce), token)

    def _sign(self, nonce: str) -> str:
        return hmac.new(self._key, b"login|" + nonce.encode(), hashlib.sha256).hexdigest()


def client_ip(request: Request) -> str:
    """The client's address (behind a proxy: as uvicorn's ``--forwarded-allow-ips`` says)."""
    return request.client.host if request.client else "unknown"


def wants_json(request: Request) -> bool:
    """Whether the request is for the JSON API (401 instead of a redirect)."""
    return request.url.path.startswith("/api/")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(c in target for c in "\r\n\t\\"):
        return "/"
    return target


def login_redirect_target(request: Request) -> str:
    """``/login?next=…`` for the page that was asked for."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(safe_next(here), safe="")


async def current_session(request: Request) -> Session | None:
    """The request's live session, or None (looked up once per request)."""
    if hasattr(request.state, "session"):
        found: Session | None = request.state.session
        return found
    web = request.app.state.web
    token = request.cookies.get(web.cookies.session)
    accounts: Accounts = web.accounts
    now: datetime = web.clock()
    session = await run_in_threadpool(accounts.session, token, now) if token else None
    request.state.session = session
    return session


async def check_csrf(request: Request, session: Session) -> None:
    """Refuse an unsafe request whose CSRF token is not the session's."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("x-csrf-token", "")
    if not sent:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else ""
    if not sent or not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
        raise Forbidden(
            "the form's security token is missing or out of date; reload the page and try again"
        )


def require(permission: str) -> Callable[[Request], Awaitable[Session]]:
    """A dependency: the signed-in session, if its role holds ``permission``.

    No session: :class:`NotSignedIn`. An unsafe method without the session's CSRF
    token, or a role without the permission: :class:`Forbidden`.
    """
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    async def dependency(request: Request) -> Session:
        session = await current_session(request)
        if session is None:
            raise NotSignedIn()
        await check_csrf(request, session)
        if not session.user.can(permission):
            raise Forbidden(
                f"your role ({session.user.role}) does not allow this ({permission.replace('.', ' ')})"
            )
        return session

    dependency.__name__ = f"require_{permission.replace('.', '_')}"
    return dependency


class SecurityHeaders:
    """ASGI middleware: the security headers of every response (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
                if not static:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def template_globals(session: Session | None) -> dict[str, Any]:
    """What every page template gets: who is signed in and what they may do."""
    user = session.user if session else None
    return {
        "session": session,
        "user": user,
        "can": (lambda p: bool(user and user.can(p))),
        "csrf_token": session.csrf_token if session else "",
    }
