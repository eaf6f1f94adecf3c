r"""Gaussian hierarchical targets: SIGHT, MIGHT and the deep (multi-level) tree.
Dandi, Pesce, Zdeborova, Krzakala (2025), arXiv 2502.13961, Sec. 2 and App. F.

All three are one tree of levels with sizes D_1 > D_2 > ... > D_L = r:

    x ~ N(0, I_d),   z = h_1 = W* x,   W* in R^{D_1 x d} with orthonormal rows,
    h_{l, m} = (1/sqrt(b_l)) sum_{j in B_m} a*_{l, j} P(h_{l-1, j}),   l = 2..L,
    f*(x)    = (1/sqrt(r)) sum_{m=1}^{r} g*(h_{L, m}),

where B_m is the m-th block of b_l = D_{l-1}/D_l consecutive units, P = sigma1 (e.g. He_2/2! + He_3/3!; the top
level l = L may use another polynomial P' = sigma_top, deep only),
g* = sigma2 (e.g. tanh(3 .)), a* Rademacher (numerics) or all ones (theory).

Per-branch links: ``sigma2`` may also be a list of r names, one link g*_m per top-level unit,

    f*(x) = (1/sqrt(r)) sum_{m=1}^{r} g*_m(h_{L, m}),

(the paper's MIGHT f* = g*(h*_1, ..., h*_r) restricted to a committee of per-branch links; Fig. 10 contrasts an
"easy" branch with a "hard" one). A single name is the same link in every branch (and serialises as before).

* ``sight``: D = (int(d^eps), 1), i.e. f* = g*( a*^T P(W* x) / sqrt(d^eps) ).
* ``might``: D = (r int(d^eps), r): r branches, each with its own d^eps-dim block of W*, committee readout
  (the public code's "k branches": y = (1/sqrt r) sum_m sigma2(h_m)).
* ``deep``:  eps = (eps_1 > ... > eps_{L-1}): b_L = int(d^{eps_{L-1}}), b_l = int(d^{eps_{l-1} - eps_l}),
  so D_l ~ r d^{eps_l} (the chain d -> d^eps_1 -> d^eps_2 -> ... -> r).

W* blocks come from one QR of a d x D_1 Gaussian matrix (public code), so all blocks are orthonormal and
mutually orthogonal. ``h`` in the returned batch is the level-2 feature h*(x) (one column per level-2 unit).
"""

from __future__ import annotations

import math
from itertools import combinations_with_replacement
from typing import Any, ClassVar, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from depthlab.linalg import orthonormal_columns
from depthlab.targets.activations import Activation, get_activation
from depthlab.targets.base import Batch, TargetCapability, TargetSpec


def int_power(d: int, e: float) -> int:
    """int(d**e) as in the public code, robust to float round-off (64**0.5 -> 8, not 7)."""
    return int(math.floor(d**e + 1e-9))


class HierInstance(NamedTuple):
    w_star: Array  # (D_1, d), orthonormal rows
    signs: tuple[Array, ...]  # a*_l for l = 2..L, shapes (D_{l-1},)


class HierarchicalTarget(TargetSpec):
    """SIGHT / MIGHT / deep hierarchical Gaussian target (see module docstring for the formulas)."""

    # each branch's block of W* has D_1 / r <= d^eps_1 < d rows: always a proper subspace
    capabilities: ClassVar[frozenset[TargetCapability]] = frozenset({"subspace", "hidden_features"})

    family: Literal["sight", "might", "deep"] = Field(
        default="sight", description="target family (discriminator): 'sight' one branch, 'might' r branches, "
        "'deep' a multi-level tree")
    d: int = Field(default=64, ge=2, description="input dimension")
    epsilon: float | tuple[float, ...] = Field(
        default=0.5, description="eps in (0, 1): blocks of int(d^eps) rows of W* per branch; deep: a strictly "
        "decreasing tuple eps_1 > ... > eps_(L-1)")
    branches: int = Field(default=1, ge=1, description="r: top-level units, f* = (1/sqrt(r)) sum_m g*(h_(L,m)); "
                          "1 for sight")
    sigma1: str = Field(default="he2+he3", description="P_k: degree-3 Hermite mix, information exponent 2 (paper "
                        "eq. 11)")
    sigma_top: str | None = Field(default=None, description="deep only: P' of the top level h_L (degree k'), "
                                  "e.g. of another degree than P_k so that the jumps k eps_1 + eps_2 and k' eps_2 "
                                  "separate; None: sigma1 at every level")
    sigma2: str | tuple[str, ...] = Field(
        default="tanh:3", description="g*: tanh(3 h), as in every experiment of the paper; or a list of r names, "
        "one link per top-level unit: f* = (1/sqrt(r)) sum_m g*_m(h_(L,m))")
    a_star: Literal["rademacher", "ones"] = Field(
        default="rademacher", description="a*: Rademacher signs (numerics: paper F.2, public code) or all ones "
        "(theory)")
    noise: float = Field(default=0.0, ge=0.0, description="label-noise standard deviation: y = f* + noise N(0, 1)")

    @field_validator("sigma1", "sigma2", "sigma_top")
    @classmethod
    def _known_activation(cls, v: str | tuple[str, ...] | None) -> str | tuple[str, ...] | None:
        for name in [] if v is None else [v] if isinstance(v, str) else v:
            get_activation(name)
        return v

    @model_validator(mode="after")
    def _check_shape(self) -> HierarchicalTarget:
        eps = self.epsilons
        if any(not 0.0 < e < 1.0 for e in eps):
            raise ValueError(f"epsilon values must lie in (0, 1), got {eps}")
        if any(a <= b for a, b in zip(eps, eps[1:], strict=False)):
            raise ValueError(f"epsilon must be strictly decreasing (eps_1 > eps_2 > ...), got {eps}")
        if self.family != "deep" and len(eps) != 1:
            raise ValueError(f"family {self.family!r} takes a single epsilon, got {eps}")
        if self.sigma_top is not None and (self.family != "deep" or len(eps) < 2):
            raise ValueError("sigma_top (the top level's polynomial) needs family 'deep' with >= 2 epsilon values")
        if self.family == "sight" and self.branches != 1:
            raise ValueError("family 'sight' has branches = 1; use family 'might' for several branches")
        if isinstance(self.sigma2, tuple) and len(self.sigma2) != self.branches:
            raise ValueError(
                f"sigma2 lists {len(self.sigma2)} links but the target has branches = {self.branches}: give one "
                "link per branch (or a single name for all)"
            )
        sizes = self.level_sizes
        if min(self.block_sizes) < 1:
            raise ValueError(f"d={self.d} too small for epsilon={eps}: a level would have an empty block")
        if sizes[0] > self.d:
            raise ValueError(
                f"hidden dimension D_1 = {sizes[0]} exceeds d = {self.d} (W* needs orthonormal rows); "
                "lower epsilon or branches"
            )
        return self

    @model_serializer(mode="wrap")
    def _drop_unset_top(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """sigma_top = None is left out of dumps: the identities (hashes) of every cell stored before the field
        existed stay the same."""
        out: dict[str, Any] = handler(self)
        if out.get("sigma_top", 0) is None:
            del out["sigma_top"]
        return out

    # ---- structure -------------------------------------------------------------------------------
    @property
    def epsilons(self) -> tuple[float, ...]:
        return (self.epsilon,) if isinstance(self.epsilon, float | int) else tuple(self.epsilon)

    @property
    def block_sizes(self) -> tuple[int, ...]:
        """(b_2, ..., b_L): how many level-(l-1) units feed one level-l unit."""
        eps = self.epsilons
        inner = [int_power(self.d, eps[i] - eps[i + 1]) for i in range(len(eps) - 1)]
        return (*inner, int_power(self.d, eps[-1]))

    @property
    def level_sizes(self) -> tuple[int, ...]:
        """(D_1, ..., D_L) with D_L = branches and D_{l-1} = D_l * b_l."""
        sizes = [self.branches]
        for b in reversed(self.block_sizes):
            sizes.append(sizes[-1] * b)
        return tuple(reversed(sizes))

    @property
    def d_eff(self) -> int:
        """Per-branch effective dimension int(d^eps_1) (int(d^eps) for SIGHT/MIGHT)."""
        return self.level_sizes[0] // self.branches

    @property
    def p_act(self) -> Activation:
        return get_activation(self.sigma1)

    @property
    def top_act(self) -> Activation:
        """P' of the top level (sigma_top; sigma1 when unset)."""
        return get_activation(self.sigma_top or self.sigma1)

    @property
    def g_acts(self) -> tuple[Activation, ...]:
        """g*_m for m = 1..r (the same link r times when ``sigma2`` is one name)."""
        names = [self.sigma2] * self.branches if isinstance(self.sigma2, str) else self.sigma2
        return tuple(get_activation(n) for n in names)

    def link(self, top: Array) -> Array:
        """f* from the top level (n, r): (1/sqrt(r)) sum_m g*_m(top[:, m])."""
        if isinstance(self.sigma2, str):
            g = get_activation(self.sigma2)(top)
        else:
            g = jnp.stack([a(top[:, m]) for m, a in enumerate(self.g_acts)], axis=-1)
        return g.sum(-1) / math.sqrt(self.branches)

    # ---- sampling --------------------------------------------------------------------------------
    def draw(self, key: Array) -> HierInstance:
        sizes = self.level_sizes
        kw, *ks = jax.random.split(key, len(sizes))
        g = jax.random.normal(kw, (self.d, sizes[0]))
        q = orthonormal_columns(g)  # (d, D_1), orthonormal columns
        if self.a_star == "ones":
            signs = tuple(jnp.ones((sizes[i],)) for i in range(len(sizes) - 1))
        else:
            signs = tuple(
                jax.random.rademacher(ks[i], (sizes[i],), dtype=q.dtype) for i in range(len(sizes) - 1)
            )
        return HierInstance(w_star=q.T, signs=signs)

    def levels(self, inst: HierInstance, x: Array) -> list[Array]:
        """[h_1 = W* x, h_2, ..., h_L] for inputs x (n, d)."""
        acts = [self.p_act] * (len(self.block_sizes) - 1) + [self.top_act]
        h = x @ inst.w_star.T
        out = [h]
        for p, a, b in zip(acts, inst.signs, self.block_sizes, strict=True):
            u = (p(h) * a).reshape(h.shape[0], -1, b)
            h = u.sum(-1) / math.sqrt(b)
            out.append(h)
        return out

    def sample(self, inst: HierInstance, key: Array, n: int) -> Batch:
        kx, kn = jax.random.split(key)
        x = jax.random.normal(kx, (n, self.d), dtype=inst.w_star.dtype)
        hs = self.levels(inst, x)
        f = self.link(hs[-1])
        y = f + self.noise * jax.random.normal(kn, f.shape, dtype=f.dtype) if self.noise > 0 else f
        return Batch(x=x, y=y, f=f, z=hs[0], h=hs[1])

    def subspaces(self, inst: HierInstance) -> Array:
        """(branches, D_1/branches, d): the rows of W* below each top-level unit."""
        return inst.w_star.reshape(self.branches, -1, self.d)

    # ---- reference levels (Monte Carlo, float64 least squares) ---------------------------------------
    def reference_levels(self, num_samples: int = 200_000, seed: int = 0) -> dict[str, float]:
        r"""Error levels of reference predictors, estimated on ``num_samples`` draws:

        * ``trivial``:        E f*^2 (predicting 0).
        * ``best_quadratic``: min over polynomials of degree <= 2 in x of E (f* - q)^2; the limit of the
          quadratic kernel (Dandi et al. Fig. 2 "kernel" line).
        * ``best_linear_h``:  min over affine functions of h*(x) (the "2LNN plateau" line).

        For the paper's SIGHT at d=64 (D=8, h* visibly non-Gaussian) these are 0.62 / 0.23 / 0.19 (and
        best_quartic_z 0.10); the paper's lines 0.65-0.69 / 0.25-0.27 / 0.13-0.14 are the Gaussian
        approximation h* ~ N(0, 2/3), reached only as d_eff -> infinity.
        * ``best_linear_top`` (deep, >= 2 polynomial levels): min over affine functions of the top level h_L,
          i.e. everything below g* learned but no layer left to apply g*.
        * ``best_quartic_z``: min over polynomials of degree <= 4 in z = W* x (a 2-layer net after it found
          W*, for kappa <= 2 at eps = 1/2); only when the feature count is moderate.
        """
        key = jax.random.PRNGKey(seed)
        return self._levels(self.draw(jax.random.fold_in(key, 1)), jax.random.fold_in(key, 2), num_samples)

    def instance_reference_levels(self, inst: HierInstance, num_samples: int = 200_000,
                                  seed: int = 0) -> dict[str, float]:
        """``reference_levels`` of the drawn instance ``inst`` (its own W*, a* signs): the law of (x, f*) depends
        on the signs -- P(h) * a is not distributed as P(h) for P = He_2 -- so each trial is judged against its
        own instance's levels (``TargetSpec.instance_reference_levels``)."""
        return self._levels(inst, jax.random.fold_in(jax.random.PRNGKey(seed), 2), num_samples)

    def _levels(self, inst: HierInstance, key: Array, num_samples: int) -> dict[str, float]:
        b = self.sample(inst, key, num_samples)
        z = np.asarray(b.z, dtype=np.float64)
        f = np.asarray(b.f, dtype=np.float64)
        h = np.asarray(b.h, dtype=np.float64)
        out = {"trivial": float(np.mean(f**2))}
        out["best_quadratic"] = _lstsq_residual(_poly_features(z, 2), f)
        out["best_linear_h"] = _lstsq_residual(np.column_stack([np.ones(len(f)), h]), f)
        if len(self.block_sizes) >= 2:  # deep: the top level h_L below g*
            top = np.asarray(self.levels(inst, b.x)[-1], dtype=np.float64)
            out["best_linear_top"] = _lstsq_residual(np.column_stack([np.ones(len(f)), top]), f)
        if math.comb(z.shape[1] + 4, 4) <= 500:
            out["best_quartic_z"] = _lstsq_residual(_poly_features(z, 4), f)
        return out


def _poly_features(z: np.ndarray, degree: int) -> np.ndarray:
    """The monomials of degree <= ``degree`` in the columns of z, each degree-k one the product of a degree-(k-1)
    one and one column (one multiplication per monomial)."""
    cols: dict[tuple[int, ...], np.ndarray] = {(): np.ones(len(z))}
    for k in range(1, degree + 1):
        for idx in combinations_with_replacement(range(z.shape[1]), k):
            cols[idx] = cols[idx[:-1]] * z[:, idx[-1]]
    return np.column_stack(list(cols.values()))


def _lstsq_residual(features: np.ndarray, f: np.ndarray) -> float:
    """min_c mean (f - features c)^2, through the normal equations in float64 (the Gram matrix solved by least
    squares, so a rank-deficient one is fine): on 200 000 x 126 quartic monomials 18x faster than a least-squares
    solve of the tall matrix, the same residual to 1e-10."""
    gram = features.T @ features
    coef, *_ = np.linalg.lstsq(gram, features.T @ f, rcond=None)
    return float(np.mean((f - features @ coef) ** 2))
