"""Deep analysis of a vmcore: drgn (primary) and crash, each in a limited child process.

:func:`analyze` is the one entry point (the hub's jobs and ``crashhub analyze`` call it)::

    analyze(dump, reports=None, facts=None, vmlinux=None, debuginfo_dir=None,
            engines=("drgn", "crash"), timeout=300.0) -> Analysis
    add_crash(analysis, dump, ...) -> Analysis   # crash run later, merged into drgn's analysis

It consumes triage: the panic message and task it falls back on when the engines cannot read
them, and the watchdog lines the checks need, come from the ``CrashReport``s of the dump's log
(``reports``), never from regexes of its own.  The vmlinux comes from ``vmlinux`` (checked
against the dump's build-id and refused with the reason when it does not match) or from the
debuginfo store at ``debuginfo_dir`` (matched by build-id, else release).  The result always
has ``engine``, ``panic_message``, ``panic_task`` (pid, comm, cpu), ``stack`` (function,
module, file, line), ``tasks`` (count) and its :class:`Diagnosis` (``findings``); where an
engine failed it says why and what was still read (the log comes from the dump without
debuginfo when nothing else works).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crashhub import config
from crashhub.analyze._model import (
    SEVERITIES,
    Analysis,
    AnalysisRecord,
    Culprit,
    Diagnosis,
    EngineError,
    EngineRun,
    Finding,
    ModuleInfo,
    RssUser,
    Severity,
    StackFrame,
    TaskInfo,
)
from crashhub.errors import AnalysisError, DebuginfoError
from crashhub.kernel import base_name
from crashhub.model import CrashReport, DumpFacts

DEFAULT_TIMEOUT = 300.0
DEFAULT_MEMORY = 6 << 30

__all__ = [
    "DEFAULT_TIMEOUT", "SEVERITIES", "Analysis", "AnalysisRecord", "Culprit", "Diagnosis", "EngineError",
    "EngineRun", "Finding", "ModuleInfo", "RssUser", "Severity", "StackFrame", "TaskInfo", "add_crash",
    "analyze",
]


def _facts(dump: Path, given: DumpFacts | None) -> tuple[dict[str, Any], str | None, list[str]]:
    """Dump facts (as JSON, without VMCOREINFO) and log read without debuginfo (crashhub.dump);
    problems as notes."""
    notes: list[str] = []
    facts: dict[str, Any] = given.to_dict() if given is not None else {}
    facts.pop("vmcoreinfo", None)
    log: str | None = None
    try:
        from crashhub import dump as dumpmod  # noqa: PLC0415  (keeps `import crashhub.analyze` light)

        if given is None:
            facts = dumpmod.facts(dump).to_dict()
            facts.pop("vmcoreinfo", None)
        log = dumpmod.dmesg(dump).decode("utf-8", "replace")
    except Exception as e:  # a dump the reader cannot parse is still worth giving to drgn and crash
        notes.append(f"dump reader: {type(e).__name__}: {e}"[:400])
    return facts, log, notes


def _resolve(facts: dict[str, Any], vmlinux: Path | None, debuginfo_dir: Path | None
             ) -> tuple[Path | None, list[Path], dict[str, Any]]:
    """The vmlinux and module files to use, and how they were matched; refuses a wrong vmlinux."""
    from crashhub.debuginfo import DebuginfoStore, check_vmlinux  # noqa: PLC0415

    bid, rel = facts.get("build_id"), facts.get("release")
    if vmlinux is not None:
        m = check_vmlinux(vmlinux, bid, rel)
        if not m.ok:
            raise DebuginfoError(f"refusing this vmlinux: {m.reason}", vmlinux)
        return vmlinux, [], m.to_dict()
    if debuginfo_dir is not None:
        store = DebuginfoStore(debuginfo_dir)
        m = store.check(facts)
        if m.ok and m.entry is not None:
            # In-tree modules come with the kernel's entry; out-of-tree ones were imported alone.
            extra = store.module_dir()
            return m.entry.vmlinux, [m.entry.dir / "modules", *([extra] if extra else [])], m.to_dict()
        return None, [], m.to_dict()
    return None, [], {"ok": False, "reason": "no vmlinux given and no debuginfo store", "by": None}


def _panic_task_from_reports(reports: Sequence[CrashReport]) -> dict[str, Any] | None:
    """The task of the first report that names one on its "CPU: N PID: P Comm: C" line: the
    first oops or panic is the one that started it."""
    r = next((r for r in reports if r.cpu is not None and r.process and r.process.pid is not None), None)
    if r is None or r.process is None:
        return None
    return {"pid": r.process.pid, "comm": r.process.comm, "cpu": r.cpu, "source": "log"}


# Why the kernel died, best first: an explicit panic, then a bad access's headline, then a BUG(),
# then any other fatal oops.
_MESSAGE_KINDS = (("null_deref", "paging_request"), ("bug",))


def _panic_message_from_reports(reports: Sequence[CrashReport]) -> str | None:
    tiers = [[r.panic_message for r in reports]]
    tiers += [[r.message for r in reports if r.kind in kinds] for kinds in _MESSAGE_KINDS]
    tiers.append([r.message for r in reports if r.fatal])
    return next((m.strip() for tier in tiers for m in tier if m), None)


def _base(fn: str) -> str:
    """A function name without GCC's clone suffixes: crash prints the ELF symbol
    (``__handle_sysrq.cold``), drgn the DWARF subprogram (``__handle_sysrq``)."""
    return base_name(fn)


def agreement(drgn_stack: list[dict[str, Any]], crash_stack: list[dict[str, Any]], n: int = 4
              ) -> dict[str, Any]:
    """Do drgn and crash show the same top frames?  crash lists the panic path (machine_kexec,
    __crash_kexec, ...) above the exception frame; drgn starts where the oops hit, so the two
    are aligned on drgn's first (non-inline) function."""
    from crashhub.analyze._crash_engine import from_exception  # noqa: PLC0415

    d = [_base(str(f["function"])) for f in drgn_stack if not f.get("inline") and f.get("function")]
    full = [_base(str(f["function"])) for f in crash_stack]
    # Align on drgn's first function; crash may list an exception frame further down (a WARN's
    # ud2, a page fault in the interrupted task) that is not where drgn starts.
    c = full if d and d[0] in full else [_base(x) for x in from_exception(crash_stack)]
    # One function listed twice in a row (crash: the exception RIP in "f", then a frame in its
    # "f.cold" part) is one frame.
    d = [x for i, x in enumerate(d) if i == 0 or d[i - 1] != x]
    c = [x for i, x in enumerate(c) if i == 0 or c[i - 1] != x]
    if not d or not c:
        return {"same": None, "drgn": d[:n], "crash": c[:n]}
    start = c.index(d[0]) if d[0] in c else 0
    cc = c[start:start + n]
    dd = d[:len(cc)]
    return {"same": dd == cc, "drgn": dd, "crash": cc}


def _merge(res: dict[str, Any], drgn: dict[str, Any] | None, crash: dict[str, Any] | None,
           log: str | None, reports: Sequence[CrashReport]) -> None:
    panic = (drgn or {}).get("panic") or {}
    dt = (drgn or {}).get("tasks") or {}
    res["panic_message"] = panic.get("panic_message") or (crash or {}).get("panic_message") \
        or _panic_message_from_reports(reports)
    task = panic.get("panic_task")
    if not task or task.get("comm") is None:
        alt = (crash or {}).get("panic_task") or _panic_task_from_reports(reports)
        task = {**(alt or {}), **{k: v for k, v in (task or {}).items() if v is not None}} or None
    res["panic_task"] = task
    res["stack"] = panic.get("stack") or (crash or {}).get("stack") or []
    # "unwind": drgn walked the crashed task's stack; "merged": that, with raw frames named or a
    # tail filled from the log; "log": the oops's Call Trace looked up in the DWARF (the task could
    # not be unwound); "crash": crash's bt.
    res["stack_source"] = (panic.get("stack_source", "unwind") if panic.get("stack")
                           else "crash" if res["stack"] else None)
    res["stack_note"] = panic.get("unwind_note") if panic.get("stack") else None
    res["tasks"] = dt.get("count") if dt else (crash or {}).get("tasks")
    drgn_d = drgn or {}
    res["cpus"] = drgn_d.get("cpus") or []
    res["dstate"] = dt.get("dstate") or []
    res["task_states"] = dt.get("states") or {}
    res["top_rss"] = dt.get("top_rss") or []
    res["runq"] = drgn_d.get("runq") or []
    res["memory"] = drgn_d.get("memory") or {}
    res["modules"] = drgn_d.get("modules") or []
    sysd = drgn_d.get("sys") or {}
    res["sys"] = sysd
    res["taint"] = sysd.get("taint")
    res["log"] = drgn_d.get("log") or log or ((crash or {}).get("outputs") or {}).get("log")
    if drgn and drgn.get("ok") and panic:
        res["engine"] = "drgn"
    elif crash and crash.get("ok") and crash.get("mode") != "--minimal":
        res["engine"] = "crash"
    elif drgn and panic:
        res["engine"] = "drgn"
    else:
        res["engine"] = "log" if res["log"] else None


def analyze(dump: Path, *, reports: Sequence[CrashReport] | None = None, facts: DumpFacts | None = None,
            vmlinux: Path | None = None, debuginfo_dir: Path | None = None,
            engines: Sequence[str] = ("drgn", "crash"), timeout: float = DEFAULT_TIMEOUT,
            mem_bytes: int | None = DEFAULT_MEMORY, modules: Sequence[Path] = (),
            source_dirs: Sequence[Path] = (), sections: Sequence[str] | None = None) -> Analysis:
    """Analyse ``dump``; see the module docstring.  ``reports`` are triage's reports of the dump's log
    and ``facts`` the dump's facts (both read from the dump when not given); ``timeout`` and
    ``mem_bytes`` apply per engine."""
    dump = Path(dump)
    if not dump.is_file():
        raise AnalysisError(f"{dump}: no such dump file")
    unknown = set(engines) - {"drgn", "crash"}
    if unknown:
        raise AnalysisError(f"unknown engine(s) {', '.join(sorted(unknown))}; use drgn and/or crash")
    t0 = time.monotonic()
    fd, log, notes = _facts(dump, facts)
    if reports is None:
        from crashhub.triage import parse  # noqa: PLC0415

        reports = parse((log or "").encode())
    vml, mod_dirs, match = _resolve(fd, Path(vmlinux) if vmlinux else None,
                                    Path(debuginfo_dir) if debuginfo_dir else None)
    res: dict[str, Any] = {"dump": fd, "debuginfo": match, "notes": notes, "engines": {},
                           "versions": {}, "crash_mode": None}
    drgn_res, crash_res = _run_engines(res, dump, vml, mod_dirs, engines, modules=modules, timeout=timeout,
                                       mem_bytes=mem_bytes, sections=sections)
    return _finish(res, drgn_res, crash_res, log, reports, source_dirs, debuginfo_dir, t0)


def add_crash(prior: Analysis, dump: Path, *, reports: Sequence[CrashReport] | None = None,
              vmlinux: Path | None = None, debuginfo_dir: Path | None = None,
              timeout: float = DEFAULT_TIMEOUT, mem_bytes: int | None = DEFAULT_MEMORY,
              source_dirs: Sequence[Path] = ()) -> Analysis:
    """``prior`` (a drgn analysis, as :func:`analyze` gave it first) with crash run on ``dump`` and
    merged in, as if both had run together: the hub stores drgn's answer at once and this later."""
    dump = Path(dump)
    if not dump.is_file():
        raise AnalysisError(f"{dump}: no such dump file")
    t0 = time.monotonic() - (prior.seconds or 0.0)
    d = prior.to_dict()
    if reports is None:
        from crashhub.triage import parse  # noqa: PLC0415

        reports = parse((prior.log or "").encode())
    vml, _mods, _match = _resolve(d["dump"], Path(vmlinux) if vmlinux else None,
                                  Path(debuginfo_dir) if debuginfo_dir else None)
    engines_raw = {k: v for k, v in d["engines"].items() if k != "crash"}
    res: dict[str, Any] = {"dump": d["dump"], "debuginfo": d["debuginfo"], "notes": d["notes"],
                           "engines": engines_raw, "versions": {k: v for k, v in d["versions"].items()
                                                                if k != "crash"}, "crash_mode": None}
    _, crash_res = _run_engines(res, dump, vml, [], ("crash",), modules=(), timeout=timeout,
                                mem_bytes=mem_bytes, sections=None)
    drgn_res = engines_raw.get("drgn")
    return _finish(res, drgn_res, crash_res, prior.log, reports, source_dirs, debuginfo_dir, t0)


def _finish(res: dict[str, Any], drgn_res: dict[str, Any] | None, crash_res: dict[str, Any] | None,  # noqa: PLR0917
            log: str | None, reports: Sequence[CrashReport], source_dirs: Sequence[Path],
            debuginfo_dir: Path | None, t0: float) -> Analysis:
    """The engines' raw results merged, compared and annotated, as the typed analysis."""
    _merge(res, drgn_res, crash_res, log, reports)
    if drgn_res and crash_res and crash_res.get("stack") and res["stack"]:
        ct = crash_res.get("panic_task") or {}
        pt = res["panic_task"] or {}
        res["agreement"] = {"pid": ct.get("pid") == pt.get("pid"), "comm": ct.get("comm") == pt.get("comm"),
                            "frames": agreement(res["stack"], crash_res["stack"]),
                            "tasks": {"drgn": res["tasks"], "crash": crash_res.get("tasks")}}
    res["sources"] = _annotated(res["stack"], res["dump"], source_dirs, debuginfo_dir)
    return _typed(res, t0)


def _run_engines(res: dict[str, Any], dump: Path, vml: Path | None, mod_dirs: list[Path],
                 engines: Sequence[str], *, modules: Sequence[Path], timeout: float, mem_bytes: int | None,
                 sections: Sequence[str] | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Run the asked engines, recording each in ``res``; their raw results (None: not asked)."""
    from crashhub.analyze import _crash_engine as crash_engine  # noqa: PLC0415
    from crashhub.analyze import _drgn_engine as drgn_engine  # noqa: PLC0415

    drgn_res: dict[str, Any] | None = None
    crash_res: dict[str, Any] | None = None
    use_debuginfod = vml is None and bool(config.debuginfod_urls())
    if "drgn" in engines:
        if vml is None and not use_debuginfod:
            drgn_res = {"engine": "drgn", "ok": False,
                        "failure": f"no debuginfo for this kernel: {res['debuginfo']['reason']}"}
        else:
            fmt = str(res["dump"].get("format") or "")
            drgn_res = drgn_engine.run(dump, vml, modules=[*mod_dirs, *map(Path, modules)], timeout=timeout,
                                       mem_bytes=mem_bytes, debuginfod=use_debuginfod,
                                       qemu_kdump="qemu" in fmt and "kdump" in fmt,
                                       sections=tuple(sections) if sections else None)
        res["engines"]["drgn"] = drgn_res
        res["versions"]["drgn"] = drgn_res.get("version")
    if "crash" in engines:
        if vml is None:
            crash_res = {"engine": "crash", "ok": False, "failure": "crash needs a vmlinux with debuginfo"}
        else:
            crash_res = crash_engine.run(dump, vml, timeout=timeout, mem_bytes=mem_bytes)
        res["engines"]["crash"] = crash_res
        res["versions"]["crash"] = crash_res.get("version")
        res["crash_mode"] = crash_res.get("mode")
    return drgn_res, crash_res


def _annotated(stack: list[dict[str, Any]], facts: dict[str, Any], source_dirs: Sequence[Path],
             debuginfo_dir: Path | None) -> list[dict[str, Any]]:
    from crashhub.analyze import _sources as sources  # noqa: PLC0415

    roots = [*map(Path, source_dirs)]
    if debuginfo_dir is not None and facts.get("release"):
        from crashhub.debuginfo import DebuginfoStore  # noqa: PLC0415

        tree = DebuginfoStore(Path(debuginfo_dir)).source_dir(str(facts["release"]))
        if tree is not None:
            roots.append(tree)
    return sources.annotate(stack, roots) if roots else []


def _typed(res: dict[str, Any], t0: float) -> Analysis:
    """The merged result as an :class:`Analysis`, with the diagnosis over it and the watchdog
    lines triage finds in its log."""
    from crashhub.analyze import _checks as checks  # noqa: PLC0415
    from crashhub.triage import watchdog_events  # noqa: PLC0415

    merged = Analysis.from_dict(res)
    diagnosis = checks.diagnose(merged, watchdog_events(merged.log or ""))
    return dataclasses.replace(merged, diagnosis=diagnosis, seconds=round(time.monotonic() - t0, 3))
