"""Section ``public_code`` of the benchmark: skipped without the public code, and its log parsed (no real runs)."""

from __future__ import annotations

import math
from pathlib import Path

from depthlab import bench

# two lines as the public code (IdePHICS/ComputationalDepth, Codes/RunExperiment.py) writes them, among others
PUBLIC_LOG = """Results for public not computed yet. Starting the experiment
Start experiment for d = 32
FOR n=2 and d=32  (log(n)/log(d) =0.200)-- AFTER AVERAGING: Layerwise = 0.651, 2layer = 0.702, Joint = 0.688, \
Random Features = 0.640
Matrix is singular, returning zero estimator.
FOR n=1024 and d=32  (log(n)/log(d) =2.000)-- AFTER AVERAGING: Layerwise = 0.093, 2layer = 0.141, Joint = nan, \
Random Features = 0.254
It took 41.5 seconds to finish the experiment for d = 32
"""


def _report(section: dict) -> dict:
    return {"cpu": "test", "jax": "0", "suite_s": 1.0, "gemm_fp32_gflops": {}, "gemm_fp64_gflops": {},
            "public_code": section}


def test_skipped_without_the_public_code(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DEPTHLAB_PUBLIC_CODE", raising=False)
    monkeypatch.delenv("DEPTHLAB_PUBLIC_PYTHON", raising=False)
    r = bench.public_code_section()
    assert r["skipped"] == bench.PUBLIC_SKIPPED
    assert "DEPTHLAB_PUBLIC_CODE and DEPTHLAB_PUBLIC_PYTHON not set" in r["reason"]
    assert bench.PUBLIC_SKIPPED in bench.markdown(_report(r))
    # set but unusable: a folder without the public code, a python that does not exist
    env = {"DEPTHLAB_PUBLIC_CODE": str(tmp_path), "DEPTHLAB_PUBLIC_PYTHON": str(tmp_path / "python")}
    r = bench.public_code_section(env=env)
    assert r["skipped"] == bench.PUBLIC_SKIPPED and "RunExperiment.py" in r["reason"]
    codes = tmp_path / "Codes"
    (codes / "RawHyperparams" / "Example").mkdir(parents=True)
    for name in ("RunExperiment.py", "utils.py", "RawHyperparams/Example/Example.yaml"):
        (codes / name).write_text("")
    r = bench.public_code_section(env=env)
    assert r["skipped"] == bench.PUBLIC_SKIPPED and "not an executable file" in r["reason"]


def test_parse_public_output() -> None:
    e = bench.parse_public_output(PUBLIC_LOG)
    assert set(e) == {"layerwise", "joint", "two_layer", "kernel"}
    assert e["layerwise"] == {2: 0.651, 1024: 0.093}
    assert e["two_layer"] == {2: 0.702, 1024: 0.141}
    assert e["kernel"] == {2: 0.640, 1024: 0.254}
    assert e["joint"][2] == 0.688 and math.isnan(e["joint"][1024])
    assert bench.parse_public_output("no result lines") == {m: {} for m in bench.PUBLIC_LABELS.values()}


def test_public_grid_matches_depthlab() -> None:
    cfg = {"exp_min": 0.2, "exp_max": 2.0, "num": 6}
    assert bench.public_ns(cfg, 32) == [2, 6, 24, 84, 294, 1024]
    preset = bench.apply_overrides(bench.get_preset(bench.PUBLIC_PRESET), list(bench.PUBLIC_OVERRIDES))
    assert preset.ns(32) == bench.public_ns(cfg, 32)


def test_markdown_of_a_planted_result() -> None:
    errors = {m: {"n": [2, 1024], "public_median": [v[2], v[1024]], "depthlab_median": [0.6, 0.1],
                  "depthlab_trials": [[0.6, 0.6], [0.1, 0.1]]}
              for m, v in bench.parse_public_output(PUBLIC_LOG).items()}
    r = {"config": {"preset": bench.PUBLIC_PRESET, "overrides": list(bench.PUBLIC_OVERRIDES), "d": 32, "trials": 2,
                    "n_depthlab": [2, 1024], "n_public": [2, 1024], "same_n": True},
         "command": ["/venv/bin/python", "/code/Codes/RunExperiment.py"],
         "pairs": [{"public_s": 40.0, "cold_s": 90.0, "warm_s": 20.0, "cold_compile_s": 80.0}],
         "median_s": {"public": 40.0, "cold": 90.0, "warm": 20.0}, "public_over_cold": 40 / 90,
         "public_over_warm": 2.0, "public_precision": "printed", "errors": errors, "notes": ["a note"]}
    md = bench.markdown(_report(r))
    assert "public / depthlab cold: 0.44x; public / depthlab warm: 2.00x" in md
    assert "| layerwise | 1024 | 0.0930 | 0.1000 | +0.0070 |" in md
    assert "- a note" in md


def test_cold_start_keeps_going_and_reports_each_preset(monkeypatch) -> None:
    """A preset that times out or fails is recorded with its error, the others still run, and the caller sees
    the results after every preset (the bench writes its report then)."""
    import subprocess

    def fake(name: str, *a: object, **k: object) -> dict[str, object]:
        if name == "hangs":
            raise subprocess.TimeoutExpired("depthlab", 1.0)
        if name == "fails":
            raise subprocess.CalledProcessError(1, "depthlab", stderr=b"trace\nValueError: bad thing\n")
        run = {"wall_s": 2.0, "compile_s": 1.0, "compile_wait_share": 0.1}
        return {"cold": run, "warm": {**run, "wall_s": 1.0}, "cold_over_warm": 2.0}

    monkeypatch.setattr(bench, "cold_warm", fake)
    seen: list[list[str]] = []
    out = bench.cold_start_section(("ok", "hangs", "fails", "ok2"), lambda done: seen.append(list(done)))
    assert seen == [["ok"], ["ok", "hangs"], ["ok", "hangs", "fails"], ["ok", "hangs", "fails", "ok2"]]
    assert out["hangs"]["error"].startswith("timed out")
    assert out["fails"]["error"] == "exit status 1: ValueError: bad thing"
    assert out["ok2"]["cold_over_warm"] == 2.0
    md = bench.markdown({"cpu": "x", "jax": "0", "gemm_fp32_gflops": {}, "gemm_fp64_gflops": {}, "peak_fp32": 1.0,
                         "suite_s": 3.0, "partial": True, "cold_start": out})
    assert "partial" in md.splitlines()[0] and "| hangs | timed out" in md and "| ok | 2.0 | 1.0 | 2.00x |" in md


def _sweep(wall: float, wait: float, compiled: float, numerics: float) -> dict[str, float]:
    return {"wall_s": wall, "compile_wait_s": wait, "compile_wait_share": wait / wall, "compile_s": compiled,
            "run_s": numerics}


def _planted(cold_wall: float, wait: float, public_s: float, of_peak: float, sweep_cold: float) -> dict:
    warm = _sweep(60.0, 1.0, 10.0, 58.0)
    return {"cpu": "x", "jax": "0", "gemm_fp32_gflops": {}, "gemm_fp64_gflops": {}, "peak_fp32": 300.0,
            "suite_s": 1.0,
            "end_to_end": {"cold": _sweep(cold_wall, wait, 60.0, 70.0), "warm": warm},
            "cold_start": {"small-quick": {"cold": _sweep(10.0, 10.0 * wait / cold_wall, 8.0, 3.0), "warm": warm},
                           "broken-quick": {"error": "timed out after 3600 s"}},
            "public_code": {"pairs": [{"public_s": public_s, "cold_s": 20.0, "warm_s": 10.0, "cold_compile_s": 15.0}],
                            "median_s": {"public": public_s, "cold": 20.0, "warm": 10.0},
                            "public_over_cold": public_s / 20.0, "public_over_warm": public_s / 10.0},
            "learners": [{"method": "joint", "scale": "paper", "of_peak": of_peak, "gflops": 300.0 * of_peak},
                         {"method": "joint", "scale": "quick", "of_peak": 0.1, "gflops": 30.0}],
            "paper_sweep": {"cold_over_floor": sweep_cold / 50.0, "warm_over_floor": 1.2, "floor_s": 50.0,
                            "cold": {"wall_s": sweep_cold, "compile_s": 20.0}, "warm": {"wall_s": 60.0}}}


def test_targets_fail_where_missed_and_pass_where_met() -> None:
    """Every cold-start target on a planted report that misses it (NOT met, with its measured reason) and one
    that meets it (met); a section not run gives no verdict."""
    missed = bench.targets(_planted(cold_wall=90.0, wait=20.0, public_s=30.0, of_peak=0.6, sweep_cold=100.0))
    assert [r["met"] for r in missed] == [False] * 6
    by = {r["target"]: r for r in missed}
    assert "1.50x" in by["quick cold / warm"]["measured"]
    assert "compiled 60.0 s of programs" in by["quick cold / warm"]["reason"]
    wait = by["compile wait / cold wall, every quick preset"]
    assert wait["measured"].startswith("0 of 2 presets within")  # quick and small-quick; the broken one is absent
    assert "small-quick 22% (numerics 3.0 s, programs compiled 8.0 s" in wait["reason"]
    assert by["public code / depthlab cold"]["measured"] == "1.50x"
    assert "15.0 s of programs compiled" in by["public code / depthlab cold"]["reason"]
    assert by["public code / depthlab warm"]["measured"] == "3.00x"
    assert "joint 180 GFLOP/s (60%)" in by["paper-scale learners, fraction of fp32 GEMM peak"]["reason"]
    assert by["paper-scale sweep cold / FLOP floor"]["measured"] == "2.00x"

    met = bench.targets(_planted(cold_wall=72.0, wait=7.0, public_s=45.0, of_peak=0.75, sweep_cold=60.0))
    assert [r["met"] for r in met] == [True] * 6 and all(r["reason"] == "" for r in met)
    # the boundaries belong to the target (<= 1.25x, <= 15%, >= 2x / 4x, >= 70%, <= 1.25x)
    edge = bench.targets(_planted(cold_wall=75.0, wait=11.25, public_s=40.0, of_peak=0.70, sweep_cold=62.5))
    assert [r["met"] for r in edge] == [True] * 6

    bare = {"cpu": "x", "jax": "0", "peak_fp32": 1.0, "public_code": {"skipped": bench.PUBLIC_SKIPPED}}
    none = bench.targets(bare)
    assert [r["met"] for r in none] == [None] * 6
    md = "\n".join(bench.targets_markdown(missed))
    assert "| quick cold / warm | <= 1.25x | 1.50x (90.0 / 60.0 s) | NOT met |" in md
    assert "| paper-scale sweep cold / FLOP floor | <= 1.25x | not measured (section paper_sweep) | - |" in \
        bench.markdown({**bare, "gemm_fp32_gflops": {}, "gemm_fp64_gflops": {}, "suite_s": 1.0})
