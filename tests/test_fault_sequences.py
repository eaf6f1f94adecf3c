"""A property test of the store under faults: random sequences of interrupts (an exception after a cell), kills
in the middle of a cell (an exception raised while it computes), disk-full writes and cells claimed by a run that
died, each followed by a resume, end in the same store as one uninterrupted run, with ``store check`` clean."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from depthlab.presets import apply_overrides, get_preset
from depthlab.store import Store
from depthlab.store_faults import StoreWriteError
from depthlab.sweep import executors, plan, run_local
from depthlab.sweep.grid import expand

from ._tiny import TINY_OVERRIDES

TINY = apply_overrides(get_preset("quick"), [*TINY_OVERRIDES, "num_kappa=2"], trials=2)


class Fault(Exception):
    pass


def _rows(path):
    with Store(path, readonly=True) as s:
        row = s.latest_sweep(TINY.name)
        return s.trial_rows(row["sweep_id"], row["trials"]), s.check(s.sweep_cells(row["sweep_id"]), TINY.trials)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "ref.sqlite"
    with Store(path) as s:
        run_local(plan(TINY, s), s)
    return _rows(path)[0]


def _dead_owner() -> str:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return f"{socket.gethostname()}:{p.pid}"


EVENTS = st.lists(st.tuples(st.sampled_from(["interrupt", "kill", "disk_full", "dead_claim"]), st.integers(0, 5)),
                  min_size=1, max_size=4)


@given(events=EVENTS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_sequence_of_faults_then_a_resume_gives_the_uninterrupted_store(tmp_path_factory, reference, events,
                                                                          monkeypatch):
    path = tmp_path_factory.mktemp("faults") / "s.sqlite"
    cells = expand(TINY)
    real_run_cell, real_write = executors.run_cell, Store.write_cell
    for kind, k in events:
        counter = {"n": 0}

        def count(counter: dict[str, int] = counter, k: int = k) -> bool:
            counter["n"] += 1
            return counter["n"] > k

        with Store(path) as s, monkeypatch.context() as m:
            if kind == "dead_claim":  # a run that died holding a cell's claim: the claim lapses
                s.claim(cells[k % len(cells)].key, _dead_owner(), 3600)
                continue
            on_done = None
            if kind == "interrupt":
                def on_done(task, res):  # noqa: ARG001
                    if count():
                        raise Fault
            elif kind == "kill":
                def run_cell(cell, trials, *a, **kw):
                    if count():
                        raise Fault
                    return real_run_cell(cell, trials, *a, **kw)
                m.setattr(executors, "run_cell", run_cell)
            else:
                def write_cell(self, *a, **kw):
                    if count():
                        raise sqlite3.OperationalError("database or disk is full")
                    return real_write(self, *a, **kw)
                m.setattr(Store, "write_cell", write_cell)
            try:
                run_local(plan(TINY, s), s, on_done=on_done)
            except (Fault, StoreWriteError):
                pass
    with Store(path) as s:
        run_local(plan(TINY, s), s)
        assert plan(TINY, s).tasks == []
    rows, report = _rows(path)
    assert rows == reference
    assert report.ok, report
