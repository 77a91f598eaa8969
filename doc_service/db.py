"""Database engine for the instance: SQLite in the instance folder, or ``DATABASE_URL``.

SQLAlchemy 2 Core/ORM; PostgreSQL when ``DATABASE_URL`` says so (the CI
runs the whole suite on both). SQLite gets WAL and a busy timeout so the web
server and the CLI can share it.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, MetaData, create_engine, event

metadata = MetaData()


def database_url(instance: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Accept the common postgres:// spelling and pick the psycopg 3 driver.
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    return f"sqlite:///{instance / 'doc-service.db'}"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # hide_parameters: SQL errors and echo never print bound values (ID numbers).
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # type: ignore[no-untyped-def]
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)
