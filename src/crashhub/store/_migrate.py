"""Run the package's Alembic migrations (``crashhub/store/migrations``) against an engine.

No ``alembic.ini`` is needed: the configuration is built here, so ``crashhub serve`` and
every store command upgrade the schema on their own.  Developers make a new revision with
``python -m crashhub.store._migrate revision "message"`` against a scratch SQLite file.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

# Alembic logs every plugin it sets up at INFO when it is imported (1.16+), and each migration step;
# a hub start should not.  Before the import, or the plugin lines are already out.
logging.getLogger("alembic").setLevel(logging.WARNING)

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from sqlalchemy import Engine, create_engine  # noqa: E402

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_lock = threading.Lock()


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    with _lock:
        command.upgrade(_config(engine), revision)


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def main(argv: list[str]) -> int:  # pragma: no cover - a developer tool
    if len(argv) >= 2 and argv[0] == "revision":
        engine = create_engine("sqlite:///" + str(Path("scratch-migrations.db").resolve()))
        upgrade(engine)
        command.revision(_config(engine), message=argv[1], autogenerate=True)
        return 0
    print("usage: python -m crashhub.store._migrate revision MESSAGE", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
