"""Training dynamics (``record.steps``): recording inside the compiled program changes no number, the recorded
points follow the schedule, trajectories are stored with their cell (resume, first result wins), exported tidy,
drawn, and judged by the check kind ``trajectory``."""

from __future__ import annotations

import csv
import io
import sqlite3

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from depthlab.checks import CheckContext, TrajectoryCheck, run_checks
from depthlab.cli import app
from depthlab.learners.common import log_points, minibatch_loop, recorded_loop, schedule_of, stage_points
from depthlab.presets import apply_overrides, get_preset
from depthlab.presets.base import Preset
from depthlab.store import SCHEMA_VERSION, Store
from depthlab.sweep import plan, run_local
from depthlab.sweep.grid import expand
from depthlab.sweep.runner import trajectory_rows
from depthlab.trajectories import COLUMNS, summarize

from ._tiny import TINY_OVERRIDES

runner = CliRunner()


@given(total=st.integers(1, 10**6), count=st.integers(1, 200))
@settings(max_examples=200, deadline=None)
def test_log_points_are_distinct_sorted_and_span_the_run(total, count):
    pts = log_points(total, count)
    assert pts[0] == 1 and pts[-1] == total
    assert list(pts) == sorted(set(pts)) and len(pts) <= max(count, 2)
    if count > 1:  # log-spaced: each point at most the common ratio r times the previous (+ rounding)
        r = total ** (1 / (count - 1))
        assert all(b <= a * r + r + 1 for a, b in zip(pts, pts[1:], strict=False))


def test_stage_points_split_the_global_schedule():
    lengths = [30, 500]
    per = stage_points(lengths, 12)
    glob = log_points(530, 12)
    assert [p for p in per[0]] + [p + 30 for p in per[1]] == list(glob)
    sched = schedule_of([("layer1", 30), ("layer2", 500)], 12)
    assert sched[0] == (0, "init") and sched[-1] == (530, "layer2")
    assert all(stage == "layer1" for s, stage in sched[1:] if s <= 30)


@pytest.mark.parametrize("sampler", ["window", "permutation"])
@pytest.mark.parametrize("m", [23, 40])  # a minibatch, and the full batch
def test_recorded_loop_is_the_same_training(sampler, m):
    key = jax.random.PRNGKey(3)
    x = jax.random.normal(key, (40, 3))
    y = x @ jnp.array([1.0, -2.0, 0.5])

    def body(w, batch):
        xb, yb = batch
        return w - 0.02 * xb.T @ (xb @ w - yb)

    ref = minibatch_loop(key, (x, y), m, 53, body, jnp.zeros(3), sampler)
    pts = log_points(53, 7)
    for points in (pts, pts[:-2]):  # ending at the last step, and with steps left after the last point
        def norm(w):
            return {"norm": jnp.sum(w * w)}

        out, vals = jax.jit(lambda p=points: recorded_loop(key, (x, y), m, 53, body, jnp.zeros(3), norm, p,
                                                           sampler))()
        np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))
        assert vals["norm"].shape == (len(points),)
    # the value at a point is the probe of the parameters after that many steps
    at4 = minibatch_loop(key, (x, y), m, pts[2], body, jnp.zeros(3), sampler)
    np.testing.assert_allclose(float(vals["norm"][2]), float(jnp.sum(at4 * at4)), rtol=1e-6)


def test_recorded_loop_rejects_bad_points():
    with pytest.raises(ValueError, match="recording points"):
        recorded_loop(jax.random.PRNGKey(0), (jnp.ones((4, 1)),), 2, 5, lambda c, b: c, 0.0, lambda c: c, [3, 2])


def test_trajectory_rows_keep_the_schedule_and_mark_non_finite_values():
    rows = trajectory_rows(((0, "init"), (5, "joint")), {"test_mse": np.array([1.0, np.nan])})
    assert rows == [(0, "init", "test_mse", 1.0), (5, "joint", "test_mse", None)]
    with pytest.raises(ValueError, match="recording points"):
        trajectory_rows(((0, "init"),), {"test_mse": np.array([1.0, 2.0])})


@pytest.fixture(scope="module")
def tiny():
    return apply_overrides(get_preset("quick"), [*TINY_OVERRIDES, "record.steps=6"], trials=2)


def test_recording_cells_are_new_cells_and_the_others_keep_their_keys(tiny):
    plain = apply_overrides(tiny, ["record.steps=0"])
    rec = {(c.method, c.n): c for c in expand(tiny)}
    for c in expand(plain):
        r = rec[(c.method, c.n)]
        if "trajectory" in c.learner.capabilities:
            assert r.key != c.key and r.record_count == 6 and c.record_count == 0
        else:  # a kernel has no training time: nothing to record, the same cell
            assert r.key == c.key and r.record_count == 0 and r.schedule() == ()


def _traj(st_, preset):
    row = st_.latest_sweep(preset.name)
    return st_.trajectory_rows(row["sweep_id"], row["trials"])


def test_sweep_stores_trajectories_that_end_at_the_final_metrics_and_resume_identically(tmp_path, tiny):
    with Store(tmp_path / "full.sqlite") as st_:
        run_local(plan(tiny, st_), st_)
        full = _traj(st_, tiny)
        row = st_.latest_sweep(tiny.name)
        trials = st_.trial_rows(row["sweep_id"], row["trials"])
    cells = [c for c in expand(tiny) if c.record_count]
    metrics_along = {r["metric"] for r in full}
    assert {"test_mse", "train_mse", "overlap_w", "pred_corr"} <= metrics_along and "trivial_mse" not in metrics_along
    for c in cells:  # every point of the schedule, for every trial
        mine = [r for r in full if r["method"] == c.method and r["n"] == c.n and r["metric"] == "test_mse"]
        assert len(mine) == len(c.schedule()) * tiny.trials
        assert [(r["step"], r["stage"]) for r in mine if r["trial"] == 0] == list(c.schedule())
        end = {t["trial"]: t["test_mse"] for t in trials if t["method"] == c.method and t["n"] == c.n}
        for t, v in end.items():
            last = max((r for r in mine if r["trial"] == t), key=lambda r: r["step"])
            assert last["value"] == pytest.approx(v, rel=1e-6)

    class Stop(Exception):
        pass

    done = []

    def interrupt_after_two(task, res):
        done.append(task)
        if len(done) == 2:
            raise Stop

    path = tmp_path / "resumed.sqlite"
    with Store(path) as st_, pytest.raises(Stop):
        run_local(plan(tiny, st_), st_, on_done=interrupt_after_two)
    with Store(path) as st_:
        run_local(plan(tiny, st_), st_)
        assert _traj(st_, tiny) == full


def test_a_recomputed_trial_keeps_its_first_trajectory(tmp_path, tiny):
    cell = next(c for c in expand(tiny) if c.record_count)
    row = {"trial": 0, "status": "ok", "test_mse": 0.5, "trajectory": [(0, "init", "test_mse", 0.9),
                                                                    (7, "joint", "test_mse", 0.5)]}
    with Store(tmp_path / "s.sqlite") as st_:
        sid = st_.register_sweep(tiny.name, "h", tiny.model_dump_json(), 1, [cell])
        st_.write_cell(cell.key, [0], [row], "ok")
        st_.write_cell(cell.key, [0], [{**row, "trajectory": [(0, "init", "test_mse", 0.1)]}], "ok")
        rows = st_.trajectory_rows(sid)
    assert [(r["step"], r["value"]) for r in rows] == [(0, 0.9), (7, 0.5)]


def test_a_version_5_store_gains_the_trajectories_table(tmp_path):
    path = tmp_path / "old.sqlite"
    with Store(path):
        pass
    con = sqlite3.connect(path)
    con.execute("DROP TABLE trajectories")
    con.execute("DELETE FROM schema_version WHERE version = 6")
    con.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with Store(path) as st_:
        assert st_.schema_version() == SCHEMA_VERSION == 6
        assert st_._con.execute("SELECT COUNT(*) FROM trajectories").fetchone()[0] == 0


@pytest.fixture(scope="module")
def stored(tmp_path_factory, tiny):
    path = tmp_path_factory.mktemp("traj") / "s.sqlite"
    with Store(path) as st_:
        run_local(plan(tiny, st_), st_)
    return path


def test_cli_exports_tidy_trajectories_and_draws_them(stored, tmp_path):
    res = runner.invoke(app, ["results", "--trajectories", "--preset", "quick", "--store", str(stored),
                              "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert tuple(rows[0]) == ("preset", *COLUMNS) and len(rows) > 50
    assert {r["stage"] for r in rows} >= {"init", "layer1", "layer2", "joint"}
    table = runner.invoke(app, ["results", "--trajectories", "--preset", "quick", "--store", str(stored)])
    assert table.exit_code == 0 and "along training" in table.output
    out = tmp_path / "t.png"
    res = runner.invoke(app, ["plot", "--trajectories", "--preset", "quick", "--store", str(stored), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 10_000 and out.with_suffix(".svg").exists()


def test_cli_says_when_nothing_was_recorded(tmp_path):
    plain = apply_overrides(get_preset("quick"), [*TINY_OVERRIDES, "methods={\"kernel\": {\"kind\": \"kernel\"}}"],
                            trials=1)
    path = tmp_path / "k.sqlite"
    with Store(path) as st_:
        run_local(plan(plain, st_), st_)
    for cmd in (["results", "--trajectories"], ["plot", "--trajectories", "-o", str(tmp_path / "x.png")]):
        res = runner.invoke(app, [*cmd, "--preset", "quick", "--store", str(path)])
        assert res.exit_code != 0 and "record.steps" in res.output and "Traceback" not in res.output


def _context(paths: dict[float, list[list[float]]]) -> CheckContext:
    """Planted trajectories of overlap_w for method m at d = 32, one list of trial paths per kappa."""
    rows = [{"method": "m", "d": 32, "n": int(32**k), "kappa": k, "trial": t, "step": s, "stage": "train",
             "metric": "overlap_w", "value": v}
            for k, trials in paths.items() for t, path in enumerate(trials) for s, v in enumerate(path)]
    from depthlab.analysis import aggregate

    agg = aggregate([{"preset": "p", "method": "m", "d": 32, "n": int(32**k), "kappa": k, "trial": 0, "status": "ok",
                      "test_mse": 1.0} for k in paths])
    return CheckContext(agg, {32: {}}, curves=summarize(rows), n_boot=200)


def test_trajectory_statistics_tell_a_peak_from_growth():
    rng = np.random.default_rng(0)
    bump = [[0.4, 0.6, 0.8, 0.6, 0.45 + 0.01 * rng.standard_normal()] for _ in range(8)]  # rises, falls back
    ctx = _context({1.2: bump, 2.0: bump})
    change = TrajectoryCheck(name="c", method="m", metric="overlap_w", statistic="change", op=">", value=0.25)
    excursion = TrajectoryCheck(name="e", method="m", metric="overlap_w", statistic="excursion", op=">", value=0.25)
    final = TrajectoryCheck(name="f", method="m", metric="overlap_w", statistic="final", op="<", value=0.5)
    c, e, f = run_checks([change, excursion, final], ctx)
    assert (c.status, e.status, f.status) == ("FAIL", "PASS", "PASS"), (c.detail, e.detail, f.detail)
    assert e.measured["value"] == pytest.approx(0.4)


def test_a_trajectory_check_without_trajectories_cannot_pass():
    from depthlab.analysis import aggregate

    one = {"preset": "p", "method": "m", "d": 8, "n": 10, "kappa": 1.1, "trial": 0, "status": "ok", "test_mse": 1.0}
    ctx = CheckContext(aggregate([one]), {8: {}})
    (res,) = run_checks([TrajectoryCheck(name="t", method="m", value=0.1)], ctx)
    assert res.status == "FAIL" and "record.steps" in res.detail


def test_the_report_draws_the_recorded_dynamics(stored, tmp_path):
    from depthlab.report import write_report
    from depthlab.results import load_results

    res = load_results(stored, "quick")
    assert res.curves and {c.metric for c in res.curves} >= {"test_mse", "overlap_w"}
    page = write_report(res, tmp_path / "rep").read_text()
    assert 'alt="metrics along training"' in page and (tmp_path / "rep" / "figures" / "trajectories.png").exists()


def test_a_stored_hierarchical_sweep_is_judged_against_each_trials_own_instance(stored):
    """quick's SIGHT target: its law depends on the instance, so the checks read every trial's own levels, those
    of the instance that trial trained on (runner.trial_instance with the sweep's seed)."""
    from depthlab.results import load_results
    from depthlab.sweep.runner import trial_instance

    res = load_results(stored, "quick")
    assert res.instance_dependent and res.context.instance_levels is not None
    d = res.ds[0]
    target = res.preset.target_for(d)
    assert res.instance_levels(d, 1) == target.instance_reference_levels(trial_instance(target, res.preset.seed, 1))
    own = sorted(res.instance_levels(d, t)["trivial"] for t in range(res.trials))
    assert res.typical_references[d]["trivial"] == pytest.approx(float(np.median(own)))  # what figures draw
    leaves = next(r for kind, r in res.check_results if "trivial" in r.name)
    assert "own E f*^2" in leaves.detail and "instances" in leaves.detail, leaves.detail


def test_band_errors_are_recorded_along_training_and_an_empty_band_is_missing_not_divergence(tmp_path):
    """The 0-1 errors by distance from the boundary are recorded at every point of the schedule (where the
    errors sit as training proceeds). On 4 test points the band q15 = [0.05, 0.15) of mass is empty (the
    empirical CDF moves in steps of 1/4): it is stored as missing at every step and the trial stays ok (an
    empty band is not a diverged run), while the other bands and metrics have values."""
    data = get_preset("safran-lee2022-convergence-quick").model_dump()
    data |= {"name": "band-tiny", "checks": [], "roles": {},
             "methods": {"depth2": {**data["methods"]["depth2"], "steps": 60}}}
    preset = apply_overrides(Preset.model_validate(data), ["d=[6]", "kappa_min=1.5", "kappa_max=2.0",
                                                          "num_kappa=2", "n_test=4", "record.steps=4"], trials=2)
    with Store(tmp_path / "bands.sqlite") as st_:
        run_local(plan(preset, st_), st_)
        row = st_.latest_sweep(preset.name)
        trials = st_.trial_rows(row["sweep_id"], row["trials"])
        along = _traj(st_, preset)
    assert len(trials) == 4 and all(t["status"] == "ok" for t in trials)
    assert all(t["boundary_error_q15"] is None and t["test_mse"] is not None for t in trials)
    bands = {f"boundary_error_{b}" for b in ("q05", "q15", "q30", "far")}
    assert bands <= {r["metric"] for r in along}
    cell = next(c for c in expand(preset) if c.record_count)
    for b in bands:
        mine = [r for r in along if r["metric"] == b and r["n"] == cell.n]
        assert len(mine) == len(cell.schedule()) * preset.trials
        assert all((r["value"] is None) == (b == "boundary_error_q15") for r in mine)
        assert all(r["value"] is None or 0.0 <= r["value"] <= 1.0 for r in mine)
