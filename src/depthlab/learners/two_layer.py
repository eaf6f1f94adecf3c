r"""Two-layer ReLU network: first layer by GD, then a ridge readout (Dandi et al. 2025, App. F.4 baseline).

    f(x) = w_2^T relu(W_1 x + b_1),   W_1: p x d,   p = int(p1 / 15),  p1 = int(n_max^{1-delta})

Initialisation: W_1 ~ N(0, 1/d), b_1 ~ U(-1, 1) (fixed), w_2 ~ eps N(0, 1/p) (fixed while W_1 trains).
T = int(5 d^{3/2}) iterations of  W_1 <- W_1 - lr (sqrt(p) g / eps + reg W_1),  g = grad_{W_1} (1/2 SSE) / m
on minibatches of m = int(0.7 n) samples (int(T/0.7) steps); then w_2 = (H^T H + lambda n I)^{-1} H^T y.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Literal, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from pydantic import Field, PositiveFloat, PositiveInt

from depthlab.learners.base import LearnerCapability, LearnerSpec, PlotRole
from depthlab.learners.common import (
    Sampler,
    batch_size,
    num_steps,
    relu,
    ridge_readout,
    run_stage,
    schedule_of,
    stack_values,
    stage_points,
    uniform_bias,
)


class TwoLayerParams(NamedTuple):
    w1: Array  # (p, d)
    b1: Array  # (p,)
    w2: Array  # (p,)


def two_layer_forward(p: TwoLayerParams, x: Array) -> Array:
    return relu(x @ p.w1.T + p.b1) @ p.w2


class TwoLayer(LearnerSpec):
    """2-layer net: W_1 by minibatch GD, ridge readout (module docstring has the update)."""

    plot_role: ClassVar[PlotRole] = "two_layer"  # its colour and marker in figures (plots.ROLE_STYLES)

    capabilities: ClassVar[frozenset[LearnerCapability]] = frozenset({"first_layer", "trajectory"})

    kind: Literal["two_layer"] = Field(default="two_layer", description="learner kind (discriminator)")
    p: PositiveInt | None = Field(default=None, description="hidden width; None: int(int(n_max^(1-delta)) / "
                                  "width_divisor), n_max the largest n of the sweep")
    width_divisor: PositiveFloat = Field(default=15.0, description="p = int(p1 / width_divisor), p1 = "
                                         "int(n_max^(1-delta)) (public code; paper F.4 says 25)")
    delta: float = Field(default=0.1, ge=0.0, lt=1.0, description="p1 = int(n_max^(1-delta)), the width before "
                         "width_divisor")
    eps_init: PositiveFloat = Field(default=0.2, description="eps: w_2 ~ eps N(0, 1/p) at init, and the step "
                                    "W_1 <- W_1 - lr (sqrt(p) g / eps + reg W_1)")
    lr: PositiveFloat = Field(default=1.0, description="lr in W_1 <- W_1 - lr (sqrt(p) g / eps + reg W_1)")
    reg: float = Field(default=0.01, description="weight decay reg in the W_1 update (example yaml "
                       "reg1_setup_2layer)")
    t_coef: PositiveFloat = Field(default=5.0, description="T = int(t_coef d^1.5) iterations, as the 3-layer T_2")
    batch_fraction: float = Field(default=0.7, gt=0.0, le=1.0, description="minibatch m = int(batch_fraction n) "
                                  "samples; T iterations = int(T / batch_fraction) steps")
    ridge: float = Field(default=1.0, description="lambda in w_2 = (H^T H + lambda n I)^{-1} H^T y, times n")
    sampler: Sampler = Field(default="window", description="minibatch sampler (learners.common.minibatch_loop); "
                             "'permutation' = exact (a fresh random subset every step)")

    def resolve(self, d: int, n: int, n_max: int) -> TwoLayer:
        if self.p is not None:
            return self
        p1 = int(n_max ** (1.0 - self.delta))
        return self.model_copy(update={"p": max(1, int(p1 / self.width_divisor))})

    @property
    def width(self) -> int:
        if self.p is None:
            raise ValueError("p is unresolved: call resolve(d, n, n_max) first")
        return self.p

    def _steps(self, d: int) -> int:
        return num_steps(int(self.t_coef * d**1.5), self.batch_fraction)

    def record_schedule(self, d: int, n: int, count: int) -> tuple[tuple[int, str], ...]:
        return schedule_of([("layer1", self._steps(d))], count)

    def fit(self, key: Array, x: Array, y: Array) -> TwoLayerParams:
        return self._train(key, x, y)[0]

    def fit_recorded(self, key: Array, x: Array, y: Array, probe: Callable[[Any], dict[str, Array]],
                     count: int) -> tuple[TwoLayerParams, dict[str, Array]]:
        """Each recorded point evaluates the network with its readout fitted at that step (the final ridge on
        the current W_1: w_2 stays at its initialisation while W_1 trains). The last point is the trained net."""
        params, values = self._train(key, x, y, probe, count)
        assert values is not None
        return params, values

    def _train(self, key: Array, x: Array, y: Array, probe: Callable[[Any], dict[str, Array]] | None = None,
               count: int = 0) -> tuple[TwoLayerParams, dict[str, Array] | None]:
        n, d = x.shape
        p, eps, lr = self.width, self.eps_init, self.lr
        k1, k2, k3, kb = jax.random.split(key, 4)
        params = TwoLayerParams(
            w1=jax.random.normal(k1, (p, d), x.dtype) / math.sqrt(d),
            b1=uniform_bias(k2, (p,), 1.0, x.dtype),
            w2=eps * jax.random.normal(k3, (p,), x.dtype) / math.sqrt(p),
        )
        m = batch_size(n, self.batch_fraction)
        steps = self._steps(d)

        def loss(w1: Array, xb: Array, yb: Array) -> Array:
            r = two_layer_forward(params._replace(w1=w1), xb) - yb
            return 0.5 * jnp.sum(r * r)

        grad = jax.grad(loss)

        def step(w1: Array, batch: tuple[Array, ...]) -> Array:
            g = grad(w1, *batch) / m
            return w1 - lr * (math.sqrt(p) * g / eps + self.reg * w1)

        def readout(w1: Array) -> TwoLayerParams:
            return TwoLayerParams(w1=w1, b1=params.b1, w2=ridge_readout(relu(x @ w1.T + params.b1), y, self.ridge))

        points = stage_points([steps], count)[0] if probe is not None else ()
        probe_at = (lambda w: probe(readout(w))) if probe is not None else None
        w1, values = run_stage(kb, (x, y), m, steps, step, params.w1, self.sampler, probe_at, points)
        if probe_at is None:
            return readout(w1), None
        return readout(w1), stack_values([probe_at(params.w1), values])

    def predict(self, params: TwoLayerParams, x: Array) -> Array:
        return two_layer_forward(params, x)

    def first_layer(self, params: TwoLayerParams) -> Array:
        return params.w1

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        return itemsize * (4 * n * self.width + 3 * n * d)

    def flops(self, d: int, n: int) -> float:
        f = self.batch_fraction
        steps = num_steps(int(self.t_coef * d**1.5), f)
        return 6.0 * steps * batch_size(n, f) * d * self.width + 2.0 * n * self.width * (d + self.width)
