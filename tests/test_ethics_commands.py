"""``proactive ethics check`` and ``proactive ethics lint`` through click's CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from proactive.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_check_one_dutch_text_names_category_words_and_position() -> None:
    code, out = run(
        "ethics", "check", "--text", "Alleen vandaag: nog maar 3 bundels!", "--lang", "nl", "--json"
    )
    r = json.loads(out)
    assert code == 1 and r["flagged"] is True
    assert r["categories"] == ["false_urgency", "scarcity"]
    assert {
        "category": "false_urgency",
        "phrase": "Alleen vandaag",
        "span": [0, 14],
        "effect": "block",
    } in r["findings"]
    assert r["readability"]["formula"] == "flesch-douma"


def test_check_calm_service_facts_pass() -> None:
    for text, lang in [
        ("Uw bundel wordt op 3 mei vernieuwd.", "nl"),
        ("Your invoice is due on 12 June.", "en"),
        ("The outage is expected to end at 14:00.", "en"),
    ]:
        code, out = run("ethics", "check", "--text", text, "--lang", lang, "--json")
        assert code == 0, out
        assert json.loads(out)["flagged"] is False


def test_check_file_gives_one_result_per_line_and_never_crashes(tmp_path: Path) -> None:
    long_text = "Uw bundel wordt op 3 mei vernieuwd. " * 4000  # about 144,000 characters
    lines = [
        json.dumps({"id": "a", "text": "Only 3 left! Ends tonight.", "lang": "en"}),
        json.dumps({"id": "b", "text": "De storing is om 14:00 voorbij.", "lang": "nl"}),
        json.dumps({"id": "empty", "text": "   ", "lang": "nl"}),
        json.dumps({"id": "number", "text": 42, "lang": "en"}),
        json.dumps({"id": "list", "text": ["a"], "lang": "en"}),
        json.dumps({"id": "nolang", "text": "Hello"}),
        json.dumps({"id": "fr", "text": "Bonjour", "lang": "fr"}),
        json.dumps({"id": "long", "text": long_text, "lang": "nl"}),
        json.dumps({"id": "huge", "text": "x" * 200_001, "lang": "nl"}),
        "{not json",
        "[1, 2]",
        "",
    ]
    path = tmp_path / "texts.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out = run("ethics", "check", "--file", str(path))
    assert code == 0, out
    results = [json.loads(x) for x in out.splitlines()]
    assert len(results) == 11  # every non-blank line, in order
    for r in results:
        assert {"id", "flagged", "categories", "findings", "readability", "error"} <= set(r)
    by_id = {r["id"]: r for r in results}
    assert by_id["a"]["categories"] == ["false_urgency", "scarcity"]
    assert by_id["b"]["flagged"] is False and by_id["b"]["error"] is None
    assert by_id["empty"]["error"] == "empty text"
    assert "string" in by_id["number"]["error"] and "string" in by_id["list"]["error"]
    assert "language" in by_id["nolang"]["error"] and "language" in by_id["fr"]["error"]
    assert by_id["long"]["error"] is None and by_id["long"]["readability"]["words"] > 20_000
    assert "longer than" in by_id["huge"]["error"]
    assert "not JSON" in results[9]["error"] and results[9]["line"] == 10
    assert "JSON object" in results[10]["error"]


def test_check_needs_text_or_file() -> None:
    code, out = run("ethics", "check")
    assert code == 2 and "--text" in out


def test_lint_passes_the_reference_rules() -> None:
    code, out = run("ethics", "lint", str(ROOT / "rules"))
    assert code == 0, out
    assert "passes the ethics lint" in out


def test_lint_fails_on_manipulative_template_with_file_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    template = rules / "templates" / "outage_started.yaml"
    text = template.read_text(encoding="utf-8")
    marker = "Er is een storing in uw buurt ({{ data.area }}). Wij werken eraan."
    template.write_text(text.replace(marker, "Alleen vandaag: nog maar 3 bundels! " + marker, 1))
    code, out = run("ethics", "lint", str(rules))
    assert code == 1
    line = next(n for n, t in enumerate(text.splitlines(), 1) if t.strip().startswith("sms:"))
    assert (
        f"{template}:{line}: outage_started nl/sms: manipulation (false urgency, block): 'Alleen vandaag'"
        in out
    )
    assert "scarcity" in out


def test_lint_reports_a_no_reply_sender(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    template = rules / "templates" / "roaming_info.yaml"
    text = template.read_text(encoding="utf-8")
    import re

    template.write_text(
        re.sub(r"^sender: .*$", 'sender: "noreply@example-telecom.nl"', text, count=1, flags=re.M)
    )
    code, out = run("ethics", "lint", str(rules))
    assert code == 1
    assert "no-reply sender" in out and "roaming_info" in out
