"""Metrics: subspace overlap M_W, feature overlap M_h, and evaluate()."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from depthlab.learners import JointThreeLayer, KernelRidge, LayerwiseThreeLayer, TwoLayer
from depthlab.learners.three_layer import init_three_layer, layer2_preactivation
from depthlab.learners.two_layer import TwoLayerParams
from depthlab.metrics import evaluate, feature_overlap, mse, subspace_overlap
from depthlab.targets import HierarchicalTarget


def _orthonormal_rows(key, rows: int, d: int) -> jnp.ndarray:
    q, _ = jnp.linalg.qr(jax.random.normal(key, (d, rows)))
    return q.T


def test_mse():
    assert float(mse(jnp.asarray([1.0, 2.0, 3.0]), jnp.asarray([1.0, 0.0, 0.0]))) == pytest.approx(13 / 3)


def test_subspace_overlap_in_span_is_one(x64):
    d, big_d = 20, 4
    basis = _orthonormal_rows(jax.random.PRNGKey(0), big_d, d)  # (D, d)
    coef = jax.random.normal(jax.random.PRNGKey(1), (50, big_d))
    w = coef @ basis  # every neuron lies in span(W*)
    assert float(subspace_overlap(w, basis[None])) == pytest.approx(1.0, abs=1e-12)


def test_subspace_overlap_orthogonal_is_zero(x64):
    d = 20
    q = _orthonormal_rows(jax.random.PRNGKey(2), 10, d)
    basis, rest = q[:4], q[4:]
    w = jax.random.normal(jax.random.PRNGKey(3), (30, 6)) @ rest  # in the orthogonal complement
    assert float(subspace_overlap(w, basis[None])) == pytest.approx(0.0, abs=1e-12)


def test_subspace_overlap_random_weights(x64):
    """For Gaussian weights E c^2 = D/d, so M_W ~ sqrt(D/d) (0.354 at d = 64, D = 8)."""
    t = HierarchicalTarget(d=64)
    bases = t.subspaces(t.draw(jax.random.PRNGKey(0)))
    w = jax.random.normal(jax.random.PRNGKey(1), (20_000, 64))
    assert float(subspace_overlap(w, bases)) == pytest.approx(math.sqrt(8 / 64), abs=0.005)
    # the scale of each neuron does not matter
    scales = jnp.exp(jax.random.normal(jax.random.PRNGKey(2), (20_000, 1)))
    assert float(subspace_overlap(w * scales, bases)) == pytest.approx(
        float(subspace_overlap(w, bases)), rel=1e-10
    )


def test_subspace_overlap_known_values_and_branch_average(x64):
    """Two branches: neurons all in branch 0 -> per-branch values 1 and 0, mean 1/2; a neuron at 45 degrees
    between the two subspaces has c = 1/sqrt(2) for both."""
    d = 10
    q = _orthonormal_rows(jax.random.PRNGKey(4), 4, d)
    bases = q.reshape(2, 2, d)
    w0 = jax.random.normal(jax.random.PRNGKey(5), (7, 2)) @ bases[0]
    assert float(subspace_overlap(w0, bases)) == pytest.approx(0.5, abs=1e-12)
    w45 = (bases[0, 0] + bases[1, 1])[None, :] * 3.0
    assert float(subspace_overlap(w45, bases)) == pytest.approx(1 / math.sqrt(2), abs=1e-12)
    # half the neurons inside branch 0, half orthogonal to everything: sqrt(mean c^2) = sqrt(1/2) for branch 0
    outside = _orthonormal_rows(jax.random.PRNGKey(6), d, d)  # any basis; project out the 4 directions
    perp = outside - (outside @ q.T) @ q
    w_mix = jnp.concatenate([w0[:3], perp[:3]])
    expected = 0.5 * (math.sqrt(0.5) + 0.0)
    assert float(subspace_overlap(w_mix, bases)) == pytest.approx(expected, abs=1e-10)
    # a zero neuron does not produce NaN
    assert np.isfinite(float(subspace_overlap(jnp.zeros((3, d)), bases)))


def test_feature_overlap(x64):
    n = 4000
    h = jax.random.normal(jax.random.PRNGKey(7), (n, 2))
    # columns of u are multiples (of either sign) of h_0 -> branch 0 cosine 1; h_1 independent -> ~0
    u = h[:, :1] * jnp.asarray([[2.0, -0.5, 7.0]])
    val = float(feature_overlap(u, h[:, :1]))
    assert val == pytest.approx(1.0, abs=1e-12)
    noise = jax.random.normal(jax.random.PRNGKey(8), (n, 50))
    assert float(feature_overlap(noise, h)) < 4 / math.sqrt(n)
    # mean over branches: u ~ h_0 only -> (1 + ~0) / 2
    assert float(feature_overlap(u, h)) == pytest.approx(0.5, abs=3 / math.sqrt(n))
    # uncentred cosine: a constant offset c0 lowers |cos| from 1 to ~ |c| / sqrt(c^2 + c0^2)
    cs = np.asarray([2.0, -0.5, 7.0])
    expected = math.sqrt(np.mean(cs**2 / (cs**2 + 25.0)))
    assert float(feature_overlap(u + 5.0, h[:, :1])) == pytest.approx(expected, abs=0.02)


def test_feature_overlap_known_angle(x64):
    n = 10_000
    a, b = jax.random.normal(jax.random.PRNGKey(9), (2, n))
    # exact Gram-Schmidt so the cosine is exactly cos(theta)
    b = b - (b @ a) / (a @ a) * a
    a, b = a / jnp.linalg.norm(a), b / jnp.linalg.norm(b)
    theta = 0.3
    u = jnp.stack([jnp.cos(theta) * a + jnp.sin(theta) * b, b], axis=1)  # cosines cos(theta) and 0
    expected = math.sqrt((math.cos(theta) ** 2 + 0.0) / 2)
    assert float(feature_overlap(u, a[:, None])) == pytest.approx(expected, abs=1e-10)


@pytest.fixture(scope="module")
def problem():
    t = HierarchicalTarget(d=9, sigma2="identity")
    inst = t.draw(jax.random.PRNGKey(0))
    train = t.sample(inst, jax.random.PRNGKey(1), 60)
    test = t.sample(inst, jax.random.PRNGKey(2), 80)
    return t, inst, train, test


def _params(kind: str, train):
    """Parameters for each learner type without training (evaluate only needs predict & features)."""
    key = jax.random.PRNGKey(3)
    if kind == "kernel":
        spec = KernelRidge()
        return spec, spec.fit(key, train.x, train.y)
    if kind == "two_layer":
        k1, k2, k3 = jax.random.split(key, 3)
        params = TwoLayerParams(
            w1=jax.random.normal(k1, (6, 9)), b1=jax.random.uniform(k2, (6,)), w2=jax.random.normal(k3, (6,))
        )
        return TwoLayer(p=6), params
    spec = LayerwiseThreeLayer(p1=8, p2=4) if kind == "layerwise" else JointThreeLayer(p1=8, p2=4)
    return spec, init_three_layer(key, 9, 8, 4, 1.0, jnp.float32)


@pytest.mark.parametrize(
    ("kind", "keys"),
    [
        ("kernel", set()),
        ("two_layer", {"overlap_w"}),
        ("layerwise", {"overlap_w", "overlap_h"}),
        ("joint", {"overlap_w", "overlap_h"}),
    ],
)
def test_evaluate_keys_and_values(problem, kind, keys):
    t, inst, train, test = problem
    spec, params = _params(kind, train)
    out = evaluate(t, inst, spec, params, train, test)
    assert set(out) == {"test_mse", "train_mse", "trivial_mse"} | keys
    pred_test = np.asarray(spec.predict(params, test.x))
    pred_train = np.asarray(spec.predict(params, train.x))
    np.testing.assert_allclose(
        float(out["test_mse"]), np.mean((pred_test - np.asarray(test.f)) ** 2), rtol=1e-5
    )
    np.testing.assert_allclose(
        float(out["train_mse"]), np.mean((pred_train - np.asarray(train.y)) ** 2), rtol=1e-5
    )
    np.testing.assert_allclose(float(out["trivial_mse"]), np.mean(np.asarray(test.f) ** 2), rtol=1e-5)
    if "overlap_w" in keys:
        expected = subspace_overlap(params.w1, t.subspaces(inst))
        assert float(out["overlap_w"]) == pytest.approx(float(expected), rel=1e-6)
        assert 0.0 < float(out["overlap_w"]) <= 1.0
    if "overlap_h" in keys:
        u = np.asarray(layer2_preactivation(params, test.x))
        hn = np.asarray(test.h)
        cos = (u.T @ hn) / (np.linalg.norm(u, axis=0)[:, None] * np.linalg.norm(hn, axis=0)[None, :])
        assert float(out["overlap_h"]) == pytest.approx(float(np.sqrt(np.mean(cos**2))), rel=1e-5)
        assert 0.0 <= float(out["overlap_h"]) <= 1.0
