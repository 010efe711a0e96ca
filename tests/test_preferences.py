"""The customer's side: signed preference links, the /p/<token> page, SMS replies.

The acceptance test: a customer presses "stop all commercial messages" on the page in
the middle of an embedded run; the engine drains the choice between two batches, so
the next commercial message is blocked while a service notice still arrives.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_review import T0, ce, check, rules, usage
from test_web import PASSWORD, sign_in
from webstore import DAYTIME, fill_store

from proactive.errors import LinkError
from proactive.harness import Harness
from proactive.logs import MaskingFilter
from proactive.pipeline import Engine, Outputs
from proactive.preferences import (
    LINK_DAYS,
    PAGE_SOURCE,
    LinkSigner,
    PreferenceLink,
    default_signer,
    preferences_url,
    reply_intent,
)
from proactive.review import approve, list_items
from proactive.sinks import MemorySink
from proactive.store import ContextStore, sqlite_url
from proactive.web import Accounts, create_app

KEY = b"k" * 32
LINK = PreferenceLink("C1", "outage-started", "nl", datetime(2026, 6, 1, tzinfo=UTC))
BEFORE = datetime(2026, 5, 1, tzinfo=UTC)


def customer(cid: str = "C1") -> list[str]:
    """A customer with commercial consent and three heavy months: the 90% warning of May
    comes with an offer (a commercial message, sent)."""
    return [
        ce(
            "customer.profile_updated",
            cid,
            "2026-01-15T09:00:00Z",
            name="Sam",
            language="en",
            preferred_channel="app_inbox",
        ),
        ce(
            "customer.consent_changed",
            cid,
            "2026-01-15T09:01:00Z",
            purpose="commercial",
            channel="all",
            granted=True,
        ),
        usage(cid, "2026-02-28T10:00:00Z", 7000, month=2),
        usage(cid, "2026-03-28T10:00:00Z", 7200, month=3),
        usage(cid, "2026-04-28T10:00:00Z", 6900, month=4),
        usage(cid, T0, 4700),
    ]


def june(cid: str = "C1") -> list[str]:
    """A month later: an outage (service notice) and the next 90% warning."""
    at = T0 + timedelta(days=30)
    return [
        ce(
            "service.outage_started",
            cid,
            at,
            outage_id="O-1",
            area="Utrecht",
            services=["data"],
            expected_end=(at + timedelta(hours=3)).isoformat(),
        ),
        usage(cid, at + timedelta(hours=1), 4700, month=6),
    ]


# -- the signed link -------------------------------------------------------------------


def test_a_link_round_trips() -> None:
    signer = LinkSigner(KEY)
    assert signer.verify(signer.sign(LINK), now=BEFORE) == LINK


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # the signature
        lambda t: "eyJjIjoiQzIi" + t[12:],  # the content: another customer
        lambda t: t[:30],  # cut short
        lambda t: t + "A",  # one byte more
        lambda t: "not a token",
    ],
)
def test_an_altered_link_is_refused(tamper: object) -> None:
    signer = LinkSigner(KEY)
    token = signer.sign(LINK)
    assert callable(tamper)
    with pytest.raises(LinkError):
        signer.verify(tamper(token), now=BEFORE)


def test_a_link_reveals_nothing_and_is_the_same_for_the_same_message() -> None:
    """The token is encrypted: whose it is cannot be read from the URL (a forwarded
    link, a proxy's log); the same link is the same token (replays are identical)."""
    signer = LinkSigner(KEY)
    token = signer.sign(LINK)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for plain in (b"C1", b"outage", b'"nl"', b'"c"'):
        assert plain not in raw
    assert signer.sign(LINK) == token
    other = PreferenceLink("C2", LINK.rule_id, LINK.language, LINK.expires)
    assert signer.sign(other) != token and len(signer.sign(other)) == len(token)
    assert len(f"https://mijn.example-telecom.nl/p/{token}") < 160  # fits an e-mail line


def test_a_link_of_another_key_or_purpose_is_refused() -> None:
    token = LinkSigner(KEY).sign(LINK)
    with pytest.raises(LinkError, match="signature"):
        LinkSigner(b"x" * 32).verify(token, now=BEFORE)
    with pytest.raises(LinkError, match="signature"):
        LinkSigner(KEY).open("form", token)


def test_an_expired_link_is_refused() -> None:
    signer = LinkSigner(KEY)
    with pytest.raises(LinkError, match="expired"):
        signer.verify(signer.sign(LINK), now=LINK.expires)


def test_a_link_works_for_30_days_after_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROACTIVE_PUBLIC_URL", "https://example.org/")
    url = preferences_url("C1", "outage-started", "en", T0)
    assert url.startswith("https://example.org/p/")
    link = default_signer().verify(url.rsplit("/", 1)[1], now=T0)
    assert link.expires == T0 + timedelta(days=LINK_DAYS)
    assert (link.customer_id, link.rule_id, link.language) == ("C1", "outage-started", "en")


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("STOP", "stop_commercial"),
        (" nee. ", "stop_commercial"),
        ("BEL MIJ", "callback"),
        ("Call me!", "callback"),
        ("nee hoor, dank je", None),
        ("stop met bellen om 7 uur", None),
    ],
)
def test_sms_reply_keywords(text: str, intent: str | None) -> None:
    assert reply_intent(text) == intent


# -- the page and the engine -------------------------------------------------------------


class Run:
    """An embedded engine and the web app over one SQLite store."""

    def __init__(self, tmp_path: Path) -> None:
        self.store = ContextStore(sqlite_url(tmp_path / "state.sqlite"))
        self.notifications = MemorySink()
        self.decisions = MemorySink()
        self.engine = Engine(
            rules(),
            check(),
            self.store,
            Outputs(self.decisions, self.notifications, MemorySink()),
            batch_size=1,
        )
        self.clock_at = T0 + timedelta(hours=1)
        self.app = create_app(
            self.store, ruleset=rules(), check=check(), clock=lambda: self.clock_at
        )
        self.client = TestClient(self.app, base_url="https://testserver")

    def page_of(self, notification: dict[str, object]) -> str:
        data = notification["data"]
        assert isinstance(data, dict)
        url = str(data["preferences_url"])
        assert url.startswith("https://mijn.example-telecom.nl/p/")
        return "/p/" + url.rsplit("/p/", 1)[1]

    def press(self, page: str, choice: str, **extra: str) -> str:
        shown = self.client.get(page)
        assert shown.status_code == 200, shown.text
        nonce = re.search(r'name="form_token" value="([^"]+)"', shown.text)
        assert nonce is not None
        r = self.client.post(page, data={"choice": choice, "form_token": nonce[1], **extra})
        assert r.status_code == 200, r.text
        return r.text


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    r = Run(tmp_path)
    with r.client:
        yield r
    r.store.close()


def test_stop_commercial_on_the_page_takes_effect_in_the_same_run(run: Run) -> None:
    """The acceptance of issue 6 part 4: after the press, no further commercial message
    in the same run, while a service notice still arrives."""

    def stream() -> Iterator[tuple[str, str]]:
        for n, line in enumerate(customer(), 1):
            yield line, f"test:{n}"
        (sent,) = run.notifications.records
        assert sent["data"]["purpose"] == "commercial"
        text = run.press(run.page_of(sent), "stop_commercial")
        assert "Your choice is recorded" in text
        for n, line in enumerate(june(), 100):
            yield line, f"test:{n}"

    run.engine.run(stream())
    run.engine.finish()
    after = run.notifications.records[1:]
    assert [n["data"]["purpose"] for n in after if n["data"]["purpose"] == "commercial"] == []
    assert any(n["data"]["rule_id"] == "outage-started" for n in after)
    # the bundle rule fired again in June; its offer ran into the customer's objection
    june_bundle = [
        d
        for d in run.decisions.records
        if d["rule_id"] == "data-bundle-nearly-used"
        and d["event_id"].startswith("usage.data-C1-2026-06")
    ]
    assert any("objection_direct_marketing" in str(d["reasons"]) for d in june_bundle)
    assert run.store.inbound() == []  # drained and deleted
    assert run.store.load(["C1"])["C1"].objection_direct_marketing is True


def test_stop_this_kind_and_callback_are_recorded(run: Run) -> None:
    for n, line in enumerate(customer(), 1):
        run.engine.process_batch([(line, f"test:{n}")])
    (sent,) = run.notifications.records
    page = run.page_of(sent)
    run.press(page, "stop_rule")
    run.press(page, "callback")
    run.press(page, "channel", channel="email")
    drained = [run.engine.drain_inbound() for _ in range(4)]  # a batch (1 here) at a time
    assert drained == [1, 1, 1, 0]
    ctx = run.store.load(["C1"])["C1"]
    assert set(ctx.stopped_rules) == {"data-bundle-nearly-used"}
    assert ctx.callback_requested_at == run.clock_at
    assert ctx.preferred_channel == "email"


def test_language_quiet_hours_and_undoing_a_stop(run: Run) -> None:
    """Every choice can be changed back; the page shows the state the next decision will
    see (choices waiting for the engine included) in the language the customer chose."""
    for n, line in enumerate(customer(), 1):
        run.engine.process_batch([(line, f"test:{n}")])
    (sent,) = run.notifications.records
    page = run.page_of(sent)
    assert '<html lang="en">' in run.client.get(page).text

    text = run.press(page, "language", language="nl")
    assert '<html lang="nl">' in text and "Uw keuze is vastgelegd" in text  # not yet drained
    text = run.press(page, "quiet_hours", quiet_start="21:30", quiet_end="08:00")
    assert 'value="21:30"' in text and 'value="08:00"' in text
    text = run.press(page, "stop_commercial")
    assert "Toch weer aanbiedingen ontvangen" in text
    assert "Stop alle commerciële berichten" not in text
    text = run.press(page, "stop_rule")
    assert "U heeft dit soort berichten gestopt." in text
    while run.engine.drain_inbound():
        pass
    ctx = run.store.load(["C1"])["C1"]
    assert (ctx.language, f"{ctx.quiet_start:%H:%M}", f"{ctx.quiet_end:%H:%M}") == (
        "nl",
        "21:30",
        "08:00",
    )
    assert ctx.objection_direct_marketing and "data-bundle-nearly-used" in ctx.stopped_rules

    text = run.press(page, "resume_commercial")
    assert "Stop alle commerciële berichten" in text
    text = run.press(page, "resume_rule")
    assert "Stop dit soort berichten" in text
    while run.engine.drain_inbound():
        pass
    ctx = run.store.load(["C1"])["C1"]
    assert not ctx.objection_direct_marketing and ctx.stopped_rules == {}
    # what the customer said, in order, for the explorer
    assert [(c.what, c.detail, c.via) for c in ctx.choices] == [
        ("language", "nl", "preference_page"),
        ("quiet_hours", "21:30-08:00", "preference_page"),
        ("stop_commercial", None, "preference_page"),
        ("stop_rule", "data-bundle-nearly-used", "preference_page"),
        ("resume_commercial", None, "preference_page"),
        ("resume_rule", "data-bundle-nearly-used", "preference_page"),
    ]


def test_the_customers_quiet_hours_can_be_removed_again(run: Run) -> None:
    """Set, then removed: the policy's own quiet hours apply again."""
    signer = run.app.state.links
    page = "/p/" + signer.sign(
        PreferenceLink("C1", "outage-started", "en", run.clock_at + timedelta(days=1))
    )
    assert "Remove my times" not in run.client.get(page).text  # nothing to remove yet
    text = run.press(page, "quiet_hours", quiet_start="20:00", quiet_end="09:00")
    assert "Remove my times" in text
    while run.engine.drain_inbound():
        pass
    assert run.store.load(["C1"])["C1"].quiet_start is not None
    text = run.press(page, "clear_quiet_hours")
    assert "Remove my times" not in text and 'id="quiet-start" name="quiet_start" value=""' in text
    while run.engine.drain_inbound():
        pass
    ctx = run.store.load(["C1"])["C1"]
    assert (ctx.quiet_start, ctx.quiet_end) == (None, None)
    assert [c.what for c in ctx.choices] == ["quiet_hours", "quiet_hours_removed"]


def test_after_undoing_the_stop_offers_arrive_again(run: Run) -> None:
    for n, line in enumerate(customer(), 1):
        run.engine.process_batch([(line, f"test:{n}")])
    page = run.page_of(run.notifications.records[0])
    run.press(page, "stop_commercial")
    run.press(page, "resume_commercial")
    while run.engine.drain_inbound():
        pass
    for n, line in enumerate(june(), 100):
        run.engine.process_batch([(line, f"test:{n}")])
    purposes = [n["data"]["purpose"] for n in run.notifications.records[1:]]
    assert "commercial" in purposes and "service" in purposes


@pytest.mark.parametrize(
    ("choice", "fields"),
    [
        ("channel", {"channel": "fax"}),
        ("language", {"language": "de"}),
        ("quiet_hours", {"quiet_start": "25:99", "quiet_end": "08:00"}),
        ("quiet_hours", {"quiet_start": "22:00"}),
        ("quiet_hours", {"quiet_start": "22:00Z", "quiet_end": "07:00"}),  # an offset
        ("quiet_hours", {"quiet_start": "22:00+01:00", "quiet_end": "07:00"}),
        ("quiet_hours", {"quiet_start": "22:00", "quiet_end": "22:00"}),  # empty window
        ("quiet_hours", {"quiet_start": "9:00", "quiet_end": "17:00"}),
    ],
)
def test_a_value_the_page_never_offers_is_refused_and_nothing_kept(
    run: Run, choice: str, fields: dict[str, str]
) -> None:
    signer = run.app.state.links
    page = "/p/" + signer.sign(
        PreferenceLink("C1", "outage-started", "en", run.clock_at + timedelta(days=1))
    )
    nonce = re.search(r'name="form_token" value="([^"]+)"', run.client.get(page).text)
    assert nonce is not None
    r = run.client.post(page, data={"choice": choice, "form_token": nonce[1], **fields})
    assert r.status_code == 400
    assert "That did not work" in r.text and 'role="alert"' in r.text
    assert run.store.inbound() == []


def test_the_explorer_shows_what_the_customer_chose(run: Run) -> None:
    """Staff see the customer's choices beside the decisions: waiting ones at once (with
    a note that the engine has not drained them), then the recorded history."""
    for n, line in enumerate(customer(), 1):
        run.engine.process_batch([(line, f"test:{n}")])
    (decision,) = [d for d in run.decisions.records if d["verdict"] == "send"]
    page = run.page_of(run.notifications.records[0])
    run.press(page, "stop_commercial")
    run.press(page, "callback")
    Accounts(run.store).add("carol", "compliance", PASSWORD)
    staff = TestClient(run.app, base_url="https://testserver")
    assert sign_in(staff, "carol", PASSWORD).status_code == 303

    shown = staff.get(f"/decisions/{decision['decision_id']}").text
    assert "The customer&#39;s choices" in shown or "The customer's choices" in shown
    assert "2 choice(s) made on the preference page are waiting" in shown
    assert "<strong>stopped</strong> (objection to direct marketing)" in shown

    while run.engine.drain_inbound():
        pass
    listed = staff.get("/decisions", params={"customer": "C1"}).text
    assert "are waiting" not in listed
    rows = re.findall(
        r"<tr><td>[^<]*</td><td>([a-z ]+)</td><td>[^<]*</td><td>([a-z ]+)</td></tr>", listed
    )
    assert rows == [("callback", "preference page"), ("stop commercial", "preference page")]
    # a customer id that is only a beginning, or unknown: no panel
    assert "h-choices" not in staff.get("/decisions", params={"customer": "C"}).text
    assert "h-choices" not in staff.get("/decisions", params={"customer": "C404"}).text


def test_staff_see_callback_requests_and_mark_them_done(run: Run) -> None:
    """A request from the page and one by SMS are listed oldest first; marking one done
    needs a note and the CSRF token, is an event like the customer's own, and names
    who called. Product users do not see the list."""
    for n, line in enumerate(customer(), 1):
        run.engine.process_batch([(line, f"test:{n}")])
    sms = ce("customer.reply", "C2", T0 - timedelta(days=1), text="BEL MIJ")
    run.engine.process_batch([(sms, "test:sms")])
    run.press(run.page_of(run.notifications.records[0]), "callback")
    accounts = Accounts(run.store)
    accounts.add("alice", "reviewer", PASSWORD)
    accounts.add("paula", "product", PASSWORD)
    staff = TestClient(run.app, base_url="https://testserver")
    assert sign_in(staff, "alice", PASSWORD).status_code == 303

    page = staff.get("/callbacks").text
    assert re.findall(r'<a href="/decisions\?customer=(C\d)">', page) == ["C2", "C1"]
    assert "sms reply" in page and "(waiting for the engine)" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None

    no_csrf = staff.post("/callbacks/done", data={"customer": "C1", "note": "called, all fine"})
    assert no_csrf.status_code == 403
    no_note = staff.post(
        "/callbacks/done",
        data={"csrf_token": token[1], "customer": "C1", "note": " "},
        follow_redirects=False,
    )
    assert no_note.headers["location"] == "/callbacks?error=note"
    # nobody asked: nothing is written (a stale page cannot bring back an erased customer)
    nobody = staff.post(
        "/callbacks/done",
        data={"csrf_token": token[1], "customer": "C404", "note": "called, all fine"},
        follow_redirects=False,
    )
    assert nobody.headers["location"] == "/callbacks?error=closed"
    assert "no longer open" in staff.get(nobody.headers["location"]).text
    assert len(run.store.inbound()) == 1  # only the customer's own request
    ok = staff.post(
        "/callbacks/done",
        data={"csrf_token": token[1], "customer": "C1", "note": "called, bundle explained"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    while run.engine.drain_inbound():
        pass
    page = staff.get("/callbacks").text
    assert re.findall(r'<a href="/decisions\?customer=(C\d)">', page) == ["C2"]
    ctx = run.store.load(["C1"])["C1"]
    assert ctx.callback_requested_at is None
    assert [(c.what, c.via, c.detail) for c in ctx.choices][-2:] == [
        ("callback", "preference_page", None),
        ("called_back", "agent", "alice: called, bundle explained"),
    ]

    product = TestClient(run.app, base_url="https://testserver")
    assert sign_in(product, "paula", PASSWORD).status_code == 303
    assert product.get("/callbacks").status_code == 403
    assert 'href="/callbacks"' not in product.get("/decisions").text


def test_the_page_speaks_the_links_language_and_explains_why(run: Run) -> None:
    signer = run.app.state.links
    expires = run.clock_at + timedelta(days=1)
    nl = run.client.get("/p/" + signer.sign(PreferenceLink("C9", "outage-started", "nl", expires)))
    assert nl.status_code == 200
    assert '<html lang="nl">' in nl.text and "Waarom kreeg ik dit bericht?" in nl.text
    assert "servicebericht" in nl.text
    assert '<label for="channel">' in nl.text and "csrf" not in nl.text.lower()
    en = run.client.get("/p/" + signer.sign(PreferenceLink("C9", "outage-started", "en", expires)))
    assert "Why did I get this message?" in en.text
    assert "Tell affected customers about an outage" in en.text  # the rule, in plain words


def test_a_tampered_or_expired_link_gets_a_plain_403(run: Run) -> None:
    signer = run.app.state.links
    token = signer.sign(PreferenceLink("C1", "outage-started", "en", run.clock_at))  # expires now
    for page in (f"/p/{token}", f"/p/{token[:-3]}xyz", "/p/nonsense"):
        r = run.client.get(page)
        assert r.status_code == 403 and "does not work" in r.text
        assert run.client.post(page, data={"choice": "stop_commercial"}).status_code == 403
    assert run.store.inbound() == []


def test_a_form_without_its_signed_nonce_is_refused(run: Run) -> None:
    signer = run.app.state.links
    expires = run.clock_at + timedelta(days=1)
    page = "/p/" + signer.sign(PreferenceLink("C1", "outage-started", "en", expires))
    other = "/p/" + signer.sign(PreferenceLink("C2", "outage-started", "en", expires))
    nonce = re.search(r'name="form_token" value="([^"]+)"', run.client.get(other).text)
    assert nonce is not None
    for form in ({}, {"form_token": "forged"}, {"form_token": nonce[1]}):
        r = run.client.post(page, data={"choice": "stop_commercial", **form})
        assert r.status_code == 403
    assert run.store.inbound() == []


# -- SMS replies ---------------------------------------------------------------------------


def test_an_sms_reply_stop_stops_commercial_messages() -> None:
    h = Harness()
    for n, line in enumerate(customer(), 1):
        h.engine.process_batch([(line, f"test:{n}")])
    assert [n["data"]["purpose"] for n in h.notifications] == ["commercial"]
    reply = ce("customer.reply", "C1", T0 + timedelta(days=1), text="STOP", channel="sms")
    for n, line in enumerate([reply, *june()], 50):
        h.engine.process_batch([(line, f"test:{n}")])
    later = h.notifications[1:]
    assert "commercial" not in {n["data"]["purpose"] for n in later}
    assert any(n["data"]["rule_id"] == "outage-started" for n in later)


def test_an_sms_reply_bel_mij_asks_for_a_callback() -> None:
    h = Harness()
    at = T0 + timedelta(days=1)
    h.engine.process_batch([(ce("customer.reply", "C1", at, text="BEL MIJ"), "test:1")])
    assert h.store.load(["C1"])["C1"].callback_requested_at == at


def test_link_tokens_never_reach_a_log(run: Run, caplog: pytest.LogCaptureFixture) -> None:
    """uvicorn's access log line of a preference page, and any other log line, shows
    ``/p/…``: the token is the customer's key to their page. Customer ids in URLs are
    masked as the policy says."""
    token = run.app.state.links.sign(
        PreferenceLink("C1", "outage-started", "en", run.clock_at + timedelta(days=1))
    )
    access = logging.getLogger("uvicorn.access")
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", f"/p/{token}", "1.1", 200)
    assert token not in caplog.text and '"GET /p/… HTTP/1.1" 200' in caplog.text
    # a customer id typed into a search is masked there too, as the policy says
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:5000",
            "GET",
            "/decisions?customer=C001",
            "1.1",
            200,
        )
    assert "C001" not in caplog.text and "/decisions?customer=C…" in caplog.text
    handler_filter = MaskingFilter()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "opened %s", (f"/p/{token}",), None)
    handler_filter.filter(record)
    assert record.getMessage() == "opened /p/…"


def test_an_approval_honours_a_choice_still_waiting_for_the_engine(tmp_path: Path) -> None:
    """The customer objects on the page while no engine runs; a reviewer approving the
    offer a minute later is refused — the objection counts at once (GDPR art. 21(3)),
    not at the engine's next batch. Without the choice the same approval sends."""
    for objected, out in ((True, tmp_path / "objected"), (False, tmp_path / "control")):
        fill_store(out, ["C001"], outages=False)
        store = ContextStore(sqlite_url(out / "state.sqlite"))
        (item,) = list_items(store, status="pending")
        if objected:
            store.add_inbound(
                {
                    "specversion": "1.0",
                    "id": "pref-1",
                    "source": PAGE_SOURCE,
                    "type": "customer.consent_changed",
                    "subject": "C001",
                    "time": DAYTIME.isoformat(),
                    "data": {"objection_direct_marketing": True},
                },
                DAYTIME,
            )
        sink = MemorySink()
        outcome = approve(
            store,
            item.decision_id,
            ruleset=rules(),
            check=check(),
            reviewer="alice",
            reason="fits her usage",
            now=DAYTIME,
            sink=sink,
        )
        if objected:
            assert outcome.action == "refused" and sink.records == []
            assert any("objection_direct_marketing" in r for r in outcome.reasons)
            # only the check saw it: the engine still applies the choice, once
            assert store.load(["C001"])["C001"].objection_direct_marketing is False
            assert len(store.inbound()) == 1
        else:
            assert outcome.action == "approved" and len(sink.records) == 1
        store.close()


@pytest.mark.parametrize(
    "hours",
    [
        {"start": "22:00+01:00", "end": "07:00"},
        {"start": "22:00Z", "end": "07:00"},
        {"start": "08:00", "end": "08:00"},
    ],
)
def test_quiet_hours_with_an_offset_or_empty_are_dead_lettered(hours: dict[str, str]) -> None:
    """Upstream too: a time with an offset cannot be compared with the customer's local
    time (every later decision would fail), and an empty window would drop the policy's
    quiet hours; such an event goes to the dead letter with the reason, nothing changes."""
    h = Harness()
    line = ce("customer.profile_updated", "C1", T0, quiet_hours=hours)
    h.engine.process_batch([(line, "test:1")])
    (dead,) = h.dead_letters
    assert dead["reason"] == "schema_violation" and "quiet_hours" in dead["detail"]
    assert "C1" not in h.store.load(["C1"])


def test_a_form_the_page_never_sends_gets_the_customers_refusal(run: Run) -> None:
    """An over-long field, a missing path: the customer's plain page, never the staff one."""
    signer = run.app.state.links
    page = "/p/" + signer.sign(
        PreferenceLink("C1", "outage-started", "en", run.clock_at + timedelta(days=1))
    )
    for r in (
        run.client.post(page, data={"choice": "stop_commercial", "form_token": "x" * 600}),
        run.client.get("/p/"),
        run.client.get("/p"),
    ):
        assert r.status_code == 403 and "This link does not work" in r.text
        assert "Sign in" not in r.text
    assert run.store.inbound() == []
