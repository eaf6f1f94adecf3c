"""depthlab command line: presets, show, run, debug, results, plot, exponents, check, report, store check, bench."""

from __future__ import annotations

import csv
import io
import json
import math
import signal
import sqlite3
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from depthlab.analysis import METRICS, AggregateRow, aggregate
from depthlab.checks import exit_code, summarize
from depthlab.presets import DEFAULT, Preset, PresetError, all_presets, apply_overrides, get_preset
from depthlab.store import Store, StoreError, default_store_path, integrity_check
from depthlab.store_faults import StoreWriteError, fault, write_failure
from depthlab.sweep.cluster import (
    DEFAULT_RETRIES,
    ClusterError,
    dask_client,
    execution_mode,
    load_slurm_settings,
)
from depthlab.sweep.runner import computed_trials, summary_line

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Experiments on why depth helps.")
console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)

StoreOpt = Annotated[
    Path | None, typer.Option("--store", help="Results store (default ./depthlab.sqlite or $DEPTHLAB_STORE)")
]


class Fmt(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


class Executor(StrEnum):
    local = "local"
    dask = "dask"


class ClusterKind(StrEnum):
    slurm = "slurm"


def _lit(text: object, style: str = "") -> Text:
    """``text`` shown literally (no rich markup, no highlighting): for anything from a user, a file or a store."""
    return text if isinstance(text, Text) else Text(str(text), style=style)


def _say(con: Console, text: object) -> None:
    """Print ``text`` literally: rich markup in names, paths and messages is shown as written."""
    con.print(_lit(text), highlight=False)


def _table(*columns: str, title: str | None = None) -> Table:
    return Table(*columns, title=None if title is None else _lit(title))


def _row(t: Table, *cells: object) -> None:
    """A table row whose cells are literal text (a :class:`Text` keeps its own style)."""
    t.add_row(*(_lit(c) for c in cells))


PROGRESS_EVERY_S = 10.0  # plain progress: at most one line per this many seconds (and always the last cell)


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class LineProgress:
    """Progress for logs (stdout is not a terminal: a cluster job, CI, ``| tee``): a plain line when a cell
    finishes, at most one every ``every`` seconds, and always for the last cell:

        [12/28 cells] elapsed 0:01:05, ETA 0:00:40 | layerwise d=32 n=4095 (kappa=2.40)

    ETA = elapsed x (remaining cost / finished cost), cost being the cells' FLOPs plus a per-cell overhead (as
    the terminal's bar)."""

    def __init__(self, con: Console, total_cost: float, total_cells: int, every: float = PROGRESS_EVERY_S,
                 clock: Any = time.monotonic) -> None:
        self.con, self.total_cost, self.total_cells, self.every, self.clock = con, total_cost, total_cells, every, clock
        self.t0 = clock()
        self.last = -math.inf
        self.cost = 0.0
        self.cells = 0

    def advance(self, cost: float, label: str) -> None:
        self.cost += cost
        self.cells += 1
        now = self.clock()
        if now - self.last < self.every and self.cells < self.total_cells:
            return
        self.last = now
        elapsed = now - self.t0
        eta = elapsed * max(self.total_cost - self.cost, 0.0) / self.cost if self.cost > 0 else math.inf
        eta_text = _clock(eta) if math.isfinite(eta) else "?"
        _say(self.con, f"[{self.cells}/{self.total_cells} cells] elapsed {_clock(elapsed)}, ETA {eta_text} | {label}")


def _fail(msg: str, code: int = 2) -> typer.Exit:
    err.print(Text.assemble(("error:", "bold red"), " ", msg), highlight=False)
    return typer.Exit(code)


@app.callback()
def _main() -> None:
    """Experiments on why depth helps."""
    from depthlab.sweep.grid import MemoryBudgetError, compile_threads, memory_budget, prefetch_window

    try:
        memory_budget()
        prefetch_window()
        compile_threads()
    except (MemoryBudgetError, ValueError) as e:
        raise _fail(str(e)) from None


def _out_file(path: Path, suffixes: tuple[str, ...] | None = None) -> Path:
    """``path`` as a file to write, checked up front: a one-line error if its folder is missing or is a file,
    if it is a folder, or (with ``suffixes``) if its format is not one of them."""
    if suffixes is not None and path.suffix.lower() not in suffixes:
        raise _fail(f"cannot write {path}: unknown format {path.suffix or '(no suffix)'!r}; "
                    f"use one of {', '.join(suffixes)}")
    if path.is_dir():
        raise _fail(f"cannot write {path}: it is a folder")
    parent = path.parent
    if not parent.exists():
        raise _fail(f"cannot write {path}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise _fail(f"cannot write {path}: {parent} is not a folder")
    return path


def _out_dir(path: Path) -> Path:
    """``path`` as a folder to write into (created with its parents): a one-line error if it or a parent is a
    file."""
    if path.exists() and not path.is_dir():
        raise _fail(f"cannot write into {path}: it is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _fail(f"cannot create the folder {path}: {e.strerror or e}") from None
    return path


def _write_text(path: Path, text: str) -> None:
    try:
        _out_file(path).write_text(text)
    except OSError as e:
        raise _fail(f"cannot write {path}: {e.strerror or e}") from None


def _store(path: Path | None, readonly: bool = False) -> Store:
    try:
        return Store(path or default_store_path(), readonly=readonly)
    except StoreError as e:
        raise _fail(str(e)) from None


def _preset(ref: str) -> Preset:
    """A built-in preset by name, or the experiment a .toml / .yaml / .json file defines."""
    from depthlab.presets.files import is_experiment_file, load_experiment

    try:
        return load_experiment(ref) if is_experiment_file(ref) else get_preset(ref)
    except PresetError as e:
        raise _fail(str(e)) from None


def _resolve(name: str, overrides: list[str] | None, trials: int | None) -> Preset:
    base = _preset(name)
    try:
        return apply_overrides(base, overrides or [], trials)
    except PresetError as e:
        raise _fail(str(e)) from None


def _stored_ref(ref: str | None) -> str | Preset | None:
    """What names a stored sweep: a preset name, or an experiment file's preset (its name, and its checks)."""
    from depthlab.presets.files import is_experiment_file

    return _preset(ref) if ref is not None and is_experiment_file(ref) else ref


def _stored_preset(store: Store, ref: str | None) -> tuple[Preset, int, int]:
    named = _stored_ref(ref)
    preset = named.name if isinstance(named, Preset) else named
    row = store.latest_sweep(preset)
    if row is None:
        where = f"preset {preset!r}" if preset else "any preset"
        raise _fail(f"no results for {where} in {store.path}; run `depthlab run {preset or DEFAULT}` first")
    from depthlab.results import ResultsError, stored_preset

    try:
        stored = stored_preset(row["config_json"], named if isinstance(named, Preset) else None)
    except ResultsError as e:
        raise _fail(f"sweep {row['sweep_id']} ({row['preset']!r}) in {store.path}: {e}") from None
    return stored, int(row["sweep_id"]), int(row["trials"])


@app.command()
def presets() -> None:
    """List the presets: name, paper, grid size, estimated runtime on 2 cores, description."""
    t = _table("name", "paper", "cells x trials", "runtime (2 cores)", "description", title="depthlab presets")
    from depthlab.sweep.grid import expand

    for p in all_presets():
        cells = len(expand(p))
        _row(
            t,
            p.name + (" (default)" if p.name == DEFAULT else ""),
            p.paper,
            f"{cells} x {p.trials}",
            p.est_runtime,
            p.description,
        )
    console.print(t)


class FileFmt(StrEnum):
    json = "json"
    toml = "toml"
    yaml = "yaml"


@app.command()
def show(
    preset: Annotated[str, typer.Argument(help="Preset name, or an experiment file (.toml/.yaml/.json)")] = DEFAULT,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override key=value (repeatable)")] = None,
    trials: Annotated[int | None, typer.Option(help="Number of trials per cell")] = None,
    fmt: Annotated[FileFmt | None, typer.Option("--format", help="Write it as an experiment file in this format "
                                                "(runs unchanged with `depthlab run FILE`)")] = None,
) -> None:
    """Print the resolved preset configuration (after --set overrides): as JSON, or with --format as an
    experiment file (`depthlab show quick --format toml > mine.toml`)."""
    p = _resolve(preset, set_, trials)
    if fmt is None:
        console.print_json(p.model_dump_json())
        return
    from depthlab.presets.files import dump_experiment

    sys.stdout.write(dump_experiment(p, fmt.value))


@app.command()
def schema() -> None:
    """Print the JSON Schema of an experiment file (every field with its description), for editors."""
    from depthlab.presets.files import experiment_schema

    sys.stdout.write(json.dumps(experiment_schema(), indent=2) + "\n")


@app.command()
def run(
    preset: Annotated[str, typer.Argument(help="Preset name (see `depthlab presets`) or an experiment file "
                                           "(.toml/.yaml/.json)")] = DEFAULT,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override key=value (repeatable)")] = None,
    trials: Annotated[int | None, typer.Option(help="Number of trials per cell")] = None,
    store: StoreOpt = None,
    workers: Annotated[
        int | None, typer.Option(help="Run on a Dask LocalCluster of N worker processes on this machine")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Run on an existing Dask scheduler, e.g. tcp://host:8786")
    ] = None,
    cluster: Annotated[
        ClusterKind | None, typer.Option(help="Run on SLURM jobs (dask-jobqueue), see --cluster-config")
    ] = None,
    cluster_config: Annotated[
        Path | None, typer.Option(help="TOML file with a [slurm] table (queue, cores, memory, walltime, jobs...)")
    ] = None,
    retries: Annotated[
        int, typer.Option(min=0, max=100, help="Dask: worker deaths / errors a cell survives before it fails")
    ] = DEFAULT_RETRIES,
    executor: Annotated[
        Executor | None, typer.Option(help="Deprecated: local is the default, dask means --workers 1")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the grid and projected time; run nothing")
    ] = False,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first failed cell (Dask: cancel the remaining cells)")
    ] = False,
) -> None:
    """Run every cell of a preset's grid (resuming: finished cells are skipped), storing each at once.

    In this process by default; --workers N, --scheduler ADDRESS or --cluster slurm run the cells as Dask
    tasks, one per cell, and commit each result to the store as it arrives. A failed cell is recorded with
    its traceback (`depthlab results --failed`) and runs again next time; --fail-fast stops the sweep at the
    first one (the cells finished until then stay stored) and prints its traceback."""
    from depthlab.sweep.executors import (
        feasibility,
        infeasible_summary,
        memory_report,
        plan,
        run_local,
        run_on_client,
        worker_memory,
    )

    try:
        mode = execution_mode(workers, scheduler, cluster.value if cluster else None,
                              executor.value if executor else None)
        if cluster_config is not None and mode != "slurm":
            raise ClusterError("--cluster-config is only used with --cluster slurm")
        slurm = load_slurm_settings(cluster_config) if mode == "slurm" else None
    except ClusterError as e:
        raise _fail(str(e)) from None
    if executor is not None:
        err.print("note: --executor is deprecated: in-process is the default, use --workers N for Dask")
    p = _resolve(preset, set_, trials)
    store_path = Path(store or default_store_path())
    from depthlab.sweep import interrupts

    planned: list[Any] = []

    def stopped_line(signum: int) -> str:
        """What an interrupted run says (interrupts.py: Ctrl-C / SIGTERM exit with 130 / 143)."""
        name = signal.Signals(signum).name
        if not planned:
            return f"interrupted by {name} before any cell ran; nothing stored was changed"
        q = planned[0]
        stored = len(q.cells) - len(q.tasks) + q.stored
        return (f"interrupted by {name}: {stored} of {len(q.cells)} cells are stored ({q.stored} by this run; "
                "the cell in flight is lost); run the same command again to resume")

    # where a cell cannot fit in memory (refused below) no store is created either
    memory = worker_memory(mode, workers, slurm.memory if slurm else None, slurm.processes if slurm else 1)
    from depthlab.sweep.grid import expand

    may_refuse = any(feasibility(c, memory).refuses_run for c in expand(p))
    # a dry run of a store that does not exist yet plans against an empty one and creates no file; of one that
    # exists, reads it only (a store on read-only media can be planned against)
    readable = store_path.is_file() and store_path.stat().st_size > 0
    with interrupts.guard(stopped_line) as stop, (
            Store(":memory:") if (dry_run or may_refuse) and not store_path.exists()
            else _store(store, readonly=dry_run and readable)) as st:
        pl = plan(p, st, register=False)
        # every cell still to run, checked against the memory where it will run, before anything is computed
        checked = [feasibility(task.cell, memory) for task in pl.tasks]
        fits = {f.cell.key: f for f in checked}
        refused = [f for f in checked if f.refuses_run]
        if refused and not dry_run:
            raise _fail(f"cannot run {p.name}: {infeasible_summary(refused, memory)}")
        if not dry_run:
            try:
                pl = plan(p, st)
            except sqlite3.DatabaseError as e:
                if fault(e) is None:
                    raise
                raise _fail(write_failure(e, store_path, "the sweep") + "; nothing was run") from None
        planned.append(pl)
        done = len(pl.cells) - len(pl.tasks)
        console.print(
            f"[bold]{escape(p.name)}[/]: {len(pl.cells)} cells x {p.trials} trials "
            f"({len(pl.tasks)} to run, {done} complete) -> {escape(str(store_path))}",
            highlight=False,
        )
        if dry_run:
            from depthlab.bench import (
                THROUGHPUT_FILE,
                load_throughput,
                measured_compile_seconds,
                projected_compile_seconds,
            )
            from depthlab.sweep.executors import PROJECTED_GFLOPS

            measured = load_throughput()
            compile_measured = measured_compile_seconds(st.runs())
            compile_secs = projected_compile_seconds([task.cell for task in pl.tasks], compile_measured)
            # learners' FLOPs (computed trials x the learner's count) apart from compilation (seconds)
            t = _table("method", "d", "n", "kappa", "trials to run", "computed (blocks)", "learner GFLOP",
                       "compile s", "MiB/trial", "feasible")
            learner_secs = 0.0
            for task, comp in zip(pl.tasks, compile_secs, strict=True):
                c = task.cell
                fit = fits[c.key]
                ok = (Text.assemble(("no", "red"), f": {fit.problem}") if fit.problem else
                      Text("yes" if fit.note is None else f"yes ({fit.note})"))
                mib = fit.trial_bytes / 2**20
                flop = computed_trials(c, task.trials) * c.learner.flops(c.d, c.n)
                learner_secs += flop / ((measured or {}).get(c.learner.kind, PROJECTED_GFLOPS) * 1e9)
                _row(t, c.method, str(c.d), str(c.n), f"{c.kappa:.3f}", str(len(task.trials)),
                          f"{computed_trials(c, task.trials)} ({c.block()}/block)", f"{flop / 1e9:.1f}",
                          f"{comp:.1f}", f"{mib:.0f}", ok)
            console.print(t)
            _say(console, memory_report(checked, memory))
            secs = learner_secs + sum(compile_secs)
            source = f"measured by `depthlab bench` ({THROUGHPUT_FILE})" if measured else "default estimate"
            csource = ("median of this store's recorded compile times" if compile_measured
                       else "default estimate, no compile times in this store")
            _say(console, f"projected time: {secs:.0f} s ({secs / 3600:.2f} h) on this machine: learners "
                          f"{learner_secs:.0f} s (throughput: {source}) + compilation {sum(compile_secs):.0f} s "
                          f"with an empty compilation cache ({csource}; a warm cache compiles nothing)")
            return
        if not pl.tasks:
            console.print("nothing to do: every cell is in the store")
            return
        stop.raise_interrupt = True  # a signal from here on stops the run through KeyboardInterrupt (below)
        failed, diverged, finished = 0, 0, 0
        first_failure: list[Any] = []
        not_run: list[Any] = []
        t0 = time.perf_counter()
        columns = [
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TextColumn("{task.fields[cells]}/{task.fields[total_cells]} cells"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        ]
        # a rich bar on a terminal; plain lines for logs (LineProgress)
        live = console.is_terminal
        with Progress(*columns, console=console, transient=False, disable=not live) as prog:
            bar = prog.add_task("running", total=pl.total_cost, cells=0, total_cells=len(pl.tasks))
            lines = None if live else LineProgress(console, pl.total_cost, len(pl.tasks))

            def on_done(task: Any, res: Any) -> None:
                nonlocal failed, diverged, finished
                finished += 1
                failed += res.status == "failed"
                diverged += sum(r["status"] == "diverged" for r in res.rows)
                if res.status == "failed":
                    if not first_failure:
                        first_failure.extend((task, res))
                    prog.console.print(Text.assemble(("failed", "red"), f" {task.cell.label}: "
                                                     f"{summary_line(res.message)}"), highlight=False)
                prog.update(
                    bar,
                    advance=task.cost,
                    cells=prog.tasks[bar].fields["cells"] + 1,
                    description=task.cell.label,
                )
                if lines is not None:
                    lines.advance(task.cost, task.cell.label)

            try:
                if mode == "local":
                    not_run = run_local(pl, st, on_done, fail_fast=fail_fast)
                else:
                    where = {"workers": f"a LocalCluster of {workers or 1} workers", "scheduler": str(scheduler),
                             "slurm": f"SLURM ({slurm.jobs if slurm else 1} jobs)"}[mode]
                    with dask_client(mode, workers=workers, scheduler=scheduler, slurm=slurm, retries=retries) as cl:
                        _say(prog.console, f"running on {where}: scheduler {cl.scheduler.address}")
                        name = {"workers": f"dask-local:{workers or 1}", "scheduler": f"dask:{scheduler}",
                                "slurm": "dask-slurm"}[mode]
                        not_run = run_on_client(pl, st, cl, on_done, retries=retries, executor=name,
                                                fail_fast=fail_fast)
            except ClusterError as e:
                prog.stop()
                raise _fail(str(e)) from None
            except StoreWriteError as e:  # locked for too long, disk full, read-only: one line, no traceback
                prog.stop()
                q = planned[0]
                raise _fail(f"{e}; {len(q.cells) - len(q.tasks) + q.stored} of {len(q.cells)} cells are stored; "
                            + ("free some space and " if e.kind == "full" else "")
                            + "run the same command again to resume", 1) from None
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: exit now, without waiting for the background compiler
                prog.stop()
                signum = interrupts.signalled() or signal.SIGINT
                st.close()
                interrupts.exit_now(interrupts.exit_code(signum), stopped_line(signum))
        if not_run:
            task, res = first_failure
            err.print(res.message, markup=False, highlight=False)
            raise _fail(
                f"stopped at the first failed cell (--fail-fast): {task.cell.label}: "
                f"{summary_line(res.message)}; "
                f"{finished - failed} cells ok and stored, {len(not_run)} not run",
                1,
            )
        console.print(
            f"done in {time.perf_counter() - t0:.1f} s: {finished - failed} cells ok, {failed} failed, "
            f"{diverged} diverged trials"
        )
        if failed:
            err.print("`depthlab results --failed` shows the tracebacks")
            raise typer.Exit(1)


def _debug_cell(p: Preset, spec: str) -> Any:
    """The cell of ``p`` that ``--cell METHOD,d,n`` names; a one-line error naming the valid choices."""
    from depthlab.sweep.grid import expand

    cells = expand(p)
    example = f"{cells[0].method},{cells[0].d},{cells[0].n}" if cells else "METHOD,d,n"
    parts = [x.strip() for x in spec.split(",")]
    if len(parts) != 3:
        raise _fail(f"--cell must be METHOD,d,n (e.g. {example}), got {spec!r}")
    method, d_text, n_text = parts
    if method not in p.methods:
        raise _fail(f"unknown method {method!r} in preset {p.name}; choose from: {', '.join(p.methods)}")
    try:
        d, n = int(d_text), int(n_text)
    except ValueError:
        raise _fail(f"--cell must be METHOD,d,n with integers d and n (e.g. {example}), got {spec!r}") from None
    if d not in p.ds:
        raise _fail(f"d={d} is not in preset {p.name}; choose from: {', '.join(map(str, p.ds))}")
    ns = [c.n for c in cells if c.method == method and c.d == d]
    for c in cells:
        if (c.method, c.d, c.n) == (method, d, n):
            return c
    raise _fail(f"n={n} is not on the grid of {method} at d={d}; choose from: {', '.join(map(str, ns)) or 'none'}")


@app.command()
def debug(
    cell: Annotated[str, typer.Option("--cell", help="The cell to run: METHOD,d,n (e.g. layerwise,8,42)")],
    preset: Annotated[str, typer.Argument(help="Preset name (see `depthlab presets`) or an experiment file "
                                           "(.toml/.yaml/.json)")] = DEFAULT,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override key=value (repeatable)")] = None,
    trials: Annotated[int | None, typer.Option(help="Number of trials (default: the preset's)")] = None,
    store: Annotated[
        Path | None,
        typer.Option("--store", help="Also record the result in this store (only the trials it lacks are run)"),
    ] = None,
    pdb_: Annotated[
        bool, typer.Option("--pdb", help="On an exception, start the Python debugger where it was raised")
    ] = False,
) -> None:
    """Run one cell of a preset in the foreground and print its metrics per trial.

    Unlike `run`, nothing is compiled in a background thread: the cell's programs are traced and compiled in
    this thread, so a breakpoint in a learner stops, and with jit disabled (JAX_DISABLE_JIT=1, or
    `jax.disable_jit()` around `depthlab.cli.app`) the trials run eagerly one by one on concrete arrays (then
    the numbers may differ from `run`'s in the last bits). Otherwise the numbers are those `run` stores for
    the cell. Nothing is written unless --store is given; with --store the result is recorded like a `run`
    of that one cell (trials already stored are not run again; refused with jit disabled)."""
    from depthlab.sweep.executors import plan, record_cell
    from depthlab.sweep.runner import enable_compilation_cache, jit_disabled, run_cell

    p = _resolve(preset, set_, trials)
    c = _debug_cell(p, cell)
    eager = jit_disabled()
    if store is not None and eager:
        raise _fail("--store with jit disabled: eager numbers may differ from compiled ones in the last bits")
    wanted = list(range(p.trials))
    st = _store(store) if store is not None else None
    try:
        task = None
        if st is not None:
            pl = plan(p, st)
            task = next((t for t in pl.tasks if t.cell.key == c.key), None)
            if task is None:
                _say(console, f"every trial of {c.label} is in {st.path}; run without --store to recompute them")
                return
            wanted = task.trials
        enable_compilation_cache()
        how = "eagerly, jit disabled" if eager else "in the foreground"
        _say(console, f"{p.name}: {c.label}, trials {wanted} ({how})")
        try:
            res = run_cell(c, wanted, foreground=True, raise_errors=pdb_)
        except Exception:
            import pdb
            import traceback

            traceback.print_exc()
            pdb.post_mortem(sys.exc_info()[2])
            raise typer.Exit(1) from None
        lines = []
        for r in res.rows:
            lines.append(f"trial {r['trial']}: {r['status']}")
            lines += [f"  {k:<14} {v!r}" for k, v in r.items() if k not in ("trial", "status")]
        sys.stdout.write("".join(line + "\n" for line in lines))
        t = res.timings
        console.print(f"wall {t.get('wall_s', 0):.2f} s (run {t.get('run_s', 0):.2f} s)")
        if st is not None and task is not None:
            try:
                record_cell(st, pl, task, res, "debug")
            except StoreWriteError as e:
                raise _fail(str(e), 1) from None
            _say(console, f"recorded in {st.path}")
    finally:
        if st is not None:
            st.close()
    if res.status == "failed":
        err.print(res.message, markup=False, highlight=False)
        raise typer.Exit(1)


def _selected_sweeps(st: Store, preset: str | None, all_sweeps: bool) -> list[tuple[str, int, int]]:
    """(preset name, sweep id, trials) of every stored sweep of ``preset`` (of any preset when None) with
    ``--all``, else of the latest sweep of ``preset``."""
    if all_sweeps:
        return [(str(s["preset"]), int(s["sweep_id"]), int(s["trials"])) for s in st.sweeps()
                if preset in (None, s["preset"])]
    p, sweep_id, trials = _stored_preset(st, preset)
    return [(p.name, sweep_id, trials)]


def _rows_and_aggregate(
    st: Store, preset: str | None, all_sweeps: bool
) -> tuple[list[dict], list[AggregateRow]]:
    rows = [r for _, sweep_id, trials in _selected_sweeps(st, preset, all_sweeps)
            for r in st.trial_rows(sweep_id, trials)]
    return rows, aggregate(rows)


def _print_failed(store: Path | None, preset: str | None, all_sweeps: bool, fmt: Fmt, output: Path | None) -> None:
    """`results --failed`: the latest failed run of each failed cell, one-line summary then traceback."""
    if fmt is Fmt.parquet:
        raise _fail("--failed is written as table (text), csv or json")
    with _store(store, readonly=True) as st:
        sweeps = _selected_sweeps(st, preset, all_sweeps)
        found = {
            (name, r["method"], r["d"], r["n"], r["message"] or ""): None
            for name, sweep_id, _ in sweeps
            for r in st.failed_runs(sweep_id)
        }
    table = [{"preset": name, "method": m, "d": d, "n": n, "summary": summary_line(msg), "message": msg}
             for name, m, d, n, msg in found]
    if fmt is Fmt.json:
        text = json.dumps(table, indent=1)
    elif fmt is Fmt.csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["preset", "method", "d", "n", "summary", "message"], lineterminator="\n")
        w.writeheader()
        w.writerows(table)
        text = buf.getvalue()
    elif table:
        text = "\n\n".join(f"== {r['preset']}: {r['method']} d={r['d']} n={r['n']}: {r['summary']}\n"
                            + (r["message"].split("\n", 1)[1] if "\n" in r["message"] else "(no traceback stored)")
                            for r in table)
    else:
        text = "no failed cells in " + ("the stored sweeps" if all_sweeps else f"the latest sweep of {sweeps[0][0]}")
    if output:
        _write_text(output, text if text.endswith("\n") else text + "\n")
        _say(err, f"wrote {len(table)} failed cells to {output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


@app.command()
def results(
    preset: Annotated[str | None, typer.Option(help="Preset name or experiment file (default: the most recently "
                                                "run)")] = None,
    store: StoreOpt = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, csv, json or parquet")] = Fmt.table,
    aggregate_: Annotated[
        bool, typer.Option("--aggregate", help="Median/IQR per method x d x kappa")
    ] = False,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to a file")] = None,
    all_sweeps: Annotated[
        bool, typer.Option("--all", help="Every stored sweep, not only the latest")
    ] = False,
    failed: Annotated[
        bool, typer.Option("--failed", help="The cells whose latest run failed, each with its full traceback")
    ] = False,
    trajectories: Annotated[
        bool, typer.Option("--trajectories", help="The metrics recorded along training (record.steps), tidy: "
                           "method, d, n, kappa, trial, step, stage, metric, value")
    ] = False,
) -> None:
    """Print or export per-trial rows, or (--aggregate, and always for tables) the per-cell aggregate.
    --failed lists the failed cells instead, with the traceback of each (as text, or csv/json);
    --trajectories the training dynamics (a table: median at init, mid-run and end per cell and metric)."""
    if failed:
        _print_failed(store, preset, all_sweeps, fmt, output)
        return
    if trajectories:
        _print_trajectories(store, preset, all_sweeps, fmt, output)
        return
    with _store(store, readonly=True) as st:
        rows, agg = _rows_and_aggregate(st, preset, all_sweeps)
    if fmt is Fmt.table:
        t = _table(
            "preset",
            "method",
            "d",
            "n",
            "kappa",
            "trials",
            "div",
            "test_mse median [q25, q75]",
            "M_W",
            "M_h",
            title="aggregate over trials (median)",
        )
        for a in agg:
            ow, oh = (a.stat(m) for m in ("overlap_w", "overlap_h"))
            _row(
                t,
                a.preset,
                a.method,
                str(a.d),
                str(a.n),
                f"{a.kappa:.2f}",
                str(a.trials),
                str(a.diverged),
                f"{a.stat('test_mse'):.4f} [{a.stat('test_mse', 'q25'):.4f}, {a.stat('test_mse', 'q75'):.4f}]",
                "-" if math.isnan(ow) else f"{ow:.3f}",
                "-" if math.isnan(oh) else f"{oh:.3f}",
            )
        console.print(t)
        return
    table = [a.as_dict() for a in agg] if aggregate_ else rows
    _export(table, fmt, output, ["preset", "method", "d", "n", "kappa", "trial", *METRICS])


def _print_trajectories(store: Path | None, preset: str | None, all_sweeps: bool, fmt: Fmt,
                        output: Path | None) -> None:
    """`results --trajectories`: tidy rows of the recorded training dynamics, or a summary table."""
    from depthlab.trajectories import COLUMNS, summarize, table

    with _store(store, readonly=True) as st:
        rows = [{"preset": name, **r} for name, sweep_id, trials in _selected_sweeps(st, preset, all_sweeps)
                for r in st.trajectory_rows(sweep_id, trials)]
    if not rows:
        raise _fail("no trajectories stored for this sweep: run it with --set record.steps=40 (or a preset that "
                    "records, e.g. dandi2025-dynamics-quick)")
    if fmt is Fmt.table:
        t = _table("method", "d", "n", "kappa", "metric", "trials", "init", "mid (step)", "final (step)",
                   title="along training (median over trials)")
        for r in table(summarize(rows)):
            _row(t, r["method"], str(r["d"]), str(r["n"]), f"{r['kappa']:.2f}", r["metric"], str(r["trials"]),
                 f"{r['init']:.4g}", f"{r['mid']:.4g} ({r['mid_step']})", f"{r['final']:.4g} ({r['final_step']})")
        console.print(t)
        return
    _export(rows, fmt, output, ["preset", *COLUMNS], default_name="trajectories.parquet")


def _export(table: list[dict[str, Any]], fmt: Fmt, output: Path | None, empty_columns: list[str],
            default_name: str = "results.parquet") -> None:
    """Write rows as csv, json or parquet to ``output`` (csv and json: stdout without it)."""
    if fmt is Fmt.parquet:
        import pyarrow as pa
        import pyarrow.parquet as pq

        out = _out_file(output or Path(default_name))
        try:
            pq.write_table(pa.Table.from_pylist(table), out)
        except OSError as e:
            raise _fail(f"cannot write {out}: {e}") from None
        _say(console, f"wrote {len(table)} rows to {out}")
        return
    if fmt is Fmt.json:
        text = json.dumps(table, indent=1)
    else:
        cols = list(dict.fromkeys(k for r in table for k in r)) or empty_columns
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(table)
        text = buf.getvalue()
    if output:
        _write_text(output, text)
        _say(err, f"wrote {len(table)} rows to {output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


@app.command()
def plot(
    preset: Annotated[str | None, typer.Option(help="Preset name or experiment file (default: the most recently "
                                                "run)")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Figure file (.png, .pdf, .svg)")] = Path(
        "depthlab.png"
    ),
    store: StoreOpt = None,
    trajectories: Annotated[bool, typer.Option(
        "--trajectories", help="Training dynamics instead: each recorded metric vs training step per kappa "
        "(median, IQR band), one row of panels per method, stage boundaries marked")] = False,
) -> None:
    """Test error vs kappa (median, IQR band) per method, and the overlaps M_W, M_h vs kappa."""
    from depthlab.plots import plot_sweep, plot_trajectories, supported_formats

    _out_file(output, supported_formats())
    with _store(store, readonly=True) as st:
        p, sweep_id, trials = _stored_preset(st, preset)
        if trajectories:
            from depthlab.trajectories import summarize

            along = st.trajectory_rows(sweep_id, trials)
        else:
            rows = st.trial_rows(sweep_id, trials)
            agg = aggregate(rows)
    if trajectories:
        if not along:
            raise _fail(f"the stored sweep of {p.name!r} recorded no trajectories: run it with --set "
                        "record.steps=40")
        try:
            written = plot_trajectories(summarize(along), output, title=f"{p.name}: {p.description}")
        except OSError as e:
            raise _fail(f"cannot write {output}: {e.strerror or e}") from None
        _say(console, f"wrote {written[0]} (and as PNG and SVG beside it)")
        return
    if not agg:
        raise _fail(f"the stored sweep of {p.name!r} has no finished trials yet")
    ds = sorted({a.d for a in agg})
    from depthlab.results import typical_references

    refs = typical_references(p, rows)  # per-instance targets: the median over the trials' own instances
    title = f"{p.name}: {p.description}"
    predicted = {m: pr.kappa_at(max(ds)) for m, pr in p.predictions.items()}
    tau = p.threshold.at(refs[max(ds)]) if p.threshold.metric == "test_mse" else None
    try:
        out = plot_sweep(agg, output, title=title, references=refs, theory=p.theory, predicted=predicted,
                         threshold=tau, roles=p.method_roles)
    except OSError as e:
        raise _fail(f"cannot write {output}: {e.strerror or e}") from None
    _say(console, f"wrote {out} (and as PNG and SVG beside it)")


def _results(store: Path | None, preset: str | None, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> Any:
    from depthlab.results import ResultsError, load_results

    try:
        return load_results(store or default_store_path(), _stored_ref(preset), n_boot=n_boot, level=level, seed=seed)
    except ResultsError as e:
        raise _fail(str(e)) from None


BootOpt = Annotated[int, typer.Option("--boot", help="Bootstrap replicates for the exponent intervals")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the bootstrap's random generator")]
LevelOpt = Annotated[float, typer.Option(help="Confidence level of the bootstrap intervals")]


@app.command()
def check(
    preset: Annotated[str, typer.Argument(help="Preset (name or experiment file) whose paper checks to "
                                           "evaluate")] = DEFAULT,
    store: StoreOpt = None,
    boot: BootOpt = 1000,
    seed: SeedOpt = 0,
    level: LevelOpt = 0.95,
) -> None:
    """Evaluate the preset's paper checks and its measured-vs-predicted exponent checks on its stored results:
    PASS / FAIL / INCONCLUSIVE / INFO with numbers. Exit status 1 if any check FAILs, else 3 if any is
    INCONCLUSIVE (the data cannot decide), else 0."""

    res = _results(store, preset, boot, seed, level)
    d = max(res.ds)
    t = _table("check", "kind", "result", "measured",
               title=f"paper checks: {res.preset.name} (d={d}, {res.trials} trials)")
    for kind, r in res.check_results:
        _row(t, r.name, kind, Text(str(r.status), style=STATUS_STYLE[str(r.status)]), r.detail)
    console.print(t)
    if res.finished_cells < res.expected_cells or res.failed:
        err.print(f"note: {res.finished_cells}/{res.expected_cells} cells have results; {len(res.failed)} cells failed")
    results = [r for _, r in res.check_results]
    _say(console, summarize(results))
    code = exit_code(results)
    if code:
        raise typer.Exit(code)


STATUS_STYLE = {"PASS": "green", "FAIL": "red", "INCONCLUSIVE": "yellow", "INFO": "dim"}

store_app = typer.Typer(no_args_is_help=True, help="Inspect the results store.")
app.add_typer(store_app, name="store")


def _print_report(title: str, rep: Any) -> None:
    t = _table("finding", "count", "details", title=title)
    _row(t, "complete cells", f"{rep.complete_cells}/{rep.expected_cells}", "")

    def show(items: list[Any], limit: int = 8) -> str:
        text = "; ".join(items[:limit])
        return text + (f"; ... ({len(items) - limit} more)" if len(items) > limit else "")

    rows = [
        ("missing cells", rep.missing_cells, [str(x) for x in rep.missing_cells]),
        ("incomplete cells", rep.incomplete_cells, [f"{lab}: trials {m}" for lab, m in rep.incomplete_cells]),
        ("duplicate trial rows", rep.duplicate_rows, [f"{lab} trial {t} x{k}" for lab, t, k in rep.duplicate_rows]),
        ("trials computed twice", rep.recomputed, [f"{lab} trial {t} x{k}" for lab, t, k in rep.recomputed]),
        ("failed cells", rep.failed_cells, [f"{lab}: {summary_line(msg)}" for lab, msg in rep.failed_cells]),
    ]
    for name, items, details in rows:
        _row(t, Text(name, style="red" if items else ""), str(len(items)), show(details))
    if rep.orphan_rows:
        _row(t, Text("trial rows without a run", style="red"), str(rep.orphan_rows), "")
    console.print(t)


@store_app.command("check")
def store_check(
    preset: Annotated[
        str | None, typer.Option(help="Preset to check (default: every stored sweep)")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Check this configuration instead of the stored one")
    ] = None,
    trials: Annotated[int | None, typer.Option(help="Expected trials per cell (with --preset)")] = None,
    store: StoreOpt = None,
    repair: Annotated[
        bool, typer.Option("--repair", help="Resolve trials computed twice: the first stored result wins, the "
                           "later runs' claims on it are dropped")
    ] = False,
) -> None:
    """Verify the store: SQLite integrity, schema version, and per sweep the missing or incomplete cells,
    duplicate or recomputed trials and failed cells. Exit 0 if all is well, 1 on a finding, 2 if unusable.

    With --preset the latest stored sweep of the preset is checked, or with --set/--trials the configuration
    they give (the same options as `depthlab run`). --repair first resolves trials computed by more than one
    run (two `run`s on one store) by the first-result-wins rule: the stored trial and its metrics stay, the
    later runs no longer list it (a run left with no trial is deleted); a damaged store is never repaired."""
    from depthlab.sweep.executors import config_hash
    from depthlab.sweep.grid import expand

    path = store or default_store_path()
    try:
        integrity = integrity_check(path)
    except StoreError as e:
        raise _fail(str(e)) from None
    if integrity != ["ok"]:
        err.print(Text.assemble(("integrity check failed", "bold red"), f" for {path} (left unchanged):"),
                  highlight=False)
        for line in integrity[:20]:
            _say(err, f"  {line}")
        raise typer.Exit(1)
    checks: list[tuple[str, list[tuple[str, str]], int]] = []
    with _store(path, readonly=not repair) as st:
        if preset is not None and (set_ or trials is not None):
            p = _resolve(preset, set_, trials)
            cells = [(c.key, c.label) for c in expand(p)]
            checks.append((f"{p.name} (config {config_hash(p)[:12]}, {p.trials} trials)", cells, p.trials))
        else:
            sweeps = [r for r in st.sweeps() if preset in (None, r["preset"])]
            if preset is not None:
                latest = st.latest_sweep(preset)
                sweeps = [latest] if latest is not None else []
                if not sweeps:
                    raise _fail(f"no sweep of preset {preset!r} in {path}; pass --set/--trials to check a "
                                "configuration, or run it first", 1)
            for r in sweeps:
                title = f"{r['preset']} (config {r['config_hash'][:12]}, {r['trials']} trials)"
                checks.append((title, st.sweep_cells(int(r["sweep_id"])), int(r["trials"])))
        version = st.schema_version()
        _say(console, f"{path}: integrity ok, schema version {version}, {len(checks)} sweep(s) to check")
        if repair:
            changed = st.repair_recomputed(list(dict.fromkeys(c for _, cells, _ in checks for c in cells)))
            for line in changed:
                _say(console, f"repaired: {line}")
            _say(console, f"repaired {len(changed)} run(s): the first stored result of each trial wins"
                 if changed else "nothing to repair: no trial was computed twice")
        all_ok = True
        for title, cells, n_trials in checks:
            rep = st.check(cells, n_trials)
            _print_report(title, rep)
            all_ok &= rep.ok
        if not checks:
            console.print("the store holds no sweeps")
    console.print("[green]ok[/]: nothing missing, duplicated or failed" if all_ok else "[red]problems found[/]")
    if not all_ok:
        raise typer.Exit(1)


@app.command()
def exponents(
    preset: Annotated[str | None, typer.Option(help="Preset name or experiment file (default: the most recently "
                                                "run)")] = None,
    store: StoreOpt = None,
    boot: BootOpt = 1000,
    seed: SeedOpt = 0,
    level: LevelOpt = 0.95,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, csv or json")] = Fmt.table,
    per_d: Annotated[bool, typer.Option("--per-d", help="csv/json: one row per method and d")] = False,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write csv/json to a file")] = None,
) -> None:
    """Measured sample-complexity exponents vs the paper's predictions: kappa* = log n*/log d per method and d
    (n* = first n where the median error crosses the preset's threshold), the slope of log n* vs log d over
    several d, percentile-bootstrap intervals over trials."""
    from depthlab.results import fmt_kappa_ci

    res = _results(store, preset, boot, seed, level)
    table = res.kappa_table() if per_d else res.exponent_table()
    if fmt is Fmt.parquet:
        raise _fail("exponents are written as table, csv or json")
    if fmt is not Fmt.table:
        if fmt is Fmt.json:
            text = json.dumps(table, indent=1, default=str)
        else:
            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=list(table[0]) if table else ["method"], lineterminator="\n")
            w.writeheader()
            w.writerows({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in r.items()} for r in table)
            text = buf.getvalue()
        if output:
            _write_text(output, text)
            _say(err, f"wrote {len(table)} rows to {output}")
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    lvl = f"{res.level:.0%}"
    t = _table("method", "d", "n*", f"kappa* [{lvl} CI]", "predicted kappa*", "threshold",
               title=f"kappa* = log n*/log d: {res.preset.name} ({res.trials} trials, {res.n_boot} bootstraps)")
    for r in res.kappa_table():
        cens = {"": "=", "above": ">", "below": "<="}[r["censored"]]
        _row(t, r["method"], str(r["d"]), f"{cens} {r['n_star']:.0f}",
                  f"{cens} {r['kappa']:.2f} "
                  + fmt_kappa_ci(r["ci_lo"], r["ci_hi"], r["grid_kappa_min"], r["grid_kappa_max"]),
                  "-" if math.isnan(r["predicted_kappa"]) else f"{r['predicted_kappa']:.2f}", r["threshold"])
    console.print(t)
    rows = res.exponent_table()
    multi = len(res.ds) >= 2
    t2 = _table("method", "measured", "predicted", "relation", "verdict", "prediction",
                title="measured vs predicted "
                + ("slope of log n* vs log d" if multi else f"kappa* at d={max(res.ds)}"))
    for r in rows:
        if multi:
            sign = {"exact": "=", "lower": ">=", "upper": "<=", "none": "?"}[r["slope_bound"]]
            meas = (f"{sign} {r['slope']:.2f} [{r['slope_ci_lo']:.2f}, {r['slope_ci_hi']:.2f}]"
                    if r["slope_bound"] != "none" else "not measured (censored)")
            pred = f"{r['predicted_slope']:.2f} (asympt. {r['exponent']:g})"
        else:
            cens = {"": "=", "above": ">", "below": "<="}[r["kappa_censored"]]
            ci = fmt_kappa_ci(r["kappa_ci_lo"], r["kappa_ci_hi"], r["grid_kappa_min"], r["grid_kappa_max"])
            meas = f"{cens} {r['kappa']:.2f} {ci}"
            pred = f"{r['predicted_kappa']:.2f}"
        has = r["verdict"] != "no prediction"
        color = {"agrees": "green", "inconclusive": "yellow", "disagrees": "red"}.get(r["verdict"], "dim")
        _row(t2, r["method"], meas, pred if has else "-",
             f"{r['relation']} +-{r['tolerance']:.2f}" if has else "-", Text(str(r["verdict"]), style=color),
             f"{r['formula']} ({r['source']})" if has else "")
    console.print(t2)
    for m, why in res.errors.items():
        _say(err, f"{m}: not measured ({why})")


@app.command()
def report(
    preset: Annotated[str, typer.Argument(help="Preset (name or experiment file) whose stored sweep to "
                                           "report")] = DEFAULT,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for index.html and figures/")] = Path(
        "report"
    ),
    store: StoreOpt = None,
    boot: BootOpt = 1000,
    seed: SeedOpt = 0,
    level: LevelOpt = 0.95,
) -> None:
    """Write a self-contained HTML report (DIR/index.html): checks, exponents vs predictions, figures,
    aggregates, configuration and provenance."""
    from depthlab.report import write_report

    _out_dir(output)
    res = _results(store, preset, boot, seed, level)
    try:
        page = write_report(res, output)
    except OSError as e:
        raise _fail(f"cannot write the report into {output}: {e.strerror or e}") from None
    _say(console, f"wrote {page} (checks: {summarize([r for _, r in res.check_results])})")


@app.command()
def bench(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for bench.md and bench.json")] = Path(
        "benchmarks/results"
    ),
    section: Annotated[
        list[str] | None, typer.Option(help="Sections: learners, precision, scaling, memory, recording, end_to_end "
                                       "(default all); cold_start (every quick preset cold and warm) and "
                                       "public_code (the public code of Dandi et al. 2025 side by side, where "
                                       "$DEPTHLAB_PUBLIC_CODE and $DEPTHLAB_PUBLIC_PYTHON name it) and "
                                       "paper_sweep (a paper-scale sweep against its FLOP floor) and overlap "
                                       "(background compilation on or off, quick cold) only by name")
    ] = None,
    preset: Annotated[
        list[str] | None, typer.Option(help="cold_start: only these presets (default every quick preset)")
    ] = None,
) -> None:
    """Run the benchmark suite: GEMM peak, learner throughput, end-to-end quick, scaling, memory, precision."""
    from depthlab.bench import main, markdown

    try:
        report = main(output, tuple(section or ["all"]), tuple(preset or ()))
    except ValueError as e:
        raise _fail(str(e)) from None
    console.print(markdown(report), highlight=False)
    _say(console, f"wrote {output / 'bench.md'} and {output / 'bench.json'}")


if __name__ == "__main__":  # pragma: no cover
    app()
