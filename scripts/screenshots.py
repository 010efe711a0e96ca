"""Screenshots of the compliance UI for the docs, taken from the real UI in Chromium.

Runs the embedded engine over a generated stream (as ``make demo`` does, smaller),
adds a reviewer and a compliance officer, serves ``proactive web``'s app in a
background thread and lets headless Chromium (Debian's package, driven by Playwright
with ``executable_path``; nothing is downloaded) take three pictures:

* ``queue.png``: the review queue, signed in as compliance;
* ``decision.png``: one held decision, explained (message, dimension chart, value check);
* ``report.png``: the report of the data-bundle rule (charts, reasons, fairness);
* ``preferences.png``: the customer's preference page of an offer, on a phone.

Usage: ``python scripts/screenshots.py [--out docs/screenshots]`` (``make screenshots``).
Chromium is ``$PROACTIVE_CHROMIUM`` or ``chromium`` on the PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright

from proactive.app import open_engine
from proactive.config import load_settings
from proactive.ethics.check import EthicsCheck
from proactive.ethics.policy import load_policy
from proactive.generate import generate_lines
from proactive.review import list_items
from proactive.rules import load_ruleset
from proactive.sinks import JsonlSink
from proactive.store import ContextStore, sqlite_url
from proactive.web import Accounts, WebSettings, create_app
from proactive.web.server import serve_in_thread

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "screenshots only, not a real one"
REPORT_RULE = "data-bundle-nearly-used"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--events", type=int, default=8000)
    args = parser.parse_args()
    chromium = os.environ.get("PROACTIVE_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        print("no chromium: apt-get install chromium (or set PROACTIVE_CHROMIUM)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    settings = load_settings(rules_dir=REPO / "rules", policy=REPO / "ethics" / "policy.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        engine = open_engine(settings, run)
        lines = generate_lines(args.customers, args.events, seed=7)
        engine.run((line, f"demo:{n}") for n, line in enumerate(lines, 1))
        engine.finish()
        engine.outputs.close()
        engine.store.close()

        store = ContextStore(sqlite_url(run / "state.sqlite"))
        try:
            accounts = Accounts(store)
            accounts.add("carol", "compliance", PASSWORD)
            items = list_items(store)
            if not items:
                print("the generated run held nothing for review; try more events", file=sys.stderr)
                return 1
            # the moment the pictures are taken: an hour after the newest item was queued
            moment = max(i.created_at for i in items) + timedelta(hours=1)
            app = create_app(
                store,
                ruleset=load_ruleset(settings.rules_dir),
                check=EthicsCheck(load_policy(settings.policy)),
                sink=JsonlSink(run / "notifications.jsonl"),
                settings=WebSettings(cookie_secure=False),
                clock=lambda: moment,
            )
            with serve_in_thread(app) as server, sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, headless=True)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(f"{server.url}/login")
                page.get_by_label("User name").fill("carol")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(f"{server.url}/queue")
                # (page, height of the picture: None for the whole page)
                shots = {
                    "queue.png": ("/queue", 860),
                    "decision.png": (f"/decisions/{items[0].decision_id}", None),
                    "report.png": (f"/reports/{REPORT_RULE}", 1500),
                }
                # the preference link of a sent offer, as the customer opens it on a phone
                offer = next(
                    n
                    for n in map(json.loads, (run / "notifications.jsonl").open())
                    if n["data"].get("purpose") == "commercial"
                )
                token = str(offer["data"]["preferences_url"]).rsplit("/p/", 1)[1]
                for name, (path, height) in shots.items():
                    page.goto(server.url + path)
                    clip = (
                        None
                        if height is None
                        else {"x": 0, "y": 0, "width": 1280, "height": height}
                    )
                    page.screenshot(path=str(args.out / name), full_page=True, clip=clip)
                    print(f"{args.out / name}")
                phone = browser.new_page(viewport={"width": 390, "height": 844}, locale="nl-NL")
                phone.goto(f"{server.url}/p/{token}")
                phone.screenshot(path=str(args.out / "preferences.png"), full_page=True)
                print(f"{args.out / 'preferences.png'}")
                browser.close()
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
