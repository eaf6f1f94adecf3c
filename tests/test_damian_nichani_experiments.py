"""The issue-18 experiments of Damian et al. 2022 and Nichani et al. 2023: the presets of a family differ only in
the swept parameter (so their n* can be read side by side), and the targets they sweep have the structure the
presets' docstrings state (vanishing or ill-conditioned expected Hessian, the links' Hermite weights)."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

from depthlab.hermite import gauss_hermite
from depthlab.presets import get_preset
from depthlab.presets.damian2022 import CONDS, RANKS, WIDTHS
from depthlab.presets.nichani2023 import DEGREE_LINKS
from depthlab.targets.activations import get_activation


def _without(preset_name: str, *paths: tuple[str, ...]) -> dict:
    """The preset as JSON with the given (nested) keys removed: what must agree across a family."""
    blob = get_preset(preset_name).model_dump(mode="json")
    for path in paths:
        node = blob
        for k in path[:-1]:
            node = node[k]
        node.pop(path[-1])
    return blob


def _hermite_weights(link: str, upto: int = 8) -> np.ndarray:
    """Coefficients of the standardised link (g(Z) - E g) / sd g on h_k = He_k / sqrt(k!), k = 0..upto."""
    z, w = gauss_hermite(120)
    g = np.asarray(get_activation(link)(jax.numpy.asarray(z)), dtype=np.float64)
    g = (g - np.sum(w * g)) / math.sqrt(np.sum(w * (g - np.sum(w * g)) ** 2))
    he = [np.ones_like(z), z]
    for k in range(1, upto):
        he.append(z * he[k] - k * he[k - 1])
    return np.array([np.sum(w * g * he[k]) / math.sqrt(math.factorial(k)) for k in range(upto + 1)])


@pytest.mark.parametrize("quick", [True, False])
def test_degree_presets_differ_only_in_the_link(quick):
    suffix = "-quick" if quick else ""
    blobs = [_without(f"nichani2023-degree-{p}{suffix}", ("name",), ("description",), ("target", "link"),
                      ("checks",)) for p in DEGREE_LINKS]
    assert all(b == blobs[0] for b in blobs[1:])
    checks = {p: get_preset(f"nichani2023-degree-{p}{suffix}").checks for p in DEGREE_LINKS}
    shape = {p: [(c.kind, c.method, c.op, c.reference, c.factor) for c in cs] for p, cs in checks.items()}
    assert shape[3] == shape[5]  # the same checks for every p >= 3, the 3-layer ones also for p = 1
    assert shape[1][:2] == shape[3][:2]


def test_degree_floor_checks_read_the_degree_two_floor_at_the_presets_d():
    """p >= 3: the kernel's error against factor x best_degree_2 (from below: it cannot beat the floor) and the
    3-layer net's below half of it; the levels are E f*^2 and the floor at this d, not the Gaussian limits."""
    p3 = get_preset("nichani2023-degree-3-quick")
    floor = {c.name: (c.method, c.op, c.factor) for c in p3.checks if c.reference == "best_degree_2"}
    assert floor == {"quadratic kernel stays at its degree-2 floor": ("kernel", ">", 0.8),
                     "3-layer learns what no degree-2 predictor can": ("three_layer", "<", 0.5)}
    assert all(c.reference is not None and c.value is None for c in p3.checks if c.metric == "test_mse")
    ref = p3.target_for(16).reference_levels()
    assert 0.45 < ref["trivial"] < 0.56 and 0.19 < ref["best_degree_2"] < 0.22  # MC, relative sd ~1%
    assert get_preset("nichani2023-degree-1-quick").target_for(16).reference_levels()["best_degree_2"] < 1e-8


@pytest.mark.parametrize(("p", "c1"), [(1, 1.0), (3, 1 / math.sqrt(2)), (5, 1 / math.sqrt(2))])
def test_degree_links_have_the_stated_degree_and_linear_weight(p, c1):
    c = _hermite_weights(DEGREE_LINKS[p])
    assert c[1] == pytest.approx(c1, abs=1e-6)  # the learned feature phi ~ c_1 h*: the same for p = 3, 5
    assert abs(c[p]) > 0.5 and np.all(np.abs(c[p + 1:]) < 1e-6)


def test_degree_kernel_claims_flip_at_degree_one():
    """The kernel learns the quadratic f* (p = 1) and is claimed not to learn the others."""
    ops = {p: next(c for c in get_preset(f"nichani2023-degree-{p}-quick").checks if c.method == "kernel").op
           for p in DEGREE_LINKS}
    assert ops == {1: "<", 3: ">", 5: ">"}


def test_no_hessian_target_has_zero_expected_hessian_and_the_source_head_full_rank():
    key = jax.random.PRNGKey(0)
    p = get_preset("damian2022-no-hessian-quick")
    t = p.target_for(16)
    h = np.asarray(t.hessian(t.draw(key)))
    assert np.allclose(h, 0.0)
    src = t.model_copy(update={"head": "source"})
    assert np.linalg.matrix_rank(np.asarray(src.hessian(src.draw(key))), tol=1e-4) == 3


def test_no_hessian_grid_ends_beyond_d2r_and_the_cubic_count():
    p = get_preset("damian2022-no-hessian")
    for d in p.ds:
        n_max = max(n for _, n in p.grid(d))
        assert n_max > d**2 * 3 and n_max > math.comb(d + 3, 3)


@pytest.mark.parametrize("cond", CONDS)
def test_cond_presets_set_the_condition_number_of_the_expected_hessian(cond):
    t = get_preset(f"damian2022-cond-{cond:g}-quick").target_for(16)
    h = np.asarray(t.hessian(t.draw(jax.random.PRNGKey(1))), dtype=np.float64)
    ev = np.sort(np.abs(np.linalg.eigvalsh(h)))[-3:]  # the r non-zero eigenvalues (span U)
    assert ev[-1] / ev[0] == pytest.approx(cond, rel=1e-3)


@pytest.mark.parametrize("quick", [True, False])
def test_rank_and_cond_families_differ_only_in_the_swept_parameter(quick):
    suffix = "-quick" if quick else ""
    names = [f"damian2022-rank-{r}{suffix}" for r in RANKS] + [f"damian2022-cond-{c:g}{suffix}" for c in CONDS]
    blobs = [_without(n, ("name",), ("description",), ("target", "r"), ("target", "cond"), ("predictions",))
             for n in names]
    assert all(b == blobs[0] for b in blobs[1:])
    assert [get_preset(n).target.r for n in names[: len(RANKS)]] == RANKS


def test_full_families_judge_the_slope_in_d_at_three_d():
    for name in [f"damian2022-rank-{r}" for r in RANKS] + [f"damian2022-cond-{c:g}" for c in CONDS]:
        p = get_preset(name)
        assert len(p.ds) >= 3 and "two_layer_step" in p.predictions
        assert any(c.kind == "prediction" for c in p.all_checks())


def test_width_methods_differ_only_in_width():
    p = get_preset("damian2022-width-quick")
    specs = [p.methods[f"step_m{m}"].model_dump() for m in WIDTHS]
    assert [s.pop("width") for s in specs] == WIDTHS
    assert all(s == specs[0] for s in specs[1:])


def test_ntk_preset_methods_differ_only_in_the_bias_and_the_head_odd_cubic_part_is_two_fifths():
    p = get_preset("damian2022-ntk-quick")
    plain, biased = (p.methods[m].model_dump(mode="json") for m in ("kernel_ntk", "kernel_ntk_bias"))
    assert plain.pop("bias") == 0.0 and biased.pop("bias") > 0 and plain == biased
    terms = p.target_for(8).expansion()
    mass = sum(t.coef**2 for t in terms)
    odd3 = sum(t.coef**2 for t in terms if sum(t.degrees) >= 3 and sum(t.degrees) % 2 == 1)
    assert odd3 / mass == pytest.approx(2 / 5)  # h_3(z_1) and z_1 z_2 z_3 of five unit terms: the docstring's 2/5
    for d in p.ds:  # every d's grid reaches n* of the bias NTK (measured ~2100 at d = 12) within max_n
        assert max(n for _, n in p.grid(d)) > 2 * math.comb(d + 3, 3)
