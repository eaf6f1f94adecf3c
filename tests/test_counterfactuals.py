"""Every check of every preset is falsifiable: on planted results where the paper's claim holds it PASSes, on
planted results where the claim is false it FAILs (no training; results are built per trial on the preset's own
grid of d and n, with the preset's own thresholds and predictions).

The counterfactuals are the natural negation of each claim: no advantage (the compared learners tie), no rise
(the overlap stays at its starting level), no learning at one d (a claim "at every d" broken at the largest),
a sample-complexity slope outside the predicted band, equal slopes where one learner should need a smaller
power of d. Exponent predictions of single-d presets give INFO (no verdict from one d) whatever the results;
they are tested on the same preset over three d.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from depthlab.analysis import aggregate
from depthlab.checks import (
    BoundCheck,
    BoundEveryDCheck,
    CheckContext,
    ExponentBoundCheck,
    ExponentOrderingCheck,
    LeavesTrivialCheck,
    MetricOrderingCheck,
    OrderingCheck,
    OrderingEveryDCheck,
    PredictionCheck,
    ReachesFirstCheck,
    RelationCheck,
    ResourcesEveryDCheck,
    RiseCheck,
    TrajectoryCheck,
    run_checks,
)
from depthlab.learners.common import log_points
from depthlab.presets import Preset, all_presets, apply_overrides
from depthlab.theory import Threshold
from depthlab.trajectories import summarize

REFS = {"trivial": 1.0, "best_quadratic": 0.3, "best_linear_h": 0.2, "best_quartic_z": 0.1, "best_degree_1": 0.9,
        "best_degree_2": 0.4}
METRICS = ("test_mse", "overlap_w", "overlap_h", "feature_corr", "class_error")
NOISE = 0.02  # relative trial-to-trial spread of the planted flat and ramp values
BASE = 0.5  # every metric of every learner the check does not name: flat at this level


class World:
    """Planted per-trial results: curve(method, metric) -> f(d, n, kappa, z) with z the trial's jitter."""

    def __init__(self, preset: Preset):
        self.preset = preset
        self.curves: dict[tuple[str, str], Any] = {}
        self.paths: dict[tuple[str, str], Any] = {}  # (method, metric) -> f(t, z): along training, t in [0, 1]

    def set(self, method: str, metric: str, f: Any) -> None:
        self.curves[(method, metric)] = f

    def flat(self, method: str, metric: str, value: float, only_d: int | None = None, other: float = BASE) -> None:
        """``value`` (``other`` at d other than ``only_d``), with 2% trial noise: the verdicts come from
        intervals, and the planted worlds must be decided through them, not from collapsed ones."""
        self.set(method, metric, lambda d, n, k, z: (value if only_d in (None, d) else other) * (1 + NOISE * z))

    def ramp(self, method: str, metric: str, start: float, end: float) -> None:
        k0, k1 = self.preset.kappa_min, self.preset.kappa_max
        self.set(method, metric, lambda d, n, k, z: (start + (end - start) * (k - k0) / max(k1 - k0, 1e-12))
                 * (1 + NOISE * z))

    def path(self, method: str, metric: str, f: Any) -> None:
        """A planted trajectory: the metric at training fraction t in [0, 1] of a trial with jitter z (every cell
        of the method)."""
        self.paths[(method, metric)] = f

    def law(self, method: str, th: Threshold, slope: float) -> None:
        """n*(d) = C d^slope for ``th`` (median crossing), with C placing the crossings mid-grid."""
        ds = self.preset.ds
        k_mid = (self.preset.kappa_min + self.preset.kappa_max) / 2
        # kappa*(d) = slope + log C / log d: centre its range over the sweep's d on the grid's middle
        log_c = (k_mid - slope) * 2 / (1 / math.log(min(ds)) + 1 / math.log(max(ds)))
        for d in ds:  # the planted crossing must lie inside the grid, or the test is not testing the check
            kstar = slope + log_c / math.log(d)
            assert self.preset.kappa_min + 0.1 < kstar < self.preset.kappa_max - 0.1, (self.preset.name, d, kstar)
        scale = 1.0 if th.relative_to is None else REFS[th.relative_to]
        frac = th.value / scale  # the crossing level as a fraction of the curve's range (0, scale)
        assert 0 < frac < 1

        def f(d: int, n: int, k: float, z: float) -> float:
            nstar = math.exp(log_c + slope * math.log(d) + 0.01 * z)  # trial noise: 1% in n*
            if th.op == "<":  # g = scale / (1 + (n / n0)^2) falls through frac * scale at n = nstar
                n0 = nstar / math.sqrt(1 / frac - 1)
                return scale / (1 + (n / n0) ** 2)
            n0 = nstar / math.sqrt(frac / (1 - frac))  # scale (n/n0)^2 / (1 + (n/n0)^2) rises through it
            return scale * (n / n0) ** 2 / (1 + (n / n0) ** 2)

        self.set(method, th.metric, f)

    def context(self, trials: int = 20, seed: int = 0, instances: bool = False) -> CheckContext:
        """The planted sweep. ``instances``: every trial's target instance has its own law (a hierarchical
        target's a* signs): its reference levels are REFS x s_t, s_t = exp(0.25 u_t) spread over trials (as
        E f*^2 spreads 0.44-0.69 over dandi2025-deep-quick's instances), and its test_mse is the planted value
        x s_t, i.e. the planted value is the error in units of the trial's own levels; the checks get the
        per-trial levels (``instance_levels``) and one instance's levels (REFS) as ``references``."""
        p, rng, rows = self.preset, np.random.default_rng(seed), []
        spread = {t: math.exp(0.25 * float(u)) if instances else 1.0
                  for t, u in enumerate(np.random.default_rng([seed, 7]).standard_normal(trials))}
        metrics = (*METRICS, *sorted({m for _, m in self.curves} - set(METRICS)))  # e.g. per-branch overlaps
        for method in p.methods:
            for d in p.ds:
                for kappa, n in p.grid(d):
                    for t in range(trials):
                        z = float(rng.standard_normal())
                        row = {"preset": p.name, "method": method, "d": d, "n": n, "kappa": kappa, "trial": t,
                               "status": "ok"}
                        for m in metrics:
                            f = self.curves.get((method, m))
                            row[m] = f(d, n, kappa, z) if f else BASE
                        row["test_mse"] *= spread[t]
                        rows.append(row)
        steps = (0, *log_points(1000, 20))
        along = [{"method": m, "d": r["d"], "n": r["n"], "kappa": r["kappa"], "trial": r["trial"], "step": s,
                  "stage": "init" if s == 0 else "train", "metric": metric, "value": f(s / steps[-1], z)}
                 for (m, metric), f in self.paths.items() for r in rows if r["method"] == m
                 for z in [float(rng.standard_normal())] for s in steps]
        return CheckContext(aggregate(rows), {d: REFS for d in p.ds}, trial_rows=rows,
                            predictions=p.predictions, thresholds={m: p.threshold_for(m) for m in p.methods},
                            n_boot=200, curves=summarize(along),
                            instance_levels=(lambda d, t: {k: v * spread[t] for k, v in REFS.items()})
                            if instances else None)


def _bound_value(c: BoundCheck) -> float:
    return c.factor * REFS[c.reference] if c.reference is not None else float(c.value)


def _side(op: str, bound: float, right: bool) -> float:
    """A value on the right (claim holds) or wrong side of ``op bound``."""
    up = (op == ">") == right
    return bound * 1.3 + 0.01 if up else bound * 0.7 - 0.01


def _prediction_slopes(preset: Preset, c: PredictionCheck) -> tuple[float, float]:
    pred = preset.predictions[c.method]
    s, tol = pred.slope_over(preset.ds), pred.tolerance_over(preset.ds)
    holds = {"rate": s, "upper": s - 0.3, "lower": s + 0.15}[pred.relation]
    fails = {"rate": s + tol + 0.6, "upper": s + tol + 0.6, "lower": s - tol - 0.6}[pred.relation]
    return holds, fails


def _trajectory(check: TrajectoryCheck, right: bool) -> Any:
    """A path whose statistic lies on the right (claim holds) or wrong side of the check's bound: from 0.4 at
    initialisation, a linear change (``change``, ``final``) or a bump peaking mid-run (``excursion``)."""
    b, up = check.value, (check.op == ">") == right
    if check.statistic == "excursion":  # |bump| = s >= 0
        s = b * 1.5 + 0.01 if up else b * 0.5
        return lambda t, z: 0.4 + s * (1 + NOISE * z) * math.sin(math.pi * t)
    s = b + (abs(b) * 0.5 + 0.05) * (1 if up else -1)
    if check.statistic == "final":
        return lambda t, z: 0.4 + (s * (1 + NOISE * z) - 0.4) * t
    return lambda t, z: 0.4 + s * (1 + NOISE * z) * t


def _reaches(level: float, t_hit: float) -> Any:
    """A path rising linearly from level / 2 at initialisation through ``level`` at training fraction t_hit."""
    return lambda t, z: level * (0.5 + 0.5 * t / t_hit) * (1 + NOISE * z)


def build(preset: Preset, check: Any, claim_holds: bool, instances: bool = False) -> CheckContext:
    w = World(preset)
    d_top = max(preset.ds)
    if isinstance(check, OrderingCheck):  # counterfactual: no advantage, every learner ties
        for i, m in enumerate(check.methods):
            w.flat(m, check.metric, 0.1 * (i + 1) if claim_holds else 0.1)
    elif isinstance(check, BoundCheck):
        w.flat(check.method, check.metric, _side(check.op, _bound_value(check), claim_holds))
    elif isinstance(check, RiseCheck):  # counterfactual: stays at its starting level
        end = check.min_final * 1.1
        w.ramp(check.method, check.metric, end / (2 * check.min_ratio) if claim_holds else end, end)
    elif isinstance(check, LeavesTrivialCheck):  # counterfactual: the first learner never leaves E f*^2
        triv = REFS["trivial"]
        for i, m in enumerate(check.methods):
            start = min(1.0, check.start_fraction + 0.05) * triv
            learns = claim_holds or i > 0
            w.ramp(m, "test_mse", start, 0.5 * check.end_fraction * triv if learns else start)
    elif isinstance(check, ExponentOrderingCheck):  # counterfactual: equal powers of d
        th = Threshold(metric=check.metric, op=check.op, value=check.threshold, relative_to=check.relative_to)
        s0 = preset.kappa_min + 0.3
        for i, m in enumerate(check.methods):
            w.law(m, th, s0 + (i * (check.margin + 0.8) if claim_holds else 0.0))
    elif isinstance(check, ExponentBoundCheck):  # counterfactual: a slope 0.6 beyond the bound
        th = Threshold(metric=check.metric, op=check.op, value=check.threshold, relative_to=check.relative_to)
        lo, hi = check.min_slope, check.max_slope
        if lo is None and hi is None:  # no bound: any two slopes (the check reports INFO)
            inside, outside = preset.kappa_min + 0.3, preset.kappa_min + 1.0
        else:
            inside = (lo + hi) / 2 if lo is not None and hi is not None else (
                hi - 1.5 if hi is not None else lo + 1.5)
            outside = hi + 0.6 if hi is not None else lo - 0.6
        w.law(check.method, th, inside if claim_holds else outside)
    elif isinstance(check, BoundEveryDCheck):  # counterfactual: broken at the largest d only
        good, bad = (_side(check.op, check.value, r) for r in (True, False))
        w.flat(check.method, check.metric, good if claim_holds else bad, only_d=None if claim_holds else d_top,
               other=good)
    elif isinstance(check, OrderingEveryDCheck):  # counterfactual: the ratio crosses the factor at the top d
        a, b = check.methods
        good, bad = (2.0, 0.9) if check.op == ">" else (0.9, 2.0)
        w.flat(a, check.metric, 0.1)
        w.flat(b, check.metric, 0.1 * check.factor * (good if claim_holds else bad), only_d=None if claim_holds
               else d_top, other=0.1 * check.factor * good)
    elif isinstance(check, ResourcesEveryDCheck):  # counterfactual: an error floor at the top d
        base, scaled = check.methods
        w.flat(base, check.metric, 0.05)  # the floor: 4x the resources leave the error where it is
        w.flat(scaled, check.metric, 0.05 / (2 * check.factor) if claim_holds else 0.05 * 1.05,
               only_d=None if claim_holds else d_top, other=0.05 / (2 * check.factor))
    elif isinstance(check, RelationCheck):  # counterfactual: y does not depend on x (rank correlation ~0)
        w.ramp(check.method, check.x, 0.1, 0.95)
        sign = -1.0 if check.op == "<" else 1.0  # the claimed direction of the relation
        if claim_holds:
            w.ramp(check.method, check.y, 0.5 - 0.4 * sign, 0.5 + 0.4 * sign)
        else:
            mid, half = (preset.kappa_min + preset.kappa_max) / 2, (preset.kappa_max - preset.kappa_min) / 2
            # a tent in kappa, symmetric about the grid's middle: y rises then falls as x rises, rho ~ 0
            w.set(check.method, check.y, lambda d, n, k, z: (0.5 - 0.3 * ((k - mid) / half) ** 2) * (1 + NOISE * z))
    elif isinstance(check, TrajectoryCheck):  # counterfactual: the statistic on the other side of its bound
        w.path(check.method, check.metric, _trajectory(check, claim_holds))
    elif isinstance(check, MetricOrderingCheck):  # counterfactual: the two metrics tie
        high, low = check.metrics
        w.flat(check.method, low, 0.1)
        w.flat(check.method, high, 0.1 * check.factor * 2 if claim_holds else 0.1)
    elif isinstance(check, ReachesFirstCheck):  # counterfactual: both reach the level at the same time
        first, later = check.metrics
        w.path(check.method, first, _reaches(check.level, 0.02 if claim_holds else 0.3))
        w.path(check.method, later, _reaches(check.level, 0.02 * check.factor * 8 if claim_holds else 0.3))
    elif isinstance(check, PredictionCheck):
        holds, fails = _prediction_slopes(preset, check)
        w.law(check.method, preset.threshold_for(check.method), holds if claim_holds else fails)
    else:
        raise AssertionError(f"no counterfactual for check kind {type(check).__name__}: add one")
    return w.context(instances=instances)


def check_min_ds(check: Any) -> int:
    """How many d a slope verdict needs (a prediction: 3; an exponent bound: its min_ds)."""
    return 3 if isinstance(check, PredictionCheck) else check.min_ds


def _multi_d(preset: Preset) -> Preset:
    """The preset over three d, on a grid fine enough to place n* (for exponent predictions of single-d
    presets), on a grid fine enough that the interpolation error of n* (part of the measured interval) does
    not swamp a sharp prediction's band."""
    d = preset.ds[0]
    return apply_overrides(preset, [f"d={d},{3 * d // 2},{2 * d}", f"num_kappa={max(preset.num_kappa, 40)}"])


CASES = [(p.name, i, c.name) for p in all_presets() for i, c in enumerate(p.all_checks())]


@pytest.mark.parametrize(("preset_name", "index", "check_name"), CASES, ids=[f"{a}:{c}" for a, _, c in CASES])
def test_check_passes_where_the_claim_holds_and_fails_where_it_is_false(preset_name, index, check_name):
    preset = next(p for p in all_presets() if p.name == preset_name)
    check = preset.all_checks()[index]
    if isinstance(check, ExponentBoundCheck) and check.min_slope is None and check.max_slope is None:
        for holds in (True, False):  # a measurement without a stated bound: information whatever the slope
            (res,) = run_checks([check], build(preset, check, holds))
            assert res.status == "INFO", res.detail
        return
    if isinstance(check, PredictionCheck | ExponentBoundCheck) and len(preset.ds) < check_min_ds(check):
        for holds in (True, False):  # one d: information, never a verdict
            (res,) = run_checks([check], build(preset, check, holds))
            assert res.status == "INFO", res.detail
        preset = _multi_d(preset)
        check = next(c for c in preset.all_checks() if c.name == check_name)
    (good,) = run_checks([check], build(preset, check, True))
    (bad,) = run_checks([check], build(preset, check, False))
    assert good.status == "PASS", good.detail
    assert bad.status == "FAIL", bad.detail


def _judges_test_mse_relatively(check: Any) -> bool:
    return (isinstance(check, LeavesTrivialCheck)
            or (isinstance(check, BoundCheck) and check.reference is not None and check.metric == "test_mse")
            or (isinstance(check, RelationCheck) and check.relative_to_trivial and check.y == "test_mse")
            or (isinstance(check, ExponentOrderingCheck | ExponentBoundCheck) and check.relative_to is not None
                and check.metric == "test_mse"))


INSTANCE_CASES = [(p.name, i, c.name) for p in all_presets() for i, c in enumerate(p.all_checks())
                  if getattr(p.target, "family", "") in ("sight", "might", "deep") and (
                      _judges_test_mse_relatively(c) or isinstance(c, PredictionCheck))
                  and not (isinstance(c, ExponentBoundCheck) and c.min_slope is None and c.max_slope is None)]


@pytest.mark.parametrize(("preset_name", "index", "check_name"), INSTANCE_CASES,
                         ids=[f"{a}:{c}" for a, _, c in INSTANCE_CASES])
def test_checks_judge_each_trial_against_its_own_instances_levels(preset_name, index, check_name):
    """A hierarchical target's law depends on its instance: the same planted worlds, each trial's errors and
    levels scaled by its instance's own factor, give the same verdicts when every trial is judged against its
    own instance's levels."""
    preset = next(p for p in all_presets() if p.name == preset_name)
    check = preset.all_checks()[index]
    if isinstance(check, PredictionCheck | ExponentBoundCheck) and len(preset.ds) < check_min_ds(check):
        preset = _multi_d(preset)
        check = next(c for c in preset.all_checks() if c.name == check_name)
    if isinstance(check, PredictionCheck) and preset.threshold_for(check.method).relative_to is None:
        pytest.skip("an absolute threshold: no reference level involved")
    (good,) = run_checks([check], build(preset, check, True, instances=True))
    (bad,) = run_checks([check], build(preset, check, False, instances=True))
    assert good.status == "PASS", good.detail
    assert bad.status == "FAIL", bad.detail


def _instance_ctx(own: list[float], reference: float, ratio_start: float, ratio_end: float) -> CheckContext:
    """One d, two n; trial t's instance has E f*^2 = own[t] and the learner's test_mse is ratio x own[t];
    ``reference`` is E f*^2 of the one instance ``references`` holds."""
    rows = [{"preset": "p", "method": "m", "d": 32, "n": n, "kappa": kappa, "trial": t, "status": "ok",
             "test_mse": ratio * e * (1 + 0.01 * (t % 3))}
            for n, kappa, ratio in ((32, 1.0, ratio_start), (1024, 2.0, ratio_end)) for t, e in enumerate(own)]
    return CheckContext(aggregate(rows), {32: {"trivial": reference}}, trial_rows=rows, n_boot=500,
                        instance_levels=lambda d, t: {"trivial": own[t]})


def _one_instance(ctx: CheckContext) -> CheckContext:
    """The same trials judged against the one instance's levels ``references`` (as before per-instance levels)."""
    return CheckContext(ctx.rows, ctx.references, trial_rows=ctx.trial_rows, n_boot=500)


def test_leaving_the_trivial_level_is_judged_against_each_trials_own_level():
    """Both ways one instance's E f*^2 misjudges trials whose own levels differ from it (dandi2025-deep-quick:
    seed 0's 0.43 against per-trial 0.44-0.69). A learner that ends at 0.75 of its own E f*^2 has not fallen
    to 0.7 x: against a level 10% above the trials' own it passes, against its own it FAILs. A learner that
    falls to 0.5 x its own level has: against a level a third below the trials' own it fails, against its own
    it PASSes."""
    check = LeavesTrivialCheck(name="leaves", methods=["m"], start_fraction=0.8, end_fraction=0.7)
    own = [0.59, 0.6, 0.61, 0.6, 0.59, 0.61, 0.6, 0.6]
    short = _instance_ctx(own, 1.1 * 0.6, 1.0, 0.75)
    (res,) = run_checks([check], short)
    assert res.status == "FAIL", res.detail
    assert "own E f*^2" in res.detail
    (wrong,) = run_checks([check], _one_instance(short))
    assert wrong.status == "PASS", wrong.detail
    learns = _instance_ctx([0.6 + 0.01 * t for t in range(8)], 0.43, 1.0, 0.5)
    (res,) = run_checks([check], learns)
    assert res.status == "PASS", res.detail
    (wrong,) = run_checks([check], _one_instance(learns))
    assert wrong.status == "FAIL", wrong.detail


def test_a_bound_relative_to_a_level_reads_each_trials_own_level():
    check = BoundCheck(name="b", method="m", op="<", reference="trivial", factor=0.5)
    own = [0.6, 0.7, 0.65, 0.62, 0.68]
    (res,) = run_checks([check], _instance_ctx(own, 0.43, 1.0, 0.4))  # 0.4 x own < 0.5 x own: holds
    assert res.status == "PASS", res.detail
    assert res.measured["value"] == pytest.approx(0.4, rel=0.03)
    (res,) = run_checks([check], _instance_ctx(own, 0.43, 1.0, 0.6))
    assert res.status == "FAIL", res.detail


def test_every_check_kind_used_by_a_preset_has_a_counterfactual():
    kinds = {type(c).__name__ for p in all_presets() for c in p.all_checks()}
    handled = {"OrderingCheck", "BoundCheck", "RiseCheck", "LeavesTrivialCheck", "ExponentOrderingCheck",
               "ExponentBoundCheck",
               "BoundEveryDCheck", "OrderingEveryDCheck", "ResourcesEveryDCheck", "TrajectoryCheck",
               "RelationCheck", "PredictionCheck", "MetricOrderingCheck", "ReachesFirstCheck"}
    assert kinds <= handled, kinds - handled


def test_the_checks_table_in_the_docs_is_current():
    from pathlib import Path

    from depthlab.checks.doc import markdown

    doc = Path(__file__).resolve().parents[1] / "docs" / "CHECKS.md"
    assert doc.read_text() == markdown(), "regenerate: python -m depthlab.checks.doc > docs/CHECKS.md"


# ---- verdicts from intervals, where a point estimate would have decided ------------------------------
def _ctx(values: dict[str, list[float]], metric: str = "test_mse") -> CheckContext:
    """One d, two n; each method's trials at the largest n have the given values (smallest n: 1.0)."""
    rows = []
    for m, vals in values.items():
        for n, kappa, vs in ((32, 1.0, [1.0] * len(vals)), (1024, 2.0, vals)):
            rows += [{"preset": "p", "method": m, "d": 32, "n": n, "kappa": kappa, "trial": t, "status": "ok",
                      metric: v} for t, v in enumerate(vs)]
    return CheckContext(aggregate(rows), {32: REFS}, trial_rows=rows, n_boot=500)


def test_ordering_with_overlapping_trials_is_inconclusive_not_pass():
    # medians 0.11 vs 0.35 (ratio 3.2, a PASS from the medians) but one trial of each crosses the other
    ctx = _ctx({"a": [0.10, 0.11, 0.30], "b": [0.13, 0.35, 0.40]})
    assert OrderingCheck(name="o", methods=["a", "b"]).evaluate(ctx).status == "INCONCLUSIVE"
    apart = _ctx({"a": [0.10, 0.11, 0.12], "b": [0.33, 0.35, 0.40]})
    assert OrderingCheck(name="o", methods=["a", "b"]).evaluate(apart).status == "PASS"
    tie = _ctx({"a": [0.10, 0.11, 0.12], "b": [0.10, 0.115, 0.12]})
    res = OrderingCheck(name="o", methods=["a", "b"]).evaluate(tie)
    assert res.status == "FAIL", res.detail  # a tie is no advantage: below the 1.25 factor in the whole interval


def test_bound_straddling_its_value_is_inconclusive():
    ctx = _ctx({"a": [0.04, 0.045, 0.06]})
    assert BoundCheck(name="b", method="a", op="<", value=0.05).evaluate(ctx).status == "INCONCLUSIVE"
    assert BoundCheck(name="b", method="a", op="<", value=0.07).evaluate(ctx).status == "PASS"
    assert BoundCheck(name="b", method="a", op="<", value=0.035).evaluate(ctx).status == "FAIL"
    assert BoundCheck(name="b", method="a", op=">", value=0.035).evaluate(ctx).status == "PASS"


def test_every_d_checks_combine_per_d_verdicts():
    rows = []
    for d, vals in ((8, [0.01, 0.012, 0.011]), (16, [0.02, 0.06, 0.04])):  # d=16 straddles 0.05
        for n, kappa, vs in ((8, 1.0, [1.0] * 3), (4096, 3.0, vals)):
            rows += [{"preset": "p", "method": "a", "d": d, "n": n, "kappa": kappa, "trial": t, "status": "ok",
                      "test_mse": v} for t, v in enumerate(vs)]
    ctx = CheckContext(aggregate(rows), {8: REFS, 16: REFS}, trial_rows=rows, n_boot=500)
    res = BoundEveryDCheck(name="b", method="a", value=0.05).evaluate(ctx)
    assert res.status == "INCONCLUSIVE" and "more trials" in res.detail
    assert BoundEveryDCheck(name="b", method="a", value=0.015).evaluate(ctx).status == "FAIL"


def test_a_diverged_trial_is_left_out_of_the_interval_as_of_the_median():
    ctx = _ctx({"a": [0.04, 0.041, 0.042]})
    ctx.trial_rows.append({"preset": "p", "method": "a", "d": 32, "n": 1024, "kappa": 2.0, "trial": 3,
                           "status": "diverged", "test_mse": None})
    c = ctx.cell("a", "test_mse", "kappa_max")
    assert c.trials == 3 and c.median == pytest.approx(0.041)


def test_a_slope_claim_is_not_judged_from_one_d_nor_from_an_unmeasured_baseline():
    preset = next(p for p in all_presets() if p.name == "nichani2023-separation")
    check = next(c for c in preset.all_checks() if isinstance(c, ExponentOrderingCheck))
    one_d = apply_overrides(preset, ["d=16"])
    (res,) = run_checks([check], build(one_d, check, True))
    assert res.status == "INFO", res.detail
    w = World(preset)  # the baseline never reaches the bound at any d: its slope is unknown, not large
    th = Threshold(metric=check.metric, op=check.op, value=check.threshold, relative_to=check.relative_to)
    w.law(check.methods[0], th, preset.kappa_min + 0.3)
    w.flat(check.methods[1], check.metric, 0.5)
    (res,) = run_checks([check], w.context())
    assert res.status == "INCONCLUSIVE" and "not measured" in res.detail, res.detail


def test_resources_check_reads_the_base_at_a_quarter_of_the_samples():
    """The base learner is read at the smallest grid n >= n_max / scale, not at n_max: a base whose error falls
    only with n, and a scaled learner equal to the base at n_max, is a floor in width and steps; the ratio is
    then base(n >= n_max / 4) / base(n_max), which with error = 1/n is the samples ratio of those cells."""
    rows = []
    for n in (100, 200, 400, 800, 1600):
        for t in range(6):
            z = 1 + 0.01 * (t - 2.5)
            rows += [{"preset": "p", "method": "base", "d": 16, "n": n, "kappa": math.log(n, 16), "trial": t,
                      "status": "ok", "test_mse": z / n},
                     {"preset": "p", "method": "big", "d": 16, "n": n, "kappa": math.log(n, 16), "trial": t,
                      "status": "ok", "test_mse": z / n}]
    ctx = CheckContext(aggregate(rows), {16: REFS}, trial_rows=rows, n_boot=300)
    res = ResourcesEveryDCheck(name="r", methods=["base", "big"], scale=4.0, factor=1.25).evaluate(ctx)
    assert res.passed, res.detail  # base at n = 400 vs big at 1600: ratio 4
    assert res.measured["ratio_d16"] == pytest.approx(4.0, rel=0.01)
    assert "n=400" in res.detail
    res = ResourcesEveryDCheck(name="r", methods=["base", "big"], scale=1.5, factor=1.25).evaluate(ctx)
    assert res.measured["ratio_d16"] == pytest.approx(1.0, rel=0.01)  # n >= 1067: base at 1600 itself, a tie
    assert res.status == "FAIL", res.detail


@pytest.mark.parametrize("p", [3, 5])
def test_degree_floor_checks_against_the_targets_own_reference_levels(p):
    """The floor checks with the levels the target computes at d = 16 (not the planted REFS): a kernel at its
    floor (x 1.05) and a net at a third of it PASS; a 'kernel' at 0.6 x the floor (no degree-2 predictor can be
    there) and a net stuck at the floor (it found only the degree-2 part) FAIL."""
    preset = next(q for q in all_presets() if q.name == f"nichani2023-degree-{p}-quick")
    refs = {d: preset.target_for(d).reference_levels() for d in preset.ds}
    floor = refs[max(preset.ds)]["best_degree_2"]
    checks = {c.name: c for c in preset.checks}
    kernel = checks["quadratic kernel stays at its degree-2 floor"]
    net = checks["3-layer learns what no degree-2 predictor can"]
    for check, holds, fails in ((kernel, 1.05, 0.6), (net, 0.33, 1.0)):
        for level, want in ((holds, "PASS"), (fails, "FAIL")):
            w = World(preset)
            w.flat(check.method, "test_mse", level * floor)
            ctx = w.context()
            ctx.references = refs
            (res,) = run_checks([check], ctx)
            assert res.status == want, res.detail
            assert res.measured["bound"] == pytest.approx(check.factor * floor)


def test_spearman_is_the_rank_correlation():
    from depthlab.checks import spearman

    x = np.array([0.1, 0.5, 0.2, 0.9, 0.7])
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)  # any increasing function
    assert spearman(x, -(x**3)) == pytest.approx(-1.0)
    assert spearman(np.arange(5.0), np.array([0.0, 2, 4, 3, 1])) == pytest.approx(0.3)  # by hand: 3 / 10
# ---- two metrics of one learner, and which recorded metric reaches a level first ------------------------
def _branch_ctx(b0: list[float], b1: list[float]) -> CheckContext:
    rows = [{"preset": "p", "method": "a", "d": 32, "n": n, "kappa": k, "trial": t, "status": "ok",
             "overlap_w_b0": v0 if k == 2.0 else 0.4, "overlap_w_b1": v1 if k == 2.0 else 0.4}
            for n, k in ((32, 1.0), (1024, 2.0)) for t, (v0, v1) in enumerate(zip(b0, b1, strict=True))]
    return CheckContext(aggregate(rows), {32: REFS}, trial_rows=rows, n_boot=500)


def test_metric_ordering_is_paired_per_trial_and_a_tie_fails():
    check = MetricOrderingCheck(name="m", method="a", metrics=["overlap_w_b0", "overlap_w_b1"], factor=1.25)
    res = check.evaluate(_branch_ctx([0.8, 0.82, 0.79, 0.81], [0.4, 0.41, 0.39, 0.4]))
    assert res.status == "PASS" and res.measured["ratio"] == pytest.approx(2.0, rel=0.03), res.detail
    assert check.evaluate(_branch_ctx([0.4, 0.41, 0.42], [0.4, 0.41, 0.42])).status == "FAIL"
    # the wrong order (the "hard" branch learned instead) fails too
    assert check.evaluate(_branch_ctx([0.4, 0.41, 0.39], [0.8, 0.82, 0.79])).status == "FAIL"
    assert check.evaluate(_branch_ctx([0.8, 0.45, 0.8], [0.4, 0.41, 0.4])).status == "INCONCLUSIVE"


def _reach_ctx(paths: dict[str, list[list[float]]]) -> CheckContext:
    steps = [0, 1, 2, 4, 8, 16, 32, 64]
    along = [{"method": "a", "d": 32, "n": 1024, "kappa": 2.0, "trial": t, "step": s,
              "stage": "init" if s == 0 else "train", "metric": m, "value": v}
             for m, trials in paths.items() for t, vals in enumerate(trials) for s, v in zip(steps, vals, strict=True)]
    rows = [{"preset": "p", "method": "a", "d": 32, "n": 1024, "kappa": 2.0, "trial": 0, "status": "ok",
             "test_mse": 0.5}]
    return CheckContext(aggregate(rows), {32: REFS}, trial_rows=rows, n_boot=300, curves=summarize(along))


def test_reaches_first_counts_never_as_beyond_the_run():
    from depthlab.checks import first_reach

    steps = np.array([0, 1, 2, 4, 8])
    assert first_reach(steps, np.array([0.7, 0.7, 0.7, 0.7, 0.7]), 0.6) == 1.0  # already there: step 1, not 0
    assert first_reach(steps, np.array([0.4, 0.5, 0.6, 0.7, 0.7]), 0.6) == 2.0
    assert first_reach(steps, np.array([0.4, np.nan, 0.5, 0.5, 0.5]), 0.6) == 16.0  # never: 2 x last step
    check = ReachesFirstCheck(name="r", method="a", metrics=["overlap_w_b0", "overlap_w_b1"], level=0.6)
    early = [0.4, 0.5, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7]  # reaches 0.6 at step 2
    late = [0.4, 0.4, 0.4, 0.4, 0.4, 0.5, 0.6, 0.7]  # at step 32
    flat = [0.4] * 8
    assert check.evaluate(_reach_ctx({"overlap_w_b0": [early] * 3, "overlap_w_b1": [late] * 3})).passed
    res = check.evaluate(_reach_ctx({"overlap_w_b0": [early] * 3, "overlap_w_b1": [flat] * 3}))
    assert res.passed and "never" in res.detail, res.detail
    # the first metric never reaching the level, or both together, is a FAIL; both never: ratio 1, a FAIL
    assert check.evaluate(_reach_ctx({"overlap_w_b0": [flat] * 3, "overlap_w_b1": [late] * 3})).status == "FAIL"
    assert check.evaluate(_reach_ctx({"overlap_w_b0": [late] * 3, "overlap_w_b1": [late] * 3})).status == "FAIL"
    assert check.evaluate(_reach_ctx({"overlap_w_b0": [flat] * 3, "overlap_w_b1": [flat] * 3})).status == "FAIL"
    mixed = check.evaluate(_reach_ctx({"overlap_w_b0": [early, flat, early], "overlap_w_b1": [flat] * 3}))
    assert mixed.status == "INCONCLUSIVE", mixed.detail
    (res,) = run_checks([check], _reach_ctx({"overlap_w_b0": [early] * 3}))  # the later metric was not recorded
    assert res.status == "FAIL" and "cannot evaluate" in res.detail
