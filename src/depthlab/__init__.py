"""depthlab: experiments on why depth helps (hierarchical targets, layer-wise training, sample complexity).

Pipeline: targets -> learners -> metrics -> sweep -> store -> analysis / plots / checks.
"""

__version__ = "0.1.0"
