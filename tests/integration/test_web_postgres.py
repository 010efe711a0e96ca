"""The compliance UI over a PostgreSQL store (the Kafka service's shared state).

The same app as over SQLite: migration 0003 on PostgreSQL, accounts, server-side
sessions and the sign-in limit in its tables, the explorer's escaped prefix search,
approve and reject on the review chain (under the advisory lock), the audit API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from test_review import check, rules
from webstore import DAYTIME, RULE, customers, fill_store

from proactive.decisions import verify_chain
from proactive.review import REVIEW_CHAIN, list_items
from proactive.sinks import JsonlSink
from proactive.store import ContextStore
from proactive.web import Accounts, WebSettings, create_app

PASSWORD = "a long enough password 1"


def _sign_in(c: TestClient, name: str, password: str) -> int:
    page = c.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token is not None
    r = c.post(
        "/login",
        data={"username": name, "password": password, "login_token": token[1]},
        follow_redirects=False,
    )
    return r.status_code


def test_the_ui_over_postgresql(postgres_db: Callable[[str], str], tmp_path: Path) -> None:
    url = postgres_db("web")
    fill_store(tmp_path, [*customers(3), "X_1", "XA1"], store_url=url)
    store = ContextStore(url)
    try:
        Accounts(store).add("alice", "reviewer", PASSWORD)
        app = create_app(
            store,
            ruleset=rules(),
            check=check(),
            sink=JsonlSink(tmp_path / "notifications.jsonl"),
            settings=WebSettings(cookie_secure=True),
            clock=lambda: DAYTIME,
        )
        with TestClient(app, base_url="https://testserver") as c:
            for _ in range(5):
                assert _sign_in(c, "alice", "wrong password, again") == 401
            assert _sign_in(c, "alice", PASSWORD) == 429
            # the lock is alice's, not everyone's
            Accounts(store).add("bob", "reviewer", PASSWORD)
            assert _sign_in(c, "bob", PASSWORD) == 303

            found = c.get("/api/decisions", params={"customer": "X_"}).json()
            assert {r["customer_id"] for r in found} == {"X_1"}
            assert c.get("/api/decisions", params={"customer": "%"}).json() == []
            assert c.get("/api/decisions", params={"rule": "' OR 1=1 --"}).json() == []

            items = [i.decision_id for i in list_items(store)]
            assert len(items) == 5
            page = c.get("/queue", params={"rule": RULE})
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is not None
            for n, item in enumerate(items):
                action = "approve" if n % 2 == 0 else "reject"
                r = c.post(
                    f"/queue/{item}/{action}",
                    data={"csrf_token": token[1], "reason": f"decided on PostgreSQL {n}"},
                    follow_redirects=False,
                )
                assert r.status_code == 303, r.text
            records = list(store.decision_records(REVIEW_CHAIN))
            assert [r["action"] for r in records] == [
                "approved",
                "rejected",
                "approved",
                "rejected",
                "approved",
            ]
            assert verify_chain(records) is None and list_items(store) == []
            assert c.get("/api/audit").status_code == 403  # a reviewer does not verify
            r = c.post("/logout", data={"csrf_token": token[1]}, follow_redirects=False)
            assert r.status_code == 303 and c.get("/api/me").status_code == 401
    finally:
        store.close()
