"""The job server: the origin's two tests, and the promises gjobs adds."""

import time

import pytest

from gjobs import Buffer, Server


@pytest.fixture
def buffer():
    return Buffer()


@pytest.fixture
def server(client, prefix, buffer):
    server = Server(buffer, client, prefix=prefix, heartbeat_interval=0.5, backoff=lambda attempt: 0)
    yield server
    server.stop(timeout=1)


def test_immediate_job_runs(server, buffer):
    server.start()
    job = {"data": "test"}
    server.call(job)
    assert buffer.pop(timeout=5) == job


def test_delayed_job_runs_at_its_time(server, buffer):
    server.start()
    job = {"data": "later", "scheduled_at": time.time() + 0.3}
    server.call(job)
    started = time.monotonic()
    received = buffer.pop(timeout=5)
    assert received["data"] == "later"
    assert time.monotonic() - started >= 0.25
