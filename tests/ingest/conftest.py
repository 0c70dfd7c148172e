"""Ingest fixtures: a fresh hub (SQLite + blobs + KB) in a temp data directory, and lab crash dirs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crashhub import config
from crashhub.ingest import Pipeline
from crashhub.knowledge import KnowledgeBase
from crashhub.store import Hub, open_store


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = open_store(config.load(tmp_path / "data", env={}))
    yield h
    h.close()


@pytest.fixture
def pipeline(hub: Hub) -> Pipeline:
    return Pipeline(hub, KnowledgeBase(hub.settings.kb_path))


def crash_dir(run: Any, layout: str) -> Path:
    """The crash directory of one layout of a lab run ("rhel", "rhel-ssh", "elf", "debian")."""
    name = {
        "rhel": "rhel/vmcore",
        "rhel-ssh": "rhel-ssh/vmcore.flat",
        "elf": "elf/vmcore",
        "debian": "debian/dump",
    }[layout]
    return Path(run.path(name)).parent


def copy_dir(src: Path, dst_parent: Path, name: str | None = None) -> Path:
    dst = dst_parent / (name or src.name)
    shutil.copytree(src, dst, symlinks=True)
    return dst
