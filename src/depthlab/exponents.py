r"""Sample-complexity exponents measured from a sweep.

Threshold crossing: for a method at dimension d with medians m(n_1) , ..., m(n_K) on the sweep's grid,
    n*(d) = first n at which m(n) crosses the threshold tau (falls below it for ``op="<"``, rises above it for
    ``op=">"``), interpolated linearly in (log n, m) between the last grid point before and the first after;
censored below (tau already crossed at n_1: n* <= n_1) or above (never crossed: n* > n_K).

Exponent: the least-squares slope s of  log n*(d) = s log d + c  over the d of the sweep (the papers' claims
n* ~ d^s: Damian et al. 2022 s = 2 for a two-layer net after one step vs s = p for kernels; Dandi et al. 2025
kappa thresholds). Censored points enter at their bound: with n* > n_K at the largest d's the fitted slope is
a lower bound, with n* <= n_1 at the smallest d's an upper bound (``ExponentFit.bound``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from depthlab.analysis import AggregateRow

Censor = Literal["", "below", "above"]
Op = Literal["<", ">"]


@dataclass(frozen=True)
class Crossing:
    method: str
    d: int
    n_star: float  # interpolated n*, or the grid end it is censored at
    censored: Censor = ""
    threshold: float = math.nan


@dataclass(frozen=True)
class ExponentFit:
    method: str
    slope: float
    intercept: float
    points: tuple[Crossing, ...]
    bound: Literal["exact", "lower", "upper", "none"]  # "none": censored both ways, or fewer than 2 points

    def describe(self) -> str:
        sign = {"exact": "=", "lower": ">=", "upper": "<=", "none": "?"}[self.bound]
        pts = ", ".join(
            f"d={c.d}: n*{'>' if c.censored == 'above' else '<=' if c.censored == 'below' else '='}{c.n_star:.0f}"
            for c in self.points
        )
        return f"{self.method} slope {sign} {self.slope:.2f} ({pts})"


def crossing(ns: Iterable[float], values: Iterable[float], threshold: float, op: Op = "<") -> tuple[float, Censor]:
    """(n*, censoring) of the first crossing of ``threshold`` (module docstring); NaN values are skipped."""
    pts = [(float(n), float(v)) for n, v in zip(ns, values, strict=True) if math.isfinite(v)]
    if not pts:
        raise ValueError("no finite values to locate a crossing")
    pts.sort()

    def hit(v: float) -> bool:
        return v < threshold if op == "<" else v > threshold

    if hit(pts[0][1]):
        return pts[0][0], "below"
    for (n0, v0), (n1, v1) in zip(pts, pts[1:], strict=False):
        if hit(v1):
            t = (threshold - v0) / (v1 - v0) if v1 != v0 else 1.0
            return float(math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0)))), ""
    return pts[-1][0], "above"


def n_stars(
    rows: Iterable[AggregateRow],
    method: str,
    threshold: float | Mapping[int, float],
    metric: str = "test_mse",
    op: Op = "<",
) -> list[Crossing]:
    """n*(d) of ``method`` for every d in ``rows`` (median over trials); ``threshold`` may depend on d."""
    by_d: dict[int, list[AggregateRow]] = {}
    for r in rows:
        if r.method == method:
            by_d.setdefault(r.d, []).append(r)
    out = []
    for d, rs in sorted(by_d.items()):
        tau = threshold[d] if isinstance(threshold, Mapping) else threshold
        try:
            n, cens = crossing([r.n for r in rs], [r.stat(metric) for r in rs], tau, op)
        except ValueError:
            continue
        out.append(Crossing(method, d, n, cens, tau))
    return out


def fit_exponent(points: Iterable[Crossing]) -> ExponentFit:
    """Least-squares slope of log n* against log d (module docstring for censored points)."""
    pts = tuple(points)
    if len(pts) < 2:
        return ExponentFit(pts[0].method if pts else "", math.nan, math.nan, pts, "none")
    logd = np.log([c.d for c in pts])
    logn = np.log([c.n_star for c in pts])
    slope, intercept = np.polyfit(logd, logn, 1)
    cens = {c.censored for c in pts} - {""}
    bound: Literal["exact", "lower", "upper", "none"] = "exact"
    if cens == {"above"}:
        bound = "lower" if _censored_at_end(pts, "above") else "none"
    elif cens == {"below"}:
        bound = "upper" if _censored_at_start(pts, "below") else "none"
    elif cens:
        bound = "none"
    return ExponentFit(pts[0].method, float(slope), float(intercept), pts, bound)


def _censored_at_end(pts: tuple[Crossing, ...], kind: Censor) -> bool:
    """Censored points are the largest d's (raising them can only raise the slope)."""
    flags = [c.censored == kind for c in pts]
    return flags == sorted(flags)


def _censored_at_start(pts: tuple[Crossing, ...], kind: Censor) -> bool:
    flags = [c.censored == kind for c in pts]
    return flags == sorted(flags, reverse=True)


def exponent(
    rows: Iterable[AggregateRow],
    method: str,
    threshold: float | Mapping[int, float],
    metric: str = "test_mse",
    op: Op = "<",
) -> ExponentFit:
    """n*(d) for every d, then the fitted slope."""
    return fit_exponent(n_stars(list(rows), method, threshold, metric, op))
