"""``Buffer``: a delegate that keeps the jobs it is given."""

import time

import gevent

from gjobs import Buffer


def test_a_new_buffer_is_empty():
    assert Buffer().empty()


def test_a_buffer_with_a_job_is_not_empty():
    buffer = Buffer()
    buffer.call({"a": 1})
    assert not buffer.empty()


def test_pop_returns_the_job_it_was_given():
    buffer = Buffer()
    buffer.call({"a": 1})
    assert buffer.pop(timeout=1) == {"a": 1}
    assert buffer.empty()


def test_pop_returns_jobs_in_the_order_they_ran():
    buffer = Buffer()
    for n in range(5):
        buffer.call({"n": n})
    assert [buffer.pop(timeout=1)["n"] for _ in range(5)] == [0, 1, 2, 3, 4]


def test_pop_returns_none_on_timeout_and_does_not_raise():
    started = time.monotonic()
    assert Buffer().pop(timeout=0.05) is None
    assert 0.04 <= time.monotonic() - started < 1


def test_pop_with_zero_timeout_returns_none_at_once_when_empty():
    assert Buffer().pop(timeout=0) is None


def test_pop_waits_for_a_job_that_comes_later():
    buffer = Buffer()
    later = gevent.spawn_later(0.05, buffer.call, {"late": True})
    assert buffer.pop(timeout=5) == {"late": True}
    later.join()


def test_pop_without_timeout_waits_until_a_job_comes():
    buffer = Buffer()
    waiter = gevent.spawn(buffer.pop)
    gevent.idle()
    assert not waiter.ready()
    buffer.call("job")
    assert waiter.get(timeout=5) == "job"


def test_drain_returns_every_job_kept_without_waiting():
    buffer = Buffer()
    buffer.call(1)
    buffer.call(2)
    assert buffer.drain() == [1, 2]
    assert buffer.drain() == []


def test_len_is_the_number_of_jobs_kept():
    buffer = Buffer()
    buffer.call(1)
    buffer.call(2)
    assert len(buffer) == 2
