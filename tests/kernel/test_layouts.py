"""crashhub.kernel layouts: the cases of the three recognisers it replaced (agent/scan,
ingest/layouts, commands/triage), over names alone."""

from __future__ import annotations

from crashhub.kernel import (
    CrashFiles,
    DirName,
    crash_files,
    is_dump_name,
    is_incomplete,
    is_split_part,
    layout_of,
    log_name,
    parse_dir_name,
)


def test_directory_names() -> None:
    rh = parse_dir_name("127.0.0.1-2026-11-26-04:59:39")
    assert rh == DirName("rhel", "127.0.0.1", "2026-11-26-04:59:39") and rh.time() == 1795669179.0
    assert parse_dir_name("fe80::1-2026-11-26-04:59:39") == DirName("rhel", "fe80::1", "2026-11-26-04:59:39")
    deb = parse_dir_name("web-7-202611260459")
    assert deb == DirName("debian", "web-7", "202611260459") and deb.time() == 1795669140.0
    assert parse_dir_name("202611260459") == DirName("debian", None, "202611260459")
    # shaped like a stamp, not a time: the name is recognised, its time is not
    bad = parse_dir_name("h-2026-11-26-99:99:99")
    assert bad is not None and bad.time() is None
    for other in ("random", "2026-11-26", "20261126045", "h-2026-11-26-04:59"):
        assert parse_dir_name(other) is None, other
    for d in (rh, deb, bad):
        assert d is not None and DirName.from_dict(d.to_dict()) == d


def test_layout_from_file_names() -> None:
    assert layout_of(["vmcore-dmesg.txt", "vmcore"]) == "rhel"
    assert layout_of(["vmcore.flat"]) == "rhel"
    assert layout_of(["vmcore-incomplete"]) == "rhel"
    assert layout_of(["dmesg.202611260459", "dump.202611260459"]) == "debian"
    assert layout_of(["dump-incomplete"]) == "debian"
    assert layout_of(["notes.txt"]) is None


def test_work_in_progress_and_dump_names() -> None:
    for wip in ("vmcore-incomplete", "vmcore-dmesg-incomplete.txt", "dump-incomplete"):
        assert is_incomplete(wip)
    assert not is_incomplete("vmcore") and not is_incomplete("incomplete_notes.txt")
    for dump in ("vmcore", "vmcore.flat", "vmcore.1", "vmcore.202611260459", "dump.202611260459",
                 "dump.202611260459.xz"):
        assert is_dump_name(dump), dump
    for other in ("vmcore-dmesg.txt", "dmesg.202611260459", "dump.2026"):
        assert not is_dump_name(other), other
    assert is_split_part("vmcore.2") and not is_split_part("vmcore.flat")


def test_the_crash_log_of_a_directory() -> None:
    # commands/triage: the RHEL log, then an interrupted one, then the newest dmesg.<stamp>
    assert log_name(["vmcore", "vmcore-dmesg.txt", "kexec-dmesg.log"]) == "vmcore-dmesg.txt"
    assert log_name(["vmcore-dmesg-incomplete.txt"]) == "vmcore-dmesg-incomplete.txt"
    assert log_name(["dmesg.202611260459", "dmesg.202611270101", "dump.202611270101"]) == "dmesg.202611270101"
    assert log_name(["kexec-dmesg.log", "dmesg.txt"]) is None


def test_the_roles_of_a_finished_directory() -> None:
    # agent/scan: RHEL takes vmcore before vmcore.flat; Debian takes only its own stamp
    rh = DirName("rhel", "127.0.0.1", "2026-11-26-04:59:39")
    assert crash_files(rh, ["vmcore.flat", "vmcore", "vmcore-dmesg.txt", "kexec-dmesg.log"]) == CrashFiles(
        "vmcore-dmesg.txt", "vmcore", "kexec-dmesg.log")
    wip = ["vmcore.flat", "vmcore-dmesg-incomplete.txt"]
    assert crash_files(rh, wip) == CrashFiles(None, "vmcore.flat", None)
    deb = DirName("debian", "web-01", "202611260459")
    files = ["dmesg.202611260459", "dump.202611260459.xz", "dump.202511260459", "kernel_link"]
    assert crash_files(deb, files) == CrashFiles("dmesg.202611260459", "dump.202611260459.xz", None)
    assert crash_files(deb, ["vmcore.202611260459"]).dump == "vmcore.202611260459"  # kdump-tools' cp fallback
    assert crash_files(deb, ["dump.202611260459.zst"]).dump is None
    f = CrashFiles("a", None, "b")
    assert CrashFiles.from_dict(f.to_dict()) == f
