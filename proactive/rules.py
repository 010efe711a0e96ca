"""Rules as data: YAML rule files validated by pydantic, compiled to durable_rules.

A rule says *when* (event types and conditions over :mod:`proactive.facts`), *why*
(purpose and the data categories it uses), *what* (an offer selector, a template)
and *how* (allowed channels, priority, cooldown). Conditions are one-line
comparisons a product owner can read::

    when:
      - usage.pct_used >= 0.9
      - customer.segment in [consumer, youth]
      - not customer.has_open_complaint

Every rule of a revision is compiled into one durable_rules ruleset in its own
host. Each event is asserted as a fact (so *every* matching rule fires, not only
the first) and retracted straight after, so the engine holds no state between
events and memory stays flat.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import durable_rules_engine
import orjson
import yaml
from durable import engine as durable_engine
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from proactive.datafile import Located, load_located, validate_file, validation_problems
from proactive.errors import Problem, RuleFileError
from proactive.events import CHANNELS, PAYLOADS, Channel, Purpose
from proactive.facts import DATA_CATEGORIES, FACTS, event_category, group_of, key
from proactive.offers import SELECTORS, Catalogue, load_catalogue
from proactive.render import Templates, load_templates

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: Any) -> timedelta:
    """``"7d"``, ``"12h"``, ``"30m"``, ``0`` → timedelta."""
    if isinstance(value, timedelta):
        return value
    if value in (0, "0", None):
        return timedelta(0)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration like 12h, 7d or 2w")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
DataCategory = Literal[DATA_CATEGORIES]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OfferSpec(_Strict):
    """How the rule picks an offer from the catalogue."""

    select: Literal[SELECTORS]  # type: ignore[valid-type]
    purpose: Literal["commercial", "advice"] = "commercial"
    on_spike: Literal["addon", "none"] = "addon"
    fallback: Literal["without_offer", "none"] = "without_offer"
    """When the offer may not be sent (no consent, objection, vulnerability), send the
    message without it as a plain service notice (``without_offer``) or not at all."""


class ExceptionSpec(_Strict):
    """The joker: an exception to organisation limits, with a written justification.

    The ethics check honours it only for limits in the *organisation* frame; a law
    or systems limit named here still applies, and the decision says so. Every
    decision that uses the exception records it, and reports count its rate.
    """

    limits: list[str] = Field(min_length=1)
    justification: str = Field(min_length=20)
    approved_by: str = Field(min_length=2)


class Rule(_Strict):
    """One proactive rule."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    description: str
    on: list[str] = Field(min_length=1)
    when: list[str] = Field(default_factory=list)
    purpose: Purpose
    data: list[DataCategory] = Field(min_length=1)
    offer: OfferSpec | None = None
    template: str
    channels: list[Channel] = Field(min_length=1)
    priority: int = Field(ge=0, le=100)
    cooldown: Duration = timedelta(0)
    window: Literal["event", "day", "billing_cycle", "cooldown"] = "cooldown"
    urgency: Literal["low", "normal", "high"] = "normal"
    sensitive: bool = False
    invites_contact: bool = False
    enabled: bool = True
    exception: ExceptionSpec | None = None


class RuleFile(_Strict):
    """A rule file: ``rules: [...]``."""

    rules: list[Rule] = Field(default_factory=list)


class Arbitration(_Strict):
    """How competing candidate actions for one customer are settled (declared, not file order)."""

    order: list[Literal["verdict", "priority", "purpose", "rule_id"]] = [
        "verdict",
        "priority",
        "purpose",
        "rule_id",
    ]
    """Sort keys, first decides: ``verdict`` puts a message that may go now (send,
    defer) before one that waits for a human (review), so a notice the customer needs
    is not crowded out by an offer that may never be approved."""
    purpose_rank: list[Purpose] = ["service", "advice", "commercial"]
    max_per_event: int = Field(default=1, ge=1)
    max_commercial: int = Field(default=1, ge=0)
    commercial_window: Duration = timedelta(days=7)


class ArbitrationFile(_Strict):
    arbitration: Arbitration = Arbitration()


@dataclass(frozen=True)
class Condition:
    """One parsed condition of a rule."""

    text: str
    fact: str
    op: str
    value: Any

    def holds(self, facts: dict[str, Any]) -> bool:
        """Evaluate in Python (for explanations; matching itself runs in durable_rules)."""
        actual = facts.get(key(self.fact))
        if self.op == "is":
            return actual is True
        if self.op == "not":
            return actual is False
        if actual is None:
            return False
        ops: dict[str, Callable[[Any, Any], Any]] = {
            "==": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            ">=": lambda a, b: a >= b,
            "<=": lambda a, b: a <= b,
            ">": lambda a, b: a > b,
            "<": lambda a, b: a < b,
            "in": lambda a, b: a in b,
            "not in": lambda a, b: a not in b,
        }
        try:
            return bool(ops[self.op](actual, self.value))
        except TypeError:
            return False

    def to_durable(self) -> dict[str, Any]:
        """This condition in durable_rules' JSON ruleset syntax."""
        k = key(self.fact)
        if self.op == "is":
            return {k: True}
        if self.op == "not":
            return {k: False}
        if self.op == "==":
            return {k: self.value}
        if self.op == "in":
            return {"$or": [{k: v} for v in self.value]}
        if self.op == "not in":
            return {"$and": [{"$neq": {k: v}} for v in self.value]}
        names = {"!=": "$neq", ">=": "$gte", "<=": "$lte", ">": "$gt", "<": "$lt"}
        return {names[self.op]: {k: self.value}}


_COND = re.compile(
    r"^\s*(?P<neg>not\s+)?(?P<fact>[a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)+)\s*"
    r"(?:(?P<op>==|!=|>=|<=|>|<|not\s+in|in)\s*(?P<value>.+?))?\s*$"
)


def parse_condition(text: str) -> Condition:
    """Parse ``fact op value`` (or ``fact`` / ``not fact`` for booleans)."""
    m = _COND.match(text)
    if not m:
        raise ValueError(f"cannot read condition {text!r}; write it as 'fact op value'")
    fact, op, raw = m.group("fact"), m.group("op"), m.group("value")
    spec = FACTS.get(fact)
    if spec is None:
        raise ValueError(f"unknown fact {fact!r} in {text!r}")
    if op is None:
        if spec.type is not bool:
            raise ValueError(f"{fact} is not true/false; compare it, e.g. '{fact} >= 1'")
        return Condition(text, fact, "not" if m.group("neg") else "is", None)
    if m.group("neg"):
        raise ValueError(f"'not' only goes before a true/false fact: {text!r}")
    op = " ".join(op.split())
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ValueError(f"cannot read value {raw!r} in {text!r}") from None
    if op in ("in", "not in"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"'{op}' needs a list like [a, b] in {text!r}")
        items = value
    else:
        items = [value]
    if spec.type is date:
        # dates compare as ISO text (YYYY-MM-DD sorts like the date itself)
        try:
            converted = [date.fromisoformat(str(v)).isoformat() for v in items]
        except ValueError:
            raise ValueError(f"{fact} is a date; write it as YYYY-MM-DD in {text!r}") from None
        return Condition(text, fact, op, converted if op in ("in", "not in") else converted[0])
    for item in items:
        if spec.type in (int, float):
            if not isinstance(item, int | float) or isinstance(item, bool):
                raise ValueError(f"{fact} is a number; {item!r} is not")
            if op in (">", ">=", "<", "<=") and isinstance(item, bool):
                raise ValueError(f"cannot order a true/false value in {text!r}")
        elif spec.type is bool and not isinstance(item, bool):
            raise ValueError(f"{fact} is true/false; {item!r} is not")
        elif spec.type is str and op in (">", ">=", "<", "<="):
            raise ValueError(f"{fact} is text; use == or in, not {op}")
    if spec.type is str:
        value = [str(v) for v in value] if isinstance(value, list) else str(value)
    return Condition(text, fact, op, value)


@dataclass(frozen=True)
class CompiledRule:
    """A validated rule with its parsed conditions and the fact groups it needs."""

    rule: Rule
    conditions: tuple[Condition, ...]
    file: str
    line: int

    @property
    def id(self) -> str:
        return self.rule.id


class _Host(durable_engine.Host):  # type: ignore[misc]
    """A durable_rules host without its background dispatch threads.

    We post synchronously and never use timers; the default host starts two timer
    threads that would race with our calls.
    """

    def _run(self) -> None:
        return None

    def assert_json(self, ruleset_name: str, payload: str) -> bool:
        """Assert a fact given as JSON text and run the actions it triggers.

        The same steps as ``Host.assert_fact`` with two costs taken out of the hot
        path: the fact is serialised once by the caller (orjson), and "no rule
        matched" is a return value rather than an exception whose constructor
        serialises the fact a second time. Matching is durable_rules' own engine.
        """
        rules = self.get_ruleset(ruleset_name)
        result = durable_rules_engine.assert_fact(rules._handle, payload)
        if result[0] == 1:  # no rule matched
            return False
        self._act(rules, rules._handle_result(result, payload))
        return True

    def retract_json(self, ruleset_name: str, payload: str) -> None:
        """Retract a fact given as JSON text (actions it triggers run too)."""
        rules = self.get_ruleset(ruleset_name)
        result = durable_rules_engine.retract_fact(rules._handle, payload)
        if result[0] != 1:
            self._act(rules, rules._handle_result(result, payload))

    @staticmethod
    def _act(rules: Any, state_handle: Any) -> None:
        error: list[BaseException | None] = [None]

        def done(e: BaseException | None, _state: Any) -> None:
            error[0] = e

        rules.do_actions(state_handle, done)
        if error[0] is not None:
            raise error[0]


class RuleEngine:
    """The durable_rules ruleset of one rule revision.

    ``match(facts)`` returns the ids of every enabled rule whose conditions hold.
    """

    def __init__(self, rules: Iterable[CompiledRule], name: str = "proactive") -> None:
        self._name = name
        self._fired: list[str] = []
        self._lock = threading.Lock()
        definition: dict[str, Any] = {}
        rules_list = list(rules)
        for cr in rules_list:
            if not cr.rule.enabled:
                continue
            types = [{"event__type": t} for t in cr.rule.on]
            terms: list[dict[str, Any]] = [types[0] if len(types) == 1 else {"$or": types}]
            terms += [c.to_durable() for c in cr.conditions]
            match = terms[0] if len(terms) == 1 else {"$and": terms}
            definition[cr.id] = {"all": [{"m": match}], "run": self._action(cr.id)}
        self._enabled = bool(definition)
        # only the facts some condition tests travel to durable_rules
        self._keys = {"event__type"} | {
            key(c.fact) for cr in rules_list if cr.rule.enabled for c in cr.conditions
        }
        self._host = _Host({name: definition} if definition else None)
        self._seq = 0

    def _action(self, rule_id: str) -> Any:
        fired = self._fired

        def run(_c: Any) -> None:
            fired.append(rule_id)

        return run

    def match(self, facts: dict[str, Any]) -> list[str]:
        """Ids of the rules that fire for this fact message."""
        if not self._enabled:
            return []
        with self._lock:  # durable_rules' host is not thread-safe
            self._seq += 1
            msg = {k: facts[k] for k in self._keys if k in facts}
            msg["sid"] = "0"
            msg["id"] = self._seq
            payload = orjson.dumps(msg).decode()
            self._fired.clear()
            if not self._host.assert_json(self._name, payload):
                return []
            self._host.retract_json(self._name, payload)
            return list(self._fired)


@dataclass(frozen=True)
class RuleSet:
    """One revision of everything product teams own: rules, offers, templates, arbitration."""

    directory: Path
    revision: str
    rules: tuple[CompiledRule, ...]
    catalogue: Catalogue
    templates: Templates
    arbitration: Arbitration
    engine: RuleEngine
    groups_by_type: dict[str, frozenset[str]]

    def rule(self, rule_id: str) -> CompiledRule:
        """The rule with this id."""
        for cr in self.rules:
            if cr.id == rule_id:
                return cr
        raise KeyError(rule_id)

    def listens_to(self, event_type: str) -> bool:
        """Whether any enabled rule triggers on this event type."""
        return event_type in self.groups_by_type


RESERVED = {"offers.yaml", "arbitration.yaml"}


def _revision(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.suffix in (".yaml", ".yml", ".j2"):
            digest.update(str(path.relative_to(directory)).encode())
            digest.update(path.read_bytes())
    return f"rules-{digest.hexdigest()[:12]}"


def _check_rule(
    rule: Rule,
    doc: Located,
    loc: tuple[int | str, ...],
    templates: Templates | None,
) -> tuple[list[Condition], list[Problem]]:
    """Checks a validated rule needs beyond its model: events, conditions, data, template."""
    problems: list[Problem] = []
    conditions: list[Condition] = []
    for i, etype in enumerate(rule.on):
        if etype not in PAYLOADS:
            problems.append(
                doc.problem((*loc, "on", i), f"unknown event type {etype!r}", "unknown_event")
            )
    for i, text in enumerate(rule.when):
        try:
            cond = parse_condition(text)
        except ValueError as exc:
            problems.append(doc.problem((*loc, "when", i), str(exc), "bad_condition"))
            continue
        conditions.append(cond)
        categories = {FACTS[cond.fact].category}
        if cond.fact.startswith("data."):
            name = cond.fact.split(".", 1)[1]
            types = [t for t in rule.on if t in PAYLOADS and name in PAYLOADS[t].model_fields]
            if not types:
                problems.append(
                    doc.problem(
                        (*loc, "when", i),
                        f"{cond.fact}: none of {rule.on} has a field {name!r}",
                        "unknown_fact",
                    )
                )
                continue
            categories = {event_category(t) for t in types}
        for category in sorted(c for c in categories if c is not None):
            if category in rule.data:
                continue
            problems.append(
                doc.problem(
                    (*loc, "when", i),
                    f"condition uses {cond.fact} ({category} data) but the rule does not "
                    f"declare '{category}' under data",
                    "undeclared_data",
                )
            )
    if rule.offer is not None and "usage" not in rule.data and rule.offer.select != "fair_renewal":
        problems.append(
            doc.problem(
                (*loc, "data"),
                "offer selection uses usage data: declare 'usage'",
                "undeclared_data",
            )
        )
    if rule.offer is not None and rule.purpose == "service" and rule.offer.fallback == "none":
        problems.append(
            doc.problem(
                (*loc, "offer"),
                "a service rule with an offer needs fallback without_offer",
                "invalid",
            )
        )
    if templates is not None:
        problems += templates.check_reference(rule.template, rule.channels, doc, (*loc, "template"))
    return conditions, problems


def _check_raw(
    item: Any, doc: Located, loc: tuple[int | str, ...], templates: Templates | None
) -> list[Problem]:
    """Checks that still make sense on a rule that failed validation (conditions, template)."""
    if not isinstance(item, dict):
        return []
    problems = []
    when = item.get("when")
    for i, text in enumerate(when if isinstance(when, list) else []):
        if isinstance(text, str):
            try:
                parse_condition(text)
            except ValueError as exc:
                problems.append(doc.problem((*loc, "when", i), str(exc), "bad_condition"))
    template = item.get("template")
    if templates is not None and isinstance(template, str) and template not in templates.ids():
        problems.append(
            doc.problem((*loc, "template"), f"unknown template {template!r}", "unknown_template")
        )
    return problems


def load_ruleset(directory: Path) -> RuleSet:
    """Load, validate and compile a rule directory; raise :class:`RuleFileError` with every problem.

    The directory holds ``offers.yaml``, ``arbitration.yaml`` (optional), rule files
    (any other ``*.yaml``) and ``templates/``.
    """
    directory = Path(directory)
    problems: list[Problem] = []
    catalogue: Catalogue | None = None
    templates: Templates | None = None
    arbitration = Arbitration()
    try:
        catalogue = load_catalogue(directory / "offers.yaml")
    except RuleFileError as exc:
        problems += exc.problems
    try:
        templates = load_templates(directory / "templates")
    except RuleFileError as exc:
        problems += exc.problems
    if (directory / "arbitration.yaml").exists():
        try:
            arbitration = validate_file(
                directory / "arbitration.yaml", ArbitrationFile, RuleFileError
            )[0].arbitration
        except RuleFileError as exc:
            problems += exc.problems
    compiled: list[CompiledRule] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name in RESERVED:
            continue
        try:
            doc = load_located(path, RuleFileError)
        except RuleFileError as exc:
            problems += exc.problems
            continue
        data = doc.data if doc.data is not None else {}
        items = data.get("rules") if isinstance(data, dict) else None
        if not isinstance(data, dict) or set(data) - {"rules"} or not isinstance(items, list):
            # the file's shape is wrong: report it as the model sees it
            try:
                RuleFile.model_validate(data)
            except ValidationError as exc:
                problems += validation_problems(doc, exc)
            if not isinstance(items, list):
                continue
        for i, item in enumerate(items):
            loc: tuple[int | str, ...] = ("rules", i)
            # each rule on its own, so one rule's mistake does not hide another's
            try:
                rule = Rule.model_validate(item)
            except ValidationError as exc:
                problems += validation_problems(doc, exc, loc)
                problems += _check_raw(item, doc, loc, templates)
                continue
            if rule.id in seen:
                problems.append(
                    doc.problem(
                        (*loc, "id"),
                        f"rule id {rule.id!r} already used in {seen[rule.id]}",
                        "duplicate_rule",
                    )
                )
                continue
            seen[rule.id] = str(path)
            conditions, rule_problems = _check_rule(rule, doc, loc, templates)
            problems += rule_problems
            line, _ = doc.where(loc)
            compiled.append(CompiledRule(rule, tuple(conditions), str(path), line))
    if problems or catalogue is None or templates is None:
        raise RuleFileError(problems)
    groups: dict[str, set[str]] = {}
    for cr in compiled:
        if not cr.rule.enabled:
            continue
        needed = {group_of(c.fact) for c in cr.conditions} - {"event"}
        for etype in cr.rule.on:
            groups.setdefault(etype, set()).update(needed)
    name = "rs_" + _revision(directory).split("-")[1]
    return RuleSet(
        directory=directory,
        revision=_revision(directory),
        rules=tuple(compiled),
        catalogue=catalogue,
        templates=templates,
        arbitration=arbitration,
        engine=RuleEngine(compiled, name),
        groups_by_type={k: frozenset(v) for k, v in groups.items()},
    )


__all__ = [
    "CHANNELS",
    "Arbitration",
    "CompiledRule",
    "Condition",
    "OfferSpec",
    "Rule",
    "RuleEngine",
    "RuleSet",
    "load_ruleset",
    "parse_condition",
    "parse_duration",
]
