"""Nichani, Damian & Lee (2023), "Provable Guarantees for Nonlinear Feature Learning in Three-Layer Neural
Networks", arXiv 2305.06986.

Separation target (Sec. 4, recollection in the notes, unverified): f*(x) = relu(x^T A x) standardised, A
traceless full rank with Var(x^T A x) = 1, x uniform on the sphere of radius sqrt(d). The 3-layer learner is
Algorithm 1 (one large step on the second layer over a frozen random first layer, then ridge); baselines:
the same one-step algorithm on a 2-layer net, random features, and quadratic-kernel ridge.
"""

from __future__ import annotations

from depthlab.presets.base import Preset

SEPARATION_QUICK = Preset.model_validate({
    "name": "nichani2023-separation-quick",
    "paper": "nichani2023",
    "description": "relu(x^T A x), d=16, sphere inputs: 3-layer Algorithm 1 vs 2-layer one-step, RF, quadratic kernel",
    "est_runtime": "~1.5 min",
    "target": {"family": "quadratic", "link": "relu", "inputs": "sphere"},
    "methods": {
        # sigma1 = |z|: an even first layer carries the degree-2 feature without degree-1 noise (measured at
        # d=16, n=16384: feature correlation 0.98 with |z| vs 0.64 with relu)
        "three_layer": {"kind": "one_step", "features": "relu_random", "feature_activation": "abs"},
        "two_layer_step": {"kind": "one_step", "features": "input", "init": "sphere"},
        "random_features": {"kind": "random_features", "p": 1024, "ridge": 1e-3},
        "kernel": {"kind": "kernel", "degree": 2, "ridge": 1e-3},
    },
    "d": 16, "kappa_min": 2.5, "kappa_max": 3.5, "num_kappa": 5, "trials": 3, "seed": 0, "n_test": 4096,
    "checks": [
        {"kind": "ordering", "name": "3-layer beats the kernel", "methods": ["three_layer", "kernel"],
         "description": "median test MSE at the largest n"},
        {"kind": "ordering", "name": "3-layer beats random features", "methods": ["three_layer", "random_features"]},
        {"kind": "ordering", "name": "3-layer beats the 2-layer one-step net",
         "methods": ["three_layer", "two_layer_step"]},
        {"kind": "bound", "name": "3-layer learns the target", "method": "three_layer", "op": "<", "value": 0.15,
         "description": "test MSE < 0.15 (E f*^2 = 1) at the largest n"},
        {"kind": "rises", "name": "learned feature correlates with x^T A x", "method": "three_layer",
         "metric": "feature_corr", "min_final": 0.9, "min_ratio": 1.0,
         "description": "Pearson corr(phi, h*) >= 0.9 at the largest n (paper: corr -> 1 as n grows)"},
    ],
    "theory": {},
})

PRESETS = [SEPARATION_QUICK]
