"""Connecting to Redis: URLs, version checks, and private clients for background threads.

Three kinds of deployment, one :func:`connect`:

* one server: ``redis://``, ``rediss://`` (TLS), ``unix://``;
* Redis Cluster: ``redis+cluster://[user:password@]host:port[,host:port...]`` (``rediss+cluster``
  for TLS); the nodes listed are where discovery starts, the client finds the others;
* Sentinel: ``redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]``
  (``rediss+sentinel`` for TLS); the hosts are Sentinels, ``service`` the name they monitor, and
  the client always talks to the current master, following failovers.

Query options (``?socket_timeout=5``) go to the client as with redis-py URLs; for Sentinel,
``sentinel_username`` and ``sentinel_password`` authenticate with the Sentinels themselves.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple, cast
from urllib.parse import parse_qsl, unquote

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.connection import URL_QUERY_ARGUMENT_PARSERS
from redis.sentinel import Sentinel, SentinelConnectionPool

#: Oldest Redis that has BLMOVE and RPOP with a count.
MIN_REDIS_VERSION = (6, 2, 0)

DEFAULT_URL = "redis://localhost:6379/0"

#: Port assumed for a cluster node named without one.
DEFAULT_CLUSTER_PORT = 6379
#: Port assumed for a Sentinel named without one.
DEFAULT_SENTINEL_PORT = 26379

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")


class RedisVersionError(RuntimeError):
    """The Redis server is too old for gjobs."""


class NotReplicatedError(redis.RedisError):
    """A write reached the master, but fewer replicas than asked acknowledged it in time.

    It may still be lost by a failover: the caller decides whether to write it again.
    """


class MultiHostURL(NamedTuple):
    """A ``redis+cluster://`` or ``redis+sentinel://`` URL, taken apart."""

    scheme: str
    username: Optional[str]
    password: Optional[str]
    hosts: List[Tuple[str, int]]
    path: List[str]
    query: Dict[str, Any]


def parse_multi_host(url: str, default_port: int) -> MultiHostURL:
    """Split ``scheme://[user:password@]host[:port][,host[:port]...][/path...][?query]``.

    Hosts may be IPv6 literals in brackets. Raises ``ValueError`` for a URL without hosts or
    with a bad port or query value.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a URL: {redact(url)!r}")
    rest, _, query_text = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, at, hostlist = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    hosts = []
    for item in hostlist.split(","):
        item = item.strip()
        if not item:
            continue
        match = re.fullmatch(r"\[(?P<v6>[^\]]+)\](?::(?P<p6>\d+))?|(?P<host>[^:\[\]]+)(?::(?P<port>\d*))?", item)
        if match is None:
            raise ValueError(f"bad host {item!r} in {redact(url)!r}")
        host = match.group("v6") or match.group("host")
        port = match.group("p6") or match.group("port")
        hosts.append((host, int(port) if port else default_port))
    if not hosts:
        raise ValueError(f"no host in {redact(url)!r}")
    query: Dict[str, Any] = {}
    for name, value in parse_qsl(query_text):
        parser = cast(Optional[Callable[[str], Any]], URL_QUERY_ARGUMENT_PARSERS.get(name))
        try:
            query[name] = parser(value) if parser else value
        except (TypeError, ValueError):
            raise ValueError(f"invalid value for {name!r} in {redact(url)!r}") from None
    return MultiHostURL(
        scheme.lower(), username, password, hosts, [unquote(p) for p in path.split("/") if p], query
    )


def connect(url: str = DEFAULT_URL, **options: Any) -> Any:
    """A redis-py client for ``url``: one server, a Cluster or a Sentinel-managed master.

    ``redis://``, ``rediss://`` and ``unix://`` give a ``redis.Redis``; ``redis+cluster://``
    gives a ``redis.cluster.RedisCluster``; ``redis+sentinel://`` a ``redis.Redis`` bound to the
    service's current master (see the module docstring for the URL forms).

    Credentials in the URL are used and never logged (see :func:`redact`). ``options`` go to
    the client (query options in the URL win over them, as in redis-py); a health check every
    30 s is the default so that connections idle in a pool are tested before use. Raises
    ``ValueError`` for a malformed URL.
    """
    options.setdefault("health_check_interval", 30)
    scheme = url.partition("://")[0].lower()
    if scheme in CLUSTER_SCHEMES:
        return _connect_cluster(parse_multi_host(url, DEFAULT_CLUSTER_PORT), options)
    if scheme in SENTINEL_SCHEMES:
        return _connect_sentinel(parse_multi_host(url, DEFAULT_SENTINEL_PORT), options)
    return redis.Redis.from_url(url, **options)


def _credentials(parsed: MultiHostURL, options: Dict[str, Any]) -> Dict[str, Any]:
    options = dict(options, **parsed.query)
    if parsed.username is not None:
        options["username"] = parsed.username
    if parsed.password is not None:
        options["password"] = parsed.password
    if parsed.scheme.startswith("rediss"):
        options["ssl"] = True
    return options


def _connect_cluster(parsed: MultiHostURL, options: Dict[str, Any]) -> RedisCluster:
    if parsed.path and parsed.path != ["0"]:
        raise ValueError("a Redis Cluster has only database 0; drop the path from the URL")
    options = _credentials(parsed, options)
    if options.pop("db", 0) not in (0, None):
        raise ValueError("a Redis Cluster has only database 0")
    nodes = [cast(Any, ClusterNode)(host, port) for host, port in parsed.hosts]
    return RedisCluster(startup_nodes=nodes, **options)


def _connect_sentinel(parsed: MultiHostURL, options: Dict[str, Any]) -> Any:
    if not parsed.path or len(parsed.path) > 2:
        raise ValueError("a Sentinel URL ends with /SERVICE_NAME or /SERVICE_NAME/DB")
    options = _credentials(parsed, options)
    if len(parsed.path) == 2:
        if not parsed.path[1].isdigit():
            raise ValueError(f"database must be a number, not {parsed.path[1]!r}")
        options["db"] = int(parsed.path[1])
    sentinel_kwargs: Dict[str, Any] = {
        key: options[key] for key in ("socket_timeout", "socket_connect_timeout", "ssl") if key in options
    }
    for key in ("sentinel_username", "sentinel_password"):
        if key in options:
            sentinel_kwargs[key[len("sentinel_"):]] = options.pop(key)
    manager = cast(Any, Sentinel)(parsed.hosts, sentinel_kwargs=sentinel_kwargs)
    return manager.master_for(parsed.path[0], **options)


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``, for logs and status lines.

    Covers ``user:password@`` (in every scheme, with one or many hosts) and ``password=`` or
    ``sentinel_password=`` query options.
    """
    url = re.sub(r"(?<=://)([^:@/]*):([^@/]*)@", lambda m: f"{m.group(1)}:***@", url)
    return re.sub(r"(?<=[?&])((?:sentinel_)?password)=[^&#]*", r"\1=***", url)


def is_cluster(client: Any) -> bool:
    """True for a ``RedisCluster`` client (or one of its pipelines)."""
    return isinstance(client, RedisCluster)


def socket_timeout(client: Any) -> Optional[float]:
    """The client's ``socket_timeout`` in seconds, or None when it has none or does not say."""
    if is_cluster(client):
        return cast(Optional[float], client.nodes_manager.connection_kwargs.get("socket_timeout"))
    pool = getattr(client, "connection_pool", None)
    return pool.connection_kwargs.get("socket_timeout") if pool is not None else None


def node_client(client: Any, key: str) -> Any:
    """A client for the one server that holds ``key``: ``client`` itself, except on a cluster,
    where it is the client of the master that owns the key's slot.

    For commands that must run on the connection that wrote (``WAIT``), in a pipeline with the
    write itself, which a cluster pipeline cannot do with scripts.
    """
    if not is_cluster(client):
        return client
    return client.get_redis_connection(client.get_node_from_key(key))


def server_version(client: Any) -> Tuple[int, ...]:
    """The server's version as a tuple of ints, or ``()`` when it does not say (no INFO)."""
    try:
        info = client.info("server")
    except redis.ResponseError:
        return ()
    if info and all(isinstance(value, dict) for value in info.values()):
        # A cluster client asked several nodes: the oldest of them decides.
        versions = [_version(node) for node in info.values()]
        return min(versions) if all(versions) else ()
    return _version(info)


def _version(info: Dict[str, Any]) -> Tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", str(info.get("redis_version", "")))[:3])


def check_version(client: Any, probe_key: str = "{gjobs}:probe") -> None:
    """Raise :class:`RedisVersionError` with a clear message if the server is older than 6.2.

    Servers that do not answer INFO (it can be renamed away) are probed with an LMOVE on
    ``probe_key``, a key that does not exist, which changes nothing.
    """
    version = server_version(client)
    if version and version < MIN_REDIS_VERSION:
        found = ".".join(map(str, version))
    elif version:
        return
    else:
        try:
            client.lmove(probe_key, probe_key, "RIGHT", "LEFT")
            return
        except redis.ResponseError:
            found = "unknown (it does not know LMOVE)"
    raise RedisVersionError(
        f"gjobs needs Redis 6.2 or newer (for BLMOVE and RPOP with a count); this server is {found}"
    )


def eviction_warning(client: Any) -> Optional[str]:
    """A warning when Redis may delete keys to make room (a ``maxmemory-policy`` other than
    ``noeviction``): queued jobs would then vanish without a trace. None when it will not, or
    when the server does not say (``INFO`` refused by an ACL, for one).
    """
    try:
        info = client.info("memory")
    except redis.RedisError:
        return None
    nodes = info.values() if info and all(isinstance(v, dict) for v in info.values()) else [info]
    policies = sorted({str(node.get("maxmemory_policy")) for node in nodes if node.get("maxmemory_policy")})
    evicting = [policy for policy in policies if policy != "noeviction"]
    if not evicting:
        return None
    return (
        f"Redis maxmemory-policy is {', '.join(evicting)}: when memory runs short Redis deletes keys, "
        "queued jobs included, without an error; set maxmemory-policy noeviction for gjobs' Redis"
    )


def in_process(client: Any) -> bool:
    """True for fakeredis: its server lives in this process, behind locks that gevent patched.

    Its blocking commands return at once under gevent, and its locks cannot be shared with a
    native thread, so gjobs polls instead of blocking and beats from a greenlet on it.
    """
    return type(client).__module__.startswith("fakeredis")


def close(client: Any) -> None:
    """Close ``client`` and every connection of its pool (``Redis.close`` leaves the pool of a
    client built on a pool given to it open)."""
    client.close()
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        pool.disconnect()


def clone(client: Any) -> Any:
    """A new client to the same server (or cluster, or Sentinel service) with connections of its
    own, for use in another OS thread.

    Sharing a pool across threads under gevent would pass gevent locks and sockets between hubs.
    The clone holds no open connection: each is opened by the thread that uses it.
    """
    if is_cluster(client):
        return _clone_cluster(client)
    pool = client.connection_pool
    if isinstance(pool, SentinelConnectionPool):
        return _clone_sentinel(client, pool)
    new_pool = type(pool)(connection_class=pool.connection_class, **pool.connection_kwargs)
    return type(client)(connection_pool=new_pool)


def _clone_cluster(client: RedisCluster) -> RedisCluster:
    manager = client.nodes_manager
    kwargs = dict(manager.connection_kwargs)
    kwargs.pop("redis_connect_func", None)  # bound to the original client
    if client.user_on_connect_func is not None:
        kwargs["redis_connect_func"] = client.user_on_connect_func
    if client.read_from_replicas:  # deprecated in redis-py: passed only when it was set
        kwargs["read_from_replicas"] = True
    copy = type(client)(
        startup_nodes=[cast(Any, ClusterNode)(node.host, node.port) for node in cast(Any, client).get_nodes()],
        require_full_coverage=manager._require_full_coverage,
        reinitialize_steps=client.reinitialize_steps,
        load_balancing_strategy=client.load_balancing_strategy,
        address_remap=manager.address_remap,
        retry=client.retry,
        **kwargs,
    )
    # Building it asked the cluster for its topology from this thread: drop those connections.
    cast(Any, copy).disconnect_connection_pools()
    return copy


def _clone_sentinel(client: Any, pool: SentinelConnectionPool) -> Any:
    manager = pool.sentinel_manager
    sentinels = [
        (node.connection_pool.connection_kwargs["host"], node.connection_pool.connection_kwargs["port"])
        for node in manager.sentinels
    ]
    copy = cast(Any, Sentinel)(
        sentinels,
        min_other_sentinels=manager.min_other_sentinels,
        sentinel_kwargs=manager.sentinel_kwargs,
        **manager.connection_kwargs,
    )
    kwargs = {k: v for k, v in pool.connection_kwargs.items() if k != "connection_pool"}
    kwargs["connection_class"] = pool.connection_class
    return copy.master_for(
        pool.service_name, redis_class=type(client), connection_pool_class=type(pool), **kwargs
    )
