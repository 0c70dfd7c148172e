"""Run a guest in QEMU: serial console to a log with host timestamps, QMP for QEMU's own dumps.

Shared by the kernel check and the crash lab (lab/run.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from crashhub.errors import BootFailed, CheckUnavailable

QEMU = "qemu-system-x86_64"


def kvm_usable() -> bool:
    """KVM needs /dev/kvm *and* hardware virtualisation; here /dev/kvm opens but vmx/svm are absent."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return re.search(r"^flags\s*:.*\b(vmx|svm)\b", flags, re.M) is not None


def require_qemu() -> None:
    if shutil.which(QEMU) is None:
        raise CheckUnavailable(f"{QEMU} (Debian qemu-system-x86) is not installed")


@dataclass
class Console:
    """The guest's serial output, line by line, each with seconds since QEMU started."""

    lines: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def find(self, pattern: str) -> re.Match[str] | None:
        rx = re.compile(pattern)
        with self.lock:
            for _, line in self.lines:
                m = rx.search(line)
                if m:
                    return m
        return None

    def when(self, pattern: str) -> float | None:
        rx = re.compile(pattern)
        with self.lock:
            for t, line in self.lines:
                if rx.search(line):
                    return t
        return None

    def text(self) -> str:
        with self.lock:
            return "".join(f"[{t:9.3f}] {line}\n" for t, line in self.lines)


class Guest:
    """One QEMU process. Use as a context manager; it is killed on exit if still running."""

    def __init__(self, *, kernel: Path, initrd: Path, cmdline: str, memory_mib: int, cpus: int,
                 disk: Path | None, qmp_dir: Path, extra_args: tuple[str, ...] = (),
                 reboot: bool = False, accel: str | None = None) -> None:
        require_qemu()
        # accel: "kvm" or "tcg" forced by the caller (the lab's CRASHHUB_LAB_ACCEL); None: detected.
        self.accel = accel or ("kvm" if kvm_usable() else "tcg")
        self.qmp_path = qmp_dir / "qmp.sock"
        self.argv = [
            QEMU, "-nodefaults", "-display", "none", *(() if reboot else ("-no-reboot",)),
            "-machine", f"pc,accel={self.accel}", "-m", str(memory_mib), "-smp", str(cpus),
            "-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline,
            "-serial", "stdio", "-device", "vmcoreinfo",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
        ]
        if disk is not None:
            self.argv += ["-drive", f"file={disk},format=raw,if=virtio,cache=unsafe"]
        # extra_args: a NIC for the crash channels (lab/channels.py); reboot: a guest reset boots again
        # (RAM, and with it a ramoops region, survives QEMU's system reset).
        self.argv += list(extra_args)
        self.console = Console()
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self._reader: threading.Thread | None = None

    def __enter__(self) -> Guest:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self.console.lock:
                self.console.lines.append((time.monotonic() - self.started, line))

    def wait_for(self, pattern: str, timeout: float) -> float | None:
        """Seconds since start when a console line matched, or None when QEMU ended or time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = self.console.when(pattern)
            if t is not None:
                return t
            if self.proc is not None and self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader drain the pipe
                return self.console.when(pattern)
            time.sleep(0.1)
        return None

    def wait_exit(self, timeout: float) -> int | None:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def qmp(self, command: str, timeout: float = 600, **arguments: object) -> dict[str, object]:
        """Run one QMP command on a fresh connection and return its ``return`` value."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.qmp_path))
            f = s.makefile("rwb")

            def send(obj: dict[str, object]) -> dict[str, object]:
                f.write(json.dumps(obj).encode() + b"\n")
                f.flush()
                while True:
                    reply: dict[str, object] = json.loads(f.readline())
                    if "return" in reply or "error" in reply:
                        return reply

            json.loads(f.readline())  # greeting
            send({"execute": "qmp_capabilities"})
            reply = send({"execute": command, "arguments": arguments})
            if "error" in reply:
                raise BootFailed(f"QMP {command} failed: {reply['error']}")
            ret = reply["return"]
            return ret if isinstance(ret, dict) else {}
