"""Lanes: a connection of its own for the script calls of the fetch and settle loops."""

import gevent
import pytest
import redis

import gjobs.lane as lane_module
from gjobs.adapter import adapter_for
from gjobs.lane import Lane

from .helpers import wait_for

ECHO = "return {KEYS[1], ARGV[1]}"


@pytest.fixture
def echo(real_client):
    return real_client.register_script(ECHO)


def in_use(client):
    return len(client.connection_pool._in_use_connections)


def blocked_in_blpop(client, client_id):
    """Whether Redis has connection ``client_id`` blocked in a BLPOP (asked on another one)."""
    [info] = [entry for entry in client.client_list() if int(entry["id"]) == client_id]
    return "b" in info["flags"] and info["cmd"] == "blpop"


def test_calls_go_on_one_connection_taken_from_the_pool_once(real_client, echo):
    lane = Lane(real_client)
    assert lane.run(echo, ["k"], ["a"]) == [b"k", b"a"]
    assert lane.run(echo, ["k"], ["b"]) == [b"k", b"b"]
    assert in_use(real_client) == 1
    lane.close()
    assert in_use(real_client) == 0


def test_a_script_redis_no_longer_knows_is_loaded_again(real_client, echo):
    lane = Lane(real_client)
    lane.run(echo, ["k"], ["a"])
    real_client.script_flush()
    assert lane.run(echo, ["k"], ["b"]) == [b"k", b"b"]
    lane.close()


def test_a_cut_connection_raises_and_the_next_call_connects_again(real_client, echo):
    lane = Lane(real_client)
    lane.run(echo, ["k"], ["a"])
    real_client.client_kill_filter(_type="normal", skipme=True)
    with pytest.raises(redis.ConnectionError):
        lane.run(echo, ["k"], ["b"])
    assert lane.run(echo, ["k"], ["c"]) == [b"k", b"c"]
    lane.close()


def test_an_error_reply_leaves_the_connection_usable(real_client):
    failing = real_client.register_script("return redis.error_reply('no')")
    lane = Lane(real_client)
    with pytest.raises(redis.ResponseError, match="no"):
        lane.run(failing, [], [])
    assert lane.execute("PING") == b"PONG"
    assert in_use(real_client) == 1
    lane.close()


def test_a_call_made_while_another_is_under_way_goes_through_the_pool(redis_process, prefix):
    # No 5 s socket timeout (redis-py's default) cutting the BLPOP short on a slow machine.
    client = redis.Redis(host="127.0.0.1", port=redis_process.port, socket_timeout=90)
    echo = client.register_script(ECHO)
    lane = Lane(client)
    lane_id = lane.execute("CLIENT", "ID")  # the lane is free: this goes on its own connection
    key = f"{{{prefix}}}:nothing"
    blocked = gevent.spawn(lane.execute, "BLPOP", key, 60)
    try:
        wait_for(lambda: blocked_in_blpop(client, lane_id), message="the lane to be blocked in BLPOP")
        # Neither call may wait for the lane (its BLPOP only ends when this test pushes) nor go
        # on its connection (a reply would queue behind the BLPOP's): each answers from the pool.
        meanwhile = gevent.spawn(lane.run, echo, ["k"], ["meanwhile"])
        assert meanwhile.get(timeout=10) == [b"k", b"meanwhile"]
        other_id = gevent.spawn(lane.execute, "CLIENT", "ID").get(timeout=10)
        assert other_id != lane_id
        assert not blocked.ready() and blocked_in_blpop(client, lane_id)
    finally:
        client.rpush(key, "done")
    assert blocked.get(timeout=10) == [key.encode(), b"done"]
    assert lane.execute("CLIENT", "ID") == lane_id  # free again: back on its own connection
    lane.close()
    client.close()


def test_an_in_process_server_is_called_through_its_pool(fake_client):
    script = fake_client.register_script(ECHO)
    lane = adapter_for(fake_client).lane(fake_client)
    assert lane.run(script, ["k"], ["a"]) == [b"k", b"a"]
    assert lane._connection is None


ARGUMENTS = ["EVALSHA", "abc", 2, "{q}:jobs", b"{q}:raw", "caf\u00e9", 0, -7, 2**70, 1.5, 1e-300, float("inf"),
             float("nan"), "", b"\x00\xff"]


def test_a_lane_sends_the_bytes_redis_py_would_send(real_client):
    connection = real_client.connection_pool.get_connection()
    try:
        packed = lane_module._packed(ARGUMENTS)
        assert packed is not None  # hiredis packs these
        assert b"".join(packed) == b"".join(connection.pack_command(*ARGUMENTS))
    finally:
        real_client.connection_pool.release(connection)


def test_an_argument_redis_py_refuses_is_refused_through_a_lane_too(real_client, echo):
    lane = Lane(real_client)
    with pytest.raises(redis.DataError):
        lane.run(echo, ["{q}:k"], [True])
    assert lane.run(echo, ["{q}:k"], ["still usable"]) == [b"{q}:k", b"still usable"]


def test_a_pipeline_sends_its_commands_at_once_on_the_lane_and_returns_every_reply(real_client, prefix):
    lane = Lane(real_client)
    key = f"{prefix}:a"
    assert lane.pipeline([("SET", key, "1", "PX", 60_000), ("INCR", key), ("GET", key)]) == [b"OK", 2, b"2"]
    assert 0 < real_client.pttl(key) <= 60_000
    assert in_use(real_client) == 1
    lane.close()


def test_a_refused_command_in_a_pipeline_raises_after_the_others_ran_and_the_lane_stays_usable(real_client, prefix):
    lane = Lane(real_client)
    real_client.set(f"{prefix}:text", "x")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        lane.pipeline([("INCR", f"{prefix}:text"), ("SET", f"{prefix}:after", "ran")])
    assert real_client.get(f"{prefix}:after") == b"ran"
    assert lane.execute("PING") == b"PONG"
    assert in_use(real_client) == 1
    lane.close()


def test_a_pipeline_on_an_in_process_server_goes_through_redis_py(fake_client):
    lane = adapter_for(fake_client).lane(fake_client)
    assert lane.pipeline([("SET", "{q}:k", "v"), ("GET", "{q}:k")]) == [True, b"v"]
    assert lane._connection is None


def test_a_cut_connection_fails_a_pipeline_and_the_next_one_connects_again(real_client, prefix):
    lane = Lane(real_client)
    lane.pipeline([("PING",)])
    real_client.client_kill_filter(_type="normal", skipme=True)
    with pytest.raises(redis.ConnectionError):
        lane.pipeline([("SET", f"{prefix}:k", "v")])
    assert lane.pipeline([("SET", f"{prefix}:k", "w"), ("GET", f"{prefix}:k")]) == [b"OK", b"w"]
    lane.close()
