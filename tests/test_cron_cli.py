"""``gjobs cron list|run|pause|resume``, against a real Redis."""

import json

import pytest
import redis

from gjobs.cron_table import CronTable
from gjobs.ids import tick_id
from gjobs.keys import Keys
from gjobs.schedule import Schedule


@pytest.fixture
def table(redis_process, prefix):
    client = redis.Redis(port=redis_process.port, host="127.0.0.1")
    table = CronTable(client, Keys(prefix))
    nightly = Schedule("nightly", {"task": "app:report"}, cron="0 3 * * *", tz="Europe/Berlin")
    table.declare([("nightly", json.dumps(nightly.definition()), b'{"task": "app:report"}')], 60)
    yield table
    client.close()


def test_cron_list_shows_each_schedule_when_it_fires_next_and_its_last_job(gjobs, table):
    seconds, _ = table.client.time()
    table.fire([("nightly", float(seconds - 1), 60.0, False, tick_id("nightly", seconds - 1), b"{}")])
    status, out = gjobs("cron", "list")
    assert status == 0
    header, row = out.splitlines()
    assert header.split() == ["NAME", "WHEN", "NEXT", "IN", "LAST", "LAST", "JOB", "PAUSED"]
    assert row.split()[:5] == ["nightly", "0", "3", "*", "*"] and "(Europe/Berlin)" in row
    assert " ago " in row and "ready" in row and row.endswith("no")


def test_cron_list_json_has_every_field(gjobs, table):
    status, out = gjobs("cron", "list", "--json")
    [entry] = json.loads(out)["schedules"]
    assert status == 0
    assert (entry["name"], entry["cron"], entry["tz"], entry["task"], entry["paused"]) == (
        "nightly", "0 3 * * *", "Europe/Berlin", "app:report", False)
    assert entry["next_at"] > 0 and entry["last_at"] is None


def test_cron_run_enqueues_the_job_now(gjobs, table):
    status, out = gjobs("cron", "run", "nightly", "--json")
    job_id = json.loads(out)["id"]
    assert status == 0 and table.client.lrange(table.keys.ready, 0, -1) == [job_id.encode()]


def test_cron_pause_and_resume_show_in_the_list(gjobs, table):
    assert gjobs("cron", "pause", "nightly") == (0, "paused schedule nightly\n")
    assert json.loads(gjobs("cron", "list", "--json")[1])["schedules"][0]["paused"] is True
    assert gjobs("cron", "resume", "nightly") == (0, "resumed schedule nightly\n")
    assert json.loads(gjobs("cron", "list", "--json")[1])["schedules"][0]["paused"] is False


@pytest.mark.parametrize("action", ["run", "pause", "resume"])
def test_an_unknown_schedule_exits_1_with_one_line(gjobs, table, action, capsys):
    status, out = gjobs("cron", action, "nope")
    assert (status, out) == (1, "")
    assert "no schedule 'nope'" in capsys.readouterr().err


def test_cron_list_of_a_queue_without_schedules_says_so(gjobs):
    status, out = gjobs("cron", "list")
    assert status == 0 and out.startswith("no schedules in ")
