"""A single-node Apache Kafka broker for development and tests, without Docker.

The broker jars come from Maven Central (``tests/broker/pom.xml`` resolved by ``mvn``) into a
per-version cache; the broker runs in KRaft combined mode (one JVM is both broker and
controller) on 127.0.0.1, with replication factors of 1 so transactions and consumer groups
work on a single node.

Library use (the pytest fixtures in ``tests/integration/conftest.py`` do this)::

    with Broker() as broker:            # free ports, temporary data dir
        print(broker.bootstrap)         # "127.0.0.1:<port>"
        broker.restart()                # same ports and data, for broker-restart tests
        broker.kill()                   # SIGKILL, for fault tests

Command line (from the repository root)::

    python tests/broker/broker.py up [--port 9092] [--data-dir .kafka]   # background, prints bootstrap
    python tests/broker/broker.py down [--data-dir .kafka]

Why the folder is ``tests/broker/`` and not a package named ``kafka``: such a package on
``sys.path`` would shadow the ``kafka-python`` client that the application imports as
``kafka``. This folder has no ``__init__.py`` and is loaded by file path.

Standard library only, so it runs before (and without) the project's virtualenv.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import weakref
from pathlib import Path
from types import TracebackType

#: The one pin of the broker version; passed to Maven as ``-Dkafka.version`` (the value in
#: pom.xml is only the default for running mvn by hand) and part of the cache path.
KAFKA_VERSION = "4.1.2"
#: log4j2 backend for the broker's slf4j 1.7 logging (Kafka 4.1 still uses slf4j-api 1.7.36,
#: hence log4j-slf4j-impl, not log4j-slf4j2-impl).
LOG4J_VERSION = "2.24.3"

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
POM = HERE / "pom.xml"
LOG4J_CONFIG = HERE / "log4j2.properties"

#: Heap bounds from the recipe: enough for tests, small enough to share a 2-core dev machine.
JVM_OPTIONS = ("-Xms256m", "-Xmx768m")
#: KafkaRaftServer logs this once the broker and controller have finished starting up.
READY_MARKER = "Kafka Server started"
#: Written into the libs dir after a complete download; its content identifies what was resolved.
MARKER_NAME = ".complete"
PID_FILE = "broker.pid"
LOG_FILE = "broker.log"
TAIL_LINES = 40
HOST = "127.0.0.1"


def default_cache_root() -> Path:
    """Base cache directory: ``$PROACTIVE_KAFKA_CACHE`` or ``~/.cache/proactive``."""
    env = os.environ.get("PROACTIVE_KAFKA_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "proactive"


def _resolution_id() -> str:
    """What a cache marker must match: the versions and the exact POM that produced the jars.

    Editing the POM (e.g. adding a dependency) therefore invalidates the cache by itself.
    """
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    return f"kafka={KAFKA_VERSION} log4j={LOG4J_VERSION} pom={digest}\n"


def ensure_jars(cache_dir: Path | None = None) -> Path:
    """Return a directory holding the broker's runtime jars, downloading them if needed.

    The jars go to ``<cache_dir>/kafka-<version>/libs`` (``cache_dir`` defaults to
    :func:`default_cache_root`). The download is skipped when the marker file written after a
    successful ``mvn dependency:copy-dependencies`` is present and matches the current POM.
    A file lock serialises concurrent callers (parallel test sessions, ``up`` while testing).
    """
    base = (cache_dir or default_cache_root()) / f"kafka-{KAFKA_VERSION}"
    libs = base / "libs"
    marker = libs / MARKER_NAME
    expected = _resolution_id()
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and marker.read_text() == expected:
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError("Maven (mvn) is not on PATH; it is needed once to fetch the broker")
        # Start from an empty dir so jars of an older resolution cannot linger on the classpath.
        shutil.rmtree(libs, ignore_errors=True)
        cmd = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={libs}",
            f"-Dkafka.version={KAFKA_VERSION}",
            f"-Dlog4j.version={LOG4J_VERSION}",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not any(libs.glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
            raise RuntimeError(
                f"resolving Kafka {KAFKA_VERSION} jars failed (exit {done.returncode}):\n"
                f"{' '.join(cmd)}\n{done.stdout[-4000:]}{done.stderr[-4000:]}"
            )
        marker.write_text(expected)
        return libs


def free_ports(count: int) -> list[int]:
    """Ports the OS reports free on 127.0.0.1 (all sockets held open together, so distinct)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in socks]


def port_open(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def new_cluster_id() -> str:
    """A cluster id in Kafka's format (URL-safe base64 of 16 random bytes, no padding).

    Kafka's own generator also re-draws ids starting with "-" because the CLI would read them
    as options; this does the same. Saves a JVM start of ``StorageTool random-uuid``.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def server_properties(port: int, controller_port: int, log_dir: Path) -> str:
    """KRaft combined-mode configuration for one node on 127.0.0.1."""
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        # Kafka 4.x dynamic quorum (KIP-853): bootstrap servers + `format --standalone`
        # instead of the static controller.quorum.voters list.
        "controller.quorum.bootstrap.servers": f"{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        # The controller endpoint is advertised too: the dynamic quorum stores it as the voter.
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(log_dir),
        # Internal topics default to replication factor 3, which one node cannot satisfy:
        # consumer groups, transactions (and share groups, if ever used) would never work.
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Tests join groups constantly; the default 3 s delay would slow every one of them.
        "group.initial.rebalance.delay.ms": "0",
        # The cleaner's default 128 MiB dedupe buffer is wasted heap on a test broker.
        "log.cleaner.dedupe.buffer.size": "2097152",
        "num.partitions": "1",
        # Topics must be created explicitly, as in production; typos fail instead of appearing.
        "auto.create.topics.enable": "false",
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def _tail(path: Path, lines: int = TAIL_LINES, start: int = 0) -> str:
    """The last ``lines`` lines of ``path`` from byte offset ``start`` (empty if missing)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def _read_cluster_id(log_dir: Path) -> str | None:
    """The cluster id of already formatted storage, or None when it is not formatted."""
    meta = log_dir / "meta.properties"
    if not meta.is_file():
        return None
    for line in meta.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "cluster.id":
            return value.strip()
    return None


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("java is not on PATH; Kafka 4.1 needs Java 17 or newer")
    return java


# Brokers started by this process and not yet stopped: stopped at interpreter exit so that a
# test session ending abnormally (but not SIGKILLed) does not leave JVMs behind.
_LIVE: weakref.WeakSet[Broker] = weakref.WeakSet()


@atexit.register
def _stop_live_brokers() -> None:
    for broker in list(_LIVE):
        with contextlib.suppress(Exception):
            broker.stop()


class Broker:
    """One Kafka broker process (KRaft combined mode) with its data directory.

    ``die_with_parent`` (default True) makes the JVM receive SIGTERM when the process that
    started it dies, even by SIGKILL (via ``setpriv --pdeathsig``), so a killed test run does
    not leave a broker holding ports and CPU. Linux ties this to the *thread* that started the
    JVM: call :meth:`start` / :meth:`restart` from a long-lived thread (normally the main one),
    or pass ``die_with_parent=False``. ``detach=True`` (used by the ``up`` command) runs the
    JVM in its own session so it outlives the starting process.
    """

    def __init__(
        self,
        *,
        cache_dir: Path | None = None,
        die_with_parent: bool = True,
        detach: bool = False,
    ) -> None:
        self._cache_dir = cache_dir
        self._die_with_parent = die_with_parent and not detach
        self._detach = detach
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._controller_port: int | None = None
        self._data_dir: Path | None = None
        self._owns_data_dir = False
        self._timeout = 90.0

    # -- properties -----------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """``"127.0.0.1:PORT"`` for ``bootstrap_servers``."""
        if self._port is None:
            raise RuntimeError("broker was never started")
        return f"{HOST}:{self._port}"

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def controller_port(self) -> int | None:
        return self._controller_port

    @property
    def data_dir(self) -> Path | None:
        return self._data_dir

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path | None:
        """The broker's log (stdout and stderr of the JVM); appended to across restarts."""
        return self._data_dir / LOG_FILE if self._data_dir is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ------------------------------------------------------------------------

    def start(
        self,
        port: int | None = None,
        controller_port: int | None = None,
        data_dir: Path | None = None,
        timeout: float = 90,
    ) -> None:
        """Format storage if needed, start the JVM and wait until it serves clients.

        Free ports are chosen when ``port`` / ``controller_port`` are None; a temporary data
        directory (removed by :meth:`close`) when ``data_dir`` is None. Raises RuntimeError,
        with the last lines of the broker log, if the JVM exits or is not ready in ``timeout``
        seconds; the JVM is killed in that case.
        """
        if self.running:
            raise RuntimeError(f"broker already running at {self.bootstrap}")
        libs = ensure_jars(self._cache_dir)
        java = _java()
        if port is None or controller_port is None:
            picked = iter(free_ports(2))
            port = port if port is not None else next(picked)
            controller_port = controller_port if controller_port is not None else next(picked)
        for p in (port, controller_port):
            # Fail fast with a clear message instead of a BindException deep in the log.
            if port_open(p):
                raise RuntimeError(f"port {p} on {HOST} is already in use (another broker?)")
        if data_dir is None:
            data_dir = Path(tempfile.mkdtemp(prefix="proactive-kafka-"))
            self._owns_data_dir = True
        data_dir = data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        self._port, self._controller_port, self._data_dir = port, controller_port, data_dir
        self._timeout = timeout

        log_dir = data_dir / "kraft-logs"
        props = data_dir / "server.properties"
        props.write_text(server_properties(port, controller_port, log_dir))
        classpath = f"{libs}/*"
        log4j = f"-Dlog4j2.configurationFile={LOG4J_CONFIG}"
        self._format(java, classpath, log4j, props, log_dir, data_dir)

        log_path = data_dir / LOG_FILE
        cmd = [java, *JVM_OPTIONS, log4j, "-cp", classpath, "kafka.Kafka", str(props)]
        setpriv = shutil.which("setpriv") if self._die_with_parent else None
        if setpriv is not None:
            # setpriv execs java in the same process, so the pid and signals stay the JVM's.
            cmd = [setpriv, "--pdeathsig", "TERM", *cmd]
        with open(log_path, "ab") as log:
            log_start = log.tell()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=data_dir,
                start_new_session=self._detach,
            )
        _LIVE.add(self)
        try:
            self._wait_ready(log_path, log_start, timeout)
        except BaseException:
            self.kill()
            raise

    def _format(
        self, java: str, classpath: str, log4j: str, props: Path, log_dir: Path, data_dir: Path
    ) -> None:
        """``kafka-storage format --standalone`` unless the log dir is already formatted.

        Skipping formatted storage saves a JVM start on every restart; the cluster id must
        then stay the one on disk (``--ignore-formatted`` with a different id is an error).
        """
        if _read_cluster_id(log_dir) is not None:
            return
        cmd = [
            java,
            log4j,
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "-c",
            str(props),
            "-t",
            new_cluster_id(),
            "--standalone",
            "--ignore-formatted",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=data_dir)
        (data_dir / "format.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-TAIL_LINES:])
            raise RuntimeError(f"formatting Kafka storage failed (exit {done.returncode}):\n{tail}")

    def _wait_ready(self, log_path: Path, log_start: int, timeout: float) -> None:
        """Until the log says READY_MARKER (this run only) and the client port accepts."""
        assert self._proc is not None and self._port is not None
        deadline = time.monotonic() + timeout
        started = False
        offset = log_start
        carry = ""
        while True:
            if not started:
                with open(log_path, "rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read().decode("utf-8", "replace")
                    offset = fh.tell()
                # Keep a short overlap so a marker split across two reads is still found.
                started = READY_MARKER in carry + chunk
                carry = chunk[-len(READY_MARKER) :]
            if started and port_open(self._port):
                return
            code = self._proc.poll()
            if code is not None:
                raise RuntimeError(
                    f"Kafka broker exited with code {code} during start-up; "
                    f"last lines of {log_path}:\n{_tail(log_path, start=log_start)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Kafka broker not ready after {timeout:.0f}s; "
                    f"last lines of {log_path}:\n{_tail(log_path, start=log_start)}"
                )
            time.sleep(0.2)

    def stop(self, timeout: float = 30) -> None:
        """Graceful shutdown (SIGTERM), then SIGKILL after ``timeout`` seconds. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._proc = None
        _LIVE.discard(self)

    def kill(self) -> None:
        """SIGKILL without a clean shutdown (fault tests); data on disk stays for restart()."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self._proc = None
        _LIVE.discard(self)

    def restart(self, timeout: float | None = None) -> None:
        """stop() then start() on the same ports and data dir (also after kill())."""
        if self._data_dir is None:
            raise RuntimeError("broker was never started")
        self.stop()
        self.start(
            port=self._port,
            controller_port=self._controller_port,
            data_dir=self._data_dir,
            timeout=self._timeout if timeout is None else timeout,
        )

    def close(self) -> None:
        """stop(), and remove the data dir if start() created it as a temporary one."""
        self.stop()
        if self._owns_data_dir and self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._owns_data_dir = False

    def __enter__(self) -> Broker:
        """Start with defaults unless already running; the ``with`` block then owns it."""
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Broker {state} port={self._port} data_dir={self._data_dir}>"


# -- command line ---------------------------------------------------------------------------


def _pid_alive_broker(pid: int, data_dir: Path) -> bool:
    """True if ``pid`` is a live Kafka JVM of ``data_dir`` (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    props = str(data_dir / "server.properties").encode()
    return b"kafka.Kafka" in cmdline and props in cmdline


def _read_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _configured_port(data_dir: Path) -> str:
    """The PLAINTEXT port written into the data dir's server.properties (for messages)."""
    for line in (data_dir / "server.properties").read_text().splitlines():
        if line.startswith("listeners="):
            for listener in line.partition("=")[2].split(","):
                if listener.startswith("PLAINTEXT://"):
                    return listener.rsplit(":", 1)[1]
    return "?"


def _wait_gone(pid: int, data_dir: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _pid_alive_broker(pid, data_dir):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def cmd_up(port: int, controller_port: int, data_dir: Path, timeout: float) -> int:
    """Start a detached broker for ``data_dir`` (no-op if it is already running)."""
    data_dir = data_dir.resolve()
    pid = _read_pid(data_dir)
    if pid is not None and _pid_alive_broker(pid, data_dir):
        print(f"already running (pid {pid})")
        print(f"bootstrap: {HOST}:{_configured_port(data_dir)}")
        return 0
    broker = Broker(detach=True)
    try:
        broker.start(port=port, controller_port=controller_port, data_dir=data_dir, timeout=timeout)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    (data_dir / PID_FILE).write_text(f"{broker.pid}\n")
    # The JVM must outlive this process: forget it rather than let atexit stop it.
    _LIVE.discard(broker)
    print(f"log: {broker.log_path}")
    print(f"bootstrap: {broker.bootstrap}")
    return 0


def cmd_down(data_dir: Path, timeout: float) -> int:
    """Stop the broker recorded in ``data_dir``'s pid file: SIGTERM, then SIGKILL."""
    data_dir = data_dir.resolve()
    pid = _read_pid(data_dir)
    if pid is None or not _pid_alive_broker(pid, data_dir):
        print("not running")
        (data_dir / PID_FILE).unlink(missing_ok=True)
        return 0
    os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, data_dir, timeout):
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, data_dir, 10)
    (data_dir / PID_FILE).unlink(missing_ok=True)
    print(f"stopped (pid {pid})")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python tests/broker/broker.py",
        description=f"Development Kafka {KAFKA_VERSION} broker (KRaft, single node, no Docker).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    default_port = int(os.environ.get("KAFKA_PORT", "9092"))
    up = sub.add_parser("up", help="start in the background and wait until ready")
    up.add_argument("--port", type=int, default=default_port, help="client port (env KAFKA_PORT)")
    up.add_argument(
        "--controller-port",
        type=int,
        default=None,
        help="KRaft controller port (default: port + 1)",
    )
    down = sub.add_parser("down", help="stop the broker started by 'up'")
    for p in (up, down):
        p.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".kafka")
        p.add_argument("--timeout", type=float, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "up":
        controller_port = args.controller_port or args.port + 1
        return cmd_up(args.port, controller_port, args.data_dir, args.timeout or 90.0)
    return cmd_down(args.data_dir, args.timeout or 30.0)


if __name__ == "__main__":
    sys.exit(main())
