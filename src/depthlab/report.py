"""``depthlab report``: one self-contained HTML page per stored sweep.

DIR/index.html holds everything inline (figures as base64 PNG, styles in a <style> block, no scripts, no
external files): the preset and its configuration, the paper checks with PASS/FAIL and their numbers, the
exponent table (measured kappa* and slope with bootstrap intervals vs the paper's prediction), the figures
(error vs kappa with IQR bands and predicted thresholds, overlaps vs kappa, n* vs d on log-log axes when the
sweep has several d), the aggregate table, the target's reference levels and the provenance of every run.
The figures are also written to DIR/figures/ as PNG and SVG.

The page comes from the jinja2 templates in depthlab/templates (report.html, macros.html, report.css) with
autoescaping on: this module computes text (numbers formatted, tables as rows of strings and badges) and the
templates hold all markup, so no stored or configured value (a preset name or description, a method name, a
check's message, a failed run's error) can add markup to the page.
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from depthlab import __version__
from depthlab.analysis import trials_at
from depthlab.checks import summarize
from depthlab.metrics import REGISTRY
from depthlab.results import SweepResults, fmt_kappa_ci

VERDICTS = ("agrees", "disagrees", "inconclusive", "information", "unmeasured")


@dataclass(frozen=True)
class Badge:
    """A styled label in a table cell (a check's status, a verdict): ``text`` in a span of class ``cls``."""

    text: str
    cls: str


Cell = str | Badge


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[Cell]]


@dataclass(frozen=True)
class Figure:
    """An embedded figure: the PNG's bytes as base64, its alt text and caption."""

    data: str
    alt: str
    caption: str


@functools.cache
def _env() -> jinja2.Environment:
    """The templates in depthlab/templates, autoescaped (.html): values are text, never markup."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("depthlab", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.tests["badge"] = lambda c: isinstance(c, Badge)
    env.tests["numeric"] = lambda c: not isinstance(c, Badge) and _looks_numeric(str(c))
    return env


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if math.isnan(x):
            return "-"
        if math.isinf(x):
            return "+inf" if x > 0 else "-inf"
        return f"{x:.{digits}g}"
    return str(x)


def _table(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Table:
    return Table(list(header), [list(r) for r in rows])


def _looks_numeric(c: str) -> bool:
    try:
        float(c)
        return True
    except ValueError:
        return False


def _img(path: Path, alt: str, caption: str) -> Figure:
    return Figure(base64.b64encode(path.read_bytes()).decode("ascii"), alt, caption)


def _figures(res: SweepResults, out: Path) -> list[Figure]:
    from depthlab.plots import plot_error, plot_n_star, plot_overlaps, plot_trajectories

    p = res.preset
    d_top = max(res.ds)
    predicted = {m: pr.kappa_at(d_top) for m, pr in p.predictions.items() if m in res.methods}
    exps = res.exponents
    th = p.threshold
    refs = res.typical_references  # per-instance targets: the median over the trials' own instances
    own = " (each the median over the trials' own target instances)" if res.instance_dependent else ""
    tau = th.at(refs.get(d_top, {})) if th.metric == "test_mse" else None
    stars = {m: pt.kappa for m, me in exps.items() if p.threshold_for(m) == th
             for pt in me.points if pt.d == d_top and not pt.censored}
    title = f"{p.name}: {p.description}"
    figs: list[Figure] = []
    err = plot_error(res.aggregates, out / "error_vs_kappa.png", title=title, roles=p.method_roles,
                     references=refs, theory=p.theory, predicted=predicted, threshold=tau, kappa_stars=stars)
    figs.append(_img(err[0], "test error vs kappa",
                     f"Test MSE vs kappa (median over {res.trials} trials, band: interquartile range) at d = "
                     f"{', '.join(map(str, res.ds))}. Dotted horizontal lines: reference levels"
                     f"{own} and the n* "
                     f"threshold ({th.describe()}); short vertical ticks on it: measured kappa* at d = {d_top}; "
                     "dashed vertical lines in a method's colour: its predicted kappa*; grey: the theory's named "
                     "thresholds."))
    other = {p.threshold_for(m) for m in res.methods} - {th}
    metric_tau = {t.metric: t.at(refs.get(d_top, {})) for t in other
                  if t.metric != "test_mse" and (t.relative_to is None or t.relative_to in refs[d_top])}
    ov = plot_overlaps(res.aggregates, out / "overlaps_vs_kappa.png", title=title, roles=p.method_roles,
                       theory=p.theory, thresholds=metric_tau)
    if ov:
        figs.append(_img(ov[0], "overlaps vs kappa",
                         "Overlaps / feature correlation vs kappa (median, band: IQR): M_W first layer with "
                         "span(W*), M_h second layer with h*, corr(phi, h*) the learned feature."))
    if res.curves:
        tr = plot_trajectories(res.curves, out / "trajectories.png", title=title)
        steps = sorted({len(c.steps) for c in res.curves})
        figs.append(_img(tr[0], "metrics along training",
                         f"Training dynamics at d = {max(c.d for c in res.curves)}: each recorded metric against "
                         f"the training step ({', '.join(map(str, steps))} recorded points per run, log-spaced; "
                         "symlog axis, 0 = initialisation), one curve per kappa (median over trials, band: IQR), "
                         "one row per method; dotted vertical lines: the start of a training stage. Losses of "
                         "layer-wise and 2-layer training at a step are those of the network with its readout "
                         "fitted at that step."))
    if len(res.ds) >= 2 and exps:
        ns = plot_n_star(exps, out / "n_star_vs_d.png", predictions=p.predictions, title=title,
                         roles=p.method_roles)
        figs.append(_img(ns[0], "n* vs d",
                         f"n* vs d on log-log axes: points with {res.level:.0%} bootstrap intervals (open markers "
                         "and arrows: censored at the grid's end), solid: least-squares fit with its slope, "
                         "dashed: the prediction's N(d) (scaled through the points; theorems fix no constant)."))
    return figs


def _verdict(v: str) -> Badge:
    return Badge(v, v.split()[0] if v else "none")


def _exponent_tables(res: SweepResults) -> tuple[Table, Table]:
    """The exponent table (one row per method and threshold) and the per-d table of kappa*."""
    rows: list[list[Cell]] = []
    for r in res.exponent_table():
        d = r["d"]
        cens = {"": "=", "above": ">", "below": "<="}[r["kappa_censored"]]
        kappa = f"{cens} {r['kappa']:.2f} " + fmt_kappa_ci(
            r["kappa_ci_lo"], r["kappa_ci_hi"], r["grid_kappa_min"], r["grid_kappa_max"])
        multi = len(r["ds"]) >= 2
        sign = {"exact": "=", "lower": ">=", "upper": "<=", "none": "?"}[r["slope_bound"]]
        if not multi:
            slope = "-"
        elif r["slope_bound"] == "none":
            slope = "not measured (censored)"
        else:
            slope = f"{sign} {r['slope']:.2f} [{_num(r['slope_ci_lo'], 3)}, {_num(r['slope_ci_hi'], 3)}]"
        has_pred = r["verdict"] != "no prediction"
        pred_k = f"{r['predicted_kappa']:.2f}" if has_pred else "-"
        pred_s = f"{r['predicted_slope']:.2f} (asympt. {r['exponent']:g})" if has_pred and multi else (
            f"asympt. {r['exponent']:g}" if has_pred else "-")
        rel = {"rate": "= ±", "upper": "<= +", "lower": ">= -"}.get(r["relation"], "")
        tol = f"{rel} {r['tolerance']:.2f} ({r['compared']})" if has_pred else "-"
        rows.append([str(r["method"]), str(r["threshold"]), f"{d}", kappa, pred_k, slope, pred_s, tol,
                     _verdict(r["verdict"]), f"{r['formula']} — {r['source']}" if has_pred else ""])
    main = _table(["method", "n* threshold", "d", f"κ* [{res.level:.0%} CI]", "predicted κ*",
                   f"slope of log n* vs log d [{res.level:.0%} CI]", "predicted slope", "tolerance (compared)",
                   "verdict", "prediction"], rows)
    per_d = _table(
        ["method", "d", "τ", "n*", "κ*", "censored", f"{res.level:.0%} CI", "grid n", "predicted κ*"],
        [[str(r["method"]), str(r["d"]), _num(r["tau"]), _num(r["n_star"], 5), f"{r['kappa']:.3f}",
          r["censored"] or "no", fmt_kappa_ci(r["ci_lo"], r["ci_hi"], r["grid_kappa_min"], r["grid_kappa_max"]),
          f"{r['n_min']}..{r['n_max']}",
          "-" if math.isnan(r["predicted_kappa"]) else f"{r['predicted_kappa']:.2f}"] for r in res.kappa_table()],
    )
    return main, per_d


def _checks_table(res: SweepResults) -> Table:
    rows: list[list[Cell]] = []
    for kind, r in res.check_results:
        cls = {"PASS": "pass", "FAIL": "fail", "INCONCLUSIVE": "undecided", "INFO": "info"}[str(r.status)]
        rows.append([str(r.name), str(kind), Badge(str(r.status), cls), str(r.detail)])
    return _table(["check", "kind", "result", "measured"], rows)


def _aggregate_table(res: SweepResults) -> Table:
    metrics = [m.name for m in REGISTRY.values()
               if m.table and any(f"{m.name}_median" in a.stats for a in res.aggregates)]
    rows: list[list[Cell]] = []
    for a in res.aggregates:
        cells: list[Cell] = [a.method, str(a.d), str(a.n), f"{a.kappa:.3f}", str(a.trials), str(a.diverged)]
        for m in metrics:
            med = a.stat(m)
            cells.append("-" if math.isnan(med) else
                         f"{med:.4g} [{a.stat(m, 'q25'):.4g}, {a.stat(m, 'q75'):.4g}]")
        rows.append(cells)
    return _table(["method", "d", "n", "κ", "trials", "diverged", *[f"{m} median [q25, q75]" for m in metrics]],
                  rows)


def _references_table(res: SweepResults) -> Table:
    """The target's reference levels at each d; where its law depends on the instance (the checks then judge each
    trial against its own instance's levels), the median and range over the sweep's trials' instances."""
    keys = sorted({k for ref in res.references.values() for k in ref})
    if not res.instance_dependent:
        return _table(["d", *keys], [[str(d), *[_num(ref.get(k)) for k in keys]] for d, ref in res.references.items()])
    rows = []
    for d in res.ds:
        own = [res._own_levels(d, t) for t in trials_at(res.rows, d)]
        cells = []
        for k in keys:
            v = [lv[k] for lv in own if k in lv]
            cells.append(f"{_num(statistics.median(v))} ({_num(min(v))}-{_num(max(v))} over {len(v)} instances)"
                         if v else "")
        rows.append([str(d), *cells])
    return _table(["d", *keys], rows)


def _provenance(res: SweepResults) -> dict[str, Any]:
    """The provenance section's parts: distinct values per key, the failed cells, one row per run."""
    keys = list(dict.fromkeys(k for r in res.runs for k in r["provenance"]))
    summary: list[list[Cell]] = []
    for k in keys:
        vals = sorted({json.dumps(r["provenance"].get(k)) if isinstance(r["provenance"].get(k), dict | list)
                       else str(r["provenance"].get(k, "-")) for r in res.runs})
        summary.append([k, ", ".join(vals[:6]) + (f" (+{len(vals) - 6} more)" if len(vals) > 6 else "")])
    rows: list[list[Cell]] = []
    for r in res.runs:
        prov = r["provenance"]
        rows.append([str(r["run_id"]), r["method"], str(r["d"]), str(r["n"]), str(r["trials_json"]), r["status"],
                     _num(r["wall_s"], 3), _num(r["compile_s"], 3), _num(r["run_s"], 3), r["created"] or "-",
                     *[_num(prov[k]) if k in prov and not isinstance(prov[k], dict | list)
                       else (json.dumps(prov[k]) if k in prov else "-") for k in keys],
                     r["message"] or ""])
    return {
        "provenance_summary": _table(["key", "values"], summary),
        "failed": [f"{f['method']} d={f['d']} n={f['n']}: {f['message']}" for f in res.failed],
        "runs": _table(["run", "method", "d", "n", "trials", "status", "wall s", "compile s", "run s", "created",
                        *keys, "message"], rows),
    }


def render(res: SweepResults, figures: Sequence[Figure]) -> str:
    """The report page for ``res`` with the given figures (templates/report.html; every value escaped)."""
    p = res.preset
    verdicts = [r["verdict"] for r in res.exponent_table() if r["verdict"] != "no prediction"]
    exponents, kappa_per_d = _exponent_tables(res)
    return _env().get_template("report.html").render(
        p=p,
        res=res,
        ds=", ".join(map(str, res.ds)),
        now=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        version=__version__,
        checks_summary=summarize([r for _, r in res.check_results]),
        exponent_summary=", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)
        or "no predictions",
        checks=_checks_table(res),
        exponents=exponents,
        kappa_per_d=kappa_per_d,
        tail=f"{(1 - res.level) / 2:.1%}",
        errors=list(res.errors.items()),
        figures=list(figures),
        aggregates=_aggregate_table(res),
        references=_references_table(res),
        config_json=json.dumps(json.loads(p.model_dump_json()), indent=1),
        **_provenance(res),
    )


def write_report(res: SweepResults, out_dir: str | Path) -> Path:
    """Write DIR/index.html (self-contained) and DIR/figures/*.png|svg; returns the page's path."""
    out = Path(out_dir)
    figs_dir = out / "figures"
    figs_dir.mkdir(parents=True, exist_ok=True)
    page = out / "index.html"
    page.write_text(render(res, _figures(res, figs_dir)), encoding="utf-8")
    return page
