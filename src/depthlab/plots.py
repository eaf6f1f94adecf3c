"""Figures in the style of Dandi et al. (2025) Fig. 2 and Fig. 7, and the sample-complexity scaling plot.

* ``plot_error``: test error vs kappa = log n / log d (median over trials with the interquartile band, one
  curve per method and d), reference levels as horizontal lines, the n* threshold, and vertical lines at the
  theory's thresholds (grey) and at each method's predicted kappa* (in the method's colour).
* ``plot_overlaps``: M_W, M_h and corr(phi, h*) vs kappa (whichever the sweep recorded).
* ``plot_n_star``: n*(d) on log-log axes with bootstrap intervals, the least-squares fit and the predicted
  slope (the prediction's finite-d form N(d), scaled through the measured points since theorems fix no constant).
* ``plot_sweep``: error and overlaps side by side (``depthlab plot``).

Style: the Okabe-Ito colour-blind-safe palette, one colour and marker per method (the same in every figure and
preset: by role, e.g. every 3-layer learner blue, every kernel orange), one line style per d. Every figure is
saved as PNG and as SVG (``save``).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from depthlab.analysis import AggregateRow  # noqa: E402
from depthlab.exponents import MethodExponent  # noqa: E402
from depthlab.metrics import REGISTRY  # noqa: E402
from depthlab.theory import Prediction  # noqa: E402

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
# A method's style comes from its declared role (``Preset.roles``, default by learner kind), never its name.
ROLE_STYLES: dict[str, tuple[str, str]] = {  # role -> (Okabe-Ito colour, marker)
    "three_layer": ("blue", "o"), "three_layer_joint": ("vermillion", "s"), "ablation": ("vermillion", "s"),
    "scaled_up": ("blue", "*"), "variant": ("yellow", "P"), "two_layer": ("bluish_green", "^"),
    "longer": ("bluish_green", "v"),
    "one_step": ("sky_blue", "v"), "kernel": ("orange", "D"), "kernel_alt": ("reddish_purple", "P"),
    "random_features": ("black", "X"),
}
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = ["-", "--", ":", "-."]
REFERENCE_STYLE = {
    "trivial": ("predict 0 (E f*^2)", "#7F7F7F"),
    "best_quadratic": ("best quadratic (kernel limit)", OKABE_ITO["orange"]),
    "best_degree_2": ("best degree-2 polynomial (quadratic-kernel limit)", OKABE_ITO["orange"]),
    "best_linear_h": ("best affine in h* (2-layer plateau)", OKABE_ITO["bluish_green"]),
    "best_constant": ("best constant (Var f*)", "#B3B3B3"),
}
KAPPA_LABEL = r"$\kappa = \log n / \log d$  ($n$ training samples, $d$ input dimension)"
ERROR_LABEL = "test MSE (median over trials; band: IQR), log scale"
OPTIONAL_METRICS = [(m.name, m.label) for m in REGISTRY.values() if m.panel]  # one panel each, when measured


def _tex(text: str) -> str:
    """A user's text (a method, preset or theory name, a title, a formula) as a matplotlib label shown literally:
    ``$`` would start mathtext (and an unknown macro in it fails the whole figure)."""
    return str(text).replace("$", r"\$")


def _wrap(title: str, width: int = 80) -> str:
    return textwrap.fill(_tex(title), width)


def method_colors(methods: Sequence[str], roles: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each method's colour: its role's Okabe-Ito colour, else the next colour no method of the figure uses."""
    styled = {m: OKABE_ITO[ROLE_STYLES[r][0]] for m, r in (roles or {}).items() if r in ROLE_STYLES}
    taken = {styled[m] for m in methods if m in styled}
    spare = iter([c for c in OKABE_ITO.values() if c not in taken] + ["#7F7F7F", "#B3B3B3"] * len(methods))
    return {m: styled.get(m) or next(spare) for m in methods}


def method_markers(methods: Sequence[str], roles: Mapping[str, str] | None = None) -> dict[str, str]:
    styled = {m: ROLE_STYLES[r][1] for m, r in (roles or {}).items() if r in ROLE_STYLES}
    taken = {styled[m] for m in methods if m in styled}
    spare = iter([mk for mk in MARKERS if mk not in taken] + MARKERS * len(methods))
    return {m: styled.get(m) or next(spare) for m in methods}


def supported_formats() -> tuple[str, ...]:
    """The figure file suffixes matplotlib can write (``.png``, ``.pdf``, ``.svg``, ...)."""
    from matplotlib.backend_bases import FigureCanvasBase

    return tuple(f".{ext}" for ext in sorted(FigureCanvasBase.get_supported_filetypes()))


def save(fig: Figure, path: str | Path, dpi: int = 120) -> list[Path]:
    """Write ``fig`` to ``path`` and as PNG and SVG beside it (``path`` with each suffix); returns the files
    written, ``path`` first."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    targets = [out] + [t for t in (out.with_suffix(".png"), out.with_suffix(".svg")) if t != out]
    for t in targets:
        fig.savefig(t, dpi=dpi)
    plt.close(fig)
    return targets


def _curves(ax: Axes, rows: Sequence[AggregateRow], metric: str, colors: Mapping[str, str],
            markers: Mapping[str, str]) -> None:
    methods = list(dict.fromkeys(r.method for r in rows))
    ds = sorted({r.d for r in rows})
    for m in methods:
        for di, d in enumerate(ds):
            sel = sorted((r for r in rows if r.method == m and r.d == d and f"{metric}_median" in r.stats),
                         key=lambda r: r.kappa)
            if not sel:
                continue
            k = [r.kappa for r in sel]
            ax.plot(k, [r.stat(metric) for r in sel], marker=markers[m], color=colors[m],
                    linestyle=LINESTYLES[(len(ds) - 1 - di) % len(LINESTYLES)], markersize=5,
                    label=_tex(m) + (f" d={d}" if len(ds) > 1 else ""))
            ax.fill_between(k, [r.stat(metric, "q25") for r in sel], [r.stat(metric, "q75") for r in sel],
                            color=colors[m], alpha=0.18, linewidth=0)


def _vlines(ax: Axes, theory: Mapping[str, float] | None, predicted: Mapping[str, float] | None,
            colors: Mapping[str, str], label: bool) -> None:
    for name, kappa in (theory or {}).items():
        ax.axvline(kappa, color="#7F7F7F", linestyle="--", linewidth=1)
        if label:
            ax.text(kappa, 1.0, f" {_tex(name)}", rotation=90, va="top", ha="right", fontsize=7, color="#595959",
                    transform=ax.get_xaxis_transform())
    for i, (m, kappa) in enumerate((predicted or {}).items()):
        if not math.isfinite(kappa):
            continue
        lo, hi = ax.get_xlim()
        if not lo <= kappa <= hi:
            continue
        ax.axvline(kappa, color=colors.get(m, "#7F7F7F"), linestyle=(i % 3, (4, 3)), linewidth=1.4,
                   label=f"predicted $\\kappa^*$ {_tex(m)}: {kappa:.2f}" if label else None)


def _error_panel(ax: Axes, rows: Sequence[AggregateRow], colors: Mapping[str, str], markers: Mapping[str, str],
                 references: Mapping[int, Mapping[str, float]] | None, theory: Mapping[str, float] | None,
                 predicted: Mapping[str, float] | None, threshold: float | None,
                 kappa_stars: Mapping[str, float] | None) -> None:
    _curves(ax, rows, "test_mse", colors, markers)
    ds = sorted({r.d for r in rows})
    if references:
        ref = references.get(max(ds), {})
        for key, (text, color) in REFERENCE_STYLE.items():
            if key in ref:
                ax.axhline(ref[key], color=color, linestyle=":", linewidth=1.2, label=f"{text}: {ref[key]:.3f}")
    if threshold is not None and math.isfinite(threshold):
        ax.axhline(threshold, color="#000000", linestyle=(0, (1, 3)), linewidth=1,
                   label=f"n* threshold: {threshold:.3g}")
        for m, k in (kappa_stars or {}).items():  # measured crossings inside the grid
            if math.isfinite(k):
                ax.plot([k], [threshold], marker="|", markersize=14, color=colors.get(m, "#7F7F7F"),
                        markeredgewidth=2)
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    if lo < hi * 1e-4:  # an interpolating kernel reaches ~1e-10: keep the learning range readable
        ax.set_ylim(bottom=hi * 1e-4)
        ax.text(0.99, 0.01, "axis cut at 1e-4 x top: lower values are clipped", transform=ax.transAxes,
                ha="right", va="bottom", fontsize=7, color="#595959")
    _vlines(ax, theory, predicted, colors, label=True)
    ax.set_xlabel(KAPPA_LABEL)
    ax.set_ylabel(ERROR_LABEL)
    ax.grid(alpha=0.3)
    if ax.has_data():
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def _present_metrics(rows: Sequence[AggregateRow]) -> list[tuple[str, str]]:
    return [(m, label) for m, label in OPTIONAL_METRICS if any(f"{m}_median" in r.stats for r in rows)]


def _overlap_panel(ax: Axes, rows: Sequence[AggregateRow], metric: str, label: str, colors: Mapping[str, str],
                   markers: Mapping[str, str], theory: Mapping[str, float] | None,
                   threshold: float | None = None) -> None:
    _curves(ax, rows, metric, colors, markers)
    if threshold is not None:
        ax.axhline(threshold, color="#000000", linestyle=(0, (1, 3)), linewidth=1,
                   label=f"n* threshold: {threshold:.3g}")
    _vlines(ax, theory, None, colors, label=False)
    ax.set_xlabel(KAPPA_LABEL)
    ax.set_ylabel(label + "\n(median over trials; band: IQR)", fontsize=9)
    ax.grid(alpha=0.3)
    if ax.has_data():
        ax.legend(fontsize=7)


def plot_error(
    rows: Sequence[AggregateRow],
    path: str | Path,
    title: str = "",
    references: Mapping[int, Mapping[str, float]] | None = None,
    theory: Mapping[str, float] | None = None,
    predicted: Mapping[str, float] | None = None,
    threshold: float | None = None,
    kappa_stars: Mapping[str, float] | None = None,
    roles: Mapping[str, str] | None = None,
) -> list[Path]:
    """Test MSE vs kappa; ``predicted``: method -> predicted kappa* (vertical lines in the method's colour);
    ``threshold`` and ``kappa_stars``: the n* threshold line and each method's measured crossing on it;
    ``roles``: method -> role (``Preset.method_roles``), which sets its colour and marker."""
    methods = list(dict.fromkeys(r.method for r in rows))
    fig, ax = plt.subplots(figsize=(10.5, 5.4))
    _error_panel(ax, rows, method_colors(methods, roles), method_markers(methods, roles), references, theory,
                 predicted,
                 threshold, kappa_stars)
    ax.set_title(_wrap(title), fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def plot_overlaps(rows: Sequence[AggregateRow], path: str | Path, title: str = "",
                  theory: Mapping[str, float] | None = None,
                  thresholds: Mapping[str, float] | None = None,
                  roles: Mapping[str, str] | None = None) -> list[Path]:
    """One panel per recorded overlap / feature metric vs kappa (``thresholds``: metric -> an n* threshold
    drawn on its panel); nothing is written when there is none."""
    present = _present_metrics(rows)
    if not present:
        return []
    methods = list(dict.fromkeys(r.method for r in rows))
    colors, markers = method_colors(methods, roles), method_markers(methods, roles)
    fig, axes = plt.subplots(1, len(present), figsize=(5.3 * len(present), 4.6), squeeze=False)
    for ax, (metric, label) in zip(axes[0], present, strict=True):
        _overlap_panel(ax, rows, metric, label, colors, markers, theory, (thresholds or {}).get(metric))
    fig.suptitle(_wrap(title, 60 * len(present)), fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def plot_n_star(
    exponents: Mapping[str, MethodExponent],
    path: str | Path,
    predictions: Mapping[str, Prediction] | None = None,
    title: str = "",
    roles: Mapping[str, str] | None = None,
) -> list[Path]:
    """n*(d) per method on log-log axes: points with bootstrap intervals (open markers and arrows where
    censored), the fitted slope (solid) and the predicted one (dashed)."""
    methods = list(exponents)
    colors, markers = method_colors(methods, roles), method_markers(methods, roles)
    fig, ax = plt.subplots(figsize=(11, 5.4))
    all_ds: list[int] = []
    for m, me in exponents.items():
        c = colors[m]
        ds = np.array(me.ds, dtype=float)
        all_ds += me.ds
        for p in me.points:
            filled = p.censored == ""
            ax.plot([p.d], [p.n_star], marker=markers[m], color=c, markerfacecolor=c if filled else "white",
                    markersize=7, linestyle="none")
            lo = p.d**p.ci_lo if math.isfinite(p.ci_lo) else p.n_star
            hi = p.d**p.ci_hi if math.isfinite(p.ci_hi) else p.n_star
            ax.plot([p.d, p.d], [lo, hi], color=c, linewidth=1, alpha=0.7)
            if p.censored:
                ax.annotate("", xy=(p.d, p.n_star * (2.0 if p.censored == "above" else 0.5)),
                            xytext=(p.d, p.n_star), arrowprops={"arrowstyle": "->", "color": c})
        fit = me.fit
        exact = [p for p in me.points if not p.censored]
        if len(ds) >= 2 and fit.bound != "none" and math.isfinite(fit.slope):
            xs = np.geomspace(ds.min(), ds.max(), 20)
            sign = {"exact": "=", "lower": ">=", "upper": "<="}[fit.bound]
            lo, hi = me.slope_ci
            ax.plot(xs, np.exp(fit.intercept) * xs**fit.slope, color=c, linewidth=1.6,
                    label=f"{_tex(m)}: slope {sign} {fit.slope:.2f} [{lo:.2f}, {hi:.2f}]")
        elif not exact:
            ax.plot([], [], color=c, marker=markers[m], markerfacecolor="white", linestyle="none",
                    label=f"{_tex(m)}: threshold not crossed inside the grid (censored)")
        elif len(ds) == 1:
            ax.plot([], [], color=c, marker=markers[m], label=f"{_tex(m)}: kappa* = {me.points[0].kappa:.2f}")
        pred = (predictions or {}).get(m)
        if pred is not None and exact:
            xs = np.geomspace(ds.min(), ds.max() if len(ds) > 1 else ds.min() * 2, 20)
            curve = np.array([pred.n_star(x) for x in xs])
            anchor = np.exp(np.mean(np.log([p.n_star for p in exact])))
            at = np.exp(np.mean(np.log([pred.n_star(p.d) for p in exact])))
            ax.plot(xs, curve * anchor / at, color=c, linestyle="--", linewidth=1.2,
                    label=f"{_tex(m)}: predicted slope {pred.slope_over(me.ds):.2f} "
                          f"({_tex(pred.formula or pred.describe())})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if all_ds:
        uniq = sorted(set(all_ds))
        ax.set_xticks(uniq)
        ax.set_xticklabels([str(d) for d in uniq])
        ax.minorticks_off()
    ax.set_xlabel("d (input dimension, log scale)")
    ax.set_ylabel("n* (training samples to cross the threshold, log scale)")
    ax.grid(alpha=0.3, which="both")
    if ax.has_data():
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.set_title(_wrap(title), fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def plot_sweep(
    rows: list[AggregateRow],
    path: str | Path,
    title: str = "",
    references: dict[int, dict[str, float]] | None = None,
    theory: dict[str, float] | None = None,
    roles: Mapping[str, str] | None = None,
    **error_kw: Any,
) -> Path:
    """Write a figure to ``path`` (and its PNG/SVG twin): test MSE vs kappa, and each overlap / feature metric
    the rows have; ``error_kw`` goes to the error panel (``predicted``, ``threshold``, ``kappa_stars``)."""
    methods = list(dict.fromkeys(r.method for r in rows))
    colors, markers = method_colors(methods, roles), method_markers(methods, roles)
    present = _present_metrics(rows)
    fig, axes = plt.subplots(1, 1 + len(present), figsize=(5.6 * (1 + len(present)), 4.9), squeeze=False)
    _error_panel(axes[0][0], rows, colors, markers, references, theory, error_kw.get("predicted"),
                 error_kw.get("threshold"), error_kw.get("kappa_stars"))
    for ax, (metric, label) in zip(axes[0][1:], present, strict=True):
        _overlap_panel(ax, rows, metric, label, colors, markers, theory)
    fig.suptitle(_tex(title), fontsize=10)
    fig.tight_layout()
    return save(fig, path)[0]


TRAJECTORY_ORDER = ("test_mse", "train_mse", "overlap_w", "overlap_h", "feature_corr", "pred_corr", "class_error")
STEP_LABEL = "training step (minibatch updates; 0 = initialisation), symlog scale"


def _trajectory_metrics(curves: Sequence[Any]) -> list[str]:
    present = list(dict.fromkeys(c.metric for c in curves))
    base = [m for m in TRAJECTORY_ORDER if m in present]
    return base + sorted(m for m in present if m not in base)  # per-branch overlaps (overlap_w_b0, ...) last


def plot_trajectories(curves: Sequence[Any], path: str | Path, title: str = "", d: int | None = None,
                      metrics: Sequence[str] | None = None) -> list[Path]:
    """Training dynamics (``trajectories.Curve``): one row of panels per method, one panel per metric, each
    metric against the training step (symlog x axis, so the initialisation is shown at 0) for every kappa of
    the grid at dimension ``d`` (default: the largest), median over trials with the IQR band; dotted vertical
    lines where a training stage starts (layer-wise: layer 2 after layer 1). Losses on a log y axis."""
    if not curves:
        raise ValueError("no trajectories to plot (record them with --set record.steps=40)")
    d = max(c.d for c in curves) if d is None else d
    sel = [c for c in curves if c.d == d]
    methods = list(dict.fromkeys(c.method for c in sel))
    names = [m for m in _trajectory_metrics(sel) if metrics is None or m in metrics]
    kappas = sorted({c.kappa for c in sel})
    cmap = plt.get_cmap("viridis")
    color = {k: cmap(0.9 * i / max(len(kappas) - 1, 1)) for i, k in enumerate(kappas)}
    fig, axes = plt.subplots(len(methods), len(names), figsize=(4.2 * len(names), 3.3 * len(methods)),
                             squeeze=False)
    for row, m in zip(axes, methods, strict=True):
        for ax, metric in zip(row, names, strict=True):
            marked: set[int] = set()
            for c in sorted((c for c in sel if c.method == m and c.metric == metric), key=lambda c: c.kappa):
                ax.plot(c.steps, c.median, color=color[c.kappa], linewidth=1.4, marker=".", markersize=3,
                        label=f"$\\kappa$={c.kappa:.2f} (n={c.n})")
                ax.fill_between(c.steps, c.q25, c.q75, color=color[c.kappa], alpha=0.18, linewidth=0)
                for step, stage in c.boundaries():
                    if step not in marked:
                        marked.add(step)
                        ax.axvline(step, color="#7F7F7F", linestyle=":", linewidth=1)
                        ax.text(step, 0.98, f" {_tex(stage)}", rotation=90, va="top", ha="left", fontsize=6,
                                color="#595959", transform=ax.get_xaxis_transform())
            if not ax.has_data():  # a metric this learner does not have (a 2-layer net has no M_h)
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"{_tex(m)}: {metric} not measured", ha="center", va="center", fontsize=8,
                        color="#595959", transform=ax.transAxes)
                continue
            ax.set_xscale("symlog", linthresh=1.0)
            if metric.endswith("_mse"):
                ax.set_yscale("log")
            base = REGISTRY.get(metric)
            label = base.label if base is not None else metric
            ax.set_title(f"{_tex(m)}: {label}", fontsize=8)
            ax.set_xlabel(STEP_LABEL, fontsize=7)
            ax.grid(alpha=0.3)
            if ax.has_data() and metric == names[0]:
                ax.legend(fontsize=6)
    fig.suptitle(_wrap(f"{title} (d={d}; median over trials, band: IQR)", 120), fontsize=10)
    fig.tight_layout()
    return save(fig, path)
