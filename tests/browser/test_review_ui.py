"""The compliance UI in a real browser (headless Chromium): sign-in, approving and
rejecting from the queue, a product user refused, and a reviewer clearing a queue of
100 actions, after which the review chain verifies — on the audit page and with
``proactive audit verify`` — until one stored record is altered.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import orjson
from click.testing import CliRunner
from playwright.sync_api import Page, expect
from sqlalchemy import select, update
from webstore import customers

from proactive.cli import main
from proactive.decisions import verify_chain
from proactive.review import REVIEW_CHAIN, list_items
from proactive.store import schema

from .conftest import PASSWORD, Site, sign_in

Serve = Callable[[list[str]], Site]


def test_sign_in_with_the_keyboard_and_sign_out(page: Page, serve: Serve) -> None:
    """The form works from the keyboard alone; a wrong password is refused politely;
    signing out ends the session (the back button shows nothing but the sign-in page)."""
    site = serve(customers(2))
    page.goto(f"{site.url}/queue")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fqueue$"))
    expect(page.get_by_label("User name")).to_be_focused()  # autofocus
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    page.keyboard.type("not the password")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Unknown name or wrong password.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(f"{site.url}/queue")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    expect(page.get_by_text("alice (reviewer)")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(f"{site.url}/queue")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_approve_and_reject_from_the_queue(page: Page, serve: Serve) -> None:
    site = serve(customers(3))
    first, second, third = (i.decision_id for i in list_items(site.store))
    sign_in(page, site, "alice")
    page.goto(f"{site.url}/queue")
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(3)

    row = page.locator(f"#item-{first}")
    row.get_by_label("Reason").fill("the bundle fits her usage; she asked in the shop")
    row.get_by_role("button", name="Approve").click()
    status = page.get_by_role("status").first
    expect(status).to_contain_text("Approved")
    expect(status).to_contain_text("the bundle fits her usage")
    expect(rows).to_have_count(2)

    # an empty reason is stopped by the browser (required), nothing is sent
    row = page.locator(f"#item-{second}")
    row.get_by_role("button", name="Reject").click()
    expect(rows).to_have_count(2)
    row.get_by_label("Reason").fill("no_marketing: do not sell to her")
    row.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("status").first).to_contain_text("Rejected")
    expect(rows).to_have_count(1)

    # the decision page explains the last one, and can act on it too
    page.get_by_role("link", name="C003").click()
    expect(page.get_by_role("heading", name="The message, as the customer sees it")).to_be_visible()
    expect(page.locator("figure.chart svg")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("^autonomy"))).to_be_visible()
    page.get_by_label("Reason").fill("rejected after reading the explanation")
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_role("status").first).to_contain_text("Rejected")
    expect(page).to_have_url(re.compile(f"/decisions/{third}\\?done="))

    records = list(site.store.decision_records(REVIEW_CHAIN))
    assert [(r["review_of"], r["action"], r["reviewer"]) for r in records] == [
        (first, "approved", "alice"),
        (second, "rejected", "alice"),
        (third, "rejected", "alice"),
    ]
    assert verify_chain(records) is None
    assert list_items(site.store) == []


def test_a_product_user_is_refused_the_approve_action(page: Page, serve: Serve) -> None:
    """No approve button for a product user, and the server refuses the action itself
    when it is sent from their signed-in browser with a valid token."""
    site = serve(customers(1))
    (item,) = list_items(site.store)
    sign_in(page, site, "paula")
    page.goto(f"{site.url}/queue")
    expect(page.locator(f"#item-{item.decision_id}")).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert token
    response = page.request.post(
        f"{site.url}/queue/{item.decision_id}/approve",
        form={"csrf_token": token, "reason": "looks fine to me"},
        max_redirects=0,
    )
    assert response.status == 403
    assert "does not allow this" in response.text()
    page.goto(f"{site.url}/audit")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert list_items(site.store)[0].status == "pending"
    assert list(site.store.decision_records(REVIEW_CHAIN)) == []


def test_a_reviewer_clears_a_queue_of_100_actions(page: Page, serve: Serve) -> None:
    """A hundred items, worked through oldest first: approve, reject, approve … Every
    action is a record on the review chain, and the chain verifies; the audit page says
    so too."""
    site = serve(customers(100))
    ids = [i.decision_id for i in list_items(site.store)]
    assert len(ids) == 100
    sign_in(page, site, "alice")
    page.goto(f"{site.url}/queue")
    expect(page.get_by_role("status").filter(has_text="item(s)")).to_contain_text("100 item(s)")
    started = time.perf_counter()
    for n, decision_id in enumerate(ids):
        row = page.locator("table.queue tbody tr").first
        expect(row).to_have_id(f"item-{decision_id}")  # oldest first
        row.get_by_label("Reason").fill(f"reviewed as number {n + 1}")
        verb, done = ("Approve", "Approved") if n % 2 == 0 else ("Reject", "Rejected")
        row.get_by_role("button", name=verb).click()
        # the new page, not the last one: it names this action's reason
        status = page.get_by_role("status").first
        expect(status).to_contain_text(f"“reviewed as number {n + 1}”")
        expect(status).to_contain_text(done)
    seconds = time.perf_counter() - started
    expect(page.get_by_text("Nothing to review")).to_be_visible()
    print(f"\n100 review actions in the browser: {seconds:.1f} s ({seconds * 10:.0f} ms each)")

    records = list(site.store.decision_records(REVIEW_CHAIN))
    assert len(records) == 100 and verify_chain(records) is None
    assert [r["review_of"] for r in records] == ids
    assert {r["reviewer"] for r in records} == {"alice"}
    assert [r["action"] for r in records] == ["approved", "rejected"] * 50
    assert list_items(site.store) == []
    sent = (site.out / "notifications.jsonl").read_text().splitlines()
    assert len([line for line in sent if '"review_id"' in line]) == 50

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, site, "audrey")
    page.goto(f"{site.url}/audit")
    expect(page.get_by_role("status")).to_contain_text("every chain verifies")
    expect(page.get_by_role("row", name=re.compile(r"^review\s+100\s+OK"))).to_be_visible()

    # the auditor's command agrees; then one stored review record is altered
    verify = ["audit", "verify", "--out", str(site.out)]
    intact = CliRunner().invoke(main, verify)
    assert intact.exit_code == 0, intact.output
    t = schema.decisions
    with site.store.engine.begin() as conn:
        (raw,) = conn.execute(
            select(t.c.record).where(t.c.chain == REVIEW_CHAIN, t.c.seq == 42)
        ).one()
        rec = orjson.loads(raw)
        forged = {**rec, "action": "approved" if rec["action"] == "rejected" else "rejected"}
        conn.execute(
            update(t)
            .where(t.c.chain == REVIEW_CHAIN, t.c.seq == 42)
            .values(record=orjson.dumps(forged).decode())
        )
    broken = CliRunner().invoke(main, verify)
    assert broken.exit_code == 1
    assert "review" in broken.output and "42" in broken.output
    page.reload()
    expect(page.get_by_role("row", name=re.compile(r"^review\s"))).to_contain_text("42")
