r"""Sample-complexity exponents measured from a sweep.

Threshold crossing: for a method at dimension d with medians m(n_1) , ..., m(n_K) on the sweep's grid,
    n*(d) = first n at which m(n) crosses the threshold tau (falls below it for ``op="<"``, rises above it for
    ``op=">"``), interpolated linearly in (log n, m) between the last grid point before and the first after;
censored below (tau already crossed at n_1: n* <= n_1) or above (never crossed: n* > n_K).

Exponent: the least-squares slope s of  log n*(d) = s log d + c  over the d of the sweep (the papers' claims
n* ~ d^s: Damian et al. 2022 s = 2 for a two-layer net after one step vs s = p for kernels; Dandi et al. 2025
kappa thresholds). Censored points enter at their bound: with n* > n_K at the largest d's the fitted slope is
a lower bound, with n* <= n_1 at the smallest d's an upper bound (``ExponentFit.bound``); with every point
censored, or censored both ways, the fit bounds nothing (``"none"``).

kappa*: at one d, kappa* = log n* / log d (n = d^kappa* is where the threshold is crossed).

Bootstrap (``bootstrap_exponent``): the trials of each (method, d, n) cell are resampled with replacement
(B times, a seeded numpy generator, so the interval is reproducible); each replicate recomputes the cell
medians, then n*(d), kappa*(d) and the slope exactly as for the data. The interval is the percentile interval
[q_{(1-level)/2}, q_{(1+level)/2}] of the replicates (nearest rank, no interpolation). A replicate censored
above (never crossed) counts as kappa* = +inf, one censored below as -inf (likewise a slope that is only a
lower / upper bound), so an end of the interval is infinite when more than (1-level)/2 of the replicates are
censored on that side: the data cannot place it. Replicates whose slope is censored both ways are left out
(``MethodExponent.undetermined`` counts them). With T trials a cell median takes at most T distinct values, so
with 3-5 trials the interval is coarse: it is roughly the range the per-trial curves span.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

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
    if all(c.censored for c in pts):  # no crossing inside the grid: the bounds' slope says nothing
        bound = "none"
    elif cens == {"above"}:
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


def crossings_batch(
    ns: np.ndarray, values: np.ndarray, threshold: float, op: Op = "<"
) -> tuple[np.ndarray, np.ndarray]:
    """``crossing`` for a batch: ``values`` (B, K) on the increasing grid ``ns`` (K,) without NaN; returns n* (B,)
    and censoring codes (B,): 0 crossed inside the grid, -1 below (already crossed at n_1), +1 above (never)."""
    ns = np.asarray(ns, dtype=float)
    v = np.asarray(values, dtype=float)
    hit = v < threshold if op == "<" else v > threshold
    first = np.argmax(hit, axis=1)
    anyhit = hit.any(axis=1)
    code = np.where(~anyhit, 1, np.where(first == 0, -1, 0))
    j = np.clip(first, 1, len(ns) - 1)
    rows = np.arange(v.shape[0])
    v0, v1 = v[rows, j - 1], v[rows, j]
    logn = np.log(ns)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # rows not crossing inside are masked
        t = np.where(v1 != v0, (threshold - v0) / (v1 - v0), 1.0)
        inner = np.exp(logn[j - 1] + t * (logn[j] - logn[j - 1]))
    n_star = np.where(code == 0, inner, np.where(code < 0, ns[0], ns[-1]))
    return n_star, code


@dataclass(frozen=True)
class KappaStar:
    """kappa* = log n* / log d at one d, with its bootstrap interval (module docstring)."""

    d: int
    n_star: float
    kappa: float
    censored: Censor
    threshold: float
    ci_lo: float
    ci_hi: float
    n_min: int  # the grid's smallest and largest n (a censored n* is one of them)
    n_max: int


@dataclass(frozen=True)
class MethodExponent:
    """kappa*(d) for every d of one method, the slope over d (``fit``) and the bootstrap intervals."""

    method: str
    threshold: str  # how n* is defined, e.g. "test_mse < 0.15 x trivial"
    points: tuple[KappaStar, ...]
    fit: ExponentFit
    slope_ci: tuple[float, float]
    n_boot: int
    level: float
    undetermined: int = 0  # replicates whose slope was censored both ways
    grid_error: float = 0.0  # interpolation error of the slope on this grid (Richardson, from the half grids)

    @property
    def slope_interval(self) -> tuple[float, float]:
        """The bootstrap interval of the slope widened by ``grid_error`` on both sides: the interval verdicts
        are judged from (trial resampling alone misses the error of interpolating n* between grid points,
        which dominates for nearly deterministic learners such as kernels)."""
        lo, hi = self.slope_ci
        return lo - self.grid_error, hi + self.grid_error

    @property
    def judged_interval(self) -> tuple[float, float]:
        """``slope_interval`` stretched to contain the point estimate and open on a censored side (-inf below an
        upper bound, +inf above a lower one): what a verdict compares with a band."""
        lo, hi = self.slope_interval
        s, bound = self.fit.slope, self.fit.bound
        lo = -math.inf if bound == "upper" else (s if math.isnan(lo) else min(lo, s))
        hi = math.inf if bound == "lower" else (s if math.isnan(hi) else max(hi, s))
        return lo, hi

    @property
    def ds(self) -> list[int]:
        return [p.d for p in self.points]


def _percentile_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    s = samples[~np.isnan(samples)]
    if s.size == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(s, [(1 - level) / 2, (1 + level) / 2], method="inverted_cdf")
    return float(lo), float(hi)


def _slopes(logd: np.ndarray, logn: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Least-squares slopes of logn (B, D) on logd (D,), as +inf / -inf where only a lower / upper bound,
    NaN where censored both ways (``fit_exponent``'s rules, per replicate)."""
    x = logd - logd.mean()
    slope = (logn - logn.mean(axis=1, keepdims=True)) @ x / (x @ x)
    above, below = codes > 0, codes < 0
    up_sorted = np.all(np.diff(above.astype(int), axis=1) >= 0, axis=1)  # censored-above points at the end
    down_sorted = np.all(np.diff(below.astype(int), axis=1) <= 0, axis=1)  # censored-below at the start
    any_a, any_b = above.any(axis=1), below.any(axis=1)
    out = slope.copy()
    out[any_a & ~any_b & up_sorted] = math.inf
    out[any_b & ~any_a & down_sorted] = -math.inf
    out[(any_a & any_b) | (any_a & ~up_sorted) | (any_b & ~down_sorted) | (above | below).all(axis=1)] = math.nan
    return out


def bootstrap_exponent(
    trial_rows: Iterable[Mapping[str, Any]],
    method: str,
    threshold: float | Mapping[int, float],
    metric: str = "test_mse",
    op: Op = "<",
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    describe: str = "",
) -> MethodExponent:
    """kappa*(d), slope and their percentile bootstrap intervals from per-trial rows (module docstring).

    ``trial_rows`` are the store's rows (method, d, n, status, metric columns); trials whose status is not
    ``ok`` or whose metric is not finite are left out, as in ``analysis.aggregate``. The point estimates equal
    ``n_stars`` / ``exponent`` on the aggregate of the same rows.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    cells: dict[int, dict[int, list[float]]] = {}
    for r in trial_rows:
        if r["method"] != method or r.get("status", "ok") != "ok":
            continue
        v = r.get(metric)
        if v is None or not math.isfinite(float(v)):
            continue
        cells.setdefault(int(r["d"]), {}).setdefault(int(r["n"]), []).append(float(v))
    rng = np.random.default_rng(seed)
    points: list[KappaStar] = []
    boot_logn, boot_codes, pt_logn, pt_codes = [], [], [], []
    for d, by_n in sorted(cells.items()):
        tau = threshold[d] if isinstance(threshold, Mapping) else threshold
        ns = np.array(sorted(by_n), dtype=float)
        obs = np.array([[np.median(by_n[int(n)]) for n in ns]])
        reps = np.empty((n_boot, len(ns)))
        for k, n in enumerate(ns):
            vals = np.asarray(by_n[int(n)])
            idx = rng.integers(0, len(vals), size=(n_boot, len(vals)))
            reps[:, k] = np.median(vals[idx], axis=1)
        n0, c0 = crossings_batch(ns, obs, tau, op)
        nb, cb = crossings_batch(ns, reps, tau, op)
        kb = np.log(nb) / math.log(d)
        kb = np.where(cb > 0, math.inf, np.where(cb < 0, -math.inf, kb))
        lo, hi = _percentile_interval(kb, level)
        censored: Censor = "below" if c0[0] < 0 else "above" if c0[0] > 0 else ""
        points.append(KappaStar(d, float(n0[0]), math.log(n0[0]) / math.log(d), censored, tau, lo, hi,
                                int(ns[0]), int(ns[-1])))
        boot_logn.append(np.log(nb))
        boot_codes.append(cb)
        pt_logn.append(np.log(n0))
        pt_codes.append(c0)
    crossings = [Crossing(method, p.d, p.n_star, p.censored, p.threshold) for p in points]
    fit = fit_exponent(crossings)
    slope_ci, undetermined = (math.nan, math.nan), 0
    if len(points) >= 2:
        logd = np.log([p.d for p in points])
        slopes = _slopes(logd, np.stack(boot_logn, axis=1), np.stack(boot_codes, axis=1))
        undetermined = int(np.isnan(slopes).sum())
        slope_ci = _percentile_interval(slopes, level)
    grid_err = _grid_error(method, cells, threshold, op, fit)
    return MethodExponent(method, describe, tuple(points), fit, slope_ci, n_boot, level, undetermined, grid_err)


def _grid_error(method: str, cells: Mapping[int, Mapping[int, list[float]]], threshold: float | Mapping[int, float],
                op: Op, fit: ExponentFit) -> float:
    r"""Interpolation error of the fitted slope on this grid, estimated from the two half grids (every other n
    at each d). Linear interpolation errs by O(h^2) in the step h, so a half grid (step 2h) errs 4x as much and
    |slope(half) - slope(full)| ~ 3 x error(full): the estimate is max over both halves of that difference / 3.
    0 when no half grid gives an uncensored slope (then the half grids cannot tell)."""
    if fit.bound != "exact" or not math.isfinite(fit.slope) or len(cells) < 2:
        return 0.0
    diffs = []
    for parity in (0, 1):
        pts = []
        for d, by_n in sorted(cells.items()):
            ns = np.array(sorted(by_n), dtype=float)[parity::2]
            if len(ns) < 2:
                break
            tau = threshold[d] if isinstance(threshold, Mapping) else threshold
            obs = np.array([[np.median(by_n[int(n)]) for n in ns]])
            n0, c0 = crossings_batch(ns, obs, tau, op)
            censored: Censor = "below" if c0[0] < 0 else "above" if c0[0] > 0 else ""
            pts.append(Crossing(method, d, float(n0[0]), censored, tau))
        else:
            half = fit_exponent(pts)
            if half.bound == "exact" and math.isfinite(half.slope):
                diffs.append(abs(half.slope - fit.slope))
    return max(diffs) / 3 if diffs else 0.0


def exponent(
    rows: Iterable[AggregateRow],
    method: str,
    threshold: float | Mapping[int, float],
    metric: str = "test_mse",
    op: Op = "<",
) -> ExponentFit:
    """n*(d) for every d, then the fitted slope."""
    return fit_exponent(n_stars(list(rows), method, threshold, metric, op))
