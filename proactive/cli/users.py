"""``proactive users``: the staff accounts of the web UI (add, list, password, disable, enable).

Accounts live in the engine's store (found as ``proactive review`` finds it:
``--store URL``, ``PROACTIVE_STORE_URL``, or ``DIR/state.sqlite`` with ``--out DIR``).
A password is asked for twice on the terminal, or read from the first line of
standard input with ``--password-stdin`` (for scripts; never on the command line,
where it would end up in the shell history and the process list).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from proactive.cli.main import fail, main
from proactive.cli.sources import require_store, source_options
from proactive.web.accounts import MIN_PASSWORD, ROLES, AccountError, Accounts


@main.group()
def users() -> None:
    """Staff accounts of the web UI (`proactive web`): reviewers, compliance, product, auditors."""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    value: str = click.prompt(
        f"Password (at least {MIN_PASSWORD} characters)",
        hide_input=True,
        confirmation_prompt=True,
    )
    return value


@users.command(name="add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the user may do")
@click.option(
    "--rule",
    "rules",
    multiple=True,
    metavar="RULE",
    help="product only: a rule this user may read (repeatable) [default: every rule]",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
@source_options
@click.pass_obj
def users_add(
    settings: Any,
    name: str,
    role: str,
    rules: tuple[str, ...],
    password_stdin: bool,
    out: Path | None,
    store_url: str | None,
) -> None:
    """Create an account NAME with a role (the password is asked for, never an argument).

    Roles: reviewer (approve and reject), compliance (a reviewer's rights plus
    exceptions, reports and the audit trail), product (read-only: decisions, queue and
    reports of its rules), auditor (read-only, plus audit-trail verification).
    """
    password = _password(password_stdin)
    store = require_store(settings, out, store_url)
    try:
        user = Accounts(store).add(name, role, password, rules=list(rules) if rules else None)
    except AccountError as exc:
        fail(str(exc))
        raise
    finally:
        store.close()
    scope = ""
    if user.role == "product":
        scope = f", rules: {', '.join(user.rules)}" if user.rules else ", every rule"
    click.echo(f"added {user.username} ({user.role}{scope})")


@users.command(name="list")
@source_options
@click.pass_obj
def users_list(settings: Any, out: Path | None, store_url: str | None) -> None:
    """Every account: name, role, rules, active."""
    store = require_store(settings, out, store_url)
    try:
        accounts = Accounts(store)
        found = accounts.users()
        for u in found:
            rules = "" if u.role != "product" else " rules=" + (",".join(u.rules or ()) or "*")
            state = "" if u.active else " (disabled)"
            click.echo(f"{u.username}\t{u.role}{rules}{state}")
        if not found:
            click.echo("no users yet: add one with `proactive users add NAME --role ROLE`")
    finally:
        store.close()


@users.command(name="passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
@source_options
@click.pass_obj
def users_passwd(
    settings: Any, name: str, password_stdin: bool, out: Path | None, store_url: str | None
) -> None:
    """Give NAME a new password; every open session of NAME ends."""
    password = _password(password_stdin)
    store = require_store(settings, out, store_url)
    try:
        Accounts(store).set_password(name, password)
    except AccountError as exc:
        fail(str(exc))
        raise
    finally:
        store.close()
    click.echo(f"new password for {name}; their sessions were ended")


def _set_active(settings: Any, name: str, active: bool, out: Path | None, url: str | None) -> None:
    store = require_store(settings, out, url)
    try:
        Accounts(store).set_active(name, active)
    except AccountError as exc:
        fail(str(exc))
        raise
    finally:
        store.close()


@users.command(name="disable")
@click.argument("name")
@source_options
@click.pass_obj
def users_disable(settings: Any, name: str, out: Path | None, store_url: str | None) -> None:
    """Disable NAME: no sign-in, and every open session ends at once."""
    _set_active(settings, name, False, out, store_url)
    click.echo(f"disabled {name}")


@users.command(name="enable")
@click.argument("name")
@source_options
@click.pass_obj
def users_enable(settings: Any, name: str, out: Path | None, store_url: str | None) -> None:
    """Enable NAME again."""
    _set_active(settings, name, True, out, store_url)
    click.echo(f"enabled {name}")
