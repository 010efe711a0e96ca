"""The notification contract: a CloudEvent ``proactive.notification``.

Its ``id`` is the idempotency key (customer, rule, trigger window), so a replay or a
second delivery attempt produces the same id and a downstream system can drop the
duplicate. Only a decision whose verdict allowed it produces a notification.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from proactive.candidates import Candidate
from proactive.preferences import preferences_url

SOURCE = "/proactive/engine"


def build_notification(
    c: Candidate, record: dict[str, Any], deliver_at: datetime
) -> dict[str, Any]:
    """The notification for a candidate whose decision allows sending."""
    m = c.message
    assert m is not None, "a notification needs a rendered message"
    assert record["verdict"] == "send", "only a send decision produces a notification"
    return {
        "specversion": "1.0",
        "id": record["notification_id"],
        "source": SOURCE,
        "type": "proactive.notification",
        "subject": c.ctx.customer_id,
        "time": deliver_at.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": {
            "customer_id": c.ctx.customer_id,
            "channel": c.channel,
            "language": c.language,
            "sender": m.sender,
            "subject": m.subject,
            "body": m.body,
            "why": m.reason,
            "decline": m.decline,
            "human_route": m.human,
            "offer": record["action"]["offer"],
            # who reads it: the holder, or the relative who manages the account (S26)
            "addressee": _addressee(c),
            "kind": "message",
            "purpose": c.purpose,
            "rule_id": c.rule_id,
            "decision_id": record["decision_id"],
            "event_id": c.event.id,
            "deliver_at": deliver_at.isoformat(),
            # signed, expiring link to the preference page: stop, channel, callback, why
            "preferences_url": preferences_url(
                c.ctx.customer_id, c.rule_id, c.language, deliver_at
            ),
        },
    }


def _addressee(c: Candidate) -> dict[str, str]:
    if c.ctx.managed_by_proxy:
        return {"role": "proxy", "on_behalf_of": c.ctx.customer_id}
    return {"role": "holder"}


def build_secure_notice(
    c: Candidate, record: dict[str, Any], deliver_at: datetime, text: str
) -> dict[str, Any]:
    """The plain notice on the customer's own channel that a sensitive message waits.

    It carries no detail of the message (no amounts, no subject): only that there is a
    message and where to read it. Its id is derived from the message's, so a replay
    yields the same notice id.
    """
    assert c.notice_channel is not None, "a notice needs the customer's own channel"
    message = build_notification(c, record, deliver_at)
    notice_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{message['id']}/secure-notice"))
    data = message["data"]
    data.update(
        {
            "channel": c.notice_channel,
            "subject": None,
            "body": text,
            "why": None,
            "offer": None,
            "kind": "secure_notice",
            "notice_for": message["id"],
        }
    )
    return {**message, "id": notice_id, "data": data}
