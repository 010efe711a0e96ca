"""docker-compose.yml cannot run here (no Docker engine); this checks it names only what exists."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click
import yaml

from proactive.cli import main

REPO = Path(__file__).resolve().parent.parent


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def _command(argv: list[str]) -> click.Command:
    """Resolve ``proactive a b --x`` to the click command, failing on an unknown word."""
    assert argv[0] == "proactive", argv
    cmd: click.Command = main
    for word in argv[1:]:
        if word.startswith("-"):
            break
        assert isinstance(cmd, click.Group) and word in cmd.commands, f"no command {word!r}"
        cmd = cmd.commands[word]
    return cmd


def test_services_kafka_topics_engine_prometheus_and_state_volumes() -> None:
    c = _compose()
    services = c["services"]
    assert {"kafka", "topics", "engine-1", "engine-2", "postgres", "prometheus"} <= set(services)
    assert (
        "KRaft" in (REPO / "docker-compose.yml").read_text()
        or services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    )
    assert set(c["volumes"]) == {"kafka-data", "postgres-data"}
    for name in ("kafka", "postgres"):
        for volume in services[name]["volumes"]:
            assert volume.split(":")[0] in c["volumes"]


def test_every_command_and_option_exists() -> None:
    services = _compose()["services"]
    for name in ("topics", "engine-1", "engine-2", "web"):
        argv = shlex.split(services[name]["command"])
        cmd = _command(argv)
        known = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
        for word in argv:
            if word.startswith("--"):
                assert word in known, f"{name}: {word} is not an option of {argv[:3]}"


def test_ports_and_prometheus_scrape_config() -> None:
    services = _compose()["services"]
    assert services["kafka"]["ports"] == ["9092:9092"]
    env = services["engine-1"]["environment"]
    port = env["PROACTIVE_METRICS_PORT"]
    config = services["prometheus"]["volumes"][0].split(":")[0]
    scrape = yaml.safe_load((REPO / config).read_text())
    targets = scrape["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"engine-1:{port}", f"engine-2:{port}"]
    for key in env:
        assert key.startswith("PROACTIVE_")
    # the settings the engines get are settings the engine knows
    from proactive.config import Settings

    fields = {f"PROACTIVE_{f.upper()}" for f in Settings.model_fields}
    assert {"PROACTIVE_STORE_URL", "PROACTIVE_METRICS_PORT", "PROACTIVE_METRICS_ADDR"} <= fields
