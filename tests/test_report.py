"""The ethics report (proactive.report, proactive.charts, ``proactive ethics report``).

Records come from the real engine where the behaviour is the engine's (verdict counts
over a small stream) and are built by hand for the edge cases the engine does not
produce yet (exceptions, review records, records without a segment, hostile text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from proactive.cli import main
from proactive.ethics.policy import DIMENSIONS, Fairness, Governance, Policy, load_policy
from proactive.harness import Harness
from proactive.report import (
    UNKNOWN,
    EthicsReport,
    disparity,
    normalise_reason,
    print_report,
    records_from_jsonl,
    render_html,
    summarise,
)

REPO = Path(__file__).resolve().parent.parent
POLICY = REPO / "ethics" / "policy.yaml"
AMS = ZoneInfo("Europe/Amsterdam")


@pytest.fixture(scope="module")
def shipped_policy() -> Policy:
    return load_policy(POLICY).policy


@pytest.fixture
def policy(shipped_policy: Policy) -> Policy:
    """The shipped policy with the report's bounds pinned, whatever the YAML says."""
    return shipped_policy.model_copy(
        update={
            "fairness": Fairness(
                segments=["age_band", "language", "channel"], max_disparity=1.25, min_group_size=30
            ),
            "governance": Governance(max_exception_rate=0.05, min_decisions_for_alert=20),
        }
    )


_seq = iter(range(1, 1_000_000))


def record(
    rule: str = "r1",
    verdict: str = "send",
    *,
    overall: float | None = 0.9,
    score: float = 1.0,
    age_band: str | None = "40-64",
    language: str = "nl",
    channel: str = "sms",
    segment: bool = True,
    reasons: Iterable[str] | None = (
        "service score 0.90 meets the send level 0.75; no limit applies",
    ),
    warnings: Iterable[str] = (),
    flags: Iterable[str] = (),
    exception: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A decision record with the fields the report reads (see decisions.build_record)."""
    n = next(_seq)
    rec: dict[str, Any] = {
        "schema_version": 1,
        "decision_id": f"d-{n}",
        "customer_id": f"C{n}",
        "rule_id": rule,
        "ethics_revision": "test+00000000",
        "variant": "primary",
        "released_from": None,
        "channel": channel,
        "language": language,
        "scores": {d: {"score": score, "reasons": [], "evidence": {}} for d in DIMENSIONS},
        "overall": overall,
        "value": {
            "customer": 1.0,
            "organisation": 1.0,
            "alignment": 1.0,
            "flags": list(flags),
            "reasons": [],
        },
        "limits": [],
        "verdict": verdict,
        "reasons": reasons if reasons is None or isinstance(reasons, str) else list(reasons),
        "warnings": list(warnings),
        "exception": exception,
        "created_at": f"2026-05-{1 + n % 28:02d}T10:00:00+00:00",
    }
    if segment:
        rec["segment"] = {
            "age_band": age_band,
            "language": language,
            "channel": channel,
            "segment": "consumer",
        }
    rec.update(extra)
    return rec


def group(n: int, sends: int, blocks: int, reviews: int = 0, **kw: Any) -> list[dict[str, Any]]:
    """``n`` records of one group: ``sends`` sent, ``blocks`` blocked, ``reviews`` for
    review, the rest deferred."""
    verdicts = ["send"] * sends + ["block"] * blocks + ["review"] * reviews
    verdicts += ["defer"] * (n - len(verdicts))
    return [record(verdict=v, **kw) for v in verdicts]


def ams(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=AMS)


# -- counts from the real engine -------------------------------------------------------------


def small_stream(h: Harness) -> None:
    """Three customers: an outage by day (send), one at night (defer, released later as
    a send), a failed payment; two customers with an age band, one without."""
    h.event(
        "customer.profile_updated",
        "C1",
        ams("2026-05-01", "09:00"),
        language="en",
        preferred_channel="sms",
        age_band="25-39",
    )
    h.event(
        "customer.profile_updated",
        "C2",
        ams("2026-05-01", "09:00"),
        language="nl",
        preferred_channel="push",
        age_band="65+",
    )
    for customer, clock, oid in (("C1", "12:00", "O1"), ("C2", "23:00", "O2")):
        h.event(
            "service.outage_started",
            customer,
            ams("2026-05-20", clock),
            outage_id=oid,
            area="NL-20",
            services=["data"],
        )
    h.event(
        "billing.payment_failed",
        "C3",
        ams("2026-05-20", "11:00"),
        invoice_id="I-1",
        amount_eur=41.5,
    )
    h.advance(ams("2026-05-21", "08:05"))


def test_counts_per_rule_from_the_real_engine(
    make_harness: Callable[..., Harness], policy: Policy
) -> None:
    """Verdicts per rule are the engine's verdicts, the deferred-then-released message
    counts as one defer and one (released) send, and every decision is counted."""
    h = make_harness()
    small_stream(h)
    report = summarise(h.decisions, policy, source="harness")
    rules = {rr.rule_id: rr for rr in report.rules}

    assert set(rules) == {"outage-started", "payment-failed-support"}
    outage = rules["outage-started"]
    assert outage.decisions == 3
    assert outage.verdicts == {"send": 2, "defer": 1, "review": 0, "block": 0}
    assert outage.released == 1
    assert rules["payment-failed-support"].decisions == 1
    assert report.decisions == len(h.decisions) == 4
    assert report.verdicts["send"] == sum(d["verdict"] == "send" for d in h.decisions)
    # the engine's own scores: all eight dimensions distributed, overall mean in range
    assert set(outage.dimensions) == set(DIMENSIONS)
    assert all(outage.dimensions[d].count == 3 for d in DIMENSIONS)
    assert outage.overall.mean is not None and 0.0 < outage.overall.mean <= 1.0
    assert sum(outage.overall.histogram) == 3
    # segments as the engine records them; a customer without an age band is "unknown"
    ages = {g.group: g.decisions for g in report.fairness[0].groups}
    assert report.fairness[0].segment == "age_band"
    assert ages == {"25-39": 1, "65+": 2, UNKNOWN: 1}
    assert report.ethics_revisions and report.first_decision is not None


# -- counts and distributions, by hand -------------------------------------------------------


def test_counts_distributions_flags_reasons_and_warnings_per_rule(policy: Policy) -> None:
    scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    records = [
        record("a", v, overall=s, score=s)
        for v, s in zip(["send"] * 5 + ["block"] * 3 + ["review", "defer"], scores, strict=True)
    ]
    records += [
        record(
            "b",
            "review",
            flags=["organisation_only"],
            warnings=["place score 0.40 is close to the minimum 0.4"],
        ),
        record("b", "review", flags=["organisation_only", "big_brother"]),
    ]
    report = summarise(records, policy)
    a, b = report.rules
    assert (a.rule_id, b.rule_id) == ("a", "b")
    assert a.verdicts == {"send": 5, "defer": 1, "review": 1, "block": 3}
    assert b.verdicts == {"send": 0, "defer": 0, "review": 2, "block": 0}
    assert report.verdicts == {"send": 5, "defer": 1, "review": 3, "block": 3}
    # 0.1 … 1.0: mean 0.55; p10 interpolates between 0.1 and 0.2; 1.0 is in the last bin
    assert a.overall.mean == pytest.approx(0.55)
    assert a.overall.p10 == pytest.approx(0.19)
    assert a.overall.median == pytest.approx(0.55)
    assert a.overall.histogram == (0, 1, 1, 1, 1, 1, 1, 1, 1, 2)
    assert a.dimensions["empathy"].histogram == a.overall.histogram
    assert b.flags == {"organisation_only": 2, "big_brother": 1}
    assert (b.warnings, b.decisions_with_warnings) == (1, 1)
    assert a.top_reasons[0].count == 10 and a.distinct_reasons == 1


def test_reasons_that_differ_only_in_numbers_and_ids_group_together(policy: Policy) -> None:
    night = (
        "organisation limit 'quiet_hours': 04:48 is in the customer's quiet hours "
        "21:00-08:00 (Europe/Amsterdam); next allowed Sun 08:00"
    )
    later = night.replace("04:48", "00:09").replace("Sun", "Sat").replace("21:00", "22:00")
    released = "released from deferral 2c1f0a52-5b0e-4f7e-9c7e-2a8f6d1c0b11; checked again"
    other = released.replace("2c1f0a52", "99ab0c12")
    assert normalise_reason(night) == normalise_reason(later)
    assert normalise_reason(released) == normalise_reason(other)
    assert normalise_reason("cap 1") != normalise_reason("cooldown 1")

    report = summarise(
        [record(reasons=[night]), record(reasons=[later]), record(reasons=[released])], policy
    )
    (rr,) = report.rules
    assert rr.distinct_reasons == 2
    top = rr.top_reasons[0]
    assert top.count == 2 and top.example == night
    assert "#" in top.pattern and "04:48" not in top.pattern


# -- fairness (S25) --------------------------------------------------------------------------


def by_group(report: EthicsReport, segment: str) -> dict[str, Any]:
    (sr,) = [s for s in report.fairness if s.segment == segment]
    return {d.rate: d for d in sr.disparities}


def test_a_disparity_above_the_bound_raises_a_fairness_alert(policy: Policy) -> None:
    """65+ is blocked twice as often as 25-39 (50% against 25%, 40 decisions each)."""
    records = group(40, sends=20, blocks=20, age_band="65+") + group(
        40, sends=30, blocks=10, age_band="25-39"
    )
    report = summarise(records, policy)
    d = by_group(report, "age_band")
    assert d["block_rate"].ratio == pytest.approx(2.0)
    assert (d["block_rate"].highest, d["block_rate"].lowest) == ("65+", "25-39")
    assert d["block_rate"].flagged and d["send_rate"].flagged  # 75% / 50% = 1.5
    alerts = [a for a in report.fairness_alerts if a.subject == "age_band"]
    assert len(alerts) == 2
    assert any("block rate of 65+" in a.message and "2.00 times" in a.message for a in alerts)
    (sr,) = [s for s in report.fairness if s.segment == "age_band"]
    old = next(g for g in sr.groups if g.group == "65+")
    assert (old.send_rate, old.block_rate, old.decisions) == (0.5, 0.5, 40)


def test_a_disparity_below_the_bound_is_not_flagged(policy: Policy) -> None:
    """50% against 45% blocked: a ratio of 1.11 stays under 1.25."""
    records = group(40, sends=20, blocks=20, age_band="65+") + group(
        40, sends=22, blocks=18, age_band="25-39"
    )
    report = summarise(records, policy)
    d = by_group(report, "age_band")
    assert d["block_rate"].ratio == pytest.approx(20 / 18, abs=1e-4)
    assert not d["block_rate"].flagged and not d["send_rate"].flagged
    assert report.fairness_alerts == ()


def test_a_small_group_is_shown_but_never_flagged(policy: Policy) -> None:
    """Five decisions of 18-24, all blocked: shown, not compared (fewer than 30)."""
    records = (
        group(40, sends=20, blocks=20, age_band="65+")
        + group(40, sends=22, blocks=18, age_band="25-39")
        + group(5, sends=0, blocks=5, age_band="18-24")
    )
    report = summarise(records, policy)
    (sr,) = [s for s in report.fairness if s.segment == "age_band"]
    young = next(g for g in sr.groups if g.group == "18-24")
    assert young.block_rate == 1.0 and not young.judged
    d = by_group(report, "age_band")
    assert d["block_rate"].highest == "65+" and not d["block_rate"].flagged
    assert report.fairness_alerts == ()


def test_zero_rates_give_a_finite_corrected_ratio() -> None:
    """All zero: no difference. Lowest zero: Haldane–Anscombe, finite and flagged when large."""
    none = disparity("block_rate", [("a", 0, 40), ("b", 0, 40)], 1.25)
    assert (none.ratio, none.flagged, none.corrected) == (1.0, False, False)
    one = disparity("block_rate", [("a", 0, 40), ("b", 1, 40)], 1.25)
    assert one.ratio == pytest.approx(3.0) and one.corrected and one.flagged
    assert (one.highest, one.lowest) == ("b", "a")
    alone = disparity("block_rate", [("a", 3, 40)], 1.25)
    assert alone.ratio is None and not alone.flagged
    shown = disparity("review_rate", [("a", 0, 40), ("b", 20, 40)], None)
    assert shown.ratio == pytest.approx(41.0) and not shown.flagged


def test_review_rate_disparity_is_shown_but_not_alerted(policy: Policy) -> None:
    records = group(40, sends=30, blocks=5, reviews=5, language="nl") + group(
        40, sends=30, blocks=5, reviews=0, language="en"
    )
    report = summarise(records, policy)
    d = by_group(report, "language")
    assert d["review_rate"].ratio is not None and d["review_rate"].ratio > 1.25
    assert not d["review_rate"].flagged
    assert not any(a.subject == "language" for a in report.alerts)


# -- governance (S21) ------------------------------------------------------------------------


def joker(
    justification: str = "Storm outage: a second notice was agreed with ops",
) -> dict[str, Any]:
    return {"limits": ["cooldown"], "justification": justification, "by": "j.devries"}


def test_an_exception_rate_above_the_bound_raises_a_governance_alert(policy: Policy) -> None:
    """2 of 25 decisions (8%) with an exception, bound 5%: alert; 1 of 25 (4%): none."""
    high = [record("high", exception=joker()) for _ in range(2)] + [
        record("high") for _ in range(23)
    ]
    low = [record("low", exception=joker())] + [record("low") for _ in range(24)]
    report = summarise(high + low, policy)
    rules = {rr.rule_id: rr for rr in report.rules}
    assert rules["high"].exception_rate == pytest.approx(0.08)
    assert rules["low"].exception_rate == pytest.approx(0.04)
    assert [(a.code, a.subject) for a in report.governance_alerts] == [("exception_rate", "high")]
    assert "2 of 25" in report.governance_alerts[0].message


def test_exception_rate_at_the_bound_or_with_few_decisions_does_not_alert(
    policy: Policy,
) -> None:
    """1 of 20 is exactly 5% (not above); 5 of 10 is high but under 20 decisions."""
    at_bound = [record("edge", exception=joker())] + [record("edge") for _ in range(19)]
    few = [record("few", exception=joker()) for _ in range(5)] + [record("few") for _ in range(5)]
    report = summarise(at_bound + few, policy)
    assert report.governance_alerts == ()
    assert {rr.rule_id: rr.exceptions for rr in report.rules} == {"edge": 1, "few": 5}


def test_an_exception_appears_with_its_justification(policy: Policy) -> None:
    records = [
        record("r1", exception=joker()),
        record("r1", exception=joker()),
        record("r1", exception={"limits": ["frequency_cap"], "justification": "", "by": "ops"}),
        record(
            "r1",
            exception={
                "limits": ["consent_for_purpose_and_channel"],
                "justification": "asked by sales",
                "by": "x",
            },
        ),
        record("r1"),
    ]
    report = summarise(records, policy)
    (rr,) = report.rules
    assert rr.exceptions == 4
    first = rr.justifications[0]
    assert (first.limits, first.by, first.count) == (("cooldown",), "j.devries", 2)
    assert first.justification == "Storm outage: a second notice was agreed with ops"
    codes = {a.code for a in report.governance_alerts}
    # no written justification, and a joker on a law limit: both are governance alerts
    assert codes == {"unjustified_exception", "law_limit_excepted"}

    html = render_html(report)
    assert "Storm outage: a second notice was agreed with ops" in html
    assert "j.devries" in html and "(no justification)" in html
    console = Console(record=True, width=200)
    print_report(report, console)
    text = console.export_text()
    assert "Storm outage: a second notice was agreed with ops" in text
    assert "law limit(s) consent_for_purpose_and_channel" in text


# -- robustness -----------------------------------------------------------------------------


def test_records_without_segment_review_records_and_odd_fields_do_not_crash(
    policy: Policy,
) -> None:
    records = [
        record("r1", segment=False),
        record("r1", age_band=None),
        {"record_type": "review", "decision_id": "d-1", "action": "approve", "by": "a"},
        {"record_type": "review", "review_of": "d-2"},
        {"record_type": "decision", "rule_id": "r2", "verdict": "block", "scores": {}},
        record("r1", overall=None, value=None, reasons=None, exception="yes"),
        # odd shapes: a lone string for reasons, a list for scores, a naive timestamp
        record("r3", scores=[1, 2], value="v", created_at="2026-05-01T10:00:00"),
        {**record("r3", reasons="one reason"), "segment": "weird"},
    ]
    report = summarise(records, policy)
    assert report.other_records == {"review": 2}
    assert report.decisions == 6
    r3 = next(rr for rr in report.rules if rr.rule_id == "r3")
    assert r3.dimensions["place"].count == 1
    assert "one reason" in [r.example for r in r3.top_reasons]
    ages = {g.group: g for g in report.fairness[0].groups}
    assert ages[UNKNOWN].decisions == 4 and not ages[UNKNOWN].judged
    r2 = next(rr for rr in report.rules if rr.rule_id == "r2")
    assert r2.overall.count == 0 and r2.overall.mean is None
    assert render_html(report)
    print_report(report, Console(record=True, width=160))


def test_a_truncated_jsonl_line_is_counted_not_fatal(tmp_path: Path, policy: Policy) -> None:
    path = tmp_path / "decisions.jsonl"
    path.write_text(
        json.dumps(record()) + "\n" + '{"rule_id": "r1", "verd' + "\n[1, 2]\n", encoding="utf-8"
    )
    report = summarise(records_from_jsonl(path), policy)
    assert report.decisions == 1 and report.other_records == {"unreadable": 2}


# -- the page ----------------------------------------------------------------------------------


def test_text_from_records_is_escaped_and_the_page_is_self_contained(policy: Policy) -> None:
    evil = "<script>alert('x')</script>"
    records = [
        record(
            "rule-<b>bold</b>",
            reasons=[f"the message said {evil}"],
            age_band=evil,
            exception={"limits": ["cooldown"], "justification": evil, "by": "<i>me</i>"},
        )
        for _ in range(3)
    ]
    html = render_html(summarise(records, policy))
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "rule-&lt;b&gt;bold&lt;/b&gt;" in html and "&lt;i&gt;me&lt;/i&gt;" in html
    # no script anywhere: not from the records, not from the chart library
    assert re.search(r"<script", html, re.I) is None
    assert "<b>bold</b>" not in html
    # offline: nothing fetched (only XML namespaces carry a URL)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert re.search(r"\b(?:src|href)\s*=\s*[\"'](?!#)", html) is None
    assert "@import" not in html and "url(" not in html
    assert html.count("<svg") >= 3


# -- the command line --------------------------------------------------------------------------


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(main, ["--policy", str(POLICY), "ethics", "report", *args])


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_cli_writes_the_page_and_prints_the_summary(
    tmp_path: Path, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness()
    small_stream(h)
    write_jsonl(tmp_path / "run" / "decisions.jsonl", h.decisions)
    result = invoke(["--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    page = tmp_path / "run" / "report" / "ethics-report.html"
    assert page.is_file()
    assert "outage-started" in page.read_text(encoding="utf-8")
    assert "Ethics report per rule" in result.output
    assert "outage-started" in result.output and "payment-failed-support" in result.output
    assert f"report in {page}" in result.output.replace("\n", "")


def test_cli_json_and_fail_on_alert(tmp_path: Path) -> None:
    """--json prints the report's data; --fail-on-alert exits 1 on an alert, 0 without."""
    alerting = [record("r1", exception=joker(""))] + [record("r1") for _ in range(3)]
    write_jsonl(tmp_path / "bad" / "decisions.jsonl", alerting)
    write_jsonl(tmp_path / "good" / "decisions.jsonl", [record("r1") for _ in range(3)])

    result = invoke(["--out", str(tmp_path / "bad"), "--json", "--report-dir", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["decisions"] == 4 and data["rules"][0]["exceptions"] == 1
    assert data["alerts"][0]["code"] == "unjustified_exception"
    assert data["html"] == str(tmp_path / "r" / "ethics-report.html")
    assert (tmp_path / "r" / "ethics-report.html").is_file()

    assert invoke(["--out", str(tmp_path / "bad"), "--fail-on-alert"]).exit_code == 1
    assert invoke(["--out", str(tmp_path / "good"), "--fail-on-alert"]).exit_code == 0


def test_cli_reads_every_chain_of_a_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real run into a SQLite store, then the report over that store's decisions table."""
    monkeypatch.chdir(tmp_path)
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(
            {
                "specversion": "1.0",
                "id": "e1",
                "source": "/test",
                "type": "service.outage_started",
                "subject": "C1",
                "time": "2026-05-20T10:00:00Z",
                "data": {"outage_id": "O1", "area": "NL-20", "services": ["data"]},
            }
        )
        + "\n",
        encoding="utf-8",
    )
    config = ["--rules", str(REPO / "rules"), "--policy", str(POLICY)]
    run = CliRunner().invoke(main, [*config, "run", "--source", str(events), "--out", "out"])
    assert run.exit_code == 0, run.output
    url = f"sqlite:///{tmp_path / 'out' / 'state.sqlite'}"
    result = invoke(["--store", url, "--report-dir", "rep", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["decisions"] == 1 and data["rules"][0]["rule_id"] == "outage-started"
    assert (tmp_path / "rep" / "ethics-report.html").is_file()


def test_cli_refuses_unclear_sources(tmp_path: Path) -> None:
    assert invoke([]).exit_code == 2
    assert invoke(["--store", "sqlite:///x.sqlite"]).exit_code == 2  # no --report-dir
    missing = invoke(["--store", f"sqlite:///{tmp_path / 'none.sqlite'}", "--report-dir", "r"])
    assert missing.exit_code == 2 and not (tmp_path / "none.sqlite").exists()
    assert invoke(["--out", str(tmp_path / "empty")]).exit_code == 2
