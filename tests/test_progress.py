"""Progress that logs can read (plain lines when stdout is not a terminal) and the dry run's projection of
learner FLOPs and compile seconds, apart."""

import io
import json

from rich.console import Console
from typer.testing import CliRunner

from depthlab.bench import DEFAULT_COMPILE_S, measured_compile_seconds, projected_compile_seconds
from depthlab.cli import LineProgress, app
from depthlab.presets import apply_overrides, get_preset
from depthlab.store import Store
from depthlab.sweep.executors import plan, run_local
from depthlab.sweep.grid import expand

from ._tiny import TINY_OVERRIDES

runner = CliRunner()


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_line_progress_prints_done_total_elapsed_and_eta_at_most_every_n_seconds():
    out, clock = io.StringIO(), _Clock()
    con = Console(file=out, width=200)
    lines = LineProgress(con, total_cost=10.0, total_cells=4, every=10.0, clock=clock)
    clock.t += 5
    lines.advance(2.0, "a d=8 n=16 [bold]x[/]")  # first cell: printed
    clock.t += 3
    lines.advance(2.0, "b")  # 3 s later: skipped
    clock.t += 12
    lines.advance(2.0, "c")  # 15 s after the last line: printed
    clock.t += 1
    lines.advance(4.0, "d")  # the last cell: always printed
    text = out.getvalue().splitlines()
    # ETA = elapsed x remaining cost / finished cost: 5 s x 8 / 2 = 20 s; 20 s x 4 / 6 = 13 s
    assert text == [
        "[1/4 cells] elapsed 0:00:05, ETA 0:00:20 | a d=8 n=16 [bold]x[/]",  # the label literally
        "[3/4 cells] elapsed 0:00:20, ETA 0:00:13 | c",
        "[4/4 cells] elapsed 0:00:21, ETA 0:00:00 | d",
    ]


def test_run_to_a_log_prints_plain_progress_lines(tmp_path):
    sets = [a for o in [*TINY_OVERRIDES, 'methods={"kernel": {"kind": "kernel"}}'] for a in ("--set", o)]
    res = runner.invoke(app, ["run", "quick", *sets, "--trials", "2", "--store", str(tmp_path / "s.sqlite")])
    assert res.exit_code == 0, res.output
    assert "[3/3 cells] elapsed 0:00:" in res.output and "ETA 0:00:00 | kernel d=8 n=" in res.output
    assert "━" not in res.output  # no bar drawn into the log


def test_compile_seconds_are_recorded_and_project_the_dry_run(tmp_path):
    p = apply_overrides(get_preset("quick"), [*TINY_OVERRIDES, 'methods={"kernel": {"kind": "kernel"}}'])
    cells = expand(p)
    # defaults: data programs once per d (shared by every n), a training program per cell
    default = projected_compile_seconds(cells)
    assert default == [DEFAULT_COMPILE_S["kernel"] + DEFAULT_COMPILE_S["data"]] + [DEFAULT_COMPILE_S["kernel"]] * 2
    with Store(tmp_path / "s.sqlite") as st:
        run_local(plan(p, st), st)
        runs = st.runs()
    provs = [json.loads(r["provenance_json"]) for r in runs]
    assert all(pr["learner_kind"] == "kernel" and pr["compile_seconds"]["fit"] >= 0 for pr in provs)
    assert sum(pr["compile_seconds"]["data"] > 0 for pr in provs) <= 1  # counted for one cell of the d
    fake = [{"provenance_json": json.dumps({"learner_kind": "kernel", "compile_seconds": {"fit": f, "data": 6.0}})}
            for f in (1.0, 2.0, 9.0, 0.1)] + [{"provenance_json": "not json"}, {"provenance_json": None}]
    measured = measured_compile_seconds(fake)
    assert measured == {"kernel": 2.0, "data": 6.0}  # medians, cache loads (< 0.5 s) left out
    assert projected_compile_seconds(cells, measured) == [8.0, 2.0, 2.0]


def test_dry_run_shows_learner_gflop_and_compile_seconds_apart(tmp_path):
    res = runner.invoke(app, ["run", "quick", "--dry-run", "--store", str(tmp_path / "x.sqlite")], terminal_width=250)
    assert res.exit_code == 0, res.output
    assert "learner GFLOP" in res.output and "compile s" in res.output
    text = " ".join(res.output.split())  # the summary line wraps at the log width
    assert "+ compilation" in text and "default estimate, no compile times in this store" in text
