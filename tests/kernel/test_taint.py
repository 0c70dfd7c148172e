"""crashhub.kernel's taint table: every flag kernel/panic.c defines, in its order, J included."""

from __future__ import annotations

from crashhub.kernel import TAINT, TAINT_FLAGS, TAINT_LETTERS, TaintFlag


def test_the_kernel_order_and_bits() -> None:
    # kernel/panic.c taint_flags[], TAINT_PROPRIETARY_MODULE (0) .. TAINT_FWCTL (19)
    assert TAINT_LETTERS == "PFSRMBUDAWCIOELKXTNJ"
    assert [f.bit for f in TAINT_FLAGS] == list(range(20))
    names = (TAINT["P"].name, TAINT["O"].name, TAINT["E"].name)
    assert names == ("PROPRIETARY_MODULE", "OOT_MODULE", "UNSIGNED_MODULE")
    assert (TAINT["J"].bit, TAINT["J"].name) == (19, "FWCTL")
    assert {"J", "T", "N", "X"} <= set(TAINT)
    assert "G" not in TAINT  # P's "not set" letter


def test_both_old_tables_wordings_survive() -> None:
    # triage's (tainted-kernels.rst) and analyze's short labels
    assert TAINT["O"].meaning == "externally-built (out-of-tree) module was loaded"
    assert TAINT["O"].short == "out-of-tree module loaded"
    assert TAINT["D"].short == "kernel died recently (OOPS or BUG)"
    assert all(f.meaning and f.short for f in TAINT_FLAGS)


def test_round_trip() -> None:
    for f in TAINT_FLAGS:
        assert TaintFlag.from_dict(f.to_dict()) == f
