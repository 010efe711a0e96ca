"""Deterministic event streams for the Kafka tests.

All events fall on weekdays between 10:00 and 16:00 Amsterdam time, so nothing is
deferred by quiet hours or opening hours: what an engine decides depends only on the
events, never on when the test happens to run.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

AMS = ZoneInfo("Europe/Amsterdam")
PLANS = {"data-5gb": 5120, "data-10gb": 10240, "data-20gb": 20480}


def _at(day: date, hour: int, minute: int) -> str:
    return datetime.combine(day, time(hour, minute), AMS).isoformat()


def _weekdays(start: date, end: date) -> list[date]:
    out, d = [], start
    while d < end:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def daytime_stream(customers: int = 150, seed: int = 5) -> list[dict[str, Any]]:
    """CloudEvents (dicts) for ``customers`` customers, in time order."""
    rnd = random.Random(seed)
    events: list[tuple[str, dict[str, Any]]] = []
    n = 0

    def add(etype: str, cid: str, when: str, **data: Any) -> None:
        nonlocal n
        n += 1
        ev = {
            "specversion": "1.0",
            "id": f"ks-{seed}-{n:07d}",
            "source": "/test",
            "type": etype,
            "subject": cid,
            "time": when,
            "data": data,
        }
        events.append((when, ev))

    may = _weekdays(date(2026, 5, 4), date(2026, 5, 30))
    for i in range(customers):
        cid = f"K{i:05d}"
        plan = rnd.choice(list(PLANS))
        bundle = PLANS[plan]
        add(
            "customer.profile_updated",
            cid,
            _at(date(2026, 1, 5), 10, 0),
            language=rnd.choice(["nl", "nl", "en"]),
            preferred_channel=rnd.choice(["sms", "email", "push", "app_inbox"]),
            time_zone="Europe/Amsterdam",
            plan_id=plan,
        )
        if rnd.random() < 0.8:
            add(
                "customer.consent_changed",
                cid,
                _at(date(2026, 1, 5), 10, 1),
                purpose="commercial",
                channel="all",
                granted=True,
            )
        if rnd.random() < 0.05:
            add(
                "customer.consent_changed",
                cid,
                _at(date(2026, 1, 5), 10, 2),
                objection_direct_marketing=True,
            )
        heavy = rnd.random() < 0.4
        for month in (2, 3, 4):
            used = bundle * (rnd.uniform(1.2, 1.6) if heavy else rnd.uniform(0.4, 0.8))
            start = date(2026, month, 1)
            end = date(2026, month + 1, 1)
            day = _weekdays(date(2026, month, 20), end)[0]
            add(
                "usage.data",
                cid,
                _at(day, 11, 0),
                used_mb=round(used),
                bundle_mb=bundle,
                cycle_start=start.isoformat(),
                cycle_end=end.isoformat(),
            )
        target = bundle * (rnd.uniform(0.92, 0.99) if rnd.random() < 0.6 else rnd.uniform(0.3, 0.8))
        for k, day in enumerate(may[:12]):
            add(
                "usage.data",
                cid,
                _at(day, 12, rnd.randint(0, 59)),
                used_mb=round(target * (k + 1) / 12),
                bundle_mb=bundle,
                cycle_start="2026-05-01",
                cycle_end="2026-06-01",
            )
        if rnd.random() < 0.1:
            add(
                "customer.complaint_opened",
                cid,
                _at(may[2], 10, 30),
                complaint_id=f"C-{cid}",
                topic="network",
            )
        if rnd.random() < 0.08:
            add(
                "billing.payment_failed",
                cid,
                _at(may[5], 14, 0),
                invoice_id=f"I-{cid}",
                amount_eur=round(rnd.uniform(10, 60), 2),
            )
        if rnd.random() < 0.15:
            add(
                "contract.ending_soon",
                cid,
                _at(may[8], 15, 0),
                contract_end="2026-07-01",
                plan_id=plan,
                monthly_fee_eur=20.0,
            )
        if rnd.random() < 0.15:
            add(
                "service.outage_started",
                cid,
                _at(may[10], 10, 0),
                outage_id="OUT-1",
                area="NL-10",
                services=["data"],
            )
            add(
                "service.outage_resolved",
                cid,
                _at(may[10], 13, 0),
                outage_id="OUT-1",
                resolved_at=_at(may[10], 13, 0),
            )
    events.sort(key=lambda x: (datetime.fromisoformat(x[0]), x[1]["id"]))
    return [ev for _, ev in events]


def lines(events: list[dict[str, Any]]) -> list[bytes]:
    """Each event as structured-mode JSON bytes."""
    return [json.dumps(ev, separators=(",", ":")).encode() for ev in events]
