"""``proactive web``: the compliance UI (FastAPI, served by uvicorn) over the engine's store.

The store is found as ``proactive review`` finds it. Approved notifications go where
the engine's go: to Kafka with ``--bootstrap-servers``, else to
``DIR/notifications.jsonl`` with ``--out DIR``; with neither, approving is off
(rejecting works). The rules and policy of the approval re-checks are reloaded when
their files change, as the running engine does.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Any

import click

from proactive.cli.main import fail, main
from proactive.cli.sources import require_store, source_options
from proactive.errors import ConfigError, DataFileError

log = logging.getLogger(__name__)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@main.command(name="web")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@source_options
@click.option(
    "--bootstrap-servers",
    default=None,
    envvar="PROACTIVE_BOOTSTRAP_SERVERS",
    help="Produce approved notifications to Kafka: HOST:PORT[,HOST:PORT]",
)
@click.option("--notifications-topic", default="proactive-notifications", show_default=True)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    help="Proxies trusted for X-Forwarded-For/-Proto (uvicorn's option) [default: 127.0.0.1]",
)
@click.pass_obj
def web(
    settings: Any,
    host: str,
    port: int,
    out: Path | None,
    store_url: str | None,
    bootstrap_servers: str | None,
    notifications_topic: str,
    forwarded_allow_ips: str | None,
) -> None:
    """Serve the compliance UI: review queue, decisions, reports, exceptions, audit trail.

    Sign in with an account made by `proactive users add`. Cookies are marked Secure
    (HTTPS only) unless this serves plain HTTP on a loopback address and
    PROACTIVE_WEB_COOKIE_SECURE is not set; behind a TLS proxy keep them Secure.
    """
    import uvicorn

    from proactive.reload import Reloader
    from proactive.sinks import JsonlSink, Sink
    from proactive.web import create_app, load_web_settings

    overrides: dict[str, Any] = {}
    if "PROACTIVE_WEB_COOKIE_SECURE" not in os.environ and _loopback(host):
        overrides["cookie_secure"] = False
    try:
        web_settings = load_web_settings(**overrides)
    except ConfigError as exc:
        fail(f"configuration error: {exc}")
        raise
    reloader = Reloader(settings.rules_dir, settings.policy, interval=settings.reload_interval)
    try:
        ruleset, check = reloader.load()
    except DataFileError as exc:
        fail(f"refused: the rule set or policy has {len(exc.problems)} problem(s):\n{exc}")
        raise
    store = require_store(settings, out, store_url)
    sink: Sink | None = None
    if bootstrap_servers is not None:
        from proactive.cli.review import KafkaNotificationSink

        sink = KafkaNotificationSink(bootstrap_servers, notifications_topic)
    elif out is not None:
        sink = JsonlSink(out / "notifications.jsonl")
    else:
        click.echo(
            "note: no --out DIR or --bootstrap-servers: approving is off, rejecting works",
            err=True,
        )
    app = create_app(
        store, ruleset=ruleset, check=check, sink=sink, settings=web_settings, reloader=reloader
    )
    click.echo(
        f"proactive web on http://{host}:{port}/ (rules {ruleset.revision}, policy "
        f"{check.revision}; cookies {'Secure' if web_settings.cookie_secure else 'not Secure'})",
        err=True,
    )
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            proxy_headers=True,
            forwarded_allow_ips=forwarded_allow_ips,
            server_header=False,
        )
    finally:
        app.state.web.desk.stop()  # the sink too, if the server never started
        store.close()
