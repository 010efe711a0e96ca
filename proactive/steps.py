"""The Gherkin step library: product teams write scenarios without Python.

Feature files under ``rules/features/`` (and ``ethics/features/``) use the sentences
below; ``docs/steps.md`` lists them with examples. Dates are ``YYYY-MM-DD`` and
times ``HH:MM`` in the customer's own time zone (Europe/Amsterdam unless the
scenario says otherwise). Each scenario runs the real engine — real rules, real
policy, real store in memory — so a passing scenario means the rules behave so.

A failing expectation explains what did happen: which rules fired, their verdicts
and the reasons.
"""

from __future__ import annotations

import shutil
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pytest_bdd import given, parsers, then, when

from proactive.harness import ROOT, Harness

DEFAULT_TZ = "Europe/Amsterdam"
MB = 1024


class World:
    """What one scenario builds up: extra rule files, customers, the harness."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.extra_rules: dict[str, str] = {}
        self.policy_override: str | None = None
        self._harness: Harness | None = None
        self.tz: dict[str, str] = {}
        self.pending: list[tuple[str, str, str, dict[str, Any]]] = []

    @property
    def h(self) -> Harness:
        if self._harness is None:
            rules_dir = ROOT / "rules"
            if self.extra_rules:
                rules_dir = self.tmp / "rules"
                shutil.copytree(
                    ROOT / "rules", rules_dir, ignore=shutil.ignore_patterns("features")
                )
                for name, text in self.extra_rules.items():
                    (rules_dir / name).write_text(text, encoding="utf-8")
            self._harness = Harness(rules_dir=rules_dir)
        return self._harness

    def at(self, customer: str, day: str, clock: str) -> datetime:
        tz = ZoneInfo(self.tz.get(customer, DEFAULT_TZ))
        return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), tz)

    def explain(self, customer: str) -> str:
        lines = [f"what happened for {customer}:"]
        for d in self.h.decisions_for(customer):
            offer = d["action"]["offer"]["id"] if d["action"]["offer"] else "no offer"
            lines.append(
                f"  - {d['rule_id']} [{d['variant']}] {d['channel']}/{d['language']} {offer}: "
                f"{d['verdict'].upper()} — " + "; ".join(d["reasons"])
            )
        if len(lines) == 1:
            lines.append("  no rule fired (no decision records)")
        return "\n".join(lines)


@pytest.fixture
def world(tmp_path: Path) -> World:
    """The scenario's world (fresh per scenario)."""
    return World(tmp_path)


# -- Given: the rule set ------------------------------------------------------------


@given(parsers.parse('an extra rule file "{name}":'))
def extra_rule_file(world: World, name: str, docstring: str) -> None:
    """Add a rule file (YAML in the step's doc string) to a copy of rules/."""
    world.extra_rules[name] = docstring


# -- Given: customers -------------------------------------------------------------


@given(parsers.parse('a customer "{customer}" who reads "{language}" and prefers "{channel}"'))
def customer(world: World, customer: str, language: str, channel: str) -> None:
    world.h.event(
        "customer.profile_updated",
        customer,
        world.at(customer, "2026-01-01", "09:00"),
        language=language,
        preferred_channel=channel,
        time_zone=world.tz.get(customer, DEFAULT_TZ),
    )


@given(parsers.parse('the customer "{customer}" lives in time zone "{zone}"'))
def time_zone(world: World, customer: str, zone: str) -> None:
    world.tz[customer] = zone
    world.h.event(
        "customer.profile_updated",
        customer,
        world.at(customer, "2026-01-01", "09:01"),
        time_zone=zone,
    )


@given(parsers.parse('the customer "{customer}" has quiet hours from {start} to {end}'))
def quiet_hours(world: World, customer: str, start: str, end: str) -> None:
    world.h.event(
        "customer.profile_updated",
        customer,
        world.at(customer, "2026-01-01", "09:02"),
        quiet_hours={"start": start, "end": end},
    )


@given(parsers.parse('the customer "{customer}" values "{value}"'))
def values(world: World, customer: str, value: str) -> None:
    world.h.event(
        "customer.profile_updated",
        customer,
        world.at(customer, "2026-01-01", "09:03"),
        values=[value],
    )


@given(parsers.parse('the customer "{customer}" consents to "{purpose}" messages by "{channel}"'))
def consents(world: World, customer: str, purpose: str, channel: str) -> None:
    world.h.event(
        "customer.consent_changed",
        customer,
        world.at(customer, "2026-01-01", "09:04"),
        purpose=purpose,
        channel=channel,
        granted=True,
    )


@given(parsers.parse('the customer "{customer}" objects to direct marketing'))
def objects(world: World, customer: str) -> None:
    world.h.event(
        "customer.consent_changed",
        customer,
        world.at(customer, "2026-01-02", "09:00"),
        objection_direct_marketing=True,
    )


@given(parsers.parse('the customer "{customer}" is on plan "{plan}"'))
def on_plan(world: World, customer: str, plan: str) -> None:
    world.h.event(
        "customer.profile_updated",
        customer,
        world.at(customer, "2026-01-01", "09:05"),
        plan_id=plan,
    )


@given(
    parsers.parse(
        'the customer "{customer}" used {history} of a {bundle:g} GB bundle in the months before {month}'
    )
)
def usage_history(world: World, customer: str, history: str, bundle: float, month: str) -> None:
    """History, oldest first, e.g. ``used 7.0, 6.8 and 7.2 GB of a 5 GB bundle in the months before 2026-05``."""
    amounts = [
        float(x) for x in history.replace(" GB", "").replace(" and ", ",").split(",") if x.strip()
    ]
    first = date.fromisoformat(month + "-01")
    for i, used in enumerate(amounts):
        back = len(amounts) - i
        start = (first.replace(day=1) - timedelta(days=28 * back)).replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        world.h.event(
            "usage.data",
            customer,
            datetime.combine(end - timedelta(days=1), time(23, 0), ZoneInfo("UTC")),
            used_mb=used * MB,
            bundle_mb=bundle * MB,
            cycle_start=start.isoformat(),
            cycle_end=end.isoformat(),
        )


@given(parsers.parse('the customer "{customer}" has an open complaint about "{topic}"'))
def open_complaint(world: World, customer: str, topic: str) -> None:
    world.h.event(
        "customer.complaint_opened",
        customer,
        world.at(customer, "2026-01-03", "10:00"),
        complaint_id="K1",
        topic=topic,
    )


@given(parsers.parse('the customer "{customer}" lost a family member on {day}'))
def bereaved(world: World, customer: str, day: str) -> None:
    world.h.event(
        "customer.life_event",
        customer,
        world.at(customer, day, "12:00"),
        kind="bereavement",
        occurred_on=day,
    )


@given(parsers.parse('the customer "{customer}" has a payment arrangement since {day}'))
def arrangement(world: World, customer: str, day: str) -> None:
    world.h.event(
        "billing.payment_arrangement",
        customer,
        world.at(customer, day, "03:00"),
        arrangement_id="A1",
        status="started",
        instalments=3,
        amount_eur=90.0,
    )


# -- When: events -------------------------------------------------------------------


@when(
    parsers.parse(
        'the customer "{customer}" has used {used:g} GB of the {bundle:g} GB bundle on {day} at {clock}'
    )
)
def data_usage(
    world: World, customer: str, used: float, bundle: float, day: str, clock: str
) -> None:
    at = world.at(customer, day, clock)
    start = at.date().replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    world.h.event(
        "usage.data",
        customer,
        at,
        used_mb=used * MB,
        bundle_mb=bundle * MB,
        cycle_start=start.isoformat(),
        cycle_end=end.isoformat(),
    )


@when(
    parsers.parse('a payment of {amount:g} euro by customer "{customer}" fails on {day} at {clock}')
)
def payment_failed(world: World, customer: str, amount: float, day: str, clock: str) -> None:
    world.h.event(
        "billing.payment_failed",
        customer,
        world.at(customer, day, clock),
        invoice_id="INV-1",
        amount_eur=amount,
    )


@when(
    parsers.parse('an outage starts in area "{area}" for customer "{customer}" on {day} at {clock}')
)
def outage(world: World, customer: str, area: str, day: str, clock: str) -> None:
    at = world.at(customer, day, clock)
    world.h.event(
        "service.outage_started",
        customer,
        at,
        outage_id=f"OUT-{area}",
        area=area,
        services=["data"],
        expected_end=(at + timedelta(hours=3)).isoformat(),
    )


@when(
    parsers.parse(
        'the customer "{customer}" starts roaming in "{country}" ({zone}) on {day} at {clock}'
    )
)
def roaming(world: World, customer: str, country: str, zone: str, day: str, clock: str) -> None:
    world.h.event(
        "usage.roaming_started",
        customer,
        world.at(customer, day, clock),
        country=country,
        zone=zone,
    )


@when(
    parsers.parse(
        'the contract of customer "{customer}" on plan "{plan}" at {fee:g} euro a month ends on {end}, noticed on {day} at {clock}'
    )
)
def contract_ending(
    world: World, customer: str, plan: str, fee: float, end: str, day: str, clock: str
) -> None:
    world.h.event(
        "contract.ending_soon",
        customer,
        world.at(customer, day, clock),
        contract_end=end,
        plan_id=plan,
        monthly_fee_eur=fee,
    )


@when(
    parsers.parse('the event "{etype}" arrives for customer "{customer}" on {day} at {clock} with:')
)
def any_event(
    world: World, etype: str, customer: str, day: str, clock: str, datatable: list[list[str]]
) -> None:
    """Any event, its data given as a two-column table (field | value; lists as a,b)."""
    import yaml

    data: dict[str, Any] = {}
    for row in datatable[1:] if datatable and datatable[0] == ["field", "value"] else datatable:
        data[row[0]] = yaml.safe_load(row[1])
    world.h.event(etype, customer, world.at(customer, day, clock), **data)


@when(
    parsers.parse(
        'the customer "{customer}" withdraws consent for "{purpose}" messages on {day} at {clock}'
    )
)
def withdraws(world: World, customer: str, purpose: str, day: str, clock: str) -> None:
    world.h.event(
        "customer.consent_changed",
        customer,
        world.at(customer, day, clock),
        purpose=purpose,
        channel="all",
        granted=False,
    )


@when(parsers.parse('the clock reaches {day} at {clock} for customer "{customer}"'))
def clock_reaches(world: World, customer: str, day: str, clock: str) -> None:
    world.h.advance(world.at(customer, day, clock))


# -- Then: what the customer gets ---------------------------------------------------


def _messages(world: World, customer: str, rule: str | None = None) -> list[dict[str, Any]]:
    return world.h.notifications_for(customer, rule)


def _last(world: World, customer: str, rule: str | None = None) -> dict[str, Any]:
    msgs = _messages(world, customer, rule)
    assert msgs, (
        f"expected a message{' from ' + rule if rule else ''}, got none\n{world.explain(customer)}"
    )
    return msgs[-1]


@then(parsers.parse('customer "{customer}" gets a message from rule "{rule}"'))
def gets_message(world: World, customer: str, rule: str) -> None:
    _last(world, customer, rule)


@then(parsers.parse('customer "{customer}" gets {count:d} message(s) from rule "{rule}"'))
def gets_count(world: World, customer: str, count: int, rule: str) -> None:
    got = len(_messages(world, customer, rule))
    assert got == count, (
        f"expected {count} message(s) from {rule}, got {got}\n{world.explain(customer)}"
    )


@then(parsers.parse('customer "{customer}" gets no message from rule "{rule}"'))
def no_message_from(world: World, customer: str, rule: str) -> None:
    got = _messages(world, customer, rule)
    assert not got, f"expected no message from {rule}, got {len(got)}\n{world.explain(customer)}"


@then(parsers.parse('customer "{customer}" gets no commercial message'))
def no_commercial(world: World, customer: str) -> None:
    bad = [
        n
        for n in _messages(world, customer)
        if n["data"]["purpose"] == "commercial" or n["data"]["offer"]
    ]
    assert not bad, f"expected no commercial message, got {len(bad)}\n{world.explain(customer)}"


@then(parsers.parse('the message to "{customer}" goes by "{channel}" in "{language}"'))
def message_channel(world: World, customer: str, channel: str, language: str) -> None:
    m = _last(world, customer)["data"]
    assert (m["channel"], m["language"]) == (channel, language), (
        f"message went by {m['channel']} in {m['language']}\n{world.explain(customer)}"
    )


@then(parsers.parse('the message to "{customer}" offers "{offer}"'))
def message_offers(world: World, customer: str, offer: str) -> None:
    m = _last(world, customer)["data"]
    got = m["offer"]["id"] if m["offer"] else None
    assert got == offer, f"the message offers {got}, not {offer}\n{world.explain(customer)}"


@then(parsers.parse('the message to "{customer}" offers nothing'))
def message_offers_nothing(world: World, customer: str) -> None:
    m = _last(world, customer)["data"]
    assert m["offer"] is None, f"the message offers {m['offer']}\n{world.explain(customer)}"


@then(parsers.parse('the message to "{customer}" offers no permanent bundle'))
def no_permanent(world: World, customer: str) -> None:
    m = _last(world, customer)["data"]
    assert not (m["offer"] and m["offer"]["recurring"]), (
        f"a permanent offer: {m['offer']}\n{world.explain(customer)}"
    )


@then(parsers.parse('the message to "{customer}" contains "{text}"'))
def message_contains(world: World, customer: str, text: str) -> None:
    m = _last(world, customer)["data"]
    full = "\n".join(
        x for x in (m["subject"], m["body"], m["why"], m["decline"], m["human_route"]) if x
    )
    assert text.lower() in full.lower(), f"{text!r} not in the message:\n{full}"


@then(
    parsers.parse(
        'every message to "{customer}" says why, how to decline and how to reach a person'
    )
)
def every_message_complete(world: World, customer: str) -> None:
    msgs = _messages(world, customer)
    assert msgs, f"no messages\n{world.explain(customer)}"
    for n in msgs:
        d = n["data"]
        assert d["why"] and d["decline"] and d["human_route"], f"incomplete message: {d}"


# -- Then: decisions and reasons ----------------------------------------------------


def _decisions(world: World, customer: str, rule: str) -> list[dict[str, Any]]:
    return world.h.decisions_for(customer, rule)


@then(parsers.parse('the decision on rule "{rule}" for "{customer}" is "{verdict}"'))
def decision_is(world: World, rule: str, customer: str, verdict: str) -> None:
    ds = _decisions(world, customer, rule)
    assert ds, f"rule {rule} made no decision\n{world.explain(customer)}"
    assert ds[-1]["verdict"] == verdict, (
        f"last decision is {ds[-1]['verdict']}\n{world.explain(customer)}"
    )


@then(
    parsers.parse(
        'the decision on rule "{rule}" for "{customer}" is "{verdict}" because "{reason}"'
    )
)
def decision_because(world: World, rule: str, customer: str, verdict: str, reason: str) -> None:
    ds = [d for d in _decisions(world, customer, rule) if d["verdict"] == verdict]
    assert ds, f"no {verdict} decision on {rule}\n{world.explain(customer)}"
    text = " ".join(ds[-1]["reasons"]).lower()
    assert reason.lower() in text, f"{reason!r} not among the reasons: {ds[-1]['reasons']}"


@then(parsers.parse('the offer of rule "{rule}" to "{customer}" is blocked because "{reason}"'))
def offer_blocked(world: World, rule: str, customer: str, reason: str) -> None:
    ds = [d for d in _decisions(world, customer, rule) if d["action"]["offer"] is not None]
    assert ds, f"rule {rule} proposed no offer\n{world.explain(customer)}"
    sent = [n for n in world.h.notifications_for(customer, rule) if n["data"]["offer"]]
    assert ds[-1]["verdict"] == "block" and not sent, (
        f"the offer was not blocked\n{world.explain(customer)}"
    )
    text = " ".join(ds[-1]["reasons"]).lower()
    assert reason.lower() in text, f"{reason!r} not among the reasons: {ds[-1]['reasons']}"


@then(
    parsers.parse('the message of rule "{rule}" to "{customer}" is deferred until {day} at {clock}')
)
def deferred_until(world: World, rule: str, customer: str, day: str, clock: str) -> None:
    ds = [d for d in _decisions(world, customer, rule) if d["verdict"] == "defer"]
    assert ds, f"nothing deferred\n{world.explain(customer)}"
    due = datetime.fromisoformat(ds[-1]["deliver_at"])
    want = world.at(customer, day, clock)
    assert due == want, (
        f"deferred until {due.astimezone(want.tzinfo):%Y-%m-%d %H:%M}, not {day} {clock}"
    )


@then(
    parsers.parse(
        'the customer value of the decision on rule "{rule}" for "{customer}" is positive'
    )
)
def customer_value_positive(world: World, rule: str, customer: str) -> None:
    ds = [d for d in _decisions(world, customer, rule) if d["value"]]
    assert ds, f"no decision with a value check\n{world.explain(customer)}"
    assert ds[-1]["value"]["customer"] > 0, f"customer value {ds[-1]['value']}"


@then(
    parsers.parse(
        'the {dimension} score of the decision on rule "{rule}" for "{customer}" is at least {low:g}'
    )
)
def score_at_least(world: World, dimension: str, rule: str, customer: str, low: float) -> None:
    ds = [d for d in _decisions(world, customer, rule) if d["scores"]]
    assert ds, f"no scored decision\n{world.explain(customer)}"
    got = ds[-1]["scores"][dimension]["score"]
    assert got >= low, f"{dimension} score {got} < {low}: {ds[-1]['scores'][dimension]['reasons']}"
