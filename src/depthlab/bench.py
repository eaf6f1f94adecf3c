"""Benchmark suite (``depthlab bench`` / ``make bench``): throughput of every learner against this machine's
measured GEMM peak. Writes ``bench.md`` and ``bench.json`` to the output folder and the measured learner
throughputs to the user cache, where ``depthlab run --dry-run`` reads them for its projections.

Sections:
1. machine peak: jitted fp32 / fp64 square matrix products;
2. each learner's training at reference sizes (quick's largest cell; the paper-scale largest cell of
   ``dandi2025-example`` with the step count cut down, which leaves the per-step cost unchanged):
   compile time, run time, FLOPs counted from the shapes, GFLOP/s and fraction of the fp32 peak;
3. end-to-end ``quick`` in fresh processes, with an empty and then a warm compilation cache: wall time,
   time per cell, share of wall time outside compiled numerics, compile wait and its share of wall time,
   compile seconds per program (data programs; training programs per learner kind) and per sweep, and the
   cold / warm ratio; section ``cold_start`` (by name only, not in ``all``) does the same for every quick
   preset;
4. scaling of a layer-wise cell with n and with the number of trials (fitted exponents);
5. peak RSS of the largest cells of ``dandi2025-example`` (fresh process each, all 10 trials), vs the
   arrays' estimated size;
6. float32 vs float64 on quick's largest layer-wise cell: speed ratio and test-error difference;
7. recording along training (``record.steps = 40``) on quick's largest cells of every learner that records:
   run time with and without recording (the same cell, compiled programs, best of three alternated runs), their
   ratio, and the numbers stored per trial;
8. section ``public_code`` (by name only, not in ``all``): the public research code of Dandi et al. 2025 and
   ``depthlab run dandi2025-example`` on one reduced configuration, each as whole fresh processes, alternated
   (public, depthlab with an empty compilation cache, depthlab warm): wall times, their ratios and the median
   test errors of both per method and n. Runs only where the public code is installed: ``$DEPTHLAB_PUBLIC_CODE``
   (a checkout of IdePHICS/ComputationalDepth) and ``$DEPTHLAB_PUBLIC_PYTHON`` (an interpreter with its
   dependencies: torch, numpy, pyyaml, matplotlib); it is never copied into this repository.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from depthlab.presets import apply_overrides, get_preset
from depthlab.provenance import cpu_model
from depthlab.sweep.grid import Cell, expand
from depthlab.sweep.runner import compile_data, run_cell

THROUGHPUT_FILE = Path.home() / ".cache" / "depthlab" / "throughput.json"


def gemm_peak(dtype: Any, sizes: tuple[int, ...] = (512, 1024, 2048), seconds: float = 1.0) -> dict[int, float]:
    """GFLOP/s of a jitted n x n product (best of a ~1 s loop per size)."""
    out = {}
    f = jax.jit(lambda a, b: a @ b)
    for n in sizes:
        a = jnp.ones((n, n), dtype)
        f(a, a).block_until_ready()
        reps, t = 0, time.perf_counter()
        while time.perf_counter() - t < seconds:
            r = f(a, a)
            reps += 1
        r.block_until_ready()
        out[n] = 2 * n**3 * reps / (time.perf_counter() - t) / 1e9
    return out


def shortened(cell: Cell, steps: int) -> Cell:
    """The same cell with about ``steps`` training steps in its dominant phase (per-step cost unchanged)."""
    lr = cell.learner
    t = steps * getattr(lr, "batch_fraction", 0.7) / cell.d**1.5
    upd = {"t2_coef": t} if hasattr(lr, "t2_coef") else {"t_coef": t} if hasattr(lr, "t_coef") else {}
    if hasattr(lr, "t1_coef"):
        upd["t1_coef"] = 1.0
    return Cell(**{**cell.__dict__, "learner": lr.model_copy(update=upd)})


def time_fit(cell: Cell, trials: int) -> dict[str, float]:
    """Compile and run one cell's fit program (data generation excluded) for ``trials`` trials."""
    data_prog = compile_data(cell, trials)
    seed, idx = jnp.asarray(cell.seed, jnp.uint32), jnp.arange(trials, dtype=jnp.uint32)
    data = jax.block_until_ready(data_prog(seed, idx))
    t0 = time.perf_counter()
    fn = jax.jit(jax.vmap(_fit_only(cell), in_axes=(None, 0, 0, 0)))
    prog = fn.lower(seed, idx, data[1].x, data[1].y).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(prog(seed, idx, data[1].x, data[1].y))  # warm-up
    t0 = time.perf_counter()
    jax.block_until_ready(prog(seed, idx, data[1].x, data[1].y))
    run_s = time.perf_counter() - t0
    flops = trials * cell.learner.flops(cell.d, cell.n)
    return {"compile_s": compile_s, "run_s": run_s, "gflop": flops / 1e9, "gflops": flops / run_s / 1e9}


def _fit_only(cell: Cell) -> Callable[..., Any]:
    def f(seed: Any, trial: Any, x: Any, y: Any) -> Any:
        return cell.learner.fit(jax.random.fold_in(jax.random.PRNGKey(seed), trial), x, y)

    return f


def learner_section(peak: float) -> list[dict[str, Any]]:
    rows = []
    quick = get_preset("quick")
    qcells = [c for c in expand(quick) if c.n == max(c.n for c in expand(quick))]
    for c in qcells:
        r = time_fit(c, quick.trials)
        rows.append({"scale": "quick", "method": c.method, "kind": c.learner.kind, "d": c.d, "n": c.n,
                     "trials": quick.trials,
                     "steps": "full", **r, "of_peak": r["gflops"] / peak})
    ex = get_preset("dandi2025-example")
    ecells = [c for c in expand(ex) if c.n == max(c.n for c in expand(ex))]
    for c in ecells:
        cs = shortened(c, 48) if c.learner.kind != "kernel" else c
        r = time_fit(cs, 2)
        rows.append({"scale": "paper", "method": c.method, "kind": c.learner.kind, "d": c.d, "n": c.n, "trials": 2,
                     "steps": "48" if c.learner.kind != "kernel" else "full", **r, "of_peak": r["gflops"] / peak})
    return rows


def quick_presets() -> list[str]:
    """The presets that are meant to run in minutes: ``quick`` and every ``*-quick``."""
    from depthlab.presets import preset_names

    return [name for name in preset_names() if name == "quick" or name.endswith("-quick")]


def _run_sweep(preset: str, store: Path, cache: Path, extra_env: dict[str, str] | None = None,
               overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    """``depthlab run PRESET [--set KEY=VALUE ...]`` in a fresh process with the compilation cache ``cache``: wall
    time, the runs table's compiled numerics and compile wait, and the compile seconds recorded per program
    (``runner``'s ``compile_seconds`` in each run's provenance: compilation hidden behind running cells included)."""
    env = {**os.environ, "DEPTHLAB_JAX_CACHE": str(cache), **(extra_env or {})}
    sets = [a for o in overrides for a in ("--set", o)]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "depthlab.cli", "run", preset, "--store", str(store), *sets], env=env,
                   check=True, capture_output=True, timeout=SWEEP_TIMEOUT_S)
    wall = time.perf_counter() - t0
    import sqlite3

    con = sqlite3.connect(store)
    rows = con.execute("SELECT run_s, compile_s, provenance_json FROM runs").fetchall()
    con.close()
    fit: dict[str, list[float]] = {}
    evals: list[float] = []
    data = 0.0
    for _, _, prov_json in rows:
        prov = json.loads(prov_json or "{}")
        secs = prov.get("compile_seconds") or {}
        fit.setdefault(prov.get("learner_kind", "?"), []).append(float(secs.get("fit", 0.0)))
        if float(secs.get("eval", 0.0)) > 0:
            evals.append(float(secs["eval"]))
        data += float(secs.get("data", 0.0))
    run_s = sum(r[0] or 0.0 for r in rows)
    wait = sum(r[1] or 0.0 for r in rows)
    compiled = sum(map(sum, fit.values())) + data
    return {"preset": preset, "wall_s": wall, "run_s": run_s, "compile_wait_s": wait, "cells": len(rows),
            "per_cell_s": wall / max(len(rows), 1), "outside_compiled": 1 - run_s / wall,
            "compile_wait_share": wait / wall, "compile_s": compiled, "data_compile_s": data,
            "eval_compile_s": {"programs": len(evals), "total_s": sum(evals),
                               "median_s": float(np.median(evals)) if evals else 0.0},
            "fit_compile_s": {k: {"programs": len(v), "total_s": sum(v), "median_s": float(np.median(v))}
                              for k, v in sorted(fit.items())}}


def cold_warm(preset: str, extra_env: dict[str, str] | None = None, overrides: tuple[str, ...] = ()
              ) -> dict[str, Any]:
    """A preset run cold (an empty compilation cache folder, fresh process) and then warm (the same cache)."""
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        cold = _run_sweep(preset, Path(tmp) / "cold.sqlite", cache, extra_env, overrides)
        warm = _run_sweep(preset, Path(tmp) / "warm.sqlite", cache, extra_env, overrides)
    return {"cold": cold, "warm": warm, "cold_over_warm": cold["wall_s"] / warm["wall_s"]}


def end_to_end_section() -> dict[str, dict[str, Any]]:
    """``quick`` cold then warm (section ``end_to_end``)."""
    r = cold_warm("quick")
    return {"cold": r["cold"], "warm": r["warm"]}


SWEEP_TIMEOUT_S = 3600.0  # one benchmarked sweep (a quick preset, the paper-scale sweep) takes minutes


def cold_start_section(presets: tuple[str, ...] = (),
                       on_preset: Callable[[dict[str, dict[str, Any]]], None] | None = None
                       ) -> dict[str, dict[str, Any]]:
    """Cold and warm wall time of every quick preset, or of ``presets`` (section ``cold_start``; tens of
    minutes on 2 cores for all of them). A preset whose run fails or outlasts ``SWEEP_TIMEOUT_S`` is recorded
    with its error and the others still run; ``on_preset`` sees the results so far after each preset (the
    report is written then, so a stopped bench keeps what it measured)."""
    out: dict[str, dict[str, Any]] = {}
    for name in presets or quick_presets():
        try:
            out[name] = cold_warm(name)
        except subprocess.TimeoutExpired:
            out[name] = {"error": f"timed out after {SWEEP_TIMEOUT_S:.0f} s"}
        except subprocess.CalledProcessError as e:
            tail = (e.stderr or b"").decode(errors="replace").strip().splitlines()
            out[name] = {"error": f"exit status {e.returncode}: {tail[-1] if tail else 'no output'}"}
        if on_preset is not None:
            on_preset(out)
    return out


def overlap_section(preset: str = "quick") -> dict[str, Any]:
    """Whether compiling in the background while cells run helps on this machine: ``preset`` cold (empty
    compilation cache, fresh process) with the default prefetch window, then with ``DEPTHLAB_PREFETCH=0``
    (each cell's programs compiled when it starts, nothing overlaps) (section ``overlap``, by name only)."""
    out: dict[str, Any] = {"preset": preset, "cores": os.cpu_count()}
    for name, env in (("background", {}), ("no_overlap", {"DEPTHLAB_PREFETCH": "0"})):
        with tempfile.TemporaryDirectory() as tmp:
            out[name] = _run_sweep(preset, Path(tmp) / "s.sqlite", Path(tmp) / "cache", env)
    out["background_over_no_overlap"] = out["background"]["wall_s"] / out["no_overlap"]["wall_s"]
    return out


PAPER_SWEEP = ("dandi2025-example", ("kappa_max=1.8", "num_kappa=5", "trials=2"))


def sweep_gflop(preset: str, overrides: tuple[str, ...] = ()) -> float:
    """The learners' FLOPs of a whole sweep (every cell's computed trials, whole blocks; data generation and
    metrics left out), in GFLOP: the numerator of its FLOP floor."""
    from depthlab.sweep.runner import computed_trials

    p = apply_overrides(get_preset(preset), list(overrides))
    return sum(computed_trials(c, list(range(p.trials))) * c.learner.flops(c.d, c.n) for c in expand(p)) / 1e9


def paper_sweep_section(peak: float) -> dict[str, Any]:
    """A whole sweep at paper scale (``PAPER_SWEEP``: the public example at d = 64 with the paper's widths, 5
    κ points up to 1.8, 2 trials) in a fresh process, cold (empty compilation cache) then warm: wall time
    against its FLOP floor, the learners' FLOPs at this machine's measured fp32 GEMM peak (section
    ``paper_sweep``, by name only)."""
    preset, overrides = PAPER_SWEEP
    runs = cold_warm(preset, overrides=overrides)
    cold, warm = runs["cold"], runs["warm"]
    gflop = sweep_gflop(preset, overrides)
    floor = gflop / peak
    return {"preset": preset, "overrides": list(overrides), "gflop": gflop, "floor_s": floor, "cold": cold,
            "warm": warm, "cold_over_floor": cold["wall_s"] / floor, "warm_over_floor": warm["wall_s"] / floor}


# ---- section public_code: the public research code of Dandi et al. 2025 side by side -------------------------
PUBLIC_PRESET = "dandi2025-example"
PUBLIC_OVERRIDES = ("d=32", "kappa_min=0.2", "kappa_max=2.0", "num_kappa=6", "trials=2")
PUBLIC_SKIPPED = "skipped: public code not installed (set DEPTHLAB_PUBLIC_CODE and DEPTHLAB_PUBLIC_PYTHON)"
PUBLIC_RUN_NAME = "bench"  # the public script asks for an output name on stdin unless $SLURM_JOB_ID gives one
# the public code's printed labels -> depthlab's method names ("Random Features" is its quadratic kernel ridge)
PUBLIC_LABELS = {"Layerwise": "layerwise", "Joint": "joint", "2layer": "two_layer", "Random Features": "kernel"}
# order of ``errors_resultss[d]`` in its 3layer_results.pt
PUBLIC_PT_ORDER = ("layerwise", "kernel", "two_layer", "joint")
_PUBLIC_LINE = re.compile(
    r"FOR n=(?P<n>\d+) and d=(?P<d>\d+).*?AFTER AVERAGING: Layerwise = (?P<Layerwise>[^,\s]+), "
    r"2layer = (?P<l2>[^,\s]+), Joint = (?P<Joint>[^,\s]+), Random Features = (?P<rf>[^,\s]+)")
_PUBLIC_PT_CHILD = """
import json, sys, torch
r = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
print(json.dumps([[float(v) for v in m] for m in r["errors_resultss"][0]]))
"""
PUBLIC_NOTES = (
    "the public code prints and saves only the median over trials per n (3 decimals printed; full precision "
    "from its 3layer_results.pt when that loads), so depthlab's column is the median of its trials' test_mse too",
    "the public code draws a fresh target, test set (1000), validation set (1000) and training set per (n, trial) "
    "from one torch/numpy stream seeded 1926 ^ d; depthlab nests the data (one target, test set and sample stream "
    "per (d, trial), the cell at n using its first n samples) from seed 0: same distribution, different draws",
    "the public code also evaluates a validation loss every 10 (layer-wise stage 1) or 50 steps and keeps a copy "
    "of the weights after every step even with its overlaps off, all inside the timed process; depthlab computes "
    "the overlaps M_W and M_h of the trained nets at the end",
    "its trials run one after another in one process; depthlab vmaps a cell's trials in blocks",
    "hyperparameters are Example.yaml's on both sides (depthlab's learner defaults follow it): widths from the "
    "largest n (p1 = int(n_max^0.9), p2 = 100, 2-layer p = int(p1 / 15)), steps from d (int(15 ln d) and "
    "int(5 d^1.5) iterations, / 0.7 minibatch steps), float32; the public code runs on CUDA where torch sees a GPU",
)


def public_code_paths(env: dict[str, str] | None = None) -> tuple[Path, Path] | str:
    """(RunExperiment.py, python) of the public code named by ``$DEPTHLAB_PUBLIC_CODE`` (a checkout of
    IdePHICS/ComputationalDepth, or its ``Codes`` folder) and ``$DEPTHLAB_PUBLIC_PYTHON`` (an interpreter that
    imports torch, numpy, yaml and matplotlib), else the reason they cannot be used."""
    env = dict(os.environ if env is None else env)
    code, python = env.get("DEPTHLAB_PUBLIC_CODE", "").strip(), env.get("DEPTHLAB_PUBLIC_PYTHON", "").strip()
    if not code or not python:
        missing = [k for k, v in (("DEPTHLAB_PUBLIC_CODE", code), ("DEPTHLAB_PUBLIC_PYTHON", python)) if not v]
        return f"{' and '.join(missing)} not set"
    script = next((p for p in (Path(code) / "Codes" / "RunExperiment.py", Path(code) / "RunExperiment.py")
                   if p.is_file()), None)
    if script is None or not (script.parent / "utils.py").is_file():
        return f"DEPTHLAB_PUBLIC_CODE={code}: no Codes/RunExperiment.py with utils.py beside it"
    if not (script.parent / "RawHyperparams" / "Example" / "Example.yaml").is_file():
        return f"DEPTHLAB_PUBLIC_CODE={code}: no Codes/RawHyperparams/Example/Example.yaml"
    if not (Path(python).is_file() and os.access(python, os.X_OK)):
        return f"DEPTHLAB_PUBLIC_PYTHON={python}: not an executable file"
    try:
        probe = subprocess.run([python, "-c", "import torch, numpy, yaml, matplotlib"], capture_output=True,
                               text=True, timeout=300, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"DEPTHLAB_PUBLIC_PYTHON={python}: {e}"
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or [f"exit status {probe.returncode}"])[-1]
        return f"DEPTHLAB_PUBLIC_PYTHON={python} cannot import the public code's dependencies: {last}"
    return script, Path(python)


def public_config(script: Path, overrides: tuple[str, ...] = PUBLIC_OVERRIDES) -> dict[str, Any]:
    """The public code's Example.yaml with the grid and trials of ``dandi2025-example`` under ``overrides`` and
    its overlap bookkeeping off (the 2-layer net trained, as in the example)."""
    import yaml

    p = apply_overrides(get_preset(PUBLIC_PRESET), list(overrides))
    cfg = yaml.safe_load((script.parent / "RawHyperparams" / "Example" / "Example.yaml").read_text())
    cfg.update(ds=list(p.ds), exp_min=float(p.kappa_min), exp_max=float(p.kappa_max), num=int(p.num_kappa),
               trials=int(p.trials), FlagOverlapLin=False, FlagOverlapNonLin=False, FlagTrain2Layer=True)
    return cfg


def public_ns(cfg: dict[str, Any], d: int) -> list[int]:
    """The n the public code runs at d: ``np.logspace(exp_min, exp_max, num, base=d, dtype=int)`` (repeats kept)."""
    return [int(n) for n in np.logspace(cfg["exp_min"], cfg["exp_max"], num=cfg["num"], base=d, dtype=int)]


def parse_public_output(text: str) -> dict[str, dict[int, float]]:
    """Median test error per depthlab method name and n from the public code's printed log (its lines
    ``FOR n=... and d=... -- AFTER AVERAGING: Layerwise = x, 2layer = x, Joint = x, Random Features = x``)."""
    out: dict[str, dict[int, float]] = {m: {} for m in PUBLIC_LABELS.values()}
    keys = {"Layerwise": "layerwise", "l2": "two_layer", "Joint": "joint", "rf": "kernel"}
    for m in _PUBLIC_LINE.finditer(text):
        for group, method in keys.items():
            out[method][int(m["n"])] = float(m[group])
    return out


def _public_full_precision(python: Path, pt: Path, ns: list[int]) -> dict[str, dict[int, float]] | None:
    """The same medians at full precision from the public code's 3layer_results.pt (None if it does not load)."""
    try:
        r = subprocess.run([str(python), "-c", _PUBLIC_PT_CHILD, str(pt)], capture_output=True, text=True,
                           timeout=300, stdin=subprocess.DEVNULL, check=True)
        rows = json.loads(r.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None
    if len(rows) != len(PUBLIC_PT_ORDER) or any(len(v) != len(ns) for v in rows):
        return None
    return {m: dict(zip(ns, map(float, v), strict=True)) for m, v in zip(PUBLIC_PT_ORDER, rows, strict=True)}


def public_command(script: Path, python: Path) -> list[str]:
    return [str(python), str(script)]


def _run_public(script: Path, python: Path, cfg: dict[str, Any], work: Path) -> dict[str, Any]:
    """The public code in a fresh process in ``work`` (it reads ``ParamsFolder/*.yaml`` and writes ``data/``
    under its working folder): wall seconds and its median test errors per method and n."""
    import yaml

    (work / "ParamsFolder").mkdir(parents=True)
    (work / "ParamsFolder" / "public.yaml").write_text(yaml.safe_dump(cfg))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["SLURM_JOB_ID"] = PUBLIC_RUN_NAME
    t0 = time.perf_counter()
    proc = subprocess.run(public_command(script, python), cwd=work, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    log_file = work / "data" / "public" / f"{PUBLIC_RUN_NAME}.txt"
    log = log_file.read_text() if log_file.is_file() else ""
    if proc.returncode != 0:
        tail = (proc.stderr.strip() or log.strip()).splitlines()[-5:]
        return {"wall_s": wall, "error": f"exit status {proc.returncode}: " + " / ".join(tail)}
    errors = parse_public_output(log)
    ns = sorted(errors["layerwise"])
    full = _public_full_precision(python, work / "data" / "public" / "3layer_results.pt", ns)
    return {"wall_s": wall, "n": ns, "errors": full or errors, "precision": "full" if full else "printed"}


def depthlab_errors(store: Path) -> dict[str, dict[int, list[float]]]:
    """test_mse of every stored trial per method (the sweep's name for it) and n, from a fresh store."""
    import sqlite3

    con = sqlite3.connect(store)
    rows = con.execute(
        "SELECT COALESCE(sc.method, c.method), c.n, m.trial, m.value FROM trial_metrics m "
        "JOIN cells c ON c.cell_key = m.cell_key LEFT JOIN sweep_cells sc ON sc.cell_key = c.cell_key "
        "WHERE m.metric = 'test_mse' ORDER BY 1, 2, 3").fetchall()
    con.close()
    out: dict[str, dict[int, list[float]]] = {}
    for method, n, _, value in rows:
        out.setdefault(method, {}).setdefault(int(n), []).append(float("nan") if value is None else float(value))
    return out


def _median(xs: list[float]) -> float:
    return float(np.median(xs)) if xs else float("nan")


def public_code_section(pairs: int = 2, overrides: tuple[str, ...] = PUBLIC_OVERRIDES,
                        env: dict[str, str] | None = None) -> dict[str, Any]:
    """The public code and ``depthlab run dandi2025-example --set ...`` on the same reduced configuration,
    alternated ``pairs`` times as (public, depthlab cold, depthlab warm), each a whole fresh process (section
    ``public_code``; a skipped entry where the public code is not installed)."""
    found = public_code_paths(env)
    if isinstance(found, str):
        return {"skipped": PUBLIC_SKIPPED, "reason": found}
    script, python = found
    cfg = public_config(script, overrides)
    preset = apply_overrides(get_preset(PUBLIC_PRESET), list(overrides))
    d = int(preset.ds[0])
    config = {"preset": PUBLIC_PRESET, "overrides": list(overrides), "d": d, "trials": int(preset.trials),
              "kappas": [round(float(k), 6) for k in preset.kappas], "n_depthlab": preset.ns(d),
              "n_public": public_ns(cfg, d), "public_yaml": cfg}
    config["same_n"] = config["n_depthlab"] == config["n_public"]
    runs: list[dict[str, Any]] = []
    public_res: dict[str, Any] = {}
    ours: dict[str, dict[int, list[float]]] = {}
    for _ in range(pairs):
        with tempfile.TemporaryDirectory() as tmp:
            res = _run_public(script, python, cfg, Path(tmp) / "public")
            if "error" in res:
                return {"config": config, "command": public_command(script, python), "error": res["error"]}
            public_res = public_res or res
            cache = Path(tmp) / "cache"  # empty: the cold run compiles everything, the warm one loads it
            cold = _run_sweep(PUBLIC_PRESET, Path(tmp) / "cold.sqlite", cache, overrides=overrides)
            warm = _run_sweep(PUBLIC_PRESET, Path(tmp) / "warm.sqlite", cache, overrides=overrides)
            ours = ours or depthlab_errors(Path(tmp) / "cold.sqlite")
        runs.append({"public_s": res["wall_s"], "cold_s": cold["wall_s"], "warm_s": warm["wall_s"],
                     "cold_compile_s": cold["compile_s"]})
    med = {k: _median([r[f"{k}_s"] for r in runs]) for k in ("public", "cold", "warm")}
    errors = {}
    for method in PUBLIC_LABELS.values():
        pub, mine = public_res["errors"].get(method, {}), ours.get(method, {})
        ns = sorted(set(pub) | set(mine))
        errors[method] = {"n": ns, "public_median": [pub.get(n, float("nan")) for n in ns],
                          "depthlab_median": [_median(mine.get(n, [])) for n in ns],
                          "depthlab_trials": [mine.get(n, []) for n in ns]}
    return {"config": config, "command": public_command(script, python), "cwd": "a fresh temporary folder",
            "env": {"SLURM_JOB_ID": PUBLIC_RUN_NAME}, "pairs": runs, "median_s": med,
            "public_over_cold": med["public"] / med["cold"], "public_over_warm": med["public"] / med["warm"],
            "public_n": public_res["n"], "public_precision": public_res["precision"], "errors": errors,
            "notes": list(PUBLIC_NOTES)}


def public_markdown(r: dict[str, Any]) -> list[str]:
    """The ``public_code`` section's lines of ``bench.md``."""
    head = "Public code (Dandi et al. 2025, IdePHICS/ComputationalDepth) vs depthlab"
    if "skipped" in r:
        return ["", f"{head}: {r['skipped']} ({r.get('reason', '')})"]
    c = r["config"]
    where = f"{c['preset']} " + " ".join(f"--set {o}" for o in c["overrides"])
    if "error" in r:
        return ["", f"{head} ({where}): the public code failed: {r['error']}"]
    n_line = (f"n = {c['n_depthlab']} for both" if c["same_n"] else
              f"n differ: depthlab {c['n_depthlab']}, public {c['n_public']}")
    lines = ["", f"{head}: {where} ({c['trials']} trials; {n_line}); public command `{' '.join(r['command'])}`",
             "", "| pair | public s | depthlab cold s | depthlab warm s |", "|---|---|---|---|"]
    for i, p in enumerate(r["pairs"], 1):
        lines.append(f"| {i} | {p['public_s']:.1f} | {p['cold_s']:.1f} | {p['warm_s']:.1f} |")
    m = r["median_s"]
    lines += [f"| median | {m['public']:.1f} | {m['cold']:.1f} | {m['warm']:.1f} |", "",
              f"public / depthlab cold: {r['public_over_cold']:.2f}x; public / depthlab warm: "
              f"{r['public_over_warm']:.2f}x", "",
              f"| method | n | public median test MSE ({r['public_precision']}) | depthlab median test MSE | "
              "depthlab - public |", "|---|---|---|---|---|"]
    for method, e in r["errors"].items():
        for n, pub, mine in zip(e["n"], e["public_median"], e["depthlab_median"], strict=True):
            lines.append(f"| {method} | {n} | {pub:.4f} | {mine:.4f} | {mine - pub:+.4f} |")
    lines += ["", "Differences a comparison must keep in mind:"] + [f"- {note}" for note in r.get("notes", [])]
    return lines


def scaling_section() -> dict[str, Any]:
    base = apply_overrides(get_preset("quick"), ["kappa_min=1.8", "num_kappa=4"])
    cells = [c for c in expand(base) if c.method == "layerwise"]
    ns, ts = [], []
    for c in cells:
        ns.append(c.n)
        ts.append(time_fit(c, 1)["run_s"])
    top = cells[-2]
    trials = [1, 2, 4]
    tt = [time_fit(top, k)["run_s"] for k in trials]
    return {
        "n": ns, "n_seconds": ts, "n_exponent": float(np.polyfit(np.log(ns), np.log(ts), 1)[0]),
        "trials": trials, "trials_n": top.n, "trials_seconds": tt,
        "trials_exponent": float(np.polyfit(np.log(trials), np.log(tt), 1)[0]),
    }


_RSS_CHILD = """
import dataclasses, json, sys
from depthlab.bench import peak_rss_mib, shortened
from depthlab.presets import get_preset
from depthlab.sweep.grid import expand
from depthlab.sweep.runner import run_cell
p = get_preset("dandi2025-example")
cell = next(c for c in expand(p) if c.method == sys.argv[1] and c.n == max(x.n for x in expand(p)))
cell = shortened(cell, 16) if cell.learner.kind != "kernel" else cell
cell = dataclasses.replace(cell, record=int(sys.argv[2]) if len(sys.argv) > 2 else 0)
before = peak_rss_mib()
res = run_cell(cell, list(range(p.trials)))
chunk = cell.block()
print(json.dumps({"status": res.status, "message": res.message, "chunk": chunk,
                  "estimate_mib": chunk * cell.learner.memory_bytes(cell.d, cell.n) / 2**20,
                  "baseline_mib": before, "maxrss_mib": peak_rss_mib()}))
"""


def peak_rss_mib() -> float:
    """Peak resident set size of this process (VmHWM; unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
    raise OSError("VmHWM not available")


def memory_section(record: int = 40) -> list[dict[str, Any]]:
    """Peak RSS of the largest cells of ``dandi2025-example`` (fresh process each), and of its layer-wise and
    joint cells recording ``record`` points along training (the public code keeps every weight snapshot there)."""
    rows = []
    runs = [(m, 0) for m in ("layerwise", "joint", "two_layer", "kernel")] + [(m, record) for m in ("layerwise",
                                                                                                   "joint")]
    for method, rec in runs:
        out = subprocess.run([sys.executable, "-c", _RSS_CHILD, method, str(rec)], check=True, capture_output=True,
                             text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        name = method + (f" recording {rec} steps" if rec else "")
        rows.append({"method": name, **r, "arrays_mib": r["maxrss_mib"] - r["baseline_mib"]})
    return rows


def precision_section() -> dict[str, Any]:
    quick = get_preset("quick")
    out: dict[str, Any] = {}
    for prec in ("float32", "float64"):
        p = apply_overrides(quick, [f"precision={prec}"])
        cell = next(c for c in expand(p) if c.method == "layerwise" and c.n == max(x.n for x in expand(p)))
        res = run_cell(cell, list(range(quick.trials)))
        errs = np.array([r["test_mse"] for r in res.rows], dtype=float)
        out[prec] = {"run_s": res.timings["run_s"], "test_mse": errs.tolist(), "median": float(np.median(errs)),
                     "iqr": float(np.subtract(*np.percentile(errs, [75, 25])))}
    jax.config.update("jax_enable_x64", False)
    d32, d64 = out["float32"], out["float64"]
    out["speed_ratio_64_over_32"] = d64["run_s"] / d32["run_s"]
    diff = d64["median"] - d32["median"]
    out["median_difference"] = diff
    out["within_noise"] = abs(diff) <= max(d32["iqr"], d64["iqr"])
    return out


def recording_section(steps: int = 40) -> list[dict[str, Any]]:
    """Overhead of recording ``steps`` points along training: quick's largest cell of each learner that records,
    with and without recording (same cell otherwise; run time of the compiled programs, best of three runs
    alternated)."""
    from dataclasses import replace

    quick = get_preset("quick")
    cells = [c for c in expand(quick) if c.n == max(x.n for x in expand(quick)) and
             "trajectory" in c.learner.capabilities]
    trials = list(range(quick.trials))
    out = []
    for c in cells:
        times: dict[int, list[float]] = {0: [], steps: []}
        stored = 0
        for _ in range(3):  # alternated, best of three each: a load that comes and goes biases neither side
            for rec in (0, steps):
                res = run_cell(replace(c, record=rec), trials)
                times[rec].append(res.timings["run_s"])
                if rec:
                    stored = len(res.rows[0].get("trajectory", ()))
        out.append({"method": c.method, "kind": c.learner.kind, "d": c.d, "n": c.n, "trials": quick.trials,
                    "steps": steps, "points": len(replace(c, record=steps).schedule()), "plain_s": min(times[0]),
                    "recorded_s": min(times[steps]), "ratio": min(times[steps]) / min(times[0]),
                    "numbers_per_trial": stored})
    return out


def markdown(report: dict[str, Any]) -> str:
    peak32, peak64 = report["gemm_fp32_gflops"], report["gemm_fp64_gflops"]
    state = " so far (partial: the bench is still running or was stopped)" if report.get("partial") else ""
    lines = [f"Machine: {report['cpu']} ({os.cpu_count()} cores), JAX {report['jax']}, suite {report['suite_s']:.0f} s"
             + state,
             "", "| GEMM n | " + " | ".join(str(n) for n in peak32) + " |", "|---|" + "---|" * len(peak32),
             "| fp32 GFLOP/s | " + " | ".join(f"{v:.0f}" for v in peak32.values()) + " |",
             "| fp64 GFLOP/s | " + " | ".join(f"{v:.0f}" for v in peak64.values()) + " |", "",
             "| learner | scale | d | n | trials | steps | compile s | run s | GFLOP | GFLOP/s | of fp32 peak |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report.get("learners", []):
        lines.append(f"| {r['method']} | {r['scale']} | {r['d']} | {r['n']} | {r['trials']} | {r['steps']} | "
                     f"{r['compile_s']:.2f} | {r['run_s']:.2f} | {r['gflop']:.0f} | {r['gflops']:.0f} | "
                     f"{100 * r['of_peak']:.0f}% |")
    e = report.get("end_to_end")
    if e:
        lines += ["", "| quick end to end | wall s | cells | s/cell | compiled numerics s | compile wait s | "
                  "compile wait / wall | programs compiled s | outside compiled |", "|---|" + "---|" * 8]
        for k, v in e.items():
            lines.append(f"| {k} cache | {v['wall_s']:.1f} | {v['cells']} | {v['per_cell_s']:.2f} | {v['run_s']:.1f} | "
                         f"{v['compile_wait_s']:.1f} | {100 * v.get('compile_wait_share', 0):.0f}% | "
                         f"{v.get('compile_s', 0):.1f} | {100 * v['outside_compiled']:.0f}% |")
        cold = e.get("cold", {})
        if cold.get("fit_compile_s"):
            lines += ["", "| quick, empty cache: compile per program | programs | total s | median s |",
                      "|---|---|---|---|",
                      f"| data (instance + chunk, per d) | - | {cold['data_compile_s']:.1f} | - |"]
            for kind, v in cold["fit_compile_s"].items():
                lines.append(f"| {kind} training (+ its evaluation) | {v['programs']} | {v['total_s']:.1f} | "
                             f"{v['median_s']:.2f} |")
            ev = cold.get("eval_compile_s")
            if ev:
                lines.append(f"| of which evaluation (shared across n) | {ev['programs']} | {ev['total_s']:.1f} | "
                             f"{ev['median_s']:.2f} |")
        if "warm" in e and "cold" in e:
            lines += ["", f"quick cold / warm wall time: {e['cold']['wall_s'] / e['warm']['wall_s']:.2f}x"]
    cs = report.get("cold_start")
    if cs:
        lines += ["", "| preset | cold wall s | warm wall s | cold / warm | programs compiled s | "
                  "compile wait / cold wall |", "|---|---|---|---|---|---|"]
        for name, v in cs.items():
            if "error" in v:
                lines.append(f"| {name} | {v['error']} | | | | |")
                continue
            lines.append(f"| {name} | {v['cold']['wall_s']:.1f} | {v['warm']['wall_s']:.1f} | "
                         f"{v['cold_over_warm']:.2f}x | {v['cold']['compile_s']:.1f} | "
                         f"{100 * v['cold']['compile_wait_share']:.0f}% |")
    ov = report.get("overlap")
    if ov:
        bg = ov["background"]
        lines += ["", f"Background compilation ({ov['preset']}, cold, {ov['cores']} cores): "
                  f"{bg['wall_s']:.1f} s with it (compile wait {bg['compile_wait_s']:.1f} s), "
                  f"{ov['no_overlap']['wall_s']:.1f} s compiling each cell's programs when it starts "
                  f"(wait {ov['no_overlap']['compile_wait_s']:.1f} s): ratio {ov['background_over_no_overlap']:.2f}"]
    ps = report.get("paper_sweep")
    if ps:
        lines += ["", f"Paper-scale sweep ({ps['preset']} " + " ".join(f"--set {o}" for o in ps["overrides"])
                  + f"): learners {ps['gflop'] / 1e3:.1f} TFLOP, FLOP floor {ps['floor_s']:.0f} s at the fp32 "
                  f"GEMM peak; cold {ps['cold']['wall_s']:.0f} s ({ps['cold_over_floor']:.2f}x the floor, "
                  f"programs compiled {ps['cold']['compile_s']:.0f} s), warm {ps['warm']['wall_s']:.0f} s "
                  f"({ps['warm_over_floor']:.2f}x)"]
    s = report.get("scaling")
    if s:
        lines += ["", f"Scaling (layer-wise, d=32): time vs n {s['n']} -> "
                  + ", ".join(f"{t:.2f}" for t in s["n_seconds"]) + f" s, exponent {s['n_exponent']:.2f}; "
                  f"vs trials {s['trials']} at n={s['trials_n']} -> "
                  + ", ".join(f"{t:.2f}" for t in s["trials_seconds"]) + f" s, exponent {s['trials_exponent']:.2f}"]
    m = report.get("memory")
    if m:
        lines += ["", "| dandi2025-example largest cell (10 trials) | trials per batch | estimate MiB | peak RSS MiB | "
                  "RSS above start MiB | ratio to estimate |", "|---|---|---|---|---|---|"]
        for r in m:
            lines.append(f"| {r['method']} | {r['chunk']} | {r['estimate_mib']:.0f} | {r['maxrss_mib']:.0f} | "
                         f"{r['arrays_mib']:.0f} | {r['arrays_mib'] / max(r['estimate_mib'], 1):.2f} |")
    p = report.get("precision")
    if p:
        lines += ["", f"float64 / float32 (quick, layer-wise, n=4095): time x{p['speed_ratio_64_over_32']:.2f}; "
                  f"median test MSE {p['float32']['median']:.4f} vs {p['float64']['median']:.4f} "
                  f"(difference {p['median_difference']:+.4f}, IQR {p['float32']['iqr']:.4f}; "
                  f"{'within' if p['within_noise'] else 'NOT within'} trial noise)"]
    rec = report.get("recording")
    if rec:
        lines += ["", "| recording along training (quick, largest n) | points | run s without | run s with | "
                  "with / without | numbers stored per trial |", "|---|---|---|---|---|---|"]
        for r in rec:
            lines.append(f"| {r['method']} d={r['d']} n={r['n']} ({r['trials']} trials) | {r['points']} | "
                         f"{r['plain_s']:.2f} | {r['recorded_s']:.2f} | {r['ratio']:.2f}x | {r['numbers_per_trial']} |")
    if "public_code" in report:
        lines += public_markdown(report["public_code"])
    lines += targets_markdown(targets(report))
    return "\n".join(lines) + "\n"


# ---- the cold-start targets, judged from whatever sections this run measured ---------------------------------
COLD_OVER_WARM_MAX = 1.25  # cold `quick` (empty compilation cache) within 1.25x of warm `quick`
COMPILE_WAIT_MAX = 0.15  # compile wait <= 15% of a cold sweep's wall time, for every quick preset
PUBLIC_COLD_MIN, PUBLIC_WARM_MIN = 2.0, 4.0  # depthlab cold >= 2x, warm >= 4x faster than the public code
PAPER_PEAK_MIN = 0.70  # paper-scale learner rows >= 70% of the measured fp32 GEMM peak
PAPER_FLOOR_MAX = 1.25  # a whole paper-scale sweep cold within 1.25x of its FLOP floor


def _target(name: str, goal: str, measured: str, met: bool | None, reason: str = "") -> dict[str, Any]:
    return {"target": name, "goal": goal, "measured": measured, "met": met, "reason": "" if met else reason}


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The cold-start targets against this report's measurements: one row per target with the measured value,
    ``met`` (None where this run did not measure it: its section was not run or was skipped) and, where one is
    not met, the measured reason (where the time went, from the same run)."""
    rows: list[dict[str, Any]] = []
    e = report.get("end_to_end") or {}
    if "cold" in e and "warm" in e:
        cold, warm = e["cold"], e["warm"]
        ratio = cold["wall_s"] / warm["wall_s"]
        rows.append(_target("quick cold / warm", f"<= {COLD_OVER_WARM_MAX}x", f"{ratio:.2f}x "
                            f"({cold['wall_s']:.1f} / {warm['wall_s']:.1f} s)", ratio <= COLD_OVER_WARM_MAX,
                            f"the cold run compiled {cold['compile_s']:.1f} s of programs (one compiler thread "
                            f"beside numerics on {os.cpu_count()} cores) and waited {cold['compile_wait_s']:.1f} s; "
                            f"cold - warm = {cold['wall_s'] - warm['wall_s']:.1f} s"))
    else:
        rows.append(_target("quick cold / warm", f"<= {COLD_OVER_WARM_MAX}x", "not measured (section end_to_end)",
                            None))
    sweeps = {name: v["cold"] for name, v in (report.get("cold_start") or {}).items() if "cold" in v}
    if "cold" in e:
        sweeps.setdefault("quick", e["cold"])
    if sweeps:
        over = {k: v for k, v in sweeps.items() if v["compile_wait_share"] > COMPILE_WAIT_MAX}
        worst = max(sweeps, key=lambda k: sweeps[k]["compile_wait_share"])
        reason = "; ".join(f"{k} {100 * v['compile_wait_share']:.0f}% (numerics {v['run_s']:.1f} s, programs "
                           f"compiled {v['compile_s']:.1f} s, wall {v['wall_s']:.1f} s)"
                           for k, v in sorted(over.items(), key=lambda kv: -kv[1]["compile_wait_share"]))
        rows.append(_target("compile wait / cold wall, every quick preset", f"<= {100 * COMPILE_WAIT_MAX:.0f}%",
                            f"{len(sweeps) - len(over)} of {len(sweeps)} presets within; worst {worst} "
                            f"{100 * sweeps[worst]['compile_wait_share']:.0f}%", not over,
                            "over: " + reason + " -- the sweep's numerics are shorter than compiling its programs"))
    else:
        rows.append(_target("compile wait / cold wall, every quick preset", f"<= {100 * COMPILE_WAIT_MAX:.0f}%",
                            "not measured (sections end_to_end, cold_start)", None))
    pc = report.get("public_code") or {}
    if "median_s" in pc:
        m = pc["median_s"]
        comp = _median([r["cold_compile_s"] for r in pc["pairs"]])
        for label, key, goal in (("cold", "public_over_cold", PUBLIC_COLD_MIN),
                                 ("warm", "public_over_warm", PUBLIC_WARM_MIN)):
            why = (f"depthlab cold {m['cold']:.1f} s of which {comp:.1f} s of programs compiled" if label == "cold"
                   else f"depthlab warm {m['warm']:.1f} s against the public code's {m['public']:.1f} s")
            rows.append(_target(f"public code / depthlab {label}", f">= {goal}x", f"{pc[key]:.2f}x",
                                pc[key] >= goal, why))
    else:
        for label, goal in (("cold", PUBLIC_COLD_MIN), ("warm", PUBLIC_WARM_MIN)):
            rows.append(_target(f"public code / depthlab {label}", f">= {goal}x",
                                "not measured (" + pc.get("skipped", "section public_code") + ")", None))
    paper = [r for r in report.get("learners", []) if r["scale"] == "paper"]
    if paper:
        low = min(paper, key=lambda r: r["of_peak"])
        under = [r for r in paper if r["of_peak"] < PAPER_PEAK_MIN]
        rows.append(_target("paper-scale learners, fraction of fp32 GEMM peak", f">= {100 * PAPER_PEAK_MIN:.0f}%",
                            f"lowest {low['method']} {100 * low['of_peak']:.0f}%", not under,
                            "under: " + ", ".join(f"{r['method']} {r['gflops']:.0f} GFLOP/s "
                                                  f"({100 * r['of_peak']:.0f}%)" for r in under)
                            + f" against the square-GEMM peak {report['peak_fp32']:.0f} GFLOP/s"))
    else:
        rows.append(_target("paper-scale learners, fraction of fp32 GEMM peak", f">= {100 * PAPER_PEAK_MIN:.0f}%",
                            "not measured (section learners)", None))
    ps = report.get("paper_sweep")
    if ps:
        rows.append(_target("paper-scale sweep cold / FLOP floor", f"<= {PAPER_FLOOR_MAX}x",
                            f"{ps['cold_over_floor']:.2f}x", ps["cold_over_floor"] <= PAPER_FLOOR_MAX,
                            f"cold {ps['cold']['wall_s']:.0f} s ({ps['cold']['compile_s']:.0f} s of programs "
                            f"compiled), warm {ps['warm']['wall_s']:.0f} s = {ps['warm_over_floor']:.2f}x the "
                            f"floor of {ps['floor_s']:.0f} s"))
    else:
        rows.append(_target("paper-scale sweep cold / FLOP floor", f"<= {PAPER_FLOOR_MAX}x",
                            "not measured (section paper_sweep)", None))
    return rows


def targets_markdown(rows: list[dict[str, Any]]) -> list[str]:
    verdict = {True: "met", False: "NOT met", None: "-"}
    lines = ["", "| cold-start target | goal | measured | verdict | measured reason |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['target']} | {r['goal']} | {r['measured']} | {verdict[r['met']]} | {r['reason']} |")
    return lines


SECTIONS = ("all", "learners", "precision", "scaling", "memory", "recording", "end_to_end")
BY_NAME = ("cold_start", "public_code", "paper_sweep", "overlap")  # long: never part of "all"


def main(out_dir: Path = Path("benchmarks/results"), sections: tuple[str, ...] = ("all",),
         presets: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run the named sections (``SECTIONS``, ``BY_NAME``); ``presets`` limits ``cold_start`` to those."""
    unknown = [s for s in sections if s not in SECTIONS + BY_NAME]
    if unknown:
        raise ValueError(f"unknown bench section {unknown[0]!r}; known: {', '.join(SECTIONS + BY_NAME)}")
    from depthlab.presets import preset_names

    bad = [p for p in presets if p not in preset_names()]
    if bad:
        raise ValueError(f"unknown preset {bad[0]!r} (depthlab presets lists them)")
    t0 = time.perf_counter()

    def want(s: str) -> bool:
        return "all" in sections or s in sections

    peak32 = gemm_peak(jnp.float32)
    jax.config.update("jax_enable_x64", True)
    peak64 = gemm_peak(jnp.float64)
    jax.config.update("jax_enable_x64", False)
    peak = max(peak32.values())
    report: dict[str, Any] = {"cpu": cpu_model(), "jax": jax.__version__, "gemm_fp32_gflops": peak32,
                              "gemm_fp64_gflops": peak64, "peak_fp32": peak}
    if want("learners"):
        report["learners"] = learner_section(peak)
    if want("precision"):
        report["precision"] = precision_section()
    if want("scaling"):
        report["scaling"] = scaling_section()
    if want("memory"):
        report["memory"] = memory_section()
    if want("recording"):
        report["recording"] = recording_section()
    if want("end_to_end"):
        report["end_to_end"] = end_to_end_section()
    def save(partial: bool) -> None:  # after every section (and every cold_start preset): a stopped bench keeps
        report["suite_s"] = time.perf_counter() - t0  # what it measured
        report["partial"] = partial
        report["targets"] = targets(report)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "bench.json").write_text(json.dumps(report, indent=1))
        (out_dir / "bench.md").write_text(markdown(report))

    if "cold_start" in sections:  # every quick preset cold and warm: long, only when asked for by name
        def one_more(done: dict[str, dict[str, Any]]) -> None:
            report["cold_start"] = done
            save(partial=True)

        report["cold_start"] = cold_start_section(presets, one_more)  # saved after every preset
    if "public_code" in sections:  # the public research code side by side: only by name, only where installed
        report["public_code"] = public_code_section()
        save(partial=True)
    if "overlap" in sections:  # background compilation against none, cold
        report["overlap"] = overlap_section()
        save(partial=True)
    if "paper_sweep" in sections:  # a whole paper-scale sweep cold and warm against its FLOP floor
        report["paper_sweep"] = paper_sweep_section(peak)
    save(partial=False)
    # keyed by learner kind, never by a method's name (a label)
    paper = {r["kind"]: r["gflops"] for r in report.get("learners", []) if r["scale"] == "paper"}
    if paper:
        THROUGHPUT_FILE.parent.mkdir(parents=True, exist_ok=True)
        THROUGHPUT_FILE.write_text(json.dumps({"gflops": paper, "cpu": report["cpu"], "measured": time.time()}))
    return report


# Compile seconds projected where the store has no measurement: measured on ``quick`` (2-core AMD EPYC, JAX
# 0.10.2, empty compilation cache): a 3-layer training program 4-4.5 s, 2-layer 3.3 s, kernel 0.6 s; the two data
# programs of a d together 3.5 s.
DEFAULT_COMPILE_S: dict[str, float] = {"layerwise": 4.5, "joint": 4.5, "two_layer": 3.3, "kernel": 0.6, "data": 3.5}
DEFAULT_FIT_COMPILE_S = 3.0  # a learner kind without a default above
MIN_MEASURED_COMPILE_S = 0.5  # shorter records are programs loaded from the compilation cache, not compiled


def measured_compile_seconds(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Median compile seconds per learner kind (and ``data``) over the store's run rows that recorded them
    (``provenance_json``: ``compile_seconds`` and ``learner_kind``, written by ``runner.run_cell``); records
    under ``MIN_MEASURED_COMPILE_S`` are cache loads and left out."""
    seen: dict[str, list[float]] = {}
    for r in runs:
        try:
            prov = json.loads(r.get("provenance_json") or "{}")
            secs, kind = prov.get("compile_seconds") or {}, prov.get("learner_kind")
            for name, v in (("data", secs.get("data")), (kind, secs.get("fit"))):
                if isinstance(name, str) and isinstance(v, int | float) and v >= MIN_MEASURED_COMPILE_S:
                    seen.setdefault(name, []).append(float(v))
        except (ValueError, TypeError, AttributeError):
            continue
    return {k: float(np.median(v)) for k, v in seen.items()}


def projected_compile_seconds(cells: list[Cell], measured: dict[str, float] | None = None) -> list[float]:
    """Compile seconds each cell adds when run from an empty compilation cache: its training program (the
    store's median for its learner kind, else ``DEFAULT_COMPILE_S``), plus the data programs for the first
    cell of each (target, test size, block) (they are shared by every method and n of a d)."""
    rates = {**DEFAULT_COMPILE_S, **(measured or {})}
    out, data_seen = [], set()
    for c in cells:
        secs = rates.get(c.learner.kind, DEFAULT_FIT_COMPILE_S)
        data_key = (c.target.model_dump_json(), c.n_test, c.precision, c.block())
        if data_key not in data_seen:
            data_seen.add(data_key)
            secs += rates["data"]
        out.append(secs)
    return out


def load_throughput() -> dict[str, float] | None:
    """Per-learner-kind GFLOP/s measured by the last ``depthlab bench`` on this machine, if any."""
    try:
        data = json.loads(THROUGHPUT_FILE.read_text())
        return {k: float(v) for k, v in data["gflops"].items() if v > 0 and math.isfinite(v)}
    except (OSError, ValueError, KeyError, TypeError):
        return None


if __name__ == "__main__":  # pragma: no cover
    print(markdown(main()))
