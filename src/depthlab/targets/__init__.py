"""Target families: one module per family, all following the protocol in ``targets.base``."""

from depthlab.targets.activations import get_activation
from depthlab.targets.base import Batch, TargetSpec
from depthlab.targets.hierarchical import HierarchicalTarget

# The union of target configurations a preset may name (grows with each paper).
TargetConfig = HierarchicalTarget

__all__ = ["Batch", "HierarchicalTarget", "TargetConfig", "TargetSpec", "get_activation"]
