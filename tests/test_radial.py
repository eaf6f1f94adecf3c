"""Ball-indicator target under radial laws: radius laws (KS against the exact CDF), direction uniformity,
the closed-form Bessel CDF, the inverse-CDF table, labels, reference levels, validation."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import ValidationError
from scipy import integrate, stats

from depthlab.targets import BallTarget
from depthlab.targets.radial import bessel_cdf_t, bessel_density, bessel_table, unit_volume_radius

LAWS = ["gaussian", "uniform", "lognormal", "bessel"]


def _batch(t: BallTarget, n: int, seed: int):
    inst = t.draw(jax.random.PRNGKey(0))
    return inst, jax.jit(t.sample, static_argnums=2)(inst, jax.random.PRNGKey(seed), n)


@pytest.mark.parametrize("d", [2, 3, 8, 17])
def test_bessel_cdf_closed_form_matches_quadrature(d):
    """F(rho) = int_0^rho (d/s) J_{d/2}(2 pi R_d s)^2 ds, both parities of d."""
    two_pi_r = 2 * math.pi * unit_volume_radius(d)
    for rho in (0.2, 0.7, 1.5, 6.0):
        num, _ = integrate.quad(lambda s: float(bessel_density(np.asarray(s), d)), 1e-12, rho, limit=800)
        assert float(bessel_cdf_t(np.asarray(two_pi_r * rho), d)) == pytest.approx(num, abs=1e-9)
    # total mass 1: the tail beyond t is ~ d / (pi t)
    t = 1e5
    assert 1 - float(bessel_cdf_t(np.asarray(t), d)) == pytest.approx(d / (math.pi * t), rel=0.02)


@pytest.mark.parametrize("d", [5, 16])
def test_inverse_cdf_table_is_accurate(d):
    tab = bessel_table(d)
    assert np.all(np.diff(tab.u) > 0) and tab.u[0] == 0.0
    assert tab.max_cdf_error < 1e-5
    assert tab.tail_mass == pytest.approx(d / (math.pi * 1e6), rel=0.02)


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("law", LAWS)
def test_radius_law_ks(law, precision):
    """The sampled ||x|| follows the law's exact CDF (KS), and the KS test rejects another law's CDF."""
    t = BallTarget(d=8, radius_law=law)
    with jax.enable_x64(precision == "float64"):
        _, b = _batch(t, 20_000, seed=1)
        rho = np.asarray(jnp.linalg.norm(b.x, axis=-1), dtype=np.float64)
    assert np.all(np.isfinite(rho)) and rho.min() >= 0
    assert stats.kstest(rho, t.radius_cdf).pvalue > 1e-3
    other = BallTarget(d=8, radius_law="gaussian" if law != "gaussian" else "lognormal")
    assert stats.kstest(rho, other.radius_cdf).pvalue < 1e-6


def test_bessel_law_is_heavy_tailed():
    """P(rho > s) ~ d / (pi 2 pi R_d s) = d / (2 pi^2 R_d s): samples reach far beyond the median."""
    d = 8
    t = BallTarget(d=d, radius_law="bessel")
    with jax.enable_x64(True):
        _, b = _batch(t, 200_000, seed=2)
        rho = np.asarray(jnp.linalg.norm(b.x, axis=-1))
    s = 50 * t.median_radius
    expected = 1 - float(t.radius_cdf(np.asarray([s]))[0])
    assert expected == pytest.approx(d / (2 * math.pi**2 * unit_volume_radius(d) * s), rel=0.05)
    frac = np.mean(rho > s)
    assert abs(frac - expected) < 5 * math.sqrt(expected / rho.size)


@pytest.mark.parametrize("law", ["bessel", "uniform"])
def test_directions_are_uniform_and_independent_of_radius(x64, law):
    d, n = 6, 50_000
    _, b = _batch(BallTarget(d=d, radius_law=law), n, seed=3)
    x = np.asarray(b.x)
    rho = np.linalg.norm(x, axis=1)
    theta = x / rho[:, None]
    assert np.max(np.abs(theta.mean(0))) < 5 / math.sqrt(n * d)  # E theta = 0, Var theta_i = 1/d
    np.testing.assert_allclose(theta.T @ theta / n, np.eye(d) / d, atol=5 * math.sqrt(2 / n) / d + 1e-3)
    # a coordinate of a uniform direction: (theta_1 + 1)/2 ~ Beta((d-1)/2, (d-1)/2)
    a = (d - 1) / 2
    assert stats.kstest((theta[:, 0] + 1) / 2, stats.beta(a, a).cdf).pvalue > 1e-3
    assert stats.kstest((theta[:, 0] + 1) / 2, stats.beta(a + 1, a + 1).cdf).pvalue < 1e-6
    # independence of the direction and the radius (rank correlation of rho and theta_1^2)
    assert abs(stats.spearmanr(rho, theta[:, 0] ** 2)[0]) < 5 / math.sqrt(n)


@pytest.mark.parametrize("law", LAWS)
def test_indicator_labels_and_class_balance(x64, law):
    t = BallTarget(d=10, radius_law=law)
    inst, b = _batch(t, 40_000, seed=4)
    x, f = np.asarray(b.x), np.asarray(b.f)
    r = t.median_radius
    assert float(inst.r) == pytest.approx(r, rel=1e-12)
    assert float(t.radius_cdf(np.asarray([r]))[0]) == pytest.approx(0.5, abs=1e-9)
    np.testing.assert_array_equal(f, (np.linalg.norm(x, axis=1) <= r).astype(float))
    np.testing.assert_array_equal(np.asarray(b.y), f)
    np.testing.assert_allclose(np.asarray(b.h[:, 0]), np.linalg.norm(x, axis=1), rtol=1e-12)
    assert abs(f.mean() - 0.5) < 5 * math.sqrt(0.25 / f.size)
    ref = t.reference_levels()
    assert ref["trivial"] == pytest.approx(0.5, abs=1e-9) and ref["best_constant"] == pytest.approx(0.25, abs=1e-9)


def test_known_medians():
    """Gaussian: median of chi_d; uniform and lognormal: sqrt(d); an explicit r moves the class balance."""
    assert BallTarget(d=8, radius_law="gaussian").median_radius == pytest.approx(
        math.sqrt(stats.chi2(8).median()), rel=1e-10
    )
    assert BallTarget(d=9, radius_law="uniform").median_radius == pytest.approx(3.0)
    t = BallTarget(d=8, radius_law="uniform", r=math.sqrt(8))  # the middle of the support [0, 2 sqrt(8)]
    assert t.reference_levels()["trivial"] == pytest.approx(0.5)
    t2 = BallTarget(d=4, radius_law="uniform", r=1.0)  # support [0, 4]: P(inside) = 1/4
    assert t2.reference_levels() == pytest.approx({"trivial": 0.25, "best_constant": 0.1875})


def test_smoothed_target(x64):
    t = BallTarget(d=8, radius_law="gaussian", smoothing=0.3)
    _, b = _batch(t, 30_000, seed=5)
    rho = np.linalg.norm(np.asarray(b.x), axis=1)
    f = np.asarray(b.f)
    np.testing.assert_allclose(f, 1 / (1 + np.exp(-(t.median_radius - rho) / 0.3)), rtol=1e-10)
    ref = t.reference_levels()
    se = (f**2).std() / math.sqrt(f.size)
    assert abs(ref["trivial"] - np.mean(f**2)) < 5 * se + 2e-3
    assert abs(ref["best_constant"] - np.var(f)) < 5 * se + 2e-3
    assert 0.0 < ref["best_constant"] < 0.25


def test_invalid_configs_name_the_field():
    with pytest.raises(ValidationError, match="radius_law"):
        BallTarget(radius_law="cauchy")
    with pytest.raises(ValidationError, match="smoothing"):
        BallTarget(smoothing=-0.1)
    with pytest.raises(ValidationError, match="one class has no mass"):
        BallTarget(d=8, radius_law="uniform", r=100.0)
    with pytest.raises(ValidationError, match="d"):
        BallTarget(d=1)
