"""The compliance UI: a FastAPI application over the engine's store (``proactive web``).

Server-rendered pages (jinja2, autoescape on), no JavaScript. Staff sign in with local
accounts (``proactive users add``); roles decide what each may see and do:

=============  ===========================================================
reviewer       the queue: approve and reject; read decisions
compliance     a reviewer's rights, plus exceptions (the joker), reports and
               the audit trail
product        read-only: decisions, queue and reports of their rules
auditor        read-only: everything, plus audit-trail verification
=============  ===========================================================

The modules follow a request: :mod:`~proactive.web.app` (the factory and the list of
routers), :mod:`~proactive.web.security` (sessions, roles, CSRF, headers),
:mod:`~proactive.web.accounts` (users, password hashes, sign-in limits),
:mod:`~proactive.web.desk` (approve/reject through :mod:`proactive.review`),
:mod:`~proactive.web.queries` (read-only SQL), then one module per page group.
See docs/web.md.

The application (FastAPI and everything it imports) is loaded on first use of
``create_app`` or ``ROUTERS``: ``proactive users`` needs the accounts, not a server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proactive.web.accounts import ROLES, AccountError, Accounts, LoginRefused, User
from proactive.web.settings import WebSettings, load_web_settings

if TYPE_CHECKING:
    from proactive.web.app import ROUTERS, create_app

__all__ = [
    "ROLES",
    "ROUTERS",
    "AccountError",
    "Accounts",
    "LoginRefused",
    "User",
    "WebSettings",
    "create_app",
    "load_web_settings",
]


def __getattr__(name: str) -> Any:
    if name in ("ROUTERS", "create_app"):
        from proactive.web import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
