"""The plain secure-inbox notice that goes with a sensitive message (DOMAIN S16).

A sensitive message (arrears, amounts owed) goes only to a secure channel; when the
customer prefers another channel (and consent allows it), the candidate's
``notice_channel`` names it and that channel gets only the plain ``secure_notice`` of
``_common.yaml`` in the customer's language — no amount, no detail. Whatever sends a
message (the engine, a reviewer's approval) asks this one function for the notice, so
the two never differ::

    notice = secure_notice_for(c, record, deliver_at, ruleset.templates)
    if notice is not None:
        notifications.append(notice)
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from proactive.notifications import build_secure_notice

if TYPE_CHECKING:
    from proactive.candidates import Candidate
    from proactive.render import Templates

__all__ = ["secure_notice_for"]


def secure_notice_for(
    c: Candidate, record: dict[str, Any], deliver_at: datetime, templates: Templates
) -> dict[str, Any] | None:
    """The notice on the customer's own channel for the message ``record`` sends, or None.

    None when the candidate needs no notice (not sensitive, the message already goes
    by the customer's channel, that channel is itself secure, or consent does not allow
    it: see :func:`proactive.candidates.secure_notice_channel`). ``record`` and
    ``deliver_at`` are those the message itself is built from
    (:func:`proactive.notifications.build_notification`), so the notice points to it.
    """
    if c.notice_channel is None:
        return None
    text = templates.secure_notice(c.language)
    return build_secure_notice(c, record, deliver_at, text)
