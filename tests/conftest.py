"""Shared factory fixtures for the engine's unit tests.

Kept small on purpose: a builder of validated events, a builder of a rules
directory (a copy of the shipped ``rules/`` plus extra files) and a builder of a
:class:`~proactive.harness.Harness` over such a directory.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from proactive.events import Event, event_from_dict
from proactive.harness import Harness

# the Gherkin step library (also what `proactive test` will use)
pytest_plugins = ["proactive.steps"]

REPO = Path(__file__).resolve().parent.parent

_ids = itertools.count(1)


def _aware(value: str | datetime) -> datetime:
    t = (
        value
        if isinstance(value, datetime)
        else datetime.fromisoformat(value.replace("Z", "+00:00"))
    )
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


@pytest.fixture
def make_event() -> Callable[..., Event]:
    """Factory: ``make_event(etype, customer, time, **data)`` → a validated :class:`Event`."""

    def build(etype: str, customer: str, time: str | datetime, **data: Any) -> Event:
        return event_from_dict(
            {
                "specversion": "1.0",
                "id": f"evt-{next(_ids):06d}",
                "source": "/tests",
                "type": etype,
                "subject": customer,
                "time": _aware(time).isoformat(),
                "data": data,
            }
        )

    return build


@pytest.fixture
def make_rules_dir(tmp_path: Path) -> Callable[..., Path]:
    """Factory: a copy of the shipped ``rules/`` in ``tmp_path`` with extra files written in.

    ``make_rules_dir({"extra.yaml": "..."})``; paths may contain ``templates/``.
    """
    counter = itertools.count(1)

    def build(extra: dict[str, str] | None = None) -> Path:
        target = tmp_path / f"rules-{next(counter)}"
        shutil.copytree(
            REPO / "rules", target, ignore=shutil.ignore_patterns("features", "__pycache__")
        )
        for name, text in (extra or {}).items():
            (target / name).write_text(text, encoding="utf-8")
        return target

    return build


@pytest.fixture
def make_harness() -> Callable[..., Harness]:
    """Factory: ``make_harness(rules_dir=None)`` → the real engine over an in-memory store."""

    def build(rules_dir: Path | None = None) -> Harness:
        return Harness(rules_dir=rules_dir, policy=REPO / "ethics" / "policy.yaml")

    return build
