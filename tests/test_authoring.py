"""Rule authoring tools: lint, schema, why."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from proactive.authoring import CODES, lint, rules_schema, schema_text, why
from proactive.context import CustomerContext
from proactive.datafile import DataLoader
from proactive.events import event_from_dict
from proactive.harness import Harness
from proactive.rules import RESERVED, WARNING_CODES, load_ruleset

REPO = Path(__file__).resolve().parent.parent

BROKEN = """rules:
  - id: broken-one
    description: three mistakes
    on: [billing.invoice_issued]
    when:
      - billing.invoice_ratio >= high
    purpose: service
    data: [billing]
    template: no_such_template
    channels: [sms]
    priority: 10
    colour: red
"""


def _broken_dir(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(REPO / "rules", d, ignore=shutil.ignore_patterns("features"))
    (d / "broken.yaml").write_text(BROKEN)
    return d


def test_lint_reports_three_mistakes_with_their_lines(tmp_path: Path) -> None:
    ruleset, problems = lint(_broken_dir(tmp_path))
    assert ruleset is None
    got = sorted((p.line, p.code) for p in problems)
    assert got == [(6, "bad_condition"), (9, "unknown_template"), (12, "unknown_field")]
    assert all(p.file.endswith("broken.yaml") for p in problems)


def test_lint_command_prints_file_line_column_code_and_fails(tmp_path: Path) -> None:
    from proactive.cli import main

    result = CliRunner().invoke(main, ["--rules", str(_broken_dir(tmp_path)), "rules", "lint"])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if "broken.yaml:" in ln]
    assert len(lines) == 3
    assert any(":6:9: bad_condition:" in ln for ln in lines)
    ok = CliRunner().invoke(main, ["--rules", str(REPO / "rules"), "rules", "lint"])
    assert ok.exit_code == 0 and ok.output.startswith("ok: 8 rules")


def test_schema_describes_every_rule_field() -> None:
    schema = rules_schema()
    rule = schema["$defs"]["Rule"]
    assert {
        "id",
        "on",
        "when",
        "purpose",
        "data",
        "offer",
        "template",
        "channels",
        "priority",
        "cooldown",
    } <= set(rule["properties"])
    assert rule["additionalProperties"] is False


def test_why_names_the_condition_that_failed() -> None:
    rs = load_ruleset(REPO / "rules")
    event = event_from_dict(
        {
            "specversion": "1.0", "id": "w1", "source": "/t", "type": "usage.data", "subject": "W1",
            "time": "2026-05-20T10:00:00Z",
            "data": {"used_mb": 2000, "bundle_mb": 5120, "cycle_start": "2026-05-01", "cycle_end": "2026-06-01"},
        }
    )  # fmt: skip
    results = {r.rule_id: r for r in why(rs, CustomerContext("W1"), event)}
    warning = results["data-bundle-nearly-used"]
    assert warning.listens and not warning.fired
    failed = [c for c in warning.conditions if not c.held]
    assert [c.text for c in failed] == ["usage.pct_used >= 0.9"]
    assert abs(failed[0].actual - 2000 / 5120) < 0.001
    assert not results["outage-started"].listens
    fired = {
        r.rule_id
        for r in why(
            rs,
            CustomerContext("W1"),
            event_from_dict(
                {
                    **event.to_cloudevent(),
                    "data": {**event.to_cloudevent()["data"], "used_mb": 4800},
                }
            ),
        )
        if r.fired
    }
    assert fired == {"data-bundle-nearly-used"}


# -- one run reports everything -----------------------------------------------------------

THREE_MISTAKES = """\
rules:
  - id: roaming-table
    description: three mistakes of three kinds
    on: [usage.roaming_started]
    when:
      - roaming.zone == world
      - roaming.zone == eu
    purpose: service
    data: [location, usage]
    table:
      hit: unique
      inputs:
        usage.pct_used: "-"
      outputs: [offer]
      rows:
        - [">= 0.5", addon-5gb]
        - ["< 0.5", -]
    offer: {select: table, purpose: commercial}
    template: roaming_info
    channels: [sms]
    priority: 60
    windw: event
"""


def test_lint_reports_a_contradiction_an_unknown_product_and_a_typo_together(
    tmp_path: Path,
) -> None:
    """A misspelt field does not hide the rule's other mistakes: the contradiction, the
    product the catalogue does not have and the typo are reported in one run."""
    d = tmp_path / "rules"
    shutil.copytree(REPO / "rules", d, ignore=shutil.ignore_patterns("features"))
    (d / "three.yaml").write_text(THREE_MISTAKES)
    ruleset, problems = lint(d)
    assert ruleset is None
    got = [(p.line, p.column, p.code) for p in problems]
    assert got == [
        (7, 9, "contradicting_conditions"),
        (16, 22, "unknown_offer"),
        (22, 5, "unknown_field"),
    ]
    assert (
        "'roaming.zone == eu' contradicts 'roaming.zone == world' (line 6)" in problems[0].message
    )
    assert all(p.file == str(d / "three.yaml") and p.code in CODES for p in problems)


def test_warnings_are_printed_but_do_not_fail_lint(tmp_path: Path) -> None:
    """A second rule with the same trigger as outage-started is a warning: printed as
    file:line:column: warning: code: ..., exit status 0, and counted on the ok line."""
    from proactive.cli import main

    d = tmp_path / "rules"
    shutil.copytree(REPO / "rules", d, ignore=shutil.ignore_patterns("features"))
    copy = (REPO / "rules" / "outage.yaml").read_text().split("  - id: outage-resolved")[0]
    (d / "zz_copy.yaml").write_text(copy.replace("id: outage-started", "id: outage-started-copy"))
    result = CliRunner().invoke(main, ["--rules", str(d), "rules", "lint"])
    assert result.exit_code == 0, result.output
    lines = (d / "zz_copy.yaml").read_text().splitlines()
    on = next(n for n, text in enumerate(lines, 1) if text.startswith("    on:"))
    assert result.output.startswith(
        f"{d / 'zz_copy.yaml'}:{on}:5: warning: duplicate_trigger: [rules.0.on]"
    )
    assert "same events and conditions as 'outage-started'" in result.output
    assert result.output.splitlines()[-1].endswith(", 1 warning(s)")
    as_json = CliRunner().invoke(main, ["--rules", str(d), "rules", "lint", "--json"])
    (record,) = [json.loads(ln) for ln in as_json.stdout.splitlines()]
    assert (record["severity"], record["code"], record["line"]) == (
        "warning",
        "duplicate_trigger",
        on,
    )


def test_every_code_is_documented_and_warnings_are_known_codes() -> None:
    """The registry of codes, docs/rules.md and the warning set agree."""
    docs = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    section = docs.split("\n## Lint codes\n")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (error|warning) \|", section, flags=re.MULTILINE)
    assert {code for code, _ in rows} == set(CODES)
    assert {code for code, level in rows if level == "warning"} == WARNING_CODES
    for code in WARNING_CODES:
        assert CODES[code].startswith("warning:")


def test_docs_list_every_event_type_and_fact() -> None:
    """docs/rules.md is the product owner's catalogue: it must not miss an event or fact."""
    from proactive.events import PAYLOADS
    from proactive.facts import FACTS

    docs = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    missing = [t for t in PAYLOADS if f"| `{t}` |" not in docs]
    missing += [f for f in FACTS if not f.startswith("data.") and f"| `{f}` |" not in docs]
    assert missing == []


# -- the shipped JSON Schema ----------------------------------------------------------------


def _rule_files() -> list[Path]:
    shipped = [p for p in sorted((REPO / "rules").glob("*.yaml")) if p.name not in RESERVED]
    return [*shipped, *sorted((REPO / "docs" / "examples").glob("*.yaml"))]


def test_shipped_schema_is_what_the_models_generate() -> None:
    """rules/rule.schema.json cannot drift from the models. If this fails, regenerate it:
    proactive rules schema > rules/rule.schema.json"""
    shipped = (REPO / "rules" / "rule.schema.json").read_text(encoding="utf-8")
    assert shipped == schema_text()
    Draft202012Validator.check_schema(json.loads(shipped))


def test_every_rule_file_names_the_schema_and_validates_against_it() -> None:
    """Each rule file starts with the yaml-language-server line (editors then complete and
    check it) and is valid under the schema; the schema is not vacuous."""
    validator = Draft202012Validator(json.loads((REPO / "rules" / "rule.schema.json").read_text()))
    files = _rule_files()
    assert len(files) >= 7
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert text.splitlines()[0] == "# yaml-language-server: $schema=./rule.schema.json", path
        errors = [e.message for e in validator.iter_errors(yaml.load(text, Loader=DataLoader))]
        assert errors == [], path
    bad = yaml.load(BROKEN, Loader=DataLoader)
    assert any("colour" in e.message for e in validator.iter_errors(bad))


# -- the worked example of docs/rules.md --------------------------------------------------


def _with_example(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(REPO / "rules", d, ignore=shutil.ignore_patterns("features"))
    example = REPO / "docs" / "examples"
    shutil.copy(example / "invoice_higher_than_usual.yaml", d)
    shutil.copy(example / "templates" / "invoice_higher_than_usual.yaml", d / "templates")
    return d


def _invoice(h: Harness, month: int, amount: float) -> None:
    h.event(
        "billing.invoice_issued",
        "C1",
        f"2026-{month:02d}-05T11:00:00Z",
        invoice_id=f"INV-{month}",
        amount_eur=amount,
        due_date=f"2026-{month:02d}-20",
    )


def test_worked_example_lints_clean(tmp_path: Path) -> None:
    ruleset, problems = lint(_with_example(tmp_path))
    assert problems == []
    assert ruleset is not None and ruleset.rule("invoice-higher-than-usual").rule.enabled


def test_worked_example_explains_an_invoice_30_percent_above_the_average(tmp_path: Path) -> None:
    """Three invoices of about EUR 40, then EUR 58.20 (1.44 times the average): the customer
    gets the explanation, in their language, with the amount. EUR 45 (1.12) gets nothing,
    and neither does a high second invoice (too little history to call anything usual)."""
    rules = _with_example(tmp_path)
    h = Harness(rules_dir=rules, policy=REPO / "ethics" / "policy.yaml")
    h.event("customer.profile_updated", "C1", "2026-01-01T09:00:00Z", language="en")
    for month, amount in ((1, 40.0), (2, 42.0), (3, 41.0), (4, 45.0)):
        _invoice(h, month, amount)
    assert h.decisions_for("C1", "invoice-higher-than-usual") == []
    _invoice(h, 5, 58.2)
    (decision,) = h.decisions_for("C1", "invoice-higher-than-usual")
    assert decision["verdict"] == "send", decision["reasons"]
    (note,) = h.notifications_for("C1", "invoice-higher-than-usual")
    assert note["data"]["subject"] == "Your invoice is higher than usual"
    assert "Your new invoice is €58.20" in note["data"]["body"]

    young = Harness(rules_dir=rules, policy=REPO / "ethics" / "policy.yaml")
    _invoice(young, 1, 30.0)
    _invoice(young, 2, 90.0)
    assert young.decisions_for("C1", "invoice-higher-than-usual") == []


# -- why, for a decision table ------------------------------------------------------------


def test_why_shows_each_row_of_a_table_and_what_it_decided(tmp_path: Path) -> None:
    d = tmp_path / "rules"
    shutil.copytree(REPO / "rules", d, ignore=shutil.ignore_patterns("features"))
    table = (d / "bundle_table.yaml").read_text().replace("enabled: false", "enabled: true")
    (d / "bundle_table.yaml").write_text(table)
    event = event_from_dict(
        {
            "specversion": "1.0", "id": "w2", "source": "/t", "type": "usage.data", "subject": "W2",
            "time": "2026-05-20T10:00:00Z",
            "data": {"used_mb": 4710, "bundle_mb": 5120, "cycle_start": "2026-05-01", "cycle_end": "2026-06-01"},
        }
    )  # fmt: skip
    results = {r.rule_id: r for r in why(load_ruleset(d), CustomerContext("W2"), event)}
    table_result = results["data-bundle-table"]
    assert table_result.fired
    assert [r.number for r in table_result.rows if r.held] == [2]
    text = table_result.explain()
    assert "row 2 (line 30): ✓ usage.pct_used >= 0.9  ✓ not usage.structural_need" in text
    assert text.endswith("table decides: row 2 → offer=addon-1gb, advice=one_off")
