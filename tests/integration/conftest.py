"""Fixtures for tests against a real Kafka broker (started by ``tests/broker/broker.py``).

``kafka_broker`` starts one broker per test session on free ports (about 4 s once the jars
are cached; the first run also downloads ~45 MB from Maven Central). ``kafka_topics`` creates
uniquely named topics per test, so tests never see each other's records on the shared broker.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Protocol

import pytest

# kafka-python 3.0.12 loads its protocol schemas with importlib.resources.read_text, which is
# deprecated since Python 3.11; with pyproject's `filterwarnings = ["error"]` a plain
# `import kafka` under pytest raises. Silence exactly that warning for the import here and, via
# pytest_configure below, for schemas kafka-python loads lazily later (e.g. optional assignors).
# read_text warns, and so does the open_text it calls (attributed to importlib itself, hence
# no module restriction on the filter).
KAFKA_PYTHON_READ_TEXT = "(read|open)_text is deprecated"
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", KAFKA_PYTHON_READ_TEXT, DeprecationWarning)
    from kafka import KafkaAdminClient

BROKER_PY = Path(__file__).resolve().parents[1] / "broker" / "broker.py"
#: Generous: a cold JVM on a busy 2-core machine, plus the one-off jar download.
START_TIMEOUT_S = 90.0
ADMIN_TIMEOUT_MS = 15_000


def _load_broker_module() -> ModuleType:
    """Import tests/broker/broker.py under a name that cannot clash with kafka-python.

    The folder is deliberately not an importable package (a top-level ``kafka`` package would
    shadow kafka-python; see the module docstring), so it is loaded from its path. Registering
    it in sys.modules first keeps a single copy (and a single atexit clean-up) per process.
    """
    name = "proactive_dev_kafka_broker"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BROKER_PY)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {BROKER_PY}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


broker_module = _load_broker_module()


def pytest_configure(config: pytest.Config) -> None:
    """Add the kafka-python deprecation to the ini warning filters (see the import above)."""
    config.addinivalue_line(
        "filterwarnings",
        f"ignore:{KAFKA_PYTHON_READ_TEXT}:DeprecationWarning",
    )


class KafkaBroker(Protocol):
    """What tests may use of ``broker.Broker`` (typed here because it is loaded by path)."""

    @property
    def bootstrap(self) -> str: ...

    @property
    def running(self) -> bool: ...

    @property
    def log_path(self) -> Path | None: ...

    def restart(self, timeout: float | None = None) -> None: ...

    def kill(self) -> None: ...

    def stop(self, timeout: float = 30) -> None: ...


class TopicFactory(Protocol):
    """``kafka_topics("customer-events", "decisions", partitions=3)`` -> unique topic names."""

    def __call__(
        self, *bases: str, partitions: int = 1, configs: Mapping[str, str] | None = None
    ) -> list[str]: ...


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A running single-node broker for the whole session; stopped at the end.

    Tests that ``kill()`` or ``stop()`` it must bring it back (``restart()``); ``kafka_topics``
    also restarts a dead broker so that one failed fault test does not fail all later ones.
    The data dir is under pytest's basetemp, so ``broker.log`` survives for post-mortems.
    """
    broker = broker_module.Broker()
    error: str | None = None
    try:
        broker.start(data_dir=tmp_path_factory.mktemp("kafka-broker"), timeout=START_TIMEOUT_S)
    except (RuntimeError, OSError) as exc:
        broker.stop()
        error = str(exc)
    if error is not None:
        # Never skip: a skipped integration suite looks green while testing nothing. In CI
        # (CI=true) this is an infrastructure failure; locally, also say what is needed.
        hint = (
            ""
            if os.environ.get("CI") == "true"
            else "\nNeeds java 17+ and mvn on PATH, and Maven Central reachable once "
            "(jars are cached under ~/.cache/proactive or $PROACTIVE_KAFKA_CACHE)."
        )
        pytest.fail(f"Kafka broker could not start: {error}{hint}", pytrace=False)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def kafka_topics(kafka_broker: KafkaBroker) -> Iterator[TopicFactory]:
    """Factory creating uniquely named topics (``<base>-<uuid8>``), deleted after the test."""
    if not kafka_broker.running:
        kafka_broker.restart()
    created: list[str] = []

    def create(
        *bases: str, partitions: int = 1, configs: Mapping[str, str] | None = None
    ) -> list[str]:
        if not bases:
            raise ValueError("give at least one topic base name")
        names = [f"{base}-{uuid.uuid4().hex[:8]}" for base in bases]
        spec = {
            name: {"num_partitions": partitions, "replication_factor": 1, "configs": configs or {}}
            for name in names
        }
        # A fresh admin client per call: a test may have restarted the broker in between.
        with KafkaAdminClient(
            bootstrap_servers=kafka_broker.bootstrap, request_timeout_ms=ADMIN_TIMEOUT_MS
        ) as admin:
            # wait_for_metadata: without it the first produce can race the leader election.
            admin.create_topics(spec, timeout_ms=ADMIN_TIMEOUT_MS, wait_for_metadata=True)
        created.extend(names)
        return names

    yield create

    if created and kafka_broker.running:
        # Best effort: keeps a long session's broker small. Failing here would hide the
        # test's own result, and pytest turns warnings into errors, so errors are dropped.
        with (
            contextlib.suppress(Exception),
            KafkaAdminClient(
                bootstrap_servers=kafka_broker.bootstrap, request_timeout_ms=ADMIN_TIMEOUT_MS
            ) as admin,
        ):
            admin.delete_topics(created, timeout_ms=ADMIN_TIMEOUT_MS)


# -- PostgreSQL ------------------------------------------------------------------------------


def _pg_bin() -> Path:
    """The newest installed PostgreSQL server binaries (Debian package ``postgresql``)."""
    roots = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if not roots or not (roots[-1] / "initdb").exists():
        pytest.fail(
            "PostgreSQL server binaries not found under /usr/lib/postgresql "
            "(install the Debian package 'postgresql'; .ci/run does)",
            pytrace=False,
        )
    return roots[-1]


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb and the server refuse to run as root; CI runs as root
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on a free port; yields a SQLAlchemy URL base.

    Append a database name made with ``postgres_db``. The cluster is stopped and its
    directory removed at the end of the session.
    """
    import shutil
    import subprocess
    import tempfile

    bindir = _pg_bin()
    # not under pytest's basetemp: that is private to root, and the server runs as postgres
    base = Path(tempfile.mkdtemp(prefix="proactive-pg-"))
    base.chmod(0o755)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    port = broker_module.free_ports(1)[0]
    run = subprocess.run
    res = run(
        _as_postgres(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ]
        ),
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.fail(f"initdb failed: {res.stderr[-2000:]}", pytrace=False)
    options = (
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
    )
    res = run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(base / "pg.log"),
                "-o",
                options,
                "-w",
                "start",
            ]
        ),
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        log = (base / "pg.log").read_text() if (base / "pg.log").exists() else ""
        pytest.fail(f"PostgreSQL did not start: {res.stderr}{log[-2000:]}", pytrace=False)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    finally:
        run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_db(postgres_url: str) -> Callable[[str], str]:
    """Factory: ``postgres_db("run_a")`` creates a fresh database and returns its URL."""
    import psycopg

    def create(name: str) -> str:
        db = f"{name}_{uuid.uuid4().hex[:8]}"
        dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        return f"{postgres_url}/{db}"

    return create
