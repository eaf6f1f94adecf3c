"""One-step learner (Damian 2022 / Nichani 2023 Algorithm 1): the step against its closed form, the learned
feature on a quadratic target, validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import ValidationError

from depthlab import metrics
from depthlab.learners import OneStep
from depthlab.targets import QuadraticTarget


def test_zero_init_step_is_the_closed_form(x64):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((40, 5)))
    y = jnp.asarray(rng.standard_normal(40))
    spec = OneStep(width=8, feature_width=12, eta1=0.7, redraw_bias=False, split=0.5)
    p = spec.fit(jax.random.PRNGKey(1), x, y)
    psi1 = spec._psi(p.v, x[:20]) - p.mu
    np.testing.assert_allclose(p.mu, spec._psi(p.v, x[:20]).mean(0), rtol=1e-12)
    np.testing.assert_allclose(p.g, y[:20] @ psi1 / 20, rtol=1e-12)
    # W0 = 0 and lambda_1 = 1/eta_1: w_i = eta_1 a_i relu'(b_i) g, with a = (s, -s) and b = (c, c)
    active = np.asarray(p.b > 0)
    for i in range(8):
        row = np.asarray(p.w[i])
        if active[i]:
            assert np.allclose(np.abs(row), 0.7 * np.abs(np.asarray(p.g)), rtol=1e-12)
        else:
            assert np.allclose(row, 0.0)
    np.testing.assert_allclose(p.w[:4], -p.w[4:], rtol=1e-12)  # paired neurons step in opposite directions
    np.testing.assert_array_equal(p.b[:4], p.b[4:])


def test_symmetric_sphere_init_gives_zero_output_and_a_correlation_step(x64):
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.standard_normal((30, 4)))
    y = jnp.asarray(rng.standard_normal(30))
    spec = OneStep(width=6, features="input", init="sphere", eta1=1.0, redraw_bias=False, split=0.5)
    p = spec.fit(jax.random.PRNGKey(3), x, y)
    # paired neurons share |step| and biases, opposite sign: the network at init is identically zero
    np.testing.assert_allclose(p.w[:3], -p.w[3:], rtol=1e-12)
    np.testing.assert_array_equal(p.b[:3], p.b[3:])


def test_learned_feature_recovers_a_quadratic_feature():
    target = QuadraticTarget(d=8, link="relu")
    inst = target.draw(jax.random.PRNGKey(0))
    train = target.sample(inst, jax.random.PRNGKey(1), 4096)
    test = target.sample(inst, jax.random.PRNGKey(2), 2048)
    spec = OneStep(feature_activation="abs", width=256).resolve(8, 4096, 4096)
    params = jax.jit(spec.fit)(jax.random.PRNGKey(4), train.x, train.y)
    out = metrics.evaluate(target, inst, spec, params, train, test)
    assert float(out["feature_corr"]) > 0.9
    assert float(out["test_mse"]) < 0.5 * float(out["trivial_mse"])


def test_validation():
    with pytest.raises(ValidationError, match="even"):
        OneStep(width=7)
    with pytest.raises(ValidationError, match="feature_activation"):
        OneStep(feature_activation="nope")
    assert OneStep(split=0.25).resolve(8, 1000, 1000).feature_width == 4 * 250


def test_first_step_is_minus_the_gradient_at_a_symmetric_init(x64):
    from depthlab.learners.one_step import first_step

    rng = np.random.default_rng(5)
    n, dim, half = 25, 6, 4
    psi = jnp.asarray(rng.standard_normal((n, dim)))
    y = jnp.asarray(rng.standard_normal(n))
    s, c = rng.choice([-1.0, 1.0], half), rng.standard_normal(half)
    u = rng.standard_normal((half, dim))
    a0, b0 = jnp.asarray(np.r_[s, -s]), jnp.asarray(np.r_[c, c])
    w0 = jnp.asarray(np.r_[u, u])

    def loss(w):
        f = jax.nn.relu(psi @ w.T + b0) @ a0
        return 0.5 * jnp.mean((f - y) ** 2)

    assert abs(float(jax.nn.relu(psi @ w0.T + b0) @ a0 @ jnp.ones(n))) < 1e-12  # f(theta_0) = 0
    np.testing.assert_allclose(first_step(a0, b0, w0, psi, y), -jax.grad(loss)(w0), rtol=1e-10, atol=1e-12)
    # finite differences on one coordinate
    e = jnp.zeros_like(w0).at[1, 2].set(1e-6)
    fd = (loss(w0 + e) - loss(w0 - e)) / 2e-6
    assert abs(float(-fd) - float(first_step(a0, b0, w0, psi, y)[1, 2])) < 1e-6
