"""Notebook API: run an experiment, and read a stored sweep as tidy pandas DataFrames.

    >>> from depthlab import api
    >>> res = api.run("quick", "depthlab.sqlite", overrides=["d=48"])   # a preset name, a Preset or a file
    >>> res = api.load("depthlab.sqlite", preset="quick")
    >>> res.rows()          # one row per trial: preset, method, d, n, kappa, trial, status, metrics
    >>> res.aggregates()    # one row per method x d x n: median / q25 / q75 / mean of every metric
    >>> res.exponents()     # one row per method x d: n*, kappa* = log n* / log d, bootstrap interval, prediction
    >>> res.slopes()        # one row per method: kappa* at the largest d, slope over d, prediction, verdict
    >>> res.checks()        # paper and prediction checks: PASS/FAIL with numbers
    >>> res.runs()          # one row per run with its timings and provenance keys as columns

Needs pandas (``pip install depthlab[pandas]``). Definitions: ``depthlab.exponents`` and ``depthlab.theory``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from depthlab.presets import Preset, apply_overrides, get_preset
from depthlab.presets.files import is_experiment_file, load_experiment
from depthlab.results import ResultsError, SweepResults, load_results

if TYPE_CHECKING:
    import pandas as pd


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas is in the dev extra
        raise ImportError("depthlab.api needs pandas: pip install 'depthlab[pandas]'") from None
    return pandas


class Results:
    """Tidy DataFrames of one stored sweep (``load``); ``.raw`` is the underlying ``SweepResults``."""

    def __init__(self, raw: SweepResults) -> None:
        self.raw = raw

    @property
    def preset(self) -> Any:
        return self.raw.preset

    def rows(self) -> pd.DataFrame:
        return _pandas().DataFrame(self.raw.rows)

    def trajectories(self) -> pd.DataFrame:
        """The metrics recorded along training (``record.steps``), tidy: method, d, n, kappa, trial, step, stage,
        metric, value (empty when the sweep recorded nothing)."""
        from depthlab.trajectories import COLUMNS

        return _pandas().DataFrame(self.raw.trajectories, columns=list(COLUMNS))

    def aggregates(self) -> pd.DataFrame:
        return _pandas().DataFrame([a.as_dict() for a in self.raw.aggregates])

    def exponents(self) -> pd.DataFrame:
        return _pandas().DataFrame(self.raw.kappa_table())

    def slopes(self) -> pd.DataFrame:
        return _pandas().DataFrame(self.raw.exponent_table())

    def checks(self) -> pd.DataFrame:
        return _pandas().DataFrame(
            [{"kind": k, "name": r.name, "status": r.status, "passed": r.passed, "detail": r.detail, **r.measured}
             for k, r in self.raw.check_results]
        )

    def runs(self) -> pd.DataFrame:
        flat = []
        for r in self.raw.runs:
            row = {k: v for k, v in r.items() if k != "provenance"}
            row.update({f"prov_{k}": v for k, v in r["provenance"].items()})
            flat.append(row)
        return _pandas().DataFrame(flat)


def experiment(ref: str | Path | Preset, overrides: list[str] | None = None, trials: int | None = None) -> Preset:
    """A preset by name, an experiment file (.toml / .yaml / .json) or a Preset, with ``key=value`` overrides."""
    if isinstance(ref, Preset):
        base = ref
    elif isinstance(ref, Path) or is_experiment_file(ref):
        base = load_experiment(ref)
    else:
        base = get_preset(ref)
    return apply_overrides(base, overrides or [], trials)


def load(
    store_path: str | Path, preset: str | Preset | None = None, *, n_boot: int = 1000, level: float = 0.95,
    seed: int = 0,
) -> Results:
    """The latest sweep of ``preset`` (a name or a Preset; of any preset when None) in the store; ``n_boot``
    bootstrap replicates at confidence ``level`` with generator seed ``seed`` for the exponent intervals."""
    return Results(load_results(store_path, preset, n_boot=n_boot, level=level, seed=seed))


def run(
    ref: str | Path | Preset, store_path: str | Path, *, overrides: list[str] | None = None,
    trials: int | None = None, n_boot: int = 1000,
) -> Results:
    """Run (resuming) every missing cell of an experiment in this process into the store, then ``load`` it.
    The Dask modes are the CLI's (``depthlab run --workers N``)."""
    from depthlab.store import Store
    from depthlab.sweep import plan, run_local

    p = experiment(ref, overrides, trials)
    with Store(store_path) as st:
        run_local(plan(p, st), st)
    return load(store_path, p, n_boot=n_boot)


__all__ = ["Results", "ResultsError", "experiment", "load", "run"]
