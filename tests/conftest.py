"""Shared fixtures for the depthlab tests."""

from __future__ import annotations

import depthlab  # noqa: F401  (first: it fixes the BLAS thread count before JAX loads LAPACK)

# isort: split
import jax
import pytest


@pytest.fixture
def x64():
    """Run the test body with 64-bit JAX floats; the previous setting is restored afterwards."""
    with jax.enable_x64(True):
        yield
