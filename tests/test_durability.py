"""Durability of the results store: provenance of every row, schema migrations with backups, damaged and
foreign files left untouched, `store check`, and a client killed with SIGKILL in the middle of a sweep."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from depthlab import __version__
from depthlab.cli import app
from depthlab.presets import apply_overrides, get_preset
from depthlab.provenance import git_commit
from depthlab.store import PROVENANCE_COLUMNS, SCHEMA_VERSION, Store, StoreError
from depthlab.sweep import plan, run_local
from depthlab.sweep.executors import config_hash
from depthlab.sweep.grid import expand

from ._tiny import TINY_OVERRIDES

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny():
    return apply_overrides(get_preset("quick"), TINY_OVERRIDES, trials=2)


@pytest.fixture(scope="module")
def full_store(tmp_path_factory, tiny):
    """An uninterrupted in-process run of the tiny sweep (never modified by the tests)."""
    path = tmp_path_factory.mktemp("full") / "full.sqlite"
    with Store(path) as st:
        run_local(plan(tiny, st), st)
    return path


def _rows(path, preset):
    with Store(path, readonly=True) as st:
        row = st.latest_sweep(preset.name)
        return st.trial_rows(row["sweep_id"], row["trials"])


def _sets(overrides=TINY_OVERRIDES):
    return [a for o in overrides for a in ("--set", o)]


def _runs_per_cell(path):
    con = sqlite3.connect(path)
    out = dict(con.execute("SELECT cell_key, COUNT(*) FROM runs WHERE status != 'failed' GROUP BY cell_key"))
    con.close()
    return out


# ---- provenance ----------------------------------------------------------------------------------------


def test_every_trial_row_carries_provenance(full_store, tiny):
    con = sqlite3.connect(full_store)
    con.row_factory = sqlite3.Row
    rows = list(con.execute("SELECT t.cell_key, t.trial, t.status, r.* FROM trials t JOIN runs r USING (run_id)"))
    n_trials = con.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    con.close()
    assert len(rows) == n_trials == len(expand(tiny)) * tiny.trials
    import jax

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    for r in rows:
        assert r["status"] in ("ok", "diverged")
        assert r["depthlab_version"] == __version__ and r["jax_version"] == jax.__version__
        assert r["backend"] == jax.default_backend() and r["device"].endswith("x1")
        assert r["config_hash"] == config_hash(tiny) and r["seed"] == tiny.seed
        assert r["host"] and r["executor"] == "local"
        assert r["started"] <= r["finished"] and r["wall_s"] > 0
        assert r["git_commit"] == git_commit() and git_commit().split("-")[0] == head
        extra = json.loads(r["provenance_json"])
        assert extra["pid"] == os.getpid() and extra["cpu"] and extra["cpu_count"] == os.cpu_count()


def test_failed_cell_is_recorded_with_message_and_retried(tmp_path, tiny, monkeypatch):
    import depthlab.sweep.runner as runner_mod

    small = apply_overrides(tiny, ['methods={"kernel": {"kind": "kernel"}}', "checks=[]"])
    real = runner_mod.compiled_programs
    target_n = expand(small)[1].n

    def broken(cell, chunk):
        if cell.n == target_n:
            raise RuntimeError("simulated failure")
        return real(cell, chunk)

    path = tmp_path / "s.sqlite"
    monkeypatch.setattr(runner_mod, "compiled_programs", broken)
    with Store(path) as st:
        run_local(plan(small, st), st)
        failed = [r for r in st.runs() if r["status"] == "failed"]
        assert len(failed) == 1
        # the one-line summary first, then the traceback down to the frame that raised
        summary, tb = failed[0]["message"].split("\n", 1)
        assert summary == "RuntimeError: simulated failure"
        assert tb.startswith("Traceback (most recent call last):") and "in run_cell" in tb and "in broken" in tb
        assert 'raise RuntimeError("simulated failure")' in tb and tb.endswith("RuntimeError: simulated failure")
        assert failed[0]["host"] and failed[0]["finished"] and failed[0]["config_hash"] == config_hash(small)
        assert st.done_trials(failed[0]["cell_key"]) == set()
        p2 = plan(small, st)
        assert [t.cell.n for t in p2.tasks] == [target_n]  # the failed cell runs again next time
    # `results --failed` shows the traceback; the one-line displays keep the summary only
    res = runner.invoke(app, ["results", "--failed", "--store", str(path)])
    assert res.exit_code == 0, res.output
    assert "kernel d=8" in res.output and "RuntimeError: simulated failure" in res.output
    assert "Traceback (most recent call last):" in res.output and "in broken" in res.output
    res = runner.invoke(app, ["results", "--failed", "--format", "json", "--store", str(path)])
    (entry,) = json.loads(res.stdout)
    assert entry["summary"] == "RuntimeError: simulated failure" and entry["message"] == failed[0]["message"]
    res = runner.invoke(app, ["store", "check", "--store", str(path)], terminal_width=200)
    assert res.exit_code == 1 and "RuntimeError: simulated failure" in res.output and "Traceback" not in res.output
    monkeypatch.setattr(runner_mod, "compiled_programs", real)
    with Store(path) as st:
        run_local(p2, st)
        assert plan(small, st).tasks == []
        assert [r["status"] for r in st.runs(failed[0]["cell_key"])] == ["failed", "ok"]
    res = runner.invoke(app, ["results", "--failed", "--store", str(path)])
    assert res.exit_code == 0 and "no failed cells" in res.output, res.output


# ---- schema versions and migration -----------------------------------------------------------------------

# The schema of depthlab stores before version 3, frozen here as written by those releases.
V2_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sweeps (sweep_id INTEGER PRIMARY KEY AUTOINCREMENT, preset TEXT NOT NULL,
    config_hash TEXT NOT NULL UNIQUE, config_json TEXT NOT NULL, trials INTEGER NOT NULL, created TEXT NOT NULL,
    last_used TEXT NOT NULL);
CREATE TABLE cells (cell_key TEXT PRIMARY KEY, preset TEXT NOT NULL, method TEXT NOT NULL, d INTEGER NOT NULL,
    n INTEGER NOT NULL, kappa REAL NOT NULL, config_json TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE sweep_cells (sweep_id INTEGER NOT NULL REFERENCES sweeps(sweep_id),
    cell_key TEXT NOT NULL REFERENCES cells(cell_key), PRIMARY KEY (sweep_id, cell_key));
CREATE TABLE trials (cell_key TEXT NOT NULL REFERENCES cells(cell_key), trial INTEGER NOT NULL,
    status TEXT NOT NULL, test_mse REAL, train_mse REAL, trivial_mse REAL, overlap_w REAL, overlap_h REAL,
    feature_corr REAL, extra_json TEXT, run_id INTEGER, PRIMARY KEY (cell_key, trial));
CREATE TABLE runs (run_id INTEGER PRIMARY KEY AUTOINCREMENT, cell_key TEXT NOT NULL, trials_json TEXT NOT NULL,
    status TEXT NOT NULL, message TEXT, wall_s REAL, compile_s REAL, run_s REAL, created TEXT NOT NULL,
    provenance_json TEXT);
"""
V1_DDL = V2_DDL.replace("    feature_corr REAL, extra_json", "    extra_json")


def _old_store(path, version, tiny):
    """A store as an older depthlab wrote it: the sweep of `tiny` with its first cell's two trials done."""
    cell = expand(tiny)[0]
    con = sqlite3.connect(path)
    con.executescript(V2_DDL if version == 2 else V1_DDL)
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(version),))
    con.execute(
        "INSERT INTO sweeps VALUES (1, ?, ?, ?, 2, 'then', 'then')",
        (tiny.name, config_hash(tiny), tiny.model_dump_json()),
    )
    for c in expand(tiny):
        con.execute(
            "INSERT INTO cells VALUES (?,?,?,?,?,?,?,?)",
            (c.key, c.preset, c.method, c.d, c.n, c.kappa, json.dumps(c.identity(), sort_keys=True), "then"),
        )
        con.execute("INSERT INTO sweep_cells VALUES (1, ?)", (c.key,))
    prov = {"depthlab": "0.0.9", "jax": "0.9.0", "backend": "cpu", "host": "oldhost"}
    con.execute(
        "INSERT INTO runs(cell_key, trials_json, status, message, wall_s, created, provenance_json) "
        "VALUES (?, '[0, 1]', 'ok', '', 1.5, 'then', ?)",
        (cell.key, json.dumps(prov)),
    )
    for t in (0, 1):
        con.execute(
            "INSERT INTO trials(cell_key, trial, status, test_mse, run_id) VALUES (?,?,?,?,1)",
            (cell.key, t, "ok", 0.25 + t),
        )
    con.commit()
    con.close()
    return cell


def _dump(path):
    con = sqlite3.connect(path)
    out = list(con.iterdump())
    con.close()
    return out


@pytest.mark.parametrize("version", [1, 2])
def test_old_schema_is_migrated_after_a_backup(tmp_path, tiny, version):
    path = tmp_path / "old.sqlite"
    cell = _old_store(path, version, tiny)
    before = _dump(path)
    with Store(path) as st:
        assert st.schema_version() == SCHEMA_VERSION
        assert st.done_trials(cell.key) == {0, 1}
        (run,) = st.runs(cell.key)
        assert (run["host"], run["jax_version"], run["depthlab_version"]) == ("oldhost", "0.9.0", "0.0.9")
        versions = [r[0] for r in st._con.execute("SELECT version FROM schema_version")]
        meta = st._con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
        stored = {r[0] for r in st._con.execute("SELECT metric FROM trial_metrics WHERE cell_key=?", (cell.key,))}
        run_cols = {r[1] for r in st._con.execute("PRAGMA table_info(runs)")}
        p = plan(tiny, st)  # the sweep continues where the old release left it
        assert len(p.tasks) == len(expand(tiny)) - 1
    assert versions == list(range(3, SCHEMA_VERSION + 1)) and meta == str(SCHEMA_VERSION)  # each step recorded
    assert "test_mse" in stored and set(PROVENANCE_COLUMNS) <= run_cols  # metrics moved to the long table
    backup = tmp_path / f"old.sqlite.v{version}.bak"
    assert _dump(backup) == before  # the backup is the old store, as it was
    # a second migration of a restored copy does not overwrite the first backup
    restored = tmp_path / "old.sqlite"
    restored.write_bytes(backup.read_bytes())
    for suffix in ("-wal", "-shm"):
        Path(str(restored) + suffix).unlink(missing_ok=True)
    Store(restored).close()
    assert _dump(tmp_path / f"old.sqlite.v{version}.1.bak") == before and _dump(backup) == before


def test_newer_schema_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "new.sqlite"
    Store(path).close()
    con = sqlite3.connect(path)
    con.execute("INSERT INTO schema_version VALUES (?, 'later', '9.9')", (SCHEMA_VERSION + 1,))
    con.commit()
    con.close()
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
            Store(path, readonly=readonly)
    assert path.read_bytes() == before


def _damaged_store(tmp_path, tiny, full_store):
    """A copy of a good store whose trials table pages are overwritten: the schema still reads."""
    path = tmp_path / "damaged.sqlite"
    src = sqlite3.connect(full_store)
    dst = sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.execute("PRAGMA journal_mode=DELETE")
    page = dst.execute("PRAGMA page_size").fetchone()[0]
    roots = [r[0] for r in dst.execute("SELECT rootpage FROM sqlite_master WHERE tbl_name='trials' AND rootpage")]
    dst.close()
    data = bytearray(path.read_bytes())
    for root in roots:
        start = (root - 1) * page
        data[start : start + page] = bytes([0x0D, 0, 0, 0, 0x30]) + b"\xab" * (page - 5)
    path.write_bytes(bytes(data))
    return path


def test_foreign_damaged_and_junk_files_give_clear_errors_and_stay_unchanged(tmp_path, tiny, full_store):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    foreign = tmp_path / "foreign.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE t(x)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    con.close()
    damaged = _damaged_store(tmp_path, tiny, full_store)
    files = {junk: "not a usable", foreign: "not a depthlab results store", damaged: "is damaged"}
    before = {p: p.read_bytes() for p in files}
    for path, msg in files.items():
        for readonly in (False, True):
            with pytest.raises(StoreError, match=msg):
                Store(path, readonly=readonly)
        res = runner.invoke(app, ["run", "quick", *_sets(), "--trials", "2", "--store", str(path)])
        assert res.exit_code == 2 and str(path.name) in res.output, res.output
        res = runner.invoke(app, ["store", "check", "--store", str(path)])
        assert res.exit_code == (1 if path is damaged else 2), res.output
    res = runner.invoke(app, ["store", "check", "--store", str(damaged)])
    assert "integrity check failed" in res.output and "left unchanged" in res.output
    for path in files:
        assert path.read_bytes() == before[path], path
        assert not Path(str(path) + "-wal").exists()
    with pytest.raises(StoreError, match="directory"):
        Store(tmp_path)


def test_a_store_with_only_an_index_damaged_is_refused_and_left_unchanged(tmp_path):
    """Twenty bytes of a key flipped in the runs_cell index: the b-trees are well formed (quick_check passes),
    but the index no longer matches its table; the store is refused before anything is written."""
    p = get_preset("quick")
    cells = expand(p)[:4]
    path = tmp_path / "index.sqlite"
    with Store(path) as st:
        st.register_sweep(p.name, config_hash(p), p.model_dump_json(), 1, cells)
        for c in cells:
            st.write_cell(c.key, [0], [{"trial": 0, "status": "ok", "test_mse": 0.5}], "ok")
    con = sqlite3.connect(path)
    page = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name='runs_cell'").fetchone()[0]
    con.close()
    data = bytearray(path.read_bytes())
    at = (root - 1) * page + data[(root - 1) * page : root * page].find(cells[0].key.encode())
    assert at >= (root - 1) * page
    data[at : at + 20] = bytes(b ^ 0x01 for b in data[at : at + 20])
    path.write_bytes(bytes(data))
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    con.close()
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreError, match="is damaged.*missing from index runs_cell"):
            Store(path, readonly=readonly)
    res = runner.invoke(app, ["run", "quick", "--set", "d=8", "--trials", "1", "--store", str(path)])
    assert res.exit_code == 2 and "is damaged" in res.output and "Traceback" not in res.output, res.output
    assert path.read_bytes() == before and sorted(x.name for x in tmp_path.iterdir()) == ["index.sqlite"]


# ---- store check ---------------------------------------------------------------------------------------


def test_store_check_reports_missing_duplicate_and_failed_cells(tmp_path, tiny, full_store):
    res = runner.invoke(app, ["store", "check", "--store", str(full_store)])
    assert res.exit_code == 0, res.output
    assert "integrity ok" in res.output and f"schema version {SCHEMA_VERSION}" in res.output
    n_cells = len(expand(tiny))
    assert f"{n_cells}/{n_cells}" in res.output
    res = runner.invoke(app, ["store", "check", "--preset", "quick", "--store", str(full_store)])
    assert res.exit_code == 0, res.output
    # the same sweep with a third trial, not run yet: every cell lacks trial 2
    res = runner.invoke(app, ["store", "check", "--preset", "quick", *_sets(), "--trials", "3",
                              "--store", str(full_store)])
    assert res.exit_code == 1 and "incomplete cells" in res.output and f"0/{n_cells}" in res.output

    path = tmp_path / "s.sqlite"
    path.write_bytes(full_store.read_bytes())
    cells = expand(tiny)
    with Store(path) as st:
        st._con.execute("DELETE FROM trials WHERE cell_key=?", (cells[0].key,))
        st._con.execute("DELETE FROM trials WHERE cell_key=? AND trial=1", (cells[1].key,))
        st.write_cell(cells[0].key, [0, 1], [], "failed", "MemoryError: too big")
        rows = [{"trial": 0, "status": "ok", "test_mse": 9.0}]
        st.write_cell(cells[2].key, [0], rows, "ok")  # the same trial computed a second time
        rep = st.check(st.sweep_cells(st.latest_sweep()["sweep_id"]), 2)
        kept = st._con.execute("SELECT value FROM trial_metrics WHERE cell_key=? AND trial=0 AND metric='test_mse'",
                               (cells[2].key,))
        assert kept.fetchone()[0] != 9.0  # the first result of a trial is never overwritten
    assert rep.missing_cells == [cells[0].label]
    assert rep.incomplete_cells == [(cells[1].label, [1])]
    assert rep.recomputed == [(cells[2].label, 0, 2)]
    assert rep.failed_cells == [(cells[0].label, "MemoryError: too big")]
    assert rep.duplicate_rows == [] and rep.orphan_rows == 0 and rep.complete_cells == n_cells - 2
    res = runner.invoke(app, ["store", "check", "--store", str(path)], terminal_width=200)
    assert res.exit_code == 1
    for text in ("missing cells", "incomplete cells", "computed twice", "MemoryError: too big", "problems found"):
        assert text in res.output, res.output


def test_store_check_repair_resolves_trials_computed_twice_first_result_wins(tmp_path):
    """Two clients on one store (planted here as their writes): every trial computed twice, one cell partly.
    `store check` finds them (exit 1) until `--repair` keeps the first results and drops the later claims."""
    p = get_preset("quick")
    cells = expand(p)[:3]
    path = tmp_path / "twice.sqlite"

    def rows(trials, value):
        return [{"trial": t, "status": "ok", "test_mse": value} for t in trials]

    with Store(path) as st:
        st.register_sweep(p.name, config_hash(p), p.model_dump_json(), 2, cells)
        for c in cells[:2]:  # both clients compute the whole of the first two cells
            st.write_cell(c.key, [0, 1], rows([0, 1], 1.0), "ok")
            st.write_cell(c.key, [0, 1], rows([0, 1], 2.0), "ok")
        st.write_cell(cells[2].key, [0], rows([0], 1.0), "ok")
        st.write_cell(cells[2].key, [0, 1], rows([0, 1], 2.0), "ok")  # trial 0 again, trial 1 new
        st.write_cell(cells[2].key, [0, 1], [], "failed", "MemoryError: x")  # a failed run stays as it is
        rep = st.check(st.sweep_cells(st.latest_sweep()["sweep_id"]), 2)
        assert len(rep.recomputed) == 5 and not rep.ok
    res = runner.invoke(app, ["store", "check", "--store", str(path)], terminal_width=200)
    assert res.exit_code == 1 and "trials computed twice" in res.output
    res = runner.invoke(app, ["store", "check", "--repair", "--store", str(path)], terminal_width=200)
    assert res.exit_code == 0 and "ok: nothing missing" in res.output, res.output
    assert "repaired 3 run(s)" in res.output and "deleted" in res.output and "keeps trials [1]" in res.output
    with Store(path, readonly=True) as st:
        rep = st.check(st.sweep_cells(st.latest_sweep()["sweep_id"]), 2)
        assert rep.recomputed == [] and rep.orphan_rows == 0 and rep.complete_cells == 3
        for c in cells[:2]:
            assert [r["status"] for r in st.runs(c.key)] == ["ok"]
            assert {t: st.trial_metrics(c.key, t)["test_mse"] for t in (0, 1)} == {0: 1.0, 1: 1.0}
        assert [json.loads(r["trials_json"]) for r in st.runs(cells[2].key)] == [[0], [1], [0, 1]]
        assert {t: st.trial_metrics(cells[2].key, t)["test_mse"] for t in (0, 1)} == {0: 1.0, 1: 2.0}
    res = runner.invoke(app, ["store", "check", "--repair", "--store", str(path)], terminal_width=200)
    assert "nothing to repair" in res.output, res.output


# ---- a client killed with SIGKILL mid-sweep --------------------------------------------------------------


def _committed_cells(path) -> int:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT COUNT(DISTINCT cell_key) FROM trials").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _slow_commits(delay: float) -> str:
    """Python source for `python -c`: the depthlab CLI with a sleep after each committed cell (the executor's
    commit patched in that process only), so that a test can kill the sweep between two cells."""
    return (
        "import time\n"
        "import depthlab.sweep.executors as ex\n"
        "record = ex.record_cell\n"
        "def slow(*args, **kwargs):\n"
        "    record(*args, **kwargs)\n"
        f"    time.sleep({delay!r})\n"
        "ex.record_cell = slow\n"
        "from depthlab.cli import app\n"
        "app()\n"
    )


def test_sigkill_of_the_client_mid_sweep_then_resume_equals_uninterrupted(tmp_path, tiny, full_store):
    path = tmp_path / "killed.sqlite"
    args = ["run", "quick", *_sets(), "--trials", "2", "--store", str(path)]
    cmd = [sys.executable, "-m", "depthlab.cli", *args]
    slow = [sys.executable, "-c", _slow_commits(0.4), *args]
    proc = subprocess.Popen(slow, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    try:
        while _committed_cells(path) < 2:
            assert proc.poll() is None, proc.communicate()[0].decode()
            assert time.monotonic() < deadline, "no cell committed in time"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    n_cells = len(expand(tiny))
    done = _committed_cells(path)
    assert 2 <= done < n_cells, f"the kill must land mid-sweep ({done} of {n_cells} cells committed)"

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"({n_cells - done} to run, {done} complete)" in res.stdout
    assert _rows(path, tiny) == _rows(full_store, tiny)  # same cells, same numbers
    assert _runs_per_cell(path) == {c.key: 1 for c in expand(tiny)}  # nothing lost, nothing computed twice
    res = runner.invoke(app, ["store", "check", "--store", str(path)])
    assert res.exit_code == 0, res.output
