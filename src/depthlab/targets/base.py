"""The target protocol: a validated spec with pure, jittable ``draw`` and ``sample``.

    inst  = spec.draw(key)               hidden parameters of one trial (W*, a*, U, ...), a pytree
    batch = spec.sample(inst, key, n)    x (n,d), y (n,), clean f*(x) (n,), hidden features z, h

``z`` are the linear hidden features (e.g. W* x) and ``h`` the intermediate non-linear features
(e.g. h*(x) of Dandi et al.), one column per branch; the metrics compare learned features with them.

Capabilities (as for learners, ``learners.base``): what else a target provides is declared in
``spec.capabilities``, a frozenset from the closed vocabulary ``TargetCapability``, and the metrics ask it:

    "subspace"         spec.subspaces(inst) -> (B, D, d) orthonormal bases of the hidden subspace(s), with
                       D < d: f* depends on x only through them (-> overlap M_W); raises NotImplementedError
                       on a target that does not declare it (e.g. a radial target, or a full-rank quadratic
                       form: a "subspace" that is all of R^d says nothing)
    "classification"   spec.class_threshold c: f* > c is the positive class, for targets that are (smoothed)
                       indicators (-> class_error)
    "hidden_features"  batch.h holds meaningful intermediate features (n, B) (-> overlap_h, feature_corr)
    "boundary"         spec.boundary_distance(inst, batch) -> (n,) signed distance of each input from the class
                       boundary (negative inside the positive class), for classification targets whose
                       boundary is a level set (ball indicators: ||x|| - r) (-> boundary_error)

A target family declares them as a class variable ``capabilities: ClassVar[frozenset[TargetCapability]]``, or
computes them in a ``capabilities`` property where its configuration decides (e.g. a quadratic form's rank).
"""

from __future__ import annotations

import functools
import math
from abc import abstractmethod
from typing import Any, ClassVar, Literal, NamedTuple, get_args

import jax
import numpy as np
from jax import Array
from pydantic import Field

from depthlab.config import Config

TargetCapability = Literal["subspace", "classification", "hidden_features", "boundary"]
TARGET_CAPABILITIES: frozenset[TargetCapability] = frozenset(get_args(TargetCapability))


class Batch(NamedTuple):
    x: Array  # (n, d) inputs
    y: Array  # (n,) labels (with label noise, if any)
    f: Array  # (n,) noise-free target f*(x)
    z: Array  # (n, D1) linear hidden features
    h: Array  # (n, B) intermediate hidden features, one column per branch


class TargetSpec(Config):
    """Base class of target configurations. Subclasses set ``family`` and the math."""

    family: str = Field(description="target family (discriminator)")
    d: int = Field(description="input dimension")
    # f > class_threshold is the positive class: set by (and only by) targets declaring "classification"
    class_threshold: ClassVar[float]

    @property
    def capabilities(self) -> frozenset[TargetCapability]:
        """What this target provides beyond draw and sample (module docstring); none by default. A family
        overrides it with a class variable, or with a property where its configuration decides."""
        return frozenset()

    @abstractmethod
    def draw(self, key: Array) -> Any: ...

    @abstractmethod
    def sample(self, inst: Any, key: Array, n: int) -> Batch: ...

    def subspaces(self, inst: Any) -> Array:
        """(B, D, d): orthonormal bases of the hidden subspace(s), D < d (capability ``subspace``)."""
        raise NotImplementedError(f"{self.family} does not declare subspace")

    def boundary_distance(self, inst: Any, batch: Batch) -> Array:
        """(n,) signed distance of each input of ``batch`` from the class boundary (capability ``boundary``)."""
        raise NotImplementedError(f"{self.family} does not declare boundary")

    def reference_levels(self, num_samples: int = 200_000, seed: int = 0) -> dict[str, float]:
        """Reference error levels (E f*^2 and best approximations in given function classes)."""
        return {}

    def instance_reference_levels(
        self, inst: Any, num_samples: int = 200_000, seed: int = 0
    ) -> dict[str, float] | None:
        """The reference levels of one drawn instance, where the law of (x, f*) depends on the instance (e.g. a
        hierarchical target's a* signs: E f*^2 ranges 0.44-0.69 over the instances of dandi2025-deep-quick);
        checks then judge every trial against its own instance's levels. None (the default) where every instance
        has the same law, so that ``reference_levels`` stands for all trials."""
        return None


# ---- reference levels by Monte Carlo least squares (any input law, any d) -----------------------------------
def num_monomials(d: int, degree: int) -> int:
    """Monomials of degree <= ``degree`` in d variables: C(d + degree, degree) (1 + d + d(d+1)/2 for 2)."""
    return math.comb(d + degree, degree)


def monomials(x: np.ndarray, degree: int) -> np.ndarray:
    """(C(d + degree, degree), n): all monomials of degree <= ``degree`` (<= 2) of the rows of x (n, d), one row
    per monomial (features x samples, for a fast Gram matrix), ordered by degree: the first C(d + k, k) rows are
    those of degree <= k."""
    if degree > 2:
        raise ValueError(f"monomials of degree {degree} > 2 are not implemented (their count grows as d^degree)")
    n, d = x.shape
    xt = np.ascontiguousarray(x.T, dtype=np.float64)
    out = np.empty((num_monomials(d, degree), n))
    out[0] = 1.0
    if degree >= 1:
        out[1:d + 1] = xt
    row = d + 1
    if degree == 2:
        for i in range(d):  # x_i x_j, j >= i
            np.multiply(xt[i], xt[i:], out=out[row:row + d - i])
            row += d - i
    return out


def polynomial_floors(spec: TargetSpec, max_degree: int = 2, num_samples: int = 100_000, seed: int = 0,
                      chunk: int = 20_000) -> dict[str, float]:
    r"""Monte Carlo reference levels of ``spec`` at its own d and input law:

    * ``trivial``       = E f*^2 (the error of predicting 0),
    * ``best_degree_k`` = min over polynomials q in x of degree <= k of E (f* - q)^2, k = 1..max_degree (the
      limit of a degree-k polynomial kernel: its predictor is such a q, so no n takes its population error
      below this floor).

    One instance (key ``fold_in(PRNGKey(seed), 1)``) and ``num_samples`` inputs drawn by ``spec.sample`` in
    chunks (keys ``fold_in(PRNGKey(seed), 2 + i)``); the least squares is solved in float64 through the
    accumulated Gram matrix of the monomials (a pseudo-inverse: on the sphere sum_i x_i^2 = d makes the degree-2
    monomials collinear with the constant), and the residual sum of squares is divided by N - rank (the usual
    correction of the in-sample residual, a relative bias ~ rank / N = 0.16% at d = 24, N = 2e5, otherwise).
    Memoised on (spec, max_degree, num_samples, seed): a check reads these per d, for every cell. Cost at
    d = 24 (325 monomials), N = 2e5: ~2e10 flops, a few seconds on 2 cores."""
    return dict(_polynomial_floors(spec.model_dump_json(), type(spec), max_degree, num_samples, seed, chunk))


@functools.lru_cache(maxsize=128)
def _polynomial_floors(blob: str, cls: type[TargetSpec], max_degree: int, num_samples: int, seed: int,
                       chunk: int) -> tuple[tuple[str, float], ...]:
    spec = cls.model_validate_json(blob)
    key = jax.random.PRNGKey(seed)
    inst = spec.draw(jax.random.fold_in(key, 1))
    width = num_monomials(spec.d, max_degree)
    gram, moment, ff = np.zeros((width, width)), np.zeros(width), 0.0
    for i, start in enumerate(range(0, num_samples, chunk)):
        batch = spec.sample(inst, jax.random.fold_in(key, 2 + i), min(chunk, num_samples - start))
        x, f = np.asarray(batch.x, np.float64), np.asarray(batch.f, np.float64)
        phi = monomials(x, max_degree)
        gram += phi @ phi.T
        moment += phi @ f
        ff += float(f @ f)
    out = [("trivial", ff / num_samples)]
    for k in range(1, max_degree + 1):
        q = num_monomials(spec.d, k)
        coef, _, rank, _ = np.linalg.lstsq(gram[:q, :q], moment[:q], rcond=1e-10)
        rss = max(ff - float(moment[:q] @ coef), 0.0)
        out.append((f"best_degree_{k}", rss / max(num_samples - int(rank), 1)))
    return tuple(out)
