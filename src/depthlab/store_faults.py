"""Why a write to the results store failed, in words: the database locked by another process, the disk full,
the store read-only. ``depthlab run`` keeps a computed cell while the store is locked and retries
(``executors.record_cell``); every other failure, and a lock that outlasts the wait, ends the run with one
line (``CellNotStored``) saying what happened and that nothing stored was lost."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

LOCK_WAIT_ENV = "DEPTHLAB_LOCK_WAIT"
DEFAULT_LOCK_WAIT_S = 600.0  # how long a computed cell waits for a store locked by another process


class StoreWriteError(RuntimeError):
    """A write to the store failed for a reason a user can act on (``kind``: locked, full, readonly)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def fault(e: BaseException) -> str | None:
    """'locked', 'full' or 'readonly' for an SQLite error with that cause, else None."""
    if not isinstance(e, sqlite3.DatabaseError):
        return None
    name = str(getattr(e, "sqlite_errorname", "") or "")
    text = str(e).lower()
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "is locked" in text:
        return "locked"
    if name == "SQLITE_FULL" or "disk is full" in text:
        return "full"
    if name.startswith("SQLITE_READONLY") or "readonly database" in text or "read-only" in text:
        return "readonly"
    return None


def lock_wait() -> float:
    """Seconds a computed cell waits for a locked store (``$DEPTHLAB_LOCK_WAIT``, default 600)."""
    raw = os.environ.get(LOCK_WAIT_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_LOCK_WAIT_S
    except ValueError:
        return DEFAULT_LOCK_WAIT_S
    return value if value >= 0 else DEFAULT_LOCK_WAIT_S


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    text = " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())
    return text if len(text) <= 80 else text[:77] + "..."


def lock_holders(path: str | os.PathLike[str]) -> list[int]:
    """Process ids other than this one holding a write lock on the store (its file or its -shm file, where
    SQLite's WAL write lock lives), from Linux's /proc/locks; else those that have it open; [] where unknown."""
    p = Path(path)
    inodes = set()
    for f in (p, Path(f"{p}-shm")):
        try:
            inodes.add(f.stat().st_ino)
        except OSError:
            pass
    me = os.getpid()
    pids: list[int] = []
    try:
        for line in Path("/proc/locks").read_text().splitlines():
            parts = line.split()
            if "WRITE" in parts and len(parts) >= 6:
                i = parts.index("WRITE")
                owner, inode = parts[i + 1], parts[i + 2].rsplit(":", 1)[-1]
                if owner.isdigit() and inode.isdigit() and int(owner) != me and int(inode) in inodes \
                        and int(owner) not in pids:
                    pids.append(int(owner))
    except OSError:
        pass
    if pids:
        return pids
    targets = {os.path.realpath(f"{p}{s}") for s in ("", "-wal", "-shm")}
    try:
        procs = [int(d) for d in os.listdir("/proc") if d.isdigit() and int(d) != me]
    except OSError:
        return []
    for pid in procs:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in targets:
                    pids.append(pid)
                    break
            except OSError:
                continue
    return pids


def describe_holders(path: str | os.PathLike[str]) -> str:
    """'by pid 1234 (python -m depthlab.cli run ...)', or 'by another process' where it cannot be told."""
    pids = lock_holders(path)
    if not pids:
        return "by another process"
    named = [f"pid {pid}" + (f" ({cmd})" if (cmd := _command(pid)) else "") for pid in pids[:3]]
    return "by another process: " + ", ".join(named) + (f" and {len(pids) - 3} more" if len(pids) > 3 else "")


def write_failure(e: BaseException, path: str | os.PathLike[str], what: str, waited: float | None = None) -> str:
    """One line for a failed write of ``what`` (e.g. 'the cell kernel d=8 n=16') to the store at ``path``,
    after retrying a lock for ``waited`` seconds (None: not retried beyond SQLite's busy timeout)."""
    kind = fault(e)
    if kind == "locked":
        how_long = (f"after waiting {waited:.0f} s (${LOCK_WAIT_ENV} sets how long)" if waited is not None
                    else "after SQLite's busy timeout")
        return (f"the results store {path} is locked {describe_holders(path)}; {what} could not be written "
                f"{how_long}; nothing stored was lost")
    if kind == "full":
        return f"the disk is full: {what} could not be written to {path}; nothing stored was lost"
    if kind == "readonly":
        return f"the results store {path} is read-only: {what} could not be written; nothing stored was lost"
    return f"{what} could not be written to the results store {path}: {e}; nothing stored was lost"
