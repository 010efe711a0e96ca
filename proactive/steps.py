"""The Gherkin step library: product teams and compliance write scenarios without Python.

Feature files under ``rules/features/`` (product teams) and ``ethics/features/``
(compliance) use the sentences below; ``docs/steps.md`` lists them with examples.
Dates are ``YYYY-MM-DD`` and times ``HH:MM`` in the customer's own time zone
(Europe/Amsterdam unless the scenario says otherwise). Each scenario runs the real
engine — real rules, real policy, real store in memory — so a passing scenario means
the rules behave so. A scenario may add its own rule and template files; they join a
copy of ``rules/`` for that scenario only.

A failing expectation explains what did happen, event by event: which rules fired,
their verdicts, the reasons, the scores that fell short and the value flags; which
rules listened but did not fire, with the first condition that failed and its actual
value; and which rules do not listen to the event at all — or, when the rule set was
refused at load, every problem the loader found.

The scenarios run against the repository's ``rules/`` and ``ethics/policy.yaml``
unless the fixtures ``scenario_rules_dir`` and ``scenario_policy`` say otherwise;
``proactive test`` overrides them with the directories given on its command line.

Quoted arguments never contain a double quote themselves (the ``Q`` type below), so
``is "block"`` and ``is "block" because "cooldown"`` can never be mistaken for each
other.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest
import yaml
from pytest_bdd import given, parsers, then, when

from proactive.authoring import RuleResult, why
from proactive.context import CustomerContext
from proactive.errors import RuleFileError
from proactive.events import Event
from proactive.harness import ROOT, Harness
from proactive.rules import CompiledRule, RuleSet

DEFAULT_TZ = "Europe/Amsterdam"
MB = 1024
SECURE_INBOX = "app_inbox"
"""The secure inbox behind the customer's login ("my account")."""

EXPLAIN_EVENTS = 5
"""A failure message explains this many of the customer's latest events rule by rule."""
EXPLAIN_NOT_FIRED = 10
"""Per event, at most this many rules that listened but did not fire are named."""
EXPLAIN_NAMES = 8
"""At most this many names of rules that do not listen to an event."""
EXPLAIN_LINES = 80
"""A failure message never runs longer than this (the oldest lines go first)."""


class _Quoted:
    """A parse type for a quoted argument: any text without a double quote."""

    pattern = r'[^"]+'

    def __call__(self, text: str) -> str:
        return text


_TYPES = {"Q": _Quoted()}


def _p(text: str) -> parsers.parse:
    """A step pattern in ``parse`` syntax where ``{name:Q}`` is a quoted argument."""
    return parsers.parse(text, extra_types=_TYPES)


_ONE_OR_MORE = r'(?P<texts>"[^"]+"(?: or "[^"]+")*)'
"""One or more quoted alternatives: ``"scarcity"`` or ``"urgency" or "time pressure"``."""


def _alternatives(texts: str) -> list[str]:
    return [t.lower() for t in re.findall(r'"([^"]+)"', texts)]


class World:
    """What one scenario builds up: extra rule and template files, customers, the harness."""

    def __init__(
        self, tmp: Path, rules_dir: Path | None = None, policy: Path | None = None
    ) -> None:
        self.tmp = tmp
        self.rules_dir = rules_dir or ROOT / "rules"
        """The rule set the scenario starts from (its own files join a copy of it)."""
        self.policy = policy or ROOT / "ethics" / "policy.yaml"
        self.extra_rules: dict[str, str] = {}
        self.extra_templates: dict[str, str] = {}
        self._harness: Harness | None = None
        self._builds = 0
        self.refused: list[str] | None = None
        """The loader's problems when the scenario's rule set was refused."""
        self.tz: dict[str, str] = {}
        self.history: list[tuple[str, str, datetime, dict[str, Any]]] = []
        """What the scenario did so far (events, and ``advance`` for the clock), for a rebuild."""

    def add_file(self, kind: Literal["rule", "template"], name: str, text: str) -> None:
        """Add a rule or template file; an engine already running is rebuilt on the next step.

        A rebuilt engine replays what happened so far, so a scenario may add its own
        files after a Background has created its customers.
        """
        (self.extra_rules if kind == "rule" else self.extra_templates)[name] = text
        self._harness = None
        self.refused = None

    def load(self) -> Harness | None:
        """The engine over this scenario's rule set, or None when the loader refused it."""
        if self._harness is not None or self.refused is not None:
            return self._harness
        rules_dir = self.rules_dir
        if self.extra_rules or self.extra_templates:
            self._builds += 1
            rules_dir = self.tmp / f"rules-{self._builds}"
            shutil.copytree(
                self.rules_dir, rules_dir, ignore=shutil.ignore_patterns("features", "__pycache__")
            )
            for name, text in self.extra_rules.items():
                (rules_dir / name).write_text(text, encoding="utf-8")
            for name, text in self.extra_templates.items():
                (rules_dir / "templates" / name).write_text(text, encoding="utf-8")
        try:
            harness = Harness(rules_dir=rules_dir, policy=self.policy)
        except RuleFileError as exc:
            self.refused = [str(p).replace(str(rules_dir) + "/", "") for p in exc.problems]
            return None
        self._harness = harness
        for etype, customer, at, data in self.history:
            self._send(harness, etype, customer, at, data)
        return harness

    @property
    def h(self) -> Harness:
        """The engine; an expectation on it fails with the loader's problems if it was refused."""
        harness = self.load()
        if harness is None:
            raise AssertionError(self.refusal())
        return harness

    def refusal(self) -> str:
        """The loader's problems, as a failure message."""
        problems = self.refused or []
        return "the rule set was refused at load, so nothing ran:\n" + "\n".join(
            f"  - {p}" for p in problems
        )

    def event(self, etype: str, customer: str, at: datetime, **data: Any) -> None:
        """Send one event (``advance`` lets the clock run to ``at``).

        The engine is built lazily, at the first expectation or once it runs: until
        then events are only recorded, so rule and template files may still be added
        and the engine is built once. A dead-lettered event fails the scenario (a
        scenario built on it means nothing); when the rule set was refused, nothing
        runs and the first expectation reports why.
        """
        self.history.append((etype, customer, at, data))
        if self._harness is not None:
            self._send(self._harness, etype, customer, at, data)

    @staticmethod
    def _send(harness: Harness, etype: str, customer: str, at: datetime, data: Any) -> None:
        if etype == "advance":
            harness.advance(at)
            return
        before = len(harness.dead_letters)
        harness.event(etype, customer, at, **data)
        refused = harness.dead_letters[before:]
        assert not refused, (
            f"the engine did not accept the event {etype!r} for {customer}: "
            + "; ".join(f"{d['reason']}: {d['detail']}" for d in refused)
        )

    def at(self, customer: str, day: str, clock: str) -> datetime:
        tz = ZoneInfo(self.tz.get(customer, DEFAULT_TZ))
        return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), tz)

    def local(self, customer: str, t: datetime) -> str:
        """A moment as the scenario writes it: ``2026-05-20 10:00`` in the customer's time zone."""
        return f"{t.astimezone(ZoneInfo(self.tz.get(customer, DEFAULT_TZ))):%Y-%m-%d %H:%M}"

    def explain(self, customer: str) -> str:
        """What happened for the customer, event by event, and why.

        Per event a rule listens to (the latest :data:`EXPLAIN_EVENTS` of them): every
        decision (rule, variant, channel, offer, verdict, reasons, shortfalls, value
        flags); the rules that listened but did not fire, each with the first
        condition that failed and its actual value; the rules that do not listen to
        the event type, in one line. Events no rule listens to (profile, consent) are
        counted in one line::

            what happened for C2 (latest event usage.data at 2026-05-20 10:00):
              usage.data at 2026-05-20 10:00:
                no rule fired
                did not fire:
                - data-bundle-nearly-used: usage.pct_used >= 0.9 failed (usage.pct_used = 0.62)
                switched off (enabled: false): data-bundle-table
                not listening to usage.data: outage-started, outage-resolved, ...
              no rule listens to: customer.profile_updated ×2
        """
        h = self.h
        ruleset: RuleSet = h.engine.ruleset
        by_event: dict[str, list[dict[str, Any]]] = {}
        for d in h.decisions_for(customer):
            by_event.setdefault(d["event_id"], []).append(d)
        trail = [(ev, ctx) for ev, ctx in h.trail if ev.customer_id == customer]
        listened = [
            (ev, ctx)
            for ev, ctx in trail
            if ev.id in by_event or any(ev.type in cr.rule.on for cr in ruleset.rules)
        ]
        if trail:
            ev = trail[-1][0]
            lines = [
                f"what happened for {customer} "
                f"(latest event {ev.type} at {self.local(customer, ev.time)}):"
            ]
        else:
            lines = [f"what happened for {customer}: no event for {customer} reached the engine"]
        shown = listened[-EXPLAIN_EVENTS:]
        older = listened[: len(listened) - len(shown)]
        earlier = [d for ev, _ in older for d in by_event.pop(ev.id, [])]
        if earlier:
            lines.append("  earlier events (decisions only):")
            lines += [x for d in earlier for x in _decision_lines(d, "    ")]
        latest_of_type = {ev.type: i for i, (ev, _) in enumerate(shown)}
        for i, (ev, ctx) in enumerate(shown):
            lines.append(f"  {ev.type} at {self.local(customer, ev.time)}:")
            decided = by_event.pop(ev.id, [])
            lines += [x for d in decided for x in _decision_lines(d, "    ")]
            why_not, off, deaf = _why_not(ruleset, ctx, ev, {d["rule_id"] for d in decided})
            if not decided:
                lines.append("    no rule fired")
            if why_not:
                lines.append("    did not fire:")
                lines += [f"    - {line}" for line in why_not[:EXPLAIN_NOT_FIRED]]
                if len(why_not) > EXPLAIN_NOT_FIRED:
                    lines.append(f"    - … and {len(why_not) - EXPLAIN_NOT_FIRED} more")
            if latest_of_type[ev.type] == i:  # the same for every event of the type: once
                if off:
                    lines.append(f"    switched off (enabled: false): {_names(off)}")
                if deaf:
                    lines.append(f"    not listening to {ev.type}: {_names(deaf)}")
        rest = [d for ds in by_event.values() for d in ds]
        if rest:  # decisions of events the harness did not see (should not happen)
            lines.append("  other decisions:")
            lines += [x for d in rest for x in _decision_lines(d, "    ")]
        heard = {ev.id for ev, _ in listened}
        ignored = Counter(ev.type for ev, _ in trail if ev.id not in heard)
        if ignored:
            lines.append(
                "  no rule listens to: "
                + ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in ignored.items())
            )
        if len(lines) > EXPLAIN_LINES:
            cut = len(lines) - EXPLAIN_LINES + 1
            lines = [lines[0], f"  … {cut} earlier line(s) left out", *lines[cut + 1 :]]
        return "\n".join(lines)


def _names(ids: list[str]) -> str:
    more = f" and {len(ids) - EXPLAIN_NAMES} more" if len(ids) > EXPLAIN_NAMES else ""
    return ", ".join(ids[:EXPLAIN_NAMES]) + more


def _decision_lines(d: dict[str, Any], indent: str) -> list[str]:
    """One decision: rule, variant, channel, offer, verdict and reasons; shortfalls; flags."""
    offer = d["action"]["offer"]["id"] if d["action"]["offer"] else "no offer"
    lines = [
        f"{indent}- {d['rule_id']} [{d['variant']}] {d['channel']}/{d['language']} {offer}: "
        f"{d['verdict'].upper()} — " + "; ".join(d["reasons"])
    ]
    for name, score in (d["scores"] or {}).items():
        if score["score"] < 1:
            lines.append(f"{indent}    {name} {score['score']:.2f}: " + "; ".join(score["reasons"]))
    flags = (d["value"] or {}).get("flags") or []
    if flags:
        lines.append(f"{indent}    value flags: " + ", ".join(flags))
    return lines


def _why_not(
    ruleset: RuleSet, before: CustomerContext, event: Event, decided: set[str]
) -> tuple[list[str], list[str], list[str]]:
    """Why the rules without a decision did not fire on the event.

    Returns a line per enabled rule that listens to the event type and did not fire
    (the first condition that failed, with its actual value), the ids of the rules
    that would listen but are switched off, and the ids of those that do not listen.
    """
    results = {r.rule_id: r for r in why(ruleset, before, event)}
    why_not: list[str] = []
    off: list[str] = []
    deaf: list[str] = []
    for cr in ruleset.rules:
        if cr.id in decided:
            continue
        if event.type not in cr.rule.on:
            deaf.append(cr.id)
        elif not cr.rule.enabled:
            off.append(cr.id)
        elif not results[cr.id].fired:
            why_not.append(f"{cr.id}: {_failed(cr, results[cr.id])}")
    return why_not, off, deaf


def _failed(cr: CompiledRule, result: RuleResult) -> str:
    """The first condition that failed, with the fact's actual value (or the table's inputs)."""
    for cond, held in zip(cr.conditions, result.conditions, strict=True):
        if not held.held:
            return f"{held.text} failed ({_value(cond.fact, held.actual)})"
    if cr.table is not None and result.rows:
        inputs: dict[str, Any] = {}
        for row, got in zip(cr.table.rows, result.rows, strict=True):
            for cond, held in zip(row.conditions, got.conditions, strict=True):
                inputs.setdefault(cond.fact, held.actual)
        return "no row of its table matches " + ", ".join(
            _value(fact, actual) for fact, actual in inputs.items()
        )
    return "its conditions held, yet it did not fire"


def _value(fact: str, actual: Any) -> str:
    """``usage.pct_used = 0.8984``, ``customer.plan = "data-5gb"``, or ``… has no value``."""
    if actual is None:
        return f"{fact} has no value"
    if isinstance(actual, bool):
        shown = "true" if actual else "false"
    elif isinstance(actual, float):
        shown = f"{actual:.4g}"
    elif isinstance(actual, str):
        shown = f'"{actual}"'
    else:
        shown = str(actual)
    return f"{fact} = {shown}"


def explanation(decision: dict[str, Any]) -> str:
    """All a reviewer reads about one decision, lower-cased: why it got its verdict.

    The verdict's reasons, the hard limits that applied, the value check's flags and
    reasons, and the reasons of every dimension that scored below 1 (what was found
    wanting there).
    """
    parts: list[str] = list(decision["reasons"])
    for hit in decision["limits"] or []:
        parts += [hit["id"], hit["reason"], hit["detail"]]
    value = decision["value"] or {}
    parts += [f.replace("_", " ") for f in value.get("flags") or []]
    parts += value.get("reasons") or []
    for score in (decision["scores"] or {}).values():
        if score["score"] < 1:
            parts += score["reasons"]
    return "\n".join(parts).lower()


@pytest.fixture
def scenario_rules_dir() -> Path:
    """The rule directory scenarios run against: the repository's ``rules/``.

    ``proactive test`` overrides this fixture with the directory on its command line.
    """
    return ROOT / "rules"


@pytest.fixture
def scenario_policy() -> Path:
    """The ethics policy scenarios run against: the repository's ``ethics/policy.yaml``."""
    return ROOT / "ethics" / "policy.yaml"


@pytest.fixture
def world(tmp_path: Path, scenario_rules_dir: Path, scenario_policy: Path) -> World:
    """The scenario's world (fresh per scenario)."""
    return World(tmp_path, scenario_rules_dir, scenario_policy)


# -- Given: the rule set ------------------------------------------------------------


@given(_p('an extra rule file "{name:Q}":'))
def extra_rule_file(world: World, name: str, docstring: str) -> None:
    """Add a rule file (YAML in the step's doc string) to a copy of rules/."""
    world.add_file("rule", name, docstring)


@given(_p('an extra template file "{name:Q}":'))
def extra_template_file(world: World, name: str, docstring: str) -> None:
    """Add a message template (YAML in the doc string) to a copy of rules/templates/.

    The file name without ``.yaml`` is the template's id, which a rule names under
    ``template``. Like a shipped template it needs a sender, a reason line per
    language and a text per language and channel the rule may use.
    """
    world.add_file("template", name, docstring)


@when("the rule set is loaded")
def rule_set_loaded(world: World) -> None:
    """Load the scenario's rule set now (a refusal is kept for the expectations)."""
    world.load()


# -- Given: customers -------------------------------------------------------------


@given(_p('a customer "{customer:Q}" who reads "{language:Q}" and prefers "{channel:Q}"'))
def customer(world: World, customer: str, language: str, channel: str) -> None:
    """Profile: the customer's language and preferred channel."""
    world.event(
        "customer.profile_updated",
        customer,
        world.at(customer, "2026-01-01", "09:00"),
        language=language,
        preferred_channel=channel,
        time_zone=world.tz.get(customer, DEFAULT_TZ),
    )


def _group(first: str, last: str) -> list[str]:
    """Customer ids from ``first`` to ``last``: "K01" to "K25" → K01, K02, …, K25."""
    m1, m2 = re.fullmatch(r"(\D*)(\d+)", first), re.fullmatch(r"(\D*)(\d+)", last)
    assert m1 and m2 and m1.group(1) == m2.group(1), (
        f"a group runs from a prefix and number to the same prefix: {first!r} to {last!r}"
    )
    width = len(m1.group(2))
    return [f"{m1.group(1)}{i:0{width}d}" for i in range(int(m1.group(2)), int(m2.group(2)) + 1)]


@given(_p('customers "{first:Q}" to "{last:Q}" who read "{language:Q}" and prefer "{channel:Q}"'))
def customers(world: World, first: str, last: str, language: str, channel: str) -> None:
    """Many customers with the same profile (for rates over a group)."""
    for c in _group(first, last):
        customer(world, c, language, channel)


@given(_p('the customer "{customer:Q}" lives in time zone "{zone:Q}"'))
def time_zone(world: World, customer: str, zone: str) -> None:
    """Profile: the customer's time zone (put it before the customer step)."""
    world.tz[customer] = zone
    world.event(
        "customer.profile_updated",
        customer,
        world.at(customer, "2026-01-01", "09:01"),
        time_zone=zone,
    )


@given(_p('the customer "{customer:Q}" has quiet hours from {start} to {end}'))
def quiet_hours(world: World, customer: str, start: str, end: str) -> None:
    """Profile: the customer's own quiet hours."""
    world.event(
        "customer.profile_updated",
        customer,
        world.at(customer, "2026-01-01", "09:02"),
        quiet_hours={"start": start, "end": end},
    )


@given(_p('the customer "{customer:Q}" values "{value:Q}"'))
def values(world: World, customer: str, value: str) -> None:
    """Profile: a value the customer declared (see ``values.customer`` in the policy)."""
    world.event(
        "customer.profile_updated",
        customer,
        world.at(customer, "2026-01-01", "09:03"),
        values=[value],
    )


@given(_p('the customer "{customer:Q}" is managed by a relative'))
def managed_by_proxy(world: World, customer: str) -> None:
    """Profile: a relative or guardian runs the account for the customer."""
    world.event(
        "customer.profile_updated",
        customer,
        world.at(customer, "2026-01-01", "09:06"),
        managed_by_proxy=True,
    )


@given(_p('the customer "{customer:Q}" consents to "{purpose:Q}" messages by "{channel:Q}"'))
def consents(world: World, customer: str, purpose: str, channel: str) -> None:
    """Consent for a purpose on a channel (``all`` for every channel)."""
    world.event(
        "customer.consent_changed",
        customer,
        world.at(customer, "2026-01-01", "09:04"),
        purpose=purpose,
        channel=channel,
        granted=True,
    )


@given(_p('the customer "{customer:Q}" objects to direct marketing'))
def objects(world: World, customer: str) -> None:
    """An objection to direct marketing (GDPR art. 21)."""
    world.event(
        "customer.consent_changed",
        customer,
        world.at(customer, "2026-01-02", "09:00"),
        objection_direct_marketing=True,
    )


@given(_p('the customer "{customer:Q}" is on plan "{plan:Q}"'))
def on_plan(world: World, customer: str, plan: str) -> None:
    """Profile: the customer's current plan (a bundle in the offer catalogue)."""
    world.event(
        "customer.profile_updated",
        customer,
        world.at(customer, "2026-01-01", "09:05"),
        plan_id=plan,
    )


@given(
    _p(
        'the customer "{customer:Q}" used {history} of a {bundle:g} GB bundle in the months before {month}'
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
        world.event(
            "usage.data",
            customer,
            datetime.combine(end - timedelta(days=1), time(23, 0), ZoneInfo("UTC")),
            used_mb=used * MB,
            bundle_mb=bundle * MB,
            cycle_start=start.isoformat(),
            cycle_end=end.isoformat(),
        )


@given(_p('the customer "{customer:Q}" has an open complaint about "{topic:Q}"'))
def open_complaint(world: World, customer: str, topic: str) -> None:
    """A complaint opened (id K1) and not yet closed."""
    world.event(
        "customer.complaint_opened",
        customer,
        world.at(customer, "2026-01-03", "10:00"),
        complaint_id="K1",
        topic=topic,
    )


@given(_p('the customer "{customer:Q}" lost a family member on {day}'))
def bereaved(world: World, customer: str, day: str) -> None:
    """Life event: a bereavement."""
    world.event(
        "customer.life_event",
        customer,
        world.at(customer, day, "12:00"),
        kind="bereavement",
        occurred_on=day,
    )


@given(_p('the customer "{customer:Q}" told us of an illness on {day}'))
def ill(world: World, customer: str, day: str) -> None:
    """Life event: an illness (health data, a special category)."""
    world.event(
        "customer.life_event",
        customer,
        world.at(customer, day, "12:00"),
        kind="illness",
        occurred_on=day,
    )


@given(_p('the customer "{customer:Q}" has a payment arrangement since {day}'))
def arrangement(world: World, customer: str, day: str) -> None:
    """A payment arrangement started (financial trouble)."""
    world.event(
        "billing.payment_arrangement",
        customer,
        world.at(customer, day, "03:00"),
        arrangement_id="A1",
        status="started",
        instalments=3,
        amount_eur=90.0,
    )


@given(_p('the customer "{customer:Q}" gives notice on {day} to leave on {end}'))
@when(_p('the customer "{customer:Q}" gives notice on {day} to leave on {end}'))
def gives_notice(world: World, customer: str, day: str, end: str) -> None:
    """The customer ends the contract: event ``contract.notice_given`` (notice day, last day)."""
    world.event(
        "contract.notice_given",
        customer,
        world.at(customer, day, "10:00"),
        contract_end=end,
    )


# -- When: events -------------------------------------------------------------------


@when(
    _p(
        'the customer "{customer:Q}" has used {used:g} GB of the {bundle:g} GB bundle on {day} at {clock}'
    )
)
def data_usage(
    world: World, customer: str, used: float, bundle: float, day: str, clock: str
) -> None:
    """A usage report for the current billing cycle (a calendar month)."""
    at = world.at(customer, day, clock)
    start = at.date().replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    world.event(
        "usage.data",
        customer,
        at,
        used_mb=used * MB,
        bundle_mb=bundle * MB,
        cycle_start=start.isoformat(),
        cycle_end=end.isoformat(),
    )


@when(_p('a payment of {amount:g} euro by customer "{customer:Q}" fails on {day} at {clock}'))
def payment_failed(world: World, customer: str, amount: float, day: str, clock: str) -> None:
    """A failed payment (two within 60 days mean financial trouble)."""
    world.event(
        "billing.payment_failed",
        customer,
        world.at(customer, day, clock),
        invoice_id=f"INV-{day}",
        amount_eur=amount,
    )


@when(_p('an invoice of {amount:g} euro is issued to customer "{customer:Q}" on {day} at {clock}'))
def invoice_issued(world: World, customer: str, amount: float, day: str, clock: str) -> None:
    """An invoice (due 14 days later); no shipped rule listens to it, a scenario's own rule may."""
    at = world.at(customer, day, clock)
    world.event(
        "billing.invoice_issued",
        customer,
        at,
        invoice_id=f"INV-{day}",
        amount_eur=amount,
        due_date=(at.date() + timedelta(days=14)).isoformat(),
    )


@when(_p('an outage starts in area "{area:Q}" for customer "{customer:Q}" on {day} at {clock}'))
def outage(world: World, customer: str, area: str, day: str, clock: str) -> None:
    """An outage of data services, expected to last three hours."""
    at = world.at(customer, day, clock)
    world.event(
        "service.outage_started",
        customer,
        at,
        outage_id=f"OUT-{area}",
        area=area,
        services=["data"],
        expected_end=(at + timedelta(hours=3)).isoformat(),
    )


@when(
    _p(
        'an outage starts in area "{area:Q}" for customers "{first:Q}" to "{last:Q}" on {day} at {clock}'
    )
)
def outage_group(world: World, area: str, first: str, last: str, day: str, clock: str) -> None:
    """The same outage for every customer of the group."""
    for c in _group(first, last):
        outage(world, c, area, day, clock)


@when(
    _p('the customer "{customer:Q}" starts roaming in "{country:Q}" ({zone}) on {day} at {clock}')
)
def roaming(world: World, customer: str, country: str, zone: str, day: str, clock: str) -> None:
    """The customer's phone registers abroad (zone ``eu`` or ``world``)."""
    world.event(
        "usage.roaming_started",
        customer,
        world.at(customer, day, clock),
        country=country,
        zone=zone,
    )


@when(
    _p(
        'the contract of customer "{customer:Q}" on plan "{plan:Q}" at {fee:g} euro a month ends on {end}, noticed on {day} at {clock}'
    )
)
def contract_ending(
    world: World, customer: str, plan: str, fee: float, end: str, day: str, clock: str
) -> None:
    """The contract's end comes near."""
    world.event(
        "contract.ending_soon",
        customer,
        world.at(customer, day, clock),
        contract_end=end,
        plan_id=plan,
        monthly_fee_eur=fee,
    )


@when(_p('the complaint of customer "{customer:Q}" is closed on {day} at {clock}'))
def complaint_closed(world: World, customer: str, day: str, clock: str) -> None:
    """The open complaint (id K1) is solved and closed."""
    world.event(
        "customer.complaint_closed",
        customer,
        world.at(customer, day, clock),
        complaint_id="K1",
        resolution="solved",
    )


@when(_p('the event "{etype:Q}" arrives for customer "{customer:Q}" on {day} at {clock} with:'))
def any_event(
    world: World, etype: str, customer: str, day: str, clock: str, datatable: list[list[str]]
) -> None:
    """Any event, its data given as a two-column table (field | value; lists as a,b)."""
    data: dict[str, Any] = {}
    for row in datatable[1:] if datatable and datatable[0] == ["field", "value"] else datatable:
        data[row[0]] = yaml.safe_load(row[1])
    world.event(etype, customer, world.at(customer, day, clock), **data)


@when(
    _p(
        'the customer "{customer:Q}" withdraws consent for "{purpose:Q}" messages on {day} at {clock}'
    )
)
def withdraws(world: World, customer: str, purpose: str, day: str, clock: str) -> None:
    """The customer withdraws consent for a purpose on every channel."""
    world.event(
        "customer.consent_changed",
        customer,
        world.at(customer, day, clock),
        purpose=purpose,
        channel="all",
        granted=False,
    )


@when(_p('the clock reaches {day} at {clock} for customer "{customer:Q}"'))
def clock_reaches(world: World, customer: str, day: str, clock: str) -> None:
    """Deferred messages due by then are checked again and released."""
    world.event("advance", customer, world.at(customer, day, clock))


# -- Then: the rule set -------------------------------------------------------------


@then(_p('the rule set is refused because "{text:Q}"'))
def rule_set_refused(world: World, text: str) -> None:
    """The loader refused the scenario's rule set, and one of its problems mentions the text."""
    world.load()
    assert world.refused is not None, (
        f"the rule set loaded; expected it to be refused because {text!r}"
    )
    assert any(text.lower() in p.lower() for p in world.refused), (
        f"the rule set was refused, but no problem mentions {text!r}:\n" + world.refusal()
    )


# -- Then: what the customer gets ---------------------------------------------------


def _messages(
    world: World, customer: str, rule: str | None = None, channel: str | None = None
) -> list[dict[str, Any]]:
    return [
        n
        for n in world.h.notifications_for(customer, rule)
        if channel is None or n["data"]["channel"] == channel
    ]


def _last(
    world: World, customer: str, rule: str | None = None, channel: str | None = None
) -> dict[str, Any]:
    msgs = _messages(world, customer, rule, channel)
    if channel is None:
        # "the message" is the message itself, not the plain notice that it waits in the
        # secure inbox (ask for the notice by its channel)
        msgs = [n for n in msgs if n["data"].get("kind") != "secure_notice"]
    assert msgs, (
        f"expected a message{' from ' + rule if rule else ''}{' by ' + channel if channel else ''}"
        f", got none\n{world.explain(customer)}"
    )
    return msgs[-1]


def _text(notification: dict[str, Any]) -> str:
    m = notification["data"]
    return "\n".join(
        x for x in (m["subject"], m["body"], m["why"], m["decline"], m["human_route"]) if x
    )


@then(_p('customer "{customer:Q}" gets a message from rule "{rule:Q}"'))
def gets_message(world: World, customer: str, rule: str) -> None:
    """At least one notification from the rule."""
    _last(world, customer, rule)


@then(_p('customer "{customer:Q}" gets a message from rule "{rule:Q}" by "{channel:Q}"'))
def gets_message_by(world: World, customer: str, rule: str, channel: str) -> None:
    """At least one notification from the rule on that channel."""
    _last(world, customer, rule, channel)


@then(_p('customer "{customer:Q}" gets a message from rule "{rule:Q}" in the secure inbox'))
def gets_message_in_secure_inbox(world: World, customer: str, rule: str) -> None:
    """A notification from the rule in the app inbox behind the customer's login."""
    got = _messages(world, customer, rule)
    assert any(n["data"]["channel"] == SECURE_INBOX for n in got), (
        f"no message from {rule} in the secure inbox ({SECURE_INBOX}); it went by "
        f"{[n['data']['channel'] for n in got] or 'nothing'}\n{world.explain(customer)}"
    )


@then(_p('customer "{customer:Q}" gets {count:d} message(s) from rule "{rule:Q}"'))
def gets_count(world: World, customer: str, count: int, rule: str) -> None:
    """Exactly this many notifications from the rule."""
    got = len(_messages(world, customer, rule))
    assert got == count, (
        f"expected {count} message(s) from {rule}, got {got}\n{world.explain(customer)}"
    )


@then(_p('customer "{customer:Q}" gets no message from rule "{rule:Q}"'))
def no_message_from(world: World, customer: str, rule: str) -> None:
    """No notification from the rule."""
    got = _messages(world, customer, rule)
    assert not got, f"expected no message from {rule}, got {len(got)}\n{world.explain(customer)}"


@then(_p('customer "{customer:Q}" gets no commercial message'))
def no_commercial(world: World, customer: str) -> None:
    """No notification is commercial or carries an offer."""
    bad = [
        n
        for n in _messages(world, customer)
        if n["data"]["purpose"] == "commercial" or n["data"]["offer"]
    ]
    assert not bad, f"expected no commercial message, got {len(bad)}\n{world.explain(customer)}"


@then(
    parsers.re(
        rf'no message from rule "(?P<rule>[^"]+)" reaches "(?P<customer>[^"]+)" because {_ONE_OR_MORE}'
    )
)
def stopped_because(world: World, rule: str, customer: str, texts: str) -> None:
    """The rule's message is stopped before it reaches the customer, and the reason is named.

    Stopped means: the loader refused the rule set with a problem that names one of
    the texts; or the rule fired, nothing from it was sent or is waiting to be sent,
    and the ethics check held one of its decisions back (review or block — losing
    arbitration to another rule does not count) with an explanation (verdict reasons,
    limits, value flags, dimensions found wanting) that names one of the texts.
    """
    wanted = " or ".join(repr(t) for t in _alternatives(texts))
    harness = world.load()
    if harness is None:
        assert any(t in p.lower() for p in world.refused or [] for t in _alternatives(texts)), (
            f"the rule set was refused, but not because of {wanted}:\n" + world.refusal()
        )
        return
    sent = harness.notifications_for(customer, rule)
    assert not sent, (
        f"{rule} sent {len(sent)} message(s) to {customer}; expected it to be stopped because "
        f"of {wanted}. From {sent[-1]['data']['sender']!r} it said:\n{_text(sent[-1])}\n"
        + world.explain(customer)
    )
    ds = harness.decisions_for(customer, rule)
    assert ds, f"rule {rule} did not fire, so nothing was stopped\n{world.explain(customer)}"
    waiting = [d for d in ds if d["verdict"] == "defer"]
    assert not waiting, (
        f"{rule} is deferred, not stopped: it waits until {waiting[-1]['deliver_at']}\n"
        + world.explain(customer)
    )
    # what the check said, also for an action that then lost arbitration
    held = [d for d in ds if (d.get("ethics_verdict") or d["verdict"]) in ("review", "block")]
    assert held, (
        f"{rule} only lost arbitration ({ds[-1]['arbitration']}); the ethics check itself "
        f"did not hold it back\n{world.explain(customer)}"
    )
    assert any(t in explanation(d) for d in held for t in _alternatives(texts)), (
        f"{rule} was held back, but no reason names {wanted}\n{world.explain(customer)}"
    )


@then(_p('the message to "{customer:Q}" goes by "{channel:Q}" in "{language:Q}"'))
def message_channel(world: World, customer: str, channel: str, language: str) -> None:
    """The latest notification's channel and language."""
    m = _last(world, customer)["data"]
    assert (m["channel"], m["language"]) == (channel, language), (
        f"message went by {m['channel']} in {m['language']}\n{world.explain(customer)}"
    )


@then(_p('the message to "{customer:Q}" offers "{offer:Q}"'))
def message_offers(world: World, customer: str, offer: str) -> None:
    """The latest notification carries this catalogue offer."""
    m = _last(world, customer)["data"]
    got = m["offer"]["id"] if m["offer"] else None
    assert got == offer, f"the message offers {got}, not {offer}\n{world.explain(customer)}"


@then(_p('the message to "{customer:Q}" offers nothing'))
def message_offers_nothing(world: World, customer: str) -> None:
    """The latest notification carries no offer."""
    m = _last(world, customer)["data"]
    assert m["offer"] is None, f"the message offers {m['offer']}\n{world.explain(customer)}"


@then(_p('the message to "{customer:Q}" offers no permanent bundle'))
def no_permanent(world: World, customer: str) -> None:
    """The latest notification offers at most a one-off add-on."""
    m = _last(world, customer)["data"]
    assert not (m["offer"] and m["offer"]["recurring"]), (
        f"a permanent offer: {m['offer']}\n{world.explain(customer)}"
    )


@then(_p('the message to "{customer:Q}" contains "{text:Q}"'))
def message_contains(world: World, customer: str, text: str) -> None:
    """The latest notification's text (subject, body, why, decline, human route) contains the text."""
    full = _text(_last(world, customer))
    assert text.lower() in full.lower(), f"{text!r} not in the message:\n{full}"


@then(_p('the message to "{customer:Q}" does not contain "{text:Q}"'))
def message_lacks(world: World, customer: str, text: str) -> None:
    """The latest notification's text does not contain the text."""
    full = _text(_last(world, customer))
    assert text.lower() not in full.lower(), f"{text!r} is in the message:\n{full}"


@then(_p('the message to "{customer:Q}" by "{channel:Q}" contains "{text:Q}"'))
def message_by_contains(world: World, customer: str, channel: str, text: str) -> None:
    """The latest notification on that channel contains the text."""
    full = _text(_last(world, customer, channel=channel))
    assert text.lower() in full.lower(), f"{text!r} not in the {channel} message:\n{full}"


@then(_p('the message to "{customer:Q}" by "{channel:Q}" does not contain "{text:Q}"'))
def message_by_lacks(world: World, customer: str, channel: str, text: str) -> None:
    """The latest notification on that channel does not contain the text."""
    full = _text(_last(world, customer, channel=channel))
    assert text.lower() not in full.lower(), f"{text!r} is in the {channel} message:\n{full}"


@then(_p('the message to "{customer:Q}" tells how to reach a person'))
def message_human_route(world: World, customer: str) -> None:
    """The latest notification carries a human route with a phone number."""
    m = _last(world, customer)["data"]
    route = m["human_route"] or ""
    assert re.search(r"\d{3,}", route.replace(" ", "")), (
        f"no way to reach a person (human route: {route!r})\n{_text(_last(world, customer))}"
    )


@then(_p('the message to "{customer:Q}" is addressed to the relative who manages the account'))
def addressed_to_proxy(world: World, customer: str) -> None:
    """The latest notification says it goes to the relative who runs the account.

    Reads the notification's ``addressee``: ``proxy`` (or ``{"role": "proxy", ...}``)
    for a relative or guardian, ``holder`` for the customer.
    """
    m = _last(world, customer)["data"]
    addressee = m.get("addressee")
    role = addressee.get("role") if isinstance(addressee, dict) else addressee
    assert role == "proxy", (
        f"the message does not say it goes to the relative who manages the account "
        f"(addressee: {addressee!r}; the notification has {sorted(m)})\n{_text(_last(world, customer))}"
    )


@then(_p('every message to "{customer:Q}" says why, how to decline and how to reach a person'))
def every_message_complete(world: World, customer: str) -> None:
    """Each notification has a reason line, a decline route and a human route."""
    msgs = _messages(world, customer)
    assert msgs, f"no messages\n{world.explain(customer)}"
    for n in msgs:
        d = n["data"]
        assert d["why"] and d["decline"] and d["human_route"], f"incomplete message: {d}"


# -- Then: decisions and reasons ----------------------------------------------------


def _decisions(world: World, customer: str, rule: str) -> list[dict[str, Any]]:
    return world.h.decisions_for(customer, rule)


def _last_decision(world: World, customer: str, rule: str) -> dict[str, Any]:
    ds = _decisions(world, customer, rule)
    assert ds, f"rule {rule} made no decision\n{world.explain(customer)}"
    return ds[-1]


@then(_p('the decision on rule "{rule:Q}" for "{customer:Q}" is "{verdict:Q}"'))
def decision_is(world: World, rule: str, customer: str, verdict: str) -> None:
    """The rule's latest decision has this verdict."""
    d = _last_decision(world, customer, rule)
    assert d["verdict"] == verdict, f"last decision is {d['verdict']}\n{world.explain(customer)}"


@then(_p('the decision on rule "{rule:Q}" for "{customer:Q}" is "{first:Q}" or "{second:Q}"'))
def decision_is_either(world: World, rule: str, customer: str, first: str, second: str) -> None:
    """The rule's latest decision has one of two verdicts (e.g. ``"review" or "block"``)."""
    d = _last_decision(world, customer, rule)
    assert d["verdict"] in (first, second), (
        f"last decision is {d['verdict']}, not {first} or {second}\n{world.explain(customer)}"
    )


@then(
    _p('the decision on rule "{rule:Q}" for "{customer:Q}" is "{verdict:Q}" because "{reason:Q}"')
)
def decision_because(world: World, rule: str, customer: str, verdict: str, reason: str) -> None:
    """The rule's latest decision with this verdict names the reason among its verdict reasons."""
    ds = [d for d in _decisions(world, customer, rule) if d["verdict"] == verdict]
    assert ds, f"no {verdict} decision on {rule}\n{world.explain(customer)}"
    text = " ".join(ds[-1]["reasons"]).lower()
    assert reason.lower() in text, f"{reason!r} not among the reasons: {ds[-1]['reasons']}"


@then(
    parsers.re(
        rf'a reason for the decision on rule "(?P<rule>[^"]+)" for "(?P<customer>[^"]+)" mentions {_ONE_OR_MORE}'
    )
)
def reason_mentions(world: World, rule: str, customer: str, texts: str) -> None:
    """The explanation of the rule's latest decision names one of the texts.

    The explanation is what a reviewer reads: the verdict's reasons, the limits, the
    value flags and reasons, and the reasons of every dimension scored below 1.
    """
    wanted = _alternatives(texts)
    d = _last_decision(world, customer, rule)
    found = explanation(d)
    assert any(t in found for t in wanted), (
        f"no reason names {' or '.join(wanted)}; the decision's explanation:\n{found}"
    )


@then(_p('the offer of rule "{rule:Q}" to "{customer:Q}" is blocked because "{reason:Q}"'))
def offer_blocked(world: World, rule: str, customer: str, reason: str) -> None:
    """The rule proposed an offer, the offer was blocked and not sent, and the reason is named."""
    ds = [d for d in _decisions(world, customer, rule) if d["action"]["offer"] is not None]
    assert ds, f"rule {rule} proposed no offer\n{world.explain(customer)}"
    sent = [n for n in world.h.notifications_for(customer, rule) if n["data"]["offer"]]
    assert ds[-1]["verdict"] == "block" and not sent, (
        f"the offer was not blocked\n{world.explain(customer)}"
    )
    text = " ".join(ds[-1]["reasons"]).lower()
    assert reason.lower() in text, f"{reason!r} not among the reasons: {ds[-1]['reasons']}"


@then(_p('the message of rule "{rule:Q}" to "{customer:Q}" is deferred until {day} at {clock}'))
def deferred_until(world: World, rule: str, customer: str, day: str, clock: str) -> None:
    """The rule's message waits until this moment (customer's time zone)."""
    ds = [d for d in _decisions(world, customer, rule) if d["verdict"] == "defer"]
    assert ds, f"nothing deferred\n{world.explain(customer)}"
    due = datetime.fromisoformat(ds[-1]["deliver_at"])
    want = world.at(customer, day, clock)
    assert due == want, (
        f"deferred until {due.astimezone(want.tzinfo):%Y-%m-%d %H:%M}, not {day} {clock}"
    )


def _value_checks(world: World, customer: str, rule: str) -> list[dict[str, Any]]:
    ds = [d["value"] for d in _decisions(world, customer, rule) if d["value"]]
    assert ds, f"no decision on {rule} with a value check\n{world.explain(customer)}"
    return ds


def _flag(name: str) -> str:
    return name.replace("_", " ").replace("-", " ").lower()


@then(_p('the customer value of the decision on rule "{rule:Q}" for "{customer:Q}" is positive'))
def customer_value_positive(world: World, rule: str, customer: str) -> None:
    """The value check finds the action worth something to the customer (latest decision)."""
    ds = [d for d in _decisions(world, customer, rule) if d["value"]]
    assert ds, f"no decision with a value check\n{world.explain(customer)}"
    assert ds[-1]["value"]["customer"] > 0, f"customer value {ds[-1]['value']}"


@then(_p('the value check on rule "{rule:Q}" for "{customer:Q}" flags "{flag:Q}"'))
def value_flags(world: World, rule: str, customer: str, flag: str) -> None:
    """The value check of one of the rule's decisions raises the flag.

    Flags are compared without case, underscores or hyphens: ``"big brother"`` matches
    ``big_brother``.
    """
    checks = _value_checks(world, customer, rule)
    assert any(_flag(flag) in map(_flag, v["flags"]) for v in checks), (
        f"the value check raised {[f for v in checks for f in v['flags']] or 'no flags'}, "
        f"not {flag!r}; its reasons: {[r for v in checks for r in v['reasons']]}\n"
        + world.explain(customer)
    )


@then(_p('the value check on rule "{rule:Q}" for "{customer:Q}" raises no flags'))
def value_no_flags(world: World, rule: str, customer: str) -> None:
    """No value check of the rule's decisions raises a flag."""
    checks = _value_checks(world, customer, rule)
    flagged = [v for v in checks if v["flags"]]
    assert not flagged, f"the value check raised {flagged[0]['flags']}: {flagged[0]['reasons']}"


@then(
    _p(
        'the {dimension} score of the decision on rule "{rule:Q}" for "{customer:Q}" is at least {low:g}'
    )
)
def score_at_least(world: World, dimension: str, rule: str, customer: str, low: float) -> None:
    """A dimension's score of the rule's latest scored decision is at least the level."""
    ds = [d for d in _decisions(world, customer, rule) if d["scores"]]
    assert ds, f"no scored decision\n{world.explain(customer)}"
    got = ds[-1]["scores"][dimension]["score"]
    assert got >= low, f"{dimension} score {got} < {low}: {ds[-1]['scores'][dimension]['reasons']}"


@then(
    _p(
        'the {dimension} score of the decision on rule "{rule:Q}" for "{customer:Q}" is below {high:g}'
    )
)
def score_below(world: World, dimension: str, rule: str, customer: str, high: float) -> None:
    """A dimension's score of the rule's latest scored decision is below the level."""
    ds = [d for d in _decisions(world, customer, rule) if d["scores"]]
    assert ds, f"no scored decision\n{world.explain(customer)}"
    got = ds[-1]["scores"][dimension]["score"]
    assert got < high, (
        f"{dimension} score {got} is not below {high}: {ds[-1]['scores'][dimension]['reasons']}"
    )


# -- Then: exceptions (the joker) and governance ------------------------------------------


@then(
    _p(
        'the decision on rule "{rule:Q}" for "{customer:Q}" is marked as an exception to "{limit:Q}" approved by "{who:Q}"'
    )
)
def marked_exception(world: World, rule: str, customer: str, limit: str, who: str) -> None:
    """The decision record carries the exception: the limit, the justification, the approver."""
    d = _last_decision(world, customer, rule)
    e = d.get("exception")
    assert e, f"the decision carries no exception\n{world.explain(customer)}"
    assert limit in e["limits"], f"the exception covers {e['limits']}, not {limit}"
    assert e["approved_by"] == who, f"approved by {e['approved_by']!r}, not {who!r}"
    assert len(e["justification"]) >= 20, f"justification too short: {e['justification']!r}"


@then(_p('the decision on rule "{rule:Q}" for "{customer:Q}" carries no exception'))
def no_exception(world: World, rule: str, customer: str) -> None:
    """No exception was used: none applied, or the one asked for was refused."""
    d = _last_decision(world, customer, rule)
    assert not d.get("exception"), f"the decision carries {d['exception']}"


def _report(world: World) -> Any:
    from proactive.ethics.policy import load_policy
    from proactive.report import summarise

    h = world.load()
    assert h is not None, f"the rule set was refused: {world.refused}"
    return summarise(h.decisions, load_policy(h.policy_path).policy, source="scenario")


@then(_p('the ethics report alerts on the exception rate of rule "{rule:Q}"'))
def exception_rate_alert(world: World, rule: str) -> None:
    """The report over the scenario's decisions raises the governance alert for the rule."""
    report = _report(world)
    alerts = [a for a in report.governance_alerts if a.subject == rule]
    assert any(a.code == "exception_rate" for a in alerts), (
        f"no exception-rate alert for {rule}; alerts: {[a.message for a in report.alerts]}; "
        f"rules: {[(r.rule_id, r.exceptions, r.decisions) for r in report.rules]}"
    )


@then(_p('the ethics report raises no governance alert for rule "{rule:Q}"'))
def no_governance_alert(world: World, rule: str) -> None:
    """The report over the scenario's decisions has no governance alert for the rule."""
    report = _report(world)
    alerts = [a.message for a in report.governance_alerts if a.subject == rule]
    assert not alerts, f"governance alerts for {rule}: {alerts}"
