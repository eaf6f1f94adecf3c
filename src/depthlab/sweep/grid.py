"""Grid expansion: a preset becomes self-contained cells (method x d x n), each with its trials.

Cell key = SHA-256 of the canonical JSON of everything that determines a trial's numbers (method name,
resolved target and learner specs, n, test size, seed, precision, algorithm version) and NOT the number
of trials: trial t of a cell is the same computation whatever the trial count, so raising ``trials``
only runs the new ones.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from depthlab.learners.base import LearnerSpec
from depthlab.presets.base import Preset
from depthlab.targets.base import TargetSpec

# Bump when a change alters the numbers a given configuration produces (invalidates stored cells).
ALGORITHM_VERSION = 3  # 2: M_W ignores neurons with zero weights; 3: one-step sphere init at unit preactivation


@dataclass(frozen=True)
class Cell:
    preset: str
    method: str
    d: int
    n: int
    kappa: float
    target: TargetSpec
    learner: LearnerSpec
    n_test: int
    seed: int
    precision: str
    trials: int

    def identity(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "target": self.target.model_dump(mode="json"),
            "learner": self.learner.model_dump(mode="json", exclude={"max_n"}),
            "n": self.n,
            "n_test": self.n_test,
            "seed": self.seed,
            "precision": self.precision,
            "version": ALGORITHM_VERSION,
        }

    @property
    def key(self) -> str:
        blob = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    @property
    def program_key(self) -> str:
        """What the compiled program depends on (not the seed, not the trial indices)."""
        ident = self.identity()
        ident.pop("seed")
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]

    @property
    def label(self) -> str:
        return f"{self.method} d={self.d} n={self.n} (kappa={self.kappa:.2f})"


def expand(preset: Preset) -> list[Cell]:
    """All cells of a preset, ordered by method then d then n (small cells first)."""
    cells = []
    for method, spec in preset.methods.items():
        for d in preset.ds:
            target = preset.target_for(d)
            grid = preset.grid(d)
            n_max = max(n for _, n in grid)
            for kappa, n in grid:
                if spec.max_n is not None and n > spec.max_n:
                    continue
                cells.append(
                    Cell(
                        preset=preset.name, method=method, d=d, n=n, kappa=round(kappa, 6), target=target,
                        learner=spec.resolve(d, n, n_max).bind(target), n_test=preset.n_test, seed=preset.seed,
                        precision=preset.precision, trials=preset.trials,
                    )
                )
    return cells
