"""Hot reload with the embedded engine: a rule or policy change mid-stream, refusals, safety."""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from proactive.ethics.check import EthicsCheck
from proactive.ethics.policy import load_policy
from proactive.generate import generate_lines
from proactive.metrics import Metrics
from proactive.pipeline import Engine, Outputs, RawEvent
from proactive.reload import Reloader, revision_of, rule_files
from proactive.rules import load_ruleset
from proactive.sinks import MemorySink
from proactive.store import ContextStore

REPO = Path(__file__).resolve().parent.parent
BATCH = 100

NEW_RULE = """\
rules:
  - id: usage-echo
    description: Answers every usage event (hot reload test)
    on: [usage.data]
    purpose: service
    data: [usage]
    template: data_bundle_warning
    channels: [app_inbox, sms, push, email]
    priority: 1
"""
BROKEN_YAML = "rules:\n  - id: usage-echo\n    on: [usage.data\n    purpose: service\n"
UNKNOWN_TEMPLATE = NEW_RULE.replace("template: data_bundle_warning", "template: no_such_template")


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """A copy of the shipped policy and its manipulation patterns."""
    target = tmp_path / "ethics"
    target.mkdir()
    for name in ("policy.yaml", "manipulation.yaml"):
        shutil.copy(REPO / "ethics" / name, target / name)
    return target


@pytest.fixture(scope="module")
def shared_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the policy for tests that do not change it (its patterns compile once)."""
    target = tmp_path_factory.mktemp("ethics")
    for name in ("policy.yaml", "manipulation.yaml"):
        shutil.copy(REPO / "ethics" / name, target / name)
    return target / "policy.yaml"


@pytest.fixture(scope="module")
def stream() -> list[str]:
    """A realistic stream (bad lines and all): 800 events of 30 customers."""
    return list(generate_lines(customers=30, events=800, seed=3))


class Run:
    """An engine over a watched rule directory and policy, its outputs and metrics."""

    def __init__(self, rules_dir: Path, policy: Path, **reloader: Any) -> None:
        self.metrics = Metrics()
        self.reloader = Reloader(
            rules_dir, policy, metrics=self.metrics, **{"interval": 0, "settle": False, **reloader}
        )
        ruleset, check = self.reloader.load()
        self.decisions = MemorySink()
        self.store = ContextStore("sqlite:///:memory:")
        self.engine = Engine(
            ruleset,
            check,
            self.store,
            Outputs(self.decisions, MemorySink(), MemorySink()),
            batch_size=BATCH,
            metrics=self.metrics,
            reloader=self.reloader,
        )

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


def raws(lines: list[str], at: dict[int, Callable[[], None]]) -> Iterator[RawEvent]:
    """The lines as raw events; ``at[i]()`` runs just before line ``i`` is handed over."""
    for i, line in enumerate(lines):
        if i in at:
            at[i]()
        yield line, f"stream:{i}"


def index_of(lines: list[str]) -> dict[str, int]:
    out = {}
    for i, line in enumerate(lines):
        try:
            out.setdefault(json.loads(line)["id"], i)
        except (ValueError, KeyError):
            continue
    return out


def test_a_rule_added_mid_stream_applies_from_the_next_batch_and_no_event_is_lost(
    make_rules_dir: Callable[..., Path], shared_policy: Path, stream: list[str]
) -> None:
    """The file is written while batch 4 is read: batches 0-4 keep the old revision, every
    batch after it decides with the new rule, and each event is processed exactly once."""
    rules_dir = make_rules_dir()
    run = Run(rules_dir, shared_policy)
    old_revision = run.engine.ruleset.revision
    old_ruleset = run.engine.ruleset
    write = lambda: (rules_dir / "usage_echo.yaml").write_text(NEW_RULE)  # noqa: E731
    summary = run.engine.run(raws(stream, {450: write}))  # read during batch 4 (400-499)
    new_revision = run.engine.ruleset.revision

    assert new_revision != old_revision
    assert new_revision == revision_of(rule_files(rules_dir))
    first = index_of(stream)
    by_batch: dict[int, set[str]] = {}
    # deferred messages released later are decided in a later batch: left out here
    for d in (d for d in run.decisions.records if d["released_from"] is None):
        by_batch.setdefault(first[d["event_id"]] // BATCH, set()).add(d["rules_revision"])
    # one revision per batch; the switch exactly at the first batch read after the write
    assert all(len(revs) == 1 for revs in by_batch.values())
    assert {b for b, revs in by_batch.items() if revs == {old_revision}} == {
        b for b in by_batch if b <= 4
    }
    echoed = {d["event_id"] for d in run.decisions.records if d["rule_id"] == "usage-echo"}
    assert echoed and min(first[e] for e in echoed) >= 5 * BATCH
    # the new rule answers every usage event after the switch: the same events as in a
    # run that had the rule from the start (it has no conditions: context does not matter)
    with_rule = make_rules_dir({"usage_echo.yaml": NEW_RULE})
    always = Run(with_rule, shared_policy)
    always.engine.run(raws(stream, {}))
    assert echoed == {
        d["event_id"]
        for d in always.decisions.records
        if d["rule_id"] == "usage-echo" and first[d["event_id"]] >= 5 * BATCH
    }

    # nothing lost, nothing twice: same counts as a run without any change
    ref = Run(make_rules_dir(), shared_policy)
    ref_summary = ref.engine.run(raws(stream, {}))
    assert summary.events_read == ref_summary.events_read == len(stream)
    assert summary.accepted == ref_summary.accepted
    assert summary.duplicates == ref_summary.duplicates
    assert summary.dead_lettered == ref_summary.dead_lettered
    assert run.store.counts()["processed_events"] == summary.accepted
    ids = [d["decision_id"] for d in run.decisions.records]
    assert len(ids) == len(set(ids))
    keys = Counter((d["event_id"], d["rule_id"], d["variant"]) for d in run.decisions.records)
    assert max(keys.values()) == 1
    # before the switch the decisions are exactly those of the unchanged run
    n_before = sum(1 for d in run.decisions.records if d["rules_revision"] == old_revision)
    before = [(d["event_id"], d["rule_id"], d["verdict"]) for d in run.decisions.records]
    ref_before = [(d["event_id"], d["rule_id"], d["verdict"]) for d in ref.decisions.records]
    assert n_before > 0
    assert before[:n_before] == ref_before[:n_before]

    assert run.metric("proactive_rules_reload_total", target="rules", result="applied") == 1
    assert run.metric("proactive_rules_reload_total", target="rules", result="refused") == 0
    assert (
        run.metric("proactive_revisions_info", rules=new_revision, policy=run.engine.check.revision)
        == 1
    )
    # the retired rule set's durable_rules ruleset is freed: using it now fails loudly
    with pytest.raises(Exception, match="error code"):
        old_ruleset.engine.match({"event__type": "usage.data", "usage__pct_used": 0.95})


def test_an_invalid_revision_is_refused_and_the_stream_goes_on_with_the_old_one(
    make_rules_dir: Callable[..., Path],
    shared_policy: Path,
    stream: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Broken YAML, then an unknown template: each refused once (logged with file:line,
    counted, gauge up), decisions keep the old revision; the fixed file is applied."""
    rules_dir = make_rules_dir()
    run = Run(rules_dir, shared_policy)
    old_revision = run.engine.ruleset.revision
    target = rules_dir / "usage_echo.yaml"
    caplog.set_level(logging.WARNING, logger="proactive.reload")

    target.write_text(BROKEN_YAML)
    run.engine.run(raws(stream[:300], {}))  # three batches: three looks at the files
    assert run.metric("proactive_rules_reload_total", target="rules", result="refused") == 1
    assert run.metric("proactive_rules_reload_refused", target="rules") == 1
    refusals = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("refused" in m and old_revision in m for m in refusals)
    assert any(re.match(rf"{re.escape(str(target))}:\d+:\d+: yaml_syntax: ", m) for m in refusals)

    caplog.clear()
    target.write_text(UNKNOWN_TEMPLATE)
    run.engine.run(raws(stream[300:600], {}))
    assert run.metric("proactive_rules_reload_total", target="rules", result="refused") == 2
    problems = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any(m.startswith(f"{target}:") and "unknown_template" in m for m in problems), problems
    assert {d["rules_revision"] for d in run.decisions.records} == {old_revision}
    assert not any(d["rule_id"] == "usage-echo" for d in run.decisions.records)

    target.write_text(NEW_RULE)
    run.engine.run(raws(stream[600:], {}))
    assert run.metric("proactive_rules_reload_total", target="rules", result="applied") == 1
    assert run.metric("proactive_rules_reload_refused", target="rules") == 0
    assert any(d["rule_id"] == "usage-echo" for d in run.decisions.records)
    assert run.store.counts()["processed_events"] == run.engine.summary.accepted
    assert run.engine.summary.events_read == len(stream)


def test_going_back_to_the_files_in_force_clears_the_refusal(
    make_rules_dir: Callable[..., Path], shared_policy: Path
) -> None:
    rules_dir = make_rules_dir()
    run = Run(rules_dir, shared_policy)
    original = (rules_dir / "outage.yaml").read_text()
    (rules_dir / "outage.yaml").write_text(original + "  - : [\n")
    assert run.reloader.poll() is None
    assert run.metric("proactive_rules_reload_refused", target="rules") == 1
    (rules_dir / "outage.yaml").write_text(original)
    assert run.reloader.poll() is None
    assert run.metric("proactive_rules_reload_refused", target="rules") == 0
    assert run.metric("proactive_rules_reload_total", target="rules", result="applied") == 0


def test_a_policy_change_gives_new_decisions_the_new_ethics_revision(
    make_rules_dir: Callable[..., Path],
    policy_dir: Path,
    stream: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Compliance edits the policy: a broken edit is refused with its line, a valid one
    is in force from the next batch; the rule revision does not move. An edit of the
    manipulation patterns is a new policy revision too."""
    policy = policy_dir / "policy.yaml"
    run = Run(make_rules_dir(), policy)
    old = run.engine.check.revision
    rules_revision = run.engine.ruleset.revision
    text = policy.read_text()
    policy.write_text(text.replace('revision: "2026.11-2"', "revision: [broken"))
    caplog.set_level(logging.ERROR, logger="proactive.reload")
    run.engine.run(raws(stream[:400], {}))
    assert run.metric("proactive_rules_reload_total", target="policy", result="refused") == 1
    assert any(r.getMessage().startswith(f"{policy}:") for r in caplog.records)

    policy.write_text(text.replace('revision: "2026.11-2"', 'revision: "2026.11-3"'))
    run.engine.run(raws(stream[400:], {}))
    new = run.engine.check.revision
    assert new.startswith("2026.11-3+") and new != old
    revisions = [d["ethics_revision"] for d in run.decisions.records]
    assert revisions[0] == old and revisions[-1] == new
    # ordered: once the new revision appears, the old one never comes back
    assert revisions == sorted(revisions, key=lambda r: r == new)
    assert {d["rules_revision"] for d in run.decisions.records} == {rules_revision}
    assert run.metric("proactive_rules_reload_total", target="policy", result="applied") == 1
    assert run.metric("proactive_rules_reload_total", target="rules", result="applied") == 0

    # the manipulation patterns the policy names are watched too
    patterns = policy_dir / "manipulation.yaml"
    patterns.write_text(patterns.read_text() + "\n# reviewed\n")
    change = run.reloader.poll()
    assert change is not None and change.ruleset is None and change.check is not None
    assert change.check.revision not in (old, new)


def test_a_new_digest_settles_for_one_poll_before_it_is_read(
    make_rules_dir: Callable[..., Path], shared_policy: Path
) -> None:
    rules_dir = make_rules_dir()
    run = Run(rules_dir, shared_policy, settle=True)
    (rules_dir / "usage_echo.yaml").write_text(NEW_RULE)
    assert run.reloader.poll() is None  # written a moment ago
    change = run.reloader.poll()
    assert change is not None and change.ruleset is not None
    assert run.reloader.rules_revision == change.ruleset.revision


def test_files_changing_while_they_are_read_are_read_again(
    make_rules_dir: Callable[..., Path], shared_policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A torn read (a second save during the load) is neither applied nor refused."""
    import proactive.reload as reload

    rules_dir = make_rules_dir()
    run = Run(rules_dir, shared_policy)
    (rules_dir / "usage_echo.yaml").write_text(NEW_RULE)
    real = reload.load_ruleset
    calls: list[int] = []

    def racing(directory: Path) -> Any:
        loaded = real(directory)
        if not calls:  # the editor saves again while the first load runs
            (rules_dir / "usage_echo.yaml").write_text(
                NEW_RULE.replace("priority: 1", "priority: 2")
            )
        calls.append(1)
        return loaded

    monkeypatch.setattr(reload, "load_ruleset", racing)
    assert run.reloader.poll() is None
    assert run.metric("proactive_rules_reload_total", target="rules", result="applied") == 0
    change = run.reloader.poll()
    assert change is not None and change.ruleset is not None
    assert change.ruleset.rule("usage-echo").rule.priority == 2


def test_the_files_are_looked_at_once_per_interval(
    make_rules_dir: Callable[..., Path], shared_policy: Path
) -> None:
    now = [0.0]
    rules_dir = make_rules_dir()
    run = Run(rules_dir, shared_policy, interval=2.0, clock=lambda: now[0])
    (rules_dir / "usage_echo.yaml").write_text(NEW_RULE)
    now[0] = 1.9
    assert run.reloader.maybe_reload() is None
    now[0] = 2.0
    assert run.reloader.maybe_reload() is not None


def test_the_watched_digest_is_the_rule_set_revision() -> None:
    """Decisions, ``rules diff`` and the reloader name a revision the same way."""
    assert revision_of(rule_files(REPO / "rules")) == load_ruleset(REPO / "rules").revision


def test_the_revisions_an_engine_starts_with_come_from_the_reloader(
    make_rules_dir: Callable[..., Path], shared_policy: Path
) -> None:
    rules_dir = make_rules_dir()
    run = Run(rules_dir, shared_policy)
    assert run.reloader.rules_revision == load_ruleset(rules_dir).revision
    check = EthicsCheck(load_policy(shared_policy))
    assert run.reloader.policy_revision == check.revision
    assert run.reloader.poll() is None  # nothing changed: nothing to do


# -- the command line ----------------------------------------------------------------------


def test_run_watches_stdin_by_default_and_a_file_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream: list[str]
) -> None:
    from proactive.cli import main

    cli_main = sys.modules["proactive.cli.main"]  # the package's ``main`` is the click group

    seen: list[tuple[bool, float]] = []
    real = cli_main.open_engine

    def spy(settings: Any, out: Path, *, watch: bool = False) -> Engine:
        seen.append((watch, settings.reload_interval))
        engine = real(settings, out, watch=watch)
        assert (engine.reloader is not None) == watch
        return engine

    monkeypatch.setattr(cli_main, "open_engine", spy)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(stream[:50]) + "\n")
    base = ["--rules", str(REPO / "rules"), "--policy", str(REPO / "ethics" / "policy.yaml")]
    runner = CliRunner()
    for args, stdin in (
        (["run", "--source", str(events), "--out", str(tmp_path / "a"), "--json"], None),
        (["run", "--out", str(tmp_path / "b"), "--json"], events.read_text()),
        (
            [
                *("run", "--source", str(events), "--out", str(tmp_path / "c")),
                *("--watch", "--reload-interval", "0.5", "--json"),
            ],
            None,
        ),
        (["run", "--out", str(tmp_path / "d"), "--no-watch", "--json"], events.read_text()),
    ):
        result = runner.invoke(main, [*base, *args], input=stdin)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["events"]["read"] == 50
    assert seen == [(False, 2.0), (True, 2.0), (True, 0.5), (False, 2.0)]
