"""What each CPU was doing when an unknown NMI came: the function a report about an external NMI names.

An unknown NMI (``Uhhuh. NMI received for unknown reason 21 on CPU 0.``) is an outside poke: a
BMC's or hypervisor's NMI button pressed on a hung machine, a platform watchdog.  With
``unknown_nmi_panic`` and ``panic_print=0x40`` (Linux 6.0+, all CPU backtraces in panic()) the log
shows every CPU::

    [CPU 0, the panic's own dump]   RIP: 0010:smp_call_function_single+0xfa/0x130   (waits for CPU 1)
    NMI backtrace for cpu 1         RIP: 0010:crashmod_irqoff_spin+0x1a/0x20        (spins, IRQs off)
    NMI backtrace for cpu 1 skipped: idling at native_safe_halt+0xb/0x10             (an idle CPU)

A CPU running kernel code that is neither idle nor waiting for another CPU is the one the machine
hung on (a hard lockup seen through the NMI); a CPU waiting on another's IPI is next best (the log
lacks the other's stack); an NMI that found every CPU idle names no function: the two are
different bugs and must not share a bucket.  Each CPU's state is read from its outermost kernel
context, the last kernel RIP line of its dump (an NMI that landed in a timer interrupt shows the
interrupt's RIP first, then the task's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from crashhub import _regex
from crashhub.kernel import base_name, skipped
from crashhub.triage._frames import parse_frame, parse_rip, split_marker

_SECTION_RE = _regex.compile(r"NMI backtrace for cpu (\d+)(?: skipped: idling at)?")
# The idle loop's leaves by kernel era and machine: halt (native/pv_native_safe_halt, 6.12's
# pv_ prefix), mwait and ACPI idle drivers, AMD's E400 erratum loop, polling idle.
_IDLE_RE = _regex.compile(
    r"safe_halt|^default_idle|^arch_cpu_idle|mwait_idle|^intel_idle|^acpi_idle|^acpi_safe_halt|"
    r"^amd_e400_idle|^cpu_idle_poll|^poll_idle|^do_idle$|^cpu_startup_entry$"
)
# A CPU spinning here waits for another CPU to answer an IPI (csd_lock_wait is inlined on 6.x).
_WAITING_RE = _regex.compile(r"^smp_call_function|^csd_lock_wait|^on_each_cpu|^smp_call_on_cpu")

State = Literal["idle", "waiting", "busy"]


@dataclass(slots=True)
class _Cpu:
    idle_line: bool = False  # "NMI backtrace for cpu N skipped: idling at ..."
    rips: list[str] = field(default_factory=list)  # kernel RIP functions, innermost first
    frames: list[str] = field(default_factory=list)  # reliable frames after the last RIP

    def state(self) -> State | None:
        if self.idle_line:
            return "idle"
        if not self.rips:
            return None
        rip = base_name(self.rips[-1])
        if _IDLE_RE.search(rip):
            return "idle"
        return "waiting" if _WAITING_RE.search(rip) else "busy"

    def function(self) -> str | None:
        """The RIP's function, or (a lock primitive, say) the first frame under it not skipped."""
        for name in (self.rips[-1], *self.frames) if self.rips else ():
            if not skipped(base_name(name)):
                return name
        return None


def _cpus(lines: list[str]) -> list[_Cpu]:
    """The report's own CPU first, then one per "NMI backtrace for cpu N" section."""
    cpus = [_Cpu()]
    for text in lines:
        m = _SECTION_RE.search(text) if "NMI backtrace" in text else None
        if m is not None:
            cpus.append(_Cpu(idle_line="skipped: idling" in text))
            continue
        cpu = cpus[-1]
        rip = parse_rip(text)
        if rip is not None and rip.function:
            cpu.rips.append(rip.function)
            cpu.frames = []
            continue
        f = parse_frame(split_marker(text)[1])
        if f is not None and f.function and f.reliable and cpu.rips:
            cpu.frames.append(f.function)
    return cpus


def nmi_culprit(lines: list[str]) -> str | None:
    """The function the machine hung on, from the CPUs' dumps of an unknown-NMI report; None when
    every CPU was idle (or the report shows none)."""
    cpus = _cpus(lines)
    others, own = cpus[1:], cpus[0]
    for wanted in ("busy", "waiting"):
        # Another CPU's dump first: the NMI is delivered to one CPU (often CPU 0) whatever hung.
        for cpu in (*others, own):
            if cpu.state() == wanted and (name := cpu.function()):
                return name
    return None
