"""The learner protocol (one uniform estimator interface, scikit-learn style, but pure and jittable).

    spec = spec.resolve(d, n, n_max)        fix hyperparameters tied to the grid (e.g. p1 from n_max)
    spec = spec.bind(target)                fix hyperparameters tied to the target (e.g. pretraining size)
    params = spec.fit(key, x, y)            pure function of its inputs; a whole training run compiles
    params = spec.fit_task(key, target, inst, train)   what the sweep calls; = fit(key, train.x, train.y)
                                            except for learners that also draw from a related task
    yhat = spec.predict(params, x)
    spec.first_layer(params)                (p1, d) first-layer weights, or None   -> overlap M_W
    spec.hidden_preactivation(params, x)    (n, p2) second-layer preactivations, or None -> overlap M_h
    spec.learned_feature(params, x)         (n,) a learned scalar feature, or None      -> feature_corr

All hyperparameters live in the (frozen, validated) spec with the paper's defaults. ``max_n`` (every
learner) skips the cells of a sweep with more samples (e.g. a dual kernel solve beyond its memory); it does
not change any number, so it is not part of a cell's identity.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from jax import Array
from pydantic import Field, PositiveInt

from depthlab.config import Config


class LearnerSpec(Config):
    kind: str = Field(description="learner kind (discriminator)")
    max_n: PositiveInt | None = Field(default=None, description="run this learner only on cells with n <= max_n "
                                      "(None: all); skips cells, changes no number")

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

    def first_layer(self, params: Any) -> Array | None:
        return None

    def hidden_preactivation(self, params: Any, x: Array) -> Array | None:
        return None

    def learned_feature(self, params: Any, x: Array) -> Array | None:
        """(n,) the single scalar feature the learner built (e.g. Nichani et al.'s phi(x)), or None."""
        return None

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        """Estimate of the peak working set of one trial's ``fit`` (for chunking trials)."""
        return 8 * n * d * itemsize

    def check_feasible(self, d: int, n: int, itemsize: int = 4) -> None:
        """Raise ValueError (saying what it would need) if a cell of this size cannot run: learners with a
        ``max_memory_gb`` field refuse cells whose ``memory_bytes`` estimate exceeds it."""
        limit = getattr(self, "max_memory_gb", None)
        need = self.memory_bytes(d, n, itemsize) / 1024**3
        if limit is not None and need > limit:
            raise ValueError(
                f"{self.kind} at d={d}, n={n} needs {need:.1f} GiB per trial (> max_memory_gb={limit:g}); "
                "lower kappa_max, or raise methods.<name>.max_memory_gb"
            )

    def flops(self, d: int, n: int) -> float:
        """Floating-point operations of one trial's ``fit``, counted from the shapes (dominant terms)."""
        return 2.0 * n * d
