r"""Training dynamics: the metrics a sweep recorded along training (``Preset.record``), summarised.

A recorded trial gives tidy rows (``Store.trajectory_rows``): method, d, n, kappa, trial, step, stage, metric,
value, where step counts minibatch updates from the initialisation (step 0, stage ``init``) and stage names the
part of training the step belongs to (``layer1``, ``layer2`` for layer-wise training, ``joint``). At a step of
layer-wise (and 2-layer) training the losses are those of the network with its readout fitted at that step
(``LayerwiseThreeLayer.fit_recorded``). ``summarize`` gives, per (method, d, n, metric, step), the median over
trials and the interquartile range (what ``plot_trajectories`` draws and the checks over time read).

Storage: (recorded points) x (metrics) numbers per trial, e.g. 41 x 6 floats for ``record.steps=40`` on a SIGHT
target; never a weight snapshot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

COLUMNS = ("method", "d", "n", "kappa", "trial", "step", "stage", "metric", "value")


@dataclass(frozen=True)
class Curve:
    """One metric of one cell along training: per recorded step, the median over trials and its quartiles."""

    method: str
    d: int
    n: int
    kappa: float
    metric: str
    steps: np.ndarray  # (K,) int
    stages: tuple[str, ...]
    median: np.ndarray
    q25: np.ndarray
    q75: np.ndarray
    trials: int
    per_trial: np.ndarray  # (trials, K), NaN where a value is missing (a diverged step)

    def boundaries(self) -> list[tuple[int, str]]:
        """(first step, stage) of every stage after the first trained one: where a stage starts."""
        out, prev = [], None
        for s, st in zip(self.steps, self.stages, strict=True):
            if st != prev and prev not in (None, "init"):
                out.append((int(s), st))
            prev = st
        return out


def summarize(rows: Iterable[Mapping[str, Any]]) -> list[Curve]:
    """Curves of every (method, d, n, metric) in tidy trajectory rows, ordered by method, d, n, metric."""
    groups: dict[tuple[str, int, int, float, str], dict[int, dict[int, float]]] = defaultdict(
        lambda: defaultdict(dict))
    stage_of: dict[tuple[str, int, int, float, str], dict[int, str]] = defaultdict(dict)
    for r in rows:
        key = (str(r["method"]), int(r["d"]), int(r["n"]), float(r["kappa"]), str(r["metric"]))
        v = r["value"]
        groups[key][int(r["trial"])][int(r["step"])] = np.nan if v is None else float(v)
        stage_of[key][int(r["step"])] = str(r["stage"])
    out = []
    for key in sorted(groups):
        steps = np.array(sorted(stage_of[key]), dtype=np.int64)
        trials = sorted(groups[key])
        mat = np.array([[groups[key][t].get(int(s), np.nan) for s in steps] for t in trials], dtype=np.float64)
        with np.errstate(all="ignore"):
            med, q25, q75 = (np.nanquantile(mat, q, axis=0) if np.isfinite(mat).any() else np.full(len(steps), np.nan)
                             for q in (0.5, 0.25, 0.75))
        method, d, n, kappa, metric = key
        out.append(Curve(method, d, n, kappa, metric, steps, tuple(stage_of[key][int(s)] for s in steps), med, q25,
                         q75, len(trials), mat))
    return out


def table(curves: Sequence[Curve], metrics: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One row per curve: the median at the initialisation, at the middle recorded step and at the end."""
    out = []
    for c in curves:
        if metrics is not None and c.metric not in metrics:
            continue
        mid = len(c.steps) // 2
        out.append({"method": c.method, "d": c.d, "n": c.n, "kappa": c.kappa, "metric": c.metric,
                    "trials": c.trials, "init": float(c.median[0]), "mid_step": int(c.steps[mid]),
                    "mid": float(c.median[mid]), "final_step": int(c.steps[-1]), "final": float(c.median[-1])})
    return out
