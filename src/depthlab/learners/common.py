"""Building blocks shared by the neural learners: ReLU, minibatches, ridge readout.

Ridge readout (Dandi et al. 2025, public code):  w = (H^T H + lambda n I)^{-1} H^T y,
solved by a Cholesky factorisation of the p x p regularised Gram matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from depthlab.linalg import spd_solve

C = TypeVar("C")

relu = jax.nn.relu  # derivative 0 at 0, like the public code's (x > 0) mask


def ridge_readout(h: Array, y: Array, lam: float) -> Array:
    """argmin_w ||H w - y||^2 + lambda n ||w||^2  for H of shape (n, p)."""
    n, p = h.shape
    gram = h.T @ h + lam * n * jnp.eye(p, dtype=h.dtype)
    return spd_solve(gram, h.T @ y)


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
    return _range_loop(key, data, m, body, carry, sampler, 0, steps, reshuffle_every)


def batch_size(n: int, fraction: float) -> int:
    """int(fraction * n), at least 1."""
    return max(1, int(fraction * n))


def num_steps(t: float, fraction: float) -> int:
    """The public code's convention: 'T iterations' means int(T / fraction) minibatch steps."""
    return max(1, int(t / fraction))


def uniform_bias(key: Array, shape: tuple[int, ...], scale: float, dtype: jnp.dtype) -> Array:
    """scale * U(-1, 1) entries."""
    return scale * jax.random.uniform(key, shape, dtype=dtype, minval=-1.0, maxval=1.0)


# ---- recording along training (training dynamics) --------------------------------------------------------------
def log_points(total: int, count: int) -> tuple[int, ...]:
    """``count`` log-spaced step counts in [1, total] (rounded, distinct, sorted), always with 1 and ``total``:
    where a trajectory is recorded (step 0, the initialisation, is recorded separately)."""
    if total < 1 or count < 1:
        return ()
    raw = {1, total, *(int(round(v)) for v in np.geomspace(1, total, num=max(count, 2)))}
    return tuple(sorted(v for v in raw if 1 <= v <= total))


def _range_loop(
    key: Array,
    data: tuple[Array, ...],
    m: int,
    body: Callable[[C, tuple[Array, ...]], C],
    carry: C,
    sampler: Sampler,
    start: Array | int,
    stop: Array | int,
    reshuffle_every: int,
) -> C:
    """Steps [start, stop) of the minibatch schedule (traced or static bounds): the batch of step i depends on
    (key, i) only, so running [0, a), [a, b), ..., [z, steps) in sequence is the same training as one
    ``minibatch_loop`` over ``steps`` (which is [0, steps))."""
    n = data[0].shape[0]
    if m >= n:
        return jax.lax.fori_loop(start, stop, lambda i, c: body(c, data), carry)
    if sampler == "permutation":

        def step(i: Array, c: C) -> C:
            idx = minibatch(jax.random.fold_in(key, i), n, m)
            return body(c, tuple(a[idx] for a in data))

        return jax.lax.fori_loop(start, stop, step, carry)
    r = reshuffle_every

    def epoch(e: Array, c: C) -> C:
        ke = jax.random.fold_in(key, e)
        perm = jax.random.permutation(ke, n)
        doubled = tuple(jnp.concatenate([a[perm], a[perm]]) for a in data)

        def inner(j: Array, c2: C) -> C:
            s = jax.random.randint(jax.random.fold_in(ke, j + 1), (), 0, n)
            return body(c2, tuple(jax.lax.dynamic_slice_in_dim(a, s, m) for a in doubled))

        # the last epoch may be shorter; a traced trip count keeps one copy of the body in the program
        lo = 0 if isinstance(start, int) and start == 0 else jnp.maximum(start - e * r, 0)
        hi = jnp.minimum(stop - e * r, r)
        return jax.lax.fori_loop(lo, hi, inner, c)

    return jax.lax.fori_loop(start // r, (stop + r - 1) // r, epoch, carry)


def recorded_loop(
    key: Array,
    data: tuple[Array, ...],
    m: int,
    steps: int,
    body: Callable[[C, tuple[Array, ...]], C],
    carry: C,
    probe: Callable[[C], Any],
    points: Sequence[int],
    sampler: Sampler = "window",
    reshuffle_every: int = 16,
) -> tuple[C, Any]:
    """``minibatch_loop`` that also evaluates ``probe(carry)`` after each step count in ``points`` (sorted, in
    [1, steps]): one ``lax.scan`` over the segments between recording points, so the recording is part of the
    compiled program (no host round trip). Returns the final carry (the same training as ``minibatch_loop``)
    and ``probe``'s outputs stacked along a leading axis of len(points)."""
    pts = [int(p) for p in points]
    if not pts or pts != sorted(set(pts)) or pts[0] < 1 or pts[-1] > steps:
        raise ValueError(f"recording points must be distinct, sorted, in [1, {steps}]; got {pts[:5]}...")
    starts = jnp.asarray([0, *pts[:-1]], jnp.int32)
    stops = jnp.asarray(pts, jnp.int32)

    def segment(c: C, bounds: tuple[Array, Array]) -> tuple[C, Any]:
        c = _range_loop(key, data, m, body, c, sampler, bounds[0], bounds[1], reshuffle_every)
        return c, probe(c)

    carry, values = jax.lax.scan(segment, carry, (starts, stops))
    if pts[-1] < steps:
        carry = _range_loop(key, data, m, body, carry, sampler, jnp.int32(pts[-1]), jnp.int32(steps),
                            reshuffle_every)
    return carry, values


def stage_points(lengths: Sequence[int], count: int) -> list[tuple[int, ...]]:
    """``log_points`` over the whole training (sum of the stages' step counts), split into each stage's own
    step counts: stage s gets the points falling in (its offset, its offset + its length]."""
    glob = log_points(int(sum(lengths)), count)
    out, offset = [], 0
    for length in lengths:
        out.append(tuple(p - offset for p in glob if offset < p <= offset + length))
        offset += length
    return out


def stage_labels(y: Array, center: bool) -> Array:
    """The labels a layer-wise net's GD stages fit: y, or y - mean(y) with ``center_labels`` (the readout fits y
    itself either way; ``three_layer`` module docstring says why)."""
    return y - jnp.mean(y) if center else y


def schedule_of(stages: Sequence[tuple[str, int]], count: int) -> tuple[tuple[int, str], ...]:
    """(global step, stage) of every recorded point of a run made of ``stages`` (name, steps): first (0,
    'init'), then ``stage_points``; the order in which ``staged_values`` stacks the recorded values."""
    out: list[tuple[int, str]] = [(0, "init")]
    offset = 0
    for (name, length), pts in zip(stages, stage_points([s for _, s in stages], count), strict=True):
        out.extend((offset + p, name) for p in pts)
        offset += length
    return tuple(out)


def run_stage(
    key: Array,
    data: tuple[Array, ...],
    m: int,
    steps: int,
    body: Callable[[C, tuple[Array, ...]], C],
    carry: C,
    sampler: Sampler,
    probe: Callable[[C], Any] | None = None,
    points: Sequence[int] = (),
) -> tuple[C, Any]:
    """One training stage: ``minibatch_loop`` when nothing is recorded in it (the program of a run that
    records nothing is unchanged), else ``recorded_loop`` (values None when nothing is recorded)."""
    if probe is None or not points:
        return minibatch_loop(key, data, m, steps, body, carry, sampler), None
    return recorded_loop(key, data, m, steps, body, carry, probe, points, sampler)


def stack_values(parts: Sequence[Any]) -> dict[str, Array]:
    """Concatenate the recorded values of the stages (each a dict of (k,) arrays or of scalars, or None for a
    stage with no point) along the recording axis."""
    kept = [jax.tree.map(jnp.atleast_1d, p) for p in parts if p is not None]
    return {k: jnp.concatenate([p[k] for p in kept]) for k in kept[0]}
