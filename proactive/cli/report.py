"""``proactive ethics report``: the ethics report over a run's or a store's decisions."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from proactive.cli.ethics import ethics
from proactive.cli.main import fail
from proactive.errors import DataFileError

REPORT_FILE = "ethics-report.html"
"""The page's name inside ``--report-dir`` (other reports may share the folder)."""


def _store_records(url: str) -> Iterable[dict[str, Any]]:
    from proactive.cli.sources import open_url

    store = open_url(url)
    try:
        yield from store.decision_records()
    finally:
        store.close()


@ethics.command(name="report")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output folder of an embedded run: reads DIR/decisions.jsonl",
)
@click.option(
    "--store",
    "store_url",
    default=None,
    help="SQLAlchemy URL of a store: every chain in its decisions table",
)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=f"Where {REPORT_FILE} goes [default DIR/report; required with --store]",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON")
@click.option(
    "--fail-on-alert", is_flag=True, help="Exit 1 when a governance or fairness alert is raised"
)
@click.pass_obj
def ethics_report(
    settings: Any,
    out: Path | None,
    store_url: str | None,
    report_dir: Path | None,
    as_json: bool,
    fail_on_alert: bool,
) -> None:
    """Verdicts, score distributions, reasons, exceptions and fairness per rule, with alerts.

    Writes one self-contained HTML page and prints the summary (or JSON). Exit 0;
    with --fail-on-alert, 1 when a governance or fairness alert is raised.
    """
    from proactive.ethics.policy import load_policy
    from proactive.report import print_report, records_from_jsonl, render_html, summarise

    if (out is None) == (store_url is None):
        fail("give either --out DIR (a run's decisions.jsonl) or --store URL")
        return
    if report_dir is None and out is None:
        fail("--report-dir is required with --store")
        return
    try:
        policy = load_policy(settings.policy).policy
    except DataFileError as exc:
        fail(f"refused: the policy has {len(exc.problems)} problem(s):\n{exc}")
        return
    records: Iterable[dict[str, Any]]
    if out is not None:
        path = out / "decisions.jsonl"
        if not path.exists():
            fail(f"no decisions in {out}: {path} does not exist")
        records, source = records_from_jsonl(path), str(path)
    else:
        assert store_url is not None
        records, source = _store_records(store_url), _safe_url(store_url)
    report = summarise(records, policy, source=source)

    target_dir = report_dir if report_dir is not None else (out or Path(".")) / "report"
    target_dir.mkdir(parents=True, exist_ok=True)
    page = target_dir / REPORT_FILE
    page.write_text(render_html(report), encoding="utf-8")

    if as_json:
        data = report.as_dict()
        data["html"] = str(page)
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)  # pipes and CI logs: do not squeeze the tables
        print_report(report, console)
        console.print(f"report in {page}", highlight=False)
    if fail_on_alert and report.alerts:
        raise SystemExit(1)


def _safe_url(url: str) -> str:
    """The URL as the report may show it: without a password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
