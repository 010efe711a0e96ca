"""Loading YAML data files (rules, offers, templates, policy) with line numbers.

PyYAML's composer keeps the position of every node; we keep a map from each key
path to its line and column so that a pydantic validation error on
``rules[2].cooldown`` is reported as ``rules/outage.yaml:14:5: ... [rules.2.cooldown]``.
All problems of a file are collected and reported together.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from proactive.errors import DataFileError, Problem

M = TypeVar("M", bound=BaseModel)


class DataLoader(yaml.SafeLoader):
    """YAML 1.2-style booleans: only true/false, so a key ``on:`` or a value ``no``
    stays a string (product teams write ``on: [usage.data]`` and country code NO)."""


DataLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
DataLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)

# libyaml's parser (when PyYAML was built with it) with the same resolvers: a
# thousand-rule set parses in a tenth of the time of the pure-Python parser
_Base: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _FastLoader(_Base):  # type: ignore[misc]
    pass


_FastLoader.yaml_implicit_resolvers = DataLoader.yaml_implicit_resolvers
Loc = tuple[int | str, ...]


class Located:
    """A parsed YAML document plus the (line, column) of every key path (1-based)."""

    def __init__(self, path: Path, data: Any, positions: dict[Loc, tuple[int, int]]) -> None:
        self.path = path
        self.data = data
        self.positions = positions

    def where(self, loc: Sequence[int | str]) -> tuple[int, int]:
        """Position of the deepest known node on ``loc`` (falls back to its parents)."""
        key: Loc = tuple(loc)
        while key:
            if key in self.positions:
                return self.positions[key]
            key = key[:-1]
        return self.positions.get((), (1, 1))

    def problem(self, loc: Sequence[int | str], message: str, code: str = "invalid") -> Problem:
        """A problem located at ``loc`` in this file."""
        line, col = self.where(loc)
        return Problem(str(self.path), line, col, ".".join(str(p) for p in loc), message, code)


def _walk(node: yaml.Node, loc: Loc, out: dict[Loc, tuple[int, int]]) -> None:
    out.setdefault(loc, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            key = k.value
            out[(*loc, key)] = (k.start_mark.line + 1, k.start_mark.column + 1)
            _walk(v, (*loc, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, (*loc, i), out)


def load_located(path: Path, error: type[DataFileError]) -> Located:
    """Parse a YAML file, keeping positions; a syntax error becomes ``error`` with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(
            [Problem(str(path), 1, 1, "", f"cannot read file: {exc}", "io_error")]
        ) from None
    try:
        # one parse: the node tree gives the positions, and the same tree the data
        loader = _FastLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        msg = f"{exc.problem or 'invalid YAML'}" + (f" ({exc.context})" if exc.context else "")
        raise error([Problem(str(path), line, col, "", msg, "yaml_syntax")]) from None
    positions: dict[Loc, tuple[int, int]] = {}
    if node is not None:
        _walk(node, (), positions)
    return Located(path, data, positions)


def validation_problems(doc: Located, exc: ValidationError, prefix: Loc = ()) -> list[Problem]:
    """Turn a pydantic error into located problems (one per error)."""
    problems = []
    for err in exc.errors():
        loc = (*prefix, *err["loc"])
        code = (
            "unknown_field"
            if err["type"] == "extra_forbidden"
            else ("missing_field" if err["type"] == "missing" else "invalid")
        )
        problems.append(doc.problem(loc, err["msg"], code))
    return problems


def validate_file(path: Path, model: type[M], error: type[DataFileError]) -> tuple[M, Located]:
    """Load ``path`` and validate it as ``model``; raise ``error`` with every problem."""
    doc = load_located(path, error)
    try:
        return model.model_validate(doc.data if doc.data is not None else {}), doc
    except ValidationError as exc:
        raise error(validation_problems(doc, exc)) from None
