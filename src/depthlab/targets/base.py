"""The target protocol: a validated spec with pure, jittable ``draw`` and ``sample``.

    inst  = spec.draw(key)               hidden parameters of one trial (W*, a*, U, ...), a pytree
    batch = spec.sample(inst, key, n)    x (n,d), y (n,), clean f*(x) (n,), hidden features z, h

``z`` are the linear hidden features (e.g. W* x) and ``h`` the intermediate non-linear features
(e.g. h*(x) of Dandi et al.), one column per branch; the metrics compare learned features with them.

Capabilities (as for learners, ``learners.base``): what else a target provides is declared in
``spec.capabilities``, a frozenset from the closed vocabulary ``TargetCapability``, and the metrics ask it:

    "subspace"         spec.subspaces(inst) -> (B, D, d) orthonormal bases of the hidden subspace(s), with
                       D < d: f* depends on x only through them (-> overlap M_W); raises NotImplementedError
                       on a target that does not declare it (e.g. a radial target, or a full-rank quadratic
                       form: a "subspace" that is all of R^d says nothing)
    "classification"   spec.class_threshold c: f* > c is the positive class, for targets that are (smoothed)
                       indicators (-> class_error)
    "hidden_features"  batch.h holds meaningful intermediate features (n, B) (-> overlap_h, feature_corr)
    "boundary"         spec.boundary_distance(inst, batch) -> (n,) signed distance of each input from the class
                       boundary (negative inside the positive class), for classification targets whose
                       boundary is a level set (ball indicators: ||x|| - r) (-> boundary_error)

A target family declares them as a class variable ``capabilities: ClassVar[frozenset[TargetCapability]]``, or
computes them in a ``capabilities`` property where its configuration decides (e.g. a quadratic form's rank).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Literal, NamedTuple, get_args

from jax import Array
from pydantic import Field

from depthlab.config import Config

TargetCapability = Literal["subspace", "classification", "hidden_features", "boundary"]
TARGET_CAPABILITIES: frozenset[TargetCapability] = frozenset(get_args(TargetCapability))


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
    # f > class_threshold is the positive class: set by (and only by) targets declaring "classification"
    class_threshold: ClassVar[float]

    @property
    def capabilities(self) -> frozenset[TargetCapability]:
        """What this target provides beyond draw and sample (module docstring); none by default. A family
        overrides it with a class variable, or with a property where its configuration decides."""
        return frozenset()

    @abstractmethod
    def draw(self, key: Array) -> Any: ...

    @abstractmethod
    def sample(self, inst: Any, key: Array, n: int) -> Batch: ...

    def subspaces(self, inst: Any) -> Array:
        """(B, D, d): orthonormal bases of the hidden subspace(s), D < d (capability ``subspace``)."""
        raise NotImplementedError(f"{self.family} does not declare subspace")

    def boundary_distance(self, inst: Any, batch: Batch) -> Array:
        """(n,) signed distance of each input of ``batch`` from the class boundary (capability ``boundary``)."""
        raise NotImplementedError(f"{self.family} does not declare boundary")

    def reference_levels(self, num_samples: int = 200_000, seed: int = 0) -> dict[str, float]:
        """Reference error levels (E f*^2 and best approximations in given function classes)."""
        return {}
