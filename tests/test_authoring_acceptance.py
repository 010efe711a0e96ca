"""A product owner's afternoon, end to end: a new rule written only from docs/rules.md.

The worked example of the guide ("an invoice 30% above the usual → a friendly
explanation") is copied into a rule set next to the shipped rules — no Python — and
then goes through the three tools a product team uses: it lints clean, its Gherkin
scenario passes with ``proactive test``, and a backtest over a history shows it as a
new rule that reaches the customers whose invoice jumped, against the shipped rules as
the baseline.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "docs" / "examples"


def _proactive(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    policy = str(REPO / "ethics" / "policy.yaml")
    return subprocess.run(
        [sys.executable, "-m", "proactive", "--policy", policy, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _scenario_from_the_guide() -> str:
    """The Gherkin scenario exactly as docs/rules.md shows it."""
    guide = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    m = re.search(r"```gherkin\n(Scenario: an invoice well above.*?)```", guide, re.DOTALL)
    assert m, "docs/rules.md no longer shows the worked example's scenario"
    body = "\n".join("  " + line for line in m.group(1).splitlines())
    return f"Feature: Invoices higher than usual\n\n{body}\n"


def _event(n: int, customer: str, day: str, etype: str, **data: object) -> str:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"acc-{n}",
            "source": "/billing",
            "type": etype,
            "subject": customer,
            "time": f"{day}T10:00:00+02:00",
            "data": data,
        }
    )


def test_a_rule_from_the_guide_lints_passes_its_scenario_and_shows_in_a_backtest(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules, ignore=shutil.ignore_patterns("features"))
    shutil.copy(EXAMPLES / "invoice_higher_than_usual.yaml", rules)
    shutil.copy(EXAMPLES / "templates" / "invoice_higher_than_usual.yaml", rules / "templates")
    (rules / "features").mkdir()
    (rules / "features" / "invoices.feature").write_text(_scenario_from_the_guide())

    lint = _proactive("--rules", str(rules), "rules", "lint", cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "9 rules" in lint.stdout

    scenarios = _proactive(
        "--rules", str(rules), "test", str(rules), str(REPO / "ethics"), cwd=tmp_path
    )
    assert scenarios.returncode == 0, scenarios.stdout + scenarios.stderr
    assert "an invoice well above the usual amount is explained: PASS" in scenarios.stdout

    # a history: two customers with three usual invoices, then one jumps by 45%
    lines, n = [], 0
    for customer, last in (("A1", 58.2), ("A2", 41.5)):
        n += 1
        lines.append(
            _event(
                n,
                customer,
                "2026-01-10",
                "customer.profile_updated",
                language="en",
                preferred_channel="email",
            )
        )
        for month, amount in ((2, 40.0), (3, 42.0), (4, 41.0), (5, last)):
            n += 1
            lines.append(
                _event(
                    n,
                    customer,
                    f"2026-{month:02d}-05",
                    "billing.invoice_issued",
                    invoice_id=f"INV-{customer}-{month}",
                    amount_eur=amount,
                    due_date=f"2026-{month:02d}-20",
                )
            )
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join(lines) + "\n")
    out = tmp_path / "bt"
    bt = _proactive(
        "--rules",
        str(rules),
        "backtest",
        "--events",
        str(history),
        "--rules",
        str(rules),
        "--baseline",
        str(REPO / "rules"),
        "--out",
        str(out),
        "--json",
        cwd=tmp_path,
    )
    assert bt.returncode == 0, bt.stdout + bt.stderr
    assert "invoice-higher-than-usual" in bt.stdout
    assert (out / "backtest.html").is_file()
    report = json.loads(bt.stdout)
    text = json.dumps(report)
    assert "invoice-higher-than-usual" in text
    decisions = [
        json.loads(x) for x in (out / "candidate" / "decisions.jsonl").read_text().splitlines() if x
    ]
    fired = {d["customer_id"] for d in decisions if d["rule_id"] == "invoice-higher-than-usual"}
    assert fired == {"A1"}
