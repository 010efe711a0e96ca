"""``proactive rules``: lint, schema and why for rule authors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from proactive.cli.main import fail, main


@main.group()
def rules() -> None:
    """Rule authoring: lint, schema, why."""


@rules.command(name="lint")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.pass_obj
def rules_lint(settings: Any, path: Path | None) -> None:
    """Check a rule directory; every problem as file:line:column: code: message."""
    from proactive.authoring import lint

    ruleset, problems = lint(path or settings.rules_dir)
    for p in problems:
        click.echo(str(p))
    if problems:
        fail(f"{len(problems)} problem(s)", 1)
    assert ruleset is not None
    click.echo(f"ok: {len(ruleset.rules)} rules, revision {ruleset.revision}")


@rules.command(name="schema")
def rules_schema_cmd() -> None:
    """Print the JSON Schema of a rule file."""
    from proactive.authoring import rules_schema

    click.echo(json.dumps(rules_schema(), indent=2))


@rules.command(name="why")
@click.argument("customer_id")
@click.option(
    "--event",
    "event_file",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="A CloudEvent (JSON)",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output directory of a run, for the customer's stored context",
)
@click.pass_obj
def rules_why(settings: Any, customer_id: str, event_file: Path, out: Path | None) -> None:
    """For one event: every rule, whether it matched, and which condition failed."""
    from proactive.authoring import why
    from proactive.context import CustomerContext
    from proactive.errors import EventError
    from proactive.events import parse_event
    from proactive.rules import load_ruleset
    from proactive.store import ContextStore, sqlite_url

    try:
        event = parse_event(event_file.read_bytes())
    except EventError as exc:
        fail(f"{event_file}: {exc}")
        return
    ctx = CustomerContext(customer_id)
    if out is not None and (out / "state.sqlite").exists():
        store = ContextStore(settings.store_url or sqlite_url(out / "state.sqlite"))
        ctx = store.load([customer_id]).get(customer_id, ctx)
        store.close()
    for result in why(load_ruleset(settings.rules_dir), ctx, event):
        click.echo(result.explain())
