r"""What the papers measure, as pure functions of one trial's outputs: one registry (``REGISTRY``), one place.

Adding a metric is one ``Metric`` in ``_DEFINITIONS`` (name, label, computation, whether it gets a panel): the
sweep computes it, the store keeps it (long format: no schema change), results export it, figures and the
report draw it, and checks and thresholds may name it (names are validated: ``MetricName``).

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
                  Stored with the trial (``store``: its long-format table) and aggregated like every metric.
* ``class_error`` (targets with a ``class_threshold`` c, e.g. ball indicators): the 0-1 error of the
                  thresholded prediction, mean_x 1{(f(x) > c) != (f*(x) > c)}.
* ``boundary_error_{band}`` (targets with a "boundary", ball indicators): where the 0-1 errors sit relative to
                  the class boundary. Each test input gets its distance from the boundary in probability mass,
                  q_i = |F(s_i) - F(0)| with s_i the signed distance (``TargetSpec.boundary_distance``: ||x|| - r)
                  and F the empirical CDF of s over the test set; the stored values are the 0-1 error among
                  the inputs with q in each band of ``BOUNDARY_BANDS``: ``q05`` [0, 0.05) (the 5% of the mass
                  nearest the sphere on each side), ``q15`` [0.05, 0.15), ``q30`` [0.15, 0.30), ``far`` the rest
                  (nan where a band is empty). An error floor of a net that resolves only the bulk sits in
                  ``q05``; a net that misses the radial feature errs far from the boundary too.
* ``pred_corr``   = Pearson correlation over the test inputs between the prediction f(x) and f*(x): the
                  fraction of f* the learner tracks up to scale and offset (1: exact up to an affine map; a
                  learner shrunk towards 0 by its ridge has a large test MSE but can have pred_corr near 1).
* ``tuned_value`` (learners with a hyperparameter tuned on a validation set, ``learners.tuned``): the value
                  chosen for the trial (its median over trials and its spread are what a reader checks).
* ``feature_corr`` (Nichani et al. 2023): |Pearson correlation| over the test inputs between the learner's
                  scalar learned feature phi(x) and the true intermediate feature h*(x) (mean over branches).

Which metrics a trial has follows from the declared capabilities of its learner and target
(``learners.base.LearnerCapability``, ``targets.base.TargetCapability``), never from probing:

    overlap_w      learner "first_layer"            and target "subspace"
    overlap_h      learner "hidden_preactivation"   and target "hidden_features"
    feature_corr   learner "learned_feature"        and target "hidden_features"
    tuned_value    learner "tuned"
    class_error    target "classification"
    boundary_error target "classification" and "boundary"
    the others     always
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Literal

import jax
import jax.numpy as jnp
from jax import Array
from pydantic import AfterValidator

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


def pearson(u: Array, v: Array) -> Array:
    """Pearson correlation of two (n,) arrays."""
    uc, vc = u - u.mean(), v - v.mean()
    return (uc @ vc) / jnp.maximum(jnp.linalg.norm(uc) * jnp.linalg.norm(vc), _TINY)


@dataclass(frozen=True)
class Trial:
    """What one trial's metrics are computed from (inside the compiled program): the target instance, the
    fitted learner and its train and test batches."""

    target: TargetSpec
    inst: Any
    learner: LearnerSpec
    params: Any
    train: Batch
    test: Batch

    @cached_property
    def _test_prediction(self) -> Array:
        return self.learner.predict(self.params, self.test.x)

    def predict_test(self) -> Array:
        """The learner's prediction at the test inputs, computed once per trial (several metrics read it)."""
        return self._test_prediction


@dataclass(frozen=True)
class Metric:
    """One measured quantity: its name (the stored key), a label for figures and tables, and its computation.

    ``compute`` returns a scalar, or None where the learner or target does not have what it measures (e.g.
    no first layer). A ``per_branch`` metric returns one value per branch of the target, (B,): the stored
    value ``name`` is their mean and, where B > 1, ``name_b{m}`` keeps each. A metric with ``parts`` returns one
    value per part, stored as ``name_{part}`` (``name`` itself is not stored: the parts are not summands of a
    mean, e.g. errors within bands of unequal mass). ``panel``: drawn in its own panel
    of the figures and the report when measured; ``table``: a column of the report's results table.
    ``reads_train``: computed from the training batch (its shape depends on n), so it is evaluated in the
    cell's training program; the others read only the fitted parameters, the instance and the test set and run
    in an evaluation program that every n of a learner shares (``runner.eval_function``)."""

    name: str
    label: str
    compute: Callable[[Trial], Array | None]
    per_branch: bool = False
    panel: bool = False
    table: bool = True
    parts: tuple[str, ...] = ()
    reads_train: bool = False


def _class_error(t: Trial) -> Array | None:
    if "classification" not in t.target.capabilities:
        return None
    c = t.target.class_threshold
    return jnp.mean(((t.predict_test() > c) != (t.test.f > c)).astype(t.test.f.dtype))


BOUNDARY_BANDS: tuple[tuple[str, float, float], ...] = (
    ("q05", 0.0, 0.05), ("q15", 0.05, 0.15), ("q30", 0.15, 0.30), ("far", 0.30, 1.01))


def _boundary_error(t: Trial) -> Array | None:
    if "classification" not in t.target.capabilities or "boundary" not in t.target.capabilities:
        return None
    s = t.target.boundary_distance(t.inst, t.test)
    n = s.shape[0]
    order = jnp.sort(s)
    cdf = lambda v: jnp.searchsorted(order, v, side="right") / n  # noqa: E731  empirical CDF of s
    q = jnp.abs(cdf(s) - cdf(jnp.zeros((), s.dtype)))
    c = t.target.class_threshold
    wrong = ((t.predict_test() > c) != (t.test.f > c)).astype(s.dtype)
    out = []
    for _, lo, hi in BOUNDARY_BANDS:
        inside = ((q >= lo) & (q < hi)).astype(s.dtype)
        count = jnp.sum(inside)
        out.append(jnp.where(count > 0, jnp.sum(wrong * inside) / jnp.maximum(count, 1.0), jnp.nan))
    return jnp.stack(out)


def _overlap_w(t: Trial) -> Array | None:
    if "first_layer" not in t.learner.capabilities or "subspace" not in t.target.capabilities:
        return None
    return subspace_overlap_per_branch(t.learner.first_layer(t.params), t.target.subspaces(t.inst))


def _overlap_h(t: Trial) -> Array | None:
    if "hidden_preactivation" not in t.learner.capabilities or "hidden_features" not in t.target.capabilities:
        return None
    return feature_overlap_per_branch(t.learner.hidden_preactivation(t.params, t.test.x), t.test.h)


def _feature_corr(t: Trial) -> Array | None:
    if "learned_feature" not in t.learner.capabilities or "hidden_features" not in t.target.capabilities:
        return None
    phi = t.learner.learned_feature(t.params, t.test.x)
    return jnp.mean(jnp.abs(jax.vmap(lambda h: pearson(phi, h), in_axes=1)(t.test.h)))


_DEFINITIONS = [
    Metric("test_mse", "test MSE", lambda t: mse(t.predict_test(), t.test.f)),
    Metric("train_mse", "train MSE", lambda t: mse(t.learner.predict(t.params, t.train.x), t.train.y),
           reads_train=True),
    Metric("trivial_mse", "E f*^2 (error of predicting 0)", lambda t: jnp.mean(t.test.f * t.test.f),
           table=False),
    Metric("overlap_w", "$M_W$: RMS cosine of first-layer rows with span($W^*$)", _overlap_w,
           per_branch=True, panel=True),
    Metric("overlap_h", "$M_h$: RMS cosine of second-layer units with $h^*$", _overlap_h,
           per_branch=True, panel=True),
    Metric("feature_corr", r"corr($\varphi$, $h^*$): Pearson, learned feature", _feature_corr, panel=True),
    Metric("class_error", "0-1 error (prediction thresholded at 1/2)", _class_error, panel=True),
    Metric("boundary_error", "0-1 error by distance from the boundary (probability mass)", _boundary_error,
           table=False, parts=tuple(b[0] for b in BOUNDARY_BANDS)),
    Metric("tuned_value", "hyperparameter value chosen on the validation set",
           lambda t: t.learner.tuned_value(t.params) if "tuned" in t.learner.capabilities else None, table=False),
    Metric("pred_corr", "corr($f$, $f^*$): Pearson, prediction vs target",
           lambda t: pearson(t.predict_test(), t.test.f)),
]
REGISTRY: dict[str, Metric] = {m.name: m for m in _DEFINITIONS}
NAMES: tuple[str, ...] = tuple(REGISTRY)
_BRANCH = re.compile(r"^(?P<base>[a-z_]+)_b(?P<m>[0-9]+)$")


def base_metric(name: str) -> Metric | None:
    """The registered metric a stored name refers to (``overlap_w_b1`` -> overlap_w), or None."""
    if name in REGISTRY:
        return None if REGISTRY[name].parts else REGISTRY[name]  # a metric of parts is stored by part only
    for m in REGISTRY.values():
        if m.parts and name in {f"{m.name}_{p}" for p in m.parts}:
            return m
    hit = _BRANCH.match(name)
    base = REGISTRY.get(hit["base"]) if hit else None
    return base if base is not None and base.per_branch else None


def is_part(name: str) -> bool:
    """Whether a stored name is one part of a metric of parts (``boundary_error_q05``): a part may be empty
    (nan) on a test set without the run having diverged."""
    m = base_metric(name)
    return m is not None and bool(m.parts)


def check_metric_name(name: str) -> str:
    """``name`` if it is a registered metric (or a per-branch one, ``overlap_w_b0``); else ValueError."""
    if base_metric(name) is None:
        per = ", ".join(f"{m.name}_b0" for m in REGISTRY.values() if m.per_branch)
        known = [f"{m.name}_{m.parts[0]}" if m.parts else m.name for m in REGISTRY.values()]
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(known)} (per branch of a MIGHT target: "
                         f"{per}, ...)")
    return name


MetricName = Annotated[str, AfterValidator(check_metric_name)]


TRAJECTORY_PREFIX = "traj/"  # recorded values travel out of the compiled program as "traj/<metric>" (K,) arrays


def evaluate_along(
    target: TargetSpec, inst: Any, learner: LearnerSpec, params: Any, train: Batch, test: Batch
) -> dict[str, Array]:
    """The metrics recorded along training (``record.steps``): every metric of ``evaluate`` except the
    constants of the target (``trivial_mse``). The metrics of parts are recorded by part (e.g. the 0-1 error
    by distance from the boundary, ``boundary_error_q05`` ... ``_far``: where the errors sit as training
    proceeds); a part that is empty on the test set is nan at every step, stored as missing."""
    return {k: v for k, v in evaluate(target, inst, learner, params, train, test).items() if k != "trivial_mse"}


MetricPart = Literal["all", "train", "test"]


def evaluate(
    target: TargetSpec, inst: Any, learner: LearnerSpec, params: Any, train: Batch | None, test: Batch,
    part: MetricPart = "all",
) -> dict[str, Array]:
    """Every registered metric of one trial that the learner and target support (keys: ``REGISTRY``);
    ``part="train"``: only those that read the training batch (``Metric.reads_train``), ``"test"``: only the
    others (then ``train`` may be None). "train" and "test" together are "all"."""
    if train is None and part != "test":
        raise ValueError(f"evaluate(part={part!r}) reads the training batch: pass it")
    trial = Trial(target, inst, learner, params, train, test)  # type: ignore[arg-type]
    out: dict[str, Array] = {}
    for m in REGISTRY.values():
        if part != "all" and m.reads_train != (part == "train"):
            continue
        value = m.compute(trial)
        if value is None:
            continue
        if m.parts:
            out.update({f"{m.name}_{p}": value[i] for i, p in enumerate(m.parts)})
        elif m.per_branch:
            out[m.name] = jnp.mean(value)
            if value.shape[0] > 1:  # one branch: the mean is the value
                out.update({f"{m.name}_b{b}": value[b] for b in range(value.shape[0])})
        else:
            out[m.name] = value
    return out
