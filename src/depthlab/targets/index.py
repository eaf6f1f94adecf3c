r"""Single-index and quadratic-feature targets (Nichani, Damian & Lee 2023, arXiv 2305.06986, Sec. 4).

Inputs: x ~ N(0, I_d) (``gaussian``) or uniform on the sphere of radius sqrt(d) (``sphere``).

* ``single_index``:  h*(x) = beta . x,  beta uniform on S^{d-1}.
* ``quadratic``:     h*(x) = x^T A x / sigma_A with A = U D U^T, U in R^{d x k} Haar-orthonormal columns,
  D = diag(+1, -1, +1, ...) (balanced signs, so tr A = 0; k = ``rank``, default d, an odd k leaves one zero);
  sigma_A^2 = Var(x^T A x) = 2 ||A||_F^2 (Gaussian) or 2 d/(d+2) ||A||_F^2 (sphere, tr A = 0), so that
  Var h* = 1 exactly and h* is close to N(0, 1) when A is spread out (||A||_op ~ 1/sqrt(k)).

Label: f*(x) = (g(h*(x)) - E g(Z)) / sd g(Z), Z ~ N(0, 1) (Gauss-Hermite), so E f* ~ 0 and E f*^2 ~ 1;
``normalize=False`` keeps f* = g(h*). The depth-separation target of the paper is g = relu on a full-rank A.

E f*^2 = 1 only where h* ~ N(0, 1) exactly: single-index on Gaussian inputs. Elsewhere h* is not Gaussian at
finite d -- on the sphere x^T A x / sigma_A (balanced signs, k = d even) is d (2B - 1) / sigma_A with
B ~ Beta(k/4, k/4), bounded and light-tailed (excess kurtosis -12/(k+6)); on Gaussian inputs a weighted chi-square
-- so E f*^2 and the best low-degree approximations differ from their Gaussian limits: for g = (h_1 + h_3)/sqrt2
at d = 16 on the sphere E f*^2 = 0.51 and the degree-2 floor 0.21 (Gaussian limit: 1 and 1 - c_1^2 = 0.5).
``reference_levels`` computes them at the target's own d and input law (``polynomial_floors``).
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from pydantic import Field, field_validator, model_validator

from depthlab.hermite import gauss_hermite
from depthlab.linalg import orthonormal_columns
from depthlab.targets.activations import get_activation
from depthlab.targets.base import Batch, TargetCapability, TargetSpec, polynomial_floors

InputLaw = Literal["gaussian", "sphere"]


def sample_inputs(key: Array, n: int, d: int, law: InputLaw, dtype: jnp.dtype) -> Array:
    """n i.i.d. inputs: N(0, I_d), or uniform on the sphere of radius sqrt(d) (normalised Gaussians)."""
    g = jax.random.normal(key, (n, d), dtype)
    if law == "sphere":
        g = g * (math.sqrt(d) / jnp.linalg.norm(g, axis=-1, keepdims=True))
    return g


class IndexInstance(NamedTuple):
    basis: Array  # (k, d) orthonormal rows: beta (k = 1) or the eigenvectors U^T of A
    eigs: Array  # (k,) eigenvalues of A (unused for single-index)


class _LinkTarget(TargetSpec):
    d: int = Field(default=32, ge=2, description="input dimension")
    link: str = Field(default="tanh:2", description="g in f* = g(h*) (a name of targets.activations, e.g. 'tanh:2', "
                      "'relu', 'he3')")
    inputs: InputLaw = Field(default="gaussian", description="input law: 'gaussian' N(0, I_d) or 'sphere' uniform "
                             "on the sphere of radius sqrt(d)")
    normalize: bool = Field(default=True, description="f* = (g(h*) - E g(Z)) / sd g(Z), Z ~ N(0, 1), so E f* ~ 0 "
                            "and E f*^2 ~ 1; False: f* = g(h*)")
    noise: float = Field(default=0.0, ge=0.0, description="label-noise standard deviation: y = f* + noise N(0, 1)")

    @field_validator("link")
    @classmethod
    def _known(cls, v: str) -> str:
        get_activation(v)
        return v

    def _standardization(self) -> tuple[float, float]:
        if not self.normalize:
            return 0.0, 1.0
        z, w = gauss_hermite(120)
        with jax.ensure_compile_time_eval():  # a constant of the program, also when called under jit
            gz = np.asarray(get_activation(self.link)(jnp.asarray(z, jnp.float32)), dtype=np.float64)
        mean = float(np.sum(w * gz))
        sd = math.sqrt(max(float(np.sum(w * (gz - mean) ** 2)), 1e-12))
        return mean, sd

    def _label(self, h: Array, key: Array) -> tuple[Array, Array]:
        mean, sd = self._standardization()
        f = (get_activation(self.link)(h) - mean) / sd
        y = f + self.noise * jax.random.normal(key, f.shape, f.dtype) if self.noise > 0 else f
        return f, y

    def subspaces(self, inst: IndexInstance) -> Array:
        if "subspace" not in self.capabilities:
            raise NotImplementedError(f"{self.family} does not declare subspace")
        return inst.basis[None]

    def exact_levels(self) -> dict[str, float] | None:
        """The reference levels in closed form where it is exact, else None (``reference_levels``)."""
        return None

    def reference_levels(self, num_samples: int = 100_000, seed: int = 0) -> dict[str, float]:
        """trivial = E f*^2 and best_degree_k = min over polynomials q in x of degree <= k of E (f* - q)^2, k = 1, 2
        (best_degree_2: the floor of the quadratic kernel, whose predictor is such a q), at this d and input law.
        In closed form where exact (``exact_levels``: single-index on Gaussian inputs), else by Monte Carlo least
        squares (``polynomial_floors``, fixed seed). The law of (x, f*) is the same for every instance (A's
        spectrum is fixed and its eigenbasis Haar; beta uniform), so one instance stands for all trials. MC
        error at the default N = 1e5 (measured over seeds, d = 16 and 24, sphere): sd ~ 0.002-0.003 for E f*^2
        and ~ 0.001 for best_degree_2 (0.5% of the floor); the N - rank correction leaves a bias well below
        that."""
        exact = self.exact_levels()
        if exact is not None:
            return exact
        return polynomial_floors(self, 2, num_samples, seed)


class SingleIndexTarget(_LinkTarget):
    """f*(x) = g(beta . x), standardised (module docstring)."""

    family: Literal["single_index"] = Field(default="single_index", description="target family (discriminator): "
                                            "h*(x) = beta . x")

    capabilities: ClassVar[frozenset[TargetCapability]] = frozenset({"subspace", "hidden_features"})  # 1 < d

    def draw(self, key: Array) -> IndexInstance:
        b = jax.random.normal(key, (1, self.d))
        return IndexInstance(basis=b / jnp.linalg.norm(b), eigs=jnp.ones((1,), b.dtype))

    def sample(self, inst: IndexInstance, key: Array, n: int) -> Batch:
        kx, kn = jax.random.split(key)
        x = sample_inputs(kx, n, self.d, self.inputs, inst.basis.dtype)
        h = x @ inst.basis.T  # (n, 1)
        f, y = self._label(h[:, 0], kn)
        return Batch(x=x, y=y, f=f, z=h, h=h)

    def exact_levels(self) -> dict[str, float] | None:
        """Gaussian inputs: beta . x ~ N(0, 1) and the other directions are independent of it, so the best
        polynomial of degree <= k in x is the Hermite truncation of f* in beta . x: best_degree_k = E f*^2 -
        sum_{j <= k} c_j^2, c_j = E f*(Z) h_j(Z) (Gauss-Hermite, 120 nodes). None on the sphere."""
        if self.inputs != "gaussian":
            return None
        z, w = gauss_hermite(120)
        mean, sd = self._standardization()
        with jax.ensure_compile_time_eval():
            g = np.asarray(get_activation(self.link)(jnp.asarray(z, jnp.float32)), dtype=np.float64)
        f = (g - mean) / sd
        hs = [np.ones_like(z), z, (z**2 - 1) / math.sqrt(2)]  # h_0, h_1, h_2
        trivial = float(np.sum(w * f**2))
        c2 = [float(np.sum(w * f * h)) ** 2 for h in hs]
        return {"trivial": trivial, **{f"best_degree_{k}": max(trivial - sum(c2[: k + 1]), 0.0) for k in (1, 2)}}


class QuadraticTarget(_LinkTarget):
    """f*(x) = g(x^T A x / sigma_A), traceless spread-out A, standardised (module docstring)."""

    family: Literal["quadratic"] = Field(default="quadratic", description="target family (discriminator): "
                                         "h*(x) = x^T A x / sigma_A")
    rank: int | None = Field(default=None, ge=2, description="k: rank of A = U D U^T, D = diag(+1, -1, ...) (an odd "
                             "k leaves one zero); None: full rank d")
    inputs: InputLaw = Field(default="sphere", description="input law: 'sphere' uniform on the sphere of radius "
                             "sqrt(d), or 'gaussian' N(0, I_d)")

    @model_validator(mode="after")
    def _rank_le_d(self) -> QuadraticTarget:
        if self.rank is not None and self.rank > self.d:
            raise ValueError(f"rank = {self.rank} exceeds d = {self.d}")
        return self

    @property
    def k(self) -> int:
        return self.rank or self.d

    @property
    def capabilities(self) -> frozenset[TargetCapability]:
        """``subspace`` only for a rank k < d: the eigenbasis of a full-rank A spans all of R^d."""
        return frozenset({"subspace", "hidden_features"}) if self.k < self.d else frozenset({"hidden_features"})

    def draw(self, key: Array) -> IndexInstance:
        q = orthonormal_columns(jax.random.normal(key, (self.d, self.k)))
        signs = jnp.where(jnp.arange(self.k) % 2 == 0, 1.0, -1.0)
        if self.k % 2:  # keep tr A = 0 with an odd rank
            signs = signs.at[-1].set(0.0)
        fro2 = jnp.sum(signs**2)
        var = 2 * fro2 * (self.d / (self.d + 2) if self.inputs == "sphere" else 1.0)
        return IndexInstance(basis=q.T, eigs=(signs / jnp.sqrt(var)).astype(q.dtype))

    def sample(self, inst: IndexInstance, key: Array, n: int) -> Batch:
        kx, kn = jax.random.split(key)
        x = sample_inputs(kx, n, self.d, self.inputs, inst.basis.dtype)
        z = x @ inst.basis.T  # (n, k) coordinates in A's eigenbasis
        h = (z * z) @ inst.eigs  # x^T A x / sigma_A
        f, y = self._label(h, kn)
        return Batch(x=x, y=y, f=f, z=z, h=h[:, None])
