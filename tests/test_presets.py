"""Presets: validation with clear errors naming the field, overrides, grid expansion."""

import pytest
from pydantic import ValidationError

from depthlab.learners import LayerwiseThreeLayer
from depthlab.presets import PresetError, apply_overrides, get_preset, preset_names
from depthlab.sweep.grid import expand


def test_registry_has_the_dandi_presets():
    names = {"quick", "dandi2025-example", "nichani2023-separation-quick", "nichani2023-quadratic"}
    assert names | {"nichani2023-single-index-quick"} <= set(preset_names())
    with pytest.raises(PresetError, match="unknown preset 'nope'"):
        get_preset("nope")


def test_example_grid_matches_public_code():
    p = get_preset("dandi2025-example")
    # np.logspace(0.2, 2.2, 15, base=64, dtype=int) in the public code
    assert p.ns(64) == [2, 4, 7, 13, 24, 44, 81, 147, 266, 482, 873, 1583, 2867, 5194, 9410]
    cells = expand(p)
    lw = [c for c in cells if c.method == "layerwise"]
    assert {c.learner.p1 for c in lw} == {int(9410**0.9)} == {3769}
    tl = [c for c in cells if c.method == "two_layer"]
    assert {c.learner.p for c in tl} == {int(3769 / 15)}


def test_overrides_revalidate_and_apply():
    p = apply_overrides(get_preset("quick"), ["d=48", "methods.layerwise.p2=50", "kappa_max=1.6"], trials=3)
    assert p.d == 48 and p.trials == 3 and p.kappa_max == 1.6
    assert isinstance(p.methods["layerwise"], LayerwiseThreeLayer) and p.methods["layerwise"].p2 == 50
    p2 = apply_overrides(get_preset("quick"), ["d=16,32"])
    assert p2.ds == [16, 32]


@pytest.mark.parametrize(
    "override, field",
    [
        ("methods.layerwise.p22=5", "methods.layerwise.p22"),
        ("methods.layerwise.p2=-3", "methods.layerwise.p2"),
        ("trials=0", "trials"),
        ("target.sigma1=nonsense", "target.sigma1"),
        ("target.epsilon=1.5", "epsilon"),
        ("bogus=1", "bogus"),
        ("methods.joint.kind=svm", "methods.joint"),
    ],
)
def test_bad_overrides_name_the_field(override, field):
    with pytest.raises(PresetError) as e:
        apply_overrides(get_preset("quick"), [override])
    assert field in str(e.value)


def test_impossible_dimension_is_rejected_clearly():
    with pytest.raises(PresetError, match="d: .*>= 2"):
        apply_overrides(get_preset("quick"), ["d=1"])
    with pytest.raises(PresetError, match="exceeds d = 32"):
        apply_overrides(get_preset("quick"), ["target.family=might", "target.branches=8"])
    with pytest.raises(PresetError, match="training samples"):
        apply_overrides(get_preset("quick"), ["kappa_min=0.05"])
    with pytest.raises(PresetError, match="not of the form"):
        apply_overrides(get_preset("quick"), ["d"])


def test_learner_config_rejects_unknown_keys():
    with pytest.raises(ValidationError, match="lr2"):
        LayerwiseThreeLayer.model_validate({"lr2": 3})


def test_cell_keys_ignore_trials_and_depend_on_config():
    base = get_preset("quick")
    k1 = {c.key for c in expand(base)}
    k2 = {c.key for c in expand(apply_overrides(base, [], trials=9))}
    k3 = {c.key for c in expand(apply_overrides(base, ["seed=1"]))}
    assert k1 == k2 and not (k1 & k3)
    assert len(k1) == len(expand(base))


def test_safran_lee_presets_resolve_polynomial_widths():
    p = get_preset("safran-lee2022-ball-quick")
    assert p.ds == [8, 12, 16] and p.target.radius_law == "bessel"
    cells = expand(p)
    for c in cells:
        if c.method in ("depth2", "depth2_linear", "shallow_gd"):
            assert c.learner.p == c.d**2
    assert {c.n for c in cells if c.d == 16} == {64, 256, 1024, 4096}
    full = get_preset("safran-lee2022-ball")
    assert {c.learner.p for c in expand(full) if c.method == "depth2_big" and c.d == 8} == {256}
    with pytest.raises(PresetError, match="radius_law"):
        apply_overrides(p, ["target.radius_law=cauchy"])


def test_resources_checks_scale_width_and_steps_by_their_stated_factor():
    """A "resources" check reads its scaled method as the base with width and steps x scale: the preset's
    configurations must say the same, or the check's reading of the samples (n_max / scale) is wrong."""
    from depthlab.checks import ResourcesEveryDCheck
    from depthlab.presets import all_presets

    seen = 0
    for p in all_presets():
        cells = expand(p)
        for c in p.all_checks():
            if not isinstance(c, ResourcesEveryDCheck):
                continue
            base, scaled = c.methods
            for d in p.ds:
                (b,) = {(x.learner.p, x.learner.steps) for x in cells if x.method == base and x.d == d}
                (s,) = {(x.learner.p, x.learner.steps) for x in cells if x.method == scaled and x.d == d}
                assert s == (int(c.scale * b[0]), int(c.scale * b[1])), (p.name, d, b, s)
                seen += 1
    assert seen >= 3
