"""Similar buckets across kernels: the same bug on another kernel ranks first, also when inlining or a
renamed helper changes its stack, and the kept lab logs of 6.1 and 6.12 find each other."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from tests.labdata import LOGS

from crashhub.classify import signature
from crashhub.classify._similarity import Profile, fold, likeness, profile, rank
from crashhub.kernel import base_name
from crashhub.model import CrashReport, Frame
from crashhub.triage import parse_file

KINDS = sorted(p.name.removesuffix("-1.vmcore-dmesg.txt").split("-", 1)[1]
               for p in Path(LOGS).glob("6.12-*-1.vmcore-dmesg.txt"))


def _report(kernel: str, kind: str) -> CrashReport:
    return parse_file(Path(LOGS) / f"{kernel}-{kind}-1.vmcore-dmesg.txt")[0]


def _profile(name: str, report: CrashReport) -> Profile:
    module = report.guilty.module if report.guilty else None
    return profile(name, signature(report), module=module, release=report.release)


def _buckets(kernel: str) -> list[Profile]:
    return [_profile(f"{kernel}/{k}", _report(kernel, k)) for k in KINDS]


def test_names_fold_across_kernel_versions() -> None:
    assert fold("vma_alloc_folio_noprof") == "vma_alloc_folio"  # 6.10's allocation profiling
    assert fold("_do_fork") == "kernel_clone" and fold("page_fault") == "asm_exc_page_fault"
    assert fold("vfs_write") == "vfs_write"


@pytest.mark.parametrize("kind", KINDS)
def test_the_kept_6_12_bucket_of_a_6_1_bug_ranks_first(kind: str) -> None:
    """The lab's 6.1 and 6.12 logs of one kind: one bug, two kernels (the 6.12 OOM's stack gains
    do_anonymous_page and vma_alloc_folio_noprof)."""
    me = _profile("6.1/" + kind, _report("6.1", kind))
    (best, why), *_ = rank(me, _buckets("6.12"))
    assert best.bucket == f"6.12/{kind}", (best.bucket, why)


def _drift(report: CrashReport) -> CrashReport:
    """The report as another kernel might print it: the frame above the guilty one inlined away,
    and every frame below renamed with 6.10's ``_noprof``."""
    frames = [f for f in report.frames if f.function]
    guilty = report.guilty.function if report.guilty else None
    # Where the bucket's stack starts: the guilty frame, or (an NMI's guilty function comes from
    # another CPU's dump) the first frame the signature keeps.
    start = signature(report).stack[:1]
    at = next((i for i, f in enumerate(frames) if f.function == guilty), -1)
    if at < 0:
        at = next((i for i, f in enumerate(frames) if (base_name(f.function),) == start), -1)
    kept = [f for i, f in enumerate(frames) if i != at + 1]
    renamed = tuple(replace(f, function=f"{f.function}_noprof") if i > at + 1 else f
                    for i, f in enumerate(kept))
    return replace(report, frames=renamed)


# The kinds whose profile holds a stack (stalls, hangs and OOMs compare by guilty, title and kind).
STACKED = [k for k in KINDS if _profile(k, _report("6.1", k)).stack]


@pytest.mark.parametrize("kind", STACKED)
def test_a_bug_whose_stack_drifted_still_ranks_first(kind: str) -> None:
    report = _report("6.1", kind)
    me = _profile("6.1/" + kind, report)
    drifted = _profile("later/" + kind, _drift(report))
    assert drifted.stack != me.stack
    (best, why), *_ = rank(me, [drifted, *(b for b in _buckets("6.1") if b.bucket != me.bucket)])
    assert best.bucket == drifted.bucket, (best.bucket, why)


def test_the_parts_say_why() -> None:
    a = _profile("a", _report("6.1", "oom"))
    b = _profile("b", _report("6.12", "oom"))
    why = likeness(a, b)
    assert why.stack is None  # an OOM's stack is whichever task asked last: left out
    assert (why.guilty, why.title, why.kind, why.score) == (1.0, 1.0, 1.0, 1.0)
    null, gpf = _profile("n", _report("6.1", "null")), _profile("g", _report("6.1", "gpf"))
    other = likeness(null, gpf)
    assert other.guilty == 0.0 and other.stack == 1.0 and other.score < 0.5  # same path, another bug
    assert rank(null, [gpf]) == []
    renamed = replace(null, bucket="r", guilty="crashmod_null2", title=null.title + "2")
    assert rank(null, [renamed]) != []  # the same bug under a renamed guilty function still shows


def test_a_missing_part_is_left_out_not_counted_against() -> None:
    base = Profile("a", "warning", "WARNING in f", guilty="f", stack=("f", "g"))
    bare = replace(base, bucket="b", stack=())
    assert likeness(base, bare).stack is None and likeness(base, bare).score == 1.0
    renamed = replace(base, bucket="c", guilty="f2")
    assert likeness(base, renamed).score < likeness(base, bare).score


def test_a_guilty_function_of_another_module_is_half_a_match() -> None:
    a = Profile("a", "null_deref", "BUG: NULL in f", guilty="f", module="m1")
    assert likeness(a, replace(a, bucket="b", module="m2")).guilty == 0.5


def test_report_frames_are_used_as_the_signature_gives_them() -> None:
    r = CrashReport(kind="warning", title="WARNING in f",
                    guilty=Frame("f"), frames=(Frame("f"), Frame("vma_alloc_folio_noprof"), Frame("g")))
    assert _profile("x", r).stack == ("f", "vma_alloc_folio", "g")
