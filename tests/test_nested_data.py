"""Nested data (runner.py "Randomness"): one target instance, test set and training stream per (d, trial);
a cell at n trains on the stream's first n samples, drawn in fixed chunks, whatever the grid around it."""

import jax.numpy as jnp
import numpy as np

from depthlab.presets import apply_overrides, get_preset
from depthlab.sweep import runner
from depthlab.sweep.grid import expand

from ._tiny import TINY_OVERRIDES


def _kernel_cells(*extra: str):
    p = apply_overrides(get_preset("quick"), [*TINY_OVERRIDES, 'methods={"kernel": {"kind": "kernel"}}', *extra])
    return expand(p)


def test_a_cell_trains_on_the_first_n_samples_of_one_stream_per_trial():
    # n = 64 (one chunk) and n = 1448 > TRAIN_CHUNK (two chunks): a prefix across a chunk boundary
    small, big = (c for c in _kernel_cells("kappa_min=2.0", "kappa_max=3.5", "num_kappa=2"))
    assert small.n < runner.TRAIN_CHUNK < big.n
    b = small.block()
    seed, idx = jnp.asarray(small.seed, jnp.uint32), jnp.arange(b, dtype=jnp.uint32)
    (inst_s, train_s, test_s), (inst_b, train_b, test_b) = (runner.compile_data(c, b)(seed, idx) for c in (small, big))
    assert train_s.x.shape == (b, small.n, small.d) and train_b.x.shape == (b, big.n, big.d)
    for field in train_s._fields:
        assert np.array_equal(getattr(train_s, field), getattr(train_b, field)[:, : small.n])  # bit for bit
    assert np.array_equal(test_s.x, test_b.x) and np.array_equal(test_s.y, test_b.y)
    for a, c in zip(inst_s, inst_b, strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(c))
    assert not np.array_equal(train_s.x[0], train_s.x[1])  # trials draw different streams
    # the unbatched (eager-path) draw gives the same samples as the compiled block
    _, train_1, test_1 = runner.data_function(big)(seed, jnp.asarray(1, jnp.uint32))
    np.testing.assert_allclose(train_1.x, train_b.x[1], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(test_1.y, test_b.y[1], rtol=1e-6, atol=1e-6)


def test_a_cells_numbers_do_not_depend_on_the_sweeps_largest_n():
    """The same cell (same key) in sweeps with different grids gives the same bits."""
    (narrow,) = [c for c in _kernel_cells("kappa_min=2.0", "kappa_max=2.0", "num_kappa=1")]
    wide = next(c for c in _kernel_cells("kappa_min=2.0", "kappa_max=3.5", "num_kappa=2") if c.n == narrow.n)
    assert narrow.key == wide.key
    a, b = runner.run_cell(narrow, [0, 1]), runner.run_cell(wide, [0, 1])
    assert a.status == b.status == "ok" and a.rows == b.rows
