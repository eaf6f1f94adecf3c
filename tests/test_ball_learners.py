"""Learners for ball indicators (Safran & Lee 2022): output-neuron and shallow-net gradients against jax.grad
and finite differences, the frozen hidden layer, learning on an easy instance, the erf kernel, the
classification-error metric, and the checks across d."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import ValidationError

from depthlab.analysis import AggregateRow
from depthlab.checks import BoundEveryDCheck, CheckContext, OrderingEveryDCheck
from depthlab.learners import KernelRidge, ShallowGD, TwoSigmoid
from depthlab.learners.kernels import erf_nngp
from depthlab.learners.shallow_gd import ShallowParams, shallow_gradient, shallow_loss
from depthlab.learners.two_sigmoid import output_gradient, output_loss
from depthlab.metrics import evaluate
from depthlab.targets import BallTarget


def _features(seed: int = 0, n: int = 50, p: int = 7):
    rng = np.random.default_rng(seed)
    a = np.concatenate([1 / (1 + np.exp(-rng.standard_normal((n, p)))), np.ones((n, 1))], axis=1)
    y = (rng.uniform(size=n) < 0.5).astype(float)
    return jnp.asarray(a), jnp.asarray(y), jnp.asarray(rng.standard_normal(p + 1))


@pytest.mark.parametrize(("loss", "output"), [("square", "sigmoid"), ("logistic", "sigmoid"), ("square", "linear")])
def test_output_gradient_matches_autodiff_and_finite_differences(x64, loss, output):
    a, y, theta = _features()
    g = np.asarray(output_gradient(theta, a, y, loss, output))
    np.testing.assert_allclose(g, np.asarray(jax.grad(output_loss)(theta, a, y, loss, output)), rtol=1e-10, atol=1e-13)
    eps = 1e-6
    for i in (0, 3, a.shape[1] - 1):
        e = jnp.zeros_like(theta).at[i].set(eps)
        fd = (output_loss(theta + e, a, y, loss, output) - output_loss(theta - e, a, y, loss, output)) / (2 * eps)
        assert float(fd) == pytest.approx(g[i], rel=1e-6, abs=1e-10)


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_shallow_gradient_matches_autodiff_and_finite_differences(x64, act):
    rng = np.random.default_rng(1)
    n, d, p = 40, 5, 6
    x, y = jnp.asarray(3 * rng.standard_normal((n, d))), jnp.asarray(rng.uniform(size=n))
    shapes = [(p, d), (p,), (p,), ()]
    prm = ShallowParams(*(jnp.asarray(rng.standard_normal(s)) for s in shapes), scale=jnp.asarray(0.7))
    g = shallow_gradient(prm, x, y, act)
    auto = jax.grad(shallow_loss)(prm, x, y, act)
    for name in ("w", "b", "u", "u0"):
        got, want = np.asarray(getattr(g, name)), np.asarray(getattr(auto, name))
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    eps = 1e-6
    for name, idx in (("w", (2, 3)), ("b", (4,)), ("u", (1,)), ("u0", ())):
        arr = getattr(prm, name)
        plus = prm._replace(**{name: arr.at[idx].add(eps)})
        minus = prm._replace(**{name: arr.at[idx].add(-eps)})
        fd = (shallow_loss(plus, x, y, act) - shallow_loss(minus, x, y, act)) / (2 * eps)
        assert float(fd) == pytest.approx(float(getattr(g, name)[idx]), rel=1e-6, abs=1e-10)


def test_frozen_hidden_layer_construction(x64):
    """frames: rows of orthogonal matrices in +-pairs with shared biases, norm weight_scale sqrt(d)/median||x||."""
    d, p = 4, 20
    x = jnp.asarray(np.random.default_rng(2).standard_normal((300, d)) * 5.0)
    spec = TwoSigmoid(p=p, weight_scale=0.7, bias_scale=2.0)
    w, b = (np.asarray(a) for a in spec.hidden(jax.random.PRNGKey(0), x))
    assert w.shape == (p, d) and b.shape == (p,)
    half = p // 2
    np.testing.assert_allclose(w[half:], -w[:half], atol=1e-14)
    np.testing.assert_array_equal(b[half:], b[:half])
    scale = 0.7 * math.sqrt(d) / np.median(np.linalg.norm(np.asarray(x), axis=1))
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), scale, rtol=1e-10)
    frame = w[:d] / scale  # the first frame: an orthonormal basis sharing one bias
    np.testing.assert_allclose(frame @ frame.T, np.eye(d), atol=1e-12)
    assert len(set(b[:d].tolist())) == 1 and np.all(np.abs(b) <= 2.0)


def _easy_problem(n: int = 2000, d: int = 8):
    t = BallTarget(d=d, radius_law="gaussian")
    inst = t.draw(jax.random.PRNGKey(0))
    sample = jax.jit(t.sample, static_argnums=2)
    return t, inst, sample(inst, jax.random.PRNGKey(1), n), sample(inst, jax.random.PRNGKey(2), 4000)


def test_depth2_learns_the_ball_and_beats_its_linear_ablation():
    t, inst, train, test = _easy_problem()
    out = {}
    specs = {"deep": TwoSigmoid(lr=32.0, steps=1500),
             "lin": TwoSigmoid(lr=1.0, steps=1500, output="linear", readout="lstsq")}
    for name, spec in specs.items():
        spec = spec.resolve(8, 2000, 2000)
        prm = jax.jit(spec.fit)(jax.random.PRNGKey(3), train.x, train.y)
        out[name] = {k: float(v) for k, v in evaluate(t, inst, spec, prm, train, test).items()}
    deep, lin = out["deep"], out["lin"]
    # no M_W: R^d is the subspace
    bands = {f"boundary_error_{b}" for b in ("q05", "q15", "q30", "far")}
    assert set(deep) == {"test_mse", "train_mse", "trivial_mse", "pred_corr", "class_error"} | bands
    assert deep["test_mse"] < 0.05 and deep["class_error"] < 0.06
    # the depth-2 net's errors sit at the boundary: most in the 5% of mass nearest the sphere, none far off
    assert deep["boundary_error_q05"] > 3 * deep["class_error"] and deep["boundary_error_far"] < 0.01
    assert lin["test_mse"] > 1.5 * deep["test_mse"]


def test_depth2_recorded_error_starts_at_a_quarter_and_falls_along_gd():
    """Recording along GD on the output neuron: step 0 is theta = 0, N = 1/2 everywhere, so the test MSE against
    a 0/1 target is exactly 1/4; it then falls (the ball is learnable) and the last point is the trained net."""
    t, inst, train, test = _easy_problem()
    spec = TwoSigmoid(lr=32.0, steps=600).resolve(8, 2000, 2000)

    def probe(prm):
        return {"test_mse": jnp.mean((spec.predict(prm, test.x) - test.f) ** 2)}

    prm, values = jax.jit(lambda k: spec.fit_recorded(k, train.x, train.y, probe, 8))(jax.random.PRNGKey(3))
    steps = [s for s, _ in spec.record_schedule(8, 2000, 8)]
    curve = np.asarray(values["test_mse"])
    assert steps[0] == 0 and steps[-1] == 600 and curve.shape == (len(steps),)
    assert curve[0] == pytest.approx(0.25, abs=1e-7)
    assert curve[-1] < 0.05 and curve[-1] < curve[len(curve) // 2] < curve[0]
    final = float(jnp.mean((spec.predict(jax.jit(spec.fit)(jax.random.PRNGKey(3), train.x, train.y), test.x)
                            - test.f) ** 2))
    assert curve[-1] == pytest.approx(final, rel=1e-5)


def test_lstsq_readout_is_the_least_squares_fit_on_the_same_features():
    t, inst, train, test = _easy_problem()
    lstsq = TwoSigmoid(output="linear", readout="lstsq").resolve(8, 2000, 2000)
    gd = TwoSigmoid(output="linear", lr=1.9, steps=300).resolve(8, 2000, 2000)
    p_ls = jax.jit(lstsq.fit)(jax.random.PRNGKey(3), train.x, train.y)
    p_gd = jax.jit(gd.fit)(jax.random.PRNGKey(3), train.x, train.y)
    np.testing.assert_array_equal(np.asarray(p_ls.w), np.asarray(p_gd.w))  # the same frozen features
    phi = np.asarray(jax.nn.sigmoid(train.x @ p_ls.w.T + p_ls.b), dtype=np.float64)
    a = np.column_stack([phi, np.ones(len(phi))])
    y = np.asarray(train.y, dtype=np.float64)
    best = np.mean((a @ np.linalg.lstsq(a, y, rcond=None)[0] - y) ** 2)
    mse = {k: float(np.mean((np.asarray(spec.predict(prm, train.x)) - y) ** 2))
           for k, spec, prm in (("ls", lstsq, p_ls), ("gd", gd, p_gd))}
    assert mse["ls"] == pytest.approx(best, rel=1e-2) and mse["ls"] <= mse["gd"] + 1e-6
    with pytest.raises(ValidationError, match="needs output 'linear'"):
        TwoSigmoid(readout="lstsq")


def test_linear_ablation_rejects_unstable_steps():
    with pytest.raises(ValidationError, match="lr = 32.0 >= 2"):
        TwoSigmoid(output="linear", lr=32.0)
    with pytest.raises(ValidationError, match="width_power"):
        TwoSigmoid(width_power=-1)
    with pytest.raises(ValidationError, match="activation"):
        ShallowGD(activation="nope")


def test_shallow_gd_decreases_the_loss_and_stays_finite():
    t, inst, train, test = _easy_problem(n=1000)
    spec = ShallowGD(p=32, lr=0.05, steps=300)
    prm0 = spec.init(jax.random.PRNGKey(4), train.x)
    prm = jax.jit(spec.fit)(jax.random.PRNGKey(4), train.x, train.y)
    before = float(shallow_loss(prm0, train.x, train.y, "sigmoid"))
    after = float(shallow_loss(prm, train.x, train.y, "sigmoid"))
    assert np.isfinite(after) and after < 0.8 * before
    assert float(prm.scale) == pytest.approx(float(prm0.scale))  # the input scale is not trained


def test_class_error_metric(x64):
    t, inst, train, test = _easy_problem(n=50)
    spec = TwoSigmoid(p=4, steps=1)
    prm = spec.fit(jax.random.PRNGKey(0), train.x, train.y)
    pred = np.asarray(spec.predict(prm, test.x))
    out = evaluate(t, inst, spec, prm, train, test)
    f = np.asarray(test.f)
    assert float(out["class_error"]) == pytest.approx(np.mean((pred > 0.5) != (f > 0.5)))


def test_erf_nngp_matches_a_wide_random_erf_layer(x64):
    d, m, scale = 5, 400_000, 0.5
    x = jnp.asarray(np.random.default_rng(5).standard_normal((4, d)) * np.array([[0.3], [1.0], [2.0], [6.0]]))
    kw, kb = jax.random.split(jax.random.PRNGKey(1))
    w = jax.random.normal(kw, (m, d)) / math.sqrt(scale * d)
    b = jax.random.normal(kb, (m,))
    h = jax.scipy.special.erf(x @ w.T + b)
    np.testing.assert_allclose(np.asarray(h @ h.T / m), np.asarray(erf_nngp(x, x, scale)), atol=6e-3)
    assert KernelRidge(kernel="erf_nngp").chosen_solver(d, 100) == "dual"


def _row(method: str, d: int, kappa: float, mse: float) -> AggregateRow:
    return AggregateRow("p", method, d, int(d**kappa), kappa, 3, 0, {"test_mse_median": mse})


def test_checks_across_every_d():
    rows = [
        _row("deep", 8, 1.5, 0.2), _row("deep", 8, 3.0, 0.03), _row("deep", 16, 3.0, 0.04),
        _row("shallow", 8, 3.0, 0.15), _row("shallow", 16, 3.0, 0.06),
    ]
    ctx = CheckContext(rows=rows, references={})
    ok = BoundEveryDCheck(name="b", method="deep", op="<", value=0.05).evaluate(ctx)
    assert ok.passed and ok.measured == {"d8": 0.03, "d16": 0.04}
    bad = BoundEveryDCheck(name="b", method="shallow", op=">", value=0.1).evaluate(ctx)
    assert not bad.passed and "d=16: 0.06 (!)" in bad.detail
    assert OrderingEveryDCheck(name="o", methods=["deep", "shallow"], factor=1.4).evaluate(ctx).passed
    assert not OrderingEveryDCheck(name="o", methods=["deep", "shallow"], factor=2.0).evaluate(ctx).passed
    with pytest.raises(LookupError):
        BoundEveryDCheck(name="b", method="nope", value=1.0).evaluate(ctx)
