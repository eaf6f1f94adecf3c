"""The target protocol: a validated spec with pure, jittable ``draw`` and ``sample``.

    inst  = spec.draw(key)               hidden parameters of one trial (W*, a*, U, ...), a pytree
    batch = spec.sample(inst, key, n)    x (n,d), y (n,), clean f*(x) (n,), hidden features z, h
    S     = spec.subspaces(inst)         (B, D, d): orthonormal bases of the hidden subspace(s)

``z`` are the linear hidden features (e.g. W* x) and ``h`` the intermediate non-linear features
(e.g. h*(x) of Dandi et al.), one column per branch; the metrics compare learned features with them.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, NamedTuple

from jax import Array
from pydantic import Field

from depthlab.config import Config


class Batch(NamedTuple):
    x: Array  # (n, d) inputs
    y: Array  # (n,) labels (with label noise, if any)
    f: Array  # (n,) noise-free target f*(x)
    z: Array  # (n, D1) linear hidden features
    h: Array  # (n, B) intermediate hidden features, one column per branch


class TargetSpec(Config):
    """Base class of target configurations. Subclasses set ``family`` and the math."""

    family: str = Field(description="target family (discriminator)")
    d: int = Field(description="input dimension")
    # f > class_threshold is the positive class, for targets that are (smoothed) indicators; None otherwise
    class_threshold: ClassVar[float | None] = None

    @abstractmethod
    def draw(self, key: Array) -> Any: ...

    @abstractmethod
    def sample(self, inst: Any, key: Array, n: int) -> Batch: ...

    @abstractmethod
    def subspaces(self, inst: Any) -> Array: ...

    def reference_levels(self, num_samples: int = 200_000, seed: int = 0) -> dict[str, float]:
        """Reference error levels (E f*^2 and best approximations in given function classes)."""
        return {}
