"""Waiting on conditions instead of sleeping, and the delegate that holds jobs until told."""

import time

import gevent
import gevent.event


class Gated:
    """A delegate whose jobs run until ``gate`` opens; records each job's ``key`` ("n" by
    default) in ``started`` when it starts and in ``finished`` when it ends."""

    def __init__(self, key="n"):
        self.key = key
        self.gate = gevent.event.Event()
        self.started = []
        self.finished = []

    def call(self, job):
        self.started.append(job[self.key])
        self.gate.wait()
        self.finished.append(job[self.key])


def wait_for(condition, timeout=10.0, interval=0.01, message="condition"):
    """Poll ``condition()`` until it is truthy; return its value, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        gevent.sleep(interval)


def run_ready_greenlets(timeout=10.0):
    """Return once every greenlet that can run now (spawned, or woken by an event already set)
    has run until it blocks or ends.

    gevent starts greenlets and wakes waiters from callbacks it runs in order: a probe greenlet
    spawned now runs after all of them, so once it has ended they have all had their turn. A
    test that must show something did *not* happen observes the state after this point.
    """
    probe = gevent.spawn(lambda: None)
    probe.join(timeout=timeout)
    if not probe.dead:
        raise AssertionError(f"a probe greenlet did not get to run within {timeout} s")


def one_line_error(capsys):
    """The whole of stderr, which must be one ``gjobs: error:`` line, without a traceback."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("gjobs: error: ")
    assert "Traceback" not in err
    return lines[0]
