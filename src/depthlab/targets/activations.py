"""Registry of the scalar link functions used by the targets (sigma_1 = P_k and sigma_2 = g*).

Names:
  ``he2+he3``   He_2/2! + He_3/3!          (Dandi et al. 2025, eq. 11; the public code's normalisation)
  ``he2+2he3``  He_2/2! + 2 He_3/3!
  ``heK``       He_K/K!  for K = 1..8      (e.g. ``he2``, ``he3``)
  ``heK:unit``  He_K/sqrt(K!)               (unit variance)
  ``tanh``      tanh(z);  ``tanh:c`` tanh(c z)  (``tanh:3`` is the papers' g*)
  ``herm:c0,c1,...``  sum_k c_k He_k/sqrt(k!) (a unit-normalised Hermite series, e.g. ``herm:0,1,0,1``)
  ``sigmoid``   1/(1 + e^{-z}) (the logistic sigmoid);
  ``relu``      max(z, 0);   ``identity``  z;   ``sign``  sign(z);   ``abs``  |z|

Two tables: ``_FIXED`` (name -> activation) and ``_FAMILIES`` (name pattern -> builder, for the parametrised
names); a new activation is one entry in either.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax import Array

from depthlab.hermite import hermite_series


@dataclass(frozen=True)
class Activation:
    name: str
    fn: Callable[[Array], Array]
    degree: int | None  # polynomial degree, None if not a polynomial

    def __call__(self, z: Array) -> Array:
        return self.fn(z)


def _scaled_tanh(c: float) -> Callable[[Array], Array]:
    def f(z: Array) -> Array:
        return jnp.tanh(c * z)

    return f


_FIXED: dict[str, Activation] = {
    "he2+he3": Activation("he2+he3", hermite_series({2: 1.0, 3: 1.0}), 3),
    "he2+2he3": Activation("he2+2he3", hermite_series({2: 1.0, 3: 2.0}), 3),
    "tanh": Activation("tanh", jnp.tanh, None),
    "sigmoid": Activation("sigmoid", jax.nn.sigmoid, None),
    "relu": Activation("relu", lambda z: jnp.maximum(z, 0.0), None),
    "identity": Activation("identity", lambda z: z, 1),
    "sign": Activation("sign", jnp.sign, None),
    "abs": Activation("abs", jnp.abs, None),
}


def _hermite_k(m: re.Match[str]) -> Activation:
    k = int(m.group(1))
    return Activation(m.string, hermite_series({k: 1.0}, "unit" if m.group(2) else "factorial"), k)


def _hermite_series(m: re.Match[str]) -> Activation:
    coeffs = {k: float(c) for k, c in enumerate(m.group(1).split(",")) if float(c) != 0.0}
    return Activation(m.string, hermite_series(coeffs, "unit"), max(coeffs, default=0))


def _tanh_c(m: re.Match[str]) -> Activation:
    return Activation(m.string, _scaled_tanh(float(m.group(1))), None)


# The parametrised families: name pattern -> builder from its match, tried in order after ``_FIXED``.
_FAMILIES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Activation]]] = [
    (re.compile(r"^he([1-8])(:unit)?$"), _hermite_k),
    (re.compile(r"^herm:(-?[0-9.]+(?:,-?[0-9.]+)*)$"), _hermite_series),
    (re.compile(r"^tanh:([0-9]*\.?[0-9]+)$"), _tanh_c),
]


def get_activation(name: str) -> Activation:
    """Look up an activation by name; raises ValueError listing the valid names."""
    key = name.strip().lower()
    if key in _FIXED:
        return _FIXED[key]
    for pattern, build in _FAMILIES:
        m = pattern.match(key)
        if m:
            return build(m)
    raise ValueError(
        f"unknown activation {name!r}; valid: {', '.join(sorted(_FIXED))}, heK, heK:unit (K=1..8), tanh:c, "
        "herm:c0,c1,..."
    )
