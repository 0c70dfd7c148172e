"""A kernel readiness report: what one check of one kernel found (``crashhub kernel check``).

The contract between the runner (which boots the kernel, crashes it and reads the dump) and the
hub (store, API, kernels page, alerts, CLI).  Plain data: whether the kernel is ready is derived
when read (:attr:`ReadinessReport.ready`), never stored beside the facts it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from crashhub.model import JsonObject, to_jsonable

# The standard crashes a check tries: sysrq always; null and softlockup need the test module,
# which is built only when the package's headers are given (or found in the package).
CheckKind = Literal["sysrq", "null", "softlockup"]
CHECK_KINDS: tuple[CheckKind, ...] = ("sysrq", "null", "softlockup")

# Bounds on what a report keeps (a capture kernel's console can be long).
MAX_CAPTURE_LOG = 64 * 1024
MAX_ADVICE = 16


@dataclass(frozen=True, slots=True)
class KindResult:
    """One crash kind tried on the kernel, and what crashhub could read of its dump."""

    kind: str  # a CheckKind
    captured: bool  # a dump was written by the capture kernel and crashhub opened it
    failure: str | None = None  # why not captured (one line naming the step), None when captured
    capture_log: str = ""  # the capture kernel's console and the collector's output (<= MAX_CAPTURE_LOG)
    dump_format: str | None = None  # as crashhub's reader names it ("kdump-compressed (lzo)", ...)
    dump_bytes: int | None = None
    ram_bytes: int = 0  # the guest's RAM
    dump_level: int | None = None
    dmesg_matches_log: bool | None = None  # the dump's printk buffer has every line the console showed
    panic_task_readable: bool | None = None  # the panic task's task_struct read from the dump
    stack_readable: bool | None = None  # its stack unwound to at least the frames the log printed
    # What the analysis needed and the dump level dropped, one line each ("slab pages of kmalloc-192
    # (dump level 31 with makedumpfile 1.7.2 drops them as free)").
    dropped_needed_pages: list[str] = field(default_factory=list)
    triage_title: str | None = None  # crashhub's primary report title, from the dump's log
    guilty_function: str | None = None  # its guilty frame
    expected_function: str | None = None  # the function the test crash was made in
    drgn: str | None = None  # one line: what drgn-based analysis found (first finding), or its error
    crash_tool: str | None = None  # one line: what `crash` made of the dump (opened / its error)
    advice: list[str] = field(default_factory=list)  # what to change, one sentence each
    seconds: float = 0.0  # its boot (as it took when made) and the evaluation of what it left
    # Why the kind was not tried (no headers to build the test module with), None when it was.
    skipped: str | None = None
    # What the checks saw beside the verdicts, one line each: console lines the dump's log lacks,
    # frames the log printed that the unwound stack lacks, a guilty function other than expected.
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Captured and readable: the dump holds what an incident would need."""
        return (self.captured and self.dmesg_matches_log is not False
                and self.panic_task_readable is not False and self.stack_readable is not False
                and not self.dropped_needed_pages)

    def to_dict(self) -> JsonObject:
        d: JsonObject = to_jsonable(self)
        d["ok"] = self.ok
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> KindResult:
        return cls(
            kind=str(d["kind"]), captured=bool(d["captured"]), failure=d.get("failure"),
            capture_log=str(d.get("capture_log") or ""), dump_format=d.get("dump_format"),
            dump_bytes=d.get("dump_bytes"), ram_bytes=int(d.get("ram_bytes") or 0),
            dump_level=d.get("dump_level"), dmesg_matches_log=d.get("dmesg_matches_log"),
            panic_task_readable=d.get("panic_task_readable"), stack_readable=d.get("stack_readable"),
            dropped_needed_pages=[str(x) for x in d.get("dropped_needed_pages") or []],
            triage_title=d.get("triage_title"), guilty_function=d.get("guilty_function"),
            expected_function=d.get("expected_function"), drgn=d.get("drgn"),
            crash_tool=d.get("crash_tool"), advice=[str(x) for x in d.get("advice") or []],
            seconds=float(d.get("seconds") or 0.0), skipped=d.get("skipped"),
            notes=[str(x) for x in d.get("notes") or []],
        )


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    """One check of one kernel package with one capture setup."""

    release: str  # uname -r of the kernel checked
    packages: list[str]  # the file names given (deb, rpms, or a directory)
    package_digest: str  # sha256 over the packages' bytes: the same package checked again is the same
    debuginfo: str | None  # the debuginfo package's file name, None when none was given
    makedumpfile: str  # the capture's makedumpfile, with its version ("makedumpfile 1.7.2 (/usr/bin/...)")
    core_collector: str  # the collector line as the fleet's kdump runs it ("makedumpfile -l -d 31")
    crashkernel: str  # the crashkernel= reservation the kernel booted with ("256M")
    accel: str  # "kvm" | "tcg"
    checked_at: float  # Unix time
    crashhub_version: str
    kinds: list[KindResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ready(self) -> bool:
        """Every kind tried was captured and readable (skipped kinds were not tried; one must be)."""
        tried = [k for k in self.kinds if k.skipped is None]
        return bool(tried) and all(k.ok for k in tried)

    @property
    def advice(self) -> list[str]:
        """Every kind's advice, each sentence once, in order."""
        seen: dict[str, None] = {}
        for k in self.kinds:
            for a in k.advice:
                seen.setdefault(a, None)
        return list(seen)[:MAX_ADVICE]

    def to_dict(self) -> JsonObject:
        d: JsonObject = to_jsonable(self)
        d["kinds"] = [k.to_dict() for k in self.kinds]
        d["ready"] = self.ready
        d["advice"] = self.advice
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> ReadinessReport:
        return cls(
            release=str(d["release"]), packages=[str(p) for p in d.get("packages") or []],
            package_digest=str(d.get("package_digest") or ""), debuginfo=d.get("debuginfo"),
            makedumpfile=str(d.get("makedumpfile") or ""), core_collector=str(d.get("core_collector") or ""),
            crashkernel=str(d.get("crashkernel") or ""), accel=str(d.get("accel") or ""),
            checked_at=float(d.get("checked_at") or 0.0),
            crashhub_version=str(d.get("crashhub_version") or ""),
            kinds=[KindResult.from_dict(k) for k in d.get("kinds") or []],
            seconds=float(d.get("seconds") or 0.0),
        )
