"""``proactive rules diff``: rules, templates, offers and arbitration compared across revisions."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from proactive.cli import main
from proactive.errors import RevisionError
from proactive.rulediff import (
    Change,
    Revision,
    change_lines,
    diff,
    find_revision,
    format_diff,
    read_directory,
    read_git,
    resolve,
)

REPO = Path(__file__).resolve().parent.parent
POLICY = REPO / "ethics" / "policy.yaml"

NEW_RULE = """\
rules:
  - id: roaming-welcome
    description: Welcome abroad
    on: [usage.roaming_started]
    purpose: service
    data: [usage]
    template: roaming_info
    channels: [sms]
    priority: 40
"""


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def two_revisions(make_rules_dir: Callable[..., Path]) -> tuple[Path, Path]:
    """The shipped rules, and a copy with one rule changed, one added, one removed, a
    template, an offer and the arbitration edited, and a comment added."""
    a, b = make_rules_dir(), make_rules_dir({"welcome.yaml": NEW_RULE})
    edit(b / "data_bundle.yaml", "usage.pct_used >= 0.9\n", "usage.pct_used >= 0.95\n")
    edit(b / "data_bundle.yaml", "priority: 70", "priority: 75")
    edit(
        b / "data_bundle.yaml",
        "channels: [app_inbox, sms, push, email]",
        "channels: [app_inbox, sms]",
    )
    edit(b / "data_bundle.yaml", "on_spike: addon", "on_spike: none")
    (b / "roaming.yaml").unlink()
    edit(b / "templates" / "data_bundle_warning.yaml", "It renews on", "It is renewed on")
    edit(b / "offers.yaml", "monthly_eur: 13.50", "monthly_eur: 14.00")
    edit(b / "arbitration.yaml", "max_commercial: 1 ", "max_commercial: 2 ")
    edit(b / "outage.yaml", "rules:", "# reviewed by the outage team\nrules:")
    return a, b


def test_added_removed_and_changed_rules_with_their_fields(
    two_revisions: tuple[Path, Path],
) -> None:
    a, b = two_revisions
    d = diff(read_directory(a), read_directory(b))
    status = {r.id: r.status for r in d.rules}
    assert status == {
        "roaming-welcome": "added",
        "roaming-cost-info": "removed",
        "data-bundle-nearly-used": "changed",
    }
    changed = next(r for r in d.rules if r.status == "changed")
    by_path = {c.path: c for c in changed.changes}
    assert set(by_path) == {"when", "priority", "channels", "offer.on_spike"}
    assert (by_path["priority"].old, by_path["priority"].new) == (70, 75)
    assert change_lines(by_path["when"]) == [
        "~ when:",
        "    - usage.pct_used >= 0.9",
        "    + usage.pct_used >= 0.95",
    ]
    assert change_lines(by_path["channels"]) == ["~ channels:", "    - push", "    - email"]
    assert change_lines(by_path["offer.on_spike"]) == ["~ offer.on_spike: addon → none"]
    added = next(r for r in d.rules if r.status == "added")
    assert added.file_b == "welcome.yaml" and added.fields["template"] == "roaming_info"


def test_templates_offers_arbitration_and_other_files(two_revisions: tuple[Path, Path]) -> None:
    a, b = two_revisions
    d = diff(read_directory(a), read_directory(b))
    assert [(t.id, t.status) for t in d.templates] == [("data_bundle_warning", "changed")]
    paths = [c.path for c in d.templates[0].changes]
    assert paths == ["messages.en.sms"]
    assert [(c.path, c.old, c.new) for c in d.offers] == [
        ("bundles[data-5gb].monthly_eur", 13.5, 14.0)
    ]
    assert [(c.path, c.old, c.new) for c in d.arbitration] == [("max_commercial", 1, 2)]
    # the comment changes the revision but no rule: said so, not hidden
    assert d.files == (("outage.yaml", "changed", "comments or layout only"),)
    assert d.a.revision != d.b.revision


def test_text_output_has_a_section_per_kind(two_revisions: tuple[Path, Path]) -> None:
    a, b = two_revisions
    text = format_diff(diff(read_directory(a), read_directory(b)))
    assert text.splitlines()[0].startswith(f"rules diff: {a} (directory {a}, rules-")
    for line in (
        "rules: 1 added, 1 changed, 1 removed",
        "  ~ rule data-bundle-nearly-used  (data_bundle.yaml)",
        "      ~ priority: 70 → 75",
        "  + rule roaming-welcome  (welcome.yaml)",
        "      template: roaming_info",
        "  - rule roaming-cost-info  (roaming.yaml)",
        "templates: 1 changed",
        "      ~ messages.en.sms:",
        "  ~ bundles[data-5gb].monthly_eur: 13.5 → 14.0",
        "  ~ max_commercial: 1 → 2",
        "  ~ outage.yaml  (comments or layout only)",
    ):
        assert line in text.splitlines(), line
    assert any(
        line.startswith("          + ") and "It is renewed on" in line for line in text.splitlines()
    )


def test_defaults_and_equal_durations_are_not_changes(make_rules_dir: Callable[..., Path]) -> None:
    """enabled: true written out, 20d as 480h, the arbitration file's defaults: no change."""
    a, b = make_rules_dir(), make_rules_dir()
    edit(b / "data_bundle.yaml", "cooldown: 20d", "cooldown: 480h\n    enabled: true")
    edit(
        b / "arbitration.yaml",
        "  max_per_event: 1          # one message per customer per triggering event\n",
        "",
    )
    d = diff(read_directory(a), read_directory(b))
    assert not d.rules and not d.arbitration
    assert {f[0] for f in d.files} == {"data_bundle.yaml", "arbitration.yaml"}


def test_a_moved_rule_and_a_reordered_list(make_rules_dir: Callable[..., Path]) -> None:
    a, b = make_rules_dir(), make_rules_dir()
    text = (b / "roaming.yaml").read_text()
    (b / "roaming.yaml").unlink()
    (b / "travel.yaml").write_text(text)
    edit(
        b / "arbitration.yaml",
        "purpose_rank: [service, advice, commercial]",
        "purpose_rank: [advice, service, commercial]",
    )
    d = diff(read_directory(a), read_directory(b))
    assert [(r.id, [(c.path, c.old, c.new) for c in r.changes]) for r in d.rules] == [
        ("roaming-cost-info", [("file", "roaming.yaml", "travel.yaml")])
    ]
    assert change_lines(d.arbitration[0]) == [
        "~ purpose_rank: reordered [service, advice, commercial] → [advice, service, commercial]"
    ]


def test_decision_table_rows_are_compared_row_by_row() -> None:
    c = Change(
        "table.rows",
        [["[0.8, 0.9)", "-", "-"], [">= 0.9", 2, "data-5gb"]],
        [
            ["[0.8, 0.9)", "-", "-"],
            [">= 0.9", 2, "data-10gb"],
        ],
    )
    assert change_lines(c) == [
        "~ table.rows:",
        '    - row 2: [">= 0.9", 2, "data-5gb"]',
        '    + row 2: [">= 0.9", 2, "data-10gb"]',
    ]


def test_a_file_that_is_not_yaml_is_noted_and_hides_nothing_else(
    make_rules_dir: Callable[..., Path],
) -> None:
    """Its rules are neither added nor removed (they may well be in it); the rest is compared."""
    a, b = make_rules_dir(), make_rules_dir()
    (b / "roaming.yaml").write_text("rules:\n  - id: [broken\n")
    edit(b / "offers.yaml", "monthly_eur: 13.50", "monthly_eur: 14.00")
    d = diff(read_directory(a), read_directory(b))
    assert not d.rules
    assert d.notes == ("b: roaming.yaml is not valid YAML (line 3); it is not compared",)
    assert d.files == (("roaming.yaml", "changed", "not valid YAML on one side"),)
    assert len(d.offers) == 1


# -- revisions from git (a stand-in for git: the same plumbing, in memory) ----------------


class FakeGit:
    """Answers the read-only git commands ``proactive.rulediff`` runs, from in-memory commits."""

    def __init__(self, top: Path) -> None:
        self.top = top
        self.commits: list[tuple[str, dict[str, bytes]]] = []  # oldest first
        self.calls: list[list[str]] = []

    def commit(self, files: dict[str, bytes]) -> str:
        sha = hashlib.sha1(repr(sorted(files.items())).encode()).hexdigest()
        self.commits.append((sha, files))
        return sha

    def snapshot(self, directory: Path, prefix: str) -> dict[str, bytes]:
        return {
            f"{prefix}/{p.relative_to(directory).as_posix()}": p.read_bytes()
            for p in directory.rglob("*")
            if p.is_file()
        }

    def _sha(self, rev: str) -> str:
        shas = [sha for sha, _ in self.commits]
        if rev == "HEAD":
            return shas[-1]
        if rev.startswith("HEAD~") and int(rev[5:]) < len(shas):
            return shas[-1 - int(rev[5:])]
        if rev in shas:
            return rev
        raise RevisionError("fatal: Needed a single revision")

    def __call__(self, args: Sequence[str], cwd: Path, stdin: bytes | None) -> bytes:
        self.calls.append(list(args))
        blobs = {hashlib.sha1(c).hexdigest(): c for _, fs in self.commits for c in fs.values()}
        match list(args):
            case ["rev-parse", "--show-toplevel"]:
                return f"{self.top}\n".encode()
            case ["rev-parse", "--verify", "--quiet", spec] if spec.endswith("^{commit}"):
                return f"{self._sha(spec.removesuffix('^{commit}'))}\n".encode()
            case ["ls-tree", "-r", "-z", "--full-tree", sha, "--", rel]:
                files = dict(self.commits)[sha]
                return b"".join(
                    f"100644 blob {hashlib.sha1(c).hexdigest()}\t{p}".encode() + b"\0"
                    for p, c in sorted(files.items())
                    if p.startswith(f"{rel}/")
                )
            case ["cat-file", "--batch"]:
                assert stdin is not None
                out = b""
                for oid in stdin.decode().split():
                    out += f"{oid} blob {len(blobs[oid])}\n".encode() + blobs[oid] + b"\n"
                return out
            case ["log", limit, "--format=%H", "--", _rel] if limit.startswith("--max-count="):
                n = int(limit.split("=")[1])
                return "".join(f"{sha}\n" for sha, _ in reversed(self.commits[-n:])).encode()
        raise AssertionError(f"unexpected git command: {args}")


@pytest.fixture
def repo(tmp_path: Path, two_revisions: tuple[Path, Path]) -> tuple[Path, FakeGit]:
    """A repository whose rules/ is at revision a in HEAD~1 and b in HEAD (and the worktree)."""
    a, b = two_revisions
    top = tmp_path / "repo"
    shutil.copytree(b, top / "rules")
    git = FakeGit(top)
    git.commit(git.snapshot(a, "rules"))
    git.commit(git.snapshot(b, "rules"))
    return top / "rules", git


def test_git_revisions_are_read_without_touching_the_working_tree(
    repo: tuple[Path, FakeGit], two_revisions: tuple[Path, Path]
) -> None:
    rules_dir, git = repo
    a, _ = two_revisions
    old = read_git("HEAD~1", rules_dir, runner=git)
    assert old.files == read_directory(a).files
    assert old.origin == f"git {git.commits[0][0][:12]}:rules"
    d = diff(old, resolve("HEAD", rules_dir, runner=git))
    assert {r.id: r.status for r in d.rules}["roaming-welcome"] == "added"
    # REV:path names the directory explicitly (repository-relative, as in git)
    assert resolve("HEAD~1:rules", rules_dir, runner=git).files == old.files
    # only plumbing that reads
    assert {c[0] for c in git.calls} <= {"rev-parse", "ls-tree", "cat-file", "log"}


def test_a_revision_id_from_a_decision_is_found_in_the_history(
    repo: tuple[Path, FakeGit], two_revisions: tuple[Path, Path]
) -> None:
    rules_dir, git = repo
    a, b = two_revisions
    wanted = read_directory(a).revision
    found = find_revision(wanted, rules_dir, runner=git)
    assert found.revision == wanted and found.origin.startswith(f"git {git.commits[0][0][:12]}")
    # the working directory when it is at that revision: no git needed
    calls = len(git.calls)
    here = resolve(read_directory(b).revision, rules_dir, runner=git)
    assert here.origin == f"directory {rules_dir}" and len(git.calls) == calls
    with pytest.raises(RevisionError, match="last 500 commits"):
        find_revision("rules-000000000000", rules_dir, runner=git)


def test_an_unknown_revision_is_an_error_that_names_it(repo: tuple[Path, FakeGit]) -> None:
    rules_dir, git = repo
    with pytest.raises(RevisionError, match="'v9' is neither a directory nor a git revision"):
        resolve("v9", rules_dir, runner=git)
    with pytest.raises(RevisionError, match="not a git revision"):
        resolve("--output=x", rules_dir, runner=git)


# -- the command -----------------------------------------------------------------------------


def invoke(args: list[str], rules: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--rules", str(rules), "--policy", str(POLICY), *args])
    return result.exit_code, result.output


def test_the_command_prints_text_and_json_and_can_exit_with_1(
    two_revisions: tuple[Path, Path],
) -> None:
    a, b = two_revisions
    code, text = invoke(["rules", "diff", str(a), str(b)], a)
    assert code == 0 and "  ~ rule data-bundle-nearly-used  (data_bundle.yaml)" in text
    code, out = invoke(["rules", "diff", str(a), str(b), "--json"], a)
    data = json.loads(out)
    assert code == 0 and data["a"]["revision"] == read_directory(a).revision
    rule = next(r for r in data["rules"] if r["id"] == "data-bundle-nearly-used")
    assert {"path": "priority", "status": "changed", "old": 70, "new": 75} in rule["changes"]
    assert invoke(["rules", "diff", str(a), str(b), "--exit-code"], a)[0] == 1
    # REV_B defaults to the rule directory
    code, text = invoke(["rules", "diff", str(a), "--exit-code"], a)
    assert code == 0 and text.rstrip().endswith("no differences")


def test_the_command_uses_git_for_a_revision(
    repo: tuple[Path, FakeGit], monkeypatch: pytest.MonkeyPatch
) -> None:
    rules_dir, git = repo
    monkeypatch.setattr("proactive.rulediff.run_git", git)
    code, text = invoke(["rules", "diff", "HEAD~1"], rules_dir)
    assert code == 0, text
    assert "  + rule roaming-welcome  (welcome.yaml)" in text
    code, text = invoke(["rules", "diff", "no-such-rev"], rules_dir)
    assert code == 2 and "'no-such-rev' is neither a directory nor a git revision" in text


def test_a_revision_reads_the_same_revision_id_as_the_engine() -> None:
    from proactive.rules import load_ruleset

    rev = read_directory(REPO / "rules")
    assert isinstance(rev, Revision) and rev.revision == load_ruleset(REPO / "rules").revision
