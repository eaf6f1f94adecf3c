"""The linear ridge baseline: it recovers a linear function, equals numpy's ridge solution, and cannot learn a
hierarchical target beyond its small degree-1 part."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from depthlab.learners import LinearRidge
from depthlab.targets import HierarchicalTarget


def test_matches_the_closed_form_ridge_solution(x64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 7))
    y = x @ rng.standard_normal(7) + 0.3 + 0.1 * rng.standard_normal(50)
    lam = 0.05
    spec = LinearRidge(ridge=lam)
    p = spec.fit(jax.random.PRNGKey(0), jnp.asarray(x), jnp.asarray(y))
    h = np.hstack([x, np.ones((50, 1))])
    coef = np.linalg.solve(h.T @ h + lam * 50 * np.eye(8), h.T @ y)
    np.testing.assert_allclose(np.append(np.asarray(p.w), float(p.c)), coef, rtol=1e-10)
    assert spec.first_layer(p).shape == (1, 7)


def test_recovers_a_linear_target(x64):
    key = jax.random.PRNGKey(1)
    x = jax.random.normal(key, (2000, 10))
    beta = jnp.arange(10.0) / 10
    p = LinearRidge(ridge=1e-6).fit(key, x, x @ beta - 0.5)
    np.testing.assert_allclose(np.asarray(p.w), np.asarray(beta), atol=1e-6)
    assert float(p.c) == pytest.approx(-0.5, abs=1e-6)


def test_cannot_learn_sight(x64):
    """SIGHT's degree-1 Hermite part is small: the best linear fit leaves 85-100% of E f*^2 (0.95 measured at
    d = 16), and more samples do not lower it (the fit has converged to that part)."""
    t = HierarchicalTarget(d=16)
    kd, ktr, kte = jax.random.split(jax.random.PRNGKey(2), 3)
    inst = t.draw(kd)
    train, test = t.sample(inst, ktr, 20000), t.sample(inst, kte, 4000)
    spec = LinearRidge()
    errs = []
    for n in (5000, 20000):
        p = spec.fit(ktr, train.x[:n], train.y[:n])
        errs.append(float(jnp.mean((spec.predict(p, test.x) - test.f) ** 2)))
    trivial = float(jnp.mean(test.f**2))
    assert 0.85 * trivial < errs[1] < trivial
    assert errs[1] == pytest.approx(errs[0], rel=0.02)
