"""Where a privacy or audit command finds its data: ``--out DIR`` and/or ``--store URL``.

As for ``proactive review``: the store is ``--store URL``, else the settings' store
URL (``PROACTIVE_STORE_URL``), else ``DIR/state.sqlite`` of the run given with
``--out DIR``. A command that can also read the run's files (``decisions.jsonl``,
``notifications.jsonl``, ``dead-letter.jsonl``) does so when ``--out`` is given.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from proactive.cli.main import fail
from proactive.store import ContextStore, sqlite_url

F = TypeVar("F", bound=Callable[..., Any])


def source_options(f: F) -> F:
    """Add ``--out DIR`` and ``--store URL`` to a command."""
    f = click.option(
        "--store",
        "store_url",
        default=None,
        help="SQLAlchemy URL of the store [default: PROACTIVE_STORE_URL, else DIR/state.sqlite]",
    )(f)
    f = click.option(
        "--out",
        "out",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Output folder of an embedded run (its files, and its store DIR/state.sqlite)",
    )(f)
    return f


def open_store(
    settings: Any, out: Path | None, store_url: str | None, *, required: bool
) -> ContextStore | None:
    """The store to use, or None when there is none and ``required`` is false.

    A SQLite file that does not exist is never created (opening a store migrates it:
    a mistyped path must not become an empty store that "verifies").
    """
    if out is not None and not out.is_dir() and not required:
        fail(f"no such output folder: {out}")
    url = store_url or settings.store_url
    if url is None and out is not None:
        path = out / "state.sqlite"
        if not path.exists():
            if required:
                fail(f"no such SQLite store: {path} (no store in {out}; give --store URL)")
            return None
        url = sqlite_url(path)
    if url is None:
        if required:
            fail("give --out DIR (a run's output folder) or --store URL (or PROACTIVE_STORE_URL)")
        return None
    return open_url(url)


def open_url(url: str) -> ContextStore:
    """The store at ``url``; a SQLite file that does not exist is refused, not created
    (opening a store migrates it: a mistyped path must not become an empty store that
    "verifies" or reports "0 decisions" as if that were the truth)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        fail(f"not a store URL: {url!r}")
        raise
    database = parsed.database or ""
    sqlite_file = parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    if sqlite_file and not Path(database).exists():
        fail(f"no such SQLite store: {database}")
    try:
        return ContextStore(url)
    except Exception as exc:  # unreachable server, failed migration: one line, not a traceback
        fail(f"cannot open the store: {exc}")
        raise


def require_store(settings: Any, out: Path | None, store_url: str | None) -> ContextStore:
    """The store a command cannot do without (see :func:`open_store`)."""
    store = open_store(settings, out, store_url, required=True)
    assert store is not None  # required: open_store fails rather than return None
    return store


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 time with its offset (``Z`` accepted), or None."""
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{name}: not an ISO 8601 time: {value!r}")
        raise
    if t.tzinfo is None:
        fail(f"{name}: give the time with its UTC offset (e.g. 2026-05-20T10:00:00Z)")
    return t
