"""Staff accounts of the web UI: users and roles, password hashes, sessions, sign-in limits.

Kept apart from the web framework so ``proactive users`` can manage accounts without
starting a server. Everything lives in the engine's store (tables ``users``,
``web_sessions`` and ``login_failures``, migration 0003), so several web processes
over one PostgreSQL store share accounts, sessions and the sign-in rate limit.

* **Passwords** are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106's
  low-memory profile); a hash made with older parameters is replaced at the next
  sign-in. A password has at least :data:`MIN_PASSWORD` characters.
* **Sessions** are server-side: the cookie holds a random token, the table only its
  SHA-256, so a copy of the table opens no session, and signing out (or disabling the
  account, or a new password) ends the session for good. A session ends after
  ``idle`` without a request and after ``absolute`` whatever happens.
* **Sign-in limits**: ``max_per_account`` failed sign-ins for one name within
  ``window`` lock that name, ``max_per_ip`` failures from one address lock that
  address, until the oldest of those failures is ``window`` old. A locked sign-in is
  refused even with the right password and is not counted again (so a lock ends).
  Names that have no account are counted too, and an unknown name costs the same
  hash verification as a known one: the answer never tells whether an account exists.

Example::

    accounts = Accounts(store)
    accounts.add("alice", "reviewer", "correct horse battery staple")
    user = accounts.authenticate("alice", "correct horse battery staple", ip="10.0.0.7", now=now)
    token, session = accounts.open_session(user, ip="10.0.0.7", now=now)
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Literal

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, insert, select, update

from proactive.errors import ProactiveError
from proactive.store import ContextStore, schema

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "AccountError",
    "Accounts",
    "LoginLimits",
    "LoginRefused",
    "Session",
    "SessionLimits",
    "User",
]

Role = Literal["reviewer", "compliance", "product", "auditor"]

ROLES: tuple[Role, ...] = ("reviewer", "compliance", "product", "auditor")
"""The roles, from the one that acts most to the one that only looks."""

PERMISSIONS: dict[str, frozenset[str]] = {
    # the queue and what a reviewer needs to judge an item
    "queue.read": frozenset({"reviewer", "compliance", "product", "auditor"}),
    "queue.act": frozenset({"reviewer", "compliance"}),
    # the joker: lifting an organisation limit when approving
    "queue.except": frozenset({"compliance"}),
    "decisions.read": frozenset({"reviewer", "compliance", "product", "auditor"}),
    # customers who asked for a person: the list, and marking one as called back
    "callbacks.read": frozenset({"reviewer", "compliance"}),
    "callbacks.act": frozenset({"reviewer", "compliance"}),
    "reports.read": frozenset({"compliance", "product", "auditor"}),
    "exceptions.read": frozenset({"compliance", "auditor"}),
    "audit.verify": frozenset({"compliance", "auditor"}),
}
"""Which roles hold each permission. A product user's reads are limited to their rules."""

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
"""Longer input is refused before hashing: hashing megabytes is a cheap denial of service."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
_HASHER = PasswordHasher()


class AccountError(ProactiveError):
    """An account cannot be created or changed: bad name, weak password, unknown role …"""


class LoginRefused(AccountError):
    """A sign-in was refused. ``reason``: ``invalid`` (name or password) or ``locked``.

    ``retry_after`` (locked only) is when a new attempt will be looked at. The message
    never says whether the account exists.
    """

    def __init__(self, reason: Literal["invalid", "locked"], retry_after: datetime | None = None):
        self.reason = reason
        self.retry_after = retry_after
        if reason == "locked":
            msg = "too many failed sign-ins; try again later"
        else:
            msg = "unknown name or wrong password"
        super().__init__(msg)


@dataclass(frozen=True)
class LoginLimits:
    """The sign-in rate limit (see the module docstring)."""

    max_per_account: int = 5
    max_per_ip: int = 20
    """Higher than per account: an office or a VPN puts many people behind one address."""
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class SessionLimits:
    """How long a session lasts: ``idle`` without a request, ``absolute`` at most."""

    idle: timedelta = timedelta(hours=1)
    absolute: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(minutes=1)
    """``last_seen`` is written at most this often (a write per request is wasteful)."""


@dataclass(frozen=True)
class User:
    """A staff account as the web UI sees it (never the password hash)."""

    username: str
    role: Role
    rules: tuple[str, ...] | None = None
    """A product user's rules; None: every rule. Other roles always see every rule."""
    active: bool = True

    def can(self, permission: str) -> bool:
        """Whether the role holds ``permission`` (see :data:`PERMISSIONS`)."""
        return self.active and self.role in PERMISSIONS[permission]

    @cached_property
    def rule_scope(self) -> frozenset[str] | None:
        """The rules this user may read; None for every rule."""
        if self.role != "product" or self.rules is None:
            return None
        return frozenset(self.rules)

    def sees_rule(self, rule_id: str) -> bool:
        """Whether this user may read decisions and reports of ``rule_id``."""
        scope = self.rule_scope
        return scope is None or rule_id in scope


@dataclass(frozen=True)
class Session:
    """A signed-in session: who, and the token every form must send back."""

    user: User
    csrf_token: str
    created_at: datetime
    last_seen: datetime
    token_hash: str = field(repr=False)


class Accounts:
    """Users, sessions and the sign-in limit over a :class:`~proactive.store.ContextStore`."""

    def __init__(
        self,
        store: ContextStore,
        *,
        login: LoginLimits | None = None,
        sessions: SessionLimits | None = None,
        hasher: PasswordHasher = _HASHER,
    ) -> None:
        self.store = store
        self.login = login or LoginLimits()
        self.sessions = sessions or SessionLimits()
        self._hasher = hasher
        self._dummy_hash: str | None = None

    # -- managing accounts -------------------------------------------------------------

    def add(
        self,
        username: str,
        role: str,
        password: str,
        *,
        rules: Iterable[str] | None = None,
        now: datetime | None = None,
    ) -> User:
        """Create an account. ``rules`` only for a product user (None: every rule)."""
        name = normalise_name(username)
        if role not in ROLES:
            raise AccountError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        scope = None if rules is None else tuple(sorted({r.strip() for r in rules if r.strip()}))
        if scope is not None and role != "product":
            raise AccountError("only a product user is limited to rules (--rule)")
        check_password(password, name)
        now = (now or datetime.now(UTC)).astimezone(UTC)
        t = schema.users
        with self.store.engine.begin() as conn:
            if conn.execute(select(t.c.username).where(t.c.username == name)).first():
                raise AccountError(f"user {name!r} exists already")
            conn.execute(
                insert(t).values(
                    username=name,
                    role=role,
                    password_hash=self._hasher.hash(password),
                    rules=None if scope is None else orjson.dumps(list(scope)).decode(),
                    active=True,
                    created_at=now,
                    password_changed_at=now,
                )
            )
        return User(name, role, scope)

    def get(self, username: str) -> User | None:
        """The account with this name, or None."""
        row = self._row(username)
        return _user(row) if row is not None else None

    def users(self) -> list[User]:
        """Every account, by name."""
        t = schema.users
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(t).order_by(t.c.username)).mappings().all()
        return [_user(r) for r in rows]

    def set_password(self, username: str, password: str, *, now: datetime | None = None) -> None:
        """Give an account a new password; every open session of it ends."""
        name = normalise_name(username)
        check_password(password, name)
        now = (now or datetime.now(UTC)).astimezone(UTC)
        self._update(name, password_hash=self._hasher.hash(password), password_changed_at=now)
        self.close_sessions(name)

    def set_active(self, username: str, active: bool) -> None:
        """Enable or disable an account; disabling ends every open session of it."""
        name = normalise_name(username)
        self._update(name, active=active)
        if not active:
            self.close_sessions(name)

    # -- signing in ----------------------------------------------------------------------

    def authenticate(self, username: str, password: str, *, ip: str, now: datetime) -> User:
        """The user, if the name and password are right and neither name nor address is locked.

        Raises :class:`LoginRefused` otherwise. Every attempt is counted *before* the
        password is verified and forgotten only when it succeeds: parallel requests
        cannot all pass the limit's check before any of them is counted.
        """
        now = now.astimezone(UTC)
        name = (username or "").strip().lower()[:64]
        ip = (ip or "unknown")[:64]
        locked_until = self.locked_until(name, ip, now)
        if locked_until is not None:
            raise LoginRefused("locked", locked_until)
        self._count_attempt(name, ip, now)
        # this attempt is one of those counted now: locked only when it is one too many
        locked_until = self.locked_until(name, ip, now, allowance=1)
        if locked_until is not None:
            raise LoginRefused("locked", locked_until)
        row = self._row(name) if _NAME.match(name) else None
        ok = False
        if 0 < len(password) <= MAX_PASSWORD:
            ok = self._verify(row["password_hash"] if row else None, password)
        if not ok or row is None or not row["active"]:
            raise LoginRefused("invalid")  # the attempt stays counted as a failure
        t = schema.login_failures
        with self.store.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.username == name))
        if self._hasher.check_needs_rehash(row["password_hash"]):
            self._update(name, password_hash=self._hasher.hash(password))
        return _user(row)

    def locked_until(
        self, username: str, ip: str, now: datetime, *, allowance: int = 0
    ) -> datetime | None:
        """When the sign-in of this name or from this address unlocks; None if not locked.

        ``allowance``: attempts counted beyond the limit that still do not lock (1 while
        the attempt being made is itself counted).
        """
        now = now.astimezone(UTC)
        since = now - self.login.window
        t = schema.login_failures
        until: list[datetime] = []
        with self.store.engine.connect() as conn:
            for col, value, limit in (
                (t.c.username, username, self.login.max_per_account),
                (t.c.ip, ip, self.login.max_per_ip),
            ):
                ats = [
                    _aware(r[0])
                    for r in conn.execute(
                        select(t.c.at)
                        .where(col == value, t.c.at > since)
                        .order_by(t.c.at.desc())
                        .limit(limit + allowance)
                    )
                ]
                if len(ats) >= limit + allowance:
                    until.append(min(ats) + self.login.window)
        return max(until) if until else None

    def _count_attempt(self, name: str, ip: str, now: datetime) -> None:
        t = schema.login_failures
        with self.store.engine.begin() as conn:
            conn.execute(insert(t).values(username=name, ip=ip, at=now))
            # what no longer counts is dropped as it ages out: the table stays small
            conn.execute(delete(t).where(t.c.at <= now - self.login.window))

    def _verify(self, stored: str | None, password: str) -> bool:
        if stored is None:
            # an unknown name costs a verification too: timing tells nothing
            if self._dummy_hash is None:
                self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
            stored, password = self._dummy_hash, password + "\x00"
        try:
            return self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # -- sessions ------------------------------------------------------------------------

    def open_session(self, user: User, *, ip: str, now: datetime) -> tuple[str, Session]:
        """A new session for a signed-in user: (the cookie's token, the session)."""
        now = now.astimezone(UTC)
        token = secrets.token_urlsafe(32)
        digest = _digest(token)
        csrf = secrets.token_urlsafe(32)
        t = schema.web_sessions
        with self.store.engine.begin() as conn:
            conn.execute(
                delete(t).where(
                    (t.c.last_seen <= now - self.sessions.idle)
                    | (t.c.created_at <= now - self.sessions.absolute)
                )
            )
            conn.execute(
                insert(t).values(
                    token_hash=digest,
                    username=user.username,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen=now,
                    ip=(ip or "unknown")[:64],
                )
            )
        return token, Session(user, csrf, now, now, digest)

    def session(self, token: str | None, now: datetime) -> Session | None:
        """The live session of a cookie's token, or None (unknown, expired, account disabled)."""
        if not token or len(token) > 128:
            return None
        now = now.astimezone(UTC)
        digest = _digest(token)
        s, u = schema.web_sessions, schema.users
        with self.store.engine.connect() as conn:
            row = (
                conn.execute(
                    select(s, u.c.role, u.c.rules, u.c.active)
                    .select_from(s.join(u, u.c.username == s.c.username))
                    .where(s.c.token_hash == digest)
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        created, seen = _aware(row["created_at"]), _aware(row["last_seen"])
        expired = now - seen >= self.sessions.idle or now - created >= self.sessions.absolute
        if expired or not row["active"]:
            self.close_session(token)
            return None
        if now - seen >= self.sessions.touch_every:
            with self.store.engine.begin() as conn:
                conn.execute(update(s).where(s.c.token_hash == digest).values(last_seen=now))
            seen = now
        return Session(_user(row), row["csrf_token"], created, seen, digest)

    def close_session(self, token: str) -> None:
        """Sign out: the session's row is deleted, the token opens nothing any more."""
        t = schema.web_sessions
        with self.store.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.token_hash == _digest(token)))

    def close_sessions(self, username: str) -> int:
        """End every session of one account; how many there were."""
        t = schema.web_sessions
        with self.store.engine.begin() as conn:
            return conn.execute(delete(t).where(t.c.username == normalise_name(username))).rowcount

    # -- internals -----------------------------------------------------------------------

    def _row(self, name: str) -> dict[str, Any] | None:
        t = schema.users
        with self.store.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.username == name)).mappings().first()
        return dict(row) if row else None

    def _update(self, name: str, **values: Any) -> None:
        t = schema.users
        with self.store.engine.begin() as conn:
            if not conn.execute(update(t).where(t.c.username == name).values(**values)).rowcount:
                raise AccountError(f"no user {name!r}")


def normalise_name(username: str) -> str:
    """A user name as stored: trimmed, lower case, ``[a-z0-9._@-]``, 2 to 64 characters."""
    name = (username or "").strip().lower()
    if not _NAME.match(name):
        raise AccountError(
            f"not a valid user name: {username!r} (letters, digits, '.', '_', '@', '-'; "
            "2 to 64 of them, starting with a letter or digit)"
        )
    return name


def check_password(password: str, username: str = "") -> None:
    """Refuse a password that is too short, too long, or the user name itself."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")
    if username and password.strip().lower() == username:
        raise AccountError("the password must not be the user name")


def _user(row: Any) -> User:
    rules = orjson.loads(row["rules"]) if row["rules"] else None
    return User(
        username=row["username"],
        role=row["role"],
        rules=tuple(rules) if rules is not None else None,
        active=bool(row["active"]),
    )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time in this store is UTC
    return value if value.tzinfo else value.replace(tzinfo=UTC)
