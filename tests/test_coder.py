"""Jobs as bytes, ``scheduled_at`` as epoch seconds, and bad input refused before Redis sees it."""

import calendar
import datetime as dt
import math
import time

import pytest

from gjobs import Buffer, JSONCoder, Server, parse_time


@pytest.fixture
def local_tz(monkeypatch):
    """A local time zone 5 hours behind UTC, so "local" and "UTC" cannot be confused."""
    monkeypatch.setenv("TZ", "GJT+05")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def utc(*fields):
    return float(calendar.timegm(dt.datetime(*fields).timetuple()))


@pytest.fixture
def server(client, prefix):
    return Server(Buffer(), client, prefix=prefix)


def keyspace(client, prefix):
    return sorted(client.keys(f"*{prefix}*"))


# -- parse_time -------------------------------------------------------------------------------


def test_none_means_run_now():
    assert parse_time(None) is None


def test_an_int_epoch_is_taken_as_is():
    assert parse_time(1700000000) == 1700000000.0


def test_a_float_epoch_keeps_its_fraction():
    assert parse_time(1700000000.25) == 1700000000.25


def test_a_naive_datetime_is_local_time(local_tz):
    assert parse_time(dt.datetime(2024, 1, 2, 3, 4, 5)) == utc(2024, 1, 2, 8, 4, 5)


def test_an_aware_datetime_is_taken_in_its_own_zone(local_tz):
    plus_two = dt.timezone(dt.timedelta(hours=2))
    assert parse_time(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=plus_two)) == utc(2024, 1, 2, 1, 4, 5)
    assert parse_time(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)) == utc(2024, 1, 2, 3, 4, 5)


def test_a_datetime_keeps_its_microseconds():
    when = dt.datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=dt.timezone.utc)
    assert parse_time(when) == utc(2024, 1, 2, 3, 4, 5) + 0.25


def test_a_date_is_local_midnight(local_tz):
    assert parse_time(dt.date(2024, 1, 2)) == utc(2024, 1, 2, 5, 0, 0)


@pytest.mark.parametrize("text", ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05z", "2024-01-02T03:04:05+00:00"])
def test_an_iso_string_with_z_is_utc(text, local_tz):
    assert parse_time(text) == utc(2024, 1, 2, 3, 4, 5)


@pytest.mark.parametrize(
    "text, hour", [("2024-01-02T03:04:05+02:00", 1), ("2024-01-02T03:04:05-07:30", 10)]
)
def test_an_iso_string_with_an_offset_is_taken_in_that_offset(text, hour, local_tz):
    expected = utc(2024, 1, 2, hour, 4, 5) + (30 * 60 if text.endswith(":30") else 0)
    assert parse_time(text) == expected


def test_an_iso_string_without_an_offset_is_local_time(local_tz):
    assert parse_time("2024-01-02T03:04:05") == utc(2024, 1, 2, 8, 4, 5)


def test_an_iso_string_keeps_fractions_of_a_second():
    assert parse_time("2024-01-02T03:04:05.5Z") == utc(2024, 1, 2, 3, 4, 5) + 0.5


@pytest.mark.parametrize("text", ["tomorrow", "", "2024-13-01T00:00:00Z", "12:00 yesterday"])
def test_an_unparseable_string_is_a_value_error(text):
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_time(text)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_value_errors(value):
    with pytest.raises(ValueError, match="finite"):
        parse_time(value)


def test_an_int_too_large_for_a_float_is_a_value_error():
    with pytest.raises(ValueError, match="too large"):
        parse_time(10**400)


@pytest.mark.parametrize("value", [True, [2024], {"at": 1}, b"2024-01-02T03:04:05Z"])
def test_other_types_are_type_errors(value):
    with pytest.raises(TypeError):
        parse_time(value)


# -- the JSON coder ---------------------------------------------------------------------------


def test_json_round_trips_a_job():
    coder = JSONCoder()
    job = {"name": "résumé", "n": 3, "x": 1.5, "tags": ["a", None, True]}
    assert coder.load(coder.dump(job)) == job


def test_json_loads_text_as_well_as_bytes():
    assert JSONCoder().load('{"a":1}') == {"a": 1}


def test_json_writes_datetimes_as_iso_strings():
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert JSONCoder().load(JSONCoder().dump({"at": when})) == {"at": "2024-01-02T03:04:05+00:00"}


@pytest.mark.parametrize("value", [{1, 2}, b"bytes", object()])
def test_json_refuses_what_it_cannot_represent_with_a_type_error(value):
    with pytest.raises(TypeError):
        JSONCoder().dump({"value": value})


def test_json_refuses_nan_with_a_value_error():
    with pytest.raises(ValueError):
        JSONCoder().dump({"value": math.nan})


# -- call(job): validated before anything is written --------------------------------------------


def test_call_returns_the_job_id_as_a_string(server, client, prefix):
    job_id = server.call({"a": 1})
    assert isinstance(job_id, str) and job_id
    assert server.queue.ready_list.peek() == [job_id]


def test_call_without_scheduled_at_makes_the_job_ready(server):
    server.call({"a": 1})
    assert (server.queue.ready_list.size(), server.queue.delayed_jobs.size()) == (1, 0)


def test_call_with_scheduled_at_none_makes_the_job_ready(server):
    server.call({"a": 1, "scheduled_at": None})
    assert (server.queue.ready_list.size(), server.queue.delayed_jobs.size()) == (1, 0)


@pytest.mark.parametrize(
    "when",
    [
        1700000000,
        1700000000.5,
        dt.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=dt.timezone.utc),
        "2023-11-14T22:13:20.5Z",
        "2023-11-15T00:13:20.5+02:00",
    ],
    ids=["int", "float", "aware-datetime", "iso-z", "iso-offset"],
)
def test_call_with_scheduled_at_delays_the_job_to_that_time(server, client, when):
    job_id = server.call({"a": 1, "scheduled_at": when})
    assert server.queue.ready_list.size() == 0
    assert client.zscore(server.keys.delayed, job_id) == parse_time(when)


def test_call_with_a_naive_datetime_delays_the_job_to_that_local_time(server, client, local_tz):
    job_id = server.call({"a": 1, "scheduled_at": dt.datetime(2024, 1, 2, 3, 4, 5)})
    assert client.zscore(server.keys.delayed, job_id) == utc(2024, 1, 2, 8, 4, 5)


def test_call_keeps_the_job_as_given_in_the_store(server):
    job = {"a": [1, 2], "scheduled_at": "2023-11-14T22:13:20Z"}
    job_id = server.call(job)
    assert JSONCoder().load(server.queue.job_store.get(job_id)) == job


@pytest.mark.parametrize(
    "job, error",
    [
        (["not", "a", "dict"], TypeError),
        ("a string", TypeError),
        (None, TypeError),
        ({"scheduled_at": "next tuesday"}, ValueError),
        ({"scheduled_at": math.nan}, ValueError),
        ({"scheduled_at": math.inf}, ValueError),
        ({"scheduled_at": 10**400}, ValueError),
        ({"scheduled_at": True}, TypeError),
        ({"scheduled_at": [1]}, TypeError),
        ({"payload": {1, 2}}, TypeError),
        ({"payload": math.nan}, ValueError),
        ({"payload": b"raw"}, TypeError),
    ],
    ids=[
        "list", "str", "none", "bad-time", "nan-time", "inf-time", "huge-time", "bool-time", "list-time",
        "set-payload", "nan-payload", "bytes-payload",
    ],
)
def test_call_refuses_bad_input_and_writes_nothing(server, client, prefix, job, error):
    with pytest.raises(error):
        server.call(job)
    assert keyspace(client, prefix) == []


def test_a_coder_failing_with_another_exception_is_reported_as_a_value_error(client, prefix):
    class Broken:
        def dump(self, job):
            raise RuntimeError("cannot encode")

        def load(self, data):
            return data

    server = Server(Buffer(), client, prefix=prefix, coder=Broken())
    with pytest.raises(ValueError, match="cannot encode"):
        server.call({"a": 1})
    assert keyspace(client, prefix) == []


def test_a_custom_coder_is_used_for_the_payload(client, prefix):
    class Upper:
        def dump(self, job):
            return repr(sorted(job.items())).upper()

        def load(self, data):
            return data

    server = Server(Buffer(), client, prefix=prefix, coder=Upper())
    job_id = server.call({"a": "b"})
    assert server.queue.job_store.get(job_id) == b"[('A', 'B')]"
