r"""The Theorem-1 protocol of Dandi et al. (2025, Alg. 1 / App. C.5) as a learner: spherical SGD on the
correlation loss for layer 1, one preconditioned step on layer 2, a ridge readout.

    f(x) = (1/sqrt(p2)) w_3^T relu( W_2 relu(W_1 x + b_1) + b_2 ),   W_1: p1 x d,  W_2: p2 x p1,  w_3: p2

Data (the n samples of the cell are the whole sample budget; ``batches="fresh"``): the first
n_1 = int(frac1 n) samples are cut into T_1 disjoint batches of m_1 = n_1 // T_1 (one per layer-1 step; a
remainder n_1 - T_1 m_1 < T_1 is unused), the next n_2 = int(frac2 n) are the layer-2 batch, the remaining
n_3 = n - n_1 - n_2 the readout's. ``batches="shared"`` (the paper's Fig. 6 ablation): every layer-1 step, the
layer-2 step and the readout use all n samples.

Initialisation: rows of W_1 uniform on S^{d-1}; W_2 = J, the p2 x p1 matrix with J[j, i] = 1{i mod p2 = j}
(the identity when p1 = p2, as in the theorem); w_3 = 1 (theorem) or +-1 (``w3_init``); b_1 ~ U(-1, 1),
b_2 ~ b2_scale U(0, 1), never trained.

1. Layer 1, t = 1..T_1, on batch B_t (m_1 samples), correlation loss L(W_1) = -(1/m_1) sum_{x in B_t} y f(x):
       G = grad_{W_1} L,   G_i <- G_i - (G_i . w_i) w_i         (the spherical gradient of row i)
       w_i <- (w_i - eta G_i) / ||w_i - eta G_i||,   eta = eta1 sqrt(p2) sqrt(d^eps)
   With W_2 = J and b_2 >= 0, relu(W_2 relu(.) + b_2) = W_2 relu(.) + b_2, so f = (1/sqrt(p2)) sum_i s_i
   relu(w_i . x + b_1i) + const (s_i = w_3 of neuron i's unit): every neuron moves on its own (the theorem's
   neuron-wise SGD), and its gradient -(s_i/sqrt(p2)) E[y relu'(w_i . x + b_1i) x] carries
   E[y (x x^T - I)] w_i ~ W*^T diag(a*) W* w_i / sqrt(d^eps): the sqrt(p2) sqrt(d^eps) of eta makes the step
   of the overlap O(eta1). Its a*_i s_i > 0 directions grow, the others shrink.
2. Layer 2 (``reinit_later``: W_2 <- 0, w_3 ~ N(0, 1) first; else W_2 = J and w_3 as in stage 1), on the
   layer-2 batch (n_2 samples, Z = relu(X W_1^T + b_1) its n_2 x p1 features), one preconditioned step:
       W_2 <- W_2 - eta_2 grad_{W_2} L (Z^T Z / n_2 + lambda2 I)^{-1},   eta_2 = eta2 sqrt(p2)
   From W_2 = 0: grad_{W_2} L = -(1/sqrt(p2)) (w_3 relu'(b_2)) (Z^T y / n_2)^T, so row j of W_2 is
   eta2 w_3j beta^T with beta = (Z^T Z / n_2 + lambda2 I)^{-1} Z^T y / n_2 the ridge fit of y on the layer-1
   features: h_2j(x) = eta2 w_3j beta . z(x) + b_2j, a rescaled copy of one learned scalar (Thm 1 (ii): of h*).
3. Readout: w_3 = (H^T H + ridge n_3 I)^{-1} H^T y on the readout samples, H = relu(W_2 z + b_2) / sqrt(p2)
   (``learners.common.ridge_readout``); the 1/sqrt(p2) is folded into the stored w_3, so ``predict`` is the
   network of ``three_layer.forward``.

Choices where the notes say "verify" or are silent, marked [choice] on the fields below:
- [choice] activation: ReLU with fixed random biases (the public code's student), not the theorem's analytic
  sigma. b_2 >= 0 (U(0, 1)) plays the role of sigma'(0) != 0: relu'(b_2) = 1, so the layer-2 step from W_2 = 0
  moves every unit, and the readout's features relu(c w_3j r(x) + b_2j) have kinks spread over r (without
  biases the scale family relu(c w_3j r) spans only r+ and r-, and fits no tanh).
- [choice] the 1/sqrt(p2) in f: the theorem's step eta = eta1 sqrt(p2) sqrt(d^eps) then gives every neuron a
  width-independent step; the same for eta_2 = eta2 sqrt(p2).
- [choice] W_2 = J for p1 != p2 (the theorem has p1 = p2 and W_2 = I).
- [choice] the split frac1 = 0.7, frac2 = 0.2, readout the rest 0.1 (the theorem: n_1 T_1 ~ d^{1+eps+delta}
  polylog d for layer 1, n_2 ~ d^{k eps + delta} for layer 2, Theta(d^delta) for the readout).
- [choice] T_1 = 4 steps, eta1 = 2, eta2 = 1.5, lambda2 = 0.01, ridge 1e-3 (the theorem gives rates only):
  picked from a handful of runs at d = 32, kappa = 2.6, 3 trials (T_1 in {4, 6, 8}, eta1 in {1.5, 2, 3},
  lambda2 in {0.1, 0.01, 0.001}; median test MSE 0.22 (trials 0.17-0.25) at these values vs 0.28 at T_1 = 6,
  eta1 = 3);
  with fresh batches every extra layer-1 step costs a batch of samples, so fewer, larger steps win at small d.
- [choice] w_3 = +-1 (random signs) during layer 1 instead of the theorem's w_3 = 1 (field ``w3_init``): the
  theorem has a* = 1; with the numerics' Rademacher a* and w_3 = 1 every neuron ends in the a*_i > 0 half of
  span(W*), and the layer-2 step cannot build h* (measured at d = 32, kappa = 2.8: test MSE 0.47 vs 0.28).
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import jax
import jax.numpy as jnp
from jax import Array
from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from depthlab.learners.base import LearnerCapability, LearnerSpec, PlotRole
from depthlab.learners.common import relu, ridge_readout, uniform_bias
from depthlab.learners.three_layer import ThreeLayerParams, forward, layer1_features, layer2_preactivation
from depthlab.linalg import spd_solve


def sphere_rows(key: Array, p: int, d: int, dtype: jnp.dtype) -> Array:
    """p rows uniform on S^{d-1}."""
    w = jax.random.normal(key, (p, d), dtype)
    return w / jnp.linalg.norm(w, axis=1, keepdims=True)


def block_identity(p2: int, p1: int, dtype: jnp.dtype) -> Array:
    """J[j, i] = 1{i mod p2 = j} (p2 x p1): the identity when p1 = p2."""
    return (jnp.arange(p1)[None, :] % p2 == jnp.arange(p2)[:, None]).astype(dtype)


def correlation_loss(p: ThreeLayerParams, x: Array, y: Array) -> Array:
    """L = -(1/m) sum_x y f(x), with f(x) = (1/sqrt(p2)) w_3^T relu(W_2 relu(W_1 x + b_1) + b_2)."""
    p2 = p.w3.shape[0]
    return -jnp.mean(y * (relu(layer2_preactivation(p, x)) @ p.w3)) / math.sqrt(p2)


def spherical_step(w1: Array, g: Array, eta: float) -> Array:
    """One projected step per row: w <- normalise(w - eta (g - (g . w) w)) (rows of w1 unit norm)."""
    g_tan = g - jnp.sum(g * w1, axis=1, keepdims=True) * w1
    w = w1 - eta * g_tan
    return w / jnp.linalg.norm(w, axis=1, keepdims=True)


def preconditioned_step(p: ThreeLayerParams, z: Array, y: Array, eta2: float, lam2: float) -> Array:
    """W_2 - eta2 grad_{W_2} L (Z^T Z / n + lam2 I)^{-1} on features z (n, p1) = relu(X W_1^T + b_1)."""
    n, p1 = z.shape

    def loss(w2: Array) -> Array:
        h = relu(z @ w2.T + p.b2) @ p.w3
        return -jnp.mean(y * h) / math.sqrt(p.w3.shape[0])

    g = jax.grad(loss)(p.w2)  # (p2, p1)
    cov = z.T @ z / n + lam2 * jnp.eye(p1, dtype=z.dtype)
    # g C^{-1} = (C^{-1} g^T)^T, C symmetric positive definite
    return p.w2 - eta2 * spd_solve(cov, g.T).T


class Theorem1ThreeLayer(LearnerSpec):
    """Spherical correlation-loss SGD on W_1, one preconditioned step on W_2, ridge on w_3 (module docstring)."""

    plot_role: ClassVar[PlotRole] = "variant"
    capabilities: ClassVar[frozenset[LearnerCapability]] = frozenset({"first_layer", "hidden_preactivation"})

    kind: Literal["theorem1"] = Field(default="theorem1", description="learner kind (discriminator)")
    p1: PositiveInt = Field(default=256, description="first hidden width (theorem: p1 = p2 = Theta(d^{k eps + "
                            "delta'}); default: the quick presets' public-code width)")
    p2: PositiveInt = Field(default=64, description="second hidden width (<= p1; W_2 starts at J, J[j, i] = "
                            "1{i mod p2 = j}) [choice]")
    epsilon: float = Field(default=0.5, gt=0.0, lt=1.0, description="eps of eta = eta1 sqrt(p2) sqrt(d^eps): the "
                           "target's latent exponent (SIGHT eps = 1/2)")
    eta1: PositiveFloat = Field(default=2.0, description="eta~, prefactor of the layer-1 step eta = eta1 sqrt(p2) "
                                "sqrt(d^eps) [choice]")
    t1: PositiveInt = Field(default=4, description="T_1: spherical layer-1 steps (theorem: polylog d) [choice]")
    eta2: PositiveFloat = Field(default=1.5, description="prefactor of the layer-2 step eta_2 = eta2 sqrt(p2) "
                                "(theorem: Theta(sqrt(p2))) [choice]")
    lambda2: PositiveFloat = Field(default=0.01, description="lambda2 of the preconditioner (Z^T Z/n_2 + lambda2 "
                                   "I)^{-1} [choice]")
    ridge: PositiveFloat = Field(default=1e-3, description="lambda of the readout w_3 = (H^T H + lambda n_3 "
                                 "I)^{-1} H^T y [choice]")
    frac1: float = Field(default=0.7, gt=0.0, lt=1.0, description="fraction of the n samples for layer 1, cut "
                         "into T_1 disjoint batches (batches 'fresh') [choice]")
    frac2: float = Field(default=0.2, gt=0.0, lt=1.0, description="fraction of the n samples for the layer-2 "
                         "step; the readout gets the remaining 1 - frac1 - frac2 (batches 'fresh') [choice]")
    b2_scale: float = Field(default=1.0, ge=0.0, description="b_2 ~ b2_scale U(0, 1) (>= 0: relu'(b_2) = 1, the "
                            "role of sigma'(0) != 0) [choice]")
    w3_init: Literal["ones", "rademacher"] = Field(
        default="rademacher", description="w_3 during layer 1: 'ones' (theorem, a* = 1) or random signs (+-1), so "
        "that with the numerics' Rademacher a* half the neurons grow the a*_i > 0 directions and half the "
        "a*_i < 0 ones (with w_3 = 1 every neuron ends in the a*_i > 0 half of span(W*)) [choice]")
    reinit_later: bool = Field(default=True, description="before the layer-2 step: W_2 <- 0 and w_3 ~ N(0, 1) "
                               "(theorem; paper Fig. 5 ablation: False keeps W_2 = J, w_3 = 1)")
    batches: Literal["fresh", "shared"] = Field(
        default="fresh", description="'fresh': disjoint parts of the n samples per layer-1 step, for layer 2 and "
        "for the readout (theorem); 'shared': all n samples for every step and stage (paper Fig. 6 ablation)")

    @model_validator(mode="after")
    def _valid(self) -> Theorem1ThreeLayer:
        if self.frac1 + self.frac2 >= 1.0:
            raise ValueError(f"frac1 + frac2 = {self.frac1 + self.frac2:g} leaves no readout samples (need < 1)")
        if self.p2 > self.p1:
            raise ValueError(f"p2 = {self.p2} > p1 = {self.p1}: W_2 starts at J, which needs p2 <= p1")
        return self

    # ---- data split -------------------------------------------------------------------------------------
    def sizes(self, n: int) -> tuple[int, int, int, int]:
        """(m_1 per layer-1 step, n_1 = int(frac1 n), n_2, n_3) for n samples ('fresh'); all n when 'shared'."""
        if self.batches == "shared":
            return n, n, n, n
        n1, n2 = int(self.frac1 * n), int(self.frac2 * n)
        return n1 // self.t1, n1, n2, n - n1 - n2

    def split(self, n: int) -> tuple[int, int, int, int]:
        """``sizes``, refusing an n that leaves a part empty."""
        m1, n1, n2, n3 = self.sizes(n)
        if m1 < 1 or n2 < 1 or n3 < 1:
            raise ValueError(f"batches='fresh' with n = {n}: {self.t1} layer-1 batches of {m1}, n_2 = {n2}, "
                             f"n_3 = {n3}; every part needs >= 1 sample")
        return m1, n1, n2, n3

    def layer1(self, params: ThreeLayerParams, xb: Array, yb: Array,
               record: bool = False) -> tuple[Array, Array | None]:
        """T_1 spherical steps on W_1 from ``params``, step t on batch xb[t], yb[t] (xb: (T_1, m_1, d), or
        (1, n, d) for 'shared': the same batch every step). Returns the final W_1 and, with ``record``, W_1
        after every step (T_1, p1, d)."""
        d = xb.shape[-1]
        eta = self.eta1 * math.sqrt(self.p2) * math.sqrt(d**self.epsilon)
        grad1 = jax.grad(lambda w1, x, y: correlation_loss(params._replace(w1=w1), x, y))
        one = xb.shape[0] == 1

        def step(w1: Array, t: Array) -> tuple[Array, Array | None]:
            i = 0 if one else t
            w1 = spherical_step(w1, grad1(w1, xb[i], yb[i]), eta)
            return w1, (w1 if record else None)

        return jax.lax.scan(step, params.w1, jnp.arange(self.t1))

    def init(self, key: Array, d: int, dtype: jnp.dtype) -> ThreeLayerParams:
        """W_1 rows on the sphere, W_2 = J, w_3 = 1 or +-1 (``w3_init``), the fixed biases."""
        k1, kb1, kb2, k3 = jax.random.split(key, 4)
        p1, p2 = self.p1, self.p2
        w3 = jnp.ones((p2,), dtype)
        if self.w3_init == "rademacher":
            w3 = jnp.where(jax.random.bernoulli(k3, 0.5, (p2,)), 1.0, -1.0).astype(dtype)
        return ThreeLayerParams(w1=sphere_rows(k1, p1, d, dtype), b1=uniform_bias(kb1, (p1,), 1.0, dtype),
                                w2=block_identity(p2, p1, dtype),
                                b2=self.b2_scale * jax.random.uniform(kb2, (p2,), dtype), w3=w3)

    def parts(self, x: Array, y: Array) -> tuple[tuple[Array, Array], tuple[Array, Array], tuple[Array, Array]]:
        """The samples of each stage (module docstring): layer-1 batches (T_1, m_1, d) (or (1, n, d) for
        'shared'), layer-2 batch, readout samples."""
        n, d = x.shape
        if self.batches == "shared":
            return (x[None], y[None]), (x, y), (x, y)
        m1, n1, n2, _ = self.split(n)
        used = m1 * self.t1  # the remainder n_1 - T_1 m_1 < T_1 is left unused
        return ((x[:used].reshape(self.t1, m1, d), y[:used].reshape(self.t1, m1)),
                (x[n1 : n1 + n2], y[n1 : n1 + n2]), (x[n1 + n2 :], y[n1 + n2 :]))

    def layer2(self, key: Array, params: ThreeLayerParams, x2: Array, y2: Array) -> ThreeLayerParams:
        """(Re-initialise: W_2 <- 0, w_3 ~ N(0, 1), and) one preconditioned step on W_2."""
        if self.reinit_later:
            params = params._replace(w2=jnp.zeros_like(params.w2), w3=jax.random.normal(key, (self.p2,),
                                                                                         x2.dtype))
        z = layer1_features(params, x2)
        return params._replace(w2=preconditioned_step(params, z, y2, self.eta2 * math.sqrt(self.p2), self.lambda2))

    def readout(self, params: ThreeLayerParams, x3: Array, y3: Array) -> ThreeLayerParams:
        """Ridge on w_3 (the 1/sqrt(p2) of f folded into the stored w_3, as ``three_layer.forward`` reads it)."""
        h = relu(layer2_preactivation(params, x3)) / math.sqrt(self.p2)
        return params._replace(w3=ridge_readout(h, y3, self.ridge) / math.sqrt(self.p2))

    def fit(self, key: Array, x: Array, y: Array) -> ThreeLayerParams:
        kinit, k2 = jax.random.split(key)
        params = self.init(kinit, x.shape[1], x.dtype)
        (xb1, yb1), (x2, y2), (x3, y3) = self.parts(x, y)
        params = params._replace(w1=self.layer1(params, xb1, yb1)[0])
        params = self.layer2(k2, params, x2, y2)
        return self.readout(params, x3, y3)

    def predict(self, params: ThreeLayerParams, x: Array) -> Array:
        return forward(params, x)

    def first_layer(self, params: ThreeLayerParams) -> Array:
        return params.w1

    def hidden_preactivation(self, params: ThreeLayerParams, x: Array) -> Array:
        return layer2_preactivation(params, x)

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        """The data and its batched copy (2 n d), one layer-1 batch's features and gradient temporaries
        (3 m_1 p1), the layer-2 features and their covariance (n_2 p1 + 2 p1^2), the readout's features
        (2 n_3 p2), the weights (p1 d + p1 p2, twice)."""
        m1, _, n2, n3 = self.sizes(n)
        p1, p2 = self.p1, self.p2
        return itemsize * (2 * n * d + 3 * m1 * (p1 + d) + n2 * (p1 + d) + 2 * p1 * p1 + 2 * n3 * p2
                           + 2 * (p1 * d + p1 * p2))

    def flops(self, d: int, n: int) -> float:
        """T_1 forward + backward passes on m_1 samples (6 m_1 p1 (d + p2)), the layer-2 features, covariance,
        Cholesky and solve (2 n_2 p1 d + n_2 p1^2 + p1^3/3 + 2 p1^2 p2), the readout (2 n_3 (p1 d + p1 p2 + p2^2))."""
        m1, _, n2, n3 = self.sizes(n)
        p1, p2 = self.p1, self.p2
        return (6.0 * self.t1 * m1 * p1 * (d + p2) + 2.0 * n2 * p1 * d + n2 * p1 * p1 + p1**3 / 3
                + 2.0 * p1 * p1 * p2 + 2.0 * n3 * (p1 * d + p1 * p2 + p2 * p2))
