"""Benchmark suite (``make bench`` / ``python -m benchmarks.run``): machine GEMM peak and learner throughput.

Reports, as a markdown table and JSON under benchmarks/results/:
1. the measured jitted fp32 / fp64 GEMM throughput of this machine (GFLOP/s);
2. for every learner of the ``quick`` preset at its largest cell: compile time, run time of one batch of
   trials, FLOPs counted from the shapes (``LearnerSpec.flops``), achieved GFLOP/s and fraction of the fp32 peak.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from depthlab.presets import get_preset
from depthlab.sweep.grid import expand
from depthlab.sweep.runner import run_cell

OUT = Path(__file__).parent / "results"


def gemm_peak(dtype: jnp.dtype, sizes: tuple[int, ...] = (1024, 2048), reps: int = 5) -> dict[int, float]:
    out = {}
    for n in sizes:
        a = jnp.ones((n, n), dtype)
        f = jax.jit(lambda x: x @ x)
        f(a).block_until_ready()
        t = time.perf_counter()
        for _ in range(reps):
            r = f(a)
        r.block_until_ready()
        out[n] = 2 * n**3 * reps / (time.perf_counter() - t) / 1e9
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    OUT.mkdir(exist_ok=True)
    peak32 = gemm_peak(jnp.float32)
    jax.config.update("jax_enable_x64", True)
    peak64 = gemm_peak(jnp.float64)
    jax.config.update("jax_enable_x64", False)
    peak = max(peak32.values())
    preset = get_preset("quick")
    cells = [c for c in expand(preset) if c.n == max(c.n for c in expand(preset))]
    rows = []
    for c in cells:
        res = run_cell(c, list(range(preset.trials)))
        flops = preset.trials * c.learner.flops(c.d, c.n)
        gflops = flops / res.timings["run_s"] / 1e9
        rows.append(
            {
                "method": c.method,
                "d": c.d,
                "n": c.n,
                "trials": preset.trials,
                "compile_s": round(res.timings["compile_s"], 2),
                "run_s": round(res.timings["run_s"], 2),
                "gflop": round(flops / 1e9, 1),
                "gflops": round(gflops, 1),
                "fraction_of_peak": round(gflops / peak, 3),
            }
        )
    report = {
        "cpu": cpu_name(),
        "jax": jax.__version__,
        "gemm_fp32_gflops": peak32,
        "gemm_fp64_gflops": peak64,
        "learners": rows,
    }
    (OUT / "bench.json").write_text(json.dumps(report, indent=1))
    lines = [
        f"Machine: {report['cpu']}, JAX {jax.__version__}",
        "",
        "| GEMM | " + " | ".join(f"n={n}" for n in peak32) + " |",
        "|---|" + "---|" * len(peak32),
        "| fp32 GFLOP/s | " + " | ".join(f"{v:.0f}" for v in peak32.values()) + " |",
        "| fp64 GFLOP/s | " + " | ".join(f"{v:.0f}" for v in peak64.values()) + " |",
        "",
        "| learner (quick, largest cell) | d | n | trials | compile s | run s | GFLOP | GFLOP/s | of fp32 peak |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['method']} | {r['d']} | {r['n']} | {r['trials']} | {r['compile_s']} | {r['run_s']} | "
        f"{r['gflop']} | {r['gflops']} | {100 * r['fraction_of_peak']:.0f}% |"
        for r in rows
    ]
    text = "\n".join(lines) + "\n"
    (OUT / "bench.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
