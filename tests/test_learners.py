"""Learners: ridge readout, kernel ridge, gradients, stage updates, minibatching, resolve, determinism."""

from __future__ import annotations

import math
from itertools import combinations_with_replacement

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import ValidationError

from depthlab.learners import JointThreeLayer, KernelRidge, LayerwiseThreeLayer, TwoLayer
from depthlab.learners.common import (
    batch_size,
    minibatch,
    minibatch_loop,
    num_steps,
    relu,
    ridge_readout,
    uniform_bias,
)
from depthlab.learners.kernel_ridge import polynomial_kernel
from depthlab.learners.three_layer import (
    _layer2_half_sse,
    forward,
    half_sse,
    init_three_layer,
    layer1_features,
    layer2_preactivation,
)
from depthlab.learners.two_layer import TwoLayerParams, two_layer_forward
from depthlab.metrics import subspace_overlap
from depthlab.targets import HierarchicalTarget

_init3 = jax.jit(init_three_layer, static_argnums=(1, 2, 3, 4, 5))


def _np(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _data(seed: int, n: int, d: int):
    """Inputs and labels from numpy (no JAX compilation), as float64 JAX arrays (tests run under x64)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, d - 1] + 0.1 * rng.standard_normal(n)
    return jnp.asarray(x), jnp.asarray(y)


def _assert_deterministic(fit, params, x, y, key) -> None:
    """(h) the same key gives bit-identical parameters (also when jitted); another key differs."""
    again = fit(key, x, y)
    for u, v in zip(params, again, strict=True):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-12, atol=1e-14)
    again2 = fit(key, x, y)
    for u, v in zip(again, again2, strict=True):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    other = fit(jax.random.fold_in(key, 1), x, y)
    assert not np.allclose(np.asarray(other.w1), np.asarray(params.w1))


# ---- (a) ridge readout ---------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "p", "lam"), [(40, 7, 1.0), (25, 30, 0.01)])
def test_ridge_readout_matches_direct_solve(x64, n, p, lam):
    rng = np.random.default_rng(0)
    hn, yn = rng.standard_normal((n, p)), rng.standard_normal(n)
    w = _np(ridge_readout(jnp.asarray(hn), jnp.asarray(yn), lam))
    ref = np.linalg.solve(hn.T @ hn + lam * n * np.eye(p), hn.T @ yn)
    np.testing.assert_allclose(w, ref, rtol=1e-9, atol=1e-12)
    # first-order optimality of ||Hw - y||^2 + lam n ||w||^2
    grad = hn.T @ (hn @ w - yn) + lam * n * w
    assert np.max(np.abs(grad)) < 1e-9 * max(1.0, np.max(np.abs(hn.T @ yn)))


# ---- (b) kernel ridge ----------------------------------------------------------------------------
@pytest.mark.parametrize(("degree", "scale", "ridge"), [(2, 1.0, 0.05), (3, 2.0, 0.3)])
def test_kernel_ridge_matches_dense_numpy(x64, degree, scale, ridge):
    n, d = 30, 5
    x, y = _data(2, n, d)
    xt, _ = _data(3, 11, d)
    spec = KernelRidge(degree=degree, scale=scale, ridge=ridge, solver="dual")
    params = jax.jit(spec.fit)(jax.random.PRNGKey(0), x, y)
    pred = _np(jax.jit(spec.predict)(params, xt))
    xn, yn, xtn = _np(x), _np(y), _np(xt)

    def kern(a, b):
        g = a @ b.T / scale
        return sum(g**j for j in range(degree + 1))

    if degree == 2 and scale == 1.0:
        g = xn @ xn.T
        np.testing.assert_allclose(kern(xn, xn), g**2 + g + 1, rtol=1e-12)
    alpha = np.linalg.solve(kern(xn, xn) + ridge * n * np.eye(n), yn)
    np.testing.assert_allclose(_np(params.alpha), alpha, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(pred, kern(xtn, xn) @ alpha, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(_np(polynomial_kernel(xt, x, degree, scale)), kern(xtn, xn), rtol=1e-12)


# ---- (c) gradients vs finite differences ---------------------------------------------------------
def _central_fd(fun, w: np.ndarray, step: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(w)
    for idx in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[idx] = step
        g[idx] = (fun(w + e) - fun(w - e)) / (2 * step)
    return g


def _tiny_three_layer():
    d, p1, p2, n = 4, 5, 3, 7
    params = _init3(jax.random.PRNGKey(3), d, p1, p2, 1.0, jnp.float64)
    x, y = _data(4, n, d)
    return params, x, y


def test_three_layer_forward_formula(x64):
    params, x, y = _tiny_three_layer()
    xn = _np(x)
    h1 = np.maximum(xn @ _np(params.w1).T + _np(params.b1), 0)
    u = h1 @ _np(params.w2).T + _np(params.b2)
    out = np.maximum(u, 0) @ _np(params.w3)
    np.testing.assert_allclose(_np(layer1_features(params, x)), h1, atol=1e-14)
    np.testing.assert_allclose(_np(layer2_preactivation(params, x)), u, atol=1e-14)
    np.testing.assert_allclose(_np(forward(params, x)), out, atol=1e-14)
    r = out - _np(y)
    assert float(half_sse(params, x, y)) == pytest.approx(0.5 * np.sum(r * r), rel=1e-13)


@pytest.mark.parametrize("field", ["w1", "w2", "w3"])
def test_three_layer_gradient_vs_finite_differences(x64, field):
    params, x, y = _tiny_three_layer()
    w0 = _np(getattr(params, field))

    loss_of = jax.jit(lambda w: half_sse(params._replace(**{field: w}), x, y))

    def loss(w):
        return float(loss_of(jnp.asarray(w)))

    auto = _np(jax.grad(loss_of)(jnp.asarray(w0)))
    fd = _central_fd(loss, w0)
    assert np.max(np.abs(auto)) > 1e-3  # non-trivial gradient
    np.testing.assert_allclose(auto, fd, rtol=1e-5, atol=1e-7)


def test_layer2_loss_equals_full_loss_and_gradient(x64):
    params, x, y = _tiny_three_layer()
    h1 = layer1_features(params, x)
    assert float(_layer2_half_sse(params.w2, params.b2, params.w3, h1, y)) == pytest.approx(
        float(half_sse(params, x, y)), rel=1e-13
    )
    g_full = jax.grad(half_sse)(params, x, y).w2
    g_l2 = jax.grad(_layer2_half_sse)(params.w2, params.b2, params.w3, h1, y)
    np.testing.assert_allclose(_np(g_l2), _np(g_full), rtol=1e-12, atol=1e-14)


def test_two_layer_gradient_vs_finite_differences(x64):
    d, p, n = 4, 6, 7
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(6), 3)
    params = TwoLayerParams(
        w1=jax.random.normal(k1, (p, d)) / 2,
        b1=uniform_bias(k2, (p,), 1.0, jnp.float64),
        w2=jax.random.normal(k3, (p,)),
    )
    x, y = _data(7, n, d)
    np.testing.assert_allclose(
        _np(two_layer_forward(params, x)),
        np.maximum(_np(x) @ _np(params.w1).T + _np(params.b1), 0) @ _np(params.w2),
        atol=1e-14,
    )

    @jax.jit
    def loss(w1):
        r = two_layer_forward(params._replace(w1=w1), x) - y
        return 0.5 * jnp.sum(r * r)

    auto = _np(jax.grad(loss)(params.w1))
    fd = _central_fd(lambda w: float(loss(jnp.asarray(w))), _np(params.w1))
    assert np.max(np.abs(auto)) > 1e-3
    np.testing.assert_allclose(auto, fd, rtol=1e-5, atol=1e-7)


# ---- (d) stage updates ---------------------------------------------------------------------------
def test_layerwise_readout_is_ridge_on_final_features(x64):
    """After fit, w3 is the ridge readout on the final hidden features; with data='fresh' the readout
    uses only the last third of the samples (and W1, W2 move away from their initialisation)."""
    n, d, p1, p2 = 31, 4, 10, 5
    x, y = _data(11, n, d)
    spec = LayerwiseThreeLayer(p1=p1, p2=p2, data="fresh", ridge=0.1)
    fit = jax.jit(spec.fit)
    key = jax.random.PRNGKey(1)
    params = fit(key, x, y)
    _assert_deterministic(fit, params, x, y, key)
    s = n // 3
    readout = jax.jit(lambda prm, xs, ys: ridge_readout(relu(layer2_preactivation(prm, xs)), ys, 0.1))
    np.testing.assert_allclose(_np(params.w3), _np(readout(params, x[2 * s :], y[2 * s :])), rtol=1e-9, atol=1e-12)
    assert not np.allclose(_np(params.w3), _np(readout(params, x, y)), rtol=1e-3)
    init = _init3(jax.random.split(key, 3)[0], d, p1, p2, 0.2, jnp.float64)
    assert not np.allclose(_np(params.w1), _np(init.w1))
    assert not np.allclose(_np(params.w2), _np(init.w2))
    np.testing.assert_array_equal(_np(params.b1), _np(init.b1))  # biases are never trained
    np.testing.assert_array_equal(_np(params.b2), _np(init.b2))
    with pytest.raises(ValueError, match="too small"):
        jax.jit(LayerwiseThreeLayer(p1=p1, p2=p2, data="fresh").fit)(key, x[:5], y[:5])


def test_layerwise_single_step_updates(x64):
    """One minibatch step per stage, recomputed by hand from the documented update rules.

    Stage 1: W1 -= lr (sqrt(p1) grad/m / eps^2);  stage 2: W2 -= 4 lr sqrt(p2) (grad/n) / (eps p1)
    (the /n public-code quirk);  stage 3: ridge readout.
    """
    n, d, p1, p2 = 20, 4, 9, 5
    x, y = _data(12, n, d)
    spec = LayerwiseThreeLayer(
        p1=p1, p2=p2, t1_coef=0.1, t2_coef=0.01, batch_fraction=0.5, sampler="permutation", lr=0.7, ridge=0.2
    )
    # int(0.1 ln 4) = 0 and int(0.01 * 8) = 0 iterations -> max(1, 0) = 1 step per stage
    assert num_steps(int(0.1 * math.log(d)), 0.5) == 1 and num_steps(int(0.01 * d**1.5), 0.5) == 1
    key = jax.random.PRNGKey(42)
    params = jax.jit(spec.fit)(key, x, y)
    m = batch_size(n, 0.5)
    assert m == 10

    @jax.jit
    def by_hand(key, x, y):
        kinit, k1, k2 = jax.random.split(key, 3)
        p0 = init_three_layer(kinit, d, p1, p2, 0.2, x.dtype)
        idx1 = minibatch(jax.random.fold_in(k1, 0), n, m)
        g1 = jax.grad(lambda w: half_sse(p0._replace(w1=w), x[idx1], y[idx1]))(p0.w1) / m
        w1 = p0.w1 - 0.7 * (math.sqrt(p1) * g1 / 0.2**2)
        h1 = layer1_features(p0._replace(w1=w1), x)
        idx2 = minibatch(jax.random.fold_in(k2, 0), n, m)
        g2 = jax.grad(_layer2_half_sse)(p0.w2, p0.b2, p0.w3, h1[idx2], y[idx2]) / n  # / n, not / m
        w2 = p0.w2 - 4 * 0.7 * (math.sqrt(p2) * g2 / (0.2 * p1))
        pb = p0._replace(w1=w1, w2=w2)
        return pb._replace(w3=ridge_readout(relu(layer2_preactivation(pb, x)), y, 0.2))

    expected = by_hand(key, x, y)
    for name in ("w1", "w2", "w3", "b1", "b2"):
        np.testing.assert_allclose(
            _np(getattr(params, name)), _np(getattr(expected, name)), rtol=1e-9, atol=1e-12, err_msg=name
        )


def test_joint_single_step_update(x64):
    n, d, p1, p2 = 20, 4, 9, 5
    x, y = _data(13, n, d)
    spec = JointThreeLayer(
        p1=p1, p2=p2, t2_coef=0.01, batch_fraction=0.5, sampler="permutation", reg1=0.1, reg2=0.3, reg3=0.2
    )
    key = jax.random.PRNGKey(7)
    fit = jax.jit(spec.fit)
    params = fit(key, x, y)
    _assert_deterministic(fit, params, x, y, key)
    m = batch_size(n, 0.5)

    @jax.jit
    def by_hand(key, x, y):
        kinit, kb = jax.random.split(key)
        p0 = init_three_layer(kinit, d, p1, p2, 0.2, x.dtype)
        idx = minibatch(jax.random.fold_in(kb, 0), n, m)
        g = jax.grad(half_sse)(p0, x[idx], y[idx])
        c, eps = 0.15, 0.2
        return p0._replace(
            w1=p0.w1 - c * (math.sqrt(p1) * (g.w1 / m) / eps**2 + 0.1 * p0.w1),
            w2=p0.w2 - c * (math.sqrt(p2) * (g.w2 / n) / (eps * p1) + 0.3 * d**-1.5 * p0.w2),
            w3=p0.w3 - c * ((g.w3 / n) / (eps * p2) + 0.2 * p0.w3),
        )

    expected = by_hand(key, x, y)
    for name in ("w1", "w2", "w3", "b1", "b2"):
        np.testing.assert_allclose(
            _np(getattr(params, name)), _np(getattr(expected, name)), rtol=1e-10, atol=1e-13, err_msg=name
        )


def test_two_layer_single_full_batch_step(x64):
    n, d, p = 15, 4, 8
    x, y = _data(14, n, d)
    spec = TwoLayer(p=p, t_coef=0.01, batch_fraction=1.0, lr=0.5, reg=0.05, ridge=0.3)
    key = jax.random.PRNGKey(9)
    fit = jax.jit(spec.fit)
    params = fit(key, x, y)
    _assert_deterministic(fit, params, x, y, key)

    @jax.jit
    def by_hand(key, x, y):
        k1, k2, k3, _ = jax.random.split(key, 4)
        w1_0 = jax.random.normal(k1, (p, d), x.dtype) / math.sqrt(d)
        b1 = uniform_bias(k2, (p,), 1.0, x.dtype)
        w2_0 = 0.2 * jax.random.normal(k3, (p,), x.dtype) / math.sqrt(p)
        p0 = TwoLayerParams(w1_0, b1, w2_0)

        def loss(w1):
            r = two_layer_forward(p0._replace(w1=w1), x) - y
            return 0.5 * jnp.sum(r * r)

        g = jax.grad(loss)(w1_0) / n
        w1 = w1_0 - 0.5 * (math.sqrt(p) * g / 0.2 + 0.05 * w1_0)
        return TwoLayerParams(w1, b1, ridge_readout(relu(x @ w1.T + b1), y, 0.3))

    expected = by_hand(key, x, y)
    for name in ("w1", "b1", "w2"):
        np.testing.assert_allclose(
            _np(getattr(params, name)), _np(getattr(expected, name)), rtol=1e-9, atol=1e-12, err_msg=name
        )


def test_init_three_layer_scales():
    d, p1, p2 = 50, 400, 300
    p = _init3(jax.random.PRNGKey(0), d, p1, p2, 0.2, jnp.float32)
    assert p.w1.shape == (p1, d) and p.w2.shape == (p2, p1) and p.w3.shape == (p2,)
    assert float(jnp.var(p.w1)) == pytest.approx(1 / d, rel=0.05)
    assert float(jnp.var(p.w2)) == pytest.approx(0.04 / p1, rel=0.05)
    assert float(jnp.max(jnp.abs(p.b1))) <= 1.0 and float(jnp.max(jnp.abs(p.b1))) > 0.9
    assert float(jnp.max(jnp.abs(p.b2))) <= 0.2 and float(jnp.max(jnp.abs(p.b2))) > 0.18


# ---- (e) minibatch loop --------------------------------------------------------------------------
def _checking_body(n: int, m: int):
    """Carry = (counts per row, number of calls, all-batches-ok flag)."""

    def body(carry, batch):
        counts, calls, ok = carry
        ids, twice = batch
        idx = ids.astype(jnp.int32)
        in_range = jnp.all((ids >= 0) & (ids < n) & (ids == jnp.round(ids)))
        rows_aligned = jnp.all(twice == 2 * ids)  # the arrays of ``data`` are indexed consistently
        c = jnp.zeros(n, jnp.int32).at[idx].add(1)
        distinct = (jnp.max(c) == 1) & (jnp.sum(c) == m) & (ids.shape[0] == m)
        return counts + c, calls + 1, ok & in_range & rows_aligned & distinct

    return body


@pytest.mark.parametrize("sampler", ["window", "permutation"])
@pytest.mark.parametrize(("n", "m", "steps"), [(10, 3, 2003), (9, 4, 5), (13, 12, 16)])
def test_minibatch_loop_batches_are_distinct_rows(sampler, n, m, steps):
    """Each of the ``steps`` body calls sees m distinct rows of the data (same rows in every array), and
    every row is in a batch with probability m/n per step (counts ~ steps m/n)."""
    ids = jnp.arange(n, dtype=jnp.float32)
    data = (ids, 2 * ids)
    carry0 = (jnp.zeros(n, jnp.int32), jnp.asarray(0), jnp.asarray(True))
    counts, calls, ok = minibatch_loop(
        jax.random.PRNGKey(0), data, m, steps, _checking_body(n, m), carry0, sampler, reshuffle_every=16
    )
    assert int(calls) == steps
    assert bool(ok)
    assert int(counts.sum()) == steps * m
    expected = steps * m / n
    sd = math.sqrt(steps * (m / n) * (1 - m / n))
    assert np.max(np.abs(np.asarray(counts) - expected)) < 6 * sd + 1


def test_minibatch_loop_full_batch():
    n = 8
    ids = jnp.arange(n, dtype=jnp.float32)
    data = (ids, 2 * ids)
    carry0 = (jnp.zeros(n, jnp.int32), jnp.asarray(0), jnp.asarray(True))
    counts, calls, ok = minibatch_loop(jax.random.PRNGKey(0), data, n, 7, _checking_body(n, n), carry0)
    assert int(calls) == 7 and bool(ok)
    np.testing.assert_array_equal(np.asarray(counts), np.full(n, 7))


@pytest.mark.parametrize("sampler", ["window", "permutation"])
def test_minibatch_loop_batches_in_order(sampler):
    """The carry is threaded through the steps in order; 'permutation' takes randperm[:m] of
    fold_in(key, step) at every step; consecutive batches differ."""
    n, m, steps = 10, 4, 11
    ids = jnp.arange(n, dtype=jnp.float32)
    key = jax.random.PRNGKey(2)

    def body(carry, batch):
        i, record = carry
        return i + 1, record.at[i].set(batch[0])

    i, record = minibatch_loop(key, (ids,), m, steps, body, (0, jnp.zeros((steps, m))), sampler)
    record = np.asarray(record)
    assert int(i) == steps
    if sampler == "permutation":
        for step in range(steps):
            expected = np.asarray(minibatch(jax.random.fold_in(key, step), n, m), dtype=np.float32)
            np.testing.assert_array_equal(record[step], expected)
    batches = {tuple(sorted(r.tolist())) for r in record}
    assert len(batches) > steps // 2


def test_small_helpers():
    assert batch_size(10, 0.7) == 7
    assert batch_size(1, 0.7) == 1
    assert num_steps(62, 0.7) == 88  # paper notes: T_1 = 62 -> 88 steps at d = 64
    assert num_steps(2560, 0.7) == 3657
    assert num_steps(0, 0.7) == 1
    idx = np.asarray(minibatch(jax.random.PRNGKey(0), 20, 7))
    assert idx.shape == (7,) and len(set(idx.tolist())) == 7 and idx.min() >= 0 and idx.max() < 20
    np.testing.assert_array_equal(np.asarray(minibatch(jax.random.PRNGKey(0), 5, 9)), np.arange(5))


# ---- (f) learning an easy target -----------------------------------------------------------------
def test_kernel_ridge_learns_a_quadratic(x64):
    d, n = 5, 400
    rng = np.random.default_rng(21)

    def target(x):
        return x[:, 0] * x[:, 1] + x[:, 2] ** 2 - 1 + 0.5 * x[:, 3]

    x = rng.standard_normal((n, d))
    xt = rng.standard_normal((1000, d))
    spec = KernelRidge(ridge=1e-6)
    params = jax.jit(spec.fit)(jax.random.PRNGKey(0), jnp.asarray(x), jnp.asarray(target(x)))
    pred = np.asarray(jax.jit(spec.predict)(params, jnp.asarray(xt)))
    rel = float(np.mean((pred - target(xt)) ** 2) / np.mean(target(xt) ** 2))
    assert rel < 0.05
    # a large ridge shrinks the fit towards 0 (the error then approaches E f^2)
    big = KernelRidge(ridge=1e3)
    pred_big = np.asarray(jax.jit(big.predict)(jax.jit(big.fit)(None, jnp.asarray(x), jnp.asarray(target(x))), xt))
    assert np.mean((pred_big - target(xt)) ** 2) > 0.5 * np.mean(target(xt) ** 2)


def test_kernel_ridge_small_ridge_equals_least_squares_on_monomials(x64):
    """The degree-q kernel spans all monomials of degree <= q: ridge -> 0 gives ordinary least squares."""
    d, n = 4, 120
    x, y = _data(22, n, d)
    xt, _ = _data(23, 50, d)

    def monomials(a, q):
        a = np.asarray(a)
        cols = [np.ones(len(a))]
        for k in range(1, q + 1):
            for idx in combinations_with_replacement(range(a.shape[1]), k):
                cols.append(np.prod(a[:, list(idx)], axis=1))
        return np.column_stack(cols)

    for q in (2, 3):
        coef, *_ = np.linalg.lstsq(monomials(x, q), np.asarray(y), rcond=None)
        spec = KernelRidge(degree=q, ridge=1e-10)
        pred = np.asarray(jax.jit(spec.predict)(jax.jit(spec.fit)(jax.random.PRNGKey(0), x, y), xt))
        np.testing.assert_allclose(pred, monomials(xt, q) @ coef, rtol=1e-4, atol=1e-4)


def test_two_layer_learns_easy_single_index_target():
    t = HierarchicalTarget(d=9, sigma2="identity")
    inst = jax.jit(t.draw)(jax.random.PRNGKey(0))
    sample = jax.jit(t.sample, static_argnums=2)
    tr = sample(inst, jax.random.PRNGKey(1), 1000)
    te = sample(inst, jax.random.PRNGKey(2), 2000)
    spec = TwoLayer(p=64)
    params = jax.jit(spec.fit)(jax.random.PRNGKey(0), tr.x, tr.y)
    test_mse = float(jnp.mean((spec.predict(params, te.x) - te.f) ** 2))
    trivial = float(jnp.mean(te.f**2))
    assert trivial == pytest.approx(2 / 3, abs=0.1)
    assert test_mse < 0.5 * trivial
    # GD aligned W1 with span(W*): M_W far above its random level sqrt(D/d) (at initialisation)
    bases = t.subspaces(inst)
    random_level = math.sqrt(3 / 9)
    w1_init = jax.random.normal(jax.random.split(jax.random.PRNGKey(0), 4)[0], (64, 9))
    assert float(subspace_overlap(w1_init, bases)) == pytest.approx(random_level, abs=0.12)
    assert float(subspace_overlap(params.w1, bases)) > random_level + 0.2


# ---- (g) resolve ---------------------------------------------------------------------------------
def test_resolve_widths():
    spec = LayerwiseThreeLayer().resolve(d=64, n=10, n_max=9410)
    assert spec.p1 == int(9410**0.9) == 3769
    assert spec.width1 == 3769
    assert JointThreeLayer().resolve(d=64, n=10, n_max=9410).p1 == 3769
    assert TwoLayer().resolve(d=64, n=10, n_max=9410).p == int(3769 / 15) == 251
    assert TwoLayer(width_divisor=25).resolve(d=64, n=10, n_max=9410).p == 150
    # explicit widths are kept
    assert LayerwiseThreeLayer(p1=17).resolve(64, 10, 9410).p1 == 17
    assert TwoLayer(p=5).resolve(64, 10, 9410).p == 5
    # tiny n_max never gives width 0
    assert LayerwiseThreeLayer().resolve(4, 1, 1).p1 == 1
    assert TwoLayer().resolve(4, 1, 2).p == 1
    with pytest.raises(ValueError, match="unresolved"):
        _ = LayerwiseThreeLayer().width1
    with pytest.raises(ValueError, match="unresolved"):
        _ = TwoLayer().width


def test_learner_validation():
    with pytest.raises(ValidationError, match="batch_fraction"):
        LayerwiseThreeLayer(batch_fraction=0.0)
    with pytest.raises(ValidationError, match="batch_fraction"):
        TwoLayer(batch_fraction=1.5)
    with pytest.raises(ValidationError, match="delta"):
        JointThreeLayer(delta=1.0)
    with pytest.raises(ValidationError, match="p2_width"):
        LayerwiseThreeLayer(p2_width=3)
    with pytest.raises(ValidationError, match="ridge"):
        KernelRidge(ridge=0.0)


def test_kernel_primal_and_dual_solvers_agree(x64):
    from depthlab.learners.kernel_ridge import KernelRidge, num_features, polynomial_features, polynomial_kernel

    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.standard_normal((60, 4)))
    xt = jnp.asarray(rng.standard_normal((25, 4)))
    y = jnp.asarray(rng.standard_normal(60))
    for degree, scale in ((2, 1.0), (3, 2.0)):
        phi = polynomial_features(x, degree, scale)
        assert phi.shape == (60, num_features(4, degree))
        np.testing.assert_allclose(phi @ phi.T, polynomial_kernel(x, x, degree, scale), rtol=1e-10, atol=1e-10)
        preds = {}
        for solver in ("dual", "primal"):
            spec = KernelRidge(degree=degree, scale=scale, ridge=0.1, solver=solver)
            preds[solver] = spec.predict(spec.fit(jax.random.PRNGKey(0), x, y), xt)
        np.testing.assert_allclose(preds["primal"], preds["dual"], rtol=1e-8, atol=1e-10)
    auto = KernelRidge()
    assert auto.chosen_solver(64, 9410) == "primal" and auto.chosen_solver(64, 1000) == "dual"


def test_kernel_refuses_infeasible_size_up_front():
    from depthlab.learners.kernel_ridge import KernelRidge

    spec = KernelRidge(solver="dual", max_memory_gb=1.0)
    spec.check_feasible(64, 1000)
    with pytest.raises(ValueError, match=r"needs \d+\.\d GiB per trial"):
        spec.check_feasible(64, 100_000)
