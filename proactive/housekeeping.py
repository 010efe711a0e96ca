"""Housekeeping of a running service: the retention purge, once a day by wall clock.

The policy's retention periods (``retention`` in ``ethics/policy.yaml``; see
docs/privacy.md) are applied by :func:`proactive.gdpr.purge`. ``proactive purge`` runs
it by hand; a long-running service runs it through a :class:`Housekeeper`, called at
its safe point between batches (the Kafka service does so at the top of every loop
turn). The housekeeper purges the first time it is called and then at most once every
``interval`` (default 24 hours) of wall-clock time, always with the policy in force at
that moment (hot reload may have swapped it).

A purge is idempotent and works in short transactions of its own, so running it on
every instance of a service is safe. A failure is logged and retried at the next
interval; it never reaches the caller. What was purged is logged as counts only (no
customer ids, no texts) and, with a Prometheus registry, counted in
``proactive_retention_purged_total{what}`` and ``proactive_retention_purges_total{result}``.

Example::

    keeper = Housekeeper(engine.store, lambda: engine.check.policy,
                         registry=engine.metrics.registry)
    ...
    keeper.maybe_purge()  # between two batches: purges when due, else does nothing
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, Counter

from proactive.ethics.policy import Policy
from proactive.gdpr import PurgeResult, purge
from proactive.store import ContextStore

__all__ = ["DEFAULT_INTERVAL", "Housekeeper"]

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = timedelta(hours=24)
"""How often a running service purges unless told otherwise (``--purge-every``)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Counters:
    purged: Counter
    purges: Counter


# one set of counters per registry: a second housekeeper on the same registry (a
# restarted service in the same process, a test) must not register them twice
_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, _Counters] = weakref.WeakKeyDictionary()


def _counters(registry: CollectorRegistry) -> _Counters:
    found = _COUNTERS.get(registry)
    if found is None:
        purges = Counter(
            "proactive_retention_purges",
            "Retention purges of the running service by result (ok, failed)",
            ["result"],
            registry=registry,
        )
        for result in ("ok", "failed"):
            purges.labels(result)  # every series from the start
        found = _COUNTERS[registry] = _Counters(
            purged=Counter(
                "proactive_retention_purged",
                "What retention purges removed, by kind: redacted (records whose message "
                "text went), event_links, event_payloads, dead_letters, contexts, contacts",
                ["what"],
                registry=registry,
            ),
            purges=purges,
        )
    return found


class Housekeeper:
    """Runs the retention purge at most once every ``interval``, the first time at once.

    ``policy`` is called at each purge, so the policy in force is used (pass
    ``lambda: engine.check.policy``). ``clock`` gives the wall-clock time (aware); it
    measures the interval and is the ``now`` the retention periods are measured from.
    ``registry``: count purges in Prometheus counters there (e.g.
    ``engine.metrics.registry``); None counts nothing.
    """

    def __init__(
        self,
        store: ContextStore,
        policy: Callable[[], Policy],
        *,
        interval: timedelta = DEFAULT_INTERVAL,
        clock: Callable[[], datetime] = _utcnow,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if interval <= timedelta(0):
            raise ValueError(f"the purge interval must be positive, not {interval}")
        self.store = store
        self.policy = policy
        self.interval = interval
        self.clock = clock
        self.last_run: datetime | None = None
        """When the last purge was started (failed or not); None before the first."""
        self._counters = _counters(registry) if registry is not None else None

    def due(self) -> bool:
        """Whether a purge is due now: never run yet, or ``interval`` has passed."""
        return self.last_run is None or self.clock() - self.last_run >= self.interval

    def maybe_purge(self) -> PurgeResult | None:
        """Purge if due; the result, or None when not due or when the purge failed.

        Call it only where no batch is in flight (the purge changes the store). A
        failure is logged with its traceback and counted; the next attempt is one
        ``interval`` later. Never raises (an ``Exception``, that is: a
        ``KeyboardInterrupt`` still stops the process).
        """
        if not self.due():
            return None
        now = self.clock()
        self.last_run = now
        try:
            result = purge(self.store, self.policy(), now)
        except Exception:
            log.error("retention purge failed; next attempt in %s", self.interval, exc_info=True)
            if self._counters is not None:
                self._counters.purges.labels("failed").inc()
            return None
        self._record(result)
        return result

    def _record(self, result: PurgeResult) -> None:
        counts = {"redacted": result.redacted, **result.removed}
        if self._counters is not None:
            self._counters.purges.labels("ok").inc()
            for what, n in counts.items():
                if n:
                    self._counters.purged.labels(what).inc(n)
        if result.note is not None:
            log.info("retention purge: %s", result.note)
        elif any(counts.values()):
            done = ", ".join(f"{what} {n}" for what, n in counts.items() if n)
            log.info(
                "retention purge: %s (%d erasure record(s)); next in %s",
                done,
                len(result.records),
                self.interval,
            )
        else:
            log.info("retention purge: nothing was old enough; next in %s", self.interval)
