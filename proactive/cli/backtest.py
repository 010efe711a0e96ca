"""``proactive backtest``: replay a history through a candidate rule set, with no side effects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from proactive.cli.main import fail, main, progress_bar
from proactive.errors import DataFileError


def _inside(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


@main.command()
@click.option(
    "--events",
    "events_file",
    required=True,
    help="History: CloudEvents JSONL, as `proactive run` reads it (- for stdin)",
)
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Candidate rule directory [default: the global --rules]",
)
@click.option(
    "--baseline",
    "baseline_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Rule directory to compare with [default: none, no comparison]",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder of the backtest: backtest.html, candidate/, baseline/",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON")
@click.pass_obj
def backtest(
    settings: Any,
    events_file: str,
    rules_dir: Path | None,
    baseline_dir: Path | None,
    out: Path,
    as_json: bool,
) -> None:
    """What a rule set would have done to a history of events, against a baseline.

    Runs the real engine on a throw-away store (nothing is stored, produced or sent),
    prints per rule the verdicts, customers, channels and scores, the difference with
    --baseline and the fairness breakdown, and writes OUT/backtest.html.
    """
    from proactive.backtest import count_lines, print_backtest, run_backtest, write_report

    if events_file != "-" and not Path(events_file).is_file():
        fail(f"no such event file: {events_file}")
    candidate = rules_dir or settings.rules_dir
    for directory in (candidate, baseline_dir):
        if directory is not None and _inside(out, directory):
            fail(f"--out {out} is inside the rule directory {directory}: choose another folder")
    console = Console(stderr=True)
    try:
        with progress_bar(console, disable=as_json or not console.is_terminal) as progress:
            task = progress.add_task(
                "backtest" + (" + baseline" if baseline_dir else ""),
                total=count_lines(events_file),
            )
            result = run_backtest(
                settings,
                events_file,
                out,
                rules_dir=candidate,
                baseline_dir=baseline_dir,
                progress=lambda n: progress.advance(task, n),
            )
    except DataFileError as exc:
        fail(f"refused: a rule set or the policy has {len(exc.problems)} problem(s):\n{exc}")
        return
    page = write_report(result)

    if as_json:
        data = result.as_dict()
        data["html"] = str(page)
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    stdout = Console()
    if not stdout.is_terminal:
        stdout = Console(width=180)  # pipes and CI logs: do not squeeze the tables
    print_backtest(result, stdout)
    stdout.print(
        f"report in {page}; every decision in {out / 'candidate'}/decisions.jsonl "
        f"(proactive explain ID --out {out / 'candidate'})",
        highlight=False,
    )
