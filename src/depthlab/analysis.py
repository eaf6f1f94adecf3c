"""Aggregates over trials: median and interquartile range per method x d x n (errors as in the papers:
the median over trials; diverged trials are counted, not averaged)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from depthlab.metrics import NAMES as METRICS


@dataclass
class AggregateRow:
    preset: str
    method: str
    d: int
    n: int
    kappa: float
    trials: int
    diverged: int
    stats: dict[str, float] = field(default_factory=dict)

    def stat(self, metric: str, which: str = "median") -> float:
        return self.stats.get(f"{metric}_{which}", math.nan)

    def as_dict(self) -> dict[str, Any]:
        base = {k: getattr(self, k) for k in ("preset", "method", "d", "n", "kappa", "trials", "diverged")}
        return {**base, **self.stats}


_ROW_KEYS = {"preset", "method", "d", "n", "kappa", "trial", "status"}


def _metric_names(rows: list[Mapping[str, Any]]) -> list[str]:
    """METRICS, then any further numeric columns of the rows (per-branch overlaps), in a stable order."""
    more = sorted({k for r in rows for k, v in r.items() if k not in _ROW_KEYS and k not in METRICS
                   and isinstance(v, int | float) and not isinstance(v, bool)})
    return [*METRICS, *more]


def trials_at(rows: Iterable[Mapping[str, Any]], d: int) -> list[int]:
    """The trial indices that per-trial ``rows`` hold at dimension d, sorted."""
    return sorted({int(r["trial"]) for r in rows if int(r["d"]) == d})


def aggregate(rows: Iterable[Mapping[str, Any]]) -> list[AggregateRow]:
    """Group per-trial rows by (preset, method, d, n) and summarise every metric column."""
    groups: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["preset"], r["method"], r["d"], r["n"])].append(r)
    out = []
    for (preset, method, d, n), rs in sorted(groups.items()):
        agg = AggregateRow(
            preset=preset,
            method=method,
            d=d,
            n=n,
            kappa=float(rs[0]["kappa"]),
            trials=len(rs),
            diverged=sum(1 for r in rs if r["status"] == "diverged"),
        )
        for m in _metric_names(rs):
            vals = np.array([r[m] for r in rs if r.get(m) is not None and r["status"] == "ok"], dtype=float)
            vals = vals[np.isfinite(vals)]
            if vals.size == 0:
                continue
            q25, med, q75 = np.percentile(vals, [25, 50, 75])
            agg.stats.update(
                {
                    f"{m}_median": float(med),
                    f"{m}_q25": float(q25),
                    f"{m}_q75": float(q75),
                    f"{m}_mean": float(vals.mean()),
                }
            )
        out.append(agg)
    return out
