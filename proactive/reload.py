"""Hot reload: watch the rule directory and the ethics policy, swap revisions between batches.

A running engine keeps the revision it has while product teams and compliance edit
their files. A :class:`Reloader` looks at the *content* of what the engine reads every
``interval`` seconds — the rule directory's ``*.yaml``, ``*.yml`` and ``*.j2`` files
(exactly the files the rule-set revision is computed from), the policy and the
manipulation patterns it names — and when that changes, compiles the new revision
aside: a new :class:`~proactive.rules.RuleSet` with its own durable_rules host (a
ruleset cannot be replaced in place in a host), a new
:class:`~proactive.ethics.check.EthicsCheck` for a policy change. The engine calls
:meth:`Reloader.maybe_reload` at its safe point, between two batches, and swaps what
comes back (:meth:`proactive.pipeline.Engine.reload`)::

    reloader = Reloader(Path("rules"), Path("ethics/policy.yaml"), metrics=metrics)
    ruleset, check = reloader.load()           # the first revision, or DataFileError
    engine = Engine(ruleset, check, store, outputs, metrics=metrics, reloader=reloader)
    engine.run(lines)                          # reloads between batches

Polling a digest (about a millisecond for the shipped rules) needs no dependency,
works the same on every file system (network mounts, container volumes, a symlink
switched by a deployment) and cannot miss an event the way inotify can; the cost is
up to ``interval`` seconds of delay, which is nothing next to how often rules change.

What one poll does, for the rules and for the policy independently (they have
different owners; one may be refused while the other is applied):

1. the digest is the one in force: nothing to do;
2. the digest is new: wait for the next poll (``settle``), so that a save or a
   checkout writing several files is read once it is complete;
3. load the revision aside; if the files changed *while* it was read, forget it
   and look again at the next poll;
4. valid: return it (the caller swaps it in). Invalid: log every problem as
   ``file:line:column: code: [key] message``, count the refusal
   (``proactive_rules_reload_total{target,result="refused"}``), set
   ``proactive_rules_reload_refused{target}`` to 1 and keep the revision in force.
   A refused digest is reported once, not at every poll; the next save is looked at
   again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import durable_rules_engine

from proactive.errors import DataFileError, Problem
from proactive.ethics.check import EthicsCheck
from proactive.ethics.policy import load_policy
from proactive.metrics import Metrics
from proactive.rules import RuleSet, load_ruleset

log = logging.getLogger(__name__)

RULE_SUFFIXES = (".yaml", ".yml", ".j2")
"""Files of a rule directory that make up its revision (scenarios and the schema do not)."""

_MISSING = b"\x00missing"

T = TypeVar("T")


def rule_files(directory: Path) -> dict[str, bytes]:
    """The files of a rule directory that make up its revision: relative path → content.

    Every ``*.yaml``, ``*.yml`` and ``*.j2`` file below ``directory``, as the engine
    computes :attr:`RuleSet.revision <proactive.rules.RuleSet.revision>` from them. A
    file that disappears while it is read is left out (the next poll sees the change).
    """
    files: dict[str, bytes] = {}
    if not directory.is_dir():
        return files
    for path in directory.rglob("*"):
        if path.suffix not in RULE_SUFFIXES:
            continue
        with suppress(OSError):  # a directory named *.yaml, a file deleted under our feet
            if path.is_file():
                files[path.relative_to(directory).as_posix()] = path.read_bytes()
    return files


def revision_of(files: Mapping[str, bytes]) -> str:
    """The content revision of a rule directory given as :func:`rule_files` (``rules-<12 hex>``).

    The same value the engine records as ``rules_revision`` in every decision (a test
    keeps the two in step), so a directory, a git revision and a decision can be
    matched to each other.
    """
    digest = hashlib.sha256()
    for name in sorted(files, key=lambda n: tuple(n.split("/"))):  # the order of sorted(Paths)
        digest.update(name.encode())
        digest.update(files[name])
    return f"rules-{digest.hexdigest()[:12]}"


def _policy_digest(policy: Path, manipulation: str) -> str:
    digest = hashlib.sha256()
    for path in (policy, policy.parent / manipulation):
        try:
            content = path.read_bytes()
        except OSError:
            content = _MISSING
        digest.update(str(path).encode() + b"\0" + content + b"\0")
    return digest.hexdigest()


def retire(ruleset: RuleSet) -> None:
    """Free the durable_rules ruleset of a rule set that is no longer in force.

    durable_rules keeps every ruleset in its C engine until it is deleted (about
    120 KB for the shipped rules): a service that reloads for months would grow
    without this. After it, matching with the old rule set raises instead of
    answering. ``RuleEngine`` has no ``close()`` (yet); until it does, the handle is
    reached through the host, and anything unexpected there only skips the freeing.
    """
    close = getattr(ruleset.engine, "close", None)
    if callable(close):
        close()
        return
    host = getattr(ruleset.engine, "_host", None)
    directory = getattr(host, "_ruleset_directory", None)
    if not isinstance(directory, dict):
        log.debug("rule set %s: no durable_rules host to free", ruleset.revision)
        return
    for durable_ruleset in directory.values():
        handle = getattr(durable_ruleset, "_handle", None)
        if handle is not None:
            with suppress(Exception):  # already freed
                durable_rules_engine.delete_ruleset(handle)


def _discard(loaded: object) -> None:
    if isinstance(loaded, RuleSet):
        retire(loaded)


@dataclass(frozen=True)
class Reload:
    """A new revision to put in force: a rule set, an ethics check, or both."""

    ruleset: RuleSet | None = None
    check: EthicsCheck | None = None


@dataclass
class _Watch(Generic[T]):
    """What the reloader knows about one watched target (rules or policy)."""

    target: str
    digest: Callable[[], str]
    load: Callable[[], T]
    revision: Callable[[T], str]
    active: str | None = None
    """Digest of the files in force."""
    label: str = "?"
    """Revision in force (for the log)."""
    pending: str | None = None
    """A new digest seen at the last poll, waiting to settle."""
    refused: str | None = None
    """Digest of the last refused revision (reported once)."""
    loaded: Callable[[T], None] = lambda _: None
    """Called with a revision once it is read completely (before it is digested again)."""


class Reloader:
    """Watches the rule directory and the policy; hands over new valid revisions.

    ``interval`` is the time between two looks at the files (:meth:`maybe_reload`);
    ``settle`` (default on) waits for a new digest to be seen at two polls in a row
    before loading it. ``metrics`` receives the reload counter and gauges (the
    engine's own, so that one ``/metrics`` shows both).

    Example::

        reloader = Reloader(Path("rules"), Path("ethics/policy.yaml"), interval=2)
        ruleset, check = reloader.load()
        ...
        change = reloader.maybe_reload()   # between batches
        if change is not None:
            engine.swap(change.ruleset, change.check)
    """

    def __init__(
        self,
        rules_dir: Path,
        policy: Path,
        *,
        interval: float = 2.0,
        settle: bool = True,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rules_dir = Path(rules_dir)
        self.policy_path = Path(policy)
        self.interval = interval
        self.settle = settle
        self.metrics = metrics or Metrics()
        self._clock = clock
        self._next = clock() + interval
        self._manipulation = "manipulation.yaml"
        self._rules: _Watch[RuleSet] = _Watch(
            "rules",
            lambda: revision_of(rule_files(self.rules_dir)),
            lambda: load_ruleset(self.rules_dir),
            lambda rs: rs.revision,
        )
        self._policy: _Watch[EthicsCheck] = _Watch(
            "policy",
            lambda: _policy_digest(self.policy_path, self._manipulation),
            lambda: EthicsCheck(load_policy(self.policy_path)),
            lambda check: check.revision,
            loaded=self._named_patterns,
        )

    @property
    def rules_revision(self) -> str:
        """The rule-set revision in force, as far as this reloader knows."""
        return self._rules.label

    @property
    def policy_revision(self) -> str:
        """The policy revision in force, as far as this reloader knows."""
        return self._policy.label

    def _named_patterns(self, check: EthicsCheck) -> None:
        # the policy names its manipulation patterns: from now on watch the file it names
        self._manipulation = check.policy.manipulation

    # -- the first revision ------------------------------------------------------------

    def load(self) -> tuple[RuleSet, EthicsCheck]:
        """Load the revision to start with; raise :class:`DataFileError` with every problem.

        The digests are taken around the load, so a change made while the service
        starts is picked up at the first poll rather than missed.
        """
        ruleset = self._first(self._rules)
        check = self._first(self._policy)
        return ruleset, check

    def _first(self, w: _Watch[T]) -> T:
        before = w.digest()
        loaded = w.load()
        changed = w.digest() != before
        w.loaded(loaded)
        # changed during the load: unknown, so the first poll reads the files again
        w.active = None if changed else w.digest()
        w.label = w.revision(loaded)
        self.metrics.reload_refused.labels(w.target).set(0)
        return loaded

    # -- polling -----------------------------------------------------------------------

    def maybe_reload(self) -> Reload | None:
        """A new valid revision if one is ready, else None; looks at most once per interval.

        Call it where no event is half-processed (between batches) and swap what it
        returns straight away: the reloader counts it as in force.
        """
        now = self._clock()
        if now < self._next:
            return None
        self._next = now + self.interval
        return self.poll()

    def poll(self) -> Reload | None:
        """Look at the files now (ignoring the interval); see :meth:`maybe_reload`."""
        ruleset = self._poll(self._rules)
        check = self._poll(self._policy)
        if ruleset is None and check is None:
            return None
        return Reload(ruleset, check)

    def _poll(self, w: _Watch[T]) -> T | None:
        digest = w.digest()
        if digest == w.active:
            w.pending = None
            if w.refused is not None:
                w.refused = None
                self.metrics.reload_refused.labels(w.target).set(0)
                log.warning(
                    "%s: the files are back at %s, the revision in force", w.target, w.label
                )
            return None
        if digest == w.refused:
            return None
        if self.settle and digest != w.pending:
            w.pending = digest  # written a moment ago: read it once it has settled
            return None
        try:
            loaded = w.load()
        except DataFileError as exc:
            if w.digest() == digest:
                self._refuse(w, digest, exc.problems)
            else:
                w.pending = None  # problems of a half-written file: look again
            return None
        except Exception as exc:  # a bug must not stop the service: keep what is in force
            log.exception("%s: loading the new revision failed", w.target)
            self._refuse(w, digest, [], f"{type(exc).__name__}: {exc}")
            return None
        if w.digest() != digest:
            # changed while it was read: forget it and look again at the next poll
            _discard(loaded)
            w.pending = None
            return None
        w.loaded(loaded)
        w.active = w.digest()
        w.pending = w.refused = None
        self.metrics.reload_refused.labels(w.target).set(0)
        if w.revision(loaded) == w.label:
            _discard(loaded)  # the revision in force after all (a file saved back as it was)
            return None
        old, w.label = w.label, w.revision(loaded)
        self.metrics.reloads.labels(w.target, "applied").inc()
        log.warning("%s: revision %s replaces %s from the next batch", w.target, w.label, old)
        return loaded

    def _refuse(self, w: _Watch[T], digest: str, problems: list[Problem], why: str = "") -> None:
        w.refused = digest
        w.pending = None
        self.metrics.reloads.labels(w.target, "refused").inc()
        self.metrics.reload_refused.labels(w.target).set(1)
        what = f"{len(problems)} problem(s)" if problems else why
        log.error("%s: new revision refused (%s); %s stays in force", w.target, what, w.label)
        for p in problems:
            log.error("%s", p)


__all__ = ["RULE_SUFFIXES", "Reload", "Reloader", "retire", "revision_of", "rule_files"]
