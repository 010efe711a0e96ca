"""What every request handler shares: the store, accounts, review desk, settings, templates.

:func:`proactive.web.app.create_app` builds one :class:`WebState` and keeps it in
``app.state.web``; handlers reach it with :func:`web_state` and render pages with
:func:`render` (the project's jinja2, autoescape on, undefined names are errors).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from proactive.charts import VERDICT_COLOURS
from proactive.store import ContextStore
from proactive.web.accounts import Accounts, Session
from proactive.web.desk import ReviewDesk
from proactive.web.security import Cookies, LoginTokens, template_globals
from proactive.web.settings import WebSettings


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _when(value: datetime | str | None) -> str:
    """A moment as the pages show it: ``2026-05-20 10:00 UTC``."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        at = value
    return at.strftime("%Y-%m-%d %H:%M %Z").strip()


class Lenient(dict[str, Any]):
    """A stored record for a template: a key it does not have reads as None.

    Records differ by schema version and by what was masked or erased; a page must
    show what is there rather than fail on what is not. (Template variables stay
    strict: a misspelt name is still an error.)
    """

    def __missing__(self, key: str) -> None:
        return None


def lenient(value: Any) -> Any:
    """``value`` with every mapping inside it made :class:`Lenient`."""
    if isinstance(value, dict):
        return Lenient({k: lenient(v) for k, v in value.items()})
    if isinstance(value, list):
        return [lenient(v) for v in value]
    return value


def _finalize(value: Any) -> Any:
    # a missing field prints as nothing, not as "None"
    return "" if value is None else value


def templates() -> Jinja2Templates:
    """The UI's templates: ``proactive/web/templates``, autoescaped, strict."""
    env = Environment(
        loader=PackageLoader("proactive.web", "templates"),
        # every text on a page comes from records, rule files or users: escaped, always;
        # only charts (Markup from proactive.charts) are not
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.filters["pct"] = _pct
    env.filters["num"] = _num
    env.filters["when"] = _when
    env.globals["verdict_colours"] = VERDICT_COLOURS
    return Jinja2Templates(env=env)


@dataclass
class WebState:
    """The application's shared parts (one per app)."""

    store: ContextStore
    accounts: Accounts
    desk: ReviewDesk
    settings: WebSettings
    cookies: Cookies
    login_tokens: LoginTokens
    templates: Jinja2Templates
    clock: Callable[[], datetime]


def web_state(request: Request) -> WebState:
    """The :class:`WebState` of the app serving ``request``."""
    found: WebState = request.app.state.web
    return found


def render(
    request: Request,
    template: str,
    session: Session | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A page: ``template`` with ``context`` and who is signed in (see ``template_globals``)."""
    web = web_state(request)
    return web.templates.TemplateResponse(
        request,
        template,
        {**template_globals(session), "title": "", "nav": "", **context},
        status_code=status_code,
    )
