"""Analysis pieces without a dump: checks, sources/MAINTAINERS, crash output parsing, limits."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from crashhub.analyze import (
    _base,
    _panic_message_from_reports,
    _panic_task_from_reports,
    agreement,
    analyze,
)
from crashhub.analyze import (
    _checks as checks,
)
from crashhub.analyze import (
    _crash_engine as crash_engine,
)
from crashhub.analyze import (
    _sources as sources,
)
from crashhub.analyze._limits import run_limited
from crashhub.errors import AnalysisError
from crashhub.triage import parse


def _frame(fn: str, file: str | None = None, line: int | None = None, **kw: Any) -> dict[str, Any]:
    return {"function": fn, "file": file, "line": line, "module": kw.get("module", "kernel"),
            "inline": kw.get("inline", False)}


LOG_HUNG = """[   30.1] INFO: task insmod:111 blocked for more than 10 seconds.
[   30.2]       Tainted: G           OE      6.1.0-56-cloud-amd64 #1
[   31.0] Kernel panic - not syncing: hung_task: blocked tasks
"""
LOG_SOFT = "[ 20.0] watchdog: BUG: soft lockup - CPU#1 stuck for 13s! [crashmod_spin:120]\n"
LOG_OOM = """[ 9.0] dd invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0
[ 9.5] Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled
"""


def test_check_hung_names_task_and_wait() -> None:
    stack = [_frame("__schedule"), _frame("crashmod_hung", "crashmod/crashmod.c", 70)]
    a = {"log": LOG_HUNG, "dstate": [{"pid": 111, "comm": "insmod", "waiting_on": "crashmod_hung",
                                      "stack": stack}]}
    [f] = checks.run_checks(a)
    assert f["id"] == "hung-task" and "insmod:111" in f["title"] and "waiting in crashmod_hung" in f["title"]
    assert "crashmod/crashmod.c:70" in f["evidence"][1]


def test_check_softlockup_names_cpu_and_loop() -> None:
    spin = [_frame("crashmod_spin", "crashmod/crashmod.c", 128, module="crashmod")]
    a = {"log": LOG_SOFT, "cpus": [{"cpu": 0, "stack": []},
                                   {"cpu": 1, "pid": 120, "comm": "crashmod_spin", "stack": spin}]}
    [f] = checks.run_checks(a)
    assert f["id"] == "soft-lockup" and "CPU 1 " in f["title"]
    assert "crashmod_spin (crashmod/crashmod.c:128)" in f["title"]


def test_check_oom_and_biggest_users() -> None:
    a = {"log": LOG_OOM, "memory": {"kb": {"total": 1000, "free": 10}, "free_percent": 1.0},
         "top_rss": [{"pid": 99, "comm": "dd", "rss_kb": 700 * 1024},
                     {"pid": 1, "comm": "init", "rss_kb": 10}]}
    [f] = checks.run_checks(a)
    assert f["id"] == "oom" and f["severity"] == "error" and "dd:99 (700 MiB)" in f["title"]
    assert checks.run_checks({"log": "nothing here"}) == []


def test_check_taint_and_partial() -> None:
    a = {"taint": "POE", "modules": [{"name": "nvidia", "taints": "PO"}, {"name": "ext4", "taints": ""}],
         "stack": [_frame("nv_fn", module="nvidia")],
         "dump": {"dump_level": 31, "release": "6.12.117+deb12-cloud-amd64"},
         "engines": {"drgn": {"excluded_pages": 3, "errors": [
             {"section": "tasks",
              "error": "FaultError: could not read memory from kdump: Excluded page: 0x1"}]}}}
    fs = {f["id"]: f for f in checks.run_checks(a)}
    assert fs["dump-partial"]["title"] == checks.PARTIAL_FIX
    assert "proprietary" in fs["tainted"]["title"] and "nvidia" in fs["tainted"]["title"]
    # One rule: a taint is a warning whatever the stack; the module on the stack is its culprit.
    assert fs["tainted"]["severity"] == "warning" and fs["tainted"]["culprit"] == {"function": "nv_fn"}
    a_off = {**a, "stack": []}
    assert {f["id"]: f for f in checks.run_checks(a_off)}["tainted"]["severity"] == "warning"
    a["dump"] = {"dump_level": 31, "release": "6.1.0-56-cloud-amd64"}  # the slab quirk is 6.10+
    assert checks.run_checks(a)[0]["title"].startswith("dump too partial")


MAINTAINERS = """List of maintainers
===================

	Descriptions of section entries and preferred order
	---------------------------------------------------

	M: *Mail* patches to: FullName <address@domain>

Maintainers List
----------------

EXT4 FILE SYSTEM
M:	Theodore Ts'o <tytso@mit.edu>
L:	linux-ext4@vger.kernel.org
S:	Maintained
F:	fs/ext4/

FILESYSTEMS (VFS and infrastructure)
M:	Alexander Viro <viro@zeniv.linux.org.uk>
S:	Maintained
F:	fs/*
X:	fs/ext4/

PROC FILESYSTEM
M:	Someone <s@x>
S:	Maintained
F:	fs/proc/
F:	include/linux/proc_fs.h

THE REST
M:	Linus Torvalds <torvalds@linux-foundation.org>
F:	*
F:	*/
"""


def test_maintainers_most_specific_first(tmp_path: Path) -> None:
    secs = sources.parse_maintainers(MAINTAINERS)
    assert [s.title for s in secs][:3] == ["EXT4 FILE SYSTEM", "FILESYSTEMS (VFS and infrastructure)",
                                           "PROC FILESYSTEM"]
    [m] = sources.maintainers_for(secs, "fs/ext4/inode.c")
    assert m["subsystem"] == "EXT4 FILE SYSTEM" and m["lists"] == ["linux-ext4@vger.kernel.org"]
    assert sources.maintainers_for(secs, "fs/read_write.c")[0]["subsystem"].startswith("FILESYSTEMS")
    assert sources.maintainers_for(secs, "fs/proc/inode.c")[0]["subsystem"] == "PROC FILESYSTEM"
    assert sources.maintainers_for(secs, "drivers/x.c") == []  # THE REST is not an answer


def test_annotate_snippet_and_owner(tmp_path: Path) -> None:
    tree = tmp_path / "linux"
    (tree / "fs/proc").mkdir(parents=True)
    (tree / "fs/proc/inode.c").write_text("".join(f"line {i}\n" for i in range(1, 401)))
    (tree / "MAINTAINERS").write_text(MAINTAINERS)
    (tmp_path / "outside.c").write_text("secret\n")
    frames = [_frame("x", "/build/reproducible-path/linux-6.1.192/fs/proc/inode.c", 340),
              _frame("y", "../outside.c", 1), _frame("z", "fs/proc/inode.c", 9999)]
    out = sources.annotate(frames, [tree])
    assert out[0]["text"] == "line 340" and out[0]["start"] == 335 and len(out[0]["lines"]) == 11
    assert out[0]["maintainers"][0]["subsystem"] == "PROC FILESYSTEM"
    assert len(out) == 2 and "does not match the build" in out[1]["error"]


CRASH_BT = """PID: 118      TASK: ffff8beb3ed33000  CPU: 1    COMMAND: "sh"
 #0 [ffffd0ca004837e8] machine_kexec at ffffffff8106c62f
 #1 [ffffd0ca00483840] __crash_kexec at ffffffff811646b7
 #6 [ffffd0ca004839d0] asm_exc_page_fault at ffffffff81c00c02
    [exception RIP: crashmod_null+12]
    RIP: ffffffffc03c000c  RSP: ffffd0ca00483a88  RFLAGS: 00000246
 #7 [ffffd0ca00483a88] crashmod_write at ffffffffc03c04df [crashmod]
 #8 [ffffd0ca00483ad0] proc_reg_write at ffffffff813eacb6
 #9 [ffffd0ca00483ae8] vfs_write.cold at ffffffff8134d497
"""


def test_crash_parsing_and_agreement() -> None:
    [bt] = crash_engine.parse_bt(CRASH_BT)
    assert (bt["pid"], bt["comm"], bt["cpu"]) == (118, "sh", 1)
    assert crash_engine.from_exception(bt["frames"]) == ["crashmod_null", "crashmod_write", "proc_reg_write",
                                                         "vfs_write.cold"]
    assert bt["frames"][4]["module"] == "crashmod"
    drgn = [_frame("crashmod_null"), _frame("crashmod_write"), _frame("pde_write", inline=True),
            _frame("proc_reg_write"), _frame("vfs_write")]
    assert agreement(drgn, bt["frames"])["same"]
    drgn[1] = _frame("other")
    assert not agreement(drgn, bt["frames"])["same"]
    assert _base("__handle_sysrq.cold") == "__handle_sysrq" and _base("f.constprop.0.isra.0") == "f"
    pre, outs = crash_engine.split_outputs(f"junk\n{crash_engine.MARK} 0\nA\n{crash_engine.MARK} 1\nB\n",
                                           ("sys", "bt"))
    assert pre == "junk\n" and outs == {"sys": "A", "bt": "B"}
    s = crash_engine.parse_sys('      TASKS: 3\n      PANIC: "Oops: 0002 [#1]" (check log for details)\n')
    assert s == {"TASKS": "3", "PANIC": '"Oops: 0002 [#1]" (check log for details)'}


def test_engine_that_hangs_is_killed_and_keeps_its_output() -> None:
    t = time.monotonic()
    out = run_limited([sys.executable, "-c", "import time,sys; print('part', flush=True); time.sleep(600)"],
                      timeout=2)
    assert out.timed_out and out.killed_reason == "timeout" and out.stdout == b"part\n"
    assert time.monotonic() - t < 15


def test_engine_that_eats_memory_is_stopped() -> None:
    out = run_limited([sys.executable, "-c", "x = bytearray(3 << 30)"], timeout=60, mem_bytes=512 << 20)
    assert out.returncode != 0 and out.killed_reason == "memory" and b"MemoryError" in out.stderr
    assert out.peak_rss_kb is not None and out.peak_rss_kb < 512 * 1024


def test_engine_that_spins_hits_cpu_limit() -> None:
    out = run_limited([sys.executable, "-c", "while True: pass"], timeout=1.5)
    assert out.killed_reason in ("timeout", "cpu time")


def test_analyze_bad_input(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError, match="no such dump"):
        analyze(tmp_path / "nope")
    (tmp_path / "d").write_bytes(b"x")
    with pytest.raises(AnalysisError, match="unknown engine"):
        analyze(tmp_path / "d", engines=("gdb",))


def test_log_fallbacks_and_crash_explanations() -> None:
    log = ("[ 6.7] BUG: kernel NULL pointer dereference, address: 0000000000000020\n"
           "[ 6.7] Oops: Oops: 0002 [#1] PREEMPT SMP NOPTI\n"
           "[ 6.7] CPU: 1 UID: 0 PID: 173 Comm: sh Tainted: G           OE      6.12.117\n")
    reports = parse(log.encode())
    headline = "BUG: kernel NULL pointer dereference, address: 0000000000000020"
    assert _panic_message_from_reports(reports) == headline
    assert _panic_task_from_reports(reports) == {"pid": 173, "comm": "sh", "cpu": 1, "source": "log"}
    panic = parse(log.encode() + b"[ 6.8] Kernel panic - not syncing: Fatal exception\n")
    assert _panic_message_from_reports(panic) == "Kernel panic - not syncing: Fatal exception"
    assert _panic_message_from_reports([]) is None and _panic_task_from_reports([]) is None
    res = {"version": "8.0.2", "attempts": [
        {"problems": ["crash: invalid structure member offset: module_core_size"]}]}
    why = crash_engine.explain(res)
    assert "cannot open" in why and "module_core_size" in why and "newer crash" in why
    assert "without output" in crash_engine.explain({"version": "8.0.2", "attempts": [{"problems": []}]})
    assert "stopped by the analysis limits: timeout" in crash_engine.explain(
        {"attempts": [{"problems": [], "killed": "timeout"}]})
