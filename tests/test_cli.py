"""The ``proactive`` command line (proactive.cli) through click's CliRunner."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from proactive.cli import main
from proactive.ethics.policy import DIMENSIONS

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"
POLICY = REPO / "ethics" / "policy.yaml"
VERDICTS = ("send", "defer", "review", "block")
MALFORMED = '{"specversion": "1.0", "id": "bad-1", "type": "usage.data", "subject": "C1",'


def invoke(args: list[str], rules: Path = RULES) -> Result:
    """Run the CLI with the repository's rules and policy."""
    return CliRunner().invoke(main, ["--rules", str(rules), "--policy", str(POLICY), *args])


def event(eid: str, etype: str, customer: str, time: str, **data: object) -> str:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": eid,
            "source": "/test",
            "type": etype,
            "subject": customer,
            "time": time,
            "data": data,
        }
    )


def events_file(directory: Path) -> Path:
    """A small JSONL stream: a profile, an outage by day and one at night, a failed
    payment, and one malformed line in the middle."""
    lines = [
        event(
            "e1",
            "customer.profile_updated",
            "C1",
            "2026-05-01T07:00:00Z",
            language="en",
            preferred_channel="sms",
        ),
        event(
            "e2",
            "service.outage_started",
            "C1",
            "2026-05-20T10:00:00Z",
            outage_id="O1",
            area="NL-20",
            services=["data"],
        ),
        MALFORMED,
        event(
            "e3",
            "billing.payment_failed",
            "C2",
            "2026-05-20T11:00:00Z",
            invoice_id="I-1",
            amount_eur=41.5,
        ),
        event(
            "e4",
            "service.outage_started",
            "C3",
            "2026-05-20T21:30:00Z",
            outage_id="O2",
            area="NL-23",
            services=["voice"],
        ),
        event(
            "e5",
            "service.outage_resolved",
            "C1",
            "2026-05-20T22:00:00Z",
            outage_id="O1",
            resolved_at="2026-05-20T21:58:00Z",
        ),
    ]
    path = directory / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


@pytest.fixture
def run_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The output directory of one ``run`` over :func:`events_file` (inside tmp_path)."""
    monkeypatch.chdir(tmp_path)
    source = events_file(tmp_path)
    result = invoke(["run", "--source", str(source), "--out", "out"])
    assert result.exit_code == 0, result.output
    return tmp_path / "out"


def test_run_with_a_malformed_line_exits_0_and_writes_all_outputs(run_out: Path) -> None:
    """``run`` survives the bad line and writes notifications, decisions, dead letters and
    the state database."""
    for name in ("notifications.jsonl", "decisions.jsonl", "dead-letter.jsonl", "state.sqlite"):
        assert (run_out / name).is_file(), name
    decisions = read_jsonl(run_out / "decisions.jsonl")
    notifications = read_jsonl(run_out / "notifications.jsonl")
    assert {d["event_id"] for d in decisions} >= {"e2", "e3", "e5"}
    sent = {d["decision_id"] for d in decisions if d["verdict"] == "send"}
    assert notifications and {n["data"]["decision_id"] for n in notifications} == sent  # type: ignore[index]


def test_dead_letter_holds_reason_and_original_line(run_out: Path) -> None:
    """The malformed line is kept verbatim with its reason and where it came from."""
    (dead,) = read_jsonl(run_out / "dead-letter.jsonl")
    assert dead["reason"] == "malformed_json"
    assert dead["original"] == MALFORMED
    assert str(dead["origin"]).endswith("events.jsonl:3")
    assert dead["detail"]


def test_run_json_summary_counts_the_dead_letter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--json`` prints a summary with the dead-letter reason counted."""
    monkeypatch.chdir(tmp_path)
    result = invoke(["run", "--source", str(events_file(tmp_path)), "--out", "out", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["events"]["read"] == 6
    assert summary["events"]["dead_lettered"] == 1
    assert summary["events"]["dead_letter_reasons"] == {"malformed_json": 1}


def test_run_refuses_a_missing_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A source file that does not exist is an error naming it."""
    monkeypatch.chdir(tmp_path)
    result = invoke(["run", "--source", "nope.jsonl", "--out", "out"])
    assert result.exit_code != 0
    assert "nope.jsonl" in result.stderr


def test_demo_json_has_verdicts_and_all_eight_mean_scores_per_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``demo --json`` prints, per rule, counts for send/defer/review/block and a mean score
    for each of the eight dimensions; totals add up."""
    monkeypatch.chdir(tmp_path)
    result = invoke(["demo", "--customers", "200", "--events", "3000", "--json", "--out", "demo"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["events"]["read"] == 3000
    assert set(DIMENSIONS) == {
        "language",
        "place",
        "time",
        "complexity",
        "relevance",
        "trust",
        "empathy",
        "autonomy",
    }
    rules = summary["rules"]
    assert len(rules) >= 3
    for rid, st in rules.items():
        assert set(st["verdicts"]) == set(VERDICTS), rid
        assert set(st["mean_scores"]) == set(DIMENSIONS), rid
        for d, mean in st["mean_scores"].items():
            assert mean is None or 0.0 <= mean <= 1.0, (rid, d)
    for v in VERDICTS:
        assert summary["verdicts"][v] == sum(st["verdicts"][v] for st in rules.values())
    assert sum(summary["verdicts"].values()) == summary["decisions"]
    assert summary["notifications"] == summary["verdicts"]["send"]
    assert len(read_jsonl(tmp_path / "demo" / "decisions.jsonl")) == summary["decisions"]


def test_generate_is_deterministic_for_a_seed() -> None:
    """The same seed gives byte-identical output; another seed another stream."""
    args = ["generate", "--customers", "30", "--events", "400"]
    a = CliRunner().invoke(main, [*args, "--seed", "5"])
    b = CliRunner().invoke(main, [*args, "--seed", "5"])
    c = CliRunner().invoke(main, [*args, "--seed", "6"])
    assert a.exit_code == b.exit_code == c.exit_code == 0
    assert a.stdout == b.stdout
    assert a.stdout != c.stdout
    assert len(a.stdout.splitlines()) == 400


def test_explain_prints_verdict_every_dimension_and_reasons(run_out: Path) -> None:
    """``explain`` shows the verdict, the score of each dimension and the reasons."""
    rec = next(d for d in read_jsonl(run_out / "decisions.jsonl") if d["event_id"] == "e3")
    result = CliRunner().invoke(main, ["explain", str(rec["decision_id"]), "--out", str(run_out)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Verdict: {str(rec['verdict']).upper()}" in out
    for d in DIMENSIONS:
        assert re.search(rf"^\s+{d}\s+\d\.\d\d", out, re.MULTILINE), d
    for reason in rec["reasons"]:  # type: ignore[attr-defined]
        assert str(reason) in out
    assert "payment-failed-support" in out


def test_explain_accepts_a_unique_prefix_and_refuses_unknown_ids(run_out: Path) -> None:
    """A unique prefix of a decision id is enough; an unknown id exits non-zero."""
    rec = read_jsonl(run_out / "decisions.jsonl")[0]
    did = str(rec["decision_id"])
    ok = CliRunner().invoke(main, ["explain", did[:13], "--out", str(run_out)])
    assert ok.exit_code == 0 and f"Decision {did}" in ok.stdout
    missing = CliRunner().invoke(main, ["explain", "no-such-decision", "--out", str(run_out)])
    assert missing.exit_code != 0
    assert "no-such-decision" in missing.stderr


def test_broken_rules_dir_makes_run_fail_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rule with a typo in a condition refuses the run; the message names file:line."""
    monkeypatch.chdir(tmp_path)
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("features"))
    path = rules / "outage.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "    purpose: service\n", "    when:\n      - outage.actve >= 1\n    purpose: service\n", 1
    )
    path.write_text(text, encoding="utf-8")
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if "outage.actve" in ln)
    result = invoke(["run", "--source", str(events_file(tmp_path)), "--out", "out"], rules=rules)
    assert result.exit_code != 0
    assert f"{path}:{line}:" in result.stderr
    assert "outage.actve" in result.stderr
    assert not (tmp_path / "out" / "decisions.jsonl").exists()
