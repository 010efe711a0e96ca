"""Fixtures of the browser tests: headless Chromium (Debian's package, driven by
Playwright through ``executable_path``; Playwright never downloads a browser here) and
the UI served by uvicorn in a background thread over a copy of a store filled by an
embedded engine run (``tests/webstore.py``).

Chromium is found as ``PROACTIVE_CHROMIUM``, else ``chromium`` or
``chromium-browser`` on the PATH. Without it these tests are skipped with the reason
on a developer's machine, and FAIL in CI (``CI`` set): a browser test that silently
did not run is no test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from test_review import check, rules
from webstore import DAYTIME, fill_store

from proactive.sinks import JsonlSink
from proactive.store import ContextStore, sqlite_url
from proactive.web import Accounts, WebSettings, create_app
from proactive.web.server import Running, serve_in_thread

PASSWORD = "a long enough password 1"
USERS = {"alice": "reviewer", "carol": "compliance", "paula": "product", "audrey": "auditor"}


def chromium_path() -> str | None:
    """Debian's Chromium, or the one ``PROACTIVE_CHROMIUM`` names."""
    named = os.environ.get("PROACTIVE_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        why = (
            "no Chromium: install Debian's package (apt-get install chromium) or set "
            "PROACTIVE_CHROMIUM to its path"
        )
        if in_ci():
            pytest.fail(f"{why}; in CI the browser tests must run", pytrace=False)
        pytest.skip(why)
    b = playwright.chromium.launch(executable_path=path, headless=True)
    yield b
    b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


class Clock:
    """The app's clock, fixed inside the review window (moved by a test if it must)."""

    def __init__(self, at: datetime = DAYTIME) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Site:
    """The UI being served, its store (a second connection, for checks) and its folder."""

    server: Running
    store: ContextStore
    out: Path

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Callable[[tuple[str, ...]], Path]:
    """Factory: a run's output folder over these customers, with the USERS; made once."""
    made: dict[tuple[str, ...], Path] = {}

    def get(ids: tuple[str, ...]) -> Path:
        if ids not in made:
            out = tmp_path_factory.mktemp("browser-template")
            fill_store(out, ids)
            store = ContextStore(sqlite_url(out / "state.sqlite"))
            for name, role in USERS.items():
                Accounts(store).add(name, role, PASSWORD)
            store.close()
            made[ids] = out
        return made[ids]

    return get


@pytest.fixture
def serve(
    tmp_path: Path, template: Callable[[tuple[str, ...]], Path]
) -> Iterator[Callable[[list[str]], Site]]:
    """Factory: ``serve(customer_ids)`` → the UI over a fresh copy of such a store."""
    with ExitStack() as stack:

        def start(ids: list[str]) -> Site:
            out = tmp_path / f"site-{len(list(tmp_path.iterdir()))}"
            shutil.copytree(template(tuple(ids)), out)
            store = ContextStore(sqlite_url(out / "state.sqlite"))
            stack.callback(store.close)
            app = create_app(
                store,
                ruleset=rules(),
                check=check(),
                sink=JsonlSink(out / "notifications.jsonl"),
                # plain HTTP on loopback, as `proactive web` serves it by default
                settings=WebSettings(cookie_secure=False),
                clock=Clock(),
            )
            running = stack.enter_context(serve_in_thread(app))
            checks = ContextStore(sqlite_url(out / "state.sqlite"))
            stack.callback(checks.close)
            return Site(running, checks, out)

        yield start


def sign_in(page: Page, site: Site, name: str, password: str = PASSWORD) -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{site.url}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)
