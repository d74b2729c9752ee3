"""The dashboard (``gjobs web``) in a real browser: headless Chromium against a real ``gjobs web``
process, against a real redis-server holding jobs in every state.

One browser, one seeded Redis and one ``gjobs web`` serve the whole module (about half a minute
in all). The queues, each named with a suffix of its own:

``mail``      3 ready, 2 delayed, 1 running (on a ``gjobs-worker`` of concurrency 1, so the
              ready jobs stay ready), 2 dead, 12 succeeded
``reports``   2 ready, paused
``cron``      a worker that declares and fires ``tests.periodic_jobs``'s "every-second"
``actions``   dead jobs for the tests that retry one, or try to
``fresh``     empty, until the refresh test enqueues
``xss``       ready, delayed and dead jobs whose task, argument and error are markup

What a browser does not show (a status, a header) and forged requests go through urllib.
Set ``GJOBS_SCREENSHOTS`` to a directory to keep the screenshots (``scripts/screenshot`` does).
"""

import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Dict, List

import pytest
import redis

from gjobs import Queue
from gjobs.embedded import RedisProcess

from . import browser
from .browser import WAIT, Chromium, Http, WebServer, bury
from .fault_delegates import WorkerProcess, runs
from .helpers import wait_for

REASON = browser.missing()
pytestmark = [
    pytest.mark.slow,
    # Where the tests run for real (CI=true in .ci/run, after scripts/test installed Chromium),
    # a missing browser fails them instead of skipping them quietly.
    pytest.mark.skipif(REASON is not None and not os.environ.get("CI"), reason=str(REASON)),
]

if REASON is None:
    from selenium.common.exceptions import (
        NoAlertPresentException,
        NoSuchElementException,
        StaleElementReferenceException,
    )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

TOKEN = "token-for-the-browser-tests"
XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_IMG = '"><img src=x onerror="window.__xss=1">'
#: Substrings of the two payloads that survive JSON escaping (which turns ``"`` into ``\\"``).
XSS_SHOWN = ("<script>window.__xss=1</script>", "<img src=x onerror=")
#: Seconds between the dashboard's refreshes in this module (the default is 3).
REFRESH = "1"
QUICK_JOBS = 12


# -- the seeded Redis ------------------------------------------------------------------------------


@dataclass
class Seeded:
    main: Queue
    paused: Queue
    cron: Queue
    actions: Queue
    fresh: Queue
    xss: Queue
    worker: WorkerProcess
    #: In ``main``: one job id per state (ready, delayed, running, dead, succeeded).
    jobs: Dict[str, str] = field(default_factory=dict)
    ready: List[str] = field(default_factory=list)
    delayed: List[str] = field(default_factory=list)
    #: ``{id: "Type: message"}`` of main's dead jobs.
    dead: Dict[str, str] = field(default_factory=dict)
    #: In ``xss``: one id per kind of page showing a payload ("ready", "dead-script", "dead-img").
    xss_jobs: Dict[str, str] = field(default_factory=dict)

    @property
    def prefixes(self):
        return [queue.prefix for queue in (self.main, self.paused, self.cron, self.actions, self.fresh, self.xss)]


@pytest.fixture(scope="module")
def redis_client(redis_process):
    client = redis.Redis(host="127.0.0.1", port=redis_process.port)
    yield client
    client.close()


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    return tmp_path_factory.mktemp("web-browser")


@pytest.fixture(scope="module")
def seeded(redis_client, redis_process, logs):
    suffix = uuid.uuid4().hex[:6]
    main, paused, cron, actions, fresh, xss = (
        Queue(redis_client, f"{name}-{suffix}") for name in ("mail", "reports", "cron", "actions", "fresh", "xss")
    )
    cron_worker = WorkerProcess("record_tick", redis_process.url, cron.prefix, logs, "--import", "tests.periodic_jobs",
                                "--heartbeat-interval", "0.5", name="cron-worker")
    dead = {
        bury(main, {"task": "app.mail:send_welcome", "args": ["ann@example.com"]}, "SMTPRecipientsRefused",
             "ann@example.com: mailbox unavailable"): "SMTPRecipientsRefused: ann@example.com: mailbox unavailable",
        bury(main, {"task": "app.billing:send_invoice", "args": [1042]}, "TimeoutError",
             "the mail server did not answer in 30 s"): "TimeoutError: the mail server did not answer in 30 s",
    }
    done = main.enqueue_many([{"task": "app.mail:send_digest", "args": [n], "n": n, "record": f"{main.prefix}:record"}
                              for n in range(1, QUICK_JOBS + 1)])
    running = main.enqueue({"task": "app.reports:export", "args": ["2024-q4"], "n": 0, "sleep": 600,
                            "started": f"{main.prefix}:started"})
    # Concurrency 1: the worker runs the quick jobs, then holds the slow one, and takes nothing more.
    worker = WorkerProcess("record", redis_process.url, main.prefix, logs, "--concurrency", "1",
                           "--heartbeat-interval", "0.5", name="mail-worker")
    try:
        wait_for(lambda: len(runs(redis_client, f"{main.prefix}:record")) == QUICK_JOBS, timeout=20,
                 message=f"the quick jobs to run (log: {worker.log_path})")
        wait_for(lambda: main.job(running).state == "running", timeout=20, message="the slow job to be running")
        wait_for(lambda: main.job(done[-1]).state == "succeeded", message="a quick job to be known as succeeded")
        ready = [main.enqueue({"task": "app.mail:send_welcome", "args": [address]})
                 for address in ("bob@example.com", "cy@example.com", "dee@example.com")]
        delayed = [main.enqueue_in({"task": "app.mail:send_reminder", "args": [days]}, days * 86400) for days in (1, 2)]

        paused.enqueue_many([{"task": "app.reports:nightly", "args": [day]} for day in ("mon", "tue")])
        paused.pause()

        for n in range(3):
            bury(actions, {"task": "app.sync:pull", "args": [n]}, "ConnectionError", f"upstream {n} is down")

        traceback = f"Traceback (most recent call last):\n{XSS_IMG}\nRuntimeError: {XSS_SCRIPT}\n"
        xss_jobs = {
            "dead-script": bury(xss, {"task": "app.x:run", "args": [XSS_SCRIPT]}, "RuntimeError", XSS_SCRIPT,
                                traceback=traceback),
            "dead-img": bury(xss, {"task": XSS_IMG, "args": [XSS_IMG]}, "ValueError", XSS_IMG),
            "ready": xss.enqueue({"task": XSS_IMG, "args": [XSS_SCRIPT, XSS_IMG]}),
        }
        xss.enqueue_in({"task": XSS_SCRIPT, "args": [XSS_IMG, XSS_SCRIPT]}, 3600)

        wait_for(lambda: redis_client.llen(f"{cron.prefix}:ticks") > 0, timeout=20,
                 message=f"the cron worker's first tick (log: {cron_worker.log_path})")
        yield Seeded(
            main, paused, cron, actions, fresh, xss, worker,
            jobs={"ready": ready[0], "delayed": delayed[0], "running": running, "dead": next(iter(dead)),
                  "succeeded": done[-1]},
            ready=ready, delayed=delayed, dead=dead, xss_jobs=xss_jobs,
        )
    finally:
        worker.close()
        cron_worker.close()


def web_server(logs, name, url, prefixes, *options):
    args = ["--redis-url", url, "--refresh", REFRESH, *options]
    for prefix in prefixes:
        args += ["--prefix", prefix]
    return WebServer(logs, name, *args)


@pytest.fixture(scope="module")
def web(seeded, redis_process, logs):
    """``gjobs web --auth TOKEN`` on every seeded queue."""
    server = web_server(logs, "web", redis_process.url, seeded.prefixes, "--auth", TOKEN)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def read_only_web(seeded, redis_process, logs):
    server = web_server(logs, "web-read-only", redis_process.url, seeded.prefixes, "--auth", TOKEN, "--read-only")
    yield server
    server.stop()


# -- the browser -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium():
    if REASON is not None:
        pytest.fail(REASON)
    browser = Chromium()
    yield browser.driver
    browser.quit()


@pytest.fixture
def driver(chromium):
    """The module's browser with no cookie: every test starts logged out."""
    chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})
    return chromium


def wait_until(driver, condition, message):
    """``condition(driver)``'s first truthy value; elements missing or replaced meanwhile (a page
    loading, a refresh swapping the content) count as not yet."""
    wait = WebDriverWait(driver, WAIT, poll_frequency=0.05,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
    return wait.until(condition, message=f"timed out waiting for {message}")


def one(driver, selector):
    return driver.find_element(By.CSS_SELECTOR, selector)


def every(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def cells(row):
    """``{data-field: text}`` of a table row."""
    found = row.find_elements(By.CSS_SELECTOR, "td[data-field]")
    return {cell.get_attribute("data-field"): cell.text for cell in found}


def attributes(driver, selector, name):
    """The attribute ``name`` of every element ``selector`` matches, read in one script: the page
    refreshes its content every second here, and a read element by element can straddle a
    refresh (the elements read after it are gone)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.getAttribute(arguments[1]))",
        selector, name)


def row_ids(driver, table, key="data-job"):
    return set(attributes(driver, f"table#{table} tr[{key}]", key))


def log_in(driver, web):
    """Log in through the login form, as a person would."""
    driver.get(web.url + "/login")
    one(driver, "input#token").send_keys(TOKEN)
    one(driver, "button#login-submit").click()
    wait_until(driver, lambda d: "logged in" in one(d, "span#auth").text, "the page to say 'logged in'")


def alert_open(driver):
    try:
        return driver.switch_to.alert is not None
    except NoAlertPresentException:
        return False


def refreshes(driver):
    return int(driver.execute_script("return document.body.dataset.refreshes || 0"))


def redis_state(queue):
    """What an action on a queue could change: its dead, ready and delayed ids and its pause."""
    client, keys = queue.client, queue.keys
    return (client.zrange(keys.dead, 0, -1), client.lrange(keys.ready, 0, -1), client.zrange(keys.delayed, 0, -1),
            client.exists(keys.paused))


# -- every page shows what Redis holds -----------------------------------------------------------------


def test_the_overview_shows_the_counts_redis_holds_for_each_queue(driver, web, seeded):
    driver.get(web.url + "/")

    shown = {queue.prefix: cells(one(driver, f'table#queues tr[data-queue="{queue.prefix}"]'))
             for queue in (seeded.main, seeded.paused)}
    in_redis = {}
    for queue in (seeded.main, seeded.paused):
        stats = queue.stats()
        in_redis[queue.prefix] = {"ready": str(stats["ready"]), "delayed": str(stats["delayed"]),
                                  "running": str(stats["in_progress"]), "dead": str(stats["dead"]),
                                  "workers": str(len(stats["workers"])), "paused": "paused" if stats["paused"] else ""}
    assert in_redis[seeded.main.prefix] == {"ready": "3", "delayed": "2", "running": "1", "dead": "2", "workers": "1",
                                            "paused": ""}
    assert {name: {key: row.get(key) for key in in_redis[name]} for name, row in shown.items()} == in_redis
    link = one(driver, f'tr[data-queue="{seeded.main.prefix}"] a.queue-link')
    assert link.get_attribute("href") == f"{web.url}/queues/{seeded.main.prefix}"


def test_the_overview_chart_adds_up_to_the_hours_totals(driver, web, seeded):
    driver.get(web.url + "/")

    # The bars and the totals in one script, so that both come from the same refresh of the page.
    bars, totals = driver.execute_script("""
        const kinds = ["succeeded", "failed"];
        const bars = {}, totals = {};
        for (const kind of kinds) {
            bars[kind] = Array.from(document.querySelectorAll(`svg#throughput rect.${kind}`),
                                    rect => Number(rect.getAttribute("data-count")));
            totals[kind] = Number(document.querySelector(`span#${kind}-hour`).textContent);
        }
        return [bars, totals];
    """)
    assert {kind: sum(counts) for kind, counts in bars.items()} == totals
    assert totals["succeeded"] >= QUICK_JOBS and totals["failed"] >= len(seeded.dead)


def test_the_queue_page_lists_its_ready_and_delayed_jobs(driver, web, seeded):
    driver.get(f"{web.url}/queues/{seeded.main.prefix}")

    assert seeded.main.prefix in one(driver, "h1").text
    counts = {dd.get_attribute("data-field"): dd.text for dd in every(driver, "dl#counts dd[data-field]")}
    assert {key: counts.get(key) for key in ("ready", "delayed", "running", "dead", "workers")} == {
        "ready": "3", "delayed": "2", "running": "1", "dead": "2", "workers": "1"}
    assert row_ids(driver, "ready") == set(seeded.ready)
    assert row_ids(driver, "delayed") == set(seeded.delayed)
    first = cells(one(driver, f'table#ready tr[data-job="{seeded.ready[0]}"]'))
    assert (first["task"], "bob@example.com" in first["args"]) == ("app.mail:send_welcome", True)


def test_the_dead_page_shows_each_dead_jobs_error(driver, web, seeded):
    driver.get(f"{web.url}/queues/{seeded.main.prefix}/dead")

    assert one(driver, "span#dead-count").text == "2"
    shown = {job_id: cells(one(driver, f'table#dead tr[data-job="{job_id}"]'))["error"] for job_id in seeded.dead}
    assert shown == seeded.dead


def test_the_workers_page_lists_the_running_worker(driver, web, seeded):
    worker_id = wait_for(lambda: seeded.worker.registered_id(seeded.main), message="the worker's registration")
    driver.get(web.url + "/workers")

    row = cells(one(driver, f'table#workers tr[data-worker="{worker_id}"]'))
    assert {key: row.get(key) for key in ("queue", "pid", "running", "concurrency")} == {
        "queue": seeded.main.prefix, "pid": str(seeded.worker.pid), "running": "1", "concurrency": "1"}


def test_the_schedules_page_lists_the_schedule_a_worker_declared(driver, web, seeded):
    driver.get(web.url + "/schedules")

    row = cells(one(driver, f'table#schedules tr[data-schedule="{seeded.cron.prefix}/every-second"]'))
    assert (row.get("queue"), row.get("name")) == (seeded.cron.prefix, "every-second")


@pytest.mark.parametrize("state", ["ready", "delayed", "running", "dead", "succeeded"])
def test_a_job_page_shows_the_state_of_the_job(driver, web, seeded, state):
    job_id = seeded.jobs[state]
    assert seeded.main.job(job_id).state == state
    driver.get(f"{web.url}/queues/{seeded.main.prefix}/jobs/{job_id}")

    assert one(driver, "span#state").text == state


def test_an_unknown_job_is_404_and_its_page_says_unknown(driver, web, seeded):
    path = f"/queues/{seeded.main.prefix}/jobs/no-such-job"
    status, _, _ = Http(web.url).get(path)
    driver.get(web.url + path)

    assert (status, one(driver, "span#state").text) == (404, "unknown")


# -- actions ------------------------------------------------------------------------------------------


def test_a_wrong_token_is_refused_at_login(driver, web):
    driver.get(web.url + "/login")
    one(driver, "input#token").send_keys("not-the-token")
    one(driver, "button#login-submit").click()

    refused = wait_until(driver, lambda d: one(d, "p#refused"), "the refusal")
    assert refused.text
    driver.get(web.url + "/")
    assert every(driver, "span#auth a#login-link")


def test_the_login_cookie_is_out_of_reach_of_scripts(driver, web):
    driver.get(web.url + "/login")
    before = {cookie["name"] for cookie in driver.get_cookies()}
    log_in(driver, web)

    made = [cookie for cookie in driver.get_cookies() if cookie["name"] not in before]
    assert made, "logging in set no cookie"
    assert [cookie["name"] for cookie in made if not cookie.get("httpOnly")] == []
    readable = driver.execute_script("return document.cookie")
    assert [cookie["name"] for cookie in made if cookie["name"] in readable] == []


def test_retrying_a_dead_job_after_logging_in_moves_it_out_of_the_dead_set(driver, web, seeded):
    queue = seeded.actions
    job_id = queue.client.zrange(queue.keys.dead, 0, 0)[0].decode()
    log_in(driver, web)
    driver.get(f"{web.url}/queues/{queue.prefix}/dead")

    one(driver, f'table#dead tr[data-job="{job_id}"] button[data-action="retry"]').click()

    flash = wait_until(driver, lambda d: one(d, "p#flash"), "the outcome of the retry")
    assert "retried" in flash.text
    assert queue.client.zscore(queue.keys.dead, job_id) is None
    assert job_id.encode() in queue.client.lrange(queue.keys.ready, 0, -1)
    driver.get(f"{web.url}/queues/{queue.prefix}/dead")
    assert one(driver, "table#dead") and job_id not in row_ids(driver, "dead")


def test_an_action_clicked_without_logging_in_is_refused_and_changes_nothing(driver, web, seeded):
    queue = seeded.actions
    before = redis_state(queue)
    job_id = before[0][-1].decode()
    driver.get(f"{web.url}/queues/{queue.prefix}/dead")
    assert every(driver, "span#auth a#login-link")

    one(driver, f'table#dead tr[data-job="{job_id}"] button[data-action="retry"]').click()

    wait_until(driver, lambda d: one(d, "p#refused"), "the refusal")
    assert redis_state(queue) == before


def forged_csrf(client, path):
    """The csrf value the page at ``path`` gave this client (its ``gjobs_csrf`` cookie)."""
    status, _, _ = client.get(path)
    assert status == 200
    csrf = client.cookie("gjobs_csrf")
    assert csrf, "no gjobs_csrf cookie was set"
    return csrf


def logged_in(web):
    client = Http(web.url)
    status, _, _ = client.get(f"/login?token={TOKEN}")
    assert status == 303
    return client


def test_a_post_without_logging_in_is_403_and_changes_nothing(web, seeded):
    queue, client = seeded.actions, Http(web.url)
    before = redis_state(queue)
    csrf = forged_csrf(client, f"/queues/{queue.prefix}/dead")

    status, _, body = client.post(f"/queues/{queue.prefix}/dead/retry", {"all": "1", "csrf": csrf})

    assert (status, 'id="refused"' in body) == (403, True)
    assert redis_state(queue) == before


def test_a_post_with_a_wrong_csrf_is_403_and_changes_nothing(web, seeded):
    queue, client = seeded.actions, logged_in(web)
    before = redis_state(queue)
    csrf = forged_csrf(client, f"/queues/{queue.prefix}/dead")

    status, _, body = client.post(f"/queues/{queue.prefix}/dead/retry", {"all": "1", "csrf": csrf + "x"})

    assert (status, 'id="refused"' in body) == (403, True)
    assert redis_state(queue) == before


def test_a_post_from_a_foreign_origin_is_403_and_changes_nothing(web, seeded):
    queue, client = seeded.actions, logged_in(web)
    before = redis_state(queue)
    csrf = forged_csrf(client, f"/queues/{queue.prefix}/dead")

    status, _, body = client.post(f"/queues/{queue.prefix}/dead/retry", {"all": "1", "csrf": csrf},
                                  headers={"Origin": "http://evil.example"})

    assert (status, 'id="refused"' in body) == (403, True)
    assert redis_state(queue) == before


# -- read-only --------------------------------------------------------------------------------------------


def test_read_only_renders_no_action_button(driver, read_only_web, seeded):
    main = seeded.main.prefix
    pages = {"/": "table#queues", f"/queues/{main}": "table#ready", f"/queues/{main}/dead": "table#dead",
             f"/queues/{main}/jobs/{seeded.jobs['dead']}": "pre#error", f"/queues/{main}/jobs/{seeded.jobs['ready']}":
             "pre#payload", "/schedules": "table#schedules", "/workers": "table#workers"}
    actions = {}
    for path, content in pages.items():
        driver.get(read_only_web.url + path)
        assert one(driver, content) and one(driver, "span#auth").text == "read-only"
        # A form may stay (the dead page's holds the table), but nothing in it can submit it.
        found = every(driver, "button, input[type=submit], input[type=image], input[type=checkbox]")
        actions[path] = [element.get_attribute("outerHTML")[:80] for element in found]

    assert actions == {path: [] for path in pages}


def test_read_only_refuses_a_post_even_logged_in(read_only_web, seeded):
    queue, client = seeded.actions, Http(read_only_web.url)
    client.get(f"/login?token={TOKEN}")
    before = redis_state(queue)
    csrf = forged_csrf(client, f"/queues/{queue.prefix}/dead")

    status, _, body = client.post(f"/queues/{queue.prefix}/dead/retry", {"all": "1", "csrf": csrf})

    assert (status, 'id="refused"' in body) == (403, True)
    assert redis_state(queue) == before


# -- what Redis holds is shown, never run -------------------------------------------------------------------


def assert_nothing_injected(driver):
    assert not alert_open(driver)
    assert driver.execute_script("return typeof window.__xss") == "undefined"
    assert every(driver, 'img[src="x"]') == []
    scripts = [script.get_attribute("src") or "(inline)" for script in every(driver, "script")]
    assert all(src.endswith("/static/gjobs.js") for src in scripts), scripts


def shown_text(driver, selector):
    return " ".join(element.text for element in every(driver, selector))


@pytest.mark.parametrize("page", ["queue", "dead", "ready-job", "dead-job"])
def test_markup_from_a_job_is_shown_as_text_and_never_runs(driver, web, seeded, page):
    xss, jobs = seeded.xss.prefix, seeded.xss_jobs
    path, selector = {
        "queue": (f"/queues/{xss}", "table#ready td[data-field=task], table#ready td[data-field=args]"),
        "dead": (f"/queues/{xss}/dead", "table#dead td[data-field=error]"),
        "ready-job": (f"/queues/{xss}/jobs/{jobs['ready']}", "pre#payload"),
        "dead-job": (f"/queues/{xss}/jobs/{jobs['dead-script']}", "pre#error, pre#traceback"),
    }[page]
    driver.get(web.url + path)

    assert_nothing_injected(driver)
    text = shown_text(driver, selector)
    assert all(markup in text for markup in XSS_SHOWN), text
    if page == "ready-job":
        assert json.loads(one(driver, "pre#payload").text)["args"] == [XSS_SCRIPT, XSS_IMG]
    seen = refreshes(driver)
    wait_until(driver, lambda d: refreshes(d) > seen, "a refresh of the content")
    assert_nothing_injected(driver)


def test_the_dead_page_shows_an_error_message_of_markup_as_it_is(driver, web, seeded):
    driver.get(f"{web.url}/queues/{seeded.xss.prefix}/dead")

    shown = {job_id: cells(one(driver, f'table#dead tr[data-job="{job_id}"]'))["error"]
             for job_id in (seeded.xss_jobs["dead-script"], seeded.xss_jobs["dead-img"])}
    assert shown == {seeded.xss_jobs["dead-script"]: f"RuntimeError: {XSS_SCRIPT}",
                     seeded.xss_jobs["dead-img"]: f"ValueError: {XSS_IMG}"}
    assert_nothing_injected(driver)


# -- the page refreshes itself ---------------------------------------------------------------------------------


def test_the_overview_shows_a_new_job_without_reloading(driver, web, seeded):
    ready = f'table#queues tr[data-queue="{seeded.fresh.prefix}"] td[data-field=ready]'
    driver.get(web.url + "/")
    assert float(one(driver, "main#content").get_attribute("data-refresh")) == float(REFRESH)
    assert one(driver, ready).text == "0"
    window = driver.current_window_handle
    driver.execute_script("window.__loaded_once = 'this document'")
    seen = refreshes(driver)

    seeded.fresh.enqueue({"task": "app.mail:send_welcome", "args": ["new@example.com"]})

    wait_until(driver, lambda d: one(d, ready).text == "1", "the ready count to show the new job")
    assert refreshes(driver) > seen
    assert driver.current_window_handle == window
    assert driver.execute_script("return window.__loaded_once") == "this document"


# -- headers and secrets ------------------------------------------------------------------------------------------


def directives(policy):
    parsed = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0].lower()] = words[1:]
    return parsed


def test_every_page_sends_a_content_security_policy_that_forbids_inline_scripts(driver, web, seeded):
    client, main = Http(web.url), seeded.main.prefix
    policies = {}
    for path in ("/", "/workers", "/schedules", "/login", f"/queues/{main}", f"/queues/{main}/dead",
                 f"/queues/{main}/jobs/{seeded.jobs['dead']}"):
        _, headers, _ = client.get(path)
        policies[path] = directives(headers.get("Content-Security-Policy", ""))
    scripts = {path: policy.get("script-src", policy.get("default-src")) for path, policy in policies.items()}
    assert scripts == {path: ["'self'"] for path in policies}
    assert all(policy.get("object-src") == ["'none'"] for policy in policies.values()), policies

    # And Chromium holds to it: an inline script added to the page does not run.
    driver.get(web.url + "/")
    driver.execute_script("""
        const script = document.createElement('script');
        script.textContent = 'window.__inline = 1';
        document.body.appendChild(script);""")
    assert driver.execute_script("return typeof window.__inline") == "undefined"


def test_the_redis_password_never_appears(driver, logs):
    password = f"pw-{uuid.uuid4().hex[:12]}"
    with RedisProcess(extra=["--requirepass", password]) as server:
        client = redis.Redis(host="127.0.0.1", port=server.port, password=password)
        queue = Queue(client, "guarded")
        queue.enqueue({"task": "app.mail:send_welcome", "args": ["ann@example.com"]})
        job_id = bury(Queue(client, "guarded-dead"), {"task": "app.x:run", "args": [1]})
        url = f"redis://:{password}@127.0.0.1:{server.port}/0"
        web = web_server(logs, "web-password", url, ["guarded", "guarded-dead"], "--auth", TOKEN)
        try:
            pages = {}
            for path in ("/", "/workers", "/schedules", "/login", "/queues/guarded", "/queues/guarded-dead/dead",
                         f"/queues/guarded-dead/jobs/{job_id}", "/queues/guarded/jobs/no-such-job"):
                driver.get(web.url + path)
                pages[path] = driver.page_source
            pages["/metrics"] = Http(web.url).get("/metrics")[2]
            driver.get(web.url + "/")
            shown = one(driver, 'table#queues tr[data-queue="guarded"] td[data-field=ready]').text
        finally:
            web.stop()
            client.close()

    assert shown == "1", "the dashboard did not read the password-protected Redis"
    assert [path for path, page in pages.items() if password in page] == []
    assert password not in web.log()


# -- screenshots ----------------------------------------------------------------------------------------------------


def test_screenshots_of_the_main_pages(driver, web, seeded, tmp_path):
    directory = os.environ.get("GJOBS_SCREENSHOTS") or str(tmp_path)
    os.makedirs(directory, exist_ok=True)
    main = seeded.main.prefix
    driver.get(f"{web.url}/login?token={TOKEN}")
    pages = {"overview": ("/", "table#queues"), "queue": (f"/queues/{main}", "table#ready"),
             "dead": (f"/queues/{main}/dead", "table#dead"),
             "job": (f"/queues/{main}/jobs/{seeded.jobs['dead']}", "pre#traceback")}
    written = {}
    for name, (path, content) in pages.items():
        driver.get(web.url + path)
        one(driver, content)
        path = os.path.join(directory, f"{name}.png")
        assert driver.save_screenshot(path)
        with open(path, "rb") as image:
            written[name] = image.read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 10_000
    assert written == {name: True for name in pages}
