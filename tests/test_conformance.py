"""Conformance suite for the learner and target protocols (in the spirit of scikit-learn's check_estimator).

Every learner kind of the discriminated union ``depthlab.learners.LearnerConfig`` and every target family of
``depthlab.targets.TargetConfig`` is checked, on tiny shapes: a new kind or family is picked up automatically
and must have an entry in the small-configuration tables below (``test_small_tables_cover_every_kind`` fails
otherwise). A learner kind's base configuration is the first method of that kind among the presets (so the
configurations the experiments run are the ones checked), shrunk by ``SMALL_LEARNERS[kind]``, and it is fitted
on the small target of its preset's family; ``LEARNER_VARIANTS`` and ``TARGET_VARIANTS`` add configurations
whose capabilities differ. Compiled programs are cached per case and shared by the checks (tiny shapes: the
suite takes well under a minute on 2 cores).

Learners: determinism in the key, jit(vmap) over trials = the unbatched fit, shapes, declared capabilities
(shapes; undeclared ones raise NotImplementedError), the metrics they imply (concretely, and abstractly on
every small target), ``memory_bytes`` against the compiled buffers, ``flops``, ``memory_limit_gb``, and
configuration errors naming the field. Targets: determinism, Batch shapes, declared capabilities (orthonormal
proper subspaces, class threshold), jit(vmap) over keys, configuration errors.
"""

from __future__ import annotations

import functools
import math
import typing
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from depthlab import metrics
from depthlab.learners import LearnerConfig, LearnerSpec
from depthlab.learners.base import LEARNER_CAPABILITIES
from depthlab.presets import all_presets
from depthlab.targets import Batch, TargetConfig, TargetSpec
from depthlab.targets.base import TARGET_CAPABILITIES

D, N, N_TEST = 8, 24, 16
KEYS = (jax.random.PRNGKey(0), jax.random.PRNGKey(1))


def _union_members(union: Any) -> list[type]:
    return list(typing.get_args(typing.get_args(union)[0]))


def _tag_values(cls: type, tag: str) -> tuple[str, ...]:
    return typing.get_args(cls.model_fields[tag].annotation)


LEARNER_CLASSES: dict[str, type[LearnerSpec]] = {
    kind: cls for cls in _union_members(LearnerConfig) for kind in _tag_values(cls, "kind")
}
TARGET_CLASSES: dict[str, type[TargetSpec]] = {
    fam: cls for cls in _union_members(TargetConfig) for fam in _tag_values(cls, "family")
}

# Overrides that make each learner kind tiny (widths, steps); every kind must have an entry.
SMALL_LEARNERS: dict[str, dict[str, Any]] = {
    "layerwise": {"p1": 16, "p2": 8, "t1_coef": 2.0, "t2_coef": 0.2},
    "joint": {"p1": 16, "p2": 8, "t2_coef": 0.2},
    "layerwise_deep": {"p1": 16, "widths": (8, 8), "t1_coef": 2.0, "t2_coef": 0.2},
    "two_layer": {"p": 8, "t_coef": 0.2},
    "kernel": {},
    "random_features": {"p": 16},
    "one_step": {"width": 16, "feature_width": 32},
    "transfer": {"width": 16, "n_source": 64},
    "two_sigmoid": {"p": 16, "steps": 20},
    "shallow_gd": {"p": 16, "steps": 20},
    "linear": {},
    "tuned": {"base": {"kind": "layerwise", "p1": 16, "p2": 8, "t1_coef": 2.0, "t2_coef": 0.2}, "param": "ridge",
              "values": [0.1, 1.0], "n_val": 32},
    "theorem1": {"p1": 16, "p2": 8},
}
# Configurations whose capabilities or code paths differ from the kind's base configuration (kind, extra overrides).
LEARNER_VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("one_step", {"features": "input", "init": "sphere"}),  # the presets' first one_step has relu_random
    ("kernel", {"solver": "primal"}),
    ("two_sigmoid", {"output": "linear", "readout": "lstsq", "lr": 1.0}),  # an exact readout: recorded in 2 points
    ("tuned", {"base": {"kind": "tuned", "base": {"kind": "one_step", "width": 16}, "param": "ridge",
                        "values": [0.1, 1.0], "n_val": 32},
               "param": "eta1_scale", "values": [0.5, 2.0]}),  # a tuned base: two parameters
]
# Learners whose fit does not use its key (exact solves): different keys give identical predictions.
KEY_FREE = {"kernel", "linear"}

# A tiny configuration per target family; every family must have an entry.
SMALL_TARGETS: dict[str, dict[str, Any]] = {
    "sight": {"d": 16},
    "might": {"d": 16, "branches": 2},
    "deep": {"d": 16, "epsilon": (0.75, 0.25)},
    "single_index": {"d": D},
    "quadratic": {"d": D},  # full rank: no proper subspace
    "multi_index": {"d": D, "source_head": "transfer"},
    "ball": {"d": D},
}
TARGET_VARIANTS: list[tuple[str, dict[str, Any]]] = [
    ("quadratic", {"d": D, "rank": 4}),  # a proper subspace
    ("multi_index", {"d": 3, "r": 3, "source_head": "transfer"}),  # r = d: no proper subspace
    ("might", {"d": 16, "branches": 2, "sigma2": ["tanh:3", "abs"]}),  # one link per branch
]


def _case_name(name: str, overrides: dict[str, Any]) -> str:
    def short(v: Any) -> str:  # a nested learner by its kind and tuned parameter (a printable test id)
        return f"{v.get('kind')}:{v.get('param')}" if isinstance(v, dict) else str(v)

    return f"{name}[{','.join(f'{k}={short(v)}' for k, v in overrides.items())}]"


def _target(family: str, overrides: dict[str, Any] | None = None) -> TargetSpec:
    cfg = {"family": family, **(SMALL_TARGETS[family] if overrides is None else overrides)}
    return TypeAdapter(TargetConfig).validate_python(cfg)


TARGET_CASES: dict[str, TargetSpec] = {
    **{fam: _target(fam) for fam in TARGET_CLASSES if fam in SMALL_TARGETS},
    **{_case_name(fam, o): _target(fam, o) for fam, o in TARGET_VARIANTS},
}


def _preset_method(kind: str) -> tuple[LearnerSpec, str | None]:
    """The first preset method of this kind, and its preset's target family (or the defaults, None)."""
    for p in all_presets():
        for spec in p.methods.values():
            if spec.kind == kind:
                return spec, p.target.family
    return LEARNER_CLASSES[kind](), None


def _binds(spec: LearnerSpec, target: TargetSpec) -> bool:
    try:
        spec.bind(target)
    except ValueError:
        return False
    return True


LEARNER_CASES: list[str] = [*LEARNER_CLASSES, *(_case_name(k, o) for k, o in LEARNER_VARIANTS)]
_VARIANT_OF = {_case_name(k, o): (k, o) for k, o in LEARNER_VARIANTS}

# LLVM optimisation off: compiling dominates the run time of these tiny programs (2-3x faster), and every
# comparison below is between programs built with the same options.
_jit = functools.partial(jax.jit, compiler_options={"xla_backend_optimization_level": 0})


@functools.cache
def learner_case(case: str) -> tuple[LearnerSpec, str]:
    """(resolved and bound learner, name of its small target case): the small target of its preset's family
    (the first small target it binds to where no preset uses the kind)."""
    kind, extra = _VARIANT_OF.get(case, (case, {}))
    base, family = _preset_method(kind)
    cfg = {**base.model_dump(exclude_unset=True), "kind": kind, **SMALL_LEARNERS[kind], **extra}
    spec = TypeAdapter(LearnerConfig).validate_python(cfg)
    name = family if family is not None else next(n for n, t in TARGET_CASES.items() if _binds(spec, t))
    target = TARGET_CASES[name]
    return spec.resolve(target.d, N, N).bind(target), name


def _data_function(t: TargetSpec) -> Any:
    def draw(key: jax.Array) -> tuple[Any, Any, Any]:
        k1, k2, k3 = jax.random.split(key, 3)
        inst = t.draw(k1)
        return inst, t.sample(inst, k2, N), t.sample(inst, k3, N_TEST)

    return draw


@functools.cache
def target_draws(case: str) -> dict[str, Any]:
    """(instance, train, test) of two trials: each by the unbatched program, again for the first key, and both
    by the jit(vmap) one (the sweep's data program)."""
    t = TARGET_CASES[case]
    single = _jit(_data_function(t))
    return {
        "target": t,
        "single": [single(k) for k in KEYS],
        "again": single(KEYS[0]),
        "batched": _jit(jax.vmap(_data_function(t)))(jnp.stack(KEYS)),
    }


def _trial(tree: Any, i: int) -> Any:
    return jax.tree_util.tree_map(lambda a: a[i], tree)


@functools.cache
def fitted(case: str) -> dict[str, Any]:
    """One compiled fit per case (also measured: memory_analysis), applied to two trials and two keys."""
    spec, target_case = learner_case(case)
    data = target_draws(target_case)
    target, (insts, trains, _) = data["target"], data["batched"]
    inst, train, test = data["single"][0]

    def fit(key: jax.Array, inst: Any, train: Any) -> Any:
        return spec.fit_task(key, target, inst, train)

    compiled = _jit(fit).lower(KEYS[0], inst, train).compile()
    return {
        "spec": spec, "target": target, "inst": inst, "train": train, "test": test,
        "params": compiled(KEYS[0], inst, train),
        "params_again": compiled(KEYS[0], inst, train),
        "params_other_key": compiled(KEYS[1], inst, train),
        "per_trial": [compiled(KEYS[i], _trial(insts, i), _trial(trains, i)) for i in range(2)],
        "batched": _jit(jax.vmap(fit))(jnp.stack(KEYS), insts, trains),
        "memory": compiled.memory_analysis(),
    }


def _leaves(tree: Any) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(tree)]


# ---- coverage -----------------------------------------------------------------------------------------------
def test_small_tables_cover_every_kind():
    """A new learner kind or target family must get a small configuration here (so it cannot skip the suite)."""
    assert set(LEARNER_CLASSES) == set(SMALL_LEARNERS), "SMALL_LEARNERS must have exactly one entry per kind"
    assert set(TARGET_CLASSES) == set(SMALL_TARGETS), "SMALL_TARGETS must have exactly one entry per family"
    assert KEY_FREE <= set(LEARNER_CLASSES)


def test_registries_match_their_literals():
    from depthlab.learners.kernel_ridge import KernelRidge
    from depthlab.learners.kernels import KERNELS
    from depthlab.learners.two_sigmoid import OUTPUT_HEADS, OUTPUT_LINKS, TwoSigmoid
    from depthlab.targets.radial import RADIUS_LAWS, BallTarget

    assert set(KERNELS) == set(_tag_values(KernelRidge, "kernel"))
    assert set(RADIUS_LAWS) == set(_tag_values(BallTarget, "radius_law"))
    outputs, losses = set(_tag_values(TwoSigmoid, "output")), set(_tag_values(TwoSigmoid, "loss"))
    assert set(OUTPUT_HEADS) == set(OUTPUT_LINKS) == outputs
    assert all(set(heads) == losses for heads in OUTPUT_HEADS.values())


# ---- learners -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", LEARNER_CASES)
def test_learner_fit_is_deterministic_in_its_key(case):
    r = fitted(case)
    spec = r["spec"]
    for a, b in zip(_leaves(r["params"]), _leaves(r["params_again"]), strict=True):
        np.testing.assert_array_equal(a, b)
    pred = np.asarray(spec.predict(r["params"], r["test"].x))
    np.testing.assert_array_equal(pred, np.asarray(spec.predict(r["params_again"], r["test"].x)))
    other = np.asarray(spec.predict(r["params_other_key"], r["test"].x))
    if spec.kind in KEY_FREE:
        np.testing.assert_array_equal(pred, other)
    else:
        assert not np.array_equal(pred, other), "a randomised learner gave identical predictions for two keys"


def _assert_batched_matches(batched: Any, singles: list[Any], rtol: float, atol: float) -> None:
    """Trial i of a vmapped result equals the unbatched result i, leaf by leaf (atol relative to the leaf's scale)."""
    for i, single in enumerate(singles):
        for a, b in zip(_leaves(_trial(batched, i)), _leaves(single), strict=True):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * max(1.0, float(np.abs(b).max(initial=0.0))))


@pytest.mark.parametrize("case", LEARNER_CASES)
def test_learner_vmap_over_trials_matches_unbatched(case):
    r = fitted(case)
    # batched CPU kernels reduce in another order: float32 round-off, amplified by the solves
    _assert_batched_matches(r["batched"], r["per_trial"], rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("case", LEARNER_CASES)
def test_learner_shapes_and_finite_predictions(case):
    r = fitted(case)
    spec = r["spec"]
    for x, n in ((r["train"].x, N), (r["test"].x, N_TEST)):
        pred = np.asarray(spec.predict(r["params"], x))
        assert pred.shape == (n,)
        assert np.all(np.isfinite(pred))
    assert all(np.all(np.isfinite(a)) for a in _leaves(r["params"]))


def _capability_shapes(spec: LearnerSpec, params: Any, x: Any) -> dict[str, tuple[int, ...]]:
    out = {}
    if "first_layer" in spec.capabilities:
        out["first_layer"] = spec.first_layer(params).shape
    if "hidden_preactivation" in spec.capabilities:
        out["hidden_preactivation"] = spec.hidden_preactivation(params, x).shape
    if "learned_feature" in spec.capabilities:
        out["learned_feature"] = spec.learned_feature(params, x).shape
    if "tuned" in spec.capabilities:
        out["tuned"] = spec.tuned_value(params).shape
    if "trajectory" in spec.capabilities:  # the values themselves: test_learner_recording_is_the_same_training...
        out["trajectory"] = (len(spec.record_schedule(x.shape[1], N, 4)),)
    return out


@pytest.mark.parametrize("case", LEARNER_CASES)
def test_learner_declared_capabilities_are_honoured(case):
    r = fitted(case)
    spec, params, x = r["spec"], r["params"], r["test"].x
    assert spec.capabilities <= LEARNER_CAPABILITIES
    shapes = _capability_shapes(spec, params, x)
    assert set(shapes) == spec.capabilities
    if "first_layer" in shapes:
        p, d = shapes["first_layer"]
        assert d == x.shape[1] and p >= 1
    if "hidden_preactivation" in shapes:
        assert len(shapes["hidden_preactivation"]) == 2 and shapes["hidden_preactivation"][0] == N_TEST
    if "learned_feature" in shapes:
        assert shapes["learned_feature"] == (N_TEST,)
    calls = {
        "first_layer": lambda: spec.first_layer(params),
        "hidden_preactivation": lambda: spec.hidden_preactivation(params, x),
        "learned_feature": lambda: spec.learned_feature(params, x),
        "trajectory": lambda: spec.record_schedule(x.shape[1], N, 4),
        "tuned": lambda: spec.tuned_value(params),
    }
    assert set(calls) == LEARNER_CAPABILITIES
    for cap in LEARNER_CAPABILITIES - spec.capabilities:
        with pytest.raises(NotImplementedError, match=f"{spec.kind} does not declare {cap}"):
            calls[cap]()


def _expected_metrics(spec: LearnerSpec, target: TargetSpec, inst: Any, test: Any) -> set[str]:
    """The metric keys the declared capabilities imply (``metrics`` module docstring); inst and test may be
    abstract (shapes only)."""
    out = {"test_mse", "train_mse", "trivial_mse", "pred_corr"}  # the metrics every trial has

    def per_branch(name: str, branches: int) -> None:
        out.add(name)
        if branches > 1:
            out.update(f"{name}_b{b}" for b in range(branches))

    if "first_layer" in spec.capabilities and "subspace" in target.capabilities:
        per_branch("overlap_w", jax.eval_shape(target.subspaces, inst).shape[0])
    if "hidden_preactivation" in spec.capabilities and "hidden_features" in target.capabilities:
        per_branch("overlap_h", test.h.shape[1])
    if "learned_feature" in spec.capabilities and "hidden_features" in target.capabilities:
        out.add("feature_corr")
    if "tuned" in spec.capabilities:
        out.add("tuned_value")
    if "classification" in target.capabilities:
        out.add("class_error")
        if "boundary" in target.capabilities:
            out.update(f"boundary_error_{b}" for b in ("q05", "q15", "q30", "far"))
    return out


@pytest.mark.parametrize("case", LEARNER_CASES)
def test_learner_recording_is_the_same_training_with_metrics_along_it(case):
    """Capability ``trajectory``: ``fit_recorded`` gives the parameters of ``fit_task`` (the same program of
    updates, cut into segments), one value per point of ``record_schedule`` for every metric of
    ``evaluate_along``, starting at step 0 and ending at the end of training with the final metrics."""
    r = fitted(case)
    spec, target, inst, train, test = r["spec"], r["target"], r["inst"], r["train"], r["test"]
    if "trajectory" not in spec.capabilities:
        with pytest.raises(NotImplementedError, match="does not declare trajectory"):
            spec.fit_recorded(KEYS[0], train.x, train.y, lambda p: {}, 4)
        return
    d = train.x.shape[1]
    schedule = spec.record_schedule(d, N, 6)
    steps = [s for s, _ in schedule]
    # every point asked for that the run has (an exact one-step fit has two: the initialisation and the end)
    assert schedule[0] == (0, "init") and steps == sorted(set(steps)) and len(schedule) >= min(3, steps[-1] + 1)

    def run(key: jax.Array, inst: Any, train: Any, test: Any) -> Any:
        def probe(p: Any) -> dict[str, jax.Array]:
            return metrics.evaluate_along(target, inst, spec, p, train, test)
        return spec.fit_task_recorded(key, target, inst, train, probe, 6)

    params, values = _jit(run)(KEYS[0], inst, train, test)
    for a, b in zip(_leaves(params), _leaves(r["params"]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    final = metrics.evaluate(target, inst, spec, r["params"], train, test)
    assert set(values) == set(final) - {"trivial_mse"}
    for k, v in values.items():
        assert v.shape == (len(schedule),), k
        np.testing.assert_allclose(float(v[-1]), float(final[k]), rtol=1e-4, atol=1e-6, err_msg=k)


@pytest.mark.parametrize("case", LEARNER_CASES)
def test_learner_metrics_follow_capabilities(case):
    r = fitted(case)
    spec, target, inst, test = r["spec"], r["target"], r["inst"], r["test"]
    out = metrics.evaluate(target, inst, spec, r["params"], r["train"], test)
    assert set(out) == _expected_metrics(spec, target, inst, test)
    assert all(np.isfinite(float(v)) for v in out.values())


@pytest.mark.parametrize("case", LEARNER_CASES)
def test_learner_metrics_on_every_target(case):
    """Abstractly (jax.eval_shape: traced, not compiled) on every small target the learner binds to: the
    declared capabilities have their shapes and evaluate returns the metrics they imply."""
    spec0, _ = learner_case(case)
    checked = 0
    for target in TARGET_CASES.values():
        if not _binds(spec0, target):
            continue
        spec = spec0.resolve(target.d, N, N).bind(target)
        inst, train, test = jax.eval_shape(_data_function(target), KEYS[0])

        def run(key: jax.Array, inst: Any, train: Any, test: Any, spec: LearnerSpec = spec,
                target: TargetSpec = target) -> tuple[dict[str, Any], dict[str, Any]]:
            params = spec.fit_task(key, target, inst, train)
            caps = {c: jnp.zeros(s) for c, s in _capability_shapes(spec, params, test.x).items()}
            return metrics.evaluate(target, inst, spec, params, train, test), caps

        out, caps = jax.eval_shape(run, KEYS[0], inst, train, test)
        assert set(out) == _expected_metrics(spec, target, inst, test), type(target).__name__
        assert all(v.shape == () for v in out.values())
        assert set(caps) == spec.capabilities
        checked += 1
    assert checked >= 1


@pytest.mark.parametrize("case", LEARNER_CASES)
def test_learner_memory_estimate_within_a_factor_of_the_compiled_buffers(case):
    """``memory_bytes`` against XLA's buffer assignment of the compiled fit: arguments + outputs + temporaries
    (their sum bounds the peak; the CPU backend's own ``peak_memory_in_bytes`` leaves temporaries out, so it is
    not used). On these shapes every learner's estimate is 0.8-2.1x that sum. The factor 8 leaves room for
    XLA's fusion decisions and for the constant terms the estimates drop (they count the dominant terms of
    large cells), and still catches a term with the wrong scaling: n^2 for n, or a width left out, is off by
    >= n = 24 or a width >= 8 here."""
    r = fitted(case)
    stats = r["memory"]
    if stats is None:
        pytest.skip("memory_analysis not available on this backend")
    buffers = stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
    est = r["spec"].memory_bytes(r["target"].d, N, 4)
    assert isinstance(est, int) and est > 0
    assert buffers / 8 <= est <= 8 * buffers, f"memory_bytes {est} vs compiled buffers {buffers}"


@pytest.mark.parametrize("case", LEARNER_CASES)
def test_learner_flops_positive_and_growing_with_n(case):
    spec, target_case = learner_case(case)
    d = TARGET_CASES[target_case].d
    small, large = spec.flops(d, 100), spec.flops(d, 1000)
    assert 0 < small < large and math.isfinite(large)
    assert spec.memory_bytes(d, 100) <= spec.memory_bytes(d, 1000)


@pytest.mark.parametrize("kind", list(LEARNER_CLASSES))
def test_learner_feasibility_follows_its_memory_limit(kind):
    spec, target_case = learner_case(kind)
    target = TARGET_CASES[target_case]
    limit = spec.memory_limit_gb()
    assert limit is None or limit > 0
    spec.check_feasible(target.d, N)  # tiny cells always fit
    if limit is not None:
        tight = type(spec).model_validate({**spec.model_dump(), "max_memory_gb": 1e-12})
        with pytest.raises(ValueError, match="max_memory_gb"):
            tight.check_feasible(target.d, N)


def _assert_names_field(err: ValidationError, field: str) -> None:
    assert any(field in e["loc"] for e in err.errors()), (field, err.errors())


@pytest.mark.parametrize("kind", list(LEARNER_CLASSES))
def test_learner_bad_configuration_rejected(kind):
    cls = LEARNER_CLASSES[kind]
    adapter = TypeAdapter(LearnerConfig)
    with pytest.raises(ValidationError) as e:
        adapter.validate_python({"kind": kind, "no_such_setting": 1})
    _assert_names_field(e.value, "no_such_setting")
    for field in cls.model_fields:
        if field == "kind":
            continue
        with pytest.raises(ValidationError) as e:
            cls.model_validate({field: {"not": "a value"}})
        _assert_names_field(e.value, field)


# ---- targets ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(TARGET_CASES))
def test_target_draw_and_sample_deterministic(case):
    r = target_draws(case)
    for a, b in zip(_leaves(r["single"][0]), _leaves(r["again"]), strict=True):
        np.testing.assert_array_equal(a, b)
    b0, b1 = r["single"][0][1], r["single"][1][1]
    assert not np.array_equal(np.asarray(b0.x), np.asarray(b1.x))


@pytest.mark.parametrize("case", list(TARGET_CASES))
def test_target_batch_shapes(case):
    r = target_draws(case)
    t, (_, train, test) = r["target"], r["single"][0]
    for b, n in ((train, N), (test, N_TEST)):
        assert isinstance(b, Batch)
        assert b.x.shape == (n, t.d)
        assert b.y.shape == b.f.shape == (n,)
        assert b.z.ndim == 2 and b.z.shape[0] == n
        assert b.h.ndim == 2 and b.h.shape[0] == n and b.h.shape[1] >= 1
        assert all(np.all(np.isfinite(np.asarray(a))) for a in b)
    assert test.z.shape[1] == train.z.shape[1] and test.h.shape[1] == train.h.shape[1]


@pytest.mark.parametrize("case", list(TARGET_CASES))
def test_target_declared_capabilities_are_honoured(case):
    r = target_draws(case)
    t, inst = r["target"], r["single"][0][0]
    assert t.capabilities <= TARGET_CAPABILITIES
    if "subspace" in t.capabilities:
        s = np.asarray(t.subspaces(inst), np.float64)
        assert s.ndim == 3 and s.shape[2] == t.d and 1 <= s.shape[1] < t.d
        for basis in s:
            np.testing.assert_allclose(basis @ basis.T, np.eye(s.shape[1]), atol=1e-5)
    else:
        with pytest.raises(NotImplementedError, match=f"{t.family} does not declare subspace"):
            t.subspaces(inst)
    if "classification" in t.capabilities:
        assert isinstance(t.class_threshold, float)
    else:
        assert not hasattr(t, "class_threshold")
    if "boundary" in t.capabilities:  # the class boundary is the zero level set of the signed distance
        assert "classification" in t.capabilities
        test = r["single"][0][2]
        s = np.asarray(t.boundary_distance(inst, test))
        assert s.shape == (test.x.shape[0],)
        np.testing.assert_array_equal(s < 0, np.asarray(test.f) > t.class_threshold)  # negative inside
    else:
        with pytest.raises(NotImplementedError, match=f"{t.family} does not declare boundary"):
            t.boundary_distance(inst, None)


@pytest.mark.parametrize("case", list(TARGET_CASES))
def test_target_jit_vmap_over_keys_matches_unbatched(case):
    r = target_draws(case)
    _assert_batched_matches(r["batched"], r["single"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", list(TARGET_CLASSES))
def test_target_bad_configuration_rejected(family):
    cls = TARGET_CLASSES[family]
    adapter = TypeAdapter(TargetConfig)
    with pytest.raises(ValidationError) as e:
        adapter.validate_python({**SMALL_TARGETS[family], "family": family, "no_such_setting": 1})
    _assert_names_field(e.value, "no_such_setting")
    for field in cls.model_fields:
        if field == "family":
            continue
        with pytest.raises(ValidationError) as e:
            cls.model_validate({**SMALL_TARGETS[family], "family": family, field: {"not": "a value"}})
        _assert_names_field(e.value, field)
