"""The debuginfod protocol served from the store; drgn finds a lab vmlinux through it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.debuginfo.pkgs import RELEASE, build_kernel

from crashhub.debuginfo import DebuginfoStore
from crashhub.debuginfo import _elf as elf
from crashhub.debuginfo._debuginfod import Upstream, app, resolve_source


class Served:
    def __init__(self, application: Any) -> None:
        import uvicorn  # noqa: PLC0415  (the 'hub' extra)

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def store(tmp_path: Path) -> DebuginfoStore:
    v, m = build_kernel(tmp_path / "k")
    tree = tmp_path / "tree"
    (tree / f"lib/modules/{RELEASE}").mkdir(parents=True)
    (tree / "vmlinux").write_bytes(v.read_bytes())
    (tree / f"lib/modules/{RELEASE}/crashmod.ko").write_bytes(m.read_bytes())
    s = DebuginfoStore(tmp_path / "store")
    s.import_path(tree)
    src = tmp_path / "linux"
    (src / "fs/ext4").mkdir(parents=True)
    (src / "fs/ext4/inode.c").write_text("int ext4(void) { return 0; }\n")
    (tmp_path / "secret").write_text("outside the tree")
    s.import_source(src, RELEASE)
    return s


@pytest.fixture
def served(store: DebuginfoStore) -> Iterator[Served]:
    srv = Served(app(store))
    yield srv
    srv.stop()


def test_protocol(store: DebuginfoStore, served: Served) -> None:
    [e] = store.list()
    r = httpx.get(f"{served.url}/buildid/{e.id}/debuginfo")
    assert r.status_code == 200 and r.content == e.vmlinux.read_bytes()
    assert r.headers["x-debuginfod-size"] == str(len(r.content))
    assert r.headers["x-debuginfod-file"] == f"{e.id}/vmlinux"  # not the hub's own path
    assert httpx.get(f"{served.url}/buildid/{e.id.upper()}/executable").status_code == 200
    [mbid] = e.modules.values()
    r = httpx.get(f"{served.url}/buildid/{mbid}/debuginfo")
    assert r.status_code == 200 and elf.parse_build_id_note(r.content) is None  # a whole ELF, not a note
    assert r.content[:4] == b"\x7fELF"
    assert httpx.get(f"{served.url}/buildid/{'0' * 40}/debuginfo").status_code == 404
    assert httpx.get(f"{served.url}/buildid/not-hex/debuginfo").status_code == 400
    # /source/<the path DWARF names>: the build directory prefix is dropped, the tree never left.
    r = httpx.get(f"{served.url}/buildid/{e.id}/source/build/reproducible-path/linux-9.9/fs/ext4/inode.c")
    assert r.status_code == 200 and b"ext4" in r.content
    r = httpx.get(f"{served.url}/buildid/{e.id}/source/fs/ext4/%2E%2E/%2E%2E/%2E%2E/secret")
    assert r.status_code == 404
    assert httpx.get(f"{served.url}/buildid/{e.id}/source/fs/nope.c").status_code == 404


def test_resolve_source_stays_inside(tmp_path: Path) -> None:
    (tmp_path / "t/a").mkdir(parents=True)
    (tmp_path / "t/a/x.c").write_text("x")
    (tmp_path / "t/link").symlink_to("/etc")
    assert resolve_source(tmp_path / "t", "/build/linux/a/x.c") == (tmp_path / "t/a/x.c").resolve()
    assert resolve_source(tmp_path / "t", "/a/../../t/a/x.c") is None
    assert resolve_source(tmp_path / "t", "link/passwd") is None


def test_source_paths_no_file_system_takes_are_a_404(store: DebuginfoStore) -> None:
    """A NUL byte or a name too long for the file system was a ValueError/OSError: a 500 from a route
    that takes no token."""
    from fastapi.testclient import TestClient  # noqa: PLC0415

    [e] = store.list()
    with TestClient(app(store), raise_server_exceptions=False) as c:
        for path in ("fs/ext4/inode.c%00", "a%00b/inode.c", "x" * 5000, "/".join(["a"] * 3000)):
            r = c.get(f"/buildid/{e.id}/source/{path}")
            assert r.status_code == 404, (path[:40], r.status_code)
        assert c.get(f"/buildid/{e.id}/source/fs/ext4/inode.c").status_code == 200


def test_upstream_fetch(tmp_path: Path, store: DebuginfoStore, served: Served) -> None:
    [e] = store.list()
    local = DebuginfoStore(tmp_path / "local")
    up = Upstream([served.url], local)
    srv = Served(app(local, up))
    try:
        r = httpx.get(f"{srv.url}/buildid/{e.id}/debuginfo", timeout=30)
        assert r.status_code == 200 and r.content == e.vmlinux.read_bytes()
        assert [x.id for x in local.list()] == [e.id]
        assert httpx.get(f"{srv.url}/buildid/{'1' * 40}/debuginfo", timeout=30).status_code == 404
    finally:
        srv.stop()
    # Off by default: a store without upstream does not fetch.
    assert httpx.get(f"{served.url}/buildid/{'2' * 40}/debuginfo").status_code == 404


DRGN_PROBE = """
import json, sys, drgn
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
# drgn 0.3.0 only asks debuginfod for Fedora kernels unless told to.
prog.set_enabled_debug_info_finders(["standard", "debuginfod"])
prog.load_debug_info(main=True)
t = prog.crashed_thread()
def src(f):
    try:
        return f.source()[0]
    except LookupError:
        return None
frames = [(f.name, src(f)) for f in t.stack_trace() if f.name]
print(json.dumps({"path": prog.main_module().debug_file_path, "pid": t.tid, "frames": frames}))
"""


@pytest.mark.lab
@pytest.mark.slow
def test_drgn_finds_vmlinux_through_the_hub(lab: Any, tmp_path: Path) -> None:
    run = lab.crash("6.1", "sysrq")
    store = DebuginfoStore(tmp_path / "store")
    store.import_path(run.vmlinux)
    srv = Served(app(store))
    try:
        env = dict(os.environ, DEBUGINFOD_URLS=srv.url, DEBUGINFOD_CACHE_PATH=str(tmp_path / "cache"),
                   DEBUGINFOD_TIMEOUT="60")
        p = subprocess.run([sys.executable, "-c", DRGN_PROBE, str(run.path("rhel/vmcore"))], env=env,
                           capture_output=True, text=True, timeout=300, check=False)
    finally:
        srv.stop()
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["path"].startswith(str(tmp_path / "cache"))  # fetched over HTTP, not found locally
    # A sysrq crash: panic() was called from sysrq_handle_crash, with file:line from the fetched DWARF.
    files = dict(got["frames"])
    assert files["sysrq_handle_crash"].endswith("drivers/tty/sysrq.c") and "panic" in files
