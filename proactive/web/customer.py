"""The customer's preference page (``/p/<token>``): no staff sign-in, the signed link is the key.

A customer reaches it from the link in every message (``preferences_url``, see
:mod:`proactive.preferences`). An altered, malformed or expired link gets a plain 403
page. The page is Dutch or English by the link's language and offers: stop this kind
of message, stop all commercial messages, change channel, ask for a callback, and
"why did I get this?" in plain words. Each form carries a signed nonce bound to the
link and valid for :data:`FORM_MINUTES` (there is no session, so no session token: a
forged form would need the link's secret token and a nonce signed by our key).

A choice is written to the store's ``inbound_events`` table as a CloudEvent; the
engine drains it between batches (``Engine.drain_inbound``), so the next decision
honours it.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from proactive.errors import LinkError
from proactive.events import CHANNELS, event_from_dict
from proactive.preferences import LinkSigner, PreferenceLink
from proactive.web.state import web_state

log = logging.getLogger(__name__)

router = APIRouter()

FORM_MINUTES = 60
"""How long a page's forms may be sent after it was shown."""

SOURCE = "/proactive/web/preferences"
CHOICES = ("stop_rule", "stop_commercial", "channel", "callback")

TEXT: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Uw voorkeuren",
        "intro": "Hier kiest u welke berichten u van ons krijgt en hoe.",
        "why": "Waarom kreeg ik dit bericht?",
        "why_service": "Dit is een servicebericht over uw abonnement.",
        "why_commercial": "Dit is een aanbod dat past bij hoe u uw abonnement gebruikt.",
        "why_advice": "Dit is een advies over uw abonnement.",
        "stop_rule": "Stop dit soort berichten",
        "stop_rule_help": "U krijgt geen berichten van deze soort meer.",
        "stop_commercial": "Stop alle commerciële berichten",
        "stop_commercial_help": "Geen aanbiedingen meer. Serviceberichten (zoals storingen) blijven komen.",
        "channel": "Hoe wilt u berichten krijgen?",
        "channel_button": "Kanaal wijzigen",
        "callback": "Bel mij terug",
        "callback_help": "Een medewerker belt u op werkdagen terug.",
        "done": "Uw keuze is vastgelegd. Hij geldt vanaf het volgende bericht.",
        "back": "Terug naar uw voorkeuren",
        "refused": "Deze link werkt niet (meer)",
        "refused_help": "De link is verlopen of niet juist. Gebruik de link in uw laatste bericht, of neem contact met ons op.",
        "sms": "SMS",
        "email": "E-mail",
        "push": "Pushbericht",
        "app_inbox": "Berichten in de app",
    },
    "en": {
        "title": "Your preferences",
        "intro": "Choose which messages you get from us, and how.",
        "why": "Why did I get this message?",
        "why_service": "This is a service message about your subscription.",
        "why_commercial": "This is an offer that fits how you use your subscription.",
        "why_advice": "This is advice about your subscription.",
        "stop_rule": "Stop this kind of message",
        "stop_rule_help": "You will get no more messages of this kind.",
        "stop_commercial": "Stop all commercial messages",
        "stop_commercial_help": "No more offers. Service messages (such as outages) still arrive.",
        "channel": "How would you like to get messages?",
        "channel_button": "Change channel",
        "callback": "Call me back",
        "callback_help": "Someone from our team calls you back on a working day.",
        "done": "Your choice is recorded. It applies from the next message.",
        "back": "Back to your preferences",
        "refused": "This link does not work (any more)",
        "refused_help": "The link has expired or is not right. Use the link in your latest message, or contact us.",
        "sms": "SMS",
        "email": "E-mail",
        "push": "Push notification",
        "app_inbox": "Messages in the app",
    },
}


def _signer(request: Request) -> LinkSigner:
    found: LinkSigner = request.app.state.links
    return found


def _bound(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _form_nonce(signer: LinkSigner, token: str, now: datetime) -> str:
    expires = int((now + timedelta(minutes=FORM_MINUTES)).timestamp())
    return signer.seal("form", {"t": _bound(token), "e": expires, "n": uuid.uuid4().hex})


def _check_nonce(signer: LinkSigner, token: str, nonce: str, now: datetime) -> None:
    payload = signer.open("form", nonce)
    if payload.get("t") != _bound(token):
        raise LinkError("the form belongs to another link")
    if now.timestamp() >= int(payload.get("e", 0)):
        raise LinkError("the form has expired; open the page again")


def _refused(request: Request, language: str | None = None) -> Response:
    """The plain 403; without a valid link its language is unknown: Dutch, then English."""
    web = web_state(request)
    texts = [TEXT[language]] if language in TEXT else [TEXT["nl"], TEXT["en"]]
    return web.templates.TemplateResponse(
        request,
        "customer_refused.html.j2",
        {"texts": texts, "lang": language or "nl"},
        status_code=403,
    )


def _why(request: Request, link: PreferenceLink) -> tuple[str, str]:
    """(the purpose sentence, the rule's own reason) for the message this link came with."""
    web = web_state(request)
    purpose, reason = "service", ""
    try:
        rule = web.desk.ruleset.rule(link.rule_id).rule
        purpose, reason = rule.purpose, rule.description
    except KeyError:
        pass
    for rec in reversed(web.store.customer_records(link.customer_id, "main")):
        message = rec.get("message")
        if rec.get("rule_id") == link.rule_id and isinstance(message, dict):
            reason = str(message.get("reason") or reason)
            break
    return TEXT[link.language][f"why_{purpose}"], reason


def _page(request: Request, token: str, link: PreferenceLink, **extra: Any) -> Response:
    web = web_state(request)
    purpose_text, reason = _why(request, link)
    return web.templates.TemplateResponse(
        request,
        "customer.html.j2",
        {
            "t": TEXT[link.language],
            "lang": link.language,
            "token": token,
            "nonce": _form_nonce(_signer(request), token, web.clock()),
            "why_purpose": purpose_text,
            "why_reason": reason,
            "channels": CHANNELS,
            "done": False,
            **extra,
        },
    )


def _link(request: Request, token: str) -> PreferenceLink | None:
    try:
        link = _signer(request).verify(token, web_state(request).clock())
    except LinkError as exc:
        log.info("preference link refused: %s", exc)
        return None
    return link if link.language in TEXT else None


@router.get("/p/{token}")
async def preferences(request: Request, token: str) -> Response:
    """The preference page of the link's customer."""
    link = _link(request, token)
    if link is None:
        return _refused(request)
    return _page(request, token, link)


def _events(link: PreferenceLink, choice: str, channel: str, now: datetime) -> list[dict[str, Any]]:
    data: dict[str, Any]
    if choice == "stop_rule":
        etype, data = "customer.preferences_changed", {"stop_rule": link.rule_id}
    elif choice == "stop_commercial":
        etype = "customer.consent_changed"
        data = {"objection_direct_marketing": True}
    elif choice == "channel":
        etype, data = "customer.profile_updated", {"preferred_channel": channel}
    else:
        etype, data = "customer.preferences_changed", {"callback_requested": True}
    event = {
        "specversion": "1.0",
        "id": f"pref-{uuid.uuid4()}",
        "source": SOURCE,
        "type": etype,
        "subject": link.customer_id,
        "time": now.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": data,
    }
    event_from_dict(event)  # the page writes only what the engine will accept
    return [event]


@router.post("/p/{token}")
async def choose(
    request: Request,
    token: str,
    choice: Annotated[str, Form(max_length=32)] = "",
    form_token: Annotated[str, Form(max_length=512)] = "",
    channel: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Record one choice as an inbound event for the engine."""
    link = _link(request, token)
    if link is None:
        return _refused(request)
    web = web_state(request)
    now = web.clock()
    try:
        _check_nonce(_signer(request), token, form_token, now)
    except LinkError as exc:
        log.info("preference form refused: %s", exc)
        return _refused(request, link.language)
    if choice not in CHOICES or (choice == "channel" and channel not in CHANNELS):
        return _refused(request, link.language)
    for event in _events(link, choice, channel, now):
        await run_in_threadpool(web.store.add_inbound, event, now)
    log.info("preference %s recorded for a customer (rule %s)", choice, link.rule_id)
    return _page(request, token, link, done=True)
