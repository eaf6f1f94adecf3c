"""A store on read-only media can be read (SQLite's read-only / immutable URI)."""

import sqlite3

import pytest

import depthlab.store as store_mod
from depthlab.store import Store


def test_store_in_an_unwritable_directory_is_read_without_new_files(tmp_path, monkeypatch):
    path = tmp_path / "r.sqlite"
    with Store(path):
        pass
    before = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.setattr(store_mod.os, "access", lambda p, mode: False)
    with Store(path, readonly=True) as st:
        assert st.path == path
        with pytest.raises(sqlite3.OperationalError):  # the connection itself cannot write
            st._con.execute("CREATE TABLE x (a)")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
