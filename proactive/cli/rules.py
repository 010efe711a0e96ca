"""``proactive rules``: lint, schema and why for rule authors."""

from __future__ import annotations

import dataclasses
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
@click.option("--json", "as_json", is_flag=True, help="One JSON object per problem (editors, CI).")
@click.pass_obj
def rules_lint(settings: Any, path: Path | None, as_json: bool) -> None:
    """Check a rule directory; every problem as file:line:column: code: message.

    Warnings read file:line:column: warning: code: message. The exit status is 1 when
    any problem is an error; warnings alone exit 0. The codes are listed in
    docs/rules.md.
    """
    from proactive.authoring import format_problem, lint, severity

    ruleset, problems = lint(path or settings.rules_dir)
    for p in problems:
        level = severity(p)
        if as_json:
            record = {"severity": level, **dataclasses.asdict(p)}
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            click.echo(format_problem(p))
    warnings = sum(1 for p in problems if severity(p) == "warning")
    if ruleset is None:
        errors = len(problems) - warnings
        fail(f"{errors} error(s), {warnings} warning(s)", 1)
        return
    note = f", {warnings} warning(s)" if warnings else ""
    click.echo(
        f"ok: {len(ruleset.rules)} rules, revision {ruleset.revision}{note}",
        err=as_json,
    )


@rules.command(name="schema")
def rules_schema_cmd() -> None:
    """Print the JSON Schema of a rule file (shipped as rules/rule.schema.json)."""
    from proactive.authoring import schema_text

    click.echo(schema_text(), nl=False)


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
