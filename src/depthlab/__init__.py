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
