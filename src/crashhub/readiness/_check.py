"""``check``: one kernel, the fleet's capture setup, the standard crashes, one readiness report.

Unpack the kernel, build the test module against its headers and the guest's initramfs with the
fleet's makedumpfile, then per kind: one boot (crash, capture, disk read back) and the evaluation of
what was captured.  Boots may be kept in ``boot_cache`` keyed by every input (the tests do, as the
crash lab keeps its runs); the evaluation always runs again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import crashhub
from crashhub.errors import CheckUnavailable, InputError
from crashhub.readiness._boot import CPUS, BootResult, boot
from crashhub.readiness._evaluate import evaluate
from crashhub.readiness._guest import (
    GUEST_MODULES,
    INIT_SH,
    MAKEDUMPFILE,
    build_initramfs,
    build_module,
    digest,
    module_sources,
)
from crashhub.readiness._kinds import TRIGGERS
from crashhub.readiness._model import CHECK_KINDS, CheckKind, KindResult, ReadinessReport
from crashhub.readiness._package import DEB_MAGIC, KernelTree, unpack, unpack_deb
from crashhub.readiness._qemu import kvm_usable
from crashhub.readiness._setup import Collector, makedumpfile_version, parse_collector

DEFAULT_COLLECTOR = "makedumpfile -l --message-level 7 -d 31"
# A boot's cache entry changes when what the guest does changes (init.sh, the module, this layout).
BOOT_LAYOUT = 2
MAX_CRASHKERNEL = 64


def _say(progress: Callable[[str], None] | None, msg: str) -> None:
    if progress is not None:
        progress(msg)


def _makedumpfile(given: Path | None, work: Path) -> Path:
    """The fleet's makedumpfile binary: as given, or unpacked from its package."""
    path = Path(given) if given is not None else Path(MAKEDUMPFILE)
    if not path.exists():
        if given is None:
            raise CheckUnavailable(f"{MAKEDUMPFILE} is not installed (Debian package makedumpfile)")
        raise InputError("no such file", path)
    if path.is_file() and _is_deb(path):
        tree = work / "makedumpfile"
        unpack_deb(path, tree)
        found = [p for p in (tree / "usr" / "bin" / "makedumpfile", tree / "usr" / "sbin" / "makedumpfile")
                 if p.is_file()]
        if not found:
            raise InputError("the package holds no usr/bin/makedumpfile", path)
        return found[0]
    return path


def _is_deb(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(DEB_MAGIC)) == DEB_MAGIC


def _vmlinux(debuginfo: Path | None, kernel: KernelTree, work: Path) -> Path | None:
    """The vmlinux with DWARF: a bare one as given, else imported from its package by crashhub.debuginfo."""
    if debuginfo is None:
        return None
    debuginfo = Path(debuginfo)
    if debuginfo.is_file():
        with debuginfo.open("rb") as f:
            if f.read(4) == b"\x7fELF":
                return debuginfo
    from crashhub.debuginfo import DebuginfoStore  # noqa: PLC0415

    entries = DebuginfoStore(work / "debuginfo").import_path(debuginfo, release=kernel.release)
    match = [e for e in entries if e.release == kernel.release] or entries
    if not match:
        raise InputError(f"no vmlinux for {kernel.release} in it", debuginfo)
    return match[0].vmlinux


def _module(kernel: KernelTree, work: Path) -> tuple[Path | None, str | None]:
    """The test module built against the package's headers, or why there is none."""
    if kernel.headers is None:
        return None, "no kernel headers given (linux-headers-* debs or kernel-devel) to build the test module"
    try:
        return build_module(kernel.headers, work / "crashmod"), None
    except CheckUnavailable as e:
        return None, str(e).splitlines()[0][:300]


@dataclass(frozen=True, slots=True)
class Plan:
    """What every boot of one check shares."""

    kernel: KernelTree
    initramfs: Path
    collector: Collector
    crashkernel: str
    memory_mib: int
    makedumpfile: Path
    makedumpfile_version: str
    vmlinux: Path | None
    module: Path | None
    capture_modules: tuple[str, ...]
    boot_cache: Path | None
    work: Path
    keep: bool  # the work directory is the caller's: leave the boots in it


def _boot_key(plan: Plan, kind: str) -> str:
    """Every input of one boot: the kernel's bytes, the guest (init.sh, module source, makedumpfile),
    the capture setup and the crash."""
    guest = digest(INIT_SH, *module_sources(), plan.makedumpfile)
    t = TRIGGERS[kind]
    inputs = [BOOT_LAYOUT, plan.kernel.digest, guest, plan.collector.line, plan.crashkernel, plan.memory_mib,
              CPUS, list(plan.capture_modules), t.command, t.sysctls, kind]
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:24]


def _cached_boot(cache: Path, key: str, run: Callable[[Path], BootResult]) -> tuple[BootResult, Path]:
    """The boot from the cache, or made into it (one maker at a time per key, across processes)."""
    cache.mkdir(parents=True, exist_ok=True)
    d = cache / key
    with (cache / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = BootResult.load(d)
        if done is not None:
            return done, d
        tmp = cache / f"{key}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            result = run(tmp)
            shutil.rmtree(d, ignore_errors=True)
            tmp.rename(d)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return result, d


def _run_kind(plan: Plan, name: str, progress: Callable[[str], None] | None) -> KindResult:
    """One kind: its boot (from the cache when kept there) and the evaluation of what it left."""
    trigger = TRIGGERS[name]

    def run(out: Path) -> BootResult:
        return boot(vmlinuz=plan.kernel.vmlinuz, initramfs=plan.initramfs, trigger=trigger,
                    collector=plan.collector, crashkernel=plan.crashkernel, memory_mib=plan.memory_mib,
                    out=out)

    _say(progress, f"{name}: booting {plan.kernel.release}, crashing, capturing")
    if plan.boot_cache is not None:
        result, where = _cached_boot(plan.boot_cache, _boot_key(plan, name), run)
    else:
        where = plan.work / "boots" / name
        result = run(where)
    _say(progress, f"{name}: {result.failure(plan.crashkernel) or 'captured'} ({result.accel}, "
                   f"{result.seconds:.0f} s); "
                   "reading the dump")
    t = time.monotonic()
    try:
        kr = evaluate(result, where, trigger, vmlinux=plan.vmlinux, module=plan.module,
                      ram_bytes=plan.memory_mib << 20, collector=plan.collector,
                      makedumpfile=plan.makedumpfile_version, crashkernel=plan.crashkernel)
        return replace(kr, seconds=round(result.seconds + time.monotonic() - t, 2))
    finally:
        if plan.boot_cache is None and not plan.keep:
            shutil.rmtree(where, ignore_errors=True)  # one dump on disk at a time


def check(packages: Sequence[Path], *, debuginfo: Path | None = None, makedumpfile: Path | None = None,
          core_collector: str = DEFAULT_COLLECTOR, crashkernel: str = "256M",
          kinds: Sequence[CheckKind] | None = None, memory_mib: int = 1024, work_dir: Path | None = None,
          progress: Callable[[str], None] | None = None, boot_cache: Path | None = None,
          capture_modules: Sequence[str] = GUEST_MODULES) -> ReadinessReport:
    """Boot the kernel in ``packages`` under QEMU with kdump set up as the fleet's, crash it in each of
    ``kinds`` (default: sysrq, null, softlockup), and report what crashhub can read of each dump.

    ``work_dir`` is kept when given (a temporary one is removed); ``boot_cache`` keeps each boot's
    console and dump by every input, the evaluation runs again; ``capture_modules`` are the driver
    modules the capture initramfs loads (leave one out to see a fleet's capture without it).
    Bad input (a package, the collector line, crashkernel=) raises InputError before anything boots;
    a host without QEMU, busybox, kexec or debugfs raises CheckUnavailable.
    """
    t0 = time.time()
    collector = parse_collector(core_collector)
    if not crashkernel or len(crashkernel) > MAX_CRASHKERNEL or not all(
            c.isalnum() or c in "@:,-" for c in crashkernel):
        raise InputError(f"crashkernel={crashkernel!r}: not a crashkernel= value (256M, 1G-4G:256M, ...)")
    if not 256 <= memory_mib <= 16384:
        raise InputError(f"memory {memory_mib} MiB: give 256-16384")
    wanted = list(dict.fromkeys(kinds or CHECK_KINDS))
    unknown = [k for k in wanted if k not in TRIGGERS]
    if unknown:
        raise InputError(f"unknown crash kind(s) {', '.join(unknown)}; known: {', '.join(CHECK_KINDS)}")
    work = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="crashhub-check-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        _say(progress, f"unpacking {', '.join(Path(p).name for p in packages)}")
        kernel = unpack([Path(p) for p in packages], work)
        mdf = _makedumpfile(makedumpfile, work)
        module, no_module = None, None
        if any(TRIGGERS[k].needs_module for k in wanted):
            _say(progress, f"building the test module against {kernel.release}'s headers")
            module, no_module = _module(kernel, work)
        _say(progress, "building the guest's initramfs")
        initramfs = build_initramfs(work / "initramfs.cpio", vmlinuz=kernel.vmlinuz,
                                    modules_dir=kernel.modules_dir, module=module, makedumpfile=str(mdf),
                                    capture_modules=capture_modules)
        shown = Path(makedumpfile).name if makedumpfile is not None and Path(makedumpfile) != mdf else None
        version = makedumpfile_version(mdf, shown)
        plan = Plan(kernel, initramfs, collector, crashkernel, memory_mib, mdf, version,
                    _vmlinux(debuginfo, kernel, work), module, tuple(capture_modules), boot_cache, work,
                    keep=work_dir is not None)
        results = [KindResult(kind=k, captured=False, skipped=no_module,
                              expected_function=TRIGGERS[k].expected_function)
                   if TRIGGERS[k].needs_module and module is None else _run_kind(plan, k, progress)
                   for k in wanted]
    finally:
        if work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return ReadinessReport(
        release=kernel.release, packages=list(kernel.names), package_digest=kernel.digest,
        debuginfo=Path(debuginfo).name if debuginfo is not None else None,
        makedumpfile=plan.makedumpfile_version, core_collector=collector.line, crashkernel=crashkernel,
        accel="kvm" if kvm_usable() else "tcg", checked_at=t0, crashhub_version=crashhub.__version__,
        kinds=results, seconds=round(time.time() - t0, 2))
