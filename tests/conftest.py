"""Shared fixtures: the public corpus, the crash lab, the golden-file switch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# The crash lab's fixtures (lab/pytest_plugin.py): real dumps made on demand; a PostgreSQL server
# (tests/postgres.py) for the store's contract tests and the scale-out tests.
pytest_plugins = ["lab.pytest_plugin", "tests.postgres"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files with the current answers instead of comparing")


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def _corpus_dir() -> Path | None:
    env = os.environ.get("CRASHHUB_CORPUS")
    candidates = [Path(env)] if env else []
    # ../shared/corpus beside the checkout (the project's layout), and one level up for CI's clone.
    candidates += [REPO.parent / "shared" / "corpus", REPO.parent.parent / "shared" / "corpus"]
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The public kernel-log corpus (``../shared/corpus``); skips when absent. Never copied into the repo."""
    d = _corpus_dir()
    if d is None:
        pytest.skip("public corpus ../shared/corpus is absent")
    return d
