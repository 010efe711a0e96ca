"""The eight service dimensions, each scored 0..1 with reasons and evidence.

Every scorer starts from what the customer would ask (DOMAIN.md §2) and looks at the
inputs that answer it: the rendered text, the channel, the moment, the offer and
this customer's own data. A score of 1 means nothing was found wanting; each
shortcoming subtracts a policy-visible amount and adds a reason, so a reviewer can
see *why* a score is what it is. Reasons that passed are listed too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from proactive.candidates import Candidate
from proactive.ethics.limits import active_vulnerabilities
from proactive.ethics.manipulation import ManipulationFinding
from proactive.ethics.policy import LoadedPolicy
from proactive.ethics.terms import amounts, unbacked_amounts
from proactive.ethics.text import Finding, Readability, readability
from proactive.render import NO_REPLY_RE
from proactive.rules import RuleSet

_LINK = re.compile(r"\b(?:https?://)?((?:[a-z0-9-]+\.)+[a-z]{2,})\b(?:/\S*)?", re.IGNORECASE)
_PER_MONTH = re.compile(
    r"per maand|p/m|/maand|a month|per month|/month|monthly|maandelijks", re.IGNORECASE
)
_REASON = re.compile(r"\bomdat\b|\bbecause\b|waarom|why", re.IGNORECASE)


@dataclass
class DimensionScore:
    """One dimension's score with the reasons (plain sentences) and evidence (data)."""

    score: float
    reasons: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    shortfalls: list[str] = field(default_factory=list)

    def take(self, amount: float, reason: str) -> None:
        """Subtract ``amount`` for a shortcoming and say why."""
        self.score = max(0.0, self.score - amount)
        self.reasons.append(reason)
        self.shortfalls.append(reason)

    def ok(self, reason: str) -> None:
        """Record something that was checked and found right."""
        self.reasons.append(reason)

    def as_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 3), "reasons": self.reasons, "evidence": self.evidence}


@dataclass(frozen=True)
class TextFacts:
    """What the text analysis found in a rendered message (shared by the scorers)."""

    text: str
    readability: Readability
    findings: dict[str, list[Finding]]
    domains: list[str]
    amounts: list[float]
    manipulation: list[ManipulationFinding] = field(default_factory=list)

    def tactics(self, *categories: str) -> list[ManipulationFinding]:
        """The manipulation findings of the given categories, in text order."""
        return [f for f in self.manipulation if f.category in categories]


def analyse(c: Candidate, lp: LoadedPolicy) -> TextFacts:
    """Analyse the candidate's full text once."""
    assert c.message is not None
    text = c.message.text
    found: dict[str, list[Finding]] = {}
    for f in lp.lexicon.find(text, c.language):
        found.setdefault(f.category, []).append(f)
    domains = [m.group(1).lower() for m in _LINK.finditer(text) if not m.group(1)[0].isdigit()]
    tactics = lp.manipulation.scan(text, c.language)
    return TextFacts(text, readability(text, c.language), found, domains, amounts(text), tactics)


def _quote(findings: list[Finding] | list[ManipulationFinding]) -> str:
    return ", ".join(
        f"'{f.text if isinstance(f, Finding) else f.phrase}' at {f.start}" for f in findings[:4]
    )


def language(c: Candidate, t: TextFacts, lp: LoadedPolicy) -> DimensionScore:
    """Do I understand it? Customer's language, B1 readability, no jargon, channel length."""
    p = lp.policy.language
    s = DimensionScore(1.0)
    wanted = c.ctx.language or "nl"
    if c.language != wanted:
        s.take(0.8, f"written in {c.language} but the customer reads {wanted}")
    else:
        s.ok(f"in the customer's language ({c.language})")
    r = t.readability
    target = p.readability_min[c.language]
    s.evidence["readability"] = {
        "score": round(r.score, 1),
        "formula": r.formula,
        "target": target,
        "avg_sentence_words": round(r.avg_sentence_words, 1),
    }
    if r.score < target:
        s.take(
            min(0.5, (target - r.score) / target),
            f"readability {r.score:.0f} ({r.formula}) is below the B1 target {target:.0f}",
        )
    else:
        s.ok(f"readability {r.score:.0f} ({r.formula}) meets the B1 target {target:.0f}")
    if r.avg_sentence_words > p.max_sentence_words:
        s.take(
            0.15, f"sentences average {r.avg_sentence_words:.0f} words (max {p.max_sentence_words})"
        )
    jargon = p.jargon_in(t.text, c.language)
    if jargon:
        s.evidence["jargon"] = jargon
        s.take(
            min(0.3, 0.1 * len(jargon)),
            "jargon: " + ", ".join(f"'{w}' (say '{a}')" for w, a in jargon.items()),
        )
    m = c.message
    assert m is not None
    if m.sms is not None:
        s.evidence["sms"] = {
            "encoding": m.sms.encoding,
            "units": m.sms.units,
            "segments": m.sms.segments,
        }
        if m.sms.segments > lp.policy.channels.sms_max_segments:
            s.take(0.3, f"SMS of {m.sms.segments} parts is too long for the channel")
    if m.channel == "push" and len(m.body) > lp.policy.channels.push_max_chars:
        s.take(0.3, f"push text of {len(m.body)} characters is cut off on most phones")
    return s


def place(c: Candidate, t: TextFacts, lp: LoadedPolicy) -> DimensionScore:
    """Where do I have to go? The chosen channel, its fit for the urgency and sensitivity."""
    pol = lp.policy.channels
    s = DimensionScore(1.0, evidence={"channel": c.channel, "why": c.channel_reason})
    pref = c.ctx.preferred_channel
    if pref is None:
        s.take(0.1, "the customer has not said which channel they prefer")
    elif pref != c.channel:
        s.take(
            0.35, f"sent by {c.channel}, not the customer's preferred {pref}: {c.channel_reason}"
        )
    else:
        s.ok(f"sent by the customer's preferred channel ({pref})")
    if c.purpose in lp.policy.consent.required_for and not c.ctx.consent(c.purpose, c.channel):
        s.take(0.6, f"no consent for {c.purpose} messages by {c.channel}")
    rule = c.rule.rule
    if rule.urgency == "high" and c.channel not in pol.urgent_channels and pref not in (c.channel,):
        s.take(0.2, f"an urgent notice by {c.channel} may be seen too late")
    if rule.sensitive and c.channel not in pol.secure_channels:
        s.take(0.5, f"sensitive content by {c.channel}, not behind login in a secure channel")
    elif rule.sensitive:
        s.ok(f"sensitive content kept to a secure channel ({c.channel})")
    return s


def time_(c: Candidate, t: TextFacts, lp: LoadedPolicy, deliver_at: Any) -> DimensionScore:
    """When? Not in quiet hours, timely to the trigger, not right after another message."""
    s = DimensionScore(1.0)
    delay = deliver_at - c.at
    s.evidence["deliver_at"] = deliver_at.isoformat()
    if delay > timedelta(0):
        s.ok(f"held until {deliver_at:%Y-%m-%d %H:%M} UTC to respect quiet hours / opening hours")
    if delay > timedelta(hours=18):
        s.take(0.2, f"will arrive {delay.total_seconds() / 3600:.0f} hours after the trigger")
    # usage and contract timing speak only to messages those events triggered
    pct = c.facts.get("usage__pct_used") if _about_usage(c) else None
    if pct is not None:
        if pct >= 1.0:
            s.take(0.4, "the bundle has already run out: the warning comes too late")
        else:
            s.ok(f"warns before the bundle runs out ({pct:.0%} used)")
    days_to_end = (
        c.facts.get("contract__days_to_end") if c.event.type == "contract.ending_soon" else None
    )
    if days_to_end is not None and days_to_end < 14:
        s.take(0.3, f"only {days_to_end} days before the contract ends: little time to decide")
    gap = timedelta(hours=lp.policy.contact.min_gap_hours)
    recent = [x for x in c.ctx.contacts if deliver_at - gap <= x.at <= deliver_at]
    if recent:
        s.take(
            0.3,
            f"another message went {((deliver_at - recent[-1].at).total_seconds() / 3600):.1f} hours earlier",
        )
    if c.rule.rule.invites_contact:
        if lp.policy.human_route.is_open(deliver_at):
            s.ok("invites a call while the line is open")
        else:
            s.take(0.5, "invites a call while the line is closed")
    return s


def complexity(c: Candidate, t: TextFacts, lp: LoadedPolicy) -> DimensionScore:
    """How complicated is it? Full price and conditions, few options, no small print."""
    s = DimensionScore(1.0)
    if c.offer is not None:
        if any(abs(a - c.offer.price_eur) < 0.005 for a in t.amounts):
            s.ok(f"price stated in full ({c.offer.price_eur:.2f})")
        else:
            s.take(0.4, "the offer's price is not stated in the message")
        if c.offer.recurring and not _PER_MONTH.search(t.text):
            s.take(0.2, "a monthly price without saying it is monthly")
    words = t.readability.words
    s.evidence["words"] = words
    if words > 120:
        s.take(0.2, f"{words} words: long for a proactive message")
    small = t.tactics("hidden_costs")
    if small:
        s.take(0.4, f"hidden costs or small print: {_quote(small)}")
    options = len(set(re.findall(r"\b\d+\s?GB\b", t.text)))
    if options > 3:
        s.take(0.2, f"{options} different bundle sizes: too many options at once")
    if not s.reasons:
        s.ok("short, one clear message")
    return s


def relevance(c: Candidate, t: TextFacts, lp: LoadedPolicy) -> DimensionScore:
    """Does this apply to my situation? The offer follows from this customer's own data."""
    s = DimensionScore(1.0)
    o = c.offer
    if o is not None:
        s.evidence["basis"] = o.basis
        spike = _about_usage(c) and bool(c.facts.get("usage__spike"))
        if o.kind == "bundle" and o.recurring and spike:
            s.take(0.8, "a permanent bundle change for what looks like a one-off spike")
        elif o.kind == "addon" and spike:
            s.ok("one-off add-on for a one-off spike")
        else:
            s.ok("offer chosen from the customer's own usage: " + o.basis)
        if o.customer_value < 0:
            s.take(0.3, f"the offer costs the customer EUR {-o.customer_value:.2f} more per period")
        if c.ctx.managed_by_proxy:
            s.take(
                0.3, "the account is managed by a relative: an offer would be aimed at the proxy"
            )
    elif c.event.type == "service.outage_started" and _outage_id(c) not in c.ctx.active_outages:
        s.take(0.9, "the outage is already over: the notice is no longer relevant")
    else:
        s.ok(f"follows from the customer's own {c.event.type} event")
    return s


def _about_usage(c: Candidate) -> bool:
    """Whether the candidate was triggered by a data-usage report."""
    return c.event.type == "usage.data"


def _outage_id(c: Candidate) -> str | None:
    return getattr(c.event.data, "outage_id", None)


def trust(c: Candidate, t: TextFacts, lp: LoadedPolicy, ruleset: RuleSet) -> DimensionScore:
    """Is it right and safe? Facts match the catalogue, fresh data, a reason, no phishing."""
    pol = lp.policy.channels
    s = DimensionScore(1.0)
    m = c.message
    assert m is not None
    if m.reason and _REASON.search(m.reason):
        s.ok("says why it was sent")
    else:
        s.take(0.3, "does not say why it was sent")
    if NO_REPLY_RE.search(m.sender):
        s.take(0.8, f"sent from a no-reply sender ({m.sender})")
    if c.offer is not None:
        item = ruleset.catalogue.item(c.offer.offer_id)
        if item is None:
            s.take(1.0, f"offer {c.offer.offer_id} is not in the catalogue")
        else:
            wrong = unbacked_amounts(c, ruleset, t.amounts)  # parsed once, in analyse
            if wrong:
                s.take(0.5, f"amounts in the text not backed by the catalogue or usage: {wrong}")
            else:
                s.ok("prices match the catalogue")
    bad = [
        d
        for d in t.domains
        if not any(d == a or d.endswith("." + a) for a in pol.allowed_link_domains)
    ]
    if bad:
        s.evidence["unknown_links"] = bad
        s.take(0.5, f"links to unknown domains: {', '.join(bad)}")
    phishing = [f for f in t.tactics("phishing") if not f.pattern.startswith("link ")]
    if phishing:
        s.take(0.6, f"phishing-like wording: {_quote(phishing)}")
    misleading = t.tactics("misdirection")
    if misleading:
        s.take(0.4, f"misdirection (decoy naming or steering): {_quote(misleading)}")
    cur = c.ctx.current_cycle()
    if _about_usage(c) and cur is not None:
        age = c.at - cur.reported_at
        if age > timedelta(days=2):
            s.take(0.2, f"usage data is {age.days} days old")
    return s


def empathy(c: Candidate, t: TextFacts, lp: LoadedPolicy) -> DimensionScore:
    """Do I feel seen? No selling to people in a hard time; a tone that acknowledges it."""
    s = DimensionScore(1.0)
    hard = active_vulnerabilities(c, lp.policy)
    acknowledged = bool(t.findings.get("acknowledgement"))
    if hard:
        s.evidence["situation"] = hard
        loud = t.text.count("!") + len(t.tactics("false_urgency", "scarcity"))
        if c.purpose == "commercial":
            s.take(0.9, f"selling to a customer in a hard time ({', '.join(hard)})")
        elif loud:
            s.take(
                0.3,
                f"an exclamatory or pushy tone towards a customer in a hard time ({', '.join(hard)})",
            )
        elif acknowledged:
            s.ok("acknowledges the customer's situation")
        else:
            # naming a bereavement in an outage notice would be intrusive: calm and factual is considerate
            s.ok(
                f"a calm, factual service message; nothing is sold in a hard time ({', '.join(hard)})"
            )
    if c.ctx.open_complaints:
        if c.purpose == "commercial":
            s.take(0.8, "an offer while the customer's complaint is still open")
        elif not acknowledged:
            s.take(0.1, "a complaint is open; the message does not mention we are on it")
    if c.event.type == "billing.payment_failed" or c.event.type == "billing.payment_arrangement":
        if acknowledged:
            s.ok("a supportive tone about money trouble")
        else:
            s.take(0.3, "a message about a payment without a supportive word")
    pressure = t.tactics("false_urgency", "scarcity", "confirmshaming")
    if pressure:
        s.take(0.3, f"pressure instead of care: {_quote(pressure)}")
    if not s.reasons:
        s.ok("no sign of a hard time; neutral, friendly tone")
    return s


def autonomy(c: Candidate, t: TextFacts, lp: LoadedPolicy) -> DimensionScore:
    """Can I decide whether, how and when? Decline route, human route, no pressure."""
    s = DimensionScore(1.0)
    m = c.message
    assert m is not None
    if m.decline:
        s.ok("a way to decline is in the message")
    else:
        s.take(0.4, "no way to decline")
    if m.human:
        s.ok("a human route is in the message")
    else:
        s.take(0.3, "no way to reach a person")
    for category, amount, what in (
        ("forced_action", 0.5, "forced action or automatic enrolment"),
        ("false_urgency", 0.4, "false urgency"),
        ("scarcity", 0.4, "scarcity pressure"),
        ("confirmshaming", 0.5, "confirmshaming"),
        ("social_proof", 0.3, "social-proof pressure"),
        ("misdirection", 0.3, "misdirection"),
    ):
        found = t.tactics(category)
        if found:
            s.evidence[category] = [f.phrase for f in found]
            s.take(amount, f"{what}: {_quote(found)}")
    if c.offer is not None and c.offer.offer_id in c.ctx.declined_offers:
        s.take(0.5, "offers again what the customer said no to")
    return s
