"""Security: payloads are data (JSON by default, never evaluated), and the worker connects with
credentials (``redis://user:password@``) and TLS (``rediss://``) without ever showing the
password in its log or status line."""

import pickle
import shutil
import signal
import subprocess

import pytest
import redis

from gjobs import JSONCoder, Queue, Server
from gjobs.connection import connect, redact
from gjobs.embedded import RedisProcess, free_port
from tests.fault_delegates import WorkerProcess, runs
from tests.helpers import wait_for

PASSWORD = "s3cret"


# -- payloads are data ------------------------------------------------------------------------


def test_json_is_the_default_coder(client, prefix):
    queue = Queue(client, prefix)
    server = Server(lambda job: None, client, prefix=prefix)
    assert isinstance(queue.coder, JSONCoder) and isinstance(server.coder, JSONCoder)
    job_id = queue.enqueue({"to": "ann", "n": 1})
    assert queue.job_store.get(job_id) == b'{"to":"ann","n":1}'


class _Exploit:
    """Unpickling this runs code: what a pickle-based queue would do with a hostile payload."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickled_payload_is_never_loaded(client, prefix, tmp_path):
    """A hostile pickle written into Redis is just undecodable bytes: it goes to the dead set,
    and the code it carries never runs."""
    target = tmp_path / "pwned"
    queue = Queue(client, prefix)
    calls = []
    server = Server(calls.append, client, prefix=prefix, heartbeat_interval=0.5)
    server.start()
    try:
        queue.ready_list.add([("hostile", pickle.dumps(_Exploit(str(target))))])
        wait_for(lambda: queue.dead_set.size() == 1, message="the payload in the dead set")
    finally:
        server.stop(timeout=1)
    assert not target.exists()
    assert calls == []
    assert queue.dead()[0].attempts == 1


def test_strings_that_look_like_code_reach_the_delegate_as_strings(client, prefix):
    queue = Queue(client, prefix)
    calls = []
    server = Server(calls.append, client, prefix=prefix, heartbeat_interval=0.5)
    server.start()
    try:
        job = {"cmd": "__import__('os').system('false')", "class": "os:system", "n": 1}
        queue.enqueue(job)
        wait_for(lambda: calls, message="the job to run")
    finally:
        server.stop(timeout=1)
    assert calls == [job]


# -- URLs and credentials ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, shown",
    [
        ("redis://:s3cret@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://jobs:s3cret@host/0", "redis://jobs:***@host/0"),
        ("rediss://jobs:s3cret@host:6380/0?ssl_cert_reqs=required", "rediss://jobs:***@host:6380/0?ssl_cert_reqs=required"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
    ],
)
def test_redact_hides_the_password_of_a_url(url, shown):
    assert redact(url) == shown


def test_rediss_url_gives_a_tls_client():
    client = connect("rediss://jobs:s3cret@redis.example:6380/0")
    pool = client.connection_pool
    assert issubclass(pool.connection_class, redis.SSLConnection)
    assert pool.connection_kwargs["username"] == "jobs"
    assert pool.connection_kwargs["password"] == PASSWORD


def test_redis_url_with_user_and_password_gives_an_authenticating_client():
    client = connect("redis://jobs:s3cret@redis.example:6379/2")
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("jobs", PASSWORD, 2)
    assert not issubclass(client.connection_pool.connection_class, redis.SSLConnection)


@pytest.fixture(scope="module")
def locked_redis():
    """A redis-server that requires a password for its default user and has a ``jobs`` user."""
    process = RedisProcess(extra=["--requirepass", PASSWORD, "--user", "jobs", "on", f">{PASSWORD}", "~*", "&*",
                                  "+@all"]).start()
    yield process
    process.cleanup()


def run_one_job(url, prefix, tmp_path, *options, url_in_env_only=False):
    """Run a ``gjobs-worker`` on ``url`` until it has run one job, stop it, return its log."""
    client = redis.Redis.from_url(url)
    queue = Queue(client, prefix)
    record = f"{prefix}:test:ran"
    queue.enqueue({"n": 1, "record": record})
    worker = WorkerProcess("record", url, prefix, tmp_path, "--log-level", "DEBUG", "--status-interval", "0.1",
                           *options, url_in_env_only=url_in_env_only)
    try:
        wait_for(lambda: runs(client, record) == {1: 1}, timeout=30, message="the job to run")
        wait_for(lambda: "status R=" in worker.log(), timeout=10, message="a status line")
        info = client.hvals(queue.keys.workers_info)
        worker.signal(signal.SIGTERM)
        assert worker.wait(20) == 0, worker.log()
    finally:
        worker.close()
        client.close()
    log = worker.log()
    assert all(PASSWORD.encode() not in value for value in info)
    return log


@pytest.mark.parametrize("credentials", [f":{PASSWORD}", f"default:{PASSWORD}", f"jobs:{PASSWORD}"])
def test_worker_connects_with_a_password_and_never_shows_it(locked_redis, prefix, tmp_path, credentials):
    url = f"redis://{credentials}@127.0.0.1:{locked_redis.port}/0"
    log = run_one_job(url, prefix, tmp_path)
    assert PASSWORD not in log
    assert f"redis://{credentials.split(':')[0]}:***@127.0.0.1:{locked_redis.port}/0" in log


def test_worker_takes_the_password_from_redis_url_in_the_environment(locked_redis, prefix, tmp_path):
    log = run_one_job(f"redis://jobs:{PASSWORD}@127.0.0.1:{locked_redis.port}/0", prefix, tmp_path,
                      url_in_env_only=True)
    assert PASSWORD not in log


def test_worker_refused_by_redis_exits_without_showing_the_password(locked_redis, prefix, tmp_path):
    url = f"redis://jobs:wr0ng-{PASSWORD}@127.0.0.1:{locked_redis.port}/0"
    worker = WorkerProcess("record", url, prefix, tmp_path)
    try:
        assert worker.wait(30) == 1
    finally:
        worker.close()
    log = worker.log()
    assert "error" in log.lower()
    assert PASSWORD not in log


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    """A redis-server that also listens with TLS (a self-signed certificate made for the test)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = str(directory / "cert.pem"), str(directory / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    tls_port = free_port()
    process = RedisProcess(extra=["--tls-port", str(tls_port), "--tls-cert-file", cert, "--tls-key-file", key,
                                  "--tls-ca-cert-file", cert, "--tls-auth-clients", "no"]).start()
    process.tls_port, process.cert = tls_port, cert
    yield process
    process.cleanup()


def test_worker_connects_over_tls_with_a_rediss_url(tls_redis, prefix, tmp_path):
    url = f"rediss://127.0.0.1:{tls_redis.tls_port}/0?ssl_ca_certs={tls_redis.cert}"
    client = redis.Redis.from_url(url)
    try:
        assert client.ping()
    finally:
        client.close()
    log = run_one_job(url, prefix, tmp_path)  # the TLS port speaks nothing but TLS
    assert f"on rediss://127.0.0.1:{tls_redis.tls_port}/0" in log
