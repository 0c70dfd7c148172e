"""Deep analysis of real lab dumps (Debian 6.1 and 6.12 cloud kernels crashed in QEMU).

Checked against what the lab knows independently of the dump (its manifest's ``expected``:
the trigger's pid/comm, the guilty function) and against the lab's own module source for
file:line.  crash runs where it can open the dump (6.1) and must agree with drgn on the
panic task and top frames; on 6.12 it cannot, and the analysis must say why.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from crashhub.analyze import _crash_engine as crash_engine
from crashhub.analyze import _drgn_engine as drgn_engine
from crashhub.analyze import analyze
from crashhub.analyze._checks import PARTIAL_FIX
from crashhub.debuginfo import DebuginfoStore
from crashhub.errors import DebuginfoError

REPO = Path(__file__).resolve().parents[2]
MODULE_SRC = REPO / "src" / "crashhub" / "readiness" / "crashmod" / "crashmod.c"
KINDS = ("sysrq", "null", "bug", "gpf", "warn", "softlockup", "hung", "oom", "rcu_stall",
         "stack_overflow", "list_corruption", "uaf")
_cache: dict[tuple[Any, ...], dict[str, Any]] = {}

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def _analyze(lab: Any, kernel: str, kind: str, *, variant: str | None = None, dump: str = "rhel/vmcore",
             engines: tuple[str, ...] = ("drgn",)) -> tuple[Any, dict[str, Any]]:
    run = lab.crash(kernel, kind, variant=variant)
    key = (kernel, kind, variant, dump, engines)
    if key not in _cache:
        mod = run.dir / "crashmod.ko"
        _cache[key] = analyze(run.path(dump), vmlinux=run.vmlinux, engines=engines,
                              modules=[mod] if mod.exists() else [], source_dirs=[module_source(run).parent],
                              timeout=600).to_dict()
    return run, _cache[key]


def function_lines(src: Path, name: str) -> range:
    """The lines (1-based) of a C function's body in ``src``."""
    lines = src.read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if re.search(rf"\b{name}\s*\(", ln)
                 and not ln.rstrip().endswith(";") and not ln.startswith((" ", "\t")))
    end = next(i for i in range(start, len(lines)) if lines[i] == "}")
    return range(start + 1, end + 2)


def module_source(run: Any) -> Path:
    """The crashmod.c the run's module was built from (the lab keeps each build by source hash;
    the repo's copy may have moved on since the run was made)."""
    ko = run.dir / "crashmod.ko"
    release = run.manifest["kernel"]["release"]
    build = run.dir.parents[3] / "build" / release
    if ko.exists():
        data = ko.read_bytes()
        for cand in sorted(build.glob("crashmod-*/crashmod.ko")):
            if cand.read_bytes() == data and (cand.parent / "crashmod.c").exists():
                return cand.parent / "crashmod.c"
    return MODULE_SRC


def _functions(r: dict[str, Any], n: int = 40) -> list[str]:
    return [str(f["function"]) for f in r["stack"][:n]]


def _guilty_stack(run: Any, r: dict[str, Any]) -> list[dict[str, Any]]:
    """Where the guilty function shows: the panic stack, or for a hung task (the panic is in
    khungtaskd) the blocked task's stack."""
    if run.manifest["kind"] == "hung":
        pid = run.manifest["expected"]["trigger_pid"]
        return next(d["stack"] for d in r["dstate"] if d["pid"] == pid)
    return list(r["stack"])


def _check_expected(run: Any, r: dict[str, Any]) -> None:
    exp = run.manifest["expected"]
    pt = r["panic_task"]
    if exp.get("pid") is not None:
        assert pt["pid"] == exp["pid"]
    if exp.get("comm") is not None:
        assert pt["comm"] == exp["comm"]
    guilty = exp.get("guilty_function")
    if guilty:
        stack = _guilty_stack(run, r)
        names = [f["function"] for f in stack]
        src = module_source(run)
        if guilty not in names and run.manifest["kind"] == "hung" and "mutex_unlock" not in src.read_text():
            # Modules built before the lab's fix: the second mutex_lock() was a tail call, so the
            # blocked task's stack goes from the mutex straight to crashmod_write.
            guilty = "crashmod_write"
            assert any("mutex_lock" in str(n) for n in names)
        assert guilty in names, f"{guilty} not in {names}"
        frame = next(f for f in stack if f["function"] == guilty)
        if frame.get("file") == "crashmod/crashmod.c":
            # file:line of the guilty frame, checked against the module's own source.
            assert frame["file"] == "crashmod/crashmod.c"
            assert frame["line"] in function_lines(src, guilty), (frame, src)
            snip = next((s for s in r["sources"] if s["function"] == guilty), None)
            if snip is not None:  # snippets are made for the panic stack's first frames
                assert snip["source"] == str(src.resolve())
                assert snip["text"] == src.read_text().splitlines()[frame["line"] - 1]
        else:
            assert frame["file"] and frame["line"]


@pytest.mark.parametrize("kind", KINDS)
def test_61_drgn_and_crash_agree(lab: Any, kind: str) -> None:
    run, r = _analyze(lab, "6.1", kind, engines=("drgn", "crash"))
    assert r["engine"] == "drgn" and r["engines"]["drgn"]["ok"], r["engines"]["drgn"].get("failure")
    assert r["stack_source"] == "unwind" and r["tasks"] > 20
    _check_expected(run, r)
    assert r["versions"] == {"drgn": "0.3.0", "crash": "8.0.2"} and r["crash_mode"] == "normal"
    agree = r["agreement"]
    assert agree["pid"] and agree["comm"], (r["panic_task"], r["engines"]["crash"].get("panic_task"))
    assert agree["frames"]["same"], agree["frames"]
    # Where crash is wrong: 8.0.2 loses this kernel's PID hash and counts 3 tasks (drgn: dozens).
    assert agree["tasks"]["crash"] < agree["tasks"]["drgn"]
    assert any("PID hash" in w for w in r["engines"]["crash"]["warnings"])
    for cmd in ("sys", "bt", "bt -a", "log", "ps", "mod", "kmem -i", "runq"):
        assert cmd in r["engines"]["crash"]["outputs"]


@pytest.mark.parametrize("kind", KINDS)
def test_612_d23_drgn(lab: Any, kind: str) -> None:
    run, r = _analyze(lab, "6.12", kind, variant="d23")
    assert r["engines"]["drgn"]["ok"] and r["stack_source"] == "unwind"
    _check_expected(run, r)
    assert not [f for f in r["findings"] if f["id"] == "dump-partial"]


@pytest.mark.parametrize("kind", ("null", "sysrq", "hung"))
def test_612_d31_is_partial_and_crash_cannot_open(lab: Any, kind: str) -> None:
    run, r = _analyze(lab, "6.12", kind, engines=("drgn", "crash"))
    [partial] = [f for f in r["findings"] if f["id"] == "dump-partial"]
    assert partial["title"] == PARTIAL_FIX and partial["severity"] == "error"
    # Which reads hit the left-out pages varies by boot (where the slab pages fell): a section's
    # error names them, or only the engine's count of excluded-page reads says it.
    assert any("Excluded page" in e for e in partial["evidence"]) or re.match(
        r"[1-9]\d* reads hit pages the dump left out", partial["detail"]), partial
    crash = r["engines"]["crash"]
    assert crash["mode"] == "--minimal" and "newer crash" in crash["failure"]
    assert "module_core_size" in crash["failure"] and "Linux version 6.12" in crash["outputs"]["log"]
    # Still answered from the log and the pages that are there.
    exp = run.manifest["expected"]
    assert r["panic_message"] and r["log"]
    if exp.get("pid") is not None:
        assert r["panic_task"]["pid"] == exp["pid"]
    if kind == "hung":
        # The blocked task's stack is in slab-backed memory the dump lost (or not): either way
        # one finding names the task (the log's "comm:pid", or the wait chain's "comm (pid)").
        [f] = [f for f in r["findings"] if f["id"] in ("hung-task", "deadlock")]
        assert re.search(rf"[:(]{exp['trigger_pid']}[ )]", f["title"]), f["title"]
    elif exp.get("guilty_function"):
        assert exp["guilty_function"] in _functions(r)


def test_findings_hung_softlockup_oom(lab: Any) -> None:
    run, r = _analyze(lab, "6.1", "hung")
    # The wait chain (tests/analyze/test_diag_waits.py) names the self-deadlock in place of the
    # log-only "hung-task" finding.
    [f] = [f for f in r["findings"] if f["id"] in ("hung-task", "deadlock")]
    pid = run.manifest["expected"]["trigger_pid"]
    assert f"sh ({pid}) waits for mutex crashmod_lock in crashmod_hung" in f["title"]
    assert f["id"] == "deadlock" and f["title"].startswith("self-deadlock:")
    run, r = _analyze(lab, "6.1", "softlockup")
    [f] = [f for f in r["findings"] if f["id"] == "soft-lockup"]
    cpu = int(re.search(r"soft lockup - CPU#(\d+)", r["log"]).group(1))
    assert f"CPU {cpu} " in f["title"] and "crashmod_spin" in f["title"]
    run, r = _analyze(lab, "6.1", "oom")
    [f] = [f for f in r["findings"] if f["id"] == "oom"]
    assert "panicked on OOM" in f["title"] and "biggest user dd:" in f["title"]
    assert any(e.startswith("memory: total") for e in f["evidence"])


@pytest.mark.parametrize("dump", ["rhel-ssh/vmcore.flat", "elf/vmcore", "debian/dump"])
def test_other_layouts(lab: Any, dump: str) -> None:
    run, r = _analyze(lab, "6.1", "null", dump=dump)
    _check_expected(run, r)


def test_mismatching_vmlinux_refused(lab: Any) -> None:
    r61 = lab.crash("6.1", "null")
    r612 = lab.crash("6.12", "null")
    with pytest.raises(DebuginfoError, match="build-id mismatch"):
        analyze(r61.path("rhel/vmcore"), vmlinux=r612.vmlinux)


def test_store_backed(lab: Any, tmp_path: Path) -> None:
    run = lab.crash("6.1", "bug")
    store = DebuginfoStore(tmp_path / "di")
    store.import_path(run.vmlinux)
    store.import_source(module_source(run).parent, run.manifest["kernel"]["release"])
    r = analyze(run.path("rhel/vmcore"), debuginfo_dir=store.root, engines=("drgn",),
                modules=[run.dir / "crashmod.ko"]).to_dict()
    assert r["debuginfo"]["ok"] and r["debuginfo"]["by"] == "build-id"
    _check_expected(run, r)
    # Without the matching kernel in the store: said plainly, and the log is still read.
    other = DebuginfoStore(tmp_path / "empty")
    r = analyze(run.path("rhel/vmcore"), debuginfo_dir=other.root, engines=("drgn",)).to_dict()
    assert not r["debuginfo"]["ok"] and "no debuginfo" in r["engines"]["drgn"]["failure"]
    assert r["engine"] == "log" and r["panic_task"]["pid"] == run.manifest["expected"]["pid"]


@pytest.mark.parametrize("dump", ["qemu/dump.kdump-zlib", "qemu/dump.elf"])
def test_qemu_dumps(lab: Any, dump: str) -> None:
    # QEMU's dump-guest-memory: taken after the panic ran, so the crashed task sits in panic()'s
    # delay loop; its kdump-zlib file names no architecture (drgn is given the host's).
    run, r = _analyze(lab, "6.1", "null", variant="qemu", dump=dump)
    assert r["engines"]["drgn"]["ok"] and r["tasks"] > 20
    exp = run.manifest["expected"]
    if exp.get("pid") is not None:
        assert r["panic_task"]["pid"] == exp["pid"]
    names = _functions(r)
    assert "panic" in names and "crashmod_null" in names


def test_engines_under_tight_limits(lab: Any) -> None:
    run = lab.crash("6.1", "null")
    dump = run.path("rhel/vmcore")
    for mem in (150 << 20, 400 << 20):  # dies loading drgn itself / mapping the vmlinux
        r = drgn_engine.run(dump, run.vmlinux, mem_bytes=mem)
        assert not r["ok"] and "memory limit" in r["failure"] and "raise the limit" in r["failure"]
    r = drgn_engine.run(dump, run.vmlinux, timeout=0.05)  # Python alone takes longer to start
    assert not r["ok"] and "0.05 s time limit" in r["failure"]
    c = crash_engine.run(dump, run.vmlinux, mem_bytes=200 << 20, timeout=120)
    assert c["mode"] != "normal" and "memory limit 0.2 GiB" in c["failure"]
