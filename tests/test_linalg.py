"""depthlab.linalg: values against NumPy, LAPACK never called batched, and the 2-core deadlock it prevents."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from depthlab.linalg import orthonormal_columns, solve, spd_solve

SRC = Path(__file__).resolve().parents[1] / "src" / "depthlab"


def _spd(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    a = jax.random.normal(key, (*shape[:-2], 2 * shape[-1], shape[-1]))
    return jnp.swapaxes(a, -1, -2) @ a / shape[-1] + jnp.eye(shape[-1])


@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
@pytest.mark.parametrize("rhs", [(), (4,)])
def test_solves_match_numpy(batch: tuple[int, ...], rhs: tuple[int, ...]) -> None:
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    a = _spd(k1, (*batch, 12, 12))
    b = jax.random.normal(k2, (*batch, 12, *rhs))
    want = np.linalg.solve(np.asarray(a, np.float64), np.asarray(b, np.float64)[..., None] if not rhs else
                           np.asarray(b, np.float64))
    want = want[..., 0] if not rhs else want
    for f in (spd_solve, solve):
        got = jax.jit(f)(a, b)
        assert got.shape == b.shape
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
        # under vmap (the trials axis) the same values
        np.testing.assert_allclose(jax.jit(jax.vmap(f))(a[None], b[None])[0], got, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
def test_orthonormal_columns(batch: tuple[int, ...]) -> None:
    g = jax.random.normal(jax.random.PRNGKey(1), (*batch, 10, 4))
    q = jax.jit(orthonormal_columns)(g)
    assert q.shape == g.shape
    qt = np.swapaxes(np.asarray(q), -1, -2)
    np.testing.assert_allclose(qt @ np.asarray(q), np.broadcast_to(np.eye(4), (*batch, 4, 4)), atol=1e-5)
    np.testing.assert_allclose(np.asarray(q) @ (qt @ np.asarray(g)), g, atol=1e-5)  # span Q = span G
    np.testing.assert_array_equal(q, jnp.linalg.qr(g)[0])  # the same factorisation, matrix by matrix


def _lapack_operand_shapes(fn: Callable[..., Any], *args: jax.Array) -> list[str]:
    text = jax.jit(fn).lower(*args).as_text()
    calls = [line for line in text.splitlines() if "custom_call @lapack_" in line]
    return [m.group(1) for line in calls for m in [re.search(r":\s*\((tensor<[^>]*>)", line)] if m]


def test_lapack_never_sees_a_batch() -> None:
    """vmap over trials (and explicit leading axes) becomes a loop of single-matrix LAPACK calls."""
    a, b = _spd(jax.random.PRNGKey(2), (3, 2, 20, 20)), jnp.ones((3, 2, 20))
    g = jnp.ones((3, 2, 20, 5))
    cases: list[tuple[Callable[..., Any], tuple[jax.Array, ...]]] = [
        (jax.vmap(spd_solve), (a, b)), (jax.vmap(solve), (a, b)), (jax.vmap(orthonormal_columns), (g,))]
    for fn, args in cases:
        shapes = _lapack_operand_shapes(fn, *args)
        assert shapes, "expected a LAPACK call"
        assert all(s in ("tensor<20x20xf32>", "tensor<20x5xf32>") for s in shapes), shapes
    # the control: jnp.linalg on the same stack calls LAPACK batched (what this module avoids)
    assert set(_lapack_operand_shapes(jax.vmap(jnp.linalg.qr), g)) == {"tensor<3x2x20x5xf32>"}


def test_no_lapack_outside_linalg() -> None:
    """Every LAPACK-backed call of the package goes through depthlab.linalg (else it may run batched)."""
    pattern = re.compile(r"jnp\.linalg\.(qr|solve|cholesky|eigh|eig|svd|inv|lstsq|pinv|det|slogdet)\b|"
                         r"jax\.scipy\.linalg|cho_factor|cho_solve")
    offenders = [f"{p.relative_to(SRC)}:{i}" for p in SRC.rglob("*.py") if p.name != "linalg.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line.split("#")[0])]
    assert offenders == []


def test_concurrent_batched_solves_finish() -> None:
    """Four independent solves of one program, each vmapped over two trials (a tuned learner's grid): with
    LAPACK called batched this never finishes on a 2-core machine (jaxlib 0.10's ParallelBatchMap waits on the
    pool its callers occupy); through spd_solve it does. Run in a subprocess with a time limit."""
    code = textwrap.dedent("""
        import jax, jax.numpy as jnp
        from depthlab.linalg import spd_solve
        def ridge(a, y, lam):
            return spd_solve(a.T @ a + lam * jnp.eye(a.shape[1]), a.T @ y)
        f = jax.jit(lambda a, y: [jax.vmap(ridge, (0, 0, None))(a, y, 10.0 ** -k) for k in range(4)])
        a = jax.random.normal(jax.random.PRNGKey(0), (2, 512, 256))
        y = jnp.ones((2, 512))
        for i in range(5):
            jax.block_until_ready(f(a + i, y))
        print("done")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "done"
