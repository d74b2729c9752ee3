"""``scripts/bench``, as README's Performance section runs it: its smoke run ends cleanly, with
every table it reports, the floors gjobs is measured against included."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SMOKE = "scripts/bench --quick"


@pytest.mark.slow
def test_the_smoke_run_reports_gjobs_against_each_floor():
    assert SMOKE in (ROOT / "README.rst").read_text()
    result = subprocess.run([sys.executable, *SMOKE.split()], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for title in ("share of gevent alone (no queue)", "share of gevent + one fetch per job",
                  "share of gevent + one loop pass per job", "gjobs' own worker CPU, us/job"):
        assert title in result.stdout
    assert "errors logged" not in result.stdout + result.stderr
