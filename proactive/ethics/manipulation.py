"""Manipulation detection: compliance-owned patterns, matched against every message.

The patterns live in ``ethics/manipulation.yaml`` (versioned with the policy), one
section per category: false urgency, scarcity, social proof, confirmshaming,
misdirection (decoy naming), forced action, hidden costs and phishing. Each finding
names its category, the words that matched and their position, so a reviewer sees
*why* a text was stopped. Links are checked here too: a link or address to a domain
the policy does not list is a phishing finding.

Example::

    >>> from pathlib import Path
    >>> detector = Detector.from_file(Path("ethics/manipulation.yaml"), ["example-telecom.nl"])
    >>> [(f.category, f.phrase) for f in detector.scan("Alleen vandaag: nog maar 3 bundels!", "nl")]
    [('false_urgency', 'Alleen vandaag'), ('scarcity', 'nog maar 3 bundels!')]
    >>> detector.scan("Uw bundel wordt op 3 mei vernieuwd.", "nl")
    []
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from proactive.datafile import Located, validate_file
from proactive.errors import PolicyError, Problem
from proactive.ethics.text import Finding, Lexicon, links

__all__ = [
    "CATEGORIES",
    "LANGUAGES",
    "Detector",
    "ManipulationFinding",
    "ManipulationSpec",
]

CATEGORIES = (
    "false_urgency",
    "scarcity",
    "social_proof",
    "confirmshaming",
    "misdirection",
    "forced_action",
    "hidden_costs",
    "phishing",
)
"""The manipulation categories, in the order they are reported."""

LANGUAGES = ("nl", "en")
"""The languages the patterns cover; ``any`` patterns apply to both."""

Category = Literal[
    "false_urgency",
    "scarcity",
    "social_proof",
    "confirmshaming",
    "misdirection",
    "forced_action",
    "hidden_costs",
    "phishing",
]
Effect = Literal["block", "review"]

_MACRO_RE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_LANGUAGE_KEYS = (*LANGUAGES, "any")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategorySpec(_Strict):
    """One category: what it is, what it does to the verdict, where that comes from."""

    description: str = Field(min_length=3)
    effect: Effect
    frame: Literal["law", "organisation", "systems", "society"]
    source: str = Field(min_length=3)
    patterns: dict[Literal["nl", "en", "any"], list[str]]
    unless: dict[Literal["nl", "en", "any"], list[str]] = Field(default_factory=dict)


class ManipulationSpec(_Strict):
    """``ethics/manipulation.yaml``, validated."""

    revision: str = Field(min_length=1)
    classes: dict[str, dict[Literal["nl", "en", "any"], list[str]]] = Field(default_factory=dict)
    categories: dict[Category, CategorySpec]

    @model_validator(mode="after")
    def _every_category(self) -> ManipulationSpec:
        missing = [c for c in CATEGORIES if c not in self.categories]
        if missing:
            raise ValueError(f"every category must be configured; missing {missing}")
        return self


@dataclass(frozen=True)
class ManipulationFinding:
    """One manipulation finding: the category, the words and where they are.

    ``start``/``end`` are offsets into the scanned text (``end`` exclusive).
    ``pattern`` is the compliance pattern as written in the YAML file (or a note for
    link findings), so a reviewer can trace the finding to its source.
    """

    category: str
    phrase: str
    start: int
    end: int
    pattern: str
    effect: Effect

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready data."""
        return {
            "category": self.category,
            "phrase": self.phrase,
            "span": [self.start, self.end],
            "effect": self.effect,
        }


def _expand(pattern: str, language: str, classes: Mapping[str, Mapping[Any, Sequence[str]]]) -> str:
    """Replace ``{name}`` with the alternatives of word class ``name`` for ``language``."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in classes:
            raise ValueError(f"unknown word class {{{name}}}")
        alternatives = classes[name].get(language) or classes[name].get("any")
        if not alternatives:
            raise ValueError(f"word class {{{name}}} has nothing for language {language!r}")
        return "(?:" + "|".join(alternatives) + ")"

    return _MACRO_RE.sub(one, pattern)


class Detector:
    """Scans a text for manipulation in one language; built once per policy revision."""

    def __init__(self, spec: ManipulationSpec, allowed_domains: Iterable[str]) -> None:
        """Compile ``spec``; raise ``ValueError`` naming the first bad pattern."""
        self.spec = spec
        self.revision = spec.revision
        self.allowed_domains = tuple(d.lower().strip(".") for d in allowed_domains)
        self._original: dict[tuple[str, str, str], str] = {}
        found: dict[str, dict[str, list[str]]] = {}
        unless: dict[str, dict[str, list[str]]] = {}
        for category, cat in spec.categories.items():
            for target, given in ((found, cat.patterns), (unless, cat.unless)):
                source: dict[str, list[str]] = {str(k): v for k, v in given.items()}
                for language in LANGUAGES:
                    patterns = [*source.get("any", []), *source.get(language, [])]
                    for pattern in patterns:
                        expanded = _expand(pattern, language, spec.classes)
                        self._original[(category, language, expanded)] = pattern
                        target.setdefault(category, {}).setdefault(language, []).append(expanded)
        self._found = Lexicon.from_mapping(found)
        self._unless = Lexicon.from_mapping(unless)

    @classmethod
    def from_file(cls, path: Path, allowed_domains: Iterable[str]) -> Detector:
        """Load and compile ``path``; raise :class:`PolicyError` with every problem located."""
        spec, doc = validate_file(Path(path), ManipulationSpec, PolicyError)
        problems = _pattern_problems(spec, doc)
        if problems:
            raise PolicyError(problems)
        return cls(spec, allowed_domains)

    def effect(self, category: str) -> Effect:
        """What a finding of ``category`` does to the verdict."""
        return self.spec.categories[category].effect  # type: ignore[index]

    def category(self, category: str) -> CategorySpec:
        """The configuration of one category."""
        return self.spec.categories[category]  # type: ignore[index]

    def scan(self, text: str, lang: str) -> list[ManipulationFinding]:
        """Every manipulation finding in ``text`` (language ``nl`` or ``en``), in order.

        Overlapping matches of one category are merged into one finding, and a
        finding that overlaps an ``unless`` match of its own category (truthful
        service wording) is dropped.
        """
        code = lang.strip().lower().replace("_", "-").split("-", 1)[0]
        if code not in LANGUAGES:
            raise ValueError(f"unsupported language {lang!r}; expected 'nl' or 'en'")
        if not text:
            return []
        exempt: dict[str, list[Finding]] = {}
        for f in self._unless.find(text, code):
            exempt.setdefault(f.category, []).append(f)
        kept: list[Finding] = [
            f
            for f in self._found.find(text, code)
            if not any(u.start < f.end and f.start < u.end for u in exempt.get(f.category, []))
        ]
        findings = _merge(kept, text, code, self)
        findings += self._links(text)
        findings.sort(key=lambda f: (f.start, CATEGORIES.index(f.category)))
        return findings

    def _links(self, text: str) -> list[ManipulationFinding]:
        out = []
        for link, start, end in links(text):
            host = _host(link)
            if host and not any(host == a or host.endswith("." + a) for a in self.allowed_domains):
                out.append(
                    ManipulationFinding(
                        "phishing",
                        link,
                        start,
                        end,
                        "link or address to a domain not in channels.allowed_link_domains",
                        self.effect("phishing"),
                    )
                )
        return out


def _merge(
    findings: list[Finding], text: str, language: str, detector: Detector
) -> list[ManipulationFinding]:
    """One finding per category and overlapping stretch of text."""
    by_category: dict[str, list[Finding]] = {}
    for f in findings:
        by_category.setdefault(f.category, []).append(f)
    merged: list[ManipulationFinding] = []
    for category, items in by_category.items():
        items.sort(key=lambda f: (f.start, -f.end))
        start, end, first = items[0].start, items[0].end, items[0]
        for f in items[1:]:
            if f.start < end:
                end = max(end, f.end)
                continue
            merged.append(_finding(category, start, end, first, text, language, detector))
            start, end, first = f.start, f.end, f
        merged.append(_finding(category, start, end, first, text, language, detector))
    return merged


def _finding(
    category: str, start: int, end: int, first: Finding, text: str, language: str, d: Detector
) -> ManipulationFinding:
    pattern = d._original.get((category, language, first.pattern), first.pattern)
    return ManipulationFinding(category, text[start:end], start, end, pattern, d.effect(category))


def _host(link: str) -> str:
    """The domain of a URL, bare domain or e-mail address, lower-cased."""
    value = link.lower()
    if "@" in value and "://" not in value:
        return value.rsplit("@", 1)[1].strip(".")
    value = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value)
    value = re.split(r"[/?#:]", value, maxsplit=1)[0]
    if "@" in value:  # user:password@host
        value = value.rsplit("@", 1)[1]
    return value.strip(".")


def _pattern_problems(spec: ManipulationSpec, doc: Located) -> list[Problem]:
    """Every pattern that does not expand or compile, at its own line."""
    problems = []
    for category, cat in spec.categories.items():
        for section, source in (("patterns", cat.patterns), ("unless", cat.unless)):
            for key, patterns in source.items():
                languages = LANGUAGES if key == "any" else (key,)
                for i, pattern in enumerate(patterns):
                    try:
                        for language in languages:
                            expanded = _expand(pattern, language, spec.classes)
                            Lexicon.from_mapping({category: {language: [expanded]}})
                    except ValueError as exc:
                        loc = ("categories", category, section, key, i)
                        problems.append(doc.problem(loc, f"{pattern!r}: {exc}", "bad_pattern"))
    return problems
