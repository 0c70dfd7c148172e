"""Diagnoses of bad accesses and memory state (``_insn``, ``_diag_fault``, ``_diag_memory``).

Unit tests on real ``Code:`` lines (the crash lab's and the public corpus's, split in halves:
the decoder was developed on the even half, the odd half checks it), on section JSON shaped as
the drgn engine gives it, and golden tests on lab dumps (6.1 default, 6.12 ``d23``) with and
without the module's debuginfo.
"""
# ruff: noqa: E501  (expected claims and real log lines are kept whole, so they can be grepped for)

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.need import need_module

from crashhub.analyze import _insn, analyze
from crashhub.analyze._checks import run_checks
from crashhub.analyze._diag_fault import _access, context_of
from crashhub.triage import parse


@pytest.fixture(autouse=True)
def _capstone() -> None:
    """The decoder's library (the ``analyze`` extra): missing, the tests skip, or fail in CI."""
    need_module("capstone", "capstone (the analyze extra)")


# The lab's 6.1 oopses (crashmod gpf and uaf), as the kernel printed them.
GPF_CODE = ("Code: 48 8b 05 3c 24 00 00 c7 40 20 01 00 00 00 c3 cc cc cc cc 0f 1f 84 00 00 00 00 00 0f 1f 44 "
            "00 00 48 b8 20 01 00 00 00 00 ad de <c7> 00 01 00 00 00 c3 cc cc cc cc 66 0f 1f 44 00 00 0f 1f "
            "44 00 00")
UAF_CODE = ("Code: 4c 03 05 7d e6 4f 49 e8 90 d0 ff ff 65 ff 0d 49 50 50 49 0f 84 51 01 00 00 48 89 44 24 08 "
            "eb 41 41 8b 4e 28 49 8b 3e 48 01 c1 <48> 8b 19 48 89 ce 49 33 9e b8 00 00 00 48 8d 8a 00 20 00 00 "
            "48 0f")
NULL_OOPS = """\
BUG: kernel NULL pointer dereference, address: 0000000000000020
#PF: supervisor write access in kernel mode
#PF: error_code(0x0002) - not-present page
PGD 3c0d2067 P4D 3c0d2067 PUD 3c0d3067 PMD 0
Oops: 0002 [#1] PREEMPT SMP NOPTI
CPU: 1 PID: 145 Comm: sh Kdump: loaded Tainted: G           OE      6.1.0-57-cloud-amd64 #1  Debian 6.1.192-3
Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
RIP: 0010:crashmod_null+0xc/0x20 [crashmod]
Code: Unable to access opcode bytes at 0xffffffffc03f0fe2.
RSP: 0018:ffffd2a400473da8 EFLAGS: 00000246
RAX: 0000000000000000 RBX: 0000000000000005 RCX: c0000000ffffefff
RDX: 0000000000000000 RSI: ffffffffc03f2199 RDI: ffffd2a400473db0
RBP: 0000000000000005 R08: 0000000000000000 R09: ffffd2a400473c48
R10: 0000000000000003 R11: ffffffff87ad2328 R12: 000000002a094bd0
R13: 000000002a094bd0 R14: ffff8eccbed14000 R15: 0000000000000000
FS:  000000002a0923c0(0000) GS:ffff8eccbd300000(0000) knlGS:0000000000000000
CS:  0010 DS: 0000 ES: 0000 CR0: 0000000080050033
CR2: ffffffffc03f0fe2 CR3: 0000000002d3a000 CR4: 00000000000006a0
Call Trace:
 <TASK>
 crashmod_write+0x226/0x284 [crashmod]
 proc_reg_write+0x56/0xa0
 vfs_write+0xc7/0x3f0
 ksys_write+0x6b/0xf0
 do_syscall_64+0x5d/0x90
 entry_SYSCALL_64_after_hwframe+0x6e/0xd8
RIP: 0033:0x47b7a0
Code: 40 00 48 c7 c2 e0 ff ff ff f7 d8 64 89 02 48 c7 c0 ff ff ff ff eb b7 0f 1f 00 80 3d e8 85 16 00 00 74 17 b8 01 00 00 00 0f 05 <48> 3d 00 f0 ff ff 77 58 c3 0f 1f 80 00 00 00 00 48 83 ec 28 48 89
 </TASK>
Modules linked in: crashmod(OE) qemu_fw_cfg virtio_blk virtio_pci virtio_pci_modern_dev virtio
CR2: 0000000000000020
"""
# The drgn engine's fault section for that oops (6.1 lab dump, the module's .ko given).
NULL_FAULT: dict[str, Any] = {
    "pid": 145, "cpu": 1, "comm": "sh", "context": {"preempt_count": 0x80000000, "lockdep": False},
    "pc": 0xFFFFFFFFC03F100C, "function": "crashmod_null", "module": "crashmod",
    "regs": {"rax": 0, "rbx": 5, "rcx": 0xC0000000FFFFEFFF, "rip": 0xFFFFFFFFC03F100C},
    "code": "c7402001000000c3cccccccc0f1f84",
    "pointers": [{"frame": 0, "function": "crashmod_null", "name": "obj", "points_to": "struct crashmod_obj",
                  "value": 0, "size": 40,
                  "layout": [[0, 8, "id"], [8, 8, "flags"], [16, 16, "node"], [16, 8, "node.next"],
                             [24, 8, "node.prev"], [32, 4, "refcount"]]}],
    "list_heads": [], "reg_slabs": {},
}


def test_code_line_gpf_names_list_poison() -> None:
    cb = _insn.parse_code_line(GPF_CODE)
    assert cb is not None and cb.fault == 42 and cb.at_rip()[:2] == b"\xc7\x00"
    insn = _insn.decode(cb.at_rip())
    assert insn is not None and insn.text() == "movl $1, (%rax)" and insn.access == "write"
    assert insn.mem == _insn.MemOperand("rax", None, 1, 0, 4)
    ea = _insn.effective_address(insn, {"rax": 0xDEAD000000000120})
    assert ea == 0xDEAD000000000120 and not _insn.canonical(ea)
    assert _insn.describe_address(ea) == "LIST_POISON1 (0xdead000000000100) + 0x20"


def test_code_line_uaf_reads_through_rcx() -> None:
    cb = _insn.parse_code_line(UAF_CODE)
    insn = _insn.decode(cb.at_rip()) if cb else None
    assert insn is not None and insn.text() == "movq (%rcx), %rbx" and insn.access == "read"
    assert _insn.effective_address(insn, {"rcx": 0xF67CFD7E0035733D}) == 0xF67CFD7E0035733D
    assert _insn.describe_pointer(0xF67CFD7E0035733D) == "non-canonical"


def test_code_line_edge_cases() -> None:
    assert _insn.parse_code_line("Code: Unable to access opcode bytes at 0xffffffffc03f0fe2.") is None
    assert _insn.parse_code_line("Code: aa1603e0 97fff8e5 (f9400260)") is None  # arm64 words
    assert _insn.parse_code_line("Code: 48 8b 05 3c 24 00 00 c7 40 20") is None  # no <..>: RIP unknown
    # Indexed, RIP-relative and per-CPU operands.
    insn = _insn.decode(bytes.fromhex("48890cc2"))
    assert insn and insn.mem and insn.mem.text() == "(%rdx,%rax,8)"
    assert _insn.effective_address(insn, {"rdx": 0x1000, "rax": 3}) == 0x1018
    rel = _insn.decode(bytes.fromhex("488b0510000000"), 0x1000)
    assert rel and _insn.effective_address(rel, {}) == 0x1000 + 7 + 0x10
    gs = _insn.decode(bytes.fromhex("65488b0425281f0000"))
    assert gs and _insn.effective_address(gs, {"gs.base": 0x5000}) == 0x5000 + 0x1F28
    assert _insn.effective_address(gs, {}) is None  # no gs base: no address, not a guess
    # i386 (a 5.10 log of the corpus): ERR_PTR(-12) + 0xc wraps to 0, the reported address.
    i386 = _insn.decode(bytes.fromhex("8b700c"), 0, "i386")
    assert i386 and i386.text() == "movl 0xc(%eax), %esi"
    assert _insn.effective_address(i386, {"eax": 0xFFFFFFF4}) == 0
    lea = _insn.decode(bytes.fromhex("488d4720"))
    assert lea is not None and lea.mem is None  # lea touches no memory


@pytest.mark.parametrize(("value", "want"), [
    (0, "NULL"), (0x20, "NULL + 0x20"), (0xDEAD000000000122, "LIST_POISON2 (0xdead000000000122)"),
    (0xFFFFFFFFFFFFFFF4, "ERR_PTR(-12)"), (0x6B6B6B6B6B6B6B6B, "the byte 0x6b repeated: POISON_FREE"),
    (0xDFFFFC0000000002, "a KASAN shadow address (of 0x10)"), (0x4141414141414141, "the byte 0x41 repeated"),
    (0x8000000000000000, "non-canonical"), (0xFFFF8ECCBED14000, None),
])
def test_address_names(value: int, want: str | None) -> None:
    got = _insn.describe_address(value)
    assert got is None if want is None else (got or "").startswith(want)


def test_triage_reads_code_and_fault_address() -> None:
    [r] = [r for r in parse(NULL_OOPS.encode()) if r.kind == "null_deref"]
    # The kernel's own Code: is unreadable here; the user-mode one that follows is not taken for it.
    assert r.code is None and r.fault_address == 0x20
    # The register dump's CR2 is the failed Code: read's, not the fault's: the header is believed.
    assert r.registers.get("CR2") == 0xFFFFFFFFC03F0FE2
    gpf = parse(("general protection fault, probably for non-canonical address 0xdead000000000120: 0000 [#1]"
                 " PREEMPT SMP NOPTI\nRIP: 0010:crashmod_gpf+0xf/0x20 [crashmod]\n" + GPF_CODE + "\n"
                 "RAX: dead000000000120 RBX: 0000000000000004 RCX: c0000000ffffefff\n").encode())[0]
    assert gpf.fault_address == 0xDEAD000000000120 and gpf.code and "<c7>" in gpf.code


def test_bad_access_from_the_dump_section() -> None:
    a = {"log": NULL_OOPS, "engines": {"drgn": {"engine": "drgn", "ok": True, "fault": NULL_FAULT}}}
    fs = {f["id"]: f for f in run_checks(a)}
    f = fs["bad-access"]
    assert f["title"] == ("NULL dereference: crashmod_null() wrote obj->refcount with obj == NULL "
                          "(RAX = 0; CR2 = 0x20 = offsetof(struct crashmod_obj, refcount))")
    assert f["severity"] == "critical" and f["culprit"] == {"function": "crashmod_null", "cpu": 1, "pid": 145,
                                                            "comm": "sh"}
    assert "movl $1, 0x20(%rax)" in f["evidence"][0] and "offsetof" in f["command"]
    ctx = fs["panic-context"]
    assert "task context" in ctx["title"] and "no lockdep in this kernel" in ctx["title"]


def test_bad_access_without_locals_gives_register_and_offset() -> None:
    bare = {**NULL_FAULT, "pointers": [], "function": "0xffffffffc03f100c"}
    a = {"log": NULL_OOPS, "engines": {"drgn": {"engine": "drgn", "ok": True, "fault": bare}}}
    [f] = [f for f in run_checks(a) if f["id"] == "bad-access"]
    # The function comes from the log's RIP line when the dump cannot name it.
    assert f["title"] == "NULL dereference: crashmod_null() wrote 4 bytes at NULL + 0x20 (RAX = 0; CR2 = 0x20)"


def test_bad_access_ignores_a_dump_frame_that_is_not_the_fault() -> None:
    # An oops that then panicked: the dump's crashed frame is panic()'s, so the log's Code: and
    # registers tell the instruction (here none: the kernel could not read them) and no local is used.
    elsewhere = {**NULL_FAULT, "function": "crash_setup_regs", "symbol": "__crash_kexec"}
    a = {"log": NULL_OOPS, "engines": {"drgn": {"engine": "drgn", "ok": True, "fault": elsewhere}}}
    assert not [f for f in run_checks(a) if f["id"] == "bad-access"]
    here = {**NULL_FAULT, "symbol": "crashmod_null"}
    a = {"log": NULL_OOPS, "engines": {"drgn": {"engine": "drgn", "ok": True, "fault": here}}}
    assert [f for f in run_checks(a) if f["id"] == "bad-access"]


def test_bad_access_from_the_log_alone() -> None:
    log = ("BUG: unable to handle page fault for address: ffff8880bfffd000\n#PF: supervisor read access in "
           "kernel mode\nOops: 0000 [#1] SMP\nRIP: 0010:memcpy_orig+0x10/0x120\n"
           "Code: 48 8b 05 3c 24 00 00 c7 40 20 01 00 00 00 c3 cc cc cc cc 0f 1f 84 00 00 00 00 00 0f 1f 44 "
           "00 00 48 b8 20 01 00 00 00 00 ad de <f3> 0f 6f 66 20 00 00 00 00\n"
           "RSI: ffff8880bfffcfde RDI: ffff888000000000\nCall Trace:\n foo+0x1/0x2\n")
    [f] = [f for f in run_checks({"log": log}) if f["id"] == "bad-access"]
    assert f["title"].startswith("bad memory access: memcpy_orig() read 16 bytes at 0xffff8880bfffcffe")
    assert "CR2 = 0xffff8880bfffd000, inside the access at 0xffff8880bfffcffe" in f["title"]


def test_list_corruption_and_use_after_free_sections() -> None:
    poison1, poison2 = 0xDEAD000000000100, 0xDEAD000000000122
    fault = {"pid": 126, "cpu": 1, "comm": "sh", "context": {}, "pc": 1, "function": "__list_del_entry_valid",
             "list_heads": [{"frame": None, "function": None, "name": "entry (from the log)",
                             "address": 0xFFFF8AE17ED42F90, "next": poison1, "prev": poison2,
                             "slab": {"cache": "kmalloc-64", "object": 0xFFFF8AE17ED42F80, "object_size": 64,
                                      "allocated": True, "offset": 16}}]}
    a = {"stack": [{"function": "__list_del_entry_valid", "file": "lib/list_debug.c"},
                   {"function": "crashmod_list_corruption", "module": "crashmod"}],
         "engines": {"drgn": {"engine": "drgn", "fault": fault}}}
    [f] = [f for f in run_checks(a) if f["id"] == "list-corruption"]
    assert f["title"] == ("list corruption: list_del() of an entry already deleted: entry 0xffff8ae17ed42f90 "
                          "(kmalloc-64 object 0xffff8ae17ed42f80 (64 bytes, allocated), entry at offset 0x10), "
                          "deleted by crashmod_list_corruption()")
    assert "LIST_POISON1" in f["evidence"][0] and "LIST_POISON2" in f["evidence"][0]
    fault = {"pid": 150, "cpu": 0, "comm": "sh", "context": {},
             "kmem_cache": {"address": 0xFFFF8A4181042800, "name": "kmalloc-192", "object_size": 192,
                            "freeptr_offset": 96, "cpu_freelist": 0xF67CFD7E003572DD, "hardened": True,
                            "overwritten": {"object": 0xFFFF8A41BE5B93C0, "stored": 0x4141414141414141,
                                            "what": "the byte 0x41 repeated: data written over a pointer"}}}
    a = {"stack": [{"function": "freelist_ptr", "file": "mm/slub.c"}, {"function": "kmalloc_trace"},
                   {"function": "kmalloc", "file": "/x/include/linux/slab.h", "module": "crashmod"},
                   {"function": "crashmod_uaf", "module": "crashmod"}],
         "engines": {"drgn": {"engine": "drgn", "fault": fault}}}
    [f] = [f for f in run_checks(a) if f["id"] == "use-after-free"]
    assert f["title"].startswith("use-after-free: a kmalloc-192 object (0xffff8a41be5b93c0) was written after "
                                 "it was freed: its free pointer held 0x4141414141414141")
    assert f["title"].endswith("found when crashmod_uaf() allocated from it")
    assert f["culprit"]["function"] == "crashmod_uaf"


@pytest.mark.parametrize(("count", "want"), [
    (0x80000000, ("task", 0)), (0x80000001, ("task", 1)), (0x00000201, ("task, bottom halves disabled", 1)),
    (0x80000101, ("softirq", 1)), (0x80010001, ("hardirq", 1)), (0x80110002, ("NMI", 2)),
])
def test_preempt_count_context(count: int, want: tuple[str, int]) -> None:
    assert context_of(count) == want


def test_oom_and_bad_page_from_memstate() -> None:
    log = ("dd invoked oom-killer: gfp_mask=0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), order=0\n"
           "Kernel panic - not syncing: Out of memory: system-wide panic_on_oom is enabled\n")
    ms = {"top_tasks": [{"pid": 139, "comm": "dd", "rss_kb": 640360, "anon_kb": 638776, "shmem_kb": 1580,
                         "swap_kb": 0, "pgtables_kb": 1288, "oom_score_adj": 0, "memcg": None}],
          "top_slabs": [{"name": "inode_cache", "kb": 6888, "object_size": 632}],
          "pages": {"shmem": 6706, "pagetables": 321, "kernel_stack_kb": 896}}
    a = {"log": log, "memory": {"kb": {"total": 734224}, "page_kb": 4},
         "engines": {"drgn": {"engine": "drgn", "memstate": ms}}}
    [f] = [f for f in run_checks(a) if f["id"] == "oom"]
    assert f["title"] == ("out of memory: the kernel panicked on OOM (panic_on_oom); biggest user dd:139 held 625 MiB of "
                          "717 MiB (623 MiB anonymous), oom_score_adj 0")
    assert f["culprit"] == {"pid": 139, "comm": "dd"}
    assert any("inode_cache 6888 KiB" in e for e in f["evidence"])
    assert any("root memcg (no limit)" in e for e in f["evidence"])
    bp = {"address": 0xFFFFF45040FFCC00, "pfn": 0x3FF30, "flags": 0xFFFFFC0000000, "flags_decoded": "0",
          "mapcount": 0, "refcount": 0, "mapping": 0, "reason": "nonzero mapcount",
          "log_line": "page:(____ptrval____) refcount:0 mapcount:1 mapping:0000000000000000 index:0x0 pfn:0x3ff30"}
    a = {"stack": [{"function": "panic", "file": "kernel/panic.c"}, {"function": "bad_page", "file": "mm/x.c"},
                   {"function": "crashmod_bad_page", "module": "crashmod"}],
         "engines": {"drgn": {"engine": "drgn", "memstate": {"bad_page": bp}}}}
    [f] = [f for f in run_checks(a) if f["id"] == "bad-page"]
    assert f["title"] == ("bad page state: pfn 0x3ff30 (nonzero mapcount), freed by crashmod_bad_page(); in the "
                          "dump: flags 0xfffffc0000000 [no flag bits set], mapcount 0, refcount 0, mapping 0x0")
    assert any("resets it" in e for e in f["evidence"])


def _corpus_reports(corpus: Path, half: int) -> list[Any]:
    files = [f for f in sorted(corpus.rglob("*")) if f.is_file() and f.suffix not in (".md", ".jsonl", ".json")]
    out = []
    for f in files[half::2]:
        out += [r for r in parse(f.read_bytes()) if r.kind in ("null_deref", "paging_request", "gpf")
                and r.code and r.fault_address is not None and (r.arch or "x86_64") in ("x86_64", "i686")]
    return out


@pytest.mark.parametrize("half", [0, 1])
def test_corpus_code_lines_decode_to_the_fault_address(corpus: Path, half: int) -> None:
    """Each x86 bad access in the corpus: its Code: byte at RIP, decoded with the report's
    registers, names the address the header line gives (or an access that covers it).  Developed on
    half 0 (28 reports, 4 of them i386; 27 agree: the other is a GPF whose header names the list
    poison, 0x10 below the operand); half 1 (11 reports, all agree, one a 16-byte load crossing into
    the faulting page) checks it."""
    reports = _corpus_reports(corpus, half)
    assert len(reports) >= 8
    agree = 0
    for r in reports:
        acc = _access(None, r)
        assert acc is not None and acc.insn.mem is not None, r.title
        if acc.address is not None and acc.address <= r.fault_address < acc.address + acc.insn.mem.size:
            agree += 1
    assert agree >= 0.9 * len(reports)


@pytest.mark.parametrize("half", [0, 1])
def test_corpus_code_lines_parse_and_decode(corpus: Path, half: int) -> None:
    lines = []
    for f in sorted(corpus.rglob("*")):
        if f.is_file() and f.suffix not in (".md", ".jsonl", ".json"):
            lines += [ln[ln.index("Code: "):] for ln in f.read_text(errors="replace").splitlines()
                      if "Code: " in ln and "<" in ln]
    mine = lines[half::2]
    decoded = [i for c in mine if (cb := _insn.parse_code_line(c)) and (i := _insn.decode(cb.at_rip()))]
    assert len(mine) >= 100 and len(decoded) >= 0.97 * len(mine)
    assert sum(1 for i in decoded if i.mem is not None) >= 0.3 * len(decoded)


# --- lab dumps --------------------------------------------------------------------------------

LAB = [("6.1", None), ("6.12", "d23")]
SECTIONS = ("sys", "panic", "modules", "memory", "log", "fault", "memstate")
_cache: dict[tuple[Any, ...], Any] = {}


def _lab(lab: Any, kernel: str, kind: str, variant: str | None, with_ko: bool = True) -> Any:
    key = (kernel, kind, variant, with_ko)
    if key not in _cache:
        run = lab.crash(kernel, kind, variant=variant)
        mods = [run.dir / "crashmod.ko"] if with_ko and (run.dir / "crashmod.ko").exists() else []
        _cache[key] = analyze(run.path("rhel/vmcore"), vmlinux=run.vmlinux, engines=("drgn",), modules=mods,
                              sections=SECTIONS)
    return _cache[key]


def _finding(a: Any, fid: str) -> Any:
    found = [f for f in a.findings if f.id == fid]
    assert found, [f"{f.id}: {f.claim}" for f in a.findings]
    return found[0]


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize(("kernel", "variant"), LAB)
@pytest.mark.parametrize("with_ko", [True, False])
def test_lab_null(lab: Any, kernel: str, variant: str | None, with_ko: bool) -> None:
    a = _lab(lab, kernel, "null", variant, with_ko)
    f = _finding(a, "bad-access")
    assert f.culprit is not None and f.culprit.function == "crashmod_null"
    assert "movl $1, 0x20(%rax)" in f.evidence[0] and "RAX = 0;" in f.claim and "CR2 = 0x20" in f.claim
    if with_ko:
        assert "wrote obj->refcount with obj == NULL" in f.claim
        assert "offsetof(struct crashmod_obj, refcount)" in f.claim
    else:
        assert "wrote 4 bytes at NULL + 0x20" in f.claim
    assert a.engines["drgn"].timings["fault"] < 0.3


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize(("kernel", "variant"), LAB)
def test_lab_gpf_names_list_poison(lab: Any, kernel: str, variant: str | None) -> None:
    f = _finding(_lab(lab, kernel, "gpf", variant), "bad-access")
    assert f.claim.startswith("general protection fault: crashmod_gpf() wrote obj->refcount with obj == "
                              "LIST_POISON1 (0xdead000000000100)")
    bare = _finding(_lab(lab, kernel, "gpf", variant, with_ko=False), "bad-access")
    assert "LIST_POISON1 (0xdead000000000100) + 0x20" in bare.claim


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize(("kernel", "variant"), LAB)
def test_lab_uaf_names_the_object_and_cache(lab: Any, kernel: str, variant: str | None) -> None:
    a = _lab(lab, kernel, "uaf", variant)
    f = _finding(a, "use-after-free")
    assert "kmalloc-192" in f.claim and "was written after it was freed" in f.claim
    assert "0x4141414141414141" in f.claim  # what crashmod_uaf's memset left in the free pointer
    assert f.culprit is not None and f.culprit.function == "crashmod_uaf"
    assert any(e.startswith("now: kmalloc-192 object") for e in f.evidence)
    assert a.findings[0].id == "use-after-free"  # the cause before the fault it led to


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize(("kernel", "variant"), LAB)
def test_lab_list_corruption(lab: Any, kernel: str, variant: str | None) -> None:
    for with_ko in (True, False):
        f = _finding(_lab(lab, kernel, "list_corruption", variant, with_ko), "list-corruption")
        assert "list_del() of an entry already deleted" in f.claim and "kmalloc-64 object" in f.claim
        assert f.culprit is not None and f.culprit.function == "crashmod_list_corruption"


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize(("kernel", "variant"), LAB)
def test_lab_oom_names_the_hog(lab: Any, kernel: str, variant: str | None) -> None:
    a = _lab(lab, kernel, "oom", variant)
    f = _finding(a, "oom")
    assert f.culprit is not None and f.culprit.comm == "dd" and "oom_score_adj" in f.claim
    assert any(e.startswith("slab caches by size:") for e in f.evidence)
    assert a.engines["drgn"].timings["memstate"] < 0.3


@pytest.mark.lab
@pytest.mark.slow
@pytest.mark.parametrize(("kernel", "variant"), LAB)
def test_lab_bad_page(lab: Any, kernel: str, variant: str | None) -> None:
    f = _finding(_lab(lab, kernel, "bad_page", variant), "bad-page")
    assert "(nonzero mapcount)" in f.claim and "flags 0x" in f.claim and "mapcount " in f.claim
    assert f.culprit is not None and f.culprit.function == "crashmod_bad_page"
