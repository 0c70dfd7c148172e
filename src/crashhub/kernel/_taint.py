"""The kernel's taint flags: letter, bit, name and meaning, in the kernel's own order.

Source: ``taint_flags[]`` in kernel/panic.c (the ``TAINT_FLAG(NAME, 'c_true', 'c_false', module)``
table) and Documentation/admin-guide/tainted-kernels.rst for the meanings.  The bit is the index in
that table.  ``N`` (TEST) came in 5.19 and ``J`` (FWCTL) in 6.15; the ``Tainted: [P]=NAME`` line that
spells out the names came in 6.12 (commit 8eea4e744750).  ``G`` is ``P``'s "false" letter (only GPL
modules), never a flag of its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TaintFlag:
    """One taint flag.  ``meaning`` is the documentation's sentence, ``short`` a label for findings."""

    letter: str
    bit: int
    name: str  # the TAINT_* name without the prefix, as 6.12+ prints it: PROPRIETARY_MODULE
    meaning: str
    short: str

    def to_dict(self) -> dict[str, object]:
        return {"letter": self.letter, "bit": self.bit, "name": self.name, "meaning": self.meaning,
                "short": self.short}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> TaintFlag:
        return cls(str(d["letter"]), int(str(d["bit"])), str(d["name"]), str(d["meaning"]), str(d["short"]))


def _flags(*rows: tuple[str, str, str, str]) -> tuple[TaintFlag, ...]:
    return tuple(TaintFlag(letter, bit, *row) for bit, (letter, *row) in enumerate(rows))


TAINT_FLAGS: tuple[TaintFlag, ...] = _flags(
    ("P", "PROPRIETARY_MODULE", "proprietary module was loaded", "proprietary module loaded"),
    ("F", "FORCED_MODULE", "module was force loaded", "module force-loaded"),
    ("S", "CPU_OUT_OF_SPEC", "kernel running on an out of specification system",
     "SMP with CPUs not designed for it"),
    ("R", "FORCED_RMMOD", "module was force unloaded", "module force-unloaded"),
    ("M", "MACHINE_CHECK", "processor reported a Machine Check Exception (MCE)", "machine check"),
    ("B", "BAD_PAGE", "bad page referenced or some unexpected page flags", "bad page referenced"),
    ("U", "USER", "taint requested by userspace application", "user request"),
    ("D", "DIE", "kernel died recently, i.e. there was an OOPS or BUG", "kernel died recently (OOPS or BUG)"),
    ("A", "OVERRIDDEN_ACPI_TABLE", "ACPI table overridden by user", "ACPI table overridden"),
    ("W", "WARN", "kernel issued warning", "warning issued"),
    ("C", "CRAP", "staging driver was loaded", "staging driver loaded"),
    ("I", "FIRMWARE_WORKAROUND", "workaround for bug in platform firmware applied", "firmware workaround"),
    ("O", "OOT_MODULE", "externally-built (out-of-tree) module was loaded", "out-of-tree module loaded"),
    ("E", "UNSIGNED_MODULE", "unsigned module was loaded", "unsigned module loaded"),
    ("L", "SOFTLOCKUP", "soft lockup occurred", "soft lockup occurred"),
    ("K", "LIVEPATCH", "kernel has been live patched", "kernel live patched"),
    ("X", "AUX", "auxiliary taint, defined for and used by distros", "auxiliary taint"),
    ("T", "RANDSTRUCT", "kernel was built with the struct randomization plugin",
     "built with struct randomization"),
    ("N", "TEST", "an in-kernel test has been run", "in-kernel test module"),
    ("J", "FWCTL", "userspace used a mutating debug operation in fwctl", "fwctl mutating debug operation"),
)
TAINT: dict[str, TaintFlag] = {f.letter: f for f in TAINT_FLAGS}
TAINT_LETTERS = "".join(f.letter for f in TAINT_FLAGS)

