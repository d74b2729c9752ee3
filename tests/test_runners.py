"""Runners: the reusable job greenlets a server spawns its jobs in by default."""

import gevent
import gevent.event
import pytest

from gjobs.runners import Runners

from .helpers import wait_for


def test_spawn_runs_the_call_and_returns_the_greenlet_running_it():
    runners = Runners(2)
    seen = []
    runner = runners.spawn(lambda *args: seen.append((gevent.getcurrent(), args)), 1, "two")
    wait_for(lambda: seen)
    assert seen == [(runner, (1, "two"))]
    runners.kill()


def test_a_finished_runner_runs_the_next_call():
    runners = Runners(4)
    ran_in = []
    first = runners.spawn(lambda: ran_in.append(gevent.getcurrent()))
    wait_for(lambda: len(ran_in) == 1)
    second = runners.spawn(lambda: ran_in.append(gevent.getcurrent()))
    wait_for(lambda: len(ran_in) == 2)
    assert first is second is ran_in[0] is ran_in[1]
    runners.kill()


def test_at_most_size_calls_run_at_once_and_spawn_waits_for_a_free_runner():
    runners = Runners(2)
    gate = gevent.event.Event()
    started = []
    ran_in = {}
    running = [0]
    peak = [0]

    def held(n):
        started.append(n)
        ran_in[n] = gevent.getcurrent()
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        gate.wait()
        running[0] -= 1

    runners.spawn(held, 1)
    runners.spawn(held, 2)
    calling = []

    def third_spawn():
        calling.append(True)
        return runners.spawn(held, 3)  # nothing in between: it returns or waits right here

    third = gevent.spawn(third_spawn)
    wait_for(lambda: len(started) >= 2 and calling, message="two calls running and a third spawn called")
    # This greenlet runs again, so the third one has given up the CPU since it called spawn: it
    # had a runner at once (it would be dead now), or it is waiting for one.
    assert not third.ready(), "spawn did not wait for a free runner"
    assert started == [1, 2] and len(runners) == 2
    gate.set()
    runner = third.get(timeout=10)
    wait_for(lambda: started == [1, 2, 3])
    assert runner is ran_in[3] and runner in (ran_in[1], ran_in[2])  # one of the two, freed
    assert peak[0] == 2
    runners.kill()


def test_an_exception_in_a_call_is_reported_and_the_runner_goes_on():
    runners = Runners(1)
    ran = []
    hub = gevent.get_hub()
    reported = []
    original = hub.handle_error
    hub.handle_error = lambda context, kind, value, tb: reported.append(kind)
    try:
        first = runners.spawn(lambda: 1 / 0)
        second = runners.spawn(lambda: ran.append(gevent.getcurrent()))
        wait_for(lambda: ran)
    finally:
        hub.handle_error = original
    assert reported == [ZeroDivisionError]
    assert ran == [first] and first is second and not first.dead
    runners.kill()


def test_killing_the_returned_greenlet_interrupts_its_call_and_a_new_runner_takes_the_next():
    runners = Runners(1)
    started = []
    finished = []

    def slow():
        started.append("slow")
        gevent.sleep(30)
        finished.append("slow")

    runner = runners.spawn(slow)
    wait_for(lambda: started, message="the call to start")  # so the kill interrupts it
    runner.kill(block=True)
    assert finished == [] and runner.dead
    other = runners.spawn(lambda: finished.append("next"))
    wait_for(lambda: finished == ["next"])
    assert other is not runner
    runners.kill()


def test_greenlet_exit_raised_by_a_call_ends_its_runner_only():
    runners = Runners(1)
    ran = []

    def leave():
        raise gevent.GreenletExit()

    gone = runners.spawn(leave)
    wait_for(lambda: gone.dead)
    runners.spawn(lambda: ran.append(1))
    wait_for(lambda: ran == [1])
    assert len(runners) == 0
    runners.kill()


def test_kill_ends_every_runner_busy_or_idle():
    runners = Runners(3)
    idle = runners.spawn(lambda: None)
    busy = runners.spawn(gevent.sleep, 30)
    wait_for(lambda: len(runners) == 1)
    runners.kill()
    assert idle.dead and busy.dead and len(runners) == 0


def test_size_must_be_a_positive_integer():
    for size in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            Runners(size)
