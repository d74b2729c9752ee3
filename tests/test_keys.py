"""Every key of a queue lives under one Redis Cluster hash tag, ``{prefix}``."""

import uuid

import pytest
from redis.crc import key_slot

from gjobs import Buffer, Queue, Server
from gjobs.keys import Keys
from gjobs.processing_list import ProcessingList

from .helpers import wait_for

KEY_ATTRIBUTES = [
    "jobs", "attempts", "ready", "delayed", "completed", "missing",
    "workers", "workers_info", "dead", "dead_errors", "wakeup",
]


def every_key(keys):
    return [getattr(keys, name) for name in KEY_ATTRIBUTES] + [keys.pending("host-1-abc"), keys.pending("w2")]


def test_every_key_starts_with_the_hash_tag_of_its_prefix():
    keys = Keys("orders")
    assert keys.tag == "{orders}"
    assert all(key.startswith("{orders}:") for key in every_key(keys))


def test_every_key_of_a_queue_maps_to_one_cluster_slot():
    keys = Keys("orders")
    slots = {key_slot(key.encode()) for key in every_key(keys)}
    assert slots == {key_slot(b"orders")}


def test_keys_of_a_queue_are_all_distinct():
    keys = every_key(Keys("orders"))
    assert len(set(keys)) == len(keys)


def test_different_prefixes_usually_map_to_different_slots():
    prefixes = [f"queue-{i}" for i in range(100)]
    slots = {key_slot(Keys(prefix).ready.encode()) for prefix in prefixes}
    # 100 prefixes over 16,384 slots: a handful of collisions at most.
    assert len(slots) >= 95


def test_the_default_prefix_is_gjobs():
    assert Keys().ready == "{gjobs}:ready"


@pytest.mark.parametrize(
    "prefix", ["", "a{b}", "{a}", "a}", "a b", "tab\t", "new\nline", "é", "a/b", "a*"]
)
def test_bad_prefixes_are_refused(prefix):
    with pytest.raises(ValueError, match="prefix"):
        Keys(prefix)


@pytest.mark.parametrize("prefix", [None, 42, b"bytes"])
def test_prefixes_that_are_not_strings_are_refused(prefix):
    with pytest.raises(ValueError, match="prefix"):
        Keys(prefix)


@pytest.mark.parametrize("prefix", ["a", "A-z_0.9:x", "app:emails", "q-1"])
def test_letters_digits_and_separators_are_accepted(prefix):
    assert Keys(prefix).prefix == prefix


def test_a_queue_refuses_a_bad_prefix(fake_client):
    with pytest.raises(ValueError):
        Queue(fake_client, prefix="a{b}")


def test_a_server_refuses_a_bad_prefix(fake_client):
    with pytest.raises(ValueError):
        Server(Buffer(), fake_client, prefix="a b")


def test_a_working_queue_writes_only_keys_under_its_hash_tag(client, prefix):
    buffer = Buffer()
    server = Server(
        lambda job: buffer.call(job) if job.get("ok") else 1 / 0,
        client, prefix=prefix, heartbeat_interval=0.5, max_attempts=1,
    )
    server.queue.enqueue_in({"ok": True}, 3600)
    server.call({"ok": True})
    server.call({"ok": False})
    ProcessingList(client, server.keys, "other-worker")  # a second worker's list, never written
    server.start()
    try:
        wait_for(lambda: server.queue.completed_count() == 1 and server.queue.dead_set.size() == 1)
        names = {key.decode() for key in client.keys(f"*{prefix}*")}
        assert names, "the queue wrote nothing"
        assert all(name.startswith(f"{{{prefix}}}:") for name in names), names
        assert {key_slot(name.encode()) for name in names} == {key_slot(prefix.encode())}
    finally:
        server.stop(timeout=1)


def test_two_queues_on_one_redis_do_not_share_keys(client):
    first, second = (Queue(client, prefix=f"q-{uuid.uuid4().hex[:8]}") for _ in range(2))
    first.enqueue({"a": 1})
    assert (first.ready_list.size(), second.ready_list.size()) == (1, 0)
