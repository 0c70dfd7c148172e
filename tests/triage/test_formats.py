"""Format by format: each snippet is laid out as the named kernel prints it (prefixes, markers, columns)."""

from __future__ import annotations

from pathlib import Path

from crashhub.classify import signature
from crashhub.kernel import base_name
from crashhub.triage import normalize, parse
from crashhub.triage._frames import parse_frame, parse_rip
from crashhub.triage._lines import decode, strip
from crashhub.triage._taint import parse_taint

# 6.12 (Debian 6.12.117): "Oops: Oops:", UID in the task line, the separate Tainted: line.
LOG_612 = """\
[    6.715233] BUG: kernel NULL pointer dereference, address: 0000000000000020
[    6.716512] #PF: supervisor write access in kernel mode
[    6.717001] #PF: error_code(0x0002) - not-present page
[    6.717501] PGD 0 P4D 0
[    6.718019] Oops: Oops: 0002 [#1] PREEMPT SMP NOPTI
[    6.720589] CPU: 1 UID: 0 PID: 173 Comm: insmod Kdump: loaded Tainted: G           OE      6.12.117+deb12-cloud-amd64 #1  Debian 6.12.117-1~deb12u1
[    6.721000] Tainted: [O]=OOT_MODULE, [E]=UNSIGNED_MODULE
[    6.721500] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[    6.722000] RIP: 0010:crashmod_null+0x11/0x20 [crashmod]
[    6.722500] Code: 00 00 00 00 0f 1f 44 00 00 c7 04 25 20 00 00 00 2a 00 00 00 31 c0 c3 cc cc cc cc
[    6.723000] RSP: 0018:ffffb2a1c0473c60 EFLAGS: 00010246
[    6.723500] RAX: 0000000000000000 RBX: ffffffffc0a01000 RCX: 0000000000000000
[    6.724000] Call Trace:
[    6.724100]  <TASK>
[    6.724200]  ? __die+0x23/0x70
[    6.724300]  ? page_fault_oops+0x17d/0x4c0
[    6.724400]  ? exc_page_fault+0x77/0x170
[    6.724500]  ? asm_exc_page_fault+0x26/0x30
[    6.724600]  ? crashmod_null+0x11/0x20 [crashmod]
[    6.724700]  crashmod_init+0x2c/0xff0 [crashmod]
[    6.724800]  do_one_initcall+0x5b/0x320
[    6.724900]  do_init_module+0x60/0x240
[    6.725000]  __do_sys_finit_module+0xaa/0x110
[    6.725100]  do_syscall_64+0x82/0x190
[    6.725200]  entry_SYSCALL_64_after_hwframe+0x76/0x7e
[    6.725300]  </TASK>
[    6.725400] Modules linked in: crashmod(OE+) virtio_blk qemu_fw_cfg
[    6.725500] CR2: 0000000000000020
[    6.725600] ---[ end trace 0000000000000000 ]---
"""  # noqa: E501

# RHEL 7 (3.10): "RIP: 0010:[<addr>]  [<addr>] func", "[<addr>] func" frames, "Pid:"-less task line.
LOG_RHEL7 = """\
[ 1234.567890] BUG: unable to handle kernel paging request at ffffffffa0250000
[ 1234.567999] IP: [<ffffffffa024e03c>] crashme_init+0x3c/0x1000 [crashme]
[ 1234.568100] PGD 194f067 PUD 1950063 PMD 36c5f067 PTE 0
[ 1234.568200] Oops: 0002 [#1] SMP
[ 1234.568300] Modules linked in: crashme(OE+) xfs libcrc32c sd_mod crc_t10dif ata_piix libata
[ 1234.568400] CPU: 0 PID: 2531 Comm: insmod Tainted: G           OE  ------------   3.10.0-1160.el7.x86_64 #1
[ 1234.568500] Hardware name: Red Hat KVM, BIOS 0.5.1 01/01/2011
[ 1234.568600] task: ffff8800364e0000 ti: ffff880036500000 task.ti: ffff880036500000
[ 1234.568700] RIP: 0010:[<ffffffffa024e03c>]  [<ffffffffa024e03c>] crashme_init+0x3c/0x1000 [crashme]
[ 1234.568800] RSP: 0018:ffff880036503d68  EFLAGS: 00010246
[ 1234.568900] Call Trace:
[ 1234.569000]  [<ffffffff8100212a>] do_one_initcall+0xba/0x240
[ 1234.569100]  [<ffffffff8111a8c7>] load_module+0x22c7/0x2930
[ 1234.569200]  [<ffffffff81385a50>] ? ddebug_proc_write+0x100/0x100
[ 1234.569300]  [<ffffffff8111b0e6>] SyS_init_module+0xe6/0x110
[ 1234.569400]  [<ffffffff81793f92>] system_call_fastpath+0x25/0x2a
[ 1234.569500] Code: <c7> 04 25 00 00 25 a0 01 00 00 00 31 c0 5d c3 00 00 00 00 00 00 00
[ 1234.569600] RIP  [<ffffffffa024e03c>] crashme_init+0x3c/0x1000 [crashme]
[ 1234.569700]  RSP <ffff880036503d68>
[ 1234.569800] CR2: ffffffffa0250000
"""

# RHEL 6 (2.6.32) over syslog, with the sysrq crash and the old "Pid:" task line.
LOG_RHEL6_SYSLOG = """\
Nov 26 05:00:00 web01 kernel: SysRq : Trigger a crash
Nov 26 05:00:00 web01 kernel: BUG: unable to handle kernel NULL pointer dereference at (null)
Nov 26 05:00:00 web01 kernel: IP: [<ffffffff8132b0f6>] sysrq_handle_crash+0x16/0x20
Nov 26 05:00:00 web01 kernel: PGD 7a4c1067 PUD 7b1ef067 PMD 0
Nov 26 05:00:00 web01 kernel: Oops: 0002 [#1] SMP
Nov 26 05:00:00 web01 systemd[1]: WARNING: this line is from another program
Nov 26 05:00:00 web01 kernel: last sysfs file: /sys/devices/virtual/block/dm-0/dm/name
Nov 26 05:00:00 web01 kernel: CPU 0
Nov 26 05:00:00 web01 kernel: Modules linked in: ipv6 virtio_net ext4 jbd2 mbcache virtio_blk
Nov 26 05:00:00 web01 kernel: Pid: 1612, comm: bash Not tainted 2.6.32-754.el6.x86_64 #1 Red Hat KVM
Nov 26 05:00:00 web01 kernel: RIP: 0010:[<ffffffff8132b0f6>]  [<ffffffff8132b0f6>] sysrq_handle_crash+0x16/0x20
Nov 26 05:00:00 web01 kernel: Call Trace:
Nov 26 05:00:00 web01 kernel: [<ffffffff8132b3b2>] __handle_sysrq+0x132/0x1a0
Nov 26 05:00:00 web01 kernel: [<ffffffff8132b46e>] write_sysrq_trigger+0x4e/0x50
Nov 26 05:00:00 web01 kernel: [<ffffffff811f299e>] proc_reg_write+0x7e/0xc0
Nov 26 05:00:00 web01 kernel: [<ffffffff8118a598>] vfs_write+0xb8/0x1a0
Nov 26 05:00:00 web01 kernel: [<ffffffff8100b0d2>] system_call_fastpath+0x16/0x1b
"""  # noqa: E501

# arm64 5.x with caller ids ([  T123]) and an unrelated task's line interleaved.
LOG_ARM64 = """\
[   12.345678][  T201] Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008
[   12.345700][  T201] Mem abort info:
[   12.345710][  T201]   ESR = 0x96000006
[   12.345720][   T77] usb 1-1: new high-speed USB device number 2 using xhci-hcd
[   12.345730][  T201] Internal error: Oops: 96000006 [#1] PREEMPT SMP
[   12.345740][  T201] Modules linked in: foo_drv
[   12.345750][  T201] CPU: 3 PID: 201 Comm: kworker/3:1 Not tainted 5.15.0-91-generic #101-Ubuntu
[   12.345760][  T201] Hardware name: linux,dummy-virt (DT)
[   12.345770][  T201] pc : foo_probe.isra.0+0x24/0x90 [foo_drv]
[   12.345780][  T201] lr : foo_probe.isra.0+0x1c/0x90 [foo_drv]
[   12.345790][  T201] sp : ffff80000a6bbb60
[   12.345800][  T201] x29: ffff80000a6bbb60 x28: 0000000000000000 x27: ffff0000c0a1d000
[   12.345810][  T201] Call trace:
[   12.345820][  T201]  foo_probe.isra.0+0x24/0x90 [foo_drv]
[   12.345830][  T201]  platform_probe+0x70/0xe0
[   12.345840][  T201]  really_probe+0xc8/0x3e0
[   12.345850][  T201]  process_one_work+0x1f4/0x490
[   12.345860][  T201]  worker_thread+0x58/0x4f0
[   12.345870][  T201]  kthread+0x120/0x130
[   12.345880][  T201]  ret_from_fork+0x10/0x20
[   12.345890][  T201] Code: f9400a60 b4000140 f9400000 f9400400 (b9400800)
[   12.345900][  T201] ---[ end trace 8d2e7c6ad1b9e4f3 ]---
"""

# ppc64le (NIP/LR) and s390x (Krnl PSW) faulting-instruction lines.
LOG_PPC = """\
[  104.670013] kernel BUG at drivers/misc/foo.c:42!
[  104.670020] Oops: Exception in kernel mode, sig: 5 [#1]
[  104.670030] LE PAGE_SIZE=64K MMU=Radix SMP NR_CPUS=2048 NUMA pSeries
[  104.670040] CPU: 2 PID: 880 Comm: foo Not tainted 5.14.0-70.el9.ppc64le #1
[  104.670050] NIP:  c008000001230104 LR: c0080000012300f8 CTR: c000000000a3b4c0
[  104.670060] MSR:  800000000282b033 <SF,VEC,VSX,EE,FP,ME,IR,DR,RI,LE>  CR: 28002222  XER: 20040000
[  104.670070] NIP [c008000001230104] foo_write+0x2c/0x60 [foo]
[  104.670080] LR [c0080000012300f8] foo_write+0x20/0x60 [foo]
[  104.670090] Call Trace:
[  104.670100] [c00000000e5a3c00] [c0080000012300f8] foo_write+0x20/0x60 [foo] (unreliable)
[  104.670110] [c00000000e5a3c30] [c0000000005a1e8c] vfs_write+0xec/0x3a0
[  104.670120] [c00000000e5a3c90] [c0000000005a2378] ksys_write+0x88/0x140
"""
LOG_S390 = """\
[   44.114512] Unable to handle kernel pointer dereference in virtual kernel address space
[   44.114520] Failing address: 0000000000000000 TEID: 0000000000000483
[   44.114530] Oops: 0004 ilc:3 [#1] SMP
[   44.114540] Modules linked in: crashmod(OE)
[   44.114550] CPU: 0 PID: 512 Comm: insmod Tainted: G           OE     5.14.0-70.el9.s390x #1
[   44.114560] Hardware name: IBM 8561 LT1 400 (KVM/Linux)
[   44.114570] Krnl PSW : 0704c00180000000 000003ff8016a0e4 (crashmod_init+0x1c/0x1000 [crashmod])
[   44.114580] Call Trace:
[   44.114590]  [<000003ff8016a0e4>] crashmod_init+0x1c/0x1000 [crashmod]
[   44.114600] ([<000003ff8016a0de>] crashmod_init+0x16/0x1000 [crashmod])
[   44.114610]  [<0000000000109a1a>] do_one_initcall+0x42/0x1e8
[   44.114620]  [<00000000001e5f4c>] do_init_module+0x6c/0x288
"""


def test_612_null_deref() -> None:
    (r,) = parse(LOG_612.encode())
    assert r.kind == "null_deref" and r.fatal
    assert r.title == "BUG: unable to handle kernel NULL pointer dereference in crashmod_null"
    assert r.guilty is not None and (r.guilty.function, r.guilty.module) == ("crashmod_null", "crashmod")
    assert r.rip is not None and (r.rip.function, r.rip.offset, r.rip.size) == ("crashmod_null", 0x11, 0x20)
    assert r.process is not None and (r.process.comm, r.process.pid, r.cpu) == ("insmod", 173, 1)
    assert r.taint is not None and r.taint.letters == "OE"
    assert r.taint.flags[0].startswith("O: externally-built")
    assert r.release == "6.12.117+deb12-cloud-amd64"
    assert r.hardware == "QEMU Standard PC (i440FX + PIIX, 1996)" and r.bios is not None
    assert r.modules == ("crashmod", "virtio_blk", "qemu_fw_cfg")
    assert r.arch == "x86_64" and r.registers["RAX"] == 0
    assert [f.function for f in r.frames if f.reliable][:2] == ["crashmod_init", "do_one_initcall"]
    assert not r.frames[0].reliable and r.frames[0].context == "task"
    assert (r.start_line, r.end_line) == (0, 28) and not r.corrupted


def test_rhel7_paging_request() -> None:
    (r,) = parse(LOG_RHEL7)
    assert r.kind == "paging_request"
    assert r.title == "BUG: unable to handle kernel paging request in crashme_init"
    assert r.guilty is not None and r.guilty.module == "crashme"
    assert r.release == "3.10.0-1160.el7.x86_64" and r.taint is not None and r.taint.letters == "OE"
    assert r.frames[0].address == 0xFFFFFFFF8100212A and r.frames[0].function == "do_one_initcall"
    assert sum(not f.reliable for f in r.frames) == 1


def test_rhel6_syslog_other_programs_ignored() -> None:
    reports = parse(LOG_RHEL6_SYSLOG)
    assert len(reports) == 1, [r.title for r in reports]
    r = reports[0]
    assert r.title == "BUG: unable to handle kernel NULL pointer dereference in sysrq_handle_crash"
    assert r.process is not None and (r.process.comm, r.process.pid) == ("bash", 1612)
    assert r.release == "2.6.32-754.el6.x86_64" and r.hardware == "Red Hat KVM"
    assert r.taint is not None and r.taint.letters == ""


def test_arm64_caller_ids_and_isra() -> None:
    (r,) = parse(LOG_ARM64)
    assert r.kind == "null_deref"
    assert r.title == "BUG: unable to handle kernel NULL pointer dereference in foo_probe"
    assert r.guilty is not None and (r.guilty.function, r.guilty.module) == ("foo_probe", "foo_drv")
    assert r.arch == "arm64" and r.caller == "T201"
    assert "usb 1-1" not in r.text  # the other task's line is not part of this report
    assert r.frames[0].function == "foo_probe.isra.0"


def test_ppc64le_and_s390x() -> None:
    (p,) = parse(LOG_PPC)
    assert p.kind == "bug" and p.title == "kernel BUG in foo_write" and p.arch == "ppc64le"
    assert p.frames[0].reliable is False and p.frames[1].function == "vfs_write"
    (s,) = parse(LOG_S390)
    assert s.kind == "paging_request" and s.arch == "s390x"
    assert s.guilty is not None and (s.guilty.function, s.guilty.module) == ("crashmod_init", "crashmod")


def test_levels_and_prefixes() -> None:
    ln = strip(0, "<4>[   55.967976][ T8377] WARNING: CPU: 1 PID: 8377 at x.c:1 f+0x1/0x2")
    assert (ln.level, ln.timestamp, ln.caller, ln.text[:8]) == (4, 55.967976, "T8377", "WARNING:")
    ln = strip(0, "Nov 26 05:00:00 host kernel: [  1.000000] Call Trace:")
    assert ln.text == "Call Trace:" and ln.stamped
    ln = strip(0, "2026-11-26T05:00:00+0000 host kernel: Oops: 0002 [#1] SMP")
    assert ln.text == "Oops: 0002 [#1] SMP"
    assert strip(0, "Nov 26 05:00:00 host sshd[12]: BUG: not ours").foreign
    ln = strip(0, "[    6.715233] web01 kernel: Oops: 0002 [#1] SMP")  # journalctl -o short-monotonic
    assert ln.text == "Oops: 0002 [#1] SMP" and ln.timestamp == 6.715233
    ln = strip(0, "[Thu Nov 26 05:00:00 2026] Call Trace:")  # dmesg -T
    assert ln.text == "Call Trace:" and ln.stamped
    assert decode(b"a\x00b\r\nc\xff") == "ab\nc\ufffd"


def test_frames_and_suffixes() -> None:
    f = parse_frame(" ? __warn.cold+0x3c/0x5a0 [nf_tables 3f2a9c]")
    assert f is not None and not f.reliable and f.module == "nf_tables" and f.function == "__warn.cold"
    f = parse_frame(" dump_stack+0x194/0x257 lib/dump_stack.c:53")
    assert f is not None and (f.file, f.line) == ("lib/dump_stack.c", 53)
    f = parse_frame(
        "[<c0014990>] (unwind_backtrace+0x0/0xf4) from [<c005ccb8>] (__lock_acquire+0x14f8/0x1b98)"
    )
    assert f is not None and f.function == "unwind_backtrace" and f.address == 0xC0014990
    assert parse_frame("RAX: 0000000000000000 RBX: ffff") is None
    for raw, base in (
        ("foo.isra.0", "foo"),
        ("foo.constprop.3", "foo"),
        ("foo.part.1", "foo"),
        ("foo.cold", "foo"),
        ("foo.isra.56.cold.74", "foo"),
        ("foo", "foo"),
    ):
        assert base_name(raw) == base
    r = parse_rip("RIP: 0010:[<ffffffffa01c8a3c>]  [<ffffffffa01c8a3c>] mod_fn+0x5c/0x80 [mod]")
    assert r is not None and (r.function, r.module) == ("mod_fn", "mod")
    assert parse_rip("RIP: 0033:0x7f6b2a4e1b27") is None


def test_taint_and_titles() -> None:
    t = parse_taint("CPU: 0 PID: 1 Comm: x Tainted: P        W  O      6.1.0 #1")
    assert t is not None and t.letters == "PWO" and len(t.flags) == 3
    t = parse_taint("Tainted: [P]=PROPRIETARY_MODULE, [W]=WARN")
    assert t is not None and t.letters == "PW"
    assert parse_taint("CPU: 0 PID: 1 Comm: x Not tainted 6.1.0 #1") is not None
    assert (
        normalize("WARNING in foo+0x1f/0x5a0 at 0xffffffff81234567 CPU#3 pid 1234")
        == "WARNING in foo at ADDR CPU pid NUM"
    )


def test_warning_then_panic_is_one_fatal_report() -> None:
    log = (
        "[   55.950418] ------------[ cut here ]------------\n"
        "[   55.967976] WARNING: CPU: 1 PID: 8377 at drivers/foo.c:7209 foo_ioctl+0x1f7/0x5a00 [foo]\n"
        "[   56.048693] CPU: 1 PID: 8377 Comm: foo-tool Not tainted 6.1.0-56-cloud-amd64 #1\n"
        "[   56.157961] RIP: 0010:foo_ioctl+0x1f7/0x5a00 [foo]\n"
        "[   56.205118] Call Trace:\n"
        "[   56.205119]  <TASK>\n"
        "[   56.208636]  __x64_sys_ioctl+0x8d/0xd0\n"
        "[   56.213644]  do_syscall_64+0x55/0xb0\n"
        "[   56.213645]  </TASK>\n"
        "[   56.213646] ---[ end trace 0000000000000000 ]---\n"
        "[   56.213647] Kernel panic - not syncing: kernel: panic_on_warn set ...\n"
    )
    (r,) = parse(log)
    assert r.kind == "warning" and r.fatal and r.title == "WARNING in foo_ioctl"
    assert r.panic_message == "Kernel panic - not syncing: kernel: panic_on_warn set ..."
    assert r.end_line == 10


def test_primary_is_first_fatal_then_log_order() -> None:
    warn = (
        "[    1.000000] WARNING: CPU: 0 PID: 1 at a.c:1 a_fn+0x1/0x2\n[    1.000001] Call Trace:\n"
        "[    1.000002]  a_caller+0x1/0x2\n[    1.000003] ---[ end trace 0 ]---\n"
    )
    gpf = (
        "[    2.000000] general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP\n"
        "[    2.000001] RIP: 0010:b_fn+0x1/0x2\n[    2.000002] Call Trace:\n"
        "[    2.000003]  b_caller+0x1/0x2\n"
    )
    # The WARNING 4 s before the oops is another bug (production consoles hold hours-old ones).
    reports = parse(warn + gpf.replace("    2.", "    5.") + warn.replace("    1.", "    6."))
    assert [r.kind for r in reports] == ["gpf", "warning", "warning"]
    assert reports[1].start_line < reports[2].start_line


def test_a_report_moments_before_the_oops_is_its_first_symptom() -> None:
    kasan = (
        "[    1.990000] BUG: KASAN: use-after-free in a_fn+0x1/0x2\n"
        "[    1.990001] Read of size 8 at addr ffff888012345678 by task x/1\n[    1.990002] Call Trace:\n"
        "[    1.990003]  dump_stack_lvl+0x1/0x2\n[    1.990004]  kasan_report+0x1/0x2\n"
        "[    1.990005]  a_fn+0x1/0x2\n[    1.990006]  a_caller+0x1/0x2\n"
        "[    1.990007] ==================================================================\n"
    )
    gpf = (
        "[    2.000000] general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP\n"
        "[    2.000001] RIP: 0010:b_fn+0x1/0x2\n[    2.000002] Call Trace:\n"
        "[    2.000003]  b_caller+0x1/0x2\n"
    )
    reports = parse(kasan + gpf)
    assert [r.kind for r in reports] == ["kasan", "gpf"]
    assert reports[0].guilty is not None and reports[0].guilty.function == "a_fn"
    sysrq = (
        "[    2.000000] sysrq: Trigger a crash\n"
        "[    2.000001] Kernel panic - not syncing: sysrq triggered crash\n"
        "[    2.000002] Call Trace:\n[    2.000003]  sysrq_handle_crash+0x1/0x2\n"
    )
    # A crash made by hand after a bug report: the bug names the crash; alone, the SysRq-c does.
    assert [r.kind for r in parse(kasan + sysrq)] == ["kasan", "sysrq"]
    assert [r.kind for r in parse(sysrq)] == ["sysrq"]


def test_truncated_log_is_corrupted() -> None:
    log = LOG_612.splitlines()[:17]
    (r,) = parse("\n".join(log))
    assert r.corrupted and r.corrupted_reason is not None and "truncated" in r.corrupted_reason


def test_no_crash() -> None:
    assert parse("[    0.000000] Linux version 6.1.0 (gcc) #1 SMP\n[    1.0] all good\n") == []
    assert parse(b"") == []


def test_interleaved_lines_without_caller_ids_mark_the_report() -> None:
    lines = LOG_RHEL7.splitlines()
    lines.insert(12, "[ 1234.569050] e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex")
    (r,) = parse("\n".join(lines))
    assert r.corrupted_reason == "interleaved: 1 line(s) of other output inside the stack trace"
    assert r.title == "BUG: unable to handle kernel paging request in crashme_init"
    assert "e1000e" not in r.text
    (a,) = parse(LOG_ARM64)  # with caller ids the other task's line is simply not ours
    assert not a.corrupted


def test_warning_from_a_path_with_a_debian_version() -> None:
    """Debian's 6.12 builds under /build/reproducible-path/linux-6.12.117+deb12/: an in-tree WARNING's
    header names that path; the '+' must not stop the header from being read (one bucket with 6.1)."""
    kept = Path(__file__).resolve().parent / "data" / "lab" / "6.12-warn-1.vmcore-dmesg.txt"
    text = kept.read_text()
    debian = " at /build/reproducible-path/linux-6.12.117+deb12/crashmod.c:"
    moved = text.replace(" at crashmod/crashmod.c:", debian)
    assert moved != text
    a, b = parse(text)[0], parse(moved)[0]
    assert b.title == a.title == "WARNING in crashmod_warn"
    assert signature(b).key == signature(a).key
