"""The oops table's vocabulary: formats, stack specs, and the placeholders their regexps use.

A ``Format`` names one kind of report: its ``title`` regexp (on the header line), an optional
``report`` regexp (on the report's text), a title ``template``, a ``kind`` and a ``Stack`` spec
saying where its guilty frame is read; an ``Oops`` groups the formats of one header.  The table
itself is ``oops.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from crashhub import _regex

PLACEHOLDERS = {
    "{{PC}}": r"\[<?(?:0x)?[0-9a-f]+>?\]",
    "{{FUNC}}": r"([a-zA-Z0-9_]+)(?:\.|\+)",
    # Source paths are whatever the build's directory was: Debian 6.12 builds under
    # /build/reproducible-path/linux-6.12.117+deb12/, backports hold "~" ("~bpo12+1"), builders "@".
    "{{SRC}}": r"([^\s:]+\.[a-zA-Z]+:[0-9]+)",
    "{{TASK}}": r".{0,100}?",
    "{{ADDR}}": r"0x[0-9a-f]+",
}


def expand(pattern: str) -> str:
    for k, v in PLACEHOLDERS.items():
        pattern = pattern.replace(k, v)
    return pattern


RIP = "<rip>"
CALL_TRACE = "<call-trace>"
FRAMES = "<frames>"

RIP_RE = _regex.compile(
    expand(
        # Beyond syzkaller's: i386 2.6's "EIP is at func+0x4d/0xab" (its "EIP: 0060:[<c04ac80f>]
        # EFLAGS:" line names no function) and ppc64 ELFv1's ".func" ("NIP [d00...] .func+0x18c/0x220").
        r"(?:IP(?: is at)?|NIP|pc |PC is at):? (?:(?:[0-9]+:)?(?:{{PC}} +){0,2}\.?{{FUNC}}"
        r"|(?:[0-9]+:)?0x[0-9a-f]+"
        r"|(?:[0-9]+:)?{{PC}} +\[< *\(null\)>\] +\(null\)|[0-9]+: +\(null\))"
        # s390 (no syzkaller equivalent):
        # "Krnl PSW : 0704c00180000000 000003ff801f0a3e (crashmod_init+0x3e/..."
        r"|Krnl PSW : [0-9a-f]+ [0-9a-f]+ \({{FUNC}}"
    )
)
# arm32's unwinder prints no "Call trace:" line: its first frame, unwind_backtrace itself (old
# "[<c0014990>] (unwind_backtrace+0x0/0xf4) from ...", 5.x+ "unwind_backtrace from show_stack+0x18"),
# opens the section.
CALL_TRACE_RE = _regex.compile(r"Call (?:T|t)race:|Backtrace:|^ *(?:\[<[0-9a-f]+>\] \()?unwind_backtrace\b")
# Lines that open a stack section: a frame list after one belongs to that section.
STACK_START_RE = _regex.compile(
    r"Call (?:T|t)race|Allocated:|Allocated by task [0-9]+:|Freed:|Freed by task [0-9]+:"
    r"|[^k] backtrace(?: \(crc [0-9a-fA-F]*\))?:|Backtrace:|Uninit was stored to memory at"
)
# Fault-injection stacks are printed in the middle of reports (syzkaller's corruptedLines).
FAULT_INJECTION_RE = _regex.compile(r"^( \[<?(?:0x)?[0-9a-f]+>?\])? should_fail(slab)?(\.[a-z0-9.]+)?\+0x")


@dataclass(frozen=True, slots=True)
class Stack:
    """Where a format's guilty frame is read: the report's sections in order (``_extract``)."""

    parts: tuple[str, ...]
    parts2: tuple[str, ...] = ()  # tried when ``parts`` finds no frame
    parts3: tuple[str, ...] = ()  # tried when ``parts2`` finds none either
    skip: tuple[str, ...] = ()
    extractor: str | None = None  # None | "stall" | "hang" | "overflow" | "cpus" (cpus.py)
    # Sections of the report the walk does not read: (regexp of the line opening one, of the
    # line after its last), for dumps printed inside a report that are not its stack.
    ignore: tuple[tuple[str, str], ...] = ()


ANY_REPORT = ("*",)


@dataclass(frozen=True, slots=True)
class Format:
    """One kind of report of a header: its title regexp, title template, kind and stack spec."""

    title: str
    template: str
    kind: str
    report: str | None = None
    stack: Stack | None = None
    corrupted: bool = False  # the title alone says the log is damaged
    no_stack: bool = False  # a report of this format needs no stack trace
    fatal: bool = False  # the kernel killed a task (die()) or panicked
    consequence: bool = False  # a panic that an earlier report caused (panic_on_warn, Fatal exception)
    # Kinds of report whose panic_on_* sysctl raises this panic, found however far back the report is
    # (a hung task's panic follows every CPU's backtrace); ``ANY_REPORT``: any report not itself fatal.
    caused_by: tuple[str, ...] = ()
    # Compiled on first use: the table's ~400 regexps cost ~20 ms to compile, most of every
    # `crashhub triage` start, and a log meets only the formats of the headers it holds.
    _compiled: dict[str, re.Pattern[str] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _literals: list[tuple[str, ...]] = field(default_factory=list, init=False, repr=False, compare=False)

    @property
    def title_re(self) -> re.Pattern[str]:
        rx = _once(self._compiled, "title", lambda: _regex.compile(expand(self.title)))
        assert rx is not None
        return rx

    def title_search(self, text: str) -> re.Match[str] | None:
        """``title_re.search(text)``, answered without the regexp (nor compiling it) when ``text``
        lacks the plain text every match holds: most formats of a header never meet a line of theirs
        (a WARNING report tries some 30 formats' titles before its own)."""
        literals = self._literals
        if not literals:
            literals.append(required_literals(expand(self.title)))
        for literal in literals[0]:
            if literal not in text:
                return None
        return self.title_re.search(text)

    @property
    def report_re(self) -> re.Pattern[str] | None:
        report = self.report
        if report is None:
            return None
        return _once(self._compiled, "report", lambda: _regex.compile(expand(report)))


@dataclass(frozen=True, slots=True)
class Oops:
    """A header (``BUG:``, ``WARNING:``...) and its formats, most specific first."""

    header: str
    formats: tuple[Format, ...]
    suppress: tuple[str, ...] = ()
    # A header that continues the report begun a few lines before rather than starting one
    # (the die() line "invalid opcode: 0000 [#1]" printed after "kernel BUG at ...!").
    joins: bool = False
    # A message that other tasks print in the middle of a report (skipped there, not a new report).
    interleaves: bool = False
    # A header whose details follow under another header a few lines on ("list_del corruption."
    # then "kernel BUG at lib/list_debug.c:53!" since Linux 4.x): the following header joins it.
    prelude: bool = False
    # Printed by no printk (the boot decompressor's "Booting the kernel."): never timestamped, so an
    # unstamped line among stamped ones is no console noise for it (``collect.console_noise``).
    unstamped: bool = False
    # Compiled on first use, as Format's.
    _compiled: dict[str, re.Pattern[str] | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def suppress_re(self) -> re.Pattern[str] | None:
        return _once(self._compiled, "suppress", lambda: _any(self.suppress))

    def any_title(self, text: str, needs_stack: bool = False) -> bool:
        """Does a format read ``text`` (of those that need a stack trace, with ``needs_stack``)?
        Format by format, not one alternation of them all: ``title_search`` passes over most
        without compiling them (the alternation of the 37 "BUG:" titles took ~6 ms to compile)."""
        return any(
            f.title_search(text) is not None
            for f in self.formats
            if not needs_stack or (f.stack is not None and not f.no_stack)
        )


def _once(
    cache: dict[str, re.Pattern[str] | None], name: str, make: Callable[[], re.Pattern[str] | None]
) -> re.Pattern[str] | None:
    """``cache[name]``, made by ``make`` the first time it is asked for (None is an answer too)."""
    if name not in cache:
        cache[name] = make()
    return cache[name]


def _any(titles: Iterable[str]) -> re.Pattern[str] | None:
    alternatives = [f"(?:{expand(t)})" for t in titles]
    return _regex.compile("|".join(alternatives)) if alternatives else None


# A global inline flag ("(?i)") changes what every literal matches.
_GLOBAL_FLAGS_RE = _regex.compile(r"\(\?[aiLmsux]+\)")


def required_literals(pattern: str) -> tuple[str, ...]:
    """The runs of plain characters every match of ``pattern`` holds, longest first (none when
    nothing is sure): the runs of literal characters outside groups, classes and quantifiers, unless
    a "|" outside any group makes each of them optional.  ``tests/triage/test_oops_table.py`` checks
    them against every title of the table on real lines."""
    if _GLOBAL_FLAGS_RE.search(pattern):
        return ()
    runs: list[str] = []
    run: list[str] = []
    depth = 0
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "\\":
            escaped = pattern[i : i + 1]
            i += 1
            if depth == 0 and escaped and not escaped.isalnum():
                run.append(escaped)  # "\." is a dot; "\d", "\s", "\n", "\1" are no plain text
                continue
        elif ch == "[":
            i = _class_end(pattern, i)
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif depth:
            continue  # inside a group: its text may be optional or one of alternatives
        elif ch == "|":
            return ()
        elif ch in "*?{":
            run = run[:-1]  # the character before may be absent
            if ch == "{":
                i = pattern.find("}", i) + 1 or n  # past "{m,n}"
        elif ch == "+":
            pass  # the character before is there (once or more): it ends the run
        elif ch not in ".^$":
            run.append(ch)
            continue
        runs.append("".join(run))
        run = []
    runs.append("".join(run))
    return tuple(sorted({r for r in runs if r}, key=len, reverse=True))


def _class_end(pattern: str, i: int) -> int:
    """The index after the "]" closing the character class whose "[" is before ``i``."""
    if pattern[i : i + 1] == "^":
        i += 1
    if pattern[i : i + 1] == "]":
        i += 1  # a "]" first in a class is a member
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1
