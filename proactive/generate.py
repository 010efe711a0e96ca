"""A synthetic, deterministic stream of customer events for demos, dry runs and load tests.

The stream imitates a Dutch mobile operator: every customer first gets a CRM snapshot
(profile and consents), then simulated time runs day by day with daily data usage,
monthly invoices and, spread over the expected length of the stream, the rarer
situations the rules and the ethics check must handle (§9 of the domain notes):
bundles filling up structurally or through a one-off trip, failed payments and
arrangements, complaints, bereavement, objections, outages and so on. About one line
in 1,500 is deliberately broken so the dead-letter path gets exercised too.

Only a per-customer state and one day of events are held in memory, so the size of
the stream does not matter, only the number of customers.

Example::

    >>> from proactive.events import parse_event
    >>> lines = list(generate_lines(customers=20, events=100, seed=1))
    >>> len(lines), parse_event(lines[0]).type
    (100, 'customer.profile_updated')
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

__all__ = ["DEFAULT_START", "PLANS", "generate_lines"]

DEFAULT_START = datetime(2026, 3, 1, tzinfo=UTC)

PLANS: dict[str, tuple[int | None, float]] = {
    "data-2gb": (2048, 10.00),
    "data-5gb": (5120, 13.50),
    "data-10gb": (10240, 16.50),
    "data-20gb": (20480, 20.00),
    "data-50gb": (51200, 25.00),
    "data-unlimited": (None, 32.50),
}
"""Plan id → (bundle MB or None for unlimited, monthly fee EUR); mirrors rules/offers.yaml."""

_PLAN_IDS = tuple(PLANS)
_PLAN_WEIGHTS = (15, 25, 25, 17, 10, 8)
_LIMITED = tuple(p for p, (mb, _) in PLANS.items() if mb is not None)
_CHANNELS = ("sms", "email", "push", "app_inbox")
_VALUES = ("price_conscious", "no_marketing", "sustainability", "privacy_minded", "convenience")
_ZONES = ("Europe/Amsterdam", "Europe/Brussels", "Europe/London", "America/Curacao")
_AGE_BANDS = ("18-24", "25-39", "40-64", "65+")
# Roughly 30 areas so that one area, and so one outage, hits about 3% of customers.
_AREAS = tuple(f"NL-{n}" for n in range(10, 100, 3))
_FIRST = ("Anna", "Daan", "Emma", "Lucas", "Sophie", "Sem", "Julia", "Finn", "Fatima", "Noor")
_LAST = ("de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser", "Yilmaz", "Martina")
_EU = ("DE", "BE", "FR", "ES", "IT", "PT", "AT", "GR", "HR")
_WORLD = ("US", "TR", "MA", "TH", "SR", "CH")
# The producing system, by the first part of the event type.
_SOURCES = {
    "usage": "/network/usage",
    "billing": "/billing",
    "customer": "/crm",
    "contract": "/crm",
    "service": "/network/ops",
}
# Events cluster in daytime but the night is never empty, so quiet hours get exercised.
_HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 8, 7, 6, 4, 3)
_HOURS = tuple(h for h, w in enumerate(_HOUR_WEIGHTS) for _ in range(w))
_DAY = 86_400

_Row = tuple[int, int, str, str, dict[str, Any]]  # (second of day, seq, subject, type, data)


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _month_start(d: date, months: int = 0) -> date:
    """The first of the month ``months`` months after (or before) the month of ``d``."""
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(slots=True)
class _Customer:
    cid: str
    plan: str
    usage: str  # "above" | "spike" | "below" | "normal"
    invoice_day: int
    language: str = "nl"
    channel: str = "email"
    used_mb: float = 0.0
    factor: float = 0.0
    cycle: date = date.min
    spike_day: int = -1
    spike_len: int = 1
    spike_mb: float = 0.0
    invoice_id: str = ""
    invoice_eur: float = 0.0


class _World:
    """The simulated customer base; produces the events of one day at a time."""

    def __init__(self, customers: int, events: int, start: datetime, rng: random.Random) -> None:
        self.rng = rng
        # the customers' own answers draw from their own generators, seeded from this one's
        # state without consuming it: adding them left every other event as it was
        self.answers_seed = hashlib.sha256(repr(rng.getstate()).encode()).hexdigest()[:16]
        self.start = start
        self.seq = 0
        self.buckets: dict[int, list[_Row]] = {}
        self.actions: dict[int, list[Callable[[int], None]]] = {}
        # Rare situations are spread over the days the stream is expected to last (about
        # 3.4 onboarding events per customer, then ~0.95 a day), so a short stream still
        # contains every kind and a long one does not bunch them up at the start.
        self.horizon = max(1, math.ceil((events - 3.4 * customers) / (0.95 * customers)))
        self.outages: dict[int, int] = {}
        for _ in range(max(1, self.horizon // 4)):
            day = self._rare_day(room=1)  # so the resolution is in the stream too
            self.outages[day] = self.outages.get(day, 0) + 1
        self.areas: list[list[_Customer]] = [[] for _ in _AREAS]
        self.customers: list[_Customer] = []
        for i in range(customers):
            c = _Customer(
                cid=f"C{i + 1:06d}",
                plan=rng.choices(_PLAN_IDS, _PLAN_WEIGHTS)[0],
                usage=rng.choices(("above", "spike", "below", "normal"), (15, 10, 15, 60))[0],
                invoice_day=rng.randint(1, 28),
            )
            self.customers.append(c)
            self.areas[rng.randrange(len(_AREAS))].append(c)

    # -- helpers ---------------------------------------------------------------------

    def _secs(self) -> int:
        r = self.rng.random
        return _HOURS[int(r() * len(_HOURS))] * 3600 + int(r() * 3600)

    def _rare_day(self, room: int = 0) -> int:
        """A day within the expected stream, leaving ``room`` days for follow-ups."""
        return self.rng.randint(1, max(1, self.horizon - room))

    def _emit(self, day: int, secs: int, c: _Customer, etype: str, data: dict[str, Any]) -> None:
        # Follow-ups that run past midnight (an outage resolved at 02:00) land on a later day.
        self.seq += 1
        row = (secs % _DAY, self.seq, c.cid, etype, data)
        self.buckets.setdefault(day + secs // _DAY, []).append(row)

    def _later(self, day: int, action: Callable[[int], None]) -> None:
        self.actions.setdefault(day, []).append(action)

    def _date(self, day: int) -> date:
        return (self.start + timedelta(days=day)).date()

    def _cycle_factor(self, c: _Customer) -> float:
        u = self.rng.uniform
        if c.usage == "above":
            return u(1.2, 2.0)
        # Kept under 0.35 so that daily noise cannot push a light user over 40%.
        return u(0.1, 0.35) if c.usage == "below" else u(0.5, 0.95)

    # -- the day loop ----------------------------------------------------------------

    def day(self, day: int) -> list[_Row]:
        """All events of simulated day ``day`` (0 = the CRM snapshot), sorted by time."""
        if day == 0:
            for c in self.customers:
                self._onboard(c)
        else:
            today = self._date(day)
            for c in self.customers:
                self._usage(day, c)
                if today.day == c.invoice_day:
                    self._invoice(day, c, today)
            for action in self.actions.pop(day, []):
                action(day)
            for _ in range(self.outages.pop(day, 0)):
                self._outage(day)
        rows = self.buckets.pop(day, [])
        rows.sort()
        return rows

    def _onboard(self, c: _Customer) -> None:
        rng, rare = self.rng, self._rare_day
        # Clamped so the consents that follow stay on day 0, before any usage.
        secs = min(self._secs(), _DAY - 600)
        zone = rng.choices(_ZONES, (88, 5, 4, 3))[0]
        c.language = "en" if rng.random() < (0.9 if zone == "Europe/London" else 0.28) else "nl"
        c.channel = rng.choices(_CHANNELS, (25, 30, 20, 25))[0]
        age = rng.choices(_AGE_BANDS, (12, 30, 38, 20))[0]
        segment = "consumer"
        if age == "18-24" and rng.random() < 0.7:
            segment = "youth"
        elif age == "65+" and rng.random() < 0.6:
            segment = "senior"
        elif rng.random() < 0.08:
            segment = "smallbusiness"
        profile: dict[str, Any] = {
            "name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
            "language": c.language,
            "preferred_channel": c.channel,
            "time_zone": zone,
            "values": rng.sample(_VALUES, rng.randint(0, 2)),
            "age_band": age,
            "segment": segment,
            "plan_id": c.plan,
            # Relatives mostly manage the accounts of older customers.
            "managed_by_proxy": rng.random() < (0.07 if age == "65+" else 0.0075),
        }
        if rng.random() < 0.5:
            start = rng.choice(("21:00", "22:00", "22:00", "23:00"))
            profile["quiet_hours"] = {"start": start, "end": rng.choice(("07:00", "07:30"))}
        self._emit(0, secs, c, "customer.profile_updated", profile)
        consents: list[dict[str, Any]] = []
        if rng.random() < 0.8:
            for ch in rng.sample(_CHANNELS, rng.randint(1, 3)):
                consents.append({"purpose": "commercial", "channel": ch, "granted": True})
        else:
            consents.append({"purpose": "commercial", "channel": "all", "granted": False})
        if rng.random() < 0.5:
            consents.append({"purpose": "advice", "channel": "all", "granted": True})
        if rng.random() < 0.05:
            consents.append({"objection_direct_marketing": True})
        for i, consent in enumerate(consents, 1):
            self._emit(0, secs + 7 * i, c, "customer.consent_changed", consent)

        # The cycle is already under way at the snapshot, so start part-way through it.
        today = self._date(0)
        c.cycle = _month_start(today)
        c.factor = self._cycle_factor(c)
        elapsed = (today - c.cycle).days / (_month_start(today, 1) - c.cycle).days
        bundle = PLANS[c.plan][0]
        c.used_mb = c.factor * bundle * elapsed if bundle else 0.0
        issued = _month_start(today, 0 if today.day >= c.invoice_day else -1)
        c.invoice_id, c.invoice_eur = self._invoice_ref(c, issued), PLANS[c.plan][1]

        if c.usage == "spike":  # a trip abroad or a house move without wifi
            c.spike_day, c.spike_len = rare(), rng.randint(4, 8)
            c.spike_mb = (bundle or 0) * rng.uniform(0.6, 1.2) / c.spike_len
            if rng.random() < 0.35:
                self._later(c.spike_day, partial(self._roaming, c))
        elif rng.random() < 0.02:
            self._later(rare(), partial(self._roaming, c))
        for kind, p in (("bereavement", 0.007), ("moving", 0.02), ("illness", 0.005)):
            if rng.random() < p:
                self._later(rare(), partial(self._life_event, c, kind))
        if rng.random() < 0.04:
            self._later(rare(5), partial(self._payment_failed, c))
        if rng.random() < 0.03:
            close_after = rng.randint(1, 6) if rng.random() < 0.6 else 0
            self._later(rare(close_after), partial(self._complaint, c, close_after))
        for action, p in (
            (self._arrangement, 0.003),  # most follow a failed payment
            (self._withdraw, 0.03),
            (self._decline, 0.02),
            (self._contract, 0.05),
            (self._profile_change, 0.03),
        ):
            if rng.random() < p:
                self._later(rare(), partial(action, c))
        # The customer's own answers draw from a generator of their own (seeded by the
        # stream's seed and the customer), so adding them left every other event as it was.
        own = random.Random(f"{self.answers_seed}/{c.cid}")
        for answer, p in (
            (self._reply, 0.02),  # an SMS answer: STOP / NEE / BEL MIJ, or just words
            (self._preferences, 0.015),  # a choice on the preference page
        ):
            if own.random() < p:
                day = own.randint(1, max(1, self.horizon))
                self._later(day, partial(answer, c, own))

    def _usage(self, day: int, c: _Customer) -> None:
        bundle = PLANS[c.plan][0]
        if bundle is None:  # nothing to measure against, and nothing for a rule to warn about
            return
        secs = self._secs()
        when = (self.start + timedelta(days=day, seconds=secs)).date()
        cycle = _month_start(when)
        if cycle != c.cycle:
            c.cycle, c.used_mb, c.factor = cycle, 0.0, self._cycle_factor(c)
        end = _month_start(when, 1)
        c.used_mb += bundle * c.factor / (end - cycle).days * self.rng.uniform(0.4, 1.6)
        if c.spike_day <= day < c.spike_day + c.spike_len:
            c.used_mb += c.spike_mb
        # Phones that stay off or offline for a day simply report nothing that day.
        if self.rng.random() < 0.95:
            data = {
                "used_mb": round(c.used_mb, 1),
                "bundle_mb": bundle,
                "cycle_start": cycle.isoformat(),
                "cycle_end": end.isoformat(),
                "plan_id": c.plan,
            }
            self._emit(day, secs, c, "usage.data", data)

    @staticmethod
    def _invoice_ref(c: _Customer, issued: date) -> str:
        period = _month_start(issued, -1)
        return f"INV-{c.cid[1:]}-{period:%Y%m}"

    def _invoice(self, day: int, c: _Customer, today: date) -> None:
        rng, fee = self.rng, PLANS[c.plan][1]
        amount = fee * rng.uniform(0.98, 1.08)
        # Out-of-bundle data and extras make some bills markedly higher (bill shock).
        if rng.random() < (0.3 if c.usage == "above" else 0.05):
            amount *= rng.uniform(1.3, 1.5)
        c.invoice_id, c.invoice_eur = self._invoice_ref(c, today), round(amount, 2)
        data = {
            "invoice_id": c.invoice_id,
            "amount_eur": c.invoice_eur,
            "due_date": (today + timedelta(days=14)).isoformat(),
            "period": f"{_month_start(today, -1):%Y-%m}",
        }
        self._emit(day, self._secs(), c, "billing.invoice_issued", data)

    # -- rare situations, run on the day they were scheduled for -------------------------

    def _payment_failed(self, c: _Customer, day: int) -> None:
        rng = self.rng
        data = {
            "invoice_id": c.invoice_id,
            "amount_eur": c.invoice_eur,
            "attempt": 1,
            "reason": rng.choice(("insufficient_funds", "mandate_revoked", "card_expired")),
        }
        self._emit(day, self._secs(), c, "billing.payment_failed", data)
        if rng.random() < 0.35:
            # The retry is for this invoice even if a newer one is issued meanwhile.
            retry = {**data, "attempt": 2}
            later = partial(self._emit_at_random_time, c, "billing.payment_failed", retry)
            self._later(day + rng.randint(2, 5), later)
        if rng.random() < 0.3:
            self._later(day + rng.randint(1, 5), partial(self._arrangement, c))

    def _arrangement(self, c: _Customer, day: int) -> None:
        data = {
            "arrangement_id": f"ARR-{c.cid[1:]}-{day:04d}",
            "status": "started",
            "instalments": self.rng.randint(2, 6),
            "amount_eur": round(c.invoice_eur * self.rng.choice((1, 1, 2)), 2),
        }
        self._emit(day, self._secs(), c, "billing.payment_arrangement", data)

    def _complaint(self, c: _Customer, close_after: int, day: int) -> None:
        rng = self.rng
        ref = f"CMP-{c.cid[1:]}-{day:04d}"
        topic = rng.choice(("billing", "network_coverage", "roaming_charges", "customer_service"))
        opened = {"complaint_id": ref, "topic": topic}
        self._emit(day, self._secs(), c, "customer.complaint_opened", opened)
        if close_after:  # 0: still open when the stream ends
            resolution = rng.choice(("credited", "explained", "fixed", "no_fault_found"))
            closed = {"complaint_id": ref, "resolution": resolution}
            later = partial(self._emit_at_random_time, c, "customer.complaint_closed", closed)
            self._later(day + close_after, later)

    def _emit_at_random_time(
        self, c: _Customer, etype: str, data: dict[str, Any], day: int
    ) -> None:
        self._emit(day, self._secs(), c, etype, data)

    def _life_event(self, c: _Customer, kind: str, day: int) -> None:
        # A move is often reported ahead of time; the other kinds after the fact.
        offset = self.rng.randint(-5, 30) if kind == "moving" else -self.rng.randint(0, 10)
        source = "agent" if kind == "bereavement" and self.rng.random() < 0.4 else "customer"
        data = {
            "kind": kind,
            "occurred_on": (self._date(day) + timedelta(days=offset)).isoformat(),
            "source": source,
        }
        self._emit(day, self._secs(), c, "customer.life_event", data)

    def _withdraw(self, c: _Customer, day: int) -> None:
        channel = self.rng.choice((*_CHANNELS, "all", "all"))
        data = {"purpose": "commercial", "channel": channel, "granted": False}
        self._emit(day, self._secs(), c, "customer.consent_changed", data)

    def _decline(self, c: _Customer, day: int) -> None:
        offer = self.rng.choice([p for p in PLANS if p != c.plan])
        self._emit(day, self._secs(), c, "customer.offer_declined", {"offer_id": offer})

    def _contract(self, c: _Customer, day: int) -> None:
        data = {
            "contract_end": (
                self._date(day) + timedelta(days=self.rng.randint(30, 60))
            ).isoformat(),
            "plan_id": c.plan,
            "monthly_fee_eur": PLANS[c.plan][1],
        }
        secs = self._secs()
        if self.rng.random() < 0.2:
            # some customers have already decided to leave when the notice comes
            notice = {"contract_end": data["contract_end"]}
            self._emit(day, secs // 2, c, "contract.notice_given", notice)
        self._emit(day, secs, c, "contract.ending_soon", data)

    def _roaming(self, c: _Customer, day: int) -> None:
        eu = self.rng.random() < 0.85
        data = {"country": self.rng.choice(_EU if eu else _WORLD), "zone": "eu" if eu else "world"}
        self._emit(day, self._secs(), c, "usage.roaming_started", data)

    def _reply(self, c: _Customer, own: random.Random, day: int) -> None:
        text = own.choice(("STOP", "Stop", "NEE", "BEL MIJ", "call me", "Bedankt!", "ok"))
        secs = own.randint(8 * 3600, 22 * 3600)
        self._emit(day, secs, c, "customer.reply", {"text": text, "channel": "sms"})

    def _preferences(self, c: _Customer, own: random.Random, day: int) -> None:
        data: dict[str, Any] = (
            {"callback_requested": True}
            if own.random() < 0.4
            else {"stop_rule": own.choice(("data-bundle-nearly-used", "contract-renewal"))}
        )
        secs = own.randint(8 * 3600, 22 * 3600)
        self._emit(day, secs, c, "customer.preferences_changed", data)

    def _profile_change(self, c: _Customer, day: int) -> None:
        rng = self.rng
        what = rng.choice(("channel", "quiet_hours", "language", "plan"))
        data: dict[str, Any]
        if what == "plan" and c.plan in _LIMITED:
            # An upgrade or downgrade by one size; usage carries on in the same cycle.
            i = _LIMITED.index(c.plan) + rng.choice((-1, 1))
            c.plan = _LIMITED[min(max(i, 0), len(_LIMITED) - 1)]
            data = {"plan_id": c.plan}
        elif what == "language":
            c.language = "en" if c.language == "nl" else "nl"
            data = {"language": c.language}
        elif what == "quiet_hours":
            data = {"quiet_hours": {"start": "22:30", "end": rng.choice(("07:00", "08:00"))}}
        else:
            c.channel = rng.choice([ch for ch in _CHANNELS if ch != c.channel])
            data = {"preferred_channel": c.channel}
        self._emit(day, self._secs(), c, "customer.profile_updated", data)

    def _outage(self, day: int) -> None:
        rng = self.rng
        area = rng.randrange(len(_AREAS))
        self.seq += 1  # sequence numbers are never reused, so this id is unique
        ref = f"OUT-{self.seq:08d}"
        begin = rng.randrange(_DAY)
        end = begin + rng.randint(3600, 8 * 3600)
        base = self.start + timedelta(days=day)
        started: dict[str, Any] = {
            "outage_id": ref,
            "area": _AREAS[area],
            "services": rng.choice((["data"], ["data", "voice"], ["internet"], ["voice", "sms"])),
        }
        if rng.random() < 0.7:
            guess = begin + rng.randint(3600, 6 * 3600)
            started["expected_end"] = _iso(base + timedelta(seconds=guess))
        resolved = {"outage_id": ref, "resolved_at": _iso(base + timedelta(seconds=end))}
        # Notices fan out over a few minutes after detection and after the fix.
        for c in self.areas[area]:
            self._emit(day, begin + rng.randrange(600), c, "service.outage_started", started)
            self._emit(day, end + rng.randrange(600), c, "service.outage_resolved", resolved)


def _malformed(kind: int, eid: str, subject: str, when: str, today: date) -> str:
    """A line the pipeline must dead-letter: kinds rotate through json/type/schema faults."""
    env: dict[str, Any] = {
        "specversion": "1.0",
        "id": eid,
        "source": "/network/usage",
        "type": "usage.data",
        "subject": subject,
        "time": when,
        "datacontenttype": "application/json",
    }
    usage = {
        "used_mb": 812.4,
        "bundle_mb": 5120,
        "cycle_start": _month_start(today).isoformat(),
        "cycle_end": _month_start(today, 1).isoformat(),
    }
    if kind == 0:  # cut off mid-write; a prefix of a JSON object is never valid JSON
        text = _dumps({**env, "data": usage})
        return text[: len(text) // 2]
    if kind == 1:
        env.update(type="usage.voice_minutes", data={"minutes": 37})
    elif kind == 2:
        env["data"] = {**usage, "used_mb": -512.0}
    else:
        env.update(source="/billing", type="billing.payment_failed", data={"amount_eur": 24.95})
    return _dumps(env)


def generate_lines(
    customers: int = 500, events: int = 5000, seed: int = 7, start: datetime | None = None
) -> Iterator[str]:
    """Yield exactly ``events`` CloudEvents JSON lines (without newline) for ``customers``.

    The output is a pure function of the arguments: the same arguments give
    byte-identical lines. Times are non-decreasing and run day by day from ``start``
    (default :data:`DEFAULT_START`; a naive ``start`` is taken as UTC). Roughly one line
    in 1,500, and at least one when ``events >= 200``, is malformed on purpose; every
    other line is accepted by :func:`proactive.events.parse_event`.

    Raises :class:`ValueError` at once (not on first iteration) for fewer than one
    customer or a negative number of events.
    """
    if customers < 1 or events < 0:
        raise ValueError("customers must be at least 1 and events not negative")
    begin = (start or DEFAULT_START).replace(microsecond=0)
    begin = begin.replace(tzinfo=UTC) if begin.tzinfo is None else begin.astimezone(UTC)
    return _lines(customers, events, seed, begin) if events else iter(())


def _lines(customers: int, events: int, seed: int, begin: datetime) -> Iterator[str]:
    world = _World(customers, events, begin, random.Random(seed))
    # A separate stream, so tuning the faults does not reshuffle the whole simulation.
    faults = random.Random(f"malformed-{seed}")
    next_fault, fault_kind = faults.randrange(20, 200), 0
    n, day = 0, 0
    while True:
        base = begin + timedelta(days=day)
        for secs, _seq, subject, etype, data in world.day(day):
            when = _iso(base + timedelta(seconds=secs))
            if n == next_fault:
                yield _malformed(fault_kind % 4, f"evt-{seed}-{n:08d}", subject, when, base.date())
                n, fault_kind = n + 1, fault_kind + 1
                next_fault += faults.randint(1000, 2000)
                if n == events:
                    return
            envelope = {
                "specversion": "1.0",
                "id": f"evt-{seed}-{n:08d}",
                "source": _SOURCES[etype.partition(".")[0]],
                "type": etype,
                "subject": subject,
                "time": when,
                "datacontenttype": "application/json",
                "data": data,
            }
            yield _dumps(envelope)
            n += 1
            if n == events:
                return
        day += 1
