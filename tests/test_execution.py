"""Execution modes: option handling, a Dask worker killed mid-sweep, SLURM clusters from settings."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from depthlab.cli import app
from depthlab.presets import apply_overrides, get_preset
from depthlab.store import Store
from depthlab.sweep import plan, run_dask, run_local
from depthlab.sweep.cluster import ClusterError, SlurmSettings, execution_mode, load_slurm_settings
from depthlab.sweep.grid import expand

from ._tiny import TINY_OVERRIDES

runner = CliRunner()


@pytest.fixture(scope="module")
def tiny():
    return apply_overrides(get_preset("quick"), TINY_OVERRIDES, trials=2)


@pytest.fixture(scope="module")
def local_rows(tiny, tmp_path_factory):
    with Store(tmp_path_factory.mktemp("local") / "local.sqlite") as st:
        run_local(plan(tiny, st), st)
        return st.trial_rows(st.latest_sweep()["sweep_id"])


def _sets():
    return [a for o in TINY_OVERRIDES for a in ("--set", o)]


def test_execution_mode_from_options():
    assert execution_mode(None, None, None) == "local"
    assert execution_mode(2, None, None) == "workers"
    assert execution_mode(None, None, None, "dask") == "workers"
    assert execution_mode(None, "tcp://h:8786", None) == "scheduler"
    assert execution_mode(None, None, "slurm") == "slurm"
    for args, msg in [
        ((2, "tcp://h:8786", None), "--workers and --scheduler cannot be combined"),
        ((None, "tcp://h:8786", "slurm"), "--scheduler and --cluster"),
        ((0, None, None), "--workers must be at least 1"),
        ((None, None, "pbs"), "unknown cluster 'pbs'"),
        ((2, None, None, "local"), "--executor local cannot be combined with --workers"),
    ]:
        with pytest.raises(ClusterError, match=msg):
            execution_mode(*args)


def test_cli_rejects_conflicting_or_bad_execution_options(tmp_path, monkeypatch):
    monkeypatch.setattr("depthlab.sweep.cluster.CONNECT_TIMEOUT", "2s")
    store = str(tmp_path / "s.sqlite")
    res = runner.invoke(app, ["run", "quick", "--workers", "2", "--scheduler", "tcp://x:1", "--store", store])
    assert res.exit_code == 2 and "cannot be combined" in res.output
    res = runner.invoke(app, ["run", "quick", "--cluster-config", "c.toml", "--store", store])
    assert res.exit_code == 2 and "only used with --cluster slurm" in res.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[slurm]\ncores = 2\nprocesses = 4\nmemory = "lots"\nqueue = 3\n')
    res = runner.invoke(app, ["run", "quick", "--cluster", "slurm", "--cluster-config", str(bad), "--store", store])
    assert res.exit_code == 2
    for field in ("slurm.memory", "slurm.queue"):
        assert field in res.output, res.output
    assert not (tmp_path / "s.sqlite").exists()  # nothing was written for a rejected command
    res = runner.invoke(app, ["run", "quick", "--scheduler", "tcp://127.0.0.1:9", *_sets(), "--store", store])
    assert res.exit_code == 2 and "cannot connect to the Dask scheduler" in res.output, res.output


def test_slurm_settings_validation_names_the_field(tmp_path):
    cases = {
        '[slurm]\nwalltime = "3 hours"\n': "slurm.walltime",
        "[slurm]\ncores = 0\n": "slurm.cores",
        "[slurm]\nqueues = 'x'\n": "slurm.queues",
        "[slurm]\ncores = 2\nprocesses = 3\n": "processes (3) must not exceed cores (2)",
        "[slurms]\n": "unknown section",
        "[slurm\n": "not valid TOML",
    }
    for text, msg in cases.items():
        f = tmp_path / "c.toml"
        f.write_text(text)
        with pytest.raises(ClusterError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            load_slurm_settings(f)
    with pytest.raises(ClusterError, match="cannot read"):
        load_slurm_settings(tmp_path / "missing.toml")
    assert load_slurm_settings(None) == SlurmSettings()


def test_slurm_cluster_job_script_follows_the_settings(tmp_path):
    pytest.importorskip("dask_jobqueue")
    from depthlab.sweep.cluster import make_slurm_cluster

    cfg = tmp_path / "cluster.toml"
    cfg.write_text(textwrap.dedent("""
        [slurm]
        queue = "short"
        account = "proj1"
        cores = 4
        processes = 2
        memory = "16GB"
        walltime = "02:30:00"
        jobs = 3
        job_extra_directives = ["--qos=high"]
        job_script_prologue = ["module load python"]
    """))
    cluster = make_slurm_cluster(load_slurm_settings(cfg), retries=5, scale=False)
    try:
        script = cluster.job_script()
        assert cluster.scheduler.allowed_failures == 5  # worker deaths a cell survives
    finally:
        cluster.close()
    for line in ("#SBATCH -p short", "#SBATCH -A proj1", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=15G",
                 "#SBATCH -t 02:30:00", "#SBATCH --qos=high", "module load python"):
        assert line in script.splitlines(), script
    assert "--nworkers 2" in script and "--nthreads 2" in script and sys.executable in script


@pytest.mark.skipif(shutil.which("sbatch") is not None, reason="this machine has SLURM")
def test_cli_slurm_without_sbatch_is_a_clear_error(tmp_path):
    pytest.importorskip("dask_jobqueue")
    res = runner.invoke(app, ["run", "quick", "--cluster", "slurm", *_sets(), "--store", str(tmp_path / "s")])
    assert res.exit_code == 2 and "sbatch" in res.output, res.output


SMALL = [
    'methods={"kernel": {"kind": "kernel"}, "two_layer": {"kind": "two_layer", "p": 8, "t_coef": 0.5}}',
    "checks=[]",
]


def test_cli_workers_and_scheduler_modes_give_the_in_process_numbers(tmp_path):
    """`run --workers 1` (a LocalCluster) and `run --scheduler ADDRESS` (an existing cluster) store the same
    rows as the default in-process run."""
    from distributed import LocalCluster

    sets = [*_sets(), "--set", SMALL[0], "--set", SMALL[1], "--trials", "2"]
    rows = {}
    res = runner.invoke(app, ["run", "quick", *sets, "--store", str(tmp_path / "local.sqlite")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["run", "quick", *sets, "--workers", "1", "--store", str(tmp_path / "workers.sqlite")])
    assert res.exit_code == 0 and "LocalCluster of 1 workers" in res.output, res.output
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        res = runner.invoke(app, ["run", "quick", *sets, "--scheduler", cluster.scheduler_address,
                                  "--store", str(tmp_path / "scheduler.sqlite")])
        assert res.exit_code == 0 and "6 cells ok" in res.output, res.output
    for name in ("local", "workers", "scheduler"):
        with Store(tmp_path / f"{name}.sqlite", readonly=True) as st:
            rows[name] = st.trial_rows(st.latest_sweep()["sweep_id"])
            executors = {r["executor"] for r in st.runs()}
        assert len(rows[name]) == 6 * 2
        assert executors == {"local" if name == "local" else ("dask-local:1" if name == "workers" else
                                                                f"dask:{cluster.scheduler_address}")}
    assert rows["workers"] == rows["local"] and rows["scheduler"] == rows["local"]


def test_killed_dask_worker_sweep_completes_with_every_cell_once(tmp_path, tiny, local_rows):
    """A real LocalCluster of two worker processes; one is killed (SIGKILL, by PID) while it runs a cell."""
    from distributed import Client, LocalCluster

    killed: dict = {}
    path = tmp_path / "dask.sqlite"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        pids = client.run(os.getpid)

        def kill_a_busy_worker(task, res):
            if killed:
                return
            busy = {w: keys for w, keys in client.processing().items() if keys}
            victim = sorted(busy)[0]
            killed.update(worker=victim, lost=list(busy[victim]))
            os.kill(pids[victim], signal.SIGKILL)

        with Store(path) as st:
            run_dask(plan(tiny, st), st, on_done=kill_a_busy_worker, client=client, retries=2)
    assert killed["lost"], "the killed worker had a cell in flight"
    with Store(path, readonly=True) as st:
        rows = st.trial_rows(st.latest_sweep()["sweep_id"])
        runs = st.runs()
    assert rows == local_rows  # every cell once, same numbers as in-process
    assert sorted(r["cell_key"] for r in runs) == sorted(c.key for c in expand(tiny))
    assert all(r["status"] == "ok" for r in runs)
    worker_of = {r["cell_key"]: json.loads(r["provenance_json"])["worker"] for r in runs}
    lost_cells = [k.split("-")[1] for k in killed["lost"]]
    assert any(worker_of[c] != killed["worker"] for c in lost_cells)  # recomputed elsewhere


def test_retries_bound_worker_deaths_then_the_cell_is_failed_and_rerun(tmp_path, tiny):
    """With --retries 0 a cell whose worker dies is recorded as failed (KilledWorker), the others finish,
    and the next invocation runs just the failed cells."""
    from depthlab.sweep.cluster import dask_client
    from depthlab.sweep.executors import run_on_client

    small = apply_overrides(tiny, SMALL)
    killed: dict = {}
    path = tmp_path / "s.sqlite"
    with dask_client("workers", workers=1, retries=0) as client, Store(path) as st:
        (pid,) = client.run(os.getpid).values()

        def kill_the_worker(task, res):
            if not killed:
                killed["lost"] = [k for keys in client.processing().values() for k in keys]
                os.kill(pid, signal.SIGKILL)

        run_on_client(plan(small, st), st, client, kill_the_worker, retries=0)
        failed = {r["cell_key"]: r["message"] for r in st.runs() if r["status"] == "failed"}
        lost = {k.split("-")[1] for k in killed["lost"]}
        assert failed and set(failed) <= lost
        assert all(m.startswith("KilledWorker") for m in failed.values()), failed
        again = plan(small, st)
        assert sorted(t.cell.key for t in again.tasks) == sorted(failed)
        run_on_client(again, st, client, retries=0)
        assert plan(small, st).tasks == []
        rows = st.trial_rows(st.latest_sweep()["sweep_id"])
    with Store(tmp_path / "local.sqlite") as st:
        run_local(plan(small, st), st)
        assert rows == st.trial_rows(st.latest_sweep()["sweep_id"])


def _fake_slurm(bindir, logdir):
    """sbatch/scancel stand-ins that run the job script as a local process group."""
    bindir.mkdir()
    (bindir / "sbatch").write_text(textwrap.dedent(f"""\
        #!/bin/bash
        cp "$1" "{logdir}/job-$$.sh"
        setsid bash "{logdir}/job-$$.sh" > "{logdir}/job-$$.log" 2>&1 < /dev/null &
        echo "Submitted batch job $!"
    """))
    (bindir / "scancel").write_text('#!/bin/bash\nfor j in "$@"; do kill -TERM -- "-$j" 2>/dev/null; done\nexit 0\n')
    for f in ("sbatch", "scancel"):
        (bindir / f).chmod(0o755)


def test_cli_slurm_cluster_runs_the_sweep_through_job_scripts(tmp_path, local_rows):
    """`depthlab run --cluster slurm` end to end, with sbatch replaced by a script that starts the job's
    Dask worker on this machine: the generated job script really starts workers that run the cells."""
    pytest.importorskip("dask_jobqueue")
    _fake_slurm(tmp_path / "bin", tmp_path)
    cfg = tmp_path / "cluster.toml"
    cfg.write_text('[slurm]\ncores = 1\nmemory = "2GB"\njobs = 2\nwalltime = "00:10:00"\n')
    store = tmp_path / "slurm.sqlite"
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    cmd = [sys.executable, "-m", "depthlab.cli", "run", "quick", *_sets(), "--trials", "2", "--store", str(store),
           "--cluster", "slurm", "--cluster-config", str(cfg)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr + "".join(p.read_text() for p in tmp_path.glob("job-*.log"))
    assert "SLURM (2 jobs)" in res.stdout
    with Store(store, readonly=True) as st:
        assert st.trial_rows(st.latest_sweep()["sweep_id"]) == local_rows
        assert {r["executor"] for r in st.runs()} == {"dask-slurm"}
    con = sqlite3.connect(store)
    assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == len(local_rows) // 2
    con.close()


# ---- failures a developer can debug: tracebacks, --fail-fast ------------------------------------------------

# Two kernel methods, one refused at every cell (check_feasible: no cell fits in 1e-9 GiB), in any process (a
# Dask worker too). Equal costs keep the methods' order: in decreasing n, `kernel` then `bad`, so the second
# cell run is the first failure.
FAILING = [
    'methods={"kernel": {"kind": "kernel"}, "bad": {"kind": "kernel", "max_memory_gb": 1e-9}}',
    "checks=[]",
]


def _failing_sets():
    return [*_sets(), "--set", FAILING[0], "--set", FAILING[1], "--trials", "2"]


def test_fail_fast_stops_the_local_sweep_at_the_first_failed_cell(tmp_path, tiny, monkeypatch):
    import depthlab.sweep.runner as runner_mod

    small = apply_overrides(tiny, ['methods={"kernel": {"kind": "kernel"}}', "checks=[]"])
    real = runner_mod.compiled_programs
    with Store(tmp_path / "order.sqlite") as st:
        order = [t.cell for t in sorted(plan(small, st).tasks, key=lambda t: -t.cost)]
    bad_n = order[1].n  # the second cell run fails, after one finished cell

    def broken(cell, chunk):
        if cell.n == bad_n:
            raise RuntimeError("simulated failure")
        return real(cell, chunk)

    monkeypatch.setattr(runner_mod, "compiled_programs", broken)
    attempts = {}
    for fail_fast in (False, True):
        with Store(tmp_path / f"ff{fail_fast}.sqlite") as st:
            left = run_local(plan(small, st), st, fail_fast=fail_fast)
            runs = st.runs()
            attempts[fail_fast] = len(runs)
            if fail_fast:
                assert [t.cell.key for t in left] == [c.key for c in order[2:]]  # not run
                assert [r["status"] for r in runs] == ["ok", "failed"]
                assert st.done_trials(order[0].key) == {0, 1}  # the finished cell stays stored
                assert plan(small, st).tasks and len(plan(small, st).tasks) == len(order) - 1
            else:
                assert left == []
    assert attempts == {False: len(order), True: 2}
    assert all(f.done() or f.running() for f in runner_mod._PROGRAMS.values())  # nothing left queued


def test_cli_fail_fast_exits_with_the_traceback_and_keeps_finished_cells(tmp_path):
    n_cells = 6
    res = runner.invoke(app, ["run", "quick", *_failing_sets(), "--store", str(tmp_path / "all.sqlite")])
    assert res.exit_code == 1 and "3 cells ok, 3 failed" in res.output and "results --failed" in res.output
    assert res.output.count("Traceback") == 0  # one line per failed cell during a sweep
    path = tmp_path / "ff.sqlite"
    res = runner.invoke(app, ["run", "quick", *_failing_sets(), "--fail-fast", "--store", str(path)])
    assert res.exit_code == 1, res.output
    assert "stopped at the first failed cell (--fail-fast): bad d=8 n=42" in res.output
    assert "1 cells ok and stored, 4 not run" in res.output
    assert "Traceback (most recent call last):" in res.output and "in check_feasible" in res.output
    with Store(path, readonly=True) as st:
        runs = st.runs()
        assert [r["status"] for r in runs] == ["ok", "failed"] and len(runs) < n_cells
        assert st.done_trials(runs[0]["cell_key"]) == {0, 1}


def test_dask_fail_fast_cancels_the_rest_and_the_traceback_comes_from_the_worker(tmp_path):
    path = tmp_path / "dask.sqlite"
    res = runner.invoke(app, ["run", "quick", *_failing_sets(), "--workers", "1", "--fail-fast",
                              "--store", str(path)])
    assert res.exit_code == 1 and "stopped at the first failed cell (--fail-fast)" in res.output, res.output
    with Store(path, readonly=True) as st:
        runs = st.runs()
    failed = [r for r in runs if r["status"] == "failed"]
    assert len(runs) < 6 and failed and any(r["status"] == "ok" for r in runs)
    for r in failed:
        summary, tb = r["message"].split("\n", 1)
        assert summary.startswith("ValueError: kernel at d=8") and "max_memory_gb=1e-09" in summary
        assert tb.startswith("Traceback (most recent call last):") and "in run_cell" in tb
        assert "in check_feasible" in tb
        prov = json.loads(r["provenance_json"])
        assert prov["worker"] and prov["pid"] != os.getpid()  # formatted where it was raised: on the worker
    res = runner.invoke(app, ["results", "--failed", "--store", str(path)])
    assert res.exit_code == 0 and "bad d=8 n=42: ValueError" in res.output and "in check_feasible" in res.output
