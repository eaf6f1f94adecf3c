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
