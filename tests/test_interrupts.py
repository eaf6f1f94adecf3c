"""Ctrl-C (SIGINT) and SIGTERM during a cold sweep: the process stops without waiting for the background
compiler, exits 130 / 143 without a traceback, keeps every stored cell, and a rerun completes to the rows of
an uninterrupted run (``depthlab.sweep.interrupts``)."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
from typer.testing import CliRunner

from depthlab.cli import app
from depthlab.sweep import interrupts

runner = CliRunner()

# 12 cheap cells (ridge and kernel ridge at d = 8): a cold run compiles one fit program per cell
EXPERIMENT = {
    "name": "interrupted", "paper": "p", "description": "interrupt tests", "d": 8, "kappa_min": 1.0,
    "kappa_max": 2.0, "num_kappa": 6, "trials": 2, "n_test": 100, "target": {"family": "sight", "epsilon": 0.5},
    "methods": {"linear": {"kind": "linear"}, "kernel": {"kind": "kernel", "ridge": 1.0}},
}
N_CELLS = 12


def _cli(args, *, pause_after_commit=0.0):
    """The depthlab CLI as a subprocess command; with ``pause_after_commit`` each committed cell is followed
    by a sleep (the executor's commit patched in that process only), so that a signal lands mid-sweep."""
    if not pause_after_commit:
        return [sys.executable, "-m", "depthlab.cli", *args]
    src = textwrap.dedent(f"""
        import time
        import depthlab.sweep.executors as ex
        record = ex.record_cell
        def slow(*args, **kwargs):
            record(*args, **kwargs)
            time.sleep({pause_after_commit!r})
        ex.record_cell = slow
        from depthlab.cli import app
        app()
    """)
    return [sys.executable, "-c", src, *args]


def _stored_cells(path):
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(con.execute("SELECT COUNT(DISTINCT cell_key) FROM trials").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _interrupt(tmp_path, signals, cache):
    """Start a cold sweep, send ``signals`` (back to back) once its first cell is stored; (rc, stderr, store)."""
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps(EXPERIMENT))
    store = tmp_path / "s.sqlite"
    env = {**os.environ, "DEPTHLAB_JAX_CACHE": str(cache)}
    proc = subprocess.Popen(_cli(["run", str(exp), "--store", str(store)], pause_after_commit=0.5), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    try:
        while _stored_cells(store) < 1:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no cell stored in time"
            time.sleep(0.05)
        for s in signals:
            proc.send_signal(s)
        _, errs = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, errs, store, exp, env


def _check_stopped(rc, errs, store, signum):
    assert rc == interrupts.exit_code(signum) == {signal.SIGINT: 130, signal.SIGTERM: 143}[signum], errs
    assert "Traceback" not in errs and "terminate called" not in errs, errs
    m = re.search(rf"interrupted by {signum.name}: (\d+) of {N_CELLS} cells are stored \((\d+) by this run", errs)
    assert m is not None, errs
    stored = _stored_cells(store)
    assert int(m.group(1)) == int(m.group(2)) == stored and 1 <= stored < N_CELLS, (errs, stored)
    res = runner.invoke(app, ["store", "check", "--store", str(store)])  # exit 1: the missing cells, only
    assert "integrity ok" in res.output, res.output
    for finding in ("incomplete cells", "duplicate trial rows", "trials computed twice", "failed cells"):
        assert re.search(rf"{finding}\s*│\s*0\s*│", res.output), (finding, res.output)
    assert re.search(rf"missing cells\s*│\s*{N_CELLS - stored}\s*│", res.output), res.output
    return stored


def _csv(store):
    res = runner.invoke(app, ["results", "--store", str(store), "--format", "csv"])
    assert res.exit_code == 0, res.output
    return res.output


def test_sigint_stops_a_cold_sweep_and_a_rerun_completes_it(tmp_path):
    cache = tmp_path / "jax-cache"
    rc, errs, store, exp, env = _interrupt(tmp_path, [signal.SIGINT], cache)
    stored = _check_stopped(rc, errs, store, signal.SIGINT)

    res = subprocess.run(_cli(["run", str(exp), "--store", str(store)]), env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"({N_CELLS - stored} to run, {stored} complete)" in res.stdout
    reference = tmp_path / "reference.sqlite"
    res = subprocess.run(_cli(["run", str(exp), "--store", str(reference)]), env=env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert _csv(store) == _csv(reference)  # the same rows, bit for bit, as an uninterrupted run
    assert _csv(store).count("\n") == 1 + N_CELLS * EXPERIMENT["trials"]
    res = runner.invoke(app, ["store", "check", "--store", str(store)])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("signals", [[signal.SIGTERM], [signal.SIGINT, signal.SIGINT]], ids=["sigterm", "twice"])
def test_sigterm_and_a_second_ctrl_c_stop_cleanly(tmp_path, signals):
    rc, errs, store, _, _ = _interrupt(tmp_path, signals, tmp_path / "jax-cache")
    _check_stopped(rc, errs, store, signals[0])
    assert errs.count("interrupted by") == 1, errs


def test_a_signal_during_a_compiled_computation_ends_the_process(tmp_path):
    """The main thread inside XLA does not run Python signal handlers: the watchdog ends the process."""
    src = textwrap.dedent("""
        import sys, time
        import jax, jax.numpy as jnp
        from depthlab.sweep import interrupts

        loop = jax.jit(lambda x, k: jax.lax.fori_loop(0, k, lambda i, a: jnp.sin(a) * 1.0000001 + 1e-9, x))
        x = jnp.ones(256, jnp.float32)
        loop(x, 1).block_until_ready()  # compiled
        with interrupts.guard(lambda s: f"stopped by {s}") as g:
            g.raise_interrupt = True
            print("computing", flush=True)
            loop(x, 2_000_000_000).block_until_ready()  # hours
            print("finished", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", src], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "computing\n"
        time.sleep(0.5)  # inside the computation
        proc.send_signal(signal.SIGTERM)
        out, errs = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, errs
    assert f"stopped by {int(signal.SIGTERM)}" in errs and "Traceback" not in errs, errs
    assert "finished" not in out


def test_a_signal_during_a_commit_takes_effect_after_it(monkeypatch):
    """In this process: the handler holds an interrupt that arrives while a cell is committed, and raises it
    when the commit ends; outside a commit it raises at once; the previous handlers are restored."""
    monkeypatch.setattr(interrupts, "GRACE_S", 600.0)  # the watchdog never acts here
    before = signal.getsignal(signal.SIGINT)
    committed = []
    with interrupts.guard(lambda s: "unused") as g:
        g.raise_interrupt = True
        with pytest.raises(KeyboardInterrupt):
            with interrupts.committing():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # the handler runs here, and holds the interrupt
                committed.append(1)
        assert committed == [1] and interrupts.signalled() == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is before and interrupts.signalled() is None
    assert signal.getsignal(signal.SIGTERM) is not interrupts._handler
