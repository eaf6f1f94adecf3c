r"""Multi-index polynomial targets f*(x) = g(U x) (Damian, Lee & Soltanolkotabi 2022, arXiv 2206.15144).

x ~ N(0, I_d), U in R^{r x d} with orthonormal rows (QR of a Gaussian matrix), z = U x ~ N(0, I_r), and g a
polynomial written in the orthonormal Hermite basis of R^r:

    g(z) = (1 / sqrt(sum_t c_t^2)) sum_t c_t prod_{k=1}^{r} h_{a_{t,k}}(z_k),   h_j = He_j / sqrt(j!)

with distinct multi-degrees a_t != 0, so E g = 0 and E g^2 = 1 exactly (products of h_j on independent
coordinates are orthonormal). The degree p = max_t |a_t|. Label y = f*(x) + noise * N(0, 1).

Named heads (``head``), z_k the coordinates, c = cond^{-(k-1)/(r-1)} geometric He_2 weights:

* ``source``:     sum_k c_k h_2(z_k) + h_p(z_1) + prod_{k<=p} z_k (the product only if r >= p). Its expected
                  Hessian H = E grad^2 f* = U^T diag(sqrt(2) c_k) U / norm has rank r and condition number
                  ``cond`` -- the paper's non-degeneracy -- and the degree-p part defeats degree-<p kernels.
* ``transfer``:   h_p(z_2) + z_1 z_r (r >= 2): a different head on the same U (the notes' g_t for r = 3).
* ``transfer_full``: sum_k c_{r+1-k} h_2(z_k) + h_p(z_2) + z_1 z_r: a new head on the same U whose expected
                  Hessian has full rank r (He_2 weights in reverse order), so that the one-step net from scratch
                  satisfies the theorem's assumption and a transfer-vs-scratch comparison is not decided by
                  construction (``transfer``'s Hessian has rank 2 < r = 3).
* ``no_hessian``: h_p(z_1): H = 0 for p >= 3 (information exponent p), the sanity case with no recovery.

``terms`` (a list of {coef, degrees}) replaces the named head by an arbitrary expansion. For transfer
learning, ``source_head`` names the head of the pretraining task on the same U, sampled by
``sample_source`` with n_src = ``source_coef`` d^2 r samples (default 4 d^2 r, the notes' protocol).
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from pydantic import Field, PositiveInt, field_validator, model_validator

from depthlab.config import Config
from depthlab.hermite import he_normalized
from depthlab.linalg import orthonormal_columns
from depthlab.targets.base import Batch, TargetCapability, TargetSpec

Head = Literal["source", "transfer", "transfer_full", "no_hessian"]


class HermiteTerm(Config):
    """c * prod_k h_{degrees[k]}(z_k) (orthonormal Hermite polynomials of the coordinates of z = U x)."""

    coef: float = Field(description="c_t: coefficient of the term (all terms normalised together to E g^2 = 1)")
    degrees: list[int] = Field(description="a_t: Hermite degree of each hidden coordinate z_k (r entries, not all "
                               "zero)")

    @field_validator("degrees")
    @classmethod
    def _valid(cls, v: list[int]) -> list[int]:
        if any(k < 0 for k in v):
            raise ValueError(f"Hermite degrees must be >= 0, got {v}")
        if sum(v) == 0:
            raise ValueError("the constant term is excluded (E f* = 0); give a non-zero degree")
        return v


class MultiIndexInstance(NamedTuple):
    u: Array  # (r, d) orthonormal rows


def head_terms(head: Head, r: int, p: int, cond: float = 1.0) -> list[HermiteTerm]:
    """The named heads of the module docstring as Hermite terms (unnormalised coefficients)."""

    def unit(k: int, deg: int) -> list[int]:
        a = [0] * r
        a[k] += deg
        return a

    if head == "no_hessian":
        return [HermiteTerm(coef=1.0, degrees=unit(0, p))]
    weights = [cond ** (-k / (r - 1)) if r > 1 else 1.0 for k in range(r)]
    if head in ("transfer", "transfer_full"):
        if r < 2:
            raise ValueError(f"head {head!r} needs r >= 2")
        pair = [1 if k in (0, r - 1) else 0 for k in range(r)]
        new = [HermiteTerm(coef=1.0, degrees=unit(1, p)), HermiteTerm(coef=1.0, degrees=pair)]
        if head == "transfer":
            return new
        return [HermiteTerm(coef=w, degrees=unit(k, 2)) for k, w in enumerate(reversed(weights))] + new
    terms = [HermiteTerm(coef=w, degrees=unit(k, 2)) for k, w in enumerate(weights)]
    if p > 2:
        terms.append(HermiteTerm(coef=1.0, degrees=unit(0, p)))
        if r >= p:
            terms.append(HermiteTerm(coef=1.0, degrees=[1] * p + [0] * (r - p)))
    return terms


def hermite_poly(terms: list[HermiteTerm], z: Array) -> Array:
    """sum_t c_t prod_k h_{a_{t,k}}(z_k) / sqrt(sum_t c_t^2) for z of shape (n, r)."""
    norm = math.sqrt(sum(t.coef**2 for t in terms))
    out = jnp.zeros(z.shape[:-1], z.dtype)
    for t in terms:
        prod = jnp.ones(z.shape[:-1], z.dtype)
        for k, deg in enumerate(t.degrees):
            if deg:
                prod = prod * he_normalized(deg, z[..., k], "unit")
        out = out + (t.coef / norm) * prod
    return out


class MultiIndexTarget(TargetSpec):
    """f*(x) = g(U x) with g a unit-variance Hermite expansion (module docstring)."""

    family: Literal["multi_index"] = Field(default="multi_index", description="target family (discriminator)")
    d: int = Field(default=32, ge=2, description="input dimension")
    r: PositiveInt = Field(default=3, description="hidden dimension: U is r x d (notes: r in {2, 3})")
    p: int = Field(default=3, ge=2, description="degree of the named heads (notes: p in {3, 4})")
    head: Head = Field(default="source", description="named head g: 'source', 'transfer', 'transfer_full' or "
                       "'no_hessian' (module docstring)")
    cond: float = Field(default=1.0, ge=1.0, description="condition number of E grad^2 f* on span(U): He_2 weights "
                        "c_k = cond^(-(k-1)/(r-1)) (source, transfer_full heads)")
    terms: list[HermiteTerm] | None = Field(default=None, description="explicit Hermite expansion of g (list of "
                                            "{coef, degrees}); overrides head/p/cond of the target task")
    source_head: Head | None = Field(default=None, description="head of the pretraining task of transfer learning "
                                     "(same U); None: no source task")
    source_coef: float = Field(default=4.0, gt=0.0, description="pretraining samples n_src = source_coef d^2 r "
                               "(notes: 4)")
    noise: float = Field(default=0.0, ge=0.0, description="label-noise standard deviation: y = f* + noise N(0, 1)")

    @model_validator(mode="after")
    def _consistent(self) -> MultiIndexTarget:
        if self.r > self.d:
            raise ValueError(f"r = {self.r} exceeds d = {self.d}")
        terms = self.expansion()
        if any(len(t.degrees) != self.r for t in terms):
            raise ValueError(f"every term needs {self.r} degrees (one per hidden coordinate)")
        keys = [tuple(t.degrees) for t in terms]
        if len(set(keys)) != len(keys):
            raise ValueError("terms repeat a multi-degree; merge their coefficients")
        if sum(t.coef**2 for t in terms) == 0:
            raise ValueError("all coefficients are zero")
        if self.source_head is not None:
            head_terms(self.source_head, self.r, self.p, self.cond)
        return self

    def expansion(self, head: Head | None = None) -> list[HermiteTerm]:
        if head is None and self.terms is not None:
            return list(self.terms)
        return head_terms(head or self.head, self.r, self.p, self.cond)

    @property
    def capabilities(self) -> frozenset[TargetCapability]:
        """``subspace`` only for r < d (U with r = d rows spans all of R^d)."""
        return frozenset({"subspace", "hidden_features"}) if self.r < self.d else frozenset({"hidden_features"})

    @property
    def degree(self) -> int:
        return max(sum(t.degrees) for t in self.expansion())

    @property
    def source_size(self) -> int:
        return max(1, int(self.source_coef * self.d**2 * self.r))

    def draw(self, key: Array) -> MultiIndexInstance:
        q = orthonormal_columns(jax.random.normal(key, (self.d, self.r)))
        return MultiIndexInstance(u=q.T)

    def _sample(self, inst: MultiIndexInstance, key: Array, n: int, terms: list[HermiteTerm]) -> Batch:
        kx, kn = jax.random.split(key)
        x = jax.random.normal(kx, (n, self.d), inst.u.dtype)
        z = x @ inst.u.T
        f = hermite_poly(terms, z)
        y = f + self.noise * jax.random.normal(kn, f.shape, f.dtype) if self.noise > 0 else f
        return Batch(x=x, y=y, f=f, z=z, h=z)

    def sample(self, inst: MultiIndexInstance, key: Array, n: int) -> Batch:
        return self._sample(inst, key, n, self.expansion())

    def sample_source(self, inst: MultiIndexInstance, key: Array, n: int | None = None) -> Batch:
        """Samples of the pretraining task g_s(U x) on the same U (``source_head``)."""
        if self.source_head is None:
            raise ValueError("this target has no source task; set target.source_head")
        return self._sample(inst, key, n or self.source_size, self.expansion(self.source_head))

    def subspaces(self, inst: MultiIndexInstance) -> Array:
        if "subspace" not in self.capabilities:
            raise NotImplementedError(f"{self.family} does not declare subspace")
        return inst.u[None]

    def hessian(self, inst: MultiIndexInstance) -> Array:
        """E grad^2 f*(x) = U^T G U, G_kk = sqrt(2) c_{2e_k}, G_kl = c_{e_k+e_l} (normalised coefficients)."""
        terms = self.expansion()
        norm = math.sqrt(sum(t.coef**2 for t in terms))
        g = np.zeros((self.r, self.r))
        for t in terms:
            if sum(t.degrees) != 2:
                continue
            idx = [k for k, a in enumerate(t.degrees) for _ in range(a)]
            k, m = idx
            if k == m:
                g[k, k] = math.sqrt(2) * t.coef / norm
            else:
                g[k, m] = g[m, k] = t.coef / norm
        return inst.u.T @ jnp.asarray(g, inst.u.dtype) @ inst.u

    def reference_levels(self, num_samples: int = 200_000, seed: int = 0) -> dict[str, float]:
        """Exact, by orthonormality: trivial = E f*^2 = 1, and best_degree_k = min over polynomials q of
        degree <= k of E (f* - q)^2 = (sum of c_t^2 over |a_t| > k) / sum_t c_t^2 (the limit of a
        degree-k kernel, e.g. best_degree_2 for a quadratic kernel)."""
        terms = self.expansion()
        total = sum(t.coef**2 for t in terms)
        out = {"trivial": 1.0}
        for k in range(1, self.degree):
            out[f"best_degree_{k}"] = sum(t.coef**2 for t in terms if sum(t.degrees) > k) / total
        return out
