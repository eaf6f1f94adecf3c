"""depthlab command line: presets, show, run, results, plot, exponents, check, report, bench."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from depthlab.analysis import METRICS, AggregateRow, aggregate
from depthlab.presets import DEFAULT, Preset, PresetError, all_presets, apply_overrides, get_preset
from depthlab.store import Store, StoreError, default_store_path

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


def _fail(msg: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {msg}", highlight=False)
    return typer.Exit(code)


def _store(path: Path | None, readonly: bool = False) -> Store:
    try:
        return Store(path or default_store_path(), readonly=readonly)
    except StoreError as e:
        raise _fail(str(e)) from None


def _resolve(name: str, overrides: list[str] | None, trials: int | None) -> Preset:
    try:
        return apply_overrides(get_preset(name), overrides or [], trials)
    except PresetError as e:
        raise _fail(str(e)) from None


def _stored_preset(store: Store, preset: str | None) -> tuple[Preset, int, int]:
    row = store.latest_sweep(preset)
    if row is None:
        where = f"preset {preset!r}" if preset else "any preset"
        raise _fail(f"no results for {where} in {store.path}; run `depthlab run {preset or DEFAULT}` first")
    from depthlab.results import stored_preset

    return stored_preset(row["config_json"]), int(row["sweep_id"]), int(row["trials"])


def _references(preset: Preset, ds: list[int]) -> dict[int, dict[str, float]]:
    return {d: preset.target_for(d).reference_levels() for d in ds}


@app.command()
def presets() -> None:
    """List the presets: name, paper, grid size, estimated runtime on 2 cores, description."""
    t = Table(title="depthlab presets")
    for col in ("name", "paper", "cells x trials", "runtime (2 cores)", "description"):
        t.add_column(col)
    from depthlab.sweep.grid import expand

    for p in all_presets():
        cells = len(expand(p))
        t.add_row(
            p.name + (" (default)" if p.name == DEFAULT else ""),
            p.paper,
            f"{cells} x {p.trials}",
            p.est_runtime,
            p.description,
        )
    console.print(t)


@app.command()
def show(
    preset: Annotated[str, typer.Argument(help="Preset name")] = DEFAULT,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override key=value (repeatable)")] = None,
    trials: Annotated[int | None, typer.Option(help="Number of trials per cell")] = None,
) -> None:
    """Print the resolved preset configuration (after --set overrides) as JSON."""
    console.print_json(_resolve(preset, set_, trials).model_dump_json())


@app.command()
def run(
    preset: Annotated[str, typer.Argument(help="Preset name (see `depthlab presets`)")] = DEFAULT,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override key=value (repeatable)")] = None,
    trials: Annotated[int | None, typer.Option(help="Number of trials per cell")] = None,
    store: StoreOpt = None,
    executor: Annotated[Executor, typer.Option(help="local (this process) or dask")] = Executor.local,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (default: a LocalCluster)")
    ] = None,
    workers: Annotated[int, typer.Option(help="LocalCluster worker processes (dask executor)")] = 1,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the grid and projected time; run nothing")
    ] = False,
) -> None:
    """Run every cell of a preset's grid (resuming: finished cells are skipped), storing each at once."""
    from depthlab.sweep.executors import plan, run_dask, run_local

    p = _resolve(preset, set_, trials)
    with _store(store) as st:
        pl = plan(p, st)
        done = len(pl.cells) - len(pl.tasks)
        console.print(
            f"[bold]{p.name}[/]: {len(pl.cells)} cells x {p.trials} trials "
            f"({len(pl.tasks)} to run, {done} complete) -> {st.path}"
        )
        if dry_run:
            t = Table("method", "d", "n", "kappa", "trials to run", "GFLOP", "MiB/trial", "feasible")
            for task in pl.tasks:
                c = task.cell
                try:
                    c.learner.check_feasible(c.d, c.n)
                    ok = "yes"
                except ValueError as e:
                    ok = f"[red]no[/]: {e}"
                mib = c.learner.memory_bytes(c.d, c.n) / 2**20
                t.add_row(c.method, str(c.d), str(c.n), f"{c.kappa:.3f}", str(len(task.trials)),
                          f"{task.cost / 1e9:.0f}", f"{mib:.0f}", ok)
            console.print(t)
            from depthlab.bench import THROUGHPUT_FILE, load_throughput

            measured = load_throughput()
            secs = pl.projected_seconds(measured)
            source = f"measured by `depthlab bench` ({THROUGHPUT_FILE})" if measured else "default estimate"
            console.print(f"projected time: {secs:.0f} s ({secs / 3600:.2f} h) on this machine; throughput: {source}")
            return
        if not pl.tasks:
            console.print("nothing to do: every cell is in the store")
            return
        failed, diverged = 0, 0
        t0 = time.perf_counter()
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[cells]}/{task.fields[total_cells]} cells"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, console=console, transient=False) as prog:
            bar = prog.add_task("running", total=pl.total_cost, cells=0, total_cells=len(pl.tasks))

            def on_done(task: Any, res: Any) -> None:
                nonlocal failed, diverged
                failed += res.status == "failed"
                diverged += sum(r["status"] == "diverged" for r in res.rows)
                if res.status == "failed":
                    prog.console.print(f"[red]failed[/] {task.cell.label}: {res.message}")
                prog.update(
                    bar,
                    advance=task.cost,
                    cells=prog.tasks[bar].fields["cells"] + 1,
                    description=task.cell.label,
                )

            try:
                if executor is Executor.dask:
                    run_dask(pl, st, on_done, address=scheduler, n_workers=workers)
                else:
                    run_local(pl, st, on_done)
            except KeyboardInterrupt:
                prog.stop()
                err.print("interrupted: finished cells are stored; run the same command again to resume")
                raise typer.Exit(130) from None
        console.print(
            f"done in {time.perf_counter() - t0:.1f} s: {len(pl.tasks) - failed} cells ok, {failed} failed, "
            f"{diverged} diverged trials"
        )
        if failed:
            raise typer.Exit(1)


def _rows_and_aggregate(
    st: Store, preset: str | None, all_sweeps: bool
) -> tuple[list[dict], list[AggregateRow]]:
    sweeps = st.sweeps() if all_sweeps else []
    if all_sweeps:
        rows = [
            r
            for s in sweeps
            if preset in (None, s["preset"])
            for r in st.trial_rows(s["sweep_id"], s["trials"])
        ]
    else:
        _, sweep_id, trials = _stored_preset(st, preset)
        rows = st.trial_rows(sweep_id, trials)
    return rows, aggregate(rows)


@app.command()
def results(
    preset: Annotated[str | None, typer.Option(help="Preset (default: the most recently run)")] = None,
    store: StoreOpt = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, csv, json or parquet")] = Fmt.table,
    aggregate_: Annotated[
        bool, typer.Option("--aggregate", help="Median/IQR per method x d x kappa")
    ] = False,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to a file")] = None,
    all_sweeps: Annotated[
        bool, typer.Option("--all", help="Every stored sweep, not only the latest")
    ] = False,
) -> None:
    """Print or export per-trial rows, or (--aggregate, and always for tables) the per-cell aggregate."""
    with _store(store, readonly=True) as st:
        rows, agg = _rows_and_aggregate(st, preset, all_sweeps)
    if fmt is Fmt.table:
        t = Table(
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
            t.add_row(
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
    if fmt is Fmt.parquet:
        import pyarrow as pa
        import pyarrow.parquet as pq

        out = output or Path("results.parquet")
        pq.write_table(pa.Table.from_pylist(table), out)
        console.print(f"wrote {len(table)} rows to {out}")
        return
    if fmt is Fmt.json:
        text = json.dumps(table, indent=1)
    else:
        cols = list(dict.fromkeys(k for r in table for k in r)) or [
            "preset",
            "method",
            "d",
            "n",
            "kappa",
            "trial",
            *METRICS,
        ]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(table)
        text = buf.getvalue()
    if output:
        output.write_text(text)
        err.print(f"wrote {len(table)} rows to {output}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


@app.command()
def plot(
    preset: Annotated[str | None, typer.Option(help="Preset (default: the most recently run)")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Figure file (.png, .pdf, .svg)")] = Path(
        "depthlab.png"
    ),
    store: StoreOpt = None,
) -> None:
    """Test error vs kappa (median, IQR band) per method, and the overlaps M_W, M_h vs kappa."""
    from depthlab.plots import plot_sweep

    with _store(store, readonly=True) as st:
        p, sweep_id, trials = _stored_preset(st, preset)
        agg = aggregate(st.trial_rows(sweep_id, trials))
    if not agg:
        raise _fail(f"the stored sweep of {p.name!r} has no finished trials yet")
    ds = sorted({a.d for a in agg})
    refs = _references(p, ds)
    title = f"{p.name}: {p.description}"
    predicted = {m: pr.kappa_at(max(ds)) for m, pr in p.predictions.items()}
    tau = p.threshold.at(refs[max(ds)]) if p.threshold.metric == "test_mse" else None
    out = plot_sweep(agg, output, title=title, references=refs, theory=p.theory, predicted=predicted, threshold=tau)
    console.print(f"wrote {out} (and as PNG and SVG beside it)")


def _results(store: Path | None, preset: str | None, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> Any:
    from depthlab.results import ResultsError, load_results

    try:
        return load_results(store or default_store_path(), preset, n_boot=n_boot, level=level, seed=seed)
    except ResultsError as e:
        raise _fail(str(e)) from None


BootOpt = Annotated[int, typer.Option("--boot", help="Bootstrap replicates for the exponent intervals")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the bootstrap's random generator")]
LevelOpt = Annotated[float, typer.Option(help="Confidence level of the bootstrap intervals")]


@app.command()
def check(
    preset: Annotated[str, typer.Argument(help="Preset whose paper checks to evaluate")] = DEFAULT,
    store: StoreOpt = None,
    boot: BootOpt = 1000,
    seed: SeedOpt = 0,
    level: LevelOpt = 0.95,
) -> None:
    """Evaluate the preset's paper checks and its measured-vs-predicted exponent checks on its stored results:
    PASS/FAIL with numbers; exit 1 on a FAIL."""
    res = _results(store, preset, boot, seed, level)
    d = max(res.ds)
    t = Table("check", "kind", "result", "measured",
              title=f"paper checks: {res.preset.name} (d={d}, {res.trials} trials)")
    for kind, r in res.check_results:
        t.add_row(r.name, kind, "[green]PASS[/]" if r.passed else "[red]FAIL[/]", r.detail)
    console.print(t)
    if res.finished_cells < res.expected_cells or res.failed:
        err.print(f"note: {res.finished_cells}/{res.expected_cells} cells have results; {len(res.failed)} cells failed")
    n_fail = sum(not r.passed for _, r in res.check_results)
    console.print(f"{len(res.check_results) - n_fail} passed, {n_fail} failed")
    if n_fail:
        raise typer.Exit(1)


@app.command()
def exponents(
    preset: Annotated[str | None, typer.Option(help="Preset (default: the most recently run)")] = None,
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
            output.write_text(text)
            err.print(f"wrote {len(table)} rows to {output}")
        else:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    lvl = f"{res.level:.0%}"
    t = Table("method", "d", "n*", f"kappa* [{lvl} CI]", "predicted kappa*", "threshold",
              title=f"kappa* = log n*/log d: {res.preset.name} ({res.trials} trials, {res.n_boot} bootstraps)")
    for r in res.kappa_table():
        cens = {"": "=", "above": ">", "below": "<="}[r["censored"]]
        t.add_row(r["method"], str(r["d"]), f"{cens} {r['n_star']:.0f}",
                  f"{cens} {r['kappa']:.2f} "
                  + fmt_kappa_ci(r["ci_lo"], r["ci_hi"], r["grid_kappa_min"], r["grid_kappa_max"]),
                  "-" if math.isnan(r["predicted_kappa"]) else f"{r['predicted_kappa']:.2f}", r["threshold"])
    console.print(t)
    rows = res.exponent_table()
    multi = len(res.ds) >= 2
    t2 = Table("method", "measured", "predicted", "relation", "verdict", "prediction",
               title="measured vs predicted " + ("slope of log n* vs log d" if multi else f"kappa* at d={max(res.ds)}"))
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
        color = {"agrees": "green", "consistent": "cyan", "disagrees": "red"}.get(r["verdict"], "dim")
        t2.add_row(r["method"], meas, pred if has else "-",
                   f"{r['relation']} +-{r['tolerance']:g}" if has else "-", f"[{color}]{r['verdict']}[/]",
                   f"{r['formula']} ({r['source']})" if has else "")
    console.print(t2)
    for m, why in res.errors.items():
        err.print(f"{m}: not measured ({why})")


@app.command()
def report(
    preset: Annotated[str, typer.Argument(help="Preset whose stored sweep to report")] = DEFAULT,
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

    res = _results(store, preset, boot, seed, level)
    page = write_report(res, output)
    n_fail = sum(not r.passed for _, r in res.check_results)
    console.print(f"wrote {page} ({len(res.check_results) - n_fail}/{len(res.check_results)} checks pass)")


@app.command()
def bench(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for bench.md and bench.json")] = Path(
        "benchmarks/results"
    ),
    section: Annotated[
        list[str] | None, typer.Option(help="Sections: learners, precision, scaling, memory, end_to_end (default all)")
    ] = None,
) -> None:
    """Run the benchmark suite: GEMM peak, learner throughput, end-to-end quick, scaling, memory, precision."""
    from depthlab.bench import _md, main

    report = main(output, tuple(section or ["all"]))
    console.print(_md(report), highlight=False)
    console.print(f"wrote {output / 'bench.md'} and {output / 'bench.json'}")


if __name__ == "__main__":  # pragma: no cover
    app()
