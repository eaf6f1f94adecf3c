"""The layer-wise L-layer learner: L = 3 is the layer-wise 3-layer net (same numbers), gradients of every
stage's loss vs finite differences, the step scalings, recording, learning an easy target at L = 4."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from depthlab.learners import LayerwiseDeep, LayerwiseThreeLayer
from depthlab.learners.common import relu, ridge_readout
from depthlab.learners.deep import features_from, forward, init_deep, preactivation, upper_half_sse
from depthlab.learners.three_layer import init_three_layer


def _data(seed: int, n: int, d: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    y = np.tanh(x[:, 0] * x[:, 1]) + 0.5 * x[:, 2] ** 2 - 0.5 + 0.05 * rng.standard_normal(n)
    return jnp.asarray(x), jnp.asarray(y)


SMALL = {"p1": 24, "t1_coef": 2.0, "t2_coef": 0.5}


def test_init_matches_three_layer_at_l3(x64):
    key = jax.random.PRNGKey(3)
    p3 = init_three_layer(key, 6, 24, 10, 0.2, jnp.float64)
    pd = init_deep(key, 6, (24, 10), 0.2, jnp.float64)
    for a, b in [(p3.w1, pd.ws[0]), (p3.w2, pd.ws[1]), (p3.b1, pd.bs[0]), (p3.b2, pd.bs[1]), (p3.w3, pd.readout)]:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_l3_reproduces_layerwise_three_layer(x64):
    """Same hyperparameters, same key: the same trained parameters and predictions (float64 round-off)."""
    x, y = _data(0, 60, 6)
    key = jax.random.PRNGKey(7)
    three = LayerwiseThreeLayer(p2=10, **SMALL, reg1=0.01, reg2=0.1)
    deep = LayerwiseDeep(widths=(10,), **SMALL, reg1=0.01, reg2=0.1)
    assert deep.depth == 3
    p3 = jax.jit(three.fit)(key, x, y)
    pd = jax.jit(deep.fit)(key, x, y)
    for a, b in [(p3.w1, pd.ws[0]), (p3.w2, pd.ws[1]), (p3.w3, pd.readout)]:
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-8, atol=1e-10)
    xt, _ = _data(1, 30, 6)
    np.testing.assert_allclose(np.asarray(deep.predict(pd, xt)), np.asarray(three.predict(p3, xt)),
                               rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(np.asarray(deep.hidden_preactivation(pd, xt)),
                               np.asarray(three.hidden_preactivation(p3, xt)), rtol=1e-8, atol=1e-10)
    assert deep.record_schedule(6, 60, 10) == three.record_schedule(6, 60, 10)


def test_l3_recording_matches_layerwise_three_layer(x64):
    x, y = _data(2, 40, 5)
    key = jax.random.PRNGKey(1)
    three = LayerwiseThreeLayer(p2=8, **SMALL)
    deep = LayerwiseDeep(widths=(8,), **SMALL)

    def probe(p):
        return {"out": jnp.mean(three.predict(p, x) if hasattr(p, "w3") else deep.predict(p, x))}

    _, v3 = three.fit_recorded(key, x, y, probe, 6)
    _, vd = deep.fit_recorded(key, x, y, probe, 6)
    np.testing.assert_allclose(np.asarray(vd["out"]), np.asarray(v3["out"]), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("stage", [0, 1, 2])
def test_stage_gradients_vs_finite_differences(x64, stage):
    """The loss each stage differentiates (L = 4): its gradient in W_stage vs central differences."""
    x, y = _data(3, 12, 4)
    p = init_deep(jax.random.PRNGKey(0), 4, (6, 5, 3), 0.7, jnp.float64)
    a = features_from(p.ws[:stage], p.bs[:stage], x) if stage else x
    ups, ubs = p.ws[stage:], p.bs[stage:]
    g = np.asarray(jax.grad(upper_half_sse)(ups[0], ups, ubs, p.readout, a, y))
    w0 = np.asarray(ups[0])
    rng = np.random.default_rng(0)
    for _ in range(6):
        i, j = rng.integers(w0.shape[0]), rng.integers(w0.shape[1])
        h = 1e-6
        wp, wm = w0.copy(), w0.copy()
        wp[i, j] += h
        wm[i, j] -= h
        fd = (upper_half_sse(jnp.asarray(wp), ups, ubs, p.readout, a, y)
              - upper_half_sse(jnp.asarray(wm), ups, ubs, p.readout, a, y)) / (2 * h)
        assert float(fd) == pytest.approx(g[i, j], rel=1e-5, abs=1e-8)
    # the stage's loss is the full network's loss
    full = 0.5 * jnp.sum((forward(p, x) - y) ** 2)
    assert float(upper_half_sse(ups[0], ups, ubs, p.readout, a, y)) == pytest.approx(float(full), rel=1e-12)


def test_forward_and_preactivation_formula(x64):
    x, _ = _data(4, 5, 4)
    p = init_deep(jax.random.PRNGKey(2), 4, (6, 5, 3), 0.2, jnp.float64)
    h1 = x @ p.ws[0].T + p.bs[0]
    h2 = relu(h1) @ p.ws[1].T + p.bs[1]
    h3 = relu(h2) @ p.ws[2].T + p.bs[2]
    np.testing.assert_allclose(np.asarray(preactivation(p, x, 2)), np.asarray(h2), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(forward(p, x)), np.asarray(relu(h3) @ p.readout), rtol=1e-12)


def test_single_steps_follow_the_documented_scalings(x64):
    """One step per stage (t coefficients giving 1 step, full batch): W_1 moves by lr sqrt(p1)/eps^(L-1) g_1 and
    W_l by 4 lr sqrt(p_l)/(eps^(L-l) p_(l-1) q_l) g_l (g_1 / m, g_l / n; q_2 = 1, q_3 = mean relu(h_2)^2), each
    on the layers as trained below."""
    d, n = 4, 10
    x, y = _data(5, n, d)
    eps = 0.3
    spec = LayerwiseDeep(p1=6, widths=(5, 3), eps_init=eps, t1_coef=1e-9, t2_coef=1e-9, batch_fraction=1.0,
                         lr=0.01)
    key = jax.random.PRNGKey(4)
    kinit, *_ = jax.random.split(key, 4)
    p = init_deep(kinit, d, (6, 5, 3), eps, jnp.float64)
    got = spec.fit(key, x, y)
    ws = list(p.ws)
    widths = (6, 5, 3)
    for i in range(3):
        a = features_from(tuple(ws[:i]), p.bs[:i], x) if i else x
        ups = tuple(ws[i:])
        g = jax.grad(upper_half_sse)(ups[0], ups, p.bs[i:], p.readout, a, y) / n
        scale = (0.01 * math.sqrt(6) / eps**3 if i == 0
                 else 4 * 0.01 * math.sqrt(widths[i]) / (eps ** (3 - i) * widths[i - 1]))
        if i == 2:  # stages l >= 3 divide by the mean square of their frozen inputs
            scale = scale / float(jnp.mean(a * a))
        ws[i] = ws[i] - scale * g
        np.testing.assert_allclose(np.asarray(got.ws[i]), np.asarray(ws[i]), rtol=1e-10, atol=1e-12)


def test_four_layer_learns_an_easy_target():
    """L = 4 on y = tanh(x_0 x_1) + 0.5 (x_2^2 - 1): test MSE well below the variance of y (float32, the default)."""
    d = 6
    x, y = _data(6, 600, d)
    xt, yt = _data(7, 400, d)
    x, y, xt, yt = (jnp.asarray(a, jnp.float32) for a in (x, y, xt, yt))
    spec = LayerwiseDeep(p1=128, widths=(32, 32), t1_coef=15.0, t2_coef=3.0, ridge=1e-3)
    params = jax.jit(spec.fit)(jax.random.PRNGKey(0), x, y)
    mse = float(jnp.mean((spec.predict(params, xt) - yt) ** 2))
    var = float(jnp.var(yt))
    assert mse < 0.5 * var, (mse, var)


def test_widths_and_depth():
    spec = LayerwiseDeep(widths=[50, 40, 30])
    assert spec.widths == (50, 40, 30) and spec.depth == 5
    with pytest.raises(ValueError, match="unresolved"):
        _ = spec.all_widths
    r = spec.resolve(32, 100, 1000)
    assert r.all_widths == (int(1000**0.9), 50, 40, 30)
    assert [s for s, _ in r.record_schedule(32, 100, 3)][0] == 0
    assert len(r._stages(32)) == 4
    assert r.flops(32, 200) > r.flops(32, 100) > 0


def test_deep_target_top_polynomial():
    """sigma_top: the top level uses P', the levels below P; unset it leaves every dump (cell identity) as
    before; only the deep family with >= 2 levels takes it."""
    from depthlab.targets import HierarchicalTarget
    from depthlab.targets.activations import get_activation

    base = {"family": "deep", "d": 32, "epsilon": (0.75, 0.5), "sigma1": "he2:unit"}
    t = HierarchicalTarget(**base, sigma_top="herm:0,0,0.5,0,0,0.3")
    assert "sigma_top" not in HierarchicalTarget(**base).model_dump()
    assert "sigma_top" not in HierarchicalTarget().model_dump(mode="json")
    assert HierarchicalTarget.model_validate(t.model_dump()) == t
    inst = t.draw(jax.random.PRNGKey(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (7, 32))
    h1, h2, h3 = t.levels(inst, x)
    p, q = get_activation("he2:unit"), get_activation("herm:0,0,0.5,0,0,0.3")
    b2, b3 = t.block_sizes
    want2 = (p(h1) * inst.signs[0]).reshape(7, -1, b2).sum(-1) / math.sqrt(b2)
    want3 = (q(want2) * inst.signs[1]).reshape(7, -1, b3).sum(-1) / math.sqrt(b3)
    np.testing.assert_allclose(np.asarray(h2), np.asarray(want2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(h3), np.asarray(want3), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="sigma_top"):
        HierarchicalTarget(family="sight", d=32, sigma_top="he2")


@pytest.mark.parametrize("make", [lambda: LayerwiseThreeLayer(p2=10, **SMALL, center_labels=True),
                                  lambda: LayerwiseDeep(widths=(10, 8), **SMALL, center_labels=True)],
                         ids=["layerwise", "layerwise_deep"])
def test_center_labels_makes_the_gd_stages_blind_to_a_label_shift(x64, make):
    """center_labels: the hidden layers trained on y + c equal those trained on y (they fit y - mean(y)), and
    those of the public-code learner trained on the centred labels; the readout fits the labels themselves."""
    learner = make()
    plain = learner.model_copy(update={"center_labels": False})
    x, y = _data(4, 60, 6)
    key = jax.random.PRNGKey(5)
    hidden = (lambda p: (p.w1, p.w2)) if isinstance(learner, LayerwiseThreeLayer) else (lambda p: p.ws)
    shifted = jax.jit(learner.fit)(key, x, y + 3.0)
    centred = jax.jit(learner.fit)(key, x, y)
    on_centred = jax.jit(plain.fit)(key, x, y - jnp.mean(y))
    for a, b, c in zip(hidden(shifted), hidden(centred), hidden(on_centred), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(np.asarray(a), np.asarray(c), rtol=1e-8, atol=1e-10)
    w_plain = hidden(jax.jit(plain.fit)(key, x, y + 3.0))[0]
    assert float(jnp.max(jnp.abs(w_plain - hidden(shifted)[0]))) > 1e-3  # without it, the shift moves W_1
    # the readout fits the labels themselves: shifting them by 3 adds the ridge fit of the constant 3
    readout = (lambda p: p.w3) if isinstance(learner, LayerwiseThreeLayer) else (lambda p: p.readout)
    feats = (relu(learner.hidden_preactivation(centred, x)) if isinstance(learner, LayerwiseThreeLayer)
             else features_from(centred.ws, centred.bs, x))  # H = relu(h_{L-1}) of the readout
    np.testing.assert_allclose(np.asarray(readout(shifted) - readout(centred)),
                               np.asarray(ridge_readout(feats, jnp.full_like(y, 3.0), learner.ridge)),
                               rtol=1e-7, atol=1e-9)


def test_center_labels_at_l3_matches_the_three_layer_net(x64):
    x, y = _data(6, 50, 5)
    key = jax.random.PRNGKey(2)
    p3 = jax.jit(LayerwiseThreeLayer(p2=8, **SMALL, center_labels=True).fit)(key, x, y + 1.0)
    pd = jax.jit(LayerwiseDeep(widths=(8,), **SMALL, center_labels=True).fit)(key, x, y + 1.0)
    for a, b in [(p3.w1, pd.ws[0]), (p3.w2, pd.ws[1]), (p3.w3, pd.readout)]:
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-8, atol=1e-10)


def test_an_option_at_its_earlier_value_keeps_the_identity():
    """center_labels = False (the numbers before the option existed) is left out of the learner's identity, so
    stored cells keep their keys; True is part of it, also inside a tuned learner's base."""
    from depthlab.learners.tuned import Tuned

    off, on = LayerwiseThreeLayer(p1=16), LayerwiseThreeLayer(p1=16, center_labels=True)
    assert "center_labels" not in off.identity() and on.identity()["center_labels"] is True
    assert off.identity() == off.model_dump(mode="json", exclude={"max_n", "center_labels"})
    assert "center_labels" not in LayerwiseDeep(p1=16).identity()
    tuned = Tuned(base=on, param="ridge", values=[0.1, 1.0])
    assert tuned.identity()["base"]["center_labels"] is True
    assert "center_labels" not in Tuned(base=off, param="ridge", values=[0.1, 1.0]).identity()["base"]
