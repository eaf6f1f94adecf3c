"""Grid expansion: a preset becomes self-contained cells (method x d x n), each with its trials.

Cell key = SHA-256 of the canonical JSON of everything that determines a trial's numbers (resolved target
and learner specs, n, test size, seed, precision, trial block, algorithm version) and NOT the method's
display name (a label: renaming a method keeps its cells and numbers; ``store.sweep_cells`` records the name a
sweep gives a cell) nor the number of trials: trial t of a cell is the same computation whatever the trial
count (it always runs in block t // B of the same compiled program, ``runner.run_cell``), so raising
``trials`` only runs the new ones and gives the old ones bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from depthlab.learners.base import LearnerSpec
from depthlab.presets.base import Preset
from depthlab.targets.base import TargetSpec

DEFAULT_MEMORY_BUDGET = 2 * 1024**3  # bytes for one block of vmapped trials
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


class MemoryBudgetError(ValueError):
    """``$DEPTHLAB_MEMORY_BUDGET`` is not a positive size."""


def parse_size(text: str) -> int:
    """Bytes in a size as written: ``2000000000``, ``1e9`` (bytes), ``512MiB``, ``2GiB``, ``1.5GB``; a whole
    positive number of bytes, else ``ValueError``."""
    import re

    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a size: give bytes (2000000000, 1e9) or a size with a unit (512MiB, 2GiB)")
    value = float(m.group(1)) * _UNITS[unit]
    if value <= 0:
        raise ValueError(f"{text!r}: the size must be positive")
    if value != int(value):
        raise ValueError(f"{text!r} is not a whole number of bytes")
    return int(value)


def memory_budget() -> int:
    """The memory budget of one block of vmapped trials: ``$DEPTHLAB_MEMORY_BUDGET`` (a size, see
    :func:`parse_size`), default 2 GiB; :class:`MemoryBudgetError` naming the variable if it is not a size."""
    text = os.environ.get("DEPTHLAB_MEMORY_BUDGET")
    if text is None or text.strip() == "":
        return DEFAULT_MEMORY_BUDGET
    if text.strip().startswith("-"):
        raise MemoryBudgetError(f"DEPTHLAB_MEMORY_BUDGET={text!r}: the size must be positive")
    try:
        return parse_size(text)
    except ValueError as e:
        raise MemoryBudgetError(f"DEPTHLAB_MEMORY_BUDGET={e}") from None

PREFETCH_WINDOW = 24  # cells compiled ahead of the one running (bounds the programs held in memory)


def prefetch_window() -> int:
    """``$DEPTHLAB_PREFETCH`` cells compiled ahead of the running one (default ``PREFETCH_WINDOW``; 0: each
    cell's programs are compiled when it starts, nothing overlaps: what ``depthlab bench --section overlap``
    compares)."""
    text = os.environ.get("DEPTHLAB_PREFETCH", "").strip()
    if not text:
        return PREFETCH_WINDOW
    if not text.isdigit():
        raise ValueError(f"DEPTHLAB_PREFETCH={text!r}: expected a whole number of cells (0 or more)")
    return int(text)


COMPILE_THREADS = 1  # programs compiled at once by the background compiler (measured choice: README "Cold start")


def compile_threads() -> int:
    """``$DEPTHLAB_COMPILE_THREADS`` programs compiled at once in the background (default ``COMPILE_THREADS``).
    On 2 cores (Intel Xeon, JAX 0.10.2) a second thread took a small one_step preset from 13.9 to 12.5 s cold
    and slowed ``quick`` from 104-106 to 111 s cold: compilation competes with the numerics for the same cores."""
    text = os.environ.get("DEPTHLAB_COMPILE_THREADS", "").strip()
    if not text:
        return COMPILE_THREADS
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"DEPTHLAB_COMPILE_THREADS={text!r}: expected a whole number of threads (1 or more)")
    return int(text)


# Bump when a change alters the numbers a given configuration produces (invalidates stored cells).
ALGORITHM_VERSION = 7  # 2: M_W ignores neurons with zero weights; 3: one-step sphere init at unit preactivation;
# 4: trials run in fixed blocks of ``trial_block`` (before: batches sized by the trial count; last-bit changes);
# 5: the learner's key is salted by its configuration, not by the method's name (every learner's numbers change:
#    a new draw of its initialisation and batches, same distribution; stores keep v4 cells, which no longer match)
# 6: nested data: one target instance, test set and stream of training samples (drawn in fixed chunks) per
#    (d, trial), a cell at n using its first n samples (runner.py "Randomness"; every stored number changes)
# 7: the metrics that do not read the training batch run in an evaluation program of their own, shared across
#    n (runner.eval_function): training is unchanged, a metric may differ in its last bit (1 of 36 cells of
#    nine quick presets, trials 0-1, differed: one pred_corr by 6e-8); fit programs of cells under
#    runner.SMALL_CELL_GFLOP compile with LLVM optimisation off (their numbers change in the last digits)


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
    trial_block: int = 2
    record: int = 0  # log-spaced training steps to record (Preset.record.steps); 0: none

    @property
    def record_count(self) -> int:
        """Points recorded along training: ``record`` for a learner that can record (capability
        ``trajectory``), 0 for the others (a kernel has no training time)."""
        return self.record if "trajectory" in self.learner.capabilities else 0

    def schedule(self) -> tuple[tuple[int, str], ...]:
        """(training step, stage) of each recorded point (empty when nothing is recorded)."""
        return self.learner.record_schedule(self.d, self.n, self.record_count) if self.record_count else ()

    def block(self, budget: int | None = None) -> int:
        """Trials per compiled call: ``trial_block``, fewer only if that many exceed the memory budget
        (``$DEPTHLAB_MEMORY_BUDGET``, default 2 GiB). Depends on the cell and the budget, never on how many
        trials are asked for."""
        budget = budget or memory_budget()
        return int(max(1, min(self.trial_block, budget // max(self.trial_bytes(), 1))))

    def trial_bytes(self) -> int:
        """Estimated peak memory of one trial: the learner's ``memory_bytes`` plus the test set (4 n_test d
        numbers: inputs and what the metrics compute from them)."""
        itemsize = 8 if self.precision == "float64" else 4
        return int(self.learner.memory_bytes(self.d, self.n, itemsize) + itemsize * 4 * self.n_test * self.d)

    def identity(self) -> dict[str, Any]:
        ident = {
            "target": self.target.model_dump(mode="json"),
            "learner": self.learner.identity(),
            "n": self.n,
            "n_test": self.n_test,
            "seed": self.seed,
            "precision": self.precision,
            "trial_block": self.block(),
            "version": ALGORITHM_VERSION,
        }
        if self.record_count:  # a recording cell is another cell; a cell that records nothing keeps its key
            ident["record"] = self.record_count
        return ident

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
                        precision=preset.precision, trials=preset.trials, trial_block=preset.trial_block,
                        record=preset.record.steps,
                    )
                )
    return cells
