r"""Transfer learning with a pretrained first layer (Damian, Lee & Soltanolkotabi 2022, transfer result).

Source task f_s(x) = g_s(U x), target task f_t(x) = g_t(U x), same U (``MultiIndexTarget.source_head``):

1. pretrain: the one-step stage 1 of ``learners.one_step`` on n_src source samples (default 4 d^2 r):
       w_i = eta_1 a_i (1/n_src) sum_j y^s_j relu'(w_i^(0) . psi_j + b_i) psi_j,   psi = x / sqrt(d);
2. freeze W (and redraw the biases), fit only a new head on the n target samples:
       a = (Phi^T Phi + lambda n I)^{-1} Phi^T y^t,   Phi = relu(psi(X) W^T + b).

Since span(W) ~ span(U), the head is a regression on features of U x, so the number of target samples it
needs scales with r^p and not with d (a kernel or a network trained from scratch needs ~d^p, resp. d^2 r).
``n`` of a sweep cell counts target samples only; the source samples are drawn inside the fit, from the
same target instance, with a key independent of the target data.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import jax
from jax import Array
from pydantic import Field, PositiveInt

from depthlab.learners.base import PlotRole
from depthlab.learners.one_step import OneStepBase, OneStepParams

_SOURCE_SALT = 0x5EED


class Transfer(OneStepBase):
    """One step on the source task, then a ridge head on the target task (module docstring)."""

    plot_role: ClassVar[PlotRole] = "three_layer"  # its colour and marker in figures (plots.ROLE_STYLES)

    kind: Literal["transfer"] = Field(default="transfer", description="learner kind (discriminator)")
    features: Literal["input", "relu_random"] = Field(
        default="input", description="psi(x): 'input' x / sqrt(d), a 2-layer net as in Damian et al., or "
        "'relu_random' a frozen random layer")
    init: Literal["zero", "sphere"] = Field(
        default="sphere", description="W0 = (U, U) of the symmetric init: 'sphere' w^(0) uniform on the sphere, "
        "in symmetric pairs, or 'zero'")
    n_source: PositiveInt | None = Field(
        default=None, description="pretraining samples of the source task; None: the target's source_size "
        "(source_coef d^2 r, 4 d^2 r by default)")

    def bind(self, target: Any) -> Transfer:
        if not hasattr(target, "sample_source"):
            raise ValueError(f"transfer learning needs a target with a source task, not {target.family!r}")
        if self.n_source is None:
            return self.model_copy(update={"n_source": target.source_size})
        return self

    def fit_transfer(self, key: Array, xs: Array, ys: Array, x: Array, y: Array) -> OneStepParams:
        """Pretrain the first layer on the source samples (xs, ys); fit the head on (x, y)."""
        return self.fit_stages(key, xs, ys, x, y)

    def fit_task(self, key: Array, target: Any, inst: Any, train: Any) -> OneStepParams:
        src = target.sample_source(inst, jax.random.fold_in(key, _SOURCE_SALT), self.n_source)
        return self.fit_transfer(key, src.x, src.y, train.x, train.y)

    def fit(self, key: Array, x: Array, y: Array) -> OneStepParams:
        raise TypeError("the transfer learner needs source-task samples: call fit_transfer(key, xs, ys, x, y)")

    def memory_bytes(self, d: int, n: int, itemsize: int = 4) -> int:
        return self._memory(d, self.n_source or 4 * d * d, n, itemsize)

    def flops(self, d: int, n: int) -> float:
        return self._flops(d, self.n_source or 4 * d * d, n)
