"""Diagnoses of a bad access from the drgn ``fault`` section and triage's report of the oops.

Pure.  :func:`parse_fault` turns the section's JSON into frozen records; :func:`check_fault` gives
the findings: the faulting instruction with the variable and struct member it went through
(``bad-access``), a slab freelist overwritten after free (``use-after-free``), a list entry
deleted twice or with broken neighbours (``list-corruption``), and the panic CPU's context
(``panic-context``).  The instruction comes from the dump's bytes at the crashed pc with the
dump's registers; without a dump section, from the oops's ``Code:`` line and register dump.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crashhub.analyze import _insn
from crashhub.analyze._model import Analysis, Culprit, Finding, StackFrame
from crashhub.kernel import base_name
from crashhub.model import CrashReport

BAD_ACCESS_KINDS = ("null_deref", "paging_request", "gpf")
# Frames that only report or carry out the access the culprit asked for: the slab allocator, the
# list debug checks, the page allocator's checks, the panic path.
HELPER_FILES = ("mm/", "include/linux/slab.h", "include/linux/list.h", "lib/list_debug.c",
                "include/linux/mm.h", "include/linux/gfp.h", "kernel/panic.c", "lib/dump_stack.c",
                "kernel/kexec", "kernel/crash", "include/linux/kexec.h", "arch/x86/include/asm/kexec.h",
                "arch/x86/kernel/crash.c")
HELPER_FUNCS = ("kmalloc", "kfree", "__kmalloc", "kmem_cache_", "__kmem_cache", "slab_", "__slab",
                "list_del", "__list_del", "__list_add", "list_add", "bad_page", "free_pages", "__free_pages",
                "free_unref", "add_taint", "panic", "dump_stack", "__free_one_page", "free_pcppages",
                "crash_setup_regs", "__crash_kexec", "crash_kexec", "free_page_is_bad", "free_the_page",
                "check_free_page", "free_tail_page")
MEANING = {"LIST_POISON1": "the entry was already taken off its list by list_del()",
           "LIST_POISON2": "the entry was already taken off its list by list_del()",
           "POISON_FREE": "the object was freed (SLUB poisoning)"}


def _i(v: Any) -> int | None:
    return int(v) if isinstance(v, int) and not isinstance(v, bool) else None


def _s(v: Any) -> str | None:
    return None if v is None else str(v)


@dataclass(frozen=True, slots=True)
class SlabObject:
    cache: str
    object: int
    object_size: int | None
    allocated: bool | None
    offset: int | None

    @classmethod
    def parse(cls, d: Any) -> SlabObject | None:
        if not isinstance(d, dict) or not d.get("cache") or _i(d.get("object")) is None:
            return None
        alloc = d.get("allocated")
        return cls(str(d["cache"]), int(d["object"]), _i(d.get("object_size")),
                   alloc if isinstance(alloc, bool) else None, _i(d.get("offset")))

    def text(self) -> str:
        state = {True: "allocated", False: "free", None: "allocation state unreadable"}[self.allocated]
        size = f"{self.object_size} bytes, " if self.object_size else ""
        return f"{self.cache} object {self.object:#x} ({size}{state})"


@dataclass(frozen=True, slots=True)
class PointerVar:
    """A pointer local of the crashed function; ``layout`` its pointee's members as
    ``(offset, size, "a.b")``, nested members flattened."""

    frame: int
    function: str | None
    name: str
    points_to: str
    value: int
    size: int | None
    layout: tuple[tuple[int, int, str], ...]
    slab: SlabObject | None

    @classmethod
    def parse(cls, d: Any) -> PointerVar | None:
        if not isinstance(d, dict) or _i(d.get("value")) is None or not d.get("name"):
            return None
        layout = tuple((int(m[0]), int(m[1]), str(m[2])) for m in d.get("layout") or ()
                       if isinstance(m, list) and len(m) == 3 and _i(m[0]) is not None
                       and _i(m[1]) is not None)
        return cls(_i(d.get("frame")) or 0, _s(d.get("function")), str(d["name"]),
                   str(d.get("points_to") or "?"), int(d["value"]), _i(d.get("size")), layout,
                   SlabObject.parse(d.get("slab")))

    def covers(self, addr: int) -> bool:
        return self.size is not None and 0 <= addr - self.value < max(self.size, 1)

    def member_at(self, off: int) -> str | None:
        """The most nested member covering byte ``off`` of the pointee."""
        hits = [m for m in self.layout if m[0] <= off < m[0] + max(m[1], 1)]
        return max(hits, key=lambda m: (m[2].count("."), -m[1]))[2] if hits else None


@dataclass(frozen=True, slots=True)
class Hit:
    """The pointer local an access went through and the member it touched."""

    var: PointerVar
    offset: int
    member: str | None
    is_base: bool


@dataclass(frozen=True, slots=True)
class ListHead:
    function: str | None
    name: str
    address: int
    next: int | None
    prev: int | None
    next_prev: int | None  # entry->next->prev: the entry itself when the list is sound
    prev_next: int | None
    slab: SlabObject | None

    @classmethod
    def parse(cls, d: Any) -> ListHead | None:
        if not isinstance(d, dict) or _i(d.get("address")) is None:
            return None
        return cls(_s(d.get("function")), str(d.get("name") or "?"), int(d["address"]), _i(d.get("next")),
                   _i(d.get("prev")), _i(d.get("next_prev")), _i(d.get("prev_next")),
                   SlabObject.parse(d.get("slab")))


@dataclass(frozen=True, slots=True)
class Overwritten:
    """The object whose hardened free pointer decodes to the bad freelist head."""

    object: int
    stored: int
    what: str
    slab: SlabObject | None


@dataclass(frozen=True, slots=True)
class KmemCache:
    name: str
    address: int
    object_size: int | None
    freeptr_offset: int | None
    cpu_freelist: int | None
    hardened: bool
    overwritten: Overwritten | None

    @classmethod
    def parse(cls, d: Any) -> KmemCache | None:
        if not isinstance(d, dict) or not d.get("name") or _i(d.get("address")) is None:
            return None
        ow = d.get("overwritten")
        over = None
        if isinstance(ow, dict) and _i(ow.get("object")) is not None and _i(ow.get("stored")) is not None:
            over = Overwritten(int(ow["object"]), int(ow["stored"]), str(ow.get("what") or ""),
                               SlabObject.parse(ow.get("slab")))
        return cls(str(d["name"]), int(d["address"]), _i(d.get("object_size")), _i(d.get("freeptr_offset")),
                   _i(d.get("cpu_freelist")), bool(d.get("hardened")), over)


@dataclass(frozen=True, slots=True)
class Context:
    preempt_count: int | None
    lockdep: bool | None
    held_locks: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FaultProbe:
    """The drgn ``fault`` section, typed."""

    pid: int | None
    cpu: int | None
    comm: str | None
    pc: int | None
    function: str | None
    symbol: str | None  # the ELF symbol at pc: the function frame 0 is inlined in, if it is
    module: str | None
    regs: dict[str, int]
    code: bytes | None
    pointers: tuple[PointerVar, ...]
    list_heads: tuple[ListHead, ...]
    reg_slabs: dict[str, SlabObject]
    kmem_cache: KmemCache | None
    context: Context


def parse_fault(raw: Any) -> FaultProbe | None:
    """The ``fault`` section as a :class:`FaultProbe`; None when the engine gave none."""
    if not isinstance(raw, dict):
        return None
    code = None
    if isinstance(raw.get("code"), str):
        try:
            code = bytes.fromhex(raw["code"])
        except ValueError:
            code = None
    ctx: dict[str, Any] = raw["context"] if isinstance(raw.get("context"), dict) else {}
    lockdep = ctx.get("lockdep")
    return FaultProbe(
        pid=_i(raw.get("pid")), cpu=_i(raw.get("cpu")), comm=_s(raw.get("comm")), pc=_i(raw.get("pc")),
        function=_s(raw.get("function")), symbol=_s(raw.get("symbol")), module=_s(raw.get("module")),
        regs={str(k): int(v) for k, v in (raw.get("regs") or {}).items() if _i(v) is not None},
        code=code,
        pointers=tuple(p for p in map(PointerVar.parse, raw.get("pointers") or ()) if p),
        list_heads=tuple(h for h in map(ListHead.parse, raw.get("list_heads") or ()) if h),
        reg_slabs={str(k): o for k, v in (raw.get("reg_slabs") or {}).items() if (o := SlabObject.parse(v))},
        kmem_cache=KmemCache.parse(raw.get("kmem_cache")),
        context=Context(_i(ctx.get("preempt_count")), lockdep if isinstance(lockdep, bool) else None,
                        tuple(str(x) for x in ctx.get("held_locks") or ())[:48]))


def _unnamed(fn: str | None) -> bool:
    return fn is None or fn.startswith("0x")


def _helper(function: str, file: str | None) -> bool:
    """A frame of the helpers, by name or file (an inline of include/linux/slab.h in a module too)."""
    if file and any(file.startswith(h) or f"/{h}" in file for h in HELPER_FILES):
        return True
    return function.startswith(HELPER_FUNCS)


def caller_outside_helpers(stack: Sequence[StackFrame], report: CrashReport | None = None) -> str | None:
    """The first function of ``stack`` that is not the allocator, list, page or panic code: the
    code that asked for what went wrong.  When that frame has no name (a module without
    debuginfo stops the unwinder), the log's Call Trace names it."""
    for f in stack:
        if f.function is None or _unnamed(f.function):
            break
        if not _helper(f.function, f.file):
            return f.function
    frames = report.frames if report else ()
    return next((f.function for f in frames if f.reliable and f.function
                 and not _helper(f.function, f.file)), None)


def _named(value: int, disp: int | None = None) -> str:
    """``value`` with what it is; with ``disp``, as the address of an access (``NULL + 0x20``)."""
    what = _insn.describe_pointer(value) if disp is None else _insn.describe_address(value, disp)
    if what is None:
        return f"{value:#x}"
    for key, meaning in MEANING.items():
        if key in what:
            return f"{what}: {meaning}"
    return what if what.startswith(("NULL", "ERR_PTR")) else f"{value:#x}, {what}"


@dataclass(frozen=True, slots=True)
class Access:
    """What the faulting instruction did, decoded."""

    insn: _insn.Insn
    regs: dict[str, int]
    address: int | None
    source: str  # "dump" (bytes at pc, registers of the crashed frame) or "log" (Code: and registers)


def at_the_fault(probe: FaultProbe, report: CrashReport | None) -> bool:
    """Whether the dump's crashed frame is where the oops faulted.  An oops goes to kdump with the
    fault's registers (oops_end -> crash_kexec(regs)); an oops that then panics ("Fatal exception
    in interrupt") goes with panic()'s, and the bytes at that pc are not the faulting instruction."""
    rip = report.rip.function if report and report.rip else None
    if not rip or not probe.symbol:
        return True  # nothing to tell them apart: a module without symbols, a log without RIP
    return base_name(probe.symbol) == base_name(rip)


def _access(probe: FaultProbe | None, report: CrashReport | None) -> Access | None:
    if probe is not None and probe.code and probe.pc is not None and at_the_fault(probe, report):
        insn = _insn.decode(probe.code, probe.pc)
        if insn is not None:
            return Access(insn, probe.regs, _insn.effective_address(insn, probe.regs), "dump")
    if report is not None and report.code and (report.arch or "x86_64") in ("x86_64", "i686"):
        cb = _insn.parse_code_line(f"Code: {report.code}")
        insn = _insn.decode(cb.at_rip(), 0, "i386" if report.arch == "i686" else "x86_64") if cb else None
        if insn is not None:
            regs = {k.lower(): v for k, v in report.registers.items()}
            # The log gives RIP as function+offset, not an address: a RIP-relative operand has none.
            rel = insn.mem is not None and _insn.wide(insn.mem.base or "") == "rip"
            return Access(insn, regs, None if rel else _insn.effective_address(insn, regs), "log")
    return None


def _variable(probe: FaultProbe | None, acc: Access) -> Hit | None:
    """The pointer local the access went through: the one holding the base register, else the one
    whose pointee covers the address (the compiler may have folded the offset into the register)."""
    ea, mem = acc.address, acc.insn.mem
    if probe is None or ea is None or mem is None:
        return None
    base = acc.regs.get(_insn.wide(mem.base)) if mem.base else None
    hits = [p for p in probe.pointers if p.covers(ea)]
    var = next((p for p in hits if p.value == base), None) or next(iter(hits), None)
    if var is None:
        return None
    return Hit(var, ea - var.value, var.member_at(ea - var.value), var.value == base)


def _expr(acc: Access, hit: Hit | None) -> str:
    if hit is not None and hit.member:
        return f"{hit.var.name}->{hit.member}"
    if hit is not None:
        return f"*({hit.var.name} + {hit.offset:#x})"
    mem = acc.insn.mem
    return f"memory at {mem.text()}" if mem else "memory"


def _kind_label(report: CrashReport | None, ea: int | None) -> str:
    kind = report.kind if report else None
    if (ea is not None and ea < _insn.NULL_LIMIT) or kind == "null_deref":
        return "NULL dereference"
    if kind == "gpf" or (ea is not None and not _insn.canonical(ea)):
        return "general protection fault"
    return "bad memory access"


def _function(probe: FaultProbe | None, report: CrashReport | None, stack: Sequence[StackFrame]
              ) -> str | None:
    own = probe.function if probe and at_the_fault(probe, report) else None
    for fn in (own, stack[0].function if stack else None,
               report.rip.function if report and report.rip else None):
        if not _unnamed(fn):
            return fn
    return None


def _where(acc: Access, hit: Hit | None, report: CrashReport | None) -> str:
    """``RAX = 0; CR2 = 0x20 = offsetof(struct crashmod_obj, refcount)``: the register and the address."""
    mem, ea = acc.insn.mem, acc.address
    facts = []
    if mem is not None and mem.base:
        facts.append(f"{_insn.wide(mem.base).upper()} = {_hex(acc.regs.get(_insn.wide(mem.base), 0))}")
    if ea is None:
        return "; ".join(facts)
    fault_addr = report.fault_address if report else None
    label = "CR2" if report and report.kind in ("null_deref", "paging_request") else "address"
    where = f"{label} = {ea:#x}" if fault_addr in (None, ea) else f"address {ea:#x}"
    if fault_addr is not None and fault_addr != ea and _spans(acc, fault_addr):
        where = f"{label} = {fault_addr:#x}, inside the access at {ea:#x}"
    if hit is not None and hit.member:
        moff = _member_offset(hit)
        off = f"offsetof({hit.var.points_to}, {hit.member})"
        off += f" + {hit.offset - moff:#x}" if hit.offset != moff else ""
        where += f" = {off}" if hit.var.value == 0 else f" = {hit.var.name} + {off}"
    facts.append(where)
    return "; ".join(facts)


def _spans(acc: Access, addr: int) -> bool:
    """Whether the access covers ``addr`` (a 16-byte load crossing into an unmapped page faults
    at the page, past the address it names)."""
    mem, ea = acc.insn.mem, acc.address
    return mem is not None and ea is not None and ea <= addr < ea + max(mem.size, 1)


def _member_offset(hit: Hit) -> int:
    return next((m[0] for m in hit.var.layout if m[2] == hit.member), hit.offset)


def _hex(v: int) -> str:
    return "0" if v == 0 else f"{v:#x}"


def _evidence(acc: Access, hit: Hit | None, probe: FaultProbe | None, report: CrashReport | None,
              fn: str) -> list[str]:
    mem, ea = acc.insn.mem, acc.address
    assert mem is not None
    pc = f" ({probe.pc:#x})" if probe and probe.pc is not None and acc.source == "dump" else ""
    ev = [f"instruction at {fn}{pc}: {acc.insn.text()} ({acc.insn.access or '?'} of {mem.size} bytes at "
          f"{mem.text()}; bytes and registers from the {acc.source})"]
    if ea is not None and (what := _insn.describe_address(ea, mem.disp)):
        ev.append(f"address {ea:#x}: {what}")
    if hit is not None:
        v = hit.var
        ev.append(f"local {v.name} of {v.function} ({v.points_to} *) = {v.value:#x}"
                  + (", held in the base register" if hit.is_base else "") + f"; sizeof = {v.size}")
        if v.slab:
            ev.append(f"{v.name} points into {v.slab.text()}")
    elif acc.source == "dump":
        ev.append("no local of the crashed function holds the pointer (no debuginfo for its module, "
                  "or optimized out): register and offset only")
    base = _insn.wide(mem.base) if mem.base else None
    if probe and base and acc.source == "dump" and (sl := probe.reg_slabs.get(base)):
        ev.append(f"{base.upper()} points into {sl.text()}")
    fault_addr = report.fault_address if report else None
    if fault_addr is not None and ea is not None and fault_addr != ea:
        ev.append(f"the access of {mem.size} bytes at {ea:#x} crosses into the fault address {fault_addr:#x} "
                  "(the next page)" if _spans(acc, fault_addr)
                  else f"the log's fault address {fault_addr:#x} differs from the decoded {ea:#x}")
    return ev


def bad_access(a: Analysis, probe: FaultProbe | None, report: CrashReport | None) -> Finding | None:
    """The faulting instruction named: who accessed what, through which variable and member."""
    acc = _access(probe, report)
    if acc is None or acc.insn.mem is None:
        return None
    ea = acc.address
    fn = _function(probe, report, a.stack) or "?"
    hit = _variable(probe, acc) if acc.source == "dump" else None
    verb = {"write": "wrote", "read": "read", "read-write": "updated"}.get(acc.insn.access or "", "accessed")
    claim = f"{_kind_label(report, ea)}: {fn}() {verb} "
    if hit is not None:
        claim += f"{_expr(acc, hit)} with {hit.var.name} == {_named(hit.var.value)}"
    elif ea is not None:
        claim += f"{acc.insn.mem.size} bytes at {_named(ea, acc.insn.mem.disp)}"
    else:
        claim += _expr(acc, hit)
    claim += f" ({_where(acc, hit, report)})"
    base = _insn.wide(acc.insn.mem.base) if acc.insn.mem.base else "rip"
    cmd = f"t = prog.crashed_thread().stack_trace(); print(hex(t[0].registers()[{base!r}]))"
    if hit is not None:
        cmd += f"; print(t[0][{hit.var.name!r}])"
        if hit.member:
            cmd += f"; print(offsetof(prog.type({hit.var.points_to!r}), {hit.member!r}))"
    ev = tuple(_evidence(acc, hit, probe, report, fn))
    return Finding("bad-access", "critical", claim, _detail(report), ev, command=cmd,
                   culprit=_culprit(fn, probe, a))


def _detail(report: CrashReport | None) -> str:
    return f"The oops: {report.message}" if report and report.message else ""


def _culprit(fn: str | None, probe: FaultProbe | None, a: Analysis) -> Culprit:
    pt = a.panic_task
    return Culprit(function=fn, cpu=probe.cpu if probe and probe.cpu is not None else pt.cpu if pt else None,
                   pid=probe.pid if probe and probe.pid else pt.pid if pt else None,
                   comm=probe.comm if probe and probe.comm else pt.comm if pt else None)


def use_after_free(a: Analysis, probe: FaultProbe, report: CrashReport | None) -> Finding | None:
    """A slab freelist whose head is not a pointer: an object written after it was freed."""
    kc = probe.kmem_cache
    if kc is None or kc.cpu_freelist is None or _insn.canonical(kc.cpu_freelist):
        return None
    caller = caller_outside_helpers(a.stack, report)
    head = f"CPU {probe.cpu}'s {kc.name} freelist points to {_named(kc.cpu_freelist)}"
    ev = [f"cache {kc.name} at {kc.address:#x}: object size {kc.object_size}, free pointer at offset "
          f"{kc.freeptr_offset}; {head}"]
    if kc.overwritten is not None:
        ow = kc.overwritten
        claim = (f"use-after-free: a {kc.name} object ({ow.object:#x}) was written after it was freed: "
                 f"its free pointer held {ow.stored:#x} ({ow.what.split(':')[0]}), so {head}")
        ev.append(f"object {ow.object:#x}: free pointer at +{kc.freeptr_offset} stored {ow.stored:#x}, "
                  f"decoded with the cache's random and the slot address (CONFIG_SLAB_FREELIST_HARDENED)")
        if ow.slab:
            ev.append(f"now: {ow.slab.text()}")
    else:
        claim = (f"slab freelist corruption in {kc.name}: {head} "
                 "(an object written after free, or freed twice)")
    if caller:
        claim += f"; found when {caller}() allocated from it"
    cmd = (f"from drgn.helpers.linux.slab import find_slab_cache, slab_object_info; "
           f"s = find_slab_cache({kc.name!r}); print(per_cpu_ptr(s.cpu_slab, {probe.cpu}).freelist)")
    return Finding("use-after-free", "critical", claim, "", tuple(ev), command=cmd,
                   culprit=_culprit(caller or probe.function, probe, a))


def list_corruption(a: Analysis, probe: FaultProbe, report: CrashReport | None) -> Finding | None:
    """A list entry whose next/prev are poisons (deleted twice) or whose neighbours do not point back."""
    for h in probe.list_heads:
        bad = []
        for key, val, back in (("next", h.next, h.next_prev), ("prev", h.prev, h.prev_next)):
            if val is None:
                continue
            if _insn.describe_pointer(val):
                bad.append(f"{key} = {_named(val)}")
            elif back is not None and back != h.address:
                other = "prev" if key == "next" else "next"
                bad.append(f"{key} = {val:#x} whose {other} is {back:#x}, not the entry")
        if not bad:
            continue
        twice = all(v is not None and "LIST_POISON" in (_insn.describe_pointer(v) or "")
                    for v in (h.next, h.prev))
        caller = caller_outside_helpers(a.stack, report)
        what = "list_del() of an entry already deleted" if twice else "a list entry with broken links"
        owner = ""
        if h.slab and h.slab.offset is not None:
            owner = f" ({h.slab.text()}, entry at offset {h.slab.offset:#x})"
        claim = f"list corruption: {what}: entry {h.address:#x}{owner}"
        if caller:
            claim += f", deleted by {caller}()"
        who = f"{h.function}: {h.name}" if h.function else h.name
        ev = [f"{who} = {h.address:#x}: " + "; ".join(bad)]
        cmd = f"e = Object(prog, 'struct list_head *', {h.address:#x}); print(e.next, e.prev)"
        return Finding("list-corruption", "critical", claim, "", tuple(ev), command=cmd,
                       culprit=_culprit(caller or probe.function, probe, a))
    return None


# x86 preempt_count bits (include/linux/preempt.h); PREEMPT_NEED_RESCHED (bit 31) is stored inverted.
def context_of(count: int) -> tuple[str, int]:
    """The context a preempt count says (NMI, hardirq, softirq, task) and its preemption depth."""
    count &= 0x7FFFFFFF
    if count & 0xF00000:
        return "NMI", count & 0xFF
    if count & 0xF0000:
        return "hardirq", count & 0xFF
    if count & 0x100:
        return "softirq", count & 0xFF
    return ("task, bottom halves disabled" if count & 0xFF00 else "task"), count & 0xFF


def panic_context(a: Analysis, probe: FaultProbe) -> Finding | None:
    ctx = probe.context
    if ctx.preempt_count is None and ctx.lockdep is None:
        return None
    parts, ev = [], []
    if ctx.preempt_count is not None:
        where, depth = context_of(ctx.preempt_count)
        parts.append(f"{where} context (preempt count {depth} at the dump)")
        # panic() disables preemption before kdump: the count read at the dump includes it.
        in_panic = any(f.function == "panic" for f in a.stack)
        ev.append(f"preempt_count of CPU {probe.cpu} = {ctx.preempt_count:#x} at the dump"
                  + ("; panic() on the stack took 1 of it" if in_panic and depth else ""))
    if ctx.lockdep is False:
        parts.append("no lockdep in this kernel: held locks unknown")
    elif ctx.held_locks:
        parts.append(f"held locks: {', '.join(ctx.held_locks[:8])}")
    elif ctx.lockdep:
        parts.append("no locks held (lockdep)")
    who = f"{probe.comm}:{probe.pid}" if probe.comm else f"pid {probe.pid}"
    claim = f"panic task {who} on CPU {probe.cpu}: " + "; ".join(parts)
    cmd = ("from drgn.helpers.linux.percpu import per_cpu; print(per_cpu(prog['pcpu_hot'] "
           f"if 'pcpu_hot' in prog else prog['__preempt_count'], {probe.cpu}))")
    return Finding("panic-context", "info", claim, "", tuple(ev), command=cmd,
                   culprit=_culprit(None, probe, a))


def first_report(reports: Sequence[CrashReport]) -> CrashReport | None:
    """The first fatal report (the oops that started it), else the first."""
    return next((r for r in reports if r.fatal), None) or next(iter(reports), None)


def check_fault(a: Analysis, reports: Sequence[CrashReport] | None = None) -> list[Finding]:
    """The bad-access, use-after-free, list-corruption and context findings of ``a``; ``reports``
    are triage's reports of its log (read from ``a.log`` when not given)."""
    if reports is None:
        from crashhub.triage import parse  # noqa: PLC0415

        reports = parse((a.log or "").encode())
    drgn = a.engines.get("drgn")
    probe = parse_fault(drgn.section("fault")) if drgn else None
    report = first_report(reports)
    out: list[Finding] = []
    if probe is not None:
        for check in (use_after_free, list_corruption):
            if (f := check(a, probe, report)) is not None:
                out.append(f)
    if report is not None and report.kind in BAD_ACCESS_KINDS and (f := bad_access(a, probe, report)):
        if out:  # the freelist or list finding is the cause; the access is how it showed
            f = Finding(f.id, "error", f.claim, f.detail, f.evidence, f.command, f.culprit)
        out.append(f)
    if probe is not None and (f := panic_context(a, probe)) is not None:
        out.append(f)
    return out
