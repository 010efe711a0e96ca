"""``proactive ethics``: the commands compliance uses to check texts, templates and runs."""

from __future__ import annotations

import click

from proactive.cli.main import main


@main.group()
def ethics() -> None:
    """Compliance: check texts, lint templates, report on decisions."""
