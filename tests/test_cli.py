"""CLI smoke test: presets, run (and resume), results in every format, plot, check, errors."""

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from depthlab.cli import app
from depthlab.store import Store

from ._tiny import TINY_OVERRIDES

runner = CliRunner()


def _sets():
    return [a for o in TINY_OVERRIDES for a in ("--set", o)]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "cli.sqlite"
    res = runner.invoke(app, ["run", "quick", *_sets(), "--trials", "2", "--store", str(path)])
    assert res.exit_code == 0, res.output
    assert "cells ok" in res.output
    return path


def test_presets_lists_names_and_runtime():
    res = runner.invoke(app, ["presets"])
    assert res.exit_code == 0
    assert "quick" in res.output and "dandi2025-example" in res.output and "cold" in res.output


def test_rerun_resumes_without_work(store):
    res = runner.invoke(app, ["run", "quick", *_sets(), "--trials", "2", "--store", str(store)])
    assert res.exit_code == 0 and "nothing to do" in res.output


def test_dry_run_projects_time_and_registers_nothing(tmp_path):
    res = runner.invoke(app, ["run", "dandi2025-example", "--dry-run", "--store", str(tmp_path / "x.sqlite")])
    assert res.exit_code == 0 and "projected time" in res.output and "9410" in res.output
    assert not (tmp_path / "x.sqlite").exists()  # no store is created
    Store(tmp_path / "x.sqlite").close()
    res = runner.invoke(app, ["run", "dandi2025-example", "--dry-run", "--store", str(tmp_path / "x.sqlite")])
    assert res.exit_code == 0 and "9410" in res.output
    with Store(tmp_path / "x.sqlite", readonly=True) as st:
        assert st.sweeps() == []  # `results` and `plot` still show the last real run


def test_results_formats(store, tmp_path):
    res = runner.invoke(app, ["results", "--preset", "quick", "--store", str(store), "--format", "csv"])
    assert res.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert {"preset", "method", "d", "n", "kappa", "trial", "test_mse"} <= set(rows[0])
    assert len(rows) == 4 * 3 * 2
    agg = runner.invoke(app, ["results", "--store", str(store), "--format", "json", "--aggregate"])
    data = json.loads(agg.stdout)
    assert {"test_mse_median", "test_mse_q25", "test_mse_q75"} <= set(data[0])
    assert all(r["test_mse_q25"] <= r["test_mse_median"] <= r["test_mse_q75"] for r in data)
    out = tmp_path / "r.parquet"
    res = runner.invoke(app, ["results", "--store", str(store), "--format", "parquet", "-o", str(out)])
    assert res.exit_code == 0 and pq.read_table(out).num_rows == len(rows)
    table = runner.invoke(app, ["results", "--store", str(store)])
    assert table.exit_code == 0 and "layerwise" in table.output


def test_plot_writes_png(store, tmp_path):
    out = tmp_path / "fig.png"
    res = runner.invoke(app, ["plot", "--preset", "quick", "--store", str(store), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_check_reports_every_check_with_numbers(store):
    res = runner.invoke(app, ["check", "quick", "--store", str(store)])
    assert res.exit_code in (0, 1, 3)
    for name in ("depth ordering", "M_h rises", "errors fall from the trivial level"):
        assert name in res.output
    assert "kernel cannot beat" not in res.output  # removed: true by construction
    # one d: every exponent prediction is information, never a verdict
    assert res.output.count("INFO") >= 4 and "information only" in res.output
    summary = res.output.strip().splitlines()[-1]
    assert ("FAIL" in summary) == (res.exit_code == 1)
    assert res.exit_code != 3 or "INCONCLUSIVE" in summary


def test_errors_are_clear(tmp_path):
    res = runner.invoke(app, ["run", "quick", "--set", "methods.layerwise.p22=3", "--store", str(tmp_path / "a")])
    assert res.exit_code == 2 and "p22" in res.output
    res = runner.invoke(app, ["run", "nope", "--store", str(tmp_path / "a")])
    assert res.exit_code == 2 and "unknown preset" in res.output
    res = runner.invoke(app, ["results", "--store", str(tmp_path / "missing.sqlite")])
    assert res.exit_code == 2 and "does not exist" in res.output
    bad = tmp_path / "bad.sqlite"
    bad.write_text("garbage" * 50)
    res = runner.invoke(app, ["check", "quick", "--store", str(bad)])
    assert res.exit_code == 2 and "not a usable" in res.output


def test_exponents_and_report_on_a_single_d_sweep(store, tmp_path):
    res = runner.invoke(app, ["exponents", "--preset", "quick", "--store", str(store), "--boot", "100"])
    assert res.exit_code == 0, res.output
    assert "kappa* at d=8" in res.output and "layerwise" in res.output
    res = runner.invoke(app, ["report", "quick", "--store", str(store), "-o", str(tmp_path / "rep"), "--boot", "100"])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "rep" / "index.html").read_text()
    # one d: error and overlap figures, no n* vs d figure; prediction checks next to the paper checks
    assert page.count("data:image/png;base64,") == 2 and not (tmp_path / "rep" / "figures" / "n_star_vs_d.png").exists()
    assert "layerwise: measured exponent vs prediction" in page and "depth ordering at largest kappa" in page


# ---- debug: one cell in the foreground ------------------------------------------------------------------


def _printed_trials(output):
    """The per-trial metrics `depthlab debug` prints: {trial: {metric: value}}."""
    out, trial = {}, None
    for line in output.splitlines():
        if line.startswith("trial "):
            trial = int(line.split()[1].rstrip(":"))
            out[trial] = {}
        elif line.startswith("  ") and trial is not None:
            name, value = line.split()
            out[trial][name] = None if value == "None" else float(value)
    return out


def _stored(store, method, n):
    with Store(store, readonly=True) as st:
        rows = st.trial_rows(st.latest_sweep("quick")["sweep_id"])
    return {r["trial"]: r for r in rows if r["method"] == method and r["n"] == n}


def test_debug_runs_one_cell_in_the_foreground_with_the_stored_numbers(store, tmp_path, monkeypatch):
    import depthlab.sweep.runner as runner_mod

    def no_background(*args, **kwargs):
        raise AssertionError("debug must not use the background compiler")

    monkeypatch.setattr(runner_mod, "_submit", no_background)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEPTHLAB_STORE", raising=False)
    with Store(store, readonly=True) as st:
        before = len(st.runs())
    res = runner.invoke(app, ["debug", "quick", "--cell", "layerwise,8,18", *_sets(), "--trials", "2"])
    assert res.exit_code == 0, res.output
    printed = _printed_trials(res.stdout)
    stored = _stored(store, "layerwise", 18)
    assert sorted(printed) == [0, 1] and all("test_mse" in m for m in printed.values())
    for t, metrics in printed.items():
        assert metrics == {k: stored[t][k] for k in metrics}  # the same numbers, bit for bit
    assert not list(tmp_path.iterdir())  # no store written without --store
    with Store(store, readonly=True) as st:
        assert len(st.runs()) == before


def test_debug_with_store_records_the_cell_like_run(store, tmp_path):
    path = tmp_path / "debug.sqlite"
    args = ["debug", "quick", "--cell", "kernel,8,18", *_sets(), "--trials", "2", "--store", str(path)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and "recorded in" in res.output, res.output
    with Store(path, readonly=True) as st:
        (run,) = st.runs()
        assert run["executor"] == "debug" and run["status"] == "ok"
    assert _stored(path, "kernel", 18) == _stored(store, "kernel", 18)
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and "every trial of kernel d=8 n=18" in res.output, res.output


def test_debug_under_disable_jit_runs_eagerly_on_concrete_values(store, monkeypatch):
    import jax

    import depthlab.metrics as metrics_mod

    seen = []
    real = metrics_mod.evaluate

    def spy(target, inst, learner, params, train, test, part="all"):
        seen.append(any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves((params, train))))
        return real(target, inst, learner, params, train, test, part)

    monkeypatch.setattr(metrics_mod, "evaluate", spy)
    args = ["debug", "quick", "--cell", "kernel,8,18", *_sets(), "--trials", "2"]
    with jax.disable_jit():
        res = runner.invoke(app, args)
        refused = runner.invoke(app, [*args, "--store", "x.sqlite"])
    assert res.exit_code == 0 and "jit disabled" in res.output, res.output
    # unbatched, concrete calls per trial (the training-batch metrics, then the others): a debugger sees real arrays
    assert seen == [False] * 4
    printed, stored = _printed_trials(res.stdout), _stored(store, "kernel", 18)
    for t, metrics in printed.items():
        for k, v in metrics.items():
            assert v == pytest.approx(stored[t][k], rel=1e-4, abs=1e-6), k
    assert refused.exit_code == 2 and "jit disabled" in refused.output


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("nope,8,18", "unknown method 'nope' in preset quick; choose from: layerwise, joint, two_layer, kernel"),
        ("kernel,9,18", "d=9 is not in preset quick; choose from: 8"),
        ("kernel,8,19", "n=19 is not on the grid of kernel at d=8; choose from: 8, 18, 42"),
        ("kernel,8", "--cell must be METHOD,d,n (e.g. layerwise,8,8), got 'kernel,8'"),
        ("kernel,eight,18", "--cell must be METHOD,d,n with integers d and n"),
    ],
)
def test_debug_bad_cell_is_a_one_line_error(cell, message):
    res = runner.invoke(app, ["debug", "quick", "--cell", cell, *_sets()])
    assert res.exit_code == 2 and message in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1


def test_debug_of_a_failing_cell_prints_the_traceback_or_opens_the_debugger():
    bad = 'methods={"kernel": {"kind": "kernel", "max_memory_gb": 1e-9}}'
    args = ["debug", "quick", "--cell", "kernel,8,18", *_sets(), "--set", bad, "--set", "checks=[]"]
    res = runner.invoke(app, args)
    assert res.exit_code == 1 and "ValueError: kernel at d=8, n=18" in res.output, res.output
    assert "Traceback (most recent call last):" in res.output and "in check_feasible" in res.output
    res = runner.invoke(app, [*args, "--pdb"], input="p d, n\nq\n")
    assert res.exit_code == 1 and "(Pdb)" in res.output and "(8, 18)" in res.output, res.output
