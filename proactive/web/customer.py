"""The customer's preference page (``/p/<token>``): no staff sign-in, the signed link is the key.

A customer reaches it from the link in every message (``preferences_url``, see
:mod:`proactive.preferences`). An altered, malformed or expired link gets a plain 403
page. The page is Dutch or English by the link's language and offers: stop this kind
of message, stop all commercial messages, change channel, language or quiet hours,
ask for a callback — and undo each of them — and "why did I get this?" in plain words.
It shows the customer's current choices (the store's context with the choices still
waiting for the engine applied), in the language the customer chose last. Each form carries a signed nonce bound to the
link and valid for :data:`FORM_MINUTES` (there is no session, so no session token: a
forged form would need the link's secret token and a nonce signed by our key).

A choice is written to the store's ``inbound_events`` table as a CloudEvent; the
engine drains it between batches (``Engine.drain_inbound``), so the next decision
honours it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from proactive.errors import EventError, LinkError
from proactive.events import CHANNELS
from proactive.inbound import choice_event
from proactive.preferences import PAGE_SOURCE, LinkSigner, PreferenceLink
from proactive.web.queries import customer_now, last_message
from proactive.web.state import web_state

log = logging.getLogger(__name__)

router = APIRouter()

FORM_MINUTES = 60
"""How long a page's forms may be sent after it was shown."""

CHOICES = (
    "stop_rule",
    "resume_rule",
    "stop_commercial",
    "resume_commercial",
    "channel",
    "language",
    "quiet_hours",
    "clear_quiet_hours",
    "callback",
    "cancel_callback",
)

TEXT: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Uw voorkeuren",
        "intro": "Hier kiest u welke berichten u van ons krijgt en hoe.",
        "why": "Waarom kreeg ik dit bericht?",
        "why_service": "Dit is een servicebericht over uw abonnement.",
        "why_commercial": "Dit is een aanbod dat past bij hoe u uw abonnement gebruikt.",
        "why_advice": "Dit is een advies over uw abonnement.",
        "kind": "Dit soort berichten",
        "stop_rule": "Stop dit soort berichten",
        "stop_rule_help": "U krijgt geen berichten van deze soort meer.",
        "rule_stopped": "U heeft dit soort berichten gestopt.",
        "resume_rule": "Toch weer ontvangen",
        "commercial": "Aanbiedingen",
        "stop_commercial": "Stop alle commerciële berichten",
        "stop_commercial_help": "Geen aanbiedingen meer. Serviceberichten (zoals storingen) blijven komen.",
        "commercial_stopped": "U krijgt geen aanbiedingen meer. Serviceberichten blijven komen.",
        "resume_commercial": "Toch weer aanbiedingen ontvangen",
        "channel": "Hoe wilt u berichten krijgen?",
        "channel_button": "Kanaal wijzigen",
        "language": "In welke taal?",
        "language_button": "Taal wijzigen",
        "quiet": "Wanneer liever niet?",
        "quiet_help": "Tussen deze tijden sturen wij u geen berichten (behalve bij een storing of fraude).",
        "quiet_start": "Niet na",
        "quiet_end": "Niet voor",
        "quiet_button": "Tijden opslaan",
        "quiet_clear": "Mijn tijden wissen",
        "quiet_clear_help": "Dan gelden weer onze gewone tijden: geen berichten in de nacht.",
        "callback_title": "Liever een mens?",
        "callback": "Bel mij terug",
        "callback_help": "Een medewerker belt u op werkdagen terug.",
        "callback_asked": "U heeft gevraagd of wij u terugbellen. Een medewerker belt u op werkdagen.",
        "cancel_callback": "Terugbellen is niet meer nodig",
        "done": "Uw keuze is vastgelegd. Hij geldt vanaf het volgende bericht.",
        "refused": "Deze link werkt niet (meer)",
        "refused_help": "De link is verlopen of niet juist. Gebruik de link in uw laatste bericht, of neem contact met ons op.",
        "invalid": "Dat lukte niet: kies een geldige waarde en probeer het opnieuw.",
        "sms": "SMS",
        "email": "E-mail",
        "push": "Pushbericht",
        "app_inbox": "Berichten in de app",
        "nl": "Nederlands",
        "en": "English",
    },
    "en": {
        "title": "Your preferences",
        "intro": "Choose which messages you get from us, and how.",
        "why": "Why did I get this message?",
        "why_service": "This is a service message about your subscription.",
        "why_commercial": "This is an offer that fits how you use your subscription.",
        "why_advice": "This is advice about your subscription.",
        "kind": "This kind of message",
        "stop_rule": "Stop this kind of message",
        "stop_rule_help": "You will get no more messages of this kind.",
        "rule_stopped": "You stopped this kind of message.",
        "resume_rule": "Receive them again",
        "commercial": "Offers",
        "stop_commercial": "Stop all commercial messages",
        "stop_commercial_help": "No more offers. Service messages (such as outages) still arrive.",
        "commercial_stopped": "You get no more offers. Service messages still arrive.",
        "resume_commercial": "Receive offers again",
        "channel": "How would you like to get messages?",
        "channel_button": "Change channel",
        "language": "In which language?",
        "language_button": "Change language",
        "quiet": "When would you rather not hear from us?",
        "quiet_help": "We send no messages between these times (except for an outage or fraud).",
        "quiet_start": "Not after",
        "quiet_end": "Not before",
        "quiet_button": "Save times",
        "quiet_clear": "Remove my times",
        "quiet_clear_help": "Our usual times apply again: no messages at night.",
        "callback_title": "Rather talk to a person?",
        "callback": "Call me back",
        "callback_help": "Someone from our team calls you back on a working day.",
        "callback_asked": "You asked us to call you back. Someone calls you on a working day.",
        "cancel_callback": "No need to call any more",
        "done": "Your choice is recorded. It applies from the next message.",
        "refused": "This link does not work (any more)",
        "refused_help": "The link has expired or is not right. Use the link in your latest message, or contact us.",
        "invalid": "That did not work: choose a valid value and try again.",
        "sms": "SMS",
        "email": "E-mail",
        "push": "Push notification",
        "app_inbox": "Messages in the app",
        "nl": "Nederlands",
        "en": "English",
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


def is_customer_path(path: str) -> bool:
    """Whether a request is the customer's (their pages never show the staff layout)."""
    return path == "/p" or path.startswith("/p/")


def refused(request: Request, language: str | None = None) -> Response:
    """The customer's plain 403 page: an unknown, altered or expired link, or a form the
    page never sends (over-long or missing fields). Without a valid link its language
    is unknown: Dutch, then English."""
    return _refused(request, language)


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


def _why(request: Request, link: PreferenceLink, lang: str) -> tuple[str, str, str]:
    """(the purpose sentence, the reason, the reason's language) for the message this
    link came with: the purpose of the message itself (a warning with an offer attached
    is commercial though its rule is a service rule), its own "why" sentence."""
    web = web_state(request)
    purpose, reason, reason_lang = "service", "", "en"
    try:
        rule = web.desk.ruleset.rule(link.rule_id).rule
        purpose, reason = rule.purpose, rule.description  # rule descriptions are English
    except KeyError:
        pass
    rec = last_message(web.store, link.customer_id, link.rule_id)
    if rec is not None:
        action, message = rec.get("action") or {}, rec["message"]
        purpose = str(action.get("purpose") or purpose)
        if message.get("reason"):
            reason, reason_lang = str(message["reason"]), str(rec.get("language") or lang)
    if f"why_{purpose}" not in TEXT[lang]:
        purpose = "service"
    return TEXT[lang][f"why_{purpose}"], reason, reason_lang


def _page(
    request: Request, token: str, link: PreferenceLink, status_code: int = 200, **extra: Any
) -> Response:
    web = web_state(request)
    ctx = customer_now(web.store, link.customer_id).context
    # the customer's own language choice wins over the language of the old message
    lang = ctx.language if ctx.language in TEXT else link.language
    purpose_text, reason, reason_lang = _why(request, link, lang)
    return web.templates.TemplateResponse(
        request,
        "customer.html.j2",
        {
            "t": TEXT[lang],
            "lang": lang,
            "token": token,
            "nonce": _form_nonce(_signer(request), token, web.clock()),
            "why_purpose": purpose_text,
            "why_reason": reason,
            "why_lang": reason_lang,
            "channels": CHANNELS,
            "languages": tuple(TEXT),
            "ctx": ctx,
            "rule_stopped": link.rule_id in ctx.stopped_rules,
            "quiet_start": f"{ctx.quiet_start:%H:%M}" if ctx.quiet_start else "",
            "quiet_end": f"{ctx.quiet_end:%H:%M}" if ctx.quiet_end else "",
            "done": False,
            "invalid": False,
            **extra,
        },
        status_code=status_code,
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


def _payload(link: PreferenceLink, form: ChoiceForm) -> tuple[str, dict[str, Any]] | None:
    """The event type and data one choice becomes; None for a choice that is not valid."""
    c = form.choice
    if c in ("stop_rule", "resume_rule"):
        return "customer.preferences_changed", {c: link.rule_id}
    if c in ("stop_commercial", "resume_commercial"):
        return "customer.consent_changed", {"objection_direct_marketing": c == "stop_commercial"}
    if c in ("callback", "cancel_callback"):
        return "customer.preferences_changed", {"callback_requested": c == "callback"}
    if c == "channel" and form.channel in CHANNELS:
        return "customer.profile_updated", {"preferred_channel": form.channel}
    if c == "language" and form.language in TEXT:
        return "customer.profile_updated", {"language": form.language}
    if c == "clear_quiet_hours":
        return "customer.profile_updated", {"clear_quiet_hours": True}
    if c == "quiet_hours" and HHMM.match(form.quiet_start) and HHMM.match(form.quiet_end):
        hours = {"start": form.quiet_start, "end": form.quiet_end}
        return "customer.profile_updated", {"quiet_hours": hours}
    return None


def _event(link: PreferenceLink, form: ChoiceForm, now: datetime) -> dict[str, Any] | None:
    """The CloudEvent of one choice, checked as the engine will check it; None if invalid."""
    found = _payload(link, form)
    if found is None:
        return None
    etype, data = found
    try:
        return choice_event(link.customer_id, etype, data, source=PAGE_SOURCE, now=now)
    except EventError:
        return None  # e.g. a time that is no time


HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")
"""A time as the page's time fields send it (without script they are text fields)."""


@dataclass(frozen=True)
class ChoiceForm:
    """The fields of the page's forms (each form sends ``choice`` and its own fields)."""

    choice: str
    channel: str = ""
    language: str = ""
    quiet_start: str = ""
    quiet_end: str = ""


@router.post("/p/{token}")
async def choose(
    request: Request,
    token: str,
    choice: Annotated[str, Form(max_length=32)] = "",
    form_token: Annotated[str, Form(max_length=512)] = "",
    channel: Annotated[str, Form(max_length=16)] = "",
    language: Annotated[str, Form(max_length=8)] = "",
    quiet_start: Annotated[str, Form(max_length=32)] = "",
    quiet_end: Annotated[str, Form(max_length=32)] = "",
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
    if choice not in CHOICES:
        return _refused(request, link.language)
    form = ChoiceForm(choice, channel, language, quiet_start, quiet_end)
    event = _event(link, form, now)
    if event is None:
        # a value the page never offers (or a time that is no time): say so, keep nothing
        return _page(request, token, link, status_code=400, invalid=True)
    await run_in_threadpool(web.store.add_inbound, event, now)
    log.info("preference %s recorded for a customer (rule %s)", choice, link.rule_id)
    return _page(request, token, link, done=True)
