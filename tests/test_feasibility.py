"""Up-front memory feasibility for every learner (sweep/executors.py)."""

from depthlab.presets import apply_overrides, get_preset
from depthlab.sweep.executors import feasibility, machine_memory, memory_report, worker_memory
from depthlab.sweep.grid import expand

from ._tiny import TINY_OVERRIDES


def _cells():
    return expand(apply_overrides(get_preset("quick"), TINY_OVERRIDES, trials=2))


def test_machine_memory_is_positive():
    m = machine_memory()
    assert m is None or (isinstance(m, int) and m > 0)


def test_small_fake_memory_refuses_every_learner():
    cells = _cells()
    found = [feasibility(c, memory=1024, budget=512) for c in cells]
    refused = [f for f in found if f.refuses_run]
    assert {f.cell.method for f in refused} == {c.method for c in cells}
    line = memory_report(found, 1024, 512)
    assert "\n" not in line and "refuses this sweep" in line


def test_ample_memory_fits():
    found = [feasibility(c, memory=2**40, budget=2**30) for c in _cells()]
    assert not any(f.refuses_run for f in found)
    assert memory_report(found, 2**40, 2**30).startswith("memory: every cell fits")


def test_worker_memory_modes():
    assert worker_memory("scheduler") is None
    assert worker_memory("slurm", job_memory="8GiB", processes=2) == 4 * 2**30
    assert worker_memory("slurm", job_memory="garbage") is None
    m = machine_memory()
    if m is not None:
        assert worker_memory("local") == m
        assert worker_memory("workers", workers=4) == m // 4
