"""The ``proactive`` command group and the engine commands: run, demo, generate, explain, topics."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from proactive import __version__
from proactive.app import clear_outputs, open_engine, read_lines
from proactive.config import load_settings
from proactive.errors import ConfigError, DataFileError
from proactive.ethics.policy import DIMENSIONS
from proactive.explain import explain, find_decision
from proactive.generate import generate_lines
from proactive.logs import configure
from proactive.pipeline import Summary

SHORT = {
    "language": "lang",
    "place": "place",
    "time": "time",
    "complexity": "cmplx",
    "relevance": "relev",
    "trust": "trust",
    "empathy": "empat",
    "autonomy": "auton",
}


def progress_bar(console: Console, *, disable: bool) -> Progress:
    """The progress bar of a long command (events read of all), gone when done."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=disable,
    )


def fail(msg: str, code: int = 2) -> None:
    click.echo(msg, err=True)
    sys.exit(code)


def _summary_table(summary: Summary, console: Console) -> None:
    d = summary.as_dict()
    table = Table(title="Decisions per rule", title_justify="left")
    table.add_column("rule")
    for col in ("fired", "send", "defer", "review", "block"):
        table.add_column(col, justify="right")
    for dim in DIMENSIONS:
        table.add_column(SHORT[dim], justify="right")
    for rid, st in d["rules"].items():
        means = st["mean_scores"]
        table.add_row(
            rid,
            str(st["fired"]),
            *(str(st["verdicts"][v]) for v in ("send", "defer", "review", "block")),
            *("-" if means[x] is None else f"{means[x]:.2f}" for x in DIMENSIONS),
        )
    v = d["verdicts"]
    table.add_row(
        "[b]total[/b]",
        "",
        *(f"[b]{v[k]}[/b]" for k in ("send", "defer", "review", "block")),
        *([""] * len(DIMENSIONS)),
    )
    console.print(table)
    e = d["events"]
    console.print(
        f"events read {e['read']}, accepted {e['accepted']}, dead-lettered {e['dead_lettered']}"
        + (
            f" ({', '.join(f'{k} {n}' for k, n in e['dead_letter_reasons'].items())})"
            if e["dead_letter_reasons"]
            else ""
        )
        + f", duplicates skipped {e['duplicates_skipped']}"
    )
    console.print(
        f"decisions {d['decisions']}, notifications {d['notifications']}, deferred {d['deferred']} "
        f"(released {d['released']}), for review {d['reviews']}"
    )


def _process(
    settings: Any, out: Path, lines: Any, total: int | None, as_json: bool, watch: bool = False
) -> Summary:
    console = Console(stderr=True)
    try:
        engine = open_engine(settings, out, watch=watch)
    except DataFileError as exc:
        fail(f"refused: the rule set or policy has {len(exc.problems)} problem(s):\n{exc}")
        raise
    with progress_bar(console, disable=as_json and not console.is_terminal) as progress:
        task = progress.add_task("events", total=total)
        engine.run(lines, progress=lambda n: progress.advance(task, n))
    summary = engine.finish()
    engine.outputs.close()
    engine.store.close()
    return summary


def _report(summary: Summary, out: Path, as_json: bool) -> None:
    if as_json:
        d = summary.as_dict()
        d["out"] = str(out)
        click.echo(json.dumps(d, indent=2))
    else:
        console = Console()
        if not console.is_terminal:
            console = Console(width=160)  # pipes and CI logs: do not squeeze the table
        _summary_table(summary, console)
        console.print(
            f"outputs in {out}/: notifications.jsonl, decisions.jsonl, dead-letter.jsonl, state.sqlite"
        )


@click.group()
@click.version_option(__version__, prog_name="proactive")
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Rule directory [env PROACTIVE_RULES_DIR; default rules/]",
)
@click.option(
    "--policy",
    type=click.Path(path_type=Path),
    default=None,
    help="Ethics policy [env PROACTIVE_POLICY; default ethics/policy.yaml]",
)
@click.option(
    "--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR [env PROACTIVE_LOG_LEVEL]"
)
@click.pass_context
def main(
    ctx: click.Context, rules_dir: Path | None, policy: Path | None, log_level: str | None
) -> None:
    """Proactive-service rules engine with an ethics check."""
    try:
        settings = load_settings(rules_dir=rules_dir, policy=policy, log_level=log_level)
    except ConfigError as exc:
        fail(f"configuration error: {exc}")
        return
    configure(settings.log_level)
    ctx.obj = settings


@main.command()
@click.option(
    "--source", default=None, help="JSONL file of CloudEvents, or - for stdin (embedded default)"
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="Output directory (embedded default)",
)
@click.option(
    "--bootstrap-servers",
    default=None,
    envvar="PROACTIVE_BOOTSTRAP_SERVERS",
    help="Run as a Kafka service: HOST:PORT[,HOST:PORT]",
)
@click.option(
    "--group",
    "group_id",
    default="proactive-engine",
    show_default=True,
    envvar="PROACTIVE_GROUP_ID",
    help="Kafka consumer group",
)
@click.option(
    "--instance-id",
    default=None,
    envvar="PROACTIVE_INSTANCE_ID",
    help="Stable id of this engine instance (transactional id); default: host name",
)
@click.option(
    "--store",
    "store_url",
    default=None,
    envvar="PROACTIVE_STORE_URL",
    help="SQLAlchemy URL of the context store (PostgreSQL to scale out)",
)
@click.option(
    "--until-idle",
    type=float,
    default=None,
    help="Kafka: commit and exit after this many seconds without events",
)
@click.option("--events-topic", default="customer-events", show_default=True)
@click.option("--notifications-topic", default="proactive-notifications", show_default=True)
@click.option("--decisions-topic", default="proactive-decisions", show_default=True)
@click.option("--dead-letter-topic", default="proactive-dead-letter", show_default=True)
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    envvar="PROACTIVE_METRICS_PORT",
    help="Serve Prometheus /metrics on this port",
)
@click.option(
    "--watch/--no-watch",
    default=None,
    help="Hot reload: swap in a new valid revision of the rules or the policy between "
    "batches; a broken one is logged and refused [env PROACTIVE_WATCH; default: on for "
    "Kafka and stdin, off for a file]",
)
@click.option(
    "--reload-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds between two looks at the rule and policy files "
    "[env PROACTIVE_RELOAD_INTERVAL; default 2]",
)
@click.option(
    "--purge-every",
    "purge_every",
    type=click.FloatRange(min=0, max=87_600),  # 10 years: within timedelta's range
    default=24.0,
    show_default=True,
    envvar="PROACTIVE_PURGE_EVERY",
    help="Kafka: run the retention purge of the policy at start and then every HOURS "
    "hours (wall clock); 0 = never",
    metavar="HOURS",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON")
@click.pass_obj
def run(
    settings: Any,
    source: str | None,
    out: Path | None,
    bootstrap_servers: str | None,
    group_id: str,
    instance_id: str | None,
    store_url: str | None,
    until_idle: float | None,
    events_topic: str,
    notifications_topic: str,
    decisions_topic: str,
    dead_letter_topic: str,
    metrics_port: int | None,
    watch: bool | None,
    reload_interval: float | None,
    purge_every: float,
    as_json: bool,
) -> None:
    """Process events: from a file or stdin (embedded), or from Kafka (--bootstrap-servers).

    A long run (Kafka, stdin) watches rules/ and the policy by default and swaps in a
    new valid revision between batches; see docs/rules-operations.md.
    """
    if store_url:
        settings = settings.model_copy(update={"store_url": store_url})
    if metrics_port:
        settings = settings.model_copy(update={"metrics_port": metrics_port})
    if watch is not None:
        settings = settings.model_copy(update={"watch": watch})
    if reload_interval is not None:
        settings = settings.model_copy(update={"reload_interval": reload_interval})
    source = source or "-"
    # a stream that does not end by itself gets new rules without a restart; a file
    # run is one revision from start to end unless asked otherwise
    watching = (
        settings.watch if settings.watch is not None else bool(bootstrap_servers) or source == "-"
    )
    if bootstrap_servers:
        from proactive.kafka_service import Topics  # kafka-python only when running on Kafka

        topic_names = Topics(events_topic, notifications_topic, decisions_topic, dead_letter_topic)
        _run_kafka(
            settings,
            bootstrap_servers,
            group_id,
            instance_id,
            until_idle,
            topic_names,
            out,
            as_json,
            watching,
            purge_every=purge_every,
        )
        return
    if out is None:
        fail("--out DIR is required (or --bootstrap-servers to run on Kafka)")
        return
    if source != "-" and not Path(source).exists():
        fail(f"no such event file: {source}")
    summary = _process(settings, out, read_lines(source), None, as_json, watching)
    _report(summary, out, as_json)


def _run_kafka(
    settings: Any,
    bootstrap: str,
    group_id: str,
    instance_id: str | None,
    until_idle: float | None,
    topic_names: Any,
    out: Path | None,
    as_json: bool,
    watch: bool,
    *,
    purge_every: float = 24.0,
) -> None:
    """Run the Kafka service until stopped (or idle); ``purge_every``: hours between
    two retention purges (0: none)."""
    from datetime import timedelta

    from proactive.housekeeping import Housekeeper
    from proactive.kafka_service import KafkaService, KafkaSettings

    try:
        engine = open_engine(settings, out or Path("out/kafka"), watch=watch)
    except DataFileError as exc:
        fail(f"refused: the rule set or policy has {len(exc.problems)} problem(s):\n{exc}")
        return
    service = KafkaService(
        engine,
        KafkaSettings(
            bootstrap=bootstrap,
            group_id=group_id,
            instance_id=instance_id or "",
            topics=topic_names,
            max_batch=settings.batch_size,
        ),
        housekeeper=(
            Housekeeper(
                engine.store,
                lambda: engine.check.policy,  # the policy in force: hot reload swaps it
                interval=timedelta(hours=purge_every),
                registry=engine.metrics.registry,
            )
            if purge_every > 0
            else None
        ),
    )
    service.install_signal_handlers()
    summary = service.run(until_idle=until_idle)
    engine.outputs.close()
    engine.store.close()
    if as_json:
        d = summary.as_dict()
        d["transactions"] = service.transactions
        click.echo(json.dumps(d, indent=2))
    else:
        _summary_table(summary, Console(width=160))


@main.group()
def topics() -> None:
    """Kafka topics."""


@topics.command(name="create")
@click.option("--bootstrap-servers", required=True, envvar="PROACTIVE_BOOTSTRAP_SERVERS")
@click.option("--partitions", default=3, show_default=True, type=click.IntRange(1))
def topics_create(bootstrap_servers: str, partitions: int) -> None:
    """Create customer-events, proactive-notifications, proactive-decisions, proactive-dead-letter."""
    from proactive.kafka_service import Topics, create_topics

    names = Topics()
    created = create_topics(bootstrap_servers, names, partitions)
    for name in names.all():
        click.echo(f"{name}: {'created' if name in created else 'exists'}")


@main.command()
@click.option("--customers", default=500, show_default=True, type=click.IntRange(1))
@click.option("--events", default=20_000, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option(
    "--out", "out", type=click.Path(path_type=Path), default=Path("out/demo"), show_default=True
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON")
@click.pass_obj
def demo(settings: Any, customers: int, events: int, seed: int, out: Path, as_json: bool) -> None:
    """Generate a realistic event stream and run it through the engine."""
    out.mkdir(parents=True, exist_ok=True)
    clear_outputs(out)
    events_file = out / "events.jsonl"
    with events_file.open("w", encoding="utf-8") as fh:
        for line in generate_lines(customers=customers, events=events, seed=seed):
            fh.write(line + "\n")
    summary = _process(settings, out, read_lines(str(events_file)), events, as_json)
    _report(summary, out, as_json)


@main.command()
@click.option("--customers", default=500, show_default=True, type=click.IntRange(1))
@click.option("--events", default=20_000, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=7, show_default=True, type=int)
def generate(customers: int, events: int, seed: int) -> None:
    """Write the generated event stream (CloudEvents JSONL) to stdout."""
    out = sys.stdout
    for line in generate_lines(customers=customers, events=events, seed=seed):
        out.write(line + "\n")


@main.command(name="explain")
@click.argument("decision_id")
@click.option(
    "--out", "out", type=click.Path(path_type=Path), required=True, help="Output directory of a run"
)
def explain_cmd(decision_id: str, out: Path) -> None:
    """Explain one decision in plain language."""
    rec = find_decision(out, decision_id)
    if rec is None:
        fail(f"no decision {decision_id!r} in {out}/decisions.jsonl")
        return
    click.echo(explain(rec))
