"""The agent on real crash directories from the crash lab (QEMU + Debian kernels + real kdump layouts)."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path
from typing import Any

import pytest
from tests.need import need_module

from crashhub.agent import Agent, HubClient
from crashhub.agent import _estimate as estimate
from crashhub.agent import _scan as scan
from crashhub.model import HostInfo

from .conftest import FakeHub
from .test_agent import _cfg

pytestmark = pytest.mark.lab


def _crash_root(run: Any, tmp: Path, layouts: tuple[str, ...]) -> dict[str, Path]:
    """Copy the run's crash directories (as kdump left them) under tmp/crash."""
    root = tmp / "crash"
    root.mkdir()
    out = {}
    for name in layouts:
        src = Path(run.path(name)).parent
        dst = root / src.name
        if dst.exists():  # rhel and elf may share a second; keep them apart
            dst = root / (src.name[:-2] + "59")
        shutil.copytree(src, dst)
        out[name] = dst
    return out


def test_lab_dirs_are_recognised_and_shipped(lab: Any, tmp_path: Path, fake_hub: FakeHub) -> None:
    run = lab.crash("6.1", "null")
    dirs = _crash_root(run, tmp_path, ("rhel/vmcore", "rhel-ssh/vmcore.flat", "debian/dump"))
    found = {c.path: c for c in scan.scan([str(tmp_path / "crash")])}
    rh, ssh, deb = (found[dirs[k]] for k in ("rhel/vmcore", "rhel-ssh/vmcore.flat", "debian/dump"))
    assert (rh.layout, rh.host_tag, rh.vmcore and rh.vmcore.name) == ("rhel", "127.0.0.1", "vmcore")
    assert (ssh.host_tag, ssh.vmcore and ssh.vmcore.name) == ("10.0.2.15", "vmcore.flat")
    assert deb.layout == "debian" and deb.log is not None and deb.log.name.startswith("dmesg.")
    assert rh.kexec_log is not None
    cfg = _cfg(tmp_path, fake_hub, chunk_size=4 * 2**20)
    with HubClient(cfg.hub, cfg.token) as c:
        s = Agent(cfg, c, sleep=lambda _: None, kdump_report=lambda: {"verdict": "ok"},
                  host_info=lambda: HostInfo(release=run.manifest["expected"]["release"])).run_once()
    # The three directories hold one crash: its log went three times, the hub kept one crash
    # (identified by content) and wanted its dump once; the other two saw has_vmcore.
    assert s.errors == [] and s.sent_logs == 3 and s.sent_dumps == 1
    assert len(fake_hub.crashes) == 1
    crash = next(iter(fake_hub.crashes.values()))
    sent = bytes(crash.data)
    assert sent in {p.vmcore.read_bytes() for p in (rh, ssh, deb) if p.vmcore}
    assert rh.log is not None and crash.log == rh.log.read_bytes()


def test_lab_incomplete_dirs_are_not_shipped(lab: Any, tmp_path: Path, fake_hub: FakeHub) -> None:
    run = lab.crash("6.1", "null", variant="incomplete")
    _crash_root(run, tmp_path, ("rhel-incomplete/vmcore-incomplete", "rhel-ssh-incomplete/vmcore-incomplete"))
    cfg = _cfg(tmp_path, fake_hub)
    with HubClient(cfg.hub, cfg.token) as c:
        s = Agent(cfg, c, sleep=lambda _: None, kdump_report=lambda: {}, host_info=HostInfo).run_once()
    assert (s.found, s.not_ready, s.sent_logs) == (2, 2, 0)
    assert fake_hub.crashes == {}


def _pages_written(kdump: Path) -> int:
    """Set bits of the 2nd bitmap of a kdump-compressed file: the pages makedumpfile wrote."""
    with kdump.open("rb") as f:
        head = f.read(464)
        assert head[:8] == b"KDUMP   "
        block_size, sub_hdr_size, bitmap_blocks = struct.unpack_from("<iii", head, 428)
        assert 0 < block_size <= 1 << 16 and 0 < bitmap_blocks < 1 << 20
        f.seek((1 + sub_hdr_size) * block_size)
        bitmaps = f.read(bitmap_blocks * block_size)
    return sum(bin(b).count("1") for b in bitmaps[len(bitmaps) // 2:])


def _meminfo_from_dump(run: Any) -> tuple[dict[str, int], int, int]:
    """The counters /proc/meminfo prints, the RAM size and the crashkernel size, read from the
    run's ELF dump with drgn: the host's memory at the moment of the crash."""
    drgn = need_module("drgn")
    prog = drgn.Program()
    prog.set_core_dump(str(run.path("elf/vmcore")))
    prog.load_debug_info([str(run.vmlinux)])
    node = {e.name: e.value for e in prog.type("enum node_stat_item").enumerators}
    zone = {e.name: e.value for e in prog.type("enum zone_stat_item").enumerators}

    def n(k: str) -> int:
        return int(prog["vm_node_stat"][node[k]].counter.value_()) if k in node else 0

    page = 4096
    slab_r, slab_u = n("NR_SLAB_RECLAIMABLE_B"), n("NR_SLAB_UNRECLAIMABLE_B")
    mi = {"MemTotal": int(prog["_totalram_pages"].counter.value_()) * page,
          "MemFree": int(prog["vm_zone_stat"][zone["NR_FREE_PAGES"]].counter.value_()) * page,
          "Cached": (n("NR_FILE_PAGES") - n("NR_SWAPCACHE")) * page, "SwapCached": n("NR_SWAPCACHE") * page,
          "AnonPages": n("NR_ANON_MAPPED") * page, "Slab": (slab_r + slab_u) * page,
          "KernelStack": n("NR_KERNEL_STACK_KB") * 1024, "PageTables": n("NR_PAGETABLE") * page,
          "VmallocUsed": int(prog["nr_vmalloc_pages"].counter.value_()) * page,
          "Percpu": int(prog["pcpu_nr_populated"].value_()) * int(prog["pcpu_nr_units"].value_()) * page}
    e820 = prog["e820_table"]
    ram = sum(int(e.size) for e in e820.entries[: int(e820.nr_entries)] if int(e.type) == 1)
    ck = prog["crashk_res"]
    return mi, ram, int(ck.end) - int(ck.start) + 1


@pytest.mark.slow
@pytest.mark.parametrize(("kernel", "kind", "variant"), [("6.1", "null", None), ("6.1", "sysrq", None),
                                                         ("6.12", "null", "d23")])
def test_estimate_against_lab_dumps(lab: Any, kernel: str, kind: str, variant: str | None) -> None:
    """The estimate from the crash-time memory counters against the pages makedumpfile wrote."""
    run = lab.crash(kernel, kind, variant=variant)
    level = int(run.manifest["capture"]["dump_level"])
    mi, ram, crash = _meminfo_from_dump(run)
    kdump = Path(run.path("rhel/vmcore"))
    written = _pages_written(kdump) * 4096
    with_ram = estimate.estimate(mi, level, ram=ram, crash_size=crash)
    without = estimate.estimate(mi, level)
    elf = Path(run.path("elf/vmcore")).stat().st_size
    print(f"{kernel} {kind} -d {level}: estimate {with_ram.bytes / 2**20:.1f} MiB (memmap only: "
          f"{without.bytes / 2**20:.1f}), written {written / 2**20:.1f} MiB, lzo file "
          f"{kdump.stat().st_size / 2**20:.1f} MiB, ELF {elf / 2**20:.1f} MiB")
    assert abs(with_ram.bytes - written) <= 0.05 * written
    # Without the RAM size the reserved memory is undercounted: a lower figure, still the same order.
    assert written / 3 <= without.bytes <= with_ram.bytes
    # The compressed file is well under the bound (the space check's "half the bound" is safe).
    assert kdump.stat().st_size < with_ram.bytes / 2
