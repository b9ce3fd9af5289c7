"""A ``redis-server`` of a test's own on a free loopback port (never the machine's Redis): for
Zou (which hard-codes its db indexes), for a password-protected Redis, and for restarts."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fakes.serve import free_port


class RedisServer:
    """Started with ``start()``; ``stop()`` sends SIGTERM (Redis writes its append-only file and
    exits, as on ``docker stop``); ``start()`` again reuses the port and the folder."""

    def __init__(
        self, folder: Path, *, persistent: bool = False, password: str | None = None
    ) -> None:
        self.folder = folder
        self.persistent = persistent
        self.password = password
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("needs redis-server (apt-get install redis-server)")
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / "redis.log"
        arguments = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        arguments += ["--appendonly", "yes" if self.persistent else "no", "--dir", str(self.folder)]
        if self.password is not None:
            arguments += ["--requirepass", self.password]
        with log.open("ab") as output:
            self._process = subprocess.Popen(
                arguments, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 10
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start on {self.port}: {log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5) as sock:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(64)
        except OSError:
            return False
        # A password-protected server answers -NOAUTH: it is up all the same.
        return reply.startswith((b"+PONG", b"-NOAUTH"))


@contextmanager
def private_redis(
    folder: Path, *, persistent: bool = False, password: str | None = None
) -> Iterator[RedisServer]:
    server = RedisServer(folder, persistent=persistent, password=password)
    server.start()
    try:
        yield server
    finally:
        server.stop()
