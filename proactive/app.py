"""Wiring for the embedded default: files in, JSONL and SQLite out.

``open_engine`` loads the rule set and the policy (refusing broken files with every
problem listed), opens the store and the sinks of an output directory, and returns
a ready :class:`~proactive.pipeline.Engine` — with ``watch``, one that reloads the
rules and the policy while it runs (:mod:`proactive.reload`). The engine puts the
loaded policy's log masking (``masking.log_fields``) in force as it starts, and a
reloaded policy's at the swap (:func:`proactive.logs.apply_policy`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from proactive.config import Settings
from proactive.ethics.check import EthicsCheck
from proactive.ethics.policy import load_policy
from proactive.metrics import Metrics
from proactive.pipeline import Engine, Outputs, RawEvent
from proactive.reload import Reloader
from proactive.rules import load_ruleset
from proactive.sinks import JsonlSink
from proactive.store import ContextStore, sqlite_url

OUTPUT_FILES = ("notifications.jsonl", "decisions.jsonl", "dead-letter.jsonl", "state.sqlite")


def open_engine(settings: Settings, out_dir: Path, *, watch: bool = False) -> Engine:
    """An engine writing to ``out_dir`` (notifications, decisions, dead letters, state).

    ``watch``: look at the rule directory and the policy every
    ``settings.reload_interval`` seconds and swap in a new valid revision between
    batches (an invalid one is logged, counted and refused).
    """
    metrics = Metrics()
    reloader: Reloader | None = None
    if watch:
        reloader = Reloader(
            settings.rules_dir, settings.policy, interval=settings.reload_interval, metrics=metrics
        )
        ruleset, check = reloader.load()
    else:
        ruleset = load_ruleset(settings.rules_dir)
        check = EthicsCheck(load_policy(settings.policy))
    out_dir.mkdir(parents=True, exist_ok=True)
    store = ContextStore(settings.store_url or sqlite_url(out_dir / "state.sqlite"))
    outputs = Outputs(
        decisions=JsonlSink(out_dir / "decisions.jsonl"),
        notifications=JsonlSink(out_dir / "notifications.jsonl"),
        dead_letters=JsonlSink(out_dir / "dead-letter.jsonl"),
    )
    if settings.metrics_port:
        metrics.serve(settings.metrics_port, settings.metrics_addr)
    return Engine(
        ruleset,
        check,
        store,
        outputs,
        batch_size=settings.batch_size,
        cache_size=settings.cache_size,
        metrics=metrics,
        reloader=reloader,
    )


def clear_outputs(out_dir: Path) -> None:
    """Remove the files a previous run left in ``out_dir`` (demo starts fresh)."""
    for name in (*OUTPUT_FILES, "state.sqlite-wal", "state.sqlite-shm"):
        (out_dir / name).unlink(missing_ok=True)


def read_lines(source: str) -> Iterator[RawEvent]:
    """Lines of a JSONL file (or ``-`` for stdin), each with its ``file:line`` origin."""
    stream: IO[str]
    if source == "-":
        stream, name = sys.stdin, "stdin"
    else:
        stream, name = open(source, encoding="utf-8"), source  # noqa: SIM115 - closed below
    try:
        for n, line in enumerate(stream, 1):
            if line.strip():
                yield line.rstrip("\n"), f"{name}:{n}"
    finally:
        if stream is not sys.stdin:
            stream.close()
