"""Rules as data (proactive.rules): parsing, validation with located errors, durable matching."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from proactive.context import CustomerContext, apply_event
from proactive.datafile import DataLoader, load_located
from proactive.errors import Problem, RuleFileError
from proactive.events import PAYLOADS, Event
from proactive.facts import build_facts
from proactive.rules import (
    CompiledRule,
    Rule,
    RuleEngine,
    RuleSet,
    load_ruleset,
    parse_condition,
    parse_duration,
)

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"


@cache
def shipped() -> RuleSet:
    return load_ruleset(RULES)


def refused(directory: Path) -> list[Problem]:
    with pytest.raises(RuleFileError) as info:
        load_ruleset(directory)
    return info.value.problems


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    """1-based line number of the ``occurrence``-th line containing ``needle``."""
    seen = 0
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return n
    raise AssertionError(f"{needle!r} not in {path}")


RULE_TEMPLATE = """\
  - id: {id}
    description: {description}
    on: [{on}]
    when:
{when}
    purpose: {purpose}
    data: [{data}]
    template: {template}
    channels: [{channels}]
    priority: {priority}
    window: event
"""


def rule_yaml(
    id: str = "extra-rule",
    *,
    on: str = "service.outage_started",
    when: list[str] | None = None,
    purpose: str = "service",
    data: str = "service",
    template: str = "outage_started",
    channels: str = "sms, push, app_inbox, email",
    priority: int = 40,
    description: str = "An extra rule for a test",
) -> str:
    conds = "\n".join(f"      - {c}" for c in (when or ["outage.active >= 1"]))
    return "rules:\n" + rule_entry(
        id, on, conds, purpose, data, template, channels, priority, description
    )


def rule_entry(
    id: str,
    on: str,
    conds: str,
    purpose: str,
    data: str,
    template: str,
    channels: str,
    priority: int,
    description: str,
) -> str:
    """One rule of a ``rules:`` list, in YAML."""
    return RULE_TEMPLATE.format(
        id=id,
        description=description,
        on=on,
        when=conds,
        purpose=purpose,
        data=data,
        template=template,
        channels=channels,
        priority=priority,
    )


# -- the shipped rule set ---------------------------------------------------------------


def test_shipped_rules_load_with_every_rule_file() -> None:
    """The shipped directory loads: every rule of every file, templates and catalogue."""
    rs = shipped()
    ids = {cr.id for cr in rs.rules}
    assert ids == {
        "data-bundle-nearly-used",
        "outage-started",
        "outage-resolved",
        "payment-failed-support",
        "payment-arrangement-support",
        "contract-renewal",
        "roaming-cost-info",
        "data-bundle-table",
    }
    assert rs.revision.startswith("rules-")
    for cr in rs.rules:
        assert Path(cr.file).parent == RULES
        assert cr.line == line_of(Path(cr.file), f"id: {cr.id}")
        assert cr.rule.template in rs.templates.ids()
        assert all(t in PAYLOADS for t in cr.rule.on)


def test_revision_changes_when_a_rule_file_changes(make_rules_dir: Callable[..., Path]) -> None:
    """The revision is a digest of the files: any edit gives a new revision."""
    a = make_rules_dir()
    b = make_rules_dir()
    assert load_ruleset(a).revision == load_ruleset(b).revision
    path = b / "outage.yaml"
    path.write_text(path.read_text().replace("priority: 90", "priority: 89", 1))
    assert load_ruleset(b).revision != load_ruleset(a).revision


def test_on_is_read_as_a_key_not_as_yaml_1_1_boolean() -> None:
    """``on:`` stays the string key 'on' (YAML 1.1 would read it as True), and NO stays text."""
    doc = load_located(RULES / "outage.yaml", RuleFileError)
    assert "on" in doc.data["rules"][0]
    assert True not in doc.data["rules"][0]
    assert yaml.load("on: [x]\nc: NO\nt: true\n", Loader=DataLoader) == {
        "on": ["x"],
        "c": "NO",
        "t": True,
    }
    assert shipped().rule("outage-started").rule.on == ["service.outage_started"]


# -- conditions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "op", "value"),
    [
        ("usage.pct_used >= 0.9", ">=", 0.9),
        ("usage.pct_used > 0.9", ">", 0.9),
        ("usage.pct_used <= 1", "<=", 1),
        ("usage.pct_used < 1.0", "<", 1.0),
        ("usage.days_left == 3", "==", 3),
        ("usage.days_left != 0", "!=", 0),
        ("customer.segment == consumer", "==", "consumer"),
        ("customer.segment in [consumer, youth]", "in", ["consumer", "youth"]),
        ("customer.segment not in [business]", "not in", ["business"]),
        ("customer.segment not   in [business]", "not in", ["business"]),
        ("data.status in [started, missed]", "in", ["started", "missed"]),
        ("customer.age_band == 65+", "==", "65+"),
        ("customer.segment == 123", "==", "123"),
        ("customer.segment in [a, 5]", "in", ["a", "5"]),
        ("roaming.country == NO", "==", "NO"),
        ("roaming.country in [NL, NO, BE]", "in", ["NL", "NO", "BE"]),
    ],
)
def test_parse_condition_operators(text: str, op: str, value: Any) -> None:
    """Each operator is read with its fact and a typed value."""
    cond = parse_condition(text)
    assert (cond.op, cond.value) == (op, value)
    assert cond.fact == text.split()[0]


def test_bare_boolean_and_not_boolean() -> None:
    """A true/false fact alone means 'is true'; ``not fact`` means 'is false'."""
    yes = parse_condition("customer.has_open_complaint")
    no = parse_condition("not customer.bereaved")
    assert (yes.fact, yes.op) == ("customer.has_open_complaint", "is")
    assert (no.fact, no.op) == ("customer.bereaved", "not")
    assert yes.holds({"customer__has_open_complaint": True})
    assert not yes.holds({"customer__has_open_complaint": False})
    assert no.holds({"customer__bereaved": False})
    assert not no.holds({"customer__bereaved": True})


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("usage.pct_usd >= 0.9", "unknown fact"),
        ("customer.segment > consumer", "is text"),
        ("usage.pct_used >= high", "is a number"),
        ("usage.pct_used == true", "is a number"),
        ("customer.bereaved == 1", "true/false"),
        ("usage.pct_used", "not true/false"),
        ("not usage.pct_used >= 0.9", "'not' only"),
        ("customer.segment in consumer", "needs a list"),
        ("customer.segment in []", "needs a list"),
        ("usage pct used", "cannot read condition"),
    ],
)
def test_parse_condition_errors(text: str, needle: str) -> None:
    """Mistakes a rule author makes are refused with a message that says what is wrong."""
    with pytest.raises(ValueError, match=needle):
        parse_condition(text)


def test_billing_facts_average_the_earlier_invoices(make_event: Callable[..., Event]) -> None:
    """billing.* facts of an invoice: the latest amount, the average of up to six earlier
    invoices, how many that average rests on, and the ratio (the worked example's facts)."""
    ctx = CustomerContext("B1")
    amounts = [30.0, 40.0, 40.0, 40.0, 40.0, 40.0, 40.0, 52.0]
    seen = []
    for month, amount in enumerate(amounts, 1):
        ev = make_event(
            "billing.invoice_issued",
            "B1",
            f"2026-{month:02d}-05T09:00:00Z",
            invoice_id=f"I{month}",
            amount_eur=amount,
            due_date=f"2026-{month:02d}-20",
        )
        apply_event(ctx, ev)
        facts = build_facts(ev, ctx, frozenset({"billing"}))
        seen.append(facts["billing__earlier_invoices"])
    assert seen == [0, 1, 2, 3, 4, 5, 6, 6]
    # the first invoice (30) has dropped out: six earlier invoices of 40
    assert facts["billing__invoice_eur"] == 52.0
    assert facts["billing__avg_invoice_eur"] == 40.0
    assert facts["billing__invoice_ratio"] == 1.3
    assert parse_condition("billing.invoice_ratio >= 1.3").holds(facts)
    assert parse_condition("billing.earlier_invoices >= 3").holds(facts)


def test_optional_true_false_event_field_compares_as_true_false() -> None:
    """``data.objection_direct_marketing`` is optional (bool | None) on the consent event: a
    condition on it compares with true/false, as the event's value is, not with text."""
    cond = parse_condition("data.objection_direct_marketing == true")
    assert cond.value is True
    assert cond.holds({"data__objection_direct_marketing": True})
    assert not cond.holds({"data__objection_direct_marketing": False})
    assert parse_condition("data.granted").op == "is"
    with pytest.raises(ValueError, match="true/false"):
        parse_condition("data.granted == yes")


def test_parse_duration() -> None:
    """Durations are written like 12h, 7d, 2w; nonsense is refused."""
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration(" 2w ") == timedelta(weeks=2)
    assert parse_duration(0) == timedelta(0)
    with pytest.raises(ValueError, match="duration"):
        parse_duration("a week")


# -- durable matching agrees with the Python reading ------------------------------------

PROPERTY_CONDITIONS = [
    "usage.pct_used >= 0.9",
    "usage.pct_used < 1.0",
    "usage.pct_used > 0.95",
    "usage.pct_used <= 0.5",
    "usage.days_left == 3",
    "usage.days_left != 3",
    "usage.cycles_seen in [1, 3]",
    "usage.cycles_seen not in [0, 2]",
    "customer.segment == consumer",
    "customer.segment != business",
    "customer.segment in [consumer, youth]",
    "customer.segment not in [business, smb]",
    "customer.has_open_complaint",
    "not customer.bereaved",
    "customer.financial_trouble",
    "not customer.objected_direct_marketing",
]
FACT_VALUES: dict[str, list[Any]] = {
    "usage__pct_used": [0.0, 0.5, 0.89, 0.9, 0.95, 0.999, 1, 1.0, 1.3],
    "usage__days_left": [0, 2, 3, 3.0, 4, 30],
    "usage__cycles_seen": [0, 1, 2, 3, 12],
    "customer__segment": ["consumer", "youth", "business", "smb", "Consumer"],
    "customer__has_open_complaint": [True, False],
    "customer__bereaved": [True, False],
    "customer__financial_trouble": [True, False],
    "customer__objected_direct_marketing": [True, False],
}


def compiled_rule(rule_id: str, conditions: list[str], on: str = "usage.data") -> CompiledRule:
    rule = Rule.model_validate(
        {
            "id": rule_id,
            "description": "generated",
            "on": [on],
            "when": conditions,
            "purpose": "service",
            "data": ["usage", "profile", "complaint", "life_event", "payment", "consent"],
            "template": "data_bundle_warning",
            "channels": ["sms"],
            "priority": 10,
        }
    )
    return CompiledRule(rule, tuple(parse_condition(c) for c in conditions), "generated", 1)


def generated_rules(rng: random.Random) -> list[CompiledRule]:
    """One rule per single condition, plus random pairs and triples."""
    rules = [compiled_rule(f"single-{i}", [c]) for i, c in enumerate(PROPERTY_CONDITIONS)]
    for i in range(20):
        conds = rng.sample(PROPERTY_CONDITIONS, rng.choice([2, 3]))
        rules.append(compiled_rule(f"combo-{i}", conds))
    return rules


def generated_facts(rng: random.Random) -> dict[str, Any]:
    """A fact message with some facts missing (a missing fact never satisfies a condition)."""
    facts: dict[str, Any] = {"event__type": "usage.data", "event__source": "/usage"}
    for key, values in FACT_VALUES.items():
        if rng.random() < 0.85:
            facts[key] = rng.choice(values)
    return facts


def test_durable_matching_agrees_with_condition_holds() -> None:
    """For 600 generated fact messages, durable_rules fires exactly the rules whose
    conditions all hold in Python (missing facts, int/float, boundaries, lists)."""
    rng = random.Random(20260520)
    rules = generated_rules(rng)
    engine = RuleEngine(rules, "property")
    fired_any = set()
    for _ in range(600):
        facts = generated_facts(rng)
        want = {cr.id for cr in rules if all(c.holds(facts) for c in cr.conditions)}
        got = engine.match(facts)
        assert len(got) == len(set(got)), f"a rule fired twice for {facts}"
        assert set(got) == want, f"facts {facts}: durable {sorted(got)}, python {sorted(want)}"
        fired_any |= want
    # the generator is not degenerate: every single-condition rule fired at least once
    assert {f"single-{i}" for i in range(len(PROPERTY_CONDITIONS))} <= fired_any


def test_rules_match_only_their_event_types() -> None:
    """A rule on usage.data never fires for another event type, whatever the facts."""
    engine = RuleEngine([compiled_rule("u", ["usage.pct_used >= 0.9"])], "types")
    assert engine.match({"event__type": "usage.data", "usage__pct_used": 0.95}) == ["u"]
    assert engine.match({"event__type": "billing.invoice_issued", "usage__pct_used": 0.95}) == []


def test_engine_holds_no_state_between_events() -> None:
    """The same fact message fires the same rules every time (facts are retracted)."""
    engine = RuleEngine([compiled_rule("u", ["usage.pct_used >= 0.9"])], "stateless")
    for _ in range(50):
        assert engine.match({"event__type": "usage.data", "usage__pct_used": 0.95}) == ["u"]
        assert engine.match({"event__type": "usage.data", "usage__pct_used": 0.5}) == []


def test_disabled_rule_never_fires() -> None:
    """``enabled: false`` keeps a rule out of the engine."""
    cr = compiled_rule("off", ["usage.pct_used >= 0.9"])
    off = CompiledRule(cr.rule.model_copy(update={"enabled": False}), cr.conditions, "g", 1)
    engine = RuleEngine([off, compiled_rule("on", ["usage.pct_used >= 0.5"])], "disabled")
    assert engine.match({"event__type": "usage.data", "usage__pct_used": 0.95}) == ["on"]


def test_every_matching_rule_fires_not_only_the_first(
    make_rules_dir: Callable[..., Path],
) -> None:
    """Two rules on the same event both fire; the extra rule is really loaded from its file."""
    directory = make_rules_dir({"zz_extra.yaml": rule_yaml("outage-extra-info")})
    rs = load_ruleset(directory)
    facts = {"event__type": "service.outage_started", "event__source": "/net", "outage__active": 1}
    assert sorted(rs.engine.match(facts)) == ["outage-extra-info", "outage-started"]
    facts["outage__active"] = 0
    assert rs.engine.match(facts) == ["outage-started"]
    assert rs.rule("outage-extra-info").file == str(directory / "zz_extra.yaml")


def test_shipped_rule_fires_from_real_facts(make_event: Callable[..., Event]) -> None:
    """From a usage event folded into a context, the bundle rule fires at 92% and not at 50%."""
    rs = shipped()
    for used, fires in ((4710.0, True), (2560.0, False)):
        ctx = CustomerContext("C1")
        ev = make_event(
            "usage.data",
            "C1",
            "2026-05-20T10:00:00Z",
            used_mb=used,
            bundle_mb=5120,
            cycle_start="2026-05-01",
            cycle_end="2026-06-01",
        )
        apply_event(ctx, ev)
        facts = build_facts(ev, ctx, rs.groups_by_type["usage.data"])
        assert ("data-bundle-nearly-used" in rs.engine.match(facts)) is fires


def test_condition_on_a_date_field_of_the_event(
    make_rules_dir: Callable[..., Path], make_event: Callable[..., Event]
) -> None:
    """``data.<field>`` facts include date fields; a date condition loads and matches
    (ISO dates compare in calendar order) instead of crashing the rule engine."""
    extra = rule_yaml(
        "renewal-late-summer",
        on="contract.ending_soon",
        when=["data.contract_end >= 2026-08-01"],
        data="contract",
        template="contract_renewal",
        channels="email, app_inbox",
    )
    rs = load_ruleset(make_rules_dir({"zz_dates.yaml": extra}))
    for end, fires in (("2026-09-15", True), ("2026-07-15", False)):
        ctx = CustomerContext("C1")
        ev = make_event(
            "contract.ending_soon",
            "C1",
            "2026-05-20T10:00:00Z",
            contract_end=end,
            plan_id="data-5gb",
            monthly_fee_eur=13.5,
        )
        apply_event(ctx, ev)
        facts = build_facts(ev, ctx, rs.groups_by_type["contract.ending_soon"])
        assert ("renewal-late-summer" in rs.engine.match(facts)) is fires


# -- refusing broken rule sets ----------------------------------------------------------

BROKEN = """\
rules:
  - id: broken-unknown-field
    description: has a field no rule has
    on: [usage.data]
    when:
      - usage.pct_used >= 0.9
    purpose: service
    data: [usage]
    template: data_bundle_warning
    channels: [sms]
    priority: 10
    colour: red

  - id: broken-condition
    description: refers to a fact that does not exist
    on: [usage.data]
    when:
      - usage.pct_used >= 0.9
      - usage.pct_usd > 0.5
    purpose: service
    data: [usage]
    template: data_bundle_warning
    channels: [sms]
    priority: 10

  - id: broken-template
    description: names a template that does not exist
    on: [usage.data]
    purpose: service
    data: [usage]
    template: no_such_template
    channels: [sms]
    priority: 10
"""


BROKEN_ONE_RULE = """\
rules:
  - id: broken-everything
    description: three mistakes in one rule
    on: [usage.data]
    when:
      - usage.pct_usd > 0.5
    purpose: service
    data: [usage]
    template: no_such_template
    channels: [sms]
    priority: 10
    colour: red
"""


@pytest.mark.parametrize("text", [BROKEN, BROKEN_ONE_RULE], ids=["three-rules", "one-rule"])
def test_broken_rule_file_lists_all_problems_with_lines(
    make_rules_dir: Callable[..., Path], text: str
) -> None:
    """Three mistakes (unknown field, bad condition, unknown template) are all reported
    together, each with the file and the 1-based line of the mistake."""
    directory = make_rules_dir({"broken.yaml": text})
    path = directory / "broken.yaml"
    problems = refused(directory)
    by_code = {p.code: p for p in problems}
    assert {"unknown_field", "bad_condition", "unknown_template"} <= set(by_code)
    assert all(p.file == str(path) for p in problems)
    assert by_code["unknown_field"].line == line_of(path, "colour: red")
    assert by_code["unknown_field"].key == "rules.0.colour"
    assert by_code["bad_condition"].line == line_of(path, "usage.pct_usd")
    assert "usage.pct_usd" in by_code["bad_condition"].message
    assert by_code["unknown_template"].line == line_of(path, "template: no_such_template")
    message = str(RuleFileError(problems))
    assert f"{path}:{line_of(path, 'colour: red')}:" in message


def test_problems_in_several_files_are_reported_together(
    make_rules_dir: Callable[..., Path],
) -> None:
    """A mistake in each of two files: both are listed, each with its own file and line."""
    one = rule_yaml("bad-cond", when=["outage.active >= 1", "outage.actve >= 1"])
    two = rule_yaml("bad-template", template="outage_begun")
    directory = make_rules_dir({"one.yaml": one, "two.yaml": two})
    problems = refused(directory)
    where = {(Path(p.file).name, p.line, p.code) for p in problems}
    assert ("one.yaml", line_of(directory / "one.yaml", "outage.actve"), "bad_condition") in where
    assert (
        "two.yaml",
        line_of(directory / "two.yaml", "template: outage_begun"),
        "unknown_template",
    ) in where


def test_undeclared_data_category_is_refused(make_rules_dir: Callable[..., Path]) -> None:
    """A condition on bereavement (life_event data) in a rule that declares only 'service'
    is refused, naming the category, at the condition's line."""
    text = rule_yaml("no-declare", when=["outage.active >= 1", "not customer.bereaved"])
    directory = make_rules_dir({"undeclared.yaml": text})
    problems = [p for p in refused(directory) if p.code == "undeclared_data"]
    assert len(problems) == 1
    assert "life_event" in problems[0].message
    assert problems[0].line == line_of(directory / "undeclared.yaml", "not customer.bereaved")


def test_undeclared_category_of_an_event_field_is_refused(
    make_rules_dir: Callable[..., Path],
) -> None:
    """``data.status`` of a payment arrangement is payment data and must be declared."""
    text = rule_yaml(
        "arrangement-peek",
        on="billing.payment_arrangement",
        when=["data.status in [missed]"],
        data="billing",
        template="arrangement_support",
        channels="app_inbox, email",
    )
    problems = refused(make_rules_dir({"peek.yaml": text}))
    assert any(p.code == "undeclared_data" and "'payment'" in p.message for p in problems)


def test_declared_data_category_is_accepted(make_rules_dir: Callable[..., Path]) -> None:
    """The same condition with the category declared loads (the check is not over-eager)."""
    text = rule_yaml(
        "arrangement-peek",
        on="billing.payment_arrangement",
        when=["data.status in [missed]"],
        data="payment",
        template="arrangement_support",
        channels="app_inbox, email",
    )
    rs = load_ruleset(make_rules_dir({"peek.yaml": text}))
    assert rs.rule("arrangement-peek").conditions[0].value == ["missed"]


def test_event_field_not_in_the_rules_event_types_is_refused(
    make_rules_dir: Callable[..., Path],
) -> None:
    """``data.area`` exists on outages, not on usage events: a usage rule may not use it."""
    text = rule_yaml(
        "usage-area",
        on="usage.data",
        when=["data.area == NL-20"],
        data="usage, service",
        template="data_bundle_warning",
        channels="sms",
    )
    problems = refused(make_rules_dir({"area.yaml": text}))
    assert any(p.code == "unknown_fact" and "data.area" in p.message for p in problems)


def test_unknown_event_type_and_duplicate_id_are_refused(
    make_rules_dir: Callable[..., Path],
) -> None:
    """An event type outside the catalogue, and a rule id used twice, are both problems."""
    typo = rule_yaml("typo-event", on="service.outage_begun").removeprefix("rules:\n")
    text = rule_yaml("outage-started") + typo
    problems = refused(make_rules_dir({"dupes.yaml": text}))
    codes = {p.code for p in problems}
    assert {"duplicate_rule", "unknown_event"} <= codes


def test_template_missing_a_channel_is_refused(make_rules_dir: Callable[..., Path]) -> None:
    """A rule may only list channels its template has a text for, in every language."""
    text = rule_yaml(
        "roam-mail",
        on="usage.roaming_started",
        data="location",
        template="roaming_info",
        channels="email",
        when=["roaming.zone == eu"],
    )
    problems = refused(make_rules_dir({"roam.yaml": text}))
    missing = [p for p in problems if p.code == "missing_template"]
    assert {m.message for m in missing} == {
        "template 'roaming_info' has no nl text for channel email",
        "template 'roaming_info' has no en text for channel email",
    }


# -- conditions that can never hold -------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "code", "needle"),
    [
        (["outage.active >= 2", "outage.active < 1"], "contradicting_conditions", "outage.active"),
        (["outage.active > 2", "outage.active < 3"], "contradicting_conditions", "outage.active"),
        (
            ["outage.active in [1, 2]", "outage.active not in [1, 2]"],
            "contradicting_conditions",
            "",
        ),
        (["outage.active >= 1", "event.type == usage.data"], "unreachable_rule", "on lists only"),
        (["outage.active == 1.5"], "unreachable_rule", "whole number"),
    ],
)
def test_conditions_that_can_never_hold_are_refused_at_their_line(
    make_rules_dir: Callable[..., Path], when: list[str], code: str, needle: str
) -> None:
    """Two conditions no value satisfies together (a whole number is not between 2 and 3),
    an event type the rule does not listen to, a whole-number fact compared with 1.5: each
    is refused at the line of the condition that makes it impossible."""
    directory = make_rules_dir({"never.yaml": rule_yaml("never-fires", when=when)})
    (problem,) = refused(directory)
    assert problem.code == code
    assert problem.line == line_of(directory / "never.yaml", when[-1])
    assert needle in problem.message
    if code == "contradicting_conditions":
        assert f"(line {line_of(directory / 'never.yaml', when[0])})" in problem.message


def test_a_value_the_event_field_never_has_is_refused(make_rules_dir: Callable[..., Path]) -> None:
    """A payment arrangement's status is started, ended or missed: 'cancelled' never comes."""
    text = rule_yaml(
        "arrangement-cancelled",
        on="billing.payment_arrangement",
        when=["data.status in [cancelled]"],
        data="payment",
        template="arrangement_support",
        channels="app_inbox, email",
    )
    (problem,) = refused(make_rules_dir({"c.yaml": text}))
    assert problem.code == "unreachable_rule"
    assert "data.status is always one of started, ended, missed" in problem.message


def test_conditions_that_can_hold_together_are_not_flagged(
    make_rules_dir: Callable[..., Path],
) -> None:
    """No false alarm: a band, a boundary shared by >= and <=, and != next to ==."""
    when = [
        "outage.active >= 1",
        "outage.active <= 1",
        "outage.active != 2",
        "outage.active in [1, 3]",
    ]
    rs = load_ruleset(make_rules_dir({"ok.yaml": rule_yaml("band", when=when)}))
    assert rs.warnings == ()
    facts = {"event__type": "service.outage_started", "outage__active": 1}
    assert sorted(rs.engine.match(facts)) == ["band", "outage-started"]
