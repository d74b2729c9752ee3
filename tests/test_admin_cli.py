"""The operator's commands: ``gjobs`` (through ``main(argv)`` and as a console script), and the
``gjobs-worker`` options for running tasks, cron-style bursts, attempts, shutdown and logging."""

import io
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest
import redis

from gjobs import Queue, Server
from gjobs.cli import admin
from gjobs.cli import worker as worker_cli
from gjobs.embedded import free_port
from gjobs.keys import QUEUES
from gjobs.processing_list import ProcessingList
from gjobs.worker_registry import WorkerRegistry

from .examples.wsgi import tasks as example_tasks
from .helpers import Gated, one_line_error, wait_for
from .multi import Recorder, enqueue, make_multi

ROOT = pathlib.Path(__file__).resolve().parent.parent
WSGI = ROOT / "tests" / "examples" / "wsgi"


@pytest.fixture
def queue(real_client, prefix):
    return Queue(real_client, prefix)


def bury(queue, job, message="boom"):
    """Put ``job`` in the dead set as a worker would after its last failed attempt; its id."""
    queue.enqueue(job)
    processing = ProcessingList(queue.client, queue.keys, "test-worker")
    [(job_id, _, _)], _, _, _ = processing.fetch(1)
    error = {"type": "RuntimeError", "message": message, "traceback": "Traceback: line 1\nRuntimeError: boom\n",
             "worker": "test-worker"}
    processing.bury(job_id, time.time(), error)
    return job_id


def register_worker(queue, worker_id="web-1-abc", started=None):
    started = time.time() - 90 if started is None else started
    info = {"host": "web-1", "pid": 4242, "started_at": started, "concurrency": 25, "in_flight": 0}
    WorkerRegistry(queue.client, queue.keys).beat(worker_id, time.time(), info)


# -- gjobs stats ---------------------------------------------------------------------------------


def test_stats_prints_the_status_line_of_the_queue_and_of_each_worker(gjobs, queue, prefix):
    queue.enqueue_many([{"n": i} for i in range(3)])
    queue.enqueue_in({"n": 4}, 60)
    register_worker(queue)

    status, out = gjobs("stats")

    assert status == 0
    first, second = out.splitlines()
    assert first == f"{prefix}  R=3 D=1 P=0/0  dead=0  workers=1"
    assert re.fullmatch(r"  web-1-abc  P=0/25  up 1m3\ds  last beat \d\.\ds ago", second), second


def test_stats_shows_every_queue_given(gjobs, real_client, url, prefix):
    Queue(real_client, f"{prefix}-b").enqueue({"n": 1})
    status, out = gjobs("stats", "--prefix", f"{prefix}-b", "--redis-url", url, with_url=False, with_prefix=False)
    assert status == 0
    assert out.startswith(f"{prefix}-b  R=1 ")


def test_stats_json_has_the_counts_and_the_workers(gjobs, queue):
    queue.enqueue({"n": 1})
    register_worker(queue)

    status, out = gjobs("stats", "--json")

    [stats] = json.loads(out)["queues"]
    assert (status, stats["ready"], stats["delayed"], stats["dead"]) == (0, 1, 0, 0)
    assert [worker["id"] for worker in stats["workers"]] == ["web-1-abc"]


def test_stats_watch_refreshes_until_its_count_is_reached(gjobs, prefix):
    status, out = gjobs("stats", "--watch", "0.01", "--count", "3")
    assert status == 0
    assert out.count(f"{prefix}  R=0") == 3


def test_stats_count_without_watch_is_bad_input(gjobs, capsys):
    assert gjobs("stats", "--count", "2")[0] == 2
    assert "--watch" in one_line_error(capsys)


# -- gjobs enqueue -------------------------------------------------------------------------------


def test_enqueue_stores_the_job_and_prints_its_id(gjobs, queue):
    status, out = gjobs("enqueue", '{"to": "ann@example.com"}')

    assert status == 0
    job_id = out.strip()
    assert json.loads(queue.job_store.get(job_id)) == {"to": "ann@example.com"}
    assert queue.ready_list.size() == 1


def test_enqueue_refuses_a_bad_reserved_key_naming_it_and_writes_nothing(gjobs, queue, capsys):
    status, _ = gjobs("enqueue", '{"task": "x", "timeout": "ten"}')
    assert status == 2
    assert "job key 'timeout' must be a positive number of seconds, not 'ten'" in one_line_error(capsys)
    assert queue.job_store.size() == 0


@pytest.mark.parametrize("option, value, due_in", [("--in", "5m", 300), ("--in", "90", 90), ("--in", "1.5h", 5400)])
def test_enqueue_in_delays_the_job(gjobs, queue, option, value, due_in):
    status, out = gjobs("enqueue", '{"n": 1}', option, value)

    assert status == 0
    assert queue.client.zscore(queue.keys.delayed, out.strip()) == pytest.approx(time.time() + due_in, abs=5)


def test_enqueue_at_schedules_the_job_at_that_time(gjobs, queue):
    status, out = gjobs("enqueue", '{"n": 1}', "--at", "2030-01-01T00:00:00Z", "--json")

    assert status == 0
    result = json.loads(out)
    assert result["due"] == 1893456000.0
    assert queue.client.zscore(queue.keys.delayed, result["ids"][0]) == 1893456000.0


def test_enqueue_of_a_json_list_enqueues_every_job_in_order(gjobs, queue):
    status, out = gjobs("enqueue", '[{"n": 1}, {"n": 2}]')

    ids = out.split()
    assert status == 0 and len(ids) == 2
    assert [json.loads(queue.job_store.get(job_id)) for job_id in ids] == [{"n": 1}, {"n": 2}]


def test_enqueue_reads_the_job_from_stdin_given_a_dash(gjobs, queue, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"from": "stdin"}'))
    status, out = gjobs("enqueue", "-")
    assert status == 0
    assert json.loads(queue.job_store.get(out.strip())) == {"from": "stdin"}


@pytest.mark.parametrize(
    "args, says",
    [
        (["{not json"], "not valid JSON"),
        (["3"], "must be a dict"),
        (['[{"n": 1}, 2]'], "index 1"),
        (['{"n": 1}', "--in", "soon"], "not a delay"),
        (['{"n": 1}', "--at", "tomorrowish"], "ISO-8601"),
        (['{"n": 1}', "--at", "2030-01-01", "--in", "5"], "not allowed with"),
    ],
)
def test_enqueue_refuses_bad_input_in_one_line_and_writes_nothing(gjobs, queue, capsys, args, says):
    assert gjobs("enqueue", *args)[0] == 2
    assert says in one_line_error(capsys)
    assert queue.job_store.size() == 0


# -- gjobs dead ----------------------------------------------------------------------------------


def test_dead_list_shows_each_dead_job_with_its_error(gjobs, queue):
    job_id = bury(queue, {"task": "app.mail:send"}, message="mail server said no")

    status, out = gjobs("dead", "list")

    header, row = out.splitlines()
    assert status == 0
    assert header.split() == ["ID", "DIED", "ATTEMPTS", "ERROR", "JOB"]
    assert row.startswith(job_id)
    assert "RuntimeError: mail server said no" in row and '"task": "app.mail:send"' in row


def test_dead_list_json_has_every_field(gjobs, queue):
    job_id = bury(queue, {"n": 1})

    status, out = gjobs("dead", "list", "--json")

    listing = json.loads(out)
    assert (status, listing["total"]) == (0, 1)
    [dead] = listing["dead"]
    assert (dead["id"], dead["job"], dead["attempts"], dead["error"]["type"]) == (job_id, {"n": 1}, 1, "RuntimeError")


def test_dead_list_says_when_there_are_none(gjobs, prefix):
    assert gjobs("dead", "list") == (0, f"no dead jobs in {prefix}\n")


def test_dead_show_prints_one_job_with_its_traceback(gjobs, queue):
    job_id = bury(queue, {"n": 1})

    status, out = gjobs("dead", "show", job_id)

    assert status == 0
    assert f"id:        {job_id}" in out
    assert "attempts:  1" in out
    assert "traceback:\nTraceback: line 1\nRuntimeError: boom" in out


def test_dead_show_of_an_unknown_id_fails_in_one_line(gjobs, capsys):
    assert gjobs("dead", "show", "nope")[0] == 1
    assert "no dead job 'nope'" in one_line_error(capsys)


def test_dead_retry_requeues_the_jobs_given(gjobs, queue):
    first, second = bury(queue, {"n": 1}), bury(queue, {"n": 2})

    status, out = gjobs("dead", "retry", first)

    assert (status, out) == (0, f"requeued 1 dead jobs of {queue.prefix}\n")
    assert [entry.id for entry in queue.dead()] == [second]
    assert queue.ready_list.size() == 1


def test_dead_retry_all_requeues_every_dead_job(gjobs, queue):
    bury(queue, {"n": 1})
    bury(queue, {"n": 2})

    status, out = gjobs("dead", "retry", "--all", "--json")

    assert (status, json.loads(out)) == (0, {"retry": 2, "not_dead": []})
    assert (queue.dead_set.size(), queue.ready_list.size()) == (0, 2)


def test_dead_purge_deletes_the_jobs_for_good(gjobs, queue):
    job_id = bury(queue, {"n": 1})

    assert gjobs("dead", "purge", "--all")[0] == 0

    assert queue.dead_set.size() == 0
    assert queue.job_store.get(job_id) is None


@pytest.mark.parametrize("action", ["retry", "purge"])
def test_dead_retry_and_purge_need_ids_or_all(gjobs, queue, capsys, action):
    bury(queue, {"n": 1})
    assert gjobs("dead", action)[0] == 2
    assert "--all" in one_line_error(capsys)
    assert queue.dead_set.size() == 1


def test_dead_retry_of_an_id_that_is_not_dead_fails_and_names_it(gjobs, queue, capsys):
    job_id = bury(queue, {"n": 1})

    assert gjobs("dead", "retry", job_id, "nope")[0] == 1

    assert one_line_error(capsys).endswith(": nope")
    assert queue.ready_list.size() == 1


# -- gjobs workers and gjobs ping ------------------------------------------------------------------


def test_workers_prints_a_table_of_the_live_workers(gjobs, queue):
    register_worker(queue, "web-1-abc")

    status, out = gjobs("workers")

    header, row = out.splitlines()
    assert status == 0
    assert header.split() == ["WORKER", "HOST", "PID", "RUNNING", "UP", "LAST", "BEAT"]
    assert row.split()[:4] == ["web-1-abc", "web-1", "4242", "0/25"]
    assert re.fullmatch(r"1m3\ds", row.split()[4])


def test_workers_json_lists_them(gjobs, queue):
    register_worker(queue, "web-1-abc")
    status, out = gjobs("workers", "--json")
    assert [worker["pid"] for worker in json.loads(out)["workers"]] == [4242]


def test_workers_says_when_there_are_none(gjobs, prefix):
    assert gjobs("workers") == (0, f"no live workers on {prefix}\n")


def test_ping_answers_with_the_redis_version(gjobs, url):
    status, out = gjobs("ping")
    assert status == 0
    assert out.startswith("PONG from Redis 7.") and url in out


def test_ping_json(gjobs):
    status, out = gjobs("ping", "--json")
    answer = json.loads(out)
    assert (status, answer["ok"]) == (0, True)
    assert answer["latency_ms"] >= 0


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [["stats"], ["stats", "--watch"], ["enqueue", "{}"], ["dead", "list"], ["dead", "show", "x"],
                ["dead", "retry", "--all"], ["dead", "purge", "x"], ["workers"], ["ping"]],
)
def test_every_command_fails_in_one_line_without_the_password_when_redis_is_unreachable(command, capsys):
    url = f"redis://admin:s3cret@127.0.0.1:{free_port()}/0"

    assert admin.main([*command, "--redis-url", url], out=io.StringIO()) == 1

    line = one_line_error(capsys)
    assert "cannot reach Redis at redis://admin:***@127.0.0.1:" in line
    assert "s3cret" not in line


@pytest.mark.parametrize(
    "args, says",
    [
        ([], "required"),
        (["frobnicate"], "invalid choice"),
        (["stats", "--prefix", "has space"], "invalid queue prefix"),
        (["dead", "list", "--limit", "0"], "1 or more"),
        (["ping", "--redis-url", "http://example.com"], "bad --redis-url"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, says, capsys):
    assert admin.main(args, out=io.StringIO()) == 2
    assert says in one_line_error(capsys)


def test_redis_url_comes_from_the_environment(url, monkeypatch):
    monkeypatch.setenv("REDIS_URL", url)
    out = io.StringIO()
    assert admin.main(["ping"], out=out) == 0
    assert url in out.getvalue()


def test_the_gjobs_console_script_runs_and_fails_in_one_line(url):
    env = dict(os.environ, REDIS_URL=url)
    ok = subprocess.run(["gjobs", "ping"], env=env, capture_output=True, text=True, timeout=30)
    bad = subprocess.run(["gjobs", "stats", "--redis-url", "redis://:pw@127.0.0.1:1/0"], env=env,
                         capture_output=True, text=True, timeout=30)

    assert (ok.returncode, ok.stdout.startswith("PONG")) == (0, True), ok.stderr
    assert bad.returncode == 1
    assert bad.stderr.startswith("gjobs: error: cannot reach Redis at redis://:***@127.0.0.1:1/0")
    assert len(bad.stderr.splitlines()) == 1 and "Traceback" not in bad.stderr


# -- gjobs-worker options --------------------------------------------------------------------------


def fail_every_time(job):
    """A delegate for the worker tests below."""
    raise RuntimeError("fails on purpose")


def worker_main(url, prefix, *args):
    return worker_cli.main(["--redis-url", url, "--prefix", prefix, *args])


def test_worker_burst_runs_what_is_ready_then_exits(url, queue, prefix):
    queue.enqueue_many([example_tasks.fail.job((f"n{i}",)) for i in range(3)])

    assert worker_main(url, prefix, "--import", "tests.examples.wsgi.tasks", "--burst") == 0

    assert (queue.ready_list.size(), queue.dead_set.size()) == (0, 3)  # the task allows one attempt


def test_worker_max_attempts_1_buries_a_failing_job_after_one_attempt(url, queue, prefix):
    queue.enqueue({"n": 1})

    assert worker_main(url, prefix, "tests.test_admin_cli:fail_every_time", "--max-attempts", "1", "--burst") == 0

    [dead] = queue.dead()
    assert (dead.attempts, dead.error["message"]) == (1, "fails on purpose")


def test_worker_without_max_attempts_schedules_a_retry_instead(url, queue, prefix):
    queue.enqueue({"n": 1})

    assert worker_main(url, prefix, "tests.test_admin_cli:fail_every_time", "--burst") == 0

    assert (queue.dead_set.size(), queue.delayed_jobs.size()) == (0, 1)


def test_worker_import_of_a_missing_module_exits_2_in_one_line(url, prefix, capsys):
    assert worker_main(url, prefix, "--import", "no_such_module_here") == 2
    assert capsys.readouterr().err.strip() == (
        "gjobs-worker: error: cannot import 'no_such_module_here': No module named 'no_such_module_here'"
    )


def worker_process(url, prefix, *args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(WSGI), str(ROOT)]), REDIS_URL=url, GJOBS_PREFIX=prefix)
    return subprocess.Popen([sys.executable, "-m", "gjobs", "--import", "tasks", "--prefix", prefix, *args],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_worker_status_interval_sets_how_often_the_status_line_is_logged(url, queue, prefix):
    queue.enqueue({"task": "tasks:record", "args": ["x", 0.6], "kwargs": {}})

    _, log = worker_process(url, prefix, "--status-interval", "0.1", "--burst").communicate(timeout=30)

    assert log.count(" INFO gjobs: status R=") >= 4, log


def test_worker_log_level_warning_hides_the_info_lines(url, queue, prefix):
    queue.enqueue({"task": "tasks:record", "args": ["x", 0.3], "kwargs": {}})

    process = worker_process(url, prefix, "--status-interval", "0.1", "--burst", "--log-level", "warning")
    _, log = process.communicate(timeout=30)

    assert process.returncode == 0
    assert " INFO " not in log, log


def test_worker_shutdown_timeout_bounds_the_wait_for_running_jobs_at_sigterm(url, queue, prefix):
    job_id = queue.enqueue({"task": "tasks:record", "args": ["slow", 30], "kwargs": {}})
    process = worker_process(url, prefix, "--shutdown-timeout", "0.3")
    wait_for(lambda: queue.stats()["in_progress"] == 1, message="the job to start")

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)

    assert process.returncode == 0
    assert time.monotonic() - started < 5
    assert queue.ready_list.peek() == [job_id]  # put back for another worker


# -- gjobs stats and gjobs workers --------------------------------------------------------------

#: The database these tests use, where only they start servers: the list of known queues then
#: holds only healthy queues of theirs, whatever other test files leave in database 0.
REGISTRY_DB = 7


@pytest.fixture
def registry(redis_process):
    """``(url, client)`` of a database of their own for the tests of the list of queues."""
    client = redis.Redis(host="127.0.0.1", port=redis_process.port, db=REGISTRY_DB)
    yield f"redis://127.0.0.1:{redis_process.port}/{REGISTRY_DB}", client
    client.close()


def gjobs_on(url, *args):
    out = io.StringIO()
    return admin.main([*args, "--redis-url", url], out=out), out.getvalue()


def test_a_started_server_adds_its_queue_to_the_registry_of_queues(client, prefix):
    server = Server(Recorder(), client, prefix=prefix, heartbeat_interval=0.5)
    server.start()
    try:
        assert client.sismember(QUEUES, prefix)
    finally:
        server.stop(timeout=1)
    assert client.sismember(QUEUES, prefix)  # the queue outlives its workers


def test_stats_without_prefix_shows_every_queue_a_worker_started_on(registry, names, multis):
    url, client = registry
    high, default, low = names
    enqueue(client, low, 2)
    multi = make_multi(multis, client, names, Gated(key="q"), concurrency=4)
    multi.start()
    wait_for(lambda: multi.in_progress == 2)

    status, out = gjobs_on(url, "stats")

    assert status == 0
    lines = {line.split()[0]: line for line in out.splitlines() if not line.startswith(" ")}
    assert [name for name in lines if name in names] == sorted(names)
    assert lines[low].startswith(f"{low}  R=0 D=0 P=2/0  dead=0  workers=1")
    assert lines[high].startswith(f"{high}  R=0 D=0 P=0/0  dead=0  workers=1")


def test_stats_json_without_prefix_has_every_queue(registry, names, multis):
    url, client = registry
    multi = make_multi(multis, client, names, Gated(key="q"))
    multi.start()
    status, out = gjobs_on(url, "stats", "--json")
    queues = {queue["prefix"]: queue for queue in json.loads(out)["queues"]}
    assert set(names) <= set(queues)
    assert all([w["id"] for w in queues[name]["workers"]] == [multi.id] for name in names)


def test_stats_without_prefix_and_no_queue_known_shows_the_default_queue(fake_client):
    assert admin.known_queues(fake_client) == ["gjobs"]


def test_workers_without_prefix_lists_each_queue_of_a_worker(registry, names, multis):
    url, client = registry
    multi = make_multi(multis, client, names, Gated(key="q"))
    multi.start()

    status, out = gjobs_on(url, "workers")

    header, *rows = out.splitlines()
    assert status == 0
    assert header.split()[:3] == ["QUEUE", "WORKER", "HOST"]
    ours = [row.split()[:2] for row in rows if row.split()[1] == multi.id]
    assert ours == [[name, multi.id] for name in sorted(names)]


def test_workers_json_names_the_queue_of_each_entry(registry, names, multis):
    url, client = registry
    multi = make_multi(multis, client, names, Gated(key="q"))
    multi.start()
    status, out = gjobs_on(url, "workers", "--json", *[a for n in names[:2] for a in ("--prefix", n)])
    document = json.loads(out)
    assert document["queues"] == names[:2]
    assert [(w["queue"], w["id"]) for w in document["workers"]] == [(name, multi.id) for name in names[:2]]
