"""Connecting: URLs for one server, a Cluster or Sentinel; redaction; private clients for threads.

Nothing here needs a Cluster or Sentinels to be running: Sentinel clients connect lazily, and
the Cluster client is covered against a real cluster in ``test_cluster.py``.
"""

import pytest
import redis
from redis.sentinel import SentinelConnectionPool

from gjobs import connect
from gjobs.connection import clone, is_cluster, parse_multi_host, redact, socket_timeout

# -- URLs -----------------------------------------------------------------------------------------


def test_a_multi_host_url_lists_every_host_in_order():
    parsed = parse_multi_host("redis+cluster://10.0.0.1:7000,10.0.0.2:7001,node3:7002", 6379)
    assert parsed.hosts == [("10.0.0.1", 7000), ("10.0.0.2", 7001), ("node3", 7002)]


def test_a_host_without_a_port_gets_the_default_port():
    assert parse_multi_host("redis+sentinel://a,b:5/svc", 26379).hosts == [("a", 26379), ("b", 5)]


def test_ipv6_hosts_are_written_in_brackets():
    assert parse_multi_host("redis+cluster://[::1]:7000,[fe80::2]", 6379).hosts == [("::1", 7000), ("fe80::2", 6379)]


def test_credentials_are_percent_decoded():
    parsed = parse_multi_host("redis+sentinel://ann:p%40ss%2Fw@h:1/svc", 26379)
    assert (parsed.username, parsed.password) == ("ann", "p@ss/w")


def test_a_password_without_a_user_is_kept():
    parsed = parse_multi_host("redis+cluster://:secret@h:1", 6379)
    assert (parsed.username, parsed.password) == (None, "secret")


def test_path_and_query_are_split_and_typed():
    parsed = parse_multi_host("redis+sentinel://h:1/my%20svc/3?socket_timeout=2.5&client_name=x", 26379)
    assert parsed.path == ["my svc", "3"]
    assert parsed.query == {"socket_timeout": 2.5, "client_name": "x"}


@pytest.mark.parametrize("url", ["redis+cluster://", "redis+cluster://,", "redis+cluster://h:port", "nourl"])
def test_a_url_without_valid_hosts_is_refused(url):
    with pytest.raises(ValueError):
        parse_multi_host(url, 6379)


def test_a_bad_query_value_is_refused_without_showing_the_password():
    with pytest.raises(ValueError) as error:
        parse_multi_host("redis+cluster://u:secret@h:1?socket_timeout=soon", 6379)
    assert "secret" not in str(error.value)


# -- connect ----------------------------------------------------------------------------------------


def test_a_plain_url_gives_a_plain_client():
    client = connect("redis://127.0.0.1:1/2")
    assert type(client) is redis.Redis and not is_cluster(client)
    assert client.connection_pool.connection_kwargs["db"] == 2


def test_a_sentinel_url_gives_a_client_bound_to_the_named_service():
    client = connect("redis+sentinel://ann:pw@127.0.0.1:26380,127.0.0.1:26381/orders/4?socket_timeout=3")
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "orders"
    addresses = [(s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
                 for s in pool.sentinel_manager.sentinels]
    assert addresses == [("127.0.0.1", 26380), ("127.0.0.1", 26381)]
    kwargs = pool.connection_kwargs
    assert (kwargs["db"], kwargs["username"], kwargs["password"], kwargs["socket_timeout"]) == (4, "ann", "pw", 3.0)


def test_sentinel_credentials_go_to_the_sentinels_only():
    client = connect("redis+sentinel://127.0.0.1:26380/orders?sentinel_password=s3")
    pool = client.connection_pool
    assert pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs["password"] == "s3"
    assert "sentinel_password" not in pool.connection_kwargs and pool.connection_kwargs.get("password") is None


def test_a_sentinel_url_needs_a_service_name():
    with pytest.raises(ValueError, match="SERVICE_NAME"):
        connect("redis+sentinel://127.0.0.1:26380")


def test_a_sentinel_database_must_be_a_number():
    with pytest.raises(ValueError, match="database"):
        connect("redis+sentinel://127.0.0.1:26380/orders/first")


@pytest.mark.parametrize("url", ["redis+cluster://127.0.0.1:7000/2", "redis+cluster://127.0.0.1:7000?db=1"])
def test_a_cluster_url_cannot_name_a_database(url):
    with pytest.raises(ValueError, match="database 0"):
        connect(url)


def test_the_scheme_is_case_insensitive():
    client = connect("REDIS+SENTINEL://127.0.0.1:26380/orders")
    assert isinstance(client.connection_pool, SentinelConnectionPool)


# -- redact -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, shown",
    [
        ("redis://ann:secret@h:1/0", "redis://ann:***@h:1/0"),
        ("redis+cluster://:secret@a:1,b:2", "redis+cluster://:***@a:1,b:2"),
        ("redis+sentinel://ann:secret@a:1,b:2/svc/0", "redis+sentinel://ann:***@a:1,b:2/svc/0"),
        ("redis+sentinel://a:1/svc?sentinel_password=secret&db=1", "redis+sentinel://a:1/svc?sentinel_password=***&db=1"),
        ("redis://h:1/0?password=secret", "redis://h:1/0?password=***"),
        ("redis+cluster://a:1,b:2", "redis+cluster://a:1,b:2"),
    ],
)
def test_redact_hides_every_password(url, shown):
    assert redact(url) == shown


# -- private clients for the heartbeat thread -------------------------------------------------------


def test_a_clone_has_a_pool_of_its_own_with_the_same_settings():
    client = connect("redis://127.0.0.1:1/3", socket_timeout=4)
    copy = clone(client)
    assert copy.connection_pool is not client.connection_pool
    settings = ("host", "port", "db", "socket_timeout")
    assert [copy.connection_pool.connection_kwargs[k] for k in settings] == ["127.0.0.1", 1, 3, 4]


def test_a_sentinel_clone_asks_its_own_sentinels_for_the_same_service():
    client = connect("redis+sentinel://ann:pw@127.0.0.1:26380,127.0.0.1:26381/orders/4?socket_timeout=3")
    copy = clone(client)
    pool, original = copy.connection_pool, client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "orders"
    assert pool.sentinel_manager is not original.sentinel_manager
    assert pool.sentinel_manager.sentinels[0] is not original.sentinel_manager.sentinels[0]
    settings = ("db", "username", "password", "socket_timeout")
    assert [pool.connection_kwargs[k] for k in settings] == [4, "ann", "pw", 3.0]


def test_socket_timeout_reads_the_clients_setting():
    assert socket_timeout(connect("redis://127.0.0.1:1/0", socket_timeout=2.5)) == 2.5
    assert socket_timeout(connect("redis://127.0.0.1:1/0")) is None
    assert socket_timeout(connect("redis+sentinel://127.0.0.1:1/svc?socket_timeout=1.5")) == 1.5
