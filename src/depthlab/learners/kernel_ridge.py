r"""Kernel ridge regression with the polynomial kernel (Dandi et al. 2025 baseline).

    K(x, x') = sum_{j=0}^{q} (x . x' / s)^j          (q = 2, s = 1: (x.x')^2 + x.x' + 1, public code)
    alpha = (K + lambda n I)^{-1} y,    f(x) = sum_i alpha_i K(x_i, x)

solved by a Cholesky factorisation of the n x n regularised Gram matrix (memory 2 n^2 floats).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import jax.numpy as jnp
from jax import Array
from jax.scipy.linalg import cho_factor, cho_solve
from pydantic import PositiveFloat, PositiveInt

from depthlab.learners.base import LearnerSpec


class KernelParams(NamedTuple):
    x_train: Array  # (n, d)
    alpha: Array  # (n,)


def polynomial_kernel(x1: Array, x2: Array, degree: int = 2, scale: float = 1.0) -> Array:
    """sum_{j=0}^{degree} (x1 . x2 / scale)^j for all pairs: (n1, n2)."""
    g = (x1 @ x2.T) / scale
    out = jnp.ones_like(g)
    power = jnp.ones_like(g)
    for _ in range(degree):
        power = power * g
        out = out + power
    return out


class KernelRidge(LearnerSpec):
    """Kernel ridge with the polynomial kernel sum_{j<=degree} (x.x'/scale)^j and ridge lambda n."""

    kind: Literal["kernel"] = "kernel"
    degree: PositiveInt = 2
    scale: PositiveFloat = 1.0
    ridge: PositiveFloat = 1.0  # lambda, times n (example yaml lambda_ridge_setup_kernel)

    def fit(self, key: Array, x: Array, y: Array) -> KernelParams:
        n = x.shape[0]
        k = polynomial_kernel(x, x, self.degree, self.scale) + self.ridge * n * jnp.eye(n, dtype=x.dtype)
        alpha = cho_solve(cho_factor(k, lower=True), y)
        return KernelParams(x_train=x, alpha=alpha)

    def predict(self, params: KernelParams, x: Array) -> Array:
        return polynomial_kernel(x, params.x_train, self.degree, self.scale) @ params.alpha

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        return itemsize * (3 * n * n + 2 * n * d)

    def flops(self, d: int, n: int) -> float:
        return n**3 / 3.0 + 2.0 * n * n * d
