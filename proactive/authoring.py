"""Tools for rule authors: lint a rule directory, its JSON Schema, and "why did it (not) fire".

``lint`` loads a rule directory the way the engine does and returns every problem
at once, each with a stable code from :data:`CODES` (errors refuse the rule set,
warnings do not). ``why`` evaluates every rule against one event for one customer
and says, per rule, whether it listens to the event type, which condition held or
failed with the actual value and, for a decision table, which rows matched and
what the table decided — the question product teams ask most.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proactive.context import CustomerContext, apply_event
from proactive.errors import Problem
from proactive.events import Event
from proactive.facts import ALL_GROUPS, build_facts, key
from proactive.rules import WARNING_CODES, Outcome, RuleFile, RuleSet, check_ruleset

CODES: dict[str, str] = {
    # the file itself
    "yaml_syntax": "the file is not valid YAML (often: a value with : or # needs quotes)",
    "io_error": "the file cannot be read",
    "missing_file": "a file the rule set needs is missing (templates/_common.yaml)",
    # fields
    "unknown_field": "a field no rule has (a typo such as colour or windw)",
    "missing_field": "a required field is missing (id, description, on, purpose, data, "
    "template, channels, priority; table: hit, inputs, outputs, rows)",
    "invalid": "a field has a value it cannot take (see the message)",
    "duplicate_rule": "a rule id is used twice",
    # what a rule refers to
    "unknown_event": "an event type in on is not in the event catalogue",
    "unknown_offer": "offer.select names no selector, or a table row names a product "
    "that is not in rules/offers.yaml",
    "unknown_channel": "a channel that does not exist (sms, email, push, app_inbox)",
    "unknown_template": "the template does not exist in rules/templates/",
    "missing_template": "the template has no text for a language (nl, en) and one of "
    "the rule's channels",
    # conditions and data
    "bad_condition": "a condition cannot be read: its form, an unknown fact, or a "
    "value of the wrong type",
    "unknown_fact": "a table input names an unknown fact, or data.<field> is a field "
    "none of the rule's event types has",
    "undeclared_data": "a condition, table input or offer uses a data category the "
    "rule does not declare under data",
    "contradicting_conditions": "conditions of one rule can never hold together "
    "(usage.pct_used >= 0.9 and usage.pct_used < 0.5)",
    "unreachable_rule": "a condition can never hold for the rule's events (a value "
    "the fact never has, or an event.type not in on): the rule never fires",
    # decision tables
    "table_column": "an input or output column cannot be used (a date fact, a name listed twice)",
    "table_row": "a row has more or fewer cells than the table has columns",
    "table_cell": "a cell cannot be read (a range without quotes, a list in a range "
    "column, a value of the wrong type)",
    "table_value": "a cell names a value its column does not have",
    "table_offer": "an offer output without offer: {select: table}, or the other way "
    "round, or hit: collect with an offer",
    "table_overlap": "hit: unique, and two rows match the same input (the rows and "
    "the input are named)",
    "table_gap": "complete: true, and no row covers some input (the input is named)",
    # templates
    "template_syntax": "a template does not compile (jinja2 syntax)",
    "template_error": "a common line uses more than links and support",
    "missing_subject": "an e-mail text without a subject",
    "missing_reason": "a template language without its reason line",
    "no_reply_sender": "a no-reply sender: customers must be able to answer",
    # warnings: the rule set still loads
    "unreachable_event": "warning: one of the on event types can never fire the rule "
    "(it lacks a data field the rule tests, or event.type excludes it)",
    "duplicate_trigger": "warning: two enabled rules fire on exactly the same events "
    "and conditions (arbitration lets only one through)",
    "table_unreachable_row": "warning: a table row can never match (outside the "
    "rule's when or the column's values)",
    "table_shadowed_row": "warning: hit: first, and earlier rows already match "
    "everything this row matches",
}
"""Every problem code ``proactive rules lint`` reports, with what it means. Stable:
editors, CI and docs/rules.md rely on them."""


def lint(directory: Path) -> tuple[RuleSet | None, list[Problem]]:
    """Load and check a rule directory; every problem at once, errors and warnings.

    The rule set comes back when no problem is an error (see :func:`severity`)::

        ruleset, problems = lint(Path("rules"))
        errors = [p for p in problems if severity(p) == "error"]
    """
    ruleset, problems = check_ruleset(directory)
    return ruleset, sorted(problems, key=lambda p: (p.file, p.line, p.column))


def severity(problem: Problem) -> str:
    """``error`` (the rule set is refused) or ``warning`` (it loads; worth a look)."""
    return "warning" if problem.code in WARNING_CODES else "error"


def format_problem(problem: Problem) -> str:
    """``file:line:column: code: [key] message``; a warning reads ``...: warning: code: ...``."""
    if severity(problem) == "error":
        return str(problem)
    where = f"{problem.file}:{problem.line}:{problem.column}"
    return f"{where}: warning: {str(problem).removeprefix(where + ': ')}"


def rules_schema() -> dict[str, Any]:
    """JSON Schema of a rule file, for editors (``# yaml-language-server: $schema=...``)."""
    schema: dict[str, Any] = RuleFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "proactive rule file"
    return schema


def schema_text() -> str:
    """The schema as shipped in ``rules/rule.schema.json`` (a test keeps the file in step)."""
    return json.dumps(rules_schema(), indent=2) + "\n"


@dataclass(frozen=True)
class ConditionResult:
    """One condition of one rule, evaluated."""

    text: str
    held: bool
    actual: Any


@dataclass(frozen=True)
class RowResult:
    """One row of a decision table, evaluated."""

    number: int
    line: int
    conditions: tuple[ConditionResult, ...]
    outputs: dict[str, Any]

    @property
    def held(self) -> bool:
        return all(c.held for c in self.conditions)


@dataclass(frozen=True)
class RuleResult:
    """Whether one rule fires for the event, and why (not)."""

    rule_id: str
    listens: bool
    fired: bool
    conditions: tuple[ConditionResult, ...]
    rows: tuple[RowResult, ...] = ()
    outcome: Outcome | None = None

    def explain(self) -> str:
        if not self.listens:
            return f"{self.rule_id}: does not listen to this event type"
        head = f"{self.rule_id}: {'FIRES' if self.fired else 'does not fire'}"
        lines = [head]
        for c in self.conditions:
            mark = "✓" if c.held else "✗"
            lines.append(f"    {mark} {c.text}   (value: {c.actual!r})")
        for r in self.rows:
            marks = "  ".join(f"{'✓' if c.held else '✗'} {c.text}" for c in r.conditions)
            outs = ", ".join(f"{k}={'-' if v is None else v}" for k, v in r.outputs.items())
            lines.append(f"    row {r.number} (line {r.line}): {marks or 'any input'} → {outs}")
        if self.rows:
            if self.outcome is None:
                lines.append("    table: no row matches")
            else:
                rows = ", ".join(map(str, self.outcome.rows))
                outs = ", ".join(f"{k}={v}" for k, v in self.outcome.values.items())
                offer = f"offer={self.outcome.offer_id}" if self.outcome.offer_id else ""
                lines.append(
                    f"    table decides: row {rows} → {', '.join(x for x in (offer, outs) if x)}"
                )
        return "\n".join(lines)


def why(ruleset: RuleSet, ctx: CustomerContext, event: Event) -> list[RuleResult]:
    """Every rule against ``event`` for a copy of ``ctx`` (nothing is stored)."""
    ctx = copy.deepcopy(ctx)
    apply_event(ctx, event)
    facts = build_facts(event, ctx, ALL_GROUPS)
    fired = set(ruleset.engine.match(facts)) if ruleset.listens_to(event.type) else set()
    out = []
    for cr in ruleset.rules:
        listens = event.type in cr.rule.on and cr.rule.enabled
        results = tuple(
            ConditionResult(c.text, c.holds(facts), facts.get(key(c.fact))) for c in cr.conditions
        )
        rows: tuple[RowResult, ...] = ()
        if cr.table is not None:
            rows = tuple(
                RowResult(
                    r.number,
                    r.line,
                    tuple(
                        ConditionResult(c.text, c.holds(facts), facts.get(key(c.fact)))
                        for c in r.conditions
                    ),
                    r.outputs,
                )
                for r in cr.table.rows
            )
        outcome = cr.outcome(facts) if cr.id in fired else None
        out.append(RuleResult(cr.id, listens, cr.id in fired, results, rows, outcome))
    return out


__all__ = [
    "CODES",
    "ConditionResult",
    "RowResult",
    "RuleResult",
    "format_problem",
    "lint",
    "rules_schema",
    "schema_text",
    "severity",
    "why",
]
