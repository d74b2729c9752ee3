"""The systems ``scripts/bench`` runs: gjobs and its peers, one module each.

Every module has the same face:

``LABEL``
    how the tables name it (``version()`` adds the installed version);
``GEVENT``
    whether its worker process is monkey-patched by gevent before anything is imported;
``enqueue(url, n) -> dict``
    put ``n`` benchmark jobs on the queue, in the orchestrator process, and return the rates
    measured while doing so (``enqueue`` one job per call; ``enqueue_many`` when it has one);
    gjobs' also takes keys every job carries (``result_ttl``: see ``GJOBS_ONLY`` in the bench);
``work(cfg, probe)``
    run a worker in this process with ``cfg["concurrency"]`` jobs at once, every job calling
    ``probe.job(...)``, until the process is killed.
"""

#: name on the command line -> module in this package
SYSTEMS = {
    "gjobs": "sys_gjobs",
    # ``scripts/bench --baseline REF``: the same module, its worker importing REF's gjobs from a
    # git worktree (the orchestrator sets the import root); not for ``--systems``.
    "gjobs-baseline": "sys_gjobs",
    "dramatiq": "sys_dramatiq",
    "huey": "sys_huey",
    "celery": "sys_celery",
    "rq": "sys_rq",
    "bare": "sys_bare",
    # the same, with one fetch round trip (LMOVE) before each run of the body: sleeping workloads
    "bare-fetch": "sys_bare_fetch",
    # the same, with one pass of gevent's loop (sleep(0)) before each run of the body: the bound
    # for a queue that fetches only for a free slot, on the sleeping workloads
    "bare-yield": "sys_bare_yield",
}
