"""``proactive ethics``: the commands compliance uses to check texts, templates and runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from proactive.cli.main import fail, main


@main.group()
def ethics() -> None:
    """Compliance: check texts, lint templates, report on decisions."""


def _policy(settings: Any) -> Any:
    from proactive.errors import PolicyError
    from proactive.ethics.policy import load_policy

    try:
        return load_policy(settings.policy)
    except PolicyError as exc:
        fail(str(exc))


@ethics.command(name="check")
@click.option("--text", "text", help="One text to check")
@click.option("--lang", "lang", type=click.Choice(["nl", "en"]), help="Language of --text")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSONL file, one {"id", "text", "lang"} per line ("-" for stdin)',
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (always JSON lines for --file)")
@click.pass_obj
def ethics_check(
    settings: Any, text: str | None, lang: str | None, file: Path | None, as_json: bool
) -> None:
    """Check texts for manipulation and readability, as the engine checks messages."""
    from proactive.ethics.textcheck import check_lines, check_text

    if (text is None) == (file is None):
        fail("give either --text (with --lang) or --file")
    lp = _policy(settings)
    if file is not None:
        with file.open("rb") as fh:
            for result in check_lines(fh, lp):
                click.echo(json.dumps(result, ensure_ascii=False))
        return
    if lang is None:
        fail("--text needs --lang nl or en")
    result = check_text(text, lang, lp, "text")
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    elif result["error"]:
        fail(result["error"])
    else:
        r = result["readability"]
        verdict = "FLAGGED" if result["flagged"] else "no manipulation found"
        click.echo(f"{verdict}")
        for f in result["findings"]:
            start, end = f["span"]
            click.echo(f"  {f['category']} ({f['effect']}): '{f['phrase']}' at {start}-{end}")
        meets = "meets" if r["meets_target"] else "below"
        click.echo(
            f"readability {r['score']} ({r['formula']}), {meets} the target {r['target']};"
            f" {r['words']} words in {r['sentences']} sentence(s)"
        )
        for word, plain in r["jargon"].items():
            click.echo(f"  jargon '{word}': say '{plain}'")
    sys.exit(1 if result["flagged"] else 0)


@ethics.command(name="lint")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.pass_obj
def ethics_lint(settings: Any, path: Path | None) -> None:
    """Render every template with sample data; report manipulation, readability, length,
    a missing decline or human route, as file:line: message."""
    from proactive.errors import RuleFileError
    from proactive.ethics.lint import lint_templates
    from proactive.rules import load_ruleset

    rules_dir = path or settings.rules_dir
    lp = _policy(settings)
    try:
        ruleset = load_ruleset(rules_dir)
    except RuleFileError as exc:
        fail(str(exc), 1)
        return
    findings = lint_templates(ruleset, rules_dir, lp)
    for f in findings:
        click.echo(str(f))
    if findings:
        fail(f"{len(findings)} problem(s)", 1)
    click.echo(f"ok: every template of revision {ruleset.revision} passes the ethics lint")
