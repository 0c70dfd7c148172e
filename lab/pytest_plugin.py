"""pytest fixtures for the crash lab (filled in by the lab work)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def lab() -> object:
    pytest.skip("the crash lab is not built yet")
