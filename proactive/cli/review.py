"""``proactive review``: the queue of actions the ethics check held for a human decision.

The store is found as the engine commands find it: ``--store URL``, else the
settings' store URL (``PROACTIVE_STORE_URL``), else ``DIR/state.sqlite`` of the run
given with ``--out DIR``. An approved notification goes where the engine's go: to
Kafka with ``--bootstrap-servers``, else to ``DIR/notifications.jsonl``.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console
from rich.table import Table

from proactive.cli.main import fail, main
from proactive.cli.sources import require_store, source_options
from proactive.errors import DataFileError
from proactive.review import (
    STATUSES,
    AlreadyDecided,
    DeliveryError,
    Outcome,
    ReviewError,
    ReviewItem,
    approve,
    expire_stale,
    find_item,
    history,
    list_items,
    reject,
)
from proactive.sinks import JsonlSink, Sink
from proactive.store import ContextStore

F = TypeVar("F", bound=Callable[..., Any])


def clock() -> datetime:
    """The moment of a review action (the wall clock; tests replace it)."""
    return datetime.now(UTC)


@main.group()
def review() -> None:
    """Compliance: list, show, approve, reject and expire actions held for review."""


def _find(store: ContextStore, decision_id: str) -> ReviewItem:
    try:
        return find_item(store, decision_id)
    except ReviewError as exc:
        fail(str(exc))
        raise


def _reviewer(name: str | None) -> str:
    if name and name.strip():
        return name.strip()
    try:
        return getpass.getuser()
    except Exception:  # no login name in this environment (a container, a service)
        fail("cannot tell who you are: give --reviewer NAME")
        raise


def _reason(text: str) -> str:
    if not text.strip():
        fail("a reason is required (--reason TEXT): say why, for the audit trail")
    return text.strip()


def _console() -> Console:
    console = Console()
    # pipes and CI logs: do not squeeze the table
    return console if console.is_terminal else Console(width=160)


@review.command(name="list")
@source_options
@click.option("--rule", "rule_id", default=None, help="Only items of this rule")
@click.option(
    "--status",
    type=click.Choice([*STATUSES, "all"]),
    default="pending",
    show_default=True,
)
@click.option(
    "--older-than",
    "older_than",
    type=click.FloatRange(min=0),
    default=None,
    help="Only items queued more than HOURS ago",
    metavar="HOURS",
)
@click.option("--json", "as_json", is_flag=True, help="Print the items as JSON")
@click.pass_obj
def review_list(
    settings: Any,
    out: Path | None,
    store_url: str | None,
    rule_id: str | None,
    status: str,
    older_than: float | None,
    as_json: bool,
) -> None:
    """The review queue, oldest first (items past their expiry are expired first)."""
    store = require_store(settings, out, store_url)
    try:
        now = clock()
        expire_stale(store, now)
        items = list_items(
            store,
            status=None if status == "all" else status,
            rule_id=rule_id,
            older_than=None if older_than is None else timedelta(hours=older_than),
            now=now,
        )
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in items], indent=2, ensure_ascii=False))
        return
    if not items:
        click.echo(f"no {'' if status == 'all' else status + ' '}review items")
        return
    table = Table(title=f"Review queue ({status})", title_justify="left")
    for col in ("decision", "customer", "rule", "queued", "expires", "status", "last action"):
        table.add_column(col)
    for i in items:
        last = f"{i.action} by {i.reviewer}" if i.action else ""
        table.add_row(
            i.decision_id,
            i.customer_id,
            i.rule_id,
            f"{i.created_at:%Y-%m-%d %H:%M}",
            f"{i.expires_at:%Y-%m-%d %H:%M}",
            i.status,
            last,
        )
    _console().print(table)


@review.command(name="show")
@click.argument("decision_id")
@source_options
@click.pass_obj
def review_show(settings: Any, decision_id: str, out: Path | None, store_url: str | None) -> None:
    """One item: why it is held, the decision in full (message, scores, value), its history."""
    from proactive.explain import explain

    store = require_store(settings, out, store_url)
    try:
        item = _find(store, decision_id)
        record = store.decision_record(item.decision_id)
        past = history(store, item.decision_id)
    finally:
        store.close()
    lines = [
        f"Review item {item.decision_id}",
        f"  Status: {item.status.upper()}",
        f"  Customer {item.customer_id}, rule {item.rule_id}, chain {item.chain}",
        f"  Queued {item.created_at.isoformat()}, expires {item.expires_at.isoformat()}",
        "Held for review because:",
        *(f"  - {r}" for r in item.reasons),
        "",
    ]
    if record is not None:
        lines.append(explain(record))
    else:
        lines.append("(the decision record is not in this store)")
    lines += ["", "Review history:" if past else "Review history: none yet"]
    for rec in past:
        lines.append(
            f"  {rec['decided_at']}  {rec['action'].upper()} by {rec['reviewer']}: {rec['reason']}"
        )
        recheck = rec.get("recheck") or {}
        if recheck.get("verdict"):
            lines.append(f"      re-check: {recheck['verdict'].upper()}")
        lines.extend(f"      - {r}" for r in rec.get("reasons") or [])
        if rec.get("notification_id"):
            lines.append(
                f"      notification {rec['notification_id']} by {rec.get('channel')}, "
                f"delivered at {rec['deliver_at']}"
            )
    click.echo("\n".join(lines))


@review.command(name="approve")
@click.argument("decision_id")
@click.option("--reason", required=True, help="Why the action may go (recorded)")
@click.option("--reviewer", default=None, help="Who decides [default: your login name]")
@source_options
@click.option(
    "--bootstrap-servers",
    default=None,
    envvar="PROACTIVE_BOOTSTRAP_SERVERS",
    help="Produce the notification to Kafka: HOST:PORT[,HOST:PORT]",
)
@click.option("--notifications-topic", default="proactive-notifications", show_default=True)
@click.option(
    "--except",
    "except_limits",
    multiple=True,
    metavar="LIMIT",
    help="Ask for an exception (joker) to this organisation limit; repeatable",
)
@click.option(
    "--justification",
    default=None,
    help="Why the exception is right (at least 20 characters; recorded and reported)",
)
@click.pass_obj
def review_approve(
    settings: Any,
    decision_id: str,
    reason: str,
    reviewer: str | None,
    out: Path | None,
    store_url: str | None,
    bootstrap_servers: str | None,
    notifications_topic: str,
    except_limits: tuple[str, ...],
    justification: str | None,
) -> None:
    """Approve an item: it is checked again now and sent only if it still may go.

    With ``--except LIMIT --justification TEXT`` the reviewer lifts an organisation
    limit that now stands in the way (a cap, quiet hours); law limits cannot be
    excepted and keep blocking.

    Exit 0 when sent; 1 when it is not sent: the re-check refuses it or it has expired
    (recorded either way), or it was decided before (nothing recorded); 2 on a usage
    error or an unknown item.
    """
    from proactive.ethics.check import EthicsCheck
    from proactive.ethics.policy import load_policy
    from proactive.rules import load_ruleset

    reason = _reason(reason)
    who = _reviewer(reviewer)
    if except_limits and not (justification or "").strip():
        fail("an exception needs --justification: say why, for the audit trail")
    if justification and not except_limits:
        fail("--justification goes with --except LIMIT")
    if bootstrap_servers is None and out is None:
        fail("an approved notification needs somewhere to go: --out DIR or --bootstrap-servers")
    try:
        ruleset = load_ruleset(settings.rules_dir)
        check = EthicsCheck(load_policy(settings.policy))
    except DataFileError as exc:
        fail(f"refused: the rule set or policy has {len(exc.problems)} problem(s):\n{exc}")
        raise
    store = require_store(settings, out, store_url)
    sink: Sink | None = None
    try:
        item = _find(store, decision_id)
        # connect before deciding: a broker that cannot be reached stops nothing half-way
        if bootstrap_servers is not None:
            sink = KafkaNotificationSink(bootstrap_servers, notifications_topic)
        else:
            assert out is not None
            sink = JsonlSink(out / "notifications.jsonl")
        outcome = approve(
            store,
            item.decision_id,
            ruleset=ruleset,
            check=check,
            reviewer=who,
            reason=reason,
            now=clock(),
            sink=sink,
            exception=(list(except_limits), justification or "") if except_limits else None,
        )
    except (DeliveryError, AlreadyDecided) as exc:
        fail(str(exc), 1)
        raise
    except ReviewError as exc:
        fail(str(exc))
        raise
    finally:
        if sink is not None:
            sink.close()
        store.close()
    _report(outcome)


@review.command(name="reject")
@click.argument("decision_id")
@click.option("--reason", required=True, help="Why the action must not go (recorded)")
@click.option("--reviewer", default=None, help="Who decides [default: your login name]")
@source_options
@click.pass_obj
def review_reject(
    settings: Any,
    decision_id: str,
    reason: str,
    reviewer: str | None,
    out: Path | None,
    store_url: str | None,
) -> None:
    """Reject an item: nothing is sent; the rejection is recorded.

    Exit 0 when rejected; 1 when it was decided before; 2 on a usage error or an
    unknown item.
    """
    reason = _reason(reason)
    who = _reviewer(reviewer)
    store = require_store(settings, out, store_url)
    try:
        item = _find(store, decision_id)
        outcome = reject(store, item.decision_id, reviewer=who, reason=reason, now=clock())
    except AlreadyDecided as exc:
        fail(str(exc), 1)
        raise
    except ReviewError as exc:
        fail(str(exc))
        raise
    finally:
        store.close()
    _report(outcome)


@review.command(name="expire")
@source_options
@click.pass_obj
def review_expire(settings: Any, out: Path | None, store_url: str | None) -> None:
    """Expire every pending item past its expiry (it will never be sent)."""
    store = require_store(settings, out, store_url)
    try:
        outcomes = expire_stale(store, clock())
    finally:
        store.close()
    for o in outcomes:
        click.echo(f"expired {o.item.decision_id} ({o.item.rule_id}, {o.item.customer_id})")
    click.echo(f"{len(outcomes)} item(s) expired")


def _report(outcome: Outcome) -> None:
    item, note = outcome.item, outcome.notification
    if outcome.action == "approved" and note is not None:
        click.echo(
            f"approved {item.decision_id}: notification {note['id']} to {item.customer_id} "
            f"by {note['data']['channel']}, delivered at {note['data']['deliver_at']}"
        )
        if outcome.notice is not None:
            click.echo(
                f"  with plain notice {outcome.notice['id']} by "
                f"{outcome.notice['data']['channel']} (the message is in the secure inbox)"
            )
        for r in outcome.reasons:
            click.echo(f"  - {r}")
        return
    if outcome.action == "rejected":
        click.echo(f"rejected {item.decision_id}: nothing is sent")
        return
    what = "expired" if outcome.action == "expired" else "refused"
    click.echo(f"{what}: {item.decision_id} is not sent, because:", err=True)
    for r in outcome.reasons:
        click.echo(f"  - {r}", err=True)
    raise SystemExit(1)


class KafkaNotificationSink:
    """Produces notifications to the notifications topic, keyed by customer (as the engine)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        from kafka import KafkaProducer  # kafka-python only when producing to Kafka

        self.topic = topic
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            client_id="proactive-review",
            acks="all",
            enable_idempotence=True,
        )

    def write(self, records: list[dict[str, Any]]) -> None:
        """Produce and wait until the broker has them all."""
        futures = [
            self._producer.send(
                self.topic,
                key=r["subject"].encode(),
                value=orjson.dumps(r),
                headers=[("content-type", b"application/cloudevents+json")],
            )
            for r in records
        ]
        for f in futures:
            f.get(timeout=30)

    def close(self) -> None:
        """Flush and disconnect."""
        self._producer.close(timeout=5)
