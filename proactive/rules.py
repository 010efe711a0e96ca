"""Rules as data: YAML rule files validated by pydantic, compiled to durable_rules.

A rule says *when* (event types and conditions over :mod:`proactive.facts`), *why*
(purpose and the data categories it uses), *what* (an offer selector, a template)
and *how* (allowed channels, priority, cooldown). Conditions are one-line
comparisons a product owner can read::

    when:
      - usage.pct_used >= 0.9
      - customer.segment in [consumer, youth]
      - not customer.has_open_complaint

A rule may instead (or as well) carry a **decision table**: input columns (facts),
rows of cells (``"[0.8, 0.9)"``, ``">= 0.9"``, a value, a list of values, ``-`` for
any) and outputs (an ``offer`` from the catalogue and values the template can use),
with a declared hit policy (``first``, ``unique``, ``collect``). Tables are checked
at load for overlapping rows (``unique``) and uncovered inputs (``complete: true``);
the same value-space analysis finds conditions of a rule that contradict each other.

Every rule of a revision is compiled into one durable_rules ruleset in its own
host; a table gives one durable_rules rule per row. Each event is asserted as a
fact (so *every* matching rule fires, not only the first) and retracted straight
after, so the engine holds no state between events and memory stays flat.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import threading
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import durable_rules_engine
import orjson
import yaml
from durable import engine as durable_engine
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)

from proactive.context import CustomerContext
from proactive.datafile import (
    DataLoader,
    Loc,
    Located,
    load_located,
    validate_file,
    validation_problems,
)
from proactive.errors import Problem, RuleFileError
from proactive.events import CHANNELS, PAYLOADS, Channel, Purpose
from proactive.facts import DATA_CATEGORIES, FACTS, event_category, group_of, key
from proactive.offers import (
    MB_PER_GB,
    SELECTORS,
    Addon,
    Bundle,
    Catalogue,
    OfferChoice,
    addon_choice,
    bundle_choice,
    current_bundle,
    load_catalogue,
    monthly_cost,
    usage_outlook,
)
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


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*\d+\s*[smhdw]\s*$"},
                {"const": 0},
            ],
            "description": "a duration like 30m, 12h, 7d or 2w (0: none)",
        }
    ),
]
DataCategory = Literal[DATA_CATEGORIES]  # type: ignore[valid-type]
Selector = Literal[(*SELECTORS, "table")]  # type: ignore[valid-type]


class _Strict(BaseModel):
    # attribute docstrings become descriptions in the JSON Schema (editor hover help)
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class OfferSpec(_Strict):
    """How the rule picks an offer from the catalogue."""

    select: Selector
    """How to pick: best_fit_bundle, one_off_addon, fair_renewal, or table (the offer
    column of the rule's decision table)."""
    purpose: Literal["commercial", "advice"] = "commercial"
    """The purpose of the message when it carries the offer."""
    on_spike: Literal["addon", "none"] = "addon"
    """best_fit_bundle: a one-off spike gets a one-off add-on (addon) or nothing (none)."""
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
    """Ids of the organisation limits (ethics/policy.yaml) this rule may exceed."""
    justification: str = Field(min_length=20)
    """Why the exception serves the customer (at least 20 characters)."""
    approved_by: str = Field(min_length=2)
    """Who approved the exception."""


Cell = str | int | float | bool | list[str | int | float | bool] | None
"""One cell of a decision table, as written in YAML."""


class DecisionTable(_Strict):
    """A decision table: rows of input cells → outputs, with a declared hit policy.

    ::

        table:
          hit: unique
          complete: true
          inputs:
            usage.pct_used: "-"
            usage.bundle_gb: [2, 5, 10]
          outputs: [offer]
          rows:
            - ["[0.8, 0.9)", -, -]
            - [">= 0.9", 2, data-5gb]
    """

    hit: Literal["first", "unique", "collect"]
    """Which matching rows count: the first in file order, the unique one (rows may not
    overlap), or every matching row (collect)."""
    complete: bool = False
    """true: every combination of input values must be covered by a row (checked at load)."""
    inputs: dict[str, Cell] = Field(
        min_length=1, json_schema_extra={"propertyNames": {"enum": list(FACTS)}}
    )
    """Input columns in row order: fact name → the values the table covers ("-": every
    value the rule's when allows; a range like "[0, 1)"; a list of values)."""
    outputs: list[Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")]] = Field(min_length=1)
    """Output columns after the inputs: offer (a catalogue id, "-": none) and names the
    template reads as table.<name>."""
    rows: list[list[Cell]] = Field(min_length=1)
    """One list per row: a cell per input, then a value per output."""


class Rule(_Strict):
    """One proactive rule."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    """Unique id: lower case, digits, - and _ (it names the rule in decisions and reports)."""
    description: str
    """One line: what the rule does, for people."""
    on: list[str] = Field(
        min_length=1, json_schema_extra={"items": {"type": "string", "enum": list(PAYLOADS)}}
    )
    """Event types that trigger the rule (see the event catalogue)."""
    when: list[str] = Field(default_factory=list)
    """Conditions that must all hold, one per line: fact op value (e.g. usage.pct_used >= 0.9)."""
    purpose: Purpose
    """service, advice or commercial: why the customer gets the message."""
    data: list[DataCategory] = Field(min_length=1)
    """Every category of personal data the rule uses (conditions, table inputs, offer)."""
    offer: OfferSpec | None = None
    """Optional: how to pick an offer from rules/offers.yaml."""
    template: str
    """The message template: rules/templates/<template>.yaml."""
    channels: list[Channel] = Field(min_length=1)
    """Channels the message may go by (the customer's preference wins when allowed)."""
    priority: int = Field(ge=0, le=100)
    """0-100; higher wins when rules compete for one customer (rules/arbitration.yaml)."""
    cooldown: Duration = Field(timedelta(0), json_schema_extra={"default": 0})
    """Minimum time between two messages of this rule to one customer."""
    window: Literal["event", "day", "billing_cycle", "cooldown"] = "cooldown"
    """One notification per customer per event, day, billing cycle or cooldown period
    (a replay of the same trigger gives the same notification, never a second one)."""
    urgency: Literal["low", "normal", "high"] = "normal"
    """high: the customer must see it soon; the check expects an urgent channel (sms, push)."""
    sensitive: bool = False
    """Sensitive content (money trouble): sent only by a secure channel behind login."""
    invites_contact: bool = False
    """The message invites a call: held until the human line is open."""
    enabled: bool = True
    """false: the rule is checked but never fires."""
    exception: ExceptionSpec | None = None
    """The joker: an approved exception to named organisation limits."""
    table: DecisionTable | None = None
    """Optional decision table: rows of conditions → offer and template values."""


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
        # YAML 1.2 booleans, as in rule files: NO is Norway, not false
        value = yaml.load(raw, Loader=DataLoader)
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


# -- value spaces: contradictions, table overlaps and gaps ---------------------------------
#
# Each fact's values are cut into *atoms* at every number or value some condition names,
# so that every condition involved holds on a whole atom or on none of it. An atom keeps
# one sample value; whether a condition holds on the atom is ``Condition.holds`` on that
# sample, so the analysis reads conditions exactly as the engine does. Contradictions,
# overlapping rows and uncovered inputs are then questions about sets of atoms.

_OTHER = "\x00any other value"
"""The atom of a text fact that stands for every value no condition names."""


@dataclass(frozen=True)
class _Atom:
    sample: Any
    kind: Literal["value", "point", "interval"] = "value"
    lo: float | None = None  # point: lo == hi; interval: the open (lo, hi), None unbounded
    hi: float | None = None


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _values_of(c: Condition) -> list[Any]:
    if c.op in ("is", "not"):
        return []
    return list(c.value) if isinstance(c.value, list) else [c.value]


def _numeric_atoms(points: list[float], whole: bool) -> list[_Atom]:
    atoms: list[_Atom] = []

    def interval(lo: float | None, hi: float | None) -> None:
        if lo is None and hi is None:
            sample: float | None = 0.0
        elif lo is None:
            assert hi is not None
            sample = math.ceil(hi) - 1 if whole else hi - 1
        elif hi is None:
            sample = math.floor(lo) + 1 if whole else lo + 1
        else:
            sample = math.floor(lo) + 1 if whole else (lo + hi) / 2
            if whole and sample >= hi:
                sample = None  # no whole number strictly between lo and hi
        if sample is not None:
            atoms.append(_Atom(int(sample) if whole else float(sample), "interval", lo, hi))

    prev: float | None = None
    for p in points:
        interval(prev, p)
        if not whole or p.is_integer():
            atoms.append(_Atom(int(p) if whole else p, "point", p, p))
        prev = p
    interval(prev, None)
    return atoms


def _axis(fact: str, conditions: Iterable[Condition], values: Sequence[Any] | None) -> list[_Atom]:
    """The atoms of ``fact`` for these conditions; ``values``: the fact's only values."""
    spec = FACTS[fact]
    if spec.type is bool:
        return [_Atom(True), _Atom(False)]
    conds = list(conditions)
    if spec.type in (int, float) and values is None:
        points = sorted({float(v) for c in conds for v in _values_of(c)})
        return _numeric_atoms(points, spec.type is int)
    if values is not None:
        return [_Atom(v) for v in values]
    named = list(dict.fromkeys(v for c in conds for v in _values_of(c)))
    return [*(_Atom(v) for v in named), _Atom(_OTHER)]


def _holds_at(c: Condition, atom: _Atom) -> bool:
    return c.holds({key(c.fact): atom.sample})


def _describe(fact: str, atoms: Iterable[int], axis: list[_Atom]) -> str:
    """Atoms of ``fact`` (indices into ``axis``) as text a rule author reads."""
    chosen = sorted(set(atoms))
    if all(axis[i].kind == "value" for i in chosen):
        names = [axis[i].sample for i in chosen]
        if _OTHER in names:
            left_out = [_show(a.sample) for a in axis if a.sample not in names]
            if not left_out:
                return f"{fact} is any value"
            if len(left_out) == 1:
                return f"{fact} != {left_out[0]}"
            return f"{fact} not in [{', '.join(left_out)}]"
        shown = [_show(v) for v in names]
        return f"{fact} = {shown[0]}" if len(shown) == 1 else f"{fact} in [{', '.join(shown)}]"
    runs: list[list[int]] = []
    for i in chosen:
        if runs and runs[-1][-1] == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    parts = []
    for run in runs:
        first, last = axis[run[0]], axis[run[-1]]
        lo, lo_closed = first.lo, first.kind == "point"
        hi, hi_closed = last.hi, last.kind == "point"
        if lo is None and hi is None:
            parts.append("is any number")
        elif lo is not None and lo == hi and lo_closed and hi_closed:
            parts.append(f"= {_num(lo)}")
        elif lo is None and hi is not None:
            parts.append(f"{'<=' if hi_closed else '<'} {_num(hi)}")
        elif hi is None and lo is not None:
            parts.append(f"{'>=' if lo_closed else '>'} {_num(lo)}")
        elif lo is not None and hi is not None:
            parts.append(
                f"in {'[' if lo_closed else '('}{_num(lo)}, {_num(hi)}{']' if hi_closed else ')'}"
            )
    return f"{fact} " + " or ".join(parts)


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return _num(v)
    return str(v)


def _literal_values(annotation: Any) -> tuple[Any, ...] | None:
    """The values a payload field can take when its type is a Literal (None: open)."""
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            if arg is type(None):
                continue
            vals = _literal_values(arg)
            if vals is None:
                return None
            out += vals
        return tuple(dict.fromkeys(out))
    return None


def _known_values(fact: str, on: Sequence[str]) -> tuple[Any, ...] | None:
    """Every value a text fact can take for these event types, if that set is fixed."""
    if fact == "event.type":
        return tuple(on)
    if fact.startswith("data."):
        name = fact.split(".", 1)[1]
        out: list[Any] = []
        for etype in on:
            model = PAYLOADS.get(etype)
            if model is None or name not in model.model_fields:
                continue
            vals = _literal_values(model.model_fields[name].annotation)
            if vals is None:
                return None
            out += vals
        return tuple(dict.fromkeys(out)) or None
    spec = FACTS.get(fact)
    return spec.values if spec is not None and spec.values else None


def _uncovered(
    box: Sequence[frozenset[int]], rows: Sequence[Sequence[frozenset[int]]], limit: int = 50
) -> list[list[frozenset[int]]]:
    """The parts of ``box`` (atom sets per column) that no row covers, as boxes.

    Column by column, atoms covered by the same rows are taken together, so the work
    grows with the number of distinct row patterns, not with the product of all values.
    """
    out: list[list[frozenset[int]]] = []

    def walk(col: int, live: frozenset[int], prefix: list[frozenset[int]]) -> None:
        if col == len(box) or len(out) >= limit:
            return
        groups: dict[frozenset[int], set[int]] = {}
        for atom in sorted(box[col]):
            groups.setdefault(frozenset(r for r in live if atom in rows[r][col]), set()).add(atom)
        for covering, atoms in groups.items():
            if not covering:
                out.append([*prefix, frozenset(atoms), *box[col + 1 :]])
            else:
                walk(col + 1, covering, [*prefix, frozenset(atoms)])

    walk(0, frozenset(range(len(rows))), [])
    return out[:limit]


def _check_conditions(
    rule: Rule, conditions: Sequence[tuple[int, Condition]], doc: Located, loc: Loc
) -> list[Problem]:
    """Conditions that can never hold: alone (a value the fact never has) or together."""
    problems: list[Problem] = []
    by_fact: dict[str, list[tuple[int, Condition]]] = {}
    for i, c in conditions:
        by_fact.setdefault(c.fact, []).append((i, c))
    for fact, items in by_fact.items():
        if FACTS[fact].type is date:
            continue  # dates compare as text; rare enough to leave to the author
        values = _known_values(fact, rule.on)
        axis = _axis(fact, (c for _, c in items), values)
        feasible = axis
        earlier: list[tuple[int, Condition]] = []
        for i, c in items:
            alone = [a for a in axis if _holds_at(c, a)]
            if not alone:
                if fact == "event.type":
                    why = f"the rule's on lists only {', '.join(rule.on)}"
                elif values is not None:
                    why = f"{fact} is always one of {', '.join(_show(v) for v in values)}"
                else:
                    why = f"{fact} is a whole number"
                problems.append(
                    doc.problem(
                        (*loc, "when", i),
                        f"{c.text!r} never holds: {why}; the rule can never fire",
                        "unreachable_rule",
                    )
                )
                break
            narrowed = [a for a in feasible if _holds_at(c, a)]
            if not narrowed:
                others = ", ".join(
                    f"{e.text!r} (line {doc.where((*loc, 'when', j))[0]})" for j, e in earlier
                )
                problems.append(
                    doc.problem(
                        (*loc, "when", i),
                        f"{c.text!r} contradicts {others}: no value of {fact} satisfies "
                        "them all, so the rule can never fire",
                        "contradicting_conditions",
                    )
                )
                break
            feasible = narrowed
            earlier.append((i, c))
    return problems


# -- decision tables ----------------------------------------------------------------------

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_INTERVAL = re.compile(
    rf"^\s*(?P<open>[\[(])\s*(?P<lo>{_NUMBER})?\s*,\s*(?P<hi>{_NUMBER})?\s*(?P<close>[\])])\s*$"
)
_COMPARISON = re.compile(rf"^\s*(?P<op>>=|<=|>|<|==|=)\s*(?P<num>{_NUMBER})\s*$")
_ANY = ("-", None)


class _CellError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TableColumn:
    """An input column: the fact, whether cells are ranges or values, and its values."""

    fact: str
    ranged: bool
    values: tuple[Any, ...] | None
    domain: tuple[Condition, ...]


@dataclass(frozen=True)
class TableRow:
    """One row of a compiled table: the conditions of its cells and its outputs."""

    number: int
    """1-based, as the rule author counts rows."""
    line: int
    conditions: tuple[Condition, ...]
    outputs: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What a table decided for one fact message: the rows that count and their outputs.

    For ``collect`` every output is a list with one value per matching row.
    """

    rows: tuple[int, ...]
    values: dict[str, Any]
    offer_id: str | None


@dataclass(frozen=True)
class CompiledTable:
    """A validated decision table."""

    hit: Literal["first", "unique", "collect"]
    columns: tuple[TableColumn, ...]
    outputs: tuple[str, ...]
    rows: tuple[TableRow, ...]

    def matching(self, facts: dict[str, Any]) -> list[TableRow]:
        """Rows whose cells all hold (in Python; the engine runs them in durable_rules)."""
        return [r for r in self.rows if all(c.holds(facts) for c in r.conditions)]

    def decide(self, numbers: Iterable[int]) -> Outcome | None:
        """The outcome of these matching rows under the table's hit policy."""
        by_number = {r.number: r for r in self.rows}
        rows = [by_number[n] for n in sorted(set(numbers)) if n in by_number]
        if not rows:
            return None
        if self.hit == "collect":
            values = {o: [r.outputs[o] for r in rows] for o in self.outputs if o != "offer"}
            return Outcome(tuple(r.number for r in rows), values, None)
        # unique tables are checked at load never to match twice; first takes file order
        row = rows[0]
        values = {o: row.outputs[o] for o in self.outputs if o != "offer"}
        return Outcome((row.number,), values, row.outputs.get("offer"))


def _number(text: str, fact: str) -> int | float:
    value = float(text)
    if FACTS[fact].type is int and value.is_integer():
        return int(value)
    return int(value) if value.is_integer() and "." not in text else value


def _typed_values(column: TableColumn, items: Sequence[Any]) -> list[Any]:
    """The values of an enumerated cell, typed like the fact and checked against its values."""
    fact = column.fact
    spec = FACTS[fact]
    if not items:
        raise _CellError("table_cell", f"an empty list in the {fact} column: use - for any")
    typed: list[Any] = []
    for item in items:
        if spec.type is bool:
            if not isinstance(item, bool):
                raise _CellError("table_cell", f"{fact} is true/false; {item!r} is not")
            typed.append(item)
        elif spec.type in (int, float):
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise _CellError("table_cell", f"{fact} is a number; {item!r} is not")
            typed.append(item)
        else:
            typed.append(str(item))
        if column.values is not None and typed[-1] not in column.values:
            raise _CellError(
                "table_value",
                f"{_show(typed[-1])} is not one of the values of {fact}: "
                f"{', '.join(_show(v) for v in column.values)}",
            )
    return typed


def _cell_conditions(column: TableColumn, cell: Cell) -> list[Condition]:
    """The conditions one input cell stands for (none for ``-``)."""
    fact = column.fact
    spec = FACTS[fact]
    if cell in _ANY:
        return []
    if column.ranged:
        if isinstance(cell, bool | list):
            raise _CellError(
                "table_cell",
                f"{cell!r} in the {fact} column: write a range in quotes, like "
                '"[0.8, 0.9)" or ">= 0.9", a number, or - for any (to list values, '
                f"declare them under inputs, e.g. {fact}: [1, 2, 3])",
            )
        if isinstance(cell, int | float):
            return [Condition(f"{fact} == {_num(cell)}", fact, "==", cell)]
        m = _COMPARISON.match(cell)
        if m:
            op = "==" if m.group("op") == "=" else m.group("op")
            n = _number(m.group("num"), fact)
            return [Condition(f"{fact} {op} {_num(n)}", fact, op, n)]
        m = _INTERVAL.match(cell)
        if not m:
            raise _CellError(
                "table_cell",
                f"cannot read {cell!r} in the {fact} column: write a range like "
                '"[0.8, 0.9)", a comparison like ">= 0.9", a number, or - for any',
            )
        out = []
        lo, hi = m.group("lo"), m.group("hi")
        if lo is not None:
            op = ">=" if m.group("open") == "[" else ">"
            lo_n = _number(lo, fact)
            out.append(Condition(f"{fact} {op} {_num(lo_n)}", fact, op, lo_n))
        if hi is not None:
            op = "<=" if m.group("close") == "]" else "<"
            hi_n = _number(hi, fact)
            out.append(Condition(f"{fact} {op} {_num(hi_n)}", fact, op, hi_n))
        if lo is not None and hi is not None:
            a, b = float(lo), float(hi)
            if a > b or (a == b and not (m.group("open") == "[" and m.group("close") == "]")):
                raise _CellError("table_cell", f"the range {cell!r} holds no value of {fact}")
        return out
    typed = _typed_values(column, cell if isinstance(cell, list) else [cell])
    if spec.type is bool:
        if len(set(typed)) == 2:
            return []
        return [
            Condition(fact if typed[0] else f"not {fact}", fact, "is" if typed[0] else "not", None)
        ]
    if len(typed) == 1:
        return [Condition(f"{fact} == {_show(typed[0])}", fact, "==", typed[0])]
    shown = ", ".join(_show(v) for v in typed)
    return [Condition(f"{fact} in [{shown}]", fact, "in", typed)]


def _table_column(
    fact: str, domain: Cell, rule: Rule, doc: Located, loc: Loc
) -> tuple[TableColumn | None, list[Problem]]:
    """One input column, or the problems with its declaration."""
    where = (*loc, "table", "inputs", fact)
    spec = FACTS.get(fact)
    if spec is None:
        return None, [doc.problem(where, f"unknown fact {fact!r} as a table input", "unknown_fact")]
    problems = _fact_problems(fact, rule, doc, where, f"table input {fact}")
    if problems:
        return None, problems
    if spec.type is date:
        return None, [
            doc.problem(
                where, f"{fact} is a date: dates cannot be table inputs, use when", "table_column"
            )
        ]
    try:
        if spec.type in (int, float) and not isinstance(domain, list):
            # a ranged column: the domain, if any, is itself a range
            ranged = TableColumn(fact, True, None, ())
            return dataclasses.replace(ranged, domain=tuple(_cell_conditions(ranged, domain))), []
        known = _known_values(fact, rule.on) if spec.type is str else None
        column = TableColumn(fact, False, known, ())
        if spec.type is bool:
            return dataclasses.replace(column, domain=tuple(_cell_conditions(column, domain))), []
        if domain in _ANY:
            return column, []
        declared = _typed_values(column, domain if isinstance(domain, list) else [domain])
        return dataclasses.replace(column, values=tuple(dict.fromkeys(declared))), []
    except _CellError as exc:
        return None, [doc.problem(where, str(exc), exc.code)]


def _compile_table(
    rule: Rule,
    conditions: Sequence[tuple[int, Condition]],
    doc: Located,
    loc: Loc,
    catalogue: Catalogue | None,
) -> tuple[CompiledTable | None, list[Problem], list[Problem]]:
    """A rule's decision table: the compiled table, its errors and its warnings."""
    table = rule.table
    assert table is not None
    tloc: Loc = (*loc, "table")
    problems: list[Problem] = []
    columns: list[TableColumn] = []
    for fact, domain in table.inputs.items():
        column, found = _table_column(fact, domain, rule, doc, loc)
        problems += found
        if column is not None:
            columns.append(column)
    outputs = list(table.outputs)
    for j, name in enumerate(outputs):
        if name in outputs[:j]:
            problems.append(
                doc.problem(
                    (*tloc, "outputs", j), f"output {name!r} is listed twice", "table_column"
                )
            )
    has_offer = "offer" in outputs
    selects_table = rule.offer is not None and rule.offer.select == "table"
    if has_offer and not selects_table:
        problems.append(
            doc.problem(
                (*tloc, "outputs"),
                "an offer output needs the rule's offer to say select: table (with its purpose "
                "and fallback)",
                "table_offer",
            )
        )
    if selects_table and not has_offer:
        problems.append(
            doc.problem(
                (*loc, "offer", "select"), "select: table needs an offer output", "table_offer"
            )
        )
    if has_offer and table.hit == "collect":
        problems.append(
            doc.problem(
                (*tloc, "hit"),
                "hit: collect gives several outcomes but a message carries one offer: "
                "use first or unique",
                "table_offer",
            )
        )
    if problems:
        return None, problems, []
    width = len(columns) + len(outputs)
    rows: list[TableRow] = []
    cells: list[list[list[Condition]]] = []
    for i, raw in enumerate(table.rows):
        rloc: Loc = (*tloc, "rows", i)
        if len(raw) != width:
            problems.append(
                doc.problem(
                    rloc,
                    f"row {i + 1} has {len(raw)} cells; the table has {width} "
                    f"({len(columns)} inputs, then {len(outputs)} outputs)",
                    "table_row",
                )
            )
            continue
        row_cells: list[list[Condition]] = []
        for j, column in enumerate(columns):
            try:
                row_cells.append(_cell_conditions(column, raw[j]))
            except _CellError as exc:
                problems.append(doc.problem((*rloc, j), str(exc), exc.code))
        out: dict[str, Any] = {}
        for j, name in enumerate(outputs, len(columns)):
            value = raw[j]
            if value in _ANY:
                out[name] = None
            elif isinstance(value, list):
                problems.append(
                    doc.problem(
                        (*rloc, j), f"output {name} takes one value, not a list", "table_cell"
                    )
                )
            elif name == "offer":
                if catalogue is not None and str(value) not in catalogue.ids():
                    problems.append(
                        doc.problem(
                            (*rloc, j),
                            f"unknown offer {value!r}: not in rules/offers.yaml",
                            "unknown_offer",
                        )
                    )
                out[name] = str(value)
            else:
                out[name] = value
        if len(row_cells) == len(columns):
            cells.append(row_cells)
            rows.append(
                TableRow(
                    i + 1,
                    doc.where(rloc)[0],
                    tuple(c for cell in row_cells for c in cell),
                    out,
                )
            )
    compiled = CompiledTable(table.hit, tuple(columns), tuple(outputs), tuple(rows))
    if len(rows) < len(table.rows):
        # a row whose inputs cannot be read would make every gap and overlap a guess
        return None, problems, []
    errors, warnings = _analyse_table(rule, compiled, cells, conditions, doc, loc)
    return (None if problems else compiled), problems + errors, warnings


def _analyse_table(
    rule: Rule,
    table: CompiledTable,
    cells: list[list[list[Condition]]],
    conditions: Sequence[tuple[int, Condition]],
    doc: Located,
    loc: Loc,
) -> tuple[list[Problem], list[Problem]]:
    """Overlaps (unique), gaps (complete), rows that never match or never win (first)."""
    tloc: Loc = (*loc, "table")
    when = [c for _, c in conditions]
    axes: list[list[_Atom]] = []
    domain: list[frozenset[int]] = []
    boxes: list[list[frozenset[int]]] = [[] for _ in table.rows]
    for j, column in enumerate(table.columns):
        fixed = [c for c in when if c.fact == column.fact] + list(column.domain)
        named = fixed + [c for row in cells for c in row[j]]
        axis = _axis(column.fact, named, column.values)
        axes.append(axis)
        domain.append(
            frozenset(i for i, a in enumerate(axis) if all(_holds_at(c, a) for c in fixed))
        )
        for r, row in enumerate(cells):
            boxes[r].append(
                frozenset(i for i, a in enumerate(axis) if all(_holds_at(c, a) for c in row[j]))
            )

    def describe(box: Sequence[frozenset[int]]) -> str:
        parts = [
            _describe(col.fact, atoms, axes[j])
            for j, (col, atoms) in enumerate(zip(table.columns, box, strict=True))
            if atoms != domain[j]
        ]
        return " and ".join(parts) or "every input"

    errors: list[Problem] = []
    warnings: list[Problem] = []
    rows = table.rows
    live = [[b & d for b, d in zip(box, domain, strict=True)] for box in boxes]
    for r, box in enumerate(live):
        empty = [j for j, atoms in enumerate(box) if not atoms]
        if empty:
            fact = table.columns[empty[0]].fact
            warnings.append(
                doc.problem(
                    (*tloc, "rows", r),
                    f"row {rows[r].number} never matches: its {fact} cell is outside what the "
                    "rule's when and the input declaration allow",
                    "table_unreachable_row",
                )
            )
    if table.hit == "unique":
        found = 0
        for b in range(len(live)):
            for a in range(b):
                common = [x & y for x, y in zip(live[a], live[b], strict=True)]
                if all(common) and found < 10:
                    found += 1
                    errors.append(
                        doc.problem(
                            (*tloc, "rows", b),
                            f"rows {rows[a].number} and {rows[b].number} overlap (lines "
                            f"{rows[a].line} and {rows[b].line}): both match when "
                            f"{describe(common)}; hit: unique allows one row per input "
                            "(make the rows exclusive, or use hit: first)",
                            "table_overlap",
                        )
                    )
    if table.hit == "first":
        for b in range(1, len(live)):
            if all(live[b]) and not _uncovered(live[b], live[:b], limit=1):
                earlier = [
                    rows[a].number
                    for a in range(b)
                    if all(x & y for x, y in zip(live[a], live[b], strict=True))
                ]
                warnings.append(
                    doc.problem(
                        (*tloc, "rows", b),
                        f"row {rows[b].number} never wins: row(s) "
                        f"{', '.join(map(str, earlier))} before it already match everything "
                        "it matches (hit: first)",
                        "table_shadowed_row",
                    )
                )
    if rule.table is not None and rule.table.complete:
        gaps = _uncovered(domain, live, limit=6)
        for gap in gaps[:5]:
            errors.append(
                doc.problem(
                    (*tloc, "complete"),
                    f"no row covers {describe(gap)} (complete: true needs a row for every input)",
                    "table_gap",
                )
            )
        if len(gaps) > 5:
            errors.append(
                doc.problem((*tloc, "complete"), "... and more uncovered inputs", "table_gap")
            )
    return errors, warnings


@dataclass(frozen=True)
class CompiledRule:
    """A validated rule with its parsed conditions (and its compiled decision table)."""

    rule: Rule
    conditions: tuple[Condition, ...]
    file: str
    line: int
    table: CompiledTable | None = None

    @property
    def id(self) -> str:
        return self.rule.id

    def facts_used(self) -> set[str]:
        """Every fact the rule's conditions and table inputs test."""
        used = {c.fact for c in self.conditions}
        if self.table is not None:
            used |= {col.fact for col in self.table.columns}
        return used

    def outcome(self, facts: dict[str, Any]) -> Outcome | None:
        """What the rule's table decides for this fact message (None: no table, no row).

        Evaluated in Python with the same conditions durable_rules runs, so it agrees
        with :meth:`RuleEngine.matches` (a property test keeps it so).
        """
        if self.table is None:
            return None
        return self.table.decide(r.number for r in self.table.matching(facts))


def table_offer(
    catalogue: Catalogue, ctx: CustomerContext, at: datetime, cr: CompiledRule, outcome: Outcome
) -> OfferChoice | None:
    """The offer a table row names, with the customer's own economics (``select: table``).

    The row names the product; what it costs and saves this customer is worked out
    here as for every selector, so the ethics check judges a table's offer by the
    same evidence. The bundle the customer already has is never offered.
    """
    item = catalogue.item(outcome.offer_id) if outcome.offer_id else None
    if item is None:
        return None
    row = f"row {outcome.rows[0]} of the decision table of {cr.id}"
    outlook = usage_outlook(ctx, at)
    if isinstance(item, Bundle):
        current = current_bundle(catalogue, ctx)
        if current is not None and current.id == item.id:
            return None
        need = outlook.expected_mb if outlook is not None else None
        with_ = monthly_cost(catalogue, item, need) if need is not None else item.monthly_eur
        if current is None:
            without = round(ctx.contract_fee_eur or with_, 2)
        else:
            without = (
                monthly_cost(catalogue, current, need) if need is not None else current.monthly_eur
            )
        use = f"expected use {need / MB_PER_GB:.1f} GB a month; " if need is not None else ""
        return bundle_choice(
            item,
            without,
            with_,
            item.margin_eur - (current.margin_eur if current else 0),
            f"{row}; {use}current plan EUR {without:.2f} a month at that use, "
            f"{item.name} EUR {with_:.2f}",
        )
    assert isinstance(item, Addon)
    shortfall = (outlook.projected_mb - outlook.bundle_mb) if outlook is not None else 0.0
    oob = round(max(shortfall, 0.0) / MB_PER_GB * catalogue.out_of_bundle.price_per_gb_eur, 2)
    return addon_choice(
        item,
        oob,
        f"{row}; extra use this cycle would cost EUR {oob:.2f}, "
        f"{item.name} costs EUR {item.price_eur:.2f}",
    )


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

    ``match(facts)`` returns the ids of every enabled rule whose conditions hold; a
    decision table is one durable_rules rule per row (``<id>#<row>``), and
    ``matches(facts)`` says which rows fired.
    """

    def __init__(self, rules: Iterable[CompiledRule], name: str = "proactive") -> None:
        self._name = name
        self._fired: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        definition: dict[str, Any] = {}
        rules_list = [cr for cr in rules if cr.rule.enabled]
        for cr in rules_list:
            types = [{"event__type": t} for t in cr.rule.on]
            terms: list[dict[str, Any]] = [types[0] if len(types) == 1 else {"$or": types}]
            terms += [c.to_durable() for c in cr.conditions]
            if cr.table is None:
                definition[cr.id] = {"all": [{"m": _all(terms)}], "run": self._action(cr.id, 0)}
                continue
            for row in cr.table.rows:
                row_terms = terms + [c.to_durable() for c in row.conditions]
                definition[f"{cr.id}#{row.number}"] = {
                    "all": [{"m": _all(row_terms)}],
                    "run": self._action(cr.id, row.number),
                }
        self._enabled = bool(definition)
        # only the facts some condition tests travel to durable_rules
        self._keys = {"event__type"} | {key(f) for cr in rules_list for f in cr.facts_used()}
        self._host = _Host({name: definition} if definition else None)
        self._seq = 0

    def _action(self, rule_id: str, row: int) -> Any:
        fired = self._fired

        def run(_c: Any) -> None:
            fired.append((rule_id, row))

        return run

    def match(self, facts: dict[str, Any]) -> list[str]:
        """Ids of the rules that fire for this fact message."""
        return list(self.matches(facts))

    def matches(self, facts: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """The rules that fire, each with the numbers of its table rows that fired (or ())."""
        if not self._enabled:
            return {}
        with self._lock:  # durable_rules' host is not thread-safe
            self._seq += 1
            msg = {k: facts[k] for k in self._keys if k in facts}
            msg["sid"] = "0"
            msg["id"] = self._seq
            payload = orjson.dumps(msg).decode()
            self._fired.clear()
            if not self._host.assert_json(self._name, payload):
                return {}
            self._host.retract_json(self._name, payload)
            out: dict[str, list[int]] = {}
            for rule_id, row in self._fired:
                rows = out.setdefault(rule_id, [])
                if row:
                    rows.append(row)
            return {rule_id: tuple(sorted(rows)) for rule_id, rows in out.items()}


def _all(terms: list[dict[str, Any]]) -> dict[str, Any]:
    return terms[0] if len(terms) == 1 else {"$and": terms}


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
    warnings: tuple[Problem, ...] = ()
    """Problems that do not stop the rule set (see :data:`WARNING_CODES`)."""

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


WARNING_CODES = frozenset(
    {"duplicate_trigger", "unreachable_event", "table_unreachable_row", "table_shadowed_row"}
)
"""Codes of problems that do not stop a rule set from loading; every other code does."""


def _fact_problems(fact: str, rule: Rule, doc: Located, where: Loc, what: str) -> list[Problem]:
    """A fact a rule tests: on its event types (``data.*``) and its data category declared."""
    categories = {FACTS[fact].category}
    if fact.startswith("data."):
        name = fact.split(".", 1)[1]
        types = [t for t in rule.on if t in PAYLOADS and name in PAYLOADS[t].model_fields]
        if not types:
            return [
                doc.problem(
                    where, f"{fact}: none of {rule.on} has a field {name!r}", "unknown_fact"
                )
            ]
        categories = {event_category(t) for t in types}
    return [
        doc.problem(
            where,
            f"{what} uses {fact} ({category} data) but the rule does not declare "
            f"'{category}' under data",
            "undeclared_data",
        )
        for category in sorted(c for c in categories if c is not None)
        if category not in rule.data
    ]


def _check_rule(
    rule: Rule,
    doc: Located,
    loc: Loc,
    templates: Templates | None,
) -> tuple[list[tuple[int, Condition]], list[Problem]]:
    """Checks a validated rule needs beyond its model: events, conditions, data, template.

    Returns the conditions that could be read, each with its index under ``when``.
    """
    problems: list[Problem] = []
    conditions: list[tuple[int, Condition]] = []
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
        found = _fact_problems(cond.fact, rule, doc, (*loc, "when", i), "condition")
        problems += found
        if not any(p.code == "unknown_fact" for p in found):
            conditions.append((i, cond))
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
    problems += _check_conditions(rule, conditions, doc, loc)
    return conditions, problems


def _unreachable_events(
    rule: Rule,
    cr: CompiledRule,
    conditions: Sequence[tuple[int, Condition]],
    doc: Located,
    loc: Loc,
) -> list[Problem]:
    """Event types in ``on`` that can never fire the rule (a warning: the others still can)."""
    out: list[Problem] = []
    tested = [f.split(".", 1)[1] for f in sorted(cr.facts_used()) if f.startswith("data.")]
    type_conds = [c for _, c in conditions if c.fact == "event.type"]
    for i, etype in enumerate(rule.on):
        model = PAYLOADS.get(etype)
        if model is None:
            continue
        missing = [name for name in tested if name not in model.model_fields]
        excluded = [c.text for c in type_conds if not c.holds({"event__type": etype})]
        if missing or excluded:
            why = (
                f"it has no field {', '.join(missing)} that the rule tests"
                if missing
                else f"{excluded[0]!r} excludes it"
            )
            out.append(
                doc.problem(
                    (*loc, "on", i), f"the rule never fires on {etype}: {why}", "unreachable_event"
                )
            )
    # never on any of them: the conditions themselves are reported as errors
    return out if len(out) < len(rule.on) else []


def _trigger(cr: CompiledRule) -> tuple[Any, ...]:
    """What makes a rule fire, in a form two rules can be compared by."""

    def frozen(v: Any) -> Any:
        return tuple(sorted(map(str, v))) if isinstance(v, list) else v

    conds = frozenset((c.fact, c.op, frozen(c.value)) for c in cr.conditions)
    table = None
    if cr.table is not None:
        table = tuple(
            frozenset((c.fact, c.op, frozen(c.value)) for c in row.conditions)
            for row in cr.table.rows
        )
    return (frozenset(cr.rule.on), conds, table)


def _duplicates(compiled: Sequence[tuple[CompiledRule, Located, Loc]]) -> list[Problem]:
    """Enabled rules that fire on exactly the same events and conditions as an earlier one."""
    seen: dict[tuple[Any, ...], CompiledRule] = {}
    out = []
    for cr, doc, loc in compiled:
        if not cr.rule.enabled:
            continue
        trig = _trigger(cr)
        first = seen.setdefault(trig, cr)
        if first is not cr:
            out.append(
                doc.problem(
                    (*loc, "when") if cr.rule.when else (*loc, "on"),
                    f"fires on exactly the same events and conditions as {first.id!r} "
                    f"({first.file}:{first.line}); arbitration lets only one of them through, "
                    "so merge them or tell them apart",
                    "duplicate_trigger",
                )
            )
    return out


def _coded(problems: list[Problem]) -> list[Problem]:
    """Stable codes for model errors a rule author meets often."""
    out = []
    for p in problems:
        if p.code == "invalid" and p.key.endswith(".offer.select"):
            p = dataclasses.replace(p, code="unknown_offer")
        elif p.code == "invalid" and re.search(r"\.channels\.\d+$", p.key):
            p = dataclasses.replace(p, code="unknown_channel")
        out.append(p)
    return out


def _check_raw(item: Any, doc: Located, loc: Loc, templates: Templates | None) -> list[Problem]:
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


def _lenient(item: Any) -> Rule | None:
    """The rule without its unknown fields, if that is all that was wrong with it.

    Lets one lint run report an unknown field *and* the rule's other mistakes.
    """
    if not isinstance(item, dict):
        return None
    try:
        return Rule.model_validate({k: v for k, v in item.items() if k in Rule.model_fields})
    except ValidationError:
        return None


def _compile_rule(
    rule: Rule, doc: Located, loc: Loc, templates: Templates | None, catalogue: Catalogue | None
) -> tuple[CompiledRule, list[Problem]]:
    """A validated rule compiled, with every problem it has (errors and warnings)."""
    conditions, problems = _check_rule(rule, doc, loc, templates)
    table: CompiledTable | None = None
    if rule.table is not None:
        table, errors, warnings = _compile_table(rule, conditions, doc, loc, catalogue)
        problems += errors + warnings
    line, _ = doc.where(loc)
    cr = CompiledRule(rule, tuple(c for _, c in conditions), str(doc.path), line, table)
    problems += _unreachable_events(rule, cr, conditions, doc, loc)
    return cr, problems


def check_ruleset(directory: Path) -> tuple[RuleSet | None, list[Problem]]:
    """Load, validate and compile a rule directory; every problem, errors and warnings.

    The rule set is returned when no problem is an error (warnings: :data:`WARNING_CODES`).
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
    compiled: list[tuple[CompiledRule, Located, Loc]] = []
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
                problems += _coded(validation_problems(doc, exc))
            if not isinstance(items, list):
                continue
        for i, item in enumerate(items):
            loc: Loc = ("rules", i)
            # each rule on its own, so one rule's mistake does not hide another's
            try:
                rule = Rule.model_validate(item)
            except ValidationError as exc:
                problems += _coded(validation_problems(doc, exc, loc))
                lenient = _lenient(item)
                if lenient is None:
                    problems += _check_raw(item, doc, loc, templates)
                else:
                    problems += _compile_rule(lenient, doc, loc, templates, catalogue)[1]
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
            cr, rule_problems = _compile_rule(rule, doc, loc, templates, catalogue)
            problems += rule_problems
            compiled.append((cr, doc, loc))
    problems += _duplicates(compiled)
    if any(p.code not in WARNING_CODES for p in problems) or catalogue is None or templates is None:
        return None, problems
    rules = [cr for cr, _, _ in compiled]
    groups: dict[str, set[str]] = {}
    for cr in rules:
        if not cr.rule.enabled:
            continue
        needed = {group_of(f) for f in cr.facts_used()} - {"event"}
        for etype in cr.rule.on:
            groups.setdefault(etype, set()).update(needed)
    revision = _revision(directory)
    ruleset = RuleSet(
        directory=directory,
        revision=revision,
        rules=tuple(rules),
        catalogue=catalogue,
        templates=templates,
        arbitration=arbitration,
        engine=RuleEngine(rules, "rs_" + revision.split("-")[1]),
        groups_by_type={k: frozenset(v) for k, v in groups.items()},
        warnings=tuple(problems),
    )
    return ruleset, problems


def load_ruleset(directory: Path) -> RuleSet:
    """Load, validate and compile a rule directory; raise :class:`RuleFileError` with every problem.

    The directory holds ``offers.yaml``, ``arbitration.yaml`` (optional), rule files
    (any other ``*.yaml``) and ``templates/``. Warnings do not stop it; they are kept
    on :attr:`RuleSet.warnings` (``proactive rules lint`` prints them).
    """
    ruleset, problems = check_ruleset(directory)
    if ruleset is None:
        raise RuleFileError([p for p in problems if p.code not in WARNING_CODES])
    return ruleset


__all__ = [
    "CHANNELS",
    "WARNING_CODES",
    "Arbitration",
    "CompiledRule",
    "CompiledTable",
    "Condition",
    "DecisionTable",
    "OfferSpec",
    "Outcome",
    "Rule",
    "RuleEngine",
    "RuleSet",
    "TableColumn",
    "TableRow",
    "check_ruleset",
    "load_ruleset",
    "parse_condition",
    "parse_duration",
    "table_offer",
]
