"""The ethics check: hard limits, eight dimensions and value alignment → a verdict.

Verdicts, in order of precedence:

* **block** — a hard limit with effect *block*; a manipulation finding whose category
  blocks (false urgency, scarcity, confirmshaming, forced action, phishing); any
  error inside the check (fail closed); a render failure; a dimension below
  ``block_dimension``; a weighted score below ``review``.
* **review** — a manipulation finding whose category asks for review (social proof,
  misdirection, hidden costs); a value flag (organisation only, big brother,
  betutteling); a dimension below ``min_dimension``; a weighted score below ``send``.
* **defer** — would be sent, but quiet hours (or a closed line for a message that
  invites a call) hold it until the next allowed moment.
* **send** — everything else.

Every reason is a sentence a compliance officer can read; scores near a threshold
add a warning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from proactive.candidates import Candidate
from proactive.ethics import dimensions as dim
from proactive.ethics.limits import LimitHit, evaluate_limits, next_allowed
from proactive.ethics.manipulation import ManipulationFinding
from proactive.ethics.policy import DIMENSIONS, LoadedPolicy
from proactive.ethics.value import ValueCheck, assess_value
from proactive.rules import ExceptionSpec, RuleSet

log = logging.getLogger(__name__)

Verdict = Literal["send", "defer", "review", "block"]


@dataclass
class Assessment:
    """The check's full answer for one candidate."""

    verdict: Verdict
    reasons: list[str]
    scores: dict[str, dim.DimensionScore] = field(default_factory=dict)
    overall: float | None = None
    value: ValueCheck | None = None
    limits: list[LimitHit] = field(default_factory=list)
    deliver_at: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    manipulation: list[ManipulationFinding] = field(default_factory=list)
    exception: dict[str, Any] | None = None
    """The joker used by this decision: the excepted limits, justification and who."""

    def scores_dict(self) -> dict[str, Any]:
        return {k: v.as_dict() for k, v in self.scores.items()}


class EthicsCheck:
    """Judges candidates against one policy revision."""

    def __init__(self, policy: LoadedPolicy) -> None:
        self.lp = policy
        self.policy = policy.policy
        self.revision = policy.revision

    def assess(
        self, c: Candidate, ruleset: RuleSet, reviewer_exception: ExceptionSpec | None = None
    ) -> Assessment:
        """Judge one candidate. Never raises: an internal error blocks (fail closed).

        ``reviewer_exception`` is a reviewer's joker at approval time: like a rule's,
        it lifts organisation limits only, and only with a written justification.
        """
        try:
            return self._assess(c, ruleset, reviewer_exception)
        except Exception as exc:
            log.exception("ethics check failed for rule %s", c.rule_id)
            return Assessment(
                "block",
                [f"the ethics check failed ({type(exc).__name__}: {exc}); blocked to be safe"],
                error=f"{type(exc).__name__}: {exc}",
            )

    def _assess(
        self, c: Candidate, ruleset: RuleSet, reviewer_exception: ExceptionSpec | None
    ) -> Assessment:
        if c.message is None:
            return Assessment(
                "block",
                [f"the message could not be rendered: {c.render_error}"],
                error=c.render_error,
            )
        limits, exception, refused = self._joker(
            c, evaluate_limits(c, self.policy, ruleset), reviewer_exception
        )
        deliver_at, _ = next_allowed(c, self.policy)
        t = dim.analyse(c, self.lp)
        scores = {
            "language": dim.language(c, t, self.lp),
            "place": dim.place(c, t, self.lp),
            "time": dim.time_(c, t, self.lp, deliver_at),
            "complexity": dim.complexity(c, t, self.lp),
            "relevance": dim.relevance(c, t, self.lp),
            "trust": dim.trust(c, t, self.lp, ruleset),
            "empathy": dim.empathy(c, t, self.lp),
            "autonomy": dim.autonomy(c, t, self.lp),
        }
        value = assess_value(c, t, self.lp, ruleset)
        limits += self._society(value)
        w = self.policy.weights
        overall = sum(scores[d].score * w[d] for d in DIMENSIONS) / sum(w[d] for d in DIMENSIONS)
        a = Assessment("send", [], scores, round(overall, 4), value, limits, deliver_at)
        a.manipulation = list(t.manipulation)
        a.exception = exception
        self._verdict(a)
        a.warnings += self._near_limits(c, a, t)
        a.reasons += refused
        if exception is not None:
            a.reasons.append(
                f"exception (joker) on organisation limit(s) {', '.join(exception['limits'])}:"
                f" {exception['justification']} (approved by {exception['approved_by']})"
            )
        return a

    def _near_limits(self, c: Candidate, a: Assessment, t: dim.TextFacts) -> list[str]:
        """Warnings for a message that goes but comes close to a limit or a target."""
        if a.verdict not in ("send", "defer"):
            return []
        out = []
        contact = self.policy.contact
        week = c.ctx.contacts_since(c.at - timedelta(days=7))
        exempt = c.purpose == "service" and contact.service_exempt_from_cap
        if not exempt and len(week) + 1 >= contact.max_per_week:
            out.append(
                f"frequency cap: this is message {len(week) + 1} of the {contact.max_per_week}"
                " a customer may get in 7 days"
            )
        if c.purpose == "commercial":
            commercial = [x for x in week if x.purpose == "commercial"]
            if len(commercial) + 1 >= contact.max_commercial_per_week:
                out.append(
                    f"frequency cap: this is commercial message {len(commercial) + 1} of the"
                    f" {contact.max_commercial_per_week} allowed in 7 days"
                )
        target = self.policy.language.readability_min.get(c.language)
        score = t.readability.score
        if target is not None and score is not None and 0 <= score - target < 5:
            out.append(f"readability {score:.0f} is close to the B1 target {target:.0f}")
        sms = c.message.sms if c.message is not None else None
        if sms is not None and sms.segments == self.policy.channels.sms_max_segments:
            out.append(f"SMS uses all {sms.segments} parts the gateway allows")
        return out

    def _society(self, value: ValueCheck) -> list[LimitHit]:
        """Value flags that are society items in the policy (big brother, betutteling)
        take their effect, source and reason from there."""
        society = {lim.id: lim for lim in self.policy.society.limits}
        hits = []
        for flag in value.flags:
            lim = society.get(flag)
            if lim is not None:
                detail = "; ".join(r for r in value.reasons if r.startswith(flag.replace("_", " ")))
                hits.append(
                    LimitHit(lim.id, lim.frame, lim.effect, lim.source, lim.reason, detail or flag)
                )
        return hits

    def _joker(
        self, c: Candidate, hits: list[LimitHit], reviewer: ExceptionSpec | None = None
    ) -> tuple[list[LimitHit], dict[str, Any] | None, list[str]]:
        """Apply the rule's (or a reviewer's) exception to organisation limits only.

        Law, systems and society limits have no joker: naming one is refused, said in
        the reasons, and the limit keeps its effect.
        """
        spec = reviewer or c.rule.rule.exception
        if spec is None:
            return hits, None, []
        kept: list[LimitHit] = []
        excepted: list[str] = []
        refused: list[str] = []
        for h in hits:
            if h.id not in spec.limits:
                kept.append(h)
            elif h.frame == "organisation":
                excepted.append(h.id)
            else:
                kept.append(h)
                refused.append(
                    f"exception requested for {h.frame} limit '{h.id}' refused:"
                    f" only organisation limits can be excepted"
                )
        if not excepted:
            return kept, None, refused
        exception = {
            "limits": excepted,
            "justification": spec.justification,
            "approved_by": spec.approved_by,
            "by": f"reviewer:{spec.approved_by}" if reviewer else f"rule:{c.rule_id}",
        }
        return kept, exception, refused

    def _verdict(self, a: Assessment) -> None:
        th = self.policy.thresholds
        reasons: list[str] = []
        blocks = [h for h in a.limits if h.effect == "block"]
        reviews_l = [h for h in a.limits if h.effect == "review"]
        defers = [h for h in a.limits if h.effect == "defer"]
        for h in blocks:
            reasons.append(f"{h.frame} limit '{h.id}': {h.reason} ({h.detail}; source: {h.source})")
        tactic_blocks = [f for f in a.manipulation if f.effect == "block"]
        tactic_reviews = [f for f in a.manipulation if f.effect == "review"]
        reasons += [self._tactic(f) for f in tactic_blocks]
        low_block = [d for d, s in a.scores.items() if s.score < th.block_dimension]
        low_review = [
            d for d, s in a.scores.items() if th.block_dimension <= s.score < th.min_dimension
        ]
        overall = a.overall or 0.0
        society = {h.id for h in a.limits}
        flags = [f for f in (a.value.flags if a.value else []) if f not in society]
        org_only_blocks = (
            "organisation_only" in flags and self.policy.value.org_only_effect == "block"
        )
        misfit = a.value is not None and a.value.alignment < self.policy.value.min_alignment
        if blocks or tactic_blocks:
            a.verdict = "block"
        elif org_only_blocks:
            a.verdict = "block"
            reasons.append(
                "value check flag 'organisation_only': the policy blocks actions only the organisation gains from"
            )
        elif low_block:
            a.verdict = "block"
            reasons += [
                f"{d} score {a.scores[d].score:.2f} is below the block level {th.block_dimension}: {_worst(a.scores[d])}"
                for d in low_block
            ]
        elif overall < th.review:
            a.verdict = "block"
            reasons.append(f"service score {overall:.2f} is below the review level {th.review}")
        elif flags or misfit or low_review or overall < th.send or reviews_l or tactic_reviews:
            a.verdict = "review"
            reasons += [self._tactic(f) for f in tactic_reviews]
            for f in flags:
                reasons.append(f"value check flag '{f}'")
            if misfit and a.value is not None:
                reasons.append(
                    f"value alignment {a.value.alignment:.2f} is below {self.policy.value.min_alignment}: "
                    + "; ".join(r for r in a.value.reasons if _ALIGNMENT_COST.search(r))
                )
            reasons += [
                f"{d} score {a.scores[d].score:.2f} is below {th.min_dimension}: {_worst(a.scores[d])}"
                for d in low_review
            ]
            if overall < th.send:
                reasons.append(f"service score {overall:.2f} is below the send level {th.send}")
            for h in reviews_l:
                reasons.append(
                    f"{h.frame} limit '{h.id}': {h.reason} ({h.detail}; source: {h.source})"
                )
        elif defers:
            a.verdict = "defer"
            for h in defers:
                reasons.append(f"{h.frame} limit '{h.id}': {h.detail}")
        else:
            a.verdict = "send"
            reasons.append(
                f"service score {overall:.2f} meets the send level {th.send}; no limit applies"
            )
        for level, name in ((th.send, "send"), (th.review, "review")):
            if abs(overall - level) < th.near_margin:
                a.warnings.append(
                    f"service score {overall:.2f} is within {th.near_margin} of the {name} level {level}"
                )
        for d, s in a.scores.items():
            if 0 <= s.score - th.min_dimension < th.near_margin:
                a.warnings.append(
                    f"{d} score {s.score:.2f} is close to the minimum {th.min_dimension}"
                )
        a.reasons = reasons

    def _tactic(self, f: ManipulationFinding) -> str:
        spec = self.lp.manipulation.category(f.category)
        return (
            f"manipulation check: {f.category.replace('_', ' ')} '{f.phrase}' at {f.start}"
            f" ({spec.frame}: {spec.source})"
        )


_ALIGNMENT_COST = re.compile(r"clashes|at odds|big brother|betutteling|organisation gains")
"""The value reasons that lower alignment (quoted when alignment is too low)."""


def _worst(s: dim.DimensionScore) -> str:
    return "; ".join(s.shortfalls) if s.shortfalls else "no reason recorded"
