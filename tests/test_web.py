"""The dashboard (:mod:`gjobs.web`) through werkzeug's test client, on real Redis and fakeredis:
what each action changes in Redis and where it comes back to, what is refused, the headers,
paging, escaping, the mount point, /metrics, a failing Redis and ``gjobs web``'s argument
errors. What only a browser shows (scripts, refreshes) is in test_web_browser.py; the chart's
arithmetic in test_web_chart.py.

Actions are sent as a browser sends them (see :mod:`tests.web_client`): the button is found on
the page, and its form's hidden fields (the CSRF token, the page to come back to) are posted to
its form's address.
"""

import io
import json
import socket
import time
from typing import Dict
from urllib.parse import urljoin, urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gjobs.cli import admin
from gjobs.cron_table import CronTable
from gjobs.embedded import free_port
from gjobs.keys import QUEUES
from gjobs.processing_list import ProcessingList
from gjobs.schedule import Schedule
from gjobs.web import Dashboard, app
from gjobs.web.security import AUTH_COOKIE, CSRF_COOKIE
from gjobs.worker_registry import WorkerRegistry

from .browser import bury
from .helpers import one_line_error
from .web_client import TOKEN, Browser, Element, Page

MOUNT = "/admin/gjobs"
XSS = "<script>window.__xss=1</script>"


def came_back(browser: Browser, response, page: Page) -> str:
    """Assert an action answered 303 to the page it was sent from, which then shows its flash
    once; return the flash."""
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"] == page.url
    first, again = browser.page(page.url[len(browser.mount):]), browser.page(page.url[len(browser.mount):])
    assert again.flash() is None
    assert first.flash() is not None
    return first.flash()


def snapshot(client, prefix: str) -> Dict[bytes, bytes]:
    """Every key of the queue ``prefix``, dumped: equal snapshots mean nothing changed."""
    return {key: client.dump(key) for key in client.scan_iter(match=f"{{{prefix}}}:*")}


def declare(queue, name: str = "nightly") -> str:
    """A schedule of ``queue`` declared as a running worker declares it (an hour's lease)."""
    schedule = Schedule(name, {"task": "app:nightly", "args": []}, every=3600)
    CronTable(queue.client, queue.keys).declare([(name, json.dumps(schedule.definition()), b'{"n": 7}')], 3600)
    return name


# -- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def known(client, prefix):
    """This test's queue in the set of queues a worker has started on, as the overview needs."""
    client.sadd(QUEUES, prefix)
    yield prefix
    client.srem(QUEUES, prefix)


@pytest.fixture
def web(client, known):
    """A dashboard with a token of its own, logged in."""
    return Browser(Dashboard(client, auth=TOKEN)).login()


@pytest.fixture
def here(prefix):
    return f"/queues/{prefix}"


# -- actions: what each one changes, and where it comes back to -----------------------------------


def test_pause_pauses_the_queue_and_comes_back_with_its_flash_once(web, queue, here):
    page = web.page(here)
    said = came_back(web, web.click(page, page.one("button", id="pause")), page)
    assert queue.stats()["paused"] is True
    assert said.startswith(f"queue {queue.prefix} paused")


def test_resume_resumes_a_paused_queue_and_comes_back_with_its_flash_once(web, queue, here):
    queue.pause()
    page = web.page(here)
    said = came_back(web, web.click(page, page.one("button", id="resume")), page)
    assert queue.stats()["paused"] is False
    assert said == f"queue {queue.prefix} resumed"


def test_retry_on_a_dead_row_requeues_that_job_only(web, queue, here):
    first, second = bury(queue, {"n": 1}), bury(queue, {"n": 2})
    page = web.page(f"{here}/dead")
    said = came_back(web, web.click(page, page.one("button", within="dead", data_action="retry", value=first)), page)
    assert [entry.id for entry in queue.dead()] == [second]
    assert queue.job(first).state == "ready"
    assert said == "1 dead job retried"


def test_retry_selected_requeues_the_ticked_dead_jobs_only(web, queue, here):
    ids = [bury(queue, {"n": n}) for n in range(3)]
    page = web.page(f"{here}/dead")
    said = came_back(web, web.click(page, page.one("button", id="retry-selected"), ticked=ids[:2]), page)
    assert [entry.id for entry in queue.dead()] == [ids[2]]
    assert [queue.job(job_id).state for job_id in ids[:2]] == ["ready", "ready"]
    assert said == "2 dead jobs retried"


def test_retry_all_requeues_every_dead_job(web, queue, here):
    ids = [bury(queue, {"n": n}) for n in range(3)]
    page = web.page(f"{here}/dead")
    said = came_back(web, web.click(page, page.one("button", id="retry-all")), page)
    assert queue.dead() == [] and queue.stats()["ready"] == 3
    assert {queue.job(job_id).state for job_id in ids} == {"ready"}
    assert said == "3 dead jobs retried"


def test_delete_on_a_dead_row_deletes_that_job_only(web, queue, here):
    first, second = bury(queue, {"n": 1}), bury(queue, {"n": 2})
    page = web.page(f"{here}/dead")
    said = came_back(web, web.click(page, page.one("button", within="dead", data_action="delete", value=first)), page)
    assert [entry.id for entry in queue.dead()] == [second]
    assert queue.job(first).state == "unknown"
    assert said == "1 dead job deleted"


def test_delete_selected_deletes_the_ticked_dead_jobs_only(web, queue, here):
    ids = [bury(queue, {"n": n}) for n in range(3)]
    page = web.page(f"{here}/dead")
    said = came_back(web, web.click(page, page.one("button", id="delete-selected"), ticked=ids[1:]), page)
    assert [entry.id for entry in queue.dead()] == [ids[0]]
    assert said == "2 dead jobs deleted"


def test_delete_all_deletes_every_dead_job(web, queue, here):
    for n in range(3):
        bury(queue, {"n": n})
    page = web.page(f"{here}/dead")
    said = came_back(web, web.click(page, page.one("button", id="delete-all")), page)
    assert queue.dead() == [] and queue.stats()["ready"] == 0
    assert said == "3 dead jobs deleted"


def test_retry_on_a_dead_jobs_page_requeues_it_and_comes_back_to_that_page(web, queue, here):
    job_id = bury(queue, {"n": 1})
    page = web.page(f"{here}/jobs/{job_id}")
    said = came_back(web, web.click(page, page.one("button", id="retry")), page)
    assert queue.job(job_id).state == "ready"
    assert said == "1 dead job retried"


def test_delete_on_a_ready_row_cancels_that_job_only(web, queue, here):
    doomed, kept = queue.enqueue({"n": 1}), queue.enqueue({"n": 2})
    page = web.page(here)
    said = came_back(web, web.click(page, row_button(page, "ready", doomed, "delete")), page)
    assert (queue.job(doomed).state, queue.job(kept).state) == ("cancelled", "ready")
    assert said == "1 job deleted"


def test_delete_on_a_delayed_row_removes_that_job_only(web, queue, here):
    doomed, kept = queue.enqueue_in({"n": 1}, 600), queue.enqueue_in({"n": 2}, 600)
    page = web.page(here)
    said = came_back(web, web.click(page, row_button(page, "delayed", doomed, "delete")), page)
    assert [entry.id for entry in queue.control.delayed()] == [kept]
    assert queue.job(doomed).state == "cancelled"
    assert said == "1 job deleted"


def test_run_now_moves_a_delayed_job_to_the_front_of_the_ready_list(web, queue, here):
    queue.enqueue_many([{"n": 1}, {"n": 2}])
    soon, later = queue.enqueue_in({"n": 3}, 600), queue.enqueue_in({"n": 4}, 900)
    page = web.page(here)
    said = came_back(web, web.click(page, row_button(page, "delayed", later, "run-now")), page)
    assert queue.control.ready()[0].id == later
    assert [entry.id for entry in queue.control.delayed()] == [soon]
    assert said == "1 delayed job moved to the front of the queue"


def test_cancel_on_a_job_page_cancels_the_job(web, queue, here):
    job_id = queue.enqueue_in({"n": 1}, 600)
    page = web.page(f"{here}/jobs/{job_id}")
    said = came_back(web, web.click(page, page.one("button", id="cancel")), page)
    assert queue.job(job_id).state == "cancelled"
    assert said == f"job {job_id} cancelled"


def test_run_on_a_schedule_enqueues_its_job_now(web, queue, prefix):
    name = declare(queue)
    page = web.page("/schedules")
    said = came_back(web, web.click(page, schedule_button(page, prefix, name, "run")), page)
    [ready] = queue.control.ready()
    assert ready.job == {"n": 7}
    assert said == f"schedule {name} ran now: job {ready.id}"


def test_pause_on_a_schedule_pauses_it(web, queue, prefix):
    name = declare(queue)
    page = web.page("/schedules")
    said = came_back(web, web.click(page, schedule_button(page, prefix, name, "pause")), page)
    assert [info.paused for info in queue.schedules.list()] == [True]
    assert said == f"schedule {name} paused"


def test_resume_on_a_paused_schedule_resumes_it(web, queue, prefix):
    name = declare(queue)
    queue.schedules.pause(name)
    page = web.page("/schedules")
    said = came_back(web, web.click(page, schedule_button(page, prefix, name, "resume")), page)
    assert [info.paused for info in queue.schedules.list()] == [False]
    assert said == f"schedule {name} resumed"


def test_a_schedule_whose_name_has_a_slash_is_run_from_its_row(web, queue, prefix):
    name = declare(queue, "reports/daily")
    page = web.page("/schedules")
    said = came_back(web, web.click(page, schedule_button(page, prefix, name, "run")), page)
    assert said.startswith("schedule reports/daily ran now") and queue.stats()["ready"] == 1


@pytest.mark.parametrize("job_id", ["invoice/42", "what?#now", "100%25 off", "spaced out"])
def test_a_job_whose_id_needs_quoting_is_linked_and_cancelled_by_its_id(web, queue, here, job_id):
    queue.enqueue({"n": 1}, id=job_id)
    [link] = [a for a in web.page(here).all("a") if a.text == job_id]
    page = web.page(link.attrs["href"])
    assert page.one("span", id="state").text == "ready"
    came_back(web, web.click(page, page.one("button", id="cancel")), page)
    assert queue.job(job_id).state == "cancelled"


def row_button(page: Page, table: str, job_id: str, action: str) -> Element:
    [row] = [row for row in page.all("tr", within=table) if row.attrs.get("data-job") == job_id]
    [button] = [e for e in page.all("button", data_action=action) if row in e.parents]
    return button


def schedule_button(page: Page, queue: str, name: str, action: str) -> Element:
    row = page.one("tr", data_schedule=f"{queue}/{name}")
    [button] = [e for e in page.all("button", data_action=action) if row in e.parents]
    return button


@pytest.mark.parametrize("target", ["//evil.example/", "/\t/evil.example/", "https://evil.example/",
                                    "\\\\evil.example\\", "/\\evil.example/", "/queues/\n/evil"])
def test_a_next_that_leaves_the_site_is_not_followed(web, queue, here, target):
    response = web.post(f"{here}/pause", {"next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == here


# -- what is refused -----------------------------------------------------------------------------------


# Each gives a browser that has just read the page ``here`` (which sets its CSRF cookie), and the
# form fields and headers its POST goes with.


def on(browser: Browser, here: str) -> Browser:
    browser.get(here)
    return browser


def not_logged_in(client, here):
    return on(Browser(Dashboard(client, auth=TOKEN)), here), {}, {}


def wrong_csrf(client, here):
    return on(Browser(Dashboard(client, auth=TOKEN)).login(), here), {"csrf": "x" * 43}, {}


def no_csrf_cookie(client, here):
    browser = on(Browser(Dashboard(client, auth=TOKEN)).login(), here)
    sent = browser.csrf()
    browser.client.delete_cookie(CSRF_COOKIE)
    assert browser.csrf() == ""
    return browser, {"csrf": sent}, {}


def foreign_origin(client, here):
    return on(Browser(Dashboard(client, auth=TOKEN)).login(), here), {}, {"Origin": "https://evil.example"}


def null_origin(client, here):
    """What a sandboxed frame sends."""
    return on(Browser(Dashboard(client, auth=TOKEN)).login(), here), {}, {"Origin": "null"}


def cross_site(client, here):
    return on(Browser(Dashboard(client, auth=TOKEN)).login(), here), {}, {"Sec-Fetch-Site": "cross-site"}


def read_only(client, here):
    return on(Browser(Dashboard(client, read_only=True)), here), {}, {}


@pytest.mark.parametrize("refusal, says", [
    (not_logged_in, "log in first"), (wrong_csrf, "CSRF token does not match"),
    (no_csrf_cookie, "CSRF token does not match"), (foreign_origin, "another origin (https://evil.example)"),
    (null_origin, "another origin (null)"), (cross_site, "from another site"), (read_only, "read-only"),
])
@pytest.mark.parametrize("action, form", [("pause", {}), ("dead/delete", {"all": "1"}), ("dead/retry", {"all": "1"})])
def test_a_refused_action_is_403_and_changes_nothing(client, known, queue, here, refusal, says, action, form):
    bury(queue, {"n": 1})
    queue.enqueue({"n": 2})
    before = snapshot(client, queue.prefix)
    browser, extra, headers = refusal(client, here)

    response = browser.post(f"{here}/{action}", {**form, **extra}, headers)

    assert response.status_code == 403
    assert says in Page(response, here).one("p", id="refused").text
    assert len(before) > 3 and snapshot(client, queue.prefix) == before


def test_a_wrong_token_at_login_is_403_and_sets_no_cookie(client, known):
    browser = Browser(Dashboard(client, auth=TOKEN))
    response = browser.get("/login?token=not-the-token")
    assert response.status_code == 403
    assert browser.client.get_cookie(AUTH_COOKIE) is None


def test_read_only_renders_no_action_form(client, known, queue, here):
    job_id = bury(queue, {"n": 1})
    queue.enqueue_in({"n": 2}, 600)
    declare(queue)
    browser = Browser(Dashboard(client, read_only=True))
    for path in ("/", here, f"{here}/dead", f"{here}/jobs/{job_id}", "/schedules"):
        assert browser.page(path).all("button") == [], path


# -- login, headers, status codes ---------------------------------------------------------------------


def test_login_sets_an_httponly_strict_cookie_that_holds_no_token_text(client, known):
    response = Browser(Dashboard(client, auth=TOKEN)).get(f"/login?token={TOKEN}")
    [cookie] = [value for value in response.headers.getlist("Set-Cookie") if value.startswith(f"{AUTH_COOKIE}=")]
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert {"httponly", "samesite=strict"} <= attributes
    assert TOKEN not in cookie and TOKEN[:8] not in cookie


def test_a_login_posted_from_another_site_is_refused(client, known):
    browser = Browser(Dashboard(client, auth=TOKEN))
    response = browser.client.post("/login", data={"token": TOKEN}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert browser.client.get_cookie(AUTH_COOKIE) is None


def every_kind_of_response(browser: Browser, queue, here) -> Dict[str, object]:
    job_id = bury(queue, {"n": 1})
    return {
        "overview": browser.get("/"), "workers": browser.get("/workers"), "schedules": browser.get("/schedules"),
        "queue": browser.get(here), "dead": browser.get(f"{here}/dead"), "job": browser.get(f"{here}/jobs/{job_id}"),
        "unknown job": browser.get(f"{here}/jobs/nope"), "login": browser.get("/login"),
        "metrics": browser.get("/metrics"), "static": browser.get("/static/gjobs.css"),
        "not found": browser.get("/nope"), "action": browser.post(f"{here}/pause", {}),
        "refused": browser.post(f"{here}/resume", {"csrf": "wrong"}),
        "bad form": browser.post(f"{here}/dead/retry", {}),
        "wrong method": browser.get(f"{here}/pause"),
    }


def test_every_response_carries_the_csp_and_nosniff_headers(web, queue, here):
    responses = every_kind_of_response(web, queue, here)
    for name, response in responses.items():
        assert "script-src 'self'" in response.headers.get("Content-Security-Policy", ""), name
        assert "default-src 'self'" in response.headers["Content-Security-Policy"], name
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
    assert [responses[name].status_code for name in ("unknown job", "not found", "action", "refused", "bad form",
                                                     "wrong method")] == [404, 404, 303, 403, 400, 405]


@pytest.mark.parametrize("path", ["/queues/no-such-queue", "/queues/no-such-queue/dead",
                                  "/queues/no-such-queue/jobs/abc"])
def test_an_unknown_queue_is_404(web, path):
    assert web.get(path).status_code == 404


def test_an_action_on_an_unknown_queue_is_404(web):
    assert web.post("/queues/no-such-queue/pause", {}).status_code == 404


def test_an_action_on_an_unknown_queue_without_login_is_refused_not_404(client, known):
    browser = Browser(Dashboard(client, auth=TOKEN))
    browser.get("/")  # the CSRF cookie, as a visitor has it
    refused = browser.post("/queues/no-such-queue/pause", {})
    assert refused.status_code == 403  # not 404: who may not act does not learn which queues exist
    assert "log in first" in refused.get_data(as_text=True)


def test_a_name_no_queue_can_have_in_the_set_of_queues_is_left_out(web, client, prefix):
    client.sadd(QUEUES, "has space")
    try:
        page = web.page("/")
        assert page.response.status_code == 200
        assert page.all("tr", data_queue="has space") == []
        assert page.all("tr", data_queue=prefix) != []
    finally:
        client.srem(QUEUES, "has space")


def test_a_deleted_ready_job_shows_as_deleted_with_no_button_until_a_worker_drops_it(web, queue, here):
    doomed = queue.enqueue({"n": 1})
    queue.cancel(doomed)
    page = web.page(here)
    [row] = page.all("tr", within="ready", data_job=doomed)
    assert "deleted" in row.text
    assert [e for e in page.all("button", data_action="delete") if row in e.parents] == []


def test_a_queue_not_among_the_prefixes_is_404_though_a_worker_started_on_it(client, known, here, prefix):
    browser = Browser(Dashboard(client, [f"{prefix}-other"]))
    assert browser.get(here).status_code == 404
    assert browser.page("/").all("tr", data_queue=prefix) == []


def test_a_queue_among_the_prefixes_is_shown_though_no_worker_started_on_it(client, queue, prefix):
    queue.enqueue({"n": 1})
    page = Browser(Dashboard(client, [prefix])).page("/")
    assert page.cells(page.one("tr", data_queue=prefix))["ready"] == "1"


def test_an_unknown_job_is_404_and_its_page_says_unknown(web, here):
    page = web.page(f"{here}/jobs/no-such-job")
    assert page.status == 404 and page.one("span", id="state").text == "unknown"


def test_two_dashboards_live_side_by_side_in_one_process(client, known, here):
    first, second = Browser(Dashboard(client)), Browser(app(client))
    assert (first.get(here).status_code, second.get(here).status_code) == (200, 200)


# -- what the pages show ---------------------------------------------------------------------------------


def test_the_overview_shows_each_queues_counts(web, queue, prefix):
    bury(queue, {"n": 0})
    queue.enqueue_many([{"n": n} for n in range(3)])
    queue.enqueue_in({"n": 4}, 600)
    queue.pause()
    page = web.page("/")
    shown = page.cells(page.one("tr", data_queue=prefix))
    assert {name: shown[name] for name in ("ready", "delayed", "running", "dead", "workers", "paused")} == {
        "ready": "3", "delayed": "1", "running": "0", "dead": "1", "workers": "0", "paused": "paused"}


def test_the_workers_page_shows_a_worker_of_two_queues_once_with_both(client, known, queue, prefix):
    other = queue.sibling(f"{prefix}-other")
    info = {"host": "web-1", "pid": 4242, "started_at": time.time() - 90, "concurrency": 25, "in_flight": 0}
    for each in (queue, other):
        WorkerRegistry(client, each.keys).beat("web-1-abc", time.time(), info)
    page = Browser(Dashboard(client, [prefix, other.prefix])).page("/workers")
    shown = page.cells(page.one("tr", data_worker="web-1-abc"))
    assert (shown["queue"], shown["host"], shown["pid"], shown["concurrency"]) == (
        f"{prefix}, {other.prefix}", "web-1", "4242", "25")


# -- paging, escaping, metrics -------------------------------------------------------------------------


def test_the_ready_jobs_page_20_at_a_time_next_to_run_first(client, known, queue, here):
    ids = queue.enqueue_many([{"n": n} for n in range(45)])
    browser = Browser(Dashboard(client))
    first = browser.page(here)
    second = browser.page(urljoin(here, first.one("a", rel="next").attrs["href"]))
    third = browser.page(urljoin(here, second.one("a", rel="next").attrs["href"]))
    assert (first.jobs("ready"), second.jobs("ready"), third.jobs("ready")) == (ids[:20], ids[20:40], ids[40:])
    assert first.all("a", rel="prev") == [] and third.all("a", rel="next") == []
    assert second.one("a", rel="prev").attrs["href"] == "?ready=0&delayed=0"
    assert third.one("a", rel="prev").attrs["href"] == "?ready=20&delayed=0"
    assert browser.page(f"{here}?ready=40").jobs("ready") == ids[40:]


def test_the_dead_set_pages_20_at_a_time_most_recent_first(client, known, queue, here):
    ids = [bury(queue, {"n": n}) for n in range(23)]
    browser = Browser(Dashboard(client))
    first = browser.page(f"{here}/dead")
    second = browser.page(f"{here}/dead" + first.one("a", rel="next").attrs["href"])
    assert set(first.jobs("dead")) | set(second.jobs("dead")) == set(ids)
    assert len(first.jobs("dead")) == 20 and len(second.jobs("dead")) == 3
    assert first.one("span", id="dead-count").text == "23"


@pytest.mark.parametrize("offset, shown", [("-5", 1), ("abc", 1), ("\u00b2", 1), ("999999", 0),
                                           ("99999999999999999999999", 0)])
def test_an_offset_that_is_no_number_or_past_the_end_is_a_page_not_an_error(client, known, queue, here, offset, shown):
    dead = bury(queue, {"n": 1})
    ready = queue.enqueue({"n": 2})
    queue.enqueue_in({"n": 3}, 600)
    browser = Browser(Dashboard(client))
    page = browser.page(f"{here}?ready={offset}&delayed={offset}")
    dead_page = browser.page(f"{here}/dead?offset={offset}")
    assert (page.status, dead_page.status) == (200, 200)
    assert (page.jobs("ready"), len(page.jobs("delayed")), dead_page.jobs("dead")) == ([ready] * shown, shown,
                                                                                       [dead] * shown)


def test_markup_in_a_ready_job_is_escaped_on_the_queue_page(web, queue, here):
    queue.enqueue({"task": XSS, "args": [XSS]})
    page = web.page(here)
    assert "<script>window" not in page.html
    row = page.one("tr", within="ready", data_job=page.jobs("ready")[0])
    assert XSS in row.text


def test_markup_in_a_dead_jobs_error_is_escaped_on_the_dead_page_and_its_job_page(web, queue, here):
    job_id = bury(queue, {"x": XSS}, XSS, XSS, traceback=f"Traceback\n{XSS}\n")
    dead, job = web.page(f"{here}/dead"), web.page(f"{here}/jobs/{job_id}")
    assert "<script>window" not in dead.html and "<script>window" not in job.html
    assert dead.one("td", within="dead", data_field="error").text == f"{XSS}: {XSS}"
    assert XSS in job.one("pre", id="traceback").text and XSS in job.one("pre", id="payload").text


def test_a_schedule_name_of_markup_is_escaped_on_the_schedules_page(web, queue):
    declare(queue, XSS)
    page = web.page("/schedules")
    assert "<script>window" not in page.html
    assert XSS in [cell.text for cell in page.all("td", data_field="name")]


def test_metrics_parse_as_prometheus_text_with_the_queues_ready_count(web, queue, prefix):
    queue.enqueue_many([{"n": n} for n in range(3)])
    response = web.get("/metrics")
    families = {family.name: family for family in text_string_to_metric_families(response.get_data(as_text=True))}
    ready = {sample.labels["queue"]: sample.value for sample in families["gjobs_ready"].samples}
    assert response.content_type.startswith("text/plain")
    assert ready[prefix] == 3


# -- mounted under a path -------------------------------------------------------------------------------


def test_mounted_every_link_and_form_stays_under_the_mount_point(client, known, queue, here):
    job_id = bury(queue, {"n": 1})
    queue.enqueue_many([{"n": n} for n in range(25)])
    queue.enqueue_in({"n": 0}, 600)
    declare(queue)
    browser = Browser(Dashboard(client, auth=TOKEN), mount=MOUNT).login()
    for path in ("/", "/workers", "/schedules", here, f"{here}?ready=20", f"{here}/dead", f"{here}/jobs/{job_id}",
                 "/login", "/nope"):
        page = browser.page(path)
        addresses = [element.attrs[name] for element in page.elements
                     for name in ("href", "src", "action", "formaction") if name in element.attrs]
        addresses += [element.attrs["value"] for element in page.all("input", name="next")]
        assert len(addresses) > 5, path
        for address in addresses:
            assert urlsplit(urljoin(page.url, address)).path.startswith(f"{MOUNT}/"), (path, address)


def test_mounted_an_action_comes_back_under_the_mount_point(client, known, queue, here):
    browser = Browser(Dashboard(client, auth=TOKEN), mount=MOUNT).login()
    page = browser.page(here)
    response = browser.click(page, page.one("button", id="pause"))
    assert response.headers["Location"] == f"{MOUNT}{here}"
    assert came_back(browser, response, page).startswith(f"queue {queue.prefix} paused")


def test_mounted_the_login_cookie_is_the_mount_points_only(client, known):
    response = Browser(Dashboard(client, auth=TOKEN), mount=MOUNT).get(f"/login?token={TOKEN}")
    assert response.headers["Location"] == f"{MOUNT}/"
    assert f"Path={MOUNT}/" in response.headers["Set-Cookie"]


# -- Redis failing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/queues/q", "/workers", "/metrics"])
def test_a_redis_error_is_a_503_page_without_traceback_or_password(path, caplog):
    url = f"redis://admin:s3cret@127.0.0.1:{free_port()}/0"
    response = Browser(app(url)).get(path)
    body = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "Redis failed" in body
    assert "s3cret" not in body and "Traceback" not in body
    assert "s3cret" not in caplog.text


# -- gjobs web's arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bind", ["nowhere", "127.0.0.1:65536", "127.0.0.1:http", "127.0.0.1:"])
def test_gjobs_web_with_a_bad_bind_exits_2_in_one_line(bind, url, capsys):
    assert admin.main(["web", "--bind", bind, "--redis-url", url], out=io.StringIO()) == 2
    assert "is not HOST:PORT" in one_line_error(capsys)


def test_gjobs_web_with_a_bad_refresh_exits_2_in_one_line(url, capsys):
    assert admin.main(["web", "--refresh", "0", "--redis-url", url], out=io.StringIO()) == 2
    one_line_error(capsys)


def test_gjobs_web_on_a_port_in_use_fails_in_one_line(url, capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        status = admin.main(["web", "--bind", f"127.0.0.1:{taken.getsockname()[1]}", "--redis-url", url],
                            out=io.StringIO())
    finally:
        taken.close()
    assert status == 1
    assert "cannot listen on 127.0.0.1:" in one_line_error(capsys)


def test_the_queue_pages_chart_counts_the_jobs_settled_this_hour(web, queue, here):
    queue.enqueue_many([{"n": n} for n in range(3)])
    processing = ProcessingList(queue.client, queue.keys, "web-test-worker")
    [(first, _, _), (second, _, _), (third, _, _)], _, _, _ = processing.fetch(3)
    processing.complete([first, second])
    processing.bury(third, time.time(), {"type": "RuntimeError", "message": "boom"})
    page = web.page(here)
    drawn = {kind: sum(int(rect.attrs["data-count"]) for rect in page.all("rect", within="throughput", class_=kind))
             for kind in ("succeeded", "failed")}
    assert len(page.all("rect", within="throughput")) == 120
    assert drawn == {"succeeded": 2, "failed": 1}
    assert (page.one("span", id="succeeded-hour").text, page.one("span", id="failed-hour").text) == ("2", "1")
