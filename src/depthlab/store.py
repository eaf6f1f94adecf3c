"""Durable results store: one SQLite file in WAL mode, one transaction per finished cell.

Tables
  sweeps       one row per distinct resolved preset configuration (name + config hash), last_used time
  cells        one row per cell key (method x d x n with the full resolved config as JSON)
  sweep_cells  which cells a sweep consists of
  trials       one row per (cell, trial): status ok|diverged and the metric columns
  runs         one row per execution of (part of) a cell: status ok|failed, message, timings, provenance

Resume is a lookup: the trials of a cell already in ``trials`` are never recomputed. A reader never sees
half a cell, and an interrupted write leaves the previous state intact (SQLite's atomic commit).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from depthlab import __version__
from depthlab.analysis import METRICS

SCHEMA_VERSION = 3  # 2: trials.feature_corr; 3: trials.class_error
DEFAULT_STORE = "depthlab.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
    sweep_id INTEGER PRIMARY KEY AUTOINCREMENT,
    preset TEXT NOT NULL,
    config_hash TEXT NOT NULL UNIQUE,
    config_json TEXT NOT NULL,
    trials INTEGER NOT NULL,
    created TEXT NOT NULL,
    last_used TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
    cell_key TEXT PRIMARY KEY,
    preset TEXT NOT NULL,
    method TEXT NOT NULL,
    d INTEGER NOT NULL,
    n INTEGER NOT NULL,
    kappa REAL NOT NULL,
    config_json TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sweep_cells (
    sweep_id INTEGER NOT NULL REFERENCES sweeps(sweep_id),
    cell_key TEXT NOT NULL REFERENCES cells(cell_key),
    PRIMARY KEY (sweep_id, cell_key)
);
CREATE TABLE IF NOT EXISTS trials (
    cell_key TEXT NOT NULL REFERENCES cells(cell_key),
    trial INTEGER NOT NULL,
    status TEXT NOT NULL,
    test_mse REAL, train_mse REAL, trivial_mse REAL, overlap_w REAL, overlap_h REAL, feature_corr REAL,
    class_error REAL,
    extra_json TEXT,
    run_id INTEGER,
    PRIMARY KEY (cell_key, trial)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    cell_key TEXT NOT NULL,
    trials_json TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT,
    wall_s REAL, compile_s REAL, run_s REAL,
    created TEXT NOT NULL,
    provenance_json TEXT
);
"""


class StoreError(RuntimeError):
    """The store file cannot be used (not a SQLite database, corrupt, or from a newer schema)."""


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def default_store_path() -> Path:
    return Path(os.environ.get("DEPTHLAB_STORE", DEFAULT_STORE))


def provenance() -> dict[str, str]:
    import jax

    return {
        "depthlab": __version__,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "host": platform.node(),
    }


class Store:
    """The results store at ``path`` (created on first write)."""

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.exists():
            raise StoreError(f"results store {self.path} does not exist (run a preset first)")
        try:
            self._con = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._con.row_factory = sqlite3.Row
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.execute("PRAGMA foreign_keys=ON")
            tables = {r[0] for r in self._con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "meta" not in tables:
                raise StoreError(f"{self.path} is a SQLite file but not a depthlab results store")
            if not readonly:
                self._con.executescript(_SCHEMA)
            self._check_schema(readonly)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path} is not a usable depthlab results store: {e}") from None

    def _check_schema(self, readonly: bool) -> None:
        row = self._con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            if readonly:
                raise StoreError(f"{self.path} has no schema version")
            self._con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {row[0]}, newer than this depthlab ({SCHEMA_VERSION})"
            )
        elif int(row[0]) < SCHEMA_VERSION:
            self._migrate(int(row[0]))

    def _migrate(self, version: int) -> None:
        """Upgrade an older store in place, after copying it to ``<name>.v<version>.bak``."""
        backup = self.path.with_name(f"{self.path.name}.v{version}.bak")
        self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        dst = sqlite3.connect(backup)
        self._con.backup(dst)
        dst.close()
        with self._transaction() as con:
            if version < 2:
                con.execute("ALTER TABLE trials ADD COLUMN feature_corr REAL")
            if version < 3:
                con.execute("ALTER TABLE trials ADD COLUMN class_error REAL")
            con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))

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
            self._con.execute("ROLLBACK")
            raise
        self._con.execute("COMMIT")

    # ---- writing ---------------------------------------------------------------------------------
    def register_sweep(
        self, preset: str, config_hash: str, config_json: str, trials: int, cells: Sequence[Any]
    ) -> int:
        """Create (or touch) the sweep of a resolved preset config and attach its cells; returns sweep_id."""
        now = _now()
        with self._transaction() as con:
            row = con.execute("SELECT sweep_id FROM sweeps WHERE config_hash=?", (config_hash,)).fetchone()
            if row is None:
                cur = con.execute(
                    "INSERT INTO sweeps(preset, config_hash, config_json, trials, created, last_used) "
                    "VALUES (?,?,?,?,?,?)",
                    (preset, config_hash, config_json, trials, now, now),
                )
                sweep_id = int(cur.lastrowid or 0)
            else:
                sweep_id = int(row[0])
                con.execute("UPDATE sweeps SET last_used=? WHERE sweep_id=?", (now, sweep_id))
            for c in cells:
                con.execute(
                    "INSERT OR IGNORE INTO cells(cell_key, preset, method, d, n, kappa, config_json, created) "
                    "VALUES (?,?,?,?,?,?,?,?)",
                    (
                        c.key,
                        c.preset,
                        c.method,
                        c.d,
                        c.n,
                        c.kappa,
                        json.dumps(c.identity(), sort_keys=True),
                        now,
                    ),
                )
                con.execute("INSERT OR IGNORE INTO sweep_cells VALUES (?,?)", (sweep_id, c.key))
        return sweep_id

    def write_cell(
        self,
        cell_key: str,
        trials: Sequence[int],
        rows: Sequence[dict[str, Any]],
        status: str,
        message: str = "",
        timings: dict[str, float] | None = None,
    ) -> None:
        """Record one execution of a cell and its trial rows, atomically."""
        t = timings or {}
        with self._transaction() as con:
            cur = con.execute(
                "INSERT INTO runs(cell_key, trials_json, status, message, wall_s, compile_s, run_s, created, "
                "provenance_json) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    cell_key,
                    json.dumps(list(trials)),
                    status,
                    message,
                    t.get("wall_s"),
                    t.get("compile_s"),
                    t.get("run_s"),
                    _now(),
                    json.dumps(provenance()),
                ),
            )
            run_id = cur.lastrowid
            for r in rows:
                extra = {k: v for k, v in r.items() if k not in (*METRICS, "trial", "status")}
                con.execute(
                    f"INSERT OR REPLACE INTO trials(cell_key, trial, status, {', '.join(METRICS)}, extra_json, "
                    f"run_id) VALUES ({', '.join('?' * (len(METRICS) + 5))})",
                    (
                        cell_key,
                        r["trial"],
                        r["status"],
                        *(r.get(m) for m in METRICS),
                        json.dumps(extra) if extra else None,
                        run_id,
                    ),
                )

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

    def trial_rows(self, sweep_id: int, trials: int | None = None) -> list[dict[str, Any]]:
        """Per-trial rows of a sweep (trials < ``trials`` when given), ordered by method, d, n, trial."""
        q = (
            "SELECT c.preset, c.method, c.d, c.n, c.kappa, t.trial, t.status, "
            + ", ".join(f"t.{m}" for m in METRICS)
            + " FROM sweep_cells s JOIN cells c ON c.cell_key = s.cell_key "
            "JOIN trials t ON t.cell_key = c.cell_key WHERE s.sweep_id = ?"
            + (" AND t.trial < ?" if trials is not None else "")
            + " ORDER BY c.method, c.d, c.n, t.trial"
        )
        args: tuple[Any, ...] = (sweep_id, trials) if trials is not None else (sweep_id,)
        return [dict(r) for r in self._con.execute(q, args)]

    def failed_runs(self, sweep_id: int) -> list[dict[str, Any]]:
        """The latest run of each cell of the sweep whose latest run failed."""
        q = (
            "SELECT c.method, c.d, c.n, r.message FROM sweep_cells s JOIN cells c ON c.cell_key = s.cell_key "
            "JOIN runs r ON r.run_id = (SELECT MAX(run_id) FROM runs WHERE cell_key = c.cell_key) "
            "WHERE s.sweep_id = ? AND r.status = 'failed'"
        )
        return [dict(r) for r in self._con.execute(q, (sweep_id,))]

    def runs(self, sweep_id: int) -> list[dict[str, Any]]:
        """Every recorded execution of the sweep's cells (method, d, n, status, timings, created) with its
        provenance decoded from JSON (``{}`` when missing or unreadable); ordered by run_id."""
        q = (
            "SELECT r.run_id, c.method, c.d, c.n, c.kappa, r.trials_json, r.status, r.message, r.wall_s, "
            "r.compile_s, r.run_s, r.created, r.provenance_json FROM sweep_cells s "
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
            row["provenance"] = prov if isinstance(prov, dict) else {"value": prov}
            out.append(row)
        return out

    def timings(self, sweep_id: int) -> dict[str, float]:
        q = (
            "SELECT SUM(r.wall_s), SUM(r.compile_s), SUM(r.run_s), COUNT(*) FROM sweep_cells s "
            "JOIN runs r ON r.cell_key = s.cell_key WHERE s.sweep_id = ?"
        )
        w, c, r, k = self._con.execute(q, (sweep_id,)).fetchone()
        return {"wall_s": w or 0.0, "compile_s": c or 0.0, "run_s": r or 0.0, "runs": k}
