"""The customer's preference page in a real browser (headless Chromium).

The acceptance of the customer's side, end to end: an embedded engine runs in the
background over one SQLite store with the web UI; after the first message (an offer)
the run waits, the customer opens the link of that message in the browser and presses
"stop all commercial messages" with the keyboard, then the run goes on. In the same run
no further commercial message arrives (the next usage warning comes without its offer),
while the service notices do. The page is also
checked with axe-core (WCAG 2.x A/AA rules: labels, contrast, landmarks …) in both
languages.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect
from test_preferences import customer, june
from test_review import T0, check, rules

from proactive.pipeline import Engine, Outputs
from proactive.preferences import PreferenceLink, default_signer
from proactive.sinks import MemorySink
from proactive.store import ContextStore, sqlite_url
from proactive.web import WebSettings, create_app
from proactive.web.server import Running, serve_in_thread

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def accessibility_problems(page: Page) -> list[str]:
    """axe-core's WCAG A/AA violations on the page, one line each (empty: none)."""
    results = Axe().run(page, options=WCAG)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
    ]


class LiveRun:
    """An embedded engine running in a thread over a stream that pauses after the first
    part until the test says go; the web UI served over the same store."""

    def __init__(self, tmp_path: Path, site: Running, first: list[str], then: list[str]) -> None:
        self.site = site
        self.notifications = MemorySink()
        self.decisions = MemorySink()
        self.store = ContextStore(sqlite_url(tmp_path / "state.sqlite"))
        self.engine = Engine(
            rules(),
            check(),
            self.store,
            Outputs(self.decisions, self.notifications, MemorySink()),
            batch_size=1,
        )
        self.paused = threading.Event()
        self.go = threading.Event()
        self.failed: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(first, then), daemon=True)
        self._thread.start()

    def _stream(self, first: list[str], then: list[str]) -> Iterator[tuple[str, str]]:
        yield from ((line, f"first:{n}") for n, line in enumerate(first, 1))
        self.paused.set()  # every event of the first part is decided and committed
        if not self.go.wait(60):
            raise TimeoutError("the test never said go")
        yield from ((line, f"then:{n}") for n, line in enumerate(then, 1))

    def _run(self, first: list[str], then: list[str]) -> None:
        try:
            self.engine.run(self._stream(first, then))
        except BaseException as exc:  # reported by finish()
            self.failed.append(exc)

    def finish(self) -> None:
        self.go.set()
        self._thread.join(60)
        assert not self._thread.is_alive(), "the engine did not finish"
        assert not self.failed, self.failed
        self.store.close()

    def page_url(self, notification: dict[str, Any]) -> str:
        """The notification's own preference link, on the site under test."""
        url = str(notification["data"]["preferences_url"])
        return f"{self.site.url}/p/{url.rsplit('/p/', 1)[1]}"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Running, ContextStore]]:
    store = ContextStore(sqlite_url(tmp_path / "state.sqlite"))
    app = create_app(
        store,
        ruleset=rules(),
        check=check(),
        settings=WebSettings(cookie_secure=False),
        clock=lambda: T0 + timedelta(hours=1),
    )
    with serve_in_thread(app) as running:
        yield running, store
    store.close()


def test_stop_commercial_in_the_browser_holds_for_the_rest_of_the_run(
    page: Page, site: tuple[Running, ContextStore], tmp_path: Path
) -> None:
    running, store = site
    live = LiveRun(tmp_path, running, customer(), june())
    try:
        assert live.paused.wait(60), "the first part of the stream was not processed"
        (offer,) = live.notifications.records
        assert offer["data"]["purpose"] == "commercial"

        page.goto(live.page_url(offer))
        expect(page.get_by_role("heading", name="Your preferences")).to_be_visible()
        expect(page.get_by_text("This is an offer that fits how you use")).to_be_visible()
        assert accessibility_problems(page) == []
        # keyboard only: Tab from the top of the page to the button, Enter presses it
        stop = page.get_by_role("button", name="Stop all commercial messages")
        for _ in range(10):
            page.keyboard.press("Tab")
            if stop.evaluate("b => b === document.activeElement"):
                break
        expect(stop).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_have_text(
            "Your choice is recorded. It applies from the next message."
        )
        # the page shows the new state at once, and the way back
        expect(page.get_by_text("You get no more offers.")).to_be_visible()
        expect(page.get_by_role("button", name="Receive offers again")).to_be_visible()
        assert len(store.inbound()) == 1  # waiting for the engine's next batch
    finally:
        live.finish()

    # June: the outage notice and the plain usage warning (service), no offer
    later = [(n["data"]["rule_id"], n["data"]["purpose"]) for n in live.notifications.records[1:]]
    assert later == [
        ("outage-started", "service"),
        ("data-bundle-nearly-used", "service"),
    ]
    assert not any(n["data"].get("offer") for n in live.notifications.records[1:])
    june_offer = [
        d
        for d in live.decisions.records
        if d["rule_id"] == "data-bundle-nearly-used"
        and "2026-06" in d["event_id"]
        and (d.get("action") or {}).get("purpose") == "commercial"
    ]
    assert june_offer and all(d["verdict"] == "block" for d in june_offer)
    assert any("objection_direct_marketing" in str(d["reasons"]) for d in june_offer)
    assert store.inbound() == []
    assert store.load(["C1"])["C1"].objection_direct_marketing is True


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_page_passes_axe_and_works_by_keyboard_in_both_languages(
    page: Page, site: tuple[Running, ContextStore], language: str
) -> None:
    """axe-core finds no WCAG A/AA violation (labels, contrast, landmarks, lang …); the
    language and quiet-hours forms work from the keyboard; the page then speaks the
    chosen language."""
    running, store = site
    link = PreferenceLink("C7", "outage-started", language, T0 + timedelta(days=30))
    page.goto(f"{running.url}/p/{default_signer().sign(link)}")
    expect(page.locator("html")).to_have_attribute("lang", language)
    assert accessibility_problems(page) == []

    other = "en" if language == "nl" else "nl"
    page.locator("#language").focus()
    page.keyboard.press("E" if other == "en" else "N")  # type-ahead: English / Nederlands
    expect(page.locator("#language")).to_have_value(other)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", other)
    expect(page.get_by_role("status")).to_be_visible()
    assert accessibility_problems(page) == []

    page.locator("#quiet-start").fill("22:00")
    page.locator("#quiet-end").fill("07:30")
    page.locator("#quiet-end").press("Enter")
    expect(page.locator("#quiet-start")).to_have_value("22:00")
    expect(page.locator("#quiet-end")).to_have_value("07:30")
    remove = "Mijn tijden wissen" if other == "nl" else "Remove my times"
    expect(page.get_by_role("button", name=remove)).to_be_visible()
    assert accessibility_problems(page) == []
    kinds = [json.loads(raw)["data"] for _, raw in store.inbound()]
    assert kinds == [{"language": other}, {"quiet_hours": {"start": "22:00", "end": "07:30"}}]
