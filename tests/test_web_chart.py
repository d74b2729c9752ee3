"""The dashboard's throughput chart (:mod:`gjobs.web.chart`): its bars add up, stack and scale,
and an hour without jobs draws nothing it cannot."""

import math
import time
from typing import Dict, List, Tuple

import pytest

from gjobs.web import chart as web_chart


def hour(counts: List[Tuple[int, int, int]], start: int = 1_700_000_000) -> List[Dict[str, int]]:
    """A history as :func:`gjobs.counts.history` gives it: ``(succeeded, retried, dead)`` per minute."""
    return [{"minute": start + 60 * index, "succeeded": ok, "retried": retried, "dead": dead}
            for index, (ok, retried, dead) in enumerate(counts)]


def test_the_chart_draws_a_succeeded_and_a_failed_bar_per_minute():
    drawn = web_chart.chart(hour([(1, 0, 0)] * 60))
    assert [bar.kind for bar in drawn.bars] == ["succeeded", "failed"] * 60
    assert [bar.minute for bar in drawn.bars[::2]] == [row["minute"] for row in hour([(1, 0, 0)] * 60)]


def test_the_charts_bars_add_up_to_each_minute_and_to_the_hour():
    counts = [(n % 7, n % 3, n % 2) for n in range(60)]
    drawn = web_chart.chart(hour(counts))
    per_minute = [drawn.bars[i].count + drawn.bars[i + 1].count for i in range(0, len(drawn.bars), 2)]
    assert per_minute == [ok + retried + dead for ok, retried, dead in counts]
    assert drawn.succeeded == sum(c[0] for c in counts) == sum(b.count for b in drawn.bars if b.kind == "succeeded")
    assert drawn.failed == sum(c[1] + c[2] for c in counts) == sum(b.count for b in drawn.bars if b.kind == "failed")
    assert drawn.peak == max(per_minute)


def test_each_minutes_bars_stack_and_the_busiest_minute_fills_the_height():
    counts = [(3, 1, 0), (0, 0, 0), (6, 1, 1), (2, 0, 2)]
    drawn = web_chart.chart(hour(counts))
    floor = web_chart.HEIGHT - web_chart.AXIS
    for ok, failed in zip(drawn.bars[::2], drawn.bars[1::2]):
        assert ok.y + ok.height == pytest.approx(floor)
        assert failed.y + failed.height == pytest.approx(ok.y)
        assert ok.height / floor == pytest.approx(ok.count / drawn.peak)
    tallest = drawn.bars[4].height + drawn.bars[5].height
    assert tallest == pytest.approx(floor)


def test_an_hour_without_jobs_draws_flat_bars_and_no_nan():
    drawn = web_chart.chart(hour([(0, 0, 0)] * 60))
    numbers = [value for bar in drawn.bars for value in (bar.x, bar.y, bar.width, bar.height)]
    assert not any(math.isnan(value) or math.isinf(value) for value in numbers)
    assert {bar.height for bar in drawn.bars} == {0.0}
    assert (drawn.peak, drawn.succeeded, drawn.failed) == (0, 0, 0)


def test_no_history_at_all_draws_no_bar():
    drawn = web_chart.chart([])
    assert (drawn.bars, drawn.labels, drawn.peak) == ([], [], 0)


def test_the_chart_labels_every_tenth_minute_with_its_time():
    drawn = web_chart.chart(hour([(0, 0, 0)] * 60))
    assert [label["text"] for label in drawn.labels] == [
        time.strftime("%H:%M", time.localtime(1_700_000_000 + 600 * n)) for n in range(6)]


def test_merged_histories_add_up_minute_by_minute_and_leave_their_inputs_alone():
    first, second = hour([(1, 2, 3), (4, 5, 6)]), hour([(10, 20, 30), (40, 50, 60)])
    merged = web_chart.merge([first, second])
    assert [(row["succeeded"], row["retried"], row["dead"]) for row in merged] == [(11, 22, 33), (44, 55, 66)]
    assert first == hour([(1, 2, 3), (4, 5, 6)])
