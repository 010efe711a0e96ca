"""``proactive test``: a product team's feature files run with the shipped step library.

Each test writes feature files into a copy of ``rules/`` and runs the command
through click's CliRunner (pytest runs in-process, on a throw-away directory).
"""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from proactive.cli import main
from proactive.cli.test_cmd import closest_steps, library_steps, plan
from proactive.steps import World, customer, data_usage, on_plan

REPO = Path(__file__).resolve().parent.parent
POLICY = REPO / "ethics" / "policy.yaml"

BACKGROUND = """\
Feature: Data bundle warnings
  Background:
    Given a customer "C1" who reads "en" and prefers "app_inbox"
    And the customer "C1" is on plan "data-5gb"
"""

WARNED = """
  Scenario: a warning at 92 percent
    When the customer "C1" has used 4.6 GB of the 5 GB bundle on 2026-05-20 at 10:00
    Then customer "C1" gets a message from rule "data-bundle-nearly-used"
"""

QUIET = """
  Scenario: no warning at 40 percent
    When the customer "C1" has used 2.0 GB of the 5 GB bundle on 2026-05-20 at 10:00
    Then customer "C1" gets no message from rule "data-bundle-nearly-used"
"""

TOO_EARLY = """
  Scenario: a warning expected too early
    When the customer "C1" has used 3.1 GB of the 5 GB bundle on 2026-05-20 at 10:00
    Then customer "C1" gets a message from rule "data-bundle-nearly-used"
"""

TYPO = """
  Scenario: a step with a typo
    When the customer "C1" has usd 3.1 GB of the 5 GB bundle on 2026-05-20 at 10:00
    Then customer "C1" gets no message from rule "data-bundle-nearly-used"
"""


@pytest.fixture
def team_rules(make_rules_dir: Callable[..., Path]) -> Callable[..., Path]:
    """Factory: a copy of rules/ whose features/ holds one feature file of these scenarios."""

    def build(*scenarios: str, name: str = "bundle.feature") -> Path:
        rules = make_rules_dir()
        (rules / "features").mkdir()
        (rules / "features" / name).write_text(BACKGROUND + "".join(scenarios), encoding="utf-8")
        return rules

    return build


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["--policy", str(POLICY), "test", *args])


def test_passing_scenarios_exit_0_with_a_pass_line_each(team_rules: Callable[..., Path]) -> None:
    result = run(str(team_rules(WARNED, QUIET)))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Data bundle warnings › a warning at 92 percent: PASS" in lines
    assert "Data bundle warnings › no warning at 40 percent: PASS" in lines
    assert lines[-1] == "2 passed"


def test_a_failing_scenario_exits_1_and_says_which_rule_did_not_fire_and_why(
    team_rules: Callable[..., Path],
) -> None:
    result = run(str(team_rules(WARNED, TOO_EARLY)))
    assert result.exit_code == 1, result.output
    out = result.output
    assert "Data bundle warnings › a warning expected too early: FAIL" in out
    assert "bundle.feature, line 12: Then customer" in out  # the step, where it is
    assert "expected a message from data-bundle-nearly-used, got none" in out
    assert "did not fire:" in out
    # 3.1 of 5 GB: the condition that failed, with the actual value
    assert "- data-bundle-nearly-used: usage.pct_used >= 0.9 failed (usage.pct_used = 0.62)" in out
    assert "not listening to usage.data: outage-started" in out
    assert "Traceback" not in out
    assert out.splitlines()[-1] == "1 passed, 1 failed"


def test_the_scenarios_run_against_the_rule_directory_given(
    team_rules: Callable[..., Path],
) -> None:
    """A team lowers its threshold to 60%: its scenario passes on its rules, not on ours."""
    rules = team_rules(TOO_EARLY)
    rule_file = rules / "data_bundle.yaml"
    rule_file.write_text(
        rule_file.read_text().replace("usage.pct_used >= 0.9", "usage.pct_used >= 0.6"),
        encoding="utf-8",
    )
    assert run(str(rules)).exit_code == 0
    features_only = Path(tempfile.mkdtemp(dir=rules.parent)) / "features"
    features_only.mkdir()
    (features_only / "x.feature").write_text(BACKGROUND + TOO_EARLY, encoding="utf-8")
    theirs = CliRunner().invoke(
        main, ["--rules", str(REPO / "rules"), "--policy", str(POLICY), "test", str(features_only)]
    )
    assert theirs.exit_code == 1, theirs.output


def test_a_features_directory_may_be_named_itself(team_rules: Callable[..., Path]) -> None:
    rules = team_rules(WARNED)
    assert plan((rules / "features",), REPO / "rules", POLICY).rules_dir == rules.resolve()
    assert run(str(rules / "features")).exit_code == 0


def test_k_selects_scenarios(team_rules: Callable[..., Path]) -> None:
    result = run(str(team_rules(WARNED, TOO_EARLY)), "-k", "92")
    assert result.exit_code == 0, result.output
    assert "a warning at 92 percent: PASS" in result.output
    assert "too early" not in result.output
    assert result.output.splitlines()[-1] == "1 passed, 1 not selected by -k"
    none = run(str(team_rules(WARNED)), "-k", "nothing_like_this")
    assert none.exit_code == 5
    assert "no scenario matches -k 'nothing_like_this'" in none.output


def test_quiet_prints_failures_only(team_rules: Callable[..., Path]) -> None:
    result = run(str(team_rules(WARNED, TOO_EARLY)), "-q")
    assert "PASS" not in result.output
    assert "a warning expected too early: FAIL" in result.output


def test_an_unknown_step_is_named_with_the_closest_sentences(
    team_rules: Callable[..., Path],
) -> None:
    result = run(str(team_rules(TYPO)))
    assert result.exit_code == 1, result.output
    out = result.output
    assert 'bundle.feature, line 7: When the customer "C1" has usd 3.1 GB' in out
    assert "no sentence of the step library matches this step (see docs/steps.md)" in out
    assert (
        'When the customer "<customer>" has used <used> GB of the <bundle> GB bundle on <day> at <clock>'
        in out
    )
    assert "Traceback" not in out and "StepDefinitionNotFoundError" not in out


def test_an_unreadable_feature_file_is_reported_and_the_others_still_run(
    team_rules: Callable[..., Path],
) -> None:
    rules = team_rules(WARNED)
    (rules / "features" / "broken.feature").write_text(
        "Feature: broken\n  Scenario x\n    Given nothing\n", encoding="utf-8"
    )
    result = run(str(rules))
    assert result.exit_code == 1, result.output
    assert "ERROR: a feature file cannot be read" in result.output
    assert "broken.feature" in result.output
    assert "a warning at 92 percent: PASS" in result.output


def test_junit_xml_for_ci(team_rules: Callable[..., Path], tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    result = run(str(team_rules(WARNED, TOO_EARLY)), "--junit-xml", str(report))
    assert result.exit_code == 1
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("proactive", "2", "1")


def test_usage_errors_exit_2(tmp_path: Path, team_rules: Callable[..., Path]) -> None:
    assert run(str(tmp_path)).exit_code == 2  # no feature files
    missing_policy = CliRunner().invoke(
        main, ["--policy", str(tmp_path / "none.yaml"), "test", str(team_rules(WARNED))]
    )
    assert missing_policy.exit_code == 2
    assert "no ethics policy" in missing_policy.output


def test_the_step_library_is_listed_for_suggestions() -> None:
    steps = library_steps()
    assert 'Given a customer "<customer>" who reads "<language>" and prefers "<channel>"' in steps
    assert any(s.startswith('Then no message from rule "<rule>" reaches') for s in steps)
    assert closest_steps('a customr "C3" who reads "en" and prefers "sms"', steps)[0] == (
        'Given a customer "<customer>" who reads "<language>" and prefers "<channel>"'
    )


def test_explain_names_each_rule_that_did_not_fire_and_who_does_not_listen(
    tmp_path: Path,
) -> None:
    world = World(tmp_path)
    customer(world, "C1", "en", "app_inbox")
    on_plan(world, "C1", "data-5gb")
    data_usage(world, "C1", 3.1, 5, "2026-05-19", "10:00")
    data_usage(world, "C1", 4.6, 5, "2026-05-20", "10:00")
    text = world.explain("C1")
    lines = text.splitlines()
    assert lines[0] == "what happened for C1 (latest event usage.data at 2026-05-20 10:00):"
    assert "  usage.data at 2026-05-19 10:00:" in lines
    assert (
        "    - data-bundle-nearly-used: usage.pct_used >= 0.9 failed (usage.pct_used = 0.62)"
        in lines
    )
    assert any(x.startswith("    - data-bundle-nearly-used [primary] app_inbox/en") for x in lines)
    assert "    switched off (enabled: false): data-bundle-table" in lines
    # once per event type, at its latest event
    assert sum(x.startswith("    not listening to usage.data:") for x in lines) == 1
    assert lines[-1] == "  no rule listens to: customer.profile_updated ×2"
