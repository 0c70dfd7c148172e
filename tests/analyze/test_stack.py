"""Never worse than the log: the unwound panic stack merged with the log's Call Trace (no dump needed).

The log frames are triage's reading of real logs (the lab's 6.1 null oops kept in tests/data, the
stored 6.1 hung-task analysis); the unwound frames are what drgn 0.3.0 gives for that dump without
the module's .ko: raw addresses in module code, the rest named from the vmlinux's DWARF.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crashhub.analyze import StackFrame
from crashhub.analyze._drgn_engine import log_stack
from crashhub.analyze._model import Analysis
from crashhub.analyze._stackmerge import merge, named_count
from crashhub.commands.analyze import engines

DATA = Path(__file__).resolve().parents[1] / "data"
NULL_LOG = (DATA / "minidump" / "6.1-null" / "vmcore-dmesg.txt").read_text()
KERNEL = "kernel"


def _f(fn: str | None, addr: int, module: str | None = KERNEL, *, inline: bool = False,
       name_from: str | None = "dwarf") -> dict[str, Any]:
    return {"function": fn if fn is not None else hex(addr), "module": module, "file": None, "line": None,
            "address": addr, "inline": inline, "name_from": name_from if fn is not None else None}


# drgn's unwind of the 6.1 null dump without crashmod.ko (two raw frames in the module).
UNWOUND = [
    _f(None, 0xFFFFFFFFC03F100C, "crashmod"),
    _f(None, 0xFFFFFFFFC03F1736, "crashmod"),
    _f("pde_write", 0xFFFFFFFF863EACB6, inline=True),
    _f("proc_reg_write", 0xFFFFFFFF863EACB6),
    _f("vfs_write", 0xFFFFFFFF8634D497),
    _f("ksys_write", 0xFFFFFFFF8634D95B),
    _f("do_syscall_x64", 0xFFFFFFFF86A03F4D, inline=True),
    _f("do_syscall_64", 0xFFFFFFFF86A03F4D),
    _f("entry_SYSCALL_64", 0xFFFFFFFF86C00126, name_from="symbol"),
    _f(None, 0x47B7A0, None),
]


def test_log_frames_from_the_real_null_oops() -> None:
    logged = log_stack(None, NULL_LOG)
    names = [f["function"] for f in logged]
    assert names[:3] == ["crashmod_null", "crashmod_write", "proc_reg_write"]
    assert "?" not in "".join(names) and "do_fcntl" not in names  # unreliable entries skipped
    assert {f["name_from"] for f in logged} == {"log"} and logged[0]["module"] == "crashmod"


def test_raw_module_frames_named_from_the_log() -> None:
    logged = log_stack(None, NULL_LOG)
    m = merge(UNWOUND, logged)
    top = m.stack[:2]
    assert [f["function"] for f in top] == ["crashmod_null", "crashmod_write"]
    assert [f["name_from"] for f in top] == ["log", "log"] and all(f["source"] == "log" for f in top)
    assert [f["address"] for f in top] == [0xFFFFFFFFC03F100C, 0xFFFFFFFFC03F1736]  # the unwinder's pcs
    # The rest is the unwinder's, DWARF-named, inline frames included; it reached user space.
    assert [f["function"] for f in m.stack[2:6]] == ["pde_write", "proc_reg_write", "vfs_write", "ksys_write"]
    assert m.named_from_log == 2 and m.appended == 0 and m.stopped_at is None
    assert named_count(m.stack) >= named_count(logged) and not m.worse_than(logged)


def test_unwind_stopped_in_the_module_completed_from_the_log() -> None:
    logged = log_stack(None, NULL_LOG)
    m = merge(UNWOUND[:1], logged)  # the unwinder gave only the faulting pc: no ORC for crashmod
    assert m.stopped_at == UNWOUND[0] and m.appended == len(logged) - 1
    assert [f["function"] for f in m.stack] == [f["function"] for f in logged]
    assert m.stack[0]["address"] == 0xFFFFFFFFC03F100C and all(f["source"] == "log" for f in m.stack)


def test_stopped_after_named_frames_appends_only_the_missing_tail() -> None:
    logged = log_stack(None, NULL_LOG)
    unwound = [_f("crashmod_null", 0xFFFFFFFFC03F100C, "crashmod", name_from="kallsyms"),
               _f("crashmod_write", 0xFFFFFFFFC03F1736, "crashmod", name_from="kallsyms")]
    m = merge(unwound, logged)
    assert m.stack[:2] == unwound and m.stopped_at == unwound[1]
    assert [f["function"] for f in m.stack[2:]] == [f["function"] for f in logged[2:]]


def test_complete_kallsyms_stack_is_kept_as_it_is() -> None:
    logged = log_stack(None, NULL_LOG)
    named = [_f("crashmod_null", 0xFFFFFFFFC03F100C, "crashmod", name_from="kallsyms"),
             _f("crashmod_write", 0xFFFFFFFFC03F1736, "crashmod", name_from="kallsyms"), *UNWOUND[2:]]
    m = merge(named, logged)
    assert m.stack == named and (m.named_from_log, m.appended, m.stopped_at) == (0, 0, None)


def test_another_tasks_trace_never_replaces_the_unwound_stack() -> None:
    """A hung-task panic: the log's trace is the blocked task's (under khungtaskd's CPU/PID line)."""
    row = json.loads((DATA / "analysis" / "stored-6.1-hung.json").read_text())
    res = row["result"]
    unwound = res["engines"]["drgn"]["panic"]["stack"]
    logged = log_stack(None, res["log"])
    assert "crashmod_hung" in [f["function"] for f in logged]
    m = merge(unwound, logged)
    assert m.stack == unwound and m.matched == 0 and not m.worse_than(logged)


def test_nothing_unwound_gives_the_log() -> None:
    logged = log_stack(None, NULL_LOG)
    m = merge([], logged)
    assert [f["function"] for f in m.stack] == [f["function"] for f in logged]
    assert merge(UNWOUND, []).stack == UNWOUND


def test_kallsyms_name_source_and_stack_note_round_trip() -> None:
    f = StackFrame.from_dict({"function": "crashmod_null", "module": "crashmod", "name_from": "kallsyms"})
    assert f.name_from == "kallsyms" and f.to_dict()["name_from"] == "kallsyms"
    a = Analysis.from_dict({"stack": [f.to_dict()], "stack_source": "merged",
                            "stack_note": "unwinding stopped in crashmod_write [crashmod]"})
    assert a.stack_source == "merged" and Analysis.from_dict(a.to_dict()) == a
    assert "stack_note" not in Analysis().to_dict()  # rows without it keep their shape


def test_cli_runs_drgn_alone_unless_crash_is_asked() -> None:
    assert engines(None) == ("drgn",) and engines(["drgn"]) == ("drgn",)
    assert engines(["crash"]) == engines(["all"]) == ("drgn", "crash")


def test_crash_page_frames_table_never_worse_than_the_log() -> None:
    """A row analysed before the merge holds raw module frames: the page shows the log's frames."""
    from crashhub.model import to_jsonable  # noqa: PLC0415
    from crashhub.triage import parse  # noqa: PLC0415
    from crashhub.web.ui.views import analysis_view  # noqa: PLC0415

    report = to_jsonable(next(r for r in parse(NULL_LOG.encode()) if r.frames))
    old = {"status": "done", "result": {"stack": UNWOUND, "stack_source": "unwind"}}
    assert analysis_view(old, report)["stack"] == ()
    merged = merge(UNWOUND, log_stack(None, NULL_LOG)).stack
    view = analysis_view({"status": "done", "result": {"stack": merged, "stack_source": "merged"}}, report)
    assert [f.function for f in view["stack"]][:2] == ["crashmod_null", "crashmod_write"]
    assert view["stack"][0].name_from == "log"
