"""Which live slab pages a dump left out: run in a child process by the check (drgn, bounded).

    python .../crashhub/readiness/_slabprobe.py DUMP VMLINUX   ->  one JSON line (drgn only)

SLUB's slabs with objects in use: each CPU's active slab and per-cpu partial list, each node's partial
list. Their ``struct slab`` lives in the memmap, which every dump level keeps; the slab's own page holds
the objects. A dump level that excludes one of those pages has dropped live kernel data: since 6.10
``PG_slab`` is a page type, and makedumpfile 1.7.2 reads the word it takes for ``page.mapping`` (the
per-cpu partial slab's ``slabs`` counter) as "anonymous" when it is odd and drops the page at -d 31.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import Any

MAX_SLABS_PER_LIST = 10_000


def _slabs(prog: Any) -> tuple[list[tuple[str, int]], list[str]]:
    """(cache name, address of the slab's memory) of every slab in use that SLUB lists, and where the
    walk itself hit a missing page (a kmem_cache or a list link in a dropped slab)."""
    import drgn  # noqa: PLC0415  (the analyze extra; the child fails alone without it)
    from drgn.helpers.linux.slab import for_each_slab_cache  # noqa: PLC0415

    out: list[tuple[str, int]] = []
    broken: list[str] = []
    caches = iter(for_each_slab_cache(prog))
    while True:
        try:
            cache = next(caches)
        except StopIteration:
            break
        except drgn.FaultError as e:
            broken.append(f"the list of slab caches: {e}")
            break
        try:
            _walk(prog, cache, out)
        except drgn.FaultError as e:
            broken.append(f"cache at {cache.value_():#x}: {e}")
    return out, broken


def _walk(prog: Any, cache: Any, out: list[tuple[str, int]]) -> None:
    """One cache's slabs in use: each CPU's active slab and partial list, each node's partial list."""
    import drgn  # noqa: PLC0415
    from drgn.helpers.linux.cpumask import for_each_possible_cpu  # noqa: PLC0415
    from drgn.helpers.linux.mm import page_to_virt  # noqa: PLC0415
    from drgn.helpers.linux.percpu import per_cpu_ptr  # noqa: PLC0415

    name = cache.name.string_().decode(errors="replace")
    chain = []
    for cpu in for_each_possible_cpu(prog):
        c = per_cpu_ptr(cache.cpu_slab, cpu)
        if c.slab:
            chain.append(c.slab)
        slab = c.partial
        for _ in range(MAX_SLABS_PER_LIST):
            if not slab:
                break
            chain.append(slab)
            slab = slab.next
    for nid in range(int(prog["nr_node_ids"])):
        node = cache.node[nid]
        if not node:
            continue
        head = node.partial.address_of_()
        pos = head.next
        for _ in range(MAX_SLABS_PER_LIST):
            if pos == head:
                break
            chain.append(drgn.container_of(pos, "struct slab", "slab_list"))
            pos = pos.next
    out += [(name, int(page_to_virt(drgn.cast("struct page *", s)).value_())) for s in chain]


def probe(dump: str, vmlinux: str) -> dict[str, object]:
    import drgn  # noqa: PLC0415

    prog = drgn.Program()
    prog.set_core_dump(dump)
    prog.load_debug_info([vmlinux])
    slabs, broken = _slabs(prog)
    dropped: Counter[str] = Counter()
    for name, a in slabs:
        try:
            prog.read(a, 8)
        except drgn.FaultError:
            dropped[name] += 1
    return {"slabs": len(slabs), "excluded": sum(dropped.values()), "caches": dropped.most_common(8),
            "walk_errors": broken[:4], "walk_error_count": len(broken)}


if __name__ == "__main__":
    try:
        print(json.dumps(probe(sys.argv[1], sys.argv[2])))
    except Exception as e:  # one line for the parent, whatever went wrong
        print(json.dumps({"error": f"{type(e).__name__}: {e}"[:300]}))
