"""``gjobs`` commands that follow and steer jobs: ``job show|cancel``, ``ready list|delete``,
``delayed list|run-now|delete``, ``pause|resume``, ``queues forget`` and ``purge``, on a real
redis-server, in this process through ``admin.main(argv)``."""

import io
import json
import re
import time

import pytest

from gjobs import Queue
from gjobs.cli import admin, jobs
from gjobs.keys import QUEUES
from gjobs.processing_list import ProcessingList
from gjobs.worker_registry import WorkerRegistry

from .helpers import one_line_error


@pytest.fixture
def queue(real_client, prefix):
    return Queue(real_client, prefix)


def start(queue, worker="w1"):
    """Take the next ready job as the registered worker ``worker`` would: its id, now running."""
    WorkerRegistry(queue.client, queue.keys).beat(worker, None, {})
    processing = ProcessingList(queue.client, queue.keys, worker)
    [(job_id, _, _)], _, now, _ = processing.fetch(1)
    WorkerRegistry(queue.client, queue.keys).beat(worker, None, {"running": {job_id: now}})  # its next beat
    return job_id, processing


def bury(queue, job):
    """Enqueue ``job``, start it and bury it as its worker would after its last attempt; its id."""
    queue.enqueue(job)
    job_id, processing = start(queue)
    error = {"type": "RuntimeError", "message": "boom", "traceback": "Traceback: line 1\nRuntimeError: boom\n",
             "worker": "w1"}
    processing.bury(job_id, time.time(), error)
    return job_id


# -- gjobs job show --------------------------------------------------------------------------------


def test_job_show_of_a_ready_job_has_its_task_args_and_position(gjobs, queue):
    job_id = queue.enqueue({"task": "app.mail:send", "args": ["ann"], "kwargs": {"cc": "bob"}})
    queue.enqueue({"n": 2})

    status, out = gjobs("job", "show", job_id)

    assert status == 0
    fields = dict(re.match(r"(\S[^:]*):\s+(.*)", line).groups() for line in out.splitlines())
    assert fields["id"] == job_id
    assert fields["state"] == "ready"
    assert fields["task"] == "app.mail:send"
    assert (fields["args"], fields["kwargs"]) == ('["ann"]', '{"cc": "bob"}')
    assert fields["attempts"] == "0"
    assert fields["position"] == "next to run"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S* ?\(\d\.\ds ago\)", fields["enqueued"])


def test_job_show_of_a_delayed_job_says_when_it_is_due(gjobs, queue):
    job_id = queue.enqueue_in({"n": 1}, 300)
    status, out = gjobs("job", "show", job_id)
    assert status == 0
    assert "state:     delayed" in out
    assert re.search(r"^due: +.* \(in 4m5\ds\)$", out, re.M), out


def test_job_show_of_a_running_job_names_its_worker_and_progress(gjobs, queue):
    queue.enqueue({"task": "app:long"})
    job_id, _ = start(queue)
    queue.client.hset(queue.keys.progress, job_id, json.dumps({"done": 0.42, "note": "copying", "at": time.time()}))

    status, out = gjobs("job", "show", job_id)

    assert status == 0
    assert "state:     running" in out
    assert "worker:    w1" in out
    assert "attempts:  1" in out
    assert re.search(r"^started: +.* ago\)$", out, re.M), out
    assert re.search(r"^progress: +42% copying \(reported \d\.\ds ago\)$", out, re.M), out


def test_job_show_of_a_dead_job_has_its_error_and_traceback(gjobs, queue):
    job_id = bury(queue, {"task": "app:fail"})

    status, out = gjobs("job", "show", job_id)

    assert status == 0
    assert "state:     dead" in out
    assert "error:     RuntimeError: boom" in out
    assert re.search(r"^died: +.* ago\)$", out, re.M), out
    assert out.endswith("traceback:\nTraceback: line 1\nRuntimeError: boom\n")


def test_job_show_of_a_finished_job_says_how_long_it_ran(gjobs, queue):
    queue.enqueue({"n": 1, "timeout": 60})  # a job with one of gjobs' keys: its run time is kept
    job_id, processing = start(queue)
    processing.complete([job_id], tracked={job_id: 1.5})

    status, out = gjobs("job", "show", job_id)

    assert status == 0
    assert "state:     succeeded" in out
    assert re.search(r"^finished: +.* ago\)$", out, re.M), out
    assert re.search(r"^ran for: +\d\.\ds$", out, re.M), out


def test_job_show_json_is_the_job_info(gjobs, queue):
    queue.enqueue({"task": "app:long", "args": [1]})
    job_id, _ = start(queue)

    status, out = gjobs("job", "show", job_id, "--json")

    info = json.loads(out)
    assert status == 0
    assert (info["id"], info["state"], info["worker"], info["attempts"]) == (job_id, "running", "w1", 1)
    assert (info["task"], info["job"]) == ("app:long", {"task": "app:long", "args": [1]})
    assert info["started_at"] == pytest.approx(time.time(), abs=5)


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_job_show_of_an_unknown_id_exits_1_in_one_line(gjobs, prefix, capsys, json_flag):
    status, out = gjobs("job", "show", "nope", *json_flag)
    assert (status, out) == (1, "")
    assert one_line_error(capsys) == f"gjobs: error: unknown job 'nope' in queue '{prefix}'"


# -- gjobs job cancel ------------------------------------------------------------------------------


def test_job_cancel_removes_a_queued_job(gjobs, queue):
    job_id = queue.enqueue({"n": 1})

    assert gjobs("job", "cancel", job_id) == (0, f"cancelled {job_id}\n")

    assert queue.job(job_id).state == "cancelled"


def test_job_cancel_json(gjobs, queue):
    job_id = queue.enqueue_in({"n": 1}, 60)
    status, out = gjobs("job", "cancel", job_id, "--json")
    assert (status, json.loads(out)) == (0, {"id": job_id, "cancelled": True})
    assert queue.delayed_jobs.size() == 0


def test_job_cancel_of_an_unknown_or_dead_job_exits_1_in_one_line(gjobs, queue, prefix, capsys):
    dead = bury(queue, {"n": 1})
    for job_id in ("nope", dead):
        assert gjobs("job", "cancel", job_id) == (1, "")
        assert one_line_error(capsys) == f"gjobs: error: no queued or running job {job_id!r} in queue '{prefix}'"
    assert queue.dead_set.size() == 1


# -- gjobs ready and gjobs delayed -----------------------------------------------------------------


def test_ready_list_shows_a_page_the_next_to_run_first(gjobs, queue):
    ids = queue.enqueue_many([{"n": i} for i in range(30)])

    status, out = gjobs("ready", "list", "--limit", "10", "--offset", "10")

    header, *rows, footer = out.splitlines()
    assert status == 0
    assert header.split() == ["ID", "JOB"]
    assert [row.split()[0] for row in rows] == ids[10:20]  # the oldest runs first
    assert rows[0].split(None, 1)[1] == '{"n": 10}'
    assert footer == "(10 of 30 shown; --limit and --offset show others)"


def test_ready_list_json_has_the_page_and_the_total(gjobs, queue):
    ids = queue.enqueue_many([{"n": i} for i in range(30)])

    status, out = gjobs("ready", "list", "--limit", "10", "--offset", "25", "--json")

    listing = json.loads(out)
    assert (status, listing["total"], listing["offset"]) == (0, 30, 25)
    assert listing["ready"] == [{"id": job_id, "job": {"n": n}} for n, job_id in enumerate(ids) if n >= 25]


def test_ready_list_says_when_there_are_none(gjobs, prefix):
    assert gjobs("ready", "list") == (0, f"no ready jobs in {prefix}\n")


def test_ready_list_cuts_a_long_job_to_a_cell(gjobs, queue):
    queue.enqueue({"text": "x" * 500})
    status, out = gjobs("ready", "list")
    row = out.splitlines()[1]
    assert status == 0 and row.endswith("...") and len(row.split(None, 1)[1]) == 60
    assert "shown" not in out  # all of them are


def test_delayed_list_shows_a_page_the_soonest_first_with_when_each_is_due(gjobs, queue):
    ids = [queue.enqueue_in({"n": i}, 60 * (i + 1)) for i in range(30)]

    status, out = gjobs("delayed", "list", "--limit", "10", "--offset", "10")

    header, *rows, footer = out.splitlines()
    assert status == 0
    assert header.split() == ["ID", "DUE", "IN", "JOB"]
    assert [row.split()[0] for row in rows] == ids[10:20]
    assert re.fullmatch(r"1[01]m\d\ds", rows[0].split()[1])  # due in 11 minutes, give or take
    assert footer == "(10 of 30 shown; --limit and --offset show others)"


def test_delayed_list_json(gjobs, queue):
    job_id = queue.enqueue_at({"n": 1}, 1893456000.0)
    status, out = gjobs("delayed", "list", "--json")
    assert (status, json.loads(out)) == (
        0, {"total": 1, "offset": 0, "delayed": [{"id": job_id, "job": {"n": 1}, "due_at": 1893456000.0}]}
    )


def test_delayed_run_now_moves_the_jobs_given_to_the_ready_list(gjobs, queue, prefix):
    first, second = queue.enqueue_in({"n": 1}, 60), queue.enqueue_in({"n": 2}, 60)

    status, out = gjobs("delayed", "run-now", first)

    assert (status, out) == (0, f"moved 1 delayed jobs of {prefix} to the front of the ready list\n")
    assert queue.ready_list.peek() == [first]
    assert [entry.id for entry in queue.control.delayed()] == [second]
    assert queue.job(first).state == "ready"


def test_delayed_run_now_all_moves_every_delayed_job_in_batches(gjobs, queue, monkeypatch):
    monkeypatch.setattr(jobs, "RUN_NOW_BATCH", 7)
    queue.enqueue_many([{"n": i, "scheduled_at": time.time() + 60 + i} for i in range(30)])
    reads = []
    zrange = type(queue.client).zrange

    def counted(self, key, start, end, **options):
        reads.append((start, end))
        return zrange(self, key, start, end, **options)

    monkeypatch.setattr(type(queue.client), "zrange", counted)  # the client gjobs makes too

    status, out = gjobs("delayed", "run-now", "--all", "--json")

    assert (status, json.loads(out)) == (0, {"run_now": 30, "not_delayed": []})
    assert (queue.delayed_jobs.size(), queue.ready_list.size()) == (0, 30)
    assert reads == [(0, 6)] * 4 + [(0, 1)]  # never the whole set at once


def test_delayed_run_now_of_an_id_not_delayed_names_it_and_moves_the_others(gjobs, queue, capsys):
    job_id = queue.enqueue_in({"n": 1}, 60)

    status, out = gjobs("delayed", "run-now", job_id, "nope", "--json")

    assert (status, json.loads(out)) == (1, {"run_now": 1, "not_delayed": ["nope"]})
    assert one_line_error(capsys).endswith(": nope")
    assert queue.ready_list.size() == 1


def test_delayed_run_now_needs_ids_or_all(gjobs, queue, capsys):
    queue.enqueue_in({"n": 1}, 60)
    assert gjobs("delayed", "run-now")[0] == 2
    assert "--all" in one_line_error(capsys)
    assert queue.delayed_jobs.size() == 1


@pytest.mark.parametrize("which", ["ready", "delayed"])
def test_delete_cancels_the_jobs_given_and_names_those_not_there(gjobs, queue, capsys, which):
    enqueue = queue.enqueue if which == "ready" else lambda job: queue.enqueue_in(job, 60)
    first, second = enqueue({"n": 1}), enqueue({"n": 2})

    assert gjobs(which, "delete", first) == (0, f"cancelled {first}\n")
    status, out = gjobs(which, "delete", second, "nope", "--json")

    assert (status, json.loads(out)) == (1, {"cancelled": [second], "not_found": ["nope"]})
    assert one_line_error(capsys).endswith(": nope")
    assert queue.job(first).state == queue.job(second).state == "cancelled"
    assert queue.job_store.size() == 0


# -- gjobs pause and gjobs resume ------------------------------------------------------------------


def test_pause_shows_in_stats_until_resume(gjobs, queue, prefix):
    assert gjobs("pause") == (0, f"paused {prefix}\n")
    assert queue.control.paused()
    status, out = gjobs("stats")
    assert (status, out) == (0, f"{prefix}  R=0 D=0 P=0/0  dead=0  workers=0  PAUSED\n")
    assert json.loads(gjobs("stats", "--json")[1])["queues"][0]["paused"] is True

    status, out = gjobs("resume", "--json")

    assert (status, json.loads(out)) == (0, {"prefix": prefix, "paused": False})
    assert not queue.control.paused()
    assert "PAUSED" not in gjobs("stats")[1]


# -- gjobs queues forget ---------------------------------------------------------------------------


def test_queues_forget_drops_an_empty_queue_from_the_known_queues(gjobs, queue, prefix):
    queue.client.sadd(QUEUES, prefix)

    status, out = gjobs("queues", "forget", prefix, "--json", with_prefix=False)

    assert (status, json.loads(out)) == (0, {"prefix": prefix, "forgotten": True})
    assert not queue.client.sismember(QUEUES, prefix)
    assert gjobs("queues", "forget", prefix, with_prefix=False) == (0, f"forgot queue {prefix}\n")


def test_queues_forget_of_a_queue_with_jobs_exits_1_and_forgets_nothing(gjobs, queue, prefix, capsys):
    queue.client.sadd(QUEUES, prefix)
    queue.enqueue({"n": 1})

    assert gjobs("queues", "forget", prefix, with_prefix=False) == (1, "")

    assert f"queue '{prefix}' still has jobs or workers; purge it first" in one_line_error(capsys)
    assert queue.client.sismember(QUEUES, prefix)
    assert queue.ready_list.size() == 1


# -- gjobs purge -----------------------------------------------------------------------------------


def test_purge_without_yes_exits_2_and_removes_nothing(gjobs, queue, prefix, capsys):
    queue.enqueue({"n": 1})
    queue.enqueue_in({"n": 2}, 60)

    assert gjobs("purge") == (2, "")

    assert one_line_error(capsys) == f"gjobs: error: purge removes every ready and delayed job of '{prefix}'; add --yes"
    assert (queue.ready_list.size(), queue.delayed_jobs.size(), queue.job_store.size()) == (1, 1, 2)


def test_purge_yes_removes_every_ready_and_delayed_job_but_the_dead(gjobs, queue, prefix):
    bury(queue, {"n": 0})
    queue.enqueue_many([{"n": i} for i in range(3)])
    queue.enqueue_in({"n": 4}, 60)

    assert gjobs("purge", "--yes") == (0, f"purged 4 jobs of {prefix}\n")

    assert (queue.ready_list.size(), queue.delayed_jobs.size(), queue.dead_set.size()) == (0, 0, 1)
    assert json.loads(gjobs("purge", "--yes", "--json")[1]) == {"prefix": prefix, "purged": 0}


# -- bad input and an unreachable Redis ------------------------------------------------------------


@pytest.mark.parametrize(
    "args, says",
    [
        (["job"], "required"),
        (["job", "show"], "required"),
        (["ready", "list", "--limit", "0"], "1 or more"),
        (["delayed", "list", "--offset", "-1"], "0 or more"),
        (["ready", "delete"], "required"),
        (["queues", "forget", "has space"], "invalid queue prefix"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, says, capsys):
    assert admin.main(args, out=io.StringIO()) == 2
    assert says in one_line_error(capsys)


@pytest.mark.parametrize(
    "command", [["job", "show", "x"], ["job", "cancel", "x"], ["ready", "list"], ["delayed", "list"],
                ["delayed", "run-now", "--all"], ["delayed", "delete", "x"], ["pause"], ["resume"],
                ["queues", "forget", "q"], ["purge", "--yes"]],
)
def test_every_command_fails_in_one_line_when_redis_is_unreachable(command, capsys):
    from gjobs.embedded import free_port

    url = f"redis://admin:s3cret@127.0.0.1:{free_port()}/0"
    assert admin.main([*command, "--redis-url", url], out=io.StringIO()) == 1
    line = one_line_error(capsys)
    assert "cannot reach Redis at redis://admin:***@127.0.0.1:" in line and "s3cret" not in line
