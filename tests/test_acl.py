"""Redis users restricted by an ACL: the line README gives is enough to run everything, a
refused wake-up never fails an enqueue that was stored, and a worker that lacks a channel or a
key refuses to start, naming it."""

import pytest
import redis

from gjobs import Buffer, Queue, Server
from gjobs.access import AccessError
from gjobs.embedded import RedisProcess

from .helpers import wait_for

PASSWORD = "s3cret"
PREFIX = "acl"
#: The ACL line of README "Restricted Redis users", for the queue ``acl``.
README_RULES = (f"on >{PASSWORD} resetkeys ~{{{PREFIX}}}:* ~gjobs:queues resetchannels &{{{PREFIX}}}:* "
                "-@all +@read +@write +@scripting +@pubsub +@connection +time")


@pytest.fixture(scope="module")
def acl_redis():
    users = {
        "jobs": README_RULES,
        "nochannels": f"on >{PASSWORD} ~* resetchannels +@all",
        "nokeys": f"on >{PASSWORD} resetkeys ~other:* allchannels +@all",
    }
    extra = [arg for name, rules in users.items() for arg in ("--user", name, *rules.split())]
    process = RedisProcess(extra=extra).start()
    yield process
    process.cleanup()


def client_of(process, user):
    return redis.Redis(host="127.0.0.1", port=process.port, username=user, password=PASSWORD)


def test_the_readme_acl_runs_producers_workers_and_operators(acl_redis):
    client = client_of(acl_redis, "jobs")
    queue = Queue(client, PREFIX)
    buffer = Buffer()
    server = Server(buffer, client, prefix=PREFIX, heartbeat_interval=0.5)
    server.start()
    try:
        queue.enqueue({"n": 1})
        queue.enqueue_in({"n": 2}, 0.1)
        assert sorted(job["n"] for job in (buffer.pop(timeout=5), buffer.pop(timeout=5))) == [1, 2]
        wait_for(lambda: queue.completed_count() == 2, message="both jobs settled")
        assert queue.stats()["workers"][0]["id"] == server.id
    finally:
        server.stop(timeout=1)


def test_a_refused_wakeup_never_fails_an_enqueue_that_was_stored(acl_redis, prefix):
    queue = Queue(client_of(acl_redis, "nochannels"), prefix)
    job_id = queue.enqueue_in({"n": 1}, 60)  # its wake-up is refused by the ACL
    assert queue.delayed_jobs.size() == 1 and queue.job_store.get(job_id) is not None


def test_a_worker_that_may_not_subscribe_refuses_to_start_naming_the_channel(acl_redis, prefix):
    server = Server(Buffer(), client_of(acl_redis, "nochannels"), prefix=prefix)
    with pytest.raises(AccessError, match=rf"channels \{{{prefix}\}}:wakeup"):
        server.start()
    assert not server.running


def test_a_worker_that_may_not_use_its_keys_refuses_to_start_naming_them(acl_redis, prefix):
    server = Server(Buffer(), client_of(acl_redis, "nokeys"), prefix=prefix)
    with pytest.raises(AccessError, match="the key 'gjobs:queues'"):
        server.start()
    assert not server.running
