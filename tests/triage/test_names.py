"""Class 9 of issue 16: mangled names in frames, and the function a Rust panic names.

kallsyms prints C++ (Itanium ABI) and Rust (v0, and the older Itanium-shaped "legacy") symbols
mangled; crashhub.kernel.demangle reads them back to the qualified name alone.  A Rust panic goes
through core::panicking and rust_helper_BUG before the "kernel BUG" it ends in: the function that
panicked is the first frame under that machinery.  Cases: syzkaller's real Android 6.12 Rust panic
(read in place, also its golden case), the same report in the pre-1.73 Rust wording, and the lab's
real 6.1 NULL dereference with its module function renamed to C++ mangled names.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.corpus_cases import syzkaller_log
from tests.labdata import LOGS

from crashhub.classify import signature
from crashhub.kernel import base_name, demangle
from crashhub.triage import parse
from crashhub.triage._frames import parse_frame, parse_rip

MMAP = "<ashmem_rust::Ashmem as kernel::miscdevice::MiscDevice>::mmap"


@pytest.mark.parametrize(
    ("mangled", "name"),
    [
        # Rust v0, from syzkaller's case 749 (Android 6.12): trait impls, crate roots, backrefs.
        ("_RNvXs1_CscPPBqWtAqum_11ashmem_rustNtB5_6AshmemNtNtCs43vyB533jt3_6kernel10miscdevice10MiscDevice4mmap",
         MMAP),
        ("_RNvNtNtCs9jEwPDbx20M_4core9panicking11panic_const24panic_const_add_overflow",
         "core::panicking::panic_const::panic_const_add_overflow"),
        ("_RNvCscSpY9Juk0HT_7___rustc17rust_begin_unwind", "__rustc::rust_begin_unwind"),
        ("_RNvXs1b_NtCs9jEwPDbx20M_4core3fmtRNtNtNtB8_5panic10panic_info9PanicInfoNtB6_7Display3fmt"
         "Cs43vyB533jt3_6kernel", "<&core::panic::panic_info::PanicInfo as core::fmt::Display>::fmt"),
        # Itanium C++: nested names, const members, constructors, destructors, templates, std::.
        ("_ZN7android6binder5Proxy4callEv", "android::binder::Proxy::call"),
        ("_ZNK3Foo3barEi", "Foo::bar"),
        ("_ZN3FooC2ERKS_", "Foo::Foo"),
        ("_ZN3FooD1Ev", "Foo::~Foo"),
        ("_ZN5outer5innerIiE3getEv", "outer::inner::get"),
        ("_ZNSt6vector4pushEv", "std::vector::push"),
        ("_ZN3FooclEv", "Foo::operator()"),
        ("_Z3foov", "foo"),
        # Rust legacy (Itanium-shaped, a hash as last component, $..$ escapes).
        ("_ZN6kernel5print11call_printk17h0123456789abcdefE", "kernel::print::call_printk"),
        # Clone suffixes stay for base_name; anything else, or anything unreadable, is kept as is.
        ("_ZN3foo3barEv.cold", "foo::bar.cold"),
        ("crashmod_null", "crashmod_null"),
        ("_ZNgarbage", "_ZNgarbage"),
        ("_RNvCs123", "_RNvCs123"),
    ],
)
def test_demangle(mangled: str, name: str) -> None:
    assert demangle(mangled) == name


def test_frames_are_read_demangled() -> None:
    f = parse_frame(" _RNvNtCs9jEwPDbx20M_4core9panicking9panic_fmt+0x84/0x90")
    assert f is not None and (f.function, f.offset) == ("core::panicking::panic_fmt", 0x84)
    f = parse_frame(" ? _ZN3foo3barEv.isra.0+0x1c/0x40 [foomod]")
    assert f is not None and f.function == "foo::bar.isra.0" and base_name(f.function) == "foo::bar"
    r = parse_rip("RIP: 0010:_ZN8crashmod4nullEv+0x11/0x20 [crashmod]")
    assert r is not None and (r.function, r.module) == ("crashmod::null", "crashmod")


def _rust_panic(corpus: Path) -> str:
    return syzkaller_log(corpus / "syzkaller" / "linux" / "report" / "749").decode()


def test_rust_panic_names_the_panicking_function(corpus: Path) -> None:
    r = parse(_rust_panic(corpus))[0]
    assert r.title == f"attempt to add with overflow in {MMAP}"
    assert r.guilty is not None and r.guilty.function == MMAP and r.kind == "bug" and r.fatal
    assert len(parse(_rust_panic(corpus))) == 1  # the kernel BUG and its die() line join the panic


def test_rust_panic_before_rust_1_73(corpus: Path) -> None:
    """Rust < 1.73 printed "panicked at 'MESSAGE', FILE:LINE:COL" on one line."""
    lines = _rust_panic(corpus).splitlines()
    at = next(i for i, ln in enumerate(lines) if "panicked at" in ln)
    head, _, where = lines[at].partition("panicked at ")
    message = lines[at + 1].split("] ", 1)[1]
    old = [*lines[:at], f"{head}panicked at '{message}', {where.rstrip(':')}", *lines[at + 2 :]]
    r = parse("\n".join(old) + "\n")[0]
    assert r.title == f"attempt to add with overflow in {MMAP}"


@pytest.mark.parametrize("mangled", ["_ZN8crashmod4nullEv", "_ZN8crashmod4nullEv.isra.0"])
def test_a_cpp_module_function_is_named_and_bucketed_by_its_name(mangled: str) -> None:
    text = (LOGS / "6.1-null-1.vmcore-dmesg.txt").read_text()
    renamed = parse(text.replace("crashmod_null+", f"{mangled}+"))[0]
    assert renamed.title == "BUG: unable to handle kernel NULL pointer dereference in crashmod::null"
    assert renamed.guilty is not None and renamed.guilty.module == "crashmod"
    plain = parse(text.replace("crashmod_null+", "_ZN8crashmod4nullEv+"))[0]
    assert signature(renamed).key == signature(plain).key
