"""The backtest (proactive.backtest, ``proactive backtest``).

Histories come from the generator; the yardstick is the real engine: what ``proactive
run`` writes for the same events. The rule sets are copies of the shipped ``rules/``,
one of them without ``roaming.yaml`` (its only rule is ``roaming-cost-info``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from proactive.backtest import Backtest, compare, print_backtest, run_backtest
from proactive.cli import main
from proactive.config import load_settings
from proactive.ethics.policy import DIMENSIONS
from proactive.generate import generate_lines

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"
POLICY = REPO / "ethics" / "policy.yaml"
VERDICTS = ("send", "defer", "review", "block")
REMOVED = "roaming-cost-info"


def invoke(args: list[str]) -> Result:
    """The CLI with the shipped policy (and the shipped rules unless --rules says otherwise)."""
    return CliRunner().invoke(main, ["--rules", str(RULES), "--policy", str(POLICY), *args])


def jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def snapshot(root: Path, skip: Path | None = None) -> dict[str, str]:
    """Every file under ``root`` (except under ``skip``) with the hash of its content."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and (skip is None or not p.is_relative_to(skip))
    }


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test, never from the environment the tests run in."""
    for name in ("STORE_URL", "RULES_DIR", "POLICY", "METRICS_PORT", "BATCH_SIZE"):
        monkeypatch.delenv(f"PROACTIVE_{name}", raising=False)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4,000 generated events for 150 customers (roaming among them; 4 malformed lines)."""
    path = tmp_path_factory.mktemp("history") / "events.jsonl"
    path.write_text(
        "".join(line + "\n" for line in generate_lines(customers=150, events=4000, seed=11)),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def without_roaming(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped rules without roaming.yaml."""
    target = tmp_path_factory.mktemp("rules") / "candidate"
    shutil.copytree(RULES, target, ignore=shutil.ignore_patterns("features", "__pycache__"))
    (target / "roaming.yaml").unlink()
    return target


@pytest.fixture(scope="module")
def removed_rule(
    history: Path, without_roaming: Path, tmp_path_factory: pytest.TempPathFactory
) -> Backtest:
    """The backtest of the rules without roaming against the shipped rules."""
    settings = load_settings(rules_dir=RULES, policy=POLICY)
    out = tmp_path_factory.mktemp("backtest")
    return run_backtest(settings, str(history), out, rules_dir=without_roaming, baseline_dir=RULES)


def test_per_rule_counts_equal_a_real_run_of_the_same_events(history: Path, tmp_path: Path) -> None:
    ran = invoke(["run", "--source", str(history), "--out", str(tmp_path / "run"), "--json"])
    assert ran.exit_code == 0, ran.output
    run = json.loads(ran.stdout)
    result = invoke(["backtest", "--events", str(history), "--out", str(tmp_path / "bt"), "--json"])
    assert result.exit_code == 0, result.output
    bt = json.loads(result.stdout)

    assert bt["events"] == {
        "read": run["events"]["read"],
        "accepted": run["events"]["accepted"],
        "dead_lettered": run["events"]["dead_lettered"],
        "dead_letter_reasons": run["events"]["dead_letter_reasons"],
        "duplicates": run["events"]["duplicates_skipped"],
    }
    rules = bt["candidate"]["rules"]
    assert run["rules"], "the history must make some rule fire"
    for rid, want in run["rules"].items():
        assert rules[rid]["fired"] == want["fired"], rid
        assert rules[rid]["verdicts"] == want["verdicts"], rid
        for dim in DIMENSIONS:
            assert rules[rid]["mean_scores"][dim] == pytest.approx(
                want["mean_scores"][dim], abs=6e-4
            )
    for rid in rules.keys() - run["rules"].keys():  # rules that never fired are listed too
        assert rules[rid]["fired"] == 0 and rules[rid]["messages"] == 0
    assert bt["candidate"]["verdicts"] == run["verdicts"]

    # who would get what, on which channel: exactly what the run sent
    sent = list(jsonl(tmp_path / "run" / "notifications.jsonl"))
    messages = [n for n in sent if n["data"].get("kind") != "secure_notice"]
    assert bt["candidate"]["messages"] == run["notifications"] == len(messages)
    channels: dict[str, Counter[str]] = defaultdict(Counter)
    customers: dict[str, set[str]] = defaultdict(set)
    for n in messages:
        channels[n["data"]["rule_id"]][n["data"]["channel"]] += 1
        customers[n["data"]["rule_id"]].add(n["subject"])
    notices = Counter(n["data"]["rule_id"] for n in sent if n not in messages)
    for rid, st in rules.items():
        assert st["channels"] == dict(channels[rid]), rid
        assert st["customers"] == len(customers[rid]), rid
        assert st["notices"] == notices[rid], rid
        assert sum(st["offers"].values()) == st["messages"]
    assert bt["baseline"] is None and bt["diff"] is None
    assert bt["events_per_second"] > 0


def test_a_rule_only_in_the_baseline_and_the_customers_who_lose_its_message(
    removed_rule: Backtest,
) -> None:
    diff = removed_rule.diff
    assert diff is not None and removed_rule.baseline is not None
    assert diff.only_baseline == (REMOVED,)
    assert diff.only_candidate == ()
    statuses = {d.rule_id: d.status for d in diff.rules}
    assert statuses.pop(REMOVED) == "removed"
    assert set(statuses.values()) == {"unchanged"}
    assert removed_rule.candidate.rule(REMOVED) is None

    # every customer the baseline's roaming rule reached loses that message, and no other
    baseline_out = Path(removed_rule.baseline.out_dir)
    roaming = Counter(
        n["subject"]
        for n in jsonl(baseline_out / "notifications.jsonl")
        if n["data"]["rule_id"] == REMOVED and n["data"].get("kind") != "secure_notice"
    )
    assert roaming, "the history must send roaming messages"
    lost = {c.customer_id: c.rules[REMOVED] for c in diff.changes if REMOVED in c.rules}
    assert lost == {cid: -n for cid, n in roaming.items()}
    assert diff.customers_losing >= len(roaming)
    assert diff.messages_lost >= sum(roaming.values())
    for change in diff.changes:
        assert change.candidate - change.baseline == sum(change.rules.values())

    # the terminal says so too
    console = Console(record=True, width=200)
    print_backtest(removed_rule, console)
    text = console.export_text()
    assert f"only in the baseline: {REMOVED}" in text
    assert f"losing a message: {diff.customers_losing}" in text
    assert "events/s" in text


def test_the_inverse_comparison_adds_the_rule_and_the_customers_gain(
    removed_rule: Backtest,
) -> None:
    assert removed_rule.baseline is not None and removed_rule.diff is not None
    inverse = compare(removed_rule.baseline, removed_rule.candidate)
    assert inverse.only_candidate == (REMOVED,)
    assert inverse.only_baseline == ()
    assert inverse.customers_gaining == removed_rule.diff.customers_losing
    assert inverse.messages_gained == removed_rule.diff.messages_lost
    assert {c.customer_id for c in inverse.changes} == {
        c.customer_id for c in removed_rule.diff.changes
    }


def test_the_page_has_svg_charts_no_script_and_links_both_ethics_reports(
    history: Path, without_roaming: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bt"
    result = invoke(
        [
            "backtest",
            "--events",
            str(history),
            "--rules",
            str(without_roaming),
            "--baseline",
            str(RULES),
            "--out",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    page = (out / "backtest.html").read_text(encoding="utf-8")
    assert "<svg" in page
    assert "<script" not in page.lower()
    assert REMOVED in page and "removed" in page
    for side in ("candidate", "baseline"):
        assert f'href="{side}/ethics-report.html"' in page
        assert "<svg" in (out / side / "ethics-report.html").read_text(encoding="utf-8")
    assert "events/s" in result.stdout
    assert f"report in {out / 'backtest.html'}" in result.stdout


def test_nothing_is_written_outside_out_and_the_configured_store_is_not_touched(
    history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    baseline = tmp_path / "baseline-rules"
    shutil.copytree(RULES, baseline)
    (baseline / "roaming.yaml").unlink()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    production = tmp_path / "production.sqlite"
    monkeypatch.setenv("PROACTIVE_STORE_URL", f"sqlite:///{production}")
    out = tmp_path / "out"
    before = snapshot(tmp_path)

    result = CliRunner().invoke(
        main,
        [
            "--policy",
            str(POLICY),
            "backtest",
            "--events",
            str(history),
            "--rules",
            str(rules),
            "--baseline",
            str(baseline),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert snapshot(tmp_path, skip=out) == before  # rules, baseline, cwd, history: unchanged
    assert not production.exists()
    assert not list(cwd.iterdir())
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert "backtest.html" in written
    assert not {name for name in written if "state.sqlite" in name}, "the store is thrown away"


def test_malformed_lines_are_dead_lettered_and_change_nothing_else(
    history: Path, tmp_path: Path
) -> None:
    lines = history.read_text(encoding="utf-8").splitlines()
    garbage = [
        "this is not json",
        '{"specversion": "1.0", "id": "cut-1", "type": "usage.data", "subject": "C000001",',
        json.dumps({"specversion": "1.0", "id": "odd-1", "type": "usage.telepathy"}),
    ]
    noisy = tmp_path / "noisy.jsonl"
    noisy.write_text(
        "\n".join([*lines[:10], garbage[0], *lines[10:2500], *garbage[1:], *lines[2500:]]) + "\n",
        encoding="utf-8",
    )
    settings = load_settings(rules_dir=RULES, policy=POLICY)
    clean = run_backtest(settings, str(history), tmp_path / "clean")
    dirty = run_backtest(settings, str(noisy), tmp_path / "noisy")

    assert dirty.events.read == clean.events.read + 3
    assert dirty.events.accepted == clean.events.accepted
    assert dirty.events.dead_lettered == clean.events.dead_lettered + 3
    reasons = Counter(dirty.events.dead_letter_reasons) - Counter(clean.events.dead_letter_reasons)
    assert reasons == {"malformed_json": 2, "unknown_type": 1}
    assert [r.counts() for r in dirty.candidate.rules] == [
        r.counts() for r in clean.candidate.rules
    ]
    dead = [d["origin"] for d in jsonl(tmp_path / "noisy" / "candidate" / "dead-letter.jsonl")]
    assert f"{noisy}:11" in dead


def test_refuses_an_out_folder_inside_a_rule_directory(history: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    before = snapshot(rules)
    result = invoke(
        ["backtest", "--events", str(history), "--rules", str(rules), "--out", str(rules / "bt")]
    )
    assert result.exit_code == 2
    assert "inside the rule directory" in result.output
    assert snapshot(rules) == before


def test_a_broken_baseline_is_refused_with_its_problems(history: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(RULES, broken)
    (broken / "extra.yaml").write_text(
        "rules:\n  - id: x\n    on: [usage.nonsense]\n", encoding="utf-8"
    )
    result = invoke(
        [
            "backtest",
            "--events",
            str(history),
            "--baseline",
            str(broken),
            "--out",
            str(tmp_path / "bt"),
        ]
    )
    assert result.exit_code == 2
    assert "refused" in result.output
    assert "extra.yaml" in result.output
    assert not (tmp_path / "bt" / "backtest.html").exists()
