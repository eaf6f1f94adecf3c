"""A tiny version of the quick preset for sweep, store and CLI tests (seconds, not minutes)."""

TINY_OVERRIDES = [
    "d=8",
    "kappa_min=1.0",
    "kappa_max=1.8",
    "num_kappa=3",
    "n_test=200",
    "methods.layerwise.p1=16",
    "methods.layerwise.p2=8",
    "methods.layerwise.t2_coef=0.5",
    "methods.joint.p1=16",
    "methods.joint.p2=8",
    "methods.joint.t2_coef=0.5",
    "methods.two_layer.p=8",
    "methods.two_layer.t_coef=0.5",
]
