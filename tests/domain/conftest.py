"""Fixtures for the domain tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import migrate
from utool_chat.db import engine as db_engine


@pytest.fixture(params=["postgresql", "sqlite"])
def backend(request, db, tmp_path, pg_url) -> Iterator[str]:
    """Runs a test once on the session's Postgres database and once on a fresh, migrated
    SQLite file (the embedded default); yields the dialect's name."""
    if request.param == "postgresql":
        yield "postgresql"
        return
    url = f"sqlite:///{tmp_path / 'domain.db'}"
    migrate(url)
    db_engine.init_engine(url)
    try:
        yield "sqlite"
    finally:
        db_engine.init_engine(pg_url)
