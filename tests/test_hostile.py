"""Hostile text, environment and output paths, repeated grid values: clear one-line behaviour, no traceback."""

import json

import pytest
from typer.testing import CliRunner

from depthlab.cli import app

from ._tiny import TINY_OVERRIDES

runner = CliRunner()
MACRO = "$\\undefinedmacro{$"


def _sets(extra=()):
    return [a for o in [*TINY_OVERRIDES, *extra] for a in ("--set", o)]


def _clean(res, code):
    assert res.exit_code == code, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output and "Error:" not in res.output.replace("error:", "")


# -- hostile text ---------------------------------------------------------------------------------------------


def test_markup_in_arguments_is_printed_literally(tmp_path):
    res = runner.invoke(app, ["run", "quick[/x]", "--store", str(tmp_path / "s.sqlite")])
    _clean(res, 2)
    assert "quick[/x]" in res.output
    res = runner.invoke(app, ["run", "[bold]x[/bold]", "--store", str(tmp_path / "s.sqlite")])
    _clean(res, 2)
    assert "[bold]x[/bold]" in res.output
    missing = tmp_path / "no[/i]such.sqlite"
    res = runner.invoke(app, ["results", "--store", str(missing)])
    _clean(res, 2)
    assert "no[/i]such.sqlite" in res.output
    res = runner.invoke(app, ["show", "quick", "--set", "foo[/x]=1"])
    _clean(res, 2)
    assert "foo[/x]" in res.output


def test_markup_in_a_preset_name_is_printed_literally(tmp_path):
    res = runner.invoke(app, ["run", "quick", *_sets(["name=a[/x]"]), "--dry-run",
                              "--store", str(tmp_path / "s.sqlite")])
    _clean(res, 0)
    assert "a[/x]" in res.output


EXPERIMENT = {
    "name": "h[/x]" + MACRO, "paper": "p", "description": "[bold]x[/bold] " + MACRO,
    "d": 8, "kappa_min": 1.0, "kappa_max": 1.8, "num_kappa": 2, "trials": 1, "n_test": 100,
    "target": {"family": "sight", "epsilon": 0.5},
    "methods": {"kern[/x]": {"kind": "kernel", "ridge": 1.0}, MACRO: {"kind": "kernel", "ridge": 0.5}},
    "theory": {"t[/x] " + MACRO: 1.5},
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    exp = root / "exp.json"
    exp.write_text(json.dumps(EXPERIMENT))
    store = root / "s.sqlite"
    res = runner.invoke(app, ["run", str(exp), "--store", str(store)])
    _clean(res, 0)
    assert "h[/x]" in res.output and "cells ok" in res.output
    return exp, store


def test_hostile_method_names_in_results(hostile):
    exp, store = hostile
    res = runner.invoke(app, ["results", "--store", str(store)])
    _clean(res, 0)
    assert "kern[/x]" in res.output and "h[/x]" in res.output
    res = runner.invoke(app, ["results", "--store", str(store), "--format", "csv"])
    _clean(res, 0)
    assert "kern[/x]" in res.output
    res = runner.invoke(app, ["exponents", "--preset", str(exp), "--store", str(store), "--boot", "20"])
    _clean(res, 0)
    assert "kern[/x]" in res.output
    res = runner.invoke(app, ["store", "check", "--store", str(store)])
    _clean(res, 0)
    assert "h[/x]" in res.output


def test_hostile_names_plot_and_report(hostile, tmp_path):
    exp, store = hostile
    res = runner.invoke(app, ["plot", "--store", str(store), "-o", str(tmp_path / "p.png")])
    _clean(res, 0)
    assert (tmp_path / "p.png").stat().st_size > 1000
    res = runner.invoke(app, ["report", str(exp), "--store", str(store), "--boot", "20", "-o", str(tmp_path / "r")])
    _clean(res, 0)
    assert (tmp_path / "r" / "index.html").exists()


# -- environment and output paths -----------------------------------------------------------------------------


def test_unusable_compilation_cache_warns_once_and_runs(tmp_path, capsys):
    from depthlab.sweep import runner as sweep_runner

    afile = tmp_path / "a-file"
    afile.write_text("x")
    for where in (afile, afile / "under"):
        assert sweep_runner.enable_compilation_cache(where) is None
        assert sweep_runner.enable_compilation_cache(where) is None
        warned = capsys.readouterr().err
        assert warned.count("warning: JAX compilation cache") == 1 and str(where) in warned


def test_run_with_a_cache_under_a_file(hostile, tmp_path):
    exp, _ = hostile
    (tmp_path / "f").write_text("x")
    res = runner.invoke(app, ["run", str(exp), "--store", str(tmp_path / "s.sqlite")],
                        env={"DEPTHLAB_JAX_CACHE": str(tmp_path / "f" / "jax")})
    _clean(res, 0)
    assert "cells ok, 0 failed" in res.output and res.output.count("warning: JAX compilation cache") == 1


@pytest.mark.parametrize(("text", "size"), [("2GiB", 2 * 2**30), ("512MiB", 512 * 2**20), ("1e9", 10**9),
                                            ("2000000000", 2 * 10**9), ("1.5GB", 15 * 10**8)])
def test_memory_budget_sizes(monkeypatch, text, size):
    from depthlab.sweep.grid import memory_budget

    monkeypatch.setenv("DEPTHLAB_MEMORY_BUDGET", text)
    assert memory_budget() == size


@pytest.mark.parametrize("text", ["garbage", "1.5", "0", "-1", "2 parsecs"])
def test_bad_memory_budget_is_one_line_naming_the_variable(hostile, text):
    _, store = hostile
    res = runner.invoke(app, ["results", "--store", str(store)], env={"DEPTHLAB_MEMORY_BUDGET": text})
    _clean(res, 2)
    assert res.output.strip().count("\n") == 0 and "DEPTHLAB_MEMORY_BUDGET" in res.output


def test_bad_output_paths_are_one_line_errors(hostile, tmp_path):
    exp, store = hostile
    afile = tmp_path / "existing"
    afile.write_text("keep me")
    cases = [
        ["report", str(exp), "--boot", "20", "-o", str(afile)],
        ["results", "--store", str(store), "--format", "csv", "-o", str(tmp_path / "missing-dir" / "r.csv")],
        ["results", "--store", str(store), "--format", "parquet", "-o", str(tmp_path / "missing-dir" / "r.pq")],
        ["results", "--store", str(store), "--format", "csv", "-o", str(afile / "r.csv")],
        ["plot", "--store", str(store), "-o", str(tmp_path / "p.xyz")],
        ["plot", "--store", str(store), "-o", str(afile / "p.png")],
        ["exponents", "--preset", str(exp), "--boot", "20", "--format", "csv", "-o", str(tmp_path)],
    ]
    for args in cases:
        if args[0] in ("report", "exponents"):
            args += ["--store", str(store)]
        res = runner.invoke(app, args)
        _clean(res, 2)
        assert res.output.strip().count("\n") == 0 and "error:" in res.output, (args, res.output)
    assert afile.read_text() == "keep me" and not (tmp_path / "missing-dir").exists()


# -- duplicate work -------------------------------------------------------------------------------------------


def test_repeated_d_is_merged():
    from depthlab.presets import apply_overrides, get_preset
    from depthlab.sweep.grid import expand

    base = get_preset("quick")
    once = apply_overrides(base, [*TINY_OVERRIDES, "d=8"], 1)
    twice = apply_overrides(base, [*TINY_OVERRIDES, "d=8,8"], 1)
    assert twice.ds == [8]
    assert [c.key for c in expand(twice)] == [c.key for c in expand(once)]
    many = apply_overrides(base, [*TINY_OVERRIDES, "d=16,8,16,8,16"], 1)
    assert many.ds == [16, 8]


def test_dry_run_with_repeated_d_lists_each_cell_once(tmp_path):
    res = runner.invoke(app, ["run", "quick", *_sets(["d=8,8"]), "--trials", "1", "--dry-run",
                              "--store", str(tmp_path / "s.sqlite")])
    _clean(res, 0)
    assert "12 cells x 1 trials" in res.output


def test_dry_run_creates_no_store(tmp_path):
    path = tmp_path / "never.sqlite"
    res = runner.invoke(app, ["run", "quick", "--dry-run", "--store", str(path)])
    assert res.exit_code == 0, res.output
    assert "projected time" in res.output
    assert not path.exists() and not list(tmp_path.iterdir())


def test_a_corrupt_stored_configuration_is_a_clear_error(tmp_path):
    """A sweep whose stored config_json no longer validates: one line naming the sweep, for results and check."""
    import sqlite3

    from depthlab.presets import get_preset
    from depthlab.store import Store as _Store
    from depthlab.sweep.grid import expand

    path = tmp_path / "s.sqlite"
    p = get_preset("quick")
    cell = expand(p)[0]
    with _Store(path) as st:
        st.register_sweep(p.name, "h", p.model_dump_json(), 1, [cell])
        st.write_cell(cell.key, [0], [{"trial": 0, "status": "ok", "test_mse": 0.5}], "ok")
    con = sqlite3.connect(path)
    with con:
        con.execute("UPDATE sweeps SET config_json = ?", (json.dumps({"name": "quick", "bogus": 1}),))
    con.close()
    for args in (["results", "--preset", "quick"], ["check", "quick"], ["exponents", "--preset", "quick"]):
        res = runner.invoke(app, [*args, "--store", str(path)])
        assert res.exit_code == 2, (args, res.output)
        assert "sweep 1 ('quick')" in res.output and "cannot be read" in res.output, res.output
        assert "Traceback" not in res.output


def test_the_main_file_alone_is_a_complete_store_after_each_cell(tmp_path):
    """Each committed cell is checkpointed into the main file: a copy without the -wal file (a store copied
    mid-run, or after a crash) holds every committed cell."""
    import shutil

    from depthlab.presets import get_preset
    from depthlab.store import Store as _Store
    from depthlab.sweep.grid import expand

    path = tmp_path / "live.sqlite"
    p = get_preset("quick")
    cells = expand(p)[:3]
    st = _Store(path)  # kept open, as during a run: the WAL file exists
    st.register_sweep(p.name, "h", p.model_dump_json(), 1, cells)
    for c in cells:
        st.write_cell(c.key, [0], [{"trial": 0, "status": "ok", "test_mse": 0.5}], "ok")
    copy = tmp_path / "copy.sqlite"
    shutil.copy(path, copy)  # the main file only
    with _Store(copy, readonly=True) as cp:
        assert all(cp.done_trials(c.key) == {0} for c in cells)
    st.close()


# -- strict values --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("override", ["trials=true", "trials=2.0", "num_kappa=false", "seed=true", "n_test=1e3",
                                      "trial_block=true"])
def test_counts_are_strict_integers(override):
    from depthlab.presets import PresetError, apply_overrides, get_preset

    field = override.split("=")[0]
    with pytest.raises(PresetError, match=f"{field}: Input should be a valid integer"):
        apply_overrides(get_preset("quick"), [override])
    res = runner.invoke(app, ["show", "quick", "--set", override])
    _clean(res, 2)


def test_error_paths_do_not_repeat_the_union_tag():
    res = runner.invoke(app, ["show", "quick", "--set", "methods.layerwise.p2=-1"])
    _clean(res, 2)
    assert "methods.layerwise.p2: Input should be greater than 0" in res.output
    assert "layerwise.layerwise" not in res.output
