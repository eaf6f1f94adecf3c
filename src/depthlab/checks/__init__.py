"""Paper checks: declarative, measurable statements of a paper's qualitative claims.

A check reads the results of a sweep at one end of the kappa grid (at the largest d, or at every d) and the
target's reference levels (``TargetSpec.reference_levels``). Every verdict comes from an interval, never from a
point estimate: the median over trials of a cell carries a bootstrap interval (trials resampled with
replacement, ``CheckContext.level``, 95% by default), and a comparison is PASS when the whole interval lies on
the claim's side of its threshold, FAIL when it lies wholly on the other side, INCONCLUSIVE when it straddles
it (more trials would settle it). A claim that one learner beats another is a claim about a ratio of medians
(``factor``: the least advantage the check calls an advantage, with its reason), so that two learners that tie
FAIL instead of passing on noise. Thresholds are fields of the check, written in the preset.

Where the law of (x, f*) depends on the target's instance (a hierarchical target's a* signs: E f*^2 spreads
0.44-0.69 over dandi2025-deep-quick's instances), a threshold relative to a reference level is judged trial by
trial against that trial's own instance's level (``CheckContext.relative``: each trial's metric divided by its
own level, ``TargetSpec.instance_reference_levels``), not against one instance's.

``PredictionCheck`` compares a method's measured sample-complexity exponent (the slope of log n* vs log d over
at least 3 d, with a bootstrap interval; ``depthlab.exponents``) with the preset's ``Prediction`` for that
method (``depthlab.theory``): a verdict from the interval, PASS / FAIL / INCONCLUSIVE, or INFO with fewer d.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from depthlab.analysis import AggregateRow, aggregate, trials_at
from depthlab.config import Config
from depthlab.exponents import ExponentFit, MethodExponent, bootstrap_exponent, exponent
from depthlab.metrics import MetricName
from depthlab.theory import Prediction, ReferenceName, Status, Threshold, compare
from depthlab.trajectories import Curve

Where = Literal["kappa_max", "kappa_min"]


@dataclass
class CheckResult:
    """``status``: PASS, FAIL, INCONCLUSIVE (the data cannot decide: an interval straddles the band, or nothing
    was measured; not a PASS) or INFO (reported, never judged: an exponent at fewer than 3 d). A bool given
    as status means PASS / FAIL."""

    name: str
    status: Status | bool
    detail: str
    measured: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.status, bool):
            self.status = "PASS" if self.status else "FAIL"

    @property
    def passed(self) -> bool:
        return self.status == "PASS"


@dataclass
class CheckContext:
    rows: list[AggregateRow]
    references: dict[int, dict[str, float]]  # d -> reference levels
    trial_rows: list[dict[str, Any]] = field(default_factory=list)  # per-trial rows, for bootstrap intervals
    predictions: dict[str, Prediction] = field(default_factory=dict)
    thresholds: dict[str, Threshold] = field(default_factory=dict)  # method -> how its n* is defined
    curves: list[Curve] = field(default_factory=list)  # training dynamics (trajectories.summarize), if recorded
    n_boot: int = 1000
    level: float = 0.95
    seed: int = 0
    # (d, trial) -> the reference levels of that trial's own target instance, where the target's law depends on
    # its instance (TargetSpec.instance_reference_levels); None where one instance's levels stand for all
    instance_levels: Callable[[int, int], dict[str, float]] | None = None
    normalised_by: str | None = None  # set on a view (``relative``): "metric / own reference"
    _exponents: dict[str, MethodExponent] = field(default_factory=dict, repr=False)
    _views: dict[tuple[str, str], CheckContext] = field(default_factory=dict, repr=False)

    def relative(self, metric: str, reference: str) -> CheckContext:
        """The context in which a claim "``metric`` op x times ``reference``" is judged. Where the target's law
        depends on its instance (``instance_levels``), a view: every trial's ``metric`` divided by its own
        instance's ``reference`` level, and every reference level 1, so that x is compared with the trials'
        normalised values (medians and bootstrap intervals over them) instead of with one instance's level.
        Elsewhere this context itself: dividing by a level every instance shares changes no verdict."""
        if self.instance_levels is None or self.normalised_by is not None or not self.trial_rows:
            return self
        if (metric, reference) not in self._views:
            rows: list[dict[str, Any]] = []
            for r in self.trial_rows:
                levels = self.instance_levels(int(r["d"]), int(r["trial"]))
                if reference not in levels:
                    raise LookupError(f"reference level {reference!r} unknown; have {sorted(levels)}")
                v = r.get(metric)
                rows.append({**{k: r.get(k) for k in ("preset", "method", "d", "n", "kappa", "trial", "status")},
                             metric: None if v is None else float(v) / levels[reference]})
            ds = sorted({int(r["d"]) for r in rows})
            self._views[(metric, reference)] = CheckContext(
                aggregate(rows), {d: {reference: 1.0} for d in ds}, trial_rows=rows, predictions=self.predictions,
                thresholds=self.thresholds, curves=self.curves, n_boot=self.n_boot, level=self.level,
                seed=self.seed, instance_levels=self.instance_levels,
                normalised_by=f"{metric} / its trial's own {reference}",
            )
        return self._views[(metric, reference)]

    def level_summary(self, reference: str, d: int | None = None) -> str:
        """The level ``reference`` at d (largest by default) as the checks use it: one number, or where every
        trial has its own (``instance_levels``) their median and range over the trials' instances."""
        d = self.d if d is None else d
        if self.instance_levels is None:
            return _fmt(self.references.get(d, {}).get(reference, math.nan))
        vals = np.array([self.instance_levels(d, t).get(reference, math.nan) for t in trials_at(self.trial_rows, d)])
        return (f"{_fmt(float(np.median(vals)))} (median over {len(vals)} instances, {_fmt(float(vals.min()))}-"
                f"{_fmt(float(vals.max()))})")

    def threshold(self, method: str) -> Threshold:
        pred = self.predictions.get(method)
        if pred is not None and pred.threshold is not None:
            return pred.threshold
        return self.thresholds.get(method, Threshold())

    def exponent(self, method: str) -> MethodExponent:
        """kappa*(d), slope and bootstrap intervals of ``method`` (cached). Without per-trial rows the cell
        medians stand in for the trials, so the intervals collapse to the point estimates."""
        if method not in self._exponents:
            th = self.threshold(method)
            ctx = self if th.relative_to is None else self.relative(th.metric, th.relative_to)
            rows = ctx.trials_or_medians(th.metric)
            ds = sorted({int(r["d"]) for r in rows if r["method"] == method})
            if not ds:
                raise LookupError(f"no results for method {method!r}")
            own = " (each trial's own instance)" if ctx.normalised_by else ""
            self._exponents[method] = bootstrap_exponent(
                rows, method, th.by_d(ctx.references, ds), th.metric, th.op,
                n_boot=self.n_boot, level=self.level, seed=self.seed, describe=th.describe() + own,
            )
        return self._exponents[method]

    def trials_or_medians(self, metric: str) -> list[dict[str, Any]]:
        """The per-trial rows, or without them the cell medians of ``metric`` standing in for the trials."""
        return self.trial_rows or [
            {"method": r.method, "d": r.d, "n": r.n, "status": "ok", metric: r.stat(metric)} for r in self.rows
        ]

    @property
    def d(self) -> int:
        return max(r.d for r in self.rows)

    def _row(self, method: str, where: Where, d: int | None, n_at_least: float | None = None) -> AggregateRow:
        d = self.d if d is None else d
        rows = [r for r in self.rows if r.method == method and r.d == d]
        if not rows:
            raise LookupError(f"no results for method {method!r} at d={d}")
        if n_at_least is not None:  # the smallest n of the grid >= n_at_least (the largest if none is)
            above = [r for r in rows if r.n >= n_at_least]
            return min(above, key=lambda r: r.n) if above else max(rows, key=lambda r: r.n)
        return max(rows, key=lambda r: r.kappa) if where == "kappa_max" else min(rows, key=lambda r: r.kappa)

    def samples(
        self, method: str, metric: str, where: Where, d: int | None = None, n_at_least: float | None = None
    ) -> tuple[AggregateRow, np.ndarray]:
        """The cell at one end of the grid (or, with ``n_at_least``, the cell of the smallest n >= it) and its
        per-trial values of ``metric`` (the finished trials, as the median uses them); without per-trial rows
        the median stands in, one value."""
        row = self._row(method, where, d, n_at_least)
        vals = [
            float(r[metric]) for r in self.trial_rows
            if r["method"] == method and int(r["d"]) == row.d and int(r["n"]) == row.n and r.get("status") == "ok"
            and r.get(metric) is not None
        ]
        return row, np.asarray(vals if vals else [row.stat(metric)], dtype=float)

    def _boot_medians(self, vals: np.ndarray, salt: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, salt])
        idx = rng.integers(0, len(vals), size=(self.n_boot, len(vals)))
        return np.median(vals[idx], axis=1)

    def _bounds(self, boot: np.ndarray) -> tuple[float, float]:
        a = (1 - self.level) / 2
        lo, hi = np.quantile(boot, [a, 1 - a])
        return float(lo), float(hi)

    def cell(self, method: str, metric: str, where: Where, d: int | None = None,
             n_at_least: float | None = None) -> Cell:
        """Median of ``metric`` at one end of the grid (or at the smallest n >= ``n_at_least``) with its
        bootstrap interval (``level``)."""
        row, vals = self.samples(method, metric, where, d, n_at_least)
        med = float(np.median(vals))
        if len(vals) < 2 or np.isnan(vals).any():
            return Cell(method, row.d, row.kappa, med, med, med, len(vals), row.n)
        lo, hi = self._bounds(self._boot_medians(vals, 0))
        return Cell(method, row.d, row.kappa, med, lo, hi, len(vals), row.n)

    def ratio(
        self, num: str, den: str, metric: str, where: Where, d: int | None = None, den_at: Where | None = None,
        num_n_at_least: float | None = None,
    ) -> tuple[float, float, float]:
        """median(metric of ``num``) / median(metric of ``den``) at one end of the grid (``den_at``: the other end
        for the denominator; ``num_n_at_least``: the numerator at the smallest n >= it), with a bootstrap
        interval (the two cells' trials resampled independently)."""
        _, a = self.samples(num, metric, where, d, num_n_at_least)
        _, b = self.samples(den, metric, den_at or where, d)
        tiny = 1e-12  # a 0-1 error can be exactly 0

        def r(x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return (x + tiny) / (y + tiny)

        point = float(r(np.median(a), np.median(b)))
        if (len(a) < 2 and len(b) < 2) or np.isnan(a).any() or np.isnan(b).any():
            return point, point, point
        lo, hi = self._bounds(r(self._boot_medians(a, 1), self._boot_medians(b, 2)))
        return point, lo, hi

    def curve(self, method: str, metric: str, where: Where, d: int | None = None) -> Curve:
        """The recorded trajectory of ``metric`` of ``method`` at one end of the kappa grid (largest d by
        default) among the cells that recorded one."""
        d = self.d if d is None else d
        hits = [c for c in self.curves if c.method == method and c.d == d and c.metric == metric]
        if not hits:
            raise LookupError(f"no trajectory of {metric} for method {method!r} at d={d} (record it: "
                              "--set record.steps=40)")
        return max(hits, key=lambda c: c.kappa) if where == "kappa_max" else min(hits, key=lambda c: c.kappa)

    def interval(self, vals: np.ndarray, salt: int = 0) -> tuple[float, float, float]:
        """(median, lo, hi) of per-trial values: the median with its bootstrap interval (``level``)."""
        vals = vals[np.isfinite(vals)]
        if len(vals) == 0:
            return math.nan, math.nan, math.nan
        med = float(np.median(vals))
        if len(vals) < 2:
            return med, med, med
        lo, hi = self._bounds(self._boot_medians(vals, salt))
        return med, lo, hi

    def value(self, method: str, metric: str, where: Where, d: int | None = None) -> tuple[float, float]:
        """(kappa, median metric) of ``method`` at the smallest / largest kappa of dimension d (default: the
        largest d of the sweep)."""
        row = self._row(method, where, d)
        return row.kappa, row.stat(metric)


def _fmt(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.4g}"


_SEVERITY: dict[Status, int] = {"PASS": 0, "INFO": 0, "INCONCLUSIVE": 1, "FAIL": 2}
ADVANTAGE = 1.25  # default factor of a "beats" claim: a quarter lower error; a tie must FAIL, not pass on noise


def worst(statuses: list[Status]) -> Status:
    """FAIL if any FAILs, else INCONCLUSIVE if any is, else PASS: a conjunction of claims."""
    return max(statuses, key=lambda s: _SEVERITY[s], default="PASS")


def side(lo: float, hi: float, op: str, bound: float) -> Status:
    """The claim ``x op bound`` from an interval [lo, hi] of x: PASS when the whole interval satisfies it, FAIL
    when no point of it does, INCONCLUSIVE when it straddles the bound (or is nan: nothing measured)."""
    if math.isnan(lo) or math.isnan(hi):
        return "INCONCLUSIVE"
    if op == "<":
        return "PASS" if hi < bound else "FAIL" if lo >= bound else "INCONCLUSIVE"
    return "PASS" if lo > bound else "FAIL" if hi <= bound else "INCONCLUSIVE"


@dataclass(frozen=True)
class Cell:
    """One (method, d, n) cell's median of a metric over its trials, with a bootstrap interval of the median."""

    method: str
    d: int
    kappa: float
    median: float
    lo: float
    hi: float
    trials: int
    n: int = 0  # the cell's training samples

    def show(self) -> str:
        if self.lo == self.hi:
            return _fmt(self.median)
        return f"{_fmt(self.median)} [{_fmt(self.lo)}, {_fmt(self.hi)}]"


class _Check(Config):
    name: str = Field(description="name of the check, shown in reports and docs/CHECKS.md")
    description: str = Field(default="", description="the paper's claim the check tests, with its paper reference "
                             "(the claim column of docs/CHECKS.md)")


UNDECIDED = "an interval straddles its threshold: more trials per cell would settle it"


def _verdict(statuses: list[Status], detail: str) -> tuple[Status, str]:
    status = worst(statuses)
    return status, detail + (f"  ({UNDECIDED})" if status == "INCONCLUSIVE" else "")


def _mark(status: Status) -> str:
    return {"PASS": "", "INFO": "", "INCONCLUSIVE": " (?)", "FAIL": " (!)"}[status]


class OrderingCheck(_Check):
    """metric(methods[0]) < metric(methods[1]) < ... at one end of the kappa grid (largest d), each by at least
    ``factor``: for every consecutive pair the bootstrap interval of the ratio of medians
    metric(m[i+1]) / metric(m[i]) against ``factor`` (``side``). Two learners that tie FAIL."""

    kind: Literal["ordering"] = Field(default="ordering", description="check kind (discriminator)")
    methods: list[str] = Field(description="methods in the claimed order, lowest metric first")
    metric: MetricName = Field(default="test_mse",
                               description="metric compared, as its median over trials (e.g. test_mse)")
    at: Where = Field(default="kappa_max", description="end of the kappa grid read: kappa_max or kappa_min")
    factor: float = Field(
        ADVANTAGE, ge=1.0,
        description="the least ratio of consecutive medians called an advantage (default 1.25: a quarter lower "
        "error); with 1 a tie could never fail",
    )

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        cells = [ctx.cell(m, self.metric, self.at) for m in self.methods]
        statuses, parts, measured = [], [], {c.method: c.median for c in cells}
        for a, b in zip(self.methods, self.methods[1:], strict=False):
            r, lo, hi = ctx.ratio(b, a, self.metric, self.at)
            st = side(lo, hi, ">", self.factor)
            statuses.append(st)
            parts.append(f"{b}/{a} {_fmt(r)} [{_fmt(lo)}, {_fmt(hi)}]{_mark(st)}")
            measured[f"{b}/{a}"] = r
        status, detail = _verdict(statuses, (
            " < ".join(f"{c.method} {c.show()}" for c in cells)
            + f"  ({self.metric} at kappa={cells[0].kappa:.3g}, d={cells[0].d}); ratios "
            + ", ".join(parts) + f" need > {self.factor:g}"
        ))
        return CheckResult(self.name, status, detail, measured)


class BoundCheck(_Check):
    """metric(method) at one end of the grid (largest d) compared with a number or factor x a reference level,
    from the bootstrap interval of the median (``side``)."""

    kind: Literal["bound"] = Field(default="bound", description="check kind (discriminator)")
    method: str = Field(description="method whose metric is bounded")
    metric: MetricName = Field(default="test_mse",
                               description="metric compared, as its median over trials (e.g. test_mse)")
    at: Where = Field(default="kappa_max", description="end of the kappa grid read: kappa_max or kappa_min")
    op: Literal["<", ">"] = Field(default="<", description="the claim: median metric op bound")
    value: float | None = Field(default=None, description="absolute bound (used when reference is None)")
    reference: str | None = Field(default=None, description="a key of TargetSpec.reference_levels(), e.g. "
                                  "'best_linear_h': the bound is factor x that level")
    factor: float = Field(default=1.0, description="bound = factor x the reference level (with reference)")

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        if self.reference is None and self.value is None:
            raise ValueError(f"check {self.name!r}: set value or reference")
        view = ctx if self.reference is None else ctx.relative(self.metric, self.reference)
        c = view.cell(self.method, self.metric, self.at)
        name = view.normalised_by or self.metric
        if self.reference is not None:
            ref = view.references.get(view.d, {})
            if self.reference not in ref:
                raise LookupError(f"reference level {self.reference!r} unknown; have {sorted(ref)}")
            bound = self.factor * ref[self.reference]
            what = f"{self.factor:g} x {self.reference} = {_fmt(bound)}"
            if view.normalised_by:
                what = f"{self.factor:g} ({self.reference}: {ctx.level_summary(self.reference)})"
        else:
            bound, what = float(self.value or 0.0), _fmt(float(self.value or 0.0))
        status, detail = _verdict(
            [side(c.lo, c.hi, self.op, bound)],
            f"{self.method} {name} = {c.show()} at kappa={c.kappa:.3g}, d={c.d}  {self.op} {what}",
        )
        return CheckResult(self.name, status, detail, {"value": c.median, "lo": c.lo, "hi": c.hi, "bound": bound})


class RiseCheck(_Check):
    """metric(method) rises across the grid (largest d): final >= min_final and final / initial >= min_ratio,
    with min_ratio > 1 (a level alone is a ``bound``); both from bootstrap intervals."""

    kind: Literal["rises"] = Field(default="rises", description="check kind (discriminator)")
    method: str = Field(description="method whose metric must rise")
    metric: MetricName = Field(default="overlap_h", description="metric that must rise, as its median over trials")
    min_final: float = Field(description="required median at kappa_max: end >= min_final")
    min_ratio: float = Field(gt=1.0, description="required final / initial ratio; > 1, or it is not a rise")

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        c0 = ctx.cell(self.method, self.metric, "kappa_min")
        c1 = ctx.cell(self.method, self.metric, "kappa_max")
        r, lo, hi = ctx.ratio(self.method, self.method, self.metric, "kappa_max", den_at="kappa_min")
        status, detail = _verdict(
            [side(c1.lo, c1.hi, ">", self.min_final), side(lo, hi, ">", self.min_ratio)],
            f"{self.method} {self.metric}: {c0.show()} at kappa={c0.kappa:.3g} -> {c1.show()} at "
            f"kappa={c1.kappa:.3g}, ratio {_fmt(r)} [{_fmt(lo)}, {_fmt(hi)}] (need end >= {self.min_final:g} and "
            f"ratio >= {self.min_ratio:g})",
        )
        return CheckResult(self.name, status, detail, {"start": c0.median, "end": c1.median, "ratio": r})


class LeavesTrivialCheck(_Check):
    """Every method starts near the trivial error and ends well below it (largest d):
    test_mse(kappa_min) >= start_fraction x E f*^2  and  test_mse(kappa_max) <= end_fraction x E f*^2, from the
    medians' bootstrap intervals, with end_fraction < start_fraction (or a learner that never moved would pass)."""

    kind: Literal["leaves_trivial"] = Field(default="leaves_trivial", description="check kind (discriminator)")
    methods: list[str] = Field(description="methods that must each start near E f*^2 and end well below it")
    start_fraction: float = Field(default=0.8, description="test_mse at kappa_min >= start_fraction x E f*^2")
    end_fraction: float = Field(default=0.6, description="test_mse at kappa_max <= end_fraction x E f*^2 (below "
                                "start_fraction)")

    @model_validator(mode="after")
    def _falls(self) -> LeavesTrivialCheck:
        if not self.end_fraction < self.start_fraction:
            raise ValueError(f"end_fraction {self.end_fraction} must be below start_fraction {self.start_fraction}")
        return self

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        view = ctx.relative("test_mse", "trivial")
        trivial = view.references.get(view.d, {}).get("trivial", float("nan"))
        parts, statuses, measured = [], [], {"trivial": trivial}
        for m in self.methods:
            c0 = view.cell(m, "test_mse", "kappa_min")
            c1 = view.cell(m, "test_mse", "kappa_max")
            st = worst([side(c0.lo, c0.hi, ">", self.start_fraction * trivial),
                        side(c1.lo, c1.hi, "<", self.end_fraction * trivial)])
            statuses.append(st)
            parts.append(f"{m} {c0.show()} -> {c1.show()}{_mark(st)}")
            measured[f"{m}_start"], measured[f"{m}_end"] = c0.median, c1.median
        head = (f"test_mse / each trial's own E f*^2 (E f*^2 {ctx.level_summary('trivial')})" if view.normalised_by
                else f"E f*^2 = {_fmt(trivial)}")
        status, detail = _verdict(statuses, (
            f"{head}; need start >= {self.start_fraction:g}x, end <= {self.end_fraction:g}x: " + ", ".join(parts)
        ))
        return CheckResult(self.name, status, detail, measured)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two equally long vectors (Pearson correlation of their ranks; ties broken
    by order, which continuous medians almost never have)."""
    ra, rb = (np.argsort(np.argsort(v)).astype(float) for v in (a, b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / den if den > 0 else math.nan


class RelationCheck(_Check):
    """Two metrics of one learner move together across the whole sweep (every d, every n): Spearman's rank
    correlation rho between the cells' medians of ``x`` and of ``y`` (``y`` divided by E f*^2 at its d when
    ``relative_to_trivial``), with a bootstrap interval (each cell's trials resampled in pairs, the medians and
    rho recomputed), against ``value`` (``side``). A rank correlation asks for a monotone relation, any shape:
    e.g. Nichani et al. (2023): the test loss falls toward 0 where corr(phi, h*) -> 1, the points of every d on
    one monotone curve: rho(feature_corr, test_mse / E f*^2) < -0.8. Needs at least ``min_cells`` cells."""

    kind: Literal["relation"] = Field(default="relation", description="check kind (discriminator)")
    method: str = Field(description="method whose two metrics are related across its cells")
    x: MetricName = Field(description="first metric (e.g. feature_corr)")
    y: MetricName = Field(default="test_mse", description="second metric (e.g. test_mse)")
    relative_to_trivial: bool = Field(default=True, description="divide y by E f*^2 at each d (a loss normalised "
                                      "by Var f*, comparable across d)")
    op: Literal["<", ">"] = Field(default="<", description="the claim: rho op value")
    value: float = Field(ge=-1.0, le=1.0, description="bound on Spearman's rho")
    min_cells: int = Field(default=4, ge=3, description="fewest cells with both metrics for a verdict")

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        cells: dict[tuple[int, int], list[tuple[float, float]]] = {}
        for r in ctx.trial_rows:
            if r["method"] != self.method or r.get("status") != "ok":
                continue
            xv, yv = r.get(self.x), r.get(self.y)
            if xv is None or yv is None or not (math.isfinite(float(xv)) and math.isfinite(float(yv))):
                continue
            scale = 1.0
            if self.relative_to_trivial:  # the trial's own instance's E f*^2 where the law depends on it
                scale = (ctx.instance_levels(int(r["d"]), int(r["trial"]))["trivial"] if ctx.instance_levels
                         else ctx.references.get(int(r["d"]), {}).get("trivial", 1.0))
            cells.setdefault((int(r["d"]), int(r["n"])), []).append((float(xv), float(yv) / scale))
        if len(cells) < self.min_cells:
            raise LookupError(f"{self.method}: {len(cells)} cells with both {self.x} and {self.y}, need "
                              f">= {self.min_cells}")
        arrays = [np.asarray(v) for _, v in sorted(cells.items())]
        point = spearman(np.array([np.median(a[:, 0]) for a in arrays]),
                         np.array([np.median(a[:, 1]) for a in arrays]))
        rng = np.random.default_rng([ctx.seed, 11])
        boot = []
        for _ in range(ctx.n_boot):
            picks = [a[rng.integers(0, len(a), len(a))] for a in arrays]
            boot.append(spearman(np.array([np.median(p[:, 0]) for p in picks]),
                                 np.array([np.median(p[:, 1]) for p in picks])))
        lo, hi = ctx._bounds(np.asarray(boot)) if all(len(a) > 1 for a in arrays) else (point, point)
        ds = sorted({d for d, _ in cells})
        y_name = f"{self.y} / E f*^2" if self.relative_to_trivial else self.y
        status, detail = _verdict(
            [side(lo, hi, self.op, self.value)],
            f"{self.method}: Spearman rho({self.x}, {y_name}) = {_fmt(point)} [{_fmt(lo)}, {_fmt(hi)}] over "
            f"{len(cells)} cells (d = {', '.join(map(str, ds))})  {self.op} {self.value:g}",
        )
        return CheckResult(self.name, status, detail, {"rho": point, "lo": lo, "hi": hi, "cells": len(cells)})


class Undecided(LookupError):
    """The data cannot decide the check (``status``: INFO with too few d for a slope, INCONCLUSIVE where no
    threshold crossing could be used); ``run_checks`` reports it with that status, not as a FAIL."""

    def __init__(self, status: Status, why: str):
        super().__init__(why)
        self.status = status


class _ExponentCheck(_Check):
    """Shared: n*(d) = first n where the median ``metric`` crosses ``threshold`` (times the reference level
    ``relative_to`` at that d, if set), slope of log n* vs log d over all d of the sweep (``exponents``)."""

    metric: MetricName = Field(default="test_mse", description="metric whose median crossing defines n*")
    op: Literal["<", ">"] = Field(default="<", description="n* = first n with median metric op threshold")
    threshold: float = Field(description="threshold of the crossing, times the reference level relative_to "
                             "(absolute when relative_to is None)")
    relative_to: ReferenceName = Field(default="trivial", description="the reference level "
                                       "(TargetSpec.reference_levels) that threshold multiplies at each d; None (in "
                                       "a file: \"none\"): absolute")
    min_ds: int = Field(default=3, ge=2, description="the claim is about a slope: fit it on at least this many d "
                        "(fewer: INFO)")

    def fit(self, ctx: CheckContext, method: str) -> ExponentFit:
        ds = sorted({r.d for r in ctx.rows if r.method == method})
        if len(ds) < self.min_ds:  # a slope claim is not judged from one or two d (information, as predictions)
            raise Undecided("INFO", f"{method} has results at d = {ds}; a slope needs >= {self.min_ds} values of d")
        ctx = self._view(ctx)
        fit = exponent(ctx.rows, method, self._tau(ctx, ds), self.metric, self.op)
        if fit.bound == "none" or math.isnan(fit.slope):
            raise Undecided("INCONCLUSIVE", f"{method}'s slope is not measured on this grid ({fit.describe()}): "
                            "extend the kappa grid so that its n* crosses the threshold inside it at the smaller d")
        return fit

    def _view(self, ctx: CheckContext) -> CheckContext:
        """Where thresholds are relative: the context judging every trial against its own instance's level."""
        return ctx if self.relative_to is None else ctx.relative(self.metric, self.relative_to)

    def _tau(self, ctx: CheckContext, ds: list[int]) -> float | dict[int, float]:
        """The threshold, absolute or at each d relative to that d's reference level."""
        if self.relative_to is None:
            return self.threshold
        missing = [d for d in ds if self.relative_to not in ctx.references.get(d, {})]
        if missing:
            raise LookupError(f"reference level {self.relative_to!r} unknown at d = {missing}")
        return {d: self.threshold * ctx.references[d][self.relative_to] for d in ds}

    def interval(self, ctx: CheckContext, method: str) -> tuple[ExponentFit, tuple[float, float]]:
        """The fit and its bootstrap interval widened by the grid error, open on a censored side."""
        fit = self.fit(ctx, method)  # validates: enough d, usable crossings
        ctx = self._view(ctx)
        tau = self._tau(ctx, sorted({r.d for r in ctx.rows if r.method == method}))
        me = bootstrap_exponent(ctx.trials_or_medians(self.metric), method, tau, self.metric, self.op,
                                n_boot=ctx.n_boot, level=ctx.level, seed=ctx.seed)
        return fit, me.judged_interval

    def _what(self, ctx: CheckContext) -> str:
        rel = f" x {self.relative_to}" if self.relative_to else ""
        rel += " (each trial's own instance)" if rel and ctx.instance_levels else ""
        return f"n* = first n with {self.metric} {self.op} {self.threshold:g}{rel}"


class ExponentOrderingCheck(_ExponentCheck):
    """The first learner's sample complexity grows with a smaller power of d, by at least ``margin``: from the
    bootstrap intervals of the slopes (``exponents.bootstrap_exponent``, censored sides open), PASS when
    ci_hi(methods[i]) + margin < ci_lo(methods[i+1]) for every pair, FAIL when some pair has
    ci_lo(methods[i]) + margin > ci_hi(methods[i+1]) (the data rule the ordering out), else INCONCLUSIVE.
    With margin 0 two equal slopes are never a FAIL, so a claim "smaller power" needs margin > 0 (half the
    predicted gap, say) to be falsifiable."""

    kind: Literal["exponent_ordering"] = Field(default="exponent_ordering", description="check kind (discriminator)")
    methods: list[str] = Field(min_length=2, description="methods in the claimed order, smallest slope first")
    margin: float = Field(0.0, ge=0.0, description="required slope gap (say why in the description)")

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        got = [self.interval(ctx, m) for m in self.methods]
        status: Status = "PASS"
        for (_, (_, a_hi)), (_, (b_lo, _)) in zip(got, got[1:], strict=False):
            if not a_hi + self.margin < b_lo:
                status = "INCONCLUSIVE"
        for (_, (a_lo, _)), (_, (_, b_hi)) in zip(got, got[1:], strict=False):
            if a_lo + self.margin > b_hi:
                status = "FAIL"
        detail = "; ".join(f"{f.describe()} [CI {_fmt(lo)}, {_fmt(hi)}]" for f, (lo, hi) in got)
        detail += f"  [{self._what(ctx)}, margin {self.margin:g}]"
        return CheckResult(self.name, status, detail, {f"{f.method}_slope": f.slope for f, _ in got})


class ExponentBoundCheck(_ExponentCheck):
    """min_slope <= slope(method) <= max_slope (e.g. ~0 for a sample complexity flat in d), from the slope's
    interval (as ``ExponentOrderingCheck``): PASS inside, FAIL disjoint, else INCONCLUSIVE. With neither bound
    it is a measurement reported as INFO (an exponent the paper makes no statement about), never a PASS."""

    kind: Literal["exponent_bound"] = Field(default="exponent_bound", description="check kind (discriminator)")
    method: str = Field(description="method whose slope is bounded")
    min_slope: float | None = Field(default=None, description="lower bound on the slope (None: none; with neither "
                                    "bound the check is INFO)")
    max_slope: float | None = Field(default=None, description="upper bound on the slope (None: none; with neither "
                                    "bound the check is INFO)")

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        f, (lo, hi) = self.interval(ctx, self.method)
        a = -math.inf if self.min_slope is None else self.min_slope
        b = math.inf if self.max_slope is None else self.max_slope
        status: Status = "PASS" if a <= lo and hi <= b else "FAIL" if hi < a or lo > b else "INCONCLUSIVE"
        if self.min_slope is None and self.max_slope is None:  # a measurement the paper states no bound for
            status = "INFO"
        rng = f"[{_fmt(a)}, {_fmt(b)}]"
        detail = f"{f.describe()} [CI {_fmt(lo)}, {_fmt(hi)}] in {rng}  [{self._what(ctx)}]"
        return CheckResult(self.name, status, detail, {"slope": f.slope, "ci_lo": lo, "ci_hi": hi})


# ---- checks across every d of the sweep (error vs d: Safran & Lee 2022) ------------------------------
def _dims(ctx: CheckContext) -> list[int]:
    return sorted({r.d for r in ctx.rows})


class BoundEveryDCheck(_Check):
    """At every d of the sweep: median metric(method) at one end of the kappa grid  op  value, from each
    median's bootstrap interval; FAIL if it fails at any d."""

    kind: Literal["bound_every_d"] = Field(default="bound_every_d", description="check kind (discriminator)")
    method: str = Field(description="method whose metric is bounded at every d")
    metric: MetricName = Field(default="test_mse",
                               description="metric compared, as its median over trials (e.g. test_mse)")
    at: Where = Field(default="kappa_max", description="end of the kappa grid read: kappa_max or kappa_min")
    op: Literal["<", ">"] = Field(default="<", description="the claim at every d: median metric op value")
    value: float = Field(description="the bound, the same at every d")

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        parts, statuses, measured = [], [], {}
        for d in _dims(ctx):
            c = ctx.cell(self.method, self.metric, self.at, d)
            st = side(c.lo, c.hi, self.op, self.value)
            statuses.append(st)
            parts.append(f"d={d}: {c.show()}{_mark(st)}")
            measured[f"d{d}"] = c.median
        status, detail = _verdict(
            statuses,
            f"{self.method} {self.metric} {self.op} {_fmt(self.value)} at every d ({self.at}): " + ", ".join(parts),
        )
        return CheckResult(self.name, status, detail, measured)


class OrderingEveryDCheck(_Check):
    """At every d: metric(methods[1]) / metric(methods[0])  op  factor at one end of the grid, from the bootstrap
    interval of the ratio of medians; FAIL if it fails at any d. ``op=">"`` (default): methods[0] beats
    methods[1] by the factor; ``op="<"``: it does not (e.g. 4x the training steps does not lower the error by
    the factor: a plateau)."""

    kind: Literal["ordering_every_d"] = Field(default="ordering_every_d", description="check kind (discriminator)")
    methods: list[str] = Field(min_length=2, max_length=2, description="[a, b]: the ratio of medians b / a is "
                               "compared with factor")
    metric: MetricName = Field(default="test_mse",
                               description="metric compared, as its median over trials (e.g. test_mse)")
    at: Where = Field(default="kappa_max", description="end of the kappa grid read: kappa_max or kappa_min")
    op: Literal["<", ">"] = Field(default=">", description="'>': methods[0] beats methods[1] by the factor; '<': "
                                  "it does not (a plateau)")
    factor: float = Field(
        ADVANTAGE, ge=1.0,
        description="the ratio methods[1] / methods[0] of the medians is compared with (default 1.25); with 1 "
        "and op '>' a tie could never fail",
    )

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        a, b = self.methods
        parts, statuses, measured = [], [], {}
        for d in _dims(ctx):
            ca, cb = ctx.cell(a, self.metric, self.at, d), ctx.cell(b, self.metric, self.at, d)
            r, lo, hi = ctx.ratio(b, a, self.metric, self.at, d)
            st = side(lo, hi, self.op, self.factor)
            statuses.append(st)
            parts.append(f"d={d}: {ca.show()} vs {cb.show()}, ratio {_fmt(r)} [{_fmt(lo)}, {_fmt(hi)}]{_mark(st)}")
            measured[f"{a}_d{d}"], measured[f"{b}_d{d}"] = ca.median, cb.median
        status, detail = _verdict(
            statuses,
            f"{b} / {a} {self.op} {self.factor:g} ({self.metric}, {self.at}) at every d: " + "; ".join(parts),
        )
        return CheckResult(self.name, status, detail, measured)


class ResourcesEveryDCheck(_Check):
    """At every d: scaling a learner's resources together lowers its error by ``factor``. ``methods = [base,
    scaled]``: ``scaled`` is ``base`` with its width and steps multiplied by ``scale`` (the preset says so), read
    at the largest n of the grid; ``base`` is read at the smallest grid n >= n_max / scale, so that samples grow
    by at most ``scale`` too (the least favourable grid point for the claim). The claim (Safran & Lee 2022, the
    upper bound: any accuracy eps with poly(d, 1/eps) width, steps and samples) is error -> 0 as all
    resources grow, i.e. error ~ R^-alpha with alpha > 0; an error floor (alpha = 0) is its negation. PASS when
    the bootstrap interval of median(base) / median(scaled) lies above ``factor`` at every d, FAIL when it lies
    below at some d. Raising width and steps at a fixed n is not the claim: there the samples bind (a net of
    4 d^2 units fitted on n ~ d^2.75 samples can overfit), and a check of it would fail a correct learner."""

    kind: Literal["resources_every_d"] = Field(default="resources_every_d", description="check kind (discriminator)")
    methods: list[str] = Field(min_length=2, max_length=2, description="[base, scaled]: scaled = base with width "
                               "and steps x scale")
    metric: MetricName = Field(default="test_mse",
                               description="metric compared, as its median over trials (e.g. test_mse)")
    scale: float = Field(gt=1.0, description="the factor by which the scaled method's width and steps exceed the "
                         "base's; the base is read at the smallest grid n >= n_max / scale")
    factor: float = Field(
        ADVANTAGE, gt=1.0,
        description="least ratio median(base) / median(scaled) called a fall (1.25 for scale 4: error ~ R^-alpha "
        "with alpha >= log 1.25 / log 4 = 0.16); a floor gives 1",
    )

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        base, scaled = self.methods
        parts, statuses, measured = [], [], {}
        for d in _dims(ctx):
            top = ctx.cell(scaled, self.metric, "kappa_max", d)
            low = ctx.cell(base, self.metric, "kappa_max", d, n_at_least=top.n / self.scale)
            r, lo, hi = ctx.ratio(base, scaled, self.metric, "kappa_max", d, num_n_at_least=top.n / self.scale)
            st = side(lo, hi, ">", self.factor)
            statuses.append(st)
            parts.append(f"d={d}: {base} at n={low.n} {low.show()} -> {scaled} at n={top.n} {top.show()} "
                         f"(samples x{top.n / max(low.n, 1):.2g}), ratio {_fmt(r)} [{_fmt(lo)}, {_fmt(hi)}]"
                         f"{_mark(st)}")
            measured[f"{base}_d{d}"], measured[f"{scaled}_d{d}"], measured[f"ratio_d{d}"] = low.median, top.median, r
        status, detail = _verdict(
            statuses,
            f"{base} / {scaled} > {self.factor:g} ({self.metric}; width, steps x{self.scale:g} and samples "
            f"x<={self.scale:g}) at every d: " + "; ".join(parts),
        )
        return CheckResult(self.name, status, detail, measured)


class TrajectoryCheck(_Check):
    """A claim about training dynamics (``Preset.record``): a per-trial statistic of the recorded trajectory
    of ``metric`` for ``method`` at one end of the kappa grid (largest d), its median over trials with a
    bootstrap interval against ``value`` (``side``). ``statistic``: ``change`` = value at the last recorded
    step - value at the initialisation (e.g. M_W grows by >= Y); ``excursion`` = the largest |value at a
    recorded step - value at the initialisation| over the whole run (e.g. M_W stays within X of its random
    level); ``final`` = the value at the last step. A sweep that recorded nothing cannot be judged (FAIL with
    the reason)."""

    kind: Literal["trajectory"] = Field(default="trajectory", description="check kind (discriminator)")
    method: str = Field(description="method whose recorded trajectory is judged")
    metric: MetricName = Field(default="overlap_w", description="metric recorded along training (e.g. overlap_w)")
    at: Where = Field(default="kappa_max", description="end of the kappa grid read: kappa_max or kappa_min")
    statistic: Literal["change", "excursion", "final"] = Field(
        default="change", description="per-trial statistic of the trajectory: change (last - init), excursion "
        "(max |value - init| over the run) or final (last)")
    op: Literal["<", ">"] = Field(default=">", description="the claim: median statistic op value")
    value: float = Field(description="the bound of the claim")

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        c = ctx.curve(self.method, self.metric, self.at)
        mat = c.per_trial
        init, last = mat[:, 0], mat[:, -1]
        stat = {"change": last - init, "final": last,
                "excursion": np.nanmax(np.abs(mat - init[:, None]), axis=1)}[self.statistic]
        med, lo, hi = ctx.interval(stat)
        status, detail = _verdict(
            [side(lo, hi, self.op, self.value)],
            f"{self.method} {self.metric} {self.statistic} = {_fmt(med)} [{_fmt(lo)}, {_fmt(hi)}] over "
            f"{c.trials} trials, steps 0..{int(c.steps[-1])} ({len(c.steps)} recorded; init "
            f"{_fmt(float(c.median[0]))}, final {_fmt(float(c.median[-1]))}) at kappa={c.kappa:.3g}, d={c.d}  "
            f"{self.op} {_fmt(self.value)}",
        )
        return CheckResult(self.name, status, detail, {"value": med, "lo": lo, "hi": hi, "bound": self.value,
                                                       "init": float(c.median[0]), "final": float(c.median[-1])})


class MetricOrderingCheck(_Check):
    """Two metrics of ONE learner at one end of the kappa grid (largest d): median(metrics[0]) /
    median(metrics[1]) > ``factor``, e.g. the easy branch's overlap above the hard branch's (``overlap_w_b0``
    vs ``overlap_w_b1`` of a MIGHT target). The two metrics come from the same trials, so the bootstrap is
    paired: trials are resampled together and the ratio of the two medians is taken on each resample; the
    verdict is that interval against ``factor`` (``side``). Two metrics that tie FAIL."""

    kind: Literal["metric_ordering"] = Field(default="metric_ordering", description="check kind (discriminator)")
    method: str = Field(description="the learner whose two metrics are compared")
    metrics: list[MetricName] = Field(min_length=2, max_length=2, description="[high, low]: the claim is "
                                      "median(high) / median(low) > factor")
    at: Where = Field(default="kappa_max", description="end of the kappa grid read: kappa_max or kappa_min")
    factor: float = Field(ADVANTAGE, ge=1.0, description="the least ratio of the medians called an ordering "
                          "(default 1.25); with 1 a tie could never fail")

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        hi_m, lo_m = self.metrics
        row = ctx._row(self.method, self.at, None)
        pairs = [
            (float(r[hi_m]), float(r[lo_m])) for r in ctx.trial_rows
            if r["method"] == self.method and int(r["d"]) == row.d and int(r["n"]) == row.n
            and r.get("status") == "ok" and r.get(hi_m) is not None and r.get(lo_m) is not None
        ]
        a, b = (np.asarray(v, dtype=float) for v in zip(*pairs, strict=True)) if pairs else (
            np.asarray([row.stat(hi_m)]), np.asarray([row.stat(lo_m)]))
        tiny = 1e-12
        point = float((np.median(a) + tiny) / (np.median(b) + tiny))
        if len(a) < 2 or np.isnan(a).any() or np.isnan(b).any():
            lo = hi = point
        else:
            rng = np.random.default_rng([ctx.seed, 3])
            idx = rng.integers(0, len(a), size=(ctx.n_boot, len(a)))
            boot = (np.median(a[idx], axis=1) + tiny) / (np.median(b[idx], axis=1) + tiny)
            lo, hi = ctx._bounds(boot)
        st = side(lo, hi, ">", self.factor)
        status, detail = _verdict([st], (
            f"{self.method}: median {hi_m} {_fmt(float(np.median(a)))} / median {lo_m} {_fmt(float(np.median(b)))}"
            f" = {_fmt(point)} [{_fmt(lo)}, {_fmt(hi)}] over {len(a)} trials (paired bootstrap) at "
            f"kappa={row.kappa:.3g}, d={row.d}; need > {self.factor:g}"
        ))
        return CheckResult(self.name, status, detail, {hi_m: float(np.median(a)), lo_m: float(np.median(b)),
                                                       "ratio": point, "lo": lo, "hi": hi})


def first_reach(steps: np.ndarray, values: np.ndarray, level: float) -> float:
    """The first recorded step whose value is >= ``level`` (at least 1: the initialisation counts as step 1);
    never reached (or only NaN): 2 x the last recorded step, i.e. beyond the run (censored)."""
    hit = np.flatnonzero(np.nan_to_num(values, nan=-np.inf) >= level)
    return float(max(int(steps[hit[0]]), 1)) if len(hit) else float(2 * max(int(steps[-1]), 1))


class ReachesFirstCheck(_Check):
    """Along training (``Preset.record``): ``metrics[0]`` of ``method`` reaches ``level`` earlier than
    ``metrics[1]`` (e.g. the easy branch's overlap before the hard one's), at one end of the kappa grid
    (largest d). Per trial t_m = the first recorded step with value >= level (never reached: 2 x the last step,
    beyond the run; ``first_reach``); the statistic is the paired ratio t_1 / t_0 (how many times longer the
    second metric takes), its median over trials with a bootstrap interval against ``factor`` (``side``).
    The first metric never reaching the level gives a ratio <= 1: a FAIL, as do two metrics reaching it
    together. A sweep that recorded nothing cannot be judged (FAIL with the reason)."""

    kind: Literal["reaches_first"] = Field(default="reaches_first", description="check kind (discriminator)")
    method: str = Field(description="the learner whose recorded trajectories are compared")
    metrics: list[MetricName] = Field(min_length=2, max_length=2, description="[first, later]: first reaches "
                                      "level at least factor times earlier (in training steps) than later")
    level: float = Field(description="the level a metric must reach (value >= level at a recorded step)")
    at: Where = Field(default="kappa_max", description="end of the kappa grid read: kappa_max or kappa_min")
    factor: float = Field(default=2.0, gt=1.0, description="least ratio t_later / t_first of the steps at which "
                          "the level is first reached (2: one doubling of training time; > 1, or a tie passes)")

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        c0 = ctx.curve(self.method, self.metrics[0], self.at)
        c1 = ctx.curve(self.method, self.metrics[1], self.at)
        if c0.per_trial.shape != c1.per_trial.shape or not np.array_equal(c0.steps, c1.steps):
            raise LookupError(f"{self.metrics[0]} and {self.metrics[1]} were recorded at different steps")
        t0 = np.array([first_reach(c0.steps, v, self.level) for v in c0.per_trial])
        t1 = np.array([first_reach(c1.steps, v, self.level) for v in c1.per_trial])
        ratio = t1 / t0
        med, lo, hi = ctx.interval(ratio)
        beyond = 2 * max(int(c0.steps[-1]), 1)

        def show(t: np.ndarray) -> str:
            return ", ".join("never" if x >= beyond else str(int(x)) for x in t)

        status, detail = _verdict(
            [side(lo, hi, ">", self.factor)],
            f"{self.method}: first step with value >= {self.level:g}: {self.metrics[0]} [{show(t0)}], "
            f"{self.metrics[1]} [{show(t1)}] (never: counted as {beyond}, beyond the last step "
            f"{int(c0.steps[-1])}); ratio later/first median {_fmt(med)} [{_fmt(lo)}, {_fmt(hi)}] over "
            f"{len(ratio)} trials at kappa={c0.kappa:.3g}, d={c0.d}; need > {self.factor:g}",
        )
        return CheckResult(self.name, status, detail, {"ratio": med, "lo": lo, "hi": hi,
                                                       "t_first": float(np.median(t0)),
                                                       "t_later": float(np.median(t1))})


class PredictionCheck(_Check):
    """The measured exponent of ``method`` against the preset's prediction for it (``theory.compare``): the
    slope of log n* vs log d over >= 3 d, its bootstrap interval against the prediction's band (tolerance
    with its reason, plus the polylog allowance) unless ``tolerance`` is given. PASS when the interval lies in
    the band, FAIL when it lies outside, INCONCLUSIVE when it straddles an edge, is wider than the band or
    nothing was measured, INFO (no verdict) with fewer than 3 d."""

    kind: Literal["prediction"] = Field(default="prediction", description="check kind (discriminator)")
    method: str = Field(description="method whose measured exponent is compared with the preset's prediction for it")
    quantity: Literal["auto", "kappa", "slope"] = Field(
        default="auto", description="'slope' over the sweep's d, 'kappa' at the largest d (information only), "
        "'auto': the slope with >= 2 d")
    tolerance: float | None = Field(default=None, ge=0.0, description="half-width of the accepted band, replacing "
                                    "the prediction's (tolerance + allowances); None: the prediction's")

    def evaluate(self, ctx: CheckContext) -> CheckResult:
        pred = ctx.predictions.get(self.method)
        if pred is None:
            raise LookupError(f"the preset has no prediction for {self.method!r}")
        me = ctx.exponent(self.method)
        c = compare(me, pred, self.quantity, self.tolerance)
        detail = f"{c.describe()}  [n* = first n with {me.threshold}; {pred.source}]"
        return CheckResult(
            self.name, c.status, detail,
            {"measured": c.measured, "predicted": c.predicted, "ci_lo": c.ci[0], "ci_hi": c.ci[1]},
        )


CheckConfig = Annotated[
    OrderingCheck
    | BoundCheck
    | RiseCheck
    | LeavesTrivialCheck
    | ExponentOrderingCheck
    | ExponentBoundCheck
    | BoundEveryDCheck
    | OrderingEveryDCheck
    | ResourcesEveryDCheck
    | TrajectoryCheck
    | RelationCheck
    | MetricOrderingCheck
    | ReachesFirstCheck
    | PredictionCheck,
    Field(discriminator="kind"),
]


STATUSES: tuple[Status, ...] = ("PASS", "FAIL", "INCONCLUSIVE", "INFO")


def summarize(results: list[CheckResult]) -> str:
    """'3 PASS, 1 FAIL, 2 INCONCLUSIVE, 1 INFO' (statuses that occur, in this order)."""
    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    return ", ".join(f"{k} {s}" for s, k in counts.items() if k) or "no checks"


def exit_code(results: list[CheckResult]) -> int:
    """``depthlab check``'s exit status: 1 if any check FAILs, else 3 if any is INCONCLUSIVE, else 0."""
    if any(r.status == "FAIL" for r in results):
        return 1
    return 3 if any(r.status == "INCONCLUSIVE" for r in results) else 0


def run_checks(checks: list[CheckConfig], ctx: CheckContext) -> list[CheckResult]:
    """Evaluate every check; a check the data cannot decide (``Undecided``) gets its INFO / INCONCLUSIVE status,
    one that cannot be evaluated (a method or reference level missing) is a FAIL saying why."""
    out = []
    for c in checks:
        try:
            out.append(c.evaluate(ctx))
        except Undecided as e:
            out.append(CheckResult(c.name, e.status, f"undecided: {e}"))
        except (LookupError, ValueError) as e:
            out.append(CheckResult(c.name, False, f"cannot evaluate: {e}"))
    return out
