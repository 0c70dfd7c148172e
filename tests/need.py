"""What a test needs from the machine, and what happens when it is missing.

``CRASHHUB_REQUIRE_ALL=1`` (``.ci/run`` sets it) turns every missing server, tool, package, the crash
lab or the public corpus into a failure naming what is missing, instead of a skip: CI never passes
by checking less than it claims.  On a developer's desk the same tests skip with the reason.
``tests/conftest.py`` adds a net under this: with the switch on, any skip that still happens (a
``skipif`` marker, a library's own ``pytest.skip``) is reported as a failure too.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

REQUIRE_ALL_ENV = "CRASHHUB_REQUIRE_ALL"


def require_all() -> bool:
    """True when nothing a test needs may be missing (CI)."""
    return os.environ.get(REQUIRE_ALL_ENV, "") not in ("", "0")


def missing(what: str, why: str) -> NoReturn:
    """``what`` (a server, a tool, the lab, the corpus) cannot be had here, because ``why``."""
    if require_all():
        pytest.fail(f"{what} is required ({REQUIRE_ALL_ENV}=1) but unusable: {why}", pytrace=False)
    pytest.skip(f"{what}: {why}")


def need_module(name: str, what: str | None = None) -> ModuleType:
    """Import ``name`` or treat it as missing (``pytest.importorskip`` that fails under the switch)."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        missing(what or f"Python module {name}", str(e))
