"""Manipulation detection: findings with category, words and position; truthful facts pass."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from proactive.ethics.manipulation import Detector
from proactive.ethics.policy import load_policy

ROOT = Path(__file__).resolve().parents[1]
DETECTOR: Detector = load_policy(ROOT / "ethics" / "policy.yaml").manipulation


def categories(text: str, lang: str) -> list[str]:
    return sorted({f.category for f in DETECTOR.scan(text, lang)})


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("Nog maar 2 beschikbaar!", "nl", ["scarcity"]),
        ("Slechts twee bundels over.", "nl", ["scarcity"]),
        ("Op = op", "nl", ["scarcity"]),
        ("OP IS OP", "nl", ["scarcity"]),
        ("Only 3 left", "en", ["scarcity"]),
        ("Ends tonight", "en", ["false_urgency"]),
        ("Alleen vandaag", "nl", ["false_urgency"]),
        ("Wacht niet te lang.", "nl", ["false_urgency"]),
        ("10.000 klanten gingen u al voor", "nl", ["social_proof"]),
        ("Ten thousand customers already switched.", "en", ["social_proof"]),
        ("Nee, ik betaal liever te veel", "nl", ["confirmshaming"]),
        ("No thanks, I like paying too much", "en", ["confirmshaming"]),
        ("Kies Klein (1 GB) of Normaal (20 GB, €30).", "nl", ["misdirection"]),
        ("We hebben automatisch een extra bundel toegevoegd.", "nl", ["forced_action"]),
        ("Unless you opt out within 7 days we will move you to Large.", "en", ["forced_action"]),
        ("Slechts €10 p/m*", "nl", ["hidden_costs"]),
        ("Terms and conditions apply.", "en", ["hidden_costs"]),
        ("Stuur ons uw pincode om de betaling te bevestigen.", "nl", ["phishing"]),
        ("Reply with your card number to confirm.", "en", ["phishing"]),
        ("Dit bericht komt van een no-reply adres.", "nl", ["phishing"]),
        ("Bekijk het op bit.ly/abc123", "nl", ["phishing"]),
    ],
)
def test_tactics_are_found(text: str, lang: str, expected: list[str]) -> None:
    assert categories(text, lang) == expected


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Uw bundel wordt op 3 mei vernieuwd.", "nl"),
        ("Your invoice is due on 12 June.", "en"),
        ("The outage is expected to end at 14:00.", "en"),
        ("U heeft nog maar 2 GB over deze maand.", "nl"),
        ("You have only 500 MB left this month.", "en"),
        ("We will never ask for your PIN or password.", "en"),
        ("Wij vragen nooit om uw pincode.", "nl"),
        ("Meer info op mijn.example-telecom.nl/bundel.", "nl"),
        ("Your contract ends on 1 July; nothing changes unless you choose to.", "en"),
        ("De storing duurt naar verwachting nog 2 uur.", "nl"),
        ("Wilt u deze berichten niet meer? Antwoord STOP.", "nl"),
        ("Vandaag hebben we de storing in uw wijk opgelost.", "nl"),
    ],
)
def test_truthful_service_facts_pass(text: str, lang: str) -> None:
    assert DETECTOR.scan(text, lang) == []


def test_finding_names_the_words_and_their_position() -> None:
    text = "Goed nieuws! Alleen vandaag: nog maar 3 bundels!"
    found = {f.category: f for f in DETECTOR.scan(text, "nl")}
    urgency = found["false_urgency"]
    assert urgency.phrase == "Alleen vandaag"
    assert text[urgency.start : urgency.end] == urgency.phrase
    assert found["scarcity"].phrase.startswith("nog maar 3")
    assert urgency.effect == "block"


def test_positions_refer_to_the_original_text_with_odd_spacing() -> None:
    text = "Hoi!\n\n  Nog\u00a0maar   2   beschikbaar"
    (f,) = DETECTOR.scan(text, "nl")
    assert text[f.start : f.end] == f.phrase and f.phrase.startswith("Nog")


def test_look_alike_domain_is_phishing_and_own_domain_is_not() -> None:
    bad = DETECTOR.scan("Log in via mijn-example-telecom.com/login", "en")
    assert [f.category for f in bad] == ["phishing"]
    assert DETECTOR.scan("Log in via mijn.example-telecom.nl/login", "en") == []


def test_unsupported_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        DETECTOR.scan("Bonjour", "fr")


def test_corpus_targets_hold() -> None:
    """The evaluation script's targets on the project's corpus (a regression gate)."""
    spec = importlib.util.spec_from_file_location(
        "evaluate", ROOT / "tests/ethics_corpus/evaluate.py"
    )
    assert spec is not None and spec.loader is not None
    evaluate = importlib.util.module_from_spec(spec)
    sys.modules["evaluate"] = evaluate  # dataclasses look their module up
    spec.loader.exec_module(evaluate)
    rows = evaluate.load(
        [ROOT / "tests/ethics_corpus/nl.jsonl", ROOT / "tests/ethics_corpus/en.jsonl"]
    )
    assert len(rows) >= 400
    result = evaluate.evaluate(rows, DETECTOR)
    assert result.failures() == []
