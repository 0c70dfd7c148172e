"""The faulting instruction: an oops's ``Code:`` bytes decoded, its memory operand, and what an
address is (NULL plus an offset, a poison pattern, non-canonical).

Pure: bytes and register values in, typed records out.  Decoding uses capstone (the ``analyze``
extra); without it :func:`decode` returns None and the callers say the instruction is unknown.
x86 only (x86_64 and i386), which is what the lab and the fleets run.

The ``Code:`` line (arch/x86/kernel/dumpstack.c ``show_opcodes``) prints the 42 bytes before RIP
and 22 from it, the byte at RIP in ``<..>``; when the bytes before RIP cannot be read the kernel
says ``Code: Unable to access opcode bytes at 0x...`` and there is nothing to decode.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Access = Literal["read", "write", "read-write"]
Arch = Literal["x86_64", "i386"]

_CODE_RE = re.compile(r"Code:\s+((?:[(<]?[0-9a-f]{2}[)>]?\s+){7,}[(<]?[0-9a-f]{2}[)>]?)$")
_BYTE_RE = re.compile(r"([(<]?)([0-9a-f]{2})[)>]?")
MAX_INSN = 15  # the longest x86 instruction

# include/linux/poison.h with CONFIG_ILLEGAL_POINTER_VALUE=0xdead000000000000 (x86_64).
POISON_DELTA = 0xDEAD000000000000
NAMED_POINTERS: tuple[tuple[int, str], ...] = (
    (POISON_DELTA + 0x100, "LIST_POISON1"),  # list_del()'s entry->next
    (POISON_DELTA + 0x122, "LIST_POISON2"),  # list_del()'s entry->prev
    (POISON_DELTA + 0x400, "TIMER_ENTRY_STATIC"),
)
# Bytes a freed or fresh object is filled with (include/linux/poison.h).
POISON_BYTES = {0x6B: "POISON_FREE (SLUB: the object was freed)",
                0x5A: "POISON_INUSE (SLUB: allocated, never written)",
                0xA5: "POISON_END", 0xBB: "SLUB_RED_INACTIVE", 0xCC: "SLUB_RED_ACTIVE"}
KASAN_SHADOW_OFFSET = 0xDFFFFC0000000000  # x86_64 generic KASAN (arch/x86/Kconfig)
NULL_LIMIT = 0x10000  # the default mmap_min_addr: nothing is ever mapped below it
MAX_ERRNO = 4095
NEAR = 0x100  # how far past a named pointer a member access may land


@dataclass(frozen=True, slots=True)
class CodeBytes:
    """The bytes of a ``Code:`` line; ``fault`` is the index of the byte at RIP (the ``<..>`` one)."""

    data: bytes
    fault: int

    def at_rip(self) -> bytes:
        return self.data[self.fault:]


@dataclass(frozen=True, slots=True)
class MemOperand:
    """An x86 memory operand ``segment:disp(base, index, scale)``; ``size`` in bytes."""

    base: str | None
    index: str | None
    scale: int
    disp: int
    size: int
    segment: str | None = None

    def text(self) -> str:
        regs = ""
        if self.base or self.index:
            regs = "(" + (f"%{self.base}" if self.base else "")
            regs += (f",%{self.index},{self.scale}" if self.index else "") + ")"
        seg = f"%{self.segment}:" if self.segment else ""
        disp = f"{self.disp:#x}" if self.disp >= 0 else f"-{-self.disp:#x}"
        return f"{seg}{disp if self.disp or not regs else ''}{regs}"


@dataclass(frozen=True, slots=True)
class Insn:
    """One decoded instruction (AT&T syntax, as objdump and scripts/decodecode print it)."""

    address: int
    size: int
    mnemonic: str
    operands: str
    mem: MemOperand | None = None
    access: Access | None = None  # what the instruction does to ``mem``
    arch: Arch = "x86_64"

    def text(self) -> str:
        return f"{self.mnemonic} {self.operands}".strip()


def parse_code_line(line: str) -> CodeBytes | None:
    """The bytes of an oops's ``Code:`` line, or None (no bytes, not x86's two-digit bytes, or no
    ``<..>`` marking RIP)."""
    m = _CODE_RE.search(line.strip())
    if m is None:
        return None
    data, fault = bytearray(), -1
    for tok in m.group(1).split():
        b = _BYTE_RE.fullmatch(tok)
        if b is None:
            return None  # arm64's 8-digit words, or text
        if b.group(1) == "<":
            fault = len(data)
        data.append(int(b.group(2), 16))
    return CodeBytes(bytes(data), fault) if fault >= 0 else None


def decode(code: bytes, address: int = 0, arch: Arch = "x86_64") -> Insn | None:
    """The first instruction of ``code`` (at ``address``), or None: not decodable, or capstone absent."""
    try:
        import capstone  # noqa: PLC0415
        from capstone import x86 as cx86  # noqa: PLC0415
    except ImportError:
        return None
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64 if arch == "x86_64" else capstone.CS_MODE_32)
    md.detail = True
    md.syntax = capstone.CS_OPT_SYNTAX_ATT
    insn = next(md.disasm(code[:MAX_INSN], address), None)
    if insn is None:
        return None
    mem: MemOperand | None = None
    access: Access | None = None
    for op in insn.operands:
        if op.type != cx86.X86_OP_MEM or insn.mnemonic.startswith(("lea", "nop")):
            continue  # lea computes an address without touching it; a long nop names one
        m = op.mem
        mem = MemOperand(
            base=insn.reg_name(m.base) if m.base else None,
            index=insn.reg_name(m.index) if m.index else None,
            scale=int(m.scale), disp=int(m.disp), size=int(op.size),
            segment=insn.reg_name(m.segment) if m.segment else None)
        rd, wr = bool(op.access & capstone.CS_AC_READ), bool(op.access & capstone.CS_AC_WRITE)
        access = "read-write" if rd and wr else "write" if wr else "read"
        break
    return Insn(int(insn.address), int(insn.size), str(insn.mnemonic), str(insn.op_str), mem, access, arch)


# Sub-registers name the 64-bit register that holds them (a 32-bit address size is rare in the kernel).
_WIDE = {f"e{r}": f"r{r}" for r in ("ax", "bx", "cx", "dx", "si", "di", "bp", "sp", "ip")}
_WIDE.update({f"r{n}d": f"r{n}" for n in range(8, 16)})


def wide(reg: str) -> str:
    """The register a dump's register set names for ``reg`` (``eax`` -> ``rax``)."""
    r = reg.lower()
    return _WIDE.get(r, r)


def effective_address(insn: Insn, regs: Mapping[str, int]) -> int | None:
    """The address ``insn``'s memory operand names, with ``regs`` (lower-case names) the values at
    the fault; None without a memory operand or a register value.  A segment other than fs/gs (the
    per-CPU and TLS bases) adds nothing in 64-bit mode."""
    mem = insn.mem
    if mem is None:
        return None
    addr = mem.disp
    for reg, mult in ((mem.base, 1), (mem.index, mem.scale)):
        if reg is None:
            continue
        if wide(reg) == "rip":
            addr += insn.address + insn.size
            continue
        val = regs.get(wide(reg), regs.get(reg))  # i386's eax is itself
        if val is None:
            return None
        addr += val * mult
    if mem.segment in ("gs", "fs"):
        base = regs.get(f"{mem.segment}.base") or regs.get(f"{mem.segment}_base")
        if base is None:
            return None
        addr += base
    # Addresses wrap at the machine's width: i386's 0xfffffff4 + 0xc is 0.
    return addr & (0xFFFFFFFF if insn.arch == "i386" else 0xFFFFFFFFFFFFFFFF)


def canonical(addr: int) -> bool:
    """Whether ``addr`` is canonical under 4-level paging (bits 63..47 all equal)."""
    top = addr >> 47
    return top in (0, (1 << 17) - 1)


def describe_pointer(value: int) -> str | None:
    """What a pointer value is when it is not a valid pointer: NULL, a poison, an ERR_PTR, a
    repeated byte, a KASAN shadow address, non-canonical; None for an ordinary address."""
    value &= 0xFFFFFFFFFFFFFFFF
    if value == 0:
        return "NULL"
    # The named pointer at or just below: list_del()'s poisons plus a member offset.
    near = [(value - ptr, name, ptr) for ptr, name in NAMED_POINTERS if 0 <= value - ptr < NEAR]
    if near:
        off, name, ptr = min(near)
        return f"{name} ({ptr:#x})" + (f" + {off:#x}" if off else "")
    if value >= (1 << 64) - MAX_ERRNO:
        return f"ERR_PTR(-{(1 << 64) - value})"
    b = value & 0xFF
    if value == int.from_bytes(bytes([b]) * 8, "little"):
        what = POISON_BYTES.get(b)
        return f"the byte {b:#04x} repeated" + (f": {what}" if what else ": data written over a pointer")
    if KASAN_SHADOW_OFFSET <= value < KASAN_SHADOW_OFFSET + (1 << 45):
        return f"a KASAN shadow address (of {((value - KASAN_SHADOW_OFFSET) << 3) & ((1 << 64) - 1):#x})"
    if not canonical(value):
        return "non-canonical"
    return None


def describe_address(addr: int, disp: int = 0) -> str | None:
    """What a faulting address is: :func:`describe_pointer` of it, or of ``addr - disp`` (the base
    the instruction added ``disp`` to) written as ``NAME + disp``."""
    if 0 < addr < NULL_LIMIT:
        return f"NULL + {addr:#x}"
    own = describe_pointer(addr)
    if own not in (None, "non-canonical"):
        return own
    base = (addr - disp) & 0xFFFFFFFFFFFFFFFF
    if disp and (what := describe_pointer(base)) not in (None, "non-canonical"):
        return f"{what} + {disp:#x}"
    return own
