"""The customers' choices that are waiting for the engine (the store's ``inbound_events``).

A choice on the preference page (or a callback marked done) is an event written to the
store; the engine applies it at its next batch. Until then, whatever judges or shows
the customer *now* must see it too: the preference page (so a choice never looks
undone), the explorer, and a reviewer's approval (an objection made a minute ago stops
an offer a reviewer approves now, GDPR art. 21(3)). :func:`with_waiting` applies them
to a context in memory; the engine still applies them for real, once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from proactive.context import CustomerContext, apply_event
from proactive.errors import EventError
from proactive.events import Event, event_from_dict, parse_event
from proactive.store import ContextStore


def choice_event(
    customer_id: str, etype: str, data: dict[str, Any], *, source: str, now: datetime
) -> dict[str, Any]:
    """A choice as the CloudEvent to queue (``store.add_inbound``), checked exactly as
    the engine will check it: :class:`EventError` for one it would refuse, so nothing
    is queued that would only end in the dead letter."""
    event = {
        "specversion": "1.0",
        "id": f"choice-{uuid.uuid4()}",
        "source": source,
        "type": etype,
        "subject": customer_id,
        "time": now.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": data,
    }
    event_from_dict(event)
    return event


def waiting_events(store: ContextStore, customer_id: str) -> list[Event]:
    """The customer's waiting choices that the engine will accept, oldest first (one it
    would refuse is dead-lettered by the engine with the reason, and changes nothing)."""
    out: list[Event] = []
    for raw in store.inbound_of(customer_id):
        try:
            event = parse_event(raw)
        except EventError:
            continue
        if event.customer_id == customer_id:
            out.append(event)
    return out


def with_waiting(ctx: CustomerContext, store: ContextStore) -> int:
    """Apply the customer's waiting choices to ``ctx`` in place (a context that is not
    written back: the engine applies them itself); returns how many there were."""
    events = waiting_events(store, ctx.customer_id)
    for event in events:
        apply_event(ctx, event)
    return len(events)
