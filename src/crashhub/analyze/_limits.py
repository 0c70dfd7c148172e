"""Run an analysis engine in a child process under a wall-clock timeout and memory limits.

The child gets ``RLIMIT_AS`` (address space) and ``RLIMIT_CPU`` via ``setrlimit`` before
it executes, its own process group (so a hung engine and anything it started are killed
together), and its stdout is read line by line so the sections it finished before a
timeout are kept.
"""

from __future__ import annotations

import os
import resource
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

# What running out of address space (RLIMIT_AS) looks like from Python, libelf, glibc, gdb (crash).
MEMORY_MARKERS = ("MemoryError", "out of memory", "memory exhausted", "Cannot allocate memory",
                  "failed to map segment", "std::bad_alloc", "cannot malloc")
MAX_OUTPUT = 256 << 20  # bytes of stdout kept from one engine run
MAX_STDERR = 1 << 20


@dataclass(slots=True)
class Outcome:
    argv: list[str]
    returncode: int | None
    stdout: bytes
    stderr: bytes
    seconds: float
    timed_out: bool = False
    killed_reason: str | None = None  # "timeout", "memory", "output", a signal name
    peak_rss_kb: int | None = None
    notes: list[str] = field(default_factory=list)


def memory_exhausted(stderr: bytes | str) -> bool:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    return any(m in text for m in MEMORY_MARKERS)


def _limiter(mem_bytes: int | None, cpu_seconds: int | None) -> Callable[[], None]:
    def apply() -> None:  # runs in the child between fork and exec
        os.setsid()
        if mem_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
        if cpu_seconds:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _reap(proc: subprocess.Popen[bytes], grace: float) -> tuple[int, int]:
    """Wait for the child (killing it after ``grace`` s); its exit code (-signal) and peak RSS in KiB."""
    deadline = time.monotonic() + grace
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, int(ru.ru_maxrss)
        if time.monotonic() > deadline:
            _kill_group(proc)
            _pid, status, ru = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, int(ru.ru_maxrss)
        time.sleep(0.02)


def run_limited(argv: Sequence[str], *, timeout: float, mem_bytes: int | None = None,
                stdin: bytes = b"", env: Mapping[str, str] | None = None) -> Outcome:
    """Run ``argv``; kill it (and its group) after ``timeout`` seconds or on too much output."""
    start = time.monotonic()
    cpu = max(1, int(timeout) + 1)
    proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(env) if env is not None else None,
                            preexec_fn=_limiter(mem_bytes, cpu))  # noqa: PLW1509  (setrlimit needs it)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdin.write(stdin)
        proc.stdin.close()
    except BrokenPipeError:
        pass
    out, err = bytearray(), bytearray()
    reason: str | None = None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    open_streams = 2
    while open_streams:
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            reason = "timeout"
            _kill_group(proc)
            break
        for key, _ in sel.select(min(left, 1.0)):
            chunk = os.read(key.fd, 1 << 16)
            if not chunk:
                sel.unregister(key.fileobj)
                open_streams -= 1
                continue
            buf: bytearray = key.data
            buf += chunk
            if len(out) > MAX_OUTPUT:
                reason = "output"
                _kill_group(proc)
                open_streams = 0
                break
            if len(err) > MAX_STDERR:
                del err[MAX_STDERR // 2: len(err) - MAX_STDERR // 2]
    sel.close()
    # wait4, not Popen.wait: it gives this child's own peak RSS.
    rc, peak = _reap(proc, 10.0)
    if rc < 0 and reason is None:
        sig = -rc
        reason = "cpu time" if sig == signal.SIGXCPU else signal.Signals(sig).name
    if reason is None and rc != 0 and memory_exhausted(bytes(err)):
        reason = "memory"
    return Outcome(list(argv), rc, bytes(out), bytes(err), time.monotonic() - start,
                   timed_out=reason == "timeout", killed_reason=reason, peak_rss_kb=peak)
