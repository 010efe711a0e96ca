"""The compliance UI (proactive.web) through its HTTP interface: sign-in, roles, CSRF,
escaping, search input, rate limiting, sign-out, and the pages over a real store.

The store is filled by an embedded engine run (``tests/webstore.py``); the app's clock
is fixed at a moment inside every item's review window and the send window. The test
client talks HTTPS to the app, so the cookies are the production ones (``Secure``,
``__Host-``).
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from test_review import check, rules
from webstore import (
    DAYTIME,
    OUTAGE_RULE,
    RULE,
    add_record,
    consent_withdrawn,
    customers,
    fill_store,
)

from proactive.cli import main
from proactive.review import REVIEW_CHAIN, list_items
from proactive.sinks import JsonlSink
from proactive.store import ContextStore, schema, sqlite_url
from proactive.web import ROUTERS, Accounts, LoginRefused, WebSettings, create_app

PASSWORD = "a long enough password 1"
USERS = {
    "alice": ("reviewer", None),
    "carol": ("compliance", None),
    "pete": ("product", [OUTAGE_RULE]),
    "paula": ("product", None),
    "audrey": ("auditor", None),
}


class Clock:
    """The app's clock: fixed, moved by the test."""

    def __init__(self, at: datetime = DAYTIME) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kw: float) -> None:
        self.at += timedelta(**kw)


@dataclass
class Site:
    """A running app over a filled store, and a way to make signed-in clients."""

    app: FastAPI
    store: ContextStore
    out: Path
    clock: Clock
    clients: list[TestClient] = field(default_factory=list)

    def client(self) -> TestClient:
        c = TestClient(self.app, base_url="https://testserver")
        c.__enter__()
        self.clients.append(c)
        return c

    def login(self, name: str, password: str = PASSWORD, c: TestClient | None = None) -> TestClient:
        c = c or self.client()
        r = sign_in(c, name, password)
        assert r.status_code == 303, r.text
        return c

    def pending(self) -> list[str]:
        return [i.decision_id for i in list_items(self.store, status="pending")]

    def review_records(self) -> list[dict[str, Any]]:
        return list(self.store.decision_records(REVIEW_CHAIN))


def sign_in(c: TestClient, name: str, password: str, next_url: str = "/") -> Any:
    page = c.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token is not None
    return c.post(
        "/login",
        data={"username": name, "password": password, "login_token": token[1], "next": next_url},
        follow_redirects=False,
    )


def csrf_of(c: TestClient, page: str = "/decisions") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', c.get(page).text)
    assert found is not None
    return found[1]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: the output folder of an engine run over these customers (and events after
    them), with one user of every role (``USERS``); made once per module and kept as a
    template the tests copy (an engine run and argon2 hashes cost seconds, a copy not)."""
    made: dict[tuple[tuple[str, ...], tuple[str, ...]], Path] = {}

    def get(ids: tuple[str, ...], then: tuple[str, ...] = ()) -> Path:
        key = (ids, then)
        if key not in made:
            out = tmp_path_factory.mktemp("template")
            fill_store(out, ids, then=then)
            store = ContextStore(sqlite_url(out / "state.sqlite"))
            accounts = Accounts(store)
            for name, (role, scope) in USERS.items():
                accounts.add(name, role, PASSWORD, rules=scope)
            store.close()  # the last connection closed: the WAL is checkpointed into the file
            made[key] = out
        return made[key]

    return get


@pytest.fixture
def make_site(tmp_path: Path, stores: Callable[..., Path]) -> Iterator[Callable[..., Site]]:
    """Factory: ``make_site(n)`` → the app over a copy of a store with ``n`` customers held
    for review (and an outage notice each) and one user of every role (see ``USERS``)."""
    sites: list[Site] = []

    def build(
        n: int = 3, *, ids: list[str] | None = None, then: tuple[str, ...] = (), sink: bool = True
    ) -> Site:
        out = tmp_path / f"run{len(sites)}"
        shutil.copytree(stores(tuple(ids or customers(n)), then), out)
        store = ContextStore(sqlite_url(out / "state.sqlite"))
        clock = Clock()
        app = create_app(
            store,
            ruleset=rules(),
            check=check(),
            sink=JsonlSink(out / "notifications.jsonl") if sink else None,
            settings=WebSettings(cookie_secure=True),
            clock=clock,
        )
        site = Site(app, store, out, clock)
        sites.append(site)
        return site

    yield build
    for site in sites:
        for c in site.clients:
            c.__exit__(None, None, None)
        site.app.state.web.desk.stop()
        site.store.close()


# -- no session ----------------------------------------------------------------------------


PAGES = ["/queue", "/decisions", "/reports", f"/reports/{RULE}", "/exceptions", "/audit"]
API = ["/api/me", "/api/queue", "/api/decisions", "/api/audit"]


@pytest.mark.parametrize("path", PAGES)
def test_a_page_without_a_session_redirects_to_sign_in(
    make_site: Callable[..., Site], path: str
) -> None:
    c = make_site(1).client()
    r = c.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=" + path.replace("/", "%2F")


@pytest.mark.parametrize("path", API)
def test_the_api_without_a_session_answers_401(make_site: Callable[..., Site], path: str) -> None:
    r = make_site(1).client().get(path)
    assert r.status_code == 401
    assert r.json() == {"detail": "sign in first"}


def test_every_route_but_sign_in_needs_a_session(make_site: Callable[..., Site]) -> None:
    """A safety net for routes added later: nothing but the sign-in pages, the home
    redirect and the stylesheet answers without a session."""
    site = make_site(1)
    c = site.client()
    (item,) = site.pending()
    open_paths = {"/", "/login", "/logout", "/static"}
    seen = 0
    for route in (r for router in ROUTERS for r in router.routes):
        path = getattr(route, "path", "")
        if path in open_paths or path.startswith("/p/"):
            continue  # the customer's page: its signed link is the key (test_preferences.py)
        concrete = path.replace("{decision_id}", item).replace("{rule_id}", RULE)
        for method in getattr(route, "methods", None) or {"GET"}:
            r = c.request(method, concrete, follow_redirects=False)
            assert r.status_code in (303, 401), (method, path, r.status_code)
            if r.status_code == 303:
                where = r.headers["location"]
                assert where.startswith("/login?next="), (method, path, where)
            seen += 1
    assert seen >= 12
    assert site.pending() == [item] and site.review_records() == []


def test_a_post_without_a_session_changes_nothing(make_site: Callable[..., Site]) -> None:
    site = make_site(1)
    (item,) = site.pending()
    r = site.client().post(
        f"/queue/{item}/approve", data={"reason": "x", "csrf_token": "x"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert site.pending() == [item] and site.review_records() == []


# -- roles ---------------------------------------------------------------------------------


def test_a_product_user_is_refused_the_approve_action(make_site: Callable[..., Site]) -> None:
    """With a valid session and CSRF token, the role still decides: 403, nothing recorded."""
    site = make_site(2)
    first, second = site.pending()
    c = site.login("paula")
    page = c.get("/queue")
    assert page.status_code == 200 and first in page.text
    assert "/approve" not in page.text  # the buttons are not even shown …
    token = csrf_of(c, "/queue")
    for action in ("approve", "reject"):  # … and the server refuses them all the same
        r = c.post(f"/queue/{first}/{action}", data={"csrf_token": token, "reason": "fine"})
        assert r.status_code == 403
        assert "does not allow this" in r.text
    assert site.pending() == [first, second] and site.review_records() == []


@pytest.mark.parametrize(
    ("user", "path", "allowed"),
    [
        ("alice", "/queue", True),
        ("alice", "/decisions", True),
        ("alice", "/reports", False),
        ("alice", "/exceptions", False),
        ("alice", "/audit", False),
        ("carol", "/reports", True),
        ("carol", "/exceptions", True),
        ("carol", "/audit", True),
        ("paula", "/reports", True),
        ("paula", "/exceptions", False),
        ("paula", "/audit", False),
        ("audrey", "/audit", True),
        ("audrey", "/exceptions", True),
        ("audrey", "/reports", True),
        ("audrey", "/api/audit", True),
        ("alice", "/api/audit", False),
    ],
)
def test_what_each_role_may_read(
    make_site: Callable[..., Site], user: str, path: str, allowed: bool
) -> None:
    c = make_site(1).login(user)
    r = c.get(path)
    assert r.status_code == (200 if allowed else 403), r.text


def test_an_auditor_reads_the_queue_but_cannot_act(make_site: Callable[..., Site]) -> None:
    site = make_site(1)
    (item,) = site.pending()
    c = site.login("audrey")
    assert c.get("/queue").status_code == 200
    r = c.post(f"/queue/{item}/reject", data={"csrf_token": csrf_of(c), "reason": "no"})
    assert r.status_code == 403 and site.pending() == [item]


def test_a_product_user_reads_only_their_rules(make_site: Callable[..., Site]) -> None:
    """pete is limited to the outage rule: the bundle rule's decisions, queue items and
    report are not his to read."""
    site = make_site(2)
    c = site.login("pete")
    listing = c.get("/decisions").text
    assert OUTAGE_RULE in listing and RULE not in listing.split("<table", 1)[-1]
    assert c.get("/queue").text.count('id="item-') == 0
    bundle = site.pending()[0]
    assert c.get(f"/decisions/{bundle}").status_code == 403
    assert c.get(f"/api/decisions/{bundle}").status_code == 403
    assert c.get(f"/reports/{RULE}").status_code == 403
    assert c.get(f"/reports/{OUTAGE_RULE}").status_code == 200
    assert {r["rule_id"] for r in c.get("/api/decisions").json()} == {OUTAGE_RULE}
    assert c.get("/api/queue").json() == []


def test_a_product_user_learns_nothing_through_done_or_a_prefix_search(
    make_site: Callable[..., Site],
) -> None:
    """The banner after an action (``?done=`` a review record) shows a record of another
    rule to nobody who may not read that rule; a prefix search shows a customer's
    choices only beside that very customer's decisions the user may see."""
    site = make_site(2)
    bundle = site.pending()[0]
    alice = site.login("alice")
    r = alice.post(
        f"/queue/{bundle}/approve",
        data={"reason": "fits her usage well", "csrf_token": csrf_of(alice)},
        follow_redirects=False,
    )
    done = r.headers["location"].rsplit("done=", 1)[1]
    assert "fits her usage well" in alice.get(f"/queue?done={done}").text
    pete = site.login("pete")
    outage_decision = re.findall(r'href="/decisions/([0-9a-f-]{36})"', pete.get("/decisions").text)[
        0
    ]
    for page in (f"/queue?done={done}", f"/decisions/{outage_decision}?done={done}"):
        shown = pete.get(page)
        assert shown.status_code == 200 and "fits her usage well" not in shown.text
    # C00 is the beginning of C001 and C002, not a customer: no choices panel
    assert "h-choices" not in pete.get("/decisions", params={"customer": "C00"}).text


def test_only_compliance_may_grant_the_joker(make_site: Callable[..., Site]) -> None:
    site = make_site(2)
    first, second = site.pending()
    joker = {
        "reason": "the customer asked for this in the shop",
        "except_limits": "frequency_cap",
        "justification": "asked for it in person at the shop on Saturday",
    }
    alice = site.login("alice")
    r = alice.post(f"/queue/{first}/approve", data={**joker, "csrf_token": csrf_of(alice)})
    assert r.status_code == 403 and "only compliance" in r.text
    assert site.pending() == [first, second]

    carol = site.login("carol")
    short = {**joker, "justification": "because", "csrf_token": csrf_of(carol)}
    r = carol.post(f"/queue/{first}/approve", data=short)
    assert r.status_code == 422 and "at least 20 characters" in r.text
    r = carol.post(
        f"/queue/{first}/approve",
        data={**joker, "csrf_token": csrf_of(carol)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    (rec,) = site.review_records()
    assert (rec["action"], rec["reviewer"], rec["reason"]) == ("approved", "carol", joker["reason"])


# -- CSRF ----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "not-the-token", "FROM_OTHER_SESSION"])
def test_a_post_without_the_right_csrf_token_is_refused(
    make_site: Callable[..., Site], token: str | None
) -> None:
    site = make_site(1)
    (item,) = site.pending()
    other = csrf_of(site.login("carol"))
    c = site.login("alice")
    data = {"reason": "fits what she asked for"}
    if token is not None:
        data["csrf_token"] = other if token == "FROM_OTHER_SESSION" else token
    for action in ("approve", "reject"):
        r = c.post(f"/queue/{item}/{action}", data=data, follow_redirects=False)
        assert r.status_code == 403
        assert "security token" in r.text
    assert site.pending() == [item] and site.review_records() == []
    # the session's own token, in the form or in the header, is accepted
    r = c.post(
        f"/queue/{item}/reject",
        data=data,
        headers={"X-CSRF-Token": csrf_of(c)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and site.pending() == []


def test_sign_out_needs_the_csrf_token(make_site: Callable[..., Site]) -> None:
    c = make_site(1).login("alice")
    assert c.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert c.get("/queue", follow_redirects=False).status_code == 200


def test_the_sign_in_form_is_csrf_protected(make_site: Callable[..., Site]) -> None:
    """A sign-in posted from elsewhere (no nonce cookie, or a token that is not its
    HMAC) is refused before the password is even looked at."""
    site = make_site(1)
    c = site.client()
    data = {"username": "alice", "password": PASSWORD, "next": "/"}
    assert c.post("/login", data=data, follow_redirects=False).status_code == 403
    c.get("/login")
    r = c.post("/login", data={**data, "login_token": "0" * 64}, follow_redirects=False)
    assert r.status_code == 403 and "expired or was not sent from this site" in r.text
    fresh = site.client()  # a valid token, but not bound to this client's cookie
    page = fresh.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token is not None
    r = c.post("/login", data={**data, "login_token": token[1]}, follow_redirects=False)
    assert r.status_code in (303, 403)
    # the nonce cookie of `c` was replaced at its own GET: only its own token matches
    assert sign_in(c, "alice", PASSWORD).status_code == 303


# -- what the pages show -------------------------------------------------------------------


def test_a_script_in_a_message_is_shown_as_text(make_site: Callable[..., Site]) -> None:
    site = make_site(1)
    evil = "<script>alert('x')</script>"
    first, *_ = site.store.decision_records("main")
    message = {
        **first["message"],
        "subject": f"Hello {evil}",
        "body": f"Body {evil}<img src=x onerror=alert(1)>",
    }
    did = add_record(
        site.store,
        {
            "decision_id": "crafted-1",
            "message": message,
            "reasons": [f"reason {evil}"],
            "rule_id": f"rule-{evil}",
        },
    )
    c = site.login("carol")
    for path in (f"/decisions/{did}", "/decisions", "/reports", f"/decisions?customer={evil}"):
        page = c.get(path)
        assert page.status_code == 200, path
        assert "<script" not in page.text and "<img" not in page.text, path
    page = c.get(f"/decisions/{did}").text
    assert "Body &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img src=x" in page
    assert "reason &lt;script&gt;" in page
    assert "script-src" not in page  # and the CSP header forbids scripts anyway:
    assert "default-src 'none'" in c.get(f"/decisions/{did}").headers["content-security-policy"]


@pytest.mark.parametrize(
    "term", ["' OR 1=1 --", "%", "_", "%%", "C0_1", "\\", "'; DROP TABLE decisions; --"]
)
def test_injection_shaped_search_input_is_harmless(
    make_site: Callable[..., Site], term: str
) -> None:
    """Every filter is a bound parameter; %, _ and \\ in a LIKE prefix are literal."""
    site = make_site(3)
    before = site.store.counts()["decisions"]
    c = site.login("carol")
    for params in ({"customer": term}, {"rule": term}, {"customer": term, "rule": term}):
        page = c.get("/decisions", params=params)
        assert page.status_code == 200
        assert "No decisions match." in page.text
        assert c.get("/api/decisions", params=params).json() == []
    assert c.get("/queue", params={"rule": term, "reason": term}).status_code == 200
    assert site.store.counts()["decisions"] == before


def test_search_by_customer_prefix_rule_verdict_and_dates(make_site: Callable[..., Site]) -> None:
    site = make_site(ids=["C001", "C002", "X_1", "XA1"])
    c = site.login("carol")

    def ids(**params: str) -> set[tuple[str, str, str]]:
        return {
            (r["customer_id"], r["rule_id"], r["verdict"])
            for r in c.get("/api/decisions", params=params).json()
        }

    assert ids(customer="C001") == {("C001", RULE, "review"), ("C001", OUTAGE_RULE, "send")}
    assert {x[0] for x in ids(customer="C00")} == {"C001", "C002"}
    assert {x[0] for x in ids(customer="X_")} == {"X_1"}  # not XA1: '_' is literal
    assert {x[0] for x in ids(rule=RULE)} == {"C001", "C002", "X_1", "XA1"}
    assert {x[2] for x in ids(verdict="send")} == {"send"}
    assert len(ids(**{"from": "2026-05-20", "to": "2026-05-20"})) == 8
    assert ids(**{"from": "2026-05-21"}) == set()
    assert ids(**{"to": "2026-05-19"}) == set()
    assert len(ids(**{"from": "0001-01-01", "to": "9999-12-31"})) == 8
    page = c.get("/decisions", params={"customer": "X_"})
    assert page.text.count("/decisions/") >= 2 and "XA1" not in page.text.split("<table", 1)[1]
    bad = c.get("/decisions", params={"from": "20-05-2026", "verdict": "maybe"})
    assert bad.status_code == 200 and "takes a date as YYYY-MM-DD" in bad.text
    assert "Unknown verdict" in bad.text
    assert c.get("/api/decisions", params={"from": "yesterday"}).status_code == 422


def test_a_decision_page_explains_the_decision(make_site: Callable[..., Site]) -> None:
    site = make_site(1)
    (item,) = site.pending()
    rec = site.store.decision_record(item)
    assert rec is not None
    c = site.login("alice")
    page = c.get(f"/decisions/{item}").text
    assert rec["message"]["subject"] in page
    for dim in (
        "language",
        "place",
        "time",
        "complexity",
        "relevance",
        "trust",
        "empathy",
        "autonomy",
    ):
        assert f'<th scope="row">{dim}</th>' in page
    assert "<svg" in page and 'aria-label="service dimensions' in page
    assert "Value check" in page and "no_marketing" in page
    assert rec["rules_revision"] in page and rec["ethics_revision"] in page
    assert 'action="/queue/' in page  # a reviewer can act from here


def test_a_masked_or_erased_record_still_renders(make_site: Callable[..., Site]) -> None:
    """Records differ by schema version and by what was masked or erased: a page shows
    what is there instead of failing on what is not."""
    site = make_site(1)
    masked = add_record(site.store, {"decision_id": "masked-1", "message": {"sha256": "ab" * 32}})
    bare = add_record(
        site.store,
        {
            "decision_id": "bare-1",
            "message": None,
            "scores": {},
            "value": None,
            "limits": [],
            "action": None,
            "overall": None,
            "customer_id": "erased",
        },
    )
    c = site.login("audrey")
    page = c.get(f"/decisions/{masked}")
    assert page.status_code == 200 and "masked by policy" in page.text and "abababab" in page.text
    page = c.get(f"/decisions/{bare}")
    assert page.status_code == 200 and "No message" in page.text and "Not assessed." in page.text
    assert "None" not in page.text.split("<main", 1)[1]


def test_the_web_package_exports_its_names_sorted() -> None:
    import proactive.web as web
    from proactive import ProactiveError

    # sorted as ruff sorts it (RUF022): CONSTANTS, then Classes, then functions
    kind = {True: 0, False: 1}
    assert web.__all__ == sorted(
        web.__all__, key=lambda n: (kind[n.isupper()] if n[0].isupper() else 2, n)
    )
    for name in web.__all__:
        assert getattr(web, name) is not None
    assert issubclass(web.AccountError, ProactiveError)
    assert issubclass(web.LoginRefused, web.AccountError)


def test_queue_filters_by_rule_reason_and_age(make_site: Callable[..., Site]) -> None:
    site = make_site(3)
    c = site.login("alice")

    def rows(**params: str) -> int:
        page = c.get("/queue", params=params)
        assert page.status_code == 200
        return page.text.count('<tr id="item-')

    assert rows() == 3
    assert rows(rule=RULE) == 3 and rows(rule=OUTAGE_RULE) == 0
    assert rows(reason="no_marketing") == 3 and rows(reason="NO_MARKETING") == 3
    assert rows(reason="bereavement") == 0
    assert rows(older_than="1") == 3 and rows(older_than="3") == 0
    for bad in ("soon", "nan", "inf", "-1", "1e300"):
        assert "takes a number of hours" in c.get("/queue", params={"older_than": bad}).text


def test_approve_and_reject_from_the_queue_are_on_the_review_chain(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(3)
    first, second, third = site.pending()
    c = site.login("alice")
    token = csrf_of(c, "/queue")
    r = c.post(f"/queue/{first}/approve", data={"csrf_token": token, "reason": "  "})
    assert r.status_code == 422 and "a reason is required" in r.text
    r = c.post(
        f"/queue/{first}/approve",
        data={"csrf_token": token, "reason": "fits her usage", "back": "/queue?rule=" + RULE},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"/queue?rule={RULE}&done=")
    shown = c.get(r.headers["location"]).text
    assert "Approved" in shown and "fits her usage" in shown and "Notification" in shown
    r = c.post(
        f"/queue/{second}/reject",
        data={"csrf_token": token, "reason": "not now", "back": "https://evil.example/"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/?done=")
    record_page = c.get(f"/decisions/{site.review_records()[-1]['decision_id']}")
    assert "Review record" in record_page.text and f"/decisions/{second}" in record_page.text
    again = c.post(f"/queue/{second}/reject", data={"csrf_token": token, "reason": "again"})
    assert again.status_code == 409 and "already rejected" in again.text
    assert site.pending() == [third]
    recs = site.review_records()
    assert [(x["review_of"], x["action"], x["reviewer"], x["reason"]) for x in recs] == [
        (first, "approved", "alice", "fits her usage"),
        (second, "rejected", "alice", "not now"),
    ]
    notes = (site.out / "notifications.jsonl").read_text().splitlines()
    assert [orjson.loads(n)["data"]["decision_id"] for n in notes][-1] == first
    audit = site.login("audrey").get("/api/audit").json()
    assert audit["ok"] is True and {x["chain"] for x in audit["chains"]} >= {"main", "review"}


def test_an_approval_past_the_review_window_expires_the_item(
    make_site: Callable[..., Site],
) -> None:
    """Past the review window the approval expires the item; it is never sent."""
    site = make_site(1)
    (item,) = site.pending()
    site.clock.advance(days=4)
    c = site.login("alice")
    r = c.post(
        f"/queue/{item}/approve",
        data={"csrf_token": csrf_of(c, "/decisions"), "reason": "late but fine"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    (rec,) = site.review_records()
    assert rec["action"] == "expired" and rec["reviewer"] == "alice"
    assert "an expired action is never sent" in rec["reasons"][0]


def test_an_approval_the_recheck_blocks_is_refused_and_stays_pending(
    make_site: Callable[..., Site],
) -> None:
    """The customer withdrew consent after the item was queued: the approval is checked
    again, refused (recorded, with the reasons shown), and the item stays pending."""
    site = make_site(ids=["C001", "C002"], then=(consent_withdrawn("C001"),))
    first, second = site.pending()
    c = site.login("alice")
    r = c.post(
        f"/queue/{first}/approve",
        data={"csrf_token": csrf_of(c), "reason": "she asked for it"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = c.get(r.headers["location"]).text
    assert "Refused" in page and "the item stays in the queue" in page
    assert "the check now blocks it" in page
    assert site.pending() == [first, second]
    (rec,) = site.review_records()
    assert (rec["action"], rec["reviewer"], rec["reason"]) == (
        "refused",
        "alice",
        "she asked for it",
    )
    assert (
        not (site.out / "notifications.jsonl").exists()
        or first not in (site.out / "notifications.jsonl").read_text()
    )


def test_approving_without_a_notification_output_is_refused(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(1, sink=False)
    (item,) = site.pending()
    c = site.login("alice")
    page = c.get("/queue").text
    assert "approving is off" in page and "disabled" in page
    r = c.post(f"/queue/{item}/approve", data={"csrf_token": csrf_of(c), "reason": "ok"})
    assert r.status_code == 422 and "without a notification output" in r.text
    assert site.pending() == [item]


def test_reports_exceptions_and_the_audit_trail(make_site: Callable[..., Site]) -> None:
    site = make_site(3)
    joker = {
        "limits": ["frequency_cap"],
        "justification": "agreed with the customer by phone",
        "approved_by": "carol",
        "by": "rule:x",
    }
    add_record(site.store, {"decision_id": "with-joker", "exception": joker})
    c = site.login("carol")
    index = c.get("/reports").text
    assert f'href="/reports/{RULE}"' in index and f'href="/reports/{OUTAGE_RULE}"' in index
    page = c.get(f"/reports/{RULE}").text
    for part in (
        "Verdicts",
        "Score distributions",
        "Top reasons",
        "Exceptions (the joker)",
        "Fairness by segment",
        "verdicts over time",
    ):
        assert part in page, part
    assert page.count("<svg") >= 4
    assert c.get("/reports/no-such-rule").status_code == 404
    exc = c.get("/exceptions").text
    assert "agreed with the customer by phone" in exc and "frequency_cap" in exc

    audit = c.get("/audit").text
    assert "every chain verifies" in audit
    # alter one stored record: the page names the first broken link
    victim = list(site.store.decision_records("main"))[1]
    altered = {**victim, "reasons": [*victim["reasons"], "quietly added later"]}
    with site.store.engine.begin() as conn:
        conn.execute(
            update(schema.decisions)
            .where(schema.decisions.c.decision_id == victim["decision_id"])
            .values(record=orjson.dumps(altered).decode())
        )
    audit = c.get("/audit").text
    assert "BROKEN" in audit and victim["decision_id"] in audit
    assert "hash mismatch" in audit
    api = c.get("/api/audit").json()
    (main_chain,) = [x for x in api["chains"] if x["chain"] == "main"]
    assert api["ok"] is False and main_chain["ok"] is False
    assert api["findings"][0]["decision_id"] == victim["decision_id"]


# -- sign-in, rate limit, sign-out, sessions -----------------------------------------------


def test_the_session_cookie_is_secure_and_the_headers_are_strict(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(1)
    c = site.client()
    r = sign_in(c, "alice", PASSWORD)
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and "session" in v)
    assert cookie.startswith("__Host-proactive-session=")
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert attribute in cookie
    page = c.get("/queue")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script" not in page.text.lower().replace("noscript", "")
    assert c.get("/static/web.css").status_code == 200


def test_sign_in_goes_only_to_pages_of_this_site(make_site: Callable[..., Site]) -> None:
    c = make_site(1).client()
    r = sign_in(c, "alice", PASSWORD, next_url="//evil.example/x")
    assert r.headers["location"] == "/"
    c2 = make_site(1).client()
    assert (
        sign_in(c2, "alice", PASSWORD, next_url="/reports?x=1").headers["location"]
        == "/reports?x=1"
    )


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(
    make_site: Callable[..., Site],
) -> None:
    c = make_site(1).client()
    wrong = sign_in(c, "alice", "not the password at all")
    unknown = sign_in(c, "mallory", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        "Unknown name or wrong password." in wrong.text
        and "Unknown name or wrong password." in unknown.text
    )


def test_five_failures_lock_the_account_for_fifteen_minutes(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(1)
    c = site.client()
    for _ in range(5):
        assert sign_in(c, "alice", "wrong password, again").status_code == 401
    locked = sign_in(c, "alice", PASSWORD)  # even the right password
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    assert int(locked.headers["retry-after"]) == 15 * 60
    assert sign_in(site.client(), "carol", PASSWORD).status_code == 303  # others may
    site.clock.advance(minutes=14)
    assert sign_in(c, "alice", PASSWORD).status_code == 429
    site.clock.advance(minutes=1, seconds=1)
    assert sign_in(c, "alice", PASSWORD).status_code == 303


def test_parallel_guesses_cannot_race_past_the_limit(make_site: Callable[..., Site]) -> None:
    """Thirty wrong passwords for one name at the same moment, from thirty addresses:
    each attempt is counted before its password is checked, so at most five are checked
    and the rest are refused as locked."""
    site = make_site(1)
    accounts = Accounts(site.store)
    start = threading.Barrier(30)
    results: list[str] = []

    def guess(n: int) -> None:
        start.wait()
        try:
            accounts.authenticate("alice", f"wrong guess {n}", ip=f"10.0.0.{n}", now=DAYTIME)
            results.append("ok")
        except LoginRefused as exc:
            results.append(exc.reason)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 0
    assert results.count("invalid") <= 5 and results.count("locked") >= 25


def test_twenty_failures_from_one_address_lock_the_address(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(1)
    c = site.client()
    for n in range(20):
        assert sign_in(c, f"guess{n}", "wrong password, again").status_code == 401
    assert sign_in(c, "carol", PASSWORD).status_code == 429
    site.clock.advance(minutes=16)
    assert sign_in(c, "carol", PASSWORD).status_code == 303


def test_sign_out_ends_the_session_on_the_server(make_site: Callable[..., Site]) -> None:
    site = make_site(1)
    c = site.login("alice")
    stolen = dict(c.cookies)
    r = c.post("/logout", data={"csrf_token": csrf_of(c)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?signed_out=1"
    assert "Max-Age=0" in r.headers["set-cookie"]
    assert c.get("/queue", follow_redirects=False).status_code == 303
    replay = site.client()
    replay.cookies.update(stolen)  # a copy of the cookie taken before signing out
    assert replay.get("/queue", follow_redirects=False).status_code == 303
    assert replay.get("/api/me").status_code == 401
    assert "You are signed out." in c.get("/login?signed_out=1").text


def test_a_session_ends_when_idle_and_when_the_account_is_disabled(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(1)
    c = site.login("alice")
    site.clock.advance(minutes=59)
    assert c.get("/api/me").status_code == 200
    site.clock.advance(minutes=59)  # active an hour ago: still in
    assert c.get("/api/me").status_code == 200
    site.clock.advance(minutes=61)
    assert c.get("/api/me").status_code == 401
    d = site.login("alice")
    Accounts(site.store).set_active("alice", False)
    assert d.get("/api/me").status_code == 401
    assert sign_in(site.client(), "alice", PASSWORD).status_code == 401


# -- accounts and the command line ---------------------------------------------------------


def test_accounts_hash_passwords_and_refuse_weak_ones(tmp_path: Path) -> None:
    store = ContextStore(sqlite_url(tmp_path / "s.sqlite"))
    try:
        accounts = Accounts(store)
        with pytest.raises(Exception, match="at least 12"):
            accounts.add("bob", "reviewer", "short")
        with pytest.raises(Exception, match="unknown role"):
            accounts.add("bob", "admin", PASSWORD)
        with pytest.raises(Exception, match="only a product user"):
            accounts.add("bob", "reviewer", PASSWORD, rules=["r1"])
        with pytest.raises(Exception, match="not a valid user name"):
            accounts.add("<b>", "reviewer", PASSWORD)
        accounts.add("Bob", "reviewer", PASSWORD)
        with pytest.raises(Exception, match="exists already"):
            accounts.add("bob", "auditor", PASSWORD)
        with store.engine.connect() as conn:
            (stored,) = conn.execute(schema.users.select()).mappings().all()
        assert stored["username"] == "bob" and stored["password_hash"].startswith("$argon2id$")
        assert PASSWORD not in stored["password_hash"]
    finally:
        store.close()


def test_users_add_and_list_from_the_command_line(make_site: Callable[..., Site]) -> None:
    site = make_site(1)
    runner = CliRunner()
    args = ["users", "add", "nina", "--role", "product", "--rule", RULE, "--password-stdin"]
    r = runner.invoke(main, [*args, "--out", str(site.out)], input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert f"added nina (product, rules: {RULE})" in r.output
    r = runner.invoke(main, [*args, "--out", str(site.out)], input=PASSWORD + "\n")
    assert r.exit_code == 2 and "exists already" in r.output
    r = runner.invoke(
        main,
        ["users", "add", "otto", "--role", "auditor", "--out", str(site.out)],
        input="short\nshort\n",
    )
    assert r.exit_code == 2 and "at least 12" in r.output
    listing = runner.invoke(main, ["users", "list", "--out", str(site.out)]).output
    assert f"nina\tproduct rules={RULE}" in listing and "alice\treviewer" in listing
    assert sign_in(site.client(), "nina", PASSWORD).status_code == 303
    r = runner.invoke(main, ["users", "disable", "nina", "--out", str(site.out)])
    assert r.exit_code == 0 and sign_in(site.client(), "nina", PASSWORD).status_code == 401


def test_the_web_command_serves_the_store_of_a_run(
    make_site: Callable[..., Site], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`proactive web --out DIR` builds the app over DIR/state.sqlite, sends approvals to
    DIR/notifications.jsonl, and drops Secure cookies only for plain HTTP on loopback."""
    import uvicorn

    site = make_site(1)
    served: list[tuple[FastAPI, dict[str, Any]]] = []
    monkeypatch.setattr(
        uvicorn,
        "run",
        lambda app, **kw: served.append((app, {**kw, "can_send": app.state.web.desk.can_send})),
    )
    monkeypatch.delenv("PROACTIVE_WEB_COOKIE_SECURE", raising=False)
    monkeypatch.delenv("PROACTIVE_STORE_URL", raising=False)
    r = CliRunner().invoke(main, ["web", "--out", str(site.out), "--port", "8123"])
    assert r.exit_code == 0, r.output
    ((app, kw),) = served
    assert (kw["host"], kw["port"]) == ("127.0.0.1", 8123)
    assert app.state.web.cookies.secure is False and kw["can_send"]
    r = CliRunner().invoke(main, ["web", "--out", str(site.out), "--host", "0.0.0.0"])
    assert r.exit_code == 0 and served[1][0].state.web.cookies.secure is True
    r = CliRunner().invoke(main, ["web", "--out", str(site.out / "nope")])
    assert r.exit_code == 2 and "no such SQLite store" in r.output
