"""Prometheus metrics of the engine (``prometheus-client``).

Each :class:`Metrics` has its own registry, so several engines (tests, backtests)
can live in one process; ``serve(port)`` exposes it over HTTP (``--metrics-port``).
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    start_http_server,
)

from proactive.ethics.policy import DIMENSIONS

SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95, 1.0)
LATENCY_BUCKETS = (0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1)


class Metrics:
    """Counters, histograms and gauges of one engine."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.events = Counter(
            "proactive_events",
            "Events by outcome (accepted, duplicate, dead_letter)",
            ["outcome"],
            registry=r,
        )
        self.consumed = Counter(
            "proactive_events_consumed", "Records read from the source", registry=r
        )
        self.decisions = Counter(
            "proactive_decisions",
            "Decision records by rule and verdict",
            ["rule", "verdict"],
            registry=r,
        )
        self.notifications = Counter(
            "proactive_notifications", "Notifications emitted by channel", ["channel"], registry=r
        )
        self.scores = Histogram(
            "proactive_dimension_score",
            "Scores per service dimension",
            ["dimension"],
            buckets=SCORE_BUCKETS,
            registry=r,
        )
        self.latency = Histogram(
            "proactive_event_processing_seconds",
            "Processing time per event (before the commit)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.transactions = Counter(
            "proactive_kafka_transactions",
            "Kafka transactions by outcome (commit, abort)",
            ["outcome"],
            registry=r,
        )
        self.lag = Gauge(
            "proactive_consumer_lag",
            "Records behind the end of each partition",
            ["topic", "partition"],
            registry=r,
        )
        self.revisions = Info(
            "proactive_revisions", "Rule set and policy revisions in use", registry=r
        )
        self.reloads = Counter(
            "proactive_rules_reload",
            "Hot reloads of the rule set or the policy by target (rules, policy) and result "
            "(applied, refused)",
            ["target", "result"],
            registry=r,
        )
        self.reload_refused = Gauge(
            "proactive_rules_reload_refused",
            "1 while the files on disk are a revision that was refused (the previous "
            "revision stays in force), else 0",
            ["target"],
            registry=r,
        )
        # children looked up once: ``labels()`` costs a lock and a dict lookup per call
        self.accepted = self.events.labels("accepted")
        self.duplicate = self.events.labels("duplicate")
        self.dead_letter = self.events.labels("dead_letter")
        self.score_of = {d: self.scores.labels(d) for d in DIMENSIONS}
        self.commits = self.transactions.labels("commit")
        self.aborts = self.transactions.labels("abort")
        # every series from the start: a rate() over a counter that appears late misses its first step
        for target in ("rules", "policy"):
            self.reload_refused.labels(target)
            for result in ("applied", "refused"):
                self.reloads.labels(target, result)

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Expose ``/metrics`` on ``addr:port`` in a background thread."""
        start_http_server(port, addr=addr, registry=self.registry)
