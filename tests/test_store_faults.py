"""A store that cannot take a write: locked by another process (the computed cell is kept and written when the
lock goes), the disk full (one line: how many cells are stored, rerun to resume), no traceback."""

import sqlite3
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from depthlab.cli import app
from depthlab.presets import apply_overrides, get_preset
from depthlab.store import Store
from depthlab.store_faults import StoreWriteError, fault
from depthlab.sweep import plan
from depthlab.sweep.executors import record_cell
from depthlab.sweep.runner import CellResult

from ._tiny import TINY_OVERRIDES

runner = CliRunner()
KERNEL = [*TINY_OVERRIDES, 'methods={"kernel": {"kind": "kernel"}}', "checks=[]"]


def _sets():
    return [a for o in KERNEL for a in ("--set", o)]


@pytest.fixture
def small():
    return apply_overrides(get_preset("quick"), KERNEL, trials=1)


def _result(task):
    rows = [{"trial": t, "status": "ok", "test_mse": 0.5} for t in task.trials]
    return CellResult(task.cell, rows, "ok", "", {"wall_s": 0.1})


def _hold_lock(path, seconds):
    """Another process holding the store's write lock for ``seconds`` (then it commits and exits)."""
    code = (
        "import sqlite3, sys, time\n"
        f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        f"time.sleep({seconds!r})\n"
        "c.execute('COMMIT')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_computed_cell_waits_for_a_foreign_lock_and_is_written(tmp_path, small, capsys):
    path = tmp_path / "s.sqlite"
    with Store(path) as st:
        pl = plan(small, st)
        task = pl.tasks[0]
        st._con.execute("PRAGMA busy_timeout=100")  # each try waits 0.1 s instead of 30 s
        proc = _hold_lock(path, 1.5)
        try:
            t0 = time.monotonic()
            record_cell(st, pl, task, _result(task), "local", wait=30)
            assert time.monotonic() - t0 >= 1.0  # it waited for the lock, and did not give up after one try
        finally:
            proc.wait(timeout=30)
        assert st.done_trials(task.cell.key) == {0} and pl.stored == 1
        (run,) = st.runs(task.cell.key)
        assert run["status"] == "ok"
    note = capsys.readouterr().err
    assert "is locked by another process: pid" in note and f"pid {proc.pid}" in note and "is kept" in note


def test_a_lock_that_outlasts_the_wait_is_one_clear_error_and_loses_nothing(tmp_path, small):
    path = tmp_path / "s.sqlite"
    with Store(path) as st:
        pl = plan(small, st)
        first, second = pl.tasks[:2]
        record_cell(st, pl, first, _result(first), "local")
        st._con.execute("PRAGMA busy_timeout=100")
        proc = _hold_lock(path, 30)
        try:
            with pytest.raises(StoreWriteError) as err:
                record_cell(st, pl, second, _result(second), "local", wait=0.5)
            holder = f"pid {proc.pid}"
        finally:
            proc.kill()
            proc.wait()
        msg = str(err.value)
        assert err.value.kind == "locked" and "\n" not in msg
        assert f"is locked by another process: {holder}" in msg and "nothing stored was lost" in msg
        assert second.cell.label in msg and "DEPTHLAB_LOCK_WAIT" in msg
        assert st.done_trials(first.cell.key) == {0} and st.done_trials(second.cell.key) == set()
        assert pl.stored == 1 and len(st.runs()) == 1
        record_cell(st, pl, second, _result(second), "local")  # the lock gone, the same connection writes
        assert st.done_trials(second.cell.key) == {0}


def _failing_writes(monkeypatch, after, error):
    real = Store.write_cell
    calls = []

    def write_cell(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > after:
            raise error
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "write_cell", write_cell)


def _cells_stored(path):
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT COUNT(DISTINCT cell_key) FROM trials").fetchone()[0]
    finally:
        con.close()


def _one_error_line(res):
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    (line,) = [x for x in res.output.splitlines() if x.startswith("error:")]
    return line


def test_run_on_a_full_disk_says_how_many_cells_are_stored(tmp_path, monkeypatch, small):
    path = tmp_path / "s.sqlite"
    _failing_writes(monkeypatch, 2, sqlite3.OperationalError("database or disk is full"))
    res = runner.invoke(app, ["run", "quick", *_sets(), "--trials", "1", "--store", str(path)])
    line = _one_error_line(res)
    n = len(plan(small, Store(":memory:"), register=False).cells)
    assert line.startswith("error: the disk is full") and "nothing stored was lost" in line
    assert f"2 of {n} cells are stored" in line and "run the same command again to resume" in line
    assert _cells_stored(path) == 2
    monkeypatch.undo()
    res = runner.invoke(app, ["run", "quick", *_sets(), "--trials", "1", "--store", str(path)])
    assert res.exit_code == 0 and f"({n - 2} to run, 2 complete)" in res.output, res.output


def test_run_on_a_store_locked_for_too_long_is_one_line(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    _failing_writes(monkeypatch, 1, sqlite3.OperationalError("database is locked"))
    res = runner.invoke(app, ["run", "quick", *_sets(), "--trials", "1", "--store", str(path)],
                        env={"DEPTHLAB_LOCK_WAIT": "0.3"})
    line = _one_error_line(res)
    assert "is locked by another process" in line and "nothing stored was lost" in line
    assert "1 of " in line and "cells are stored" in line
    assert _cells_stored(path) == 1


def test_a_real_full_database_rolls_back_the_cell_and_keeps_the_rest(tmp_path, small):
    """SQLITE_FULL from SQLite itself (the file may not grow past max_page_count, as on a full disk)."""
    path = tmp_path / "s.sqlite"
    with Store(path) as st:
        pl = plan(small, st)
        first, *rest = pl.tasks
        record_cell(st, pl, first, _result(first), "local")
        pages = st._con.execute("PRAGMA page_count").fetchone()[0]
        st._con.execute(f"PRAGMA max_page_count={pages}")
        with pytest.raises(StoreWriteError) as err:
            for task in rest:  # the free space in the pages runs out within a few cells
                big = _result(task)
                big.rows = [{**r, **{f"m{i}": float(i) for i in range(200)}} for r in big.rows]
                record_cell(st, pl, task, big, "local")
        assert err.value.kind == "full" and "the disk is full" in str(err.value), str(err.value)
        assert fault(err.value.__cause__) == "full"
        stored = pl.stored
        assert stored >= 1 and _cells_stored(path) == stored
        st._con.execute("PRAGMA max_page_count=1073741823")  # space freed: the next write succeeds
        task = rest[stored - 1]
        record_cell(st, pl, task, _result(task), "local")
        assert _cells_stored(path) == stored + 1
        assert st.check(st.sweep_cells(pl.sweep_id), 1).recomputed == []


def test_a_store_locked_while_the_sweep_is_registered_is_one_line(tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    Store(path).close()

    def locked(self, *args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(Store, "register_sweep", locked)
    res = runner.invoke(app, ["run", "quick", *_sets(), "--trials", "1", "--store", str(path)])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    (line,) = [x for x in res.output.splitlines() if x.startswith("error:")]
    assert "is locked by another process" in line and "after SQLite's busy timeout" in line
    assert line.endswith("nothing stored was lost; nothing was run")
