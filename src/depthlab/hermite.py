r"""Probabilists' Hermite polynomials and Gaussian expectations.

He_0 = 1, He_1 = z, He_{k+1}(z) = z He_k(z) - k He_{k-1}(z).
Orthogonality under z ~ N(0, 1):  E[He_j(z) He_k(z)] = k! \delta_{jk}.

Two normalisations are used in the papers:

* ``"unit"``      He_k / sqrt(k!)  (E[. ^2] = 1),
* ``"factorial"`` He_k / k!        (the convention of the Dandi et al. 2025 public code,
                                     E[. ^2] = 1/k!),

and ``"none"`` for the raw polynomial.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import jax.numpy as jnp
import numpy as np
from jax import Array

Normalization = Literal["none", "unit", "factorial"]


def he(k: int, z: Array) -> Array:
    """Probabilists' Hermite polynomial He_k(z) by the three-term recurrence (any array shape)."""
    if k < 0:
        raise ValueError(f"Hermite degree must be >= 0, got {k}")
    prev = jnp.ones_like(z)
    if k == 0:
        return prev
    cur = z
    for j in range(1, k):
        prev, cur = cur, z * cur - j * prev
    return cur


def norm_factor(k: int, normalization: Normalization) -> float:
    """The divisor c_k such that the normalised polynomial is He_k / c_k."""
    if normalization == "none":
        return 1.0
    if normalization == "unit":
        return math.sqrt(math.factorial(k))
    if normalization == "factorial":
        return float(math.factorial(k))
    raise ValueError(f"unknown Hermite normalization {normalization!r}")


def he_normalized(k: int, z: Array, normalization: Normalization = "unit") -> Array:
    """He_k(z) / c_k, with c_k = sqrt(k!) ("unit") or k! ("factorial")."""
    return he(k, z) / norm_factor(k, normalization)


def hermite_series(coeffs: dict[int, float], normalization: Normalization = "factorial") -> Callable:
    r"""z -> \sum_k c_k He_k(z)/norm_k, a jittable polynomial in Hermite form."""

    def f(z: Array) -> Array:
        out = jnp.zeros_like(z)
        for k, c in coeffs.items():
            out = out + c * he_normalized(k, z, normalization)
        return out

    return f


def gauss_hermite(num: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for E[f(z)], z ~ N(0,1): E f ~= sum_i w_i f(z_i), sum_i w_i = 1."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(num)
    return nodes, weights / math.sqrt(2 * math.pi)


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], num: int = 120) -> float:
    """E[f(z)] for z ~ N(0,1) by Gauss-Hermite quadrature (exact for polynomials of degree < 2*num)."""
    nodes, weights = gauss_hermite(num)
    return float(np.sum(weights * np.asarray(f(nodes), dtype=np.float64)))


def hermite_coefficient(f: Callable[[np.ndarray], np.ndarray], k: int, num: int = 120) -> float:
    r"""c_k = E[f(z) He_k(z)] / k!, so that f = \sum_k c_k He_k in L^2(N(0,1))."""
    nodes, weights = gauss_hermite(num)
    hk = _he_numpy(k, nodes)
    return float(np.sum(weights * f(nodes) * hk) / math.factorial(k))


def _he_numpy(k: int, z: np.ndarray) -> np.ndarray:
    prev = np.ones_like(z)
    if k == 0:
        return prev
    cur = z.copy()
    for j in range(1, k):
        prev, cur = cur, z * cur - j * prev
    return cur


def information_exponent(f: Callable[[np.ndarray], np.ndarray], kmax: int = 8, tol: float = 1e-8) -> int | None:
    """Smallest k >= 1 with E[f(z) He_k(z)] != 0 (None if none up to kmax)."""
    for k in range(1, kmax + 1):
        if abs(hermite_coefficient(f, k)) > tol:
            return k
    return None
