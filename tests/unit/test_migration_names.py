"""Migrations are named so their order is visible: NNNN_what.py, revision "NNNN", each revising the one before."""

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).parents[2]


def test_file_order_is_the_chain_order() -> None:
    scripts = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
    chain = list(reversed(list(scripts.walk_revisions())))
    files = sorted(p.name for p in (ROOT / "alembic" / "versions").glob("[0-9]*.py"))
    assert [Path(s.path).name for s in chain] == files
    for number, script in enumerate(chain, start=1):
        assert script.revision == f"{number:04d}"
        assert Path(script.path).name.startswith(f"{script.revision}_")
        assert script.down_revision == (f"{number - 1:04d}" if number > 1 else None)
