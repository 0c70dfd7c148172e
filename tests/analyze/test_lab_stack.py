"""The panic stack on real lab dumps analysed without the module's .ko, and module debuginfo from the
debuginfo store.

The lab's ``null`` kind oopses in ``crashmod_null`` (an out-of-tree module).  Without its .ko drgn has
neither DWARF nor symbols for the module's code; the stack must still name every frame the log's
Call Trace names (from the dump's kallsyms, else the log), on 6.1 and on 6.12 (d23: -d 31 drops
the task's pages there).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crashhub.analyze import analyze
from crashhub.analyze._drgn_engine import log_stack
from crashhub.analyze._stackmerge import named_count
from crashhub.debuginfo import DebuginfoStore
from crashhub.errors import DebuginfoError

pytestmark = [pytest.mark.lab, pytest.mark.slow]


@pytest.mark.parametrize(("kernel", "variant"), [("6.1", None), ("6.12", "d23")])
def test_null_without_ko_names_every_frame_the_log_names(lab: Any, kernel: str, variant: str | None) -> None:
    run = lab.crash(kernel, "null", variant=variant)
    r = analyze(run.path("rhel/vmcore"), vmlinux=run.vmlinux, engines=("drgn",)).to_dict()
    assert r["engines"]["drgn"]["ok"], r["engines"]["drgn"].get("failure")
    stack = r["stack"]
    top = stack[0]
    assert top["function"] == "crashmod_null" and top["module"] == "crashmod"
    assert top["name_from"] in ("kallsyms", "log")
    assert top["address"] is not None or top.get("source") == "log"
    logged = log_stack(None, r["log"], r["panic_task"]["pid"])
    assert named_count(stack) >= named_count(logged), ([f["function"] for f in stack], logged)
    names = [f["function"] for f in stack]
    assert names.index("crashmod_write") < names.index("vfs_write") < names.index("ksys_write")
    # Every frame says where its name came from.
    assert all(f["name_from"] in ("dwarf", "symbol", "kallsyms", "log") for f in stack if
               not str(f["function"]).startswith("0x"))
    if r["stack_source"] == "log":  # the task was not unwound: the analysis says why
        assert r["stack_note"] and "from the log" in r["stack_note"]


def test_module_debuginfo_from_the_store(lab: Any, tmp_path: Path) -> None:
    run = lab.crash("6.1", "null")
    ko = run.dir / "crashmod.ko"
    store = DebuginfoStore(tmp_path / "di")
    store.import_path(run.vmlinux)
    with pytest.raises(DebuginfoError, match="kernel module"):
        store.import_path(ko)
    m = store.import_module(ko)
    assert m.name == "crashmod" and m.path.is_file() and m.release == run.manifest["kernel"]["release"]
    assert store.import_module(ko) == m  # the same build again: one file
    assert [x.build_id for x in store.modules()] == [m.build_id] and len(store.list()) == 1
    assert store.gc() == []  # the modules directory is no broken entry
    r = analyze(run.path("rhel/vmcore"), debuginfo_dir=store.root, engines=("drgn",)).to_dict()
    top = r["stack"][0]
    assert (top["function"], top["name_from"]) == ("crashmod_null", "dwarf")
    assert top["file"] == "crashmod/crashmod.c"
    assert r["stack_source"] == "unwind" and "stack_note" not in r
    assert next(x for x in r["modules"] if x["name"] == "crashmod")["debuginfo"] is True
