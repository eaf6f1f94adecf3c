"""Hermite polynomials, Gauss-Hermite expectations, coefficients and information exponents."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depthlab.hermite import (
    _he_numpy,
    gauss_hermite,
    gaussian_expectation,
    he,
    he_normalized,
    hermite_coefficient,
    hermite_series,
    information_exponent,
    norm_factor,
)


def _he_np(k: int):
    return lambda z: np.asarray(he(k, jnp.asarray(z)), dtype=np.float64)


def test_gauss_hermite_weights_are_a_probability_measure():
    nodes, weights = gauss_hermite(40)
    assert nodes.shape == weights.shape == (40,)
    assert np.all(weights > 0)
    assert np.sum(weights) == pytest.approx(1.0, abs=1e-12)
    # Moments of N(0, 1): E z^2 = 1, E z^4 = 3, E z^6 = 15, odd moments vanish.
    assert gaussian_expectation(lambda z: z**2) == pytest.approx(1.0, abs=1e-10)
    assert gaussian_expectation(lambda z: z**4) == pytest.approx(3.0, abs=1e-10)
    assert gaussian_expectation(lambda z: z**6) == pytest.approx(15.0, abs=1e-9)
    assert gaussian_expectation(lambda z: z**5) == pytest.approx(0.0, abs=1e-9)
    # A non-polynomial: E cos(z) = exp(-1/2).
    assert gaussian_expectation(np.cos) == pytest.approx(math.exp(-0.5), abs=1e-10)


@pytest.mark.parametrize("j", range(7))
@pytest.mark.parametrize("k", range(7))
def test_orthogonality(x64, j, k):
    val = gaussian_expectation(lambda z: _he_np(j)(z) * _he_np(k)(z))
    expected = math.factorial(k) if j == k else 0.0
    assert val == pytest.approx(expected, abs=1e-8 * max(1.0, expected))


@pytest.mark.parametrize("k", range(1, 8))
def test_normalizations(x64, k):
    var_unit = gaussian_expectation(lambda z: np.asarray(he_normalized(k, jnp.asarray(z), "unit")) ** 2)
    var_fact = gaussian_expectation(lambda z: np.asarray(he_normalized(k, jnp.asarray(z), "factorial")) ** 2)
    var_none = gaussian_expectation(lambda z: np.asarray(he_normalized(k, jnp.asarray(z), "none")) ** 2)
    assert var_unit == pytest.approx(1.0, rel=1e-9)
    assert var_fact == pytest.approx(1.0 / math.factorial(k), rel=1e-9)
    assert var_none == pytest.approx(float(math.factorial(k)), rel=1e-9)
    assert norm_factor(k, "unit") == pytest.approx(math.sqrt(math.factorial(k)))
    assert norm_factor(k, "factorial") == float(math.factorial(k))
    assert norm_factor(k, "none") == 1.0


def test_unknown_normalization_and_negative_degree_raise():
    with pytest.raises(ValueError, match="normalization"):
        norm_factor(2, "bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="degree"):
        he(-1, jnp.zeros(3))


@pytest.mark.parametrize("k", range(9))
def test_he_matches_numpy_hermeval(x64, k):
    z = np.linspace(-4.0, 4.0, 41)
    coef = np.zeros(k + 1)
    coef[k] = 1.0
    ref = np.polynomial.hermite_e.hermeval(z, coef)
    got = np.asarray(he(k, jnp.asarray(z)))
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(_he_numpy(k, z), ref, rtol=1e-12, atol=1e-9)


def test_he_explicit_low_degrees(x64):
    z = jnp.asarray([-2.0, -0.5, 0.0, 1.0, 3.0])
    np.testing.assert_allclose(he(0, z), np.ones(5))
    np.testing.assert_allclose(he(1, z), z)
    np.testing.assert_allclose(he(2, z), z**2 - 1)
    np.testing.assert_allclose(he(3, z), z**3 - 3 * z)
    np.testing.assert_allclose(he(4, z), z**4 - 6 * z**2 + 3)
    # any array shape is accepted and preserved
    assert he(3, jnp.ones((2, 3, 4))).shape == (2, 3, 4)


def test_hermite_series_evaluates_the_sum(x64):
    coeffs = {0: 0.3, 2: 1.0, 3: -2.0, 5: 0.5}
    z = np.linspace(-3, 3, 13)
    f = hermite_series(coeffs, "factorial")
    expected = sum(
        c * np.polynomial.hermite_e.hermeval(z, np.eye(k + 1)[k]) / math.factorial(k) for k, c in coeffs.items()
    )
    np.testing.assert_allclose(np.asarray(f(jnp.asarray(z))), expected, rtol=1e-12, atol=1e-12)
    g = hermite_series(coeffs, "unit")
    expected_u = sum(
        c * np.polynomial.hermite_e.hermeval(z, np.eye(k + 1)[k]) / math.sqrt(math.factorial(k))
        for k, c in coeffs.items()
    )
    np.testing.assert_allclose(np.asarray(g(jnp.asarray(z))), expected_u, rtol=1e-12, atol=1e-12)


def test_hermite_coefficient_recovers_series(x64):
    # f = sum_k c_k He_k (raw polynomials)  ->  hermite_coefficient(f, k) == c_k
    coeffs = np.array([0.7, -1.2, 0.0, 2.5, 0.0, -0.3, 0.1])
    f = lambda z: np.polynomial.hermite_e.hermeval(z, coeffs)  # noqa: E731
    for k, c in enumerate(coeffs):
        assert hermite_coefficient(f, k) == pytest.approx(c, abs=1e-9)
    assert hermite_coefficient(f, 7) == pytest.approx(0.0, abs=1e-9)
    assert hermite_coefficient(f, 9) == pytest.approx(0.0, abs=1e-9)


def test_hermite_coefficient_of_a_monomial():
    # z^3 = He_3 + 3 He_1;  z^4 = He_4 + 6 He_2 + 3 He_0
    assert hermite_coefficient(lambda z: z**3, 1) == pytest.approx(3.0, abs=1e-10)
    assert hermite_coefficient(lambda z: z**3, 3) == pytest.approx(1.0, abs=1e-10)
    assert hermite_coefficient(lambda z: z**3, 2) == pytest.approx(0.0, abs=1e-10)
    assert hermite_coefficient(lambda z: z**4, 0) == pytest.approx(3.0, abs=1e-10)
    assert hermite_coefficient(lambda z: z**4, 2) == pytest.approx(6.0, abs=1e-10)
    assert hermite_coefficient(lambda z: z**4, 4) == pytest.approx(1.0, abs=1e-10)


def test_information_exponent():
    p3 = lambda z: (z**2 - 1) / 2 + (z**3 - 3 * z) / 6  # noqa: E731  He2/2! + He3/3!
    assert information_exponent(p3) == 2
    assert information_exponent(lambda z: np.tanh(3 * z)) == 1
    assert information_exponent(lambda z: z**3 - 3 * z) == 3  # pure He_3
    assert information_exponent(lambda z: z**4 - 6 * z**2 + 3) == 4  # pure He_4
    assert information_exponent(lambda z: np.abs(z)) == 2  # even: no He_1 component
    assert information_exponent(lambda z: np.ones_like(z)) is None  # constant: no k >= 1 component
    assert information_exponent(lambda z: z**5 - 10 * z**3 + 15 * z, kmax=4) is None  # He_5 beyond kmax


@settings(max_examples=40, deadline=None)
@given(k=st.integers(min_value=1, max_value=8), z=st.floats(min_value=-3.0, max_value=3.0))
def test_derivative_identity(k, z):
    """He_k'(z) = k He_{k-1}(z), with the derivative taken by jax.grad through the recurrence."""
    with jax.enable_x64(True):
        zz = jnp.asarray(z, dtype=jnp.float64)
        dk = jax.grad(lambda t: he(k, t))(zz)
        expected = k * he(k - 1, zz)
        assert float(dk) == pytest.approx(float(expected), rel=1e-10, abs=1e-10)


@settings(max_examples=30, deadline=None)
@given(k=st.integers(min_value=0, max_value=10), z=st.floats(min_value=-4.0, max_value=4.0))
def test_three_term_recurrence(k, z):
    """He_{k+2}(z) = z He_{k+1}(z) - (k+1) He_k(z) and the numpy/JAX implementations agree."""
    with jax.enable_x64(True):
        zz = jnp.asarray(z, dtype=jnp.float64)
        lhs = float(he(k + 2, zz))
        rhs = float(z * he(k + 1, zz) - (k + 1) * he(k, zz))
        scale = max(1.0, abs(lhs))
        assert lhs == pytest.approx(rhs, abs=1e-10 * scale)
        assert float(_he_numpy(k, np.asarray([z]))[0]) == pytest.approx(float(he(k, zz)), abs=1e-10 * scale)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(min_value=1, max_value=12))
def test_gaussian_mean_of_he_vanishes(k):
    assert gaussian_expectation(lambda z: _he_numpy(k, z)) == pytest.approx(0.0, abs=1e-8 * math.factorial(k))
    assert gaussian_expectation(lambda z: _he_numpy(k, z) ** 2) == pytest.approx(float(math.factorial(k)), rel=1e-8)


def test_x64_fixture_gives_float64(x64):
    assert jnp.ones(2).dtype == jnp.float64
    assert he(3, jnp.linspace(-1.0, 1.0, 5)).dtype == jnp.float64
