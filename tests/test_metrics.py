"""Metrics: subspace overlap M_W, feature overlap M_h, and evaluate()."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from depthlab.learners import JointThreeLayer, KernelRidge, LayerwiseThreeLayer, TwoLayer
from depthlab.learners.three_layer import ThreeLayerParams
from depthlab.learners.two_layer import TwoLayerParams
from depthlab.metrics import evaluate, feature_overlap, mse, subspace_overlap, subspace_overlap_per_branch
from depthlab.targets import HierarchicalTarget

# jitted once per shape: far cheaper than op-by-op dispatch for these small checks
_subspace_overlap = jax.jit(subspace_overlap)
_feature_overlap = jax.jit(feature_overlap)


def _orthonormal_rows(seed: int, rows: int, d: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, rows)))
    return q.T


def test_mse():
    assert float(mse(jnp.asarray([1.0, 2.0, 3.0]), jnp.asarray([1.0, 0.0, 0.0]))) == pytest.approx(13 / 3)


def test_subspace_overlap_in_span_is_one_and_orthogonal_is_zero(x64):
    d = 20
    q = _orthonormal_rows(2, 10, d)
    basis, rest = q[:4], q[4:]
    coef = np.random.default_rng(3).standard_normal((30, 6))
    w_in = coef[:, :4] @ basis  # every neuron lies in span(W*)
    w_out = coef @ rest  # every neuron in the orthogonal complement
    assert float(_subspace_overlap(w_in, basis[None])) == pytest.approx(1.0, abs=1e-12)
    assert float(_subspace_overlap(w_out, basis[None])) == pytest.approx(0.0, abs=1e-12)
    # eager and jitted agree
    assert float(subspace_overlap(jnp.asarray(w_in), jnp.asarray(basis[None]))) == pytest.approx(1.0, abs=1e-12)


def test_subspace_overlap_random_weights(x64):
    """For Gaussian weights E c^2 = D/d, so M_W ~ sqrt(D/d) (0.354 at d = 64, D = 8)."""
    t = HierarchicalTarget(d=64)
    bases = t.subspaces(t.draw(jax.random.PRNGKey(0)))
    rng = np.random.default_rng(1)
    w = rng.standard_normal((20_000, 64))
    m = float(_subspace_overlap(w, bases))
    assert m == pytest.approx(math.sqrt(8 / 64), abs=0.005)
    # the scale of each neuron does not matter
    scales = np.exp(rng.standard_normal((20_000, 1)))
    assert float(_subspace_overlap(w * scales, bases)) == pytest.approx(m, rel=1e-10)


def test_subspace_overlap_known_values_and_branch_average(x64):
    """Two branches: neurons all in branch 0 -> per-branch values 1 and 0, mean 1/2; a neuron at 45 degrees
    between the two subspaces has c = 1/sqrt(2) for both."""
    d = 10
    q = _orthonormal_rows(4, 4, d)
    bases = q.reshape(2, 2, d)
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal((6, 2)) @ bases[0]
    assert float(_subspace_overlap(w0, bases)) == pytest.approx(0.5, abs=1e-12)
    np.testing.assert_allclose(subspace_overlap_per_branch(w0, bases), [1.0, 0.0], atol=1e-12)  # specialised
    w45 = np.repeat((bases[0, 0] + bases[1, 1])[None, :] * 3.0, 6, axis=0)
    assert float(_subspace_overlap(w45, bases)) == pytest.approx(1 / math.sqrt(2), abs=1e-12)
    # half the neurons inside branch 0, half orthogonal to everything: sqrt(mean c^2) = sqrt(1/2) for branch 0
    outside = rng.standard_normal((3, d))
    perp = outside - (outside @ q.T) @ q  # project out the 4 directions
    w_mix = np.concatenate([w0[:3], perp])
    expected = 0.5 * (math.sqrt(0.5) + 0.0)
    assert float(_subspace_overlap(w_mix, bases)) == pytest.approx(expected, abs=1e-10)
    # a zero neuron does not produce NaN
    assert np.isfinite(float(_subspace_overlap(np.zeros((6, d)), bases)))


def test_feature_overlap(x64):
    n = 4000
    rng = np.random.default_rng(7)
    h = rng.standard_normal((n, 2))
    # columns of u are multiples (of either sign) of h_0 -> branch 0 cosine 1; h_1 independent -> ~0
    cs = np.asarray([2.0, -0.5, 7.0])
    u = h[:, :1] * cs[None, :]
    assert float(_feature_overlap(u, h[:, :1])) == pytest.approx(1.0, abs=1e-12)
    noise = rng.standard_normal((n, 3))
    assert float(_feature_overlap(noise, h)) < 4 / math.sqrt(n)
    # mean over branches: u ~ h_0 only -> (1 + ~0) / 2
    assert float(_feature_overlap(u, h)) == pytest.approx(0.5, abs=3 / math.sqrt(n))
    # uncentred cosine: a constant offset c0 lowers |cos| from 1 to ~ |c| / sqrt(c^2 + c0^2)
    expected = math.sqrt(np.mean(cs**2 / (cs**2 + 25.0)))
    assert float(_feature_overlap(u + 5.0, h[:, :1])) == pytest.approx(expected, abs=0.02)


def test_feature_overlap_known_angle(x64):
    n = 4000
    a, b = np.random.default_rng(9).standard_normal((2, n))
    # exact Gram-Schmidt so the cosine is exactly cos(theta)
    b = b - (b @ a) / (a @ a) * a
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    theta = 0.3
    u = np.stack([np.cos(theta) * a + np.sin(theta) * b, b, -2 * a], axis=1)  # cosines cos(theta), 0, -1
    expected = math.sqrt((math.cos(theta) ** 2 + 0.0 + 1.0) / 3)
    assert float(_feature_overlap(u, a[:, None])) == pytest.approx(expected, abs=1e-10)


@pytest.fixture(scope="module")
def problem():
    t = HierarchicalTarget(d=9, sigma2="identity", noise=0.5)  # noise: train_mse uses y, the others f
    inst = jax.jit(t.draw)(jax.random.PRNGKey(0))
    sample = jax.jit(t.sample, static_argnums=2)
    train = sample(inst, jax.random.PRNGKey(1), 60)
    test = sample(inst, jax.random.PRNGKey(2), 80)
    assert not np.allclose(np.asarray(train.y), np.asarray(train.f))
    return t, inst, train, test


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def _params(kind: str, train):
    """Parameters for each learner type without training (evaluate only needs predict & features), and a
    numpy re-implementation of the prediction and of the first-layer weights / second-layer features."""
    rng = np.random.default_rng(3)
    if kind == "kernel":
        spec = KernelRidge(solver="dual")
        params = jax.jit(spec.fit)(jax.random.PRNGKey(3), train.x, train.y)
        xtr, alpha = np.asarray(params.x_train, np.float64), np.asarray(params.alpha, np.float64)

        def predict(x):
            g = x @ xtr.T
            return (g**2 + g + 1) @ alpha

        return spec, params, predict, None, None
    if kind == "two_layer":
        w1, b1, w2 = rng.standard_normal((6, 9)), rng.uniform(-1, 1, 6), rng.standard_normal(6)
        params = TwoLayerParams(*(jnp.asarray(a, jnp.float32) for a in (w1, b1, w2)))
        w1, b1, w2 = (np.asarray(a, np.float64) for a in params)
        return TwoLayer(p=6), params, lambda x: _relu(x @ w1.T + b1) @ w2, w1, None
    spec = LayerwiseThreeLayer(p1=8, p2=4) if kind == "layerwise" else JointThreeLayer(p1=8, p2=4)
    shapes = [(8, 9), (8,), (4, 8), (4,), (4,)]
    params = ThreeLayerParams(*(jnp.asarray(rng.standard_normal(sh), jnp.float32) for sh in shapes))
    w1, b1, w2, b2, w3 = (np.asarray(a, np.float64) for a in params)

    def u_of(x):
        return _relu(x @ w1.T + b1) @ w2.T + b2

    return spec, params, lambda x: _relu(u_of(x)) @ w3, w1, u_of


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
    spec, params, predict, w1, u_of = _params(kind, train)
    out = jax.jit(lambda prm, tr, te: evaluate(t, inst, spec, prm, tr, te))(params, train, test)
    assert set(out) == {"test_mse", "train_mse", "trivial_mse", "pred_corr"} | keys
    xtr, ytr = np.asarray(train.x, np.float64), np.asarray(train.y, np.float64)
    xte, fte, hte = (np.asarray(a, np.float64) for a in (test.x, test.f, test.h))
    np.testing.assert_allclose(float(out["test_mse"]), np.mean((predict(xte) - fte) ** 2), rtol=1e-4)
    np.testing.assert_allclose(float(out["train_mse"]), np.mean((predict(xtr) - ytr) ** 2), rtol=1e-4)
    np.testing.assert_allclose(float(out["trivial_mse"]), np.mean(fte**2), rtol=1e-5)
    np.testing.assert_allclose(float(out["pred_corr"]), np.corrcoef(predict(xte), fte)[0, 1], rtol=1e-4)
    if w1 is not None:
        bases = np.asarray(t.subspaces(inst), np.float64)[0]  # (D, d), one branch
        c2 = np.sum((w1 @ bases.T) ** 2, axis=1) / np.sum(w1**2, axis=1)
        assert float(out["overlap_w"]) == pytest.approx(math.sqrt(np.mean(c2)), rel=1e-5)
    if u_of is not None:
        u = u_of(xte)
        cos = (u.T @ hte) / (np.linalg.norm(u, axis=0)[:, None] * np.linalg.norm(hte, axis=0)[None, :])
        assert float(out["overlap_h"]) == pytest.approx(float(np.sqrt(np.mean(cos**2))), rel=1e-4)
        assert 0.0 < float(out["overlap_h"]) <= 1.0


def test_subspace_overlap_ignores_zero_neurons():
    from depthlab.metrics import subspace_overlap

    basis = jnp.eye(4)[None, :2]  # span(e1, e2) in R^4
    w = jnp.asarray([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 3.0]])
    assert abs(float(subspace_overlap(w, basis)) - (0.5) ** 0.5) < 1e-6  # RMS over the two live neurons


def test_pred_corr_is_scale_and_offset_free(x64):
    """pred_corr: Pearson correlation of prediction and f*: 1 for any affine image of f*, ~0 for noise."""
    import jax
    import jax.numpy as jnp

    from depthlab.metrics import REGISTRY, Trial
    from depthlab.targets.base import Batch

    f = jax.random.normal(jax.random.PRNGKey(0), (4000,))
    x = f[:, None]

    class Affine:
        def __init__(self, a, b):
            self.a, self.b = a, b

        def predict(self, params, x):
            return self.a * x[:, 0] + self.b

    test = Batch(x=x, y=f, f=f, z=x, h=x)
    corr = REGISTRY["pred_corr"].compute
    assert float(corr(Trial(None, None, Affine(0.1, 3.0), None, test, test))) == pytest.approx(1.0, abs=1e-12)
    assert float(corr(Trial(None, None, Affine(-2.0, 0.0), None, test, test))) == pytest.approx(-1.0, abs=1e-12)
    noise = Batch(x=jax.random.normal(jax.random.PRNGKey(1), (4000, 1)), y=f, f=f, z=x, h=x)
    assert abs(float(corr(Trial(None, None, Affine(1.0, 0.0), None, noise, noise)))) < 0.05
    assert jnp.isfinite(f).all()


def test_boundary_error_bins_the_errors_by_probability_mass_from_the_boundary():
    """A predictor wrong exactly on the inputs within radius band r +- 2% errs in the q05 band only (those
    inputs are the mass nearest the sphere), and a constant predictor errs on half of every band."""
    from depthlab.metrics import REGISTRY, Trial
    from depthlab.targets import BallTarget

    class Fixed:  # stands in for a fitted learner: predictions given per input
        capabilities = frozenset()

        def __init__(self, pred):
            self.pred = pred

        def predict(self, params, x):
            return self.pred

    t = BallTarget(d=8, radius_law="gaussian")
    inst = t.draw(jax.random.PRNGKey(0))
    test = t.sample(inst, jax.random.PRNGKey(1), 20000)
    rho = np.asarray(test.h[:, 0])
    near = np.abs(rho / float(inst.r) - 1) < 0.02
    pred = jnp.where(jnp.asarray(near), 1.0 - test.f, test.f)  # wrong exactly near the boundary
    out = np.asarray(REGISTRY["boundary_error"].compute(Trial(t, inst, Fixed(pred), None, test, test)))
    assert out[0] > 0.4 and out[1] == 0.0 and out[2] == 0.0 and out[3] == 0.0, out
    # the share of inputs within 2% of r is their probability mass, below the band's 10%
    assert out[0] == pytest.approx(near.mean() / np.mean(np.abs(np.searchsorted(np.sort(rho), rho) / rho.size
                                                                - 0.5) < 0.05), rel=0.05)
    half = np.asarray(REGISTRY["boundary_error"].compute(
        Trial(t, inst, Fixed(jnp.full_like(test.f, 0.6)), None, test, test)))  # predicts "inside" everywhere
    np.testing.assert_allclose(half, 0.5, atol=0.03)
