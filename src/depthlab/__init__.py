"""depthlab: experiments on why depth helps (hierarchical targets, layer-wise training, sample complexity).

Pipeline: targets -> learners -> metrics -> sweep -> store -> analysis / plots / checks.
"""

import os as _os

# JAX's CPU Cholesky calls LAPACK (SciPy's OpenBLAS), whose results change in the last bits with its thread
# count. Dask worker processes run BLAS single-threaded (distributed.nanny.pre-spawn-environ), so this
# process does too, unless these are set explicitly: the same config gives the same numbers in-process and
# on Dask. They must be set before JAX loads LAPACK, hence here. (XLA's own thread pool is not affected.)
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")

__version__ = "0.1.0"

# The curated public API, imported on first use (``import depthlab`` stays light and sets the environment above
# before JAX loads): ``depthlab.run("quick", "s.sqlite")``, ``depthlab.HierarchicalTarget(d=64)``, ...
_PUBLIC = {
    "run": "depthlab.api", "load": "depthlab.api", "experiment": "depthlab.api", "Results": "depthlab.api",
    "Preset": "depthlab.presets", "get_preset": "depthlab.presets", "preset_names": "depthlab.presets",
    "apply_overrides": "depthlab.presets", "load_experiment": "depthlab.presets.files",
    "dump_experiment": "depthlab.presets.files",
    "TargetConfig": "depthlab.targets", "HierarchicalTarget": "depthlab.targets",
    "SingleIndexTarget": "depthlab.targets", "QuadraticTarget": "depthlab.targets",
    "MultiIndexTarget": "depthlab.targets", "BallTarget": "depthlab.targets",
    "LearnerConfig": "depthlab.learners", "LayerwiseThreeLayer": "depthlab.learners",
    "JointThreeLayer": "depthlab.learners", "TwoLayer": "depthlab.learners", "OneStep": "depthlab.learners",
    "Transfer": "depthlab.learners", "KernelRidge": "depthlab.learners", "RandomFeatures": "depthlab.learners",
    "TwoSigmoid": "depthlab.learners", "ShallowGD": "depthlab.learners",
    "Metric": "depthlab.metrics", "evaluate": "depthlab.metrics",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'depthlab' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
