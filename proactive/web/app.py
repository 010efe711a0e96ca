"""The web application: :func:`create_app` wires the store, accounts, review desk and pages.

The pages are server-rendered (jinja2, autoescape on) and work without JavaScript;
the UI ships no script at all. Every router is listed once, in :data:`ROUTERS`.

Example::

    store = ContextStore("sqlite:///out/demo/state.sqlite")
    app = create_app(store, ruleset=load_ruleset(Path("rules")),
                     check=EthicsCheck(load_policy(Path("ethics/policy.yaml"))),
                     sink=JsonlSink(Path("out/demo/notifications.jsonl")))
    uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import Response

from proactive.ethics.check import EthicsCheck
from proactive.logs import apply_policy, scrub_logger
from proactive.preferences import LinkSigner, default_signer
from proactive.reload import Reloader
from proactive.rules import RuleSet
from proactive.sinks import Sink
from proactive.store import ContextStore
from proactive.web import (
    api,
    audit,
    callbacks,
    customer,
    explorer,
    jokers,
    reports,
    review_queue,
    signin,
)
from proactive.web.accounts import Accounts
from proactive.web.desk import ReviewDesk
from proactive.web.security import (
    Cookies,
    LoginTokens,
    SecurityHeaders,
    current_session,
    login_redirect_target,
    wants_json,
)
from proactive.web.settings import WebSettings
from proactive.web.state import WebState, render, templates

STATIC = Path(__file__).parent / "static"

ROUTERS: tuple[APIRouter, ...] = (
    signin.router,  # /, /login, /logout
    review_queue.router,  # /queue, /queue/ID/approve, /queue/ID/reject
    explorer.router,  # /decisions, /decisions/ID
    reports.router,  # /reports, /reports/RULE
    jokers.router,  # /exceptions
    audit.router,  # /audit
    callbacks.router,  # /callbacks, /callbacks/done
    api.router,  # /api/...
    # The customer's side: no staff session (never security.require); each route checks
    # its own signed, expiring link, and every form carries a signed nonce.
    customer.router,  # /p/TOKEN
)
"""Every router of the application, in one place."""


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def create_app(
    store: ContextStore,
    *,
    ruleset: RuleSet,
    check: EthicsCheck,
    sink: Sink | None = None,
    settings: WebSettings | None = None,
    reloader: Reloader | None = None,
    clock: Callable[[], datetime] = _wall_clock,
    links: LinkSigner | None = None,
) -> FastAPI:
    """The UI over ``store``, judging approvals with ``ruleset`` and ``check``.

    ``sink`` receives approved notifications (None: approving is refused, rejecting
    works). ``reloader`` keeps the rules and policy of re-checks current as the
    engine's are. ``clock`` is the moment of every action (tests fix it). The caller
    owns ``store`` and closes it; the app closes ``sink`` when it shuts down.
    ``links`` checks preference links (default: the process's signer, the key of
    ``PROACTIVE_LINK_KEY``, as the engine's notifications use).
    """
    settings = settings or WebSettings()
    cookies = Cookies(secure=settings.cookie_secure)
    key = (
        settings.secret_key.get_secret_value().encode()
        if settings.secret_key is not None
        else secrets.token_bytes(32)
    )
    desk = ReviewDesk(ruleset, check, sink=sink, reloader=reloader)
    web = WebState(
        store=store,
        accounts=Accounts(store, login=settings.login_limits(), sessions=settings.session_limits()),
        desk=desk,
        settings=settings,
        cookies=cookies,
        login_tokens=LoginTokens(key, cookies),
        templates=templates(),
        clock=clock,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        desk.start()
        try:
            yield
        finally:
            desk.stop()

    app = FastAPI(
        title="proactive: compliance review",
        # the pages are the interface; no interactive API docs served to the world
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.web = web
    app.state.links = links or default_signer()
    # logs mask what the policy says, the access log too; a preference-link token (a
    # customer's key to their page) never reaches a log
    apply_policy(check.policy.masking)
    scrub_logger("uvicorn.access")
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    return app


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if customer.is_customer_path(request.url.path):
        return customer.refused(request)  # a customer never sees the staff layout
    if exc.status_code == 401:
        if wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=401)
        return RedirectResponse(login_redirect_target(request), status_code=303)
    if wants_json(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    session = await current_session(request)
    titles = {403: "Not allowed", 404: "Not found", 405: "Not allowed"}
    return render(
        request,
        "error.html.j2",
        session,
        status_code=exc.status_code,
        title=titles.get(exc.status_code, "Something went wrong"),
        message=str(exc.detail),
        code=exc.status_code,
    )


async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
    if customer.is_customer_path(request.url.path):
        return customer.refused(request)  # e.g. an over-long field: not a form we sent
    problems = [
        f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', '')}"
        for e in exc.errors()
    ]
    if wants_json(request):
        return JSONResponse({"detail": problems}, status_code=422)
    session = await current_session(request)
    return render(
        request,
        "error.html.j2",
        session,
        status_code=422,
        title="Not understood",
        message="; ".join(problems),
        code=422,
    )
