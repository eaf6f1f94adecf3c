"""``depthlab report``: one self-contained HTML page per stored sweep.

DIR/index.html holds everything inline (figures as base64 PNG, styles in a <style> block, no scripts, no
external files): the preset and its configuration, the paper checks with PASS/FAIL and their numbers, the
exponent table (measured kappa* and slope with bootstrap intervals vs the paper's prediction), the figures
(error vs kappa with IQR bands and predicted thresholds, overlaps vs kappa, n* vs d on log-log axes when the
sweep has several d), the aggregate table, the target's reference levels and the provenance of every run.
The figures are also written to DIR/figures/ as PNG and SVG.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from depthlab import __version__
from depthlab.checks import summarize
from depthlab.results import SweepResults, fmt_kappa_ci

VERDICTS = ("agrees", "disagrees", "inconclusive", "information", "unmeasured")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;max-width:1180px;
color:#1a1a1a;line-height:1.45;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}th,td{border:1px solid #d0d0d0;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#f2f2f2}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{background:#009E73;color:#fff;font-weight:600;padding:1px 6px;border-radius:3px}
.fail{background:#D55E00;color:#fff;font-weight:600;padding:1px 6px;border-radius:3px}
.undecided{background:#E69F00;color:#000;font-weight:600;padding:1px 6px;border-radius:3px}
.info{background:#999;color:#fff;font-weight:600;padding:1px 6px;border-radius:3px}
.agrees{color:#006d50;font-weight:600}.inconclusive{color:#9a6700;font-weight:600}
.disagrees{color:#b34700;font-weight:600}.unmeasured,.none{color:#666}
.meta{color:#444;font-size:.9em}figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.85em;color:#333}pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.8em}
.scroll{overflow-x:auto}
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


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


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then the caller escaped them)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for r in rows:
        cells = []
        for c in r:
            text = c if raw else _e(c)
            cls = ' class="num"' if _looks_numeric(c) else ""
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _looks_numeric(c: str) -> bool:
    try:
        float(c)
        return True
    except ValueError:
        return False


def _img(path: Path, alt: str, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _figures(res: SweepResults, out: Path) -> list[str]:
    from depthlab.plots import plot_error, plot_n_star, plot_overlaps

    p = res.preset
    d_top = max(res.ds)
    predicted = {m: pr.kappa_at(d_top) for m, pr in p.predictions.items() if m in res.methods}
    exps = res.exponents
    th = p.threshold
    tau = th.at(res.references.get(d_top, {})) if th.metric == "test_mse" else None
    stars = {m: pt.kappa for m, me in exps.items() if p.threshold_for(m) == th
             for pt in me.points if pt.d == d_top and not pt.censored}
    title = f"{p.name}: {p.description}"
    figs = []
    err = plot_error(res.aggregates, out / "error_vs_kappa.png", title=title, references=res.references,
                     theory=p.theory, predicted=predicted, threshold=tau, kappa_stars=stars)
    figs.append(_img(err[0], "test error vs kappa",
                     f"Test MSE vs kappa (median over {res.trials} trials, band: interquartile range) at d = "
                     f"{', '.join(map(str, res.ds))}. Dotted horizontal lines: reference levels and the n* "
                     f"threshold ({th.describe()}); short vertical ticks on it: measured kappa* at d = {d_top}; "
                     "dashed vertical lines in a method's colour: its predicted kappa*; grey: the theory's named "
                     "thresholds."))
    other = {p.threshold_for(m) for m in res.methods} - {th}
    metric_tau = {t.metric: t.at(res.references.get(d_top, {})) for t in other
                  if t.metric != "test_mse" and (t.relative_to is None or t.relative_to in res.references[d_top])}
    ov = plot_overlaps(res.aggregates, out / "overlaps_vs_kappa.png", title=title, theory=p.theory,
                       thresholds=metric_tau)
    if ov:
        figs.append(_img(ov[0], "overlaps vs kappa",
                         "Overlaps / feature correlation vs kappa (median, band: IQR): M_W first layer with "
                         "span(W*), M_h second layer with h*, corr(phi, h*) the learned feature."))
    if len(res.ds) >= 2 and exps:
        ns = plot_n_star(exps, out / "n_star_vs_d.png", predictions=p.predictions, title=title)
        figs.append(_img(ns[0], "n* vs d",
                         f"n* vs d on log-log axes: points with {res.level:.0%} bootstrap intervals (open markers "
                         "and arrows: censored at the grid's end), solid: least-squares fit with its slope, "
                         "dashed: the prediction's N(d) (scaled through the points; theorems fix no constant)."))
    return figs


def _verdict(v: str) -> str:
    cls = v.split()[0] if v else "none"
    return f'<span class="{_e(cls)}">{_e(v)}</span>'


def _exponent_section(res: SweepResults) -> str:
    rows = []
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
        rows.append([_e(r["method"]), _e(r["threshold"]), _e(f"{d}"), _e(kappa), _e(pred_k), _e(slope),
                     _e(pred_s), _e(tol), _verdict(r["verdict"]),
                     _e(f"{r['formula']} — {r['source']}" if has_pred else "")])
    main = _table(["method", "n* threshold", "d", f"κ* [{res.level:.0%} CI]", "predicted κ*",
                   f"slope of log n* vs log d [{res.level:.0%} CI]", "predicted slope", "tolerance (compared)",
                   "verdict", "prediction"], rows, raw=True)
    per_d = _table(
        ["method", "d", "τ", "n*", "κ*", "censored", f"{res.level:.0%} CI", "grid n", "predicted κ*"],
        [[r["method"], str(r["d"]), _num(r["tau"]), _num(r["n_star"], 5), f"{r['kappa']:.3f}",
          r["censored"] or "no", fmt_kappa_ci(r["ci_lo"], r["ci_hi"], r["grid_kappa_min"], r["grid_kappa_max"]),
          f"{r['n_min']}..{r['n_max']}",
          "-" if math.isnan(r["predicted_kappa"]) else f"{r['predicted_kappa']:.2f}"] for r in res.kappa_table()],
    )
    errors = "".join(f"<p>{_e(m)}: not measured ({_e(why)})</p>" for m, why in res.errors.items())
    how = (
        "<p>n* is the first n at which the median over trials crosses the threshold, interpolated linearly in "
        "(log n, median) between grid points; κ* = log n* / log d. Censored: already crossed at the smallest n "
        "(κ* ≤ κ_min) or never crossed (κ* &gt; κ_max). The slope is the least-squares fit of log n* on log d. "
        f"Intervals: percentile bootstrap over trials (resampled within each cell, {res.n_boot} replicates, "
        f"seed {res.seed}); an infinite end means more than {(1 - res.level) / 2:.1%} of the replicates were "
        "censored on that side. Verdicts come from the interval (a censored side is open): <b>agrees</b> (inside "
        "the band: prediction ± tolerance, the tolerance with its reason in the check), <b>disagrees</b> "
        "(outside it), <b>inconclusive</b> (straddles an edge or wider than the band), <b>information</b> "
        "(fewer than 3 values of d: no verdict). The predicted κ* at one d is "
        "log N(d) / log d and the predicted slope the fit of log N(d) over the sweep's d, with N(d) the "
        "prediction's finite-d form (d^s unless the paper gives more terms); 'asympt.' is s.</p>"
    )
    return main + how + errors + "<h3>κ* per d</h3>" + per_d


def _checks_section(res: SweepResults) -> str:
    rows = []
    for kind, r in res.check_results:
        cls = {"PASS": "pass", "FAIL": "fail", "INCONCLUSIVE": "undecided", "INFO": "info"}[str(r.status)]
        badge = f'<span class="{cls}">{_e(str(r.status))}</span>'
        rows.append([_e(r.name), _e(kind), badge, _e(r.detail)])
    head = (f"<p>{_e(summarize([r for _, r in res.check_results]))}. INCONCLUSIVE: the data cannot decide (an "
            "interval straddles the band, or nothing was measured), not a pass; INFO: reported, not judged "
            "(an exponent over fewer than 3 values of d).</p>")
    return head + _table(["check", "kind", "result", "measured"], rows, raw=True)


def _aggregate_section(res: SweepResults) -> str:
    metrics = [m for m in ("test_mse", "train_mse", "overlap_w", "overlap_h", "feature_corr")
               if any(f"{m}_median" in a.stats for a in res.aggregates)]
    rows = []
    for a in res.aggregates:
        cells = [a.method, str(a.d), str(a.n), f"{a.kappa:.3f}", str(a.trials), str(a.diverged)]
        for m in metrics:
            med = a.stat(m)
            cells.append("-" if math.isnan(med) else
                         f"{med:.4g} [{a.stat(m, 'q25'):.4g}, {a.stat(m, 'q75'):.4g}]")
        rows.append(cells)
    return _table(["method", "d", "n", "κ", "trials", "diverged", *[f"{m} median [q25, q75]" for m in metrics]],
                  rows)


def _references_section(res: SweepResults) -> str:
    keys = sorted({k for ref in res.references.values() for k in ref})
    return _table(["d", *keys], [[str(d), *[_num(ref.get(k)) for k in keys]] for d, ref in res.references.items()])


def _provenance_section(res: SweepResults) -> str:
    keys = list(dict.fromkeys(k for r in res.runs for k in r["provenance"]))
    summary = []
    for k in keys:
        vals = sorted({json.dumps(r["provenance"].get(k)) if isinstance(r["provenance"].get(k), dict | list)
                       else str(r["provenance"].get(k, "-")) for r in res.runs})
        summary.append([k, ", ".join(vals[:6]) + (f" (+{len(vals) - 6} more)" if len(vals) > 6 else "")])
    rows = []
    for r in res.runs:
        prov = r["provenance"]
        rows.append([str(r["run_id"]), r["method"], str(r["d"]), str(r["n"]), str(r["trials_json"]), r["status"],
                     _num(r["wall_s"], 3), _num(r["compile_s"], 3), _num(r["run_s"], 3), r["created"] or "-",
                     *[_num(prov[k]) if k in prov and not isinstance(prov[k], dict | list)
                       else (json.dumps(prov[k]) if k in prov else "-") for k in keys],
                     r["message"] or ""])
    failed = ""
    if res.failed:
        failed = "<p><b>Cells whose latest run failed:</b> " + ", ".join(
            _e(f"{f['method']} d={f['d']} n={f['n']}: {f['message']}") for f in res.failed) + "</p>"
    return (
        "<p>Distinct values over all runs:</p>" + _table(["key", "values"], summary) + failed
        + "<details><summary>every run</summary>"
        + _table(["run", "method", "d", "n", "trials", "status", "wall s", "compile s", "run s", "created", *keys,
                  "message"], rows)
        + "</details>"
    )


def render(res: SweepResults, figures: Sequence[str]) -> str:
    """The report page for ``res`` with the given figure blocks (``_img`` output)."""
    p = res.preset
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    verdicts = [r["verdict"] for r in res.exponent_table() if r["verdict"] != "no prediction"]
    meta = (
        f"paper <b>{_e(p.paper)}</b> · d = {_e(', '.join(map(str, res.ds)))} · κ ∈ [{p.kappa_min:g}, "
        f"{p.kappa_max:g}] ({p.num_kappa} points) · {res.trials} trials · "
        f"{res.finished_cells}/{res.expected_cells} cells with results · store <code>{_e(res.store_path)}</code> "
        f"(sweep {res.sweep_id}, created {_e(res.created)}) · generated {now} by depthlab {_e(__version__)}"
    )
    summary = (
        f"<p><b>Paper checks:</b> {_e(summarize([r for _, r in res.check_results]))}. "
        "<b>Exponents:</b> " + (", ".join(f"{verdicts.count(v)} {v}" for v in VERDICTS if v in verdicts)
                                or "no predictions") + ".</p>"
    )
    sections = [
        ("Paper checks", _checks_section(res)),
        ("Sample-complexity exponents: measured vs predicted", _exponent_section(res)),
        ("Figures", "".join(figures)),
        ("Aggregates (per method × d × n)", _aggregate_section(res)),
        ("Reference levels of the target", _references_section(res)),
        ("Configuration", f"<details><summary>resolved preset (JSON)</summary><pre>"
                          f"{_e(json.dumps(json.loads(p.model_dump_json()), indent=1))}</pre></details>"),
        ("Provenance", _provenance_section(res)),
    ]
    body = "".join(f"<h2>{_e(t)}</h2>{s}" for t, s in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>depthlab report: {_e(p.name)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(p.name)}</h1><p>{_e(p.description)}</p><p class=\"meta\">{meta}</p>{summary}{body}"
        "</body></html>\n"
    )


def write_report(res: SweepResults, out_dir: str | Path) -> Path:
    """Write DIR/index.html (self-contained) and DIR/figures/*.png|svg; returns the page's path."""
    out = Path(out_dir)
    figs_dir = out / "figures"
    figs_dir.mkdir(parents=True, exist_ok=True)
    page = out / "index.html"
    page.write_text(render(res, _figures(res, figs_dir)), encoding="utf-8")
    return page
