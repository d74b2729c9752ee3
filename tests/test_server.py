"""The job server: the origin's two tests, and the promises gjobs adds."""

import gc
import time

import fakeredis
import gevent
import gevent.event
import gevent.pool
import pytest
import redis

from gjobs import Buffer, RedisVersionError, Server
from gjobs.connection import check_version, in_process, server_version
from gjobs.processing_list import ProcessingList

from .helpers import Gated, wait_for


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


# -- the promises gjobs adds ------------------------------------------------------------------


def live_greenlets():
    # type(), not isinstance(): a lazy object (Django's settings) answers __class__ by loading itself
    return sum(1 for obj in gc.get_objects() if issubclass(type(obj), gevent.Greenlet) and not obj.dead)


def test_a_plain_callable_is_accepted_as_delegate(make_server):
    jobs = []
    server = make_server(jobs.append)
    server.start()
    server.call({"n": 1})
    wait_for(lambda: jobs == [{"n": 1}])


def test_a_delegate_that_cannot_be_called_is_refused(client, prefix):
    with pytest.raises(TypeError, match="call"):
        Server(object(), client, prefix=prefix)


@pytest.mark.parametrize(
    "option", [{"concurrency": 0}, {"concurrency": 1.5}, {"heartbeat_interval": 0}, {"resolution": -1}]
)
def test_options_out_of_range_are_refused(fake_client, prefix, option):
    with pytest.raises(ValueError):
        Server(Buffer(), fake_client, prefix=prefix, **option)


def test_the_default_parent_runs_as_many_jobs_at_once_as_the_concurrency(fake_client, prefix):
    assert Server(Buffer(), fake_client, prefix=prefix, concurrency=7).parent.size == 7


def test_jobs_are_spawned_in_the_given_parent(make_server):
    class Counting(gevent.pool.Group):
        spawned = 0

        def spawn(self, *args, **kwargs):
            Counting.spawned += 1
            return super().spawn(*args, **kwargs)

    buffer = Buffer()
    server = make_server(buffer, parent=Counting())
    server.start()
    server.call({"n": 1})
    assert buffer.pop(timeout=5) == {"n": 1}
    assert Counting.spawned == 1


def test_start_registers_the_worker(make_server):
    server = make_server(Buffer())
    server.start()
    assert [w["id"] for w in server.queue.registry.workers()] == [server.id]


def test_start_twice_does_nothing_the_second_time(make_server):
    server = make_server(Buffer())
    assert server.start() is True
    greenlets = live_greenlets()
    assert server.start() is False
    assert live_greenlets() == greenlets
    assert server.running


def test_a_busy_worker_takes_no_more_jobs_than_its_free_slots(make_server):
    delegate = Gated()
    busy = make_server(delegate, concurrency=2, worker_id="busy")
    seen = []  # the busy worker's pending list after every move into it
    for name in ("fetch", "wait"):
        original = getattr(busy.processing_list, name)

        def recorded(*args, _original=original, **kwargs):
            result = _original(*args, **kwargs)
            seen.append(busy.processing_list.size())
            return result

        setattr(busy.processing_list, name, recorded)
    busy.queue.enqueue_many([{"n": n} for n in range(10)])
    busy.start()
    wait_for(lambda: busy.in_progress == 2)
    assert busy.queue.ready_list.size() == 8

    idle = make_server(delegate, concurrency=10, worker_id="idle")
    idle.start()
    wait_for(lambda: idle.in_progress == 8, message="the idle worker took the rest")
    assert busy.queue.ready_list.size() == 0
    assert busy.in_progress == 2
    delegate.gate.set()
    wait_for(lambda: busy.queue.completed_count() == 10)
    assert max(seen) <= 2
    assert sorted(delegate.started) == list(range(10))


def test_a_parent_pool_smaller_than_concurrency_bounds_the_jobs_taken(make_server):
    delegate = Gated()
    server = make_server(delegate, parent=gevent.pool.Pool(2), concurrency=25)
    assert server.concurrency == 2
    server.queue.enqueue_many([{"n": n} for n in range(6)])
    server.start()
    wait_for(lambda: server.in_progress == 2)
    assert (server.processing_list.size(), server.queue.ready_list.size()) == (2, 4)
    delegate.gate.set()
    wait_for(lambda: server.queue.completed_count() == 6)


def test_an_idle_server_blocks_on_blmove_with_a_finite_timeout(real_client, prefix, servers):
    def blmove_calls():
        stats = real_client.info("commandstats").get("cmdstat_blmove", {})
        return stats.get("calls", 0)

    server = servers(Buffer(), real_client, prefix, block_timeout=0.1)
    before = blmove_calls()
    server.start()
    # Each blocking fetch gives up after 0.1 s and the loop blocks again.
    wait_for(lambda: blmove_calls() - before >= 3, timeout=5, message="repeated BLMOVE calls")


def test_an_idle_server_stops_within_about_a_second(client, make_server):
    server = make_server(Buffer())
    server.start()
    if not in_process(client):
        wait_for(lambda: any(c.get("cmd") == "blmove" for c in client.client_list()),
                 message="the fetch loop blocked in BLMOVE")
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.5
    assert not server.running


def test_completions_are_settled_in_batches_that_count_them(make_server):
    delegate = Gated()
    server = make_server(delegate, concurrency=50)
    batches = []
    complete = server.processing_list.complete

    def recorded(job_ids, *args):
        batches.append(len(job_ids))
        return complete(job_ids, *args)

    server.processing_list.complete = recorded
    server.queue.enqueue_many([{"n": n} for n in range(50)])
    server.start()
    wait_for(lambda: server.in_progress == 50)
    delegate.gate.set()
    wait_for(lambda: server.queue.completed_count() == 50)
    assert sum(batches) == 50
    assert max(batches) > 1 and len(batches) < 50
    assert server.queue.job_store.size() == 0


def test_a_job_whose_delegate_raises_is_logged_with_its_traceback_and_retried(caplog, make_server):
    runs = []

    def flaky(job):
        runs.append(job)
        if len(runs) == 1:
            raise RuntimeError("boom on the first run")

    server = make_server(flaky, backoff=lambda attempt: 0)
    server.start()
    job_id = server.call({"n": 1})
    wait_for(lambda: server.queue.completed_count() == 1, message="the retry completed")
    assert runs == [{"n": 1}, {"n": 1}]
    failures = [r for r in caplog.records if r.name == "gjobs" and job_id in r.getMessage()]
    assert failures and failures[0].levelname == "ERROR"
    assert "retrying" in failures[0].getMessage()
    assert isinstance(failures[0].exc_info[1], RuntimeError)
    assert "Traceback" in caplog.text and "boom on the first run" in caplog.text


def test_status_string_counts_ready_and_delayed_jobs(make_server):
    server = make_server(Buffer())
    for n in range(3):
        server.call({"n": n})
    for n in range(2):
        server.call({"n": n, "scheduled_at": time.time() + 3600})
    assert server.status_string() == "R=3 D=2 P=0/0"


def test_status_string_counts_this_servers_jobs_in_progress_and_all_completed(client, make_server):
    delegate = Gated()
    server = make_server(delegate, concurrency=1)
    other = make_server(Buffer())
    client.set(server.keys.completed, 4)
    server.start()
    server.call({"n": 1})
    wait_for(lambda: server.in_progress == 1)
    assert server.status_string() == "R=0 D=0 P=1/4"
    assert other.status_string() == "R=0 D=0 P=0/4"
    delegate.gate.set()
    wait_for(lambda: server.status_string() == "R=0 D=0 P=0/5")


def test_status_string_formats_large_counts(client, make_server):
    server = make_server(Buffer())
    client.set(server.keys.completed, 2_340_000)
    client.lpush(server.keys.ready, *range(1234))
    assert server.status_string() == "R=1.23K D=0 P=0/2.34M"


def test_a_started_server_recovers_the_jobs_of_a_dead_worker(client, make_server):
    buffer = Buffer()
    server = make_server(buffer)
    server.queue.enqueue_many([{"n": n} for n in range(3)])
    server.queue.registry.beat("dead-worker", time.time() - 60, {})
    ProcessingList(client, server.keys, "dead-worker").fetch(3)
    server.start()
    wait_for(lambda: len(buffer) == 3, message="the dead worker's jobs ran here")
    assert sorted(job["n"] for job in buffer.drain()) == [0, 1, 2]
    assert [w["id"] for w in server.queue.registry.workers()] == [server.id]


# -- Redis versions ---------------------------------------------------------------------------


class OldRedis(fakeredis.FakeRedis):
    """Answers INFO like a Redis 6.0.9."""

    def info(self, section=None, *args, **kwargs):
        return {"redis_version": "6.0.9"}


class SilentRedis(fakeredis.FakeRedis):
    """Refuses INFO, as a server that renamed it away."""

    def info(self, section=None, *args, **kwargs):
        raise redis.ResponseError("unknown command 'INFO'")


class AncientRedis(SilentRedis):
    """Refuses INFO and does not know LMOVE (Redis before 6.2)."""

    def lmove(self, *args, **kwargs):
        raise redis.ResponseError("unknown command 'LMOVE'")


def test_a_redis_older_than_6_2_is_refused_with_a_clear_message(prefix):
    client = OldRedis(server=fakeredis.FakeServer())
    server = Server(Buffer(), client, prefix=prefix)
    assert server_version(client) == (6, 0, 9)
    with pytest.raises(RedisVersionError, match=r"Redis 6\.2 or newer.*6\.0\.9"):
        server.start()
    assert not server.running
    assert client.keys("*") == []


def test_a_redis_that_hides_its_version_is_probed_for_lmove():
    client = SilentRedis(server=fakeredis.FakeServer())
    check_version(client, "{x}:probe")  # fakeredis knows LMOVE: accepted
    assert client.keys("*") == []


def test_a_redis_that_hides_its_version_and_lacks_lmove_is_refused():
    client = AncientRedis(server=fakeredis.FakeServer())
    with pytest.raises(RedisVersionError, match="unknown"):
        check_version(client)


def test_the_session_redis_is_new_enough(real_client):
    assert server_version(real_client) >= (6, 2, 0)
    check_version(real_client)


def test_a_fetch_batch_lua_could_not_unpack_is_refused(fake_client, prefix):
    with pytest.raises(ValueError, match="fetch_batch"):
        Server(Buffer(), fake_client, prefix=prefix, fetch_batch=1001)


def test_the_largest_fetch_batch_takes_a_thousand_jobs_in_one_call(real_client, prefix):
    server = Server(Buffer(), real_client, prefix=prefix, concurrency=1000, fetch_batch=1000)
    server.queue.enqueue_many([{"n": n} for n in range(1000)])
    jobs, missing, _, _ = server.processing_list.fetch(1000)
    assert len(jobs) == 1000 and missing == []


def _fetch_sizes(server):
    """The ``count`` of every fetch call ``server`` makes from now on."""
    sizes = []
    fetch = server.processing_list.fetch

    def spy(count, claimed=""):
        sizes.append(count)
        return fetch(count, claimed)

    server.processing_list.fetch = spy
    return sizes


@pytest.mark.parametrize("concurrency, largest", [(10, 5), (3, 2), (1, 1)])
def test_by_default_a_fetch_takes_half_the_slots_so_one_half_runs_while_the_other_is_fetched(
    servers, real_client, prefix, concurrency, largest
):
    gate, started = gevent.event.Event(), []
    server = servers(lambda job: (started.append(job), gate.wait()), real_client, prefix, concurrency=concurrency)
    sizes = _fetch_sizes(server)
    server.queue.enqueue_many([{"n": n} for n in range(3 * concurrency)])
    server.start()
    wait_for(lambda: len(started) == concurrency, message="every slot busy")  # both halves run at once
    gate.set()
    wait_for(lambda: len(started) == 3 * concurrency, message="every job started")
    assert max(sizes) == largest


def test_a_fetch_batch_given_is_taken_as_it_is(servers, real_client, prefix):
    started = []
    server = servers(started.append, real_client, prefix, concurrency=10, fetch_batch=10)
    sizes = _fetch_sizes(server)
    server.queue.enqueue_many([{"n": n} for n in range(30)])
    server.start()
    wait_for(lambda: len(started) == 30, message="every job started")
    assert max(sizes) == 10


def test_the_default_fetch_batch_is_half_the_slots_up_to_a_hundred():
    from gjobs.worker.options import Options

    assert [Options().batch_for(slots) for slots in (1, 2, 3, 25, 100, 201, 1000)] == [1, 1, 2, 13, 50, 100, 100]
    assert Options(fetch_batch=7).batch_for(1000) == 7
