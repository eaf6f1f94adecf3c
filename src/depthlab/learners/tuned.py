r"""Validation tuning: one hyperparameter of a learner chosen per cell on a validation set (Dandi et al. 2025,
App. F.4: "regularisation strengths tuned per kappa", with 1000 fresh validation samples; Nichani et al. 2023
tune eta_1 and lambda on a validation set the same way).

    for each value v of the grid:  theta_v = base(param = v).fit(key, x, y)       (the n training samples)
    v* = argmin_v  (1/n_val) sum_{i in val} (f_{theta_v}(x_i) - y_i)^2            (n_val fresh samples)
    the learner's fit is theta_{v*};  the stored metric ``tuned_value`` is v*.

The validation samples are drawn fresh from the cell's target instance (``fit_task``: the target's own law,
with labels as the training labels, never the test set), so the training budget n is unchanged and the test
error is not selected on. Every value's fit uses the same key (the same initialisation and batches: the grid
compares values, not draws). The grid is small (2-8 values) and runs inside the one compiled program (a
Python loop over values, each a compiled training run), so the cost is len(values) fits.

Two parameters: a tuned learner whose base is itself tuned (``base: {kind: tuned, ...}``) tries every value of
its grid, and for each the base selects its own value on the same validation samples, so the pair chosen is the
joint argmin over the product grid (len(values) x len(base.values) fits); ``tuned_value`` reports the outer
parameter's value (Nichani et al.'s eta_1 and lambda: ``nichani2023-tuned``).

Tuned parameters are floats that change no shape (a ridge, a weight decay, a step size): a width cannot be
tuned this way (every value's parameters are stacked and the chosen one is selected in the program).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, NamedTuple, Union

import jax
import jax.numpy as jnp
from jax import Array
from pydantic import Field, PositiveInt, model_validator

from depthlab.learners.base import LearnerCapability, LearnerSpec, PlotRole
from depthlab.learners.kernel_ridge import KernelRidge
from depthlab.learners.one_step import OneStep
from depthlab.learners.three_layer import JointThreeLayer, LayerwiseThreeLayer
from depthlab.learners.two_layer import TwoLayer

_VALIDATION_SALT = 0x7A11D  # the validation draw's key: fold_in(learner key, salt), apart from every other draw

TunableConfig = Annotated[  # "Tuned": a forward reference (a tuned base), resolved by model_rebuild below
    Union[LayerwiseThreeLayer, JointThreeLayer, TwoLayer, KernelRidge, OneStep, "Tuned"],  # noqa: UP007
    Field(discriminator="kind")]


class TunedParams(NamedTuple):
    base: Any  # the chosen value's fitted parameters
    value: Array  # () the chosen value
    val_mse: Array  # (G,) validation MSE of every value of the grid


class Tuned(LearnerSpec):
    """A learner (``base``) with one float hyperparameter (``param``) chosen from ``values`` by the validation MSE
    on ``n_val`` fresh samples (module docstring)."""

    plot_role: ClassVar[PlotRole] = "variant"

    kind: Literal["tuned"] = Field(default="tuned", description="learner kind (discriminator)")
    base: TunableConfig = Field(description="the learner whose hyperparameter is tuned (layerwise, joint, "
                                "two_layer, kernel or one_step), with all its other settings; or a tuned learner "
                                "(a grid over two parameters: module docstring)")
    param: str = Field(description="the float field of base chosen on the validation set (e.g. ridge, reg2, reg)")
    values: list[float] = Field(min_length=2, max_length=8, description="the grid of values tried (2-8)")
    n_val: PositiveInt = Field(default=1000, description="fresh validation samples per trial (paper: 1000)")

    @property
    def learner(self) -> LearnerSpec:
        """The learner that is fitted: the base, or the base's learner where the base is itself tuned."""
        return self.base.learner if isinstance(self.base, Tuned) else self.base

    def tuned_params(self) -> list[str]:
        return [self.param, *(self.base.tuned_params() if isinstance(self.base, Tuned) else [])]

    @model_validator(mode="after")
    def _tunable(self) -> Tuned:
        inner = self.learner
        fields = type(inner).model_fields
        if self.param not in fields or self.param in ("kind", "max_n"):
            raise ValueError(f"param {self.param!r} is not a hyperparameter of {inner.kind}; have "
                             f"{', '.join(sorted(set(fields) - {'kind', 'max_n'}))}")
        if isinstance(self.base, Tuned) and self.param in self.base.tuned_params():
            raise ValueError(f"param {self.param!r} is tuned twice (by this grid and by its base's)")
        current = getattr(inner, self.param)  # a float, or None where the base computes a default (eta1)
        if isinstance(current, bool) or not (current is None or isinstance(current, float)):
            raise ValueError(f"param {self.param!r} of {inner.kind} is not a float hyperparameter (a width or a "
                             "setting that changes shapes cannot be tuned)")
        for v in self.values:  # every value must be valid for the learner (e.g. a positive ridge)
            type(inner).model_validate({**inner.model_dump(), self.param: v})
        return self

    def _with(self, param: str, value: float) -> LearnerSpec:
        """The base with ``param`` of the fitted learner set to ``value`` (through a tuned base)."""
        if isinstance(self.base, Tuned):
            return self.base.model_copy(update={"base": self.base._with(param, value)})
        return self.base.model_copy(update={param: value})

    @property
    def capabilities(self) -> frozenset[LearnerCapability]:
        return (self.base.capabilities - {"trajectory"}) | {"tuned"}

    def _at(self, value: float) -> LearnerSpec:
        return self._with(self.param, value)

    def resolve(self, d: int, n: int, n_max: int) -> Tuned:
        return self.model_copy(update={"base": self.base.resolve(d, n, n_max)})

    def bind(self, target: Any) -> Tuned:
        return self.model_copy(update={"base": self.base.bind(target)})

    def fit_task(self, key: Array, target: Any, inst: Any, train: Any) -> TunedParams:
        val = target.sample(inst, jax.random.fold_in(key, _VALIDATION_SALT), self.n_val)
        return self._select(key, train.x, train.y, val.x, val.y)

    def fit(self, key: Array, x: Array, y: Array) -> TunedParams:
        """Without a target to draw from: the last n_val (at most n / 5) of the n samples validate, the rest
        train (a smaller training set than ``fit_task``'s)."""
        n = x.shape[0]
        k = max(1, min(self.n_val, n // 5))
        return self._select(key, x[: n - k], y[: n - k], x[n - k :], y[n - k :])

    def _select(self, key: Array, x: Array, y: Array, xv: Array, yv: Array) -> TunedParams:
        fits, errs = [], []
        for v in self.values:
            spec = self._at(v)
            # a tuned base selects its own value on the same validation samples: the joint argmin of the grid
            p = spec._select(key, x, y, xv, yv) if isinstance(spec, Tuned) else spec.fit(key, x, y)
            r = spec.predict(p, xv) - yv
            fits.append(p)
            errs.append(jnp.mean(r * r))
        val_mse = jnp.stack(errs)
        best = jnp.argmin(jnp.where(jnp.isfinite(val_mse), val_mse, jnp.inf))  # a diverged value is never chosen
        chosen = jax.tree.map(lambda *a: jnp.stack(a)[best], *fits)
        return TunedParams(chosen, jnp.asarray(self.values, x.dtype)[best], val_mse)

    def predict(self, params: TunedParams, x: Array) -> Array:
        return self.base.predict(params.base, x)

    def _delegate(self, capability: LearnerCapability) -> LearnerSpec:
        if capability not in self.capabilities:
            raise self._undeclared(capability)
        return self.base

    def first_layer(self, params: TunedParams) -> Array:
        return self._delegate("first_layer").first_layer(params.base)

    def hidden_preactivation(self, params: TunedParams, x: Array) -> Array:
        return self._delegate("hidden_preactivation").hidden_preactivation(params.base, x)

    def learned_feature(self, params: TunedParams, x: Array) -> Array:
        return self._delegate("learned_feature").learned_feature(params.base, x)

    def tuned_value(self, params: TunedParams) -> Array:
        return params.value

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        """One fit at a time, plus every value's fitted parameters (stacked to select one) and the validation
        set; the parameters are bounded by the base's working set."""
        return (1 + len(self.values)) * self.base.memory_bytes(d, n, itemsize) // 2 + itemsize * 2 * self.n_val * d

    def flops(self, d: int, n: int) -> float:
        return len(self.values) * self.base.flops(d, n)

    def memory_limit_gb(self) -> float | None:
        return self.base.memory_limit_gb()


Tuned.model_rebuild()  # base may itself be Tuned (a grid over two parameters)
