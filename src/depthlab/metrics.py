r"""What the papers measure, as pure functions of one trial's outputs.

* ``test_mse``    = mean_x (f(x) - f*(x))^2 on a fresh test set (noise-free target).
* ``trivial_mse`` = mean_x f*(x)^2 (the error of predicting 0), on the same test set.
* ``overlap_w``   (M_W, Dandi et al. Def. 6): for neuron i and branch b with orthonormal basis S_b,
                  c_{i,b} = ||S_b w_i|| / ||w_i||;  M_W = mean_b sqrt(mean_i c_{i,b}^2)  (over w_i != 0).
                  Random level ~ sqrt(D/d) (0.354 at d=64, D=8); 1 when every neuron lies in span(W*).
* ``overlap_h``   (M_h): for second-layer unit j, u_j(x) = (W_2 relu(W_1 x + b_1) + b_2)_j, the
                  uncentred cosine over the test inputs cos_{j,m} = <u_j, h*_m> / (||u_j|| ||h*_m||);
                  M_h = mean_m sqrt(mean_j cos_{j,m}^2).
* ``overlap_w_b{m}``, ``overlap_h_b{m}`` (targets with several branches, MIGHT): the per-branch terms of the
                  means above, sqrt(mean_i c_{i,m}^2) and sqrt(mean_j cos_{j,m}^2) for branch m = 0, 1, ...:
                  Definition 6 is per branch, and the average hides which branch was learned (specialisation).
                  Stored with the trial (``store``: its JSON column) and aggregated like every metric.
* ``class_error`` (targets with a ``class_threshold`` c, e.g. ball indicators): the 0-1 error of the
                  thresholded prediction, mean_x 1{(f(x) > c) != (f*(x) > c)}.
* ``feature_corr`` (Nichani et al. 2023): |Pearson correlation| over the test inputs between the learner's
                  scalar learned feature phi(x) and the true intermediate feature h*(x) (mean over branches).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import Array

from depthlab.learners.base import LearnerSpec
from depthlab.targets.base import Batch, TargetSpec

_TINY = 1e-30


def mse(pred: Array, target: Array) -> Array:
    r = pred - target
    return jnp.mean(r * r)


def subspace_overlap(w: Array, bases: Array) -> Array:
    """M_W for weights w (p, d) and bases (B, D, d) with orthonormal rows."""
    return jnp.mean(subspace_overlap_per_branch(w, bases))


def subspace_overlap_per_branch(w: Array, bases: Array) -> Array:
    """(B,) sqrt(mean_i c_{i,b}^2) for weights w (p, d) and bases (B, D, d) with orthonormal rows."""
    proj = jnp.einsum("bkd,pd->bpk", bases, w)  # (B, p, D)
    norm2 = jnp.sum(w * w, axis=-1)
    cos2 = jnp.sum(proj * proj, axis=-1) / jnp.maximum(norm2, _TINY)  # (B, p)
    alive = (norm2 > 0).astype(w.dtype)  # neurons with zero weights (never updated) have no direction
    mean_cos2 = jnp.sum(cos2 * alive, axis=-1) / jnp.maximum(jnp.sum(alive), 1.0)
    return jnp.sqrt(mean_cos2)


def feature_overlap(u: Array, h: Array) -> Array:
    """M_h for learned features u (n, p) and true features h (n, B): RMS over units of the uncentred cosine."""
    return jnp.mean(feature_overlap_per_branch(u, h))


def feature_overlap_per_branch(u: Array, h: Array) -> Array:
    """(B,) RMS over units of the uncentred cosine with each true feature h[:, b]."""
    num = u.T @ h  # (p, B)
    den = jnp.linalg.norm(u, axis=0)[:, None] * jnp.linalg.norm(h, axis=0)[None, :]
    cos = num / jnp.maximum(den, _TINY)
    return jnp.sqrt(jnp.mean(cos * cos, axis=0))


def _per_branch(name: str, values: Array) -> dict[str, Array]:
    """``name_b{m}`` for each branch m, only where there are several (one branch: the mean is the value)."""
    return {f"{name}_b{m}": values[m] for m in range(values.shape[0])} if values.shape[0] > 1 else {}


def pearson(u: Array, v: Array) -> Array:
    """Pearson correlation of two (n,) arrays."""
    uc, vc = u - u.mean(), v - v.mean()
    return (uc @ vc) / jnp.maximum(jnp.linalg.norm(uc) * jnp.linalg.norm(vc), _TINY)


def evaluate(
    target: TargetSpec, inst: Any, learner: LearnerSpec, params: Any, train: Batch, test: Batch
) -> dict[str, Array]:
    """All metrics of one trial (the keys present depend on what the learner exposes)."""
    out = {
        "test_mse": mse(learner.predict(params, test.x), test.f),
        "train_mse": mse(learner.predict(params, train.x), train.y),
        "trivial_mse": jnp.mean(test.f * test.f),
    }
    threshold = target.class_threshold
    if threshold is not None:
        pred = learner.predict(params, test.x)
        out["class_error"] = jnp.mean(((pred > threshold) != (test.f > threshold)).astype(test.f.dtype))
    w = learner.first_layer(params)
    bases = target.subspaces(inst)
    if w is not None and bases.shape[1] < bases.shape[2]:  # a subspace that is all of R^d says nothing
        per = subspace_overlap_per_branch(w, bases)
        out["overlap_w"] = jnp.mean(per)
        out.update(_per_branch("overlap_w", per))
    u = learner.hidden_preactivation(params, test.x)
    if u is not None:
        per = feature_overlap_per_branch(u, test.h)
        out["overlap_h"] = jnp.mean(per)
        out.update(_per_branch("overlap_h", per))
    phi = learner.learned_feature(params, test.x)
    if phi is not None:
        out["feature_corr"] = jnp.mean(jnp.abs(jax.vmap(lambda h: pearson(phi, h), in_axes=1)(test.h)))
    return out
