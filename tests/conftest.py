"""Shared fixtures: a throwaway PostgreSQL server started from the machine's initdb/pg_ctl."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest
from throwaway_postgres import shared

# Store keys the tests' demos make go to a folder of this test session, not the user's
# ~/.config/crm2/keys; programs the tests start inherit it.
os.environ.setdefault("CRM2_KEY_DIR", tempfile.mkdtemp(prefix="crm2-test-keys-"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh PostgreSQL server, stopped and deleted after the session.

    The server is this process's shared one (tests/throwaway_postgres.py), which a test module
    may already have started at import time. In CI (CI=true) a missing server is a failure,
    never a skip.
    """
    server = shared()
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) not found")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def fresh_postgres_db(postgres_url: str) -> Iterator[str]:
    """A new empty database on the throwaway server, for one test."""
    server = shared()
    assert server is not None and server.url == postgres_url
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)
