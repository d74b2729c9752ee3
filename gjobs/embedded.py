"""A private ``redis-server`` on a free loopback port: for the demo, the tests and the benchmark."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import List, Optional


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def available() -> bool:
    return shutil.which("redis-server") is not None


class RedisProcess:
    """Runs ``redis-server`` on 127.0.0.1 in a temporary directory until :meth:`stop`.

    ``extra`` are further ``--option value`` arguments (``["--appendonly", "yes"]``).
    Persistence is off unless asked for. Can be stopped and started again on the same port and
    directory, which is how tests restart Redis under a running worker.
    """

    def __init__(self, port: Optional[int] = None, extra: Optional[List[str]] = None) -> None:
        self.port = port or free_port()
        self.extra = list(extra or [])
        self.dir = tempfile.mkdtemp(prefix="gjobs-redis-")
        self.process: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "RedisProcess":
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (Debian: apt-get install redis-server)")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                "--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning"]
        self.process = subprocess.Popen(
            args + self.extra, stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "log"), "ab")
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    # NOAUTH: the server is up and asks for a password (``--requirepass``).
                    if conn.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                        return self
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}; see {self.dir}/log")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer on port {self.port}")
            time.sleep(0.02)

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            (self.process.kill if kill else self.process.terminate)()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "RedisProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
