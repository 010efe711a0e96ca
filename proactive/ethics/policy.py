"""The ethics policy (``ethics/policy.yaml``): weights, thresholds, limits, lexicons, values.

Owned by compliance and versioned: every decision records :attr:`Policy.revision`.
Each hard limit records its *frame* (law, organisation, systems, society), its
source and its reason, so a reader of a decision sees where a block comes from.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from proactive.datafile import Located, validate_file
from proactive.errors import PolicyError, Problem
from proactive.ethics.manipulation import Detector
from proactive.ethics.text import Lexicon

log = logging.getLogger(__name__)

DIMENSIONS = (
    "language",
    "place",
    "time",
    "complexity",
    "relevance",
    "trust",
    "empathy",
    "autonomy",
)
"""The eight service dimensions, in the order they are reported."""

LIMIT_IDS = (
    "consent_for_purpose_and_channel",
    "objection_direct_marketing",
    "customer_stopped_rule",
    "special_category_in_commercial",
    "offer_in_catalogue",
    "no_selling_when_vulnerable",
    "no_upsell_with_open_complaint",
    "no_offer_to_proxy",
    "quiet_hours",
    "cooldown",
    "frequency_cap",
    "declined_offer_respected",
    "no_retention_offer_after_notice",
    "answerable_sender",
    "sensitive_in_secure_channel",
    "sms_segments",
    "big_brother",
    "betutteling",
)
"""The hard limits the engine knows how to enforce (the policy must configure each)."""

LAW_ONLY = frozenset(
    {
        "consent_for_purpose_and_channel",
        "objection_direct_marketing",
        "customer_stopped_rule",
        "special_category_in_commercial",
        "offer_in_catalogue",
        "sensitive_in_secure_channel",
    }
)
"""Limits the law sets: the policy must keep them in the law frame (never excepted)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    send: float = Field(ge=0, le=1)
    review: float = Field(ge=0, le=1)
    min_dimension: float = Field(ge=0, le=1)
    block_dimension: float = Field(ge=0, le=1)
    near_margin: float = Field(ge=0, le=0.5)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.review <= self.send:
            raise ValueError("thresholds: review must not be above send")
        if not self.block_dimension <= self.min_dimension:
            raise ValueError("thresholds: block_dimension must not be above min_dimension")
        return self


class Limit(_Strict):
    """A hard limit and where it comes from."""

    id: Literal[LIMIT_IDS]  # type: ignore[valid-type]
    frame: Literal["law", "organisation", "systems", "society"]
    """Set from the section the limit is written in."""
    effect: Literal["block", "defer", "review"]
    source: str = Field(min_length=3)
    reason: str = Field(min_length=3)
    review_by: date | None = None


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


TimeZone = Annotated[str, AfterValidator(_zone)]


class Window(_Strict):
    start: time
    end: time


class OpeningHours(_Strict):
    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(min_length=1)
    start: time
    end: time


class Contact(_Strict):
    default_quiet_hours: Window
    default_time_zone: TimeZone
    max_per_week: int = Field(ge=0)
    max_commercial_per_week: int = Field(ge=0)
    service_exempt_from_cap: bool = True
    min_gap_hours: float = Field(ge=0)
    declined_respect_days: int = Field(ge=0)
    vulnerability_days: dict[str, int]


class HumanRoute(_Strict):
    phone: str
    time_zone: TimeZone
    opening_hours: list[OpeningHours]

    def is_open(self, at: datetime) -> bool:
        """Whether the human line is open at this moment."""
        local = at.astimezone(ZoneInfo(self.time_zone))
        return any(
            local.weekday() in oh.days and oh.start <= local.time() < oh.end
            for oh in self.opening_hours
        )

    def next_open(self, at: datetime) -> datetime:
        """The first moment at or after ``at`` when the line is open (searches 8 days)."""
        tz = ZoneInfo(self.time_zone)
        local = at.astimezone(tz)
        for day in range(8):
            d = (local + timedelta(days=day)).date()
            for oh in sorted(self.opening_hours, key=lambda o: o.start):
                if d.weekday() not in oh.days:
                    continue
                start = datetime.combine(d, oh.start, tz)
                end = datetime.combine(d, oh.end, tz)
                if local < end:
                    return max(start, local).astimezone(at.tzinfo)
        return at


class Channels(_Strict):
    sms_max_segments: int = Field(ge=1)
    push_max_chars: int = Field(ge=1)
    urgent_channels: list[str]
    secure_channels: list[str]
    allowed_link_domains: list[str]


class LanguagePolicy(_Strict):
    readability_min: dict[Literal["nl", "en"], float]
    max_sentence_words: int = Field(ge=5)
    jargon: dict[Literal["nl", "en"], dict[str, str]]

    def jargon_in(self, text: str, language: str) -> dict[str, str]:
        """The jargon words in ``text`` with their plain alternatives."""
        lower = text.lower()
        words = self.jargon.get(language, {})  # type: ignore[call-overload]
        return {w: plain for w, plain in words.items() if w in lower}


class OrgValue(_Strict):
    id: str
    description: str


class CustomerValue(_Strict):
    likes: list[str] = Field(default_factory=list)
    dislikes: list[str] = Field(default_factory=list)


class Values(_Strict):
    organisation: list[OrgValue]
    customer: dict[str, CustomerValue]


class ValuePolicy(_Strict):
    min_alignment: float = Field(default=0.75, ge=0, le=1)
    min_customer_value_eur: float = 0.0
    org_only_effect: Literal["review", "block"] = "review"
    horizon_cycles: int = Field(default=3, ge=1, le=24)
    """Value is projected over this many billing cycles (a recurring offer's cost or
    saving counts each cycle; a one-off add-on once)."""
    avoided_contact_eur: float = Field(default=0.0, ge=0)
    """What a support call or chat costs that a timely service message makes unneeded."""
    retention_eur: float = Field(default=0.0, ge=0)
    """Expected cost of a customer leaving after a bad surprise (bill shock, an outage
    nobody told them of), counted when a message prevents one."""
    cost_to_serve_eur: dict[str, float] = Field(default_factory=dict)
    """What sending one message costs, per channel."""


class Masking(_Strict):
    message: Literal["full", "hash"] = "full"
    log_fields: list[str] = Field(default_factory=list)


class Retention(_Strict):
    """How long personal data is kept, in days; ``proactive purge`` removes what is older.

    A period left out (None) is not purged by retention. See ``docs/privacy.md``.
    """

    events_days: int | None = Field(default=None, ge=1)
    """Event payloads kept to act later (deferred, review), and which customer a processed
    event id belonged to; measured from the event time."""
    message_text_days: int | None = Field(default=None, ge=1)
    """The rendered message text in decision records (the record stays, the text goes);
    measured from the decision time."""
    dead_letters_days: int | None = Field(default=None, ge=1)
    """Rejected events, kept to diagnose the source; measured from their arrival."""
    inactive_customer_days: int | None = Field(default=None, ge=1)
    """The context (profile, consents, usage, contact history) of a customer the engine
    has not seen for this long."""


class Fairness(_Strict):
    """How reports compare outcomes between customer segments."""

    segments: tuple[Literal["age_band", "language", "channel", "segment"], ...] = (
        "age_band",
        "language",
        "channel",
    )
    max_disparity: float = Field(default=1.25, gt=1)
    """Flag a group whose rate differs from the best group's by more than this ratio."""
    min_group_size: int = Field(default=30, ge=1)
    """Groups with fewer decisions are shown but not flagged (too few to judge)."""


class ReviewPolicy(_Strict):
    """The human review queue."""

    expire_after_hours: int = Field(default=72, ge=1)
    """An action nobody reviewed within this time expires (it is not sent)."""


class Governance(_Strict):
    """Exceptions (the joker) to organisation limits."""

    max_exception_rate: float = Field(default=0.05, ge=0, le=1)
    """Alert when more than this share of a rule's decisions use an exception."""
    min_decisions_for_alert: int = Field(default=20, ge=1)


class ConsentPolicy(_Strict):
    required_for: list[Literal["service", "commercial", "advice"]]


class Terms(_Strict):
    """What a message may promise (checked by the ``offer_in_catalogue`` limit)."""

    product_words: list[str] = Field(default_factory=list)
    """Words that make a capitalised phrase a product name ("Unlimited", "Max"): a
    product a message names must be in the catalogue."""


Frame = Literal["law", "organisation", "systems", "society"]
FRAMES: tuple[Frame, ...] = ("law", "organisation", "systems", "society")
"""The governance frames, from hard to soft (DOMAIN §8)."""


class _FrameSection(_Strict):
    """One governance frame of the policy: what it is, and its limits."""

    _frame: ClassVar[Frame]
    about: str = Field(min_length=3)
    limits: list[Limit] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _stamp_frame(cls, data: Any) -> Any:
        # a limit's frame is the section it is written in; writing another is an error
        if isinstance(data, dict) and isinstance(data.get("limits"), list):
            data = {
                **data,
                "limits": [
                    {"frame": cls._frame, **item} if isinstance(item, dict) else item
                    for item in data["limits"]
                ],
            }
        return data

    @field_validator("limits")
    @classmethod
    def _in_this_frame(cls, limits: list[Limit]) -> list[Limit]:
        for lim in limits:
            if lim.frame != cls._frame:
                raise ValueError(
                    f"limit {lim.id!r} says frame {lim.frame!r} but is listed under {cls._frame!r}"
                )
        return limits


class LawFrame(_FrameSection):
    """Law: hard limits, never excepted (no joker, not by a rule, not by a reviewer)."""

    _frame: ClassVar[Frame] = "law"
    special_categories: list[str]
    consent: ConsentPolicy


class OrganisationFrame(_FrameSection):
    """The organisation's own choices: scores, caps, send windows, values (changeable;
    a justified exception is possible)."""

    _frame: ClassVar[Frame] = "organisation"
    weights: dict[Literal[DIMENSIONS], float]  # type: ignore[valid-type]
    thresholds: Thresholds
    contact: Contact
    human_route: HumanRoute
    language: LanguagePolicy
    values: Values
    value: ValuePolicy
    terms: Terms = Field(default_factory=Terms)

    # field validators (not one model validator) so that a problem is reported at the
    # line of the key it concerns
    @field_validator("weights")
    @classmethod
    def _all_weights(cls, weights: dict[str, float]) -> dict[str, float]:
        missing = set(DIMENSIONS) - set(weights)
        if missing:
            raise ValueError(f"missing dimension(s) {sorted(missing)}")
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        return weights


class SystemsFrame(_FrameSection):
    """What the channels and systems can carry."""

    _frame: ClassVar[Frame] = "systems"
    channels: Channels


class SocietyFrame(_FrameSection):
    """What society expects beyond the law; every item is reviewed by its date."""

    _frame: ClassVar[Frame] = "society"

    @field_validator("limits")
    @classmethod
    def _review_dates(cls, limits: list[Limit]) -> list[Limit]:
        undated = [lim.id for lim in limits if lim.review_by is None]
        if undated:
            raise ValueError(f"society items need a review_by date: {', '.join(undated)}")
        return limits


class Policy(_Strict):
    """``ethics/policy.yaml``, validated: four governance frames and the machinery around them."""

    revision: str = Field(min_length=1)
    effective_from: date
    owner: str
    law: LawFrame
    organisation: OrganisationFrame
    systems: SystemsFrame
    society: SocietyFrame
    lexicons: dict[str, dict[str, list[str]]]
    manipulation: str = "manipulation.yaml"
    """The manipulation patterns, a path relative to the policy file."""
    masking: Masking
    fairness: Fairness = Field(default_factory=Fairness)
    review: ReviewPolicy = Field(default_factory=ReviewPolicy)
    governance: Governance = Field(default_factory=Governance)
    retention: Retention | None = None
    """Retention periods of personal data (None: nothing is purged by age)."""

    @model_validator(mode="after")
    def _all_limits(self) -> Policy:
        ids = [lim.id for lim in self.limits]
        absent = set(LIMIT_IDS) - set(ids)
        if absent:
            raise ValueError(f"every known limit must be configured; missing {sorted(absent)}")
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"limit(s) configured twice: {', '.join(twice)}")
        moved = sorted(lid for lid in LAW_ONLY if lid in ids and self.limit(lid).frame != "law")
        if moved:
            raise ValueError(
                f"{', '.join(moved)} must stay under law: the law sets them, so no exception may lift them"
            )
        return self

    # the frames' contents under their usual names, so code reads policy.contact
    @property
    def limits(self) -> list[Limit]:
        """Every limit, law first."""
        return [lim for f in FRAMES for lim in getattr(self, f).limits]

    @property
    def weights(self) -> dict[str, float]:
        return self.organisation.weights

    @property
    def thresholds(self) -> Thresholds:
        return self.organisation.thresholds

    @property
    def contact(self) -> Contact:
        return self.organisation.contact

    @property
    def human_route(self) -> HumanRoute:
        return self.organisation.human_route

    @property
    def language(self) -> LanguagePolicy:
        return self.organisation.language

    @property
    def values(self) -> Values:
        return self.organisation.values

    @property
    def value(self) -> ValuePolicy:
        return self.organisation.value

    @property
    def terms(self) -> Terms:
        return self.organisation.terms

    @property
    def special_categories(self) -> list[str]:
        return self.law.special_categories

    @property
    def consent(self) -> ConsentPolicy:
        return self.law.consent

    @property
    def channels(self) -> Channels:
        return self.systems.channels

    def limit(self, limit_id: str) -> Limit:
        """The configured limit with this id."""
        for lim in self.limits:
            if lim.id == limit_id:
                return lim
        raise KeyError(limit_id)

    def reviews_due(self, on: date) -> list[Limit]:
        """Society items whose review date has passed on ``on``."""
        return [
            lim for lim in self.society.limits if lim.review_by is not None and lim.review_by <= on
        ]


class LoadedPolicy:
    """A validated policy plus what is compiled from it (lexicons) and its content revision."""

    def __init__(
        self, policy: Policy, lexicon: Lexicon, detector: Detector, digest: str, path: Path
    ) -> None:
        self.policy = policy
        self.lexicon = lexicon
        self.manipulation = detector
        self.path = path
        self.revision = f"{policy.revision}+{digest[:8]}"


def _pattern_problems(policy: Policy, doc: Located) -> list[Problem]:
    """Every pattern that does not compile, at its own line."""
    problems = []
    for category, languages in policy.lexicons.items():
        for language, patterns in languages.items():
            for i, pattern in enumerate(patterns):
                try:
                    Lexicon.from_mapping({category: {language: [pattern]}})
                except ValueError as exc:
                    problems.append(
                        doc.problem(("lexicons", category, language, i), str(exc), "bad_pattern")
                    )
    return problems or [doc.problem(("lexicons",), "the word lists do not compile", "bad_pattern")]


@lru_cache(maxsize=8)
def _detector(path: Path, content: bytes, allowed_domains: tuple[str, ...]) -> Detector:
    # Compiling some 500 patterns takes about a second; a policy is loaded by every
    # command, scenario and hot reload, mostly with unchanged patterns. The content
    # is part of the key, so an edited file is compiled again.
    del content
    return Detector.from_file(path, allowed_domains)


def load_policy(path: Path) -> LoadedPolicy:
    """Load and validate ``ethics/policy.yaml``; raise :class:`PolicyError` with every problem."""
    path = Path(path)
    policy, doc = validate_file(path, Policy, PolicyError)
    try:
        lexicon = Lexicon.from_mapping(policy.lexicons)
    except ValueError:
        raise PolicyError(_pattern_problems(policy, doc)) from None
    patterns = path.parent / policy.manipulation
    if not patterns.is_file():
        raise PolicyError(
            [doc.problem(("manipulation",), f"{patterns} does not exist", "missing_file")]
        )
    content = patterns.read_bytes()
    detector = _detector(patterns, content, tuple(policy.channels.allowed_link_domains))
    for item in policy.reviews_due(date.today()):
        # a society item past its review date still applies; compliance must look again
        log.warning(
            "policy %s: society item %r was due for review on %s",
            policy.revision,
            item.id,
            item.review_by,
        )
    # the revision covers both files: changing a pattern changes every decision's revision
    digest = hashlib.sha256(path.read_bytes() + b"\0" + content).hexdigest()
    return LoadedPolicy(policy, lexicon, detector, digest, path)
