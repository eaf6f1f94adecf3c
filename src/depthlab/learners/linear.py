r"""Linear ridge regression on the raw inputs: the best linear predictor, the floor every learner must beat.

    f(x) = w^T x + c,   (w, c) = (H^T H + lambda n I)^{-1} H^T y,   H = [X, 1]   (the bias is penalised too)

Its limit is the target's degree-1 Hermite part: for SIGHT (sigma_1 = He2 + He3, f* = tanh(3 h*)) at d = 16
the fit on 20 000 samples leaves 95% of E f*^2 (tests/test_linear.py), so a learner that only matches this
baseline has learned almost nothing of the hierarchy. Its weight vector is its first layer (p1 = 1): M_W says
how much of it lies in the hidden subspace.
"""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple

import jax.numpy as jnp
from jax import Array
from pydantic import Field

from depthlab.learners.base import LearnerCapability, LearnerSpec, PlotRole
from depthlab.learners.common import ridge_readout


class LinearParams(NamedTuple):
    w: Array  # (d,)
    c: Array  # ()


class LinearRidge(LearnerSpec):
    """Ridge regression on [x, 1] (see module docstring)."""

    plot_role: ClassVar[PlotRole] = "random_features"  # its colour and marker in figures (plots.ROLE_STYLES)

    capabilities: ClassVar[frozenset[LearnerCapability]] = frozenset({"first_layer"})

    kind: Literal["linear"] = Field(default="linear", description="learner kind (discriminator)")
    ridge: float = Field(default=1e-3, gt=0.0, description="lambda in (H^T H + lambda n I)^{-1} H^T y, H = [X, 1]")

    def fit(self, key: Array, x: Array, y: Array) -> LinearParams:
        h = jnp.concatenate([x, jnp.ones_like(x[:, :1])], axis=1)
        coef = ridge_readout(h, y, self.ridge)
        return LinearParams(w=coef[:-1], c=coef[-1])

    def predict(self, params: LinearParams, x: Array) -> Array:
        return x @ params.w + params.c

    def first_layer(self, params: LinearParams) -> Array:
        return params.w[None, :]

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        return itemsize * (3 * n * (d + 1) + 3 * (d + 1) ** 2)

    def flops(self, d: int, n: int) -> float:
        return 2.0 * n * (d + 1) ** 2 + (d + 1) ** 3 / 3.0
