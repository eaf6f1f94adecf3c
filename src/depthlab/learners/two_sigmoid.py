r"""Depth-2 network with two sigmoidal layers and a frozen hidden layer (Safran & Lee 2022, arXiv 2112.02393):
gradient descent on the output neuron only.

    N(x) = sigma( v^T phi(x) + v_0 ),    phi(x) = sigma(W x + b) in (0, 1)^p,    sigma(z) = 1/(1 + e^{-z})

Hidden layer (random, held fixed; the "random features" reduction of the paper): rows of W uniform on the
sphere of radius weight_scale sqrt(d) / med_i ||x_i|| (the median training radius, a label-free input scale),
so w.x ~ N(0, weight_scale^2) at the median radius; b_j ~ bias_scale U(-1, 1). Width p = int(c d^a) (poly(d)).

Output neuron theta = (v, v_0) from 0 by ``steps`` full-batch GD steps theta <- theta - (lr / L) grad F on

    square:    F = (1/2n) sum_i (N(x_i) - y_i)^2,  grad = (1/n) A^T ((N - y) N (1 - N)),
    logistic:  F = (1/n) sum_i [log(1 + e^{u_i}) - y_i u_i],  grad = (1/n) A^T (N - y),

with A = [phi(X), 1] (n x (p+1)), u = A theta, and L = c_loss tr(A^T A)/n >= the smoothness constant of F
(c_loss = 1/16 + 1/(6 sqrt 3) for the square loss through a sigmoid, 1/4 logistic, 1 linear-square):
a step size that needs no tuning across d and p. ``output = "linear"`` drops the outer sigmoid
(N = u, square loss): the ablation that isolates the second non-linearity; with ``readout = "lstsq"`` its
output weights are the exact least-squares fit on the same features, the best any linear output can do.
The (output, loss) choices are one table, ``OUTPUT_HEADS`` (output -> loss -> ``OutputHead``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from depthlab.learners.base import LearnerCapability, LearnerSpec, PlotRole
from depthlab.learners.common import run_stage, schedule_of, stack_values, stage_points, uniform_bias
from depthlab.linalg import orthonormal_columns, solve

_SIGMOID_SQUARE_CURVATURE = 1 / 16 + 1 / (6 * math.sqrt(3))  # max sigma'^2 + max |sigma''| (|N - y| <= 1)


class TwoSigmoidParams(NamedTuple):
    w: Array  # (p, d) frozen hidden weights (the input scale folded in)
    b: Array  # (p,) frozen hidden biases
    v: Array  # (p,) output weights
    v0: Array  # () output bias


def input_scale(x: Array) -> Array:
    """sqrt(d) / median_i ||x_i||: maps the median training radius to sqrt(d) (robust to heavy tails)."""
    return math.sqrt(x.shape[-1]) / jnp.maximum(jnp.median(jnp.linalg.norm(x, axis=-1)), 1e-30)


def resolve_width(p: int | None, coef: float, power: float, d: int) -> int:
    return p if p is not None else max(1, int(coef * d**power))


class PolynomialWidth(LearnerSpec):
    """A hidden layer of width p = int(width_coef d^width_power) unless p is given (polynomial in d, as the
    Safran & Lee upper bound allows)."""

    p: PositiveInt | None = Field(default=None, description="hidden width; None: int(width_coef d^width_power)")
    width_coef: PositiveFloat = Field(default=1.0, description="c in the width p = int(c d^a)")
    width_power: float = Field(default=2.0, ge=0.0, le=3.0, description="a in the width p = int(c d^a) (default "
                               "2: p = d^2)")

    def resolve(self, d: int, n: int, n_max: int) -> PolynomialWidth:
        return self.model_copy(update={"p": resolve_width(self.p, self.width_coef, self.width_power, d)})

    @property
    def width(self) -> int:
        if self.p is None:
            raise ValueError("p is unresolved: call resolve(d, n, n_max) first")
        return self.p


@dataclass(frozen=True)
class OutputHead:
    """An output neuron N(u) with its loss F (module docstring): ``residual(u, y)`` r with grad_theta F =
    A^T r / n, ``loss(u, y)`` F, and the curvature constant c_loss of the step size lr / L."""

    residual: Callable[[Array, Array], Array]
    loss: Callable[[Array, Array], Array]
    curvature: float


def _sigmoid_square_residual(u: Array, y: Array) -> Array:
    out = jax.nn.sigmoid(u)
    return (out - y) * out * (1 - out)


_LINEAR_SQUARE = OutputHead(
    residual=lambda u, y: u - y,
    loss=lambda u, y: 0.5 * jnp.mean((u - y) ** 2),
    curvature=1.0,
)

# output -> loss -> head; a linear output has the square loss whatever ``loss`` says
OUTPUT_HEADS: dict[str, dict[str, OutputHead]] = {
    "linear": {"square": _LINEAR_SQUARE, "logistic": _LINEAR_SQUARE},
    "sigmoid": {
        "square": OutputHead(
            residual=_sigmoid_square_residual,
            loss=lambda u, y: 0.5 * jnp.mean((jax.nn.sigmoid(u) - y) ** 2),
            curvature=_SIGMOID_SQUARE_CURVATURE,
        ),
        "logistic": OutputHead(
            residual=lambda u, y: jax.nn.sigmoid(u) - y,
            loss=lambda u, y: jnp.mean(jnp.logaddexp(0.0, u) - y * u),
            curvature=0.25,
        ),
    },
}


OUTPUT_LINKS: dict[str, Callable[[Array], Array]] = {"linear": lambda u: u, "sigmoid": jax.nn.sigmoid}  # N(u)


def output_gradient(theta: Array, a: Array, y: Array, loss: str, output: str) -> Array:
    """grad_theta F for the output neuron (module docstring), a = [phi, 1] of shape (n, p+1)."""
    return a.T @ OUTPUT_HEADS[output][loss].residual(a @ theta, y) / y.shape[0]


def output_loss(theta: Array, a: Array, y: Array, loss: str, output: str) -> Array:
    """F(theta) whose gradient ``output_gradient`` is."""
    return OUTPUT_HEADS[output][loss].loss(a @ theta, y)


class TwoSigmoid(PolynomialWidth):
    """sigma(v^T sigma(W x + b) + v_0), W, b frozen at random, (v, v_0) by GD (module docstring)."""

    plot_role: ClassVar[PlotRole] = "three_layer"  # its colour and marker in figures (plots.ROLE_STYLES)

    # the hidden layer is frozen at random (no first layer learned); the output neuron trains by steps
    capabilities: ClassVar[frozenset[LearnerCapability]] = frozenset({"trajectory"})

    kind: Literal["two_sigmoid"] = Field(default="two_sigmoid", description="learner kind (discriminator)")
    weight_scale: PositiveFloat = Field(
        default=1.0, description="hidden rows of norm weight_scale sqrt(d) / med_i ||x_i||: w.x ~ N(0, "
        "weight_scale^2) at the median radius, so features vary across the boundary")
    bias_scale: float = Field(default=3.0, ge=0.0, description="b_j ~ bias_scale U(-1, 1): thresholds spread over "
                              "the sigmoid's non-linear range")
    symmetric: bool = Field(default=True, description="hidden units in pairs (w, b), (-w, b): odd powers of w.x "
                            "cancel, the pair sum is even")
    directions: Literal["sphere", "frames"] = Field(
        default="frames", description="hidden directions: 'sphere' i.i.d. uniform, or 'frames' rows of random "
        "orthogonal matrices (one bias per frame)")
    standardize: bool = Field(default=True, description="GD on standardised features (a fixed affine "
                              "reparametrisation of (v, v_0))")
    output: Literal["sigmoid", "linear"] = Field(
        default="sigmoid", description="N = sigma(u) ('sigmoid') or N = u with the square loss ('linear': the "
        "ablation without the outer sigmoid)")
    loss: Literal["square", "logistic"] = Field(
        default="square", description="'square' (1/2n) sum (N - y)^2, as the single-neuron GD analysis it builds "
        "on, or 'logistic'; ignored with output 'linear'")
    lr: PositiveFloat = Field(default=1.0, description="step size in units of 1/L, L = c_loss tr(A^T A)/n >= the "
                              "smoothness of F; < 2 is stable for any loss")
    steps: PositiveInt = Field(default=4000, description="full-batch GD iterations on (v, v_0) (readout 'gd')")
    readout: Literal["gd", "lstsq"] = Field("gd", description="how (v, v_0) is fitted: 'gd' (steps of GD) or, with "
                                            "output 'linear', 'lstsq': the exact least-squares readout on the same "
                                            "features, the best any linear output can do (the ablation of the outer "
                                            "sigmoid without a step-size or step-count confound)")

    @model_validator(mode="after")
    def _linear_step_stable(self) -> TwoSigmoid:
        if self.readout == "lstsq" and self.output != "linear":
            raise ValueError("readout 'lstsq' needs output 'linear' (a sigmoid output has no closed form)")
        if self.output == "linear" and self.lr >= 2.0:
            raise ValueError(f"lr = {self.lr} >= 2 with output 'linear': GD on the quadratic loss can diverge")
        return self

    def curvature(self) -> float:
        return OUTPUT_HEADS[self.output][self.loss].curvature

    def hidden(self, key: Array, x: Array) -> tuple[Array, Array]:
        """The frozen hidden layer (W, b) for training inputs x."""
        kw, kb = jax.random.split(key)
        d = x.shape[-1]
        half = (self.width + 1) // 2 if self.symmetric else self.width
        if self.directions == "frames":
            frames = -(-half // d)
            q = orthonormal_columns(jax.random.normal(kw, (frames, d, d), x.dtype))
            g = jnp.swapaxes(q, 1, 2).reshape(frames * d, d)[:half]
            b = jnp.repeat(uniform_bias(kb, (frames,), self.bias_scale, x.dtype), d)[:half]
        else:
            g = jax.random.normal(kw, (half, d), x.dtype)
            b = uniform_bias(kb, (half,), self.bias_scale, x.dtype)
        w = g / jnp.linalg.norm(g, axis=-1, keepdims=True) * (self.weight_scale * input_scale(x))
        if self.symmetric:
            w, b = jnp.concatenate([w, -w])[: self.width], jnp.concatenate([b, b])[: self.width]
        return w, b

    def record_schedule(self, d: int, n: int, count: int) -> tuple[tuple[int, str], ...]:
        """Stage ``output``: the GD steps on (v, v_0); the least-squares readout is one step (init, then fitted)."""
        return schedule_of([("output", self.steps if self.readout == "gd" else 1)], count)

    def fit(self, key: Array, x: Array, y: Array) -> TwoSigmoidParams:
        return self._train(key, x, y)[0]

    def fit_recorded(self, key: Array, x: Array, y: Array, probe: Callable[[Any], dict[str, Array]],
                     count: int) -> tuple[TwoSigmoidParams, dict[str, Array]]:
        """Each recorded point evaluates the network with its output neuron at that GD step (step 0: theta = 0,
        N = sigma(0) = 1/2 everywhere); the last point is the trained net."""
        params, values = self._train(key, x, y, probe, count)
        assert values is not None
        return params, values

    def _train(self, key: Array, x: Array, y: Array, probe: Callable[[Any], dict[str, Array]] | None = None,
               count: int = 0) -> tuple[TwoSigmoidParams, dict[str, Array] | None]:
        n = x.shape[0]
        w, b = self.hidden(key, x)
        phi = jax.nn.sigmoid(x @ w.T + b)
        if self.standardize:
            mean, sd = phi.mean(0), jnp.maximum(phi.std(0), 1e-6)
        else:
            mean, sd = jnp.zeros_like(phi[0]), jnp.ones_like(phi[0])
        a = jnp.concatenate([(phi - mean) / sd, jnp.ones((n, 1), x.dtype)], axis=1)

        def params_of(theta: Array) -> TwoSigmoidParams:
            v = theta[:-1] / sd  # back to the raw features: u = v^T phi + v_0
            return TwoSigmoidParams(w=w, b=b, v=v, v0=theta[-1] - v @ mean)

        theta0 = jnp.zeros((self.width + 1,), x.dtype)
        values = None
        if self.readout == "lstsq":  # argmin ||A theta - y||^2 (a 1e-8 relative ridge only for rank deficiency)
            g = a.T @ a / n
            ridge = 1e-8 * jnp.trace(g) / g.shape[0]
            theta = solve(g + ridge * jnp.eye(g.shape[0], dtype=x.dtype), a.T @ y / n)
            if probe is not None:
                values = stack_values([probe(params_of(theta0)), probe(params_of(theta))])
        else:
            step = self.lr / (self.curvature() * jnp.sum(a * a) / n)

            def body(theta: Array, batch: tuple[Array, ...]) -> Array:
                return theta - step * output_gradient(theta, batch[0], batch[1], self.loss, self.output)

            # full batch: m = n, so run_stage is a plain fori_loop over the steps (segments of it when recording)
            probe_at = (lambda t: probe(params_of(t))) if probe is not None else None
            points = stage_points([self.steps], count)[0] if probe is not None else ()
            theta, recorded = run_stage(key, (a, y), n, self.steps, body, theta0, "window", probe_at, points)
            if probe_at is not None:
                values = stack_values([probe_at(theta0), recorded])
        return params_of(theta), values

    def preactivation(self, params: TwoSigmoidParams, x: Array) -> Array:
        """u(x) = v^T phi(x) + v_0, the output neuron's input."""
        return jax.nn.sigmoid(x @ params.w.T + params.b) @ params.v + params.v0

    def predict(self, params: TwoSigmoidParams, x: Array) -> Array:
        return OUTPUT_LINKS[self.output](self.preactivation(params, x))

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        return itemsize * (3 * n * self.width + 2 * n * d + self.width * d)

    def flops(self, d: int, n: int) -> float:
        return 2.0 * n * d * self.width + 4.0 * self.steps * n * self.width
