"""Kernel readiness: before a fleet rolls out a kernel, boot it under QEMU with kdump set up as the
fleet's is, crash it in standard ways and prove that crashhub can read what the dump holds
(``crashhub kernel check``; docs/readiness.md).

    check(packages, debuginfo=None, makedumpfile=None, core_collector=DEFAULT_COLLECTOR,
          crashkernel="256M", kinds=None, memory_mib=1024, work_dir=None, progress=None,
          boot_cache=None, capture_modules=GUEST_MODULES) -> ReadinessReport

Bad input raises ``InputError`` (one line, before anything boots); a host without QEMU, busybox,
kexec, makedumpfile or e2fsprogs raises ``CheckUnavailable``.

The guest machinery (QEMU, the initramfs, the guest's /init, the test module) is shared with the
crash lab (lab/), which is a client of it.
"""

from crashhub.readiness._boot import make_disk, read_disk
from crashhub.readiness._check import DEFAULT_COLLECTOR, check
from crashhub.readiness._guest import (
    CHANNEL_MODULES,
    GUEST_MODULES,
    INIT_SH,
    MODULE_SRC,
    build_initramfs,
    build_module,
    conf_cpio,
    digest,
    guest_modules,
    module_sources,
    tool,
)
from crashhub.readiness._kinds import TRIGGERS, Trigger
from crashhub.readiness._model import CHECK_KINDS, CheckKind, KindResult, ReadinessReport
from crashhub.readiness._package import KernelTree, point_headers_at, unpack, unpack_deb
from crashhub.readiness._qemu import Console, Guest, kvm_usable, require_qemu
from crashhub.readiness._request import (
    FILE_ROLES,
    MAX_PACKAGES,
    CheckFile,
    CheckRequest,
    FileRole,
    check_collector,
    check_crashkernel,
    check_name,
    parse_kinds,
)
from crashhub.readiness._setup import Collector, parse_collector
from crashhub.readiness._stored import record_of, report_of

__all__ = [
    "CHANNEL_MODULES",
    "CHECK_KINDS",
    "DEFAULT_COLLECTOR",
    "FILE_ROLES",
    "GUEST_MODULES",
    "INIT_SH",
    "MAX_PACKAGES",
    "MODULE_SRC",
    "TRIGGERS",
    "CheckFile",
    "CheckKind",
    "CheckRequest",
    "Collector",
    "Console",
    "FileRole",
    "Guest",
    "KernelTree",
    "KindResult",
    "ReadinessReport",
    "Trigger",
    "build_initramfs",
    "build_module",
    "check",
    "check_collector",
    "check_crashkernel",
    "check_name",
    "conf_cpio",
    "digest",
    "guest_modules",
    "kvm_usable",
    "make_disk",
    "module_sources",
    "parse_collector",
    "parse_kinds",
    "point_headers_at",
    "read_disk",
    "record_of",
    "report_of",
    "require_qemu",
    "tool",
    "unpack",
    "unpack_deb",
]
