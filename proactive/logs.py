"""Logging with personal data masked by policy.

Log lines name customers only through :func:`mask`, a keyed, stable pseudonym: an
operator can follow one customer through the log without the log revealing who it
is. The key comes from ``PROACTIVE_LOG_MASK_KEY`` (never from the repository).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os

_KEY = os.environ.get("PROACTIVE_LOG_MASK_KEY", "").encode() or os.urandom(16)


def mask(value: str) -> str:
    """A stable pseudonym for a personal value in logs (``C…1a2b3c``)."""
    digest = hmac.new(_KEY, value.encode(), hashlib.sha256).hexdigest()[:6]
    return f"{value[:1]}…{digest}"


def configure(level: str = "WARNING") -> None:
    """Log to stderr at ``level``."""
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
