"""Closed-form kernels vs Monte-Carlo estimates from finite random networks; kernel ridge and random
features on easy targets."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import ValidationError

from depthlab.learners import KernelRidge, RandomFeatures
from depthlab.learners.kernels import arccos0, arccos1, relu_nngp, relu_ntk


def _points(d=8, n=5, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, d))
    x[1] = 0.9 * x[0] + 0.1 * x[1]  # include a strongly correlated pair
    return jnp.asarray(x)


def test_arccos_special_values():
    rho = jnp.asarray([-1.0, 0.0, 1.0])
    np.testing.assert_allclose(arccos0(rho), [0.0, 0.5, 1.0], atol=1e-6)
    np.testing.assert_allclose(arccos1(rho), [0.0, 1 / math.pi, 1.0], atol=1e-6)


def test_arccos_are_gaussian_expectations():
    rng = np.random.default_rng(1)
    u = rng.standard_normal((2, 400_000))
    for rho in (-0.7, 0.0, 0.3, 0.9):
        v = rho * u[0] + math.sqrt(1 - rho**2) * u[1]
        s1 = np.maximum(u[0], 0) * np.maximum(v, 0)
        s0 = (u[0] > 0) * (v > 0)
        for sample, closed in ((s1, arccos1), (s0, arccos0)):
            se = sample.std() / math.sqrt(sample.size)
            assert abs(sample.mean() - float(closed(jnp.asarray(rho))) / 2) < 5 * se


@pytest.mark.parametrize("beta", [0.0, 0.7])
def test_ntk_matches_empirical_ntk_of_a_wide_random_network(x64, beta):
    d, m = 8, 40_000
    x = _points(d)
    kw, ka, kb = jax.random.split(jax.random.PRNGKey(0), 3)
    params = {"w": jax.random.normal(kw, (m, d)), "a": jax.random.normal(ka, (m,)), "b": jax.random.normal(kb, (m,))}

    def f(p, xi):  # hidden bias beta b, trained like the weights
        return p["a"] @ jax.nn.relu(p["w"] @ xi / math.sqrt(d) + beta * p["b"]) / math.sqrt(m)

    jac = jax.vmap(jax.grad(f), in_axes=(None, 0))(params, x)
    flat = jnp.concatenate([jac["w"].reshape(len(x), -1), jac["a"], jac["b"]], axis=1)
    empirical = flat @ flat.T
    np.testing.assert_allclose(empirical, relu_ntk(x, x, beta), rtol=0.03, atol=2e-3)
    # the a-block alone is the NNGP kernel
    np.testing.assert_allclose(jac["a"] @ jac["a"].T, relu_nngp(x, x, beta), rtol=0.03, atol=2e-3)
    if beta:  # the bias changes the kernel (the test is not blind to it)
        assert float(jnp.max(jnp.abs(relu_ntk(x, x, beta) - relu_ntk(x, x)))) > 0.1


def _odd_cubic(d, n, seed):
    """Inputs uniform on the sphere of radius sqrt(d) and y = x_1^3 - c x_1 with c = E x_1^4 / E x_1^2 = 3d/(d+2):
    the degree-3 Gegenbauer polynomial of x_1 (orthogonal to every polynomial of degree <= 2 on the sphere)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    x *= math.sqrt(d) / np.linalg.norm(x, axis=1, keepdims=True)
    return jnp.asarray(x), jnp.asarray(x[:, 0] ** 3 - 3 * d / (d + 2) * x[:, 0])


@pytest.mark.parametrize("kernel", ["relu_ntk", "relu_nngp"])
def test_bias_free_relu_kernels_cannot_fit_an_odd_cubic_and_with_a_bias_they_can(kernel):
    """Bietti & Mairal 2019: without a bias the ReLU NTK / NNGP have no odd Gegenbauer component beyond degree 1,
    so kernel ridge stays near the trivial error on an odd cubic at any n; with a bias it learns it."""
    x, y = _odd_cubic(5, 2000, 7)
    xt, yt = _odd_cubic(5, 1000, 8)
    errs = {}
    for beta in (0.0, 1.0):
        spec = KernelRidge(kernel=kernel, ridge=1e-6, bias=beta)
        pred = jax.jit(spec.predict)(jax.jit(spec.fit)(jax.random.PRNGKey(0), x, y), xt)
        errs[beta] = float(jnp.mean((pred - yt) ** 2)) / float(jnp.mean(yt**2))
    assert errs[0.0] > 0.9, errs  # nothing of y lies in its span: about the trivial error
    assert errs[1.0] < 0.1, errs


def test_bias_is_refused_for_kernels_without_one():
    with pytest.raises(ValidationError, match="bias: the polynomial kernel has no hidden-layer bias"):
        KernelRidge(kernel="polynomial", bias=1.0)


def test_random_features_gram_converges_to_nngp(x64):
    x = _points(6, 4, seed=2)
    from depthlab.learners.random_features import RandomFeaturesParams

    rf = RandomFeatures(p=60_000, bias_scale=0.0)
    w = jax.random.normal(jax.random.PRNGKey(3), (rf.p, 6))
    phi = rf.features(RandomFeaturesParams(w=w, b=jnp.zeros(rf.p), a=jnp.zeros(rf.p)), x)
    np.testing.assert_allclose(phi @ phi.T / rf.p, relu_nngp(x, x), rtol=0.03, atol=2e-3)


def _single_index(d, n, seed):
    rng = np.random.default_rng(seed)
    beta = rng.standard_normal(d)
    beta /= np.linalg.norm(beta)
    x = rng.standard_normal((n, d))
    return jnp.asarray(x), jnp.asarray(np.tanh(x @ beta))


@pytest.mark.parametrize("kernel", ["relu_ntk", "relu_nngp"])
def test_kernel_ridge_with_ntk_learns_a_single_index_target(kernel):
    x, y = _single_index(8, 1500, 4)
    xt, yt = _single_index(8, 500, 4)
    spec = KernelRidge(kernel=kernel, ridge=1e-4)
    pred = jax.jit(spec.predict)(jax.jit(spec.fit)(jax.random.PRNGKey(0), x, y), xt)
    assert float(jnp.mean((pred - yt) ** 2)) < 0.1 * float(jnp.mean(yt**2))
    assert spec.chosen_solver(8, 1500) == "dual"


def test_ntk_kernel_has_no_primal_solver():
    with pytest.raises(ValidationError, match="no finite feature map"):
        KernelRidge(kernel="relu_ntk", solver="primal")


def test_random_features_learns_a_single_index_target():
    x, y = _single_index(8, 2000, 5)
    xt, yt = _single_index(8, 500, 5)
    spec = RandomFeatures(p=512, ridge=1e-4)
    params = jax.jit(spec.fit)(jax.random.PRNGKey(1), x, y)
    err = float(jnp.mean((jax.jit(spec.predict)(params, xt) - yt) ** 2))
    assert err < 0.1 * float(jnp.mean(yt**2))
    assert spec.first_layer(params).shape == (512, 8)
