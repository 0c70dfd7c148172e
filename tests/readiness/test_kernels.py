"""``crashhub kernel check`` on real kernels: the lab's Debian 6.1, 6.12 and bullseye's 5.10, an RPM
made from the 6.1 deb with rpmbuild, and two broken capture setups whose reports must name the failure.

Boots (~25 s each under TCG) are kept in the lab's cache by every input; the evaluation runs each time.
On an empty cache these tests boot 9 times: 6.1 x3, 6.12, 5.10, the RPM, no disk driver, crashkernel=32M,
an -F collector line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.need import missing
from tests.readiness.kernels import checked, debs

from crashhub.readiness import GUEST_MODULES, KindResult, ReadinessReport, unpack

pytestmark = pytest.mark.lab


def _kind(r: ReadinessReport, name: str) -> KindResult:
    [k] = [k for k in r.kinds if k.kind == name]
    return k


def test_debian_61_every_kind_is_captured_and_readable() -> None:
    d = debs("6.1")
    r = checked(d.all, debuginfo=d.kernel.vmlinux)
    assert r.release == d.kernel.release and r.ready, r.to_dict()
    assert r.makedumpfile.startswith("makedumpfile ") and r.core_collector.startswith("makedumpfile -l")
    assert [k.kind for k in r.kinds] == ["sysrq", "null", "softlockup"]
    for k in r.kinds:
        assert k.captured and k.failure is None and k.ok, (k.kind, k.notes, k.advice)
        assert k.dump_format == "kdump (lzo)" and k.dump_level == 31
        assert 0 < (k.dump_bytes or 0) < k.ram_bytes == 1 << 30
        assert k.dmesg_matches_log and k.panic_task_readable and k.stack_readable
        assert k.guilty_function == k.expected_function
        assert k.dropped_needed_pages == []
        assert (k.crash_tool or "").startswith("crash ") and "opened" in (k.crash_tool or "")
        assert "Linux version" in k.capture_log  # the capture kernel's console is kept
    assert "soft lockup" in (_kind(r, "softlockup").triage_title or "")


def test_debian_612_at_d31_names_the_dropped_slab_pages() -> None:
    """Debian's 6.12 with Debian's makedumpfile 1.7.2 at -d 31: the slab pages drgn needs are dropped
    (6.10 made PG_slab a page type, which 1.7.2 takes for user data; lab/README.md)."""
    d = debs("6.12")
    r = checked(d.all, debuginfo=d.kernel.vmlinux, kinds=["null"])
    k = _kind(r, "null")
    assert k.captured and k.dmesg_matches_log and k.guilty_function == "crashmod_null"
    # Every run drops some live slabs (~20% of those SLUB lists here); the tasks drgn reads, sometimes.
    assert k.dropped_needed_pages and k.dropped_needed_pages[0].startswith("live slab pages: "), k.to_dict()
    assert not k.ok and not r.ready
    assert any("-d 23 instead of -d 31" in a for a in r.advice), r.advice
    assert any(a.startswith("Update makedumpfile") for a in r.advice)
    # crash 8.0.2 does not know 6.12's structures (the module layout changed in 6.4): the log only.
    assert "--minimal" in (k.crash_tool or "") and any("newer crash" in a for a in r.advice)


def test_bullseye_510_sysrq() -> None:
    d = debs("5.10")
    r = checked([d.image], debuginfo=d.kernel.vmlinux, kinds=["sysrq"])
    k = _kind(r, "sysrq")
    assert r.release == d.kernel.release
    assert k.captured, k.failure
    assert k.dmesg_matches_log and k.guilty_function == "sysrq_handle_crash"
    assert k.ok == (bool(k.panic_task_readable) and bool(k.stack_readable) and not k.dropped_needed_pages)


def _rpm(stage: Path, name: str, version: str, release: str, top: Path) -> Path:
    top.mkdir(parents=True, exist_ok=True)
    spec = top / f"{name}.spec"
    spec.write_text(f"""Name: {name}
Version: {version}
Release: {release}
Summary: {name} repackaged from Debian's linux-image for the kernel check's RPM path
License: GPL-2.0-only
AutoReqProv: no
%global __os_install_post %{{nil}}
%global debug_package %{{nil}}
%define _build_id_links none
%define _binary_payload w1.gzdio
%define use_source_date_epoch_as_buildtime 1
%define clamp_mtime_to_source_date_epoch 1
%define _buildhost crashhub-tests
%description
Test package.
%install
cp -a {stage}/. %{{buildroot}}/
%files
/lib/modules
""")
    # Reproducible (same bytes each session), so the check's boot is found in the cache again.
    subprocess.run(["rpmbuild", "-bb", "--quiet", "--define", f"_topdir {top}", str(spec)], check=True,
                   capture_output=True, env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"})
    [out] = (top / "RPMS").rglob(f"{name}-{version}-*.rpm")
    return out


def test_rpm_path(tmp_path: Path) -> None:
    """kernel-core (vmlinuz, System.map, the virtio drivers) + kernel-modules (the rest) under
    /lib/modules/<release>, as Fedora and RHEL lay them out, made with rpmbuild from the 6.1 deb."""
    if shutil.which("rpmbuild") is None:
        missing("rpmbuild (Debian package rpm)", "not installed")
    d = debs("6.1")
    k = d.kernel
    core, mods = tmp_path / "core", tmp_path / "modules"
    src = k.modules_dir()
    dst_core = core / "lib" / "modules" / k.release
    dst_mods = mods / "lib" / "modules" / k.release
    dst_core.mkdir(parents=True)
    shutil.copy2(k.vmlinuz, dst_core / "vmlinuz")
    shutil.copy2(k.system_map, dst_core / "System.map")
    for p in src.iterdir():
        if p.is_file():
            shutil.copy2(p, dst_core / p.name)
    for rel in ("kernel/drivers/virtio", "kernel/drivers/block", "kernel/drivers/firmware"):  # as in_core
        if (src / rel).is_dir():
            shutil.copytree(src / rel, dst_core / rel)
    in_core = {"kernel/drivers/virtio", "kernel/drivers/block", "kernel/drivers/firmware"}
    shutil.copytree(src / "kernel", dst_mods / "kernel", ignore=lambda d, names: [
        n for n in names if (Path(d) / n).relative_to(src).as_posix() in in_core])
    version, _, rel = k.version.partition("-")
    rpms = [_rpm(core, "kernel-core", version, rel or "1", tmp_path / "rpmbuild"),
            _rpm(mods, "kernel-modules", version, rel or "1", tmp_path / "rpmbuild")]
    r = checked(rpms)  # no kernel-devel, no debuginfo: sysrq alone
    assert r.release == k.release and r.packages == [p.name for p in rpms]
    assert [x.kind for x in r.kinds if x.skipped is None] == ["sysrq"]
    assert all("headers" in (x.skipped or "") for x in r.kinds[1:])
    s = _kind(r, "sysrq")
    assert s.captured and s.ok and s.dmesg_matches_log and s.guilty_function == "sysrq_handle_crash"
    assert s.panic_task_readable is None and s.drgn and s.drgn.startswith("not run")
    assert r.ready and any("debuginfo" in a for a in r.advice)


def test_capture_kernel_without_the_disk_driver() -> None:
    d = debs("6.1")
    r = checked([d.image], kinds=["sysrq"], capture_modules=[m for m in GUEST_MODULES if m != "virtio_blk"])
    k = _kind(r, "sysrq")
    assert not k.captured and not r.ready
    assert (k.failure or "").startswith("no disk found"), k.failure
    assert "LAB-ERROR mount" in k.capture_log and "Linux version" in k.capture_log
    assert any("virtio_blk" in a for a in k.advice)


def test_crashkernel_too_small() -> None:
    d = debs("6.1")
    r = checked([d.image], kinds=["sysrq"], crashkernel="32M")
    k = _kind(r, "sysrq")
    assert not k.captured and r.crashkernel == "32M"
    # kexec cannot fit the capture kernel and its initramfs in 32 MiB ("Could not find a free area").
    assert (k.failure or "").startswith("kexec load failed") and "crashkernel=32M" in (k.failure or "")
    assert "free area of memory" in (k.failure or ""), k.failure
    assert any("crashkernel=" in a and "loading alone needed" in a for a in k.advice), k.advice


def test_a_directory_is_read_where_it_is(tmp_path: Path) -> None:
    """The lab's unpacked 6.1 tree as a directory package: vmlinuz, lib/modules/<release>, System.map
    and headers found in place, nothing copied (no boot: the deb and RPM tests boot)."""
    d = debs("6.1")
    k = d.kernel
    tree = unpack([k.tree], tmp_path)
    assert (tree.release, tree.vmlinuz, tree.modules_dir) == (k.release, k.vmlinuz, k.modules_dir())
    assert tree.system_map == k.system_map and tree.headers == k.headers
    assert tree.digest and tree.names == (k.tree.name,) and not any(tmp_path.iterdir())
    assert unpack([k.tree], tmp_path).digest == tree.digest


def test_a_flattened_collector_line() -> None:
    """An ssh target's collector (``-F``): the stream as dd wrote it, read in place by crashhub."""
    d = debs("6.1")
    r = checked([d.image], kinds=["sysrq"], core_collector="makedumpfile -F -l --message-level 7 -d 31")
    k = _kind(r, "sysrq")
    assert k.captured and k.dmesg_matches_log, (k.failure, k.notes)
    assert (k.dump_format or "").startswith("flat-kdump") and k.dump_level == 31
    assert k.guilty_function == "sysrq_handle_crash"
