"""A benchmark worker process: ``python -m bench_peers.run SYSTEM CONFIG_JSON``.

Patches with gevent first when the system runs under gevent (as the system's own gevent entry
point would), then builds the probe and runs the system's worker until it is killed.

With ``CONFIG["gjobs_root"]`` it first checks that gjobs was imported from there (the
orchestrator's ``--baseline`` worktree, or this checkout) and exits with an error if not. With
``CONFIG["probe"] == "enqueue"`` it only enqueues ``CONFIG["n"]`` jobs (unpatched, as the
orchestrator does for the other systems), reports the rates and exits: jobs for a baseline
gjobs are enqueued by that gjobs, whatever format the working tree's writes.
"""

import importlib
import json
import sys

from bench_peers import SYSTEMS

SYSTEM = sys.argv[1]
CONFIG = json.loads(sys.argv[2])
MODULE = importlib.import_module(f"bench_peers.{SYSTEMS[SYSTEM]}")  # imports no peer library yet
ENQUEUE_ONLY = CONFIG["probe"] == "enqueue"

if MODULE.GEVENT and not ENQUEUE_ONLY:
    from gevent import monkey

    monkey.patch_all()

import logging  # noqa: E402

import benchlib  # noqa: E402

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
if CONFIG.get("gjobs_root"):
    benchlib.check_gjobs_import(CONFIG)
if ENQUEUE_ONLY:
    enqueued = MODULE.enqueue(CONFIG["url"], int(CONFIG["n"]), **CONFIG.get("keys", {}))
    benchlib.send(int(CONFIG["report_fd"]), event="result", **enqueued)
    sys.exit(0)
benchlib.raise_fd_limit()
benchlib.PROBE = probe = benchlib.Probe(CONFIG)
MODULE.work(CONFIG, probe)
