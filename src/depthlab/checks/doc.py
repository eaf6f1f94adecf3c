"""The table of every check of every preset (docs/CHECKS.md): the paper's claim, what is measured, the threshold
and where it comes from, and the counterfactual that fails it (tests/test_counterfactuals.py builds each one).

    python -m depthlab.checks.doc > docs/CHECKS.md     (a test keeps the committed file equal to this output)
"""

from __future__ import annotations

from typing import Any

from depthlab.checks import (
    BoundCheck,
    BoundEveryDCheck,
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
)

COUNTERFACTUAL = {
    "OrderingCheck": "the learners tie (no advantage)",
    "BoundCheck": "the value on the other side of the bound",
    "RiseCheck": "the metric stays at its starting level",
    "LeavesTrivialCheck": "one learner never leaves E f*^2",
    "ExponentOrderingCheck": "equal slopes (intervals not apart by the margin)",
    "ExponentBoundCheck": "a slope outside the bounds",
    "BoundEveryDCheck": "broken at the largest d only",
    "OrderingEveryDCheck": "the ratio on the other side of the factor at the largest d",
    "ResourcesEveryDCheck": "an error floor: the scaled learner ties the base at the largest d",
    "TrajectoryCheck": "a recorded path whose statistic (change, excursion, final) lies on the other side",
    "RelationCheck": "the two metrics unrelated across the cells (rank correlation ~0)",
    "PredictionCheck": "a slope 0.6 outside the band (one d: INFO whatever the data)",
    "MetricOrderingCheck": "the two metrics tie (ratio 1)",
    "ReachesFirstCheck": "both recorded metrics reach the level at the same training step",
}


def _measured(c: Any, preset: Any) -> tuple[str, str]:
    """(measured quantity, threshold) of one check."""
    if isinstance(c, OrderingCheck):
        return f"ratios of median {c.metric} at {c.at}, largest d, bootstrap interval", (
            " < ".join(c.methods) + f", each ratio > {c.factor:g}")
    if isinstance(c, BoundCheck):
        bound = f"{c.factor:g} x {c.reference}" if c.reference else f"{c.value:g}"
        return f"median {c.metric} of {c.method} at {c.at}, largest d, bootstrap interval", f"{c.op} {bound}"
    if isinstance(c, RiseCheck):
        return f"median {c.metric} of {c.method}, kappa_min -> kappa_max, bootstrap intervals", (
            f"end >= {c.min_final:g} and >= {c.min_ratio:g} x start")
    if isinstance(c, LeavesTrivialCheck):
        return f"median test_mse of {', '.join(c.methods)}, bootstrap intervals", (
            f"start >= {c.start_fraction:g} E f*^2, end <= {c.end_fraction:g} E f*^2")
    if isinstance(c, ExponentOrderingCheck | ExponentBoundCheck):
        rel = f" x {c.relative_to}" if c.relative_to else ""
        what = f"slope of log n* vs log d, n* at {c.metric} {c.op} {c.threshold:g}{rel}, bootstrap interval"
        if isinstance(c, ExponentOrderingCheck):
            return what, " < ".join(c.methods) + f" by >= {c.margin:g}"
        return what, f"in [{c.min_slope}, {c.max_slope}]"
    if isinstance(c, BoundEveryDCheck):
        return f"median {c.metric} of {c.method} at {c.at}, every d, bootstrap interval", f"{c.op} {c.value:g}"
    if isinstance(c, OrderingEveryDCheck):
        a, b = c.methods
        return f"ratio of median {c.metric} at {c.at}, every d, bootstrap interval", f"{b} / {a} {c.op} {c.factor:g}"
    if isinstance(c, ResourcesEveryDCheck):
        base, scaled = c.methods
        return (f"ratio of median {c.metric}: {base} at the smallest n >= n_max / {c.scale:g} vs {scaled} (width, "
                f"steps x{c.scale:g}) at n_max, every d, bootstrap interval"), f"{base} / {scaled} > {c.factor:g}"
    if isinstance(c, TrajectoryCheck):
        what = {"change": "last - initial value", "excursion": "max |value - initial value| over the run",
                "final": "last value"}[c.statistic]
        return (f"{what} of {c.metric} of {c.method} along training (recorded steps) at {c.at}, largest d, "
                "median over trials, bootstrap interval"), f"{c.op} {c.value:g}"
    if isinstance(c, RelationCheck):
        y = f"{c.y} / E f*^2" if c.relative_to_trivial else c.y
        return (f"Spearman rank correlation of the cell medians of {c.x} and {y} of {c.method} over every d and n, "
                "bootstrap interval (trials resampled per cell)"), f"rho {c.op} {c.value:g}"
    if isinstance(c, MetricOrderingCheck):
        a, b = c.metrics
        return (f"ratio of median {a} to median {b} of {c.method} at {c.at}, largest d, paired bootstrap "
                "interval over trials"), f"{a} / {b} > {c.factor:g}"
    if isinstance(c, ReachesFirstCheck):
        a, b = c.metrics
        return (f"per trial: first recorded step with value >= {c.level:g} of {a} and of {b} ({c.method}, {c.at}, "
                "largest d; never: beyond the run), ratio later / first, median over trials, bootstrap interval"), (
            f"> {c.factor:g}")
    if isinstance(c, PredictionCheck):
        p = preset.predictions[c.method]
        th = preset.threshold_for(c.method)
        what = f"slope of log n* vs log d ({th.describe()}), bootstrap interval"
        if len(preset.ds) < 3:
            return what, f"{p.describe()}: information only (d = {preset.ds[0]})"
        rel = {"rate": "=", "upper": "<=", "lower": ">="}[p.relation]
        return what, (f"{rel} {p.slope_over(preset.ds):.2f} +- {p.tolerance_over(preset.ds):.2f} "
                      f"({p.tolerance_why(preset.ds)})")
    raise TypeError(f"no documentation for {type(c).__name__}")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
    from depthlab.presets import all_presets

    lines = [
        "# Paper checks",
        "",
        "Generated by `python -m depthlab.checks.doc` (a test keeps this file current). One row per check of "
        "every preset: the claim (the check's description, with its paper reference), the measured quantity, "
        "the threshold and where it comes from, and the counterfactual planted in `tests/test_counterfactuals.py` "
        "on which the check must FAIL (a planted world where the claim holds must PASS).",
        "",
        "Every verdict comes from an interval: a cell's median over trials carries a 95% bootstrap interval "
        "(trials resampled), a claim that one learner beats another is a ratio of medians above a stated factor "
        "(1.25 unless the row says otherwise: a quarter lower error, so a tie FAILs), an exponent is a slope over "
        ">= 3 d with its bootstrap interval widened by the grid error. "
        "Statuses: PASS (the whole interval on the claim's side), FAIL (wholly on the other side), INCONCLUSIVE "
        "(an interval straddles the threshold or is wider than the band, or nothing was measured; "
        "`depthlab check` exits 3 if no check FAILs), INFO (an exponent over fewer than 3 d, or one no paper "
        "bounds; never "
        "judged). A threshold relative to a reference level (x E f*^2, x best_quadratic, ...) is the level of "
        "each trial's own target instance where the target's law depends on the instance (the hierarchical "
        "targets: their a* signs), each trial's metric divided by its own level (tests: the same planted worlds "
        "with every trial's errors and levels scaled by its own factor); elsewhere the level every instance "
        "shares. Removed as true by construction or ruled out by the preset itself: \"kernel cannot beat the "
        "best quadratic\" (Dandi), \"one step beats random features of the same width\" and \"transfer beats the "
        "one-step net from scratch\" (Damian), the kernel's d^(2p) predictions (Nichani: beyond every grid).",
        "",
        "| preset | check | claim | measured | threshold | counterfactual that fails it |",
        "|---|---|---|---|---|---|",
    ]
    for p in all_presets():
        for c in p.all_checks():
            what, threshold = _measured(c, p)
            lines.append("| " + " | ".join(_cell(x) for x in (
                p.name, c.name, c.description or "-", what, threshold, COUNTERFACTUAL[type(c).__name__])) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
