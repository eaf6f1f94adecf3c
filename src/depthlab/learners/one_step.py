r"""One large gradient step on the hidden layer, then a ridge readout (Damian, Lee & Soltanolkotabi 2022;
the layer-wise Algorithm 1 of Nichani, Damian & Lee 2023 applies it on top of a frozen random layer).

    f(x) = sum_{i=1}^{m} a_i relu(w_i . psi(x) + b_i)

psi(x) = x / sqrt(d)                                   (``features="input"``: a 2-layer net, Damian et al.)
psi(x) = (sigma1(V x) - E sigma1(Z)) / sqrt(m1)       (``features="relu_random"``: frozen first layer of a
         3-layer net, rows of V uniform on S^{d-1}, centred so the kernel has no constant mode; Nichani et al.;
         sigma1 = ``feature_activation``, relu by default; an even sigma1 such as ``abs`` removes the odd
         Hermite degrees, i.e. the degree-1 noise that dominates phi for a quadratic feature)

The features are centred with their empirical mean over the stage-1 inputs (a mean offset in phi would push
every stage-2 unit into its linear or dead region: measured, test MSE 0.45 instead of 0.1 at corr 0.95).
Symmetric initialisation: a = (s, -s), b = (c, c), W0 = (U, U) with s Rademacher, c ~ N(0, 1), so f(theta_0) = 0;
U = 0 (``init="zero"``) or rows uniform on the sphere (``init="sphere"``).
Stage 1, on the first n1 = split * n samples: one step of GD on L = (1/2 n1) sum_j (f(x_j) - y_j)^2 with weight
decay lambda_1 = 1/eta_1, which erases W0:
    w_i^(1) = -eta_1 grad_{w_i} L = eta_1 a_i (1/n1) sum_j y_j relu'(w_i^(0) . psi_j + b_i) psi_j.
With ``init="zero"`` every active neuron is +-eta_1 g, g = (1/n1) sum_j y_j psi(x_j): the network sees the single
learned feature phi(x) = g . psi(x), an empirical K f* (Nichani et al.'s "learned feature map").
eta_1 = None chooses eta_1 so that the median neuron's preactivation w_i^(1) . psi(x) has unit standard deviation
on the stage-1 inputs (the papers tune eta_1 on a validation set); ``eta1_scale`` multiplies it, so that a
validation grid over eta1_scale (``learners.tuned``) tunes eta_1 around that data-adaptive scale.
Stage 2, on the other n2 = n - n1 samples: biases redrawn b ~ N(0, 1) (``redraw_bias``), and
    a = (Phi^T Phi + lambda n2 I)^{-1} Phi^T y,   Phi = relu(psi(X) W1^T + b).
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from pydantic import Field, PositiveFloat, PositiveInt, field_validator

from depthlab.hermite import gauss_hermite
from depthlab.learners.base import LearnerCapability, LearnerSpec, PlotRole
from depthlab.learners.common import relu, ridge_readout
from depthlab.targets.activations import get_activation


class OneStepParams(NamedTuple):
    v: Array  # (m1, d) frozen random layer (empty for features="input")
    w: Array  # (m, D) hidden weights after the step
    b: Array  # (m,) stage-2 biases
    a: Array  # (m,) ridge readout
    g: Array  # (D,) learned-feature direction (1/n1) sum_j y_j psi(x_j)
    mu: Array  # (D,) mean of the raw features over the stage-1 inputs (psi is centred with it)


def first_step(a0: Array, b0: Array, w0: Array, psi: Array, y: Array) -> Array:
    """-grad_W L(theta_0) for L = (1/2n) sum_j (f(x_j) - y_j)^2 at a symmetric init (f(theta_0) = 0):
    row i = a_i (1/n) sum_j y_j relu'(w_i . psi_j + b_i) psi_j."""
    active = (psi @ w0.T + b0 > 0).astype(psi.dtype)  # (n, m)
    return a0[:, None] * ((active * y[:, None]).T @ psi) / psi.shape[0]


class OneStepBase(LearnerSpec):
    """The two stages on given data: one big GD step on W (stage-1 data), ridge on a (stage-2 data).

    Capabilities depend on ``features`` (the ``capabilities`` property): with ``"input"`` the stepped layer acts
    on x itself, so its weights are a first layer (``first_layer``) and phi(x) = g . x / sqrt(d) is linear, not a
    learned feature; with ``"relu_random"`` the stepped layer acts on frozen random features (no first layer on
    x to compare with span(W*)) and phi(x) = g . psi(x) is Nichani et al.'s learned feature
    (``learned_feature``)."""

    width: PositiveInt = Field(default=1024, description="m: hidden units of the stepped layer, even (symmetric "
                               "initialisation in pairs)")
    features: Literal["input", "relu_random"] = Field(
        default="relu_random", description="psi(x): 'input' x / sqrt(d) (2-layer net, Damian et al.) or "
        "'relu_random' a frozen random layer (3-layer net, Nichani et al.)")
    feature_width: PositiveInt | None = Field(default=None, description="m1: width of the frozen random layer "
                                              "(features 'relu_random'); None: min(4 n1, 8192)")
    feature_activation: str = Field(
        default="relu", description="sigma1 in psi(x) = (sigma1(V x) - E sigma1(Z)) / sqrt(m1); an even one "
        "(e.g. abs) removes the odd Hermite degrees")
    init: Literal["zero", "sphere"] = Field(
        default="zero", description="W0 = (U, U) of the symmetric init: 'zero' U = 0 (every active neuron steps "
        "along g), or 'sphere' rows of U uniform on the sphere")
    eta1: PositiveFloat | None = Field(
        default=None, description="eta_1 in w^(1) = -eta_1 grad_W L (weight decay 1/eta_1); None: the median "
        "neuron's preactivation gets unit sd on the stage-1 inputs")
    eta1_scale: PositiveFloat = Field(
        default=1.0, description="multiplies eta_1 (the default or the given one): a tunable step that keeps the "
        "data-adaptive default's scale (a grid of absolute eta_1 would not)")
    redraw_bias: bool = Field(default=True, description="redraw the biases b ~ N(0, 1) for stage 2 (False: keep "
                              "the initial ones)")
    ridge: float = Field(default=1e-3, gt=0.0, description="lambda in a = (Phi^T Phi + lambda n2 I)^{-1} Phi^T y, "
                         "times n2")
    max_memory_gb: PositiveFloat = Field(default=8.0, description="refuse cells whose feature matrices need more "
                                         "than this many GiB per trial")

    def memory_limit_gb(self) -> float:
        return self.max_memory_gb

    @property
    def capabilities(self) -> frozenset[LearnerCapability]:
        return frozenset({"first_layer"}) if self.features == "input" else frozenset({"learned_feature"})

    @field_validator("feature_activation")
    @classmethod
    def _known(cls, v: str) -> str:
        get_activation(v)
        return v

    @field_validator("width")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError(f"width must be even for the symmetric initialisation, got {v}")
        return v

    def _psi(self, v: Array, x: Array) -> Array:
        if self.features == "input":
            return x / math.sqrt(x.shape[-1])
        act = get_activation(self.feature_activation)
        nodes, weights = gauss_hermite(80)
        with jax.ensure_compile_time_eval():
            mean = float(np.sum(weights * np.asarray(act(jnp.asarray(nodes, jnp.float32)), dtype=np.float64)))
        return (act(x @ v.T) - mean) / math.sqrt(v.shape[0])

    def fit_stages(self, key: Array, x1: Array, y1: Array, x2: Array, y2: Array) -> OneStepParams:
        """Stage 1 on (x1, y1), stage 2 on (x2, y2) (module docstring)."""
        n1, d = x1.shape
        kv, kw, ka, kb, kb2 = jax.random.split(key, 5)
        if self.features == "relu_random":
            m1 = self.feature_width or min(4 * n1, 8192)
            v = jax.random.normal(kv, (m1, d), x1.dtype)
            v = v / jnp.linalg.norm(v, axis=-1, keepdims=True)
        else:
            v = jnp.zeros((0, d), x1.dtype)
        raw1 = self._psi(v, x1)
        mu = raw1.mean(axis=0)
        psi1, psi2 = raw1 - mu, self._psi(v, x2) - mu
        half = self.width // 2
        s = jax.random.rademacher(ka, (half,), dtype=x1.dtype)
        c = jax.random.normal(kb, (half,), x1.dtype)
        a0, b0 = jnp.concatenate([s, -s]), jnp.concatenate([c, c])
        if self.init == "sphere":
            u = jax.random.normal(kw, (half, psi1.shape[1]), x1.dtype)
            u = u * (math.sqrt(psi1.shape[1]) / jnp.linalg.norm(u, axis=-1, keepdims=True))
            w0 = jnp.concatenate([u, u])  # w0 . psi(x) = u . x with u uniform on S^{d-1} (features="input")
        else:
            w0 = jnp.zeros((self.width, psi1.shape[1]), x1.dtype)
        step = first_step(a0, b0, w0, psi1, y1)  # (m, D)
        g = y1 @ psi1 / n1
        if self.eta1 is None:
            scale = jnp.std(psi1 @ step.T, axis=0)  # per neuron, at eta_1 = 1
            eta = 1.0 / jnp.maximum(jnp.nanmedian(jnp.where(scale > 0, scale, jnp.nan)), 1e-12)
            eta = jnp.where(jnp.isfinite(eta), eta, 1.0)
        else:
            eta = jnp.asarray(self.eta1, x1.dtype)
        w1 = (eta * self.eta1_scale) * step  # eta * 1.0 is eta exactly: the default changes no bit
        b = jax.random.normal(kb2, (self.width,), x1.dtype) if self.redraw_bias else b0
        a = ridge_readout(relu(psi2 @ w1.T + b), y2, self.ridge)
        return OneStepParams(v=v, w=w1, b=b, a=a, g=g, mu=mu)

    def predict(self, params: OneStepParams, x: Array) -> Array:
        return relu((self._psi(params.v, x) - params.mu) @ params.w.T + params.b) @ params.a

    def first_layer(self, params: OneStepParams) -> Array:
        """The stepped weights W (m, d), with ``features="input"`` only."""
        if "first_layer" not in self.capabilities:
            raise self._undeclared("first_layer")
        return params.w

    def learned_feature(self, params: OneStepParams, x: Array) -> Array:
        """phi(x) = g . psi(x) of the 3-layer version (``features="relu_random"``); the 2-layer one has none
        (psi = x / sqrt(d): linear)."""
        if "learned_feature" not in self.capabilities:
            raise self._undeclared("learned_feature")
        return (self._psi(params.v, x) - params.mu) @ params.g

    def _dim(self) -> int | None:
        return None if self.features == "input" else (self.feature_width or 8192)

    def _memory(self, d: int, n1: int, n2: int, itemsize: int) -> int:
        dim = self._dim() or d
        n = n1 + n2
        return itemsize * (3 * n * dim + 3 * n * self.width + dim * d + 3 * self.width * dim + 2 * self.width**2)

    def _flops(self, d: int, n1: int, n2: int) -> float:
        dim = self._dim() or d
        n = n1 + n2
        psi = 2.0 * n * d * dim if self.features == "relu_random" else 0.0
        return psi + 4.0 * n1 * self.width * dim + 2.0 * n2 * self.width * dim + n2 * self.width**2 \
            + self.width**3 / 3.0


class OneStep(OneStepBase):
    """One big GD step on W from a symmetric init, then ridge on a, on split samples (module docstring)."""

    plot_role: ClassVar[PlotRole] = "one_step"  # its colour and marker in figures (plots.ROLE_STYLES)

    kind: Literal["one_step"] = Field(default="one_step", description="learner kind (discriminator)")
    split: float = Field(default=0.5, gt=0.0, lt=1.0, description="n1 = int(split * n) samples for stage 1 (the "
                         "step), the other n - n1 for the ridge readout")

    def resolve(self, d: int, n: int, n_max: int) -> OneStep:
        if self.features == "relu_random" and self.feature_width is None:
            return self.model_copy(update={"feature_width": min(4 * max(1, int(self.split * n)), 8192)})
        return self

    def fit(self, key: Array, x: Array, y: Array) -> OneStepParams:
        n1 = max(1, int(self.split * x.shape[0]))
        return self.fit_stages(key, x[:n1], y[:n1], x[n1:], y[n1:])

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        n1 = max(1, int(self.split * n))
        return self._memory(d, n1, n - n1, itemsize)

    def flops(self, d: int, n: int) -> float:
        n1 = max(1, int(self.split * n))
        return self._flops(d, n1, n - n1)
