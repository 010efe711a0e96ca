"""Tests for proactive.ethics.text: syllables, sentences, words, readability, lexicon."""

from __future__ import annotations

import time

import pytest

from proactive.ethics.text import (
    LONG_WORD_SYLLABLES,
    Finding,
    Lexicon,
    readability,
    sentences,
    syllables,
    words,
)

# --------------------------------------------------------------------------- syllables


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("information", 4),
        ("bundle", 2),  # syllabic "-le"
        ("the", 1),
        ("usage", 2),  # silent final "e"
        ("used", 1),  # silent "-ed"
        ("wanted", 2),  # "-ed" after t is spoken
        ("minutes", 2),  # silent "-es"
        ("messages", 3),  # "-es" after g is spoken
        ("beautiful", 3),  # "eau" is one vowel group
        ("create", 2),  # hiatus found by the hyphenation patterns
        ("people", 2),
        ("subscription", 3),
        ("available", 4),
        ("received", 2),
        ("unlimited", 4),
        ("lately", 2),  # silent "e" before a suffix
        ("something", 2),  # silent "e" at a hyphenation point ("some-thing")
        ("telephone", 3),
        ("year", 1),  # initial "y" before a vowel is a consonant
        ("unique", 2),  # "qu" is a consonant
        ("every", 3),
        ("maybe", 2),
        ("naïve", 2),  # a diaeresis starts a new syllable
        ("centre", 2),
        ("automatically", 6),
        ("telecommunications", 7),
    ],
)
def test_english_syllables(word: str, expected: int) -> None:
    assert syllables(word, "en") == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("bundelvernieuwing", 5),
        ("abonnement", 4),  # pyphen gives "abon-ne-ment"; the vowel count adds the "a"
        ("gebruikt", 2),  # "ui" is one vowel
        ("ziekte", 2),  # "ie" is one vowel; Dutch final e is spoken
        ("bijna", 2),  # "ij"
        ("beschikbaar", 3),
        ("vandaag", 2),
        ("heeft", 1),
        ("klantnummer", 3),
        ("telefoonnummer", 5),
        ("koeien", 2),  # "oei" + "e"
        ("mooie", 2),  # "ooi" + "e"
        ("nieuw", 1),  # "ieu"
        ("ideaal", 3),  # "e" and "aa" are separate
        ("museum", 3),  # "eu" split by the hyphenation patterns
        ("situatie", 4),
        ("zeeën", 2),  # diaeresis
        ("geïnformeerd", 4),
        ("coördinatie", 5),
        ("herinnering", 4),
        ("betalingsregeling", 6),
        ("ondersteuning", 4),
        ("online", 2),  # English loanword, silent e
    ],
)
def test_dutch_syllables(word: str, expected: int) -> None:
    assert syllables(word, "nl") == expected


@pytest.mark.parametrize(
    ("word", "lang", "expected"),
    [
        ("e-mail", "en", 2),  # hyphenated parts are counted separately
        ("auto's", "nl", 2),  # apostrophes are ignored
        ("don’t", "en", 1),  # so are curly ones
        ("Information", "en", 4),  # case does not matter
        ("BUNDEL", "nl", 2),
        ("90", "nl", 1),  # numbers count as 1
        ("13,50", "nl", 1),
        ("%", "en", 1),  # tokens without letters count as 1
        ("SMS", "nl", 1),  # letters but no vowel
        ("https://www.kpn.com/bundels", "nl", 1),  # URLs and addresses are one unit
        ("klant@kpn.nl", "nl", 1),
    ],
)
def test_syllables_special_tokens(word: str, lang: str, expected: int) -> None:
    assert syllables(word, lang) == expected


def test_syllables_accepts_region_tags_and_rejects_unknown_languages() -> None:
    assert syllables("abonnement", "nl-NL") == 4
    assert syllables("information", "en_GB") == 4
    with pytest.raises(ValueError, match="unsupported language 'de'"):
        syllables("Tarif", "de")


# Hard cases where spelling hides a syllable. Stated honestly: the heuristic may be
# off by one here, never by more.
@pytest.mark.parametrize(
    ("word", "lang", "expected"),
    [
        ("really", "en", 2),
        ("inconvenience", "en", 5),
        ("evening", "en", 2),
        ("quiet", "en", 2),
        ("period", "en", 3),
        ("downloaden", "nl", 3),
        ("klantenservice", "nl", 4),
        ("financiële", "nl", 5),
    ],
)
def test_syllables_hard_words_within_one(word: str, lang: str, expected: int) -> None:
    assert abs(syllables(word, lang) - expected) <= 1


def test_syllables_is_cached() -> None:
    syllables.cache_clear()
    syllables("vernieuwing", "nl")
    syllables("vernieuwing", "nl")
    info = syllables.cache_info()
    assert info.hits == 1
    assert info.misses == 1


# -------------------------------------------------------------------------- sentences


def test_sentences_split_on_terminators_and_line_breaks() -> None:
    text = "Uw bundel is bijna op. U heeft 90% gebruikt!\nWilt u meer? Bel ons"
    assert sentences(text) == [
        "Uw bundel is bijna op.",
        "U heeft 90% gebruikt!",
        "Wilt u meer?",
        "Bel ons",
    ]


def test_sentences_keep_amounts_and_decimal_points() -> None:
    text = "De bundel kost € 13,50 per maand. Met korting is het 13.50 euro. Klaar."
    assert sentences(text) == [
        "De bundel kost € 13,50 per maand.",
        "Met korting is het 13.50 euro.",
        "Klaar.",
    ]


def test_sentences_keep_abbreviations() -> None:
    assert sentences("Kies een bundel, bijv. de 10 GB bundel. Daarna bent u klaar.") == [
        "Kies een bundel, bijv. de 10 GB bundel.",
        "Daarna bent u klaar.",
    ]
    assert sentences("Use the app, e.g. To check your usage. Then relax.") == [
        "Use the app, e.g. To check your usage.",
        "Then relax.",
    ]
    assert sentences("Zie art. 5, d.w.z. de voorwaarden. Of bel Nr. 3.") == [
        "Zie art. 5, d.w.z. de voorwaarden.",
        "Of bel Nr. 3.",
    ]


def test_sentences_keep_urls_and_list_numbers() -> None:
    text = "Ga naar kpn.com/bundel. Of mail klant@kpn.nl.\n1. Open de app\n2. Kies een bundel."
    assert sentences(text) == [
        "Ga naar kpn.com/bundel.",
        "Of mail klant@kpn.nl.",
        "1. Open de app",
        "2. Kies een bundel.",
    ]


def test_sentences_drop_pieces_without_words() -> None:
    assert sentences("") == []
    assert sentences("  \n\n --- \n 🙂 ") == []
    assert sentences('He said "stop." Then he left.') == ['He said "stop."', "Then he left."]


# ------------------------------------------------------------------------------ words


def test_words_tokenise_letters_digits_urls_and_addresses() -> None:
    text = "Nog € 13,50 te gaan: zie https://kpn.com/b?x=1, www.kpn.com of mail klant@kpn.nl."
    assert words(text) == [
        "Nog",
        "13,50",
        "te",
        "gaan",
        "zie",
        "https://kpn.com/b?x=1",
        "www.kpn.com",
        "of",
        "mail",
        "klant@kpn.nl",
    ]


def test_words_keep_inner_apostrophes_hyphens_and_dotted_abbreviations() -> None:
    assert words("Don’t use e-mail, e.g. the app's chat; auto's.") == [
        "Don’t",
        "use",
        "e-mail",
        "e.g.",
        "the",
        "app's",
        "chat",
        "auto's",
    ]


def test_words_of_empty_or_symbol_text() -> None:
    assert words("") == []
    assert words("!!! -- € % 🙂") == []


# ------------------------------------------------------------------------ readability

EASY_NL = "Uw bundel is bijna op. U heeft 90% gebruikt."
HARD_NL = (
    "Ingevolge de toepasselijke contractuele voorwaarden betreffende uw "
    "mobieletelefonieabonnement wordt de maandelijkse bundelvernieuwing automatisch "
    "geëffectueerd, tenzij u voorafgaand aan de vervaldatum schriftelijk dan wel via de "
    "klantenserviceomgeving een opzeggingsverzoek indient, waarbij eventuele "
    "roamingtoeslagen en buitenbundelverbruikskosten onverminderd verschuldigd blijven "
    "conform de tariefbepalingen."
)
EASY_EN = "Your bundle is almost used up. You have used 90% of it."
HARD_EN = (
    "Pursuant to the applicable contractual provisions governing your telecommunications "
    "subscription, the monthly allowance renewal shall be automatically effectuated unless "
    "termination notification is communicated prior to expiration, notwithstanding any "
    "supplementary international roaming surcharges and additional consumption liabilities."
)


def test_readability_counts_for_a_plain_dutch_message() -> None:
    r = readability(EASY_NL, "nl")
    assert r.formula == "flesch-douma"
    assert r.sentences == 2
    assert r.words == 9  # "90" is a word, "%" is not
    assert r.syllables == 12
    assert r.long_words == 0
    assert r.avg_sentence_words == pytest.approx(4.5)
    assert r.avg_syllables_per_word == pytest.approx(12 / 9)
    assert r.score == pytest.approx(206.835 - 0.93 * 4.5 - 77 * 12 / 9)


def test_readability_separates_plain_from_jargon_in_dutch() -> None:
    easy = readability(EASY_NL, "nl")
    hard = readability(HARD_NL, "nl")
    assert hard.sentences == 1
    assert hard.words >= 35
    assert hard.long_words >= 15
    assert easy.score >= 80
    assert hard.score <= 20
    assert easy.score - hard.score >= 60


def test_readability_separates_plain_from_jargon_in_english() -> None:
    easy = readability(EASY_EN, "en")
    hard = readability(HARD_EN, "en")
    assert easy.formula == hard.formula == "flesch-reading-ease"
    assert easy.sentences == 2
    assert easy.long_words == 0
    assert hard.long_words >= 15
    assert easy.score >= 80
    assert hard.score <= 20
    assert easy.score - hard.score >= 60


def test_readability_score_is_clamped_and_formula_applied() -> None:
    # Unclamped, this text scores far below zero.
    assert readability(HARD_EN, "en").score == 0.0
    # "Go." has 1 word of 1 syllable: 206.835 - 1.015 - 84.6 > 100.
    assert readability("Go.", "en").score == 100.0
    r = readability("Please check your usage in the app. It shows your remaining data.", "en")
    expected = 206.835 - 1.015 * r.avg_sentence_words - 84.6 * r.avg_syllables_per_word
    assert 0 < expected < 100
    assert r.score == pytest.approx(expected)


def test_readability_long_words_use_the_documented_threshold() -> None:
    r = readability("Information is available.", "en")
    assert LONG_WORD_SYLLABLES == 3
    assert r.long_words == 2  # in-for-ma-tion, a-vail-a-ble


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "!!! 🙂 ---"])
def test_readability_of_empty_text(text: str) -> None:
    for lang in ("nl", "en"):
        r = readability(text, lang)
        assert (r.sentences, r.words, r.syllables, r.long_words) == (0, 0, 0, 0)
        assert r.score == 0.0
        assert r.avg_sentence_words == 0.0
        assert r.avg_syllables_per_word == 0.0


def test_readability_rejects_unknown_language() -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        readability("Bonjour.", "fr")


def test_readability_stays_linear_on_long_and_odd_input() -> None:
    # Pathological inputs must not make the tokeniser quadratic.
    started = time.perf_counter()
    for text in ("ab." * 20_000, "a." * 30_000, ". " * 30_000, EASY_NL * 500):
        readability(text, "nl")
    assert time.perf_counter() - started < 5.0


# ---------------------------------------------------------------------------- lexicon

MAPPING = {
    "scarcity": {
        "nl": [r"nog maar \d+", "op = op"],
        "en": [r"only \d+ left"],
    },
    "urgency": {
        "nl": ["alleen vandaag", "wacht niet te lang"],
        "en": ["only today", "don't miss out"],
        "any": [r"€ ?\d+ korting"],
    },
}


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.from_mapping(MAPPING)


def test_lexicon_finds_dutch_scarcity_with_positions(lexicon: Lexicon) -> None:
    text = "Let op! Nog maar 2 beschikbaar."
    assert lexicon.find(text, "nl") == [
        Finding("scarcity", r"nog maar \d+", "Nog maar 2", 8, 18),
    ]
    assert text[8:18] == "Nog maar 2"


def test_lexicon_finds_english_scarcity_case_insensitively(lexicon: Lexicon) -> None:
    text = "Hurry: ONLY 3 LEFT and only 12 left tomorrow"
    found = lexicon.find(text, "en")
    assert [(f.category, f.text, f.start, f.end) for f in found] == [
        ("scarcity", "ONLY 3 LEFT", 7, 18),
        ("scarcity", "only 12 left", 23, 35),
    ]
    assert all(text[f.start : f.end] == f.text for f in found)


def test_lexicon_does_not_match_inside_words(lexicon: Lexicon) -> None:
    assert lexicon.find("Stop = stop, zo is het.", "nl") == []
    assert lexicon.find("Op = opa is een grap.", "nl") == []
    assert lexicon.find("not only 3 leftovers", "en") == []
    # A real match right after a rejected one inside a word is still found.
    found = lexicon.find("stop = op = op", "nl")
    assert [(f.text, f.start) for f in found] == [("op = op", 7)]
    assert lexicon.find("Op = op.", "nl")[0].text == "Op = op"


def test_lexicon_boundaries_hold_for_patterns_edged_with_punctuation(lexicon: Lexicon) -> None:
    found = lexicon.find("Nu €5 korting, of € 10 korting!", "nl")
    assert [f.text for f in found] == ["€5 korting", "€ 10 korting"]
    assert lexicon.find("Nu x€5 korting", "nl") == []
    assert lexicon.find("Nu €5 kortingen", "nl") == []


def test_lexicon_language_selection(lexicon: Lexicon) -> None:
    text = "Nog maar 2! Only 3 left. €5 korting"
    assert {f.category + ":" + f.text for f in lexicon.find(text, "nl")} == {
        "scarcity:Nog maar 2",
        "urgency:€5 korting",
    }
    assert {f.category + ":" + f.text for f in lexicon.find(text, "en")} == {
        "scarcity:Only 3 left",
        "urgency:€5 korting",
    }
    assert [f.text for f in lexicon.find(text, "en-GB")] == ["Only 3 left", "€5 korting"]
    assert lexicon.find(text, "de") == [f for f in lexicon.find(text, "nl") if f.start >= 25]


def test_lexicon_treats_curly_quotes_and_odd_spaces_as_plain(lexicon: Lexicon) -> None:
    text = "Don’t miss out: only\u00a03\u00a0\u00a0left!"
    found = lexicon.find(text, "en")
    assert [(f.text, f.start, f.end) for f in found] == [
        ("Don’t miss out", 0, 14),
        ("only\u00a03\u00a0\u00a0left", 16, 28),
    ]
    assert all(text[f.start : f.end] == f.text for f in found)


def test_lexicon_curly_apostrophe_in_pattern_matches_plain_text() -> None:
    lex = Lexicon.from_mapping({"urgency": {"en": ["don’t wait"]}})
    assert [f.text for f in lex.find("Don't wait!", "en")] == ["Don't wait"]


def test_lexicon_ignores_soft_hyphens_and_line_breaks_but_reports_original_positions(
    lexicon: Lexicon,
) -> None:
    text = "Echt: al\u00adleen\nvandaag. Wacht  niet\tte lang"
    found = lexicon.find(text, "nl")
    assert [(f.pattern, f.start, f.end) for f in found] == [
        ("alleen vandaag", 6, 21),
        ("wacht niet te lang", 23, 42),
    ]
    assert [text[f.start : f.end] for f in found] == [f.text for f in found]
    assert found[0].text == "al\u00adleen\nvandaag"


def test_lexicon_reports_every_pattern_sorted_by_start() -> None:
    lex = Lexicon.from_mapping(
        {
            "urgency": {"nl": ["vandaag", "alleen vandaag"]},
            "scarcity": {"any": [r"op = op"]},
        }
    )
    found = lex.find("Op = op, alleen vandaag!", "nl")
    assert [(f.category, f.text, f.start) for f in found] == [
        ("scarcity", "Op = op", 0),
        ("urgency", "alleen vandaag", 9),
        ("urgency", "vandaag", 16),
    ]
    assert lex.categories == frozenset({"urgency", "scarcity"})


def test_lexicon_bad_regex_names_category_language_and_pattern() -> None:
    with pytest.raises(ValueError) as error:
        Lexicon.from_mapping({"scarcity": {"nl": ["ok", r"nog maar (\d+"]}})
    message = str(error.value)
    assert "'scarcity'" in message
    assert "'nl'" in message
    assert r"nog maar (\\d+" in message  # repr of the pattern


@pytest.mark.parametrize(
    ("mapping", "fragment"),
    [
        ({"c": {"en": [""]}}, "is empty"),
        ({"c": {"en": ["x*"]}}, "matches the empty string"),
        ({"c": {"en": [42]}}, "42 is not a string"),
        ({"c": {"Nederlands!": ["x"]}}, "not a language code"),
        ({"c": ["x"]}, "must map languages"),
    ],
)
def test_lexicon_rejects_broken_policy_entries(mapping: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        Lexicon.from_mapping(mapping)  # type: ignore[arg-type]


def test_lexicon_single_string_is_one_pattern_and_empty_lexicon_finds_nothing() -> None:
    lex = Lexicon.from_mapping({"urgency": {"en": "hurry( up)?"}})
    assert [f.text for f in lex.find("Hurry up!", "en")] == ["Hurry up"]
    assert Lexicon.from_mapping({}).find("Nog maar 2", "nl") == []
    assert lex.find("", "en") == []


def test_lexicon_patterns_with_case_sensitive_escapes_still_work() -> None:
    # \S and [A-Z] contain capitals, so these take the case-insensitive path.
    lex = Lexicon.from_mapping({"c": {"en": [r"\S+@\S+", r"[A-Z]+ deal"]}})
    found = lex.find("Mail a@b now for a MEGA deal", "en")
    assert [f.text for f in found] == ["a@b", "MEGA deal"]


def test_lexicon_verbose_and_scoped_flag_patterns() -> None:
    lex = Lexicon.from_mapping(
        {
            "urgency": {"en": ["(?x) hurry \\s up  # spaces are syntax here\n  (\\s now)?"]},
            "brand": {"en": ["(?-i:KPN) deal"]},
        }
    )
    found = lex.find("Hurry up now for the KPN Deal, not the kpn deal", "en")
    assert [(f.category, f.text) for f in found] == [
        ("urgency", "Hurry up now"),
        ("brand", "KPN Deal"),
    ]


def test_readability_ignores_soft_hyphens() -> None:
    plain = readability("Uw abonnement loopt af.", "nl")
    hyphenated = readability("Uw abon\u00adne\u00adment loopt af.", "nl")
    assert hyphenated == plain
    assert plain.words == 4
