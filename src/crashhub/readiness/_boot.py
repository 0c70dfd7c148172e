"""One boot of a check: the kernel with kdump armed crashes one way, the capture kernel saves the dump
to a virtio disk, and the host reads the disk back (debugfs).  The lab's guest does the work
(init.sh); what went wrong is named by the step that did not happen.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from crashhub.errors import BootFailed
from crashhub.readiness._guest import conf_cpio, tool
from crashhub.readiness._kinds import Trigger
from crashhub.readiness._qemu import Guest
from crashhub.readiness._setup import Collector
from crashhub.triage import parse

CPUS = 2
BOOT_TIMEOUT_S = 300  # TCG: ~25 s to the crash, the capture kernel ~15 s, a soft lockup ~20 s more
MAX_CONSOLE_LINES = 20_000
DISK_SLACK_MIB = 256  # the disk holds at most a dump of all RAM (-d 0, no compression) and logs
# What the capture kernel's console shows first: the kernel's banner, printed again by the capture
# kernel (the console is one stream for both kernels).
BANNER = "Linux version "


@dataclass(frozen=True, slots=True)
class BootResult:
    """What one boot left: the consoles of both kernels, and the dump when one was written."""

    kind: str
    accel: str
    console: str  # both kernels' console lines, as the guests printed them
    collector_log: str  # makedumpfile's output in the capture kernel (lab/collector.log)
    dump: str | None  # file name of the dump in the boot's directory
    finished: bool  # the guest powered off (or rebooted) before the host's time limit
    seconds: float

    @property
    def crash_console(self) -> str:
        """The crashing kernel's lines."""
        return "".join(f"{line}\n" for line in split_console(self.console.splitlines())[0])

    @property
    def capture_console(self) -> str:
        """The capture kernel's lines (none when it never started)."""
        return "".join(f"{line}\n" for line in split_console(self.console.splitlines())[1])

    def failure(self, crashkernel: str) -> str | None:
        """The step that failed, None when a dump was written (read again each time: a cached boot
        is judged by the current rules)."""
        found = failure_of(self.crash_console.splitlines(), self.capture_console.splitlines(),
                           self.collector_log, self.dump, crashkernel)
        if found is None and not self.finished:
            return f"the guest did not power off within {BOOT_TIMEOUT_S} s"
        return found

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> BootResult:
        return cls(kind=str(d["kind"]), accel=str(d["accel"]), console=str(d["console"]),
                   collector_log=str(d["collector_log"]),
                   dump=None if d.get("dump") is None else str(d["dump"]),
                   finished=bool(d["finished"]),
                   seconds=float(d["seconds"]))  # type: ignore[arg-type]

    def save(self, d: Path) -> None:
        (d / "boot.json").write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, d: Path) -> BootResult | None:
        try:
            return cls.from_dict(json.loads((d / "boot.json").read_text()))
        except (OSError, ValueError, KeyError):
            return None


def guest_conf(trigger: Trigger, collector: Collector) -> str:
    """/lab.conf for init.sh: arm kdump with the fleet's collector, then crash."""
    sysctls = " ".join(f"{p}={v}" for p, v in trigger.sysctls.items())
    return (f"MODE=kdump\nTHROWAWAY=3\nNEEDS_MODULE={'1' if trigger.needs_module else ''}\n"
            f"CAPTURE_CMDLINE='{collector.capture_cmdline()}'\n"
            f"SYSCTLS='{sysctls}'\nTRIGGER='{trigger.command}'\nPANIC_COMM={trigger.panic_comm or ''}\n")


def split_console(lines: list[str]) -> tuple[list[str], list[str]]:
    """The crashing kernel's lines and the capture kernel's (from its banner on)."""
    banners = [i for i, line in enumerate(lines) if BANNER in line]
    cut = banners[1] if len(banners) > 1 else len(lines)
    return lines[:cut], lines[cut:]


def _after(lines: list[str], mark: str) -> str | None:
    """The first line holding ``mark`` (the text after it), or None."""
    return next((line.split(mark, 1)[1].strip() for line in lines if mark in line), None)


def _last_words(text: str, n: int = 1) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " / ".join(lines[-n:])[-300:]


def failure_of(crash: list[str], capture: list[str], collector_log: str, dump: str | None,
               crashkernel: str) -> str | None:
    """The step that failed, from what the two consoles and the collector's output show."""
    kexec_loaded = _after(crash, "LAB-FACT kexec_crash_loaded")
    if any("LAB-ERROR kexec" in line for line in crash) or kexec_loaded == "0":
        # kexec's own complaint: the guest's lines (not the kernel's) between /init's marks
        # ("Could not find a free area of memory of 0x3378000 bytes... / locate_hole failed",
        # kexec-tools 2.0.26).
        mark = next((i for i, line in enumerate(crash) if "LAB-ERROR kexec" in line), len(crash))
        start = max((i for i, line in enumerate(crash[:mark]) if line.startswith("LAB-")), default=-1) + 1
        why = " / ".join(line.strip() for line in crash[start:mark]
                         if line.strip() and not line.startswith("["))
        reserve = next((line.strip() for line in crash if "crashkernel" in line.lower()
                        and ("fail" in line.lower() or "error" in line.lower())), "")
        detail = f": {reserve or why}" if reserve or why else ""
        return f"kexec load failed (no capture kernel armed){detail}; crashkernel={crashkernel}"[:400]
    if not any("LAB-T trigger" in line for line in crash):
        return "the kernel did not reach the crash (the guest's /init did not run to its trigger)"
    if not capture:
        return "the capture kernel did not boot (no kernel banner after the crash)"
    # The capture kernel's own crash, as triage reads its console (an OOM before /init ran, a panic).
    reports = parse("\n".join(capture).encode())
    fatal = next((r for r in reports if r.fatal), None)
    if any(r.kind == "oom" for r in reports) or (fatal and "Out of memory" in (fatal.panic_message or "")):
        return f"the capture kernel ran out of memory (crashkernel={crashkernel} is too small)"
    if any("LAB-ERROR mount" in line for line in capture):
        return ("no disk found: the capture kernel could not mount /dev/vda "
                "(its initramfs lacks the disk's driver, virtio_blk?)")
    if fatal is not None:
        why = (fatal.panic_message or fatal.title)[:300]
        return f"the capture kernel crashed (crashkernel={crashkernel}): {why}"
    if not any("LAB-T capture-start" in line for line in capture):
        return "the capture kernel did not reach its /init"
    if dump is None:
        last = _last_words(collector_log)
        return "makedumpfile failed" + (f": {last}" if last else " (no output)")
    if not any("LAB-T capture-done" in line for line in capture):
        return "the capture did not finish (the capture kernel stopped before unmounting the disk)"
    return None


def make_disk(disk: Path, size_mib: int) -> None:
    """A sparse raw ext4 image for the capture kernel to write to (no journal: nothing to replay)."""
    with disk.open("wb") as fh:
        fh.truncate(size_mib << 20)
    subprocess.run([tool("mkfs.ext4", "e2fsprogs"), "-q", "-F", "-O", "^has_journal", str(disk)], check=True)


def read_disk(disk: Path, out: Path) -> None:
    """Copy the image's files into the new directory ``out`` with ``debugfs rdump`` (no mount, no root)."""
    out.mkdir()
    proc = subprocess.run([tool("debugfs", "e2fsprogs"), "-R", f"rdump / {out}", str(disk)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BootFailed(f"debugfs rdump failed: {proc.stderr[-400:]}")


def _dump_file(files: Path, collector: Collector) -> Path | None:
    """The vmcore as the fleet's kdump names it (RHEL's layout: a -F line's stream is vmcore.flat)."""
    pattern = "rhel-ssh/*/vmcore.flat" if collector.flat else "rhel/*/vmcore"
    hits = sorted(files.glob(pattern))
    return hits[0] if len(hits) == 1 else None


def boot(*, vmlinuz: Path, initramfs: Path, trigger: Trigger, collector: Collector, crashkernel: str,
         memory_mib: int, out: Path) -> BootResult:
    """Boot once, crash as ``trigger`` says, and keep what came out in the new directory ``out``:
    ``boot.json`` and, when captured, the dump (the disk image is removed)."""
    t0 = time.monotonic()
    out.mkdir(parents=True)
    initrd = out / "initrd.img"
    with initrd.open("wb") as fh, initramfs.open("rb") as base:
        shutil.copyfileobj(base, fh)
        fh.write(conf_cpio(guest_conf(trigger, collector)))
    disk = out / "disk.img"
    make_disk(disk, memory_mib + DISK_SLACK_MIB)
    # panic=5: with no capture kernel armed, the crash reboots (QEMU -no-reboot exits) instead of hanging.
    cmdline = f"console=ttyS0 crashkernel={crashkernel} panic=5"
    with Guest(kernel=vmlinuz, initrd=initrd, cmdline=cmdline, memory_mib=memory_mib, cpus=CPUS, disk=disk,
               qmp_dir=out) as g:
        finished = g.wait_exit(BOOT_TIMEOUT_S) is not None
        accel = g.accel
    initrd.unlink()
    with g.console.lock:
        lines = [line for _, line in g.console.lines[:MAX_CONSOLE_LINES]]
    files = out / "disk"
    collector_log = ""
    dump: Path | None = None
    try:
        read_disk(disk, files)
        log = files / "lab" / "collector.log"
        collector_log = log.read_text(errors="replace")[-65536:] if log.is_file() else ""
        found = _dump_file(files, collector)
        if found is not None:
            dump = out / found.name
            found.rename(dump)
    finally:
        disk.unlink()
        shutil.rmtree(files, ignore_errors=True)
    result = BootResult(trigger.kind, accel, "".join(f"{line}\n" for line in lines), collector_log,
                        dump.name if dump else None, finished, round(time.monotonic() - t0, 2))
    result.save(out)
    return result
