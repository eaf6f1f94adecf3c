"""Executors: run the pending cells of a sweep and write each finished cell to the store at once.

``run_local`` runs cells in this process (compiling the next cells in the background while the current
one runs); ``run_dask`` submits one task per cell to a Dask cluster (``cluster.py``: a LocalCluster, an
existing scheduler, SLURM) and commits each result as it arrives, while this process stays the single
writer of the store. Both skip what the store already holds, and run cells in decreasing cost.

``fail_fast``: stop at the first failed cell (in process: run no further cell; Dask: cancel the tasks not
finished yet). The cells finished until then stay stored; both return the tasks they did not run.

Interrupts (Ctrl-C, SIGTERM; ``interrupts.py``): each cell is committed under ``interrupts.committing``, so a
signal never drops a computed cell halfway through its commit; ``run_local`` cancels the compilations it
queued when it stops early, so nothing is left for the process to wait for.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from depthlab.presets.base import Preset
from depthlab.store import Store, claim_owner
from depthlab.store_faults import StoreWriteError, describe_holders, fault, lock_wait, write_failure
from depthlab.sweep.cluster import DEFAULT_RETRIES, dask_client
from depthlab.sweep.grid import Cell, expand, memory_budget, prefetch_window
from depthlab.sweep.interrupts import committing
from depthlab.sweep.runner import (
    CellResult,
    cancel_prefetch,
    computed_trials,
    enable_compilation_cache,
    failure_message,
    prefetch,
    release,
    run_cell,
)

# Per-cell fixed cost (compilation, data generation) in FLOP-equivalents, for progress ETAs and projections.
CELL_OVERHEAD_FLOPS = 4e11
PROJECTED_GFLOPS = 150.0  # sustained training throughput on 2 CPU cores (see benchmarks)
# Concurrent runs on one store (``run_local``): a cell is claimed before it is computed; another run skips it
# and, at its end, waits for it (polling) or takes it over once the claim lapses: the owner died (same host)
# or the lease (renewed by nothing: one cell must finish within it) ran out.
CLAIM_LEASE_S = float(os.environ.get("DEPTHLAB_CLAIM_LEASE", 6 * 3600))
CLAIM_POLL_S = 2.0


@dataclass
class Task:
    cell: Cell
    trials: list[int]

    @property
    def cost(self) -> float:
        c = self.cell
        return computed_trials(c, self.trials) * c.learner.flops(c.d, c.n) + CELL_OVERHEAD_FLOPS


@dataclass
class Plan:
    preset: Preset
    sweep_id: int | None  # None for a plan that was not registered in the store (dry run)
    cells: list[Cell]
    tasks: list[Task]  # what is still to run
    config_hash: str = ""
    stored: int = 0  # cells this process has committed as finished (ok or diverged trials), ``record_cell``

    @property
    def total_cost(self) -> float:
        return sum(t.cost for t in self.tasks)

    def projected_seconds(self, throughput: dict[str, float] | None = None) -> float:
        """Seconds to run the remaining tasks, from per-learner-kind GFLOP/s (``depthlab bench``) or a default."""
        rates = throughput or {}
        return sum(
            (t.cost - CELL_OVERHEAD_FLOPS) / (rates.get(t.cell.learner.kind, PROJECTED_GFLOPS) * 1e9)
            + CELL_OVERHEAD_FLOPS / (PROJECTED_GFLOPS * 1e9)
            for t in self.tasks
        )


def machine_memory() -> int | None:
    """Bytes of memory this process can use: the machine's physical memory, or the limit of its control
    group (a container, a SLURM job's cgroup) where that is lower; None where neither can be read."""
    sizes = []
    try:
        sizes.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < 2**62:  # "max" / a huge number: no limit
            sizes.append(int(text))
    sizes = [s for s in sizes if s > 0]
    return min(sizes) if sizes else None


def size_text(n: float) -> str:
    """Bytes in binary units: 512 MiB, 1.5 GiB, 11.0 TiB."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


@dataclass(frozen=True)
class Feasibility:
    """Whether a cell's trials fit in memory (``feasibility``): ``problem`` says why it cannot run (None: it
    can), ``by_learner`` whether the learner's own limit says so (then the cell is recorded as failed when
    it runs, as before) rather than the memory; ``note``: it runs, but one trial per block."""

    cell: Cell
    trial_bytes: int
    block: int
    problem: str | None = None
    by_learner: bool = False
    note: str | None = None

    @property
    def refuses_run(self) -> bool:
        """Whether ``depthlab run`` refuses the sweep for this cell: memory cannot hold one block of it."""
        return self.problem is not None and not self.by_learner


def feasibility(cell: Cell, memory: int | None, budget: int | None = None) -> Feasibility:
    """Check one cell's memory estimate up front, for every learner (``LearnerSpec.memory_bytes``):

    - the learner's own limit (``check_feasible``, e.g. ``max_memory_gb``): the cell would be recorded as
      failed when it runs;
    - one trial, ``Cell.trial_bytes()``, against ``memory`` (the machine's, ``machine_memory``; None: not
      checked): more cannot run at all;
    - one block, ``block x trial_bytes`` with ``block = Cell.block(budget)``, against ``memory``: a block
      is at most the budget unless one trial exceeds it, so this fails only for a budget above the memory;
    - one trial above the budget (``$DEPTHLAB_MEMORY_BUDGET``): it runs, one trial per block (a note)."""
    budget = budget or memory_budget()
    c, per_trial = cell, cell.trial_bytes()
    block = c.block(budget)
    where = f"{c.method} at d={c.d}, n={c.n}"
    try:
        c.learner.check_feasible(c.d, c.n, 8 if c.precision == "float64" else 4)
    except ValueError as e:
        return Feasibility(c, per_trial, block, problem=str(e), by_learner=True)
    if memory is not None and per_trial > memory:
        return Feasibility(c, per_trial, block, problem=(
            f"{where} needs {size_text(per_trial)} per trial, {per_trial / memory:.1f}x this machine's "
            f"{size_text(memory)}"))
    if memory is not None and block * per_trial > memory:
        return Feasibility(c, per_trial, block, problem=(
            f"{where}: a block of {block} trials needs {size_text(block * per_trial)}, more than this machine's "
            f"{size_text(memory)}; lower DEPTHLAB_MEMORY_BUDGET (now {size_text(budget)})"))
    note = None
    if per_trial > budget:
        note = (f"one trial ({size_text(per_trial)}) exceeds DEPTHLAB_MEMORY_BUDGET ({size_text(budget)}): "
                "one trial per block")
    return Feasibility(c, per_trial, block, note=note)


def infeasible_summary(found: list[Feasibility], memory: int | None) -> str:
    """One line for the cells whose trials cannot fit (``Feasibility.refuses_run``): how many, the largest per
    method, and what to change."""
    worst: dict[str, Feasibility] = {}
    for f in found:
        if f.cell.method not in worst or f.trial_bytes > worst[f.cell.method].trial_bytes:
            worst[f.cell.method] = f
    per_method = "; ".join(f"{f.problem}" + (f" (and {k - 1} smaller cells)" if (k := sum(
        g.cell.method == m for g in found)) > 1 else "") for m, f in worst.items())
    names = ", ".join(f"methods.{m}.max_n" for m in worst)
    return (f"{len(found)} cell(s) cannot fit in memory ({size_text(memory) if memory else 'unknown'}): "
            f"{per_method}; lower kappa_max or set {names} (--dry-run lists every cell)")


def memory_report(checked: list[Feasibility], memory: int | None, budget: int | None = None) -> str:
    """The dry run's memory line: the sweep fits (largest trial, machine, budget), or which cells do not."""
    budget = budget or memory_budget()
    refused = [f for f in checked if f.refuses_run]
    if refused:
        return f"memory: {infeasible_summary(refused, memory)}; `depthlab run` refuses this sweep"
    parts = []
    if checked:
        big = max(checked, key=lambda f: f.trial_bytes)
        parts.append(f"largest trial {size_text(big.trial_bytes)} ({big.cell.label})")
    parts.append(f"memory {size_text(memory) if memory else 'unknown'}, budget {size_text(budget)} per block")
    line = "memory: every cell fits: " + ", ".join(parts)
    if k := sum(f.note is not None for f in checked):
        line += f"; {k} cell(s) run one trial per block (a trial exceeds the budget)"
    if k := sum(f.by_learner for f in checked):
        line += f"; {k} cell(s) exceed their learner's memory limit and will be recorded as failed"
    return line


def worker_memory(mode: str, workers: int | None = None, job_memory: str | None = None,
                  processes: int = 1) -> int | None:
    """The memory a cell can use where it runs: this machine's (``machine_memory``) in process; its share
    for each of a LocalCluster's ``workers`` (Dask gives each worker memory / workers); a SLURM job's memory
    over its worker processes; None for an existing scheduler (its workers' memory is not known here)."""
    from depthlab.sweep.grid import parse_size

    if mode == "scheduler":
        return None
    if mode == "slurm":
        try:
            return parse_size(job_memory) // max(processes, 1) if job_memory else None
        except ValueError:
            return None
    memory = machine_memory()
    if memory is None:
        return None
    return memory // max(workers or 1, 1) if mode == "workers" else memory


def config_hash(preset: Preset) -> str:
    """Identity of a sweep: the resolved preset config without the trial count (which only extends it)."""
    data = preset.model_dump(
        mode="json", exclude={"trials", "est_runtime", "description", "checks", "threshold", "predictions", "roles"}
    )
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


def plan(preset: Preset, store: Store, register: bool = True) -> Plan:
    """Expand the preset, register its sweep in the store (unless ``register`` is False, for a dry run)
    and list the (cell, missing trials) to run."""
    cells = expand(preset)
    h = config_hash(preset)
    sweep_id = (
        store.register_sweep(preset.name, h, preset.model_dump_json(), preset.trials, cells) if register else None
    )
    tasks = []
    for c in cells:
        done = store.done_trials(c.key)
        missing = [t for t in range(preset.trials) if t not in done]
        if missing:
            tasks.append(Task(c, missing))
    return Plan(preset, sweep_id, cells, tasks, h)


Callback = Callable[[Task, CellResult], None]


def record_cell(store: Store, p: Plan, task: Task, res: CellResult, executor: str,
                wait: float | None = None) -> None:
    """Commit one finished (or failed) cell to the store, with its provenance, in one transaction.

    A store locked by another process (a second ``run``, a foreign writer) does not discard the computed
    cell: it is kept in memory and the write retried with backoff for up to ``wait`` seconds
    (``$DEPTHLAB_LOCK_WAIT``, default 600; each try also waits SQLite's busy timeout). A lock outlasting
    that, a full disk or a read-only store raise ``StoreWriteError`` with one line saying so (and who holds
    the lock); the transaction is rolled back, so nothing stored before is lost."""
    prov = {**res.provenance, "config_hash": p.config_hash, "seed": task.cell.seed, "executor": executor}
    wait = lock_wait() if wait is None else wait
    t0 = time.monotonic()
    delay = 0.25
    while True:
        try:
            with committing():  # a Ctrl-C / SIGTERM meanwhile takes effect once the cell is stored (interrupts.py)
                store.write_cell(task.cell.key, task.trials, res.rows, res.status, res.message, res.timings, prov)
                p.stored += res.status != "failed"
            return
        except sqlite3.DatabaseError as e:
            waited = time.monotonic() - t0
            kind = fault(e)
            if kind != "locked" or waited >= wait:
                raise StoreWriteError(kind or "error", write_failure(
                    e, store.path, f"the computed cell {task.cell.label}", waited)) from e
            if delay == 0.25:
                sys.stderr.write(f"note: the results store {store.path} is locked {describe_holders(store.path)}; "
                                 f"the computed cell {task.cell.label} is kept and its write retried for up to "
                                 f"{wait:.0f} s\n")
        time.sleep(min(delay, max(wait - (time.monotonic() - t0), 0.0)))
        delay = min(2 * delay, 30.0)


def run_local(
    p: Plan, store: Store, on_done: Callback | None = None, window: int | None = None, *, fail_fast: bool = False
) -> list[Task]:
    """Run the cells in decreasing cost while one background thread compiles the next ``window`` cells'
    programs in the same order: compilation of the many small cells is hidden behind the few large ones
    (cold ``quick`` waits 6 s for compilation in 96 s; running small cells first, it waited ~30 s in 144 s).
    A finished cell's programs are released, so a long sweep holds at most ``window`` cells' programs.

    With ``fail_fast`` the first failed cell ends the sweep; returns the tasks not run (empty unless it
    stopped early). Cells another run on the same store has claimed (``Store.claim``) are left to it: at the end
    this run waits until they are stored, or computes them itself once that run's claim lapses (it died, or
    ``$DEPTHLAB_CLAIM_LEASE`` seconds passed, default 6 h), so two runs divide a sweep and no cell is computed
    twice."""
    enable_compilation_cache()
    window = prefetch_window() if window is None else window
    tasks = sorted(p.tasks, key=lambda t: -t.cost)
    owner = claim_owner()
    deferred: list[Task] = []

    def compute(task: Task) -> CellResult:
        try:
            res = run_cell(task.cell, task.trials)
            release(task.cell)
            record_cell(store, p, task, res, "local")
        finally:
            store.release(task.cell.key, owner)
        if on_done:
            on_done(task, res)
        return res

    try:
        for task in tasks[:window]:
            prefetch(task.cell)
        for i, task in enumerate(tasks):
            if i + window < len(tasks):
                ahead = tasks[i + window]
                prefetch(ahead.cell)
            if store.claim(task.cell.key, owner, CLAIM_LEASE_S) is not None:  # another run computes it
                release(task.cell)
                deferred.append(task)
                continue
            missing = sorted(set(task.trials) - store.done_trials(task.cell.key))  # another run may have stored it
            if not missing:
                store.release(task.cell.key, owner)
                release(task.cell)
                continue
            res = compute(Task(task.cell, missing))
            if fail_fast and res.status == "failed":
                return tasks[i + 1 :]
        said = False
        while deferred:  # the cells another run claimed: stored by it, or ours once its claim lapses
            waiting = []
            for task in deferred:
                missing = sorted(set(task.trials) - store.done_trials(task.cell.key))
                if not missing:
                    continue
                holder = store.claim(task.cell.key, owner, CLAIM_LEASE_S)
                if holder is not None:
                    waiting.append((task, holder))
                    continue
                res = compute(Task(task.cell, missing))
                if fail_fast and res.status == "failed":
                    return [t for t in deferred if t is not task]
            if waiting and not said:
                sys.stderr.write(f"waiting for {len(waiting)} cells another run is computing "
                                 f"({', '.join(sorted({h for _, h in waiting}))})\n")
                said = True
            deferred = [t for t, _ in waiting]
            if deferred:
                time.sleep(CLAIM_POLL_S)
    finally:  # stopped early (fail_fast, an interrupt): do not compile the cells that will not run
        cancel_prefetch()
    return []


def _run_on_worker(cell: Cell, trials: list[int]) -> CellResult:
    enable_compilation_cache()
    res = run_cell(cell, trials)
    release(cell)
    try:
        from distributed import get_worker

        res.provenance["worker"] = get_worker().address
    except (ImportError, ValueError):  # not on a Dask worker
        pass
    return res


def run_dask(
    p: Plan,
    store: Store,
    on_done: Callback | None = None,
    address: str | None = None,
    n_workers: int = 1,
    *,
    client: Any = None,
    retries: int = DEFAULT_RETRIES,
    fail_fast: bool = False,
) -> list[Task]:
    """Run the plan's tasks on Dask, one task per cell: on ``client`` if given, else on the scheduler at
    ``address``, else on a LocalCluster of ``n_workers`` single-threaded worker processes. Each result is
    committed to the store as soon as it arrives (one transaction per cell), in completion order. Returns
    the tasks not run (``fail_fast``)."""
    if client is None:
        mode = "scheduler" if address is not None else "workers"
        name = f"dask:{address}" if address is not None else f"dask-local:{n_workers}"
        with dask_client(mode, workers=n_workers, scheduler=address, retries=retries) as c:
            return run_on_client(p, store, c, on_done, retries=retries, executor=name, fail_fast=fail_fast)
    return run_on_client(p, store, client, on_done, retries=retries, fail_fast=fail_fast)


def run_on_client(
    p: Plan, store: Store, client: Any, on_done: Callback | None = None, *, retries: int = DEFAULT_RETRIES,
    executor: str | None = None, fail_fast: bool = False,
) -> list[Task]:
    """Submit every task (largest first) to a ``distributed.Client`` and store results as they complete.
    A task that raised is rerun up to ``retries`` times by Dask; a lost worker's tasks are rescheduled by
    the scheduler (see ``cluster.py``); a task that still fails is recorded as a failed cell.

    With ``fail_fast`` the first failed cell cancels the tasks still pending or running (the results that
    have already arrived are stored first); returns the cancelled tasks (empty unless it stopped early)."""
    from distributed import as_completed

    name = executor or f"dask:{client.scheduler.address}"
    tasks = sorted(p.tasks, key=lambda t: -t.cost)
    token = uuid.uuid4().hex[:12]  # task keys unique to this invocation: two clients never share a task
    futures = {
        client.submit(
            _run_on_worker, t.cell, t.trials, pure=False, retries=retries, key=f"cell-{t.cell.key}-{token}"
        ): t
        for t in tasks
    }

    def commit(fut: Any) -> CellResult:
        task = futures.pop(fut)
        try:
            res = fut.result()
        except Exception as e:  # the scheduler gave up on it (e.g. KilledWorker): record, keep going
            res = CellResult(task.cell, [], "failed", failure_message(e), {})
        fut.release()
        record_cell(store, p, task, res, name)
        if on_done:
            on_done(task, res)
        return res

    for fut in as_completed(list(futures)):
        if commit(fut).status == "failed" and fail_fast:
            for done in [f for f in futures if f.status == "finished"]:  # arrived meanwhile: keep them
                commit(done)
            left = list(futures.values())
            client.cancel(list(futures))
            return left
    return []
