"""Run one cell: jit(vmap over trials) of (draw target -> sample data), of (fit -> parameters) and of
(parameters -> metrics).

Compiled programs, all vmapped over a block of trials: two data programs that depend only on the target
(hence d), the test size and the block, so every method and every n of a d reuses them (the instance and
test-set program, and the program drawing one chunk of training samples); one fit program per cell holding
the learner's whole training run (lax loops, no host round-trips), with the metrics that read the training
batch and the values recorded along training; and one evaluation program computing the other metrics from
the fitted parameters and the test set, which depends on the parameters' shapes, not on n, so the cells of
a learning curve share it (a separate program cost ~25% less compilation per cell than metrics inside each
fit program: ``eval_function``). Programs are compiled ahead of
time in a background thread (``prefetch``) so that compiling the next cell overlaps running the current one.
``run_cell(..., foreground=True)`` (``depthlab debug``) instead traces and compiles in the calling thread, so
that a debugger stops in the traced code and ``jax.disable_jit()`` takes effect (then each trial runs eagerly
on its own, with concrete values, and may differ from the compiled numbers in the last bits).

Failures: a cell that raised is ``status="failed"`` with ``message`` = the one-line summary ("TypeError: msg")
followed by the traceback, formatted where the exception happened (on the Dask worker for Dask runs).

Reproducibility: trials run in fixed blocks of ``Cell.block()`` trials (``trial_block``, default 2): trial t
is always computed in block t // B, together with the same block-mates, by the same compiled program. XLA's
CPU kernels tile and reduce differently for different batch shapes (a trial vmapped with one other trial
differed in the last float32 bit from the same trial alone on an AMD EPYC), so sizing batches by the number
of trials asked for would make a trial's numbers depend on it; fixed blocks make them bit-identical whatever
the trial count, resume point or executor (same machine type, JAX version and memory budget).

Randomness (common random numbers, nested data): trial t with seed s at dimension d uses
    k = fold_in(fold_in(PRNGKey(s), d), t);  (k_target, k_train, k_test) = split(k, 3)
    instance = target.draw(k_target);  test set = target.sample(instance, k_test, n_test)
    training sample i = sample i mod C of chunk c = i div C,  chunk c = target.sample(instance, fold_in(k_train, c), C)
with C = ``TRAIN_CHUNK`` samples per chunk. So a cell at n trains on the first n samples of one stream per
(d, trial): the cells of a learning curve are nested (n < n' sees a subset of n'), share one target instance
and one test set, whatever the method, and the draw is the same whatever the sweep's largest n (a cell's
numbers depend on n, not on the grid around it, so cells stay shareable between sweeps with different
grids). Each chunk is drawn by the one compiled chunk program (the chunk index is an argument, not a
shape), so sample i has the same bits in every cell. The learner's key is
fold_in(k, crc32(canonical JSON of the resolved learner config)): across n it is the same wherever the
resolved configuration is. A method's display name plays no part: same configuration + seed -> same
numbers, whatever the method is called.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
import zlib
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from depthlab import metrics
from depthlab.learners.base import LearnerSpec
from depthlab.provenance import environment, now
from depthlab.sweep.grid import Cell, compile_threads
from depthlab.targets.base import TargetSpec


@dataclass
class CellResult:
    cell: Cell
    rows: list[dict[str, Any]]  # one per trial: trial, status, metric values (None if not finite)
    status: str  # "ok" | "failed"
    message: str = ""  # failed: "TypeError: msg", then the traceback (``failure_message``)
    timings: dict[str, float] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)  # where and when it ran (``provenance.py``)


TRAJECTORY_KEY = "trajectory"  # a trial row's recorded values: [(step, stage, metric, value), ...]


def trajectory_rows(schedule: tuple[tuple[int, str], ...], values: dict[str, np.ndarray]
                    ) -> list[tuple[int, str, str, float | None]]:
    """One trial's recorded values as (step, stage, metric, value) rows, in schedule order; a value that is not
    finite (a diverged run) is None."""
    out: list[tuple[int, str, str, float | None]] = []
    for name, series in sorted(values.items()):
        if len(series) != len(schedule):
            raise ValueError(f"{name}: {len(series)} recorded values for {len(schedule)} recording points")
        for (step, stage), v in zip(schedule, series, strict=True):
            out.append((step, stage, name, float(v) if np.isfinite(v) else None))
    return out


def failure_message(e: BaseException) -> str:
    """"TypeError: msg" on the first line (a one-line summary, also for multi-line messages), then the
    formatted traceback of ``e``."""
    summary = f"{type(e).__name__}: {e}".strip().splitlines()[0]
    return summary + "\n" + "".join(traceback.format_exception(e)).rstrip("\n")


def summary_line(message: str | None) -> str:
    """The first line of a stored failure message: the one-line summary without the traceback."""
    return (message or "").split("\n", 1)[0]


def jit_disabled() -> bool:
    """Whether ``jax.disable_jit()`` (or ``JAX_DISABLE_JIT=1``) is in effect in this thread."""
    return bool(getattr(jax.config, "jax_disable_jit", False))


_CACHE_WARNED: set[str] = set()


def enable_compilation_cache(path: str | os.PathLike[str] | None = None) -> Path | None:
    """Persist compiled programs across processes (a second run of the same preset compiles nothing).

    The cache is an optimisation: where its folder cannot be created or written (a read-only HOME,
    ``$DEPTHLAB_JAX_CACHE`` naming a file or a path under one) this warns once on stderr, runs without it
    and returns None."""
    try:
        cache = Path(path or os.environ.get("DEPTHLAB_JAX_CACHE") or Path.home() / ".cache" / "depthlab" / "jax")
        cache.mkdir(parents=True, exist_ok=True)
        if not os.access(cache, os.W_OK | os.X_OK):
            raise PermissionError(f"{cache} is not writable")
    except (OSError, RuntimeError) as e:
        where = str(path or os.environ.get("DEPTHLAB_JAX_CACHE") or "~/.cache/depthlab/jax")
        if where not in _CACHE_WARNED:
            _CACHE_WARNED.add(where)
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            sys.stderr.write(f"warning: JAX compilation cache {where} is unusable ({reason}); running without "
                             "it (set DEPTHLAB_JAX_CACHE to a writable folder to keep compiled programs)\n")
        return None
    jax.config.update("jax_compilation_cache_dir", str(cache))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return cache


TRAIN_CHUNK = 1024  # training samples per drawn chunk (module docstring: part of what a cell's numbers are)


def trial_base_key(seed: Array | int, d: int, trial: Array | int) -> Array:
    """fold_in(fold_in(PRNGKey(seed), d), trial): the key of trial ``trial`` at dimension d, for every n."""
    key = jax.random.PRNGKey(seed)
    return jax.random.fold_in(jax.random.fold_in(key, d), trial)


def learner_salt(learner: LearnerSpec) -> int:
    """The learner's key offset: a function of its resolved configuration only (not of the method's name)."""
    blob = json.dumps(learner.identity(), sort_keys=True, separators=(",", ":"))
    return zlib.crc32(blob.encode()) & 0x7FFFFFFF


def num_chunks(n: int) -> int:
    """Chunks of ``TRAIN_CHUNK`` samples that hold the first n training samples."""
    return -(-n // TRAIN_CHUNK)


def trial_instance(target: TargetSpec, seed: Array | int, trial: Array | int) -> Any:
    """The target instance of trial ``trial`` at the target's d: ``target.draw(k_target)`` as every cell of
    that (d, trial) draws it (module docstring), e.g. to compute that instance's own reference levels."""
    k_target, _, _ = jax.random.split(trial_base_key(seed, target.d, trial), 3)
    return target.draw(k_target)


def instance_function(cell: Cell) -> Callable[[Array, Array], tuple[Any, Any]]:
    """(seed, trial) -> (target instance, test batch): one per (d, trial), shared by every method and n."""
    target, n_test = cell.target, cell.n_test

    def draw(seed: Array, trial: Array) -> tuple[Any, Any]:
        inst = trial_instance(target, seed, trial)
        _, _, k_test = jax.random.split(trial_base_key(seed, target.d, trial), 3)
        return inst, target.sample(inst, k_test, n_test)

    return draw


def chunk_function(cell: Cell) -> Callable[[Array, Array, Any, Array], Any]:
    """(seed, trial, instance, chunk index c) -> training samples [c C, (c + 1) C) of the trial's stream."""
    target, d = cell.target, cell.d

    def draw(seed: Array, trial: Array, inst: Any, chunk: Array) -> Any:
        _, k_train, _ = jax.random.split(trial_base_key(seed, d, trial), 3)
        return target.sample(inst, jax.random.fold_in(k_train, chunk), TRAIN_CHUNK)

    return draw


def first_samples(chunks: list[Any], n: int, axis: int) -> Any:
    """The first n samples of consecutive chunks (sample axis ``axis``), concatenated on the host (NumPy: no
    program to compile per n)."""
    leaves = [jax.tree.leaves(c) for c in chunks]
    treedef = jax.tree.structure(chunks[0])
    out = []
    for parts in zip(*leaves, strict=True):
        whole = np.concatenate([np.asarray(a) for a in parts], axis=axis)
        out.append(whole[(slice(None),) * axis + (slice(0, n),)])
    return jax.tree.unflatten(treedef, out)


class DataProgram:
    """A cell's data: (seed, trials) -> (instance, first n training samples, test set), each of a block of
    trials, from the compiled instance program and the compiled chunk program (shared across n)."""

    def __init__(self, inst_prog: Any, chunk_prog: Any, n: int) -> None:
        self.inst_prog, self.chunk_prog, self.n = inst_prog, chunk_prog, n

    def __call__(self, seed: Array, trials: Array) -> tuple[Any, Any, Any]:
        inst, test = self.inst_prog(seed, trials)
        chunks = [self.chunk_prog(seed, trials, inst, jnp.asarray(c, jnp.uint32)) for c in range(num_chunks(self.n))]
        return inst, first_samples(chunks, self.n, axis=1), test


def data_function(cell: Cell) -> Callable[[Array, Array], tuple[Any, Any, Any]]:
    """(seed, trial) -> (target instance, train batch of the cell's n, test batch), for one trial, unbatched
    (the eager path and shapes; compiled cells use ``DataProgram``, which gives the same samples)."""
    draw_inst, draw_chunk, n = instance_function(cell), chunk_function(cell), cell.n

    def draw(seed: Array, trial: Array) -> tuple[Any, Any, Any]:
        inst, test = draw_inst(seed, trial)
        chunks = [draw_chunk(seed, trial, inst, jnp.asarray(c, jnp.uint32)) for c in range(num_chunks(n))]
        train = jax.tree.map(lambda *a: jnp.concatenate(a, axis=0)[:n], *chunks)
        return inst, train, test

    return draw


def fit_function(cell: Cell) -> Callable[..., tuple[Any, dict[str, Array]]]:
    """(seed, trial, instance, train, test) -> (fitted parameters, the metrics that read the training batch
    and the values recorded along training) of one trial; pure, vmapped and jitted (one program per cell)."""
    target, learner, salt = cell.target, cell.learner, learner_salt(cell.learner)

    count = cell.record_count

    def fit(seed: Array, trial: Array, inst: Any, train: Any, test: Any) -> tuple[Any, dict[str, Array]]:
        key = jax.random.fold_in(trial_base_key(seed, cell.d, trial), salt)
        if not count:
            params = learner.fit_task(key, target, inst, train)
            return params, metrics.evaluate(target, inst, learner, params, train, test, part="train")

        def probe(p: Any) -> dict[str, Array]:
            return metrics.evaluate_along(target, inst, learner, p, train, test)

        params, values = learner.fit_task_recorded(key, target, inst, train, probe, count)
        out = metrics.evaluate(target, inst, learner, params, train, test, part="train")
        return params, {**out, **{metrics.TRAJECTORY_PREFIX + k: v for k, v in values.items()}}

    return fit


def eval_function(cell: Cell) -> Callable[[Any, Any, Any], dict[str, Array]]:
    """(instance, fitted parameters, test set) -> the metrics that do not read the training batch, of one
    trial; pure, vmapped and jitted. It depends on the target, the learner's configuration and the shapes of
    its parameters, not on n (except where the parameters hold the training set, as a kernel's do), so the
    cells of a learning curve share one compiled evaluation program (``eval_key``)."""
    target, learner = cell.target, cell.learner

    def evaluate(inst: Any, params: Any, test: Any) -> dict[str, Array]:
        return metrics.evaluate(target, inst, learner, params, None, test, part="test")

    return evaluate


def trial_function(cell: Cell) -> Callable[..., dict[str, Array]]:
    """(seed, trial, instance, train, test) -> every metric of one trial: ``fit_function`` then
    ``eval_function`` (the eager path, ``jax.disable_jit``)."""
    fit, evaluate = fit_function(cell), eval_function(cell)

    def run(seed: Array, trial: Array, inst: Any, train: Any, test: Any) -> dict[str, Array]:
        params, out = fit(seed, trial, inst, train, test)
        return {**out, **evaluate(inst, params, test)}

    return run


def _target_json(cell: Cell) -> str:
    return json.dumps(cell.target.model_dump(mode="json"), sort_keys=True)


def _inst_key(cell: Cell, chunk: int) -> tuple[str, ...]:
    return ("instance", _target_json(cell), str(cell.n_test), cell.precision, str(chunk))


def _chunk_key(cell: Cell, chunk: int) -> tuple[str, ...]:
    return ("chunk", _target_json(cell), str(TRAIN_CHUNK), cell.precision, str(chunk))


def _fit_key(cell: Cell, chunk: int) -> tuple[str, ...]:
    return ("fit", cell.program_key, cell.precision, str(chunk))


def eval_key(cell: Cell, chunk: int, params: Any) -> tuple[str, ...]:
    """What the evaluation program depends on: the target, the learner's configuration, the test size, the
    precision, the block, and the shapes and dtypes of the parameters (``params``: a pytree of shape structs,
    the fit program's output), not n."""
    learner = json.dumps(cell.learner.identity(), sort_keys=True)
    shapes = str(jax.tree.map(lambda a: (tuple(a.shape), str(a.dtype)), params))
    return ("eval", _target_json(cell), learner, str(cell.n_test), cell.precision, str(chunk),
            str(jax.tree.structure(params)), shapes)


def _seed_trials(chunk: int) -> tuple[Array, Any]:
    return jnp.asarray(0, jnp.uint32), jax.ShapeDtypeStruct((chunk,), jnp.uint32)


def compile_instance(cell: Cell, chunk: int) -> Any:
    seed, trials = _seed_trials(chunk)
    return jax.jit(jax.vmap(instance_function(cell), in_axes=(None, 0))).lower(seed, trials).compile()


def compile_chunk(cell: Cell, chunk: int) -> Any:
    seed, trials = _seed_trials(chunk)
    inst, _ = jax.eval_shape(jax.vmap(instance_function(cell), in_axes=(None, 0)), seed, trials)
    fn = jax.jit(jax.vmap(chunk_function(cell), in_axes=(None, 0, 0, None)))
    return fn.lower(seed, trials, inst, jax.ShapeDtypeStruct((), jnp.uint32)).compile()


def compile_data(cell: Cell, chunk: int) -> DataProgram:
    """The cell's data for blocks of ``chunk`` trials (compiles both data programs, uncached)."""
    return DataProgram(compile_instance(cell, chunk), compile_chunk(cell, chunk), cell.n)


def _data_shapes(cell: Cell, chunk: int) -> tuple[Any, Any, Any]:
    target, n = cell.target, cell.n
    seed, trials = _seed_trials(chunk)

    def shapes(seed: Array, trial: Array) -> tuple[Any, Any, Any]:  # the shapes of data_function's output
        inst, test = instance_function(cell)(seed, trial)
        return inst, target.sample(inst, jax.random.PRNGKey(0), n), test

    return jax.eval_shape(jax.vmap(shapes, in_axes=(None, 0)), seed, trials)


# A fit program whose block of trials counts fewer learner FLOPs than this compiles with LLVM's optimisation
# off (``fit_compiler_options``). Measured on quick's cells (2-core Intel Xeon, JAX 0.10.2): level 0 compiles a
# 3-layer training program in 1.35 s instead of 2.14 s (2-layer 1.04 vs 1.56) and runs it 1.9x slower; below
# 10 GFLOP a cell runs in well under 0.1 s at full optimisation, so the compilation saved (~0.5-0.8 s per
# program) exceeds what running slower costs even with a warm compilation cache. The choice depends on the
# cell alone (never on the machine), so a cell's numbers stay the same wherever it runs.
SMALL_CELL_GFLOP = 10.0


def fit_compiler_options(cell: Cell, chunk: int) -> dict[str, Any] | None:
    """XLA options for the cell's fit program: ``xla_backend_optimization_level = 0`` for a small cell (fewer
    than ``SMALL_CELL_GFLOP`` learner GFLOP per block of ``chunk`` trials), else the defaults (None)."""
    if chunk * cell.learner.flops(cell.d, cell.n) < SMALL_CELL_GFLOP * 1e9:
        return {"xla_backend_optimization_level": 0}
    return None


def lower_fit(cell: Cell, chunk: int) -> Any:
    seed, trials = _seed_trials(chunk)
    return jax.jit(jax.vmap(fit_function(cell), in_axes=(None, 0, 0, 0, 0))).lower(seed, trials,
                                                                                   *_data_shapes(cell, chunk))


def param_shapes(lowered_fit: Any) -> Any:
    """The shapes of the fitted parameters (a block of trials), from the lowered fit program."""
    return lowered_fit.out_info[0]


def compile_eval(cell: Cell, chunk: int, params: Any) -> Any:
    inst, _, test = _data_shapes(cell, chunk)
    return jax.jit(jax.vmap(eval_function(cell))).lower(inst, params, test).compile()


def compile_fit(cell: Cell, chunk: int) -> tuple[Any, Any]:
    """The cell's two programs for blocks of ``chunk`` trials: (fit, evaluation), uncached."""
    low = lower_fit(cell, chunk)
    return low.compile(fit_compiler_options(cell, chunk)), compile_eval(cell, chunk, param_shapes(low))


_PROGRAMS: dict[tuple[str, ...], Future[Any]] = {}  # compiling, or compiled for a cell still to run
# Released programs of finished cells, most recent last: a bounded few stay loaded so that running the same
# small sweep again in this process (a notebook, the test suite) neither retraces nor reloads them.
_RECENT: OrderedDict[tuple[str, ...], Future[Any]] = OrderedDict()
KEEP_RECENT = 16
_LOCK = threading.Lock()
_COMPILER: ThreadPoolExecutor | None = None  # the background compiler, started by the first program submitted


def _compiler() -> ThreadPoolExecutor:
    """The background compiler: ``compile_threads()`` threads (call with ``_LOCK`` held)."""
    global _COMPILER
    if _COMPILER is None:
        _COMPILER = ThreadPoolExecutor(max_workers=compile_threads(), thread_name_prefix="depthlab-compile")
    return _COMPILER
# Seconds each program took to compile (or to load from the persistent cache), until the first cell that uses
# it takes the number (``compile_seconds``): a program shared by several cells is counted once.
_COMPILE_SECONDS: dict[tuple[str, ...], float] = {}


def _timed(key: tuple[str, ...], build: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        t0 = time.perf_counter()
        prog = build()
        with _LOCK:
            _COMPILE_SECONDS[key] = time.perf_counter() - t0
        return prog

    return run


# The evaluation program of each fit program compiled in this process: fit key -> (eval key, parameter shapes).
_EVAL_OF: dict[tuple[str, ...], tuple[tuple[str, ...], Any]] = {}


def _build_fit(cell: Cell, chunk: int) -> Callable[[], Any]:
    """The background compiler's task for a cell's fit program: lower and compile it, then make sure its
    evaluation program is compiled or loaded (compiled here, in the same task, unless another cell of the
    same learner already has it: it is shared across n). Seconds are recorded per program."""
    fkey = _fit_key(cell, chunk)

    def build() -> Any:
        t0 = time.perf_counter()
        low = lower_fit(cell, chunk)
        fit = low.compile(fit_compiler_options(cell, chunk))
        shapes = param_shapes(low)
        ekey = eval_key(cell, chunk, shapes)
        with _LOCK:
            _COMPILE_SECONDS[fkey] = time.perf_counter() - t0
            _EVAL_OF[fkey] = (ekey, shapes)
            fut = _PROGRAMS.get(ekey) or _RECENT.pop(ekey, None)
            mine = fut is None
            if fut is None:
                fut = Future()
            _PROGRAMS[ekey] = fut
        if mine:
            t1 = time.perf_counter()
            try:
                fut.set_result(compile_eval(cell, chunk, shapes))
            except BaseException as e:
                fut.set_exception(e)
                raise
            with _LOCK:
                _COMPILE_SECONDS[ekey] = time.perf_counter() - t1
        return fit

    return build


def _eval_program(cell: Cell, chunk: int) -> Future[Any]:
    """The evaluation program of a cell whose fit program is compiled (reloaded if it was released)."""
    with _LOCK:
        ekey, shapes = _EVAL_OF[_fit_key(cell, chunk)]
    return _submit(ekey, lambda: compile_eval(cell, chunk, shapes))


def _submit(key: tuple[str, ...], build: Callable[[], Any], timed: bool = True) -> Future[Any]:
    """The program under ``key``: compiling or compiled in this process, or else submitted to the background
    compiler (``timed``: its seconds recorded under ``key``; ``_build_fit`` records its own)."""
    with _LOCK:
        fut = _PROGRAMS.get(key)
        if fut is None:
            fut = _RECENT.pop(key, None) or _compiler().submit(_timed(key, build) if timed else build)
            _PROGRAMS[key] = fut
        return fut


def compile_seconds(cell: Cell, chunk: int) -> dict[str, float]:
    """Seconds spent compiling this cell's programs, by whichever thread compiled them (``fit``: its training
    program and, for the first cell of its learner and d, the evaluation program (``eval``: that part alone);
    ``data``: the data programs, counted for the first cell of their d only), 0 for programs that were
    already loaded in this process. Unlike the wait (``timings["compile_s"]``) this counts compilation
    hidden behind running cells: the CPU time it took from them."""
    with _LOCK:
        fkey = _fit_key(cell, chunk)
        ekey = _EVAL_OF[fkey][0] if fkey in _EVAL_OF else None
        ev = _COMPILE_SECONDS.pop(ekey, 0.0) if ekey else 0.0
        fit = _COMPILE_SECONDS.pop(fkey, 0.0) + ev
        data = _COMPILE_SECONDS.pop(_inst_key(cell, chunk), 0.0) + _COMPILE_SECONDS.pop(_chunk_key(cell, chunk), 0.0)
    return {"fit": round(fit, 4), "eval": round(ev, 4), "data": round(data, 4)}


def prefetch(cell: Cell, memory_budget: int | None = None) -> None:
    """Start compiling a cell's programs in the background (overlaps compilation with running cells)."""
    b = cell.block(memory_budget)
    _submit(_inst_key(cell, b), lambda: compile_instance(cell, b))
    _submit(_chunk_key(cell, b), lambda: compile_chunk(cell, b))
    _submit(_fit_key(cell, b), _build_fit(cell, b), timed=False)


def release(cell: Cell, memory_budget: int | None = None) -> None:
    """Drop a finished cell's compiled programs from this process. Every loaded program holds memory
    mappings; keeping all of a long sweep's (hundreds of cells) exhausted them (the JIT failed with "Cannot
    allocate memory" after 243 cells of ``damian2022-multi-index``). A later cell that needs the same data
    program reloads it from the persistent compilation cache; the last ``KEEP_RECENT`` released programs
    stay loaded (``_RECENT``)."""
    b = cell.block(memory_budget)
    with _LOCK:
        fkey = _fit_key(cell, b)
        ekey = [_EVAL_OF[fkey][0]] if fkey in _EVAL_OF else []
        for key in (_inst_key(cell, b), _chunk_key(cell, b), fkey, *ekey):
            fut = _PROGRAMS.get(key)
            if fut is not None and fut.done():
                _RECENT[key] = _PROGRAMS.pop(key)
                _RECENT.move_to_end(key)
        while len(_RECENT) > KEEP_RECENT:
            _RECENT.popitem(last=False)


def cancel_prefetch() -> None:
    """Drop the compilations queued by ``prefetch`` that have not started (a sweep stopped early: they
    would otherwise still run, one after the other, before this process can exit); compiled programs are
    kept as released ones (``_RECENT``)."""
    with _LOCK:
        for key, fut in list(_PROGRAMS.items()):
            if fut.cancel():
                del _PROGRAMS[key]
            elif fut.done():
                _RECENT[key] = _PROGRAMS.pop(key)
                _RECENT.move_to_end(key)
        while len(_RECENT) > KEEP_RECENT:
            _RECENT.popitem(last=False)


def compiled_programs(cell: Cell, chunk: int) -> tuple[Any, Any, float]:
    """(data program, (fit program, evaluation program), seconds spent waiting for compilation), compiled once
    per process."""
    t0 = time.perf_counter()
    inst = _submit(_inst_key(cell, chunk), lambda: compile_instance(cell, chunk)).result()
    draw = _submit(_chunk_key(cell, chunk), lambda: compile_chunk(cell, chunk)).result()
    fit = _submit(_fit_key(cell, chunk), _build_fit(cell, chunk), timed=False).result()
    evaluate = _eval_program(cell, chunk).result()
    return DataProgram(inst, draw, cell.n), (fit, evaluate), time.perf_counter() - t0


def foreground_programs(cell: Cell, chunk: int) -> tuple[Any, Any, float]:
    """The same programs as ``compiled_programs`` (the same lowering, so the same numbers), traced and
    compiled in the calling thread, not by the background compiler, and not kept in this process: a
    breakpoint in the learner's code stops while tracing."""
    t0 = time.perf_counter()
    data, fit = compile_data(cell, chunk), compile_fit(cell, chunk)
    return data, fit, time.perf_counter() - t0


def _eager_block(cell: Cell, seed: Array, idx_list: list[int], wanted: set[int]) -> dict[str, Any]:
    """One block's metrics under ``jax.disable_jit()``: trial by trial, unbatched, so that every value the
    learner sees is a concrete array (a debugger can print it, Python control flow on it works). Block-mates
    not in ``wanted`` are not computed (NaN)."""
    draw, fit = data_function(cell), trial_function(cell)
    per_trial: dict[int, dict[str, Any]] = {}
    for t in idx_list:
        if t in wanted:
            trial = jnp.asarray(t, jnp.uint32)
            per_trial[t] = {k: np.asarray(v, np.float64) for k, v in fit(seed, trial, *draw(seed, trial)).items()}
    first = next(iter(per_trial.values()))
    return {k: np.stack([per_trial[t][k] if t in per_trial else np.full_like(v, np.nan) for t in idx_list])
            for k, v in sorted(first.items())}


def blocks(trials: list[int], block: int) -> list[list[int]]:
    """The fixed blocks holding ``trials``: block b is trials [b*block, (b+1)*block), whatever was asked."""
    return [list(range(b * block, (b + 1) * block)) for b in sorted({t // block for t in trials})]


def computed_trials(cell: Cell, trials: list[int], memory_budget: int | None = None) -> int:
    """How many trials running ``trials`` computes (whole blocks: the cost of a task)."""
    b = cell.block(memory_budget)
    return b * len(blocks(trials, b))


def run_cell(
    cell: Cell,
    trials: list[int],
    memory_budget: int | None = None,
    *,
    foreground: bool = False,
    raise_errors: bool = False,
) -> CellResult:
    """Run the given trials of a cell. Divergence (non-finite metrics) is a per-trial status, and an
    exception is a failed cell with its message and traceback, never a crash of the sweep (``raise_errors``:
    the exception propagates instead, e.g. to a post-mortem debugger).

    ``foreground``: trace and compile in this thread instead of the background compiler (``depthlab
    debug``); the same numbers, except under ``jax.disable_jit()``, where trials run eagerly one by one."""
    jax.config.update("jax_enable_x64", cell.precision == "float64")
    prov: dict[str, Any] = {"started": now()}
    t0 = time.perf_counter()
    timings = {"compile_s": 0.0, "run_s": 0.0}
    rows: list[dict[str, Any]] = []
    try:
        cell.learner.check_feasible(cell.d, cell.n, 8 if cell.precision == "float64" else 4)
        block = cell.block(memory_budget)
        eager = foreground and jit_disabled()
        if not eager:
            data_prog, fit_prog, dt = (foreground_programs if foreground else compiled_programs)(cell, block)
            timings["compile_s"] += dt
            prov["compile_seconds"] = compile_seconds(cell, block)
            prov["learner_kind"] = cell.learner.kind
        wanted = set(trials)
        schedule = cell.schedule()
        for idx_list in blocks(trials, block):
            t1 = time.perf_counter()
            seed, idx = jnp.asarray(cell.seed, jnp.uint32), jnp.asarray(idx_list, jnp.uint32)
            if eager:
                out = _eager_block(cell, seed, idx_list, wanted)
            else:
                (fit, evaluate), (inst, train, test) = fit_prog, data_prog(seed, idx)
                params, out = fit(seed, idx, inst, train, test)
                out = {**out, **evaluate(inst, params, test)}
            out = {k: np.asarray(jax.block_until_ready(v), dtype=np.float64) for k, v in out.items()}
            timings["run_s"] += time.perf_counter() - t1
            along = {k[len(metrics.TRAJECTORY_PREFIX):]: out.pop(k) for k in list(out)
                     if k.startswith(metrics.TRAJECTORY_PREFIX)}
            for i, t in enumerate(idx_list):
                if t not in wanted:  # a block-mate nobody asked for: computed (fixed shape), not kept
                    continue
                vals = {k: float(v[i]) for k, v in out.items()}
                # diverged: a non-finite metric; a part of a metric may be empty (nan) on a small test set
                finite = all(np.isfinite(v) for k, v in vals.items() if not metrics.is_part(k))
                row: dict[str, Any] = {
                    "trial": t,
                    "status": "ok" if finite else "diverged",
                    **{k: (v if np.isfinite(v) else None) for k, v in vals.items()},
                }
                if along:
                    row[TRAJECTORY_KEY] = trajectory_rows(schedule, {k: v[i] for k, v in along.items()})
                rows.append(row)
    except Exception as e:  # recorded as a failed cell; the sweep goes on
        if raise_errors:
            raise
        timings["wall_s"] = time.perf_counter() - t0
        prov.update(environment(), finished=now())
        return CellResult(cell, [], "failed", failure_message(e), timings, prov)
    timings["wall_s"] = time.perf_counter() - t0
    prov.update(environment(), finished=now())
    return CellResult(cell, rows, "ok", "", timings, prov)
