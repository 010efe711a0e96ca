"""The ethics policy file (ethics/policy.yaml): loads, and a broken copy is reported clearly.

Compliance edits this file by hand; every problem must name the file, the 1-based line
and the key, so the fix is one look away (DOMAIN.md §1, §8).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from ethics_helpers import POLICY_PATH

from proactive.errors import PolicyError, Problem
from proactive.ethics.policy import DIMENSIONS, LIMIT_IDS, LoadedPolicy, load_policy

SHIPPED = POLICY_PATH.read_text(encoding="utf-8")


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """1-based number of the first line containing ``needle`` (after the line with ``after``)."""
    lines = text.splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line) + 1
    for i in range(start, len(lines)):
        if needle in lines[i]:
            return i + 1
    raise AssertionError(f"{needle!r} not in the policy text")


def broken_copy(tmp_path: Path, edit: Callable[[str], str]) -> tuple[Path, str]:
    """Write an edited copy of the shipped policy; return its path and text."""
    text = edit(SHIPPED)
    assert text != SHIPPED, "the edit changed nothing"
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    shutil.copy(POLICY_PATH.parent / "manipulation.yaml", tmp_path / "manipulation.yaml")
    return path, text


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    problems = info.value.problems
    assert problems, "a PolicyError must carry its problems"
    for p in problems:
        # a problem is reported in the file it is in: the policy or its pattern file
        assert p.file in (str(path), str(path.parent / "manipulation.yaml"))
        assert p.line >= 1 and p.column >= 1
    return problems


def one_problem(path: Path) -> Problem:
    problems = problems_of(path)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# ------------------------------------------------------------------------ shipped


def test_shipped_policy_loads_with_all_weights_and_limits() -> None:
    """§2/§8: the shipped policy weighs all eight dimensions and configures every limit."""
    lp = load_policy(POLICY_PATH)
    assert isinstance(lp, LoadedPolicy)
    assert set(lp.policy.weights) == set(DIMENSIONS)
    assert all(w > 0 for w in lp.policy.weights.values())
    assert {lim.id for lim in lp.policy.limits} == set(LIMIT_IDS)
    th = lp.policy.thresholds
    assert th.block_dimension <= th.min_dimension and th.review <= th.send


def test_shipped_policy_frames() -> None:
    """§6/§8: GDPR limits are law (no joker); quiet hours defer rather than drop (S14)."""
    p = load_policy(POLICY_PATH).policy
    for limit_id in ("consent_for_purpose_and_channel", "objection_direct_marketing"):
        assert p.limit(limit_id).frame == "law"
    assert p.limit("special_category_in_commercial").frame == "law"
    assert p.limit("quiet_hours").effect == "defer"
    assert p.limit("sms_segments").frame == "systems"
    for lim in p.limits:
        assert lim.source.strip() and lim.reason.strip()


def test_revision_changes_with_the_content(tmp_path: Path) -> None:
    """§8: every decision records the policy revision; an edit without a new revision is still told apart."""
    original = load_policy(POLICY_PATH)
    path, _ = broken_copy(tmp_path, lambda t: t.replace("min_gap_hours: 4", "min_gap_hours: 6"))
    edited = load_policy(path)
    assert original.revision.startswith(original.policy.revision + "+")
    assert edited.policy.revision == original.policy.revision
    assert edited.revision != original.revision


def test_shipped_lexicon_is_compiled_and_finds_the_manipulation_words() -> None:
    """§4: the compliance word lists and manipulation patterns are compiled and used."""
    loaded = load_policy(POLICY_PATH)
    assert {"labels", "lifestyle_advice", "acknowledgement"} <= loaded.lexicon.categories
    scan = loaded.manipulation.scan
    assert [f.category for f in scan("Alleen vandaag!", "nl")] == ["false_urgency"]
    assert [f.category for f in scan("Only 2 left", "en")] == ["scarcity"]
    assert scan("Uw bundel wordt op 1 juni vernieuwd.", "nl") == []


def test_revision_covers_the_manipulation_patterns(tmp_path: Path) -> None:
    """§8: changing a manipulation pattern changes the revision every decision records."""
    path, _ = broken_copy(tmp_path, lambda t: t.replace("min_gap_hours: 4", "min_gap_hours: 4 "))
    before = load_policy(path).revision
    patterns = tmp_path / "manipulation.yaml"
    patterns.write_text(patterns.read_text().replace("'hurry(?: up)?'", "'hurry'"))
    assert load_policy(path).revision != before


def test_broken_manipulation_pattern_is_reported_at_its_line(tmp_path: Path) -> None:
    """A pattern that does not compile is refused with file, line and key."""
    path, _ = broken_copy(tmp_path, lambda t: t.replace("min_gap_hours: 4", "min_gap_hours: 4 "))
    patterns = tmp_path / "manipulation.yaml"
    text = patterns.read_text().replace("'hurry(?: up)?'", "'hurry(?: up'")
    patterns.write_text(text)
    p = one_problem(path)
    assert p.code == "bad_pattern" and p.file.endswith("manipulation.yaml")
    assert p.line == line_of(text, "hurry(?: up'")
    assert p.key.startswith("categories.false_urgency.patterns.en.")


def test_unknown_word_class_is_reported(tmp_path: Path) -> None:
    """A pattern naming a word class that does not exist is refused, not silently literal."""
    path, _ = broken_copy(tmp_path, lambda t: t.replace("min_gap_hours: 4", "min_gap_hours: 4 "))
    patterns = tmp_path / "manipulation.yaml"
    patterns.write_text(patterns.read_text().replace("'hurry(?: up)?'", "'{hurrying}'"))
    p = one_problem(path)
    assert "unknown word class {hurrying}" in p.message


# ------------------------------------------------------------------------- broken


def test_missing_weight_names_the_weights_key_and_its_line(tmp_path: Path) -> None:
    """A weight left out is reported at `weights:`, naming the missing dimension."""
    path, text = broken_copy(tmp_path, lambda t: t.replace("  autonomy: 1.5\n", ""))
    p = one_problem(path)
    assert "autonomy" in p.message
    assert p.key == "organisation.weights"
    assert p.line == line_of(text, "weights:")


def test_review_threshold_above_send(tmp_path: Path) -> None:
    """Thresholds must be ordered: review ≤ send."""
    path, text = broken_copy(tmp_path, lambda t: t.replace("review: 0.55", "review: 0.80"))
    p = one_problem(path)
    assert p.key.startswith("organisation.thresholds")
    assert "review must not be above send" in p.message
    assert p.line in (line_of(text, "thresholds:"), line_of(text, "review: 0.80"))


def test_threshold_out_of_range(tmp_path: Path) -> None:
    """A score threshold above 1 is pointed at exactly."""
    path, text = broken_copy(tmp_path, lambda t: t.replace("send: 0.75", "send: 1.5"))
    p = one_problem(path)
    assert p.key == "organisation.thresholds.send"
    assert p.line == line_of(text, "send: 1.5")


def test_unknown_limit_id(tmp_path: Path) -> None:
    """A limit id the engine does not know is reported at that id."""
    path, text = broken_copy(tmp_path, lambda t: t.replace("id: sms_segments", "id: sms_parts"))
    problems = problems_of(path)
    bad = [p for p in problems if p.key.endswith(".id")]
    assert len(bad) == 1
    assert bad[0].key == "systems.limits.0.id"
    assert bad[0].line == line_of(text, "id: sms_parts")
    assert "sms_segments" in bad[0].message  # lists what is allowed


def test_limit_left_out(tmp_path: Path) -> None:
    """Every known limit must be configured: a missing one is named, at `limits:`."""

    def drop_cooldown(t: str) -> str:
        start = t.index("  - id: cooldown")
        end = t.index("  - id: frequency_cap")
        return t[:start] + t[end:]

    path, _ = broken_copy(tmp_path, drop_cooldown)
    p = one_problem(path)
    assert "cooldown" in p.message
    assert p.key == ""  # the policy as a whole: the limit could belong to any frame


def test_limit_in_the_wrong_frame(tmp_path: Path) -> None:
    """§8: a limit's frame is the section it is listed under; saying otherwise is refused."""
    path, _ = broken_copy(
        tmp_path,
        lambda t: t.replace(
            "    - id: sms_segments\n", "    - id: sms_segments\n      frame: organisation\n"
        ),
    )
    p = one_problem(path)
    assert p.key == "systems.limits"
    assert "listed under 'systems'" in p.message


def test_a_law_limit_cannot_be_moved_out_of_law(tmp_path: Path) -> None:
    """§8/S20: consent stays a law limit, so no joker can ever lift it by moving it."""

    def move_consent(t: str) -> str:
        start = t.index("    - id: consent_for_purpose_and_channel")
        end = t.index("    - id: objection_direct_marketing")
        block = t[start:end]
        t = t[:start] + t[end:]
        anchor = "    - id: no_selling_when_vulnerable"
        return t.replace(anchor, block + anchor, 1)

    path, _ = broken_copy(tmp_path, move_consent)
    p = one_problem(path)
    assert "consent_for_purpose_and_channel must stay under law" in p.message


def test_society_items_need_a_review_date(tmp_path: Path) -> None:
    """§8: what society expects is reviewed periodically; an item without a date is refused."""
    path, _ = broken_copy(tmp_path, lambda t: t.replace("      review_by: 2027-05-01\n", "", 1))
    p = one_problem(path)
    assert p.key == "society.limits"
    assert "review_by" in p.message


def test_society_reviews_due_by_date() -> None:
    """§8: the policy says which society items are due for review on a given day."""
    p = load_policy(POLICY_PATH).policy
    assert p.reviews_due(date(2026, 11, 23)) == []
    due = {lim.id for lim in p.reviews_due(date(2027, 6, 1))}
    assert due == {"big_brother", "betutteling"}


def test_lexicon_regex_that_does_not_compile(tmp_path: Path) -> None:
    """A broken compliance pattern is reported with its category and language, at its line."""
    path, text = broken_copy(
        tmp_path, lambda t: t.replace("'grootverbruiker'", "'groot(verbruiker'")
    )
    p = one_problem(path)
    assert p.code == "bad_pattern"
    assert "'labels'" in p.message and "groot(verbruiker" in p.message
    assert p.key.startswith("lexicons.labels.nl")
    assert p.line == line_of(text, "groot(verbruiker")


def test_yaml_syntax_error(tmp_path: Path) -> None:
    """A YAML syntax error is reported at the broken line, not as a crash."""
    path, text = broken_copy(tmp_path, lambda t: t.replace("  send: 0.75", "  send: 0.75: high"))
    p = one_problem(path)
    assert p.code == "yaml_syntax"
    assert p.line == line_of(text, "send: 0.75: high")


def test_unknown_key_is_named(tmp_path: Path) -> None:
    """A misspelt key is reported as unknown, with the required one as missing."""
    path, text = broken_copy(tmp_path, lambda t: t.replace("owner:", "ownr:"))
    by_key = {p.key: p for p in problems_of(path)}
    assert by_key["ownr"].code == "unknown_field"
    assert by_key["ownr"].line == line_of(text, "ownr:")
    assert by_key["owner"].code == "missing_field"


def test_unknown_time_zone_is_refused_at_load(tmp_path: Path) -> None:
    """S14: quiet hours need a real time zone; a typo must stop the load, not every message."""
    path, text = broken_copy(
        tmp_path,
        lambda t: t.replace(
            "default_time_zone: Europe/Amsterdam", "default_time_zone: Europe/Amsterdan"
        ),
    )
    p = one_problem(path)
    assert p.key == "organisation.contact.default_time_zone"
    assert p.line == line_of(text, "Europe/Amsterdan")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Compliance sees all problems of a file in one go, not one per attempt."""

    def two_mistakes(t: str) -> str:
        return t.replace("send: 0.75", "send: 1.5").replace("id: sms_segments", "id: sms_parts")

    path, _ = broken_copy(tmp_path, two_mistakes)
    keys = {p.key for p in problems_of(path)}
    assert {"organisation.thresholds.send", "systems.limits.0.id"} <= keys
