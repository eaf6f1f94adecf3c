r"""Ball indicators under radial input laws (Safran & Lee 2022, arXiv 2112.02393).

Inputs x = rho theta with theta uniform on S^{d-1} (theta = g/||g||, g ~ N(0, I_d)) and rho >= 0 independent,
drawn from ``radius_law``:

* ``gaussian``:  x ~ N(0, I_d) (rho^2 ~ chi^2_d);          F(rho) = P(d/2, rho^2/2)  (regularised gamma)
* ``uniform``:   rho ~ U[0, 2 sqrt(d)];                     F(rho) = rho / (2 sqrt d)
* ``lognormal``: rho = sqrt(d) exp(s Z), Z ~ N(0, 1);       F(rho) = Phi(log(rho / sqrt d) / s)
* ``bessel``:    the heavy-tailed law of Eldan & Shamir (2016), under which ball indicators are hard for
  networks with one non-linear layer (Safran & Shamir 2017; the lower bounds of Safran & Lee 2022).
  x has density phi(x)^2 with phi(x) = (R_d/||x||)^{d/2} J_{d/2}(2 pi R_d ||x||), the Fourier transform of
  the indicator of the unit-volume ball, R_d = Gamma(d/2 + 1)^{1/d} / sqrt(pi); the radius has density

      p(rho) = (d / rho) J_nu(t)^2,   nu = d/2,  t = 2 pi R_d rho,     p(rho) ~ d/(pi^2 R_d rho^2) at infinity,

  so E rho = infinity. Its CDF has a closed form (from d/dt J_k^2 = J_k (J_{k-1} - J_{k+1}) and
  J_{nu-1} + J_{nu+1} = (2 nu / t) J_nu, the sum telescopes):

      integer nu:       F = 1 - J_0(t)^2 - J_nu(t)^2 - 2 sum_{k=1}^{nu-1} J_k(t)^2
      half-integer nu:  F = (2/pi) Si(2t) - J_nu(t)^2 - 2 sum_{k=1/2, 3/2, ..., nu-1} J_k(t)^2

  Sampling is by inverse CDF: F is tabulated in float64 on 2^14 nodes in t (uniform on [0, 2 nu + 60],
  geometric up to t = 10^6) and rho = F^{-1}(U) is interpolated linearly between nodes; beyond t = 10^6
  (mass ~ d / (pi 10^6)) rho is drawn from the asymptotic tail p ~ rho^{-2} with the exact remaining mass,
  rho = rho_max (1 - F(rho_max)) / (1 - U). The sampler's CDF differs from F by at most ``max_cdf_error``
  (a few 1e-6 for d <= 64, computed on an 8x finer grid). Float32 uniforms cap rho at the 1 - 2^-24 quantile.

Target: f*(x) = 1{||x|| <= r} (``smoothing`` = 0) or f*(x) = sigmoid((r - ||x||)/tau) (``smoothing`` = tau > 0),
with r = the median of rho by default (P(f* > 1/2) = 1/2, both classes carry mass; Safran & Lee need both
classes non-negligible). Classification: f(x) > 1/2 predicts ||x|| <= r (``class_threshold``).

Hidden features: z = h = ||x|| (n, 1), the only relevant statistic; there is no hidden subspace (it would be all
of R^d), so the target does not declare "subspace". Capabilities: "classification", "hidden_features",
"boundary" (the signed distance ||x|| - r from the sphere of radius r, by which ``boundary_error`` bins the 0-1
error).

The radius laws are one table, ``RADIUS_LAWS`` (name -> CDF, sampler, median); a new law is one entry there
and one name in ``RadiusLaw``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal, NamedTuple, get_args

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from pydantic import Field, model_validator
from scipy import optimize, special

from depthlab.targets.base import Batch, TargetCapability, TargetSpec

RadiusLaw = Literal["gaussian", "uniform", "lognormal", "bessel"]

_T_BODY_EXTRA = 60.0  # uniform nodes on [0, 2 nu + 60]: the bulk and the first ~20 oscillations of J_nu^2
_T_MAX = 1e6  # geometric nodes up to here; beyond, the rho^-2 asymptotic tail with the exact mass
_NODES = 2**13  # per part (uniform and geometric)


def unit_volume_radius(d: int) -> float:
    """R_d = Gamma(d/2 + 1)^{1/d} / sqrt(pi): the radius of the ball of volume 1 in R^d."""
    return math.exp(math.lgamma(d / 2 + 1) / d) / math.sqrt(math.pi)


def bessel_cdf_t(t: np.ndarray, d: int) -> np.ndarray:
    """F in the variable t = 2 pi R_d rho: int_0^t d J_{d/2}(s)^2 / s ds (closed form, module docstring)."""
    t = np.asarray(t, dtype=np.float64)
    nu = d / 2
    if d % 2 == 0:
        ks = np.arange(1, d // 2, dtype=np.float64)
        s = special.jv(0, t) ** 2 + special.jv(nu, t) ** 2
        total = 1.0 - s
    else:
        ks = np.arange(0.5, nu - 0.5, 1.0)  # 1/2, 3/2, ..., nu - 1
        total = (2 / math.pi) * special.sici(2 * t)[0] - special.jv(nu, t) ** 2
    for k in ks:
        total = total - 2 * special.jv(k, t) ** 2
    return np.clip(total, 0.0, 1.0)


def bessel_density(rho: np.ndarray, d: int) -> np.ndarray:
    """p(rho) = (d / rho) J_{d/2}(2 pi R_d rho)^2."""
    rho = np.asarray(rho, dtype=np.float64)
    return d / rho * special.jv(d / 2, 2 * math.pi * unit_volume_radius(d) * rho) ** 2


class InverseCdfTable(NamedTuple):
    u: np.ndarray  # (K,) CDF values at the nodes, strictly increasing, u[0] = 0
    rho: np.ndarray  # (K,) radii at the nodes
    tail_mass: float  # 1 - F(rho[-1])
    max_cdf_error: float  # sup |F_table - F| measured on an 8x finer grid


@functools.lru_cache(maxsize=64)
def bessel_table(d: int) -> InverseCdfTable:
    """Inverse-CDF table of the Eldan-Shamir radius law (float64, built once per d)."""
    nu, two_pi_r = d / 2, 2 * math.pi * unit_volume_radius(d)
    t_body = 2 * nu + _T_BODY_EXTRA
    t = np.concatenate([np.linspace(0.0, t_body, _NODES), np.geomspace(t_body, _T_MAX, _NODES + 1)[1:]])
    f = np.maximum.accumulate(bessel_cdf_t(t, d))
    keep = np.concatenate([[True], np.diff(f) > 0])  # strictly increasing for the interpolation
    t, f = t[keep], f[keep]
    # error of the piecewise-linear CDF between nodes, on 7 sub-points per cell
    frac = np.linspace(0, 1, 9)[1:-1]
    tf = (t[:-1, None] + frac[None, :] * np.diff(t)[:, None]).ravel()
    lin = (f[:-1, None] + frac[None, :] * np.diff(f)[:, None]).ravel()
    err = float(np.max(np.abs(lin - bessel_cdf_t(tf, d))))
    return InverseCdfTable(u=f, rho=t / two_pi_r, tail_mass=float(1.0 - f[-1]), max_cdf_error=err)


class BallInstance(NamedTuple):
    r: Array  # () the ball's radius (no hidden randomness: the instance is the same for every key)


class BallTarget(TargetSpec):
    """f*(x) = 1{||x|| <= r} (or its logistic smoothing) under a radial law (module docstring)."""

    family: Literal["ball"] = Field(default="ball", description="target family (discriminator)")
    d: int = Field(default=16, ge=2, le=512, description="input dimension")
    radius_law: RadiusLaw = Field(
        default="bessel", description="law of ||x||: gaussian, uniform, lognormal, or bessel, the hard law of the "
        "lower bounds (Safran & Lee 2022, Sec. on hardness)")
    r: float | None = Field(default=None, gt=0.0, description="ball radius in f* = 1{||x|| <= r}; None: the median "
                            "radius, so both classes have mass 1/2")
    smoothing: float = Field(default=0.0, ge=0.0, description="tau: f* = sigmoid((r - ||x||)/tau); 0 = the "
                             "indicator itself (the paper's target)")
    lognormal_sigma: float = Field(default=0.5, gt=0.0, le=3.0, description="s of the lognormal law rho = sqrt(d) "
                                   "exp(s Z) (a benign comparison law)")

    # no "subspace": f* depends on the radius, not on a subspace (the only relevant direction set is all of R^d)
    capabilities: ClassVar[frozenset[TargetCapability]] = frozenset({"classification", "hidden_features", "boundary"})
    class_threshold: ClassVar[float] = 0.5  # f > 1/2 <=> inside the ball

    @model_validator(mode="after")
    def _radius_has_mass(self) -> BallTarget:
        if self.r is not None:
            inside = float(self.radius_cdf(np.asarray([self.r]))[0])
            if not 1e-3 < inside < 1 - 1e-3:
                raise ValueError(
                    f"r = {self.r} puts P(||x|| <= r) = {inside:.2g} under the {self.radius_law} law at "
                    f"d = {self.d}: one class has no mass (leave r unset for the median {self.median_radius:.4g})"
                )
        return self

    # ---- the radius law (numpy, float64) -----------------------------------------------------------
    def radius_cdf(self, rho: np.ndarray) -> np.ndarray:
        """Exact CDF of ||x|| (module docstring)."""
        rho = np.maximum(np.asarray(rho, dtype=np.float64), 0.0)
        return RADIUS_LAWS[self.radius_law].cdf(rho, self.d, self.lognormal_sigma)

    @property
    def median_radius(self) -> float:
        return _median_radius(self.radius_law, self.d, self.lognormal_sigma)

    @property
    def radius(self) -> float:
        """r: the configured radius, or the median radius."""
        return self.r if self.r is not None else self.median_radius

    # ---- protocol -------------------------------------------------------------------------------------
    def draw(self, key: Array) -> BallInstance:
        return BallInstance(r=jnp.asarray(self.radius, dtype=jnp.zeros(()).dtype))

    def sample_radius(self, key: Array, n: int, dtype: jnp.dtype) -> Array:
        """n i.i.d. radii from ``radius_law``."""
        return RADIUS_LAWS[self.radius_law].sample(key, n, self.d, self.lognormal_sigma, dtype)

    def label(self, rho: Array, r: Array) -> Array:
        if self.smoothing == 0.0:
            return (rho <= r).astype(rho.dtype)
        return jax.nn.sigmoid((r - rho) / self.smoothing)

    def sample(self, inst: BallInstance, key: Array, n: int) -> Batch:
        kr, ku = jax.random.split(key)
        dtype = inst.r.dtype
        g = jax.random.normal(ku, (n, self.d), dtype)
        theta = g / jnp.linalg.norm(g, axis=-1, keepdims=True)
        rho = self.sample_radius(kr, n, dtype)
        x = rho[:, None] * theta
        f = self.label(rho, inst.r)
        return Batch(x=x, y=f, f=f, z=rho[:, None], h=rho[:, None])

    def boundary_distance(self, inst: BallInstance, batch: Batch) -> Array:
        """||x|| - r (batch.h holds ||x||): negative inside the ball (the positive class)."""
        return batch.h[:, 0] - inst.r

    def reference_levels(self, num_samples: int = 200_000, seed: int = 0) -> dict[str, float]:
        """trivial = E f*^2 (predict 0); best_constant = Var f* (predict E f*). Exact, from the radius CDF."""
        rng = np.random.default_rng(seed)
        if self.smoothing == 0.0:
            p = float(self.radius_cdf(np.asarray([self.radius]))[0])
            return {"trivial": p, "best_constant": p * (1 - p)}
        # smoothed: Monte Carlo over the radius via the CDF (inverse by bisection on a sorted grid)
        u = np.sort(rng.uniform(size=num_samples))
        grid = np.concatenate([[0.0], np.geomspace(1e-6, 1e6, 200_001)]) * max(self.radius, 1.0)
        cdf = np.maximum.accumulate(self.radius_cdf(grid))
        rho = np.interp(u, cdf, grid)
        f = 1 / (1 + np.exp(-(self.radius - rho) / self.smoothing))
        return {"trivial": float(np.mean(f**2)), "best_constant": float(np.var(f))}


@functools.lru_cache(maxsize=256)
def _median_radius(law: str, d: int, s: float) -> float:
    return RADIUS_LAWS[law].median(d, s)


# ---- the radius laws: one entry each (``RADIUS_LAWS``) ---------------------------------------------------------
@dataclass(frozen=True)
class RadialLaw:
    """One law of ||x||: ``cdf(rho, d, s)`` (numpy float64, rho >= 0), ``sample(key, n, d, s, dtype)`` n i.i.d.
    radii, ``median(d, s)``; s is ``lognormal_sigma`` (used by the lognormal law only)."""

    cdf: Callable[[np.ndarray, int, float], np.ndarray]
    sample: Callable[[Array, int, int, float, jnp.dtype], Array]
    median: Callable[[int, float], float]


def _lognormal_cdf(rho: np.ndarray, d: int, s: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return special.ndtr(np.log(rho / math.sqrt(d)) / s)


def _bessel_sample(key: Array, n: int, d: int, s: float, dtype: jnp.dtype) -> Array:
    u = jax.random.uniform(key, (n,), dtype)
    tab = bessel_table(d)
    u_nodes, rho_nodes = jnp.asarray(tab.u, dtype), jnp.asarray(tab.rho, dtype)
    body = jnp.interp(u, u_nodes, rho_nodes)
    rho_max, u_max = float(tab.rho[-1]), float(tab.u[-1])
    tail = rho_max * tab.tail_mass / jnp.maximum(1.0 - u, jnp.finfo(dtype).tiny)
    return jnp.where(u > u_max, jnp.maximum(tail, rho_max), body)


def _bessel_median(d: int, s: float) -> float:
    two_pi_r = 2 * math.pi * unit_volume_radius(d)
    t_half = optimize.brentq(lambda t: float(bessel_cdf_t(np.asarray(t), d)) - 0.5, 1e-6, 1e4, xtol=1e-13)
    return t_half / two_pi_r


RADIUS_LAWS: dict[str, RadialLaw] = {
    "gaussian": RadialLaw(
        cdf=lambda rho, d, s: special.gammainc(d / 2, rho**2 / 2),
        sample=lambda key, n, d, s, dtype: jnp.linalg.norm(jax.random.normal(key, (n, d), dtype), axis=-1),
        median=lambda d, s: math.sqrt(2 * special.gammaincinv(d / 2, 0.5)),
    ),
    "uniform": RadialLaw(
        cdf=lambda rho, d, s: np.clip(rho / (2 * math.sqrt(d)), 0.0, 1.0),
        sample=lambda key, n, d, s, dtype: 2 * math.sqrt(d) * jax.random.uniform(key, (n,), dtype),
        median=lambda d, s: math.sqrt(d),
    ),
    "lognormal": RadialLaw(
        cdf=_lognormal_cdf,
        sample=lambda key, n, d, s, dtype: math.sqrt(d) * jnp.exp(s * jax.random.normal(key, (n,), dtype)),
        median=lambda d, s: math.sqrt(d),
    ),
    "bessel": RadialLaw(
        cdf=lambda rho, d, s: bessel_cdf_t(2 * math.pi * unit_volume_radius(d) * rho, d),
        sample=_bessel_sample,
        median=_bessel_median,
    ),
}
assert set(RADIUS_LAWS) == set(get_args(RadiusLaw)), "RADIUS_LAWS and RadiusLaw must name the same laws"
