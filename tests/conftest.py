"""Fixtures: a real redis-server per test session, fakeredis per test, a fresh queue prefix per test.

The test process is monkey-patched like a gjobs worker, before anything else is imported.
"""

from gevent import monkey

monkey.patch_all()

import io  # noqa: E402
import logging  # noqa: E402
import uuid  # noqa: E402

import fakeredis  # noqa: E402
import pytest  # noqa: E402
import redis  # noqa: E402

from gjobs import Queue, Server  # noqa: E402
from gjobs.cli import admin  # noqa: E402
from gjobs.embedded import RedisProcess  # noqa: E402

from .fault_delegates import WorkerProcess  # noqa: E402
from .processes import Worker  # noqa: E402


@pytest.fixture(scope="session")
def redis_process():
    """One real redis-server for the whole session, on a free loopback port."""
    process = RedisProcess().start()
    yield process
    process.cleanup()


@pytest.fixture
def real_client(redis_process):
    client = redis.Redis(port=redis_process.port, host="127.0.0.1")
    yield client
    client.close()


@pytest.fixture
def fake_client():
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


@pytest.fixture(params=["real", "fake"])
def client(request):
    """Each behaviour test runs once on a real redis-server and once on fakeredis."""
    return request.getfixturevalue(f"{request.param}_client")


@pytest.fixture
def queue(client, prefix):
    """This test's queue on this test's client (real Redis or fakeredis)."""
    return Queue(client, prefix)


@pytest.fixture
def prefix():
    """A queue of its own for every test, so tests never see each other's keys."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(autouse=True)
def _gjobs_logs(caplog):
    caplog.set_level(logging.INFO, logger="gjobs")


@pytest.fixture
def servers():
    """``make(delegate, client, prefix, **options)``: a Server (heartbeat 0.5 s unless given),
    stopped at the end of the test."""
    made = []

    def make(delegate, client, prefix, **options):
        options.setdefault("heartbeat_interval", 0.5)
        server = Server(delegate, client, prefix=prefix, **options)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop(timeout=1)


@pytest.fixture
def make_server(servers, client, prefix):
    """``make(delegate, **options)``: a Server on this test's queue and client (see ``servers``)."""
    return lambda delegate, **options: servers(delegate, client, prefix, **options)


@pytest.fixture
def workers(tmp_path):
    """``start(args, url=None)``: a ``python -m gjobs`` worker process, killed at the end of the test."""
    started = []

    def start(args, url=None):
        worker = Worker(tmp_path, f"worker-{len(started)}", args, url)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()


@pytest.fixture
def names(prefix):
    """Three queues, highest priority first."""
    return [f"{prefix}-high", f"{prefix}-default", f"{prefix}-low"]


@pytest.fixture
def multis():
    """Workers made by a test, stopped at its end."""
    made = []
    yield made
    for multi in made:
        multi.stop(timeout=0)


@pytest.fixture
def report(record_property, capsys):
    """Record a scenario's figures as test properties and print them past the capture."""

    def emit(scenario, **figures):
        for name, value in figures.items():
            record_property(name, value)
        with capsys.disabled():
            print(f"\n    {scenario}: " + ", ".join(f"{name}={value}" for name, value in figures.items()))

    return emit


@pytest.fixture
def spawn(tmp_path):
    """Start ``gjobs-worker`` processes; every one still running is killed at teardown."""
    workers = []

    def start(delegate, url, prefix, *options, clock_shift=0.0):
        worker = WorkerProcess(delegate, url, prefix, tmp_path, *options, clock_shift=clock_shift)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.close()


@pytest.fixture
def url(redis_process):
    return redis_process.url


@pytest.fixture
def gjobs(url, prefix):
    """Runs ``gjobs ARGS --redis-url URL --prefix PREFIX`` in this process: ``(status, stdout)``;
    ``with_url=False`` or ``with_prefix=False`` leave either out."""

    def run(*args, with_url=True, with_prefix=True):
        out = io.StringIO()
        extra = (["--redis-url", url] if with_url else []) + (["--prefix", prefix] if with_prefix else [])
        return admin.main([*args, *extra], out=out), out.getvalue()

    return run
