"""The customer's side: signed, expiring preference links and SMS reply keywords.

Every notification carries ``preferences_url`` = ``<base>/p/<token>``. The token is
the customer id, the rule id, the language and an expiry, encrypted and authenticated
with AES-256-GCM (:class:`LinkSigner`): it is the only authorisation of the preference
page, so it cannot be read, forged or altered, and it stops working after
:data:`LINK_DAYS`.

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

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from proactive.errors import LinkError

LINK_DAYS = 30
"""How long a preference link works after the message was delivered."""
DEFAULT_PUBLIC_URL = "https://mijn.example-telecom.nl"
NONCE = 12
"""Bytes of the AES-GCM nonce at the start of a token."""
TAG = 16
"""Bytes of the AES-GCM authentication tag at the end of a token."""
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
    """Seals and opens tokens with one key; ``purpose`` separates kinds of token.

    A token is the JSON payload encrypted and authenticated with AES-256-GCM (the
    ``cryptography`` package), the purpose as associated data: nobody without the key
    can read it (a link forwarded, or a URL in a proxy's log, does not say whose it is)
    or alter it. The nonce is derived from the payload (SIV-style: an HMAC of purpose
    and payload), so the same link is always the same token — a replay of the same
    events produces the same notifications — and two different payloads never share a
    nonce. The cipher key and the nonce key are derived from the one key by HKDF.

    The same key seals preference links (``purpose="link"``) and the page's form
    nonces (``purpose="form"``); a token of one purpose is never valid as the other.
    """

    def __init__(self, key: bytes) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=64, salt=None, info=b"proactive preference links"
        ).derive(key)
        self._aead = AESGCM(derived[:32])
        self._nonce_key = derived[32:]

    def _nonce(self, aad: bytes, body: bytes) -> bytes:
        return hmac.new(self._nonce_key, aad + b"\0" + body, hashlib.sha256).digest()[:NONCE]

    def seal(self, purpose: str, payload: dict[str, str | int]) -> str:
        """``payload`` as an opaque, URL-safe token."""
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        aad = purpose.encode()
        nonce = self._nonce(aad, body)
        return _b64(nonce + self._aead.encrypt(nonce, body, aad))

    def open(self, purpose: str, token: str) -> dict[str, str | int]:
        """The payload of a token this key sealed for ``purpose``; :class:`LinkError` otherwise."""
        try:
            raw = _unb64(token)
        except (ValueError, UnicodeError) as exc:
            raise LinkError("the link is not a valid token") from exc
        if len(raw) < NONCE + TAG:
            raise LinkError("the link is not a valid token")
        try:
            body = self._aead.decrypt(raw[:NONCE], raw[NONCE:], purpose.encode())
        except InvalidTag as exc:
            raise LinkError("the link's signature does not match") from exc
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
