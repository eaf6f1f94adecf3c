"""The Theorem-1 learner (Dandi et al. 2025, Alg. 1): spherical layer-1 steps, the preconditioned layer-2 step,
the correlation-loss gradient, the data split, and learning an easy SIGHT target."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from depthlab import metrics
from depthlab.learners import LearnerConfig, Theorem1ThreeLayer
from depthlab.learners.theorem1 import block_identity, correlation_loss, preconditioned_step
from depthlab.learners.three_layer import ThreeLayerParams, layer1_features
from depthlab.presets.dandi2025 import TARGET
from depthlab.targets import TargetConfig


def _data(d: int, n: int, seed: int = 0) -> tuple[jax.Array, jax.Array]:
    kx, ky = jax.random.split(jax.random.PRNGKey(seed))
    x = jax.random.normal(kx, (n, d))
    return x, jnp.tanh(x[:, 0] * x[:, 1] + 0.3 * jax.random.normal(ky, (n,)))


@pytest.mark.parametrize("batches", ["fresh", "shared"])
def test_rows_of_w1_stay_on_the_unit_sphere_after_every_step(batches):
    spec = Theorem1ThreeLayer(p1=12, p2=4, t1=7, eta1=50.0, batches=batches)  # large steps: far from w
    x, y = _data(6, 400)
    params = spec.init(jax.random.PRNGKey(3), 6, x.dtype)
    (xb, yb), _, _ = spec.parts(x, y)
    final, path = jax.jit(lambda p: spec.layer1(p, xb, yb, record=True))(params)
    assert path.shape == (7, 12, 6)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(path), axis=-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(final), np.asarray(path[-1]))
    assert np.abs(np.asarray(path[-1]) - np.asarray(params.w1)).max() > 0.1  # the steps moved the rows
    fitted = spec.fit(jax.random.PRNGKey(3), x, y)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(fitted.w1), axis=-1), 1.0, atol=1e-5)


def _params(rng: np.random.Generator, d: int, p1: int, p2: int, w2_zero: bool) -> ThreeLayerParams:
    w1 = rng.standard_normal((p1, d))
    return ThreeLayerParams(
        w1=jnp.asarray(w1 / np.linalg.norm(w1, axis=1, keepdims=True), jnp.float32),
        b1=jnp.asarray(rng.uniform(-1, 1, p1), jnp.float32),
        w2=jnp.zeros((p2, p1)) if w2_zero else jnp.asarray(rng.standard_normal((p2, p1)) / np.sqrt(p1), jnp.float32),
        b2=jnp.asarray(rng.uniform(0, 1, p2), jnp.float32),
        w3=jnp.asarray(rng.standard_normal(p2), jnp.float32),
    )


@pytest.mark.parametrize("w2_zero", [True, False])
def test_preconditioned_step_equals_a_direct_solve(w2_zero):
    """W_2 - eta grad L (Z^T Z/n + lambda I)^{-1}, with grad L written out by hand and the inverse by a solve
    in float64: grad_{W_2} L = -(1/(n sqrt(p2))) sum_x y(x) (w_3 * relu'(W_2 z + b_2)) z^T."""
    rng = np.random.default_rng(0)
    d, p1, p2, n, eta, lam = 5, 7, 3, 40, 0.8, 0.05
    p = _params(rng, d, p1, p2, w2_zero)
    x = jnp.asarray(rng.standard_normal((n, d)), jnp.float32)
    y = jnp.asarray(rng.standard_normal(n), jnp.float32)
    z = layer1_features(p, x)
    got = np.asarray(preconditioned_step(p, z, y, eta, lam), np.float64)

    z64, y64 = np.asarray(z, np.float64), np.asarray(y, np.float64)
    w2, b2, w3 = (np.asarray(a, np.float64) for a in (p.w2, p.b2, p.w3))
    active = (z64 @ w2.T + b2 > 0).astype(float)  # (n, p2)
    grad = -((y64[:, None] * active * w3[None, :]).T @ z64) / (n * math.sqrt(p2))  # (p2, p1)
    cov = z64.T @ z64 / n + lam * np.eye(p1)
    want = w2 - eta * np.linalg.solve(cov, grad.T).T  # cov symmetric: grad cov^{-1} = (cov^{-1} grad^T)^T
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    if w2_zero:  # every row is w_3j times the same ridge coefficients: rank one
        s = np.linalg.svd(got, compute_uv=False)
        assert s[1] < 1e-5 * s[0]


def test_correlation_loss_gradient_matches_finite_differences():
    """jax.grad of L = -(1/m) sum y f(x) in W_1 and W_2 against central differences (float64)."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(1)
        d, p1, p2, n = 4, 5, 3, 30
        p = ThreeLayerParams(*(jnp.asarray(np.asarray(a), jnp.float64) for a in _params(rng, d, p1, p2, False)))
        x = jnp.asarray(rng.standard_normal((n, d)))
        y = jnp.asarray(rng.standard_normal(n))
        for field in ("w1", "w2"):
            def loss(w, field=field):
                return correlation_loss(p._replace(**{field: w}), x, y)
            w0 = np.asarray(getattr(p, field))
            g = np.asarray(jax.grad(loss)(jnp.asarray(w0)))
            fd = np.zeros_like(w0)
            h = 1e-6
            for idx in np.ndindex(w0.shape):
                e = np.zeros_like(w0)
                e[idx] = h
                fd[idx] = (float(loss(jnp.asarray(w0 + e))) - float(loss(jnp.asarray(w0 - e)))) / (2 * h)
            np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8, err_msg=field)


def test_fresh_batches_are_disjoint_parts_of_the_samples():
    """'fresh': changing only the readout samples changes only w_3; changing only the layer-2 samples leaves W_1;
    'shared': every stage sees every sample."""
    spec = Theorem1ThreeLayer(p1=12, p2=4, t1=3)
    n, d = 200, 6
    x, y = _data(d, n)
    m1, n1, n2, n3 = spec.split(n)
    assert (m1, n1, n2, n3) == (46, 140, 40, 20)
    fit = jax.jit(spec.fit)
    key = jax.random.PRNGKey(0)
    base = fit(key, x, y)
    readout_only = fit(key, x, y.at[n1 + n2 :].add(1.0))
    for f in ("w1", "w2", "b1", "b2"):
        np.testing.assert_array_equal(np.asarray(getattr(base, f)), np.asarray(getattr(readout_only, f)))
    assert not np.allclose(np.asarray(base.w3), np.asarray(readout_only.w3))
    layer2_only = fit(key, x, y.at[n1 : n1 + n2].add(1.0))
    np.testing.assert_array_equal(np.asarray(base.w1), np.asarray(layer2_only.w1))
    assert not np.allclose(np.asarray(base.w2), np.asarray(layer2_only.w2))
    shared = Theorem1ThreeLayer(p1=12, p2=4, t1=3, batches="shared")
    assert shared.split(n) == (n, n, n, n)
    a, b = jax.jit(shared.fit)(key, x, y), jax.jit(shared.fit)(key, x, y.at[n - 1].add(1.0))
    assert not np.allclose(np.asarray(a.w1), np.asarray(b.w1))  # the last sample is a layer-1 sample too


def test_later_layers_not_reinitialised_keep_the_block_identity_plus_a_rank_one_step():
    spec = Theorem1ThreeLayer(p1=12, p2=4, t1=2, reinit_later=False)
    x, y = _data(6, 300)
    params = jax.jit(spec.fit)(jax.random.PRNGKey(0), x, y)
    delta = np.asarray(params.w2) - np.asarray(block_identity(4, 12, jnp.float32))
    s = np.linalg.svd(delta, compute_uv=False)
    assert s[0] > 1e-3 and s[1] < 1e-4 * s[0]


def test_bad_configurations_and_too_few_samples_are_refused():
    adapter = TypeAdapter(LearnerConfig)
    with pytest.raises(ValidationError, match="leaves no readout samples"):
        adapter.validate_python({"kind": "theorem1", "frac1": 0.8, "frac2": 0.2})
    with pytest.raises(ValidationError, match="p2 = 9 > p1 = 8"):
        adapter.validate_python({"kind": "theorem1", "p1": 8, "p2": 9})
    with pytest.raises(ValueError, match="every part needs >= 1 sample"):
        Theorem1ThreeLayer(t1=4).split(5)


def test_learns_an_easy_sight_target():
    """SIGHT at d = 16 (D = 4, random M_W level sqrt(D/d) = 0.5) with n = 16^3: 716 samples per layer-1 step
    (11 d^1.5, the theorem's d^{1+eps+delta} with delta ~ 0.9). M_W well above its random level, M_h clearly
    positive (a random second layer: ~0.05), and the error well below E f*^2."""
    d, n = 16, 4096
    target = TypeAdapter(TargetConfig).validate_python({**TARGET, "d": d})
    spec = Theorem1ThreeLayer(p1=128, p2=32)

    def run(key: jax.Array) -> dict[str, jax.Array]:
        k1, k2, k3, k4 = jax.random.split(key, 4)
        inst = target.draw(k1)
        train, test = target.sample(inst, k2, n), target.sample(inst, k3, 1000)
        return metrics.evaluate(target, inst, spec, spec.fit_task(k4, target, inst, train), train, test)

    out = jax.jit(run)(jax.random.PRNGKey(0))
    random_level = math.sqrt(int(d**0.5) / d)
    assert float(out["overlap_w"]) > max(0.85, 1.5 * random_level), out
    assert float(out["overlap_h"]) > 0.3, out
    assert float(out["test_mse"]) < 0.5 * float(out["trivial_mse"]), out
