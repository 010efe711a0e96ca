"""Rendering messages: product teams' templates in a jinja2 sandbox.

Templates live in ``rules/templates/*.yaml``: one file per message, every language
(nl, en) and channel (sms, email, push, app_inbox) together, plus the one-line
reason ("you get this because …"). ``_common.yaml`` holds the decline route and the
human route every message carries. Templates are untrusted input: they run in a
:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` with :class:`~jinja2.StrictUndefined`,
so a typo is an error, never an empty string sent to a customer.

SMS length is counted the way networks bill it: GSM-7 septets (extension characters
such as € count twice), 160 per single message and 153 per part; anything outside
GSM-7 falls back to UCS-2 (70 / 67).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from gsm0338.charset import BASIC_CHARACTER_SET, BASIC_CHARACTER_SET_EXTENSION
from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proactive.datafile import Located, load_located, validation_problems
from proactive.errors import Problem, RenderError, RuleFileError
from proactive.events import CHANNELS, Channel, Language

LANGUAGES: tuple[Language, ...] = ("nl", "en")
_LOCALES = {"nl": "nl_NL", "en": "en_GB"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Subjected(_Strict):
    subject: str
    body: str


class TemplateFile(_Strict):
    """``rules/templates/<id>.yaml``."""

    id: str
    sender: str = Field(min_length=1)
    reason: dict[Language, str]
    messages: dict[Language, dict[Channel, str | Subjected]]


class CommonFile(_Strict):
    """``rules/templates/_common.yaml``: what every message carries."""

    decline: dict[Language, dict[str, str]]
    human: dict[Language, str]
    secure_notice: dict[Language, str]
    """The plain notice on the customer's own channel that a sensitive message waits in
    the secure inbox: no amounts, no details (it may use links and support only)."""
    support: dict[str, str]
    links: dict[str, str]


NO_REPLY_RE = re.compile(
    r"(?:no|do[\W_]*not|dont|don't|never)[\W_]*(?:reply|respond|response|answer)"
    r"|niet[\W_]*(?:beantwoorden|antwoorden|reageren)|geen[\W_]*(?:antwoord|reactie)"
    r"|kan[\W_]*niet[\W_]*beantwoord",
    re.IGNORECASE,
)
"""A sender address or name the customer cannot answer (noreply@, do-not-reply@,
niet-beantwoorden@ …): refused at load, and a trust shortfall if one gets through."""


@dataclass(frozen=True)
class SmsLength:
    """How an SMS text is encoded and billed."""

    encoding: str
    units: int
    segments: int


# The GSM 03.38 alphabet, from the gsm0338 package's tables: the basic set costs one
# septet per character, the extension set (€ [ ] { } ^ ~ \\ |) two (escape + code).
_GSM_BASIC = frozenset(unicodedata.lookup(n) for n in BASIC_CHARACTER_SET.values() if n != "ESCAPE")
_GSM_EXTENSION = (
    frozenset(
        unicodedata.lookup(n)
        for n in BASIC_CHARACTER_SET_EXTENSION.values()
        if n not in ("ESCAPE",)
    )
    - _GSM_BASIC
)


def sms_length(text: str) -> SmsLength:
    """Encoding, length in units and number of segments of an SMS text."""
    chars = set(text)
    if chars <= _GSM_BASIC | _GSM_EXTENSION:
        units = len(text) + sum(text.count(c) for c in chars & _GSM_EXTENSION)
        single, part, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = 70, 67, "UCS-2"
    segments = 1 if units <= single else -(-units // part)
    return SmsLength(encoding, units, segments)


@dataclass(frozen=True)
class Rendered:
    """A message as the customer will see it."""

    template_id: str
    channel: Channel
    language: Language
    sender: str
    subject: str | None
    body: str
    reason: str
    decline: str
    human: str
    sms: SmsLength | None

    @property
    def text(self) -> str:
        """Everything the customer reads, in order (what the ethics check scores)."""
        parts = [self.subject] if self.subject else []
        parts += [self.body, self.reason, self.decline, self.human]
        return "\n".join(p for p in parts if p)


@lru_cache(maxsize=4096)
def _eur(value: float, language: str) -> str:
    # Babel formatting costs tens of microseconds; amounts repeat a lot
    return str(format_currency(value, "EUR", locale=_LOCALES[language]))


@lru_cache(maxsize=4096)
def _num(value: float, digits: int, language: str) -> str:
    return str(format_decimal(round(value, digits), locale=_LOCALES[language]))


def _make_env() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
    )
    return env


@dataclass
class _Compiled:
    sender: str
    reason: dict[str, Template]
    subject: dict[tuple[str, str], Template]
    body: dict[tuple[str, str], Template]


class Templates:
    """The compiled templates of one rule revision."""

    def __init__(
        self,
        compiled: dict[str, _Compiled],
        common: CommonFile,
        decline: dict[tuple[str, str], str],
        human: dict[str, str],
        secure_notice: dict[str, str],
    ) -> None:
        self._t = compiled
        self.common = common
        self._decline = decline
        self._human = human
        self._secure_notice = secure_notice

    def secure_notice(self, language: str) -> str:
        """The plain notice that a message waits in the secure inbox, in ``language``."""
        return self._secure_notice[language]

    def ids(self) -> set[str]:
        """Template ids."""
        return set(self._t)

    def has(self, template_id: str, language: str, channel: str) -> bool:
        """Whether the template has a text for this language and channel."""
        t = self._t.get(template_id)
        return t is not None and (language, channel) in t.body

    def check_reference(
        self, template_id: str, channels: list[Channel], doc: Located, loc: tuple[int | str, ...]
    ) -> list[Problem]:
        """Problems with a rule's reference to a template (missing, or a gap per language×channel)."""
        if template_id not in self._t:
            return [doc.problem(loc, f"unknown template {template_id!r}", "unknown_template")]
        out = []
        for lang in LANGUAGES:
            for ch in channels:
                if not self.has(template_id, lang, ch):
                    out.append(
                        doc.problem(
                            loc,
                            f"template {template_id!r} has no {lang} text for channel {ch}",
                            "missing_template",
                        )
                    )
        return out

    def render(
        self,
        template_id: str,
        language: Language,
        channel: Channel,
        variables: Mapping[str, Any],
        time_zone: str = "Europe/Amsterdam",
    ) -> Rendered:
        """Render one message; raise :class:`RenderError` on any template failure.

        Times are shown in ``time_zone`` (the customer's).
        """
        t = self._t.get(template_id)
        if t is None or (language, channel) not in t.body:
            raise RenderError(f"template {template_id!r} has no {language}/{channel} text")
        ctx = dict(variables)
        ctx["eur"] = lambda v: _eur(float(v), language)
        ctx["date"] = lambda d, fmt="d MMMM": _fmt_date(d, fmt, language, time_zone)
        ctx["num"] = lambda n, digits=1: _num(float(n), digits, language)
        ctx["support"] = self.common.support
        ctx["links"] = self.common.links
        try:
            body = t.body[(language, channel)].render(ctx).strip()
            subj_t = t.subject.get((language, channel))
            subject = subj_t.render(ctx).strip() if subj_t is not None else None
            reason = t.reason[language].render(ctx).strip()
            decline = self._decline.get((language, channel)) or self._decline[(language, "default")]
            human = self._human[language]
        except TemplateError as exc:
            raise RenderError(f"template {template_id!r} ({language}/{channel}): {exc}") from exc
        if channel == "sms":
            body, reason, decline, human = (_sms_safe(x) for x in (body, reason, decline, human))
        rendered = Rendered(
            template_id, channel, language, t.sender, subject, body, reason, decline, human, None
        )
        if channel == "sms":
            return Rendered(**{**rendered.__dict__, "sms": sms_length(rendered.text)})
        return rendered


_SMS_SAFE = str.maketrans(
    {
        "\u00a0": " ",
        "\u202f": " ",
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
    }
)


def _sms_safe(text: str) -> str:
    # Babel's non-breaking spaces and typographic quotes are outside GSM-7 and would
    # switch the whole SMS to UCS-2 (70 instead of 160 characters per part).
    return text.translate(_SMS_SAFE)


@lru_cache(maxsize=4096)
def _fmt_date(value: date | datetime | str, fmt: str, language: str, time_zone: str) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            # the customer reads the time on their own clock
            value = value.astimezone(ZoneInfo(time_zone))
        return str(format_datetime(value, fmt, locale=_LOCALES[language]))
    return str(format_date(value, fmt, locale=_LOCALES[language]))


def _compile(
    env: ImmutableSandboxedEnvironment,
    source: str,
    doc: Located,
    loc: tuple[int | str, ...],
    problems: list[Problem],
) -> Template | None:
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        line, col = doc.where(loc)
        # block scalars start on the line after the key
        offset = (exc.lineno or 1) if "\n" in source else 0
        problems.append(
            Problem(
                str(doc.path),
                line + offset,
                col,
                ".".join(map(str, loc)),
                f"template syntax: {exc.message}",
                "template_syntax",
            )
        )
        return None


def _render_common(
    t: Template,
    common: CommonFile,
    doc: Located,
    loc: tuple[int | str, ...],
    problems: list[Problem],
) -> str | None:
    try:
        return t.render(links=common.links, support=common.support).strip()
    except TemplateError as exc:
        problems.append(
            doc.problem(
                loc, f"common lines may only use links and support: {exc}", "template_error"
            )
        )
        return None


def load_templates(directory: Path) -> Templates:
    """Load and compile every template in ``directory``; raise with every problem at once."""
    env = _make_env()
    problems: list[Problem] = []
    compiled: dict[str, _Compiled] = {}
    common_path = directory / "_common.yaml"
    common: CommonFile | None = None
    decline: dict[tuple[str, str], str] = {}
    human: dict[str, str] = {}
    secure_notice: dict[str, str] = {}
    if not common_path.exists():
        problems.append(
            Problem(
                str(common_path),
                1,
                1,
                "",
                "missing: every message needs the decline and human route from _common.yaml",
                "missing_file",
            )
        )
    else:
        doc = load_located(common_path, RuleFileError)
        try:
            common = CommonFile.model_validate(doc.data or {})
        except ValidationError as exc:
            problems += validation_problems(doc, exc)
        if common is not None:
            for lang in LANGUAGES:
                if (
                    lang not in common.human
                    or lang not in common.secure_notice
                    or "default" not in common.decline.get(lang, {})
                ):
                    problems.append(
                        doc.problem(
                            (),
                            f"_common.yaml needs human.{lang}, secure_notice.{lang} and decline.{lang}.default",
                            "missing_template",
                        )
                    )
                    continue
                # the common lines may use only links and support: render them once here
                h = _compile(env, common.human[lang], doc, ("human", lang), problems)
                if h is not None:
                    text = _render_common(h, common, doc, ("human", lang), problems)
                    if text is not None:
                        human[lang] = text
                n = _compile(
                    env, common.secure_notice[lang], doc, ("secure_notice", lang), problems
                )
                if n is not None:
                    text = _render_common(n, common, doc, ("secure_notice", lang), problems)
                    if text is not None:
                        secure_notice[lang] = text
                for ch, src in common.decline[lang].items():
                    d = _compile(env, src, doc, ("decline", lang, ch), problems)
                    if d is not None:
                        text = _render_common(d, common, doc, ("decline", lang, ch), problems)
                        if text is not None:
                            decline[(lang, ch)] = text
    for path in sorted(directory.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        doc = load_located(path, RuleFileError)
        try:
            tf = TemplateFile.model_validate(doc.data or {})
        except ValidationError as exc:
            problems += validation_problems(doc, exc)
            continue
        if tf.id != path.stem:
            problems.append(
                doc.problem(
                    ("id",),
                    f"template id {tf.id!r} must match the file name {path.stem!r}",
                    "invalid",
                )
            )
        if NO_REPLY_RE.search(tf.sender):
            problems.append(
                doc.problem(
                    ("sender",),
                    "a no-reply sender is not allowed: customers must be able to answer",
                    "no_reply_sender",
                )
            )
        c = _Compiled(tf.sender, {}, {}, {})
        for lang, src in tf.reason.items():
            r = _compile(env, src, doc, ("reason", lang), problems)
            if r is not None:
                c.reason[lang] = r
        for lang, channels in tf.messages.items():
            if lang not in tf.reason:
                problems.append(
                    doc.problem(
                        ("reason",), f"no reason line for language {lang}", "missing_reason"
                    )
                )
            for ch, msg in channels.items():
                if ch == "email" and not isinstance(msg, Subjected):
                    problems.append(
                        doc.problem(
                            ("messages", lang, ch),
                            "an e-mail needs a subject and a body",
                            "missing_subject",
                        )
                    )
                    continue
                body_src = msg.body if isinstance(msg, Subjected) else msg
                bloc: tuple[int | str, ...] = (
                    ("messages", lang, ch, "body")
                    if isinstance(msg, Subjected)
                    else ("messages", lang, ch)
                )
                b = _compile(env, body_src, doc, bloc, problems)
                if b is not None:
                    c.body[(lang, ch)] = b
                if isinstance(msg, Subjected):
                    s = _compile(env, msg.subject, doc, ("messages", lang, ch, "subject"), problems)
                    if s is not None:
                        c.subject[(lang, ch)] = s
        compiled[tf.id] = c
    if problems or common is None:
        raise RuleFileError(problems)
    return Templates(compiled, common, decline, human, secure_notice)


__all__ = [
    "CHANNELS",
    "NO_REPLY_RE",
    "Rendered",
    "SmsLength",
    "Templates",
    "load_templates",
    "sms_length",
]
