"""Class 3 of issue 16: ``BUG: Bad page state`` names the caller of the page-freeing frames.

With page_owner (syzkaller's kernels) the report prints the page's allocation stack and the title
names its owner.  Distribution kernels run without it: the report is the page dump and the stack of
the free that found the bad state, ``bad_page`` then the allocator's freeing frames (6.1:
``free_pcp_prepare``/``__free_pages_ok``, 6.12: ``free_pages_prepare``/``free_unref_folios``) and
then the function that freed the page.  The lab's real 6.1 report and the syzkaller corpus's three
reports (x86_64 and riscv, read in place) with their page_owner lines taken out, as a kernel
without page_owner prints them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.corpus_cases import syzkaller_log
from tests.labdata import LOGS

from crashhub.triage import parse


def test_lab_bad_page_without_page_owner() -> None:
    (r,) = parse((LOGS / "6.1-bad_page-1.vmcore-dmesg.txt").read_bytes())
    assert (r.kind, r.title) == ("bad_page", "BUG: Bad page state in crashmod_bad_page")
    assert r.guilty is not None and r.guilty.module == "crashmod"
    assert r.fatal and r.panic_message == "Kernel panic - not syncing: panic_on_taint set ..."
    assert not r.corrupted


def _without_page_owner(text: str) -> str:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if "page_owner tracks the page" in ln)
    end = next(i for i, ln in enumerate(lines) if "Modules linked in:" in ln)
    return "\n".join(lines[:start] + lines[end:]) + "\n"


# case -> (the owner page_owner names, the caller of the freeing frames)
SYZKALLER = {
    "725": ("__get_metapage", "shmem_get_folio_gfp"),  # free_unref_folios, folios_put_refs, folio_*
    "726": ("bpf_test_run_xdp_live", "skb_release_data"),  # free_unref_page
    "729": ("xdp_test_run_batch", "skb_free_head"),  # riscv: free_unref_page, page_frag_free
}


@pytest.mark.parametrize("case", sorted(SYZKALLER))
def test_syzkaller_reports_with_and_without_page_owner(corpus: Path, case: str) -> None:
    text = syzkaller_log(corpus / "syzkaller" / "linux" / "report" / case).decode()
    owner, freer = SYZKALLER[case]
    assert parse(text)[0].title == f"BUG: Bad page state in {owner}"
    r = parse(_without_page_owner(text))[0]
    assert r.title == f"BUG: Bad page state in {freer}" and not r.corrupted
