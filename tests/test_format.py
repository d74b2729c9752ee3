"""``format_count``: the status line's numbers, exactly as the reference README writes them."""

import pytest

from gjobs import format_count


@pytest.mark.parametrize("count, text", [(0, "0"), (7, "7"), (999, "999")])
def test_counts_below_a_thousand_are_shown_as_they_are(count, text):
    assert format_count(count) == text


@pytest.mark.parametrize(
    "count, text",
    [
        (1000, "1.0K"),
        (1234, "1.23K"),
        (1999, "2.0K"),
        (999999, "1000.0K"),
        (2340000, "2.34M"),
        (10**9, "1.0B"),
    ],
)
def test_larger_counts_are_divided_per_thousand_with_a_unit(count, text):
    assert format_count(count) == text


def test_halves_round_away_from_zero_like_ruby():
    # 1.235 is 1.2349999... in binary: Python's round() would give 1.23.
    assert format_count(1235) == "1.24K"


def test_the_unit_is_chosen_before_rounding():
    assert format_count(999999) == "1000.0K"


@pytest.mark.parametrize("count, text", [(-1, "-1"), (-999, "-999"), (-1234, "-1.23K"), (-2340000, "-2.34M")])
def test_negative_counts_keep_their_sign(count, text):
    assert format_count(count) == text


@pytest.mark.parametrize(
    "count, text", [(10**12, "1.0T"), (10**15, "1.0P"), (10**18, "1.0E"), (10**21, "1.0Z"), (10**24, "1.0Y")]
)
def test_every_unit_up_to_yotta_is_used(count, text):
    assert format_count(count) == text


def test_counts_past_the_last_unit_stay_in_that_unit():
    assert format_count(10**27) == "1000.0Y"
