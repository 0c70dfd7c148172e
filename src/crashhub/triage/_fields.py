"""Facts a report states about itself: task, CPU, taint, release, hardware, modules, registers, arch.

Each reader takes the report's lines (prefixes stripped) and returns what the log says, or None:
nothing is guessed.  Formats by era::

    2.6.32  "Pid: 2531, comm: bash Not tainted 2.6.32-431.el6.x86_64 #1 Dell Inc. PowerEdge R610/0F0XJ6"
    3.10+   "CPU: 0 PID: 2531 Comm: bash Not tainted 3.10.0-123.el7.x86_64 #1"
            "Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014"
    6.12    "CPU: 1 UID: 0 PID: 167 Comm: insmod Tainted: G           O       6.12.117+deb12-cloud-amd64 #1"
            "Tainted: [O]=OOT_MODULE, [E]=UNSIGNED_MODULE"   (a line of its own)
    WARNING "WARNING: CPU: 1 PID: 8377 at arch/x86/kvm/x86.c:7209 kvm_arch_vcpu_ioctl_run+0x1f7/0x5a00"
    hung    "INFO: task insmod:111 blocked for more than 10 seconds."
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crashhub import _regex
from crashhub.model import Process, Taint
from crashhub.triage._taint import parse_taint

_TASK_RE = _regex.compile(
    # Debian's 6.x kernels print "Kdump: loaded" after the comm when a capture kernel is armed.
    r"CPU: (?P<cpu>\d+)(?: UID: \d+)? PID: (?P<pid>\d+) Comm: (?P<comm>.{1,20}?) +(?:Kdump: loaded +)?"
    r"(?P<taint>Not tainted|Tainted: [A-Z ]*?)\s+(?:-+\s+)?\(?(?P<release>\d+\.\d+\S*)(?: (?P<version>#.*))?$"
)
_TASK_OLD_RE = _regex.compile(
    r"Pid: (?P<pid>\d+), comm: (?P<comm>.{1,20}?) +(?P<taint>Not tainted|Tainted: [A-Z ]*?)\s+"
    r"(?:-+\s+)?\(?(?P<release>\d+\.\d+[^\s)]*)(?: (?P<version>#[^\s)]+))?\)?(?: (?P<hw>.+))?$"
)
_TASK_SHORT_RE = _regex.compile(r"CPU: (?P<cpu>\d+)(?: UID: \d+)? PID: (?P<pid>\d+) Comm: (?P<comm>\S+)")
_WARN_RE = _regex.compile(r"WARNING: CPU: (?P<cpu>\d+) PID: (?P<pid>\d+) at ")
_HUNG_RE = _regex.compile(r"INFO: task (?P<comm>.{1,20}?):(?P<pid>\d+) (?:blocked|can't die)")
_PROCESS_RE = _regex.compile(r"^Process (?P<comm>.{1,20}?) \(pid: (?P<pid>\d+),")
# 2.6.18-era i386: "EFLAGS: 00010202   (3.10.0-327.28.2.el7.x86_64 #1)"
_EFLAGS_RELEASE_RE = _regex.compile(
    r"^\s*EFLAGS: [0-9a-f]+ +\((?P<release>\d+\.\d+\S*) (?P<version>#[^)]+)\)"
)
_HARDWARE_RE = _regex.compile(r"Hardware name: (?P<hw>.*?)(?:, BIOS (?P<bios>.*))?$")
_BANNER_RE = _regex.compile(r"Linux version (?P<release>\S+) (?P<rest>.*)$")
_MODULES_RE = _regex.compile(r"Modules linked in:(?P<mods>.*)$")
_REG_RE = _regex.compile(
    r"(?<![\w\[<])([A-Za-z][A-Za-z0-9]{0,6}) ?: ?(?:[0-9a-f]{4}:)?([0-9a-f]{8,16})(?![\w>\]])"
)
_REG_LINE_RE = _regex.compile(
    r"^\s*(?:R[A-Z0-9]{1,2}|E[A-Z]{2}|[RE]SP|[RE]IP|EFLAGS|x\d{1,2}|sp|lr|pc|pstate|r\d{1,2}|ip|fp|GPR\d\d|"
    r"NIP|MSR|CTR|LNK|LR|CR[0-4]|XER|DS|ES|FS|GS|CS|SS)\s?:"
)
# x86 headers that name the faulting address: "BUG: kernel NULL pointer dereference, address:
# 0000000000000020" and "BUG: unable to handle page fault for address: ..." (4.19+), "... at
# 0000000000000020" / "paging request at ..." (older), "general protection fault, probably for
# non-canonical address 0xdead000000000100" (5.4+).  The register dump's CR2 is not used: a failed
# read of the Code: bytes faults again and overwrites it (seen on 6.1), and a GPF sets no CR2.
_FAULT_ADDRESS_RE = _regex.compile(
    r"(?:NULL pointer dereference|unable to handle page fault for|paging request)(?:,)? (?:address:|at) "
    r"(?:0x)?([0-9a-f]{8,16})\b|non-canonical address (0x[0-9a-f]{1,16})\b")
_CODE_LINE_RE = _regex.compile(r"^\s*Code: (.*)$")
_MAX_REGISTERS = 64
_MAX_MODULES = 1024


@dataclass(slots=True)
class Facts:
    """What a report's lines say of the machine and the task: read_facts fills it."""

    process: Process | None = None
    cpu: int | None = None
    taint: Taint | None = None
    release: str | None = None
    version: str | None = None
    hardware: str | None = None
    bios: str | None = None
    arch: str | None = None
    modules: tuple[str, ...] = ()
    registers: dict[str, int] = field(default_factory=dict)
    code: str | None = None
    fault_address: int | None = None


def read_facts(lines: list[str]) -> Facts:
    f = Facts()
    comm: str | None = None
    pid: int | None = None
    mods_done = False
    regs_done = False
    code_seen = False
    for text in lines:
        if ":" not in text:
            # Most of a report's lines (frames without a source location): of the tests below, only
            # these three can hold for a line without a colon.
            if (f.fault_address is None and ("address" in text or "paging request" in text)
                    and (ma := _FAULT_ADDRESS_RE.search(text))):
                f.fault_address = int(ma.group(1) or ma.group(2), 16)
            if f.taint is None and "Not tainted" in text:
                f.taint = parse_taint(text)
            if f.registers and not regs_done and text.strip() and not text.startswith(" "):
                regs_done = len(f.registers) >= 8
            continue
        if not code_seen and "Code: " in text and (mc := _CODE_LINE_RE.match(text)):
            code_seen = True  # the first is the kernel's; a later one is the user-mode registers'
            f.code = mc.group(1).strip()[:400] if "<" in mc.group(1) else None
        elif (f.fault_address is None and ("address" in text or "paging request" in text)
              and (ma := _FAULT_ADDRESS_RE.search(text))):
            f.fault_address = int(ma.group(1) or ma.group(2), 16)
        if f.release is None and ("PID: " in text or "Pid: " in text):
            m = _TASK_RE.search(text) or _TASK_OLD_RE.search(text)
            if m:
                d = m.groupdict()
                if d.get("cpu") is not None:
                    f.cpu = int(d["cpu"])
                pid, comm = int(d["pid"]), d["comm"]
                f.taint = parse_taint(d["taint"]) or f.taint
                f.release = d["release"]
                f.version = d.get("version")
                if d.get("hw"):
                    f.hardware = d["hw"].strip()
                continue
            m = _TASK_SHORT_RE.search(text)
            if m and comm is None:
                f.cpu, pid, comm = int(m.group("cpu")), int(m.group("pid")), m.group("comm")
        if f.release is None and "EFLAGS:" in text:
            m = _EFLAGS_RELEASE_RE.match(text)
            if m:
                f.release, f.version = m.group("release"), m.group("version")
        if "Tainted: [" in text and text.lstrip().startswith("Tainted: ["):
            f.taint = parse_taint(text) or f.taint
            continue
        if f.taint is None and ("Tainted: " in text or "Not tainted" in text):
            # lockdep headers: "3.6.0-rc1-wl+ #296 Tainted: G        W"
            f.taint = parse_taint(text)
        if comm is None:
            # Each search behind the literal it needs: most lines of a report hold none of them.
            m = _WARN_RE.search(text) if "WARNING: CPU: " in text else None
            if m:
                f.cpu, pid = int(m.group("cpu")), int(m.group("pid"))
            m2 = (_HUNG_RE.search(text) if "INFO: task " in text else None) or (
                _PROCESS_RE.search(text) if text.startswith("Process ") else None
            )
            if m2:
                comm, pid = m2.group("comm"), int(m2.group("pid"))
        if f.hardware is None and "Hardware name:" in text:
            m = _HARDWARE_RE.search(text)
            if m:
                f.hardware = m.group("hw").strip() or None
                f.bios = m.group("bios")
            continue
        if not mods_done and "Modules linked in:" in text:
            m = _MODULES_RE.search(text)
            if m:
                f.modules = parse_modules(m.group("mods"))
                mods_done = True
            continue
        if not regs_done and ":" in text and _REG_LINE_RE.match(text):
            for name, value in _REG_RE.findall(text):
                if name not in f.registers:
                    f.registers[name] = int(value, 16)
                if len(f.registers) >= _MAX_REGISTERS:
                    regs_done = True
                    break
        elif f.registers and not regs_done and text.strip() and not text.startswith(" "):
            regs_done = len(f.registers) >= 8
    if comm is not None or pid is not None:
        f.process = Process(comm, pid)
    f.arch = detect_arch(lines, f.release)
    return f

_MODULE_NOTES_RE = _regex.compile(r"\[last unloaded: [^\]]*\]|\[permanent\]")
_MODULE_NAME_RE = _regex.compile(r"[\w\-]+")


def parse_modules(text: str) -> tuple[str, ...]:
    """Module names of ``Modules linked in: a(O) b(PE) c [last unloaded: d]`` (flags dropped)."""
    text = _MODULE_NOTES_RE.sub(" ", text)
    names = []
    for tok in text.split():
        name = tok.split("(", 1)[0]
        if _MODULE_NAME_RE.fullmatch(name):
            names.append(name)
        if len(names) >= _MAX_MODULES:
            break
    return tuple(names)


def banner(line: str) -> tuple[str, str] | None:
    """Release and version from the banner.

    ``Linux version 6.1.0-56-cloud-amd64 (debian-kernel@...) (gcc ...) #1 SMP ...``
    """
    m = _BANNER_RE.search(line)
    if m is None:
        return None
    rest = m.group("rest")
    i = rest.find(" #")
    version = rest[i + 1 :].strip() if i >= 0 else None
    return m.group("release"), version or ""


_ARCH_BY_RELEASE = (
    ("x86_64", "x86_64"),
    ("amd64", "x86_64"),
    ("aarch64", "arm64"),
    ("arm64", "arm64"),
    ("ppc64le", "ppc64le"),
    ("s390x", "s390x"),
    ("i686", "i686"),
    ("686", "i686"),
)


_ARCH_MARKS = {
    "RIP: ": "x86_64", "RSP: ": "x86_64", "RAX: ": "x86_64", "EIP: ": "i686", "EAX: ": "i686",
    "EIP is at": "i686", "pc : ": "arm64", "x29: ": "arm64", "pstate: ": "arm64", "Krnl PSW": "s390x",
    "NIP:": "ppc64", "NIP [": "ppc64", "PC is at ": "arm", "r10:": "arm",
}
_ARCH_RE = _regex.compile(r"^\s*(" + "|".join(re.escape(k) for k in _ARCH_MARKS) + ")", re.M)
_PPC_LE_RE = _regex.compile(r"^\s*MSR:.*<[^>]*\bLE>", re.M)


def detect_arch(lines: list[str], release: str | None) -> str | None:
    """The architecture, from register names first (they cannot lie), else from the release suffix."""
    text = "\n".join(lines)
    m = _ARCH_RE.search(text)
    if m is not None:
        arch = _ARCH_MARKS[m.group(1)]
        if arch == "ppc64" and _PPC_LE_RE.search(text):
            return "ppc64le"
        return arch
    if release:
        for suffix, arch in _ARCH_BY_RELEASE:
            if suffix in release:
                return arch
    return None
