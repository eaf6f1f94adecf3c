"""Concurrent runs on one store divide the cells (issue: two runs computed every cell twice): a cell is claimed
before it is computed, a claim of a live owner is respected, a dead owner's or an expired one is taken over, and a
run that finds its cells claimed waits for them instead of computing them again."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from depthlab.presets import apply_overrides, get_preset
from depthlab.store import Store, claim_owner, owner_alive
from depthlab.sweep import executors, plan, run_local
from depthlab.sweep.grid import expand

from ._tiny import TINY_OVERRIDES


def test_claims_respect_live_owners_and_free_dead_or_expired_ones(tmp_path):
    me, other = claim_owner(), "another-host:4242"
    dead = f"{socket.gethostname()}:{_dead_pid()}"
    assert owner_alive(me) and owner_alive(other) and not owner_alive(dead)
    with Store(tmp_path / "s.sqlite") as st:
        assert st.claim("a", me, 60) is None and st.claim("a", me, 60) is None  # ours, renewable
        assert st.claim("b", other, 60) is None
        assert st.claim("b", me, 60) == other  # a live owner's claim holds
        assert st.claim("c", other, -1) is None and st.claim("c", me, 60) is None  # an expired lease lapses
        assert st.claim("d", dead, 60) is None and st.claim("d", me, 60) is None  # a dead process's claim lapses
        st.release("b", me)  # not ours: nothing happens
        assert st.claim("b", me, 60) == other
        st.release("b", other)
        assert st.claim("b", me, 60) is None


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture(scope="module")
def tiny():
    return apply_overrides(get_preset("quick"), [*TINY_OVERRIDES, "num_kappa=2"], trials=2)


def test_a_run_leaves_a_claimed_cell_to_its_owner_and_waits_for_it(tmp_path, tiny, monkeypatch):
    monkeypatch.setattr(executors, "CLAIM_POLL_S", 0.2)
    ref = tmp_path / "ref.sqlite"
    with Store(ref) as st:
        run_local(plan(tiny, st), st)
        sid = st.latest_sweep(tiny.name)["sweep_id"]
        expected = st.trial_rows(sid)
    cell = expand(tiny)[0]
    with Store(ref, readonly=True) as st:
        rows = [{"trial": t, "status": "ok", **st.trial_metrics(cell.key, t)} for t in range(tiny.trials)]
    path = tmp_path / "shared.sqlite"
    other = "another-host:4242"
    with Store(path) as st:
        p = plan(tiny, st)
        assert st.claim(cell.key, other, 3600) is None

        def the_other_run() -> None:  # stores its cell a little later, from its own connection
            time.sleep(1.0)
            with Store(path) as mine:
                mine.write_cell(cell.key, list(range(tiny.trials)), rows, "ok", provenance={"executor": "other"})
                mine.release(cell.key, other)

        t = threading.Thread(target=the_other_run)
        t.start()
        run_local(p, st)
        t.join()
        runs = st.runs(cell.key)
        assert len(runs) == 1 and runs[0]["executor"] == "other"  # not computed a second time here
        assert st.trial_rows(st.latest_sweep(tiny.name)["sweep_id"]) == expected
        report = st.check(st.sweep_cells(st.latest_sweep(tiny.name)["sweep_id"]), tiny.trials)
        assert report.ok, report


@pytest.mark.slow
def test_two_concurrent_runs_compute_each_cell_once(tmp_path):
    path = tmp_path / "s.sqlite"
    args = [sys.executable, "-c", "from depthlab.cli import app; app()", "run", "quick", "--store", str(path),
            "--trials", "2", *[a for o in [*TINY_OVERRIDES, "num_kappa=2"] for a in ("--set", o)]]
    env = {**os.environ, "DEPTHLAB_JAX_CACHE": str(tmp_path / "cache")}
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    with Store(path, readonly=True) as st:
        sweep = st.latest_sweep("quick")
        cells = st.sweep_cells(sweep["sweep_id"])
        assert all(len(st.runs(key)) == 1 for key, _ in cells), [len(st.runs(k)) for k, _ in cells]
        assert st.check(cells, 2).ok
