"""What changed between two revisions of a rule set (``proactive rules diff``).

A revision is addressed as

- a **directory** (``rules/``, ``/srv/release-42/rules``): the files as they are;
- a **git revision** of the repository holding the rule directory (``HEAD``,
  ``HEAD~3``, ``main``, ``v1.4``, a commit id), read with ``git ls-tree`` and
  ``git cat-file`` — read-only, nothing is checked out. ``REV:path`` names another
  directory (repository-relative, or ``./path`` relative to the current directory,
  as in git);
- a **revision id** as decisions record it (``rules_revision: rules-8ff1c50709e7``):
  the rule directory if it is at that revision, else the newest commit (of the last
  ``history``) whose rule directory is.

:func:`diff` compares two revisions semantically, not line by line: rules by id
(added, removed, changed with a field-level diff of on, when, purpose, data, offer,
template, channels, priority, cooldown, … — a field left out counts as its default,
and ``7d`` equals ``1w``), templates by id, the offer catalogue by offer id, and the
arbitration. Files no section covers (scenarios, the schema) and files whose
changes are only comments or layout are listed too, so that a revision change is
always explained::

    a, b = resolve("HEAD~1", Path("rules")), resolve("rules", Path("rules"))
    print(format_diff(diff(a, b)))
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from proactive.datafile import DataLoader
from proactive.errors import RevisionError
from proactive.reload import RULE_SUFFIXES, revision_of
from proactive.rules import (
    RESERVED,
    Arbitration,
    DecisionTable,
    ExceptionSpec,
    OfferSpec,
    Rule,
    parse_duration,
)

Status = Literal["added", "removed", "changed"]

GitRunner = Callable[[Sequence[str], Path, bytes | None], bytes]
"""Runs ``git <args>`` in a directory with optional stdin and returns stdout; raises
:class:`RevisionError` when git fails. Tests pass a stand-in."""

REVISION_ID = re.compile(r"^rules-[0-9a-f]{12}$")
DURATIONS = frozenset({"cooldown", "commercial_window"})
_NESTED: dict[str, type[BaseModel]] = {
    "offer": OfferSpec,
    "exception": ExceptionSpec,
    "table": DecisionTable,
}


# -- revisions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    """The files of one rule-set revision, wherever they came from."""

    spec: str
    """What was asked for (``HEAD~1``, ``rules``, ``rules-8ff1c50709e7``)."""
    origin: str
    """Where it was read (``directory rules``, ``git 1a2b3c4d5e6f:rules``)."""
    files: Mapping[str, bytes]
    """Every file of the rule directory: relative POSIX path → content."""

    @property
    def revision(self) -> str:
        """The content revision, as decisions record it (``rules-<12 hex>``)."""
        return revision_of({n: c for n, c in self.files.items() if _counts(n)})


def _counts(name: str) -> bool:
    return os.path.splitext(name)[1] in RULE_SUFFIXES


def read_directory(path: Path, spec: str | None = None) -> Revision:
    """Every file below ``path`` (``__pycache__`` left out)."""
    if not path.is_dir():
        raise RevisionError(f"{path} is not a directory")
    files: dict[str, bytes] = {}
    for p in path.rglob("*"):
        if "__pycache__" in p.parts or not p.is_file():
            continue
        files[p.relative_to(path).as_posix()] = p.read_bytes()
    return Revision(spec or str(path), f"directory {path}", files)


def run_git(args: Sequence[str], cwd: Path, stdin: bytes | None = None) -> bytes:
    """``git <args>`` in ``cwd``; stdout, or :class:`RevisionError` with git's message."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
    try:
        res = subprocess.run(
            ["git", *args], cwd=cwd, input=stdin, capture_output=True, env=env, timeout=120
        )
    except FileNotFoundError:
        raise RevisionError("git is not installed (needed to read git revisions)") from None
    except subprocess.TimeoutExpired:
        raise RevisionError(f"git {args[0]} did not finish in 120 s") from None
    if res.returncode != 0:
        msg = res.stderr.decode("utf-8", "replace").strip() or f"exit status {res.returncode}"
        raise RevisionError(f"git {args[0]}: {msg}")
    return res.stdout


class GitRepository:
    """Read-only access to the rule directory in the history of a git repository.

    ``anchor`` is any directory inside the repository (the rule directory, or its
    parent when it does not exist in the working tree).
    """

    def __init__(self, anchor: Path, runner: GitRunner | None = None) -> None:
        self._run = runner or run_git
        out = self._run(["rev-parse", "--show-toplevel"], anchor, None)
        self.top = Path(out.decode().strip())
        self._blobs: dict[str, bytes] = {}

    def relative(self, directory: Path) -> str:
        """``directory`` as a path inside the repository (POSIX, ``""`` for the top)."""
        rel = os.path.relpath(directory.resolve(), self.top.resolve())
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            raise RevisionError(f"{directory} is not inside the git repository {self.top}")
        return "" if rel == os.curdir else Path(rel).as_posix()

    def commit(self, rev: str) -> str:
        """The full commit id of ``rev``."""
        if not rev or rev.startswith("-"):
            raise RevisionError(f"{rev!r} is not a git revision")
        try:
            out = self._run(
                ["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], self.top, None
            )
        except RevisionError:
            raise RevisionError(f"{rev!r} is neither a directory nor a git revision") from None
        return out.decode().strip()

    def entries(self, commit: str, rel: str) -> dict[str, str]:
        """Files below ``rel`` in ``commit``: path relative to ``rel`` → blob id."""
        args = ["ls-tree", "-r", "-z", "--full-tree", commit]
        if rel:
            args += ["--", rel]
        out: dict[str, str] = {}
        prefix = f"{rel}/" if rel else ""
        for entry in self._run(args, self.top, None).split(b"\0"):
            if not entry:
                continue
            meta, _, raw_path = entry.partition(b"\t")
            _mode, kind, oid = meta.decode().split()
            path = raw_path.decode("utf-8", "surrogateescape")
            if kind == "blob" and path.startswith(prefix):
                out[path[len(prefix) :]] = oid
        return out

    def blobs(self, oids: Iterable[str]) -> dict[str, bytes]:
        """Contents of blobs (one ``git cat-file --batch`` for all that are not cached)."""
        wanted = sorted(set(oids) - set(self._blobs))
        if wanted:
            data = self._run(
                ["cat-file", "--batch"], self.top, "".join(f"{o}\n" for o in wanted).encode()
            )
            pos = 0
            while pos < len(data):
                end = data.index(b"\n", pos)
                header = data[pos:end].decode().split()
                pos = end + 1
                if len(header) != 3:
                    raise RevisionError(f"git cat-file: cannot read {header[0] if header else '?'}")
                size = int(header[2])
                self._blobs[header[0]] = data[pos : pos + size]
                pos += size + 1
        return {o: self._blobs[o] for o in oids}

    def files(self, commit: str, rel: str) -> dict[str, bytes]:
        """Every file below ``rel`` in ``commit`` with its content."""
        entries = self.entries(commit, rel)
        contents = self.blobs(entries.values())
        return {name: contents[oid] for name, oid in entries.items()}

    def history(self, rel: str, limit: int) -> list[str]:
        """The newest ``limit`` commits (of HEAD) that changed ``rel``, newest first."""
        out = self._run(
            ["log", f"--max-count={limit}", "--format=%H", "--", rel or "."], self.top, None
        )
        return out.decode().split()


def _anchor(directory: Path) -> Path:
    for candidate in (directory, directory.parent):
        if candidate.is_dir():
            return candidate
    return Path.cwd()


def read_git(
    rev: str, rules_dir: Path, path: str | None = None, *, runner: GitRunner | None = None
) -> Revision:
    """The rule directory at git revision ``rev``.

    ``path`` (as in ``REV:path``) is relative to the repository's top, or to the
    current directory when it starts with ``./`` or ``../``; default ``rules_dir``.
    """
    repo = GitRepository(_anchor(rules_dir), runner)
    if path is None:
        rel = repo.relative(rules_dir)
    elif path.startswith(("./", "../")) or path in (".", ".."):
        rel = repo.relative(Path.cwd() / path)
    else:
        rel = path.strip("/")
    commit = repo.commit(rev)
    files = repo.files(commit, rel)
    if not files:
        raise RevisionError(f"{rel or '.'} has no files at git revision {rev!r}")
    return Revision(rev, f"git {commit[:12]}:{rel or '.'}", files)


def find_revision(
    revision: str, rules_dir: Path, *, history: int = 500, runner: GitRunner | None = None
) -> Revision:
    """The rule directory whose content is at ``revision`` (``rules-<12 hex>``).

    The rule directory itself first, then the last ``history`` commits that changed it.
    """
    if rules_dir.is_dir():
        here = read_directory(rules_dir, revision)
        if here.revision == revision:
            return here
    try:
        repo = GitRepository(_anchor(rules_dir), runner)
    except RevisionError as exc:
        raise RevisionError(f"{revision}: not the revision of {rules_dir}, and {exc}") from None
    rel = repo.relative(rules_dir)
    for commit in repo.history(rel, history):
        entries = {n: o for n, o in repo.entries(commit, rel).items() if _counts(n)}
        contents = repo.blobs(entries.values())
        if revision_of({n: contents[o] for n, o in entries.items()}) == revision:
            return Revision(revision, f"git {commit[:12]}:{rel or '.'}", repo.files(commit, rel))
    raise RevisionError(
        f"{revision}: neither {rules_dir} nor any of its last {history} commits is at this revision"
    )


def resolve(
    spec: str, rules_dir: Path, *, history: int = 500, runner: GitRunner | None = None
) -> Revision:
    """A revision from what a user typed: a directory, a revision id, or ``REV[:path]``."""
    if Path(spec).is_dir():
        return read_directory(Path(spec), spec)
    if REVISION_ID.match(spec):
        return find_revision(spec, rules_dir, history=history, runner=runner)
    rev, sep, path = spec.partition(":")
    return read_git(rev, rules_dir, path if sep else None, runner=runner)


# -- comparing ---------------------------------------------------------------------------


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()
"""The value of a field on the side where it does not exist."""


@dataclass(frozen=True)
class Change:
    """One field that differs: ``path`` is dotted (``offer.select``, ``bundles[data-5gb].name``)."""

    path: str
    old: Any = ABSENT
    new: Any = ABSENT

    @property
    def status(self) -> Status:
        if self.old is ABSENT:
            return "added"
        if self.new is ABSENT:
            return "removed"
        return "changed"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "status": self.status}
        if self.old is not ABSENT:
            out["old"] = _plain(self.old)
        if self.new is not ABSENT:
            out["new"] = _plain(self.new)
        return out


@dataclass(frozen=True)
class ItemDiff:
    """A rule or template that was added, removed or changed."""

    id: str
    status: Status
    file_a: str | None = None
    file_b: str | None = None
    changes: tuple[Change, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)
    """An added item's fields, as written."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "file_a": self.file_a,
            "file_b": self.file_b,
            "changes": [c.as_dict() for c in self.changes],
            **({"fields": _plain(dict(self.fields))} if self.fields else {}),
        }


@dataclass(frozen=True)
class RuleSetDiff:
    """Everything that differs between revisions ``a`` and ``b``."""

    a: Revision
    b: Revision
    rules: tuple[ItemDiff, ...] = ()
    templates: tuple[ItemDiff, ...] = ()
    offers: tuple[Change, ...] = ()
    arbitration: tuple[Change, ...] = ()
    files: tuple[tuple[str, Status, str], ...] = ()
    """Other files that differ: (path, status, note)."""
    notes: tuple[str, ...] = ()
    """What could not be compared (a file that is not valid YAML), and why."""

    def __bool__(self) -> bool:
        return bool(self.rules or self.templates or self.offers or self.arbitration or self.files)

    def as_dict(self) -> dict[str, Any]:
        def side(r: Revision) -> dict[str, str]:
            return {"spec": r.spec, "origin": r.origin, "revision": r.revision}

        return {
            "a": side(self.a),
            "b": side(self.b),
            "rules": [d.as_dict() for d in self.rules],
            "templates": [d.as_dict() for d in self.templates],
            "offers": [c.as_dict() for c in self.offers],
            "arbitration": [c.as_dict() for c in self.arbitration],
            "files": [{"path": p, "status": s, "note": n} for p, s, n in self.files],
            "notes": list(self.notes),
        }


@dataclass
class _Side:
    """One revision parsed: rules by id, templates by id, catalogue and arbitration."""

    label: str
    rules: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    templates: dict[str, Any] = field(default_factory=dict)
    offers: Any = ABSENT
    arbitration: dict[str, Any] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def _is_rule_file(name: str) -> bool:
    return "/" not in name and name.endswith(".yaml") and name not in RESERVED


def _is_template(name: str) -> bool:
    return name.startswith("templates/") and name.count("/") == 1 and name.endswith(".yaml")


def _parse(side: _Side, name: str, content: bytes) -> Any:
    try:
        return yaml.load(content.decode("utf-8"), Loader=DataLoader)  # DataLoader is a SafeLoader
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        side.unreadable.add(name)
        side.notes.append(f"{side.label}: {name} is not valid YAML{where}; it is not compared")
        return ABSENT


def _side(label: str, rev: Revision) -> _Side:
    side = _Side(label)
    for name in sorted(rev.files):
        content = rev.files[name]
        if _is_rule_file(name):
            data = _parse(side, name, content)
            items = data.get("rules") if isinstance(data, dict) else None
            for item in items if isinstance(items, list) else []:
                rid = item.get("id") if isinstance(item, dict) else None
                if not isinstance(rid, str):
                    side.notes.append(
                        f"{label}: {name} has a rule without an id; it is not compared"
                    )
                elif rid in side.rules:
                    side.notes.append(
                        f"{label}: rule {rid} is defined twice ({side.rules[rid][0]}, {name}); "
                        "the first is compared"
                    )
                else:
                    side.rules[rid] = (name, item)
        elif _is_template(name):
            data = _parse(side, name, content)
            if data is not ABSENT:
                side.templates[Path(name).stem] = data
        elif name == "offers.yaml":
            side.offers = _parse(side, name, content)
        elif name == "arbitration.yaml":
            data = _parse(side, name, content)
            if isinstance(data, dict) and isinstance(data.get("arbitration"), dict):
                side.arbitration = data["arbitration"]
    if "arbitration.yaml" not in side.unreadable:
        # a missing file or field means the declared defaults: compare those
        side.arbitration = _with_defaults(side.arbitration, Arbitration)
    return side


def _with_defaults(values: Mapping[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """``values`` plus the model's defaults for the fields left out (None defaults stay out)."""
    out = dict(values)
    for name, info in model.model_fields.items():
        if name in out:
            nested = _NESTED.get(name) if model is Rule else None
            if nested is not None and isinstance(out[name], dict):
                out[name] = _with_defaults(out[name], nested)
            continue
        if info.is_required():
            continue
        default = info.get_default(call_default_factory=True)
        if default is None:
            continue
        out[name] = default.model_dump() if isinstance(default, BaseModel) else default
    return out


def _ordered(values: Mapping[str, Any], model: type[BaseModel]) -> list[str]:
    known = [n for n in model.model_fields if n in values]
    return known + sorted(k for k in values if k not in model.model_fields)


def _same(key: str, a: Any, b: Any) -> bool:
    if key in DURATIONS:
        try:
            return parse_duration(a) == parse_duration(b)
        except ValueError:
            pass
    if isinstance(a, bool) != isinstance(b, bool):
        return False  # true == 1 in Python, not in a rule file
    return bool(a == b)


def _by_id(items: Any) -> bool:
    return (
        isinstance(items, list)
        and bool(items)
        and all(isinstance(x, dict) and isinstance(x.get("id"), str) for x in items)
        and len({x["id"] for x in items}) == len(items)
    )


def _compare(path: str, a: Any, b: Any, out: list[Change], order: Sequence[str] = ()) -> None:
    key = path.rsplit(".", 1)[-1]
    if _same(key, a, b):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        keys = list(order) or [*a, *(k for k in b if k not in a)]
        for k in keys:
            sub = f"{path}.{k}" if path else str(k)
            _compare(sub, a.get(k, ABSENT), b.get(k, ABSENT), out)
        return
    if _by_id(a) and _by_id(b):
        ia = {x["id"]: x for x in a}
        ib = {x["id"]: x for x in b}
        for i in [*ia, *(i for i in ib if i not in ia)]:
            _compare(f"{path}[{i}]", ia.get(i, ABSENT), ib.get(i, ABSENT), out)
        return
    out.append(Change(path, a, b))


def _compare_rules(a: _Side, b: _Side) -> list[ItemDiff]:
    # a rule file that is not valid YAML hides its rules: a rule missing on that side
    # may well be in it, so it is not reported as added or removed (a note says why)
    a_blind = any(_is_rule_file(n) for n in a.unreadable)
    b_blind = any(_is_rule_file(n) for n in b.unreadable)
    out: list[ItemDiff] = []
    for rid in sorted(set(a.rules) | set(b.rules)):
        fa, ra = a.rules.get(rid, (None, None))
        fb, rb = b.rules.get(rid, (None, None))
        if ra is None:
            if not a_blind:
                out.append(ItemDiff(rid, "added", None, fb, fields=rb or {}))
        elif rb is None:
            if not b_blind:
                out.append(ItemDiff(rid, "removed", fa, None))
        else:
            changes: list[Change] = []
            if fa != fb:
                changes.append(Change("file", fa, fb))
            full_a, full_b = _with_defaults(ra, Rule), _with_defaults(rb, Rule)
            order = _ordered({**full_a, **full_b}, Rule)
            _compare("", full_a, full_b, changes, order)
            if changes:
                out.append(ItemDiff(rid, "changed", fa, fb, tuple(changes)))
    return out


def _compare_templates(a: _Side, b: _Side) -> list[ItemDiff]:
    out: list[ItemDiff] = []
    for tid in sorted(set(a.templates) | set(b.templates)):
        name = f"templates/{tid}.yaml"
        if name in a.unreadable or name in b.unreadable:
            continue
        ta, tb = a.templates.get(tid, ABSENT), b.templates.get(tid, ABSENT)
        if ta is ABSENT:
            out.append(ItemDiff(tid, "added", None, name))
        elif tb is ABSENT:
            out.append(ItemDiff(tid, "removed", name, None))
        else:
            changes: list[Change] = []
            _compare("", ta, tb, changes)
            if changes:
                out.append(ItemDiff(tid, "changed", name, name, tuple(changes)))
    return out


def diff(a: Revision, b: Revision) -> RuleSetDiff:
    """What changed from revision ``a`` to revision ``b``."""
    sa, sb = _side("a", a), _side("b", b)
    rules = _compare_rules(sa, sb)
    templates = _compare_templates(sa, sb)
    offers: list[Change] = []
    if "offers.yaml" not in sa.unreadable | sb.unreadable:
        _compare("", sa.offers, sb.offers, offers)
    arbitration: list[Change] = []
    if "arbitration.yaml" not in sa.unreadable | sb.unreadable:
        _compare(
            "",
            sa.arbitration,
            sb.arbitration,
            arbitration,
            _ordered({**sa.arbitration, **sb.arbitration}, Arbitration),
        )
    explained = {f for d in (*rules, *templates) for f in (d.file_a, d.file_b) if f}
    if offers:
        explained.add("offers.yaml")
    if arbitration:
        explained.add("arbitration.yaml")
    files: list[tuple[str, Status, str]] = []
    for name in sorted(set(a.files) | set(b.files)):
        old, new = a.files.get(name), b.files.get(name)
        if old == new or name in explained:
            continue
        status: Status = "added" if old is None else "removed" if new is None else "changed"
        known = _is_rule_file(name) or _is_template(name) or name in RESERVED
        unreadable = name in sa.unreadable or name in sb.unreadable
        note = (
            "not valid YAML on one side"
            if unreadable
            else "comments or layout only"
            if known and status == "changed"
            else "no rule in it"
            if known
            else ""
        )
        files.append((name, status, note))
    return RuleSetDiff(
        a,
        b,
        tuple(rules),
        tuple(templates),
        tuple(offers),
        tuple(arbitration),
        tuple(files),
        tuple(sa.notes + sb.notes),
    )


# -- showing -----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-friendly copy (durations as text)."""
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0"
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_BARE = re.compile(r"^[\w.\-/@%+]+$")


def show(value: Any) -> str:
    """A value on one line: bare words as they are, everything else as JSON."""
    value = _plain(value)
    if isinstance(value, str) and _BARE.match(value):
        return value
    if isinstance(value, list) and all(isinstance(v, str) and _BARE.match(v) for v in value):
        return "[" + ", ".join(value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _item(value: Any) -> str:
    """One element of a list on its own line: a string as written."""
    return value if isinstance(value, str) and value and "\n" not in value else show(value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and ("\n" in value or len(value) > 60)


def _scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)


def change_lines(c: Change) -> list[str]:
    """A change as text: ``path: old → new``, or the path and ``-``/``+`` lines under it."""
    if c.status == "added":
        return [f"+ {c.path}: {show(c.new)}"]
    if c.status == "removed":
        return [f"- {c.path}: {show(c.old)}"]
    old, new = c.old, c.new
    if _scalar_list(old) and _scalar_list(new):
        gone = Counter(map(_item, old)) - Counter(map(_item, new))
        came = Counter(map(_item, new)) - Counter(map(_item, old))
        if not gone and not came:
            return [f"~ {c.path}: reordered {show(old)} → {show(new)}"]
        return [
            f"~ {c.path}:",
            *(f"    - {v}" for v in gone.elements()),
            *(f"    + {v}" for v in came.elements()),
        ]
    if isinstance(old, list) and isinstance(new, list):
        label = "row" if c.path.endswith("rows") else "item"
        lines = [f"~ {c.path}:"]
        sa, sb = [show(x) for x in old], [show(x) for x in new]
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=sa, b=sb).get_opcodes():
            if tag == "equal":
                continue
            lines += [f"    - {label} {i + 1}: {sa[i]}" for i in range(i1, i2)]
            lines += [f"    + {label} {j + 1}: {sb[j]}" for j in range(j1, j2)]
        return lines
    if _is_text(old) and _is_text(new):
        lines = [f"~ {c.path}:"]
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1):
            if line.startswith(("---", "+++")):
                continue
            if line.startswith("@@"):
                if len(lines) > 1:
                    lines.append("    …")  # between two hunks
                continue
            lines.append(f"    {line[0]} {line[1:]}")
        return lines
    return [f"~ {c.path}: {show(old)} → {show(new)}"]


def format_diff(d: RuleSetDiff) -> str:
    """The diff as text, one section per kind of data (``proactive rules diff``)."""
    out = [
        f"rules diff: {d.a.spec} ({d.a.origin}, {d.a.revision}) → "
        f"{d.b.spec} ({d.b.origin}, {d.b.revision})"
    ]
    for note in d.notes:
        out.append(f"note: {note}")
    if not d:
        out.append("no differences" if d.a.files == d.b.files else "no differences that matter")
        return "\n".join(out)

    def items(title: str, diffs: Sequence[ItemDiff], kind: str) -> None:
        if not diffs:
            return
        counts = Counter(x.status for x in diffs)
        out.append("")
        out.append(f"{title}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        for x in diffs:
            mark = {"added": "+", "removed": "-", "changed": "~"}[x.status]
            where = x.file_b or x.file_a or ""
            out.append(f"  {mark} {kind} {x.id}" + (f"  ({where})" if where else ""))
            for name, value in x.fields.items():
                if name != "id":
                    out.append(f"      {name}: {show(value)}")
            for c in x.changes:
                out.extend(f"      {line}" for line in change_lines(c))

    def changes(title: str, cs: Sequence[Change]) -> None:
        if cs:
            out.append("")
            out.append(f"{title}: {len(cs)} change(s)")
            for c in cs:
                out.extend(f"  {line}" for line in change_lines(c))

    items("rules", d.rules, "rule")
    items("templates", d.templates, "template")
    changes("offers catalogue (offers.yaml)", d.offers)
    changes("arbitration (arbitration.yaml)", d.arbitration)
    if d.files:
        out.append("")
        out.append(f"other files: {len(d.files)}")
        for name, status, note in d.files:
            mark = {"added": "+", "removed": "-", "changed": "~"}[status]
            out.append(f"  {mark} {name}" + (f"  ({note})" if note else ""))
    return "\n".join(out)


__all__ = [
    "ABSENT",
    "Change",
    "GitRepository",
    "GitRunner",
    "ItemDiff",
    "Revision",
    "RuleSetDiff",
    "change_lines",
    "diff",
    "find_revision",
    "format_diff",
    "read_directory",
    "read_git",
    "resolve",
    "run_git",
    "show",
]
