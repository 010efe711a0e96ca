"""§8, S20: the joker — an exception to an organisation limit, never to a law limit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from ethics_helpers import (
    NOON,
    assess,
    candidate,
    customer,
    policy,
    sent,
    usage_event,
    usage_history,
    when,
    with_commercial_consent,
    with_rule,
)
from pydantic import ValidationError

from proactive.decisions import build_record
from proactive.rules import ExceptionSpec, load_ruleset

STRUCTURAL = [7000.0, 6800.0, 7200.0]
WHY = "Seasonal campaign agreed with the customer panel, change request CR-2026-14."


def _offer(ctx):  # type: ignore[no-untyped-def]
    usage_history(ctx, STRUCTURAL)
    return candidate("data-bundle-nearly-used", usage_event(4700, NOON), ctx)


def _capped():  # type: ignore[no-untyped-def]
    """A customer with consent who already had three messages this week (frequency cap)."""
    ctx = with_commercial_consent(customer())
    for hours in (24, 48, 72):
        sent(ctx, when(NOON) - timedelta(hours=hours), f"rule-{hours}")
    return ctx


def _joker(*limits: str) -> ExceptionSpec:
    return ExceptionSpec(
        limits=list(limits), justification=WHY, approved_by="compliance: J. de Boer"
    )


def test_without_the_joker_the_organisation_limit_blocks() -> None:
    a = assess(_offer(_capped()))
    assert a.verdict == "block"
    assert any("frequency_cap" in r for r in a.reasons)
    assert a.exception is None


def test_joker_lifts_an_organisation_limit_and_is_marked_in_the_record() -> None:
    c = with_rule(_offer(_capped()), exception=_joker("frequency_cap"))
    a = assess(c)
    assert a.verdict != "block", a.reasons
    assert not any(h.id == "frequency_cap" for h in a.limits)
    assert a.exception == {
        "limits": ["frequency_cap"],
        "justification": WHY,
        "approved_by": "compliance: J. de Boer",
        "by": "rule:data-bundle-nearly-used",
    }
    assert any(
        r.startswith("exception (joker) on organisation limit(s) frequency_cap") for r in a.reasons
    )
    record = build_record(
        c, a, rules_revision="r", ethics_revision=policy().revision, mask_message=False
    )
    assert record["exception"]["limits"] == ["frequency_cap"]
    assert record["exception"]["justification"] == WHY


def test_joker_cannot_override_a_law_limit() -> None:
    """No consent for commercial messages (law): an exception naming it is refused."""
    ctx = customer()  # no commercial consent
    c = with_rule(_offer(ctx), exception=_joker("consent_for_purpose_and_channel"))
    a = assess(c)
    assert a.verdict == "block"
    assert any(h.id == "consent_for_purpose_and_channel" for h in a.limits)
    assert a.exception is None
    assert any(
        "exception requested for law limit 'consent_for_purpose_and_channel' refused" in r
        for r in a.reasons
    )


def test_joker_on_both_excepts_only_the_organisation_limit() -> None:
    ctx = _capped()
    ctx.consents.clear()
    c = with_rule(_offer(ctx), exception=_joker("frequency_cap", "consent_for_purpose_and_channel"))
    a = assess(c)
    assert a.verdict == "block"
    assert a.exception is not None and a.exception["limits"] == ["frequency_cap"]
    assert {h.id for h in a.limits} >= {"consent_for_purpose_and_channel"}


@pytest.mark.parametrize("justification", ["", "because", "   "])
def test_joker_needs_a_written_justification(justification: str) -> None:
    with pytest.raises(ValidationError):
        ExceptionSpec(limits=["frequency_cap"], justification=justification, approved_by="x y")


def test_rule_file_with_a_joker_without_justification_is_refused_at_its_line(
    tmp_path: Path,
) -> None:
    from shutil import copytree

    rules = tmp_path / "rules"
    copytree(Path(__file__).resolve().parents[1] / "rules", rules)
    path = rules / "outage.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "    priority:",
        "    exception:\n      limits: [quiet_hours]\n      approved_by: ops\n    priority:",
        1,
    )
    path.write_text(text, encoding="utf-8")
    from proactive.errors import RuleFileError

    with pytest.raises(RuleFileError) as info:
        load_ruleset(rules)
    problems = [p for p in info.value.problems if "exception" in p.key]
    assert problems and problems[0].file == str(path)
    assert "justification" in problems[0].key
