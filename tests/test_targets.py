"""Hierarchical (SIGHT / MIGHT / deep) targets: structure, sampling statistics, validation, references."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import ValidationError

from depthlab.hermite import gaussian_expectation
from depthlab.targets import Batch, HierarchicalTarget, get_activation
from depthlab.targets.hierarchical import int_power

KEY = jax.random.PRNGKey(0)


def _draw(spec: HierarchicalTarget, key):
    return jax.jit(spec.draw)(key)


def _sample(spec: HierarchicalTarget, inst, key, n: int) -> Batch:
    """Jitted sampling (one compilation instead of op-by-op dispatch; the eager path is tested above)."""
    return jax.jit(spec.sample, static_argnums=2)(inst, key, n)


def _p3(z: np.ndarray) -> np.ndarray:
    """He_2/2! + He_3/3! in plain numpy (independent of the package)."""
    return (z**2 - 1) / 2 + (z**3 - 3 * z) / 6


def _numpy_target(spec: HierarchicalTarget, inst, x: np.ndarray, p, g) -> tuple[np.ndarray, np.ndarray]:
    """Independent numpy evaluation of the tree: returns (f, h_2)."""
    w = np.asarray(inst.w_star, dtype=np.float64)
    h = x @ w.T
    levels = [h]
    for a, b in zip(inst.signs, spec.block_sizes, strict=True):
        a = np.asarray(a, dtype=np.float64)
        nxt = np.zeros((h.shape[0], h.shape[1] // b))
        for m in range(h.shape[1] // b):
            blk = slice(m * b, (m + 1) * b)
            nxt[:, m] = (p(h[:, blk]) * a[blk]).sum(axis=1) / math.sqrt(b)
        h = nxt
        levels.append(h)
    f = g(levels[-1]).sum(axis=1) / math.sqrt(spec.branches)
    return f, levels[1]


# ---- structure -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "levels", "blocks"),
    [
        ({"family": "sight", "d": 64, "epsilon": 0.5}, (8, 1), (8,)),
        ({"family": "sight", "d": 128, "epsilon": 0.5}, (11, 1), (11,)),
        ({"family": "might", "d": 64, "epsilon": 0.5, "branches": 2}, (16, 2), (8,)),
        ({"family": "might", "d": 64, "epsilon": 0.5, "branches": 3}, (24, 3), (8,)),
        ({"family": "deep", "d": 64, "epsilon": (0.75, 0.5)}, (16, 8, 1), (2, 8)),
        ({"family": "deep", "d": 256, "epsilon": (0.75, 0.5), "branches": 2}, (128, 32, 2), (4, 16)),
    ],
)
def test_level_and_block_sizes(kwargs, levels, blocks):
    t = HierarchicalTarget(**kwargs)
    assert t.level_sizes == levels
    assert t.block_sizes == blocks
    assert t.d_eff == levels[0] // t.branches


def test_int_power_is_robust_to_roundoff():
    assert int_power(64, 0.5) == 8
    assert int_power(128, 0.5) == 11
    assert int_power(1000, 1 / 3) == 10
    assert int_power(64, 0.25) == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"family": "sight", "d": 64, "epsilon": 0.5},
        {"family": "might", "d": 64, "epsilon": 0.5, "branches": 2},
        {"family": "deep", "d": 64, "epsilon": (0.75, 0.5)},
    ],
)
def test_draw_and_sample_shapes(x64, kwargs):
    t = HierarchicalTarget(**kwargs)
    inst = t.draw(KEY)
    sizes = t.level_sizes
    d1 = sizes[0]
    assert inst.w_star.shape == (d1, t.d)
    np.testing.assert_allclose(np.asarray(inst.w_star @ inst.w_star.T), np.eye(d1), atol=1e-12)
    assert len(inst.signs) == len(sizes) - 1
    for s, size in zip(inst.signs, sizes[:-1], strict=True):
        assert s.shape == (size,)
        assert set(np.unique(np.asarray(s)).tolist()) <= {-1.0, 1.0}
    n = 37
    b = t.sample(inst, jax.random.PRNGKey(1), n)
    assert isinstance(b, Batch)
    assert b.x.shape == (n, t.d)
    assert b.y.shape == b.f.shape == (n,)
    assert b.z.shape == (n, d1)
    assert b.h.shape == (n, sizes[1])
    assert b.x.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(b.z), np.asarray(b.x @ inst.w_star.T), atol=1e-12)
    np.testing.assert_array_equal(np.asarray(b.y), np.asarray(b.f))  # noise = 0
    sub = t.subspaces(inst)
    assert sub.shape == (t.branches, d1 // t.branches, t.d)
    # the subspaces are the consecutive row blocks of W*
    np.testing.assert_array_equal(np.asarray(sub.reshape(d1, t.d)), np.asarray(inst.w_star))


def test_might_subspaces_are_mutually_orthogonal(x64):
    t = HierarchicalTarget(family="might", d=64, epsilon=0.5, branches=3)
    sub = np.asarray(t.subspaces(t.draw(KEY)))
    assert sub.shape == (3, 8, 64)
    for a in range(3):
        for b in range(3):
            expected = np.eye(8) if a == b else np.zeros((8, 8))
            np.testing.assert_allclose(sub[a] @ sub[b].T, expected, atol=1e-12)


def test_a_star_ones_and_draw_determinism(x64):
    t = HierarchicalTarget(d=16, a_star="ones")
    inst = t.draw(KEY)
    np.testing.assert_array_equal(np.asarray(inst.signs[0]), np.ones(4))
    t2 = HierarchicalTarget(d=16)
    i1, i2, i3 = t2.draw(KEY), t2.draw(KEY), t2.draw(jax.random.PRNGKey(5))
    np.testing.assert_array_equal(np.asarray(i1.w_star), np.asarray(i2.w_star))
    assert not np.allclose(np.asarray(i1.w_star), np.asarray(i3.w_star))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"family": "sight", "d": 64, "epsilon": 0.5},
        {"family": "might", "d": 36, "epsilon": 0.5, "branches": 2, "sigma2": "relu"},
        {"family": "deep", "d": 64, "epsilon": (0.75, 0.5), "sigma1": "he2+2he3"},
    ],
)
def test_sample_matches_independent_numpy_formula(x64, kwargs):
    t = HierarchicalTarget(**kwargs)
    inst = _draw(t, KEY)
    b = _sample(t, inst, jax.random.PRNGKey(3), 200)
    p_np = {
        "he2+he3": _p3,
        "he2+2he3": lambda z: (z**2 - 1) / 2 + 2 * (z**3 - 3 * z) / 6,
    }[t.sigma1]
    g_np = {"tanh:3": lambda h: np.tanh(3 * h), "relu": lambda h: np.maximum(h, 0.0)}[t.sigma2]
    f, h2 = _numpy_target(t, inst, np.asarray(b.x), p_np, g_np)
    np.testing.assert_allclose(np.asarray(b.f), f, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(b.h), h2, rtol=1e-10, atol=1e-12)


# ---- sampling statistics -------------------------------------------------------------------------
def test_sight_hidden_feature_moments(x64):
    """h = a^T P(W* x)/sqrt(D): mean 0, variance Var P = 1/2 + 1/6 = 2/3; with g = identity f = h."""
    t = HierarchicalTarget(d=64, epsilon=0.5, sigma2="identity")
    inst = _draw(t, KEY)
    n = 100_000
    b = _sample(t, inst, jax.random.PRNGKey(7), n)
    h = np.asarray(b.h[:, 0])
    f = np.asarray(b.f)
    np.testing.assert_array_equal(h, f)
    var_p = gaussian_expectation(lambda z: _p3(z) ** 2)
    assert var_p == pytest.approx(2 / 3, rel=1e-12)
    se_mean = math.sqrt(var_p / n)
    assert abs(h.mean()) < 5 * se_mean
    h2 = h * h
    se_var = h2.std() / math.sqrt(n)
    assert abs(h2.mean() - 2 / 3) < 5 * se_var
    # z are i.i.d. N(0,1) coordinates
    z = np.asarray(b.z)
    np.testing.assert_allclose(np.cov(z.T), np.eye(8), atol=0.02)


def test_might_identity_committee_variance(x64):
    t = HierarchicalTarget(family="might", d=64, epsilon=0.5, branches=2, sigma2="identity")
    b = _sample(t, _draw(t, KEY), jax.random.PRNGKey(8), 100_000)
    f = np.asarray(b.f)
    np.testing.assert_allclose(f, np.asarray(b.h.sum(axis=1)) / math.sqrt(2), atol=1e-12)
    se = (f * f).std() / math.sqrt(f.size)
    assert abs(np.mean(f * f) - 2 / 3) < 5 * se
    assert abs(f.mean()) < 5 * math.sqrt(2 / 3 / f.size)
    # the two branch features are uncorrelated
    hc = np.corrcoef(np.asarray(b.h).T)[0, 1]
    assert abs(hc) < 5 / math.sqrt(f.size)



def test_might_per_branch_links_match_a_direct_computation(x64):
    """sigma2 = [g_0, g_1, g_2]: f* = (g_0(h_0) + g_1(h_1) + g_2(h_2)) / sqrt(3), each h_m from its own block of W*
    (the same instance, computed in numpy)."""
    t = HierarchicalTarget(family="might", d=64, epsilon=0.5, branches=3, sigma2=["tanh:3", "abs", "he2"])
    assert t.sigma2 == ("tanh:3", "abs", "he2")
    inst = _draw(t, KEY)
    b = _sample(t, inst, jax.random.PRNGKey(4), 300)
    x = np.asarray(b.x)
    w = np.asarray(inst.w_star, dtype=np.float64)
    a = np.asarray(inst.signs[0], dtype=np.float64)
    links = [lambda h: np.tanh(3 * h), np.abs, lambda h: (h**2 - 1) / 2]
    f = np.zeros(len(x))
    for m, g in enumerate(links):
        blk = slice(8 * m, 8 * (m + 1))
        h_m = _p3(x @ w[blk].T) @ a[blk] / math.sqrt(8)
        np.testing.assert_allclose(np.asarray(b.h[:, m]), h_m, rtol=1e-10, atol=1e-12)
        f += g(h_m)
    np.testing.assert_allclose(np.asarray(b.f), f / math.sqrt(3), rtol=1e-10, atol=1e-12)
    # one name for every branch is the same target as that name listed r times (and serialises as before)
    one = HierarchicalTarget(family="might", d=64, epsilon=0.5, branches=2, sigma2="abs")
    two = HierarchicalTarget(family="might", d=64, epsilon=0.5, branches=2, sigma2=["abs", "abs"])
    inst2 = _draw(one, KEY)
    np.testing.assert_array_equal(np.asarray(_sample(one, inst2, KEY, 50).f),
                                  np.asarray(_sample(two, inst2, KEY, 50).f))
    assert '"sigma2":"abs"' in one.model_dump_json()
    assert '"sigma2":["abs","abs"]' in two.model_dump_json()
    assert len(t.reference_levels(num_samples=2000)) >= 3


def test_might_per_branch_links_need_one_per_branch():
    with pytest.raises(ValidationError, match=r"sigma2 lists 2 links but the target has branches = 3"):
        HierarchicalTarget(family="might", d=64, branches=3, sigma2=["tanh:3", "abs"])
    with pytest.raises(ValidationError, match="unknown activation 'cube'"):
        HierarchicalTarget(family="might", d=64, branches=2, sigma2=["tanh:3", "cube"])

def test_deep_linear_tree_is_gaussian_closed_form(x64):
    """With sigma1 = He_1 every level stays exactly N(0,1): f = tanh(3 v.x) with ||v|| = 1."""
    t = HierarchicalTarget(family="deep", d=64, epsilon=(0.75, 0.5), sigma1="he1", sigma2="tanh:3")
    inst = _draw(t, KEY)
    n = 100_000
    b = _sample(t, inst, jax.random.PRNGKey(9), n)
    f = np.asarray(b.f)
    x = np.asarray(b.x)
    # recover the linear top-level feature from f and check it is a unit-norm projection
    hl = np.arctanh(np.clip(f, -1 + 1e-15, 1 - 1e-15)) / 3
    ok = np.abs(f) < 0.999
    v, *_ = np.linalg.lstsq(x[ok][:2000], hl[ok][:2000], rcond=None)
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-6)
    ef2 = gaussian_expectation(lambda z: np.tanh(3 * z) ** 2)
    se = (f * f).std() / math.sqrt(n)
    assert abs(np.mean(f * f) - ef2) < 5 * se
    assert abs(f.mean()) < 5 * f.std() / math.sqrt(n)


def test_sight_tanh_second_moment_vs_independent_monte_carlo(x64):
    """E f*^2 from the package vs an independent numpy Monte Carlo of tanh(3 a.P(z)/sqrt(8))."""
    t = HierarchicalTarget(d=64, epsilon=0.5)
    inst = _draw(t, KEY)
    n = 100_000
    f = np.asarray(_sample(t, inst, jax.random.PRNGKey(11), n).f)
    rng = np.random.default_rng(0)
    a = np.asarray(inst.signs[0])
    z = rng.standard_normal((n, 8))
    f_ref = np.tanh(3 * (_p3(z) @ a) / math.sqrt(8))
    m, m_ref = np.mean(f * f), np.mean(f_ref * f_ref)
    se = math.sqrt((f * f).var() / n + (f_ref * f_ref).var() / n)
    assert abs(m - m_ref) < 5 * se
    # E f = 0 is not implied (P is skewed); the package must agree with the reference mean as well
    se1 = math.sqrt(f.var() / n + f_ref.var() / n)
    assert abs(f.mean() - f_ref.mean()) < 5 * se1
    # non-Gaussianity of h at D = 8 lowers E f^2 below the Gaussian-h value 0.694
    gauss_value = gaussian_expectation(lambda u: np.tanh(3 * math.sqrt(2 / 3) * u) ** 2)
    assert gauss_value == pytest.approx(0.694, abs=1e-3)
    assert 0.57 < m < gauss_value - 0.03


def test_noise_is_added_to_labels_only(x64):
    clean = HierarchicalTarget(d=16)
    noisy = HierarchicalTarget(d=16, noise=0.3)
    inst = _draw(clean, KEY)
    n = 50_000
    key = jax.random.PRNGKey(12)
    b0 = _sample(clean, inst, key, n)
    b1 = _sample(noisy, inst, key, n)
    np.testing.assert_array_equal(np.asarray(b0.x), np.asarray(b1.x))
    np.testing.assert_array_equal(np.asarray(b0.f), np.asarray(b1.f))
    r = np.asarray(b1.y - b1.f)
    assert np.all(r != 0)
    se_var = (r * r).std() / math.sqrt(n)
    assert abs(np.mean(r * r) - 0.09) < 5 * se_var
    assert abs(r.mean()) < 5 * 0.3 / math.sqrt(n)
    assert abs(np.corrcoef(r, np.asarray(b1.f))[0, 1]) < 5 / math.sqrt(n)


# ---- validation ----------------------------------------------------------------------------------
def test_unknown_key_rejected():
    with pytest.raises(ValidationError, match="epsilonn"):
        HierarchicalTarget(d=64, epsilonn=0.5)


@pytest.mark.parametrize("eps", [0.0, 1.0, 1.5, -0.2])
def test_epsilon_out_of_range(eps):
    with pytest.raises(ValidationError, match=r"epsilon values must lie in \(0, 1\)"):
        HierarchicalTarget(d=64, epsilon=eps)


def test_deep_epsilon_must_decrease_and_single_for_sight():
    with pytest.raises(ValidationError, match="strictly decreasing"):
        HierarchicalTarget(family="deep", d=64, epsilon=(0.5, 0.75))
    with pytest.raises(ValidationError, match="single epsilon"):
        HierarchicalTarget(family="sight", d=64, epsilon=(0.75, 0.5))


def test_sight_rejects_branches():
    with pytest.raises(ValidationError, match="might"):
        HierarchicalTarget(family="sight", d=64, branches=2)
    with pytest.raises(ValidationError, match=r"branches\n.*greater than or equal to 1"):
        HierarchicalTarget(family="might", d=64, branches=0)


def test_hidden_dimension_larger_than_d():
    # int(4^0.9) = 3 per branch, 4 branches -> D_1 = 12 > d = 4
    with pytest.raises(ValidationError, match=r"D_1 = 12 exceeds d = 4"):
        HierarchicalTarget(family="might", d=4, branches=4, epsilon=0.9)
    with pytest.raises(ValidationError, match=r"D_1 = 6 exceeds d = 4"):
        HierarchicalTarget(family="might", d=4, branches=2, epsilon=0.9)
    # the boundary D_1 = d is allowed: W* is then a full orthogonal matrix
    t = HierarchicalTarget(family="might", d=4, branches=2, epsilon=0.5)
    assert t.level_sizes == (4, 2)
    w = np.asarray(t.draw(KEY).w_star)
    np.testing.assert_allclose(w.T @ w, np.eye(4), atol=1e-6)


def test_unknown_activation():
    with pytest.raises(ValidationError, match="unknown activation 'softplus'"):
        HierarchicalTarget(d=64, sigma1="softplus")
    with pytest.raises(ValidationError, match="sigma2"):
        HierarchicalTarget(d=64, sigma2="he9")
    with pytest.raises(ValueError, match="unknown activation"):
        get_activation("cube")


def test_other_field_validators():
    with pytest.raises(ValidationError, match="noise"):
        HierarchicalTarget(d=64, noise=-0.1)
    with pytest.raises(ValidationError, match=r"\bd\n.*greater than or equal to 2"):
        HierarchicalTarget(d=1)
    with pytest.raises(ValidationError):
        HierarchicalTarget(d=64, family="wide")
    t = HierarchicalTarget(d=64)
    with pytest.raises(ValidationError):
        t.d = 32  # frozen


def test_activation_registry_values(x64):
    z = jnp.linspace(-2.0, 2.0, 9)
    zn = np.asarray(z)
    np.testing.assert_allclose(get_activation("he2+he3")(z), _p3(zn), atol=1e-12)
    np.testing.assert_allclose(get_activation("He3")(z), (zn**3 - 3 * zn) / 6, atol=1e-12)
    np.testing.assert_allclose(get_activation("he3:unit")(z), (zn**3 - 3 * zn) / math.sqrt(6), atol=1e-12)
    np.testing.assert_allclose(get_activation("tanh:3")(z), np.tanh(3 * zn), atol=1e-12)
    np.testing.assert_allclose(get_activation("tanh:0.5")(z), np.tanh(0.5 * zn), atol=1e-12)
    np.testing.assert_allclose(get_activation("relu")(z), np.maximum(zn, 0), atol=0)
    assert get_activation("he2+he3").degree == 3
    assert get_activation("he4").degree == 4
    assert get_activation("tanh").degree is None


# ---- reference levels ----------------------------------------------------------------------------
def test_reference_levels_sight_d64():
    ref = HierarchicalTarget(d=64).reference_levels(num_samples=10_000)
    assert set(ref) == {"trivial", "best_quadratic", "best_linear_h", "best_quartic_z"}
    assert ref["trivial"] == pytest.approx(0.62, abs=0.05)
    assert ref["trivial"] > ref["best_quadratic"] > ref["best_linear_h"] > ref["best_quartic_z"] > 0
    # the quadratic fit removes most of the He_2 part, but not the He_3 / non-linear part
    assert 0.15 < ref["best_quadratic"] < 0.35
    assert 0.1 < ref["best_linear_h"] < 0.3


def test_reference_levels_identity_link():
    """g = identity: f = h is linear in h (residual 0), cubic in z (quadratic residual = Var He_3/6)."""
    ref = HierarchicalTarget(d=16, sigma2="identity").reference_levels(num_samples=20_000)
    # tolerances: 5 standard errors at n = 20k (std of h^2 ~ 2.45, of the He_3 part squared ~ 0.82; D = 4)
    assert ref["trivial"] == pytest.approx(2 / 3, abs=0.09)
    assert ref["best_linear_h"] == pytest.approx(0.0, abs=1e-6)
    assert ref["best_quartic_z"] == pytest.approx(0.0, abs=1e-6)
    assert ref["best_quadratic"] == pytest.approx(1 / 6, abs=0.03)


@pytest.mark.parametrize("inputs", ["sphere", "gaussian"])
def test_quadratic_feature_is_traceless_and_unit_variance(inputs):
    from depthlab.targets import QuadraticTarget

    t = QuadraticTarget(d=12, link="relu", inputs=inputs)
    inst = t.draw(jax.random.PRNGKey(0))
    a = np.asarray(inst.basis.T @ jnp.diag(inst.eigs) @ inst.basis, dtype=np.float64)
    assert abs(np.trace(a)) < 1e-5 and np.allclose(a, a.T, atol=1e-6)
    fro2 = np.sum(a * a)
    expected = 1 / (2 * 12 / 14) if inputs == "sphere" else 0.5  # Var x^T A x = 1
    assert abs(fro2 - expected) < 1e-4
    b = t.sample(inst, jax.random.PRNGKey(1), 200_000)
    x = np.asarray(b.x, dtype=np.float64)
    if inputs == "sphere":
        np.testing.assert_allclose(np.linalg.norm(x, axis=1), math.sqrt(12), rtol=1e-5)
    h = np.einsum("ni,ij,nj->n", x, a, x)
    np.testing.assert_allclose(np.asarray(b.h[:, 0]), h, rtol=1e-3, atol=1e-3)
    se = 4 * math.sqrt(2 / 200_000)
    assert abs(h.mean()) < 0.02 and abs(h.var() - 1) < 10 * se
    f = np.asarray(b.f)
    assert abs(f.mean()) < 0.05 and abs(f.var() - 1) < 0.1  # standardised with the N(0,1) moments of relu


def test_single_index_target_standardised_link():
    from depthlab.targets import SingleIndexTarget

    t = SingleIndexTarget(d=10, link="tanh:2")
    inst = t.draw(jax.random.PRNGKey(0))
    assert abs(float(jnp.linalg.norm(inst.basis)) - 1) < 1e-6
    b = t.sample(inst, jax.random.PRNGKey(1), 100_000)
    np.testing.assert_allclose(np.asarray(b.h[:, 0]), np.asarray(b.x @ inst.basis[0]), rtol=1e-5, atol=1e-6)
    f = np.asarray(b.f, dtype=np.float64)
    assert abs(f.mean()) < 0.02 and abs((f**2).mean() - 1) < 0.02
    assert t.subspaces(inst).shape == (1, 1, 10)
