"""``proactive audit verify``: is the decision trail intact?

Checks every decision chain — the embedded run's ``main``, each Kafka partition's,
the ``review`` chain, the ``erasure`` chain — end to end, in the store and in the
run's ``decisions.jsonl``, and names the first broken link of each: the chain, the
sequence number, the decision id and what is wrong (gap in seq, prev_hash mismatch,
hash mismatch). Every redaction must be vouched for by an erasure record
(see ``docs/privacy.md``). Exit 0 when everything verifies, 1 when something is
broken, 2 on a usage error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from proactive.audit import verify
from proactive.cli.main import fail, main
from proactive.cli.sources import open_store, source_options


@main.group()
def audit() -> None:
    """Audit: verify the tamper-evident decision trail."""


@audit.command(name="verify")
@source_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON")
@click.pass_obj
def audit_verify(settings: Any, out: Path | None, store_url: str | None, as_json: bool) -> None:
    """Verify every decision chain; name the first broken link (exit 1 when broken)."""
    store = open_store(settings, out, store_url, required=False)
    decisions = out / "decisions.jsonl" if out is not None else None
    if store is None and (decisions is None or not decisions.exists()):
        fail(f"nothing to verify: no decisions.jsonl and no store in {out}")
    try:
        report = verify(store, decisions)
    finally:
        if store is not None:
            store.close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        for c in report.chains:
            where = "store" if c.source == "store" else Path(c.source).name
            state = "ok" if c.ok else "BROKEN"
            click.echo(
                f"{where:<16} chain {c.chain:<24} {c.records:>8} records  "
                f"head seq {c.head_seq} {c.head_hash[:16]}  {state}"
            )
        for f in report.findings:
            click.echo(f"BROKEN: {f}", err=True)
        if report.ok:
            click.echo(f"all {len(report.chains)} chain(s) verify")
    if not report.ok:
        raise SystemExit(1)
