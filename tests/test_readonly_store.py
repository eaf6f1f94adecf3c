"""A store on read-only media can be read (SQLite's read-only / immutable URI); `run` on it is one line; files
refused as damaged are left without new -wal / -shm files beside them."""

import contextlib
import os
import sqlite3
import subprocess

import pytest
from typer.testing import CliRunner

import depthlab.store as store_mod
from depthlab.cli import app
from depthlab.presets import get_preset
from depthlab.store import Store, StoreError
from depthlab.sweep.grid import expand

runner = CliRunner()


def test_store_in_an_unwritable_directory_is_read_without_new_files(tmp_path, monkeypatch):
    path = tmp_path / "r.sqlite"
    with Store(path):
        pass
    before = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.setattr(store_mod.os, "access", lambda p, mode: False)
    with Store(path, readonly=True) as st:
        assert st.path == path
        with pytest.raises(sqlite3.OperationalError):  # the connection itself cannot write
            st._con.execute("CREATE TABLE x (a)")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    with pytest.raises(StoreError, match="is read-only"):
        Store(path)


def _small_store(path):
    """A store of one sweep of three cells, one trial each (no computation)."""
    p = get_preset("quick")
    cells = expand(p)[:3]
    with Store(path) as st:
        st.register_sweep(p.name, "h", p.model_dump_json(), 1, cells)
        for c in cells:
            st.write_cell(c.key, [0], [{"trial": 0, "status": "ok", "test_mse": 0.5}], "ok")
    return cells


@contextlib.contextmanager
def _unwritable(folder):
    """``folder`` made unwritable for this process: mode 555, or for root (whom modes do not stop) the
    immutable attribute; skips where neither works."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a folder unwritable here (root without chattr)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_store_in_a_really_unwritable_folder_is_read_and_run_says_so(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "s.sqlite"
    cells = _small_store(path)
    before = sorted(p.name for p in folder.iterdir())
    with _unwritable(folder):
        with pytest.raises(OSError):
            (folder / "probe").write_text("x")
        with Store(path, readonly=True) as st:
            assert all(st.done_trials(c.key) == {0} for c in cells)
        res = runner.invoke(app, ["results", "--format", "csv", "--store", str(path)])
        assert res.exit_code == 0 and res.output.count("\n") == 4, res.output
        res = runner.invoke(app, ["store", "check", "--store", str(path)])
        assert "integrity ok" in res.output and "Traceback" not in res.output, res.output
        res = runner.invoke(app, ["run", "quick", "--set", "d=8", "--trials", "1", "--store", str(path)])
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        assert res.output.strip().count("\n") == 0 and "is read-only" in res.output
        assert "folder" in res.output and "not writable" in res.output
        res = runner.invoke(app, ["run", "quick", "--set", "d=8", "--trials", "1", "--dry-run", "--store", str(path)])
        assert res.exit_code == 0 and "projected time" in res.output, res.output
        assert sorted(p.name for p in folder.iterdir()) == before


def test_a_store_file_that_cannot_be_written_is_read_and_run_says_so_with_nothing_to_run(tmp_path):
    path = tmp_path / "s.sqlite"
    cells = _small_store(path)
    p = get_preset("quick")
    before = sorted(x.name for x in tmp_path.iterdir())
    with _unwritable(path):  # chmod 555 / chattr +i on the file itself
        with Store(path, readonly=True) as st:
            assert all(st.done_trials(c.key) == {0} for c in cells)
        res = runner.invoke(app, ["results", "--format", "csv", "--store", str(path)])
        assert res.exit_code == 0 and p.name in res.output, res.output
        for args in (["debug", "--cell", f"{cells[0].method},{cells[0].d},{cells[0].n}"],
                     ["run", "quick", "--trials", "1"]):
            res = runner.invoke(app, [*args, "--store", str(path)])
            assert res.exit_code == 2 and "is read-only (the file is not writable)" in res.output, res.output
            assert "Traceback" not in res.output and res.output.strip().count("\n") == 0
        assert sorted(x.name for x in tmp_path.iterdir()) == before


def _damage(path, table):
    """Overwrite the pages of ``table`` (its b-tree and indexes) in a closed store, keeping its WAL mode."""
    con = sqlite3.connect(path)
    page = con.execute("PRAGMA page_size").fetchone()[0]
    roots = [r[0] for r in con.execute("SELECT rootpage FROM sqlite_master WHERE tbl_name=? AND rootpage", (table,))]
    mode = con.execute("PRAGMA journal_mode").fetchone()[0]
    con.close()
    assert mode == "wal"
    data = bytearray(path.read_bytes())
    for root in roots:
        start = (root - 1) * page
        data[start : start + page] = bytes([0x0D, 0, 0, 0, 0x30]) + b"\xab" * (page - 5)
    path.write_bytes(bytes(data))


def test_a_damaged_wal_store_is_refused_without_new_files_beside_it(tmp_path):
    path = tmp_path / "damaged.sqlite"
    _small_store(path)
    _damage(path, "trials")
    before = path.read_bytes()
    for args in (["store", "check"], ["results"], ["run", "quick", "--set", "d=8", "--trials", "1"],
                 ["run", "quick", "--set", "d=8", "--trials", "1", "--dry-run"]):
        res = runner.invoke(app, [*args, "--store", str(path)])
        assert res.exit_code in (1, 2) and "Traceback" not in res.output, (args, res.output)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.sqlite"], args
    assert path.read_bytes() == before
