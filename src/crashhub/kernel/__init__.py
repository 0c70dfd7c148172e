"""The kernel's vocabulary, in one place: function names (clone suffixes, C++/Rust mangling), the frame
skip list, taint flags, releases and kdump's crash-directory layouts.

Pure (standard library only, no I/O): every other package (triage, classify, analyze, kb, dump,
ingest, the agent) asks this one what a kernel name, letter or release means, so the answers agree.

Names load on first use (PEP 562 ``__getattr__``): ``crashhub dump dmesg`` takes ``kernel_version``
and must not pay for ``re`` or ``dataclasses`` at start-up (tests/dump/test_cli.py).
"""

from __future__ import annotations

from crashhub._face import face

# Not typing.TYPE_CHECKING: importing typing is what the lazy loading avoids.  mypy treats any name
# TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from crashhub.kernel._demangle import demangle
    from crashhub.kernel._functions import (
        SKIP,
        SKIP_GROUPS,
        STRIP_PREFIXES,
        base_name,
        compile_skip,
        skipped,
        strip_prefix,
    )
    from crashhub.kernel._layouts import (
        DUMP_NAME,
        CrashFiles,
        DirName,
        Layout,
        crash_files,
        is_dump_name,
        is_incomplete,
        is_kexec_log,
        is_named_log,
        is_split_part,
        layout_of,
        log_name,
        parse_dir_name,
    )
    from crashhub.kernel._release import MAX_RELEASE_LEN, Release, parse_release, vercmp
    from crashhub.kernel._taint import TAINT, TAINT_FLAGS, TAINT_LETTERS, TaintFlag
    from crashhub.kernel._version import kernel_version

_WHERE = {
    "DUMP_NAME": "_layouts",
    "CrashFiles": "_layouts",
    "DirName": "_layouts",
    "Layout": "_layouts",
    "crash_files": "_layouts",
    "is_dump_name": "_layouts",
    "is_incomplete": "_layouts",
    "is_kexec_log": "_layouts",
    "is_named_log": "_layouts",
    "is_split_part": "_layouts",
    "layout_of": "_layouts",
    "log_name": "_layouts",
    "parse_dir_name": "_layouts",
    "demangle": "_demangle",
    "SKIP": "_functions",
    "SKIP_GROUPS": "_functions",
    "STRIP_PREFIXES": "_functions",
    "base_name": "_functions",
    "compile_skip": "_functions",
    "skipped": "_functions",
    "strip_prefix": "_functions",
    "MAX_RELEASE_LEN": "_release",
    "Release": "_release",
    "parse_release": "_release",
    "vercmp": "_release",
    "TAINT": "_taint",
    "TAINT_FLAGS": "_taint",
    "TAINT_LETTERS": "_taint",
    "TaintFlag": "_taint",
    "kernel_version": "_version",
}

__all__ = [
    "DUMP_NAME",
    "MAX_RELEASE_LEN",
    "SKIP",
    "SKIP_GROUPS",
    "STRIP_PREFIXES",
    "TAINT",
    "TAINT_FLAGS",
    "TAINT_LETTERS",
    "CrashFiles",
    "DirName",
    "Layout",
    "Release",
    "TaintFlag",
    "base_name",
    "compile_skip",
    "crash_files",
    "demangle",
    "is_dump_name",
    "is_incomplete",
    "is_kexec_log",
    "is_named_log",
    "is_split_part",
    "kernel_version",
    "layout_of",
    "log_name",
    "parse_dir_name",
    "parse_release",
    "skipped",
    "strip_prefix",
    "vercmp",
]


__getattr__ = face(globals(), {name: f"crashhub.kernel.{where}" for name, where in _WHERE.items()})
