"""Lanes: a connection of its own for the script calls of the fetch and settle loops."""

import gevent
import pytest
import redis

from gjobs.lane import Lane

ECHO = "return {KEYS[1], ARGV[1]}"


@pytest.fixture
def echo(real_client):
    return real_client.register_script(ECHO)


def in_use(client):
    return len(client.connection_pool._in_use_connections)


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


def test_a_call_made_while_another_is_under_way_goes_through_the_pool(real_client, echo):
    lane = Lane(real_client)
    blocked = gevent.spawn(lane.execute, "BLPOP", "{lane-test}:nothing", 0.3)
    gevent.sleep(0.05)  # the lane's connection is waiting in BLPOP
    assert lane.run(echo, ["k"], ["meanwhile"]) == [b"k", b"meanwhile"]
    assert blocked.get(timeout=5) is None
    lane.close()


def test_an_in_process_server_is_called_through_its_pool(fake_client):
    script = fake_client.register_script(ECHO)
    lane = Lane(fake_client)
    assert lane.run(script, ["k"], ["a"]) == [b"k", b"a"]
    assert lane._connection is None
