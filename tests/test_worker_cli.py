"""``gjobs-worker`` as a real process: crashes, signals, bad input, the demo and the version."""

import signal
import subprocess
import sys

import pytest

import gjobs
from gjobs import Queue
from gjobs.cli import worker as worker_cli

from .helpers import wait_for
from .multi import Recorder, completed, enqueue, pending
from .processes import ROOT, environment


def run(args, url=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "gjobs", *args], cwd=ROOT, env=environment(url),
        capture_output=True, text=True, timeout=timeout,
    )


def worker_args(url, prefix, *extra):
    return ["tests.delegates:record", "--redis-url", url, "--prefix", prefix, *extra]


def test_jobs_of_a_killed_worker_are_run_by_another_and_none_is_lost(redis_process, real_client, prefix, workers):
    url = redis_process.url
    queue = Queue(real_client, prefix=prefix)
    record = f"{prefix}-record"
    count = 12
    ids = queue.enqueue_many([{"n": n, "key": record, "sleep": 0.5} for n in range(count)])
    number = {job_id: n for n, job_id in enumerate(ids)}

    first = workers(worker_args(url, prefix, "--concurrency", "3", "--heartbeat-interval", "0.5"), url)
    wait_for(lambda: real_client.llen(f"{record}:started") >= 3, timeout=20, message="the first worker's jobs")
    [victim] = [w["id"] for w in queue.registry.workers()]
    first.process.send_signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    in_flight = [i.decode() for i in real_client.lrange(queue.keys.pending(victim), 0, -1)]
    assert in_flight, "the killed worker had jobs in flight"
    starts_at_kill = [int(n) for n in real_client.lrange(f"{record}:started", 0, -1)]

    second = workers(worker_args(url, prefix, "--concurrency", "4", "--heartbeat-interval", "0.5"), url)
    wait_for(lambda: real_client.scard(f"{record}:done") == count, timeout=30, message="every job done")

    done = {int(n) for n in real_client.smembers(f"{record}:done")}
    assert done == set(range(count))
    starts = [int(n) for n in real_client.lrange(f"{record}:started", 0, -1)]
    for job_id in in_flight:  # each ran once more, to its end, on the second worker
        assert starts.count(number[job_id]) == starts_at_kill.count(number[job_id]) + 1
    assert real_client.exists(queue.keys.pending(victim)) == 0
    wait_for(lambda: queue.stats()["completed"] == count)
    assert queue.stats()["ready"] == 0 and queue.job_store.size() == 0
    assert victim not in {w["id"] for w in queue.registry.workers()}
    assert f"worker {victim} stopped heartbeating: requeued {len(in_flight)}" in second.log()


def test_sigterm_stops_a_worker_cleanly(redis_process, real_client, prefix, workers):
    url = redis_process.url
    queue = Queue(real_client, prefix=prefix)
    worker = workers(worker_args(url, prefix, "--heartbeat-interval", "0.5"), url)
    queue.enqueue({"n": 1, "key": f"{prefix}-record", "sleep": 0})
    wait_for(lambda: queue.completed_count() == 1, timeout=20, message="the worker ran a job")
    assert len(queue.registry.workers()) == 1
    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait() == 0
    assert queue.registry.workers() == []
    assert real_client.hlen(queue.keys.workers_info) == 0
    assert real_client.keys(f"{queue.keys.tag}:pending:*") == []
    assert "stopped" in worker.log()


@pytest.mark.parametrize(
    "delegate", ["no_such_module_here:call", "tests.delegates:no_such_function", "no-colon-here"]
)
def test_a_bad_delegate_path_exits_2_with_a_one_line_error(delegate):
    result = run([delegate, "--redis-url", "redis://127.0.0.1:1/0"])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gjobs-worker: error: ")


def test_no_delegate_and_no_demo_exits_2():
    result = run([])
    assert result.returncode == 2
    assert "delegate" in result.stderr


def test_the_demo_exits_0_on_a_given_redis(redis_process, real_client):
    result = run(["--demo", "--redis-url", redis_process.url])
    assert result.returncode == 0, result.stderr
    assert "all 15 jobs completed" in result.stderr
    # It cleans up after itself (other tests' keys come and go meanwhile: results expire).
    assert real_client.keys("*gjobs-demo*") == []
    assert not any(b"gjobs-demo" in name for name in real_client.smembers("gjobs:queues"))


def test_the_demo_exits_0_without_a_redis_of_its_own():
    result = run(["--demo"])
    assert result.returncode == 0, result.stderr
    assert "private redis-server" in result.stderr or "fakeredis" in result.stderr
    assert "all 15 jobs completed" in result.stderr


def test_version_prints_the_version():
    result = run(["--version"])
    assert result.returncode == 0
    assert result.stdout.strip() == f"gjobs {gjobs.__version__}"


# -- the worker command -------------------------------------------------------------------------


def nothing(job):
    """A delegate for the worker command tests below."""


def test_burst_runs_what_is_ready_on_every_queue_then_exits(redis_process, real_client, names):
    for name in names:
        enqueue(real_client, name, 3)
    queues = [arg for name in names for arg in ("--queue", name)]

    status = worker_cli.main(["tests.test_worker_cli:nothing", "--redis-url", redis_process.url, *queues, "--burst"])

    assert status == 0
    assert completed(real_client, names) == 9
    assert pending(real_client, names) == 0


def test_the_worker_fits_the_garbage_collector_to_jobs_before_the_first_one(redis_process, real_client, prefix):
    Queue(real_client, prefix).enqueue({"key": f"{prefix}:collector"})
    result = run(["tests.delegates:note_collector", "--redis-url", redis_process.url, "--prefix", prefix, "--burst"],
                 url=redis_process.url)
    assert result.returncode == 0, result.stderr
    seen = real_client.hgetall(f"{prefix}:collector")
    assert int(seen[b"frozen"]) > 10_000  # the modules, the app, the worker: set aside
    assert int(seen[b"young"]) == worker_cli.YOUNG_THRESHOLD


@pytest.mark.parametrize(
    "args, says",
    [
        (["--queue", "a", "--prefix", "b"], "not both"),
        (["--weights", "2,1"], "--weights goes with several --queue"),
        (["--queue", "a", "--queue", "b", "--weights", "2,1,1"], "one weight per queue"),
        (["--queue", "a", "--queue", "a"], "distinct"),
    ],
)
def test_worker_options_that_do_not_fit_together_exit_2_in_one_line(args, says, capsys):
    assert worker_cli.main(["tests.delegates:record", "--redis-url", "redis://127.0.0.1:1/0", *args]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("gjobs-worker: error: ") and says in line, line


@pytest.mark.parametrize("args", [["--weights", "2,0"], ["--weights", "2,x"], ["--queue", "bad{name}"]])
def test_bad_queue_names_and_weights_are_refused(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        worker_cli.build_parser().parse_args(["tests.delegates:record", *args])
    assert exit_.value.code == 2


def test_one_queue_option_runs_that_queue_alone(fake_client):
    args = worker_cli.build_parser().parse_args(["x:y", "--queue", "mail"])
    worker = worker_cli.build_worker(args, Recorder(), fake_client)
    assert worker.queues == ["mail"] and worker.status_string() == "R=0 D=0 P=0/0"


def test_several_queue_options_run_them_in_the_order_given_with_one_limit(fake_client):
    args = worker_cli.build_parser().parse_args(["x:y", "--queue", "c", "--queue", "a", "--queue", "b",
                                                 "--concurrency", "7"])
    worker = worker_cli.build_worker(args, Recorder(), fake_client)
    assert (worker.queues, worker.concurrency, worker.slots.weights) == (["c", "a", "b"], 7, None)
