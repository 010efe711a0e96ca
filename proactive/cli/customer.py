"""``proactive customer``: the customer's GDPR rights — export and forget.

``export ID`` prints everything held on the customer as JSON (the store, and the
files of an embedded run with ``--out DIR``). ``forget ID`` erases it: the records in
the decision chains are redacted (the customer id becomes a pseudonym, message texts
and reviewers' words are removed) so every chain still verifies, the rest is deleted,
and a sealed erasure record says what was done (see ``docs/privacy.md``).
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from proactive.cli.main import fail, main
from proactive.cli.sources import open_store, source_options
from proactive.gdpr import GdprError, export_customer, forget


def clock() -> datetime:
    """The moment of an export or erasure (the wall clock; tests replace it)."""
    return datetime.now(UTC)


@main.group()
def customer() -> None:
    """GDPR rights: export everything held on a customer, or forget the customer."""


@customer.command(name="export")
@click.argument("customer_id")
@source_options
@click.option(
    "--output",
    "output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the JSON to this file instead of stdout",
)
@click.pass_obj
def customer_export(
    settings: Any, customer_id: str, out: Path | None, store_url: str | None, output: Path | None
) -> None:
    """Everything held on CUSTOMER_ID, as JSON (profile, events, decisions, messages,
    review actions, contacts)."""
    store = open_store(settings, out, store_url, required=out is None)
    try:
        data = export_customer(store, customer_id, out_dir=out, now=clock())
    except GdprError as exc:
        fail(str(exc))
        raise
    finally:
        if store is not None:
            store.close()
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text)


@customer.command(name="forget")
@click.argument("customer_id")
@source_options
@click.option("--by", "by", default=None, help="Who carries out the erasure [default: login name]")
@click.option(
    "--reference", default="", help="The request's case number (recorded; no personal data)"
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation")
@click.option("--json", "as_json", is_flag=True, help="Print the erasure record as JSON")
@click.pass_obj
def customer_forget(
    settings: Any,
    customer_id: str,
    out: Path | None,
    store_url: str | None,
    by: str | None,
    reference: str,
    yes: bool,
    as_json: bool,
) -> None:
    """Erase everything personal held on CUSTOMER_ID; the audit trail stays verifiable.

    Not while an embedded run writes to DIR. Exit 0 when done (also when nothing was
    held), 2 on a usage error.
    """
    who = (by or "").strip() or _login()
    if not yes:
        click.confirm(
            f"Erase everything personal held on {customer_id}? This cannot be undone",
            abort=True,
            err=True,
        )
    store = open_store(settings, out, store_url, required=True)
    assert store is not None
    try:
        erasure = forget(
            store, customer_id, now=clock(), requested_by=who, reference=reference, out_dir=out
        )
    except GdprError as exc:
        fail(str(exc))
        raise
    finally:
        store.close()
    for w in erasure.warnings:
        click.echo(f"warning: {w}", err=True)
    if as_json:
        click.echo(json.dumps(erasure.record, indent=2))
        return
    if not erasure.found:
        click.echo(f"nothing held on {customer_id}; erasure record {erasure.record['decision_id']}")
        return
    removed = ", ".join(f"{k} {n}" for k, n in erasure.removed.items() if n) or "nothing"
    files = ", ".join(f"{k} {n}" for k, n in erasure.files.items() if n)
    click.echo(
        f"forgot {customer_id}: {erasure.redacted} record(s) redacted under pseudonym "
        f"{erasure.pseudonym}; deleted or unlinked: {removed}"
        + (f"; lines changed: {files}" if files else "")
    )
    click.echo(
        f"erasure record {erasure.record['decision_id']} (erasure chain seq "
        f"{erasure.record['seq']}); check with: proactive audit verify"
    )


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment (a container, a service)
        fail("cannot tell who you are: give --by NAME")
        raise
