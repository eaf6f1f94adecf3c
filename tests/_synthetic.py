"""A results store filled with planted numbers instead of training runs: every cell of a preset gets trials whose
test error is 1 / (1 + (n / n0_t)^2) x E f*^2 with n0_t = c d^s exp(0.15 z_t), so the first n at which the
median error falls below tau x E f*^2 is n* = sqrt(1/tau - 1) c d^s (up to the jitter): a planted exponent s.
Methods without a law never learn (error 0.9 E f*^2)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from depthlab.presets import Preset
from depthlab.store import Store
from depthlab.sweep.grid import expand

PROVENANCE_KEYS = ("depthlab_version", "jax_version", "host")


def planted_error(n: float, d: int, law: tuple[float, float] | None, z: float) -> float:
    if law is None:
        return 0.9
    c, s = law
    n0 = c * d**s * math.exp(0.15 * z)
    return 1.0 / (1.0 + (n / n0) ** 2)


def fill_store(path: Path, preset: Preset, laws: dict[str, tuple[float, float] | None], seed: int = 0) -> Path:
    """Register ``preset``'s sweep in a new store at ``path`` and write planted trials for every cell."""
    cells = expand(preset)
    rng = np.random.default_rng(seed)
    with Store(path) as st:
        st.register_sweep(preset.name, f"synthetic-{preset.name}", preset.model_dump_json(), preset.trials, cells)
        for c in cells:
            trivial = preset.target_for(c.d).reference_levels()["trivial"]
            rows = []
            for t in range(preset.trials):
                err = trivial * planted_error(c.n, c.d, laws.get(c.method), float(rng.standard_normal()))
                rows.append({"trial": t, "status": "ok", "test_mse": err, "train_mse": 0.5 * err,
                             "trivial_mse": trivial, "overlap_w": 1.0 - err / trivial})
            st.write_cell(c.key, list(range(preset.trials)), rows, "ok", timings={"wall_s": 0.1, "run_s": 0.1})
    return path
