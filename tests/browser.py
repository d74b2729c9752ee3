"""Headless Chromium, ``gjobs web`` processes and plain HTTP for the dashboard's browser tests.

The browser is Debian's ``chromium`` driven by its ``chromium-driver`` (``scripts/test`` installs
both): the paths are given to Selenium, so it never tries to download a driver or a browser of
its own (there is no internet where the tests run).
"""

import http.cookiejar
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from gjobs.processing_list import ProcessingList

from .helpers import wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: What lets Chromium run headless as root in a container with only loopback: no sandbox (root),
#: no GPU, and none of the background traffic it would start towards Google's services.
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,900",
)
#: Seconds a page, a redirect or a refresh of the dashboard gets before a wait fails.
WAIT = 10.0


def missing():
    """Why the browser tests cannot run on this machine, or None when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            return f"{path} is missing (Debian: apt-get install chromium chromium-driver; scripts/test does)"
    return None


class Chromium:
    """One headless Chromium with a fresh profile in a temporary directory, until :meth:`quit`."""

    def __init__(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = tempfile.mkdtemp(prefix="gjobs-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)

    def quit(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


def gjobs_command():
    """The ``gjobs`` console script of this interpreter (its ``main`` when it is not installed)."""
    script = os.path.join(os.path.dirname(sys.executable), "gjobs")
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-c", "import sys; from gjobs.cli.admin import main; sys.exit(main())"]


class WebServer:
    """``gjobs web --bind 127.0.0.1:0 ARGS`` in its own process; its stderr goes to a log file.

    ``url`` is the address it printed (``gjobs web: serving http://HOST:PORT/ ...``), without
    the trailing slash.
    """

    def __init__(self, directory, name, *args, timeout=WAIT):
        self.log_path = os.path.join(str(directory), f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [*gjobs_command(), "web", "--bind", "127.0.0.1:0", *args], cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=ROOT), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            self.url = wait_for(self._served_url, timeout=timeout, message=f"gjobs web to start (log: {self.log_path})")
        except BaseException:
            self.stop()
            raise

    def _served_url(self):
        if self.process.poll() is not None:
            raise AssertionError(f"gjobs web exited with {self.process.returncode}:\n{self.log()}")
        for line in self.log().splitlines():
            if line.startswith("gjobs web: serving "):
                return line.split()[3].rstrip("/")
        return None

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def bury(queue, job, error_type="RuntimeError", message="boom", traceback=None):
    """Put ``job`` in the dead set as a worker does after its last failed attempt; its id.

    Takes the job from the head of the ready list: the queue must have no other ready job.
    """
    job_id = queue.enqueue(job)
    processing = ProcessingList(queue.client, queue.keys, "seeding-worker")
    [(fetched, _, _)], _, _, _ = processing.fetch(1)
    assert fetched == job_id, "bury() needs a queue with nothing else ready"
    traceback = traceback or (
        'Traceback (most recent call last):\n  File "/srv/app/jobs.py", line 42, in run\n    result = handler(*args)\n'
        f"{error_type}: {message}\n")
    error = {"type": error_type, "message": message, "traceback": traceback, "worker": "seeding-worker"}
    processing.bury(job_id, time.time(), error)
    return job_id


# -- plain HTTP, for what a browser does not show (status, headers) and forged requests ---------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Http:
    """A client with its own cookie jar; answers are ``(status, headers, body text)``, whatever
    the status, and redirects are not followed (a 303 is an answer like another)."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def get(self, path):
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path, fields, headers=None):
        data = urllib.parse.urlencode(fields, doseq=True).encode()
        return self._open(urllib.request.Request(self.base + path, data=data, headers=headers or {}, method="POST"))

    def cookie(self, name):
        return next((cookie.value for cookie in self.jar if cookie.name == name), None)

    def _open(self, request):
        try:
            with self.opener.open(request, timeout=WAIT) as answer:
                return answer.status, answer.headers, answer.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers, error.read().decode()
