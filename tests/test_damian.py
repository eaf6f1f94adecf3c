"""Damian et al. 2022: multi-index target normalisation and Hessian, the one-step learner at a symmetric init,
transfer learning, and the sample-complexity exponent machinery."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import ValidationError

from depthlab import metrics
from depthlab.analysis import AggregateRow
from depthlab.checks import CheckContext, ExponentBoundCheck, ExponentOrderingCheck
from depthlab.exponents import Crossing, crossing, exponent, fit_exponent
from depthlab.learners import OneStep, Transfer
from depthlab.learners.one_step import first_step
from depthlab.presets import apply_overrides, get_preset
from depthlab.sweep import run_cell
from depthlab.sweep.grid import expand
from depthlab.targets import MultiIndexTarget


@pytest.mark.parametrize(
    "kw",
    [{"r": 3, "p": 3}, {"r": 2, "p": 4}, {"r": 3, "p": 3, "cond": 10.0}, {"r": 3, "p": 3, "head": "transfer"},
     {"r": 3, "p": 3, "head": "transfer_full", "cond": 4.0}],
)
def test_multi_index_target_has_zero_mean_unit_variance(kw):
    t = MultiIndexTarget(d=12, **kw)
    inst = t.draw(jax.random.PRNGKey(0))
    b = t.sample(inst, jax.random.PRNGKey(1), 400_000)
    f = np.asarray(b.f, dtype=np.float64)
    se = f.std() / math.sqrt(f.size)
    assert abs(f.mean()) < 5 * se
    assert abs(np.mean(f**2) - 1.0) < 5 * (f**2).std() / math.sqrt(f.size)
    np.testing.assert_allclose(inst.u @ inst.u.T, np.eye(t.r), atol=1e-5)  # orthonormal rows
    np.testing.assert_allclose(b.z, b.x @ inst.u.T, rtol=1e-5, atol=1e-5)


def test_source_head_is_the_notes_polynomial_and_its_hessian_has_rank_r(x64):
    t = MultiIndexTarget(d=10, r=3, p=3)
    inst = t.draw(jax.random.PRNGKey(3))
    z = jnp.asarray(np.random.default_rng(0).standard_normal((50, 3)))
    x = z @ inst.u  # U x = z for x in span(U)
    # notes: f*(z) = c [sum_k He2(z_k)/sqrt2 + z1 z2 z3 + He3(z1)/sqrt6], c = 1/sqrt(5)
    want = (np.sum((z**2 - 1) / math.sqrt(2), axis=1) + z[:, 0] * z[:, 1] * z[:, 2]
            + (z[:, 0] ** 3 - 3 * z[:, 0]) / math.sqrt(6)) / math.sqrt(5)
    from depthlab.targets.multi_index import hermite_poly

    np.testing.assert_allclose(hermite_poly(t.expansion(), x @ inst.u.T), want, rtol=1e-10)
    h = np.asarray(t.hessian(inst))
    # H = E grad^2 f* = sqrt(2/5) U^T U: rank r, its range is span(U)
    np.testing.assert_allclose(h, math.sqrt(2 / 5) * np.asarray(inst.u.T @ inst.u), atol=1e-12)
    assert np.linalg.matrix_rank(h, tol=1e-8) == 3
    # Monte-Carlo check of E grad^2 f* by the Gaussian identity E[f (x x^T - I)] = E grad^2 f
    b = t.sample(inst, jax.random.PRNGKey(4), 400_000)
    xs, fs = np.asarray(b.x), np.asarray(b.f)
    mc = (xs * fs[:, None]).T @ xs / len(fs) - fs.mean() * np.eye(10)
    assert np.max(np.abs(mc - h)) < 0.03
    assert MultiIndexTarget(d=10, r=3, p=3, head="no_hessian").hessian(inst).sum() == 0.0


@pytest.mark.parametrize(("head", "rank"), [("transfer", 2), ("transfer_full", 3)])
def test_transfer_heads_hessian_rank_decides_whether_scratch_is_within_the_theorem(head, rank, x64):
    t = MultiIndexTarget(d=10, r=3, p=3, head=head)
    inst = t.draw(jax.random.PRNGKey(3))
    h = np.asarray(t.hessian(inst))
    assert np.linalg.matrix_rank(h, tol=1e-8) == rank
    b = t.sample(inst, jax.random.PRNGKey(4), 400_000)  # Monte Carlo E[f (x x^T - I)] agrees with the closed form
    xs, fs = np.asarray(b.x), np.asarray(b.f)
    mc = (xs * fs[:, None]).T @ xs / len(fs) - fs.mean() * np.eye(10)
    assert np.max(np.abs(mc - h)) < 0.03


def test_reference_levels_are_exact_hermite_fractions():
    t = MultiIndexTarget(d=8, r=3, p=3, cond=4.0)
    ref = t.reference_levels()
    w = [4 ** (-k / 2) for k in range(3)]
    total = sum(c * c for c in w) + 2
    assert ref["trivial"] == 1.0 and ref["best_degree_1"] == pytest.approx(1.0)
    assert ref["best_degree_2"] == pytest.approx(2 / total)


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"r": 9, "d": 8}, "r"), ({"terms": [{"coef": 1.0, "degrees": [0, 0, 0]}]}, "constant"),
     ({"terms": [{"coef": 1.0, "degrees": [1, 1]}]}, "degrees"), ({"cond": 0.5}, "cond"),
     ({"head": "transfer", "r": 1}, "r >= 2"), ({"p": 1}, "p")],
)
def test_bad_multi_index_configs_name_the_problem(kw, field):
    with pytest.raises(ValidationError, match=field):
        MultiIndexTarget(**{"d": 8, **kw})


def test_symmetric_init_network_is_zero_and_the_step_is_minus_the_gradient(x64):
    rng = np.random.default_rng(5)
    x = jnp.asarray(rng.standard_normal((64, 6)))
    y = jnp.asarray(rng.standard_normal(64))
    psi = x / math.sqrt(6)
    half = 5
    s = jnp.asarray(rng.choice([-1.0, 1.0], half))
    c = jnp.asarray(rng.standard_normal(half))
    u = jnp.asarray(rng.standard_normal((half, 6)))
    a0, b0, w0 = jnp.concatenate([s, -s]), jnp.concatenate([c, c]), jnp.concatenate([u, u])

    def net(w):
        return jax.nn.relu(psi @ w.T + b0) @ a0

    np.testing.assert_allclose(net(w0), 0.0, atol=1e-14)  # f(theta_0) = 0 identically

    def loss(w):
        return 0.5 * jnp.mean((net(w) - y) ** 2)

    np.testing.assert_allclose(first_step(a0, b0, w0, psi, y), -jax.grad(loss)(w0), rtol=1e-10, atol=1e-14)


def test_one_step_with_sphere_init_matches_its_closed_form(x64):
    rng = np.random.default_rng(6)
    n, d, m = 16, 12, 6
    x = jnp.asarray(rng.standard_normal((n, d)))
    y = jnp.asarray(rng.standard_normal(n))
    spec = OneStep(width=m, features="input", init="sphere", eta1=0.5, redraw_bias=False, ridge=1e-2)
    key = jax.random.PRNGKey(1)
    p = spec.fit(key, x, y)
    # the initialisation, drawn with the learner's own keys: a = (s, -s), b = (c, c), w0 = (u, u) with
    # |u_i| = sqrt(d) in psi-coordinates, i.e. w0_i . psi(x) = (u_i/|u_i|) . x (unit sphere in x-space)
    _, kw, ka, kb, _ = jax.random.split(key, 5)
    s = np.asarray(jax.random.rademacher(ka, (m // 2,), dtype=x.dtype))
    c = np.asarray(jax.random.normal(kb, (m // 2,), x.dtype))
    u = np.asarray(jax.random.normal(kw, (m // 2, d), x.dtype))
    u = u * math.sqrt(d) / np.linalg.norm(u, axis=1, keepdims=True)
    a0, b0, w0 = np.concatenate([s, -s]), np.concatenate([c, c]), np.concatenate([u, u])
    x1, y1, x2, y2 = (np.asarray(v) for v in (x[:8], y[:8], x[8:], y[8:]))
    mu = (x1 / math.sqrt(d)).mean(axis=0)
    psi1, psi2 = x1 / math.sqrt(d) - mu, x2 / math.sqrt(d) - mu
    # closed form of the step with weight decay 1/eta_1: w_i = eta_1 a_i (1/n1) sum_j y_j 1{w0_i.psi_j + b_i > 0} psi_j
    act = (psi1 @ w0.T + b0 > 0).astype(float)
    w1 = 0.5 * a0[:, None] * ((act * y1[:, None]).T @ psi1) / 8
    np.testing.assert_allclose(p.w, w1, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(p.b, b0, rtol=1e-12)
    phi = np.maximum(psi2 @ w1.T + b0, 0)
    a = np.linalg.solve(phi.T @ phi + 1e-2 * 8 * np.eye(m), phi.T @ y2)  # ridge lambda n2 on the other half
    np.testing.assert_allclose(p.a, a, rtol=1e-8, atol=1e-12)


def test_transfer_pipeline_pretrains_on_the_source_and_fits_only_the_head(x64):
    t = MultiIndexTarget(d=12, r=3, p=3, head="transfer", source_head="source", source_coef=8.0)
    inst = t.draw(jax.random.PRNGKey(0))
    train = t.sample(inst, jax.random.PRNGKey(1), 300)
    test = t.sample(inst, jax.random.PRNGKey(2), 4000)
    spec = Transfer(width=512).bind(t)
    assert spec.n_source == 8 * 12**2 * 3
    key = jax.random.PRNGKey(3)
    p = spec.fit_task(key, t, inst, train)
    # the same computation by hand: one step on fresh source samples, then a head on the target samples
    src = t.sample_source(inst, jax.random.fold_in(key, 0x5EED), spec.n_source)
    q = spec.fit_transfer(key, src.x, src.y, train.x, train.y)
    np.testing.assert_allclose(p.w, q.w, rtol=1e-10)
    np.testing.assert_allclose(p.a, q.a, rtol=1e-8)
    # the source labels follow the source head (different from the target head)
    assert float(jnp.mean((src.f - t._sample(inst, jax.random.fold_in(key, 0x5EED), spec.n_source,
                                            t.expansion()).f) ** 2)) > 0.5
    # the pretrained layer points into span(U) and the head on 300 target samples learns the new task,
    # far better than the same algorithm from scratch on those 300 samples
    ov = float(metrics.subspace_overlap(p.w, t.subspaces(inst)))
    err = float(metrics.mse(spec.predict(p, test.x), test.f))
    scratch = OneStep(width=512, features="input", init="sphere")
    err_scratch = float(metrics.mse(scratch.predict(scratch.fit(key, train.x, train.y), test.x), test.f))
    assert ov > 0.85 > math.sqrt(3 / 12) + 0.3
    assert err < 0.3 and err < 0.5 * err_scratch
    with pytest.raises(TypeError, match="source"):
        spec.fit(key, train.x, train.y)
    with pytest.raises(ValueError, match="source"):
        MultiIndexTarget(d=12).sample_source(inst, key, 10)


def test_crossing_interpolates_in_log_n_and_reports_censoring():
    n, cens = crossing([100, 1000], [0.5, 0.1], 0.3)
    assert cens == "" and n == pytest.approx(10**2.5)
    assert crossing([10, 100], [0.05, 0.01], 0.3) == (10.0, "below")
    assert crossing([10, 100], [0.9, 0.8], 0.3) == (100.0, "above")
    assert crossing([10, 100, 1000], [0.1, 0.5, 0.9], 0.3, op=">")[0] == pytest.approx(10**1.5)


def _rows(method, law):
    """Synthetic medians: error 1 until n = law(d), then 0.01 -- on a fine grid."""
    out = []
    for d in (8, 16, 32):
        for k in np.linspace(1.0, 4.0, 61):
            n = int(d**k)
            row = AggregateRow("p", method, d, n, float(k), 3, 0, {"test_mse_median": 1.0 if n < law(d) else 0.01})
            out.append(row)
    return out


def test_exponent_fit_recovers_planted_slopes():
    rows = _rows("a", lambda d: 5 * d**2) + _rows("b", lambda d: 0.2 * d**3)
    assert exponent(rows, "a", 0.5).slope == pytest.approx(2.0, abs=0.08)
    assert exponent(rows, "b", 0.5).slope == pytest.approx(3.0, abs=0.08)
    ctx = CheckContext(rows, {d: {"trivial": 1.0} for d in (8, 16, 32)})
    assert ExponentOrderingCheck(name="o", methods=["a", "b"], threshold=0.5, margin=0.5).evaluate(ctx).passed
    assert ExponentOrderingCheck(name="o", methods=["b", "a"], threshold=0.5).evaluate(ctx).status == "FAIL"
    assert ExponentBoundCheck(name="b", method="a", threshold=0.5, min_slope=1.8, max_slope=2.2).evaluate(ctx).passed
    assert ExponentBoundCheck(name="b", method="b", threshold=0.5, max_slope=2.5).evaluate(ctx).status == "FAIL"
    slope_a = exponent(rows, "a", 0.5).slope  # a bound through the measured slope cannot be decided
    edge = ExponentBoundCheck(name="b", method="a", threshold=0.5, max_slope=slope_a).evaluate(ctx)
    assert edge.status == "INCONCLUSIVE", edge.detail
    with pytest.raises(LookupError, match=">= 4"):
        ExponentBoundCheck(name="b", method="a", threshold=0.5, min_ds=4).fit(ctx, "a")


def test_censored_crossings_bound_the_slope():
    pts = [Crossing("m", 8, 100.0), Crossing("m", 16, 400.0), Crossing("m", 32, 1000.0, "above")]
    fit = fit_exponent(pts)
    assert fit.bound == "lower" and "n*>1000" in fit.describe()
    assert fit_exponent([Crossing("m", 8, 10.0, "above"), Crossing("m", 16, 400.0)]).bound == "none"


def test_damian_presets_expand_and_a_tiny_transfer_cell_runs():
    p = get_preset("damian2022-transfer-quick")
    cells = expand(p)
    kernel = [c for c in cells if c.method == "kernel_poly"]
    assert kernel and max(c.n for c in kernel) <= 8192  # max_n skips the larger cells
    assert all(c.learner.n_source == 16 * c.d**2 * 3 for c in cells if c.method == "transfer")
    tiny = apply_overrides(p, ["d=[6, 8, 10]", "kappa_max=2.0", "num_kappa=2", "methods.transfer.width=64",
                               "target.source_coef=2.0", "n_test=256"], trials=2)
    cell = next(c for c in expand(tiny) if c.method == "transfer")
    res = run_cell(cell, [0, 1])
    assert res.status == "ok" and [r["trial"] for r in res.rows] == [0, 1]
    assert all(0.0 <= r["overlap_w"] <= 1.0 and r["test_mse"] > 0 for r in res.rows)
