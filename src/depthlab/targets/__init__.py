"""Target families: one module per family, all following the protocol in ``targets.base``."""

from typing import Annotated

from pydantic import Field

from depthlab.targets.activations import get_activation
from depthlab.targets.base import Batch, TargetSpec
from depthlab.targets.hierarchical import HierarchicalTarget
from depthlab.targets.index import QuadraticTarget, SingleIndexTarget
from depthlab.targets.multi_index import HermiteTerm, MultiIndexTarget
from depthlab.targets.radial import BallTarget

# The union of target configurations a preset may name (grows with each paper), discriminated by family.
TargetConfig = Annotated[
    HierarchicalTarget | SingleIndexTarget | QuadraticTarget | MultiIndexTarget | BallTarget,
    Field(discriminator="family"),
]

__all__ = [
    "BallTarget",
    "Batch",
    "HermiteTerm",
    "HierarchicalTarget",
    "MultiIndexTarget",
    "QuadraticTarget",
    "SingleIndexTarget",
    "TargetConfig",
    "TargetSpec",
    "get_activation",
]
