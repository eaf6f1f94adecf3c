"""Figures in the style of Dandi et al. (2025) Fig. 2 and Fig. 7: test error vs kappa (median with IQR band,
one curve per method, reference levels as horizontal lines, theory thresholds as vertical lines) and the
overlaps M_W, M_h vs kappa."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from depthlab.analysis import AggregateRow  # noqa: E402

COLORS = {"layerwise": "tab:blue", "joint": "tab:red", "two_layer": "tab:green", "kernel": "tab:orange"}
_USED = {"C0", "C1", "C2", "C3"}  # tab:blue, tab:orange, tab:green, tab:red
MARKERS = ["o", "s", "^", "D", "v", "P"]
REFERENCE_STYLE = {
    "trivial": ("predict 0", "black"),
    "best_quadratic": ("best quadratic (kernel limit)", "tab:orange"),
    "best_linear_h": ("best affine in h* (2-layer plateau)", "tab:green"),
    "best_constant": ("best constant (Var f*)", "gray"),
}


def plot_sweep(
    rows: list[AggregateRow],
    path: str | Path,
    title: str = "",
    references: dict[int, dict[str, float]] | None = None,
    theory: dict[str, float] | None = None,
) -> Path:
    """Write a figure to ``path``: test MSE vs kappa, and each overlap / feature metric the rows have."""
    methods = list(dict.fromkeys(r.method for r in rows))
    ds = sorted({r.d for r in rows})
    optional = [
        ("overlap_w", "$M_W$ (first layer)"),
        ("overlap_h", "$M_h$ (second layer)"),
        ("feature_corr", r"corr($\varphi$, $h^*$) (learned feature)"),
        ("class_error", "classification error (threshold 1/2)"),
    ]
    present = [(m, label, False) for m, label in optional if any(f"{m}_median" in r.stats for r in rows)]
    panels = [("test_mse", "test MSE", True), *present]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.3 * len(panels), 4.8), squeeze=False)
    spare = iter(c for c in (f"C{i}" for i in range(10)) if c not in _USED)
    colors = {m: COLORS.get(m) or next(spare, "gray") for m in methods}
    for ax, (metric, label, logy) in zip(axes[0], panels, strict=True):
        for m in methods:
            color = colors[m]
            for di, d in enumerate(ds):
                sel = sorted(
                    (r for r in rows if r.method == m and r.d == d and f"{metric}_median" in r.stats),
                    key=lambda r: r.kappa,
                )
                if not sel:
                    continue
                k = [r.kappa for r in sel]
                ax.plot(
                    k,
                    [r.stat(metric) for r in sel],
                    marker=MARKERS[di % len(MARKERS)],
                    color=color,
                    label=f"{m}" + (f" d={d}" if len(ds) > 1 else ""),
                )
                ax.fill_between(
                    k,
                    [r.stat(metric, "q25") for r in sel],
                    [r.stat(metric, "q75") for r in sel],
                    color=color,
                    alpha=0.2,
                    linewidth=0,
                )
        for name, kappa in (theory or {}).items():
            ax.axvline(kappa, color="gray", linestyle="--", linewidth=1)
            if metric == "test_mse":
                ax.text(
                    kappa,
                    1.0,
                    f" {name}",
                    rotation=90,
                    va="top",
                    ha="right",
                    fontsize=7,
                    color="gray",
                    transform=ax.get_xaxis_transform(),
                )
        if metric == "test_mse" and references:
            ref = references[max(ds)]
            for key, (text, color) in REFERENCE_STYLE.items():
                if key in ref:
                    ax.axhline(
                        ref[key], color=color, linestyle=":", linewidth=1.2, label=f"{text}: {ref[key]:.3f}"
                    )
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(r"$\kappa = \log n / \log d$")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
