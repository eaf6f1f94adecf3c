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
         "pairs": [{"public_s": 40.0, "cold_s": 90.0, "warm_s": 20.0}],
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
