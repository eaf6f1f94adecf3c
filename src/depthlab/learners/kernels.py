r"""Closed-form kernels, next to the networks they describe.

Polynomial:  K(x, x') = sum_{j=0}^{q} (x . x' / s)^j.

Arc-cosine (Cho & Saul 2009), for rho in [-1, 1]:
    k0(rho) = (pi - arccos rho) / pi,
    k1(rho) = (sqrt(1 - rho^2) + rho (pi - arccos rho)) / pi,
so that for (u, u') standard normal with correlation rho:
    E[step(u) step(u')] = k0(rho) / 2,    E[relu(u) relu(u')] = k1(rho) / 2.

Two-layer ReLU network in the NTK parametrisation (Jacot et al. 2018),
    f(x) = (1/sqrt(m)) sum_i a_i relu(w_i . x / sqrt(d)),   w_i ~ N(0, I_d),  a_i ~ N(0, 1):
    NNGP (random features, only a trained):  Sigma(x, x') = (|x| |x'| / d) k1(rho) / 2,
    NTK  (both layers trained, m -> inf):    Theta(x, x') = Sigma(x, x') + (x . x' / d) k0(rho) / 2,
with rho = x . x' / (|x| |x'|). With a hidden bias, relu(w_i . x / sqrt(d) + beta b_i), b_i ~ N(0, 1) (and
trained in the NTK), both kernels are the same formulas on the augmented inputs (x, beta sqrt(d)): x . x' + beta^2 d
in place of x . x', |x|^2 + beta^2 d in place of |x|^2 (``bias`` = beta; 0: no bias).

On the sphere both expand in Gegenbauer polynomials of rho (Bietti & Mairal 2019, "On the inductive bias of
neural tangent kernels"): without a bias, k1 has no odd terms beyond the linear one and rho k0(rho) =
rho / 2 + rho arcsin(rho) / pi neither, so the bias-free NTK and NNGP have zero eigenvalues at every odd degree
>= 3 -- kernel ridge with them cannot fit an odd cubic part of f* at any n (its error floors at that part's
mass). With beta > 0 every degree has a positive eigenvalue.

Erf network (Williams 1998), f(x) = (1/sqrt(m)) sum_i a_i erf(w_i . x + b_i),  w_i ~ N(0, I_d/(s d)),  b_i ~ N(0, 1):
    NNGP:  K(x, x') = (2/pi) arcsin( 2 q(x, x') / sqrt((1 + 2 q(x, x)) (1 + 2 q(x', x'))) ),  q = 1 + x.x'/(s d),
a bounded kernel (the infinite-width random-features limit of a sigmoidal hidden layer).

``KERNELS`` is the registry the kernel learners look kernels up in: name -> ``KernelDef`` (the Gram matrix as a
function of (x1, x2, degree, scale, bias), and whether it has a finite feature map, i.e. a primal solve). A new kernel
is one entry here and one name in ``KernelName``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import jax.numpy as jnp
from jax import Array

_EPS = 1e-12


def polynomial_kernel(x1: Array, x2: Array, degree: int = 2, scale: float = 1.0) -> Array:
    """sum_{j=0}^{degree} (x1 . x2 / scale)^j for all pairs: (n1, n2)."""
    g = (x1 @ x2.T) / scale
    out = jnp.ones_like(g)
    power = jnp.ones_like(g)
    for _ in range(degree):
        power = power * g
        out = out + power
    return out


def arccos0(rho: Array) -> Array:
    """k0(rho) = (pi - arccos rho) / pi."""
    return (math.pi - jnp.arccos(jnp.clip(rho, -1.0, 1.0))) / math.pi


def arccos1(rho: Array) -> Array:
    """k1(rho) = (sqrt(1 - rho^2) + rho (pi - arccos rho)) / pi."""
    r = jnp.clip(rho, -1.0, 1.0)
    return (jnp.sqrt(jnp.maximum(1.0 - r * r, 0.0)) + r * (math.pi - jnp.arccos(r))) / math.pi


def _norms_and_cosine(x1: Array, x2: Array, bias: float = 0.0) -> tuple[Array, Array, Array]:
    """(x.x', |x||x'|, rho) for all pairs, of the augmented inputs (x, bias sqrt(d)) when ``bias`` > 0."""
    extra = bias * bias * x1.shape[-1]
    dot = x1 @ x2.T + extra
    n1 = jnp.sqrt(jnp.sum(x1 * x1, axis=-1) + extra)
    n2 = jnp.sqrt(jnp.sum(x2 * x2, axis=-1) + extra)
    outer = jnp.maximum(n1[:, None] * n2[None, :], _EPS)
    return dot, outer, dot / outer


def relu_nngp(x1: Array, x2: Array, bias: float = 0.0) -> Array:
    """Sigma(x, x') = (|x||x'|/d) k1(rho)/2: E over w ~ N(0, I_d) of relu(w.x/sqrt d) relu(w.x'/sqrt d)
    (with ``bias`` beta: of relu(w.x/sqrt d + beta b), b ~ N(0, 1), i.e. on the augmented inputs)."""
    d = x1.shape[-1]
    _, outer, rho = _norms_and_cosine(x1, x2, bias)
    return outer / d * arccos1(rho) / 2


def relu_ntk(x1: Array, x2: Array, bias: float = 0.0) -> Array:
    """Theta(x, x') = Sigma(x, x') + (x.x'/d) k0(rho)/2: infinite-width NTK of the 2-layer ReLU net (with
    ``bias`` beta: hidden bias beta b trained too, the same on the augmented inputs)."""
    d = x1.shape[-1]
    dot, outer, rho = _norms_and_cosine(x1, x2, bias)
    return outer / d * arccos1(rho) / 2 + dot / d * arccos0(rho) / 2


def erf_nngp(x1: Array, x2: Array, scale: float = 1.0) -> Array:
    """K(x, x') = (2/pi) arcsin(2 q / sqrt((1 + 2 q(x,x)) (1 + 2 q(x',x')))), q = 1 + x.x'/(scale d)."""
    d = x1.shape[-1]
    q12 = 1.0 + (x1 @ x2.T) / (scale * d)
    q1 = 1.0 + jnp.sum(x1 * x1, axis=-1) / (scale * d)
    q2 = 1.0 + jnp.sum(x2 * x2, axis=-1) / (scale * d)
    arg = 2 * q12 / jnp.sqrt((1 + 2 * q1)[:, None] * (1 + 2 * q2)[None, :])
    return (2 / math.pi) * jnp.arcsin(jnp.clip(arg, -1.0, 1.0))


KernelName = Literal["polynomial", "relu_ntk", "relu_nngp", "erf_nngp"]


@dataclass(frozen=True)
class KernelDef:
    """One kernel: ``gram(x1, x2, degree, scale, bias)`` -> (n1, n2) (each kernel uses the parameters it has),
    ``finite_features``: whether it has the finite feature map of ``kernel_ridge.polynomial_features``, and
    ``has_bias``: whether it reads ``bias`` (a hidden-layer bias)."""

    gram: Callable[[Array, Array, int, float, float], Array]
    finite_features: bool = False
    has_bias: bool = False


KERNELS: dict[str, KernelDef] = {
    "polynomial": KernelDef(lambda x1, x2, degree, scale, bias: polynomial_kernel(x1, x2, degree, scale),
                            finite_features=True),
    "relu_ntk": KernelDef(lambda x1, x2, degree, scale, bias: relu_ntk(x1, x2, bias), has_bias=True),
    "relu_nngp": KernelDef(lambda x1, x2, degree, scale, bias: relu_nngp(x1, x2, bias), has_bias=True),
    "erf_nngp": KernelDef(lambda x1, x2, degree, scale, bias: erf_nngp(x1, x2, scale)),
}
assert set(KERNELS) == set(get_args(KernelName)), "KERNELS and KernelName must name the same kernels"
