"""Durable results store: one SQLite file in WAL mode, one transaction per finished cell.

Tables (schema version 6)
  schema_version  one row per schema version applied to this file (version, applied time, depthlab version);
                  the file's version is the largest. ``meta.schema_version`` mirrors it, so that older
                  depthlab releases, which read ``meta``, refuse a newer file instead of misreading it.
  sweeps          one row per distinct resolved preset configuration (name + config hash), last_used time
  cells           one row per cell key (learner x d x n with the full resolved config as JSON; the key does not
                  contain the method's display name, ``sweep_cells.method`` carries it)
  sweep_cells     which cells a sweep consists of, and the method name each has in that sweep
  runs            one row per execution of (part of) a cell, with its provenance: status ok | diverged | failed
                  (with the message), the trials it ran, start/end time and timings, depthlab version, git
                  commit (if run from a checkout), JAX version, backend and device, host, config hash of the
                  sweep, seed, executor; ``provenance_json`` keeps the rest (Python, CPU, pid, Dask worker)
  trials          one row per (cell, trial): status ok | diverged, and ``run_id``, the run that computed it
  trial_metrics   long format, one row per (cell, trial, metric): every value ``metrics.evaluate`` returned
                  (per-branch overlaps included), so a new metric needs no schema change
  trajectories    long format, one row per (cell, trial, step, metric) of a cell that records along training
                  (``Preset.record``): the training step, its stage (init, layer1, layer2, joint), the metric
                  and its value; written in the cell's transaction, with its trial row, kept like it (the first
                  result wins). O(recorded steps x metrics) numbers per trial, never the weights
  claims          one row per cell a running process has claimed (owner host:pid, lease expiry): concurrent
                  runs on one store divide the cells instead of computing each twice (``claim``)

Provenance is normalised: every trial row points to the run row that produced it; a failed cell has a run
row (status failed, message) and no trial rows, and is run again on the next invocation.

Durability: a cell's run row and trial rows are written in one transaction, so a reader, or a process
killed at any moment, sees all of a cell or none of it. Resume is a lookup: the trials of a cell already
in ``trials`` are never recomputed, and a trial row, once written, is never overwritten (a second
computation of the same trial is recorded as a run and reported by ``check``, the first result stays).

Bad files: a file that is not SQLite, is damaged (``PRAGMA integrity_check`` on open, which also compares
every index with its table), or is SQLite without depthlab's tables raises ``StoreError`` before anything is
written to it. A store of an older schema is copied to ``<name>.v<old>.bak`` and then upgraded in one
transaction.

Read-only media: a store this process cannot write (read-only filesystem, unwritable folder or file) is read
through SQLite's read-only URI (``connect_readonly``) and refused for writing with one line. A write that
fails (locked by another process, disk full) rolls back whole; ``store_faults`` says why in one line.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from depthlab import __version__
from depthlab.provenance import environment, now
from depthlab.store_faults import describe_holders, fault


def claim_owner() -> str:
    """This process as the owner of claims: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str) -> bool:
    """Whether a claim's owner may still run: False only for a process of this host that no longer exists (a
    process on another host is presumed alive until its lease expires)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    return True


# 2: trials.feature_corr; 3: schema_version table, provenance columns in runs; 4: trials.class_error;
SCHEMA_VERSION = 6  # 5: metrics in long format (trial_metrics), the method name per sweep (sweep_cells.method)
# 6: trajectories (metrics recorded along training), claims (cells being computed, with a lease)
DEFAULT_STORE = "depthlab.sqlite"

# Provenance columns of ``runs`` (name -> SQL type); anything else goes to provenance_json.
PROVENANCE_COLUMNS: dict[str, str] = {
    "started": "TEXT",
    "finished": "TEXT",
    "depthlab_version": "TEXT",
    "git_commit": "TEXT",
    "jax_version": "TEXT",
    "backend": "TEXT",
    "device": "TEXT",
    "host": "TEXT",
    "config_hash": "TEXT",
    "seed": "INTEGER",
    "executor": "TEXT",
}


def _provenance_columns() -> str:
    return ", ".join(f"{k} {t}" for k, t in PROVENANCE_COLUMNS.items())


def _schema() -> str:
    return f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY,
    applied TEXT NOT NULL,
    depthlab TEXT NOT NULL
);
CREATE TABLE sweeps (
    sweep_id INTEGER PRIMARY KEY AUTOINCREMENT,
    preset TEXT NOT NULL,
    config_hash TEXT NOT NULL UNIQUE,
    config_json TEXT NOT NULL,
    trials INTEGER NOT NULL,
    created TEXT NOT NULL,
    last_used TEXT NOT NULL
);
CREATE TABLE cells (
    cell_key TEXT PRIMARY KEY,
    preset TEXT NOT NULL,
    method TEXT NOT NULL,
    d INTEGER NOT NULL,
    n INTEGER NOT NULL,
    kappa REAL NOT NULL,
    config_json TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE sweep_cells (
    sweep_id INTEGER NOT NULL REFERENCES sweeps(sweep_id),
    cell_key TEXT NOT NULL REFERENCES cells(cell_key),
    method TEXT,
    PRIMARY KEY (sweep_id, cell_key)
);
CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    cell_key TEXT NOT NULL,
    trials_json TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT,
    wall_s REAL, compile_s REAL, run_s REAL,
    created TEXT NOT NULL,
    provenance_json TEXT,
    {_provenance_columns()}
);
CREATE INDEX runs_cell ON runs(cell_key);
{_TRIALS}
{_TRIAL_METRICS}
{_TRAJECTORIES}
{_CLAIMS}
"""


_TRIALS = """CREATE TABLE trials (
    cell_key TEXT NOT NULL REFERENCES cells(cell_key),
    trial INTEGER NOT NULL,
    status TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    PRIMARY KEY (cell_key, trial)
);"""
_TRIAL_METRICS = """CREATE TABLE trial_metrics (
    cell_key TEXT NOT NULL,
    trial INTEGER NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (cell_key, trial, metric),
    FOREIGN KEY (cell_key, trial) REFERENCES trials(cell_key, trial) ON DELETE CASCADE
) WITHOUT ROWID;"""


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


class StoreError(RuntimeError):
    """The store file cannot be used (not a SQLite database, corrupt, or from a newer schema)."""


def default_store_path() -> Path:
    return Path(os.environ.get("DEPTHLAB_STORE", DEFAULT_STORE))


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in con.execute(f"PRAGMA table_info({table})")}


def _add_missing_columns(con: sqlite3.Connection, table: str, columns: dict[str, str]) -> None:
    have = _columns(con, table)
    for name, sql_type in columns.items():
        if name not in have:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}")


_V4_METRICS = ("test_mse", "train_mse", "trivial_mse", "overlap_w", "overlap_h", "feature_corr", "class_error")


def _to_v2(con: sqlite3.Connection) -> None:
    _add_missing_columns(con, "trials", {m: "REAL" for m in _V4_METRICS[:-1]})


def _to_v3(con: sqlite3.Connection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, applied TEXT NOT NULL, depthlab TEXT NOT NULL)"
    )
    _add_missing_columns(con, "runs", PROVENANCE_COLUMNS)
    con.execute("CREATE INDEX IF NOT EXISTS runs_cell ON runs(cell_key)")
    # v2 kept provenance as JSON only; lift what it has into the columns
    for col, key in (("depthlab_version", "depthlab"), ("jax_version", "jax"), ("backend", "backend"),
                     ("host", "host")):
        con.execute(
            f"UPDATE runs SET {col} = json_extract(provenance_json, '$.{key}') "
            f"WHERE {col} IS NULL AND json_valid(provenance_json)"
        )

_TRAJECTORIES = """CREATE TABLE trajectories (
    cell_key TEXT NOT NULL,
    trial INTEGER NOT NULL,
    step INTEGER NOT NULL,
    stage TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    PRIMARY KEY (cell_key, trial, metric, step),
    FOREIGN KEY (cell_key, trial) REFERENCES trials(cell_key, trial) ON DELETE CASCADE
) WITHOUT ROWID;"""

_CLAIMS = """CREATE TABLE claims (
    cell_key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires REAL NOT NULL
);"""


# version -> step upgrading a store of version - 1; every step is idempotent and runs in one transaction.
def _to_v4(con: sqlite3.Connection) -> None:
    """trials.class_error; also completes v3 for a store that took another path to version 3 (idempotent)."""
    _to_v3(con)
    if "trials_v4" not in {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}:
        _add_missing_columns(con, "trials", {m: "REAL" for m in _V4_METRICS})


def _to_v5(con: sqlite3.Connection) -> None:
    """Metrics in long format: every metric column of ``trials`` and every number of its ``extra_json`` becomes
    a ``trial_metrics`` row; ``trials`` keeps status and run; ``sweep_cells.method`` takes the cell's name."""
    _to_v4(con)
    _add_missing_columns(con, "sweep_cells", {"method": "TEXT"})
    con.execute("UPDATE sweep_cells SET method = (SELECT c.method FROM cells c WHERE c.cell_key = "
                "sweep_cells.cell_key) WHERE method IS NULL")
    con.execute("ALTER TABLE trials RENAME TO trials_v4")
    con.execute(_TRIALS)
    con.execute(_TRIAL_METRICS)
    con.execute("INSERT INTO trials(cell_key, trial, status, run_id) SELECT cell_key, trial, status, run_id "
                "FROM trials_v4")
    for m in sorted(_columns(con, "trials_v4") - {"cell_key", "trial", "status", "run_id", "extra_json"}):
        con.execute(f"INSERT OR IGNORE INTO trial_metrics SELECT cell_key, trial, '{m}', {m} FROM trials_v4 "
                    f"WHERE {m} IS NOT NULL")
    if "extra_json" in _columns(con, "trials_v4"):
        con.execute("INSERT OR IGNORE INTO trial_metrics SELECT t.cell_key, t.trial, j.key, j.value "
                    "FROM trials_v4 t, json_each(t.extra_json) j WHERE json_valid(t.extra_json) "
                    "AND j.type IN ('real', 'integer')")
    con.execute("DROP TABLE trials_v4")


def _to_v6(con: sqlite3.Connection) -> None:
    """The trajectories table (metrics recorded along training) and the claims table; no stored row changes."""
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "trajectories" not in tables:
        con.execute(_TRAJECTORIES)
    if "claims" not in tables:
        con.execute(_CLAIMS)


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {2: _to_v2, 3: _to_v3, 4: _to_v4, 5: _to_v5,
                                                               6: _to_v6}


def backup_path(path: Path, version: int) -> Path:
    """``<name>.v<version>.bak``, or ``<name>.v<version>.<i>.bak`` if that exists already."""
    candidate = path.with_name(f"{path.name}.v{version}.bak")
    i = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.v{version}.{i}.bak")
        i += 1
    return candidate


@dataclass
class CheckReport:
    """What ``Store.check`` found; ``ok`` when nothing is wrong or missing."""

    integrity: list[str]  # "ok", or SQLite's integrity_check messages
    schema_version: int
    expected_cells: int = 0
    complete_cells: int = 0
    missing_cells: list[str] = field(default_factory=list)  # labels of cells with no trial rows
    incomplete_cells: list[tuple[str, list[int]]] = field(default_factory=list)  # (label, missing trials)
    duplicate_rows: list[tuple[str, int, int]] = field(default_factory=list)  # (label, trial, count)
    recomputed: list[tuple[str, int, int]] = field(default_factory=list)  # (label, trial, successful runs)
    failed_cells: list[tuple[str, str]] = field(default_factory=list)  # (label, message) latest run failed
    orphan_rows: int = 0  # trial rows whose run_id has no run row

    @property
    def ok(self) -> bool:
        return (
            self.integrity == ["ok"]
            and not self.missing_cells
            and not self.incomplete_cells
            and not self.duplicate_rows
            and not self.recomputed
            and not self.failed_cells
            and not self.orphan_rows
        )


def read_only_reason(path: Path) -> str | None:
    """Why this process cannot write the store at ``path`` (and create its -wal and -shm files beside it), or
    None if it can."""
    folder = path.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "it is on a read-only filesystem"
    except OSError:
        pass
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is not writable"
    if not os.access(folder, os.W_OK):
        return f"its folder {folder} is not writable"
    return None


def connect_readonly(path: Path, timeout: float = 30.0, query_only: bool = True) -> sqlite3.Connection:
    """A connection that only reads and leaves no new file beside the store: a plain one where the store is
    writable (the -wal and -shm files it may create are removed when it closes); on read-only media or for
    a file this process may not write, SQLite's read-only URI, reading the WAL of a live writer where its
    -wal and -shm files exist, else ``immutable=1`` (the main file alone, complete: it is checkpointed after
    every cell). ``query_only=False`` leaves the plain connection able to write (``Store`` upgrades an older
    schema through it, after a backup, and then makes it query-only)."""
    con: sqlite3.Connection | None = None
    if read_only_reason(path) is None:
        con = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    else:
        uri = path.resolve().as_uri()
        if Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists():
            con = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=timeout, isolation_level=None)
            try:
                con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError:  # its -shm cannot be used read-only
                con.close()
                con = None
        if con is None:
            con = sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, timeout=timeout, isolation_level=None)
    if query_only:
        con.execute("PRAGMA query_only=ON")
    return con


def integrity_check(path: str | os.PathLike[str]) -> list[str]:
    """SQLite's ``PRAGMA integrity_check`` of a file, read only; raises StoreError if it is not SQLite."""
    p = Path(path)
    if not p.is_file():
        raise StoreError(f"results store {p} does not exist")
    try:
        con = connect_readonly(p)
        try:
            return [str(r[0]) for r in con.execute("PRAGMA integrity_check")]
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{p} is not a usable depthlab results store: {e}") from None


class Store:
    """The results store at ``path`` (created on first write). ``readonly`` opens an existing store without
    writing to it (except to upgrade an older schema, after a backup), from read-only media too
    (``connect_readonly``); a store this process cannot write is refused for writing with one line."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.exists():
            raise StoreError(f"results store {self.path} does not exist (run a preset first)")
        if self.path.is_dir():
            raise StoreError(f"results store {self.path} is a directory, not a file")
        self.read_only = None if str(path) == ":memory:" else read_only_reason(self.path)
        if self.read_only and not readonly:
            raise StoreError(f"results store {self.path} is read-only ({self.read_only}): it can be read "
                             "(results, check, report) but not written; copy it somewhere writable to run")
        try:
            self._con = (connect_readonly(self.path, query_only=False) if readonly else
                         sqlite3.connect(self.path, timeout=30.0, isolation_level=None))
        except sqlite3.Error as e:
            raise StoreError(f"cannot open results store {self.path}: {e}") from None
        try:
            self._open(readonly)
        except sqlite3.DatabaseError as e:
            self._con.close()
            why = {"full": "the disk is full", "locked": f"it is locked {describe_holders(self.path)}",
                   "readonly": "it is read-only"}.get(fault(e) or "")
            if why:
                raise StoreError(f"cannot open results store {self.path}: {why}") from None
            raise StoreError(f"{self.path} is not a usable depthlab results store: {e}") from None
        except StoreError:
            self._con.close()
            raise

    def _open(self, readonly: bool) -> None:
        con = self._con
        con.row_factory = sqlite3.Row
        # look before writing anything: a foreign or damaged file must stay byte-for-byte as it is
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise StoreError(f"{self.path} is a SQLite file but not a depthlab results store")
        if not tables:
            if readonly:
                raise StoreError(f"{self.path} is empty, not a depthlab results store (run a preset first)")
            con.execute("PRAGMA journal_mode=WAL")
            with self._transaction():
                if con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0:
                    for stmt in _schema().split(";"):
                        if stmt.strip():
                            con.execute(stmt)
                    self._set_version(SCHEMA_VERSION)
        else:
            version = self.schema_version()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this depthlab ({SCHEMA_VERSION}); "
                    "upgrade depthlab to use it"
                )
            # integrity_check, not quick_check: only it compares indexes with their tables (an index-only damage
            # passes quick_check); 0.5 s for 10^5 trials with 12 metrics each (quick_check: 0.4 s)
            check = [str(r[0]) for r in con.execute("PRAGMA integrity_check")]
            if check != ["ok"]:
                raise StoreError(
                    f"{self.path} is damaged (left unchanged; `depthlab store check` lists the problems): "
                    + "; ".join(check[:3])
                )
            if version < SCHEMA_VERSION:
                if self.read_only:
                    raise StoreError(f"{self.path} has schema version {version}, older than this depthlab's "
                                     f"({SCHEMA_VERSION}), and is read-only ({self.read_only}): upgrading it "
                                     "needs a writable copy")
                self._migrate(version)
            if not readonly:
                con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("PRAGMA foreign_keys=ON")
        if readonly:
            con.execute("PRAGMA query_only=ON")

    def schema_version(self) -> int:
        names = {r[0] for r in self._con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "schema_version" in names:
            row = self._con.execute("SELECT MAX(version) FROM schema_version").fetchone()
            if row[0] is not None:
                return int(row[0])
        row = self._con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            raise StoreError(f"{self.path} has no schema version; not a depthlab results store")
        try:
            return int(row[0])
        except ValueError:
            raise StoreError(f"{self.path} has an invalid schema version {row[0]!r}") from None

    def _set_version(self, version: int) -> None:
        self._con.execute(
            "INSERT OR REPLACE INTO schema_version(version, applied, depthlab) VALUES (?,?,?)",
            (version, now(), __version__),
        )
        self._con.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(version),))

    def _migrate(self, version: int) -> None:
        """Upgrade an older store in place, after copying it to ``<name>.v<version>.bak``."""
        backup = backup_path(self.path, version)
        dst = sqlite3.connect(backup)
        try:
            self._con.backup(dst)
        finally:
            dst.close()
        with self._transaction():
            current = self.schema_version()  # another process may have migrated meanwhile
            for target in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[target](self._con)
                if target >= 3:
                    self._set_version(target)
                else:
                    self._con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(target),))

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._con.execute("BEGIN IMMEDIATE")
        try:
            yield self._con
        except BaseException:
            if self._con.in_transaction:  # SQLite ends it itself on some errors (disk full, I/O)
                self._con.execute("ROLLBACK")
            raise
        try:
            self._con.execute("COMMIT")
        except sqlite3.Error:  # busy, disk full, I/O: nothing of the transaction is kept (it can be retried)
            if self._con.in_transaction:
                self._con.execute("ROLLBACK")
            raise

    # ---- writing ---------------------------------------------------------------------------------
    def register_sweep(
        self, preset: str, config_hash: str, config_json: str, trials: int, cells: Sequence[Any]
    ) -> int:
        """Create (or touch) the sweep of a resolved preset config and attach its cells; returns sweep_id."""
        ts = now()
        with self._transaction() as con:
            row = con.execute("SELECT sweep_id FROM sweeps WHERE config_hash=?", (config_hash,)).fetchone()
            if row is None:
                cur = con.execute(
                    "INSERT INTO sweeps(preset, config_hash, config_json, trials, created, last_used) "
                    "VALUES (?,?,?,?,?,?)",
                    (preset, config_hash, config_json, trials, ts, ts),
                )
                sweep_id = int(cur.lastrowid or 0)
            else:
                sweep_id = int(row[0])
                con.execute("UPDATE sweeps SET last_used=?, trials=? WHERE sweep_id=?", (ts, trials, sweep_id))
            for c in cells:
                con.execute(
                    "INSERT OR IGNORE INTO cells(cell_key, preset, method, d, n, kappa, config_json, created) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    (c.key, c.preset, c.method, c.d, c.n, c.kappa, json.dumps(c.identity(), sort_keys=True), ts),
                )
                con.execute("INSERT INTO sweep_cells(sweep_id, cell_key, method) VALUES (?,?,?) "
                            "ON CONFLICT(sweep_id, cell_key) DO UPDATE SET method=excluded.method",
                            (sweep_id, c.key, c.method))
        return sweep_id

    def write_cell(
        self,
        cell_key: str,
        trials: Sequence[int],
        rows: Sequence[dict[str, Any]],
        status: str,
        message: str = "",
        timings: dict[str, float] | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> int:
        """Record one execution of a cell (its run row with provenance) and its trial rows, atomically.
        Returns the run id. Trial rows already stored are kept (the first result of a trial wins)."""
        t = timings or {}
        prov = {**environment(), **(provenance or {})}
        if status != "failed" and any(r.get("status") == "diverged" for r in rows):
            status = "diverged"
        cols = list(PROVENANCE_COLUMNS)
        extra_prov = {k: v for k, v in prov.items() if k not in PROVENANCE_COLUMNS}
        with self._transaction() as con:
            cur = con.execute(
                "INSERT INTO runs(cell_key, trials_json, status, message, wall_s, compile_s, run_s, created, "
                f"provenance_json, {', '.join(cols)}) VALUES ({', '.join('?' * (9 + len(cols)))})",
                (
                    cell_key,
                    json.dumps(list(trials)),
                    status,
                    message,
                    t.get("wall_s"),
                    t.get("compile_s"),
                    t.get("run_s"),
                    now(),
                    json.dumps(extra_prov, sort_keys=True, default=str),
                    *(prov.get(k) for k in cols),
                ),
            )
            run_id = int(cur.lastrowid or 0)
            for r in rows:
                con.execute(
                    "INSERT OR IGNORE INTO trials(cell_key, trial, status, run_id) VALUES (?,?,?,?)",
                    (cell_key, r["trial"], r["status"], run_id),
                )
                if con.execute("SELECT changes()").fetchone()[0] == 0:
                    continue  # stored before: the first result of a trial wins, its metrics too
                con.executemany(
                    "INSERT INTO trial_metrics(cell_key, trial, metric, value) VALUES (?,?,?,?)",
                    [(cell_key, r["trial"], k, v) for k, v in r.items()
                     if k not in ("trial", "status") and (v is None or _is_number(v))],
                )
                con.executemany(
                    "INSERT INTO trajectories(cell_key, trial, step, stage, metric, value) VALUES (?,?,?,?,?,?)",
                    [(cell_key, r["trial"], int(step), str(stage), str(m), v)
                     for step, stage, m, v in r.get("trajectory", ())],
                )
        # move the committed pages into the main file: copied (or left by a crash) without its -wal file, the
        # store is still complete up to this cell. PASSIVE: never waits for readers, costs ~ms per cell. The cell
        # is committed already: a checkpoint that fails (disk full, busy) is left to the next one.
        try:
            self._con.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.OperationalError:
            pass
        return run_id

    # ---- claims: concurrent runs divide the cells ------------------------------------------------
    def claim(self, cell_key: str, owner: str, lease_s: float) -> str | None:
        """Claim a cell for ``owner`` (``claim_owner()``: host:pid) for ``lease_s`` seconds; None if it is now
        ours, else the owner holding it. A claim is free when it is ours, its lease has expired, or its owner
        was a process on this host that no longer runs (killed: its claims do not outlive it)."""
        t = time.time()
        with self._transaction() as con:
            row = con.execute("SELECT owner, expires FROM claims WHERE cell_key=?", (cell_key,)).fetchone()
            if row is not None and row[0] != owner and row[1] > t and owner_alive(str(row[0])):
                return str(row[0])
            con.execute("INSERT OR REPLACE INTO claims(cell_key, owner, expires) VALUES (?,?,?)",
                        (cell_key, owner, t + lease_s))
        return None

    def release(self, cell_key: str, owner: str) -> None:
        """Drop ``owner``'s claim on a cell (after its result is stored, or when it gives the cell up)."""
        with self._transaction() as con:
            con.execute("DELETE FROM claims WHERE cell_key=? AND owner=?", (cell_key, owner))

    # ---- reading ---------------------------------------------------------------------------------
    def done_trials(self, cell_key: str) -> set[int]:
        rows = self._con.execute("SELECT trial FROM trials WHERE cell_key=?", (cell_key,))
        return {int(r[0]) for r in rows}

    def latest_sweep(self, preset: str | None = None) -> sqlite3.Row | None:
        q = (
            "SELECT * FROM sweeps"
            + (" WHERE preset=?" if preset else "")
            + " ORDER BY last_used DESC, sweep_id DESC"
        )
        return self._con.execute(q, (preset,) if preset else ()).fetchone()

    def sweeps(self) -> list[sqlite3.Row]:
        return list(self._con.execute("SELECT * FROM sweeps ORDER BY sweep_id"))

    def sweep_cells(self, sweep_id: int) -> list[tuple[str, str]]:
        """(cell key, label) of the cells of a sweep, ordered by method, d, n."""
        q = (
            "SELECT c.cell_key, COALESCE(s.method, c.method) AS method, c.d, c.n, c.kappa FROM sweep_cells s "
            "JOIN cells c ON c.cell_key = s.cell_key WHERE s.sweep_id = ? ORDER BY method, c.d, c.n"
        )
        return [
            (r["cell_key"], f"{r['method']} d={r['d']} n={r['n']} (kappa={r['kappa']:.2f})")
            for r in self._con.execute(q, (sweep_id,))
        ]

    def trial_rows(self, sweep_id: int, trials: int | None = None) -> list[dict[str, Any]]:
        """Per-trial rows of a sweep (trials < ``trials`` when given), ordered by method, d, n, trial: the cell's
        coordinates under the method name it has in this sweep, status, and one column per stored metric."""
        where = "s.sweep_id = ?" + (" AND t.trial < ?" if trials is not None else "")
        args: tuple[Any, ...] = (sweep_id, trials) if trials is not None else (sweep_id,)
        q = (
            "SELECT c.cell_key, w.preset, COALESCE(s.method, c.method) AS method, c.d, c.n, c.kappa, t.trial, "
            "t.status FROM sweep_cells s JOIN sweeps w ON w.sweep_id = s.sweep_id "
            "JOIN cells c ON c.cell_key = s.cell_key "
            f"JOIN trials t ON t.cell_key = c.cell_key WHERE {where}"
        )
        rows = {(r["cell_key"], r["trial"]): dict(r) for r in self._con.execute(q, args)}
        mq = (
            "SELECT m.cell_key, m.trial, m.metric, m.value FROM sweep_cells s JOIN trial_metrics m "
            f"ON m.cell_key = s.cell_key JOIN trials t ON t.cell_key = m.cell_key AND t.trial = m.trial WHERE {where}"
        )
        for key, trial, metric, value in self._con.execute(mq, args):
            row = rows.get((key, trial))
            if row is not None:
                row[metric] = value
        out = sorted(rows.values(), key=lambda r: (r["method"], r["d"], r["n"], r["trial"]))
        for r in out:
            del r["cell_key"]
        return out

    def trajectory_rows(self, sweep_id: int, trials: int | None = None) -> list[dict[str, Any]]:
        """Tidy rows of the metrics a sweep recorded along training (trials < ``trials`` when given): method,
        d, n, kappa, trial, step, stage, metric, value; ordered by method, d, n, trial, metric, step."""
        where = "s.sweep_id = ?" + (" AND j.trial < ?" if trials is not None else "")
        args: tuple[Any, ...] = (sweep_id, trials) if trials is not None else (sweep_id,)
        q = (
            "SELECT COALESCE(s.method, c.method) AS method, c.d, c.n, c.kappa, j.trial, j.step, j.stage, "
            "j.metric, j.value FROM sweep_cells s JOIN cells c ON c.cell_key = s.cell_key "
            f"JOIN trajectories j ON j.cell_key = s.cell_key WHERE {where} "
            "ORDER BY method, c.d, c.n, j.trial, j.metric, j.step"
        )
        return [dict(r) for r in self._con.execute(q, args)]

    def trial_metrics(self, cell_key: str, trial: int) -> dict[str, float | None]:
        """The stored metrics of one trial (name -> value)."""
        q = "SELECT metric, value FROM trial_metrics WHERE cell_key=? AND trial=?"
        return {str(m): v for m, v in self._con.execute(q, (cell_key, trial))}

    def runs(self, cell_key: str | None = None) -> list[dict[str, Any]]:
        """Run rows (provenance), oldest first; of one cell when given."""
        q = "SELECT * FROM runs" + (" WHERE cell_key=?" if cell_key else "") + " ORDER BY run_id"
        return [dict(r) for r in self._con.execute(q, (cell_key,) if cell_key else ())]

    def failed_runs(self, sweep_id: int) -> list[dict[str, Any]]:
        """The latest run of each cell of the sweep whose latest run failed."""
        q = (
            "SELECT COALESCE(s.method, c.method) AS method, c.d, c.n, r.message FROM sweep_cells s "
            "JOIN cells c ON c.cell_key = s.cell_key "
            "JOIN runs r ON r.run_id = (SELECT MAX(run_id) FROM runs WHERE cell_key = c.cell_key) "
            "WHERE s.sweep_id = ? AND r.status = 'failed'"
        )
        return [dict(r) for r in self._con.execute(q, (sweep_id,))]

    def sweep_runs(self, sweep_id: int) -> list[dict[str, Any]]:
        """Every recorded execution of the sweep's cells (method, d, n, kappa and the run row: status, timings,
        provenance columns), with ``provenance`` = provenance_json decoded plus the non-null provenance columns
        (``{}`` when missing or unreadable); ordered by run_id."""
        q = (
            "SELECT COALESCE(s.method, c.method) AS method, c.d, c.n, c.kappa, r.* FROM sweep_cells s "
            "JOIN cells c ON c.cell_key = s.cell_key JOIN runs r ON r.cell_key = c.cell_key "
            "WHERE s.sweep_id = ? ORDER BY r.run_id"
        )
        out = []
        for r in self._con.execute(q, (sweep_id,)):
            row = dict(r)
            try:
                prov = json.loads(row.pop("provenance_json") or "{}")
            except (TypeError, ValueError):
                prov = {}
            prov = prov if isinstance(prov, dict) else {"value": prov}
            prov.update({k: row[k] for k in PROVENANCE_COLUMNS if row.get(k) is not None})
            row["provenance"] = prov
            out.append(row)
        return out

    def timings(self, sweep_id: int) -> dict[str, float]:
        q = (
            "SELECT SUM(r.wall_s), SUM(r.compile_s), SUM(r.run_s), COUNT(*) FROM sweep_cells s "
            "JOIN runs r ON r.cell_key = s.cell_key WHERE s.sweep_id = ?"
        )
        w, c, r, k = self._con.execute(q, (sweep_id,)).fetchone()
        return {"wall_s": w or 0.0, "compile_s": c or 0.0, "run_s": r or 0.0, "runs": k}

    # ---- checking --------------------------------------------------------------------------------
    def check(self, cells: Sequence[tuple[str, str]], trials: int) -> CheckReport:
        """Integrity of the file and completeness of the given cells (key, label) for ``trials`` trials:
        missing cells or trials, duplicate trial rows, trials computed by more than one successful run,
        cells whose latest run failed, trial rows without a run."""
        con = self._con
        report = CheckReport(
            integrity=[str(r[0]) for r in con.execute("PRAGMA integrity_check")],
            schema_version=self.schema_version(),
            expected_cells=len(cells),
        )
        want = set(range(trials))
        for key, label in cells:
            counts = Counter(
                int(r[0]) for r in con.execute("SELECT trial FROM trials WHERE cell_key=?", (key,))
            )
            for trial, k in sorted(counts.items()):
                if k > 1:
                    report.duplicate_rows.append((label, trial, k))
            missing = sorted(want - set(counts))
            if not counts:
                report.missing_cells.append(label)
            elif missing:
                report.incomplete_cells.append((label, missing))
            else:
                report.complete_cells += 1
            runs = list(con.execute("SELECT status, message, trials_json FROM runs WHERE cell_key=? "
                                    "ORDER BY run_id", (key,)))
            computed: Counter[int] = Counter()
            for r in runs:
                if r["status"] != "failed":
                    computed.update(int(t) for t in json.loads(r["trials_json"]))
            for trial, k in sorted(computed.items()):
                if k > 1:
                    report.recomputed.append((label, trial, k))
            if runs and runs[-1]["status"] == "failed" and missing:
                report.failed_cells.append((label, str(runs[-1]["message"])))
        report.orphan_rows = int(
            con.execute(
                "SELECT COUNT(*) FROM trials t LEFT JOIN runs r ON r.run_id = t.run_id WHERE r.run_id IS NULL"
            ).fetchone()[0]
        )
        return report

    # ---- repairing -------------------------------------------------------------------------------
    def repair_recomputed(self, cells: Sequence[tuple[str, str]]) -> list[str]:
        """Resolve trials computed by more than one run (``CheckReport.recomputed``: two clients on one store)
        by the rule the store keeps, the first result wins: the stored trial row and its metrics stay; every
        other run listing that trial no longer lists it, and a run left listing no trial is deleted (its
        results were never stored). Failed runs are kept. One transaction; returns what it changed."""
        changed: list[str] = []
        with self._transaction() as con:
            for key, label in cells:
                owner = {int(t): int(r) for t, r in con.execute("SELECT trial, run_id FROM trials WHERE cell_key=?",
                                                                (key,))}
                runs = con.execute("SELECT run_id, trials_json FROM runs WHERE cell_key=? AND status != 'failed' "
                                   "ORDER BY run_id", (key,)).fetchall()
                for run_id, trials_json in runs:
                    listed = [int(t) for t in json.loads(trials_json)]
                    dropped = [t for t in listed if t in owner and owner[t] != run_id]
                    if not dropped:
                        continue
                    kept = [t for t in listed if t not in dropped]
                    if kept:
                        con.execute("UPDATE runs SET trials_json=? WHERE run_id=?", (json.dumps(kept), run_id))
                    else:
                        con.execute("DELETE FROM runs WHERE run_id=?", (run_id,))
                    what = f"keeps trials {kept}" if kept else "deleted"
                    changed.append(f"{label}: run {run_id} {what} (trials {dropped} were stored by another run)")
        return changed
