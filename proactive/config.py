"""Settings, from ``PROACTIVE_*`` environment variables and command-line options.

Validated at start; an invalid value is reported with the key that holds it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from proactive.errors import ConfigError


class Settings(BaseSettings):
    """Engine settings (env prefix ``PROACTIVE_``)."""

    model_config = SettingsConfigDict(env_prefix="PROACTIVE_", frozen=True, extra="ignore")

    rules_dir: Path = Path("rules")
    policy: Path = Path("ethics/policy.yaml")
    store_url: str | None = None
    batch_size: int = Field(default=2000, ge=1, le=100_000)
    cache_size: int = Field(default=20_000, ge=100)
    log_level: str = Field(
        default="WARNING", pattern="^(DEBUG|INFO|WARNING|ERROR|debug|info|warning|error)$"
    )
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_addr: str = "127.0.0.1"
    watch: bool | None = None
    """Hot reload of rules and policy; None: on for Kafka and stdin, off for a file."""
    reload_interval: float = Field(default=2.0, gt=0, le=3600)
    """Seconds between two looks at the rule and policy files (hot reload)."""


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (None means 'not given')."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            key = "PROACTIVE_" + "_".join(str(p) for p in err["loc"]).upper()
            msgs.append(f"{key}: {err['msg']}")
        raise ConfigError("; ".join(msgs)) from None
