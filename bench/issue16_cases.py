"""The cases of issue 16's classes 1-10, each with what triage must answer, for bench/triage_eval.py.

Real logs only: the crash lab's kept ``vmcore-dmesg.txt`` files (tests/triage/data/lab) and the
public corpus (read in place), some reshaped the way the class's miss happens in the field (a panic
cut off, a header cut by another CPU's line, a title quoted before the report, a build path, a
mangled name).  A case is (class, name, log text, check); a check returns None when triage's answer
is right, else what was wrong.  Names are stable, so ``_triage_cli.half`` splits each class in two.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from corpus_cases import syzkaller_log
from crashhub.model import CrashReport
from crashhub.triage import parse

LAB = Path(__file__).resolve().parent.parent / "tests" / "triage" / "data" / "lab"
Check = Callable[[list[CrashReport]], "str | None"]
Case = tuple[int, str, str, Check]


def _lab(case: str) -> str:
    return (LAB / f"{case}.vmcore-dmesg.txt").read_text()


def _syz(corpus: Path, name: str) -> str:
    return syzkaller_log(corpus / "syzkaller" / "linux" / "report" / name).decode()


def _guilty(name: str | None, anywhere: bool = False) -> Check:
    def check(reports: list[CrashReport]) -> str | None:
        got = [r.guilty.function if r.guilty else None for r in (reports if anywhere else reports[:1])]
        return None if name in got else f"guilty {got[:3]} (want {name})"
    return check


def _same_as(text: str) -> Check:
    want = parse(text)[0]

    def check(reports: list[CrashReport]) -> str | None:
        got = reports[0] if reports else None
        if got is None or (got.kind, got.title) != (want.kind, want.title):
            return f"{got.title if got else 'no crash'!r} (want {want.title!r})"
        return None
    return check


def _insert(text: str, line: str, back: int, stamped: bool) -> str:
    lines = text.splitlines(keepends=True)
    at = max(0, parse(text)[0].start_line - back)
    stamp = lines[at].split("]", 1)[0] + "] " if stamped and lines[at].startswith("[") else ""
    return "".join([*lines[:at], stamp + line + "\n", *lines[at:]])


def _caused_panic(reports: list[CrashReport]) -> str | None:
    """The primary is the report that raised the panic: the panic line is its ``panic``, it names
    the lab module's function, and no report of its own is the panic."""
    r = reports[0] if reports else None
    if r is None or r.panic_message is None or r.kind == "panic":
        return f"primary {r.title if r else None!r} (panic {r.panic_message if r else None!r})"
    if r.guilty is None or r.guilty.module != "crashmod":
        return f"guilty {r.guilty} (want a crashmod function)"
    return None if not [o for o in reports[1:] if o.kind == "panic"] else "the panic is a report of its own"


def _with_callers(text: str) -> str:
    """The log as CONFIG_PRINTK_CALLER prints it: "[  12.345678][  T123] text" on every line."""
    return re.sub(r"^(\[ *\d+\.\d+\])", lambda m: f"{m.group(1)}[  T{1000 + len(m.group(1))}]", text,
                  flags=re.M)


def class1() -> Iterator[Case]:
    # The lab's panic_on_* kinds: panic_on_warn, softlockup_panic, hung_task_panic,
    # panic_on_rcu_stall, panic_on_taint (bad page), unknown_nmi_panic over a spinning CPU.
    for kernel in ("6.1", "6.12"):
        for kind in ("warn", "softlockup", "hung", "rcu_stall", "bad_page", "nmi"):
            text = _lab(f"{kernel}-{kind}-1")
            yield 1, f"{kernel}/{kind}", text, _caused_panic
            yield 1, f"{kernel}/{kind}/caller-ids", _with_callers(text), _caused_panic


def class2() -> Iterator[Case]:
    for kernel in ("6.1", "6.12"):
        full = _lab(f"{kernel}-rcu_stall-1")
        cut = full[: full.rindex("\n", 0, full.index("Kernel panic - not syncing: RCU Stall")) + 1]
        for panic, text in (("panic", full), ("no-panic", cut)):
            for name in ("crashmod_spin", "crashmod_rcu_spin", "rcu_torture_stall"):
                yield 2, f"{kernel}/{panic}/{name}", text.replace("crashmod_spin+", f"{name}+"), _guilty(name)


def _no_page_owner(text: str) -> str:
    lines = text.splitlines()
    a = next(i for i, ln in enumerate(lines) if "page_owner tracks" in ln)
    b = next(i for i, ln in enumerate(lines) if "Modules linked in:" in ln)
    return "\n".join(lines[:a] + lines[b:]) + "\n"


def class3(corpus: Path) -> Iterator[Case]:
    yield 3, "lab/6.1", _lab("6.1-bad_page-1"), _guilty("crashmod_bad_page")
    freers = (("725", "shmem_get_folio_gfp"), ("726", "skb_release_data"), ("729", "skb_free_head"))
    for case, freer in freers:
        yield 3, f"syz/{case}", _no_page_owner(_syz(corpus, case)), _guilty(freer)


def class4(corpus: Path) -> Iterator[Case]:
    at = re.compile(r"(WARNING: CPU: \d+ PID: \d+ at )(\S+) (\S+)")
    for case in ("6.1-warn-1", "6.12-warn-1", "6.1-warn_core-1"):
        text = _lab(case)
        for i, prefix in enumerate(("/build/reproducible-path/linux-6.12.117+deb12/", "/usr/src/l~bpo12+1/",
                                    "/home/b@ci/")):
            for caller in ("symbol", "address"):
                moved = at.sub(lambda m, p=prefix, c=caller: f"{m.group(1)}{p}{m.group(2)} "  # type: ignore[misc]
                               + (m.group(3) if c == "symbol" else "0xffffffffc0a01234"), text, count=1)
                yield 4, f"{case}/{i}/{caller}", moved, _same_as(text)


def class5(corpus: Path) -> Iterator[Case]:
    """Reports whose answer (syzkaller's title, SQUAD's test name, FAF's frames) names a frame."""
    for case, frame in (("502", "smp_call_function"), ("549", "openat2"), ("657", "ntfs_fill_super"),
                        ("659", "nilfs_sysfs_delete_device_group")):
        yield 5, f"syz/{case}", _syz(corpus, case), _guilty(frame)
    squad = corpus / "squad-linux-log-parser" / "linux_log_parser"
    for log in ("kernelexceptiontrace.log", "kernelexceptiontrace_without_squarebraces.log"):
        yield 5, f"squad/{log}", (squad / log).read_text(), _guilty("smp_call_function_many_cond")
    faf = (corpus / "faf-ureports" / "tainted_kernel").read_text()
    yield 5, "faf/tainted_kernel", faf, _guilty("_nv012319rm")


def _cut_header(text: str, cut: int, embedded: bool) -> str:
    lines = text.splitlines(keepends=True)
    at = parse(text)[0].start_line
    m = re.match(r"(\[ *\d+\.\d+\] )(.*)\n", lines[at])
    assert m is not None
    stamp, message = m.groups()
    other = "e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex"
    new = ([f"{stamp}{message[:cut]}{stamp.strip()} {other}\n", message[cut:] + "\n"] if embedded
           else [f"{stamp}{message[:cut]}\n", f"{stamp}{other}\n", message[cut:] + "\n"])
    return "".join(lines[:at] + new + lines[at + 1 :])


def class6() -> Iterator[Case]:
    for kernel in ("6.1", "6.12"):
        text = _lab(f"{kernel}-hung-1")
        for cut in range(len("INFO: "), len("INFO: task sh:1")):
            for shape in ("stamp-inside", "rest-below"):
                cut_log = _cut_header(text, cut, shape == "stamp-inside")
                yield 6, f"{kernel}/{cut}/{shape}", cut_log, _same_as(text)


QUOTED = ("myprog: INFO: rcu detected stall in foo", "logger: INFO: task kworker/0:1:12 blocked for more "
          "than 120 seconds.", "monitor: WARNING: CPU: 0 PID: 1 at lib/foo.c:12 bar+0x1/0x2",
          "myprog: INFO: rcu_sched self-detected stall on CPU", "sh: BUG: kernel NULL pointer dereference, "
          "address: 0000000000000000", "myprog[321]: INFO: rcu detected stall in foo")


def class7() -> Iterator[Case]:
    for log in sorted(LAB.glob("*-1.vmcore-dmesg.txt")):
        text = log.read_text()
        for i, line in enumerate(QUOTED):
            for stamped in (True, False):
                name = f"{log.name.split('.vmcore')[0]}/{i}/{'stamped' if stamped else 'console'}"
                yield 7, name, _insert(text, line, 1, stamped), _same_as(text)


def class8() -> Iterator[Case]:
    hung, idle = _lab("6.1-nmi-1"), _lab("6.1-nmi_idle-1")

    def lone(text: str) -> str:  # without panic_print's all-CPU backtrace
        return text[: text.rindex("\n", 0, text.index("NMI backtrace for cpu 0")) + 1]

    yield 8, "hung", hung, _guilty("crashmod_irqoff_spin")
    yield 8, "idle", idle, _guilty(None)
    yield 8, "hung/lone", lone(hung), _guilty("smp_call_function_single")
    yield 8, "idle/lone", lone(idle), _guilty(None)


def class9(corpus: Path) -> Iterator[Case]:
    mmap = "<ashmem_rust::Ashmem as kernel::miscdevice::MiscDevice>::mmap"
    rust = _syz(corpus, "749")
    yield 9, "syz/749", rust, _guilty(mmap)
    lines = rust.splitlines()
    at = next(i for i, ln in enumerate(lines) if "panicked at" in ln)
    head, _, where = lines[at].partition("panicked at ")
    old = [*lines[:at], f"{head}panicked at '{lines[at + 1].split('] ', 1)[1]}', {where.rstrip(':')}",
           *lines[at + 2 :]]
    yield 9, "syz/749/rust-1.72", "\n".join(old) + "\n", _guilty(mmap)
    for kernel in ("6.1", "6.12"):
        text = _lab(f"{kernel}-null-1")
        for mangled in ("_ZN8crashmod4nullEv", "_ZN8crashmod4nullEv.isra.0"):
            renamed = text.replace("crashmod_null+", f"{mangled}+")
            yield 9, f"{kernel}/{mangled}", renamed, _guilty("crashmod::null")


def class10() -> Iterator[Case]:
    text = _lab("6.1-atomic_sysrq-1")
    # The bug is the primary; the SysRq-c that ended the machine by hand a report of its own.
    yield 10, "6.1/primary", text, _guilty("crashmod_atomic_sleep")
    yield 10, "6.1/deliberate", text, _guilty("sysrq_handle_crash", anywhere=True)


def cases(corpus: Path) -> Iterator[Case]:
    yield from class1()
    yield from class2()
    yield from class3(corpus)
    yield from class4(corpus)
    yield from class5(corpus)
    yield from class6()
    yield from class7()
    yield from class8()
    yield from class9(corpus)
    yield from class10()
