"""Tools for rule authors: lint a rule directory, its JSON Schema, and "why did it (not) fire".

``why`` evaluates every rule against one event for one customer and says, per rule,
whether it listens to the event type, and which condition held or failed with the
actual value — the question product teams ask most.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proactive.context import CustomerContext, apply_event
from proactive.errors import Problem, RuleFileError
from proactive.events import Event
from proactive.facts import ALL_GROUPS, build_facts, key
from proactive.rules import RuleFile, RuleSet, load_ruleset


def lint(directory: Path) -> tuple[RuleSet | None, list[Problem]]:
    """Load and check a rule directory; every problem at once (none: the rule set)."""
    try:
        return load_ruleset(directory), []
    except RuleFileError as exc:
        return None, exc.problems


def rules_schema() -> dict[str, Any]:
    """JSON Schema of a rule file, for editors (``# yaml-language-server: $schema=...``)."""
    schema: dict[str, Any] = RuleFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "proactive rule file"
    return schema


@dataclass(frozen=True)
class ConditionResult:
    """One condition of one rule, evaluated."""

    text: str
    held: bool
    actual: Any


@dataclass(frozen=True)
class RuleResult:
    """Whether one rule fires for the event, and why (not)."""

    rule_id: str
    listens: bool
    fired: bool
    conditions: tuple[ConditionResult, ...]

    def explain(self) -> str:
        if not self.listens:
            return f"{self.rule_id}: does not listen to this event type"
        head = f"{self.rule_id}: {'FIRES' if self.fired else 'does not fire'}"
        lines = [head]
        for c in self.conditions:
            mark = "✓" if c.held else "✗"
            lines.append(f"    {mark} {c.text}   (value: {c.actual!r})")
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
        out.append(RuleResult(cr.id, listens, cr.id in fired, results))
    return out
