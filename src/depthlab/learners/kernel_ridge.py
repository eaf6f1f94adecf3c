r"""Kernel ridge regression (Dandi et al. 2025, Nichani et al. 2023, Damian et al. 2022 baselines).

    K(x, x') = sum_{j=0}^{q} (x . x' / s)^j          (``polynomial``; q = 2, s = 1: (x.x')^2 + x.x' + 1)
    or the infinite-width 2-layer ReLU NTK / NNGP   (``relu_ntk`` / ``relu_nngp``, see ``learners.kernels``)
    or the erf-network NNGP with input scale s      (``erf_nngp``, bounded; Safran & Lee 2022 baseline)
    alpha = (K + lambda n I)^{-1} y,    f(x) = sum_i alpha_i K(x_i, x)

Two exact solvers (Cholesky factorisations of a regularised Gram matrix):

* ``dual``:   the n x n system above; O(n^3) time, n^2 memory.
* ``primal``: the kernel has the finite feature map phi(x) = (sqrt(c_a) x^a / s^{|a|/2})_{|a| <= q} over
  monomials x^a with multinomial weights c_a = |a|! / prod_i a_i!, so K = Phi Phi^T and, by the push-through
  identity, f(x) = phi(x)^T (Phi^T Phi + lambda n I)^{-1} Phi^T y: O(n D^2 + D^3) time, n D memory with
  D = C(d + q, q) (2145 for d = 64, q = 2).
* ``auto`` (default) takes the cheaper of the two (the primal exists for the polynomial kernel only).

Before running, ``check_feasible`` refuses (with the memory it would need) a solve larger than
``max_memory_gb``.
"""

from __future__ import annotations

import math
from itertools import combinations_with_replacement
from typing import ClassVar, Literal, NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import Array
from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator

from depthlab.learners.base import LearnerCapability, LearnerSpec, PlotRole
from depthlab.learners.kernels import (  # noqa: F401  (the kernel functions stay importable from here)
    KERNELS,
    KernelName,
    erf_nngp,
    polynomial_kernel,
    relu_nngp,
    relu_ntk,
)
from depthlab.linalg import spd_solve


class KernelParams(NamedTuple):
    x_train: Array  # (n, d) (dual) or (0, d) (primal)
    alpha: Array  # (n,) dual coefficients, or (D,) primal weights


def num_features(d: int, degree: int) -> int:
    """D = number of monomials of degree <= q in d variables = C(d + q, q)."""
    return math.comb(d + degree, degree)


def polynomial_features(x: Array, degree: int = 2, scale: float = 1.0) -> Array:
    """phi(x) with phi(x) . phi(x') = sum_{j<=degree} (x . x'/scale)^j; shape (n, C(d+q, q))."""
    d = x.shape[-1]
    cols = [jnp.ones(x.shape[:-1] + (1,), x.dtype)]
    for j in range(1, degree + 1):
        idx = np.array(list(combinations_with_replacement(range(d), j)))  # (M, j), sorted monomials
        counts = [np.bincount(row, minlength=d) for row in idx]
        weight = np.array([math.factorial(j) / np.prod([math.factorial(c) for c in cnt]) for cnt in counts])
        mono = jnp.prod(x[..., idx], axis=-1)  # (n, M)
        cols.append(mono * jnp.asarray(np.sqrt(weight) / scale ** (j / 2), x.dtype))
    return jnp.concatenate(cols, axis=-1)


class KernelRidge(LearnerSpec):
    """Kernel ridge with the polynomial kernel sum_{j<=degree} (x.x'/scale)^j and ridge lambda n."""

    plot_role: ClassVar[PlotRole] = "kernel"  # its colour and marker in figures (plots.ROLE_STYLES)

    kind: Literal["kernel"] = Field(default="kernel", description="learner kind (discriminator)")
    capabilities: ClassVar[frozenset[LearnerCapability]] = frozenset()  # no features: a kernel has no layers

    kernel: KernelName = Field(
        default="polynomial", description="K: 'polynomial' sum_{j<=degree} (x.x'/scale)^j, the 2-layer ReLU "
        "'relu_ntk' / 'relu_nngp', or the bounded 'erf_nngp' (Safran & Lee baseline)")
    degree: PositiveInt = Field(default=2, description="q: highest power of the polynomial kernel "
                                "sum_{j=0}^{q} (x.x'/s)^j (polynomial kernel only)")
    scale: PositiveFloat = Field(default=1.0, description="s: (x.x'/s)^j (polynomial) or x.x'/(s d) (erf_nngp)")
    bias: NonNegativeFloat = Field(default=0.0, description="beta: hidden-layer bias beta b, b ~ N(0, 1), of the "
                                   "ReLU network whose kernel this is (relu_ntk, relu_nngp; 0: no bias, whose "
                                   "kernels have no odd degree >= 3)")
    ridge: PositiveFloat = Field(default=1.0, description="lambda in alpha = (K + lambda n I)^{-1} y, times n "
                                 "(example yaml lambda_ridge_setup_kernel)")
    solver: Literal["auto", "dual", "primal"] = Field(
        default="auto", description="'dual' n x n solve, 'primal' finite feature map (polynomial kernel only), "
        "'auto' the cheaper of the two")
    max_memory_gb: PositiveFloat = Field(default=8.0, description="refuse solves whose matrices need more than "
                                         "this many GiB per trial")

    @model_validator(mode="after")
    def _primal_needs_polynomial(self) -> KernelRidge:
        if not KERNELS[self.kernel].finite_features and self.solver == "primal":
            raise ValueError(f"the {self.kernel} kernel has no finite feature map: use solver 'dual' or 'auto'")
        if self.bias and not KERNELS[self.kernel].has_bias:
            raise ValueError(f"bias: the {self.kernel} kernel has no hidden-layer bias (relu_ntk, relu_nngp do)")
        return self

    def memory_limit_gb(self) -> float:
        return self.max_memory_gb

    def chosen_solver(self, d: int, n: int) -> str:
        if not KERNELS[self.kernel].finite_features:
            return "dual"
        if self.solver != "auto":
            return self.solver
        return "primal" if num_features(d, self.degree) < n else "dual"

    def gram(self, x1: Array, x2: Array) -> Array:
        return KERNELS[self.kernel].gram(x1, x2, self.degree, self.scale, self.bias)

    def fit(self, key: Array, x: Array, y: Array) -> KernelParams:
        n, d = x.shape
        if self.chosen_solver(d, n) == "primal":
            phi = polynomial_features(x, self.degree, self.scale)
            gram = phi.T @ phi + self.ridge * n * jnp.eye(phi.shape[1], dtype=x.dtype)
            w = spd_solve(gram, phi.T @ y)
            return KernelParams(x_train=x[:0], alpha=w)
        k = self.gram(x, x) + self.ridge * n * jnp.eye(n, dtype=x.dtype)
        alpha = spd_solve(k, y)
        return KernelParams(x_train=x, alpha=alpha)

    def predict(self, params: KernelParams, x: Array) -> Array:
        if params.x_train.shape[0] == 0:  # primal weights
            return polynomial_features(x, self.degree, self.scale) @ params.alpha
        return self.gram(x, params.x_train) @ params.alpha

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        if self.chosen_solver(d, n) == "primal":
            big_d = num_features(d, self.degree)
            return itemsize * (2 * n * big_d + 2 * big_d * big_d + 2 * n * d)
        return itemsize * (3 * n * n + 2 * n * d)

    def flops(self, d: int, n: int) -> float:
        if self.chosen_solver(d, n) == "primal":
            big_d = num_features(d, self.degree)
            return 2.0 * n * big_d * big_d + big_d**3 / 3.0
        return n**3 / 3.0 + 2.0 * n * n * d
