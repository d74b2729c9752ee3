"""A held connection: script calls back to back on one connection of the pool, given back when
the run of calls ends, failing as a call through the client fails."""

import gevent
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gjobs.held_connection import HeldConnection

from .helpers import wait_for

ECHO = "return {KEYS[1], ARGV[1]}"


def in_use(client):
    return len(client.connection_pool._in_use_connections)


@pytest.fixture
def echo(real_client):
    return real_client.register_script(ECHO)


def test_calls_go_on_one_connection_until_it_is_given_back(real_client, echo):
    held = HeldConnection(real_client)
    assert [held.run(echo, ["k"], [n]) for n in "abc"] == [[b"k", n.encode()] for n in "abc"]
    assert in_use(real_client) == 1  # taken once, kept between calls
    held.release()
    assert in_use(real_client) == 0


def test_a_script_redis_no_longer_knows_is_loaded_again(real_client, echo):
    held = HeldConnection(real_client)
    held.run(echo, ["k"], ["a"])
    real_client.script_flush()
    assert held.run(echo, ["k"], ["b"]) == [b"k", b"b"]
    held.release()


def test_a_cut_connection_is_retried_as_the_client_retries_a_command(redis_process):
    client = redis.Redis(host="127.0.0.1", port=redis_process.port, retry=Retry(NoBackoff(), 3))
    script = client.register_script(ECHO)
    held = HeldConnection(client)
    held.run(script, ["k"], ["a"])
    client.client_kill_filter(_type="normal", skipme=True)
    assert held.run(script, ["k"], ["b"]) == [b"k", b"b"]
    held.release()
    client.close()


def test_a_cut_connection_raises_when_the_client_does_not_retry_and_is_given_back(redis_process, echo):
    client = redis.Redis(host="127.0.0.1", port=redis_process.port, retry=Retry(NoBackoff(), 0))
    script = client.register_script(ECHO)
    held = HeldConnection(client)
    held.run(script, ["k"], ["a"])
    client.client_kill_filter(_type="normal", skipme=True)
    with pytest.raises(redis.ConnectionError):
        held.run(script, ["k"], ["b"])
    assert in_use(client) == 0
    assert held.run(script, ["k"], ["c"]) == [b"k", b"c"]  # the next call takes one again
    held.release()
    client.close()


def test_an_error_reply_leaves_the_connection_held_and_usable(real_client, echo):
    held = HeldConnection(real_client)
    with pytest.raises(redis.ResponseError, match="no"):
        held.run(real_client.register_script("return redis.error_reply('no')"), [], [])
    assert in_use(real_client) == 1
    assert held.run(echo, ["k"], ["a"]) == [b"k", b"a"]
    held.release()


def test_a_call_cut_short_by_its_caller_closes_the_connection_and_gives_it_back(redis_process, real_client, echo):
    held = HeldConnection(real_client)
    held.run(echo, ["k"], ["a"])
    monitor = redis.Redis(host="127.0.0.1", port=redis_process.port)
    monitor.execute_command("CLIENT", "PAUSE", 10_000, "WRITE")  # scripts wait: the reply never comes
    try:
        with pytest.raises(gevent.Timeout):
            with gevent.Timeout(0.2):
                held.run(echo, ["k"], ["b"])
        assert in_use(real_client) == 0
        assert all(c._sock is None for c in real_client.connection_pool._available_connections)
    finally:
        monitor.execute_command("CLIENT", "UNPAUSE")
        monitor.close()
    wait_for(lambda: held.run(echo, ["k"], ["c"]) == [b"k", b"c"], message="a call after the pause")
    held.release()


def test_an_in_process_server_runs_the_calls_too(fake_client):
    script = fake_client.register_script(ECHO)
    held = HeldConnection(fake_client)
    assert held.run(script, ["k"], ["a"]) == [b"k", b"a"]
    held.release()
    assert in_use(fake_client) == 0
