"""The review desk: what the UI's approve and reject buttons call.

Every action goes through :func:`proactive.review.approve` or
:func:`proactive.review.reject`, exactly as ``proactive review`` does: a review record
on the store's ``review`` chain, an approval checked again at the moment it is given
(still timely, consent still valid, offer unchanged, not expired), the signed-in user
as the reviewer and a required reason.

The desk holds the rule set and ethics check the re-checks run against. With a
:class:`~proactive.reload.Reloader` a background thread swaps in new valid revisions as
the engine does (between two actions, never during one). Actions in one process take
turns under a lock: the store serialises review actions anyway (its review lock), and
durable_rules must not be matched from two threads at once.

Example::

    desk = ReviewDesk(ruleset, check, sink=JsonlSink(out / "notifications.jsonl"))
    outcome = desk.approve(store, decision_id, reviewer="alice", reason="fits", now=now)
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from proactive.ethics.check import EthicsCheck
from proactive.ethics.policy import Policy
from proactive.logs import apply_policy
from proactive.reload import Reloader, retire
from proactive.review import Outcome, ReviewError, approve, reject
from proactive.rules import RuleSet
from proactive.sinks import Sink
from proactive.store import ContextStore

log = logging.getLogger(__name__)


class NoNotificationOutput(ReviewError):
    """An approval was asked for, but this UI has nowhere to deliver notifications."""


class ReviewDesk:
    """Approve and reject against the rule set and policy in force, one action at a time."""

    def __init__(
        self,
        ruleset: RuleSet,
        check: EthicsCheck,
        *,
        sink: Sink | None = None,
        reloader: Reloader | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.check = check
        self.sink = sink
        self.reloader = reloader
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def policy(self) -> Policy:
        """The ethics policy in force."""
        return self.check.policy

    @property
    def can_send(self) -> bool:
        """Whether an approval can be delivered (a notification output is configured)."""
        return self.sink is not None

    def approve(
        self,
        store: ContextStore,
        decision_id: str,
        *,
        reviewer: str,
        reason: str,
        now: datetime,
        exception: tuple[list[str], str] | None = None,
    ) -> Outcome:
        """:func:`proactive.review.approve` with the desk's rules, policy and sink."""
        if self.sink is None:
            raise NoNotificationOutput(
                "this UI was started without a notification output (--out DIR or "
                "--bootstrap-servers), so it cannot send an approved message; reject, or "
                "approve with `proactive review approve`"
            )
        with self._lock:
            return approve(
                store,
                decision_id,
                ruleset=self.ruleset,
                check=self.check,
                reviewer=reviewer,
                reason=reason,
                now=now,
                sink=self.sink,
                exception=exception,
            )

    def reject(
        self, store: ContextStore, decision_id: str, *, reviewer: str, reason: str, now: datetime
    ) -> Outcome:
        """:func:`proactive.review.reject`."""
        with self._lock:
            return reject(store, decision_id, reviewer=reviewer, reason=reason, now=now)

    # -- hot reload ------------------------------------------------------------------------

    def poll(self) -> bool:
        """Swap in a new valid revision if the reloader has one; whether anything changed."""
        if self.reloader is None:
            return False
        change = self.reloader.maybe_reload()
        if change is None:
            return False
        with self._lock:
            if change.ruleset is not None:
                old, self.ruleset = self.ruleset, change.ruleset
                retire(old)
                log.info("review desk: rules %s in force", self.ruleset.revision)
            if change.check is not None:
                self.check = change.check
                apply_policy(self.check.policy.masking)  # logs mask what it says
                log.info("review desk: policy %s in force", self.check.revision)
        return True

    def start(self) -> None:
        """Poll the reloader in a background thread (nothing to do without one)."""
        if self.reloader is None or self._thread is not None:
            return
        interval = self.reloader.interval

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.poll()
                except Exception:  # a reload problem must not stop the UI; the reloader logs
                    log.exception("review desk: reload failed")

        self._thread = threading.Thread(target=loop, name="review-desk-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and close the sink."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.sink is not None:
            self.sink.close()
            self.sink = None
