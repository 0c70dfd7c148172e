"""drgn-side reading of a bad access and of memory state; runs in the drgn engine's child.

Two sections, each a JSON-able dict with every list bounded:

``fault``
    the crashed frame's registers and the instruction bytes at its pc (decoded on the pure side,
    :mod:`._diag_fault`: importing capstone costs more than this whole section), the pointer
    locals of the crashed function with their pointee's member layout, the slab object behind
    each pointer and register (cache, size, allocated or free), ``struct list_head`` locals with
    their neighbours, the kmem_cache a slab-allocator frame was working on (and the object whose
    hardened free pointer was overwritten), the panic CPU's preempt count and whether the kernel
    has lockdep.
``memstate``
    for an OOM (the log says so): tasks by RSS with ``oom_score_adj``, the biggest slab caches,
    shmem and page tables; for a bad page (the log's ``page:`` line): that page's flags, counts
    and mapping.

Features are found by symbol and member (``pcpu_hot`` since 6.2, ``kmem_cache.random`` with
CONFIG_SLAB_FREELIST_HARDENED, ``task_struct.held_locks`` with lockdep), never by version.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

from crashhub.analyze import _insn

MAX_FRAMES = 4  # frames of the crashed stack whose locals are searched
MAX_LOCALS = 32
MAX_POINTERS = 12
MAX_LAYOUT = 128  # members of one pointee struct
MAX_SLAB_SCAN = 512  # objects of one slab tried when looking for an overwritten free pointer
MAX_TASKS = 4096
TOP = 10
GP_REGS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12",
           "r13", "r14", "r15", "rip", "rflags", "fs.base", "gs.base")
# mm/debug.c __dump_page(): "page:<%p> refcount:0 mapcount:1 mapping:... index:0x0 pfn:0x3ff30" (6.1;
# %p is hashed, "(____ptrval____)" early in boot) or "page: refcount:0 ..." (6.12 prints no address),
# so the pfn finds the page.
_PAGE_RE = re.compile(r"page:(\S*) refcount:-?\d+ mapcount:-?\d+ .*?pfn:(?:0x)?([0-9a-f]+)")
_HEX16_RE = re.compile(r"[0-9a-f]{16}")
_REASON_RE = re.compile(r"page dumped because: (.{1,120})")
_OOM_MARKERS = ("invoked oom-killer", "Out of memory")
# lib/list_debug.c (6.1, 6.12): "list_del corruption, ffff...->next is LIST_POISON1 (dead...)",
# "list_del corruption. prev->next should be ffff..., but was ...": the entry, for when its local is
# optimized out of the DWARF.
_LIST_RE = re.compile(r"list_del corruption(?:, ([0-9a-f]{16})->(?:next|prev) is|"
                      r"\. (?:prev->next|next->prev) should be ([0-9a-f]{16}))")


def _err(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:200]


def _slab(prog: Any, addr: int) -> dict[str, Any] | None:
    """The slab object holding ``addr``: cache, object size, object address, allocated or free."""
    from drgn.helpers.linux.slab import slab_object_info  # noqa: PLC0415

    if not _insn.canonical(addr) or addr < (1 << 63):
        return None
    try:
        info = slab_object_info(prog, addr)
    except Exception as e:  # a page the dump left out, a corrupt freelist
        return {"error": _err(e)}
    if info is None:
        return None
    return {"cache": info.slab_cache.name.string_().decode(), "object": info.address,
            "object_size": info.slab_cache.object_size.value_(), "allocated": info.allocated,
            "offset": addr - info.address}


def _layout(typ: Any) -> list[list[Any]]:
    """The members of struct ``typ`` as ``[offset, size, "a.b"]``, nested structs and unions
    flattened (depth and count bounded), so the pure side can name the member at any offset."""
    from drgn import TypeKind  # noqa: PLC0415

    out: list[list[Any]] = []
    todo: list[tuple[Any, int, str, int]] = [(typ, 0, "", 0)]
    while todo and len(out) < MAX_LAYOUT:
        t, base, prefix, depth = todo.pop(0)
        t = t.unaliased()
        if t.kind not in (TypeKind.STRUCT, TypeKind.UNION) or depth > 3:
            continue
        for m in t.members:
            off = base + m.bit_offset // 8
            try:
                size = m.type.size or 0
            except Exception:  # a flexible array, a function
                size = 0
            # An anonymous struct or union adds no name: its members belong to the parent.
            path = f"{prefix}.{m.name}" if prefix and m.name else (m.name or prefix)
            if m.name:
                out.append([off, size, path])
            todo.append((m.type, off, path, depth + 1))
    return out[:MAX_LAYOUT]


def _frames(trace: Any) -> list[Any]:
    out = []
    for i, f in enumerate(trace):
        if i >= MAX_FRAMES:
            break
        out.append(f)
    return out


def _chain(frames: list[Any]) -> list[Any]:
    """The crashed function's frames: the first, and those it was inlined into."""
    n = next((i for i, f in enumerate(frames) if not f.is_inline), len(frames) - 1)
    return frames[:n + 1]


def _pointer_locals(prog: Any, frames: list[Any]) -> list[dict[str, Any]]:
    """Pointer locals of the crashed function: value, pointee type, size and layout, slab object."""
    from drgn import TypeKind  # noqa: PLC0415

    out: list[dict[str, Any]] = []
    for depth, frame in enumerate(frames):
        try:
            names = frame.locals()[:MAX_LOCALS]
        except Exception:
            continue
        for name in names:
            if len(out) >= MAX_POINTERS:
                return out
            try:
                obj = frame[name]
                if obj.absent_ or obj.type_.unaliased_kind() != TypeKind.POINTER:
                    continue
                val = obj.value_()
                target = obj.type_.unaliased().type
                tname = target.type_name()
                compound = target.unaliased_kind() in (TypeKind.STRUCT, TypeKind.UNION)
                size = target.size if compound else None
            except Exception:
                continue
            d: dict[str, Any] = {"frame": depth, "function": frame.name, "name": name, "points_to": tname,
                                 "value": val, "size": size}
            if compound:
                d["layout"] = _layout(target)
            if (sl := _slab(prog, val)) is not None:
                d["slab"] = sl
            out.append(d)
    return out


def _reg_slabs(prog: Any, regs: dict[str, int]) -> dict[str, Any]:
    """The slab objects the crashed frame's registers point into."""
    out = {}
    for name, val in regs.items():
        if name in ("rip", "rsp", "rflags", "fs.base", "gs.base"):
            continue
        if (sl := _slab(prog, val)) is not None and "error" not in sl:
            out[name] = sl
    return out


def _list_head(prog: Any, obj: Any, where: dict[str, Any]) -> dict[str, Any]:
    """A ``struct list_head *`` with its next/prev, whether the neighbours point back, its slab."""
    d = {**where, "address": obj.value_()}
    for key, back in (("next", "prev"), ("prev", "next")):
        try:
            d[key] = obj.member_(key).value_()
            # A sound neighbour points back: entry->next->prev == entry.
            if d[key] >= (1 << 63) and _insn.canonical(d[key]):
                d[f"{key}_{back}"] = obj.member_(key).member_(back).value_()
        except Exception as e:
            d[f"{key}_error"] = _err(e)
    if (sl := _slab(prog, d["address"])) is not None:
        d["slab"] = sl
    return d


def _list_heads(prog: Any, frames: list[Any], log: str) -> list[dict[str, Any]]:
    """``struct list_head *`` locals of the first frames, else the entry the log's list_debug
    report names."""
    from drgn import Object  # noqa: PLC0415

    out: list[dict[str, Any]] = []
    for depth, frame in enumerate(frames):
        with contextlib.suppress(Exception):
            for name in frame.locals()[:MAX_LOCALS]:
                obj = frame[name]
                if obj.absent_ or obj.type_.type_name() != "struct list_head *":
                    continue
                if not any(x["address"] == obj.value_() for x in out):
                    out.append(_list_head(prog, obj, {"frame": depth, "function": frame.name, "name": name}))
    if not out and (m := _LIST_RE.search(log)):
        addr = int(m.group(1) or m.group(2), 16)
        with contextlib.suppress(Exception):
            out.append(_list_head(prog, Object(prog, "struct list_head *", addr),
                                  {"frame": None, "function": None, "name": "entry (from the log)"}))
    return out[:8]


def _kmem_cache(prog: Any, frames: list[Any], cpu: int | None) -> dict[str, Any] | None:
    """The kmem_cache a slab-allocator frame worked on, its per-CPU freelist and, with a hardened
    freelist, the object whose free pointer decodes to the bad base pointer (a write after free)."""
    from drgn.helpers.linux.percpu import per_cpu_ptr  # noqa: PLC0415

    cache = None
    for frame in frames:
        with contextlib.suppress(Exception):
            for name in frame.locals()[:MAX_LOCALS]:
                obj = frame[name]
                if not obj.absent_ and obj.type_.type_name() == "struct kmem_cache *" and obj.value_():
                    cache = obj
                    break
        if cache is not None:
            break
    if cache is None:
        return None
    d: dict[str, Any] = {"address": cache.value_(), "name": cache.name.string_().decode(),
                         "object_size": cache.object_size.value_(), "size": cache.size.value_(),
                         "freeptr_offset": cache.offset.value_()}
    if cpu is not None:
        with contextlib.suppress(Exception):
            c = per_cpu_ptr(cache.cpu_slab, cpu)
            d["cpu_freelist"] = c.freelist.value_()
            d["cpu_slab"] = c.slab.value_() if hasattr(c, "slab") else c.page.value_()
    try:
        random = cache.random.value_()
    except AttributeError:
        return d  # no CONFIG_SLAB_FREELIST_HARDENED: the free pointer is stored as is
    d["hardened"] = True
    # The bad pointer is the CPU's freelist head when the fault came from following it.
    bad = d.get("cpu_freelist")
    if bad is not None and not _insn.canonical(bad) and d.get("cpu_slab"):
        d["overwritten"] = _overwritten_freeptr(prog, cache, d["cpu_slab"], bad, random)
    return d


def _overwritten_freeptr(prog: Any, cache: Any, slab_addr: int, bad: int, random: int
                         ) -> dict[str, Any] | None:
    """The object of the CPU's slab whose free pointer, stored as ``ptr ^ random ^ swab(slot)``,
    decodes to ``bad`` only if the stored word was a repeated byte: data written over a freed object."""
    from drgn import Object  # noqa: PLC0415
    from drgn.helpers.linux.mm import page_to_virt  # noqa: PLC0415
    from drgn.helpers.linux.slab import slab_cache_objects_per_slab  # noqa: PLC0415

    try:
        # struct slab overlays struct page (5.17+), so the slab's address is its first page's.
        start = page_to_virt(Object(prog, "struct page *", slab_addr)).value_()
        n = min(slab_cache_objects_per_slab(cache), MAX_SLAB_SCAN)
    except Exception:
        return None
    size, off = cache.size.value_(), cache.offset.value_()
    for i in range(n):
        slot = start + i * size + off
        raw = bad ^ random ^ int.from_bytes(slot.to_bytes(8, "little"), "big")
        if (w := _insn.describe_pointer(raw)) and "repeated" in w:
            return {"object": start + i * size, "slot": slot, "stored": raw, "what": w,
                    "slab": _slab(prog, start + i * size)}
    return None


def _context(prog: Any, cpu: int | None, task: Any) -> dict[str, Any]:
    """The panic CPU's preempt count (read at the dump, after panic's own changes) and lockdep."""
    from drgn.helpers.linux.percpu import per_cpu  # noqa: PLC0415

    d: dict[str, Any] = {}
    if cpu is not None:
        try:
            if "pcpu_hot" in prog:  # 6.2+: the count moved into struct pcpu_hot
                d["preempt_count"] = per_cpu(prog["pcpu_hot"], cpu).preempt_count.value_() & 0xFFFFFFFF
            else:
                d["preempt_count"] = per_cpu(prog["__preempt_count"], cpu).value_() & 0xFFFFFFFF
        except Exception as e:
            d["preempt_count_error"] = _err(e)
    try:
        prog.type("struct task_struct").member("held_locks")
    except LookupError:
        d["lockdep"] = False
        return d
    d["lockdep"] = True
    if task is not None:
        with contextlib.suppress(Exception):
            depth = min(task.lockdep_depth.value_(), 48)
            d["held_locks"] = [_lock_name(task.held_locks[i]) for i in range(depth)]
    return d


def _lock_name(hl: Any) -> str:
    with contextlib.suppress(Exception):
        return str(hl.instance.name.string_().decode())
    return f"{hl.instance.value_():#x}"


def fault(prog: Any, log: str) -> dict[str, Any]:
    """The ``fault`` section: see the module docstring.  ``log`` is the dump's kernel log."""
    thread = prog.crashed_thread()
    task = None
    with contextlib.suppress(Exception):
        task = thread.object
    cpu = None
    with contextlib.suppress(Exception):
        from drgn.helpers.linux.sched import task_cpu  # noqa: PLC0415

        cpu = task_cpu(task)
    out: dict[str, Any] = {"pid": thread.tid, "cpu": cpu}
    if task is not None:
        with contextlib.suppress(Exception):
            out["comm"] = task.comm.string_().decode()
    out["context"] = _context(prog, cpu, task)
    frames = _frames(thread.stack_trace())
    if not frames:
        return out
    f0 = frames[0]
    regs = {k: v for k, v in f0.registers().items() if k in GP_REGS}
    pc = f0.pc
    out.update(pc=pc, regs=regs, function=f0.name)
    with contextlib.suppress(LookupError, ValueError):
        out["module"] = prog.module(pc).name
    # The ELF symbol is the outermost function at pc (frame 0 may be an inline in it), as the log's
    # RIP line names it.
    with contextlib.suppress(LookupError):
        out["symbol"] = prog.symbol(pc).name
    if out["function"] is None or str(out["function"]).startswith("0x"):
        out["function"] = out.get("symbol") or out["function"]
    try:
        out["code"] = prog.read(pc, _insn.MAX_INSN).hex()
    except Exception as e:  # module text the dump left out
        out["code_error"] = _err(e)
    # The instruction is decoded on the pure side (capstone's import costs more than this section).
    out["pointers"] = _pointer_locals(prog, _chain(frames))
    out["list_heads"] = _list_heads(prog, frames, log)
    out["reg_slabs"] = _reg_slabs(prog, regs)
    with contextlib.suppress(Exception):
        kc = _kmem_cache(prog, frames, cpu)
        if kc is not None:
            out["kmem_cache"] = kc
    return out


def _top_slabs(prog: Any) -> list[dict[str, Any]]:
    """Slab caches by the memory their slabs hold: ``kmem_cache_node.nr_slabs`` (CONFIG_SLUB_DEBUG)
    times the slab size, no walk over the slabs."""
    from drgn.helpers.linux.slab import for_each_slab_cache  # noqa: PLC0415

    page = prog["PAGE_SIZE"].value_() if "PAGE_SIZE" in prog else 4096
    nodes = 1
    with contextlib.suppress(Exception):
        nodes = max(1, min(prog["nr_node_ids"].value_(), 64))
    out = []
    for i, s in enumerate(for_each_slab_cache(prog)):
        if i >= 1024:
            break
        try:
            slabs = sum(s.node[n].nr_slabs.counter.value_() for n in range(nodes) if s.node[n])
            order = s.oo.x.value_() >> 16
            out.append({"name": s.name.string_().decode(), "kb": slabs * (page << order) // 1024,
                        "object_size": s.object_size.value_()})
        except Exception:
            continue
    out.sort(key=lambda d: -int(d["kb"]))
    return out[:TOP]


def _top_tasks(prog: Any) -> list[dict[str, Any]]:
    from drgn.helpers.linux.mm import task_rss  # noqa: PLC0415
    from drgn.helpers.linux.pid import for_each_task  # noqa: PLC0415

    out = []
    for i, t in enumerate(for_each_task(prog)):
        if i >= MAX_TASKS:
            break
        with contextlib.suppress(Exception):
            if not t.mm or t.pid != t.tgid:
                continue
            r = task_rss(prog, t)
            out.append({"pid": t.pid.value_(), "comm": t.comm.string_().decode(), "rss_kb": r.total * 4,
                        "anon_kb": r.anon * 4, "shmem_kb": r.shmem * 4, "swap_kb": r.swap * 4,
                        "pgtables_kb": t.mm.pgtables_bytes.counter.value_() // 1024
                        if hasattr(t.mm, "pgtables_bytes") else None,
                        "oom_score_adj": t.signal.oom_score_adj.value_()})
    out.sort(key=lambda d: -int(d["rss_kb"]))
    by_pid = {t.pid.value_(): t for t in _tasks_by_pid(prog, [d["pid"] for d in out[:3]])}
    for d in out[:3]:
        if d["pid"] in by_pid:
            with contextlib.suppress(Exception):
                d["memcg"] = _memcg(prog, by_pid[d["pid"]])
    return out[:TOP]


def _tasks_by_pid(prog: Any, pids: list[int]) -> list[Any]:
    from drgn.helpers.linux.pid import find_task  # noqa: PLC0415

    return [t for t in (find_task(prog, p) for p in pids) if t]


def _memcg(prog: Any, task: Any) -> dict[str, Any] | None:
    """The task's memory cgroup (v2 or v1) and its limit in KiB; None for the root (no limit)."""
    from drgn import container_of  # noqa: PLC0415
    from drgn.helpers.linux.cgroup import cgroup_path  # noqa: PLC0415

    memcg = container_of(task.cgroups.subsys[prog.constant("memory_cgrp_id")], "struct mem_cgroup", "css")
    if not memcg or memcg.css.cgroup.level.value_() == 0:
        return None
    page = prog["PAGE_SIZE"].value_() if "PAGE_SIZE" in prog else 4096
    limit = memcg.memory.max.value_()
    unlimited = limit >= (1 << 63) // page - 1  # PAGE_COUNTER_MAX
    return {"path": cgroup_path(memcg.css.cgroup).decode(),
            "usage_kb": memcg.memory.usage.counter.value_() * page // 1024,
            "limit_kb": None if unlimited else limit * page // 1024}


def _node_pages(prog: Any) -> dict[str, int | None]:
    from drgn.helpers.linux.vmstat import global_node_page_state  # noqa: PLC0415

    out: dict[str, int | None] = {}
    for key, item in (("shmem", "NR_SHMEM"), ("pagetables", "NR_PAGETABLE"),
                      ("kernel_stack_kb", "NR_KERNEL_STACK_KB")):
        try:
            out[key] = global_node_page_state(prog, prog.constant(item))
        except (LookupError, ValueError):
            out[key] = None
    return out


def _bad_page(prog: Any, line: re.Match[str], reason: str | None) -> dict[str, Any]:
    from drgn import Object  # noqa: PLC0415
    from drgn.helpers.linux.mm import decode_page_flags, page_to_pfn, pfn_to_page  # noqa: PLC0415

    if _HEX16_RE.fullmatch(line.group(1)):
        page = Object(prog, "struct page *", int(line.group(1), 16))
    else:
        page = pfn_to_page(prog, int(line.group(2), 16))
    d: dict[str, Any] = {"address": page.value_(), "log_line": line.group(0)[:300], "reason": reason}
    # Lambdas so the reads themselves fail inside the try (a page the dump left out).
    for key, fn in (("flags", lambda: page.flags.value_()),  # noqa: PLW0108
                    ("flags_decoded", lambda: decode_page_flags(page)),
                    ("mapcount", lambda: page._mapcount.counter.value_() + 1),
                    ("refcount", lambda: page._refcount.counter.value_()),  # noqa: PLW0108
                    ("mapping", lambda: page.mapping.value_()),  # noqa: PLW0108
                    ("pfn", lambda: page_to_pfn(page).value_())):
        try:
            d[key] = fn()
        except Exception as e:
            d[f"{key}_error"] = _err(e)
    return d


def memstate(prog: Any, log: str) -> dict[str, Any]:
    """The ``memstate`` section: see the module docstring.  ``log`` is the dump's kernel log."""
    out: dict[str, Any] = {}
    if any(m in log for m in _OOM_MARKERS):
        for key, fn in (("top_tasks", _top_tasks), ("top_slabs", _top_slabs), ("pages", _node_pages)):
            try:
                out[key] = fn(prog)
            except Exception as e:
                out[f"{key}_error"] = _err(e)
    start = log.find("BUG: Bad page")
    m = _PAGE_RE.search(log, start) if start >= 0 else None
    if m:
        why = _REASON_RE.search(log, m.end())
        try:
            out["bad_page"] = _bad_page(prog, m, why.group(1).strip() if why else None)
        except Exception as e:
            out["bad_page_error"] = _err(e)
    return out
