"""Real crashes from the lab, checked with the reference tools (makedumpfile, crash, drgn).

Fast tests use only lab.run.CI_CORE; every other kind is marked slow (``pytest -m lab`` runs all).
On 6.12 the reference tools' known failures are asserted, so the lab notices when they change.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lab.kinds import KINDS
from lab.run import CI_CORE, LabRun
from tests.need import missing

try:
    import drgn
    from drgn.helpers.linux.cpumask import for_each_possible_cpu
    from drgn.helpers.linux.mm import page_to_virt
    from drgn.helpers.linux.percpu import per_cpu_ptr
    from drgn.helpers.linux.slab import for_each_slab_cache
except ImportError:  # the analyze extra is not installed: drgn tests skip
    drgn = None

pytestmark = pytest.mark.lab

CORE_KINDS = {(k, kind) for k, kind, variant, _ in CI_CORE if variant is None}


def _kinds(kernel: str) -> list[Any]:
    return [pytest.param(kernel, k, id=f"{kernel}-{k}",
                         marks=() if (kernel, k) in CORE_KINDS else (pytest.mark.slow,))
            for k, spec in KINDS.items() if kernel in spec.kernels]


def _head(path: Path, n: int = 16) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        missing(name, "not installed (Debian package of that name)")
    return exe


def _crash_tool(run: LabRun, dump: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_tool("crash"), "-s", *extra, str(run.vmlinux), str(dump)],
                          input="sys\nbt\nquit\n", capture_output=True, text=True, timeout=300, check=False)


def _drgn(run: LabRun, dump: Path) -> Any:
    if drgn is None:
        missing("drgn", "not installed (the analyze extra)")
    prog = drgn.Program()
    prog.set_core_dump(str(dump))
    files = [str(run.vmlinux)]
    if run.has("crashmod.ko"):
        files.append(str(run.path("crashmod.ko")))
    prog.load_debug_info(files)
    return prog


def _frames(thread: Any) -> list[str]:
    return [f.name or "?" for f in thread.stack_trace()]


@pytest.mark.parametrize(("kernel", "kind"), _kinds("6.1") + _kinds("6.12") + _kinds("5.10"))
def test_every_layout_exists(lab: Any, kernel: str, kind: str) -> None:
    run = lab.crash(kernel, kind)
    m = run.manifest
    assert m["kernel"]["release"].startswith(kernel + ("." if kernel == "6.12" else ".0-"))
    assert m["kernel"]["release"] == m["expected"]["release"]
    assert _head(run.path("rhel/vmcore"), 8) == b"KDUMP   "
    assert _head(run.path("rhel-ssh/vmcore.flat"), 12) == b"makedumpfile"
    assert _head(run.path("elf/vmcore"), 5) == b"\x7fELF\x02"
    assert _head(run.path("debian/dump"), 12) == b"makedumpfile"
    # Debian names both files after one stamp, which is also the directory name.
    stamp = run.path("debian/dump").parent.name
    assert re.fullmatch(r"\d{12}", stamp)
    assert run.path("debian/dump").name == f"dump.{stamp}"
    assert run.path("debian/dmesg").name == f"dmesg.{stamp}"
    assert re.fullmatch(r"127\.0\.0\.1-\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d", run.path("rhel/vmcore").parent.name)
    assert re.fullmatch(r"10\.0\.2\.15-\d{4}-\d\d-\d\d-\d\d:\d\d:\d\d",
                        run.path("rhel-ssh/vmcore.flat").parent.name)
    for name, f in m["files"].items():
        assert run.path(name).stat().st_size == f["size"], name
    dmesg = run.path("rhel/vmcore-dmesg.txt").read_text(errors="replace")
    for pattern in KINDS[kind].log_patterns:
        assert re.search(pattern, dmesg), f"{pattern!r} not in {run.path('rhel/vmcore-dmesg.txt')}"
    assert run.path("debian/dmesg").read_bytes() == run.path("rhel/vmcore-dmesg.txt").read_bytes()
    # No path of the build machine in the kernel's messages (the module is built with -fmacro-prefix-map).
    assert str(Path.home()) not in dmesg and "/tmp/" not in dmesg
    assert "Linux version " + m["kernel"]["release"] in dmesg
    assert "kexec" in run.path("rhel/kexec-dmesg.log").read_text(errors="replace").lower() or \
        "Command line" in run.path("rhel/kexec-dmesg.log").read_text(errors="replace")


@pytest.mark.parametrize(("kernel", "kind"), [("6.1", "null"), ("6.12", "null")])
def test_flat_reassembles_to_the_same_vmcore(lab: Any, kernel: str, kind: str, tmp_path: Path) -> None:
    run = lab.crash(kernel, kind)
    out = tmp_path / "vmcore"
    with run.path("rhel-ssh/vmcore.flat").open("rb") as fh:
        subprocess.run([_tool("makedumpfile"), "-R", str(out)], stdin=fh, capture_output=True, check=True)
    assert out.read_bytes() == run.path("rhel/vmcore").read_bytes()
    deb = tmp_path / "debian"
    with run.path("debian/dump").open("rb") as fh:
        subprocess.run([_tool("makedumpfile"), "-R", str(deb)], stdin=fh, capture_output=True, check=True)
    assert _head(deb, 8) == b"KDUMP   "


CRASH_PANIC = {
    "null": r'PANIC: "Oops: 0002 \[#1\]',
    "bug": r'PANIC: "kernel BUG at crashmod/crashmod\.c:\d+!"',
    "sysrq": r'PANIC: "Kernel panic - not syncing: sysrq triggered crash"',
    "gpf": r"PANIC: \"\"",  # crash 8.0.2 leaves a GPF's PANIC line empty (seen here)
    "warn": r'PANIC: "Kernel panic - not syncing: (kernel: )?panic_on_warn set',
    "softlockup": r'PANIC: "Kernel panic - not syncing: softlockup: hung tasks"',
    "hung": r'PANIC: "Kernel panic - not syncing: hung_task: blocked tasks"',
    "oom": r'PANIC: "Kernel panic - not syncing: Out of memory',
    "nmi": r'PANIC: "Kernel panic - not syncing: NMI: Not continuing"',
    "nmi_idle": r'PANIC: "Kernel panic - not syncing: NMI: Not continuing"',
    "bad_page": r'PANIC: "Kernel panic - not syncing: panic_on_taint set',
    "atomic_sysrq": r'PANIC: "Kernel panic - not syncing: sysrq triggered crash"',
    "warn_core": r'PANIC: "Kernel panic - not syncing: (kernel: )?panic_on_warn set',
}


@pytest.mark.parametrize(("kernel", "kind"),
                         [p for p in _kinds("6.1") + _kinds("5.10") if p.values[1] in CRASH_PANIC])
def test_crash_tool_reads_61_510(lab: Any, kernel: str, kind: str) -> None:
    run = lab.crash(kernel, kind)
    out = _crash_tool(run, run.path("rhel/vmcore")).stdout
    assert "RELEASE: " + run.manifest["kernel"]["release"] in out
    assert re.search(CRASH_PANIC[kind], out), out[:3000]
    exp = run.expected
    task = re.search(r'PID: (\d+)\s+TASK: \S+\s+CPU: \d+\s+COMMAND: "([^"]+)"', out)
    assert task, out[:3000]
    if exp["pid"] is not None:
        assert int(task.group(1)) == exp["pid"]
    assert task.group(2) == exp["comm"]
    if exp["guilty_function"] and kind not in ("hung", "oom"):
        assert exp["guilty_function"] in out.split("PID:", 1)[1]


@pytest.mark.parametrize(("kernel", "kind"), _kinds("6.1") + _kinds("5.10"))
def test_drgn_finds_the_crashed_task_61_510(lab: Any, kernel: str, kind: str) -> None:
    run = lab.crash(kernel, kind)
    exp = run.expected
    for name in ("rhel/vmcore", "elf/vmcore"):
        prog = _drgn(run, run.path(name))
        thread = prog.crashed_thread()
        assert thread.object.comm.string_().decode() == exp["comm"], name
        if exp["pid"] is not None:
            assert thread.tid == exp["pid"], name
        frames = _frames(thread)
        if exp["comm"] == "khungtaskd":
            # khungtaskd panics; the guilty function is on a blocked task's stack (hung, hung_chain: the
            # trigger shell; abba: crashmod_a).
            blocked = [prog.thread(exp["trigger_pid"])] if kind != "abba" else \
                [t for t in prog.threads() if t.object.comm.string_() == b"crashmod_a"]
            assert any(exp["guilty_function"] in _frames(t) for t in blocked)
        elif exp["guilty_function"]:
            assert exp["guilty_function"] in frames, (name, frames)
        if exp.get("kaslr_offset"):
            text = prog.symbol("_text").address
            assert hex(text) == exp["text"]


def test_kaslr_differs_between_instances(lab: Any) -> None:
    # Same bug, another boot: what "same bucket" tests need. Two random 2 MiB slots in 1 GiB
    # collide with probability ~1/500, which would fail this test; no KASLR at all fails it always.
    a = lab.crash("6.1", "null", instance=1).expected
    b = lab.crash("6.1", "null", instance=2).expected
    assert a["kaslr_offset"] != b["kaslr_offset"]
    assert a["release"] == b["release"] and a["guilty_function"] == b["guilty_function"]


def test_qemu_dumps(lab: Any) -> None:
    run = lab.crash("6.1", "null", variant="qemu")
    elf = run.path("qemu/dump.elf")
    assert _head(elf, 5) == b"\x7fELF\x02"
    assert elf.stat().st_size >= run.manifest["guest"]["memory_mib"] << 20
    assert _head(run.path("qemu/dump.kdump-zlib"), 12) == b"makedumpfile"
    with pytest.raises(FileNotFoundError):
        run.path("rhel/vmcore")
    prog = _drgn(run, elf)
    thread = prog.crashed_thread()
    assert thread.tid == run.expected["pid"]
    assert "panic" in _frames(thread)
    out = _crash_tool(run, elf).stdout
    assert re.search(r'PANIC: "Oops: 0002', out), out[:2000]


def test_incomplete_dumps(lab: Any) -> None:
    run = lab.crash("6.1", "null", variant="incomplete")
    local = run.path("rhel-incomplete/vmcore-incomplete")
    ssh = run.path("rhel-ssh-incomplete/vmcore-incomplete")
    assert _head(local, 8) == b"KDUMP   "
    assert _head(ssh, 12) == b"makedumpfile"
    assert ssh.stat().st_size == 6 << 20
    assert local.stat().st_size >= 6 << 20
    assert not run.has("rhel/vmcore")
    assert run.path("rhel-incomplete/vmcore-dmesg.txt").stat().st_size > 10_000


def test_612_crash_802_cannot_open(lab: Any) -> None:
    # crash 8.0.2 predates 6.4's module layout change: plain -s exits silently (no KASLR detection),
    # --kaslr=auto stops at "invalid structure member offset: module_core_size".
    run = lab.crash("6.12", "null")
    plain = _crash_tool(run, run.path("rhel/vmcore"))
    assert "PANIC:" not in plain.stdout
    auto = _crash_tool(run, run.path("rhel/vmcore"), "--kaslr=auto")
    assert "module_core_size" in auto.stdout + auto.stderr


def _percpu_partial_slabs(prog: Any) -> list[tuple[int, int]]:
    """(slabs counter, page address) of every slab on a per-cpu partial list (6.12 SLUB)."""
    out = []
    for cache in for_each_slab_cache(prog):
        for cpu in for_each_possible_cpu(prog):
            slab = per_cpu_ptr(cache.cpu_slab, cpu).partial
            for _ in range(1000):
                if not slab:
                    break
                out.append((slab.slabs.value_(), page_to_virt(drgn.cast("struct page *", slab)).value_()))
                slab = slab.next
    return out


def _readable(prog: Any, addr: int) -> bool:
    try:
        prog.read(addr, 8)
    except drgn.FaultError:
        return False
    return True


@pytest.mark.parametrize(("kernel", "kind"), _kinds("6.12"))
def test_612_d31_drops_percpu_partial_slabs(lab: Any, kernel: str, kind: str) -> None:
    # makedumpfile 1.7.2 reads word 3 of a page as page.mapping. Since 6.10 PG_slab is a page type,
    # and in a struct slab on a per-cpu partial list that word is the "slabs" counter: when it is odd
    # the page looks anonymous and -d 31 (bit 8, user data) drops it. ELF (-E) dumps keep them (seen here).
    run = lab.crash(kernel, kind)
    elf = _drgn(run, run.path("elf/vmcore"))
    kd = _drgn(run, run.path("rhel/vmcore"))
    slabs = _percpu_partial_slabs(elf)
    odd = [addr for count, addr in slabs if count % 2]
    even = [addr for count, addr in slabs if count % 2 == 0]
    assert odd and even, "no per-cpu partial slabs to check"
    assert not any(_readable(kd, a) for a in odd), "makedumpfile now keeps odd-counter slabs: update notes"
    assert all(_readable(kd, a) for a in even)
    # The crashed task is found in the ELF dump whatever happened to the kdump one.
    thread = elf.crashed_thread()
    assert thread.object.comm.string_().decode() == run.expected["comm"]
    if run.expected["pid"] is not None:
        assert thread.tid == run.expected["pid"]
    if run.expected["guilty_function"] and run.expected["comm"] != "khungtaskd":
        assert run.expected["guilty_function"] in _frames(thread)


def test_612_d23_keeps_slabs_and_drgn_works(lab: Any) -> None:
    run = lab.crash("6.12", "null", variant="d23")
    assert run.manifest["capture"]["dump_level"] == 23
    prog = _drgn(run, run.path("rhel/vmcore"))
    elf = _drgn(run, run.path("elf/vmcore"))
    assert all(_readable(prog, a) for _, a in _percpu_partial_slabs(elf))
    thread = prog.crashed_thread()
    assert thread.tid == run.expected["pid"]
    assert "crashmod_null" in _frames(thread)


@pytest.mark.optin
def test_large_dump(lab: Any) -> None:
    # Opt-in (a 4 GiB guest, ~2.5 min, ~4 GiB on disk): `pytest -m optin` or CRASHHUB_OPTIN=1.
    run = lab.crash("6.1", "null", variant="large")
    vmcore = run.path("rhel/vmcore")
    assert run.manifest["capture"]["dump_level"] == 0
    assert vmcore.stat().st_size >= 1 << 30
    assert _head(vmcore, 8) == b"KDUMP   "
    thread = _drgn(run, vmcore).crashed_thread()
    assert thread.tid == run.expected["pid"]
    assert "crashmod_null" in _frames(thread)
