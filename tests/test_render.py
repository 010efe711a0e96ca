"""Rendering product teams' templates (proactive.render): sandbox, strictness, SMS length."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from proactive.errors import RenderError, RuleFileError
from proactive.render import LANGUAGES, Templates, load_templates, sms_length
from proactive.rules import load_ruleset

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "rules" / "templates"


@cache
def shipped() -> Templates:
    return load_templates(TEMPLATES)


@cache
def used_combinations() -> list[tuple[str, str, str]]:
    """(template, language, channel) for every channel a shipped rule may use."""
    rs = load_ruleset(REPO / "rules")
    combos = {
        (cr.rule.template, lang, ch)
        for cr in rs.rules
        for ch in cr.rule.channels
        for lang in LANGUAGES
    }
    return sorted(combos)


BUNDLE_OFFER = {
    "id": "data-10gb",
    "name": "10 GB",
    "price": 16.5,
    "gb": 10,
    "recurring": True,
    "cost_without": 24.7,
    "cost_with": 16.5,
    "saves": 8.2,
}
ADDON_OFFER = {
    "id": "addon-3gb",
    "name": "3 GB extra",
    "price": 6.5,
    "gb": 3,
    "recurring": False,
    "cost_without": 9.6,
    "cost_with": 6.5,
    "saves": 3.1,
}


def variables(template: str, variant: str = "plain") -> dict[str, Any]:
    """Realistic template variables, as candidates.template_variables builds them."""
    v: dict[str, Any] = {
        "customer": {"name": "Emma de Jong", "proxy": False},
        "data": {},
        "offer": None,
        "usage": None,
        "roaming": None,
        "contract": None,
        "rule": {"id": "some-rule", "purpose": "service"},
    }
    if template == "data_bundle_warning":
        v["usage"] = {
            "pct": 92,
            "used_gb": 4.6,
            "bundle_gb": 5.0,
            "projected_gb": 7.5,
            "days_left": 12,
            "renews_on": date(2026, 6, 1),
        }
        v["offer"] = {"bundle": BUNDLE_OFFER, "addon": ADDON_OFFER}.get(variant)
    elif template == "outage_started":
        v["data"] = {
            "outage_id": "OUT-NL-20",
            "area": "NL-20",
            "services": ["data"],
            "expected_end": datetime(2026, 5, 20, 14, 30, tzinfo=UTC)
            if variant != "plain"
            else None,
        }
    elif template == "outage_resolved":
        v["data"] = {
            "outage_id": "OUT-NL-20",
            "resolved_at": datetime(2026, 5, 20, 13, 55, tzinfo=UTC),
        }
    elif template == "payment_support":
        v["data"] = {"invoice_id": "INV-1", "amount_eur": 27.35, "attempt": 1, "reason": None}
    elif template == "arrangement_support":
        v["data"] = {
            "arrangement_id": "A1",
            "status": "missed" if variant == "missed" else "started",
            "instalments": 3,
            "amount_eur": 90.0,
        }
    elif template == "contract_renewal":
        v["contract"] = {"end": date(2026, 7, 15), "fee": 20.0}
        v["offer"] = (
            {**BUNDLE_OFFER, "id": "data-5gb", "name": "5 GB", "price": 13.5}
            if variant == "bundle"
            else None
        )
    elif template == "roaming_info":
        v["roaming"] = {
            "zone": "eu",
            "country": "ES",
            "note": "Within the EU you use your bundle as at home.",
            "price_per_mb": 0.0,
        }
    return v


VARIANTS = {
    "data_bundle_warning": ["plain", "bundle", "addon"],
    "outage_started": ["plain", "expected_end"],
    "arrangement_support": ["started", "missed"],
    "contract_renewal": ["plain", "bundle"],
}


def test_every_template_language_and_channel_the_rules_use_renders() -> None:
    """Each (template, language, channel) a shipped rule may use renders, in every variant,
    with a reason, the decline and human routes, and no template syntax left over."""
    combos = used_combinations()
    assert len(combos) >= 20
    t = shipped()
    for template, lang, channel in combos:
        for variant in VARIANTS.get(template, ["plain"]):
            r = t.render(template, lang, channel, variables(template, variant))  # type: ignore[arg-type]
            where = f"{template} {lang}/{channel} {variant}"
            assert r.body, where
            assert r.reason and r.decline and r.human, where
            assert "{{" not in r.text and "{%" not in r.text, where
            assert (r.subject is not None) == (channel in ("email", "app_inbox")), where
            if channel == "sms":
                assert r.sms is not None and r.sms.encoding == "GSM-7", where
                assert r.sms.segments <= 3, where
            else:
                assert r.sms is None, where


@pytest.mark.parametrize(
    ("lang", "price", "reason_word"),
    [("nl", "16,50", "bundel"), ("en", "16.50", "bundle")],
)
def test_offer_values_appear_formatted_for_the_language(
    lang: str, price: str, reason_word: str
) -> None:
    """The offer's price is formatted for the customer's language; usage figures show up."""
    r = shipped().render(
        "data_bundle_warning", lang, "app_inbox", variables("data_bundle_warning", "bundle")
    )  # type: ignore[arg-type]
    assert "10 GB" in r.body
    assert price in r.body
    assert "92%" in r.reason and reason_word in r.reason
    assert "mijn.example-telecom.nl/bundel" in r.body


def test_warning_without_offer_does_not_mention_an_offer() -> None:
    """Without an offer the bundle warning only warns."""
    r = shipped().render("data_bundle_warning", "en", "sms", variables("data_bundle_warning"))
    assert "92%" in r.body
    assert "€" not in r.body and "a month" not in r.body


def test_arrangement_message_follows_its_status() -> None:
    """The arrangement template says different things for a started and a missed plan."""
    started = shipped().render(
        "arrangement_support", "en", "email", variables("arrangement_support", "started")
    )
    missed = shipped().render(
        "arrangement_support", "en", "email", variables("arrangement_support", "missed")
    )
    assert "3 instalments" in started.body
    assert "not paid" in missed.body and "3 instalments" not in missed.body


def test_sms_text_is_made_gsm_safe() -> None:
    """Non-breaking spaces from number formatting do not push an SMS into UCS-2."""
    r = shipped().render(
        "data_bundle_warning", "nl", "sms", variables("data_bundle_warning", "bundle")
    )
    assert "\u00a0" not in r.text
    assert r.sms is not None and r.sms.encoding == "GSM-7"
    assert r.sms.units == len(r.text) + r.text.count("€")


def test_unknown_channel_or_template_is_a_render_error() -> None:
    """Asking for a text that does not exist is an error, never an empty message."""
    with pytest.raises(RenderError, match="roaming_info"):
        shipped().render("roaming_info", "nl", "email", variables("roaming_info"))
    with pytest.raises(RenderError, match="nope"):
        shipped().render("nope", "nl", "sms", {})


# -- untrusted templates ------------------------------------------------------------------

TEMPLATE_FILE = """\
id: {id}
sender: "{sender}"
reason:
  nl: "U krijgt dit bericht omdat het een test is."
  en: "You get this message because it is a test."
messages:
  nl:
    sms: "{body}"
  en:
    sms: "{body}"
"""


def templates_with(tmp_path: Path, files: dict[str, str]) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES, target)
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    return target


def one_template(
    tmp_path: Path, body: str, sender: str = "Example Telecom", id: str = "probe"
) -> Templates:
    return load_templates(
        templates_with(
            tmp_path, {f"{id}.yaml": TEMPLATE_FILE.format(id=id, sender=sender, body=body)}
        )
    )


@pytest.mark.parametrize(
    "body",
    ["Hallo {{ customer.nickname }}", "Uw {{ bundle_name }} is op", "{{ usage.pct }}% gebruikt"],
)
def test_unknown_variable_fails_at_render(tmp_path: Path, body: str) -> None:
    """StrictUndefined: a typo or a missing value is a RenderError, not an empty string."""
    t = one_template(tmp_path, body)
    with pytest.raises(RenderError, match="probe"):
        t.render("probe", "nl", "sms", variables("roaming_info"))


def test_known_variables_render(tmp_path: Path) -> None:
    """The same probe template renders when it only uses what it is given (control case)."""
    t = one_template(tmp_path, "Hallo {{ customer.name }}, zie {{ links.status }}")
    r = t.render("probe", "nl", "sms", variables("roaming_info"))
    assert r.body == "Hallo Emma de Jong, zie mijn.example-telecom.nl/storingen"


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ eur.__globals__ }}",
        "{{ customer.__class__.__init__.__globals__ }}",
        "{{ links.__class__.__subclasses__() }}",
    ],
    ids=["mro", "subclasses", "function-globals", "init-globals", "dict-subclasses"],
)
def test_sandbox_refuses_unsafe_attributes(tmp_path: Path, body: str) -> None:
    """A template reaching for Python internals fails at render time (RenderError)."""
    t = one_template(tmp_path, body)
    with pytest.raises(RenderError):
        t.render("probe", "en", "sms", variables("roaming_info"))


def test_template_cannot_change_shared_links_for_other_messages(tmp_path: Path) -> None:
    """A template calling a mutating method on the shared ``links``/``support`` data fails,
    and other templates still carry the real link afterwards (no cross-message poisoning)."""
    t = one_template(
        tmp_path,
        "{{ links.update({'status': 'evil.example.com'}) }}{{ support.clear() }}ok",
    )
    with pytest.raises(RenderError):
        t.render("probe", "nl", "sms", variables("roaming_info"))
    other = t.render("outage_started", "nl", "sms", variables("outage_started"))
    assert "mijn.example-telecom.nl/storingen" in other.body
    assert "evil.example.com" not in other.text
    assert t.common.support["phone"] == "0800 0123"


@pytest.mark.parametrize(
    "sender", ["no-reply@example-telecom.nl", "NoReply Example Telecom", "noreply"]
)
def test_no_reply_sender_is_refused_at_load(tmp_path: Path, sender: str) -> None:
    """Customers must be able to answer: a no-reply sender is refused with its line."""
    with pytest.raises(RuleFileError) as info:
        one_template(tmp_path, "Hallo", sender=sender)
    problems = [p for p in info.value.problems if p.code == "no_reply_sender"]
    assert len(problems) == 1
    assert problems[0].file.endswith("probe.yaml") and problems[0].line == 2


def test_template_syntax_error_is_refused_with_its_line(tmp_path: Path) -> None:
    """A broken template is found at load, not when the first customer should get it."""
    with pytest.raises(RuleFileError) as info:
        one_template(tmp_path, "Uw bundel {{ usage.pct }")
    syntax = [p for p in info.value.problems if p.code == "template_syntax"]
    assert len(syntax) == 2  # both languages
    assert {p.line for p in syntax} == {8, 10}


def test_email_without_subject_is_refused(tmp_path: Path) -> None:
    """An e-mail text must have a subject and a body."""
    text = TEMPLATE_FILE.format(id="probe", sender="Example Telecom", body="Hallo").replace(
        "sms:", "email:"
    )
    with pytest.raises(RuleFileError) as info:
        load_templates(templates_with(tmp_path, {"probe.yaml": text}))
    assert any(p.code == "missing_subject" for p in info.value.problems)


# -- SMS length -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units", "segments"),
    [
        ("a" * 160, 160, 1),
        ("a" * 161, 161, 2),
        ("a" * 306, 306, 2),
        ("a" * 307, 307, 3),
        ("€" * 80, 160, 1),
        ("€" * 81, 162, 2),
        ("Prijs: €10 [actie] {x}", 27, 1),
    ],
)
def test_gsm7_lengths(text: str, units: int, segments: int) -> None:
    """GSM-7: 160 units in one SMS, 153 per part; € [ ] { } count as two units."""
    s = sms_length(text)
    assert (s.encoding, s.units, s.segments) == ("GSM-7", units, segments)


@pytest.mark.parametrize(
    ("text", "units", "segments"),
    [
        ("ł" * 70, 70, 1),
        ("ł" * 71, 71, 2),
        ("ł" * 134, 134, 2),
        ("ł" * 135, 135, 3),
        ("a" * 69 + "ł", 70, 1),
        ("😀", 2, 1),
    ],
)
def test_non_gsm_character_switches_to_ucs2(text: str, units: int, segments: int) -> None:
    """One character outside GSM-7 makes the whole SMS UCS-2: 70 per SMS, 67 per part."""
    s = sms_length(text)
    assert (s.encoding, s.units, s.segments) == ("UCS-2", units, segments)


def test_gsm_accented_letters_stay_gsm7() -> None:
    """Letters of the GSM alphabet (é, ü, ñ, Ä) do not force UCS-2."""
    assert sms_length("Café München, señor Ärger").encoding == "GSM-7"
