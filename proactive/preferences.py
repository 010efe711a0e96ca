"""The customer's side: signed, expiring preference links and SMS reply keywords.

Every notification carries ``preferences_url`` = ``<base>/p/<token>``. The token is
the customer id, the rule id, the language and an expiry, signed with HMAC-SHA256
(stdlib :mod:`hmac`): it is the only authorisation of the preference page, so it
cannot be forged or altered, and it stops working after :data:`LINK_DAYS`.

The key is ``PROACTIVE_LINK_KEY`` (hex or any text); without it each process draws a
random key, so links work only while that process runs — set it whenever the engine
and the page are different processes, or links must outlive a restart. The base URL
is ``PROACTIVE_PUBLIC_URL`` (default :data:`DEFAULT_PUBLIC_URL`).

Example::

    >>> links = LinkSigner(b"k" * 32)
    >>> token = links.sign(PreferenceLink("C1", "outage-started", "nl",
    ...                                   datetime(2026, 6, 1, tzinfo=UTC)))
    >>> links.verify(token, now=datetime(2026, 5, 1, tzinfo=UTC)).customer_id
    'C1'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from proactive.errors import LinkError

LINK_DAYS = 30
"""How long a preference link works after the message was delivered."""
DEFAULT_PUBLIC_URL = "https://mijn.example-telecom.nl"
PAGE_SOURCE = "/proactive/web/preferences"
"""The CloudEvents ``source`` of every choice made on the preference page."""


@dataclass(frozen=True)
class PreferenceLink:
    """What a preference link says: whose, about which rule, in which language, until when."""

    customer_id: str
    rule_id: str
    language: str
    expires: datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Signs and checks tokens with one key; ``purpose`` separates kinds of token.

    The same key signs preference links (``purpose="link"``) and the page's form
    nonces (``purpose="form"``); a token of one purpose is never valid as the other.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, purpose: str, body: bytes) -> bytes:
        return hmac.new(self._key, purpose.encode() + b"\0" + body, hashlib.sha256).digest()

    def seal(self, purpose: str, payload: dict[str, str | int]) -> str:
        """``payload`` as a URL-safe token with its signature."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(body)}.{_b64(self._mac(purpose, body))}"

    def open(self, purpose: str, token: str) -> dict[str, str | int]:
        """The payload of a token this key signed for ``purpose``; :class:`LinkError` otherwise."""
        body_text, _, mac_text = token.partition(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (ValueError, UnicodeError) as exc:
            raise LinkError("the link is not a valid token") from exc
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            raise LinkError("the link's signature does not match")
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise LinkError("the link's content is not understood")
        return payload

    def sign(self, link: PreferenceLink) -> str:
        """The token of a preference link."""
        return self.seal(
            "link",
            {
                "c": link.customer_id,
                "r": link.rule_id,
                "l": link.language,
                "e": int(link.expires.timestamp()),
            },
        )

    def verify(self, token: str, now: datetime) -> PreferenceLink:
        """The link a token stands for, if it is genuine and not expired at ``now``."""
        p = self.open("link", token)
        try:
            link = PreferenceLink(
                str(p["c"]), str(p["r"]), str(p["l"]), datetime.fromtimestamp(int(p["e"]), UTC)
            )
        except (KeyError, ValueError) as exc:
            raise LinkError("the link's content is not understood") from exc
        if now >= link.expires:
            raise LinkError(f"the link expired on {link.expires:%Y-%m-%d}")
        return link


def _key_from_env() -> bytes:
    text = os.environ.get("PROACTIVE_LINK_KEY")
    if not text:
        return secrets.token_bytes(32)
    try:
        return bytes.fromhex(text)
    except ValueError:
        return text.encode()


_PROCESS_SIGNER: LinkSigner | None = None


def default_signer() -> LinkSigner:
    """The signer of this process: ``PROACTIVE_LINK_KEY``, else a random key (drawn once)."""
    global _PROCESS_SIGNER
    if _PROCESS_SIGNER is None:
        _PROCESS_SIGNER = LinkSigner(_key_from_env())
    return _PROCESS_SIGNER


def preferences_url(customer_id: str, rule_id: str, language: str, sent_at: datetime) -> str:
    """The signed link to the preference page for one message, valid :data:`LINK_DAYS`."""
    base = os.environ.get("PROACTIVE_PUBLIC_URL", DEFAULT_PUBLIC_URL).rstrip("/")
    link = PreferenceLink(customer_id, rule_id, language, sent_at + timedelta(days=LINK_DAYS))
    return f"{base}/p/{default_signer().sign(link)}"


ReplyIntent = Literal["stop_commercial", "callback"]

_STOP = re.compile(r"^\s*(stop|nee|no|afmelden|unsubscribe)\s*[.!]*\s*$", re.IGNORECASE)
_CALL = re.compile(r"^\s*(bel\s+mij|bel\s+me|call\s+me|terugbellen)\s*[.!]*\s*$", re.IGNORECASE)


def reply_intent(text: str) -> ReplyIntent | None:
    """What an SMS reply asks for: only a whole-message keyword counts.

    >>> reply_intent(" Stop "), reply_intent("BEL MIJ!"), reply_intent("nee hoor, bedankt")
    ('stop_commercial', 'callback', None)
    """
    if _STOP.match(text):
        return "stop_commercial"
    if _CALL.match(text):
        return "callback"
    return None
