"""Prometheus metrics of the engine (``prometheus-client``).

Each :class:`Metrics` has its own registry, so several engines (tests, backtests)
can live in one process; ``serve(port)`` exposes it over HTTP.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, start_http_server


class Metrics:
    """Counters of events, decisions and notifications."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "proactive_events",
            "Events by outcome (accepted, duplicate, dead_letter)",
            ["outcome"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "proactive_decisions",
            "Decision records by rule and verdict",
            ["rule", "verdict"],
            registry=self.registry,
        )
        self.notifications = Counter(
            "proactive_notifications",
            "Notifications emitted by channel",
            ["channel"],
            registry=self.registry,
        )

        # children looked up once: ``labels()`` costs a lock and a dict lookup per call
        self.accepted = self.events.labels("accepted")
        self.duplicate = self.events.labels("duplicate")
        self.dead_letter = self.events.labels("dead_letter")

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Expose ``/metrics`` on ``addr:port`` in a background thread."""
        start_http_server(port, addr=addr, registry=self.registry)
