"""Learners: one module per algorithm, one protocol (``learners.base.LearnerSpec``)."""

from typing import Annotated

from pydantic import Field

from depthlab.learners.base import LearnerSpec
from depthlab.learners.deep import LayerwiseDeep
from depthlab.learners.kernel_ridge import KernelRidge
from depthlab.learners.linear import LinearRidge
from depthlab.learners.one_step import OneStep
from depthlab.learners.random_features import RandomFeatures
from depthlab.learners.shallow_gd import ShallowGD
from depthlab.learners.theorem1 import Theorem1ThreeLayer
from depthlab.learners.three_layer import JointThreeLayer, LayerwiseThreeLayer
from depthlab.learners.transfer import Transfer
from depthlab.learners.tuned import Tuned
from depthlab.learners.two_layer import TwoLayer
from depthlab.learners.two_sigmoid import TwoSigmoid

# Discriminated by ``kind``; a preset's methods map a display name to one of these.
LearnerConfig = Annotated[
    LayerwiseThreeLayer
    | JointThreeLayer
    | LayerwiseDeep
    | TwoLayer
    | KernelRidge
    | RandomFeatures
    | OneStep
    | Transfer
    | TwoSigmoid
    | ShallowGD
    | LinearRidge
    | Tuned
    | Theorem1ThreeLayer,
    Field(discriminator="kind"),
]

__all__ = [
    "JointThreeLayer",
    "KernelRidge",
    "LayerwiseDeep",
    "LayerwiseThreeLayer",
    "LearnerConfig",
    "LearnerSpec",
    "LinearRidge",
    "OneStep",
    "RandomFeatures",
    "ShallowGD",
    "Theorem1ThreeLayer",
    "Transfer",
    "Tuned",
    "TwoLayer",
    "TwoSigmoid",
]
