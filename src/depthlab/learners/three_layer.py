r"""Three-layer ReLU network trained layer-wise or jointly (Dandi et al. 2025, Sec. 3 and App. F.4).

    f(x) = w_3^T relu( W_2 relu(W_1 x + b_1) + b_2 ),   W_1: p1 x d,  W_2: p2 x p1,  w_3: p2

Initialisation (public code): W_1 ~ N(0, 1/d), W_2 ~ eps N(0, 1/p1), w_3 ~ eps N(0, 1/p2),
b_1 ~ U(-1, 1), b_2 ~ eps U(-1, 1) with eps = eps_init = 0.2; biases are never trained.
Loss: 1/2 squared error on minibatches of m = int(0.7 n) of the n training samples ("T iterations" =
int(T/0.7) steps); g_1 = grad_{W_1} / m, but g_2, g_3 are divided by the full n (public-code quirk, an
effective 0.7 factor on their step sizes).

Layer-wise (``LayerwiseThreeLayer``):
  1. T_1 = int(15 ln d):       W_1 <- W_1 - lr (sqrt(p1) g_1 / eps^2 + reg1 W_1)
  2. T_2 = int(5 d^{3/2}):     W_2 <- W_2 - 4 lr (sqrt(p2) g_2 / (eps p1) + reg2 d^{-3/2} W_2)
     (the layer-1 features relu(W_1 x + b_1) are frozen, so they are computed once for the stage)
  3. w_3 = (H^T H + lambda n I)^{-1} H^T y  with H = relu(W_2 relu(W_1 x + b_1) + b_2)  (ridge readout)
  With ``center_labels`` the two GD stages fit y - mean(y) (the training labels' mean) and the readout fits y
  itself (off by default: the public code trains on y). Why: at init the net outputs ~0, so a label mean c adds
  c E[grad f] to the stage-1 gradient, a degree-0 pull on W_1 that carries no information on W*; on the deep
  target (E f* up to 0.42) it weighs on W_1 (``dandi2025-deep-centred``). Not in the papers: our option.

Joint (``JointThreeLayer``): T_2 steps updating all three layers with prefactor 0.15 lr:
  W_1 -= 0.15 lr (sqrt(p1) g_1/eps^2 + reg1 W_1),  W_2 -= 0.15 lr (sqrt(p2) g_2/(eps p1) + reg2 d^{-3/2} W_2),
  w_3 -= 0.15 lr (g_3/(eps p2) + reg3 w_3).

Widths: p1 = int(n_max^{1-delta}) with delta = 0.1 (n_max the largest n of the sweep), p2 = 100.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
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
    stage_labels,
    stage_points,
    uniform_bias,
)


class ThreeLayerParams(NamedTuple):
    w1: Array  # (p1, d)
    b1: Array  # (p1,)
    w2: Array  # (p2, p1)
    b2: Array  # (p2,)
    w3: Array  # (p2,)


def init_three_layer(key: Array, d: int, p1: int, p2: int, eps: float, dtype: jnp.dtype) -> ThreeLayerParams:
    k1, k2, k3, k4, k5 = jax.random.split(key, 5)
    return ThreeLayerParams(
        w1=jax.random.normal(k1, (p1, d), dtype) / math.sqrt(d),
        b1=uniform_bias(k4, (p1,), 1.0, dtype),
        w2=eps * jax.random.normal(k2, (p2, p1), dtype) / math.sqrt(p1),
        b2=uniform_bias(k5, (p2,), eps, dtype),
        w3=eps * jax.random.normal(k3, (p2,), dtype) / math.sqrt(p2),
    )


def layer1_features(p: ThreeLayerParams, x: Array) -> Array:
    return relu(x @ p.w1.T + p.b1)


def layer2_preactivation(p: ThreeLayerParams, x: Array) -> Array:
    return layer1_features(p, x) @ p.w2.T + p.b2


def forward(p: ThreeLayerParams, x: Array) -> Array:
    return relu(layer2_preactivation(p, x)) @ p.w3


def half_sse(p: ThreeLayerParams, x: Array, y: Array) -> Array:
    """1/2 sum of squared errors (callers divide by m or n as the algorithm prescribes)."""
    r = forward(p, x) - y
    return 0.5 * jnp.sum(r * r)


def _layer2_half_sse(w2: Array, b2: Array, w3: Array, h1: Array, y: Array) -> Array:
    r = relu(h1 @ w2.T + b2) @ w3 - y
    return 0.5 * jnp.sum(r * r)


class _ThreeLayerBase(LearnerSpec):
    capabilities: ClassVar[frozenset[LearnerCapability]] = frozenset(
        {"first_layer", "hidden_preactivation", "trajectory"})

    p1: PositiveInt | None = Field(default=None, description="first hidden width; None: int(n_max^(1-delta)), "
                                   "n_max the largest n of the sweep (public code)")
    delta: float = Field(default=0.1, ge=0.0, lt=1.0, description="p1 = int(n_max^(1-delta)) (public code, "
                         "example yaml)")
    p2: PositiveInt = Field(default=100, description="second hidden width (public code's example yaml; paper F.4 "
                            "says 600)")
    eps_init: PositiveFloat = Field(default=0.2, description="eps: W_2, w_3 ~ eps N(0, 1/fan_in), b_2 ~ eps U(-1, 1) "
                                    "at init, and the 1/eps factors of the steps (public-code default)")
    lr: PositiveFloat = Field(default=1.0, description="base learning rate lr of the updates (example yaml)")
    t2_coef: PositiveFloat = Field(default=5.0, description="T_2 = int(t2_coef d^1.5) iterations (example yaml "
                                   "coef_iter)")
    batch_fraction: float = Field(default=0.7, gt=0.0, le=1.0, description="minibatch m = int(batch_fraction n) "
                                  "samples; T iterations = int(T / batch_fraction) steps (example yaml)")
    ridge: float = Field(default=1.0, description="lambda in the layer-wise readout w_3 = (H^T H + lambda n I)^{-1} "
                         "H^T y, times n (example yaml); unused by joint")
    sampler: Sampler = Field(default="window", description="minibatch sampler (learners.common.minibatch_loop); "
                             "'permutation' = exact (a fresh random subset every step)")

    def resolve(self, d: int, n: int, n_max: int) -> _ThreeLayerBase:
        if self.p1 is not None:
            return self
        return self.model_copy(update={"p1": max(1, int(n_max ** (1.0 - self.delta)))})

    @property
    def width1(self) -> int:
        if self.p1 is None:
            raise ValueError("p1 is unresolved: call resolve(d, n, n_max) first")
        return self.p1

    def predict(self, params: ThreeLayerParams, x: Array) -> Array:
        return forward(params, x)

    def first_layer(self, params: ThreeLayerParams) -> Array:
        return params.w1

    def hidden_preactivation(self, params: ThreeLayerParams, x: Array) -> Array:
        return layer2_preactivation(params, x)

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        """Layer-1 features (n p1), their doubled permutation for the window sampler (2 n p1), one batch
        and its gradient temporaries (~2 m p1), weights and the layer-2 activations."""
        p1, p2, m = self.width1, self.p2, batch_size(n, self.batch_fraction)
        return itemsize * (3 * n * p1 + 2 * m * p1 + 3 * n * d + 4 * p1 * (p2 + d) + 4 * n * p2)


def _steps(t: float, fraction: float) -> int:
    return num_steps(int(t), fraction)


class LayerwiseThreeLayer(_ThreeLayerBase):
    """Layer-wise GD: W_1, then W_2, then ridge on w_3 (module docstring has the updates)."""

    plot_role: ClassVar[PlotRole] = "three_layer"  # its colour and marker in figures (plots.ROLE_STYLES)

    keyless_defaults: ClassVar[Mapping[str, Any]] = {"center_labels": False}  # an option added later

    kind: Literal["layerwise"] = Field(default="layerwise", description="learner kind (discriminator)")
    t1_coef: PositiveFloat = Field(default=15.0, description="T_1 = int(t1_coef ln d) stage-1 iterations on W_1 "
                                   "(public code)")
    lr2_factor: PositiveFloat = Field(default=4.0, description="layer-2 prefactor: W_2 <- W_2 - lr2_factor lr (...) "
                                      "(public code; paper text says 2)")
    reg1: float = Field(default=0.0, description="weight decay reg1 in the stage-1 update of W_1")
    reg2: float = Field(default=0.0, description="weight decay reg2 d^{-3/2} in the stage-2 update of W_2")
    data: Literal["shared", "fresh"] = Field(
        default="shared", description="'shared': every stage reuses the n samples (public code); 'fresh': three "
        "disjoint thirds of the n samples, one per stage")
    center_labels: bool = Field(default=False, description="the GD stages fit y - mean(y), the readout y itself "
                                "(False: every stage fits y, public code; module docstring)")

    def _stages(self, d: int, n: int) -> list[tuple[str, int]]:
        """(name, minibatch steps) of the two trained stages; the step counts depend on d only."""
        return [("layer1", num_steps(int(self.t1_coef * math.log(d)), self.batch_fraction)),
                ("layer2", num_steps(int(self.t2_coef * d**1.5), self.batch_fraction))]

    def record_schedule(self, d: int, n: int, count: int) -> tuple[tuple[int, str], ...]:
        return schedule_of(self._stages(d, n), count)

    def fit(self, key: Array, x: Array, y: Array) -> ThreeLayerParams:
        return self._train(key, x, y)[0]

    def fit_recorded(self, key: Array, x: Array, y: Array, probe: Callable[[Any], dict[str, Array]],
                     count: int) -> tuple[ThreeLayerParams, dict[str, Array]]:
        """Recorded points of stages 1 and 2 evaluate the network with its readout fitted at that step (the
        stage-3 ridge on the current W_1, W_2): layer-wise training leaves w_3 at its initialisation until the
        last stage, so the network's own loss before it measures nothing. The last point is the trained net."""
        params, values = self._train(key, x, y, probe, count)
        assert values is not None
        return params, values

    def _train(self, key: Array, x: Array, y: Array, probe: Callable[[Any], dict[str, Array]] | None = None,
               count: int = 0) -> tuple[ThreeLayerParams, dict[str, Array] | None]:
        n, d = x.shape
        p1, p2, eps, lr = self.width1, self.p2, self.eps_init, self.lr
        kinit, k1, k2 = jax.random.split(key, 3)
        params = init_three_layer(kinit, d, p1, p2, eps, x.dtype)
        yg = stage_labels(y, self.center_labels)  # what the GD stages fit
        if self.data == "fresh":
            if n < 6:
                raise ValueError(f"data='fresh' splits n into three stages; n = {n} is too small")
            s = n // 3
            (x1, y1), (x2, y2), (x3, y3) = (
                (x[:s], yg[:s]),
                (x[s : 2 * s], yg[s : 2 * s]),
                (x[2 * s :], y[2 * s :]),
            )
        else:
            x1 = x2 = x3 = x
            y1 = y2 = yg
            y3 = y
        (_, steps1), (_, steps2) = self._stages(d, n)
        pts1, pts2 = stage_points([steps1, steps2], count) if probe is not None else ((), ())

        def readout(p: ThreeLayerParams) -> ThreeLayerParams:
            return p._replace(w3=ridge_readout(relu(layer2_preactivation(p, x3)), y3, self.ridge))

        def probe_at(p: ThreeLayerParams) -> dict[str, Array]:
            assert probe is not None
            return probe(readout(p))

        # Stage 1: train W_1.
        n1 = x1.shape[0]
        m1 = batch_size(n1, self.batch_fraction)
        grad1 = jax.grad(lambda w1, xb, yb: half_sse(params._replace(w1=w1), xb, yb))

        def step1(w1: Array, batch: tuple[Array, ...]) -> Array:
            g = grad1(w1, *batch) / m1
            return w1 - lr * (math.sqrt(p1) * g / eps**2 + self.reg1 * w1)

        init_params = params
        w1, v1 = run_stage(k1, (x1, y1), m1, steps1, step1, params.w1, self.sampler,
                           lambda w: probe_at(init_params._replace(w1=w)), pts1)
        params = params._replace(w1=w1)

        # Stage 2: train W_2 on frozen layer-1 features (computed once for the stage).
        n2 = x2.shape[0]
        h1 = layer1_features(params, x2)
        m2 = batch_size(n2, self.batch_fraction)
        grad2 = jax.grad(_layer2_half_sse)
        c2 = self.lr2_factor * lr
        stage1_params = params

        def step2(w2: Array, batch: tuple[Array, ...]) -> Array:
            g = grad2(w2, params.b2, params.w3, *batch) / n2  # / n: public-code quirk
            return w2 - c2 * (math.sqrt(p2) * g / (eps * p1) + self.reg2 * d**-1.5 * w2)

        w2, v2 = run_stage(k2, (h1, y2), m2, steps2, step2, params.w2, self.sampler,
                           lambda w: probe_at(stage1_params._replace(w2=w)), pts2)
        params = params._replace(w2=w2)

        # Stage 3: ridge readout.
        final = readout(params)
        if probe is None:
            return final, None
        return final, stack_values([probe_at(init_params), v1, v2])

    def flops(self, d: int, n: int) -> float:
        p1, p2, f = self.width1, self.p2, self.batch_fraction
        m = batch_size(n, f)
        s1, s2 = _steps(self.t1_coef * math.log(d), f), _steps(self.t2_coef * d**1.5, f)
        return (
            6.0 * s1 * m * (d * p1 + p1 * p2)
            + 4.0 * s2 * m * p1 * p2
            + 2.0 * n * (d * p1 + p1 * p2 + p2 * p2)
        )


class JointThreeLayer(_ThreeLayerBase):
    """Joint GD on all three layers for T_2 iterations (module docstring has the updates)."""

    plot_role: ClassVar[PlotRole] = "three_layer_joint"  # its colour and marker in figures (plots.ROLE_STYLES)

    kind: Literal["joint"] = Field(default="joint", description="learner kind (discriminator)")
    lr_factor: PositiveFloat = Field(default=0.15, description="prefactor of every joint step, lr_factor lr "
                                     "(public code; paper text says 0.2)")
    reg1: float = Field(default=0.0, description="weight decay reg1 in the update of W_1")
    reg2: float = Field(default=0.01, description="weight decay reg2 d^{-3/2} in the update of W_2 (example yaml "
                        "reg2_setup_joint)")
    reg3: float = Field(default=0.0, description="weight decay reg3 in the update of w_3")

    def record_schedule(self, d: int, n: int, count: int) -> tuple[tuple[int, str], ...]:
        return schedule_of([("joint", num_steps(int(self.t2_coef * d**1.5), self.batch_fraction))], count)

    def fit(self, key: Array, x: Array, y: Array) -> ThreeLayerParams:
        return self._train(key, x, y)[0]

    def fit_recorded(self, key: Array, x: Array, y: Array, probe: Callable[[Any], dict[str, Array]],
                     count: int) -> tuple[ThreeLayerParams, dict[str, Array]]:
        """Every recorded point evaluates the network as it is at that step (all layers train together)."""
        params, values = self._train(key, x, y, probe, count)
        assert values is not None
        return params, values

    def _train(self, key: Array, x: Array, y: Array, probe: Callable[[Any], dict[str, Array]] | None = None,
               count: int = 0) -> tuple[ThreeLayerParams, dict[str, Array] | None]:
        n, d = x.shape
        p1, p2, eps = self.width1, self.p2, self.eps_init
        kinit, kb = jax.random.split(key)
        params = init_three_layer(kinit, d, p1, p2, eps, x.dtype)
        m = batch_size(n, self.batch_fraction)
        steps = num_steps(int(self.t2_coef * d**1.5), self.batch_fraction)
        c = self.lr_factor * self.lr
        grad = jax.grad(half_sse)

        def step(p: ThreeLayerParams, batch: tuple[Array, ...]) -> ThreeLayerParams:
            g = grad(p, *batch)
            g1, g2, g3 = g.w1 / m, g.w2 / n, g.w3 / n  # public code: W_1 grad / m, W_2 and w_3 / n
            return p._replace(
                w1=p.w1 - c * (math.sqrt(p1) * g1 / eps**2 + self.reg1 * p.w1),
                w2=p.w2 - c * (math.sqrt(p2) * g2 / (eps * p1) + self.reg2 * d**-1.5 * p.w2),
                w3=p.w3 - c * (g3 / (eps * p2) + self.reg3 * p.w3),
            )

        points = stage_points([steps], count)[0] if probe is not None else ()
        final, values = run_stage(kb, (x, y), m, steps, step, params, self.sampler, probe, points)
        if probe is None:
            return final, None
        return final, stack_values([probe(params), values])

    def flops(self, d: int, n: int) -> float:
        p1, p2, f = self.width1, self.p2, self.batch_fraction
        return 6.0 * _steps(self.t2_coef * d**1.5, f) * batch_size(n, f) * (d * p1 + p1 * p2)
