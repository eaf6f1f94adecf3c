"""Where a sweep runs: in this process, a Dask LocalCluster, an existing Dask scheduler, or SLURM.

Execution modes (``depthlab run``):
  (default)             in this process, cells in decreasing cost, compilation overlapped (``run_local``)
  --workers N           a Dask ``LocalCluster`` of N single-threaded worker processes on this machine
  --scheduler ADDRESS   an existing Dask scheduler (``tcp://host:8786``) and whatever workers it has
  --cluster slurm       a ``dask_jobqueue.SLURMCluster``: SLURM jobs that each start Dask workers, from the
                        ``[slurm]`` table of ``--cluster-config FILE`` (TOML; fields of ``SlurmSettings``)

In every Dask mode this process is the only writer of the store; workers compute cells and send results.

Retries: a task whose worker dies (killed, out of memory, node lost) is rescheduled on another worker by
the Dask scheduler; ``retries`` sets how many worker deaths a cell survives (the scheduler's
``distributed.scheduler.allowed-failures``, applied to the clusters made here; an existing scheduler keeps
its own setting) and how many times a task that raised is run again (``Client.submit(retries=...)``).
A cell that still fails is recorded as failed and runs again on the next invocation.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from depthlab.config import Config, format_validation_error

DEFAULT_RETRIES = 2
CONNECT_TIMEOUT = "20s"  # to reach an existing scheduler

_MEMORY = re.compile(r"^\d+(\.\d+)?\s*([KMGT]i?B)$", re.IGNORECASE)
# SLURM --time formats: minutes, minutes:seconds, hours:minutes:seconds, days-hours[:minutes[:seconds]]
_WALLTIME = re.compile(r"^(\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d{1,2}(:\d{2}){0,2})$")


class ClusterError(ValueError):
    """An execution option or cluster setting that cannot be used; the message names it."""


class SlurmSettings(Config):
    """One SLURM job per ``jobs``, each running ``processes`` Dask worker processes on ``cores`` cores."""

    queue: str | None = Field(default=None, description="partition (sbatch -p)")
    account: str | None = Field(default=None, description="account to charge (sbatch -A)")
    cores: int = Field(default=1, ge=1, le=4096, description="cores per job (--cpus-per-task)")
    processes: int = Field(default=1, ge=1, description="Dask worker processes per job")
    memory: str = Field(default="4GB", description="memory per job, e.g. 16GB (--mem)")
    walltime: str = Field(default="01:00:00", description="time limit per job (-t)")
    jobs: int = Field(default=1, ge=1, le=10_000, description="jobs to submit")
    interface: str | None = Field(default=None, description="network interface of the workers, e.g. ib0")
    local_directory: str | None = Field(default=None, description="scratch folder on the nodes")
    log_directory: str | None = Field(default=None, description="folder for the jobs' output files")
    python: str | None = Field(default=None, description="Python on the nodes (default: this one)")
    job_extra_directives: list[str] = Field(default_factory=list, description="more #SBATCH lines")
    job_script_prologue: list[str] = Field(default_factory=list, description="shell lines before the worker")
    worker_extra_args: list[str] = Field(default_factory=list, description="more dask worker arguments")

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: str) -> str:
        if not _MEMORY.match(v.strip()):
            raise ValueError(f"memory must be a size like 4GB or 500MiB, got {v!r}")
        return v.strip()

    @field_validator("walltime")
    @classmethod
    def _walltime(cls, v: str) -> str:
        if not _WALLTIME.match(v.strip()):
            raise ValueError(f"walltime must be a SLURM time like 01:30:00 or 2-00:00:00, got {v!r}")
        return v.strip()

    @model_validator(mode="after")
    def _processes_fit(self) -> SlurmSettings:
        if self.processes > self.cores:
            raise ValueError(f"processes ({self.processes}) must not exceed cores ({self.cores})")
        return self

    def cluster_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``dask_jobqueue.SLURMCluster``."""
        kw: dict[str, Any] = self.model_dump(exclude={"jobs"}, exclude_none=True)
        for k in ("job_extra_directives", "job_script_prologue", "worker_extra_args"):
            kw[k] = list(kw[k])
        return kw


def load_slurm_settings(path: Path | None) -> SlurmSettings:
    """The ``[slurm]`` table of a TOML file (defaults without a file); errors name the file and field."""
    if path is None:
        return SlurmSettings()
    try:
        data = tomllib.loads(Path(path).read_text())
    except OSError as e:
        raise ClusterError(f"cannot read cluster config {path}: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ClusterError(f"cluster config {path} is not valid TOML: {e}") from None
    unknown = sorted(set(data) - {"slurm"})
    if unknown:
        raise ClusterError(f"cluster config {path}: unknown section(s) {unknown}; expected [slurm]")
    section = data.get("slurm", {})
    if not isinstance(section, dict):
        raise ClusterError(f"cluster config {path}: slurm must be a table ([slurm])")
    try:
        return SlurmSettings.model_validate(section)
    except ValidationError as e:
        raise ClusterError(f"cluster config {path}:\n{format_validation_error(e, 'slurm')}") from None


def execution_mode(
    workers: int | None, scheduler: str | None, cluster: str | None, executor: str | None = None
) -> str:
    """``local``, ``workers``, ``scheduler`` or ``slurm`` from the run options; conflicting ones are an error.
    ``executor`` is the older ``--executor local|dask`` option (dask alone means one LocalCluster worker)."""
    chosen = [
        name
        for name, given in (("--workers", workers is not None), ("--scheduler", scheduler is not None),
                            ("--cluster", cluster is not None))
        if given
    ]
    if len(chosen) > 1:
        raise ClusterError(f"{' and '.join(chosen)} cannot be combined; pick one execution mode")
    if cluster is not None and cluster != "slurm":
        raise ClusterError(f"--cluster: unknown cluster {cluster!r}; supported: slurm")
    if workers is not None and workers < 1:
        raise ClusterError(f"--workers must be at least 1, got {workers}")
    if scheduler is not None and not scheduler.strip():
        raise ClusterError("--scheduler needs an address such as tcp://host:8786")
    if executor == "local" and chosen:
        raise ClusterError(f"--executor local cannot be combined with {chosen[0]}")
    if cluster == "slurm":
        return "slurm"
    if scheduler is not None:
        return "scheduler"
    if workers is not None or executor == "dask":
        return "workers"
    return "local"


def make_slurm_cluster(settings: SlurmSettings, retries: int = DEFAULT_RETRIES, scale: bool = True) -> Any:
    """A ``dask_jobqueue.SLURMCluster`` from the settings, scaled to ``settings.jobs`` jobs when ``scale``."""
    try:
        import dask
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise ClusterError("--cluster slurm needs dask-jobqueue: pip install 'depthlab[cluster]'") from None
    if scale and shutil.which("sbatch") is None:
        raise ClusterError("--cluster slurm needs SLURM's sbatch on PATH (run it on a login node of the cluster)")
    with dask.config.set({"distributed.scheduler.allowed-failures": retries}):
        cluster = SLURMCluster(**settings.cluster_kwargs(), scheduler_options={"dashboard_address": None})
    if scale:
        cluster.scale(jobs=settings.jobs)
    return cluster


@contextmanager
def dask_client(
    mode: str,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    slurm: SlurmSettings | None = None,
    retries: int = DEFAULT_RETRIES,
) -> Iterator[Any]:
    """A ``distributed.Client`` for a Dask execution mode; the cluster it made is closed on exit."""
    try:
        import dask
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError("Dask execution needs dask[distributed]: pip install 'depthlab[dask]'") from None
    cluster: Any = None
    if mode == "workers":
        with dask.config.set({"distributed.scheduler.allowed-failures": retries}):
            cluster = LocalCluster(
                n_workers=workers or 1, threads_per_worker=1, processes=True, dashboard_address=None
            )
    elif mode == "slurm":
        cluster = make_slurm_cluster(slurm or SlurmSettings(), retries)
    elif mode != "scheduler":
        raise ClusterError(f"not a Dask execution mode: {mode!r}")
    try:
        client = Client(cluster) if cluster is not None else Client(scheduler, timeout=CONNECT_TIMEOUT)
    except OSError as e:
        if cluster is not None:
            cluster.close()
        raise ClusterError(f"cannot connect to the Dask scheduler {scheduler}: {e}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
