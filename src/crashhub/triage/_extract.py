"""Guilty-frame extraction: walk a report's lines as an oops format's ``Stack`` spec says.

The walk (after syzkaller's ``extractStackFrameImpl``): each part consumes lines until it matches
(an anchor regexp) or, for ``FRAMES``, collects frame names until the next stack section or until
the following part matches.  When a ``FRAMES`` part ends, the first collected name that the skip
list lets through is that section's guilty frame; no such name means the report is corrupted.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass

from crashhub import _regex
from crashhub.kernel import STRIP_PREFIXES, demangle, skipped, strip_prefix
from crashhub.triage._formats import (
    CALL_TRACE,
    CALL_TRACE_RE,
    FAULT_INJECTION_RE,
    FRAMES,
    RIP,
    RIP_RE,
    STACK_START_RE,
    Stack,
    expand,
)

_FRAME_RES = (
    _regex.compile(expand(r"^ *(?:{{PC}} ){0,2}{{FUNC}}")),
    # old arm: callee and caller; with offsets ("[<c01b46b0>] (do_raw_spin_lock+0x100/0x144) from
    # [<c02f6724>] (...)") the callee alone, the caller being the next line's callee.
    _regex.compile(expand(r"^ *{{PC}} \((?:([a-zA-Z0-9_.]+)\) from {{PC}} \({{FUNC}}|{{FUNC}})")),
    # arm 5.x+ ("callee from caller+0x10/0x14"): the callee is the frame.
    _regex.compile(r"^ *([a-zA-Z0-9_]+)(?:\.[a-z0-9.]+)? from [a-zA-Z0-9_.]+\+0x"),
    # ppc64 ELFv1 dot-symbols (".func+0x1/0x2") and s390 "([<addr>] func+0x..)".
    _regex.compile(expand(r"^ *\(?(?:{{PC}} ){0,2}\.?{{FUNC}}")),
)


def may_start_stack(text: str) -> bool:
    return "race" in text or "llocated" in text or "reed" in text or "acktrace" in text or "Uninit" in text


@functools.lru_cache(maxsize=256)
def _compile(part: str) -> re.Pattern[str]:
    if part == RIP:
        return RIP_RE
    if part == CALL_TRACE:
        return CALL_TRACE_RE
    return _regex.compile(expand(part))


@dataclass(frozen=True, slots=True)
class _Skip:
    """The global skip list or a format's own plumbing.  Two patterns, not one alternation of both:
    the global list (~250 patterns) compiles once per process and its searches are cached
    (``crashhub.kernel.skipped``), where a joined pattern per format cost ~3 ms of compiling each,
    ~90 ms a process over every format.  A format's plain patterns ("spin_", "^msleep", "^ssleep$":
    text, perhaps anchored) are string tests, not a regexp to compile: a format's whole list
    mostly is (~0.3 ms of compiling a format saved)."""

    plain: tuple[tuple[str, bool, bool], ...]  # (text, anchored at the start, at the end)
    extra: re.Pattern[str] | None  # the other patterns

    def search(self, name: str) -> bool:
        return (
            skipped(name)
            or any(_plain_match(name, *p) for p in self.plain)
            or (self.extra is not None and self.extra.search(name) is not None)
        )


def _plain_match(name: str, text: str, start: bool, end: bool) -> bool:
    """What searching the plain pattern ``[^]text[$]`` in ``name`` answers."""
    if start:
        return name == text if end else name.startswith(text)
    return name.endswith(text) if end else text in name


_META = frozenset(".^$*+?{}[]\\|()")


def _plain(pattern: str) -> tuple[str, bool, bool] | None:
    """``pattern`` as (text, anchored at the start, at the end) when it is text with at most a
    leading "^" and a trailing "$", else None."""
    start, end = pattern.startswith("^"), pattern.endswith("$")
    text = pattern[1 if start else 0 : len(pattern) - 1 if end else len(pattern)]
    return None if _META.intersection(text) else (text, start, end)


@functools.lru_cache(maxsize=128)
def _skip_re(extra: tuple[str, ...]) -> _Skip:
    plain = tuple(p for p in map(_plain, extra) if p is not None)
    rest = [p for p in extra if _plain(p) is None]
    return _Skip(plain, _regex.compile("|".join(rest)) if rest else None)


_MANGLED = ("_Z", "_R")  # demangle's prefixes, tested inline: _append runs for every frame line


def _append(names: list[str], m: re.Match[str] | None, skip: _Skip) -> None:
    if m is None:
        return
    for g in m.groups():
        if g is not None and not _skipped(skip, g := demangle(g) if g[:2] in _MANGLED else g):
            names.append(g)


@functools.lru_cache(maxsize=16384)
def _skipped(skip: _Skip, name: str) -> bool:
    """Cached per format: the same few thousand names (dump_stack, do_syscall_64...) come back in
    every report, and a format's own patterns are searched after the global list's."""
    return skip.search(name)


def _pick(names: list[str], extractor: str | None, rip: str) -> str:
    if extractor == "stall":
        return _stall([strip_prefix(n) for n in names], rip)
    if not names:
        return ""
    if extractor == "hang":
        return _hang([strip_prefix(n) for n in names])
    if extractor == "overflow":
        # Runs are looked for in raw names: ____sys_sendmsg, ___sys_sendmsg and __sys_sendmsg are
        # three functions that only strip to one name.
        return strip_prefix(_overflow(names)) if _overflow(names) else ""
    return strip_prefix(names[0])


def _walk(
    lines: list[str], parts: tuple[str, ...], skip: _Skip, extractor: str | None
) -> tuple[list[str], bool]:
    results: list[str] = []
    names: list[str] = []
    rip = ""  # the function on the first RIP line, skip list or not (see _stall)
    ok = True
    pos = 0
    n = len(lines)
    stacks = 0
    i = 0
    while True:
        if i == len(parts) or (parts[i] == FRAMES and stacks > 0):
            frame = _pick(names, extractor, rip)
            if not frame:
                frame, ok = "corrupted", False
            results.append(frame)
            names = []
        if i == len(parts):
            break
        part = parts[i]
        if part == FRAMES:
            stacks += 1
            nxt = _compile(parts[i + 1]) if i + 1 < len(parts) else None
            while pos < n:
                ln = lines[pos]
                pos += 1
                if "should_fail" in ln and FAULT_INJECTION_RE.search(ln):
                    ok = False
                    break
                if may_start_stack(ln) and STACK_START_RE.search(ln):
                    break
                if nxt is not None:
                    m = nxt.search(ln)
                    if m is not None:
                        _append(names, m, skip)
                        i += 1
                        break
                if "+" not in ln and "." not in ln:
                    continue  # every frame regexp needs "func+" or "func." (most register lines lack both)
                for fre in _FRAME_RES:
                    fm = fre.search(ln)
                    if fm is not None:
                        _append(names, fm, skip)
                        break
            i += 1
        else:
            pre = _compile(part)
            trace = part == CALL_TRACE
            while pos < n:
                ln = lines[pos]
                pos += 1
                if "should_fail" in ln and FAULT_INJECTION_RE.search(ln):
                    ok = False
                    break
                if trace and "race:" not in ln and "acktrace" not in ln:
                    continue  # CALL_TRACE_RE: "Call Trace:", "Call trace:", "Backtrace:", unwind_backtrace
                m = pre.search(ln)
                if m is not None:
                    _append(names, m, skip)
                    if part == RIP and not rip:
                        rip = demangle(next((g for g in m.groups() if g), ""))
                    break
            i += 1
    return results, ok


def extract_frames(lines: list[str], stack: Stack) -> tuple[list[str], bool]:
    """Guilty frame names (one per stack section) and whether every section gave one."""
    if stack.extractor == "cpus":
        # Loaded here: only an unknown NMI's report reads the CPUs' dumps.
        from crashhub.triage._cpus import nmi_culprit  # noqa: PLC0415

        culprit = nmi_culprit(lines)
        return ([culprit] if culprit else []), True
    skip = _skip_re(stack.skip)
    if stack.ignore:
        lines = _without(lines, stack.ignore)
    frames, ok = _walk(lines, stack.parts, skip, stack.extractor)
    for alternative in (stack.parts2, stack.parts3):
        if ok or not alternative:
            break
        frames, ok = _walk(lines, alternative, skip, stack.extractor)
    return frames, ok


def _without(lines: list[str], sections: tuple[tuple[str, str], ...]) -> list[str]:
    """``lines`` less the sections ``Stack.ignore`` names."""
    out: list[str] = []
    end: re.Pattern[str] | None = None
    for ln in lines:
        if end is not None:
            if not end.search(ln):
                continue
            end = None
        opened = next((e for s, e in sections if _compile(s).search(ln)), None)
        if opened is not None:
            end = _compile(opened)
            continue
        out.append(ln)
    return out


# Dispatch points for stalls and lockups: the looping code is the frame just before one of these.
STALL_ANCHORS: tuple[str, ...] = (
    "process_one_work",
    "do_syscall_",
    "do_fast_syscall_",
    "sysenter_dispatch",
    "tracesys_phase2",
    "el0_svc_handler",
    "invoke_syscall",
    "ret_fast_syscall",
    "netif_receive_skb",
    "do_softirq",
    "call_timer_fn",
    "_run_timers",
    "run_timer_softirq",
    "hrtimer_run",
    "run_ksoftirqd",
    "smpboot_thread_fn",
    "^kthread$",
    "start_secondary",
    "cpu_startup_entry",
    "ret_from_fork",
    "vfs_write",
    "vfs_read",
    "vfs_iter_read",
    "vfs_iter_write",
    "do_iter_read",
    "do_iter_write",
    "call_read_iter",
    "call_write_iter",
    "new_sync_read",
    "new_sync_write",
    "vfs_ioctl",
    "ksys_ioctl",
    "compat_ioctl",
    "compat_sys_ioctl",
    "blkdev_driver_ioctl",
    "blkdev_ioctl",
    "^call_read_iter",
    "^call_write_iter",
    "do_iter_readv_writev",
    "^call_mmap",
    "mmap_region",
    "do_mmap",
    "do_dentry_open",
    "vfs_open",
    "^sock_sendmsg",
    "^sock_recvmsg",
    "^sock_release",
    "^__sock_release",
    "^setsockopt$",
    "kernel_setsockopt",
    "sock_common_setsockopt",
    "^listen$",
    "kernel_listen",
    "sk_common_release",
    "^sock_mmap",
    "^accept$",
    "kernel_accept",
    "^sock_do_ioctl",
    "^sock_ioctl",
    "^compat_sock_ioctl",
    "^nfnetlink_rcv_msg",
    "^rtnetlink_rcv_msg",
    "^netlink_dump",
    "^(sys_)?(socketpair|connect|ioctl)",
    "__do_fault",
    "do_page_fault",
    "^page_fault$",
    "__fput",
    "task_work_run",
    "exit_to_usermode",
    "smp_call_function",
    "tasklet_action",
    "tasklet_hi_action",
)


@functools.cache
def _stall_anchors_re() -> re.Pattern[str]:
    """Compiled when a stall is first read (~1 ms; most logs hold none)."""
    return _regex.compile("|".join(STALL_ANCHORS))


@functools.lru_cache(maxsize=8192)
def _dispatch(function: str) -> bool:
    """Is this a dispatch point (cached: a stall's trace is walked frame by frame, the same names
    in every report)?"""
    return _stall_anchors_re().search(function) is not None


def _stall(frames: list[str], rip: str = "", single: bool = True) -> str:
    """The looping function: the frame just before the first dispatch point.

    The stalled CPU's RIP line names the function it was executing.  When a dispatch point is the
    first kept frame (a kthread's own function spinning, "kthread" right below it, the RIP's name
    dropped by the format's skip list, as "rcu" drops rcutorture's rcu_torture_stall), or when the
    RIP is all the report has (its trace lost), that function is the answer; only the global skip
    list (lock primitives and the like, whose caller is in the trace) keeps it out.
    """
    rip = strip_prefix(rip) if rip and not _skipped(_skip_re(()), rip) else ""
    prev = ""
    for f in frames:
        if _dispatch(f):
            # With neither, syzkaller's answer: the dispatch point (its pkg/report does so).
            return "smp_call_function" if "smp_call_function" in f else prev or rip or f
        prev = f
    # No dispatch point: one candidate is the answer; several mean a trace cut too early to tell.
    return (frames[0] if frames else rip) if single and len(frames) <= 1 else ""


def _overflow(frames: list[str]) -> str:
    # Direct runaway recursion (one function three or more times in a row) is the bug, wherever the
    # guard page happened to be hit; otherwise (recursion through a cycle of generic functions, or
    # a deep call chain) the stall rule names the dispatch point, as syzkaller does.
    run = 1
    for prev, cur in itertools.pairwise(frames):
        run = run + 1 if cur == prev else 1
        if run >= 3:
            return cur
    # Where the guard page was hit is no looping function: a lone frame names nothing.
    return _stall(frames, single=False)


_HANG_ANCHORS = {
    "rtnl_lock": "",
    "synchronize_rcu": "synchronize_rcu",
    "synchronize_srcu": "synchronize_rcu",
    "synchronize_net": "synchronize_rcu",
    "synchronize_sched": "synchronize_rcu",
}
_HANG_SKIP = (
    "sched",
    "_lock",
    "_slowlock",
    "down",
    "rwsem",
    "completion",
    "kthread",
    "wait",
    "synchronize",
    "context_switch",
    "__switch_to",
    "cancel_delayed_work",
    "rcu_barrier",
)


def _hang(frames: list[str]) -> str:
    # Hung tasks wait as victims: group the two big families (RCU grace periods, rtnl) together,
    # otherwise take the first frame that is not waiting machinery.
    for f in frames:
        for anchor, repl in _HANG_ANCHORS.items():
            if anchor in f:
                return repl or f
    for f in frames:
        if not any(s in f for s in _HANG_SKIP):
            return f
    return ""


__all__ = ["STRIP_PREFIXES", "extract_frames"]
