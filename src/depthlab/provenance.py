"""Where and with what a result was computed: versions, git commit, backend/device, host.

``environment()`` is evaluated in the process that runs a cell (this process, or a Dask worker), once per
process, so a stored row names the machine that produced it, not the one that wrote it to the store.
"""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from depthlab import __version__


def now() -> str:
    """UTC time, ISO 8601 with milliseconds."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


@functools.cache
def git_commit() -> str | None:
    """HEAD of the git checkout depthlab is imported from (``<sha>-dirty`` with uncommitted changes to
    tracked files), or None when it is not a checkout (an installed wheel) or git is unavailable."""
    src = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=src, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--", "."], cwd=src, capture_output=True, timeout=5
        ).returncode
    except (OSError, subprocess.SubprocessError):
        return None
    if not sha:
        return None
    return f"{sha}-dirty" if dirty == 1 else sha


def cpu_model() -> str:
    """The CPU's model name (Linux), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def _static() -> dict[str, Any]:
    import jax

    devices = jax.devices()
    kind = devices[0].device_kind if devices else "none"
    return {
        "depthlab_version": __version__,
        "git_commit": git_commit(),
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "device": f"{kind} x{len(devices)}",
        "host": socket.gethostname() or platform.node(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
    }


def environment() -> dict[str, Any]:
    """Provenance of this process: depthlab/JAX versions, git commit, backend, device, host, pid."""
    return {**_static(), "pid": os.getpid()}
