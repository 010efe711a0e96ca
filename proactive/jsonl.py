"""Reading the engine's JSONL outputs (``decisions.jsonl``, ``notifications.jsonl`` …).

One reader for every tool that reads them back — the report, the audit, export and
erasure — so they agree on what a line is: blank lines are skipped, and a line that
is not a JSON object (a run cut off mid-write) is handed over as ``None`` with its
number and bytes, for each tool to report, keep or skip as it must.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson


def lines(path: Path) -> Iterator[tuple[int, bytes, dict[str, Any] | None]]:
    """Each non-blank line: (its number from 1, its bytes, its JSON object or None)."""
    with path.open("rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                rec = None
            yield n, line, rec if isinstance(rec, dict) else None


def objects(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a file, skipping lines that are not one."""
    for _, _, rec in lines(path):
        if rec is not None:
            yield rec
