"""Building blocks shared by the neural learners: ReLU, minibatches, ridge readout.

Ridge readout (Dandi et al. 2025, public code):  w = (H^T H + lambda n I)^{-1} H^T y,
solved by a Cholesky factorisation of the p x p regularised Gram matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

import jax
import jax.numpy as jnp
from jax import Array
from jax.scipy.linalg import cho_factor, cho_solve

C = TypeVar("C")

relu = jax.nn.relu  # derivative 0 at 0, like the public code's (x > 0) mask


def ridge_readout(h: Array, y: Array, lam: float) -> Array:
    """argmin_w ||H w - y||^2 + lambda n ||w||^2  for H of shape (n, p)."""
    n, p = h.shape
    gram = h.T @ h + lam * n * jnp.eye(p, dtype=h.dtype)
    c = cho_factor(gram, lower=True)
    return cho_solve(c, h.T @ y)


def minibatch(key: Array, n: int, m: int) -> Array:
    """m distinct indices out of n, uniformly at random (one random subset per step, as the public code)."""
    if m >= n:
        return jnp.arange(n)
    return jax.random.permutation(key, n)[:m]


Sampler = Literal["window", "permutation"]


def minibatch_loop(
    key: Array,
    data: tuple[Array, ...],
    m: int,
    steps: int,
    body: Callable[[C, tuple[Array, ...]], C],
    carry: C,
    sampler: Sampler = "window",
    reshuffle_every: int = 16,
) -> C:
    """Run ``steps`` updates carry <- body(carry, batch), each on m distinct samples of the n in ``data``.

    ``permutation``: every step draws a fresh uniformly random m-subset (the public code's randperm[:m]).
    ``window``: every ``reshuffle_every`` steps the data is permuted once; each step then takes a window of
    m consecutive rows at a uniformly random cyclic offset of that permutation. Each batch is still a
    uniformly random m-subset without replacement, but no per-step sort or gather is needed (a per-step
    permutation costs ~4x the whole training of the 2-layer net on 2 CPU cores; see benchmarks).
    """
    n = data[0].shape[0]
    if m >= n:  # full batch
        return jax.lax.fori_loop(0, steps, lambda i, c: body(c, data), carry)
    if sampler == "permutation":

        def step(i: Array, c: C) -> C:
            idx = minibatch(jax.random.fold_in(key, i), n, m)
            return body(c, tuple(a[idx] for a in data))

        return jax.lax.fori_loop(0, steps, step, carry)

    def epoch(e: Array, c: C) -> C:
        ke = jax.random.fold_in(key, e)
        perm = jax.random.permutation(ke, n)
        doubled = tuple(jnp.concatenate([a[perm], a[perm]]) for a in data)

        def inner(j: Array, c2: C) -> C:
            s = jax.random.randint(jax.random.fold_in(ke, j + 1), (), 0, n)
            return body(c2, tuple(jax.lax.dynamic_slice_in_dim(a, s, m) for a in doubled))

        # the last epoch may be shorter; a traced trip count keeps one copy of the body in the program
        count = jnp.minimum(reshuffle_every, steps - e * reshuffle_every)
        return jax.lax.fori_loop(0, count, inner, c)

    return jax.lax.fori_loop(0, -(-steps // reshuffle_every), epoch, carry)


def batch_size(n: int, fraction: float) -> int:
    """int(fraction * n), at least 1."""
    return max(1, int(fraction * n))


def num_steps(t: float, fraction: float) -> int:
    """The public code's convention: 'T iterations' means int(T / fraction) minibatch steps."""
    return max(1, int(t / fraction))


def uniform_bias(key: Array, shape: tuple[int, ...], scale: float, dtype: jnp.dtype) -> Array:
    """scale * U(-1, 1) entries."""
    return scale * jax.random.uniform(key, shape, dtype=dtype, minval=-1.0, maxval=1.0)
