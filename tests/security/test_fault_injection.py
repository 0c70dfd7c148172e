"""Kill -9 at each step of an ingest, then ingest again as a restarted hub would: no half-stored
crash, no record lost, no blob left behind after the garbage collection; and the database
(PostgreSQL) restarted in the middle of an ingest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.security.conftest import make_crash_dir
from tests.security.ingest_child import POINTS, UPLOAD_POINTS
from tests.security.targets import OOPS

from crashhub import config
from crashhub.errors import StoreError
from crashhub.ingest import ingest_path
from crashhub.store import open_store
from crashhub.web import build_context

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Census:
    crashes: dict[str, tuple[str, ...]]  # crash id -> its file names
    whole: bool  # every file of every crash has its blob, with the digest and size recorded
    orphans: int  # blobs no crash refers to (before gc)
    left_after_gc: int  # unreferenced blobs and temp files still there after a gc with no grace


def census(data: Path, db: str | None = None) -> Census:
    hub = open_store(config.load(data, env={}, **({"database_url": db} if db else {})))
    try:
        crashes = hub.store.crashes.list_crashes(limit=1000)
        whole = True
        for c in crashes:
            for f in c.files:
                if not hub.blobs.exists(f.digest):
                    whole = False
                    continue
                with hub.blobs.open(f.digest) as fh:
                    body = fh.read()
                whole &= hashlib.sha256(body).hexdigest() == f.digest and len(body) == f.size
        refs = hub.store.retention.referenced_digests()
        orphans = sum(1 for d, _ in hub.blobs.digests() if d not in refs)
        hub.blobs.gc(hub.store.retention.referenced_digests, grace=0, now=float("inf"))
        left = sum(1 for d, _ in hub.blobs.digests() if d not in refs) + len(_temp(data))
        return Census({c.id: tuple(sorted(f.name for f in c.files)) for c in crashes}, whole, orphans, left)
    finally:
        hub.close()


def _temp(data: Path) -> list[Path]:
    t = data / "blobs" / "tmp"
    return [p for p in t.rglob("*") if p.is_file()] if t.exists() else []


def child(data: Path, crash_dir: Path, point: str, db: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "tests.security.ingest_child", str(data), str(crash_dir), point]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "src")])}
    return subprocess.run(argv + ([db] if db else []), cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=180, check=False)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Census]]:
    """A data directory holding one earlier crash (which must survive everything), and the crash
    directory each kill point ingests."""
    root = tmp_path_factory.mktemp("faults")
    data = root / "data"
    earlier = root / "earlier-dmesg.txt"
    earlier.write_text(OOPS.replace("crashmod_null", "ext4_writepages").replace("bash", "kworker"))
    ctx = build_context(config.load(data, env={}, spool_dir="", workers=0, alert_interval=0))
    ingest_path(ctx.pipeline, earlier, source="cli")
    ctx.hub.close()
    before = census(data)
    assert len(before.crashes) == 1 and before.whole
    yield data, make_crash_dir(root / "spool"), before


@pytest.mark.timeout(600)
@pytest.mark.parametrize("point", list(POINTS))
def test_kill_9_at_each_step_of_ingest(tmp_path: Path, template: tuple[Path, Path, Census],
                                       point: str) -> None:
    base, crash_dir, before = template
    data = tmp_path / "data"
    shutil.copytree(base, data)
    killed = child(data, crash_dir, point)
    assert killed.returncode == -signal.SIGKILL, (point, killed.returncode, killed.stderr[-2000:])

    after_kill = census(data)
    assert after_kill.whole, f"{point}: a crash record without its blobs"
    assert set(before.crashes) <= set(after_kill.crashes), f"{point}: a record was lost"
    new = set(after_kill.crashes) - set(before.crashes)
    assert len(new) <= 1
    for cid in new:  # stored before the kill: stored whole, log and dump
        assert after_kill.crashes[cid] == ("vmcore", "vmcore-dmesg.txt"), after_kill.crashes[cid]
    assert after_kill.left_after_gc == 0, f"{point}: debris the garbage collection does not remove"

    # The restart: the same directory ingested again (the spool retries an item it did not finish).
    again = child(data, crash_dir, "none")
    assert again.returncode == 0, again.stderr[-2000:]
    final = census(data)
    assert final.whole and final.left_after_gc == 0
    assert {k: v for k, v in final.crashes.items() if k in before.crashes} == before.crashes  # none lost
    added = set(final.crashes) - set(before.crashes)
    assert len(added) == 1, f"{point}: {len(added)} crashes for one crash directory"
    assert final.crashes[added.pop()] == ("vmcore", "vmcore-dmesg.txt")


# "upload:db-committed" (killed between attach_dump's commit and end_upload) left the upload record
# forever until the next state() read of a complete crash ended it.
@pytest.mark.parametrize("point", UPLOAD_POINTS)
@pytest.mark.timeout(600)
def test_kill_9_at_each_step_of_a_resumable_upload(tmp_path: Path, template: tuple[Path, Path, Census],
                                                   point: str) -> None:
    """The log is stored, its dump sent as a resumable upload and the process killed in the upload's
    last steps; the restarted run asks where the upload is and continues, as the agent does."""
    base, crash_dir, before = template
    data = tmp_path / "data"
    shutil.copytree(base, data)
    killed = child(data, crash_dir, point)
    assert killed.returncode == -signal.SIGKILL, (point, killed.returncode, killed.stderr[-2000:])
    after_kill = census(data)
    assert after_kill.whole and set(before.crashes) <= set(after_kill.crashes), point
    again = child(data, crash_dir, "upload:none")
    assert again.returncode == 0, again.stderr[-2000:]
    final = census(data)
    assert final.whole and final.left_after_gc == 0
    assert {k: v for k, v in final.crashes.items() if k in before.crashes} == before.crashes
    added = set(final.crashes) - set(before.crashes)
    assert len(added) == 1 and final.crashes[added.pop()] == ("vmcore", "vmcore-dmesg.txt"), final.crashes
    hub = open_store(config.load(data, env={}))
    try:
        assert hub.store.uploads.list_uploads() == [], "an upload record outlived its finished upload"
    finally:
        hub.close()


@pytest.mark.postgres
@pytest.mark.timeout(600)
@pytest.mark.parametrize("when", ["before-transaction", "before-commit", "after-commit"])
def test_database_restarted_mid_ingest(tmp_path: Path, pg_url: str, pg_control: Any, when: str) -> None:
    """PostgreSQL stopped (immediate: as a crash would) and started again while the crash is being
    stored: that ingest fails with a StoreError or succeeds, never half-stores; the next one stores the
    crash once, on the same connection pool (which must reconnect)."""
    from sqlalchemy.engine.default import DefaultDialect  # noqa: PLC0415

    from crashhub.store._sql_store import SqlCrashes  # noqa: PLC0415

    data = tmp_path / "data"
    crash_dir = make_crash_dir(tmp_path / "spool")
    ctx = build_context(config.load(data, env={}, spool_dir="", workers=0, alert_interval=0,
                                    database_url=pg_url))
    fired: list[str] = []
    inside: list[bool] = [False]
    orig_add, orig_commit = SqlCrashes.add_crash, DefaultDialect.do_commit

    def restart() -> None:
        if not fired:
            fired.append(when)
            pg_control.stop()
            pg_control.start()

    def add_crash(self: SqlCrashes, new: Any) -> Any:
        if when == "before-transaction":
            restart()
        inside[0] = True
        try:
            return orig_add(self, new)
        finally:
            inside[0] = False

    def do_commit(self: DefaultDialect, conn: Any) -> None:
        if inside[0] and when == "before-commit":
            restart()
        orig_commit(self, conn)
        if inside[0] and when == "after-commit":
            restart()

    try:
        SqlCrashes.add_crash = add_crash  # type: ignore[method-assign]
        DefaultDialect.do_commit = do_commit  # type: ignore[method-assign]
        try:
            ingest_path(ctx.pipeline, crash_dir, source="cli")
        except StoreError:
            pass  # the database went away under the transaction: refused whole
        finally:
            SqlCrashes.add_crash = orig_add  # type: ignore[method-assign]
            DefaultDialect.do_commit = orig_commit  # type: ignore[method-assign]
        assert fired == [when]
        mid = census(data, pg_url)
        assert mid.whole and len(mid.crashes) <= 1 and mid.left_after_gc == 0
        out = ingest_path(ctx.pipeline, crash_dir, source="cli")
        final = census(data, pg_url)
        assert final.whole and list(final.crashes) == [out.crash.id]
        assert final.crashes[out.crash.id] == ("vmcore", "vmcore-dmesg.txt")
    finally:
        ctx.hub.close()
