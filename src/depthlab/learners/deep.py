r"""Layer-wise L-layer ReLU network, L >= 3: one GD stage per hidden layer on frozen lower layers, then a ridge
readout (Dandi et al. 2025, Thm 2 / deep MIGHT; the public code's 3-layer scalings generalised).

    h_1 = W_1 x + b_1,   h_l = W_l relu(h_{l-1}) + b_l  (l = 2..L-1),   f(x) = w_L^T relu(h_{L-1})

W_1: p_1 x d, W_l: p_l x p_{l-1}, w_L: p_{L-1}; ``widths`` = (p_2, ..., p_{L-1}), p_1 as the 3-layer net's.

Initialisation (as ``three_layer.init_three_layer``, layer by layer): W_1 ~ N(0, 1/d), b_1 ~ U(-1, 1);
W_l ~ eps N(0, 1/p_{l-1}), b_l ~ eps U(-1, 1) for l >= 2; w_L ~ eps N(0, 1/p_{L-1}); eps = eps_init = 0.2;
biases are never trained. The init key is split into 2L - 1 keys: W_1..W_{L-1}, w_L, then b_1..b_{L-1}; the
training key into L: init, then one per stage. For L = 3 both splits are the 3-layer net's, so with the same
hyperparameters ``LayerwiseDeep`` computes exactly ``LayerwiseThreeLayer``'s numbers (tests/test_deep.py).

Loss 1/2 squared error on minibatches of m = int(0.7 n) of the n samples (shared by all stages, multi-pass);
stage l trains W_l only, on the frozen features relu(h_{l-1}) (computed once per stage), with the layers above
at their initialisation:

  stage 1, T_1 = int(15 ln d) iterations:      W_1 <- W_1 - lr (sqrt(p_1) g_1 / eps^{L-1} + reg1 W_1)
  stage l >= 2, T_l = int(5 d^{3/2}) each:     W_l <- W_l - 4 lr (sqrt(p_l) g_l / (eps^{L-l} p_{l-1} q_l)
                                                                  + reg2 d^{-3/2} W_l)
  (q_2 = 1; q_l for l >= 3 below)
  readout:                                     w_L = (H^T H + lambda n I)^{-1} H^T y,  H = relu(h_{L-1})

(``center_labels``: every GD stage fits y - mean(y), the readout y itself; off by default, as the 3-layer net's.)

with g_1 = grad_{W_1} / m and g_l = grad_{W_l} / n for l >= 2 (the public code's quirk for W_2, kept for every
upper layer). "T iterations" = int(T / 0.7) steps.

Choices (the paper gives no L > 3 numerics; here is where this module had to choose):

* the step factor of layer l is the inverse of the size of the backpropagated signal at init: each layer above
  l multiplies it by ~eps (its weights are eps N(0, 1/fan_in)), so layer l sees eps^{L-l}/sqrt(p_l) per unit;
  the 3-layer net's 1/eps^2 (W_1) and 1/eps (W_2) are this rule at L = 3. The extra 1/p_{l-1} (mean-field
  fan-in) of the 3-layer W_2 step is kept for every layer >= 2, the first layer has none (public code).
* stages l >= 3 (``normalize_upper``, default on) divide their step by q_l = mean over samples and units of
  relu(h_{l-1})^2, their frozen inputs' mean square (one scalar per stage, from the n samples): the W_2 rule
  was tuned on relu(W_1 x + b_1), and on the larger trained features relu(h_2) (std ~6 against ~3 for h_1 on
  a test target) its step diverged (W_3 grew to norm ~180 and every unit died); stage 2 keeps the public
  code's step, so L = 3 is unchanged;
* every upper stage gets the 3-layer net's W_2 stage: T_l = int(5 d^{3/2}) iterations, prefactor 4, weight
  decay reg2 d^{-3/2} (one reg2 for all of them);
* layers above the one in training are left at their random initialisation (no re-initialisation: the
  public code's 3-layer protocol; paper Fig. 5 found re-initialising makes no difference at L = 3);
* every stage reuses the same n samples (no fresh-data option here).

Widths: p_1 = int(n_max^{1-delta}) (delta = 0.1) unless given, then ``widths`` (default (100, 100): the
3-layer net's p_2 = 100 for every upper layer).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from pydantic import Field, PositiveFloat, PositiveInt, field_validator

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


class DeepParams(NamedTuple):
    ws: tuple[Array, ...]  # W_1 (p_1, d), W_2 (p_2, p_1), ..., W_{L-1}
    bs: tuple[Array, ...]  # b_1 (p_1,), ..., b_{L-1}
    readout: Array  # w_L (p_{L-1},)


def init_deep(key: Array, d: int, widths: tuple[int, ...], eps: float, dtype: jnp.dtype) -> DeepParams:
    """widths = (p_1, ..., p_{L-1}); the key layout of ``init_three_layer`` for L = 3 (module docstring)."""
    nl = len(widths)  # L - 1 hidden layers
    keys = jax.random.split(key, 2 * nl + 1)
    fans = (d, *widths[:-1])
    ws = tuple(
        (1.0 if i == 0 else eps) * jax.random.normal(keys[i], (widths[i], fans[i]), dtype) / math.sqrt(fans[i])
        for i in range(nl)
    )
    w_out = eps * jax.random.normal(keys[nl], (widths[-1],), dtype) / math.sqrt(widths[-1])
    bs = tuple(uniform_bias(keys[nl + 1 + i], (widths[i],), 1.0 if i == 0 else eps, dtype) for i in range(nl))
    return DeepParams(ws=ws, bs=bs, readout=w_out)


def features_from(ws: tuple[Array, ...], bs: tuple[Array, ...], a: Array) -> Array:
    """relu of the last of the given layers applied to the activations a (inputs x for the full stack)."""
    for w, b in zip(ws, bs, strict=True):
        a = relu(a @ w.T + b)
    return a


def preactivation(p: DeepParams, x: Array, level: int) -> Array:
    """h_level(x) (level = 1..L-1)."""
    a = features_from(p.ws[: level - 1], p.bs[: level - 1], x)
    return a @ p.ws[level - 1].T + p.bs[level - 1]


def forward(p: DeepParams, x: Array) -> Array:
    return features_from(p.ws, p.bs, x) @ p.readout


def upper_half_sse(w: Array, ws: tuple[Array, ...], bs: tuple[Array, ...], readout: Array, a: Array,
                   y: Array) -> Array:
    """1/2 SSE of the network above: w replaces ws[0], applied to the activations a below it."""
    r = features_from((w, *ws[1:]), bs, a) @ readout - y
    return 0.5 * jnp.sum(r * r)


class LayerwiseDeep(LearnerSpec):
    """Layer-wise GD on an L-layer ReLU net, one stage per hidden layer, ridge readout (module docstring)."""

    capabilities: ClassVar[frozenset[LearnerCapability]] = frozenset(
        {"first_layer", "hidden_preactivation", "trajectory"})
    plot_role: ClassVar[PlotRole] = "scaled_up"  # its colour and marker in figures (plots.ROLE_STYLES)

    keyless_defaults: ClassVar[Mapping[str, Any]] = {"center_labels": False}  # an option added later

    kind: Literal["layerwise_deep"] = Field(default="layerwise_deep", description="learner kind (discriminator)")
    p1: PositiveInt | None = Field(default=None, description="first hidden width; None: int(n_max^(1-delta)) as "
                                   "the 3-layer net (public code)")
    delta: float = Field(default=0.1, ge=0.0, lt=1.0, description="p1 = int(n_max^(1-delta)) (public code)")
    widths: tuple[PositiveInt, ...] = Field(default=(100, 100), min_length=1, description="(p_2, ..., p_{L-1}): "
                                            "the upper hidden widths, so L = 2 + len(widths); default the 3-layer "
                                            "net's p2 = 100 for each (L = 4)")
    eps_init: PositiveFloat = Field(default=0.2, description="eps: W_l (l >= 2), w_L ~ eps N(0, 1/fan_in), b_l ~ "
                                    "eps U(-1, 1), and the 1/eps^(L-l) factors of the steps (public-code default)")
    lr: PositiveFloat = Field(default=1.0, description="base learning rate lr of the updates")
    t1_coef: PositiveFloat = Field(default=15.0, description="T_1 = int(t1_coef ln d) stage-1 iterations on W_1 "
                                   "(public code)")
    t2_coef: PositiveFloat = Field(default=5.0, description="T_l = int(t2_coef d^1.5) iterations for each stage "
                                   "l >= 2 (the 3-layer net's W_2 stage, for every upper layer)")
    lr2_factor: PositiveFloat = Field(default=4.0, description="prefactor of every stage l >= 2: W_l <- W_l - "
                                      "lr2_factor lr (...) (the 3-layer net's W_2 prefactor)")
    reg1: float = Field(default=0.0, description="weight decay reg1 in the stage-1 update of W_1")
    reg2: float = Field(default=0.0, description="weight decay reg2 d^{-3/2} in the update of every W_l, l >= 2")
    normalize_upper: bool = Field(default=True, description="divide the steps of stages l >= 3 by the mean square "
                                  "of their frozen inputs relu(h_(l-1)) (False: the W_2 rule unchanged; it "
                                  "diverges once trained features are larger than relu(W_1 x + b_1))")
    batch_fraction: float = Field(default=0.7, gt=0.0, le=1.0, description="minibatch m = int(batch_fraction n); "
                                  "T iterations = int(T / batch_fraction) steps (example yaml)")
    ridge: float = Field(default=1.0, description="lambda in the readout w_L = (H^T H + lambda n I)^{-1} H^T y")
    sampler: Sampler = Field(default="window", description="minibatch sampler (learners.common.minibatch_loop)")
    center_labels: bool = Field(default=False, description="every GD stage fits y - mean(y), the readout y itself "
                                "(False: every stage fits y, public code; learners.three_layer docstring)")

    @field_validator("widths", mode="before")
    @classmethod
    def _tuple(cls, v: Any) -> Any:
        return tuple(v) if isinstance(v, list) else v

    def resolve(self, d: int, n: int, n_max: int) -> LayerwiseDeep:
        if self.p1 is not None:
            return self
        return self.model_copy(update={"p1": max(1, int(n_max ** (1.0 - self.delta)))})

    @property
    def depth(self) -> int:
        """L: the number of weight layers (hidden layers + readout)."""
        return 2 + len(self.widths)

    @property
    def all_widths(self) -> tuple[int, ...]:
        if self.p1 is None:
            raise ValueError("p1 is unresolved: call resolve(d, n, n_max) first")
        return (self.p1, *self.widths)

    def predict(self, params: DeepParams, x: Array) -> Array:
        return forward(params, x)

    def first_layer(self, params: DeepParams) -> Array:
        return params.ws[0]

    def hidden_preactivation(self, params: DeepParams, x: Array) -> Array:
        """h_2 = W_2 relu(W_1 x + b_1) + b_2 (the level compared with the target's level-2 feature, M_h)."""
        return preactivation(params, x, 2)

    def _stages(self, d: int) -> list[tuple[str, int]]:
        s1 = num_steps(int(self.t1_coef * math.log(d)), self.batch_fraction)
        su = num_steps(int(self.t2_coef * d**1.5), self.batch_fraction)
        return [("layer1", s1)] + [(f"layer{i}", su) for i in range(2, self.depth)]

    def record_schedule(self, d: int, n: int, count: int) -> tuple[tuple[int, str], ...]:
        return schedule_of(self._stages(d), count)

    def fit(self, key: Array, x: Array, y: Array) -> DeepParams:
        return self._train(key, x, y)[0]

    def fit_recorded(self, key: Array, x: Array, y: Array, probe: Callable[[Any], dict[str, Array]],
                     count: int) -> tuple[DeepParams, dict[str, Array]]:
        """Each recorded point evaluates the network with its readout refitted at that step (as the layer-wise
        3-layer net: the readout stays at its initialisation until the last stage)."""
        params, values = self._train(key, x, y, probe, count)
        assert values is not None
        return params, values

    def _train(self, key: Array, x: Array, y: Array, probe: Callable[[Any], dict[str, Array]] | None = None,
               count: int = 0) -> tuple[DeepParams, dict[str, Array] | None]:
        n, d = x.shape
        widths, eps, lr, big_l = self.all_widths, self.eps_init, self.lr, self.depth
        kinit, *kstage = jax.random.split(key, big_l)
        params = init_deep(kinit, d, widths, eps, x.dtype)
        stages = self._stages(d)
        points = stage_points([s for _, s in stages], count) if probe is not None else [()] * len(stages)
        m = batch_size(n, self.batch_fraction)
        yg = stage_labels(y, self.center_labels)  # what the GD stages fit

        def readout(p: DeepParams) -> DeepParams:
            return p._replace(readout=ridge_readout(features_from(p.ws, p.bs, x), y, self.ridge))

        def probe_at(p: DeepParams) -> dict[str, Array]:
            assert probe is not None
            return probe(readout(p))

        recorded: list[Any] = [probe_at(params)] if probe is not None else []
        grad = jax.grad(upper_half_sse)
        for i, (_, steps) in enumerate(stages):
            below_ws, below_bs = params.ws[:i], params.bs[:i]
            a = features_from(below_ws, below_bs, x) if i else x  # frozen activations below layer i + 1
            up_ws, up_bs, out = params.ws[i:], params.bs[i:], params.readout
            scale: Any
            if i == 0:
                scale, decay, denom = lr * math.sqrt(widths[0]) / eps ** (big_l - 1), lr * self.reg1, m
            else:
                c = self.lr2_factor * lr
                scale = c * math.sqrt(widths[i]) / (eps ** (big_l - 1 - i) * widths[i - 1])
                if i >= 2 and self.normalize_upper:  # stages l >= 3: / mean square of their frozen inputs
                    scale = scale / jnp.mean(a * a)
                decay, denom = c * self.reg2 * d**-1.5, n  # g_l / n: the public code's W_2 quirk

            def step(w: Array, batch: tuple[Array, ...], up_ws: tuple[Array, ...] = up_ws,
                     up_bs: tuple[Array, ...] = up_bs, out: Array = out, scale: Any = scale,
                     decay: Any = decay, denom: int = denom) -> Array:
                g = grad(w, up_ws, up_bs, out, *batch) / denom
                return w - (scale * g + decay * w)

            def probe_w(w: Array, i: int = i, base: DeepParams = params) -> dict[str, Array]:
                return probe_at(base._replace(ws=(*base.ws[:i], w, *base.ws[i + 1:])))

            w, v = run_stage(kstage[i], (a, yg), m, steps, step, params.ws[i], self.sampler,
                             probe_w if probe is not None else None, points[i])
            params = params._replace(ws=(*params.ws[:i], w, *params.ws[i + 1:]))
            recorded.append(v)

        final = readout(params)
        if probe is None:
            return final, None
        return final, stack_values(recorded)

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        """The 3-layer estimate with the widest consecutive pair: frozen features of a stage (n p), their doubled
        permutation for the window sampler (2 n p), one batch's activations and gradient temporaries through
        the layers above (~2 m sum p), the weights, the inputs."""
        ws = self.all_widths
        m = batch_size(n, self.batch_fraction)
        pmax = max(ws)
        weights = d * ws[0] + sum(a * b for a, b in zip(ws, ws[1:], strict=False)) + ws[-1]
        return itemsize * (3 * n * pmax + 2 * m * sum(ws) + 3 * n * d + 4 * weights + 4 * n * ws[-1])

    def flops(self, d: int, n: int) -> float:
        """Stage l: forward + backward (~2 x forward) through layers l..L-1 on each of its minibatches; stage 1
        also through W_1; plus one forward pass per stage for its frozen features and the readout's Gram."""
        ws, f = self.all_widths, self.batch_fraction
        m = batch_size(n, f)
        stages = self._stages(d)
        fans = (d, *ws[:-1])
        layer = [fans[i] * ws[i] for i in range(len(ws))]  # multiply-adds of layer i + 1 per sample
        total = 0.0
        for i, (_, steps) in enumerate(stages):
            # backward through the trained layer: its weight gradient only (no input gradient below it)
            total += 2.0 * steps * m * (sum(layer[i:]) * 2 + layer[i])
            total += 2.0 * n * sum(layer[:i])
        return total + 2.0 * n * (sum(layer) + ws[-1] ** 2)
