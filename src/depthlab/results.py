"""One stored sweep and everything computed from it: per-trial rows, aggregates, reference levels, measured
exponents with bootstrap intervals, measured-vs-predicted comparisons, paper checks, run provenance.

The preset is the one stored with the sweep (its resolved configuration, ``--set`` overrides included), so
thresholds, predictions and checks are those the sweep was run with. ``depthlab exponents``, ``depthlab
report`` and the pandas API (``depthlab.api``) all read a sweep through ``load_results``.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from depthlab.analysis import AggregateRow, aggregate, trials_at
from depthlab.checks import CheckContext, CheckResult, PredictionCheck, run_checks
from depthlab.config import format_validation_error
from depthlab.exponents import MethodExponent
from depthlab.presets import DEFAULT, Preset, get_preset, preset_names
from depthlab.store import Store, StoreError
from depthlab.theory import Comparison, compare
from depthlab.trajectories import Curve
from depthlab.trajectories import summarize as summarize_trajectories


class ResultsError(ValueError):
    """The store or sweep cannot be read (missing store, no sweep of that preset, no finished trials)."""


@dataclass
class SweepResults:
    store_path: Path
    preset: Preset
    sweep_id: int
    trials: int
    created: str
    rows: list[dict[str, Any]]  # per trial (Store.trial_rows)
    runs: list[dict[str, Any]]  # per execution, with provenance (Store.runs)
    failed: list[dict[str, Any]]  # cells whose latest run failed
    n_boot: int = 1000
    level: float = 0.95
    seed: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # method -> why its exponent could not be measured
    trajectories: list[dict[str, Any]] = field(default_factory=list)  # recorded along training (Store.trajectory_rows)
    _instance_levels: dict[tuple[int, int], dict[str, float] | None] = field(default_factory=dict, repr=False)

    @cached_property
    def curves(self) -> list[Curve]:
        """The recorded training dynamics, median and IQR over trials per cell and metric (``trajectories``)."""
        return summarize_trajectories(self.trajectories)

    @cached_property
    def aggregates(self) -> list[AggregateRow]:
        return aggregate(self.rows)

    @property
    def ds(self) -> list[int]:
        return sorted({int(r["d"]) for r in self.rows})

    @property
    def methods(self) -> list[str]:
        present = {r["method"] for r in self.rows}
        return [m for m in self.preset.methods if m in present]

    @cached_property
    def references(self) -> dict[int, dict[str, float]]:
        """Reference error levels of the target at each d (``TargetSpec.reference_levels``)."""
        return {d: self.preset.target_for(d).reference_levels() for d in self.ds}

    @property
    def instance_dependent(self) -> bool:
        """Whether the target's law depends on its drawn instance, so that each trial is judged against its own
        instance's reference levels (``instance_levels``) instead of ``references``."""
        return bool(self.ds) and self.instance_levels(self.ds[0], 0) is not None

    def instance_levels(self, d: int, trial: int) -> dict[str, float] | None:
        """The reference levels of trial ``trial``'s own target instance at d (the instance every cell of that
        (d, trial) trained on: ``runner.trial_instance`` with the sweep's seed), where the target's law depends
        on the instance (``TargetSpec.instance_reference_levels``); None where it does not. Memoised."""
        key = (d, trial)
        if key not in self._instance_levels:
            self._instance_levels[key] = instance_levels_of(self.preset)(d, trial)
        return self._instance_levels[key]

    @cached_property
    def typical_references(self) -> dict[int, dict[str, float]]:
        """The levels a figure draws at each d (``typical_references``)."""
        return typical_references(self.preset, self.rows, self.instance_levels)

    def _own_levels(self, d: int, trial: int) -> dict[str, float]:
        levels = self.instance_levels(d, trial)
        assert levels is not None
        return levels

    @cached_property
    def context(self) -> CheckContext:
        return CheckContext(
            self.aggregates, self.references, trial_rows=self.rows, predictions=dict(self.preset.predictions),
            curves=self.curves,
            thresholds={m: self.preset.threshold_for(m) for m in self.preset.methods},
            n_boot=self.n_boot, level=self.level, seed=self.seed,
            instance_levels=self._own_levels if self.instance_dependent else None,
        )

    @cached_property
    def exponents(self) -> dict[str, MethodExponent]:
        """Measured kappa*(d) and slope of every method that has results (``errors`` says why one is missing)."""
        out = {}
        for m in self.methods:
            try:
                out[m] = self.context.exponent(m)
            except (LookupError, ValueError) as e:
                self.errors[m] = str(e)
        return out

    @cached_property
    def comparisons(self) -> dict[str, Comparison]:
        """Measured vs predicted, for every method with both a prediction and a measurement."""
        return {m: compare(me, self.preset.predictions[m]) for m, me in self.exponents.items()
                if m in self.preset.predictions}

    @cached_property
    def check_results(self) -> list[tuple[str, CheckResult]]:
        """(kind, result) of the paper checks and the prediction checks; kind is "paper" or "prediction"."""
        checks = self.preset.all_checks()
        res = run_checks(checks, self.context)
        return [("prediction" if isinstance(c, PredictionCheck) else "paper", r) for c, r in zip(checks, res,
                                                                                                strict=True)]

    def kappa_table(self) -> list[dict[str, Any]]:
        """One row per method and d: n*, kappa* with its censoring and bootstrap interval, and the prediction."""
        out = []
        for m, me in self.exponents.items():
            pred = self.preset.predictions.get(m)
            for p in me.points:
                out.append({
                    "method": m, "d": p.d, "threshold": me.threshold, "tau": p.threshold, "n_star": p.n_star,
                    "kappa": p.kappa, "censored": p.censored, "ci_lo": p.ci_lo, "ci_hi": p.ci_hi,
                    "level": me.level, "n_min": p.n_min, "n_max": p.n_max,
                    "grid_kappa_min": math.log(p.n_min) / math.log(p.d),
                    "grid_kappa_max": math.log(p.n_max) / math.log(p.d),
                    "predicted_kappa": pred.kappa_at(p.d) if pred else math.nan,
                })
        return out

    def exponent_table(self) -> list[dict[str, Any]]:
        """One row per method: kappa* at the largest d, the slope over d (NaN with one d), their intervals (the
        slope's widened by its grid interpolation error, as verdicts use it), the prediction (finite-d and
        asymptotic) with the half-width of its band over the sweep's d, and the verdict ("no prediction"
        without one)."""
        out = []
        for m, me in self.exponents.items():
            top = max(me.points, key=lambda p: p.d)
            pred = self.preset.predictions.get(m)
            cmp = self.comparisons.get(m)
            out.append({
                "method": m, "threshold": me.threshold, "ds": me.ds, "d": top.d,
                "kappa": top.kappa, "kappa_censored": top.censored, "kappa_ci_lo": top.ci_lo,
                "kappa_ci_hi": top.ci_hi, "grid_kappa_min": math.log(top.n_min) / math.log(top.d),
                "grid_kappa_max": math.log(top.n_max) / math.log(top.d),
                "predicted_kappa": pred.kappa_at(top.d) if pred else math.nan,
                "slope": me.fit.slope, "slope_bound": me.fit.bound, "slope_ci_lo": me.slope_interval[0],
                "slope_ci_hi": me.slope_interval[1], "slope_grid_error": me.grid_error,
                "predicted_slope": pred.slope_over(me.ds) if pred else math.nan,
                "exponent": pred.exponent if pred else math.nan, "relation": pred.relation if pred else "",
                "tolerance": pred.tolerance_over(me.ds) if pred else math.nan,
                "compared": cmp.quantity if cmp else "",
                "verdict": cmp.verdict if cmp else "no prediction", "formula": pred.formula if pred else "",
                "source": pred.source if pred else "",
            })
        return out

    @property
    def expected_cells(self) -> int:
        from depthlab.sweep.grid import expand

        return len(expand(self.preset))

    @property
    def finished_cells(self) -> int:
        return len({(a.method, a.d, a.n) for a in self.aggregates})


def instance_levels_of(preset: Preset) -> Callable[[int, int], dict[str, float] | None]:
    """(d, trial) -> the reference levels of that trial's own target instance (the one every cell of that (d,
    trial) trained on: ``runner.trial_instance`` with the sweep's seed), None where the target's law is the same
    for every instance (``TargetSpec.instance_reference_levels``)."""
    from depthlab.sweep.runner import trial_instance

    def levels(d: int, trial: int) -> dict[str, float] | None:
        target = preset.target_for(d)
        return target.instance_reference_levels(trial_instance(target, preset.seed, trial))

    return levels


def typical_references(
    preset: Preset, rows: list[dict[str, Any]],
    instance_levels: Callable[[int, int], dict[str, float] | None] | None = None,
) -> dict[int, dict[str, float]]:
    """The reference levels a figure draws at each d of ``rows``: where the target's law depends on its instance,
    each level's median over the trials' own instances (the checks read every trial's own); else the one level
    every instance shares (``TargetSpec.reference_levels``)."""
    levels = instance_levels or instance_levels_of(preset)
    out = {}
    for d in sorted({int(r["d"]) for r in rows}):
        own = [lv for t in trials_at(rows, d) if (lv := levels(d, t)) is not None]
        out[d] = ({k: statistics.median(lv[k] for lv in own) for k in own[0]} if own
                  else preset.target_for(d).reference_levels())
    return out


def stored_preset(config_json: str, current: Preset | None = None) -> Preset:
    """The stored configuration. When the current definition of the same experiment (``current``: an
    experiment file's preset; by default the registered preset of that name) describes the same sweep (same
    config hash: same cells), its checks, threshold, predictions and texts are the current ones -- none of
    them changes a stored number -- so a stored sweep is judged by the checks the code (or file) now declares.
    A sweep stored before presets declared ``threshold`` and ``predictions`` takes both from the current one."""
    from depthlab.sweep.executors import config_hash

    try:
        p = Preset.model_validate_json(config_json)
    except ValidationError as e:
        first = format_validation_error(e).splitlines()[0]
        raise ResultsError(f"the stored configuration of this sweep cannot be read ({first}); its cells are "
                           "intact: `depthlab results --all` exports them") from None
    if current is None or current.name != p.name:
        if p.name not in preset_names():
            return p
        current = get_preset(p.name)
    if config_hash(current) == config_hash(p):
        return current.model_copy(update={"trials": p.trials})
    if "predictions" not in json.loads(config_json):
        p = p.model_copy(update={"threshold": current.threshold, "predictions": current.predictions})
    return p


def load_results(
    store: str | Path, preset: str | Preset | None = None, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> SweepResults:
    """The latest stored sweep of ``preset`` (a name, or a Preset such as an experiment file's, whose checks
    then judge it; any preset when None) in the store at ``store``."""
    current = preset if isinstance(preset, Preset) else None
    preset = preset.name if isinstance(preset, Preset) else preset
    if n_boot < 1:
        raise ResultsError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < level < 1:
        raise ResultsError(f"level must lie in (0, 1), got {level}")
    try:
        st = Store(store, readonly=True)
    except StoreError as e:
        raise ResultsError(str(e)) from None
    with st:
        row = st.latest_sweep(preset)
        if row is None:
            if preset is not None and preset not in preset_names():
                raise ResultsError(f"unknown preset {preset!r} and no results for it in {st.path}; "
                                   f"available presets: {', '.join(preset_names())}")
            where = f"preset {preset!r}" if preset else "any preset"
            raise ResultsError(f"no results for {where} in {st.path}; run `depthlab run {preset or DEFAULT}` first")
        try:
            p = stored_preset(row["config_json"], current)
        except ResultsError as e:
            raise ResultsError(f"sweep {row['sweep_id']} ({row['preset']!r}) in {st.path}: {e}") from None
        sweep_id, trials = int(row["sweep_id"]), int(row["trials"])
        rows = st.trial_rows(sweep_id, trials)
        runs = st.sweep_runs(sweep_id)
        failed = st.failed_runs(sweep_id)
        along = st.trajectory_rows(sweep_id, trials)
    if not rows:
        raise ResultsError(f"the stored sweep of {p.name!r} in {store} has no finished trials yet")
    return SweepResults(Path(store), p, sweep_id, trials, str(row["created"]), rows, runs, failed,
                        n_boot=n_boot, level=level, seed=seed, trajectories=along)


def fmt_kappa_ci(lo: float, hi: float, low_end: float | None = None, high_end: float | None = None) -> str:
    """An interval whose infinite ends (censored replicates) are written as the grid's bounds: -inf as
    "<=kappa_min", +inf as ">kappa_max", e.g. [1.52, >2.40]."""

    def end(x: float) -> str:
        if math.isnan(x):
            return "?"
        if math.isinf(x):
            edge = low_end if x < 0 else high_end
            if edge is None:
                return "-inf" if x < 0 else "+inf"
            return f"<={edge:.2f}" if x < 0 else f">{edge:.2f}"
        return f"{x:.2f}"

    return f"[{end(lo)}, {end(hi)}]"
