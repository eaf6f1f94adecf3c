r"""One-hidden-layer network (a single non-linear layer, linear output) trained by standard gradient descent on
all parameters: the shallow class of Safran & Lee 2022 (arXiv 2112.02393), whose standard GD cannot beat a
constant error on their hard radial law.

    N(x) = u^T s(W x~ + b) + u_0,    x~ = x sqrt(d) / med_i ||x_i||   (the same label-free input scale as the
                                                                       depth-2 learner, so both see x~)

Standard initialisation (LeCun): W_ij ~ N(0, 1/d), b_j ~ U(-1, 1), u_j ~ N(0, 1/p), u_0 = 0.
``steps`` full-batch GD steps with a constant step size lr on F = (1/2n) sum_i (N(x_i) - y_i)^2, all of
(W, b, u, u_0) together; with r_i = (N(x_i) - y_i)/n and H = s(W x~ + b):

    grad_u = H^T r,   grad_u0 = sum_i r_i,   G = (r u^T) * s'(W x~ + b),   grad_W = G^T x~,   grad_b = sum_i G_i.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal, NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from pydantic import Field, PositiveFloat, PositiveInt, field_validator

from depthlab.learners.base import LearnerCapability, PlotRole
from depthlab.learners.common import uniform_bias
from depthlab.learners.two_sigmoid import PolynomialWidth, input_scale
from depthlab.targets.activations import get_activation


class ShallowParams(NamedTuple):
    w: Array  # (p, d) acting on the scaled input x~
    b: Array  # (p,)
    u: Array  # (p,)
    u0: Array  # ()
    scale: Array  # () the input scale sqrt(d) / median ||x_i|| of the training set


def shallow_forward(p: ShallowParams, x: Array, act: str) -> Array:
    return get_activation(act)(x * p.scale @ p.w.T + p.b) @ p.u + p.u0


def shallow_loss(p: ShallowParams, x: Array, y: Array, act: str) -> Array:
    """F = (1/2n) sum_i (N(x_i) - y_i)^2."""
    r = shallow_forward(p, x, act) - y
    return 0.5 * jnp.mean(r * r)


def shallow_gradient(p: ShallowParams, x: Array, y: Array, act: str) -> ShallowParams:
    """Backpropagation of ``shallow_loss`` (module docstring); the scale gets no gradient."""
    f = get_activation(act)
    xs = x * p.scale
    pre = xs @ p.w.T + p.b
    h = f(pre)
    r = (h @ p.u + p.u0 - y) / y.shape[0]
    ds = jax.vmap(jax.vmap(jax.grad(f)))(pre)  # s'(pre), elementwise
    g = (r[:, None] * p.u[None, :]) * ds
    return ShallowParams(w=g.T @ xs, b=g.sum(0), u=h.T @ r, u0=r.sum(), scale=jnp.zeros_like(p.scale))


class ShallowGD(PolynomialWidth):
    """u^T s(W x~ + b) + u_0, every parameter trained by full-batch GD from a standard init; width d^2 by
    default, matched to the depth-2 learner's."""

    plot_role: ClassVar[PlotRole] = "two_layer"  # its colour and marker in figures (plots.ROLE_STYLES)

    capabilities: ClassVar[frozenset[LearnerCapability]] = frozenset({"first_layer"})

    kind: Literal["shallow_gd"] = Field(default="shallow_gd", description="learner kind (discriminator)")
    activation: str = Field(default="sigmoid", description="s in u^T s(W x~ + b) + u_0; sigmoidal by default: "
                            "bounded, so heavy-tailed inputs cannot blow up GD")
    lr: PositiveFloat = Field(default=1.0, description="constant step size of full-batch GD on (W, b, u, u_0) "
                              "('standard GD': no tuning to the target)")
    steps: PositiveInt = Field(default=4000, description="full-batch GD iterations, as the depth-2 learner")

    @field_validator("activation")
    @classmethod
    def _known(cls, v: str) -> str:
        get_activation(v)
        return v

    def init(self, key: Array, x: Array) -> ShallowParams:
        d, p = x.shape[-1], self.width
        kw, kb, ku = jax.random.split(key, 3)
        return ShallowParams(
            w=jax.random.normal(kw, (p, d), x.dtype) / math.sqrt(d),
            b=uniform_bias(kb, (p,), 1.0, x.dtype),
            u=jax.random.normal(ku, (p,), x.dtype) / math.sqrt(p),
            u0=jnp.zeros((), x.dtype),
            scale=input_scale(x),
        )

    def fit(self, key: Array, x: Array, y: Array) -> ShallowParams:
        def body(i: Array, prm: ShallowParams) -> ShallowParams:
            g = shallow_gradient(prm, x, y, self.activation)
            return jax.tree_util.tree_map(lambda a, da: a - self.lr * da, prm, g)

        return jax.lax.fori_loop(0, self.steps, body, self.init(key, x))

    def predict(self, params: ShallowParams, x: Array) -> Array:
        return shallow_forward(params, x, self.activation)

    def first_layer(self, params: ShallowParams) -> Array:
        return params.w

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        return itemsize * (5 * n * self.width + 3 * n * d + 3 * self.width * d)

    def flops(self, d: int, n: int) -> float:
        return 6.0 * self.steps * n * d * self.width
