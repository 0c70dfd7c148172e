"""Readiness reports as the runner makes them (``crashhub.readiness.check``), for the hub's tests.

The figures and messages are the crash lab's on this machine (notes/crashlab.md): Debian's 6.1 cloud
kernel captures and reads fine with makedumpfile 1.7.2 and crash 8.0.2 (24 MiB dumps of a 1 GiB guest
at dump level 31); its 6.12 backport captures, but makedumpfile 1.7.2 at ``-d 31`` drops the live slab
pages (PG_slab became a page type in 6.10), so drgn meets "Excluded page" at the panic task, and crash
8.0.2 stops at ``module_core_size``.  Built through ``from_dict``, as the API and the store read them.
"""

from __future__ import annotations

from crashhub.model import JsonObject
from crashhub.readiness import ReadinessReport

GIB = 1 << 30
MIB = 1 << 20
COLLECTOR = "makedumpfile -l --message-level 7 -d 31"
DIGEST_61 = "4f1c0a9e" * 8
DIGEST_612 = "a3b5d7e9" * 8


def _capture_log(release: str, dump_bytes: int, unsupported: bool) -> str:
    lines = [
        f"[    0.000000] Linux version {release} (debian-kernel@lists.debian.org)",
        "[    0.000000] Command line: console=ttyS0 irqpoll nr_cpus=1 reset_devices elfcorehdr=0x2f000000",
        "[    1.021337] virtio_blk virtio1: [vda] 4194304 512-byte logical blocks (2.15 GB/2.00 GiB)",
        "kdump: saving to /sysroot/var/crash/127.0.0.1-2026-12-06-21:40:12/",
        "kdump: saving vmcore-dmesg.txt",
    ]
    if unsupported:
        lines += ["The kernel version is not supported.",
                  "The makedumpfile operation may be incomplete."]
    lines += [
        "Excluding unnecessary pages        : [100.0 %] |           eta: 0s",
        "Copying data                       : [100.0 %] /           eta: 0s",
        f"The dumpfile is saved to /sysroot/var/crash/vmcore ({dump_bytes} bytes).",
        "makedumpfile Completed.",
        "kdump: saving vmcore complete",
    ]
    return "\n".join(lines) + "\n"


def _kind(kind: str, release: str, *, ok: bool, dump_bytes: int, title: str, guilty: str | None,
          expected: str | None) -> JsonObject:
    base: JsonObject = {
        "kind": kind, "captured": True, "failure": None,
        "capture_log": _capture_log(release, dump_bytes, unsupported=True),
        "dump_format": "kdump-compressed (lzo)", "dump_bytes": dump_bytes, "ram_bytes": GIB,
        "dump_level": 31, "dmesg_matches_log": True, "triage_title": title,
        "guilty_function": guilty, "expected_function": expected, "seconds": 11.4,
    }
    if ok:
        return base | {
            "panic_task_readable": True, "stack_readable": True, "dropped_needed_pages": [],
            "drgn": f"panic task read: {title}",
            "crash_tool": "crash 8.0.2: opened (sys, bt)", "advice": [],
        }
    return base | {
        "panic_task_readable": False, "stack_readable": False,
        "dropped_needed_pages": [
            "slab pages of task_struct (dump level 31 with makedumpfile 1.7.2 drops them as user data: "
            "PG_slab is a page type since 6.10)"],
        "drgn": "Excluded page: the panic task's task_struct is not in the dump",
        "crash_tool": "crash 8.0.2: invalid structure member offset: module_core_size",
        "advice": [
            "Use dump level 23 (makedumpfile -d 23): bit 8 (exclude user data) drops 6.12's slab "
            "pages with makedumpfile 1.7.2.",
            "Upgrade makedumpfile: 1.7.2 does not support this kernel (\"The kernel version is not "
            "supported\").",
            "Use a crash newer than 8.0.2 to open this kernel's dumps.",
        ],
    }


def _report(release: str, digest: str, kinds: list[JsonObject], checked_at: float) -> ReadinessReport:
    return ReadinessReport.from_dict({
        "release": release, "packages": [f"linux-image-{release}_amd64.deb"], "package_digest": digest,
        "debuginfo": f"linux-image-{release}-dbg_amd64.deb",
        "makedumpfile": "makedumpfile 1.7.2 (/usr/sbin/makedumpfile)", "core_collector": COLLECTOR,
        "crashkernel": "256M", "accel": "tcg", "checked_at": checked_at, "crashhub_version": "0.1.0",
        "kinds": kinds, "seconds": sum(float(k["seconds"]) for k in kinds),
    })


def report_61(release: str = "6.1.0-57-cloud-amd64", checked_at: float = 1_796_500_000.0) -> ReadinessReport:
    """Ready: every kind captured and read."""
    return _report(release, DIGEST_61, [
        _kind("sysrq", release, ok=True, dump_bytes=24 * MIB, title="sysrq triggered crash",
              guilty="sysrq_handle_crash", expected="sysrq_handle_crash"),
        _kind("null", release, ok=True, dump_bytes=25 * MIB,
              title="NULL pointer dereference in crashmod_null", guilty="crashmod_null",
              expected="crashmod_null"),
        _kind("softlockup", release, ok=True, dump_bytes=26 * MIB,
              title="soft lockup in crashmod_softlockup_loop", guilty="crashmod_softlockup_loop",
              expected="crashmod_softlockup_loop"),
    ], checked_at)


def report_612(release: str = "6.12.117+deb12-cloud-amd64",
               checked_at: float = 1_796_500_600.0) -> ReadinessReport:
    """Not ready: captured, but the dump level dropped the slab pages the analysis needs."""
    return _report(release, DIGEST_612, [
        _kind("sysrq", release, ok=False, dump_bytes=38 * MIB, title="sysrq triggered crash",
              guilty="sysrq_handle_crash", expected="sysrq_handle_crash"),
        _kind("null", release, ok=False, dump_bytes=40 * MIB,
              title="NULL pointer dereference in crashmod_null", guilty="crashmod_null",
              expected="crashmod_null"),
    ], checked_at)


def report_not_captured(release: str = "6.1.0-57-cloud-amd64",
                        checked_at: float = 1_796_501_200.0) -> ReadinessReport:
    """The capture kernel could not reach its disk: nothing captured, the step named."""
    log = ("[    0.000000] Linux version " + release + "\n"
           "kdump: waiting for /dev/vda1\n[  121.40] dracut-initqueue: timeout, /dev/vda1 never appeared\n")
    return _report(release, "0badc0de" * 8, [{
        "kind": "sysrq", "captured": False,
        "failure": "capture kernel: the dump disk /dev/vda never appeared (no virtio_blk driver)",
        "capture_log": log, "ram_bytes": GIB, "dump_level": 31, "seconds": 130.2,
        "advice": ["Add virtio_blk to the capture initramfs (kdump's extra_modules)."],
    }], checked_at)
