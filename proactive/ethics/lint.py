"""``proactive ethics lint``: render every template with sample data and check the text.

Each template is rendered for every language and channel it has, with sample
values for everything a template may use (customer, offer, usage, roaming,
contract and the data of a realistic event of each type the rule listens to), and
the rendered text is checked as the engine would check it: manipulation findings,
readability below the policy's B1 target, jargon, an SMS longer than the gateway
allows, a push text that is cut off, a missing decline or human route, a no-reply
sender. Each finding is reported as ``file:line: message`` at the template's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from proactive.datafile import Located, load_located
from proactive.errors import RenderError, RuleFileError
from proactive.ethics.policy import LoadedPolicy
from proactive.ethics.text import readability
from proactive.events import Event, parse_event
from proactive.generate import generate_lines
from proactive.rules import RuleSet

_SAMPLE_TIME = datetime(2026, 5, 20, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class LintFinding:
    """One problem in one rendered template."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@cache
def _sample_events() -> dict[str, Event]:
    """One realistic event of every type, from the demo generator (deterministic)."""
    out: dict[str, Event] = {}
    for line in generate_lines(customers=200, events=20000, seed=11):
        try:
            ev = parse_event(line)
        except Exception:  # the generator also writes malformed lines on purpose
            continue
        out.setdefault(ev.type, ev)
    return out


def _variables(ruleset: RuleSet, data: dict[str, Any], with_offer: bool) -> dict[str, Any]:
    cat = ruleset.catalogue
    bundle = cat.bundles[min(1, len(cat.bundles) - 1)]
    zone_id, zone = next(iter(cat.roaming.items()), (None, None))
    offer = None
    if with_offer:
        offer = {
            "id": bundle.id,
            "name": bundle.name,
            "price": bundle.monthly_eur,
            "gb": None if bundle.data_mb is None else round(bundle.data_mb / 1024),
            "recurring": True,
            "cost_without": round(bundle.monthly_eur + 6.5, 2),
            "cost_with": bundle.monthly_eur,
            "saves": 6.5,
        }
    return {
        "customer": {"name": "Sam de Vries", "proxy": False},
        "data": data,
        "offer": offer,
        "usage": {
            "pct": 90,
            "used_gb": 4.5,
            "bundle_gb": 5.0,
            "projected_gb": 6.4,
            "days_left": 8,
            "renews_on": date(2026, 6, 1),
        },
        "roaming": None
        if zone is None
        else {
            "zone": zone_id,
            "country": "ES",
            "note": zone.note_nl,
            "price_per_mb": zone.price_per_mb_eur,
        },
        "contract": {"end": date(2026, 7, 1), "fee": 20.0},
        "rule": {"id": "sample", "purpose": "service"},
    }


def _template_files(rules_dir: Path) -> dict[str, Located]:
    out = {}
    for path in sorted((rules_dir / "templates").glob("*.yaml")):
        doc = load_located(path, RuleFileError)
        if isinstance(doc.data, dict) and isinstance(doc.data.get("id"), str):
            out[doc.data["id"]] = doc
    return out


def lint_templates(ruleset: RuleSet, rules_dir: Path, lp: LoadedPolicy) -> list[LintFinding]:
    """Every ethics problem in every rendered template of ``ruleset``."""
    samples = _sample_events()
    every_type: dict[str, Any] = {}
    for ev in samples.values():
        every_type.update(dict(ev.data))
    users: dict[str, list[Any]] = {}
    for cr in ruleset.rules:
        users.setdefault(cr.rule.template, []).append(cr.rule)
    findings: list[LintFinding] = []
    seen: set[str] = set()
    for template_id, doc in _template_files(rules_dir).items():
        rules = users.get(template_id, [])
        data: dict[str, Any] = {}
        for rule in rules:
            for etype in rule.on:
                if etype in samples:
                    data.update(dict(samples[etype].data))
        data = data or every_type
        # a rule with an offer is rendered with it, and without it when it falls back
        offers = sorted(
            {r.offer is not None for r in rules}
            | {False for r in rules if r.offer is not None and r.offer.fallback == "without_offer"}
        ) or [False]
        messages = doc.data.get("messages", {}) if isinstance(doc.data, dict) else {}
        for language, channels in messages.items():
            if language not in ("nl", "en") or not isinstance(channels, dict):
                continue
            for channel in channels:
                loc = ("messages", language, channel)
                line = doc.where(loc)[0]
                for with_offer in offers:
                    try:
                        m = ruleset.templates.render(
                            template_id,
                            language,
                            channel,
                            _variables(ruleset, data, with_offer),
                        )
                    except RenderError as exc:
                        findings.append(LintFinding(str(doc.path), line, f"does not render: {exc}"))
                        continue
                    where = f"{template_id} {language}/{channel}" + (
                        " with offer" if with_offer else ""
                    )
                    for msg in _check(m, language, channel, lp):
                        text = f"{where}: {msg}"
                        if text not in seen:
                            seen.add(text)
                            findings.append(LintFinding(str(doc.path), line, text))
    return findings


def _check(m: Any, language: str, channel: str, lp: LoadedPolicy) -> list[str]:
    pol = lp.policy
    out = []
    for f in lp.manipulation.scan(m.text, language):
        out.append(f"manipulation ({f.category.replace('_', ' ')}, {f.effect}): '{f.phrase}'")
    r = readability(m.text, language)
    target = pol.language.readability_min[language]  # type: ignore[index]
    if r.score < target:
        out.append(f"readability {r.score:.0f} ({r.formula}) is below the B1 target {target:.0f}")
    if r.avg_sentence_words > pol.language.max_sentence_words:
        out.append(
            f"sentences average {r.avg_sentence_words:.0f} words"
            f" (max {pol.language.max_sentence_words})"
        )
    for word, plain in pol.language.jargon_in(m.text, language).items():
        out.append(f"jargon '{word}': say '{plain}'")
    if m.sms is not None and m.sms.segments > pol.channels.sms_max_segments:
        out.append(
            f"SMS of {m.sms.segments} parts ({m.sms.units} {m.sms.encoding} units);"
            f" the gateway allows {pol.channels.sms_max_segments}"
        )
    if channel == "push" and len(m.body) > pol.channels.push_max_chars:
        out.append(f"push text of {len(m.body)} characters (max {pol.channels.push_max_chars})")
    if not (m.decline or "").strip():
        out.append("no way to decline")
    if not (m.human or "").strip():
        out.append("no human route")
    sender = (m.sender or "").lower()
    if "noreply" in sender or "no-reply" in sender or "niet-beantwoorden" in sender:
        out.append(f"no-reply sender '{m.sender}'")
    return out
