"""``proactive rules diff``: what changed between two revisions of the rule set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from proactive.cli.main import fail
from proactive.cli.rules import rules


@rules.command(name="diff")
@click.argument("rev_a")
@click.argument("rev_b", required=False)
@click.option("--json", "as_json", is_flag=True, help="The diff as one JSON object.")
@click.option(
    "--history",
    default=500,
    show_default=True,
    type=click.IntRange(1),
    help="How many commits back a revision id (rules-…) is looked for.",
)
@click.option(
    "--exit-code",
    is_flag=True,
    help="Exit with 1 when the revisions differ (as git diff --exit-code).",
)
@click.pass_obj
def rules_diff(
    settings: Any, rev_a: str, rev_b: str | None, as_json: bool, history: int, exit_code: bool
) -> None:
    """Show what changed from REV_A to REV_B (default: the rule directory as it is).

    A revision is a directory (rules/, /srv/release-42/rules), a git revision of the
    repository holding the rule directory (HEAD, HEAD~3, main, v1.4, a commit id;
    REV:path for another directory), or a revision id as decisions record it
    (rules-8ff1c50709e7). Rules are compared by id, field by field; templates by
    id; offers by offer id; and the arbitration. Git is only read, never written.

    \b
    proactive rules diff HEAD                 # last commit → working directory
    proactive rules diff v1.4 main            # two git revisions
    proactive rules diff rules-8ff1c50709e7 rules/
    """
    from proactive.errors import RevisionError
    from proactive.rulediff import diff, format_diff, resolve

    rules_dir = Path(settings.rules_dir)
    try:
        a = resolve(rev_a, rules_dir, history=history)
        b = resolve(rev_b or str(rules_dir), rules_dir, history=history)
    except RevisionError as exc:
        fail(f"rules diff: {exc}")
        return
    result = diff(a, b)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_diff(result))
    if exit_code and result:
        raise SystemExit(1)
