"""Errors raised by the engine.

The tree, drawn once::

    ProactiveError
    ├── ConfigError            a setting is missing or wrong (names the key)
    ├── EventError             an event cannot be accepted (goes to the dead letter)
    ├── RuleFileError          a rule, offer or template file is broken (file, line, key)
    ├── PolicyError            the ethics policy is broken (file, line, key)
    ├── RenderError            a template failed to render for one candidate
    ├── RevisionError          a rule-set revision cannot be found or read (names it)
    ├── StoreError             the context store refused an operation
    └── LinkError              a preference link is malformed, altered or expired

Every error carries the context a reader needs to act on it.
"""

from __future__ import annotations

from dataclasses import dataclass


class ProactiveError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(ProactiveError):
    """A configuration value is missing or invalid."""


class EventError(ProactiveError):
    """An incoming event is malformed, of an unknown type or violates its schema.

    ``reason`` is a short stable code (``malformed_json``, ``unknown_type``,
    ``schema_violation``, ``oversized``); ``detail`` says what exactly was wrong.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Problem:
    """One problem found in a data file, with its location."""

    file: str
    line: int
    column: int
    key: str
    message: str
    code: str = "invalid"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        key = f" [{self.key}]" if self.key else ""
        return f"{where}: {self.code}:{key} {self.message}"


class DataFileError(ProactiveError):
    """A data file (rules, offers, templates, policy) failed validation.

    All problems are collected and reported together rather than stopping at the first.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class RuleFileError(DataFileError):
    """A rule, offer catalogue or template file is invalid."""


class PolicyError(DataFileError):
    """The ethics policy is invalid."""


class RenderError(ProactiveError):
    """A template could not be rendered (undefined variable, sandbox violation)."""


class RevisionError(ProactiveError):
    """A rule-set revision (a directory, a git revision, a revision id) cannot be read."""


class StoreError(ProactiveError):
    """The context store refused an operation."""


class LinkError(ProactiveError):
    """A preference link (or its form nonce) is malformed, altered or expired.

    The preference page answers it with a plain 403; the message says which of the
    three it was (never whose link it was).
    """
