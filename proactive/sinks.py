"""Where results go: the embedded default writes JSONL files.

A sink receives lists of JSON-ready records after the store has committed the batch
they belong to (``write``), and is flushed and closed at the end of a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import orjson


class Sink(Protocol):
    """Receives the records of each committed batch."""

    def write(self, records: list[dict[str, Any]]) -> None:
        """Append records (called once per batch, after the store commit)."""

    def close(self) -> None:
        """Flush and release resources (called once at the end of a run)."""


class JsonlSink:
    """Appends one JSON object per line to a file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("ab")
        self.count = 0

    def write(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        self._fh.write(b"".join(orjson.dumps(r, default=str) + b"\n" for r in records))
        self._fh.flush()
        self.count += len(records)

    def close(self) -> None:
        self._fh.close()


class MemorySink:
    """Keeps records in a list (tests, the Gherkin step library, backtests)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, records: list[dict[str, Any]]) -> None:
        self.records.extend(records)

    def close(self) -> None:
        return None
