"""Crash signatures: a bucket key that names a bug, under a versioned algorithm id.

``sig:2026-12`` (the current algorithm) hashes, with SHA-256:

1. the algorithm id itself (so two algorithms never share a key);
2. the report's kind;
3. the normalised title (``crashhub.triage._title.normalize``: addresses, numbers, offsets, pids,
   CPU numbers, line numbers gone; syzkaller-style "TITLE in GUILTY");
4. the guilty frame's module (``""`` for the kernel image), since the same function name in two
   modules is two bugs;
5. the guilty frame's base name (``crashhub.kernel.base_name``: ``.isra.N``, ``.constprop.N``,
   ``.part.N``, ``.cold`` clones folded, syscall-entry prefixes stripped): the function names the
   bug, its callers only say how this occurrence got there (one bug reached from two syscalls is
   one bug; syzbot buckets by a title naming the guilty function for the same reason).  When no
   guilty frame is named, the top 3 reliable frames of the main stack instead, after dropping
   the frames the skip list (``crashhub.kernel.SKIP``) names.  For stalls and hangs the stack is
   a random victim's, so only the guilty frame counts.  (``sig:2026-11`` kept the guilty frame's
   two callers too: on the syzkaller corpus that split 7 titles into two or three buckets each
   and merged none.)

Nothing that changes between two occurrences of one bug enters the key: no address, offset, pid,
CPU, timestamp, KASLR base, build id or release.

The id names the whole recipe, triage's part included: a triage change that moves a title or a
guilty frame changes keys as surely as a change here, so it needs a new id too.  A new id is one
more line of ``RECIPES`` (never an edit of a shipped one), and its keys are recorded with
``pytest tests/classify/test_golden_keys.py --update-golden``, which refuses to record changed keys
under an unchanged id.  A hub that starts with buckets of an older id re-keys them in the
background (``crashhub.jobs._rekey``; old keys stay as aliases of the buckets that took them over).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from crashhub.kernel import base_name, skipped, strip_prefix
from crashhub.model import CrashReport, Frame, Signature

# CPython's own SHA-256 (``_sha256``; ``_sha2`` from 3.12), not hashlib's: importing hashlib loads
# OpenSSL, about 3 ms of every `crashhub triage` start (bench/triage_speed.py), for the same digest.
TYPE_CHECKING = False  # not typing's (see crashhub.kernel)
if TYPE_CHECKING:
    from hashlib import sha256
else:
    try:
        from _sha256 import sha256
    except ImportError:  # pragma: no cover - another Python
        try:
            from _sha2 import sha256
        except ImportError:
            from hashlib import sha256


@dataclass(frozen=True, slots=True)
class Recipe:
    """One algorithm id and what its keys are made of."""

    id: str  # "sig:YYYY-MM", hashed into every key it makes
    top_frames: int  # frames of the main stack in the key, from the guilty one
    why: str  # what changed from the id before (here or in triage)
    # Frames from the stack's top when no guilty frame is named (None: top_frames).
    bare_frames: int | None = None


# Every id ever shipped, oldest first; the last is the current one.  Append, never edit; then
# ``pytest --update-golden`` records the new id's keys, and docs/triage.md names the id.
RECIPES: tuple[Recipe, ...] = (
    Recipe("sig:2026-11", 3, "kind, normalised title, guilty module and the top 3 reliable frames"),
    Recipe(
        "sig:2026-12",
        1,
        "a named guilty frame alone, not its two callers: one bug reached through two call paths is "
        "one bucket (syzbot's title rule); with no guilty frame, the top 3 frames; triage now names "
        "the guilty frame of self-detected RCU stalls, bad pages, NMIs and cut hung-task titles",
        bare_frames=3,
    ),
)
ALGORITHM = RECIPES[-1].id
TOP_FRAMES = RECIPES[-1].top_frames
STACK_FRAMES = 16
# Kinds whose stack shows where a victim waited or a CPU happened to be, not the bug.
# An OOM's allocation path is whichever task asked last under memory pressure, not the cause.
# Lockdep's full tables (lockdep_limit) are reported by whichever task took the next lock.
VICTIM_KINDS = frozenset(
    {"soft_lockup", "hard_lockup", "rcu_stall", "hung_task", "workqueue_lockup", "oom", "lockdep_limit"}
)
# Entry and dispatch frames at the bottom of every stack: they say nothing about the bug.
_ENTRY = frozenset(
    {
        "entry_SYSCALL_64_after_hwframe",
        "entry_SYSCALL_64",
        "do_syscall_64",
        "do_syscall_x64",
        "entry_SYSENTER_32",
        "do_fast_syscall_32",
        "do_int80_syscall_32",
        "system_call_fastpath",
        "system_call",
        "sysenter_do_call",
        "syscall_call",
        "ret_from_fork",
        "ret_from_fork_asm",
        "kthread",
        "worker_thread",
        "process_one_work",
        "el0_svc",
        "el0_svc_common",
        "el0t_64_sync",
        "el0t_64_sync_handler",
        "invoke_syscall",
        "cpu_startup_entry",
        "start_secondary",
        "secondary_startup_64",
        "x86_64_start_kernel",
        "x86_64_start_reservations",
        "start_kernel",
        "rest_init",
        "kernel_init",
        "do_idle",
        "cpu_idle",
    }
)


def _base(function: str) -> str:
    return strip_prefix(base_name(function))


@functools.lru_cache(maxsize=16384)
def _stack_name(function: str) -> str | None:
    """A frame's name in a stack signature, None for entry plumbing and the skip list.  Cached: the
    same few thousand functions make every report's stack."""
    name = _base(function)
    return None if name in _ENTRY or skipped(name) else name


def _stack(frames: tuple[Frame, ...]) -> list[str]:
    """Normalised names of the main stack: reliable frames (all, if none is), plumbing dropped."""
    usable = [f.function for f in frames if f.function and f.reliable] or [
        f.function for f in frames if f.function]
    out: list[str] = []
    for function in usable:
        assert function is not None
        name = _stack_name(function)
        if name is None or (out and out[-1] == name):
            continue  # plumbing; recursion and clone pairs (foo, foo.cold) count once
        out.append(name)
    return out


def _key_frames(report: CrashReport, stack: list[str], guilty: str | None, recipe: Recipe) -> tuple[str, ...]:
    if report.kind in VICTIM_KINDS:
        return (guilty,) if guilty else ()
    top = recipe.top_frames
    if guilty and guilty in stack:
        start = stack.index(guilty)
        return tuple(stack[start : start + top])
    if guilty:
        return (guilty, *stack[: top - 1])
    # Nothing named the bug: the stack's top is all there is to tell two bugs apart.
    return tuple(stack[: recipe.bare_frames or top])


def _signature(recipe: Recipe, report: CrashReport) -> Signature:
    """The signature of a report under ``recipe`` (see the module docstring)."""
    # Imported here: the store imports classify (rules, re-key plans) and need not load triage.
    from crashhub.triage import normalize  # noqa: PLC0415

    title = normalize(report.title)
    guilty = _base(report.guilty.function) if report.guilty and report.guilty.function else None
    module = report.guilty.module if report.guilty and report.guilty.module else ""
    stack = _stack(report.frames)
    frames = _key_frames(report, stack, guilty, recipe)
    material = "\n".join([recipe.id, report.kind, title, module, *frames])
    key = sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return Signature(
        recipe.id, key, title, frames, guilty=guilty, kind=report.kind, stack=tuple(stack[:STACK_FRAMES])
    )


ALGORITHMS: dict[str, Callable[[CrashReport], Signature]] = {r.id: partial(_signature, r) for r in RECIPES}


def signature(report: CrashReport, algorithm: str = ALGORITHM) -> Signature:
    """The report's signature under ``algorithm`` (the current one by default).

    Raises ``KeyError`` for an unknown algorithm id: a bucket made by an algorithm this version
    does not know cannot be matched, and guessing would merge different bugs.
    """
    return ALGORITHMS[algorithm](report)
