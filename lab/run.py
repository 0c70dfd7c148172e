"""Make one crash run (one boot, one kind) and lay its files out as a fleet host would; or reuse it.

Run directory: ``<cache>/runs/<release>/<kind>[+<variant>]/<instance>/`` (see lab/README.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crashhub.readiness import Guest, make_disk, read_disk, tool
from lab import build as guest
from lab import channels
from lab.config import LAB_VERSION, cache_dir, family
from lab.config import accel as lab_accel
from lab.debs import Kernel, RunFailed, fetch_kernel, kernel_json, locked
from lab.kinds import Kind, kind

VARIANTS = {
    None: "RHEL lzo, RHEL ssh flat, ELF and Debian dumps at -d 31",
    "d23": "the same four dumps at -d 23 (keeps user pages' neighbours: usable 6.12 dumps)",
    "incomplete": "interrupted dumps only: a killed local makedumpfile and a cut ssh stream",
    "qemu": "no kdump: QEMU's own dump-guest-memory, ELF and kdump-zlib, of the panicked guest",
    "large": "a 4 GiB guest dumped at -d 0 without compression (a dump of >= 1 GiB; opt-in)",
    "channels": "kdump (RHEL lzo layout only) plus netconsole (extended) and a ramoops region read in the "
                "capture kernel (lab/channels.py)",
    "channels-nokdump": "no capture kernel: netconsole, and ramoops records read on the next boot after "
                        "panic=1 reset the guest",
}

# The runs the fast lab tests (tests/lab, not marked slow) use, and what `python -m lab ci` makes:
# (kernel, kind, variant, instance). Chosen to fit CI: about 10 boots of ~20 s each under TCG (the two
# channel runs of issue 19 are ~20 s each on 6.1: channels-nokdump's two boots are short ones).
CI_CORE: tuple[tuple[str, str, str | None, int], ...] = (
    ("6.1", "null", None, 1), ("6.1", "null", None, 2), ("6.1", "bug", None, 1), ("6.1", "sysrq", None, 1),
    ("6.1", "null", "qemu", 1), ("6.1", "null", "incomplete", 1),
    ("6.12", "null", None, 1), ("6.12", "null", "d23", 1),
    ("6.1", "null", "channels", 1), ("6.1", "null", "channels-nokdump", 1),
)

# Logical file names -> how to find them in a run directory ("*" is the one dated subdirectory).
FILE_GLOBS = {
    "rhel/vmcore": "rhel/*/vmcore",
    "rhel/vmcore-dmesg.txt": "rhel/*/vmcore-dmesg.txt",
    "rhel/kexec-dmesg.log": "rhel/*/kexec-dmesg.log",
    "rhel-ssh/vmcore.flat": "rhel-ssh/*/vmcore.flat",
    "rhel-ssh/vmcore-dmesg.txt": "rhel-ssh/*/vmcore-dmesg.txt",
    "rhel-ssh/kexec-dmesg.log": "rhel-ssh/*/kexec-dmesg.log",
    "elf/vmcore": "elf/*/vmcore",
    "elf/vmcore-dmesg.txt": "elf/*/vmcore-dmesg.txt",
    "elf/kexec-dmesg.log": "elf/*/kexec-dmesg.log",
    "debian/dump": "debian/*/dump.[0-9]*",
    "debian/dmesg": "debian/*/dmesg.[0-9]*",
    "rhel-incomplete/vmcore-incomplete": "rhel-incomplete/*/vmcore-incomplete",
    "rhel-incomplete/vmcore-dmesg.txt": "rhel-incomplete/*/vmcore-dmesg.txt",
    "rhel-ssh-incomplete/vmcore-incomplete": "rhel-ssh-incomplete/*/vmcore-incomplete",
    "rhel-ssh-incomplete/vmcore-dmesg.txt": "rhel-ssh-incomplete/*/vmcore-dmesg.txt",
    "qemu/dump.elf": "qemu/dump.elf",
    "qemu/dump.kdump-zlib": "qemu/dump.kdump-zlib",
    "console.log": "console.log",
    "crashmod.ko": "crashmod.ko",
    **channels.FILE_GLOBS,
}
ALIASES = {"elf/vmcore.elf": "elf/vmcore"}

FORMATS = {
    "rhel/vmcore": "kdump-compressed (lzo, makedumpfile -l)",
    "rhel-ssh/vmcore.flat": "flattened kdump-compressed (makedumpfile -F -l)",
    "elf/vmcore": "ELF64 (makedumpfile -E)",
    "debian/dump": "flattened kdump-compressed (zlib, makedumpfile -F -c)",
    "rhel-incomplete/vmcore-incomplete": "kdump-compressed, truncated (writer killed)",
    "rhel-ssh-incomplete/vmcore-incomplete": "flattened, truncated stream",
    "qemu/dump.elf": "ELF64 from QEMU dump-guest-memory (with VMCOREINFO note)",
    # QEMU before 8.2 always writes its kdump formats flattened (8.2 added a "reassembled" option).
    "qemu/dump.kdump-zlib": "flattened kdump-compressed (zlib) from QEMU 7.2 dump-guest-memory",
    **channels.FORMATS,
}


@dataclass(frozen=True)
class LabRun:
    """A finished run: its directory and manifest."""

    dir: Path
    manifest: dict[str, Any]

    @property
    def kernel(self) -> str:
        return str(self.manifest["kernel"]["key"])

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def variant(self) -> str | None:
        v = self.manifest.get("variant")
        return str(v) if v else None

    @property
    def vmlinux(self) -> Path:
        return Path(self.manifest["kernel"]["vmlinux"])

    @property
    def expected(self) -> dict[str, Any]:
        return dict(self.manifest["expected"])

    def has(self, name: str) -> bool:
        return ALIASES.get(name, name) in self.manifest["files"]

    def path(self, name: str) -> Path:
        """A file of the run by its logical name (lab/README.md), e.g. ``"rhel/vmcore"``."""
        key = ALIASES.get(name, name)
        files = self.manifest["files"]
        if key in files:
            return self.dir / str(files[key]["path"])
        if (self.dir / key).is_file():
            return self.dir / key
        raise FileNotFoundError(
            f"{self.dir}: no {name!r} in this run (kind={self.kind}, variant={self.variant}); "
            f"it has {', '.join(sorted(files))}")


def run_dir(release: str, kind_name: str, variant: str | None, instance: int) -> Path:
    label = kind_name + (f"+{variant}" if variant else "")
    return cache_dir() / "runs" / release / label / str(instance)


def load(path: Path) -> LabRun | None:
    m = path / "manifest.json"
    if not m.exists():
        return None
    manifest = json.loads(m.read_text())
    if manifest.get("lab_version") != LAB_VERSION or not manifest.get("ok"):
        return None
    return LabRun(path, manifest)


def cached() -> list[LabRun]:
    """Every finished run in the cache, without making any."""
    root = cache_dir() / "runs"
    runs = [load(m.parent) for m in sorted(root.glob("*/*/*/manifest.json"))] if root.exists() else []
    return [r for r in runs if r is not None]


def crash(kernel: str = "6.1", kind_name: str = "null", variant: str | None = None, instance: int = 1,
          *, out: Path | None = None, fresh: bool = False) -> LabRun:
    """The cached run for (kernel, kind, variant, instance), made first when there is none."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(str(v) for v in VARIANTS)}")
    k = fetch_kernel(family(kernel))
    spec = kind(kind_name)
    dest = out if out is not None else run_dir(k.release, spec.name, variant, instance)
    with locked(cache_dir() / "locks" / ("run-" + str(dest).replace("/", "_") + ".lock")):
        if not fresh:
            done = load(dest)
            if done is not None:
                return done
        return _make(k, spec, variant, instance, dest)


def _link_text(vmlinux: Path) -> int | None:
    """Link-time address of _text: the first PT_LOAD's p_vaddr in the -dbg vmlinux.

    Debian's System.map is a placeholder ("The real System.map is in the ... -dbg package").
    """
    with vmlinux.open("rb") as fh:
        head = fh.read(64)
        if len(head) < 64 or head[:5] != b"\x7fELF\x02":
            return None
        phoff, = struct.unpack_from("<Q", head, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
        if phentsize < 56:
            return None
        fh.seek(phoff)
        table = fh.read(phentsize * min(phnum, 64))
    for i in range(min(phnum, 64)):
        p_type, = struct.unpack_from("<I", table, i * phentsize)
        if p_type == 1:  # PT_LOAD
            vaddr, = struct.unpack_from("<Q", table, i * phentsize + 16)
            return int(vaddr)
    return None


def _kaslr(text_line: str | None, vmlinux: Path) -> dict[str, str]:
    """KASLR offset: the guest's /proc/kallsyms _text minus its link address (an independent truth)."""
    m = re.match(r"([0-9a-f]{16}) ", text_line or "")
    link = _link_text(vmlinux)
    if not m or link is None:
        return {}
    runtime = int(m.group(1), 16)
    return {"text": hex(runtime), "kaslr_offset": hex(runtime - link)}


_SEE = " (see failed-<instance>-console.log beside the run directory)"

# The first console line of any kind's crash (its time is the manifest's timings.panic).
_FIRST_SIGN = (r"(Kernel panic - not syncing|Oops|BUG: |kernel BUG at|general protection|WARNING: CPU|"
               r"stack guard page|Uhhuh\. NMI|rcu: INFO:)")


def _panic_pid(spec: Kind, trig: re.Match[str] | None, panic_pid: re.Match[str] | None) -> int | None:
    """The pid of the task current at the panic: the trigger shell, or the one pidof found (one match)."""
    if spec.crash_in_trigger:
        return int(trig.group(1)) if trig else None
    return int(panic_pid.group(1)) if panic_pid else None


def build_id(elf: Path) -> str | None:
    """GNU build-id of an ELF file (the vmlinux), from its note sections."""
    out = subprocess.run([tool("readelf", "binutils"), "-n", str(elf)], capture_output=True, text=True,
                         check=False).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", out)
    return m.group(1) if m else None


def _check_tools() -> None:
    """Fail early, as "unavailable" (a skip in tests), when a host tool the lab needs is missing."""
    for name, package in (("qemu-system-x86_64", "qemu-system-x86"), ("busybox", "busybox-static"),
                          ("makedumpfile", "makedumpfile"), ("kexec", "kexec-tools"), ("cpio", "cpio"),
                          ("mkfs.ext4", "e2fsprogs"), ("debugfs", "e2fsprogs"), ("readelf", "binutils"),
                          ("make", "make"), ("gcc", "gcc"), ("ldd", "libc-bin")):
        tool(name, package)


def _inject_nmi(g: Guest, spec: Kind, timeout: float) -> float | None:
    """Raise an NMI in the guest once it is ready for one (the host stands in for a watchdog).

    Returns when it was sent (seconds since QEMU started): the serial console never shows an NMI
    panic (printk defers from NMI context and kexec comes first), so timings.panic stays unknown.
    """
    assert spec.nmi_after is not None
    if g.wait_for(spec.nmi_after, timeout) is None:
        return None  # the guest died first; the run fails on its log patterns with the console kept
    time.sleep(spec.nmi_delay_s)
    g.qmp("inject-nmi")
    return round(time.monotonic() - g.started, 2)


def _make(k: Kernel, spec: Kind, variant: str | None, instance: int, dest: Path) -> LabRun:
    _check_tools()
    t0 = time.monotonic()
    module = guest.build_module(k)
    initramfs = guest.build_initramfs(k, module)
    t_build = time.monotonic() - t0

    work = dest.with_name(dest.name + f".tmp-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        manifest = _boot(k, spec, variant, instance, work=work, initramfs=initramfs, module=module)
    except BaseException:
        # Keep the console of a failed attempt next to where the run would be, for diagnosis.
        if (work / "console.log").exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(work / "console.log", dest.parent / f"failed-{instance}-console.log")
        shutil.rmtree(work, ignore_errors=True)
        raise
    manifest["timings"]["build_s"] = round(t_build, 2)
    manifest["timings"]["total_s"] = round(time.monotonic() - t0, 2)
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work.rename(dest)
    return LabRun(dest, manifest)


def _boot(k: Kernel, spec: Kind, variant: str | None, instance: int, *, work: Path, initramfs: Path,
          module: Path) -> dict[str, Any]:
    if variant not in channels.CHANNEL_VARIANTS:
        return _boot_with(k, spec, variant, instance, work=work, initramfs=initramfs, module=module,
                          ch=None, ears=None)
    with channels.Listeners(k.release) as ears:
        return _boot_with(k, spec, variant, instance, work=work, initramfs=initramfs, module=module,
                          ch=channels.plan(variant, k, spec.name, ears), ears=ears)
    raise AssertionError("unreachable")  # an ExitStack may swallow exceptions, as far as mypy knows


def _boot_with(k: Kernel, spec: Kind, variant: str | None, instance: int, *, work: Path, initramfs: Path,
               module: Path, ch: channels.ChannelPlan | None, ears: channels.Listeners | None
               ) -> dict[str, Any]:
    mode = "qemu" if variant == "qemu" else ("none" if ch is not None and not ch.kdump else "kdump")
    memory = 4096 if variant == "large" else (512 if mode == "qemu" else 1024)
    level = {"d23": 23, "large": 0}.get(variant or "", 31)
    cv = {"incomplete": "incomplete", "large": "large", "channels": "rhel"}.get(variant or "", "default")
    comp = "none" if variant == "large" else "-l"
    cmdline = "console=ttyS0" + (" crashkernel=256M" if mode == "kdump" else "") + (
        f" {spec.cmdline}" if spec.cmdline else "") + (f" {ch.cmdline}" if ch else "")
    # What RHEL's kdump.sysconfig appends for the capture kernel, minus what needs systemd.
    capture_cmdline = (f"console=ttyS0 irqpoll nr_cpus=1 reset_devices cgroup_disable=memory mce=off "
                       f"numa=off panic=10 transparent_hugepage=never novmcoredd "
                       f"lab.dl={level} lab.cv={cv} lab.comp={comp}") + (
                           f" {ch.capture_cmdline}" if ch else "")
    throwaway = random.randint(3, 60)
    conf = (f"MODE={mode}\nTHROWAWAY={throwaway}\nNEEDS_MODULE={'1' if spec.needs_module else ''}\n"
            f"CAPTURE_CMDLINE='{capture_cmdline}'\n"
            f"SYSCTLS='{' '.join(f'{p}={v}' for p, v in spec.sysctls.items())}'\n"
            f"TRIGGER='{spec.trigger}'\n"
            f"PANIC_COMM={'' if spec.crash_in_trigger else spec.comm or ''}\n") + (ch.conf() if ch else "")
    initrd = work / "initrd.img"
    with initrd.open("wb") as fh, initramfs.open("rb") as base:
        shutil.copyfileobj(base, fh)
        fh.write(guest.conf_cpio(conf))

    disk: Path | None = None
    if mode == "kdump" or ch is not None:
        disk = work / "disk.img"
        make_disk(disk, 2048 if variant != "large" else memory * 2 + 1024)

    timings: dict[str, float] = {}
    files: dict[str, dict[str, Any]] = {}
    timeout = spec.timeout_s + (600 if variant == "large" else 0)
    with Guest(kernel=k.vmlinuz, initrd=initrd, cmdline=cmdline, memory_mib=memory, cpus=2, disk=disk,
               qmp_dir=work, extra_args=ch.qemu_args if ch else (), reboot=ch is not None and not ch.kdump,
               accel=lab_accel()) as g:
        nmi_at = _inject_nmi(g, spec, timeout) if spec.nmi_after is not None else None
        if mode == "qemu":
            panicked = g.wait_for(r"---\[ end Kernel panic", timeout)
            if panicked is None:
                (work / "console.log").write_text(g.console.text())
                raise RunFailed(f"{spec.name}: no kernel panic within {timeout}s{_SEE}")
            qd = work / "qemu"
            qd.mkdir()
            t = time.monotonic()
            g.qmp("dump-guest-memory", paging=False, protocol=f"file:{qd / 'dump.elf'}", format="elf")
            timings["qemu_elf_s"] = round(time.monotonic() - t, 2)
            t = time.monotonic()
            g.qmp("dump-guest-memory", paging=False, protocol=f"file:{qd / 'dump.kdump-zlib'}",
                  format="kdump-zlib")
            timings["qemu_kdump_zlib_s"] = round(time.monotonic() - t, 2)
            g.qmp("quit")
            g.wait_exit(30)
        elif ch is not None and not ch.kdump:
            why = channels.wait_reboot_cycle(g, timeout)
            if why is not None:
                (work / "console.log").write_text(g.console.text())
                raise RunFailed(f"{spec.name}: {why}{_SEE}")
        else:
            rc = g.wait_exit(timeout)
            if rc is None:
                (work / "console.log").write_text(g.console.text())
                raise RunFailed(f"{spec.name}: guest did not finish within {timeout}s{_SEE}")
        console = g.console
        accel = g.accel
        started = g.started
    (work / "console.log").write_text(console.text())
    initrd.unlink()
    if ears is not None:
        ears.write(work, started)
    if nmi_at is not None:
        timings["nmi"] = nmi_at

    for name, pattern in (("boot", r"^LAB-T boot "), ("armed", r"^LAB-T armed "),
                          ("trigger", r"^LAB-T trigger "), ("capture_start", r"^LAB-T capture-start"),
                          ("capture_dmesg", r"^LAB-T dmesg "), ("capture_rhel", r"^LAB-T rhel "),
                          ("capture_rhel_ssh", r"^LAB-T rhel-ssh "), ("capture_elf", r"^LAB-T elf "),
                          ("capture_debian", r"^LAB-T debian "), ("capture_done", r"^LAB-T capture-done"),
                          ("channels", r"^LAB-T channels "), ("second_boot", r"^LAB-T second-boot "),
                          ("pstore_saved", r"^LAB-T pstore-saved "), ("panic", _FIRST_SIGN)):
        seen = console.when(pattern.replace("^", ""))
        if seen is not None:
            timings[name] = round(seen, 2)
    errors = [line for _, line in console.lines if "LAB-ERROR" in line]
    if errors:
        raise RunFailed(f"{spec.name}: guest reported {errors[:3]}{_SEE}")

    if disk is not None:
        if console.when(ch.done_mark if ch else r"LAB-T capture-done") is None:
            raise RunFailed(f"{spec.name}: the capture kernel (or the pstore boot) did not finish{_SEE}")
        t = time.monotonic()
        dumped = work / "disk"
        read_disk(disk, dumped)
        disk.unlink()
        for top in sorted(dumped.iterdir()):
            if top.name != "lost+found":
                top.rename(work / top.name)
        shutil.rmtree(dumped)
        timings["extract_s"] = round(time.monotonic() - t, 2)
    if spec.needs_module:
        shutil.copy2(module, work / "crashmod.ko")

    for name, pattern in FILE_GLOBS.items():
        hits = sorted(work.glob(pattern))
        if len(hits) == 1:
            entry: dict[str, Any] = {"path": str(hits[0].relative_to(work)), "size": hits[0].stat().st_size}
            if name in FORMATS:
                entry["format"] = FORMATS[name]
            files[name] = entry
        elif len(hits) > 1:
            raise RunFailed(f"{work}: {pattern} matched {len(hits)} files")
    chan: dict[str, Any] | None = None
    if ch is not None and ears is not None:
        files = {**channels.pstore_files(work), **files}
        chan = {**ch.manifest(), **ears.summary(work)}

    trig = console.find(r"LAB-TRIGGER pid=(\d+)")
    stext = console.find(r"LAB-FACT text (.*)$")
    panic_pid = console.find(r"LAB-FACT panic-pid (\d+)\s*$")
    mods = console.find(r"LAB-FACT modules crashmod \d+ \d+ - \S+ (0x[0-9a-f]+)")
    expected: dict[str, Any] = {
        "release": k.release,
        "build_id": build_id(k.vmlinux),
        "comm": spec.comm,
        "pid": _panic_pid(spec, trig, panic_pid),
        "trigger_pid": int(trig.group(1)) if trig else None,
        "guilty_function": spec.guilty,
        "culprit_function": spec.culprit,
        "earlier_functions": list(spec.earlier),
        "log_patterns": list(spec.log_patterns),
        "module": "crashmod" if spec.needs_module else None,
        "module_base": mods.group(1) if mods else None,
        "throwaway_processes": throwaway,
        **_kaslr(stext.group(1) if stext else None, k.vmlinux),
    }
    return {
        "lab_version": LAB_VERSION,
        "ok": True,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "kernel": {**kernel_json(k)},
        "kind": spec.name,
        "variant": variant,
        "instance": instance,
        "trigger": {"command": spec.trigger, "description": spec.description, "sysctls": spec.sysctls,
                    "cmdline": spec.cmdline,
                    "host_nmi": ({"after": spec.nmi_after, "delay_s": spec.nmi_delay_s}
                                 if spec.nmi_after else None)},
        **({"channels": chan} if chan is not None else {}),
        "capture": {"mode": mode, "dump_level": level if mode == "kdump" else None,
                    "compression": {"-l": "lzo", "none": "none"}[comp] if mode == "kdump" else None},
        "guest": {"accel": accel, "memory_mib": memory, "cpus": 2, "cmdline": cmdline,
                  "capture_cmdline": capture_cmdline if mode == "kdump" else None},
        "files": files,
        "timings": timings,
        "expected": expected,
    }
