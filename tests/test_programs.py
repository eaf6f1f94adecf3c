"""The compiled programs a sweep needs: one evaluation program per learner shared by every n of a learning
curve (a kernel's parameters hold its training set, so its evaluation is per n), the same numbers as the
eager path, and the settings that steer compilation (``DEPTHLAB_PREFETCH``, bench sections) checked up front."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from depthlab.bench import main as bench_main
from depthlab.bench import markdown
from depthlab.cli import app
from depthlab.presets import apply_overrides, get_preset
from depthlab.sweep import runner as R
from depthlab.sweep.grid import COMPILE_THREADS, PREFETCH_WINDOW, compile_threads, expand, prefetch_window

from ._tiny import TINY_OVERRIDES

cli = CliRunner()


def _cells():
    return expand(apply_overrides(get_preset("quick"), TINY_OVERRIDES))


def _eval_keys(cells):
    out = {}
    for c in cells:
        b = c.block()
        out.setdefault(c.method, set()).add(R.eval_key(c, b, R.param_shapes(R.lower_fit(c, b))))
    return out


def test_every_n_of_a_learner_shares_one_evaluation_program_except_a_kernel():
    cells = _cells()
    assert len({c.n for c in cells}) == 3
    keys = _eval_keys(cells)
    for method in ("layerwise", "joint", "two_layer"):
        assert len(keys[method]) == 1, method  # one program for the three n
    assert len(keys["kernel"]) == 3  # dual coefficients and training inputs: shapes grow with n
    assert len(set().union(*keys.values())) == 6  # learners never share one


def test_split_programs_give_the_eager_numbers():
    c = next(c for c in _cells() if c.method == "two_layer" and c.n == max(x.n for x in _cells()))
    b = c.block()
    seed, idx = jnp.asarray(c.seed, jnp.uint32), jnp.arange(b, dtype=jnp.uint32)
    data, (fit, evaluate) = R.compile_data(c, b), R.compile_fit(c, b)
    inst, train, test = data(seed, idx)
    params, out = fit(seed, idx, inst, train, test)
    compiled = {**out, **evaluate(inst, params, test)}
    assert {"test_mse", "train_mse", "overlap_w"} <= set(compiled)
    eager = jax.vmap(R.trial_function(c), in_axes=(None, 0, 0, 0, 0))(seed, idx, inst, train, test)
    assert set(eager) == set(compiled)
    for k in compiled:
        np.testing.assert_allclose(np.asarray(compiled[k]), np.asarray(eager[k]), rtol=2e-4, atol=1e-6, err_msg=k)


def test_prefetch_window_setting(monkeypatch):
    monkeypatch.delenv("DEPTHLAB_PREFETCH", raising=False)
    assert prefetch_window() == PREFETCH_WINDOW
    monkeypatch.setenv("DEPTHLAB_PREFETCH", "0")
    assert prefetch_window() == 0
    for bad in ("-1", "two", "1.5"):
        monkeypatch.setenv("DEPTHLAB_PREFETCH", bad)
        with pytest.raises(ValueError, match="DEPTHLAB_PREFETCH"):
            prefetch_window()
        res = cli.invoke(app, ["presets"])
        assert res.exit_code == 2 and "DEPTHLAB_PREFETCH" in res.output and "Traceback" not in res.output


def test_compile_threads_setting(monkeypatch):
    monkeypatch.delenv("DEPTHLAB_COMPILE_THREADS", raising=False)
    assert compile_threads() == COMPILE_THREADS == 1
    monkeypatch.setenv("DEPTHLAB_COMPILE_THREADS", "3")
    assert compile_threads() == 3
    monkeypatch.setattr(R, "_COMPILER", None)  # the background compiler starts with the setting in force
    pool = R._compiler()
    try:
        assert pool._max_workers == 3 and R._compiler() is pool
    finally:
        pool.shutdown()
    for bad in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv("DEPTHLAB_COMPILE_THREADS", bad)
        with pytest.raises(ValueError, match="DEPTHLAB_COMPILE_THREADS"):
            compile_threads()
        res = cli.invoke(app, ["presets"])
        assert res.exit_code == 2 and "DEPTHLAB_COMPILE_THREADS" in res.output and "Traceback" not in res.output


def test_bench_rejects_unknown_sections_and_presets_before_measuring(tmp_path):
    with pytest.raises(ValueError, match="unknown bench section 'speed'"):
        bench_main(tmp_path, ("speed",))
    with pytest.raises(ValueError, match="unknown preset 'quik'"):
        bench_main(tmp_path, ("cold_start",), ("quik",))
    res = cli.invoke(app, ["bench", "-o", str(tmp_path), "--section", "speed"])
    assert res.exit_code == 2 and "unknown bench section" in res.output
    assert not (tmp_path / "bench.json").exists()


def test_bench_markdown_reports_the_paper_sweep_against_its_floor_and_the_overlap():
    run = {"wall_s": 300.0, "compile_s": 40.0, "compile_wait_s": 5.0}
    rep = {"cpu": "x", "jax": "0", "suite_s": 1.0, "gemm_fp32_gflops": {512: 100.0}, "gemm_fp64_gflops": {512: 50.0},
           "paper_sweep": {"preset": "p", "overrides": ["trials=2"], "gflop": 12000.0, "floor_s": 120.0,
                           "cold": run, "warm": {**run, "wall_s": 240.0}, "cold_over_floor": 2.5,
                           "warm_over_floor": 2.0},
           "overlap": {"preset": "quick", "cores": 2, "background": {**run, "wall_s": 90.0},
                       "no_overlap": {**run, "wall_s": 100.0}, "background_over_no_overlap": 0.9}}
    text = markdown(rep)
    assert "learners 12.0 TFLOP, FLOP floor 120 s" in text and "cold 300 s (2.50x the floor" in text
    assert "90.0 s with it" in text and "ratio 0.90" in text
