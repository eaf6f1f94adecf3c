"""Measured exponents with bootstrap intervals, the papers' predictions, and the comparison between them."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from depthlab.analysis import aggregate
from depthlab.checks import CheckContext, PredictionCheck
from depthlab.exponents import bootstrap_exponent, crossing, crossings_batch, exponent, n_stars
from depthlab.presets import all_presets, apply_overrides, get_preset
from depthlab.theory import (
    Prediction,
    Threshold,
    compare,
    damian_network,
    dandi_predictions,
    polylog_slope,
    polynomial_count_terms,
)

from ._synthetic import planted_error


def _trial_rows(laws, ds=(8, 16, 32), trials=5, kappas=np.linspace(1.0, 4.0, 25), seed=0):
    """Per-trial rows with the planted error law of tests/_synthetic.py (E f*^2 = 1)."""
    rng = np.random.default_rng(seed)
    rows = []
    for method, law in laws.items():
        for d in ds:
            for k in kappas:
                n = int(d**k)
                for t in range(trials):
                    err = planted_error(n, d, law, float(rng.standard_normal()))
                    rows.append({"preset": "p", "method": method, "d": d, "n": n, "kappa": float(k), "trial": t,
                                 "status": "ok", "test_mse": err})
    return rows


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4), min_size=1, max_size=6),
    st.floats(0.05, 0.95),
    st.sampled_from(["<", ">"]),
)
def test_batched_crossing_equals_the_scalar_one(values, tau, op):
    ns = np.array([10.0, 40.0, 100.0, 1000.0])
    got_n, got_c = crossings_batch(ns, np.array(values), tau, op)
    for v, n, c in zip(values, got_n, got_c, strict=True):
        want_n, want_c = crossing(ns, v, tau, op)
        assert n == pytest.approx(want_n, rel=1e-9)
        assert {"": 0, "below": -1, "above": 1}[want_c] == c


def test_bootstrap_point_estimates_equal_the_aggregate_ones():
    rows = _trial_rows({"a": (0.5, 2.0)}, trials=4)
    me = bootstrap_exponent(rows, "a", 0.15, n_boot=200)
    agg = aggregate(rows)
    fit = exponent(agg, "a", 0.15)
    assert me.fit.slope == pytest.approx(fit.slope, rel=1e-12) and me.fit.bound == fit.bound == "exact"
    for p, c in zip(me.points, n_stars(agg, "a", 0.15), strict=True):
        assert p.d == c.d and p.n_star == pytest.approx(c.n_star, rel=1e-12)
        assert p.kappa == pytest.approx(math.log(c.n_star) / math.log(c.d))


@pytest.mark.parametrize("slope", [0.0, 2.0, 3.0])
def test_bootstrap_interval_contains_the_planted_exponent(slope):
    c = 40.0 if slope == 0 else 0.3
    rows = _trial_rows({"a": (c, slope)}, trials=7)
    me = bootstrap_exponent(rows, "a", 0.15, n_boot=1000, seed=1)
    lo, hi = me.slope_ci
    assert lo <= slope <= hi and hi - lo < 0.6, me.slope_ci
    assert lo <= me.fit.slope <= hi
    for p in me.points:  # planted n* = sqrt(1/0.15 - 1) c d^s
        planted = math.log(math.sqrt(1 / 0.15 - 1) * c * p.d**slope) / math.log(p.d)
        assert p.ci_lo <= planted <= p.ci_hi, (p, planted)
        assert p.ci_lo <= p.kappa <= p.ci_hi


def test_bootstrap_is_deterministic_given_the_seed_and_narrows_with_trials():
    rows = _trial_rows({"a": (0.3, 2.0)}, trials=5)
    a = bootstrap_exponent(rows, "a", 0.15, seed=3)
    b = bootstrap_exponent(rows, "a", 0.15, seed=3)
    assert a.slope_ci == b.slope_ci and [p.ci_lo for p in a.points] == [p.ci_lo for p in b.points]
    wide = bootstrap_exponent(_trial_rows({"a": (0.3, 2.0)}, trials=3), "a", 0.15, level=0.9)
    narrow = bootstrap_exponent(_trial_rows({"a": (0.3, 2.0)}, trials=40), "a", 0.15, level=0.9)
    assert np.diff(narrow.slope_ci)[0] < np.diff(wide.slope_ci)[0]
    with pytest.raises(ValueError, match="level"):
        bootstrap_exponent(rows, "a", 0.15, level=1.5)


def test_censored_methods_give_open_intervals_and_no_slope():
    rows = _trial_rows({"never": None, "early": (1e-3, 1.0)}, trials=3)
    never = bootstrap_exponent(rows, "never", 0.15, n_boot=100)
    assert all(p.censored == "above" and p.ci_hi == math.inf for p in never.points)
    assert never.fit.bound == "none" and never.undetermined == 100  # all censored: the bounds' slope means nothing
    early = bootstrap_exponent(rows, "early", 0.15, n_boot=100)
    assert all(p.censored == "below" and p.ci_lo == -math.inf for p in early.points)
    # diverged trials and missing values are left out, as in the aggregate
    rows2 = [*_trial_rows({"a": (0.3, 2.0)}, ds=(16,), trials=3), {"method": "a", "d": 16, "n": 10**6,
                                                                   "status": "diverged", "test_mse": 1e9}]
    assert bootstrap_exponent(rows2, "a", 0.15).points[0].n_max < 10**6


def test_prediction_finite_d_forms():
    # d^2 r + d r^p with unit constants is arbitrary at finite d (its slope over d = 8..32 would be 1.64): the
    # theorem is used as what it states, a sufficient size, slope <= 2 for fixed r, widened by its log factors
    net = damian_network(r=3, p=3)
    assert net.relation == "upper" and net.slope_over([8, 16, 32]) == pytest.approx(2.0) and not net.terms
    assert net.tolerance_over([8, 16, 32]) == pytest.approx(polylog_slope([8, 16, 32]))

    cubic = Prediction(exponent=3, terms=polynomial_count_terms(3))
    assert [round(cubic.n_star(d)) for d in (8, 32)] == [math.comb(11, 3), math.comb(35, 3)]
    assert Prediction(exponent=1.5).kappa_at(64) == 1.5 and Prediction(exponent=1.5).slope_over([16]) == 1.5
    with pytest.raises(ValidationError, match="largest power"):
        Prediction(exponent=2, terms=[(1.0, 3.0)])


def test_dandi_formulas_follow_the_notes():
    p = dandi_predictions(epsilon=0.5, k=3)
    assert p["layerwise"].exponent == p["joint"].exponent == p["two_layer"].exponent == 1.5
    assert p["kernel"].exponent == 2 and p["kernel"].kappa_at(32) == pytest.approx(math.log(561) / math.log(32))
    # notes (f) 9: eps = 0.4, k = 4 -> M_W at 1.4, the 3-layer error drop completes at 1.6
    q = dandi_predictions(epsilon=0.4, k=4)
    assert q["two_layer"].exponent == pytest.approx(1.4) and q["layerwise"].exponent == pytest.approx(1.6)


@pytest.mark.parametrize(
    ("relation", "exponent", "tolerance", "verdict"),
    [("rate", 2.0, 0.3, "agrees"), ("rate", 3.0, 0.3, "disagrees"), ("upper", 1.0, 0.3, "disagrees"),
     ("upper", 2.5, 0.0, "agrees"), ("lower", 1.5, 0.3, "agrees"), ("lower", 3.0, 0.3, "disagrees")],
)
def test_compare_judges_the_interval_over_several_d(relation, exponent, tolerance, verdict):
    me = bootstrap_exponent(_trial_rows({"a": (0.3, 2.0)}, trials=5), "a", 0.15, n_boot=200)
    lo, hi = me.slope_ci
    assert lo <= 2.0 <= hi and hi - lo < 0.3  # planted slope 2, narrow interval
    c = compare(me, Prediction(exponent=exponent, relation=relation, tolerance=tolerance))
    assert c.quantity == "slope" and c.verdict == verdict and c.passed == (verdict == "agrees")


def test_compare_is_inconclusive_when_the_interval_straddles_or_is_wider_than_the_band():
    me = bootstrap_exponent(_trial_rows({"a": (0.3, 2.0)}, trials=5), "a", 0.15, n_boot=200)
    lo, hi = me.slope_ci
    # a band wider than the interval whose upper edge cuts it: the lower half agrees, the upper does not
    w = hi - lo
    edge = compare(me, Prediction(exponent=lo - w / 2, tolerance=w))
    assert edge.verdict == "inconclusive" and edge.status == "INCONCLUSIVE" and "edge" in edge.advice
    # a band narrower than the interval, centred on the truth: more trials would settle it
    narrow = compare(me, Prediction(exponent=2.0, tolerance=(hi - lo) / 4))
    assert narrow.verdict == "inconclusive" and "wider than the band" in narrow.advice and "trials" in narrow.advice


def test_one_or_two_d_give_information_never_a_verdict():
    for ds in ((16,), (16, 32)):
        me = bootstrap_exponent(_trial_rows({"a": (1.0, 2.0)}, ds=ds, trials=3), "a", 0.15, n_boot=50)
        for pred in (Prediction(exponent=2.3), Prediction(exponent=9.0), Prediction(exponent=0.0)):
            c = compare(me, pred)
            assert c.verdict == "information" and c.status == "INFO" and not c.passed, (ds, pred)
            assert ">= 3 values of d" in c.advice


def test_compare_censored_and_unmeasured():
    # n* = 0.024 d^2.5: kappa* = 0.70 / 1.16 / 1.42 at d = 8 / 16 / 32, so never crossed at d = 32 below 1.3
    rows = _trial_rows({"never": None, "late": (0.01, 2.5)}, trials=3, kappas=np.linspace(0.5, 1.3, 12))
    late = bootstrap_exponent(rows, "late", 0.15, n_boot=100)
    assert late.fit.bound == "lower"
    assert compare(late, Prediction(exponent=1.0, relation="lower", tolerance=0.2)).verdict == "agrees"
    open_side = compare(late, Prediction(exponent=late.fit.slope + 0.5, tolerance=0.2))
    assert open_side.verdict == "inconclusive" and "censored" in open_side.advice
    assert compare(late, Prediction(exponent=late.fit.slope - 1.0, relation="upper", tolerance=0.2)).verdict \
        == "disagrees"
    all_censored = bootstrap_exponent(rows, "never", 0.15, n_boot=50)
    unmeasured = compare(all_censored, Prediction(exponent=3.0))
    assert unmeasured.verdict == "unmeasured" and unmeasured.status == "INCONCLUSIVE"


def test_polylog_allowance_is_computed_from_the_d_range():
    assert polylog_slope([8, 16, 24]) == pytest.approx(0.40, abs=0.02)  # d(log log d)/d(log d) = 1/log d
    assert polylog_slope([100, 1000, 10000], 2.0) == pytest.approx(2 / math.log(1000), abs=0.02)
    assert polylog_slope([32]) == 0.0
    p = Prediction(exponent=2.0, tolerance=0.1, tolerance_reason="grid interpolation", polylog=1.0)
    assert p.tolerance_over([8, 16, 24]) == pytest.approx(0.1 + polylog_slope([8, 16, 24]))
    assert "log(d)^1" in p.tolerance_why([8, 16, 24]) and "grid interpolation" in p.tolerance_why([8, 16, 24])


def test_prediction_check_passes_and_fails_on_planted_exponents():
    rows = _trial_rows({"net": (0.3, 2.0), "kern": (0.02, 3.0)}, trials=4)
    refs = {d: {"trivial": 1.0} for d in (8, 16, 32)}
    preds = {"net": Prediction(exponent=2.0, tolerance=0.3), "kern": Prediction(exponent=2.0, tolerance=0.3)}
    ctx = CheckContext(aggregate(rows), refs, trial_rows=rows, predictions=preds,
                       thresholds={"net": Threshold(value=0.15), "kern": Threshold(value=0.15)}, n_boot=200)
    good = PredictionCheck(name="n", method="net").evaluate(ctx)
    assert good.status == "PASS" and good.measured["measured"] == pytest.approx(2.0, abs=0.1)
    bad = PredictionCheck(name="k", method="kern").evaluate(ctx)
    assert bad.status == "FAIL" and "disagrees" in bad.detail
    assert bad.measured["measured"] == pytest.approx(3.0, abs=0.1)
    assert PredictionCheck(name="k", method="kern", tolerance=1.2).evaluate(ctx).passed
    one_d = CheckContext(aggregate([r for r in rows if r["d"] == 32]), refs, predictions=preds,
                         thresholds=ctx.thresholds, n_boot=50)
    assert PredictionCheck(name="k", method="kern").evaluate(one_d).status == "INFO"  # no verdict from one d
    with pytest.raises(LookupError, match="no prediction"):
        PredictionCheck(name="x", method="other").evaluate(ctx)


def test_every_paper_preset_declares_predictions_and_threshold():
    for p in all_presets():
        # claims that are error levels at every d (Safran & Lee), against width at fixed n, or along training at
        # two or three kappa (the dynamics and MIGHT presets: no grid to place an n* on), not exponents
        time_or_width = ("damian2022-width", "dandi2025-dynamics", "dandi2025-might")
        if p.paper == "safran_lee2022" or p.name.startswith(time_or_width):
            assert not p.predictions
            continue
        assert p.predictions, p.name
        assert set(p.predictions) <= set(p.methods)
        assert {c.method for c in p.prediction_checks()} == set(p.predictions)
    quick = get_preset("quick")
    assert quick.threshold == Threshold(value=0.7) and quick.predictions["layerwise"].exponent == 1.5
    nq = get_preset("nichani2023-quadratic-quick")
    assert nq.threshold_for("three_layer").metric == "feature_corr"
    assert "kernel" not in nq.predictions  # d^6 lies beyond the grid at every d: unmeasurable, not declared
    assert nq.threshold_for("kernel") == Threshold(value=0.15, relative_to="trivial")  # sphere: E f*^2 != 1
    # overrides reach the threshold; predictions must name methods of the preset
    assert apply_overrides(quick, ["threshold.value=0.5"]).threshold.value == 0.5
    with pytest.raises(ValidationError, match="unknown methods"):
        type(quick).model_validate({**quick.model_dump(), "predictions": {"nope": {"exponent": 1.0}}})


def test_grid_interpolation_error_widens_the_interval_and_shrinks_with_a_finer_grid():
    laws = {"a": (0.3, 2.0)}
    coarse = bootstrap_exponent(_trial_rows(laws, trials=5, kappas=np.linspace(1.0, 4.0, 7)), "a", 0.15, n_boot=100)
    fine = bootstrap_exponent(_trial_rows(laws, trials=5, kappas=np.linspace(1.0, 4.0, 49)), "a", 0.15, n_boot=100)
    assert coarse.grid_error > fine.grid_error >= 0
    lo, hi = coarse.slope_interval
    assert lo == coarse.slope_ci[0] - coarse.grid_error and hi == coarse.slope_ci[1] + coarse.grid_error
    c = compare(coarse, Prediction(exponent=2.0))
    assert c.ci == coarse.slope_interval and c.grid_error == coarse.grid_error
