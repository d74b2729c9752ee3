"""The concurrency limit shared by the fetch loops of several queues (``gjobs.slots.Slots``).

A loop's ``rank`` is its queue's priority (0 first). These tests drive the loops by hand, so
every interleaving they check is deterministic; the real loops are tested in test_multi_server.
"""

import random

import gevent
import pytest

from gjobs.slots import Slots

from .helpers import run_ready_greenlets

HIGH, LOW = 0, 1


def waiter(slots, most, rank):
    """A loop waiting for slots; its greenlet's value is the grant."""
    greenlet = gevent.spawn(slots.acquire, most, rank)
    run_ready_greenlets()  # it has asked: it holds its grant, or it is registered as waiting
    return greenlet


def test_a_free_slot_is_granted_at_once_up_to_the_number_asked():
    slots = Slots(5)
    assert slots.acquire(3) == 3
    assert slots.acquire(10) == 2
    assert (slots.free, slots.used) == (0, 5)


@pytest.mark.parametrize("total", [0, -1, 2.5, True, "3"])
def test_a_total_that_is_not_a_positive_integer_is_refused(total):
    with pytest.raises(ValueError, match="total"):
        Slots(total)


@pytest.mark.parametrize("weights", [[], [1, 0], [2, -1], [float("nan")]])
def test_weights_that_are_not_positive_are_refused(weights):
    with pytest.raises(ValueError, match="weights"):
        Slots(4, weights)


def test_a_loop_waits_until_a_slot_is_released():
    slots = Slots(1)
    slots.acquire(1)
    other = waiter(slots, 5, 0)
    assert not other.ready()
    slots.release()
    assert other.get(timeout=1) == 1


def test_grants_never_exceed_the_total_under_many_loops():
    """Six loops (one per rank, as each queue has one fetch loop) take and give back slots at
    random; at no point do the grants outstanding exceed the total, and at the end every slot is
    free again."""
    slots = Slots(7, weights=None)
    chance = random.Random(5)
    held = [0]
    peak = [0]

    def loop(rank):
        for _ in range(60):
            granted = slots.acquire(chance.randint(1, 4), rank)
            assert 1 <= granted
            held[0] += granted
            peak[0] = max(peak[0], held[0])
            assert held[0] <= slots.total and slots.free >= 0
            for _ in range(granted):
                gevent.sleep(0)
                held[0] -= 1
                slots.release()
            if chance.random() < 0.3:
                slots.idle(rank)
        slots.leave(rank)  # as a stopping server does: lower ranks no longer defer to it

    loops = [gevent.spawn(loop, rank) for rank in range(6)]
    gevent.joinall(loops, raise_error=True, timeout=10)
    assert all(greenlet.dead for greenlet in loops)
    assert peak[0] == slots.total  # the limit was reached, and never passed
    assert (held[0], slots.free) == (0, slots.total)


def test_grants_never_exceed_the_total_with_weights_either():
    slots = Slots(3, weights=[3, 1, 2, 1])
    random.seed(11)
    held = [0]

    def loop(rank):
        for _ in range(100):
            granted = slots.acquire(2, rank)
            held[0] += granted
            assert held[0] <= slots.total
            gevent.sleep(0)
            held[0] -= granted
            slots.release(granted)
        slots.leave(rank)

    loops = [gevent.spawn(loop, rank) for rank in range(4)]
    gevent.joinall(loops, raise_error=True, timeout=10)
    assert all(greenlet.dead for greenlet in loops)
    assert slots.free == slots.total


# -- strict priority ------------------------------------------------------------------------------


def test_a_freed_slot_goes_to_the_waiting_high_queue_before_the_low_one():
    slots = Slots(1)
    slots.acquire(1, HIGH)
    low = waiter(slots, 1, LOW)
    high = waiter(slots, 1, HIGH)
    slots.release()
    assert high.get(timeout=1) == 1
    assert not low.ready()


def test_the_low_queue_gets_nothing_while_the_high_one_is_mid_fetch():
    """The race strict priority must survive: slots freed while the high loop's fetch is under
    way (so it is not waiting) are kept for it, and it takes them when it asks again."""
    slots = Slots(4)
    assert slots.acquire(4, HIGH) == 4  # the high loop fetches; its jobs run
    low = waiter(slots, 4, LOW)
    slots.release(2)  # two of the high jobs end while the high loop is still fetching
    run_ready_greenlets()  # a low loop granted them would have woken up and returned by now
    assert not low.ready() and slots.free == 2
    assert slots.acquire(4, HIGH) == 2  # the high loop comes back for more: they are its
    slots.release(4)  # all four high jobs end while the high loop fetches again...
    run_ready_greenlets()
    assert not low.ready() and slots.free == 4  # ...and still none go to the low one
    slots.idle(HIGH)  # the high loop finds its queue empty: now the low one gets its first grant
    assert low.get(timeout=1) == 4  # all four at once: it had been granted nothing before


def test_the_low_queue_gets_nothing_while_the_high_one_has_a_backlog():
    """A busy high queue: every freed slot goes back to it, over many rounds."""
    slots = Slots(3)
    granted_low = []
    low = gevent.spawn(lambda: granted_low.append(slots.acquire(3, LOW)))
    high_taken = slots.acquire(3, HIGH)
    for _ in range(50):
        high = waiter(slots, 3, HIGH)
        slots.release(1)
        high_taken += high.get(timeout=1)
        high_taken -= 1
        assert granted_low == []
    assert high_taken == 3
    low.kill()


def test_a_high_queue_that_has_not_fetched_yet_keeps_precedence():
    slots = Slots(2)
    slots.enter(HIGH)  # its server started; its loop has not asked for slots yet
    low = waiter(slots, 2, LOW)
    assert not low.ready()
    assert slots.acquire(1, HIGH) == 1
    slots.idle(HIGH)
    assert low.get(timeout=1) == 1


def test_a_high_queue_found_empty_lets_the_low_one_take_the_free_slots():
    slots = Slots(4)
    slots.acquire(4, HIGH)
    low = waiter(slots, 4, LOW)
    slots.release(3)  # the high loop found 1 job: it gives back the rest...
    assert not low.ready()
    slots.idle(HIGH)  # ...and blocks on its empty queue holding one slot
    assert low.get(timeout=1) == 3


def test_a_high_queue_that_stops_lets_the_low_one_go():
    slots = Slots(2)
    slots.acquire(2, HIGH)
    low = waiter(slots, 2, LOW)
    slots.release(2)
    assert not low.ready()
    slots.leave(HIGH)
    assert low.get(timeout=1) == 2


def test_a_low_loop_that_claimed_a_job_takes_no_more_slots_while_the_high_one_fetches():
    slots = Slots(4)
    assert slots.acquire(2, HIGH) == 2
    assert slots.try_acquire(5, LOW) == 0
    slots.idle(HIGH)
    assert slots.try_acquire(5, LOW) == 2


def test_a_low_queue_takes_what_is_free_while_the_high_one_is_idle():
    slots = Slots(5)
    slots.idle(HIGH)
    assert slots.acquire(3, LOW) == 3
    assert slots.try_acquire(5, LOW) == 2


# -- weighted choice ------------------------------------------------------------------------------


class Always:
    """Draws that always pick ``rank`` when it takes part (else the first that does)."""

    def __init__(self, rank):
        self.rank = rank

    def choices(self, ranks, weights, k=1):
        return [self.rank if self.rank in ranks else ranks[0]] * k


def shares(weights, rounds, seed):
    """Every queue always waiting (backlogged); one slot freed at a time; grants per rank."""
    slots = Slots(1, weights=weights, rng=random.Random(seed))
    slots.acquire(1, 0)
    counts = [0] * len(weights)
    waiting = {rank: waiter(slots, 1, rank) for rank in range(len(weights))}
    for _ in range(rounds):
        slots.release()
        run_ready_greenlets()
        [rank] = [rank for rank, greenlet in waiting.items() if greenlet.ready()]
        counts[rank] += waiting[rank].get()
        waiting[rank] = waiter(slots, 1, rank)  # it ran its job and wants another
    gevent.killall(list(waiting.values()))
    return counts


def test_weights_3_to_1_share_the_slots_about_3_to_1():
    high, low = shares([3, 1], rounds=800, seed=3)
    assert high + low == 800
    assert 2.5 < high / low < 3.6, (high, low)


def test_weights_share_slots_among_three_queues_in_proportion():
    counts = shares([5, 3, 1], rounds=900, seed=8)
    expected = [500, 300, 100]
    for count, mean in zip(counts, expected):
        assert abs(count - mean) < 0.25 * mean, counts


def test_with_weights_a_queue_mid_fetch_keeps_its_share_of_the_slots_freed_meanwhile():
    """The high loop is never waiting when a slot frees (it is always fetching), the low one
    always is: the high queue still gets about 3 slots in 4, kept for it until it asks."""
    slots = Slots(1, weights=[3, 1], rng=random.Random(4))
    slots.acquire(1, HIGH)
    low = waiter(slots, 1, LOW)
    counts = {HIGH: 0, LOW: 0}
    for _ in range(800):
        slots.release()  # the job holding the slot ends
        run_ready_greenlets()  # a low loop granted the slot has woken up and returned
        if low.ready():
            counts[LOW] += low.get()
            low = waiter(slots, 1, LOW)
        else:
            assert slots.free == 1  # kept for the high loop...
            counts[HIGH] += slots.acquire(5, HIGH)  # ...which takes it when its fetch is done
    low.kill()
    assert 2.5 < counts[HIGH] / counts[LOW] < 3.6, counts


def test_with_weights_slots_kept_for_a_queue_found_empty_go_to_the_others():
    slots = Slots(2, weights=[3, 1], rng=Always(HIGH))
    slots.acquire(2, HIGH)
    low = waiter(slots, 2, LOW)
    slots.release(2)
    assert not low.ready()  # drawn for the high loop, which is fetching
    slots.idle(HIGH)
    assert low.get(timeout=1) == 2


def test_with_weights_a_queue_that_stops_gives_up_the_slots_kept_for_it():
    slots = Slots(2, weights=[3, 1], rng=Always(HIGH))
    slots.acquire(2, HIGH)
    low = waiter(slots, 2, LOW)
    slots.release(2)
    slots.leave(HIGH)
    assert low.get(timeout=1) == 2


def test_with_weights_the_first_loops_share_the_free_slots_by_weight():
    slots = Slots(8, weights=[3, 1], rng=random.Random(1))
    slots.enter(HIGH)
    slots.enter(LOW)
    high = slots.acquire(8, HIGH)
    low = slots.acquire(8, LOW)
    assert high + low == 8 and high > low > 0


def test_with_weights_an_idle_queue_draws_nothing():
    slots = Slots(4, weights=[100, 1], rng=random.Random(2))
    slots.idle(HIGH)
    assert slots.acquire(4, LOW) == 4


def test_with_weights_a_loop_that_claimed_a_job_takes_only_what_was_drawn_for_it():
    slots = Slots(4, weights=[3, 1], rng=Always(LOW))
    slots.acquire(1, LOW)
    slots.idle(HIGH)
    assert slots.try_acquire(5, HIGH) == 0  # the 3 free slots were drawn for the low queue
    assert slots.acquire(5, LOW) == 3


# -- loops that end -------------------------------------------------------------------------------


def test_killing_a_waiting_loop_withdraws_it():
    slots = Slots(1)
    slots.acquire(1, HIGH)
    high = waiter(slots, 1, HIGH)
    low = waiter(slots, 1, LOW)
    high.kill()
    slots.release()
    assert low.get(timeout=1) == 1


def test_killing_a_loop_granted_slots_before_it_ran_gives_them_back():
    slots = Slots(3)
    slots.acquire(3, HIGH)
    low = waiter(slots, 3, LOW)
    slots.idle(HIGH)
    low.kill(block=False)  # the kill is on its way...
    slots.release(2)  # ...when the slots are granted to the loop, before it could run again
    assert slots.free == 0
    low.join(timeout=1)
    assert low.dead and slots.free == 2
    assert slots.acquire(3, LOW) == 2
