"""Decision tables (proactive.rules): the YAML format, load-time checks, and firing per row."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from proactive.context import CustomerContext, apply_event
from proactive.errors import Problem, RuleFileError
from proactive.events import Event
from proactive.facts import build_facts
from proactive.rules import (
    RuleEngine,
    RuleSet,
    check_ruleset,
    load_ruleset,
    table_offer,
)

REPO = Path(__file__).resolve().parent.parent
SHIPPED_TABLE = (REPO / "rules" / "bundle_table.yaml").read_text(encoding="utf-8")


def refused(directory: Path) -> list[Problem]:
    with pytest.raises(RuleFileError) as info:
        load_ruleset(directory)
    return info.value.problems


def line_of(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(f"{needle!r} not in {path}")


def table_file(table: str, *, when: str = "", offer: str = "", rule_id: str = "t") -> str:
    """A rule file with one usage rule whose ``table:`` block is ``table`` (indented 6)."""
    return (
        "rules:\n"
        f"  - id: {rule_id}\n"
        "    description: a table under test\n"
        "    on: [usage.data]\n" + (f"    when:\n{when}" if when else "") + "    purpose: service\n"
        "    data: [usage]\n"
        "    table:\n"
        f"{table}"
        f"{offer}"
        "    template: data_bundle_warning\n"
        "    channels: [app_inbox]\n"
        "    priority: 30\n"
    )


OFFER_FROM_TABLE = "    offer:\n      select: table\n      purpose: commercial\n"


# -- the shipped reference table ----------------------------------------------------------


def test_shipped_table_loads_clean_and_stays_disabled() -> None:
    """rules/bundle_table.yaml compiles with no problem at all (not even a warning), and is
    disabled so data-bundle-nearly-used keeps its behaviour."""
    rs, problems = check_ruleset(REPO / "rules")
    assert problems == []
    assert rs is not None
    cr = rs.rule("data-bundle-table")
    assert not cr.rule.enabled
    assert cr.table is not None and cr.table.hit == "unique"
    assert [c.fact for c in cr.table.columns] == [
        "usage.pct_used",
        "usage.bundle_gb",
        "usage.structural_need",
    ]
    assert [r.outputs["offer"] for r in cr.table.rows] == [
        None,
        "addon-1gb",
        "data-5gb",
        "data-10gb",
        "data-20gb",
        "data-50gb",
        "data-unlimited",
    ]
    path = REPO / "rules" / "bundle_table.yaml"
    assert cr.table.rows[3].line == line_of(path, "data-10gb,")
    facts = {"event__type": "usage.data", "usage__pct_used": 0.95, "usage__bundle_gb": 5.0}
    facts["usage__structural_need"] = True
    assert "data-bundle-table" not in rs.engine.match(facts)


def _enabled_table(make_rules_dir: Callable[..., Path]) -> RuleSet:
    text = SHIPPED_TABLE.replace("enabled: false", "enabled: true")
    return load_ruleset(make_rules_dir({"bundle_table.yaml": text}))


def _usage(
    make_event: Callable[..., Event], ctx: CustomerContext, start: str, end: str, used: float
) -> Event:
    at = datetime.fromisoformat(start).replace(tzinfo=UTC).replace(day=20, hour=10)
    ev = make_event(
        "usage.data",
        ctx.customer_id,
        at,
        used_mb=used,
        bundle_mb=5120,
        cycle_start=start,
        cycle_end=end,
    )
    apply_event(ctx, ev)
    return ev


CYCLES = [
    ("2026-01-01", "2026-02-01"),
    ("2026-02-01", "2026-03-01"),
    ("2026-03-01", "2026-04-01"),
    ("2026-04-01", "2026-05-01"),
]


@pytest.mark.parametrize(
    ("history_mb", "now_mb", "row", "offer", "advice"),
    [
        (5000.0, 4710.0, 4, "data-10gb", "next_bundle"),  # 92%, over the bundle before: structural
        (2000.0, 4710.0, 2, "addon-1gb", "one_off"),  # 92%, never before: a one-off spike
        (2000.0, 4350.0, 1, None, "early_warning"),  # 85%: warn only
    ],
    ids=["structural", "spike", "early"],
)
def test_table_fires_the_row_of_the_input_and_drives_its_offer(
    make_rules_dir: Callable[..., Path],
    make_event: Callable[..., Event],
    history_mb: float,
    now_mb: float,
    row: int,
    offer: str | None,
    advice: str,
) -> None:
    """From real usage events: durable_rules fires the table's row for this input, the
    outcome carries that row's offer and template values, and the offer is priced for
    this customer from the catalogue (never the bundle they already have)."""
    rs = _enabled_table(make_rules_dir)
    ctx = CustomerContext("T1")
    for start, end in CYCLES[:3]:
        _usage(make_event, ctx, start, end, history_mb)
    ev = _usage(make_event, ctx, *CYCLES[3], now_mb)
    facts = build_facts(ev, ctx, rs.groups_by_type["usage.data"])
    fired = rs.engine.matches(facts)
    assert fired["data-bundle-table"] == (row,)
    cr = rs.rule("data-bundle-table")
    outcome = cr.outcome(facts)
    assert outcome is not None
    assert (outcome.rows, outcome.offer_id, outcome.values) == ((row,), offer, {"advice": advice})
    choice = table_offer(rs.catalogue, ctx, ev.time, cr, outcome)
    if offer is None:
        assert choice is None
    else:
        assert choice is not None and choice.offer_id == offer
        assert f"row {row} of the decision table of data-bundle-table" in choice.basis
        assert choice.recurring is (offer != "addon-1gb")


def test_table_offer_never_offers_the_bundle_the_customer_has(
    make_rules_dir: Callable[..., Path], make_event: Callable[..., Event]
) -> None:
    rs = _enabled_table(make_rules_dir)
    ctx = CustomerContext("T2", plan_id="data-10gb")
    ev = _usage(make_event, ctx, *CYCLES[3], 4710.0)
    cr = rs.rule("data-bundle-table")
    from proactive.rules import Outcome

    assert table_offer(rs.catalogue, ctx, ev.time, cr, Outcome((4,), {}, "data-10gb")) is None


# -- refused at load, with rows and lines -------------------------------------------------

OVERLAP = """\
      hit: unique
      inputs:
        usage.pct_used: "-"
        usage.bundle_gb: [2, 5]
      outputs: [offer]
      rows:
        - ["[0.8, 0.95)", -, -]
        - [">= 0.9",      2, data-5gb]
        - [">= 0.9",      5, data-10gb]
"""


def test_overlapping_rows_of_a_unique_table_are_refused_with_rows_and_lines(
    make_rules_dir: Callable[..., Path],
) -> None:
    """Row 1 ([0.8, 0.95)) overlaps rows 2 and 3 (>= 0.9) on [0.9, 0.95): both overlaps are
    reported at the later row's line, naming both rows, their lines and the input."""
    directory = make_rules_dir({"t.yaml": table_file(OVERLAP, offer=OFFER_FROM_TABLE)})
    path = directory / "t.yaml"
    overlaps = [p for p in refused(directory) if p.code == "table_overlap"]
    first, second = line_of(path, '"[0.8, 0.95)"'), line_of(path, "data-5gb")
    assert [(p.line, p.column) for p in overlaps] == [(second, 11), (second + 1, 11)]
    assert overlaps[0].file == str(path)
    assert overlaps[0].key == "rules.0.table.rows.1"
    assert f"rows 1 and 2 overlap (lines {first} and {second})" in overlaps[0].message
    assert "usage.pct_used in [0.9, 0.95) and usage.bundle_gb = 2" in overlaps[0].message
    assert "rows 1 and 3" in overlaps[1].message and "usage.bundle_gb = 5" in overlaps[1].message


def test_the_same_rows_with_hit_first_load_and_the_first_row_wins(
    make_rules_dir: Callable[..., Path],
) -> None:
    """hit: first accepts overlaps: file order decides, so 0.92 on a 2 GB bundle takes row 1."""
    table = OVERLAP.replace("hit: unique", "hit: first")
    rs = load_ruleset(make_rules_dir({"t.yaml": table_file(table, offer=OFFER_FROM_TABLE)}))
    facts = {"event__type": "usage.data", "usage__pct_used": 0.92, "usage__bundle_gb": 2}
    assert rs.engine.matches(facts)["t"] == (1, 2)
    outcome = rs.rule("t").outcome(facts)
    assert outcome is not None and (outcome.rows, outcome.offer_id) == ((1,), None)
    facts["usage__pct_used"] = 0.97
    outcome = rs.rule("t").outcome(facts)
    assert outcome is not None and (outcome.rows, outcome.offer_id) == ((2,), "data-5gb")


GAPS = """\
      hit: unique
      complete: true
      inputs:
        usage.pct_used: "[0, 1)"
        usage.bundle_gb: [2, 5, 10]
      outputs: [tip]
      rows:
        - ["< 0.5",        -,       relax]
        - ["[0.5, 0.8)",   [2, 5],  watch]
        - ["[0.8, 1)",     -,       act]
"""


def test_gaps_of_a_complete_table_are_refused_naming_the_uncovered_input(
    make_rules_dir: Callable[..., Path],
) -> None:
    """complete: true, and nothing covers 10 GB bundles between 50% and 80%: the gap is
    named exactly, at the line of ``complete``."""
    directory = make_rules_dir({"t.yaml": table_file(GAPS)})
    gaps = [p for p in refused(directory) if p.code == "table_gap"]
    assert len(gaps) == 1
    assert gaps[0].line == line_of(directory / "t.yaml", "complete: true")
    assert "no row covers usage.pct_used in [0.5, 0.8) and usage.bundle_gb = 10" in gaps[0].message


def test_the_rules_when_limits_what_a_complete_table_must_cover(
    make_rules_dir: Callable[..., Path],
) -> None:
    """With ``when: usage.pct_used >= 0.5`` the first row is outside the rule (a warning, not
    an error) and a table without the 10 GB gap loads."""
    table = GAPS.replace("[2, 5],  watch", "-,       watch")
    when = "      - usage.pct_used >= 0.5\n"
    rs, problems = check_ruleset(make_rules_dir({"t.yaml": table_file(table, when=when)}))
    assert rs is not None
    assert [(p.code, p.key) for p in problems] == [
        ("table_unreachable_row", "rules.0.table.rows.0")
    ]
    assert rs.warnings == tuple(problems)


def test_gap_over_whole_numbers_and_text_values(make_rules_dir: Callable[..., Path]) -> None:
    """days_left is a whole number: < 3 and > 3 leave exactly 3 uncovered. A text column
    with a fixed set of values (customer.language: nl, en) must cover each of them."""
    table = """\
      hit: unique
      complete: true
      inputs:
        usage.days_left: "-"
        customer.language: "-"
      outputs: [tip]
      rows:
        - ["< 3", nl, soon]
        - ["> 3", -,  later]
        - ["< 3", en, soon]
"""
    text = table_file(table).replace("data: [usage]", "data: [usage, profile]")
    gaps = [p.message for p in refused(make_rules_dir({"t.yaml": text})) if p.code == "table_gap"]
    assert len(gaps) == 1
    assert "no row covers usage.days_left = 3 " in gaps[0]


def test_every_cell_mistake_is_reported_at_its_cell_in_one_run(
    make_rules_dir: Callable[..., Path],
) -> None:
    """An unquoted range, a value the column does not have, an unknown product and a short
    row: four problems, each at its own cell or row."""
    table = """\
      hit: first
      inputs:
        usage.pct_used: "-"
        usage.bundle_gb: [2, 5]
      outputs: [offer]
      rows:
        - [[0.8, 0.9], 2, data-5gb]
        - [">= 0.9", 3, data-5gb]
        - [">= 0.9", 5, data-7gb]
        - [">= 0.9", 5]
"""
    directory = make_rules_dir({"t.yaml": table_file(table, offer=OFFER_FROM_TABLE)})
    path = directory / "t.yaml"
    got = {(p.code, p.line, p.column) for p in refused(directory)}
    assert got == {
        ("table_cell", line_of(path, "[[0.8, 0.9]"), 12),
        ("table_value", line_of(path, "3, data-5gb"), 22),
        ("unknown_offer", line_of(path, "data-7gb"), 25),
        ("table_row", line_of(path, '[">= 0.9", 5]'), 11),
    }


def test_input_columns_are_checked_like_conditions(make_rules_dir: Callable[..., Path]) -> None:
    """An unknown fact, a fact whose data category is not declared, and an event field the
    rule's events do not have are refused at the column's line."""
    table = """\
      hit: collect
      inputs:
        usage.pct_usd: "-"
        customer.bereaved: "-"
        data.area: "-"
      outputs: [tip]
      rows:
        - [-, -, -, x]
"""
    directory = make_rules_dir({"t.yaml": table_file(table)})
    path = directory / "t.yaml"
    got = {(p.code, p.line) for p in refused(directory)}
    assert got == {
        ("unknown_fact", line_of(path, "usage.pct_usd")),
        ("undeclared_data", line_of(path, "customer.bereaved")),
        ("unknown_fact", line_of(path, "data.area")),
    }


def test_offer_column_and_select_table_go_together(make_rules_dir: Callable[..., Path]) -> None:
    """An offer output needs ``offer: {select: table}`` and the other way round; collect
    cannot give one offer."""
    only_column = table_file(OVERLAP.replace("hit: unique", "hit: first"))
    only_select = table_file(
        'hit: first\n      inputs: {usage.pct_used: "-"}\n      outputs: [tip]\n'
        "      rows: [[-, x]]\n".replace("hit", "      hit", 1),
        offer=OFFER_FROM_TABLE,
    )
    collect = table_file(OVERLAP.replace("hit: unique", "hit: collect"), offer=OFFER_FROM_TABLE)
    for text, key in (
        (only_column, "rules.0.table.outputs"),
        (only_select, "rules.0.offer.select"),
        (collect, "rules.0.table.hit"),
    ):
        problems = refused(make_rules_dir({"t.yaml": text}))
        assert [(p.code, p.key) for p in problems] == [("table_offer", key)], text


def test_shadowed_row_of_a_first_table_is_a_warning(make_rules_dir: Callable[..., Path]) -> None:
    table = """\
      hit: first
      inputs:
        usage.pct_used: "-"
      outputs: [tip]
      rows:
        - [">= 0.5", a]
        - [">= 0.9", b]
        - ["< 0.5", c]
"""
    rs, problems = check_ruleset(make_rules_dir({"t.yaml": table_file(table)}))
    assert rs is not None
    assert [(p.code, p.key) for p in problems] == [("table_shadowed_row", "rules.0.table.rows.1")]
    assert "row 2 never wins: row(s) 1 before it" in problems[0].message


def test_collect_gives_every_matching_row_in_order(make_rules_dir: Callable[..., Path]) -> None:
    table = """\
      hit: collect
      inputs:
        usage.pct_used: "-"
        usage.structural_need: "-"
      outputs: [tip, weight]
      rows:
        - [">= 0.5", -,     half_used,  1]
        - [">= 0.9", true,  upgrade,    3]
        - [">= 0.9", false, addon,      2]
"""
    rs = load_ruleset(make_rules_dir({"t.yaml": table_file(table)}))
    facts = {"event__type": "usage.data", "usage__pct_used": 0.95, "usage__structural_need": True}
    assert rs.engine.matches(facts)["t"] == (1, 2)
    outcome = rs.rule("t").outcome(facts)
    assert outcome is not None
    assert outcome.values == {"tip": ["half_used", "upgrade"], "weight": [1, 3]}
    assert outcome.offer_id is None


def test_text_column_with_a_fixed_set_of_values(make_rules_dir: Callable[..., Path]) -> None:
    """data.status of a payment arrangement is started, ended or missed: a complete table
    over the three loads; a cell naming another value is refused, and so is leaving one out."""
    rule = """\
rules:
  - id: arrangement-table
    description: arrangement messages by status
    on: [billing.payment_arrangement]
    purpose: service
    data: [payment]
    table:
      hit: unique
      complete: true
      inputs:
        data.status: "-"
      outputs: [tone]
      rows:
        - [started, welcome]
        - [[ended, missed], {last}]
    template: arrangement_support
    channels: [app_inbox]
    priority: 30
"""
    ok = load_ruleset(make_rules_dir({"a.yaml": rule.format(last="calm")}))
    facts = {"event__type": "billing.payment_arrangement", "data__status": "missed"}
    assert ok.engine.matches(facts)["arrangement-table"] == (2,)
    bad = rule.format(last="calm").replace("[ended, missed]", "[ended, cancelled]")
    (problem,) = refused(make_rules_dir({"a.yaml": bad}))
    assert problem.code == "table_value"
    assert "cancelled is not one of the values of data.status: started, ended, missed" in (
        problem.message
    )
    gap = rule.format(last="calm").replace("[ended, missed]", "ended")
    (problem,) = refused(make_rules_dir({"a.yaml": gap}))
    assert (problem.code, problem.message.split(" (")[0]) == (
        "table_gap",
        "no row covers data.status = missed",
    )


# -- durable_rules and the Python reading agree ---------------------------------------------

PROPERTY_TABLE = """\
      hit: first
      inputs:
        usage.pct_used: "-"
        usage.days_left: "-"
        customer.segment: "-"
        customer.has_open_complaint: "-"
      outputs: [tip]
      rows:
        - ["[0.8, 0.9)", "<= 3", consumer, -, a]
        - [">= 0.9", -, [consumer, youth], false, b]
        - ["(0.5, 0.8]", "> 10", -, true, c]
        - [-, 3, business, -, d]
        - ["< 0.5", -, -, -, e]
"""


def test_engine_rows_agree_with_the_python_reading_of_the_table(
    make_rules_dir: Callable[..., Path],
) -> None:
    """For 400 generated fact messages (with facts missing now and then) the rows durable_rules
    fires are exactly the rows whose cells hold in Python."""
    text = table_file(PROPERTY_TABLE).replace("data: [usage]", "data: [usage, profile, complaint]")
    rs = load_ruleset(make_rules_dir({"p.yaml": text}))
    cr = rs.rule("t")
    assert cr.table is not None
    engine = RuleEngine([cr.__class__(cr.rule, cr.conditions, cr.file, cr.line, cr.table)], "tp")
    rng = random.Random(7)
    values: dict[str, list[Any]] = {
        "usage__pct_used": [0.1, 0.5, 0.6, 0.8, 0.85, 0.9, 0.95, 1.2],
        "usage__days_left": [0, 2, 3, 4, 11, 20],
        "customer__segment": ["consumer", "youth", "business", "smb"],
        "customer__has_open_complaint": [True, False],
    }
    seen: set[int] = set()
    for _ in range(400):
        facts: dict[str, Any] = {"event__type": "usage.data"}
        for k, vs in values.items():
            if rng.random() < 0.9:
                facts[k] = rng.choice(vs)
        want = tuple(r.number for r in cr.table.matching(facts))
        got = engine.matches(facts).get("t", ())
        assert got == want, facts
        seen |= set(got)
    assert seen == {1, 2, 3, 4, 5}


def test_the_table_offer_reaches_the_decision_and_the_message(
    make_rules_dir: Callable[..., Path],
) -> None:
    """End to end through the engine: with the table enabled (and the selector rule off),
    a structural need at 92% of 5 GB gets the table's data-10gb, the decision names the
    row, and the template sees the row's values."""
    from proactive.harness import Harness

    text = SHIPPED_TABLE.replace("enabled: false", "enabled: true")
    selector = (REPO / "rules" / "data_bundle.yaml").read_text(encoding="utf-8")
    off = selector.replace(
        "  - id: data-bundle-nearly-used\n",
        "  - id: data-bundle-nearly-used\n    enabled: false\n",
        1,
    )
    assert off != selector
    h = Harness(rules_dir=make_rules_dir({"bundle_table.yaml": text, "data_bundle.yaml": off}))
    h.event(
        "customer.profile_updated",
        "T1",
        "2026-01-15T09:00:00+00:00",
        language="en",
        preferred_channel="app_inbox",
    )
    h.event(
        "customer.consent_changed",
        "T1",
        "2026-01-15T09:01:00+00:00",
        purpose="commercial",
        channel="all",
        granted=True,
    )
    for (start, end), used in zip(CYCLES, (5300, 5400, 5200, 4710), strict=True):
        at = datetime.fromisoformat(start).replace(tzinfo=UTC).replace(day=20, hour=10)
        h.event(
            "usage.data", "T1", at, used_mb=used, bundle_mb=5120, cycle_start=start, cycle_end=end
        )
    (d,) = [x for x in h.decisions_for("T1", "data-bundle-table") if x["action"]["offer"]]
    assert d["action"]["offer"]["id"] == "data-10gb"
    assert "row 4 of the decision table" in d["action"]["offer"]["basis"]
    assert d["verdict"] in ("send", "review"), d["reasons"]
