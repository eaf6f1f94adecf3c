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
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from depthlab.presets.base import Preset
from depthlab.store import Store
from depthlab.sweep.cluster import DEFAULT_RETRIES, dask_client
from depthlab.sweep.grid import Cell, expand
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


def record_cell(store: Store, p: Plan, task: Task, res: CellResult, executor: str) -> None:
    """Commit one finished (or failed) cell to the store, with its provenance, in one transaction."""
    prov = {**res.provenance, "config_hash": p.config_hash, "seed": task.cell.seed, "executor": executor}
    with committing():  # a Ctrl-C / SIGTERM meanwhile takes effect once the cell is stored (interrupts.py)
        store.write_cell(task.cell.key, task.trials, res.rows, res.status, res.message, res.timings, prov)
        p.stored += res.status != "failed"


PREFETCH_WINDOW = 24  # cells compiled ahead of the one running (bounds the programs held in memory)


def run_local(
    p: Plan, store: Store, on_done: Callback | None = None, window: int = PREFETCH_WINDOW, *, fail_fast: bool = False
) -> list[Task]:
    """Run the cells in decreasing cost while one background thread compiles the next ``window`` cells'
    programs in the same order: compilation of the many small cells is hidden behind the few large ones
    (cold ``quick`` waits 6 s for compilation in 96 s; running small cells first, it waited ~30 s in 144 s).
    A finished cell's programs are released, so a long sweep holds at most ``window`` cells' programs.

    With ``fail_fast`` the first failed cell ends the sweep; returns the tasks not run (empty unless it
    stopped early)."""
    enable_compilation_cache()
    tasks = sorted(p.tasks, key=lambda t: -t.cost)
    try:
        for task in tasks[:window]:
            prefetch(task.cell)
        for i, task in enumerate(tasks):
            if i + window < len(tasks):
                ahead = tasks[i + window]
                prefetch(ahead.cell)
            res = run_cell(task.cell, task.trials)
            release(task.cell)
            record_cell(store, p, task, res, "local")
            if on_done:
                on_done(task, res)
            if fail_fast and res.status == "failed":
                return tasks[i + 1 :]
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
