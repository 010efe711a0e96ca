"""Settings of the web UI, from ``PROACTIVE_WEB_*`` environment variables.

Validated at start; an invalid value is reported with the key that holds it.

Example::

    settings = load_web_settings(cookie_secure=False)   # plain HTTP on a laptop
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from proactive.errors import ConfigError
from proactive.web.accounts import LoginLimits, SessionLimits


class WebSettings(BaseSettings):
    """The web UI's settings (env prefix ``PROACTIVE_WEB_``)."""

    model_config = SettingsConfigDict(env_prefix="PROACTIVE_WEB_", frozen=True, extra="ignore")

    cookie_secure: bool = True
    """Send cookies over HTTPS only. ``proactive web`` turns it off when it serves plain
    HTTP on a loopback address and the variable is not set (see docs/web.md)."""
    secret_key: SecretStr | None = None
    """Signs the sign-in form's CSRF token. Unset: a random key per process (set one
    when several processes serve the same UI behind a load balancer)."""
    session_idle_minutes: int = Field(default=60, ge=1, le=24 * 60)
    session_max_hours: float = Field(default=12, gt=0, le=7 * 24)
    login_max_failures: int = Field(default=5, ge=1, le=100)
    """Failed sign-ins of one name within the lock window that lock the name."""
    login_max_failures_ip: int = Field(default=20, ge=1, le=10_000)
    """Failed sign-ins from one address within the lock window that lock the address."""
    login_lock_minutes: int = Field(default=15, ge=1, le=24 * 60)
    page_size: int = Field(default=50, ge=5, le=1000)
    """Rows per page of the queue and the decision explorer."""

    def login_limits(self) -> LoginLimits:
        """The sign-in rate limit these settings describe."""
        return LoginLimits(
            max_per_account=self.login_max_failures,
            max_per_ip=self.login_max_failures_ip,
            window=timedelta(minutes=self.login_lock_minutes),
        )

    def session_limits(self) -> SessionLimits:
        """How long sessions last under these settings."""
        return SessionLimits(
            idle=timedelta(minutes=self.session_idle_minutes),
            absolute=timedelta(hours=self.session_max_hours),
        )


def load_web_settings(**overrides: object) -> WebSettings:
    """Web settings from the environment, with explicit overrides (None means 'not given')."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return WebSettings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            key = "PROACTIVE_WEB_" + "_".join(str(p) for p in err["loc"]).upper()
            msgs.append(f"{key}: {err['msg']}")
        raise ConfigError("; ".join(msgs)) from None
