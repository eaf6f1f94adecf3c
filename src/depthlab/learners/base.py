"""The learner protocol (one uniform estimator interface, scikit-learn style, but pure and jittable).

    spec = spec.resolve(d, n, n_max)        fix hyperparameters tied to the grid (e.g. p1 from n_max)
    spec = spec.bind(target)                fix hyperparameters tied to the target (e.g. pretraining size)
    params = spec.fit(key, x, y)            pure function of its inputs; a whole training run compiles
    params = spec.fit_task(key, target, inst, train)   what the sweep calls; = fit(key, train.x, train.y)
                                            except for learners that also draw from a related task
    yhat = spec.predict(params, x)
    spec.memory_bytes(d, n), spec.flops(d, n)   peak working set and operation count of one trial's fit
                                            (required: the sweep sizes its chunks and its schedule with them)
    spec.memory_limit_gb()                  the largest working set a trial may have (None: no limit)

Capabilities (scikit-learn's estimator tags): what else a learner provides is declared, not probed.
``spec.capabilities`` is a frozenset drawn from the closed vocabulary ``LearnerCapability``; each one names a
method, which a learner that declares it overrides, and which raises NotImplementedError on one that does not:

    "first_layer"            spec.first_layer(params)              (p1, d) first-layer weights   -> overlap M_W
    "hidden_preactivation"   spec.hidden_preactivation(params, x)  (n, p2) second-layer preactivations -> M_h
    "learned_feature"        spec.learned_feature(params, x)       (n,) a learned scalar feature -> feature_corr
    "trajectory"             spec.record_schedule(d, n, count)     (step, stage) of each recorded point
                             spec.fit_recorded(key, x, y, probe, count) -> (params, values): the same training,
                             probe(params) (a dict of scalars) evaluated inside the compiled program at each
                             point of the schedule, stacked (len(schedule),) per key  -> training dynamics

A learner kind declares them as a class variable, ``capabilities: ClassVar[frozenset[LearnerCapability]]``;
where they depend on the configuration (``OneStepBase``: the ``features`` setting) the class computes them in
a ``capabilities`` property instead. The metrics (``depthlab.metrics``) ask ``"first_layer" in
spec.capabilities``; the conformance suite (tests/test_conformance.py) checks that every declared method
returns its shape and every undeclared one raises.

All hyperparameters live in the (frozen, validated) spec with the paper's defaults. ``max_n`` (every
learner) skips the cells of a sweep with more samples (e.g. a dual kernel solve beyond its memory); it does
not change any number, so it is not part of a cell's identity.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, get_args

from jax import Array
from pydantic import Field, PositiveInt

from depthlab.config import Config

# A learner kind's default role in figures (its colour and marker, plots.ROLE_STYLES); a preset may give a method
# another (Preset.roles). Every concrete learner declares ``plot_role: ClassVar[PlotRole]``.
PlotRole = Literal["three_layer", "three_layer_joint", "ablation", "scaled_up", "variant", "two_layer", "longer",
                   "one_step", "kernel", "kernel_alt", "random_features"]
LearnerCapability = Literal["first_layer", "hidden_preactivation", "learned_feature", "trajectory", "tuned"]
LEARNER_CAPABILITIES: frozenset[LearnerCapability] = frozenset(get_args(LearnerCapability))


class LearnerSpec(Config):
    kind: str = Field(description="learner kind (discriminator)")
    max_n: PositiveInt | None = Field(default=None, description="run this learner only on cells with n <= max_n "
                                      "(None: all); skips cells, changes no number")

    # Options added after stores held cells of this kind, each with the value that computes the earlier numbers:
    # at that value the option is left out of ``identity``, so the cells keep their keys and their learner keys.
    keyless_defaults: ClassVar[Mapping[str, Any]] = {}

    def identity(self, top: bool = True) -> dict[str, Any]:
        """The configuration that determines this learner's numbers, as JSON data: every field but ``max_n``
        (which skips cells, at the top level) and the ``keyless_defaults`` at their value; a nested learner
        (a tuned learner's base) by its own identity. The cell key, the learner's key salt and the evaluation
        program's key are computed from it."""
        omit = {k for k, v in self.keyless_defaults.items() if getattr(self, k) == v}
        out = self.model_dump(mode="json", exclude=omit | ({"max_n"} if top else set()))
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, LearnerSpec) and name not in omit:
                out[name] = value.identity(top=False)
        return out

    @property
    def capabilities(self) -> frozenset[LearnerCapability]:
        """What this learner provides beyond fit and predict (module docstring); none by default. A learner
        kind overrides it with a class variable, or with a property where its configuration decides."""
        return frozenset()

    def _undeclared(self, capability: LearnerCapability) -> NotImplementedError:
        return NotImplementedError(f"{self.kind} does not declare {capability}")

    def resolve(self, d: int, n: int, n_max: int) -> LearnerSpec:
        """Return a copy with every grid-dependent hyperparameter made explicit."""
        return self

    def bind(self, target: Any) -> LearnerSpec:
        """Return a copy with every target-dependent hyperparameter made explicit."""
        return self

    def fit_task(self, key: Array, target: Any, inst: Any, train: Any) -> Any:
        """Fit on the training batch of a sweep cell (learners that pretrain on a related task of the
        same target instance override this)."""
        return self.fit(key, train.x, train.y)

    @abstractmethod
    def fit(self, key: Array, x: Array, y: Array) -> Any: ...

    @abstractmethod
    def predict(self, params: Any, x: Array) -> Array: ...

    def first_layer(self, params: Any) -> Array:
        """(p1, d) first-layer weights (capability ``first_layer``)."""
        raise self._undeclared("first_layer")

    def hidden_preactivation(self, params: Any, x: Array) -> Array:
        """(n, p2) second-layer preactivations at the inputs x (capability ``hidden_preactivation``)."""
        raise self._undeclared("hidden_preactivation")

    def learned_feature(self, params: Any, x: Array) -> Array:
        """(n,) the single scalar feature the learner built (e.g. Nichani et al.'s phi(x); capability
        ``learned_feature``)."""
        raise self._undeclared("learned_feature")

    def tuned_value(self, params: Any) -> Array:
        """() the hyperparameter value chosen on the validation set (capability ``tuned``)."""
        raise self._undeclared("tuned")

    def record_schedule(self, d: int, n: int, count: int) -> tuple[tuple[int, str], ...]:
        """(training step, stage) of each point ``fit_recorded`` records when asked for ``count`` log-spaced
        points: (0, "init") first, the end of training last (capability ``trajectory``)."""
        raise self._undeclared("trajectory")

    def fit_recorded(self, key: Array, x: Array, y: Array, probe: Callable[[Any], dict[str, Array]],
                     count: int) -> tuple[Any, dict[str, Array]]:
        """``fit`` (the same numbers) that also returns ``probe`` of the network at every point of
        ``record_schedule`` (capability ``trajectory``)."""
        raise self._undeclared("trajectory")

    def fit_task_recorded(self, key: Array, target: Any, inst: Any, train: Any,
                          probe: Callable[[Any], dict[str, Array]], count: int) -> tuple[Any, dict[str, Array]]:
        """``fit_task`` with recording (``fit_recorded`` on the training batch)."""
        return self.fit_recorded(key, train.x, train.y, probe, count)

    @abstractmethod
    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        """Estimate of the peak working set of one trial's ``fit`` (for chunking trials)."""

    @abstractmethod
    def flops(self, d: int, n: int) -> float:
        """Floating-point operations of one trial's ``fit``, counted from the shapes (dominant terms)."""

    def memory_limit_gb(self) -> float | None:
        """The largest ``memory_bytes`` estimate (GiB) a trial may need before ``check_feasible`` refuses the
        cell; None: no limit (the default). Learners with a ``max_memory_gb`` field return it."""
        return None

    def check_feasible(self, d: int, n: int, itemsize: int = 4) -> None:
        """Raise ValueError (saying what it would need) if a cell of this size cannot run: a learner with a
        ``memory_limit_gb`` refuses cells whose ``memory_bytes`` estimate exceeds it."""
        limit = self.memory_limit_gb()
        need = self.memory_bytes(d, n, itemsize) / 1024**3
        if limit is not None and need > limit:
            raise ValueError(
                f"{self.kind} at d={d}, n={n} needs {need:.1f} GiB per trial (> max_memory_gb={limit:g}); "
                "lower kappa_max, or raise methods.<name>.max_memory_gb"
            )
