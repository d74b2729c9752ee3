"""Worker processes for the tests: ``python -m gjobs`` with its log in a file."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def environment(url=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("REDIS_URL", None)
    if url:
        env["REDIS_URL"] = url
    return env


class Worker:
    """A ``python -m gjobs`` process whose log goes to a file."""

    def __init__(self, tmp_path, name, args, url=None):
        self.log_path = tmp_path / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gjobs", *args], cwd=ROOT, env=environment(url),
            stdout=self._log, stderr=subprocess.STDOUT,
        )

    def log(self):
        return self.log_path.read_text()

    def wait(self, timeout=20):
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
        self.wait()
