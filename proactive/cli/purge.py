"""``proactive purge``: remove personal data whose retention period has run out.

The periods are the policy's ``retention`` section (``--policy``). What is past its
period is redacted or deleted as ``customer forget`` does it, and erasure records of
kind ``retention`` say what — so the decision chains keep verifying. The running
service calls the same function (``proactive.gdpr.purge``) once a day.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from proactive.cli.main import fail, main
from proactive.cli.sources import open_store, parse_time, source_options
from proactive.errors import DataFileError
from proactive.gdpr import purge


def clock() -> datetime:
    """The moment retention is measured from (the wall clock; tests replace it)."""
    return datetime.now(UTC)


@main.command(name="purge")
@source_options
@click.option(
    "--now",
    "now_text",
    default=None,
    metavar="ISO",
    help="Measure retention from this moment instead of now (e.g. 2026-05-20T00:00:00Z)",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was purged as JSON")
@click.pass_obj
def purge_cmd(
    settings: Any, out: Path | None, store_url: str | None, now_text: str | None, as_json: bool
) -> None:
    """Purge personal data past the policy's retention periods (not while a run writes to DIR)."""
    from proactive.ethics.policy import load_policy

    now = parse_time(now_text, "--now") or clock()
    try:
        policy = load_policy(settings.policy)
    except DataFileError as exc:
        fail(f"refused: the policy has {len(exc.problems)} problem(s):\n{exc}")
        raise
    store = open_store(settings, out, store_url, required=True)
    assert store is not None
    try:
        result = purge(store, policy.policy, now, out_dir=out)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    if result.note:
        click.echo(result.note)
        return
    click.echo(f"retention measured from {now.isoformat()}:")
    for kind, cut in result.cutoffs.items():
        click.echo(f"  {kind}: before {cut}")
    click.echo(f"message texts redacted: {result.redacted} record(s)")
    for k, n in result.removed.items():
        click.echo(f"{k.replace('_', ' ')} removed: {n}")
    for k, n in result.files.items():
        click.echo(f"{k}: {n} line(s) changed")
    ids = [r["decision_id"] for r in result.records]
    click.echo(f"erasure record(s): {', '.join(ids) if ids else 'none (nothing to purge)'}")
