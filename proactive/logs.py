"""Logging with personal data masked by policy.

Log lines name customers only through :func:`mask`, a keyed, stable pseudonym: an
operator can follow one customer through the log without the log revealing who it
is. The key comes from ``PROACTIVE_LOG_MASK_KEY`` (never from the repository).

Which fields are masked is policy (``masking.log_fields`` in ``ethics/policy.yaml``):
:func:`apply_policy` puts a policy's list in force; the engine
(:class:`proactive.pipeline.Engine`) calls it with its policy when it starts and when a
new policy revision is swapped in, so ``open_engine``, the Kafka service and hot reload
all mask what the policy in force says. The list is process-wide: the last policy
applied wins. Until one is applied the shipped policy's fields (``customer_id``,
``name``) are masked — a process that never read a policy masks rather than leaks.

:class:`MaskingFilter` is the second line: a log call that puts an event or a record
in the message (``"subject": "C1"``, ``'name': 'Ann'``, ``customer_id=C1``), or an
exception whose text quotes one, has those values masked before any handler writes
them. :func:`configure` installs it on the root handlers.

Example::

    configure("INFO")
    apply_policy(check.policy.masking)
    log.info("decision for customer=%s", mask(customer_id))
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Iterable
from typing import Protocol

_KEY = os.environ.get("PROACTIVE_LOG_MASK_KEY", "").encode() or os.urandom(16)

DEFAULT_FIELDS = ("customer_id", "name")
"""Masked until a policy is applied (the shipped policy's ``masking.log_fields``)."""

ALIASES: dict[str, tuple[str, ...]] = {
    # CloudEvents carry the customer id as subject; notifications as on_behalf_of
    "customer_id": ("customer_id", "customer", "subject", "on_behalf_of"),
    "name": ("name",),
}
"""The keys under which a policy field shows up in events, records and log lines."""

_fields: frozenset[str] = frozenset(DEFAULT_FIELDS)
_pattern: re.Pattern[str] | None = None


class _Masking(Protocol):
    @property
    def log_fields(self) -> list[str]: ...


def apply_policy(masking: _Masking) -> None:
    """Mask exactly the fields the policy lists in ``masking.log_fields`` from now on."""
    _set_fields(masking.log_fields)


def masked_fields() -> frozenset[str]:
    """The fields masked in logs now."""
    return _fields


def _set_fields(fields: Iterable[str]) -> None:
    global _fields, _pattern
    _fields = frozenset(fields)
    keys = sorted({k for f in _fields for k in ALIASES.get(f, (f,))})
    if not keys:
        _pattern = None
        return
    alt = "|".join(re.escape(k) for k in keys)
    _pattern = re.compile(
        # "key": "value" (JSON) | 'key': 'value' (a dict's repr) | key=value
        rf'(?P<jk>"(?:{alt})"\s*:\s*)"(?P<jv>(?:[^"\\]|\\.)*)"'
        rf"|(?P<pk>'(?:{alt})'\s*:\s*)'(?P<pv>[^']*)'"
        rf"|(?P<kk>\b(?:{alt})=)(?P<kv>[^\s,;)\]}}'\"]+)"
    )


_set_fields(DEFAULT_FIELDS)


def mask(value: str, field: str = "customer_id") -> str:
    """A stable pseudonym for a personal value in logs (``C…1a2b3c``).

    The value itself when the policy does not mask ``field``.
    """
    if field not in _fields:
        return value
    return _pseudonym(value)


def _pseudonym(value: str) -> str:
    digest = hmac.new(_KEY, value.encode(), hashlib.sha256).hexdigest()[:6]
    return f"{value[:1]}…{digest}"


LINK_TOKEN = re.compile(r"(/p/)[A-Za-z0-9_-]{8,}")
"""A preference-link token in a path: the customer's key to their page, never logged."""


def hide_link_tokens(text: str) -> str:
    """``text`` with every ``/p/<token>`` shortened to ``/p/…``.

    >>> hide_link_tokens('GET /p/q1Xa9_b-Zz0123456789 HTTP/1.1')
    'GET /p/… HTTP/1.1'
    """
    return LINK_TOKEN.sub(r"\1…", text)


def scrub(text: str) -> str:
    """``text`` with the values of masked fields replaced by their pseudonyms (and
    preference-link tokens hidden)."""
    text = hide_link_tokens(text)
    if _pattern is None:
        return text

    def one(m: re.Match[str]) -> str:
        for key, val, quote in (("jk", "jv", '"'), ("pk", "pv", "'"), ("kk", "kv", "")):
            if m.group(key) is not None:
                value = m.group(val)
                if "…" in value or not value:  # already a pseudonym
                    return m.group(0)
                return f"{m.group(key)}{quote}{_pseudonym(value)}{quote}"
        return m.group(0)  # pragma: no cover - one alternative always matched

    return _pattern.sub(one, text)


class MaskingFilter(logging.Filter):
    """Masks personal values that reach a log record as data (see the module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging itself reports it when emitting
            return True
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


class AccessLogFilter(logging.Filter):
    """Scrubs each argument of a logger's records (uvicorn's access log, whose handler
    is its own, so the root handlers' :class:`MaskingFilter` never sees it): link
    tokens hidden, masked fields — ``?customer=C001`` in a URL — masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = hide_link_tokens(record.msg)
        return True


def scrub_logger(logger_name: str = "uvicorn.access") -> None:
    """Put an :class:`AccessLogFilter` on a logger (once): ``proactive web`` does so for
    uvicorn's access log, which would otherwise write every ``/p/<token>`` it serves and
    every customer id typed into a search."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, AccessLogFilter) for f in logger.filters):
        logger.addFilter(AccessLogFilter())


def install(handler: logging.Handler) -> None:
    """Put a :class:`MaskingFilter` on ``handler`` (once)."""
    if not any(isinstance(f, MaskingFilter) for f in handler.filters):
        handler.addFilter(MaskingFilter())


def configure(level: str = "WARNING", masking: _Masking | None = None) -> None:
    """Log to stderr at ``level``, masked (by ``masking``, a policy's masking section,
    when given; otherwise by the default fields)."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        install(handler)
    if masking is not None:
        apply_policy(masking)
