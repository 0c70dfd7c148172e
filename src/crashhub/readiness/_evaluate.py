"""Read one captured dump with crashhub's own parts, as an incident would, and say what is missing.

The dump reader (format, size, its kernel log), triage (title, guilty function), deep analysis with
the debuginfo (drgn: panic task, stack, pages the dump level dropped; the crash tool: does it open).
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from crashhub.analyze import EngineRun, Finding
from crashhub.errors import AnalysisError, CrashhubError, DebuginfoError
from crashhub.kernel import base_name, kernel_version
from crashhub.model import CrashReport, DumpFacts
from crashhub.readiness._boot import BootResult
from crashhub.readiness._kinds import Trigger
from crashhub.readiness._model import MAX_CAPTURE_LOG, KindResult
from crashhub.readiness._setup import Collector

ANALYZE_TIMEOUT_S = 180.0
MAX_NOTES = 8
MAX_DROPPED = 8
PROBE_TIMEOUT_S = 180
PROBE_MEMORY = 4 << 30
# makedumpfile's warning when the kernel is newer than the newest it knows (makedumpfile.c, all 1.x).
UNSUPPORTED = "kernel version is not supported"


def _first_fatal(reports: Sequence[CrashReport]) -> CrashReport | None:
    return next((r for r in reports if r.fatal), reports[0] if reports else None)


def missing_lines(console: Sequence[CrashReport], dump: Sequence[CrashReport]) -> list[str]:
    """The lines of the console's crash reports that the dump's log does not have (prefixes stripped)."""
    have = {line.strip() for r in dump for line in r.text.splitlines()}
    return [line.strip() for r in console for line in r.text.splitlines()
            if line.strip() and line.strip() not in have]


def log_frames(report: CrashReport | None) -> list[str]:
    """The reliable frames the log printed from the guilty function down, base names, in order.

    Frames above it printed the report (dump_stack_lvl, panic) and are gone when kdump saves the
    stack; the syscall entry (entry_SYSCALL_64*) is where unwinding stops at the user's registers.
    """
    if report is None:
        return []
    names = list(dict.fromkeys(base_name(f.function) for f in report.frames if f.reliable and f.function))
    guilty = base_name(report.guilty.function) if report.guilty and report.guilty.function else None
    if guilty in names:
        names = names[names.index(guilty):]
    return [n for n in names if not n.startswith("entry_SYSCALL")]


def bigger(crashkernel: str, needed: int = 0) -> str:
    """A ``crashkernel=`` to try: twice the size given, and at least twice what kexec said loading
    needs (the capture kernel must also run in it), in 64 MiB steps; a range syntax gets 512M."""
    m = re.fullmatch(r"(\d+)([MG])", crashkernel.strip())
    if not m:
        return "512M"
    mib = int(m.group(1)) << (10 if m.group(2) == "G" else 0)
    want = max(2 * mib, -(-2 * (needed >> 20) // 64) * 64)
    return f"{want >> 10}G" if want % 1024 == 0 else f"{want}M"


def failure_advice(failure: str, crashkernel: str, makedumpfile: str) -> list[str]:
    if any(s in failure for s in ("out of memory", "kexec load failed", "did not boot", "kernel crashed")):
        # kexec-tools: "Could not find a free area of memory of 0x3378000 bytes..."
        m = re.search(r"free area of memory of (0x[0-9a-f]+) bytes", failure)
        needed = int(m.group(1), 16) if m else 0
        load = f"; loading alone needed {needed >> 20} MiB" if needed else ""
        return [f"Reserve more memory for the capture kernel: try crashkernel={bigger(crashkernel, needed)} "
                f"(crashkernel={crashkernel} did not hold it{load})."]
    if "no disk found" in failure:
        return ["Put the dump target's disk driver in the capture initramfs (virtio_blk here; dracut: "
                "add_drivers+=\" virtio_blk \" in /etc/dracut.conf.d, kdump-tools: MODULES=dep)."]
    if "makedumpfile failed" in failure:
        return [f"The fleet's {makedumpfile} failed on this kernel: update makedumpfile."]
    return []


def slab_probe(dump: Path, vmlinux: Path) -> tuple[list[str], str | None]:
    """The live slab pages the dump left out (``_slabprobe`` in a bounded child: drgn), one line each,
    or why the probe gave no answer."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (PROBE_MEMORY, PROBE_MEMORY))

    try:
        # Run as a file: the probe imports drgn only (the child needs no crashhub on its path).
        proc = subprocess.run([sys.executable, str(Path(__file__).with_name("_slabprobe.py")), str(dump),
                               str(vmlinux)], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S,
                              preexec_fn=limit, check=False)
        got = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}
    except (subprocess.TimeoutExpired, ValueError) as e:
        return [], f"slab probe: {type(e).__name__}"
    if not isinstance(got, dict) or "error" in got or "slabs" not in got:
        return [], f"slab probe: {got.get('error') if isinstance(got, dict) else None or proc.stderr[-200:]}"
    out = []
    if got["excluded"]:
        caches = ", ".join(f"{name} {n}" for name, n in got["caches"])
        out.append(f"live slab pages: {got['excluded']} of {got['slabs']} slabs in use excluded ({caches})")
    if got["walk_error_count"]:
        out.append(f"{got['walk_error_count']} slab caches could not be walked: "
                   f"{(got['walk_errors'] or [''])[0]}"[:300])
    return out, None


def _excluded(errors: Sequence[tuple[str, str]]) -> list[str]:
    return [f"{s}: {e}"[:300] for s, e in errors if "xcluded page" in e]


@dataclass(frozen=True, slots=True)
class Deep:
    """What drgn and crash read of the dump (None: not looked at, no debuginfo)."""

    panic_task_readable: bool | None = None
    stack_readable: bool | None = None
    dropped_needed_pages: tuple[str, ...] = ()
    drgn: str | None = None
    crash_tool: str | None = None
    crash_failed: bool = False  # crash ran and could not open the dump
    notes: tuple[str, ...] = ()


def evaluate(boot: BootResult, boot_dir: Path, trigger: Trigger, *, vmlinux: Path | None,
             module: Path | None, ram_bytes: int, collector: Collector, makedumpfile: str,
             crashkernel: str) -> KindResult:
    """The kind's result from one boot's output (``boot_dir`` holds the dump)."""
    capture_log = (boot.capture_console + ("\n--- collector\n" + boot.collector_log if boot.collector_log
                                           else ""))[-MAX_CAPTURE_LOG:]
    base = KindResult(kind=trigger.kind, captured=False, ram_bytes=ram_bytes, dump_level=collector.dump_level,
                      expected_function=trigger.expected_function, capture_log=capture_log,
                      seconds=boot.seconds)
    warn = ([f"{makedumpfile} warns that this kernel is newer than it supports: use a makedumpfile "
             "that knows it."] if UNSUPPORTED in boot.collector_log else [])
    failure = boot.failure(crashkernel)
    if failure is not None or boot.dump is None:
        failure = failure or "no dump"
        return replace(base, failure=failure, advice=[*failure_advice(failure, crashkernel, makedumpfile),
                                                      *warn])
    from crashhub import dump as dumpmod  # noqa: PLC0415  (heavy parts load when a dump is read)
    from crashhub.triage import parse  # noqa: PLC0415

    path = boot_dir / boot.dump
    try:
        facts = dumpmod.facts(path)
        log = dumpmod.dmesg(path)
    except CrashhubError as e:
        return replace(base, failure=f"crashhub could not read the dump: {e}"[:400], advice=warn)
    dump_reports = parse(log)
    console_reports = parse(boot.crash_console.encode())
    missing = missing_lines(console_reports, dump_reports)
    first = _first_fatal(dump_reports)
    guilty = first.guilty.function if first and first.guilty else None
    notes = [f"dump's log lacks: {line}"[:300] for line in missing[:MAX_NOTES]]
    if not console_reports:
        notes.append("the console showed no crash report to compare the dump's log with")
    if guilty and base_name(guilty) != trigger.expected_function:
        notes.append(f"triage blamed {guilty}, the crash was made in {trigger.expected_function}")
    deep = _deep(path, facts, dump_reports, vmlinux=vmlinux, module=module,
                 frames=log_frames(_first_fatal(console_reports)))
    advice: list[str] = []
    if deep.dropped_needed_pages:
        advice += _dropped_advice(facts, collector, makedumpfile)
    if deep.crash_failed:
        advice.append("The crash tool cannot open this kernel's dumps: use a newer crash (drgn reads them).")
    if vmlinux is None:
        advice.append("Give the kernel's debuginfo (-dbg deb, -debuginfo RPM or vmlinux) to check that the "
                      "panic task and its stack can be read.")
    result = replace(
        base, captured=True, dump_format=_format(facts), dump_bytes=path.stat().st_size,
        dump_level=facts.dump_level if facts.dump_level is not None else collector.dump_level,
        dmesg_matches_log=bool(console_reports) and not missing, triage_title=first.title if first else None,
        guilty_function=guilty, panic_task_readable=deep.panic_task_readable,
        stack_readable=deep.stack_readable, dropped_needed_pages=list(deep.dropped_needed_pages),
        drgn=deep.drgn, crash_tool=deep.crash_tool)
    # makedumpfile's warning is advice when something is missing, a note when the dump was whole.
    if result.ok and not advice:
        return replace(result, notes=[*notes, *deep.notes, *warn][:MAX_NOTES * 2])
    return replace(result, notes=[*notes, *deep.notes][:MAX_NOTES * 2], advice=[*advice, *warn])


def _format(facts: DumpFacts) -> str:
    return f"{facts.format} ({facts.compression})" if facts.compression else facts.format


def _dropped_advice(facts: DumpFacts, collector: Collector, makedumpfile: str) -> list[str]:
    level = facts.dump_level if facts.dump_level is not None else collector.dump_level
    out = []
    if level & 8:
        out.append(f"Use dump level -d {level & ~8} instead of -d {level}: pages makedumpfile takes for user "
                   "data hold what the analysis needs on this kernel.")
    ver = kernel_version(facts.release) or (0,)
    why = " (6.10+ slab page types)" if ver >= (6, 10) else ""
    out.append(f"Update makedumpfile: {makedumpfile} excludes pages of kernel {facts.release or '?'}{why} "
               "it should keep.")
    return out


def _deep(path: Path, facts: DumpFacts, reports: Sequence[CrashReport], *, vmlinux: Path | None,
          module: Path | None, frames: list[str]) -> Deep:
    """drgn and crash on the dump: panic task, stack, dropped pages, each engine's one line."""
    if vmlinux is None:
        return Deep(drgn="not run: no debuginfo given", crash_tool="not run: no debuginfo given")
    from crashhub.analyze import analyze  # noqa: PLC0415

    try:
        a = analyze(path, reports=reports, facts=facts, vmlinux=vmlinux, engines=("drgn", "crash"),
                    timeout=ANALYZE_TIMEOUT_S, modules=[module] if module else ())
    except (AnalysisError, DebuginfoError) as e:
        return Deep(drgn=f"not run: {e}"[:300], crash_tool=f"not run: {e}"[:300])
    drgn, crash = a.engines.get("drgn"), a.engines.get("crash")
    task = a.panic_task
    stack = [base_name(f.function) for f in a.stack if f.function]
    missing = [f for f in frames if f not in stack]
    errors = [(e.section, e.error) for e in drgn.errors] if drgn else []
    if task and task.error:
        errors.insert(0, ("panic task", task.error))
    dropped = _excluded(errors)[:MAX_DROPPED]
    count = int(str(drgn.section("excluded_pages") or 0)) if drgn else 0
    if count and not dropped:
        dropped = [f"{count} reads hit pages the dump level excluded"]
    slabs, probe_note = slab_probe(path, vmlinux)
    return Deep(
        panic_task_readable=bool(task and task.source != "log" and not task.error and a.engine == "drgn"),
        stack_readable=bool(stack) and a.stack_source in ("unwind", "merged") and not missing,
        dropped_needed_pages=(*slabs, *dropped), drgn=_drgn_line(drgn, a.findings),
        crash_tool=_crash_line(crash),
        crash_failed=crash is not None and (not crash.ok or crash.mode == "--minimal")
        and "not installed" not in (crash.failure or ""),
        notes=tuple(n for n in (probe_note, f"stack lacks the log's frames: {', '.join(missing[:6])}"
                                if missing else None) if n))


def _drgn_line(drgn: EngineRun | None, findings: Sequence[Finding]) -> str:
    if drgn is None or not drgn.ok:
        return f"drgn: {drgn.failure if drgn else 'not run'}"[:300]
    return f"drgn {drgn.version or ''}: {findings[0].claim if findings else 'no finding'}"[:300]


def _crash_line(crash: EngineRun | None) -> str:
    if crash is None:
        return "crash: not run"
    if not crash.ok or crash.mode == "--minimal":
        why = crash.failure or "no answer"
        return (why if why.startswith("crash") else f"crash {crash.version or ''}: {why}")[:300]
    raw = crash.section("stack")
    bt = [base_name(str(f.get("function"))) for f in (raw if isinstance(raw, list) else [])[:3]
          if isinstance(f, dict)]
    return f"crash {crash.version or ''}: opened ({crash.mode}); bt {' <- '.join(bt)}"[:300]
