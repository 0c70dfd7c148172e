"""The check's pure parts: the collector line, the report model, the console split, the advice."""

from __future__ import annotations

from pathlib import Path

import pytest

from crashhub.errors import InputError
from crashhub.readiness import CHECK_KINDS, TRIGGERS, KindResult, ReadinessReport, check, parse_collector
from crashhub.readiness._boot import split_console
from crashhub.readiness._evaluate import bigger, failure_advice


@pytest.mark.parametrize(("line", "level", "comp", "elf", "flat"), [
    ("makedumpfile -l --message-level 7 -d 31", 31, "-l", False, False),  # RHEL's kdump.conf default
    ("makedumpfile -F -c -d 31", 31, "-c", False, True),  # Debian kdump-tools' MAKEDUMP_ARGS, piped
    ("/usr/sbin/makedumpfile -E -d 0", 0, None, True, False),
    ("makedumpfile --zstd -d23", 23, "--zstd", False, False),
])
def test_collector_lines_a_fleet_uses(line: str, level: int, comp: str | None, elf: bool, flat: bool) -> None:
    c = parse_collector(line)
    assert (c.dump_level, c.compression, c.elf, c.flat) == (level, comp, elf, flat)
    cmdline = c.capture_cmdline()
    assert f"lab.dl={level} " in cmdline and "crashkernel" not in cmdline
    assert f"lab.comp={'-E' if elf else comp or 'none'}" in cmdline
    assert ("lab.cv=default" in cmdline) == flat


@pytest.mark.parametrize(("line", "names"), [
    ("cp /proc/vmcore /var/crash", "only makedumpfile"),
    ("makedumpfile -l --num-threads 4 -d 31", "'--num-threads'"),
    ("makedumpfile -l -d 32", "dump level 32"),
    ("makedumpfile -l -d", "-d needs a number"),
    ("makedumpfile -E -l -d 31", "-E writes"),
    ("makedumpfile 'unclosed", "No closing quotation"),
])
def test_collector_lines_refused_in_one_line(line: str, names: str) -> None:
    with pytest.raises(InputError, match="core_collector") as e:
        parse_collector(line)
    assert names in str(e.value) and "\n" not in str(e.value)


def test_report_round_trip() -> None:
    kinds = [
        KindResult("sysrq", True, dump_format="kdump (lzo)", dump_bytes=24 << 20, ram_bytes=1 << 30,
                   dump_level=31,
                   dmesg_matches_log=True, panic_task_readable=True, stack_readable=True,
                   triage_title="kernel panic: sysrq triggered crash", guilty_function="sysrq_handle_crash",
                   expected_function="sysrq_handle_crash", drgn="drgn 0.3.0: deliberate crash",
                   crash_tool="crash 8.0.2: opened (normal)", notes=["a note"], seconds=21.5),
        KindResult("null", False, skipped="no kernel headers given", expected_function="crashmod_null"),
        KindResult("softlockup", False, failure="no disk found", capture_log="LAB-ERROR mount\n",
                   advice=["Put the dump target's disk driver in the capture initramfs."]),
    ]
    r = ReadinessReport("6.1.0-57-cloud-amd64", ["linux-image.deb"], "ab" * 32, None,
                        "makedumpfile 1.7.2 (/usr/bin/makedumpfile)", "makedumpfile -l -d 31", "256M", "tcg",
                        1.5e9, "0.1.0", kinds, 80.0)
    d = r.to_dict()
    assert ReadinessReport.from_dict(d) == r
    assert d["ready"] is False and d["advice"] == kinds[2].advice
    assert [k["ok"] for k in d["kinds"]] == [True, False, False]  # type: ignore[index]
    # A skipped kind was not tried: the others decide.
    only = ReadinessReport.from_dict({**d, "kinds": [kinds[0].to_dict(), kinds[1].to_dict()]})
    assert only.ready and only.kinds[1].skipped == "no kernel headers given"


def test_triggers_cover_the_check_kinds() -> None:
    assert set(TRIGGERS) == set(CHECK_KINDS)
    assert [k for k, t in TRIGGERS.items() if not t.needs_module] == ["sysrq"]


def test_console_split_at_the_capture_kernel_banner() -> None:
    banner = "[    0.000000] Linux version 6.1.0 (gcc)"
    lines = [banner, "LAB-T trigger 3.1", "[    5.0] Kernel panic - not syncing", banner,
             "LAB-T capture-start 2.0"]
    crash, capture = split_console(lines)
    assert crash == lines[:3] and capture == lines[3:]
    assert split_console(lines[:3]) == (lines[:3], [])


def test_advice_names_the_change() -> None:
    assert bigger("256M") == "512M" and bigger("1G") == "2G" and bigger("1G-4G:192M") == "512M"
    assert bigger("32M", 0x3378000) == "128M"  # 51 MiB to load: twice that, in 64 MiB steps
    [a] = failure_advice("the capture kernel ran out of memory (crashkernel=32M is too small)", "32M", "m")
    assert "crashkernel=64M" in a
    [a] = failure_advice("kexec load failed (no capture kernel armed): Could not find a free area of memory "
                         "of 0x3378000 bytes...; crashkernel=32M", "32M", "m")
    assert "try crashkernel=128M" in a and "loading alone needed 51 MiB" in a
    [a] = failure_advice("no disk found: the capture kernel could not mount /dev/vda", "256M", "m")
    assert "virtio_blk" in a


def test_bad_input_is_refused_in_one_line_before_anything_boots(tmp_path: Path) -> None:
    junk = tmp_path / "kernel.tar"
    junk.write_bytes(b"not a package at all")
    with pytest.raises(InputError, match=r"kernel\.tar: not a \.deb, an RPM or a directory"):
        check([junk])
    tree = tmp_path / "tree"
    (tree / "boot").mkdir(parents=True)
    with pytest.raises(InputError, match=r"one kernel's lib/modules/<release>, found none"):
        check([tree])
    with pytest.raises(InputError, match="core_collector"):
        check([tree], core_collector="cp --sparse=always /proc/vmcore /var/crash")
    with pytest.raises(InputError, match="crashkernel="):
        check([tree], crashkernel="256M; reboot")
    with pytest.raises(InputError, match="unknown crash kind"):
        check([tree], kinds=["oops"])  # type: ignore[list-item]
    assert not list(tmp_path.glob("crashhub-check-*"))
