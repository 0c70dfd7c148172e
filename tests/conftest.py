"""Shared fixtures: the public corpus, the crash lab, the golden-file switch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bench.corpus_cases import corpus_dir
from tests.need import REQUIRE_ALL_ENV, missing, require_all

REPO = Path(__file__).resolve().parent.parent

# The crash lab's fixtures (lab/pytest_plugin.py): real dumps made on demand; a PostgreSQL server
# (tests/postgres.py) for the store's contract tests and the scale-out tests.
pytest_plugins = ["lab.pytest_plugin", "tests.postgres"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files with the current answers instead of comparing")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that uses the crash lab ``lab`` (so ``-m "not lab"`` is the quick tier), and
    leave out ``optin`` tests unless asked for (``-m optin`` or ``CRASHHUB_OPTIN=1``): they are
    deselected, which pytest's summary says, rather than skipped."""
    for item in items:
        if "lab" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.lab)
    if "optin" in (config.getoption("-m") or "") or os.environ.get("CRASHHUB_OPTIN"):
        return
    keep = [i for i in items if i.get_closest_marker("optin") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i.get_closest_marker("optin")])
        items[:] = keep


def _as_failure(rep: pytest.TestReport | pytest.CollectReport) -> None:
    """Under CRASHHUB_REQUIRE_ALL a skip is a failure: whatever made the test skip is missing in CI."""
    if not require_all() or not rep.skipped or hasattr(rep, "wasxfail"):
        return
    why = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
    rep.outcome = "failed"
    rep.longrepr = f"skipped under {REQUIRE_ALL_ENV}=1, which allows no skip: {why}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    _as_failure(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):  # type: ignore[no-untyped-def]
    outcome = yield
    _as_failure(outcome.get_result())


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The public kernel-log corpus (``../shared/corpus``, read in place, never copied into the repo)."""
    d = corpus_dir()
    if d is None:
        where = os.environ.get("CRASHHUB_CORPUS") or "../shared/corpus beside the checkout"
        missing("the public corpus", f"no directory {where} (CRASHHUB_CORPUS names another)")
    return d
