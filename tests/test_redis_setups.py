"""Redis set up in ways that lose jobs or stop a worker: a Redis that evicts keys, a worker
started before its Redis, and a worker stopped while its Redis is gone.

Real ``redis-server`` and ``gjobs-worker`` processes throughout: what is checked is what an
operator sees, the exit status and the log.
"""

import io
import json
import re
import signal
import socket
import time

import gevent
import pytest
import redis

from gjobs import Queue
from gjobs.cli import admin
from gjobs.cli import worker as worker_cli
from gjobs.embedded import RedisProcess, free_port

from .fault_delegates import runs
from .helpers import wait_for

#: Seconds a test gives a worker process to get somewhere (generous: the machine may be busy).
PATIENCE = 30


@pytest.fixture(scope="module")
def evicting_redis():
    """A redis-server that deletes keys when memory runs short, queued jobs included."""
    process = RedisProcess(extra=["--maxmemory-policy", "allkeys-lru"]).start()
    yield process
    process.cleanup()


@pytest.fixture
def redis_later():
    """``make(port)``: a RedisProcess on ``port``, not started; cleaned up at the end."""
    made = []

    def make(port):
        process = RedisProcess(port=port)
        made.append(process)
        return process

    yield make
    for process in made:
        process.cleanup()


def gjobs(url, *args):
    """``gjobs ARGS --redis-url URL`` in this process: ``(status, stdout)``."""
    out = io.StringIO()
    return admin.main([*args, "--redis-url", url], out=out), out.getvalue()


def lines_with(log, text):
    return [line for line in log.splitlines() if text in line]


def stop_and_time(worker, timeout=PATIENCE):
    """SIGTERM ``worker``: ``(exit status, seconds it took)``."""
    started = time.monotonic()
    worker.signal(signal.SIGTERM)
    status = worker.wait(timeout)
    return status, time.monotonic() - started


# -- a Redis that may evict jobs -----------------------------------------------------------------


def test_ping_and_stats_warn_on_stderr_when_redis_may_evict_jobs(evicting_redis, prefix, capsys):
    url = evicting_redis.url
    for command in (["ping"], ["stats", "--prefix", prefix]):
        status, out = gjobs(url, *command)
        [line] = capsys.readouterr().err.splitlines()
        assert status == 0 and out
        assert line.startswith("gjobs: warning: Redis maxmemory-policy is allkeys-lru"), line
        assert "noeviction" in line


def test_ping_and_stats_json_stay_parseable_and_ping_lists_the_warning(evicting_redis, prefix, capsys):
    url = evicting_redis.url
    status, out = gjobs(url, "ping", "--json")
    [line] = capsys.readouterr().err.splitlines()
    [warning] = json.loads(out)["warnings"]
    assert status == 0 and line == f"gjobs: warning: {warning}"

    status, out = gjobs(url, "stats", "--json", "--prefix", prefix)
    assert status == 0 and [queue["prefix"] for queue in json.loads(out)["queues"]] == [prefix]
    assert capsys.readouterr().err.startswith("gjobs: warning: ")


def test_ping_and_stats_warn_nothing_when_redis_never_evicts(redis_process, prefix, capsys):
    url = redis_process.url
    status, out = gjobs(url, "ping", "--json")
    assert (status, json.loads(out)["warnings"]) == (0, [])
    assert gjobs(url, "stats", "--prefix", prefix)[0] == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("setup, warns", [("evicting_redis", True), ("redis_process", False)])
def test_a_worker_warns_at_start_when_redis_may_evict_jobs(setup, warns, request, prefix, tmp_path, spawn):
    url = request.getfixturevalue(setup).url
    worker = spawn("record", url, prefix)
    wait_for(lambda: "started on queue" in worker.log(), timeout=PATIENCE, message="the worker to start")
    log = worker.log()
    assert len(lines_with(log, "WARNING gjobs: Redis maxmemory-policy is allkeys-lru")) == (1 if warns else 0), log
    assert "maxmemory-policy" in log if warns else "maxmemory-policy" not in log
    assert stop_and_time(worker)[0] == 0


# -- a worker started before its Redis -------------------------------------------------------------


def test_a_worker_started_before_redis_tries_again_and_exits_0_at_once_on_sigterm(tmp_path, prefix, spawn):
    port = free_port()  # nothing listens there
    worker = spawn("record", f"redis://:s3cret@127.0.0.1:{port}/0", prefix)
    retry = re.compile(
        rf"WARNING gjobs: cannot reach Redis at redis://:\*\*\*@127\.0\.0\.1:{port}/0: .*; retrying in (\S+) s$", re.M
    )
    # The waits double: 0.5 s after the first failure, 1 s after the second.
    wait_for(lambda: retry.findall(worker.log())[:2] == ["0.5", "1"], timeout=PATIENCE, message="two retries")
    assert worker.alive()

    status, took = stop_and_time(worker)

    log = worker.log()
    assert status == 0, log
    assert took < 2, f"{took:.2f} s to exit"
    assert "Traceback" not in log and "s3cret" not in log and "gjobs-worker: error" not in log
    assert "SIGTERM: stopping before the worker started" in log


def test_a_worker_started_before_redis_runs_its_jobs_once_redis_is_up(tmp_path, prefix, spawn, redis_later):
    port = free_port()
    later = redis_later(port)
    worker = spawn("record", later.url, prefix, "--heartbeat-interval", "0.5")
    wait_for(lambda: "cannot reach Redis at" in worker.log(), timeout=PATIENCE, message="a failed try")

    later.start()
    client = redis.Redis(port=port)
    try:
        record = f"{prefix}:test:ran"
        Queue(client, prefix).enqueue({"n": 1, "record": record})
        wait_for(lambda: runs(client, record) == {1: 1}, timeout=PATIENCE, message="the job to run")
    finally:
        client.close()

    assert "started on queue" in worker.log()
    assert stop_and_time(worker)[0] == 0, worker.log()
    assert "Traceback" not in worker.log()


def test_exit_on_connect_failure_exits_1_in_one_line(tmp_path, prefix, spawn):
    port = free_port()
    worker = spawn("record", f"redis://127.0.0.1:{port}/0", prefix, "--exit-on-connect-failure")

    assert worker.wait(PATIENCE) == 1

    log = worker.log()
    [line] = lines_with(log, "gjobs-worker: error:")
    assert line.startswith(f"gjobs-worker: error: cannot reach Redis at redis://127.0.0.1:{port}/0: "), line
    assert "retrying" not in log and "Traceback" not in log


@pytest.mark.parametrize("refusal", ["wrong password", "no access to the queue"])
def test_a_redis_that_refuses_is_not_tried_again(refusal, redis_process, real_client, prefix, tmp_path, spawn):
    user = f"user-{prefix}"
    # No rights on the queue's keys and channels: the worker's start is refused (NOPERM).
    real_client.acl_setuser(user, enabled=True, passwords=["+right"], keys=["other:*"], commands=["+@all"])
    try:
        password = "wrong" if refusal == "wrong password" else "right"
        worker = spawn("record", f"redis://{user}:{password}@127.0.0.1:{redis_process.port}/0", prefix)

        assert worker.wait(PATIENCE) == 1
    finally:
        real_client.acl_deluser(user)
    log = worker.log()
    [line] = lines_with(log, "gjobs-worker: error:")
    assert ("AuthenticationError" if refusal == "wrong password" else "AccessError") in line, line
    assert "retrying" not in log and "Traceback" not in log


def test_a_burst_worker_does_not_wait_for_redis_so_cron_runs_do_not_pile_up(capsys):
    url = f"redis://127.0.0.1:{free_port()}/0"

    assert worker_cli.main(["tests.delegates:record", "--redis-url", url, "--burst"]) == 1

    [line] = lines_with(capsys.readouterr().err, "gjobs-worker: error:")
    assert line.startswith(f"gjobs-worker: error: cannot reach Redis at {url}: "), line


def test_sigterm_during_a_try_that_gets_no_answer_exits_0_promptly(tmp_path, prefix, spawn):
    # A port that accepts connections and never answers: the try waits for a reply that never comes.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []
    acceptor = gevent.spawn(lambda: accepted.append(listener.accept()))
    try:
        worker = spawn("record", f"redis://127.0.0.1:{listener.getsockname()[1]}/0", prefix)
        wait_for(lambda: accepted, timeout=PATIENCE, message="the worker's connection")

        status, took = stop_and_time(worker)

        assert status == 0, worker.log()
        assert took < 4, f"{took:.2f} s to exit"  # the try gets START_ABANDON_TIMEOUT (2 s) at most
        assert "Traceback" not in worker.log()
    finally:
        acceptor.kill()
        for connection, _ in accepted:
            connection.close()
        listener.close()


# -- a worker stopped while its Redis is gone ------------------------------------------------------


def test_sigterm_while_redis_is_gone_exits_1_quickly_naming_the_jobs_not_handed_back(tmp_path, prefix, spawn):
    server = RedisProcess().start()
    try:
        client = redis.Redis(port=server.port)
        started = f"{prefix}:test:started"
        Queue(client, prefix).enqueue({"n": 1, "sleep": 10, "started": started, "record": f"{prefix}:test:ran"})
        worker = spawn("record", server.url, prefix, "--heartbeat-interval", "1",
                           "--shutdown-timeout", "0.5")
        wait_for(lambda: runs(client, started) == {1: 1}, timeout=PATIENCE, message="the long job to start")
        client.close()
        server.stop(kill=True)

        status, took = stop_and_time(worker)
    finally:
        server.cleanup()

    log = worker.log()
    assert status == 1, log  # its job is left for the heartbeat's expiry to return
    assert took < 3, f"{took:.2f} s to exit"
    assert "Traceback" not in log and "gjobs-worker: error" not in log
    [line] = lines_with(log, "could not be reached to hand back")
    assert "hand back the 1 job it held" in line and "heartbeat expires, 2 s after its last beat" in line, line
