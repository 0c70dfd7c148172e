"""Class 1 of issue 16: a report followed by the panic its panic_on_* sysctl raised.

The primary report is the one that triggered the panic, with the panic line as its ``panic``; the
panic is not a report of its own however many lines of all-CPU backtraces sit between the two.
"""

from __future__ import annotations

import os

from crashhub.triage import looks_like_text, parse

HUNG = """\
[  246.630123] INFO: task syz-executor:2293 blocked for more than 120 seconds.
[  246.630130]       Not tainted 6.1.0-57-amd64 #1 Debian 6.1.158-1
[  246.630135] "echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.
[  246.630140] task:syz-executor state:D stack:0 pid:2293 ppid:1 flags:0x00004000
[  246.630145] Call Trace:
[  246.630147]  <TASK>
[  246.630150]  __schedule+0x34d/0x9e0
[  246.630155]  schedule+0x5a/0xd0
[  246.630158]  schedule_preempt_disabled+0x11/0x20
[  246.630160]  __mutex_lock.constprop.0+0x3a2/0x6c0
[  246.630165]  console_device+0x1c/0x80
[  246.630170]  tty_lookup_driver+0x1e/0x120
[  246.630175]  tty_open+0x92/0x5d0
[  246.630180]  chrdev_open+0xc1/0x250
[  246.630185]  do_dentry_open+0x1e3/0x430
[  246.630190]  path_openat+0xb3c/0x1050
[  246.630195]  do_filp_open+0xaf/0x160
[  246.630200]  do_sys_openat2+0xaf/0x170
[  246.630205]  __x64_sys_openat+0x6a/0xa0
[  246.630210]  do_syscall_64+0x58/0xc0
[  246.630215]  entry_SYSCALL_64_after_hwframe+0x64/0xce
[  246.630220]  </TASK>
"""
BACKTRACES = "".join(
    f"[  246.7{i:05d}] NMI backtrace for cpu {i % 2}\n[  246.7{i:05d}] CPU: {i % 2} PID: 0 Comm: swapper\n"
    f"[  246.7{i:05d}] Call Trace:\n[  246.7{i:05d}]  <IRQ>\n[  246.7{i:05d}]  dump_stack_lvl+0x44/0x5c\n"
    for i in range(60)
)
PANIC = """\
[  246.990000] Kernel panic - not syncing: hung_task: blocked tasks
[  246.990010] CPU: 1 PID: 19 Comm: khungtaskd Not tainted 6.1.0-57-amd64 #1 Debian 6.1.158-1
[  246.990020] Call Trace:
[  246.990025]  <TASK>
[  246.990030]  dump_stack_lvl+0x44/0x5c
[  246.990035]  panic+0x118/0x2ed
[  246.990040]  watchdog+0x2a4/0x4b0
[  246.990045]  kthread+0xd7/0x100
[  246.990050]  ret_from_fork+0x22/0x30
[  246.990055]  </TASK>
"""


def test_the_hung_task_is_primary_and_carries_its_panic() -> None:
    reports = parse(HUNG + BACKTRACES + PANIC)
    assert len(reports) == 1
    r = reports[0]
    assert (r.kind, r.title) == ("hung_task", "INFO: task hung in console_device")
    assert r.guilty is not None and r.guilty.function == "console_device"
    assert r.fatal and r.panic_message == "Kernel panic - not syncing: hung_task: blocked tasks"


def test_a_panic_of_another_kind_does_not_take_the_report() -> None:
    # 20 s later: the hung-task report has ended (a pause), within the time a cause is looked for.
    panic = PANIC.replace("hung_task: blocked tasks", "softlockup: hung tasks").replace("246.99", "266.99")
    reports = parse(HUNG + panic)
    assert [r.kind for r in reports] == ["soft_lockup", "hung_task"]  # the panic stands alone, first fatal
    assert reports[1].panic_message is None


def test_a_panic_long_after_the_report_is_not_its_consequence() -> None:
    reports = parse(HUNG + PANIC.replace("246.99", "546.99"))
    assert len(reports) == 2 and reports[1].panic_message is None
    same_moment = parse(HUNG + PANIC.replace("246.99", "266.99"))
    assert len(same_moment) == 1 and same_moment[0].panic_message is not None


def test_a_reboot_between_report_and_panic_keeps_them_apart() -> None:
    reboot = "[    0.000000] Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org)\n" \
             "[    0.000000] Command line: BOOT_IMAGE=/vmlinuz root=/dev/vda1\n"
    reports = parse(HUNG + "Booting the kernel.\n" + reboot + PANIC)
    hung = next(r for r in reports if r.kind == "hung_task" and r.title.startswith("INFO"))
    assert hung.panic_message is None


def test_panic_on_warn_joins_the_sanitizer_report_before_it() -> None:
    kasan = """\
[   61.100000] ==================================================================
[   61.100001] BUG: KASAN: slab-use-after-free in mptcp_pm_del_add_timer+0x2d/0x1b0
[   61.100002] Read of size 4 at addr ffff888027c1a838 by task syz-executor/5127
[   61.100003] Call Trace:
[   61.100004]  <TASK>
[   61.100005]  dump_stack_lvl+0x44/0x5c
[   61.100006]  print_report+0x17f/0x470
[   61.100007]  kasan_report+0xbf/0xf0
[   61.100008]  mptcp_pm_del_add_timer+0x2d/0x1b0
[   61.100009]  mptcp_pm_remove_addrs+0x1a2/0x380
[   61.100010]  mptcp_nl_remove_subflow_and_signal_addr+0x2a0/0x3c0
[   61.100011]  </TASK>
[   61.100012] ==================================================================
"""
    filler = "".join(f"[   61.2{i:05d}] some driver chatter {i}\n" for i in range(40))
    panic = "[   61.300000] Kernel panic - not syncing: kasan.fault=panic_on_warn set ...\n"
    reports = parse(kasan + filler + panic)
    assert reports[0].kind == "kasan" and reports[0].fatal
    assert reports[0].guilty is not None and reports[0].guilty.function == "mptcp_pm_del_add_timer"
    assert reports[0].panic_message is not None and "panic_on_warn" in reports[0].panic_message


def test_a_short_log_with_line_noise_is_still_a_log() -> None:
    """syzkaller case 239: a corrupted comm puts a dozen control bytes in an 800-byte log."""
    noisy = HUNG.encode().replace(b"syz-executor", b"Yl\x01\x02\x03\x1a\x10\x08\x0e\x0f\x11\x12", 1)
    assert looks_like_text(noisy)
    assert not looks_like_text(os.urandom(200))
    assert not looks_like_text(os.urandom(64 * 1024))
    assert not looks_like_text(b"\x7fELF" + HUNG.encode())
