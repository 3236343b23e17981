"""The data directory's files: private from creation, and creating them never disturbs an open database."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from domain.datadir import FILE_MODE, create_private_file


def test_a_new_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    create_private_file(path)
    assert path.stat().st_mode & 0o777 == FILE_MODE


def test_creating_an_open_database_keeps_its_locks(tmp_path: Path) -> None:
    """Closing any descriptor of a file drops every POSIX lock the process holds on it. A second engine used to
    reopen the database to make it private: another process then believed itself the last user, checkpointed
    and deleted the WAL under the open connections, and the next connection failed with "disk I/O error"."""
    db = tmp_path / "orderhub.db"
    open_connection = sqlite3.connect(db, isolation_level=None)
    open_connection.execute("PRAGMA journal_mode=WAL")
    open_connection.execute("CREATE TABLE t (x INTEGER)")
    open_connection.execute("INSERT INTO t VALUES (1)")
    create_private_file(db)
    other = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT 1 FROM t').fetchall(); c.close()"
    subprocess.run([sys.executable, "-c", other, str(db)], check=True, timeout=60)
    assert Path(f"{db}-wal").exists(), "another process deleted the WAL of an open database"
    later = sqlite3.connect(db, isolation_level=None)
    later.execute("INSERT INTO t VALUES (2)")
    assert open_connection.execute("SELECT count(*) FROM t").fetchone() == (2,)
    later.close()
    open_connection.close()
