"""Store round-trip, resume after interruption, divergence as a recorded outcome (more on the store in
test_durability.py, on Dask in test_execution.py)."""

from dataclasses import replace

import pytest

from depthlab.presets import apply_overrides, get_preset
from depthlab.store import Store
from depthlab.sweep import plan, run_cell, run_local
from depthlab.sweep.grid import expand
from depthlab.sweep.runner import blocks, computed_trials

from ._tiny import TINY_OVERRIDES


@pytest.fixture(scope="module")
def tiny():
    return apply_overrides(get_preset("quick"), TINY_OVERRIDES, trials=2)


def _rows(store, preset):
    row = store.latest_sweep(preset.name)
    return store.trial_rows(row["sweep_id"], row["trials"])


def test_store_round_trip(tmp_path, tiny):
    cell = expand(tiny)[0]
    rows = [
        {
            "trial": 0,
            "status": "ok",
            "test_mse": 0.5,
            "train_mse": 0.1,
            "trivial_mse": 0.6,
            "overlap_w": 0.4,
            "overlap_h": 0.05,
        },
        {
            "trial": 1,
            "status": "diverged",
            "test_mse": None,
            "train_mse": None,
            "trivial_mse": 0.6,
            "overlap_w": None,
            "overlap_h": None,
        },
    ]
    with Store(tmp_path / "s.sqlite") as st:
        sid = st.register_sweep(tiny.name, "h", tiny.model_dump_json(), 2, [cell])
        st.write_cell(cell.key, [0, 1], rows, "ok", timings={"wall_s": 1.0, "compile_s": 0.5, "run_s": 0.5})
    with Store(tmp_path / "s.sqlite", readonly=True) as st:
        back = st.trial_rows(sid)
        assert st.done_trials(cell.key) == {0, 1}
        assert st.timings(sid)["wall_s"] == 1.0
    assert [r["status"] for r in back] == ["ok", "diverged"]
    assert back[0]["test_mse"] == 0.5 and back[0]["overlap_h"] == 0.05 and back[1]["test_mse"] is None
    assert back[0]["method"] == cell.method and back[0]["n"] == cell.n and back[0]["kappa"] == cell.kappa


def test_interrupted_sweep_resumes_to_identical_rows(tmp_path, tiny):
    with Store(tmp_path / "full.sqlite") as st:
        run_local(plan(tiny, st), st)
        full = _rows(st, tiny)
    assert len(full) == len(expand(tiny)) * tiny.trials

    class Stop(Exception):
        pass

    done = []

    def interrupt_after_three(task, res):
        done.append(task)
        if len(done) == 3:
            raise Stop

    path = tmp_path / "resumed.sqlite"
    with Store(path) as st, pytest.raises(Stop):
        run_local(plan(tiny, st), st, on_done=interrupt_after_three)
    with Store(path) as st:
        p2 = plan(tiny, st)
        assert len(p2.tasks) == len(expand(tiny)) - 3  # finished cells are skipped
        run_local(p2, st)
        assert plan(tiny, st).tasks == []
        resumed = _rows(st, tiny)
    assert resumed == full


def test_more_trials_only_runs_the_new_ones(tmp_path, tiny):
    with Store(tmp_path / "s.sqlite") as st:
        run_local(plan(tiny, st), st)
        first = _rows(st, tiny)
        more = apply_overrides(tiny, [], trials=3)
        p = plan(more, st)
        assert all(t.trials == [2] for t in p.tasks) and len(p.tasks) == len(expand(tiny))
        run_local(p, st)
        rows = _rows(st, more)
    old = [r for r in rows if r["trial"] < 2]
    assert old == first


def test_a_trials_numbers_do_not_depend_on_which_trials_were_asked_for(tiny):
    """Bit-identical promise: trial t runs in block t // B of one compiled program, so asking for it alone,
    with others, or in another order gives the same bits; another seed or trial gives other numbers."""
    cells = [c for c in expand(tiny) if c.n == max(c.n for c in expand(tiny))]
    cell = next(c for c in cells if c.method == "layerwise")
    assert cell.block() == tiny.trial_block == 2
    every = {r["trial"]: r for r in run_cell(cell, [0, 1, 2, 3, 4]).rows}
    assert sorted(every) == [0, 1, 2, 3, 4]  # block-mates nobody asked for (trial 5) are not returned
    for asked in ([1], [2], [4], [3, 1]):
        got = {r["trial"]: r for r in run_cell(cell, asked).rows}
        assert sorted(got) == sorted(asked)
        assert all(got[t] == every[t] for t in asked), asked
    # the equality above is not vacuous: a different trial or seed changes the numbers
    assert every[0]["test_mse"] != every[1]["test_mse"]
    other = run_cell(replace(cell, seed=cell.seed + 1), [1]).rows[0]
    assert other["test_mse"] != every[1]["test_mse"] and other["trivial_mse"] != every[1]["trivial_mse"]
    # every method sees the same test set: identical trivial error E f*^2 per trial
    triv = {c.method: [r["trivial_mse"] for r in run_cell(c, [0, 1]).rows] for c in cells}
    assert len({tuple(v) for v in triv.values()}) == 1


def test_trial_blocks_are_fixed_by_the_cell_not_by_the_trial_count(tiny):
    cell = next(c for c in expand(apply_overrides(tiny, ["trial_block=3"])) if c.method == "two_layer")
    assert cell.block() == 3 and blocks([4], 3) == [[3, 4, 5]] and blocks([0, 5, 1], 3) == [[0, 1, 2], [3, 4, 5]]
    assert computed_trials(cell, [0, 1, 2, 3]) == 6
    assert cell.block(budget=1) == 1  # a block that does not fit the memory budget shrinks (same for all trials)
    assert cell.key != next(c for c in expand(tiny) if c.method == "two_layer" and c.n == cell.n).key
    whole = {r["trial"]: r for r in run_cell(cell, [0, 1, 2, 3]).rows}
    assert run_cell(cell, [3]).rows[0] == whole[3] and run_cell(cell, [1]).rows[0] == whole[1]


def test_divergence_is_recorded_not_raised(tiny):
    bad = apply_overrides(tiny, ["methods.two_layer.lr=1e30"])
    cell = next(c for c in expand(bad) if c.method == "two_layer")
    res = run_cell(cell, [0, 1])
    assert res.status == "ok"
    assert [r["status"] for r in res.rows] == ["diverged", "diverged"]
    assert all(r["test_mse"] is None for r in res.rows)


def test_local_sweep_releases_compiled_programs(tmp_path, tiny, monkeypatch):
    """A long sweep must not keep every cell's compiled program loaded (they hold memory mappings)."""
    from depthlab.sweep import runner

    runner._PROGRAMS.clear()
    monkeypatch.setattr(runner, "KEEP_RECENT", 3)
    with Store(tmp_path / "s.sqlite") as st:
        p = plan(tiny, st)
        run_local(p, st, window=2)
        assert st.done_trials(p.tasks[0].cell.key) == {0, 1}
    assert runner._PROGRAMS == {}  # every finished cell's programs were released
    assert len(runner._RECENT) == 3  # of which only the last few stay loaded


def test_might_stores_per_branch_overlaps_whose_mean_is_the_summary(tmp_path, tiny):
    """Definition 6 is per branch: a 2-branch MIGHT sweep stores overlap_w_b0/b1 and overlap_h_b0/b1 with each
    trial (its JSON column), reads them back as columns, and aggregates them; their mean is overlap_w/h."""
    from depthlab.analysis import aggregate

    layerwise = tiny.methods["layerwise"].model_dump_json()
    might = apply_overrides(tiny, ["target.family=might", "target.branches=2", "d=16",
                                   f'methods={{"layerwise": {layerwise}}}'])
    with Store(tmp_path / "m.sqlite") as st:
        run_local(plan(might, st), st)
        rows = _rows(st, might)
    assert rows and all(r["status"] == "ok" for r in rows)
    for r in rows:
        for m in ("overlap_w", "overlap_h"):
            b0, b1 = r[f"{m}_b0"], r[f"{m}_b1"]
            assert 0.0 <= b0 <= 1.0 and 0.0 <= b1 <= 1.0
            assert r[m] == pytest.approx((b0 + b1) / 2, rel=1e-5)
    agg = aggregate(rows)
    assert all(0.0 <= a.stat("overlap_h_b1") <= 1.0 for a in agg)


def _renamed(preset, names):
    """``preset`` with its methods (and their roles) renamed old -> new, same configurations."""
    methods = {names.get(m, m): spec.model_dump(mode="json") for m, spec in preset.methods.items()}
    import json

    return apply_overrides(preset, [f"methods={json.dumps(methods)}", "checks=[]", "predictions={}"])


def test_renaming_a_method_changes_no_number(tmp_path, tiny):
    """A method's name is a label: the renamed sweep's cells are the stored ones (nothing to run), and run
    afresh in another store it gives the same numbers bit for bit, under the new name."""
    renamed = _renamed(tiny, {"layerwise": "deep", "two_layer": "shallow"})
    with Store(tmp_path / "a.sqlite") as st:
        run_local(plan(tiny, st), st)
        before = _rows(st, tiny)
        assert plan(renamed, st).tasks == []  # the same cells: the stored results serve the new names
        shared = _rows(st, renamed)
    with Store(tmp_path / "b.sqlite") as st:
        run_local(plan(renamed, st), st)
        fresh = _rows(st, renamed)
    back = {"deep": "layerwise", "shallow": "two_layer"}

    def key(r):
        return (back.get(r["method"], r["method"]), r["d"], r["n"], r["trial"])

    strip = ("method", "preset")
    as_before = {key(r): {k: v for k, v in r.items() if k not in strip} for r in fresh}
    assert {"deep", "shallow", "joint", "kernel"} == {r["method"] for r in fresh}
    assert as_before == {key(r): {k: v for k, v in r.items() if k not in strip} for r in before}
    assert sorted(map(key, shared)) == sorted(map(key, before))


def test_two_methods_with_one_configuration_are_rejected(tiny):
    from depthlab.presets import PresetError

    spec = tiny.methods["joint"].model_dump_json()
    with pytest.raises(PresetError, match="same learner configuration"):
        apply_overrides(tiny, [f'methods={{"a": {spec}, "b": {spec}}}'])
    with pytest.raises(PresetError, match="roles name unknown methods"):
        apply_overrides(tiny, ['roles={"nope": "kernel"}'])


def test_every_learner_kind_has_a_default_plot_role():
    import typing

    from depthlab.learners import LearnerConfig
    from depthlab.plots import ROLE_STYLES
    from depthlab.presets.base import Role

    classes = typing.get_args(typing.get_args(LearnerConfig)[0])
    assert all(c.plot_role in ROLE_STYLES for c in classes)  # declared by every learner kind, and drawable
    assert set(typing.get_args(Role)) == set(ROLE_STYLES)


def test_a_new_metric_is_one_definition(tmp_path, tiny, monkeypatch):
    """Registering one Metric is all it takes: the sweep computes it, the store keeps it (no schema change),
    rows and aggregates carry it, and checks may name it."""
    import jax.numpy as jnp

    from depthlab import metrics
    from depthlab.analysis import aggregate
    from depthlab.checks import BoundCheck

    extra = metrics.Metric("pred_mean", "mean prediction", lambda t: jnp.mean(t.predict_test()))
    monkeypatch.setitem(metrics.REGISTRY, "pred_mean", extra)
    from collections import OrderedDict

    from depthlab.sweep import runner

    monkeypatch.setattr(runner, "_RECENT", OrderedDict())  # programs compiled before the metric existed
    small = apply_overrides(tiny, ['methods={"kernel": ' + tiny.methods["kernel"].model_dump_json() + "}"])
    with Store(tmp_path / "s.sqlite") as st:
        run_local(plan(small, st), st)
        rows = _rows(st, small)
    assert rows and all(isinstance(r["pred_mean"], float) for r in rows)
    assert all(a.stat("pred_mean") == a.stat("pred_mean") for a in aggregate(rows))  # not NaN
    BoundCheck(name="x", method="kernel", metric="pred_mean", op="<", value=1.0)
    monkeypatch.delitem(metrics.REGISTRY, "pred_mean")
    with pytest.raises(ValueError, match="unknown metric 'pred_mean'"):
        BoundCheck(name="x", method="kernel", metric="pred_mean", op="<", value=1.0)


V4_TRIALS = """CREATE TABLE trials (cell_key TEXT NOT NULL, trial INTEGER NOT NULL, status TEXT NOT NULL,
    test_mse REAL, train_mse REAL, trivial_mse REAL, overlap_w REAL, overlap_h REAL, feature_corr REAL,
    class_error REAL, extra_json TEXT, run_id INTEGER NOT NULL, PRIMARY KEY (cell_key, trial))"""


def test_a_v4_store_is_migrated_to_long_format_metrics(tmp_path, tiny):
    """Version 4 kept one column per metric and per-branch values in JSON; version 5 reads the same values
    (after a backup), with the method names of the sweep."""
    import json
    import sqlite3

    from depthlab import store as store_mod

    cell = expand(tiny)[0]
    path = tmp_path / "v4.sqlite"
    with Store(path) as st:
        sid = st.register_sweep(tiny.name, "h", tiny.model_dump_json(), 2, [cell])
        st.write_cell(cell.key, [0], [{"trial": 0, "status": "ok", "test_mse": 0.25}], "ok")
    con = sqlite3.connect(path)
    with con:  # rewrite it as version 4 wrote it
        con.execute("DROP TABLE trajectories")
        con.execute("DROP TABLE trial_metrics")
        con.execute("DROP TABLE trials")
        con.execute(V4_TRIALS)
        con.execute("INSERT INTO trials(cell_key, trial, status, test_mse, overlap_w, extra_json, run_id) "
                    "VALUES (?, 0, 'ok', 0.25, 0.5, ?, 1), (?, 1, 'diverged', NULL, NULL, NULL, 1)",
                    (cell.key, json.dumps({"overlap_w_b0": 0.4, "overlap_w_b1": 0.6}), cell.key))
        con.execute("DELETE FROM schema_version WHERE version >= 5")
        con.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    con.close()
    with Store(path, readonly=True) as st:
        assert st.schema_version() == store_mod.SCHEMA_VERSION == 6
        rows = st.trial_rows(sid)
    assert path.with_name("v4.sqlite.v4.bak").exists()
    assert rows[0]["test_mse"] == 0.25 and rows[0]["overlap_w"] == 0.5 and rows[0]["overlap_w_b1"] == 0.6
    assert rows[1]["status"] == "diverged" and "test_mse" not in rows[1]
    assert rows[0]["method"] == cell.method
