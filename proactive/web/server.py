"""Serve the UI from a background thread (browser tests, screenshots, embedding).

``proactive web`` runs uvicorn in the foreground; this runs the same server in a
thread of the calling process, on a socket bound before the thread starts (port 0
picks a free one, with no race between choosing the port and binding it).

Example::

    with serve_in_thread(app) as server:
        page.goto(server.url + "/login")
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from proactive.errors import ProactiveError


class ServerError(ProactiveError):
    """The background server did not start (or stop) in time."""


@dataclass(frozen=True)
class Running:
    """A server running in a thread: where to reach it."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://{self.host}:{self.port}"


@contextmanager
def serve_in_thread(
    app: FastAPI, host: str = "127.0.0.1", port: int = 0, *, timeout: float = 10.0
) -> Iterator[Running]:
    """Run ``app`` with uvicorn in a daemon thread until the ``with`` block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="proactive-web", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise ServerError(f"the web server did not start within {timeout:g} s")
        time.sleep(0.02)
    try:
        yield Running(host, sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
        if thread.is_alive():
            raise ServerError(f"the web server did not stop within {timeout:g} s")
