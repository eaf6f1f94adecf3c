"""Exponents, the pandas API and the HTML report on a store with planted sample complexities (no training):
the one-step net's n* grows as d^2, the cubic kernel's as d^3, the GD net's as d^1.5; the NTK and random
features never learn."""

import json
import math
import os
import shutil
import sqlite3
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from depthlab import api
from depthlab.cli import app
from depthlab.presets import Preset, get_preset
from depthlab.report import render
from depthlab.results import load_results
from depthlab.store import Store
from depthlab.sweep.grid import expand

from ._synthetic import PROVENANCE_KEYS, fill_store

runner = CliRunner()
PRESET = "damian2022-multi-index-quick"
LAWS = {"two_layer_step": (0.5, 2.0), "kernel_poly": (0.05, 3.0), "kernel_ntk": None,
        "two_layer_gd": (1.0, 1.5), "random_features": None}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return fill_store(tmp_path_factory.mktemp("report") / "planted.sqlite", get_preset(PRESET), LAWS)


@pytest.fixture(scope="module")
def results(store):
    return api.load(store, PRESET, n_boot=300)


@pytest.fixture(scope="module")
def report_dir(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    res = runner.invoke(app, ["report", PRESET, "--store", str(store), "-o", str(out), "--boot", "300"])
    assert res.exit_code == 0, res.output
    return out


def test_rows_and_aggregates_are_the_stores(store, results):
    rows = results.rows()
    with sqlite3.connect(store) as con:
        (count,) = con.execute("SELECT COUNT(*) FROM trials").fetchone()
        raw = sorted(v for (v,) in con.execute("SELECT value FROM trial_metrics WHERE metric = 'test_mse'"))
    assert len(rows) == count and sorted(rows["test_mse"]) == raw
    assert {"preset", "method", "d", "n", "kappa", "trial", "status", "test_mse", "overlap_w"} <= set(rows)
    with Store(store, readonly=True) as st:
        assert rows.to_dict("records")[0] == pytest.approx(st.trial_rows(results.raw.sweep_id, 3)[0], nan_ok=True)
    agg = results.aggregates()
    med = rows.groupby(["method", "d", "n"])["test_mse"].median()
    got = agg.set_index(["method", "d", "n"])["test_mse_median"]
    pd.testing.assert_series_equal(got.sort_index(), med.sort_index(), check_names=False)
    assert (agg["trials"] == 3).all()


def test_exponent_frames_recover_the_planted_slopes(results):
    slopes = results.slopes().set_index("method")
    for m, s in [("two_layer_step", 2.0), ("kernel_poly", 3.0), ("two_layer_gd", 1.5)]:
        row = slopes.loc[m]
        assert row["slope"] == pytest.approx(s, abs=0.15) and row["slope_bound"] == "exact"
        assert row["slope_ci_lo"] <= s <= row["slope_ci_hi"]
    assert slopes.loc["two_layer_step", "predicted_slope"] == pytest.approx(2.0)
    assert slopes.loc["two_layer_step", "verdict"] == "agrees"  # planted 2.0, interval inside <= 2 + polylog
    assert slopes.loc["two_layer_gd", "verdict"] == "no prediction"
    assert slopes.loc["kernel_ntk", "verdict"] == "no prediction"  # its d^p is beyond max_n at every d
    assert slopes.loc["random_features", "verdict"] == "no prediction"
    per_d = results.exponents()
    assert set(per_d["d"]) == {8, 16, 32} and len(per_d) == 15
    step = per_d[per_d["method"] == "two_layer_step"].set_index("d")
    # planted n* = sqrt(1/0.15 - 1) 0.5 d^2 (jittered); kappa* = log n* / log d
    want = np.log(math.sqrt(1 / 0.15 - 1) * 0.5 * np.array([8, 16, 32]) ** 2) / np.log([8, 16, 32])
    np.testing.assert_allclose(step["kappa"].to_numpy(), want, atol=0.12)
    assert (step["ci_lo"] <= step["kappa"]).all() and (step["kappa"] <= step["ci_hi"]).all()
    checks = results.checks()
    pred = checks[checks["kind"] == "prediction"].set_index("name")
    assert pred.loc["two_layer_step: measured exponent vs prediction", "passed"]
    assert "kernel_ntk: measured exponent vs prediction" not in pred.index  # no prediction, no check


def test_runs_frame_carries_provenance(results):
    runs = results.runs()
    assert len(runs) == results.raw.finished_cells
    assert {f"prov_{k}" for k in PROVENANCE_KEYS} <= set(runs)
    assert (runs["status"] == "ok").all()


def test_exponents_command(store):
    res = runner.invoke(app, ["exponents", "--preset", PRESET, "--store", str(store), "--boot", "200"])
    assert res.exit_code == 0, res.output
    assert "slope of log n* vs log d" in res.output and "agrees" in res.output and "two_layer_step" in res.output
    js = runner.invoke(app, ["exponents", "--preset", PRESET, "--store", str(store), "--format", "json", "--per-d"])
    data = json.loads(js.stdout)
    assert {"method", "d", "kappa", "ci_lo", "ci_hi", "censored", "predicted_kappa"} <= set(data[0])


def test_report_is_self_contained_with_checks_exponents_figures_and_provenance(report_dir):
    page = (report_dir / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 3  # error, overlaps, n* vs d
    for f in ("error_vs_kappa", "overlaps_vs_kappa", "n_star_vs_d"):
        assert (report_dir / "figures" / f"{f}.png").stat().st_size > 10_000
        assert (report_dir / "figures" / f"{f}.svg").read_text().lstrip().startswith("<?xml")
    assert "<script" not in page and 'src="http' not in page and "<link" not in page
    for text in ("Paper checks", "Sample-complexity exponents: measured vs predicted", "Provenance",
                 "two_layer_step: measured exponent vs prediction", "d^2 r + d r^p (r=3, p=3): slope",
                 *PROVENANCE_KEYS):
        assert text in page, text
    assert 'class="pass">PASS' in page
    assert '<span class="agrees">agrees</span>' in page


def test_report_and_exponents_errors_are_clear(store, tmp_path):
    res = runner.invoke(app, ["report", "nope", "--store", str(store), "-o", str(tmp_path / "r")])
    assert res.exit_code == 2 and "unknown preset 'nope'" in res.output
    res = runner.invoke(app, ["report", "quick", "--store", str(store), "-o", str(tmp_path / "r")])
    assert res.exit_code == 2 and "no results for preset 'quick'" in res.output
    res = runner.invoke(app, ["exponents", "--store", str(tmp_path / "missing.sqlite")])
    assert res.exit_code == 2 and "does not exist" in res.output
    Store(tmp_path / "empty.sqlite").close()
    res = runner.invoke(app, ["exponents", "--store", str(tmp_path / "empty.sqlite")])
    assert res.exit_code == 2 and "no results for any preset" in res.output
    with pytest.raises(api.ResultsError, match="no results"):
        api.load(tmp_path / "empty.sqlite")


class _Tags(HTMLParser):
    """The start tags of a page with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "b", "code", "div", "table",
             "thead", "tbody", "tr", "th", "td", "span", "details", "summary", "pre", "figure", "img", "figcaption"}


def test_stored_and_configured_text_cannot_add_markup(tmp_path):
    """Names, descriptions, check messages, run errors and provenance are text: escaped, never markup."""
    method = "<script>alert(1)</script>"  # the cubic kernel renamed: in its check's name and its prediction
    cfg = get_preset(PRESET).model_dump_json().replace("kernel_poly", method)
    p = Preset.model_validate_json(cfg).model_copy(update={
        "name": "evil<i>name</i>", "description": '<b>bold</b> & "quoted"', "paper": "<img src=x onerror=alert(2)>"})
    assert method in p.methods and method in p.predictions and any(method in c.name for c in p.checks)
    store = fill_store(tmp_path / "evil.sqlite", p, {**LAWS, method: LAWS["kernel_poly"]})
    with Store(store) as st:  # a later run of one cell failed, on a host with a strange name
        st.write_cell(expand(p)[0].key, [0, 1, 2], [], "failed",
                      message="<iframe src=javascript:alert(3)></iframe>", provenance={"host": "<svg onload=alert(4)>"})
    res = load_results(store, n_boot=50)
    assert res.failed and res.preset.name == p.name
    page = render(res, [])
    parser = _Tags()
    parser.feed(page)
    assert {t for t, _ in parser.tags} <= PAGE_TAGS, {t for t, _ in parser.tags} - PAGE_TAGS
    assert not [(t, a) for t, a in parser.tags for k in a if k.startswith("on") or k == "src"]
    for raw in (method, "<i>name</i>", "<b>bold</b>", "<img", "<iframe", "<svg"):
        assert raw not in page, raw
    for escaped in ("&lt;script&gt;alert(1)&lt;/script&gt;", "evil&lt;i&gt;name&lt;/i&gt;",
                    "&lt;b&gt;bold&lt;/b&gt; &amp; &#34;quoted&#34;", "&lt;img src=x onerror=alert(2)&gt;",
                    "&lt;iframe src=javascript:alert(3)&gt;&lt;/iframe&gt;", "&lt;svg onload=alert(4)&gt;"):
        assert escaped in page, escaped
    assert page.count("<h2>") == 7 and '<span class="pass">PASS</span>' in page


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chromium-headless-shell", "headless_shell")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    try:  # a browser installed by playwright, if any
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            return p.chromium.executable_path
    except Exception:
        return None


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium; in CI (CI set) a missing browser fails the test instead of skipping it."""
    browser = _browser()
    if browser is None:
        why = "no Chromium found (.ci/run and `make browser` install Debian's chromium)"
        if _in_ci():
            pytest.fail(f"{why}; CI is set, so the report's rendering test must run")
        pytest.skip(why)
    return browser


def _headless(browser, page, tmp_path, *args):
    """Run ``browser`` headless on ``page`` with its log on stderr; returns (stdout, console lines)."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", *args, page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # console messages (console.*, uncaught exceptions, CSP violations) are logged as "...:CONSOLE(...)] ..."
    return proc.stdout, [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]


def test_headless_chromium_shows_a_pages_console_errors(chromium, tmp_path):
    """The console check below sees what a page logs (else it would pass whatever the page did)."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>console.error('logged-error'); notDefined();</script>")
    _, console = _headless(chromium, page, tmp_path, "--dump-dom")
    assert any("logged-error" in ln for ln in console) and any("Uncaught" in ln for ln in console), console


def test_report_renders_in_headless_chromium(chromium, report_dir, tmp_path):
    shot = tmp_path / "report.png"
    _, console = _headless(chromium, report_dir / "index.html", tmp_path, f"--screenshot={shot}",
                           "--window-size=1200,2000")
    assert not console, console  # the page has no scripts: any console message is an error
    assert shot.stat().st_size > 50_000
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)[..., :3]
    assert img.shape[:2] == (2000, 1200)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 1, "blank screenshot (one colour)"
    dark = (img.mean(axis=2) < 0.6).mean()  # text, table borders, figure lines
    colored = (img.std(axis=2) > 0.15).mean()  # PASS badges and figure curves
    assert 0.01 < dark < 0.6 and colored > 0.001, (dark, colored)


def test_a_stored_sweep_is_judged_by_the_registered_presets_current_checks():
    from depthlab.results import stored_preset

    p = get_preset("quick")
    old = json.loads(p.model_dump_json())
    del old["predictions"], old["threshold"]
    old["checks"] = []
    # same cells (same config hash): the registered preset's checks, threshold and predictions apply
    back = stored_preset(json.dumps({**old, "trials": 2}))
    assert back.predictions == p.predictions and back.threshold == p.threshold and back.checks == p.checks
    assert back.trials == 2
    # a different sweep (other cells) keeps its stored checks and predictions, and a sweep stored before
    # presets declared predictions takes them from the registered preset
    other = {**old, "d": 16}
    assert stored_preset(json.dumps(other)).checks == []
    assert stored_preset(json.dumps(other)).predictions == p.predictions
    assert stored_preset(json.dumps({**other, "predictions": {}})).predictions == {}
