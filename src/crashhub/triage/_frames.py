"""Stack frames and the faulting-instruction line, for every architecture and kernel era.

Frame lines seen in real logs::

    x86_64 4.x+     " dump_stack+0x194/0x257"            "? vcpu_load+0x1c/0x70"   (? = not reliable)
    x86 2.6/3.10    " [<ffffffff8137dc4d>] ? sysrq_handle_crash+0x16/0x20"
    i686            " [<c10349b9>] warn_slowpath_common+0x79/0x90"
    modules         " crashmod_init+0x16/0x1000 [crashmod]"  (6.x may add a build id: "[mod abc123]")
    symbolized      " dump_stack+0x194/0x257 lib/dump_stack.c:53"
    Rust, C++       " _RNvNtCs9jEwPDbx20M_4core9panicking9panic_fmt+0x84/0x90" (kept demangled:
                    "core::panicking::panic_fmt", crashhub.kernel.demangle)
    arm64           " el0_svc+0x28/0x34"  /  old: " [<ffffff8008085c1c>] dump_backtrace+0x0/0x1d0"
    arm (old)       " [<c0014990>] (unwind_backtrace+0x0/0xf4) from [<c005ccb8>] (__lock_acquire+0x14f8/..)"
    arm (5.x+)      " unwind_backtrace from show_stack+0x10/0x14"
    ppc64           " [c0000000fffb3b60] [c0000000001e4f80] func+0x1c/0x30 (unreliable)"
    s390            " ([<000000000011a2b4>] func+0x3c/0x58)"
                    " [<000003ff801f0a3e>] func+0x3e/0x1000 [mod]"
"""

from __future__ import annotations

import functools

from crashhub import _regex
from crashhub.kernel import demangle
from crashhub.model import Frame

_MANGLED = ("_Z", "_R")  # demangle's prefixes, tested inline: every frame line comes through here

_ADDR = r"\[<?(?:0x)?(?P<addr>[0-9a-f]+)>?\]"
FRAME_RE = _regex.compile(
    r"^\s*\(?(?:" + _ADDR + r"\s*)?(?:\[<?(?:0x)?[0-9a-f]+>?\]\s*)?(?P<q>\?\s+)?\(?"
    r"(?P<func>[A-Za-z0-9_.$]+)\+0x(?P<off>[0-9a-f]+)/0x(?P<size>[0-9a-f]+)"
    r"(?:\s+\[(?P<mod>[\w\-]+)(?:\s+[0-9a-fA-FA-Z]+)?\])?\)?"
    r"(?:\s+(?P<file>[\w\-./+~@]+\.[a-zS]+):(?P<line>\d+))?"  # "+": Debian's linux-6.12.117+deb12/
    r"(?P<rest>.*)$"
)
# arm 5.x+: "callee from caller+0x10/0x14"
ARM_FROM_RE = _regex.compile(
    r"^\s*(?P<func>[A-Za-z0-9_.$]+) from (?P<caller>[A-Za-z0-9_.$]+)"
    r"\+0x(?P<off>[0-9a-f]+)/0x(?P<size>[0-9a-f]+)"
    r"(?:\s+\[(?P<mod>[\w\-]+)\])?"
)
# old arm: "[<c0014990>] (unwind_backtrace+0x0/0xf4) from [<c005ccb8>] (__lock_acquire+...)"
ARM_OLD_RE = _regex.compile(
    r"^\s*\[<(?P<addr>[0-9a-f]+)>\] \((?P<func>[A-Za-z0-9_.$]+)\+0x(?P<off>[0-9a-f]+)/0x(?P<size>[0-9a-f]+)"
    r"(?:\s+\[(?P<mod>[\w\-]+)\])?\) from "
)
# old arm, callee without offset:
# "[<c0014318>] (dump_backtrace_log_lvl) from [<c001457c>] (show_stack+0x24/0x2c)"
_ARM_OLD_BARE_RE = _regex.compile(r"^\s*\[<(?P<addr>[0-9a-f]+)>\] \((?P<func>[A-Za-z0-9_.$]+)\) from ")
# arm "func from caller" without offsets (a stripped or hand-made trace).
_ARM_BARE_PAIR_RE = _regex.compile(r"^\s*([A-Za-z0-9_.$]+) from ([A-Za-z0-9_.$]+)\s*$")
# A bare address the unwinder could not name: " [<ffffffffa0001234>] 0xffffffffa0001234".
BARE_RE = _regex.compile(r"^\s*(?:\[<(?P<addr>[0-9a-f]+)>\]\s*)?(?P<q>\?\s+)?0x(?P<addr2>[0-9a-f]{8,16})\s*$")

# The faulting-instruction line, newest formats first.
RIP_LINE_RE = _regex.compile(
    r"^\s*(?:(?:R|E)IP|NIP|pc|PC|Krnl PSW)\s*(?:is at|:)?\s*"
    r"(?:[0-9a-f]{4}:)?(?:\[<?[0-9a-f]+>?\]\s*){0,2}(?:[0-9a-f]{16} [0-9a-f]{16} \()?"
    r"(?P<func>[A-Za-z0-9_.$]+)\+0x(?P<off>[0-9a-f]+)/0x(?P<size>[0-9a-f]+)(?:\s+\[(?P<mod>[\w\-]+)[^\]]*\])?"
)
# Section markers that change where the following frames ran (x86 since 4.9, <TASK> since 5.16).
CONTEXT_MARKERS = {
    "<IRQ>": "irq",
    "</IRQ>": "task",
    "<NMI>": "nmi",
    "</NMI>": "task",
    "<EOI>": "task",
    "<TASK>": "task",
    "</TASK>": "task",
    "<SOFTIRQ>": "softirq",
    "</SOFTIRQ>": "task",
    "<<EOE>>": "task",
    "<EOE>": "task",
}


_MARKER_PREFIX_RE = _regex.compile(r"^\s*(<<?[A-Z]+>>?)\s+(\S.*)$")


def split_marker(text: str) -> tuple[str | None, str]:
    """``" <IRQ>  [<ffffffff81656735>] dump_stack+0x19/0x1b"`` (3.x) -> ("irq", the frame text)."""
    m = _MARKER_PREFIX_RE.match(text) if "<" in text else None  # a marker's "<": most lines hold none
    if m is None or m.group(1) not in CONTEXT_MARKERS:
        return None, text
    return CONTEXT_MARKERS[m.group(1)], " " + m.group(2)


@functools.lru_cache(maxsize=8192)
def parse_frame(text: str, context: str = "task") -> Frame | None:
    """A frame from one line, or None.  Unreliable: x86 ``? func``, ppc ``(unreliable)``.

    Cached: the same lines come back in every pass over a report and in repeated reports.
    """
    if "+0x" in text:
        m = ARM_OLD_RE.match(text) if "[<" in text else None
        if m:
            return Frame(
                demangle(m.group("func")),
                int(m.group("off"), 16),
                int(m.group("size"), 16),
                m.group("mod"),
                int(m.group("addr"), 16),
                True,
                context,
            )
        m = FRAME_RE.match(text)
        if m:
            addr, q, func, off, size, mod, file, line, rest = m.groups()
            if not rest.startswith(" from ") and (rest.startswith(":") or "=" in rest):
                return None  # "func+0x1/0x2: ..." is a lockdep/KASAN description, not a frame
            # ppc64 ELFv1 names code entry points ".func"; the function is "func".
            func = func.lstrip(".") or func
            # Arguments by position: a frozen dataclass's keyword call costs half as much again.
            return Frame(
                demangle(func) if func[:2] in _MANGLED else func,
                int(off, 16),
                int(size, 16),
                mod,
                int(addr, 16) if addr else None,
                q is None and "(unreliable)" not in rest,
                context,
                file,
                int(line) if line else None,
            )
        m = ARM_FROM_RE.match(text)
        if m:
            return Frame(demangle(m.group("func")), None, None, None, None, True, context)
    if " from " in text:
        m = _ARM_OLD_BARE_RE.match(text)
        if m:
            return Frame(m.group("func"), None, None, None, int(m.group("addr"), 16), True, context)
        m = _ARM_BARE_PAIR_RE.match(text)
        if m:
            return Frame(m.group(1), None, None, None, None, True, context)
    m = BARE_RE.match(text) if "0x" in text else None
    if m:
        return Frame(None, None, None, None, int(m.group("addr2"), 16), m.group("q") is None, context)
    return None


_RIP_NAMES = ("RIP", "EIP", "NIP", "pc", "PC", "Krnl PSW")  # RIP_LINE_RE's first words


def parse_rip(text: str) -> Frame | None:
    """The faulting function from a RIP/IP/EIP/NIP/pc/PSW line, or None (user space, no symbol)."""
    # Its regexp needs "func+0x" after a register name that starts the line: most lines fail one.
    m = RIP_LINE_RE.match(text) if "+0x" in text and text.lstrip().startswith(_RIP_NAMES) else None
    if m is None:
        return None
    return Frame(
        demangle(m.group("func")),
        int(m.group("off"), 16),
        int(m.group("size"), 16),
        m.group("mod"),
        None,
        True,
        "exception",
    )
