"""Reference levels at the target's own d and input law: the Monte Carlo least-squares floors
(``targets.base.polynomial_floors``) against closed forms where those are exact (Gaussian inputs) and against
independent computations on the sphere (an exactly quadratic target; a one-dimensional quadrature of the law of
h* = x^T A x / sigma_A; a plain Monte Carlo mean of f*^2)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from depthlab.presets import all_presets
from depthlab.targets.activations import get_activation
from depthlab.targets.base import monomials, num_monomials, polynomial_floors
from depthlab.targets.index import QuadraticTarget, SingleIndexTarget
from depthlab.targets.multi_index import MultiIndexTarget

N = 100_000  # the default sample size of the quadratic and single-index reference levels


def _sphere_law(t: QuadraticTarget, num: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of h* on the sphere (full rank, d even): x^T A x / sigma_A = (2B - 1) sqrt((d + 2)/2) with
    B ~ Beta(d/4, d/4) (B = |P_+ x|^2 / d), by Gauss-Jacobi quadrature on t = 2B - 1 (weight (1 - t^2)^(d/4 - 1))."""
    a = t.d / 4 - 1
    nodes, weights = special.roots_jacobi(num, a, a)
    return nodes * math.sqrt((t.d + 2) / 2), weights / weights.sum()


def _exact_sphere_levels(t: QuadraticTarget) -> tuple[float, float]:
    """(E f*^2, best_degree_2) by quadrature. The projection of f* onto polynomials of degree <= 2 is invariant
    under the maps preserving A and the sphere (O(d/2) x O(d/2) on A's two eigenspaces), and the invariant
    polynomials of degree <= 2 are spanned by 1 and x^T A x on the sphere: the floor is that of an affine fit
    in h*, E f^2 - (E f)^2 - (E f h)^2 (E h = 0, E h^2 = 1)."""
    h, w = _sphere_law(t)
    mean, sd = t._standardization()
    g = np.asarray(get_activation(t.link)(jnp.asarray(h, jnp.float32)), dtype=np.float64)
    f = (g - mean) / sd
    assert np.sum(w * h) == pytest.approx(0.0, abs=1e-12) and np.sum(w * h**2) == pytest.approx(1.0, rel=1e-10)
    ef2, ef, efh = (float(np.sum(w * v)) for v in (f**2, f, f * h))
    return ef2, ef2 - ef**2 - efh**2


def test_monomials_are_ordered_by_degree_and_counted():
    x = np.arange(6.0).reshape(2, 3) + 1
    phi = monomials(x, 2)
    assert phi.shape == (num_monomials(3, 2), 2) == (10, 2)
    assert np.array_equal(phi[:4], monomials(x, 1))
    assert np.array_equal(phi[4:, 0], [1, 2, 3, 4, 6, 9])  # x1^2 x1x2 x1x3 x2^2 x2x3 x3^2 of (1, 2, 3)
    assert num_monomials(24, 2) == 1 + 24 + 24 * 25 // 2


def test_gaussian_single_index_closed_form_agrees_with_the_monte_carlo_floors():
    """Gaussian inputs: the Hermite truncation is exact; the MC least squares over all monomials agrees within
    its error (f* = tanh(2 z) standardised is bounded: sd of the mean of f^2 over 1e5 samples < 0.004)."""
    t = SingleIndexTarget(d=8, link="tanh:2", inputs="gaussian")
    exact = t.reference_levels()
    assert exact["trivial"] == pytest.approx(1.0, abs=1e-6)
    assert exact["best_degree_2"] == pytest.approx(exact["best_degree_1"])  # an odd link has no h_2 weight
    mc = polynomial_floors(t, 2, N, seed=3)
    for k, v in exact.items():
        assert mc[k] == pytest.approx(v, abs=0.015), k


def test_gaussian_multi_index_closed_form_agrees_with_the_monte_carlo_floors():
    t = MultiIndexTarget(d=6, r=2, p=3, head="source")
    exact = t.reference_levels()
    mc = polynomial_floors(t, 2, N, seed=1)
    assert exact["best_degree_1"] == pytest.approx(1.0) and 0.1 < exact["best_degree_2"] < 0.9
    for k, v in exact.items():
        assert mc[k] == pytest.approx(v, abs=0.03), k  # f* has degree 3: sd of the mean of f^2 ~ 0.01 at 1e5


def test_a_quadratic_target_has_no_degree_two_floor_and_unit_energy_on_the_sphere():
    """p = 1: f* = x^T A x / sigma_A is a degree-2 polynomial (floor 0 up to rounding) with E f*^2 = 1 exactly
    (sigma_A is the sphere's); it is even, so no affine function helps (best_degree_1 = E f*^2)."""
    ref = QuadraticTarget(d=12, link="herm:0,1", inputs="sphere").reference_levels()
    assert ref["best_degree_2"] < 1e-8
    assert ref["trivial"] == pytest.approx(1.0, abs=0.02)
    assert ref["best_degree_1"] == pytest.approx(ref["trivial"], abs=1e-3)


@pytest.mark.parametrize("link", ["herm:0,1,0,1", "herm:0,1,0,0,0,1", "relu"])
def test_sphere_floors_agree_with_a_quadrature_of_the_law_of_h(link):
    t = QuadraticTarget(d=12, link=link, inputs="sphere")
    ref = t.reference_levels()
    ef2, floor = _exact_sphere_levels(t)
    assert ref["trivial"] == pytest.approx(ef2, rel=0.04)  # MC: relative sd <= 1.5% at d <= 24
    assert ref["best_degree_2"] == pytest.approx(floor, rel=0.04)
    if link != "relu":  # far from the Gaussian limits E f*^2 = 1, floor = 1 - c_1^2 = 0.5
        assert ef2 < 0.7 and floor < 0.3


def test_sphere_energy_agrees_with_a_plain_monte_carlo_mean():
    t = QuadraticTarget(d=16, link="herm:0,1,0,1", inputs="sphere")
    ref = t.reference_levels()
    key = jax.random.PRNGKey(12345)
    b = t.sample(t.draw(jax.random.fold_in(key, 0)), jax.random.fold_in(key, 1), 200_000)
    plain = float(np.mean(np.asarray(b.f, np.float64) ** 2))
    assert ref["trivial"] == pytest.approx(plain, abs=0.03)  # sds 0.004 and 0.003
    assert ref["trivial"] == pytest.approx(_exact_sphere_levels(t)[0], rel=0.04)


def test_reference_levels_are_deterministic_and_memoised():
    t = QuadraticTarget(d=8, link="herm:0,1,0,1", inputs="gaussian")
    a = t.reference_levels(num_samples=20_000, seed=5)
    assert a == QuadraticTarget(d=8, link="herm:0,1,0,1", inputs="gaussian").reference_levels(20_000, 5)
    assert a != t.reference_levels(num_samples=20_000, seed=6)
    a["trivial"] = -1.0  # a caller's copy: the memo is not changed through it
    assert t.reference_levels(num_samples=20_000, seed=5)["trivial"] > 0


def test_every_reference_a_preset_check_or_threshold_names_is_provided():
    """A check's reference level (or a threshold's relative_to) must be among the target's reference levels at
    every d of the preset (few samples: only the names matter)."""
    for p in all_presets():
        names = {c.reference for c in p.all_checks() if getattr(c, "reference", None)}
        names |= {c.relative_to for c in p.all_checks() if getattr(c, "relative_to", None)}
        names |= {p.threshold_for(m).relative_to for m in p.methods} - {None}
        if not names:
            continue
        for d in p.ds:
            have = set(p.target_for(d).reference_levels(num_samples=2_000))
            assert names <= have, (p.name, d, names - have)


def test_a_hierarchical_targets_levels_are_each_trials_own_instances():
    """The law of a hierarchical target depends on its instance (the a* signs: P(h) a is not distributed as
    P(h) for P = He_2), so every trial gets its own instance's levels: the instance the runner trains that
    trial on, whose E f*^2 is that instance's plain Monte Carlo mean of f*^2; index targets, whose law every
    instance shares, have none (one instance stands for all)."""
    from depthlab.presets import get_preset
    from depthlab.sweep.grid import expand
    from depthlab.sweep.runner import instance_function, trial_instance

    p = get_preset("dandi2025-deep-quick")
    cell = expand(p)[0]
    t = cell.target
    for trial in (0, 3):
        ran, _ = instance_function(cell)(jnp.asarray(p.seed, jnp.uint32), jnp.asarray(trial, jnp.uint32))
        own = trial_instance(t, p.seed, trial)
        np.testing.assert_allclose(np.asarray(ran.w_star), np.asarray(own.w_star), atol=1e-6)
        for a, b in zip(ran.signs, own.signs, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    levels = [t.instance_reference_levels(trial_instance(t, p.seed, k), num_samples=50_000) for k in range(6)]
    trivial = [lv["trivial"] for lv in levels]
    assert max(trivial) - min(trivial) > 0.05, trivial  # the instances' laws differ
    f = np.asarray(t.sample(trial_instance(t, p.seed, 2), jax.random.PRNGKey(99), 200_000).f, dtype=np.float64)
    sd = float(np.std(f**2)) * math.sqrt(1 / 200_000 + 1 / 50_000)
    assert abs(float(np.mean(f**2)) - trivial[2]) < 4 * sd, (np.mean(f**2), trivial[2], sd)
    q = get_preset("nichani2023-quadratic-quick")
    tq = q.target_for(q.ds[0])
    assert tq.instance_reference_levels(trial_instance(tq, 0, 1)) is None
