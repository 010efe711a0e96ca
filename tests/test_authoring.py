"""Rule authoring tools: lint, schema, why."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from proactive.authoring import lint, rules_schema, why
from proactive.context import CustomerContext
from proactive.events import event_from_dict
from proactive.rules import load_ruleset

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
    assert ok.exit_code == 0 and ok.output.startswith("ok: 7 rules")


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
