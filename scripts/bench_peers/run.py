"""A benchmark worker process: ``python -m bench_peers.run SYSTEM CONFIG_JSON``.

Patches with gevent first when the system runs under gevent (as the system's own gevent entry
point would), then builds the probe and runs the system's worker until it is killed.
"""

import importlib
import json
import sys

from bench_peers import SYSTEMS

SYSTEM = sys.argv[1]
CONFIG = json.loads(sys.argv[2])
MODULE = importlib.import_module(f"bench_peers.{SYSTEMS[SYSTEM]}")  # imports no peer library yet

if MODULE.GEVENT:
    from gevent import monkey

    monkey.patch_all()

import logging  # noqa: E402

import benchlib  # noqa: E402

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
benchlib.raise_fd_limit()
benchlib.PROBE = probe = benchlib.Probe(CONFIG)
MODULE.work(CONFIG, probe)
