r"""Random-features regression: a 2-layer net whose first layer is frozen at initialisation.

    f(x) = a^T sigma(W x / sqrt(d) + b),   W_ij ~ N(0, 1),  b_i ~ bias_scale U(-1, 1) (0 without bias),
    a = (Phi^T Phi + lambda n I)^{-1} Phi^T y,   Phi = sigma(X W^T / sqrt(d) + b)   (ridge readout)

As p -> infinity with ReLU and no bias, (1/p) Phi Phi^T -> the NNGP kernel ``kernels.relu_nngp``.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal, NamedTuple

import jax
from jax import Array
from pydantic import Field, PositiveInt, field_validator

from depthlab.learners.base import LearnerCapability, LearnerSpec, PlotRole
from depthlab.learners.common import ridge_readout, uniform_bias
from depthlab.targets.activations import get_activation


class RandomFeaturesParams(NamedTuple):
    w: Array  # (p, d), frozen
    b: Array  # (p,), frozen
    a: Array  # (p,), ridge readout


class RandomFeatures(LearnerSpec):
    """Frozen random first layer of width p, ridge readout (see module docstring)."""

    plot_role: ClassVar[PlotRole] = "random_features"  # its colour and marker in figures (plots.ROLE_STYLES)

    capabilities: ClassVar[frozenset[LearnerCapability]] = frozenset({"first_layer"})

    kind: Literal["random_features"] = Field(default="random_features", description="learner kind (discriminator)")
    p: PositiveInt = Field(default=1024, description="width p of the frozen random first layer")
    activation: str = Field(default="relu", description="sigma in Phi = sigma(X W^T / sqrt(d) + b) (a name of "
                            "targets.activations)")
    bias_scale: float = Field(default=1.0, ge=0.0, description="b_i ~ bias_scale U(-1, 1); 0: no bias")
    ridge: float = Field(default=1e-3, gt=0.0, description="lambda in a = (Phi^T Phi + lambda n I)^{-1} Phi^T y, "
                         "times n")

    @field_validator("activation")
    @classmethod
    def _known(cls, v: str) -> str:
        get_activation(v)
        return v

    def features(self, params: RandomFeaturesParams, x: Array) -> Array:
        return get_activation(self.activation)(x @ params.w.T / math.sqrt(x.shape[-1]) + params.b)

    def fit(self, key: Array, x: Array, y: Array) -> RandomFeaturesParams:
        kw, kb = jax.random.split(key)
        d = x.shape[-1]
        w = jax.random.normal(kw, (self.p, d), x.dtype)
        b = uniform_bias(kb, (self.p,), self.bias_scale, x.dtype)
        params = RandomFeaturesParams(w=w, b=b, a=w[:, 0] * 0)
        return params._replace(a=ridge_readout(self.features(params, x), y, self.ridge))

    def predict(self, params: RandomFeaturesParams, x: Array) -> Array:
        return self.features(params, x) @ params.a

    def first_layer(self, params: RandomFeaturesParams) -> Array:
        return params.w

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        return itemsize * (3 * n * self.p + 3 * self.p * self.p + 2 * n * d)

    def flops(self, d: int, n: int) -> float:
        return 2.0 * n * self.p * (d + self.p) + self.p**3 / 3.0
