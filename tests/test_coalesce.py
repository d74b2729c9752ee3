"""The coalescer: callers waiting at the same moment share one call, each with its own outcome.

Here ``send`` is a plain function (no Redis), so every promise is about the coalescer alone; the
queue's use of it, on real Redis and fakeredis, is in ``test_batch_enqueue.py``. The test process
is gevent-patched: callers are greenlets, and ``threading`` is gevent's.
"""

import gevent
import gevent.event
import pytest

from gjobs import coalesce
from gjobs.coalesce import Coalescer, Interrupted
from tests.helpers import run_ready_greenlets, wait_for


class Recorder:
    """A ``send`` that records each call's items and holds the calls numbered in ``hold``
    (1-based) until :meth:`release`; ``fail`` maps an item to the error the other side gives it,
    ``error`` is raised by every call not held (when set)."""

    def __init__(self, hold=(), fail=None, error=None):
        self.calls = []
        self.gates = {n: (gevent.event.Event(), gevent.event.Event()) for n in hold}
        self.fail = fail or {}
        self.error = error
        self.senders = {}
        self.raised = []

    def __call__(self, items):
        self.calls.append(list(items))
        number = len(self.calls)
        if number in self.gates:
            self.senders[number] = gevent.getcurrent()
            inside, release = self.gates[number]
            inside.set()
            release.wait()
        elif self.error is not None:
            self.raised.append(type(self.error)(*self.error.args))  # a fresh one per call
            raise self.raised[-1]
        return [self.fail.get(item) for item in items]

    def inside(self, number=1):
        self.gates[number][0].wait()

    def release(self, number=1):
        self.gates[number][1].set()


def coalescer(send, limit=500, budget=1 << 20, **options):
    return Coalescer(send, limit, budget, **options)


def queue_behind(co, items, sizes=None):
    """Spawn one caller per item, each queued (in order) behind the call under way."""
    callers = []
    for n, item in enumerate(items):
        size = sizes[n] if sizes else 0
        callers.append(gevent.spawn(co.submit, item, size))
        wait_for(lambda n=n: co.waiting == n + 1, message=f"caller {item!r} queued")
    return callers


def test_a_lone_caller_is_sent_at_once_alone_without_yielding():
    send = Recorder()
    co = coalescer(send)
    witness = []
    gevent.spawn(witness.append, "ran")
    co.submit("a")
    assert send.calls == [["a"]]
    assert witness == []  # no other greenlet ran: the call never yielded


def test_callers_arriving_during_a_call_go_out_together_in_the_order_they_queued():
    send = Recorder(hold=[1])
    co = coalescer(send)
    first = gevent.spawn(co.submit, "first")
    send.inside()
    callers = queue_behind(co, ["b", "c", "d"])
    send.release()
    gevent.joinall([first, *callers], raise_error=True)
    assert send.calls[0] == ["first"]
    assert [item for call in send.calls[1:] for item in call] == ["b", "c", "d"]
    assert len(send.calls) < 1 + 3


def test_a_batch_holds_at_most_limit_items():
    send = Recorder(hold=[1])
    co = coalescer(send, limit=3)
    first = gevent.spawn(co.submit, "first")
    send.inside()
    callers = queue_behind(co, list("bcdefgh"))
    send.release()
    gevent.joinall([first, *callers], raise_error=True)
    assert max(len(call) for call in send.calls) == 3
    assert sorted(item for call in send.calls[1:] for item in call) == list("bcdefgh")


def test_a_batch_holds_at_most_budget_in_sizes_past_its_first_item():
    send = Recorder(hold=[1])
    co = coalescer(send, budget=10)
    first = gevent.spawn(co.submit, "first", 100)
    send.inside()
    callers = queue_behind(co, list("bcdef"), sizes=[6] * 5)
    send.release()
    gevent.joinall([first, *callers], raise_error=True)
    assert send.calls[1] == ["b", "c"]  # d would bring c and d to 12
    assert sorted(item for call in send.calls[1:] for item in call) == list("bcdef")


def test_an_item_the_other_side_refuses_fails_its_own_caller_only():
    refused = ValueError("no")
    send = Recorder(hold=[1], fail={"bad": refused})
    co = coalescer(send)
    first = gevent.spawn(co.submit, "first")
    send.inside()
    good, bad, other = queue_behind(co, ["good", "bad", "other"])
    send.release()
    gevent.joinall([first, good, bad, other])
    assert [g.successful() for g in (first, good, other)] == [True, True, True]
    assert bad.exception is refused


def test_an_error_of_the_whole_call_fails_exactly_its_callers_each_with_its_own_copy():
    send = Recorder(hold=[1], error=ConnectionResetError("cut"))
    co = coalescer(send)
    first = gevent.spawn(co.submit, "first")
    send.inside()
    callers = queue_behind(co, ["b", "c", "d"])
    send.release()
    gevent.joinall([first, *callers])
    assert first.successful()
    errors = [g.exception for g in callers]
    assert all(isinstance(error, ConnectionResetError) and str(error) == "cut" for error in errors)
    assert len({id(error) for error in errors}) == 3  # one object per caller, never shared
    # The sender raises its call's error; a caller it carried, a copy that names it as cause.
    assert all(error in send.raised or error.__cause__ in send.raised for error in errors)


def test_the_call_after_a_failed_one_goes_through():
    send = Recorder(hold=[1], error=ConnectionResetError("cut"))
    co = coalescer(send)
    first = gevent.spawn(co.submit, "first")
    send.inside()
    callers = queue_behind(co, ["b"])
    send.release()
    gevent.joinall([first, *callers])
    send.error = None
    co.submit("later")
    assert send.calls[-1] == ["later"]


def test_a_caller_interrupted_while_queued_is_never_sent():
    send = Recorder(hold=[1])
    co = coalescer(send)
    first = gevent.spawn(co.submit, "first")
    send.inside()
    stays, leaves, last = queue_behind(co, ["stays", "leaves", "last"])
    leaves.kill()
    assert co.waiting == 2
    send.release()
    gevent.joinall([first, stays, last], raise_error=True)
    assert "leaves" not in [item for call in send.calls for item in call]


def test_a_caller_chosen_to_send_next_but_interrupted_hands_the_turn_on():
    send = Recorder(hold=[1])
    co = coalescer(send)
    callers = {}

    def held_then_kill(items):
        result = send(items)
        if items == ["first"]:
            # Scheduled now, so it lands after this call chose "chosen" and before it runs.
            callers["chosen"].kill(block=False)
        return result

    co._send = held_then_kill
    first = gevent.spawn(co.submit, "first")
    send.inside()
    callers["chosen"], after = queue_behind(co, ["chosen", "after"])
    send.release()
    gevent.joinall([first, after], raise_error=True)
    assert send.calls == [["first"], ["after"]]


def test_a_sender_cut_short_fails_its_carried_callers_as_interrupted():
    send = Recorder(hold=[1, 2])
    co = coalescer(send)
    first = gevent.spawn(co.submit, "first")
    send.inside(1)
    callers = queue_behind(co, ["b", "c", "d", "e"])
    send.release(1)
    send.inside(2)
    sender = send.senders[2]
    carried = [g for g, item in zip(callers, "bcde") if item in send.calls[1] and g is not sender]
    sender.kill(gevent.Timeout())  # the sender's own timeout, mid-call
    gevent.joinall(carried)
    assert carried and all(isinstance(g.exception, Interrupted) for g in carried)
    assert all("cut short" in str(g.exception) for g in carried)
    gevent.joinall([first, *callers])


def test_the_call_after_a_sender_was_cut_short_goes_through():
    send = Recorder(hold=[1])
    co = coalescer(send)
    first = gevent.spawn(co.submit, "first")
    send.inside()
    first.kill(gevent.Timeout())
    co.submit("next")
    assert send.calls[-1] == ["next"]


def test_idle_is_called_when_the_last_call_ends_with_none_following():
    idle = []
    send = Recorder(hold=[1])
    co = coalescer(send, idle=lambda: idle.append(len(send.calls)))
    first = gevent.spawn(co.submit, "first")
    send.inside()
    callers = queue_behind(co, ["b", "c", "d"])
    send.release()
    gevent.joinall([first, *callers], raise_error=True)
    assert idle == [len(send.calls)]  # once, after the last call, not between calls


def test_callers_just_settled_come_back_before_a_lone_call_goes_out():
    """A call whose reply is already there never yields: without care, the first caller back
    would go out alone again and again while those settled with it wait to run."""
    events = []
    send = Recorder(hold=[1, 2])

    def recording(items):
        events.append("sent " + ",".join(items))
        return send(items)

    def b():
        co.submit("b")
        events.append("b back")
        co.submit("b again")  # at once, as a caller making one call after another does

    def c():
        co.submit("c")
        events.append("c back")

    co = coalescer(recording)
    first = gevent.spawn(co.submit, "first")
    send.inside(1)
    callers = []
    for n, target in enumerate([b, c, lambda: co.submit("d")]):
        callers.append(gevent.spawn(target))
        wait_for(lambda n=n: co.waiting == n + 1, message=f"caller {n} queued")
    send.release(1)
    send.inside(2)
    assert send.calls[1] == ["b", "c"]
    callers[2].kill()  # nobody is queued behind when the call carrying c returns
    send.release(2)
    gevent.joinall([first, *callers[:2]], raise_error=True)
    assert events.index("c back") < events.index("sent b again")


def test_a_coalescer_copied_by_a_fork_with_a_call_under_way_starts_afresh(monkeypatch):
    send = Recorder(hold=[1])
    co = coalescer(send)
    first = gevent.spawn(co.submit, "first")
    send.inside()
    monkeypatch.setattr(coalesce, "_generation", coalesce._generation)
    coalesce._forked()  # what the child of a fork sees: the call under way is the parent's
    child = gevent.spawn(co.submit, "child")
    run_ready_greenlets()
    assert child.dead and child.successful()  # went straight out, not queued behind "first"
    send.release()
    first.join()


@pytest.mark.parametrize("error", [KeyboardInterrupt(), gevent.GreenletExit()])
def test_an_interruption_of_the_sender_is_not_raised_in_the_others(error):
    shared = coalesce._shared(error)
    assert isinstance(shared, Interrupted) and shared.__cause__ is error
