r"""Dense linear algebra that calls LAPACK: the one place that does, so that it never calls it batched.

    spd_solve(A, B)         = A^{-1} B        for A symmetric positive definite (Cholesky A = L L^T,
                                              then two triangular solves)
    solve(A, B)             = A^{-1} B        for a general square non-singular A (LU with partial pivoting)
    orthonormal_columns(G)  = Q of G = QR     (Householder QR; Q has orthonormal columns spanning G's)

Why a module of its own. On the CPU, jaxlib 0.10 runs a *batched* LAPACK call (a Cholesky or QR of a stack of
matrices, which is what ``vmap`` over trials makes of one) by splitting the batch into tasks on XLA's intra-op
thread pool and blocking the calling pool thread until they finish (``jax::ParallelBatchMap`` ->
``BlockingCounter::Wait``). When as many such calls run at once as the pool has threads -- independent solves
of one program (a tuned learner's grid values, a target's two levels) run concurrently -- every pool thread
waits for tasks that no free thread can run, and the program never finishes. With the pool sized by the CPU
count, a 2-core machine hangs with two concurrent batched calls (reproduced deterministically: four independent
vmapped 256 x 256 Cholesky solves over 2 trials, ``tests/test_linalg.py``; seen in ``nichani2023-tuned-quick``).

The remedy here: both functions are ``jax.custom_batching.sequential_vmap``, so under ``vmap`` they become a
loop (``lax.map``) over the batch, and LAPACK only ever sees single matrices, which it factors on the calling
thread. Each matrix is factored by the same LAPACK routine as before (the numbers do not change); what is lost
is running the batch's factorisations side by side, which on these sizes (p <= a few thousand, a handful of
trials) is a small part of a fit. Neither function is differentiated anywhere (``sequential_vmap`` has no
autodiff rule): every solve here is a closed-form step (a ridge readout, a kernel's dual solve, a
preconditioner), never inside a loss that is differentiated.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import Array
from jax.scipy.linalg import cho_factor, cho_solve


def spd_solve(a: Array, b: Array) -> Array:
    """A^{-1} B for symmetric positive definite (..., p, p) A and B of shape (..., p) or (..., p, k), by Cholesky;
    leading axes are a batch (solved one matrix at a time)."""
    return _batched(_spd_solve, a.ndim - 2)(a, b)


def solve(a: Array, b: Array) -> Array:
    """A^{-1} B for a square non-singular (..., p, p) A (LU with partial pivoting); leading axes are a batch."""
    return _batched(_solve, a.ndim - 2)(a, b)


def orthonormal_columns(g: Array) -> Array:
    """Q of the reduced QR factorisation G = QR of (..., m, k) G, m >= k: Q^T Q = I, span Q = span G; leading
    axes are a batch (factored one matrix at a time)."""
    return _batched(_orthonormal_columns, g.ndim - 2)(g)


def _batched(f: Callable[..., Array], axes: int) -> Callable[..., Array]:
    for _ in range(axes):
        f = jax.vmap(f)
    return f


@jax.custom_batching.sequential_vmap
def _spd_solve(a: Array, b: Array) -> Array:
    return cho_solve(cho_factor(a, lower=True), b)


@jax.custom_batching.sequential_vmap
def _solve(a: Array, b: Array) -> Array:
    return jnp.linalg.solve(a, b)


@jax.custom_batching.sequential_vmap
def _orthonormal_columns(g: Array) -> Array:
    return jnp.linalg.qr(g)[0]
