"""Validation tuning (``learners.tuned``): the value chosen is the one with the least validation MSE on fresh
samples of the cell's target, the fit is the base learner's fit at that value, a diverged value is never chosen,
and configurations that cannot be tuned are refused naming the field."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from depthlab import metrics
from depthlab.learners import LearnerConfig
from depthlab.learners.tuned import _VALIDATION_SALT, Tuned
from depthlab.targets import TargetConfig

TARGET = TypeAdapter(TargetConfig).validate_python({"family": "sight", "d": 16})
KEY = jax.random.PRNGKey(4)


def _data(n: int = 200):
    inst = TARGET.draw(jax.random.PRNGKey(0))
    return inst, TARGET.sample(inst, jax.random.PRNGKey(1), n), TARGET.sample(inst, jax.random.PRNGKey(2), 500)


def _tuned(cfg: dict) -> Tuned:
    spec = TypeAdapter(LearnerConfig).validate_python({"kind": "tuned", **cfg})
    assert isinstance(spec, Tuned)
    return spec.resolve(16, 200, 200).bind(TARGET)


def test_the_chosen_value_minimises_the_validation_error_of_fresh_samples():
    spec = _tuned({"base": {"kind": "kernel"}, "param": "ridge", "values": [1e-4, 0.1, 10.0], "n_val": 300})
    inst, train, _ = _data()
    p = spec.fit_task(KEY, TARGET, inst, train)
    val = TARGET.sample(inst, jax.random.fold_in(KEY, _VALIDATION_SALT), 300)
    errs = []
    for v in spec.values:
        base = spec.base.model_copy(update={"ridge": v})
        q = base.fit(KEY, train.x, train.y)
        errs.append(float(jnp.mean((base.predict(q, val.x) - val.y) ** 2)))
    np.testing.assert_allclose(np.asarray(p.val_mse), errs, rtol=1e-5)
    best = int(np.argmin(errs))
    assert float(p.value) == pytest.approx(spec.values[best])
    chosen = spec.base.model_copy(update={"ridge": spec.values[best]})
    np.testing.assert_allclose(np.asarray(spec.predict(p, train.x)),
                               np.asarray(chosen.predict(chosen.fit(KEY, train.x, train.y), train.x)), rtol=1e-5,
                               atol=1e-6)
    assert len(set(np.round(errs, 6))) == 3  # the grid matters on this target: the test compares something


def test_a_diverged_value_is_never_chosen_and_the_metric_reports_the_choice():
    spec = _tuned({"base": {"kind": "two_layer", "p": 8, "t_coef": 0.5}, "param": "lr", "values": [1.0, 1e12],
                   "n_val": 100})
    inst, train, test = _data()
    p = spec.fit_task(KEY, TARGET, inst, train)
    assert not np.isfinite(float(p.val_mse[1])) or float(p.val_mse[1]) > float(p.val_mse[0])
    assert float(p.value) == 1.0
    out = metrics.evaluate(TARGET, inst, spec, p, train, test)
    assert float(out["tuned_value"]) == 1.0 and np.isfinite(float(out["test_mse"]))
    assert "overlap_w" in out  # the base's capabilities carry over


def test_without_a_target_the_last_samples_validate():
    spec = _tuned({"base": {"kind": "kernel"}, "param": "ridge", "values": [1e-3, 1.0], "n_val": 1000})
    _, train, _ = _data()
    p = spec.fit(KEY, train.x, train.y)
    assert float(p.value) in spec.values and p.val_mse.shape == (2,)


@pytest.mark.parametrize(("cfg", "needle"), [
    ({"base": {"kind": "kernel"}, "param": "nope", "values": [1.0, 2.0]}, "not a hyperparameter"),
    ({"base": {"kind": "layerwise"}, "param": "p2", "values": [8, 16]}, "not a float hyperparameter"),
    ({"base": {"kind": "kernel"}, "param": "ridge", "values": [1.0, -1.0]}, "ridge"),
    ({"base": {"kind": "kernel"}, "param": "ridge", "values": [1.0]}, "values"),
])
def test_configurations_that_cannot_be_tuned_are_refused(cfg, needle):
    with pytest.raises(ValidationError, match=needle):
        TypeAdapter(LearnerConfig).validate_python({"kind": "tuned", **cfg})


def test_a_tuned_base_gives_the_joint_argmin_of_the_product_grid():
    """eta_1 (its scale) and lambda tuned together (Nichani et al.): the outer grid over eta1_scale, for each the
    inner grid over ridge on the same validation samples; the pair chosen minimises the validation MSE over all
    four pairs, and the fit is the base learner's fit at that pair."""
    base = {"kind": "one_step", "width": 32, "features": "input"}
    spec = _tuned({"base": {"kind": "tuned", "base": base, "param": "ridge", "values": [1e-4, 10.0], "n_val": 300},
                   "param": "eta1_scale", "values": [0.1, 3.0], "n_val": 300})
    inst, train, _ = _data()
    p = spec.fit_task(KEY, TARGET, inst, train)
    val = TARGET.sample(inst, jax.random.fold_in(KEY, _VALIDATION_SALT), 300)
    learner = spec.learner
    errs = {}
    for s in spec.values:
        for r in spec.base.values:
            one = learner.model_copy(update={"eta1_scale": s, "ridge": r})
            q = one.fit(KEY, train.x, train.y)
            errs[s, r] = float(jnp.mean((one.predict(q, val.x) - val.y) ** 2))
    best = min(errs, key=errs.__getitem__)
    assert (float(p.value), float(p.base.value)) == pytest.approx(best)
    assert float(jnp.min(p.val_mse)) == pytest.approx(errs[best], rel=1e-5)
    assert len(set(np.round(list(errs.values()), 5))) == 4  # every pair differs: the test compares something
    chosen = learner.model_copy(update={"eta1_scale": best[0], "ridge": best[1]})
    np.testing.assert_allclose(np.asarray(spec.predict(p, train.x)),
                               np.asarray(chosen.predict(chosen.fit(KEY, train.x, train.y), train.x)), rtol=1e-5,
                               atol=1e-6)
    assert float(spec.tuned_value(p)) == pytest.approx(best[0])  # the stored metric: the outer grid's value


def test_a_parameter_tuned_twice_or_missing_from_the_fitted_learner_is_refused():
    base = {"kind": "one_step", "width": 32, "features": "input"}
    inner = {"kind": "tuned", "base": base, "param": "ridge", "values": [1e-4, 1.0]}
    with pytest.raises(ValidationError, match="tuned twice"):
        TypeAdapter(LearnerConfig).validate_python({"kind": "tuned", "base": inner, "param": "ridge",
                                                    "values": [0.1, 1.0]})
    with pytest.raises(ValidationError, match="not a hyperparameter of one_step"):
        TypeAdapter(LearnerConfig).validate_python({"kind": "tuned", "base": inner, "param": "values",
                                                    "values": [0.1, 1.0]})
