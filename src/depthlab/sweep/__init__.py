"""Sample-complexity sweeps: grid expansion (``grid``), one cell's compiled run (``runner``), executors."""

from depthlab.sweep.executors import Plan, plan, run_dask, run_local
from depthlab.sweep.grid import Cell, expand
from depthlab.sweep.runner import CellResult, run_cell

__all__ = ["Cell", "CellResult", "Plan", "expand", "plan", "run_cell", "run_dask", "run_local"]
