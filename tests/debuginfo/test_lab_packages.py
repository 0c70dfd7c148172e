"""Real kernels: the lab's Debian -dbg deb, and an RPM built here with rpmbuild from the lab's vmlinux,
imported and matched to the lab's dumps by build-id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.debuginfo.pkgs import build_rpm

from crashhub import dump as dumpmod
from crashhub.debuginfo import DebuginfoStore
from crashhub.debuginfo import _rpm as rpm

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def test_real_dbg_deb(lab: Any, tmp_path: Path) -> None:
    run = lab.crash("6.1", "null")
    pkg = run.manifest["kernel"]["package"]
    debs = sorted((run.dir.parents[3] / "debs").glob(f"{pkg}-dbg_*.deb"))
    if not debs:
        pytest.fail(f"the lab downloads {pkg}-dbg with every kernel, but its cache has none")
    store = DebuginfoStore(tmp_path / "store")
    [e] = store.import_path(debs[-1])
    exp = run.manifest["expected"]
    assert e.id == exp["build_id"] and e.release == exp["release"] and e.kind == "deb"
    assert e.package is not None and e.package.startswith(f"{pkg}-dbg ")
    assert e.vmlinux.stat().st_size == run.vmlinux.stat().st_size
    assert len(e.modules) > 500
    assert any(m.endswith("virtio_blk.ko") for m in e.modules)
    m = store.check(dumpmod.facts(run.path("rhel/vmcore")))
    assert m.ok and m.by == "build-id" and m.entry == e
    # The 6.12 dump is another kernel: refused with the reason.
    m = store.check(dumpmod.facts(lab.crash("6.12", "null").path("rhel/vmcore")))
    assert not m.ok and "no debuginfo for the dump's kernel" in m.reason


def test_rpm_built_from_lab_vmlinux(lab: Any, tmp_path: Path) -> None:
    run = lab.crash("6.1", "null")
    exp = run.manifest["expected"]
    version, _, rest = exp["release"].partition("-")
    pkg = build_rpm(tmp_path, run.vmlinux, [run.dir / "crashmod.ko"], version=version,
                    release=rest.replace("-", "_"), payload="w1.zstdio")
    info = rpm.info(pkg)
    assert info.payload_compressor == "zstd" and info.name == "kernel-debuginfo"
    store = DebuginfoStore(tmp_path / "store")
    [e] = store.import_path(pkg)
    assert e.id == exp["build_id"] and e.release == exp["release"]  # the banner's release wins
    assert list(e.modules) == ["kernel/drivers/test/crashmod.ko.debug"]
    for layout in ("rhel/vmcore", "elf/vmcore", "debian/dump"):
        m = store.check(dumpmod.facts(run.path(layout)))
        assert m.ok and m.by == "build-id", (layout, m.reason)
