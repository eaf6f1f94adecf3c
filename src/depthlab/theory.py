r"""The papers' sample-complexity predictions, and how a measured exponent is compared with them.

Every prediction is a statement n*(d) \asymp d^s about the number of samples a method needs to take its median
error past a threshold (``Threshold``). A preset declares one ``Prediction`` per method where the paper gives
one; it is computed in the preset module from the target's parameters by the formula functions below.

Measured quantity (``depthlab.exponents``): at a single d, kappa* = log n* / log d; over several d, the
least-squares slope of log n* against log d. Predicted quantity:

* at one d: kappa_pred(d) = log N(d) / log d, with N(d) = sum_i c_i d^{a_i} the prediction's finite-d form
  (``terms``; default N(d) = d^s, so kappa_pred = s);
* over several d: the least-squares slope of log N(d) against log d over the sweep's d (equal to s when N is a
  single power; for Damian et al.'s d^2 r + d r^p it is below 2 at small d, since the d r^p term still counts).

Comparison (``compare``): ``relation`` says what the theorem states -- ``rate`` (Theta: the measured value
should equal the prediction), ``upper`` (O: a sufficient sample size, measured <= predicted) or ``lower``
(Omega: a necessary one, measured >= predicted) -- each within a band of half-width ``tolerance_over(ds)``:
the prediction's ``tolerance`` (stated with its reason, ``tolerance_reason``) plus, for a theorem whose O~ hides
``polylog`` powers of log d, the slope that log(d)^polylog itself has over the sweep's d (computed, not chosen:
the slope of log log d against log d over d = 8...24 is 0.40 per power).

Verdicts come from intervals, never from a point estimate (``compare``):

* the measured interval is the bootstrap interval of the slope, widened by the grid's interpolation error of
  n* (``MethodExponent.grid_error``, a Richardson estimate from the half grids) and extended to +-inf on a
  censored side;
* *agrees*: it lies inside the band; *disagrees*: it lies outside; *inconclusive*: it straddles an edge of the
  band or is wider than the band (the comparison says what would settle it);
* *information*: fewer than ``MIN_DS`` = 3 values of d. kappa* at one d mixes the exponent with constants, and
  a slope through two points has no check of its own: reported, never judged;
* *unmeasured*: no threshold crossing inside the grid anchors the slope.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, model_validator

from depthlab.config import Config
from depthlab.exponents import MethodExponent
from depthlab.metrics import MetricName


def _none_word(v: Any) -> Any:
    return None if isinstance(v, str) and v.lower() == "none" else v


# A reference level's name, or None for an absolute threshold; files (TOML has no null) write "none".
ReferenceName = Annotated[str | None, BeforeValidator(_none_word)]

Relation = Literal["rate", "upper", "lower"]
Verdict = Literal["agrees", "disagrees", "inconclusive", "information", "unmeasured"]
Status = Literal["PASS", "FAIL", "INCONCLUSIVE", "INFO"]
MIN_DS = 3  # an exponent verdict needs a slope over at least this many d
STATUS_OF: dict[str, Status] = {
    "agrees": "PASS", "disagrees": "FAIL", "inconclusive": "INCONCLUSIVE", "unmeasured": "INCONCLUSIVE",
    "information": "INFO",
}


def _loglog_slope(ds: Sequence[int], f: Callable[[int], float]) -> float:
    """Least-squares slope of log f(d) against log d over ``ds``."""
    logd = np.log(np.asarray(ds, dtype=float))
    return float(np.polyfit(logd, np.log([f(d) for d in ds]), 1)[0])


def polylog_slope(ds: Sequence[int], power: float = 1.0) -> float:
    r"""Least-squares slope of log(log(d)^power) against log d over ``ds``: how much a hidden polylog(d) factor
    moves a measured exponent over that d range (0 for fewer than two d)."""
    if len(set(ds)) < 2 or power == 0:
        return 0.0
    return power * _loglog_slope(sorted(set(ds)), math.log)


class Threshold(Config):
    """n* = first n at which the median ``metric`` crosses ``value`` (times the reference level ``relative_to``
    of the target at that d, e.g. E f*^2 for ``trivial``; an absolute value when ``relative_to`` is None)."""

    metric: MetricName = Field(default="test_mse",
                               description="metric whose median over trials defines n* (e.g. test_mse)")
    op: Literal["<", ">"] = Field(default="<", description="n* = first n with median metric op threshold ('<': "
                                  "falls below, '>': rises above)")
    value: float = Field(default=0.5, description="the threshold, times the reference level relative_to (absolute "
                         "when relative_to is None)")
    relative_to: ReferenceName = Field(default="trivial", description="the reference level "
                                       "(TargetSpec.reference_levels) that value multiplies at each d, e.g. trivial "
                                       "= E f*^2; None (in a file: \"none\"): absolute")

    def at(self, references: Mapping[str, float]) -> float:
        """The threshold at one d, given that d's reference levels."""
        if self.relative_to is None:
            return self.value
        if self.relative_to not in references:
            raise LookupError(f"reference level {self.relative_to!r} unknown; have {sorted(references)}")
        return self.value * references[self.relative_to]

    def by_d(self, references: Mapping[int, Mapping[str, float]], ds: Sequence[int]) -> dict[int, float]:
        return {d: self.at(references.get(d, {})) for d in ds}

    def describe(self) -> str:
        rel = f" x {self.relative_to}" if self.relative_to else ""
        return f"{self.metric} {self.op} {self.value:g}{rel}"


class Prediction(Config):
    """n*(d) \\asymp d^exponent for one method (module docstring), with where it comes from."""

    exponent: float = Field(description="s in n* ~ d^s: the asymptotic kappa* and slope of log n* vs log d")
    terms: list[tuple[float, float]] = Field(default_factory=list, description="(c_i, a_i) of the finite-d form "
                                             "N(d) = sum_i c_i d^a_i (empty: N(d) = d^exponent)")
    relation: Relation = Field(default="rate", description="what the theorem states: 'rate' (Theta: measured = "
                               "predicted), 'upper' (O: <=) or 'lower' (Omega: >=)")
    tolerance: float = Field(default=0.5, ge=0.0, description="half-width of the accepted band around the "
                             "predicted slope, beyond the polylog allowance; say why in tolerance_reason")
    tolerance_reason: str = Field(default="not stated", description="why the tolerance has this size")
    polylog: float = Field(default=0.0, ge=0.0, description="powers of log d hidden by the theorem's O~: adds "
                           "their slope over the sweep's d (polylog_slope) to the band")
    lower_order: float = Field(default=0.0, ge=0.0, description="coefficient c of a next-order term +-c d^(s-1) "
                               "the finite-d form leaves free: adds the slope change it causes over the sweep's d")
    formula: str = Field(default="", description="the prediction's formula as text, e.g. 'kappa = max(1+eps, k eps) "
                         "= 1.5'")
    source: str = Field(default="", description="where it comes from, e.g. 'Dandi et al. 2025, Sec. 2; notes (d)'")
    threshold: Threshold | None = Field(default=None, description="defines n* for this method, overriding the "
                                        "preset's threshold (None: the preset's)")

    @model_validator(mode="after")
    def _terms_positive(self) -> Prediction:
        if any(c <= 0 for c, _ in self.terms):
            raise ValueError(f"every coefficient of terms must be > 0, got {self.terms}")
        if self.terms and not math.isclose(max(a for _, a in self.terms), self.exponent):
            raise ValueError(f"the largest power in terms {self.terms} must equal exponent {self.exponent}")
        return self

    def n_star(self, d: float) -> float:
        """N(d) = sum_i c_i d^{a_i} (d^exponent without terms)."""
        terms = self.terms or [(1.0, self.exponent)]
        return float(sum(c * d**a for c, a in terms))

    def kappa_at(self, d: float) -> float:
        """kappa_pred(d) = log N(d) / log d."""
        return math.log(self.n_star(d)) / math.log(d)

    def slope_over(self, ds: Sequence[int]) -> float:
        """Least-squares slope of log N(d) against log d over ``ds`` (the exponent itself for one d)."""
        if len(set(ds)) < 2:
            return self.exponent
        slope = _loglog_slope(ds, self.n_star)
        return 0.0 if abs(slope) < 1e-9 else slope  # a d-independent N(d) fits to ~1e-16, not "-0.00"

    def lower_order_slope(self, ds: Sequence[int]) -> float:
        """Largest change of the predicted slope over ``ds`` when N(d) gets an extra +-lower_order x d^(s-1)."""
        if not self.lower_order or len(set(ds)) < 2:
            return 0.0
        base, uniq, out = self.slope_over(ds), sorted(set(ds)), 0.0
        for c in (self.lower_order, -self.lower_order):
            def shifted(d: float, c: float = c) -> float:
                return self.n_star(d) + c * d ** (self.exponent - 1.0)

            if min(shifted(d) for d in uniq) > 0:
                out = max(out, abs(_loglog_slope(uniq, shifted) - base))
        return out

    def tolerance_over(self, ds: Sequence[int]) -> float:
        """Half-width of the accepted band for a slope over ``ds``: tolerance + polylog + lower-order allowance."""
        return self.tolerance + polylog_slope(ds, self.polylog) + self.lower_order_slope(ds)

    def tolerance_why(self, ds: Sequence[int]) -> str:
        why = f"{self.tolerance:g}: {self.tolerance_reason}"
        if self.polylog and len(set(ds)) >= 2:
            why += (f"; + {polylog_slope(ds, self.polylog):.2f}: O~ hides log(d)^{self.polylog:g}, whose slope over "
                    f"d = {min(ds)}...{max(ds)} that is")
        if self.lower_order and len(set(ds)) >= 2:
            why += (f"; + {self.lower_order_slope(ds):.2f}: a free next-order term +-{self.lower_order:g} "
                    f"d^{self.exponent - 1:g} moves the slope that much")
        return why

    def describe(self) -> str:
        sign = {"rate": "~", "upper": "<~", "lower": ">~"}[self.relation]
        return f"n* {sign} d^{self.exponent:g}" + (f" ({self.formula})" if self.formula else "")


@dataclass(frozen=True)
class Comparison:
    method: str
    quantity: Literal["kappa", "slope"]
    d: int | None  # the d of a kappa comparison; None for a slope
    measured: float  # point estimate (its bound when censored)
    measured_bound: Literal["exact", "lower", "upper", "none"]  # "lower": true value >= measured
    ci: tuple[float, float]
    predicted: float  # at the sweep's d (finite-d form)
    asymptotic: float  # Prediction.exponent
    relation: Relation
    tolerance: float
    verdict: Verdict
    source: str
    formula: str
    advice: str = ""  # what would settle an inconclusive comparison
    tolerance_reason: str = ""
    grid_error: float = 0.0  # part of the interval that is the grid's interpolation error, each side

    @property
    def status(self) -> Status:
        return STATUS_OF[self.verdict]

    @property
    def passed(self) -> bool:
        return self.verdict == "agrees"

    def describe(self) -> str:
        sign = {"exact": "=", "lower": ">", "upper": "<=", "none": "?"}[self.measured_bound]
        what = f"kappa*(d={self.d})" if self.quantity == "kappa" else "slope"
        lo, hi = self.ci
        rel = {"rate": "= pred +-", "upper": "<= pred +", "lower": ">= pred -"}[self.relation]
        if self.measured_bound == "none" or math.isnan(self.measured):
            return (f"{self.method}: {what} not measured (no crossing inside the grid to anchor it), predicted "
                    f"{_fmt(self.predicted)} (asymptotic {self.asymptotic:g}): {self.verdict}")
        if self.verdict == "information":
            return (f"{self.method}: measured {what} {sign} {_fmt(self.measured)} [CI {_fmt(lo)}, {_fmt(hi)}], "
                    f"predicted {_fmt(self.predicted)} (asymptotic {self.asymptotic:g}): information only, "
                    f"{self.advice}")
        grid = f" incl. +-{self.grid_error:.2f} n* interpolation" if self.grid_error > 0.005 else ""
        text = (
            f"{self.method}: measured {what} {sign} {_fmt(self.measured)} [CI {_fmt(lo)}, {_fmt(hi)}{grid}], "
            f"predicted {_fmt(self.predicted)} (asymptotic {self.asymptotic:g}); need {rel} {self.tolerance:.2f} "
            f"({self.tolerance_reason}): {self.verdict}"
        )
        return text + (f"; {self.advice}" if self.advice else "")


def _fmt(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    return f"{x:.2f}"


def _verdict(lo: float, hi: float, ok_lo: float, ok_hi: float) -> Verdict:
    """Measured interval [lo, hi] against the accepted band [ok_lo, ok_hi]."""
    if ok_lo <= lo and hi <= ok_hi:
        return "agrees"
    if hi < ok_lo or lo > ok_hi:
        return "disagrees"
    return "inconclusive"


def _advice(lo: float, hi: float, ok_lo: float, ok_hi: float) -> str:
    """What would settle an inconclusive comparison of [lo, hi] with [ok_lo, ok_hi]."""
    width, band = hi - lo, ok_hi - ok_lo
    if math.isinf(lo) or math.isinf(hi):
        return ("the interval is open on a censored side: extend the kappa grid (or raise the learner's max_n, "
                "where it caps n) so that every d crosses the threshold inside it")
    if width > band:
        k = math.ceil((width / band) ** 2) if band > 0 else math.inf
        return (f"the interval (width {width:.2f}) is wider than the band (width {band:.2f}): about {k}x the trials, "
                "or a wider range of d, would narrow it enough")
    edge = ok_lo if lo < ok_lo <= hi else ok_hi
    return f"the interval straddles the band's edge at {edge:.2f}: more trials, or larger d, would settle which side"


def compare(measured: MethodExponent, prediction: Prediction, quantity: Literal["auto", "kappa", "slope"] = "auto",
            tolerance: float | None = None) -> Comparison:
    """Measured slope of ``measured`` against ``prediction``, from its bootstrap interval (module docstring).
    With fewer than ``MIN_DS`` values of d, or ``quantity="kappa"``, the result is information only."""
    ds = [p.d for p in measured.points]
    tol = prediction.tolerance_over(ds) if tolerance is None else tolerance
    why = prediction.tolerance_why(ds) if tolerance is None else "set by the check"
    if quantity == "auto":
        quantity = "slope" if len(ds) >= 2 else "kappa"
    d_cmp: int | None = None
    bound: Literal["exact", "lower", "upper", "none"]
    if quantity == "slope":
        value, bound, ci = measured.fit.slope, measured.fit.bound, measured.slope_interval
        predicted = prediction.slope_over(ds)
    else:
        if not ds:
            value, bound, ci, predicted = math.nan, "none", (math.nan, math.nan), math.nan
        else:
            pt = max(measured.points, key=lambda p: p.d)
            d_cmp = pt.d
            value, ci, predicted = pt.kappa, (pt.ci_lo, pt.ci_hi), prediction.kappa_at(pt.d)
            bound = "lower" if pt.censored == "above" else "upper" if pt.censored == "below" else "exact"
    ok_lo, ok_hi = {
        "rate": (predicted - tol, predicted + tol),
        "upper": (-math.inf, predicted + tol),
        "lower": (predicted - tol, math.inf),
    }[prediction.relation]
    verdict: Verdict
    advice = ""
    if bound == "none" or math.isnan(value):
        verdict = "unmeasured"
        advice = "extend the kappa grid so that the threshold is crossed inside it"
    elif quantity == "kappa" or len(set(ds)) < MIN_DS:
        verdict = "information"
        advice = (f"an exponent verdict needs the slope over >= {MIN_DS} values of d (have d = {sorted(set(ds))}); "
                  "kappa* at one d mixes the exponent with constants")
    else:
        lo, hi = measured.judged_interval
        verdict = _verdict(lo, hi, ok_lo, ok_hi)
        if verdict == "inconclusive":
            advice = _advice(lo, hi, ok_lo, ok_hi)
    return Comparison(
        method=measured.method, quantity=quantity, d=d_cmp, measured=value, measured_bound=bound,
        ci=ci, predicted=predicted, asymptotic=prediction.exponent, relation=prediction.relation, tolerance=tol,
        verdict=verdict, source=prediction.source, formula=prediction.formula, advice=advice,
        tolerance_reason=why, grid_error=measured.grid_error if quantity == "slope" else 0.0,
    )


# ---- the papers' formulas ------------------------------------------------------------------------------------


def polynomial_count_terms(degree: int) -> list[tuple[float, float]]:
    r"""C(d + l, l) = prod_{i=1..l} (d + i)/i -- the dimension of the polynomials of degree <= l in d variables
    -- as terms (c_a, a) of a polynomial in d. A kernel method fits the degree-<=l part of f* once n exceeds it
    (it interpolates exactly there), so this is the finite-d form of n ~ d^l: C(d+2, 2) = d^2/2 + 3d/2 + 1, i.e.
    kappa = 1.83 rather than 2 at d = 32."""
    coeffs = np.array([1.0])  # highest power first
    for i in range(1, degree + 1):
        coeffs = np.polymul(coeffs, np.array([1.0, float(i)]) / i)
    return [(float(c), float(degree - k)) for k, c in enumerate(coeffs) if c > 0]


def dandi_three_layer_kappa(epsilon: float, k: int) -> float:
    r"""Dandi et al. 2025, Thm 1 / Sec. 2: a layer-wise 3-layer net learns W* at kappa_W = 1 + eps and h* (hence
    f* = g*(h*)) at kappa_h = max(1 + eps, k eps), k = deg P_k; sample complexity O~(d^{max(1+eps, k eps)})."""
    return max(1.0 + epsilon, k * epsilon)


def dandi_two_layer_kappa(epsilon: float) -> float:
    r"""Dandi et al. 2025, Sec. 2: a 2-layer net aligns with W* at kappa = 1 + eps and leaves the random level
    there (then a staircase with steps every eps; it plateaus near the best function of z of low degree)."""
    return 1.0 + epsilon


def dandi_kernel_kappa(lowest_degree: int = 2) -> float:
    r"""Dandi et al. 2025, Sec. 2: fixed-feature methods learn the degree-l Hermite part of f* once n >~ d^l;
    f* = g*(a^T P_k(W* x)/sqrt(d^eps)) with P_k of information exponent 2 has no degree-0/1 part, so the
    kernel's first drop is at kappa = 2."""
    return float(lowest_degree)


def dandi_predictions(epsilon: float, k: int, threshold: Threshold | None = None) -> dict[str, Prediction]:
    """Predictions for the SIGHT presets: layer-wise and joint 3-layer nets, 2-layer net, kernel."""
    src = "Dandi et al. 2025, Thm 1 and Sec. 2 heuristic thresholds (notes d)"
    three = dandi_three_layer_kappa(epsilon, k)
    band: dict[str, Any] = {"tolerance": 0.0, "polylog": 1.0, "tolerance_reason": "Theta~ rate: constants do not "
                            "move a slope; only the hidden polylog(d) does"}
    three_layer = Prediction(exponent=three, formula=f"kappa_h = max(1+eps, k eps) = {three:g} (eps={epsilon:g}, "
                             f"k={k})", source=src, threshold=threshold, **band)
    return {
        "layerwise": three_layer,
        "joint": three_layer.model_copy(update={"source": src + "; joint training: paper Fig. 2 (bottom)"}),
        "two_layer": Prediction(exponent=dandi_two_layer_kappa(epsilon), source=src, threshold=threshold,
                                formula=f"leaves the random level at kappa = 1+eps = {1 + epsilon:g}", **band),
        "kernel": Prediction(exponent=dandi_kernel_kappa(2), terms=polynomial_count_terms(2), source=src,
                             threshold=threshold, formula="first drop at kappa = 2 (lowest Hermite degree of f* in "
                             "x); at finite d once n > C(d+2, 2)", tolerance=0.0, lower_order=1.0,
                             tolerance_reason="C(d+2, 2) fixes the leading terms (n* interpolation error is in "
                             "the measured interval)"),
    }


def dandi_deep_jumps(eps1: float, eps2: float, k: int, k_top: int) -> tuple[float, float, float]:
    r"""Dandi et al. 2025, Sec. 2 (deep MIGHT d -> d^eps1 -> d^eps2 -> 1, heuristic) and Thm 2: a layer-wise deep
    net learns W* at kappa = 1 + eps1, all d^eps2 level-2 features (degree k = deg P in d^eps1 inputs) at
    kappa = k eps1 + eps2 and the top degree-k' function of the d^eps2 level-2 features at kappa = k' eps2.
    Where the notes are unclear: they give the three jumps but no rule for their order; here each jump needs the
    ones before it (a feature is learned on top of the level below), so the second is at max(1 + eps1,
    k eps1 + eps2) and the third at the max of all three ("jumps can merge": a jump below an earlier one
    happens there). Thm 2 itself is weaker: weak recovery of the next level given the level below."""
    a = 1.0 + eps1
    b = max(a, k * eps1 + eps2)
    return a, b, max(b, k_top * eps2)


def dandi_deep_predictions(eps1: float, eps2: float, k: int, k_top: int,
                           learned: Threshold | None = None) -> dict[str, Prediction]:
    """Predictions for the deep presets (methods ``deep``, ``layerwise``, ``two_layer``, ``kernel``): the deep net
    learns f* (n* under ``learned``, a threshold below the 2-layer floor) at the last jump; the 3-layer and
    2-layer nets leave the random level at 1 + eps1 (preset threshold); the kernel at kappa = 2."""
    src = "Dandi et al. 2025, Sec. 2 deep MIGHT thresholds and Thm 2 (notes d)"
    kw, k2, k3 = dandi_deep_jumps(eps1, eps2, k, k_top)
    band: dict[str, Any] = {"tolerance": 0.0, "polylog": 1.0, "tolerance_reason": "Theta~ rate: constants do not "
                            "move a slope; only the hidden polylog(d) does"}
    return {
        "deep": Prediction(exponent=k3, threshold=learned, source=src, formula=f"kappa_f = max(1+eps1, k eps1+eps2, "
                           f"k' eps2) = {k3:g} (eps=({eps1:g}, {eps2:g}), k={k}, k'={k_top})", **band),
        "layerwise": Prediction(exponent=kw, source=src, formula=f"leaves the random level at kappa = 1+eps1 = "
                                f"{kw:g}", **band),
        "two_layer": Prediction(exponent=kw, source=src, formula=f"leaves the random level at kappa = 1+eps1 = "
                                f"{kw:g}", **band),
        "kernel": Prediction(exponent=dandi_kernel_kappa(2), terms=polynomial_count_terms(2), source=src,
                             formula="first drop at kappa = 2 (lowest Hermite degree of f* in x); at finite d once "
                             "n > C(d+2, 2)", tolerance=0.0, lower_order=1.0,
                             tolerance_reason="C(d+2, 2) fixes the leading terms (n* interpolation error is in "
                             "the measured interval)"),
    }


def damian_network(r: int, p: int, tolerance: float = 0.0) -> Prediction:
    r"""Damian, Lee & Soltanolkotabi 2022, main theorem: one GD step on the first layer of a 2-layer net, then the
    readout, learns f* = g(U x) (U: r x d, g of degree p) from n >~ d^2 r + d r^p samples (log factors ignored):
    a sufficient sample size, so for fixed r an upper bound on the slope, 2. The finite-d form with unit
    constants is not used: the theorem fixes no constant, and scaling the d r^p term's by 0.1...100 moves its
    slope over d = 12...48 from 1.96 to 1.03."""
    return Prediction(exponent=2.0, relation="upper", tolerance=tolerance, polylog=1.0,
                      tolerance_reason="sufficient sample size up to log factors: only the polylog(d) widens it",
                      formula=f"n <~ d^2 r + d r^p (r={r}, p={p}): slope <= 2 for fixed r",
                      source="Damian et al. 2022, main theorem (abstract)")


def damian_kernel(p: int, tolerance: float = 0.0, count: bool = False) -> Prediction:
    r"""Damian et al. 2022 (citing kernel lower bounds): kernels, the NTK and random features need n ~ d^p samples
    for a degree-p target: exponent p. With ``count`` the finite-d form is C(d+p, p), the number of polynomials
    of degree <= p (a degree-p polynomial kernel interpolates a noise-free degree-p target exactly beyond it)."""
    terms = polynomial_count_terms(p) if count else []
    return Prediction(exponent=float(p), terms=terms, tolerance=tolerance, relation="lower",
                      tolerance_reason="necessary sample size (Omega): constants do not move a slope",
                      formula=f"n ~ d^p (p={p})" + ("; at finite d n > C(d+p, p)" if count else ""),
                      source="Damian et al. 2022, kernel lower bound (abstract)")


def damian_transfer(r: int, p: int, tolerance: float = 0.0) -> Prediction:
    r"""Damian et al. 2022, transfer: with the first layer pretrained on a source g_s(U x), a new head g_t(U x) needs
    n ~ r^p target samples, independent of d: exponent 0."""
    return Prediction(exponent=0.0, terms=[(float(r**p), 0.0)], tolerance=tolerance, polylog=1.0,
                      tolerance_reason="d-independent up to log factors: only the polylog(d) widens it",
                      formula=f"n ~ r^p (r={r}, p={p}), independent of d",
                      source="Damian et al. 2022, transfer (abstract)")


def nichani_three_layer(feature: Literal["single_index", "quadratic"], threshold: Threshold | None = None,
                        tolerance: float = 0.0) -> Prediction:
    r"""Nichani, Damian & Lee 2023, Thms 2-3: Algorithm 1 (one step on the second layer of a 3-layer net over a
    random first layer, then the readout) learns g(beta . x) from n = Theta~(d) samples and g(x^T A x) from
    n = Theta~(d^2) (arXiv v3; the NeurIPS version states d^2 and d^4) -- sufficient sample sizes, independent of
    the degree of g."""
    s, v1 = (1.0, 2) if feature == "single_index" else (2.0, 4)
    thm = "Thm 2" if feature == "single_index" else "Thm 3"
    return Prediction(exponent=s, relation="upper", tolerance=tolerance, threshold=threshold, polylog=1.0,
                      tolerance_reason="O~: a sufficient sample size up to log factors, which alone widen it",
                      formula=f"n = O~(d^{s:g}) (v3; NeurIPS/v1: d^{v1})",
                      source=f"Nichani et al. 2023, {thm} (notes d; v3 rate unverified)")


def nichani_kernel(link_degree: int, tolerance: float = 0.0) -> Prediction:
    r"""Nichani et al. 2023 (motivation): f* = g(x^T A x) with g of degree p is a degree-2p polynomial in x, so
    kernel methods need n >~ d^{2p} samples to learn it."""
    return Prediction(exponent=2.0 * link_degree, relation="lower", tolerance=tolerance,
                      tolerance_reason="necessary sample size (Omega): constants do not move a slope",
                      formula=f"n >~ d^(2p) (p={link_degree})", source="Nichani et al. 2023, Sec. 1 (notes d; verify)")
