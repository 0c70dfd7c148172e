"""Kernel-log text is read by triage alone: no other module keeps a regex over it.

Every regex literal in ``src/crashhub`` outside ``crashhub/triage`` is checked for the marks of
kernel-log text (oops headlines, watchdog lines, "CPU: N PID:" lines, Call Trace frames).  A hit
must be in ``ALLOWED`` with the reason it is not the kernel log.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "crashhub"
_RE_FUNCS = {"compile", "search", "match", "fullmatch", "finditer", "findall", "sub", "subn", "split"}
# Marks of kernel-log text; a regex holding one reads the log.
LOG_MARKS = re.compile(
    r"Kernel panic|not syncing|Call Trace|RIP:|Oops|BUG: |ernel BUG|general protection|soft lockup|"
    r"LOCKUP|blocked for more than|oom-killer|Out of memory|detected stall|CPU:|PID:|Comm:|Tainted:|"
    r"Hardware name|Modules linked in|Linux version|\\\+\(0x|\+0x\[0-9a-f\]\+/0x",
)
# (module, a piece of the pattern): why it is not a regex over a kernel log.
ALLOWED: dict[tuple[str, str], str] = {
    ("analyze/_crash_engine.py", "PID:"): "crash's bt header (PID: TASK: CPU: COMMAND:), crash's output",
    ("analyze/_crash_engine.py", "exception RIP"): "crash's bt '[exception RIP: f+off]' line (crash)",
    ("dump/_describe.py", "Linux version"): "linux_banner read from the dump's memory, not its log",
    # The demo makes logs: it moves a lab log's clock from its trigger line on and gives it the
    # made-up host's hardware; it reads no crash out of them (triage does, at ingest).
    ("examples/fleet.py", "invoked oom-killer"): "the demo's log rewriter finds where the crash begins",
    ("examples/fleet.py", "Hardware name: "): "the demo's log rewriter puts in the made-up host's hardware",
}


# The kernel-log regexes analyze/ had before it consumed triage (now in triage or replaced by its reports).
OLD_ANALYZE_REGEXES = (
    r"CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (\S+)",
    r"Kernel panic - not syncing:.*",
    r"BUG: (?:kernel NULL pointer dereference|unable to handle).*|Unable to handle kernel.*",
    r"[Kk]ernel BUG at.*",
    r"general protection fault.*|Oops: .*",
    r"INFO: task (\S+):(\d+) blocked for more than (\d+) seconds",
    r"soft lockup - CPU#(\d+) stuck for (\d+)s! \[(.+?):(\d+)\]",
    r"(?:Watchdog detected hard LOCKUP on cpu|NMI watchdog: .*LOCKUP.* on cpu) (\d+)",
    r"rcu: INFO: (\S+) (?:self-)?detected stalls? on CPUs?",
    r"(\S+) invoked oom-killer: .*",
    r"Out of memory: Killed process (\d+) \((.+?)\).*",
    r"Kernel panic - not syncing: (?:System is deadlocked on memory|Out of memory.*)",
    r"RIP: [0-9a-f]{4}:([A-Za-z0-9_.]+)\+(0x[0-9a-f]+)/0x[0-9a-f]+(?: \[(\S+)\])?",
    r"^(?:\[[ \d.]+\] )?\s+(\? )?([A-Za-z0-9_.]+)\+(0x[0-9a-f]+)/0x[0-9a-f]+(?: \[(\S+)\])?\s*$",
)


def _patterns(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in _RE_FUNCS or not (isinstance(node.func.value, ast.Name)
                                                   and node.func.value.id == "re"):
            continue
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, (str, bytes)):
            val = arg.value
            out.append((node.lineno, val.decode("latin-1") if isinstance(val, bytes) else val))
    return out


def _offenders() -> list[str]:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith("triage/"):
            continue
        for line, pat in _patterns(path):
            if LOG_MARKS.search(pat) and not any(m == rel and piece in pat for m, piece in ALLOWED):
                bad.append(f"{rel}:{line}: {pat}")
    return bad


def test_no_kernel_log_regex_outside_triage() -> None:
    assert _offenders() == []


def test_the_check_sees_the_regexes_analyze_had(tmp_path: Path) -> None:
    """The scan finds what it looks for (else the test above could never fail): every kernel-log
    regex analyze/ kept before it consumed triage, and none of its version-string regexes."""
    p = tmp_path / "m.py"
    p.write_text("\n".join(["import re", *(f"re.compile({pat!r})" for pat in OLD_ANALYZE_REGEXES),
                             're.match(r"(\\d+)\\.(\\d+)", "6.1")']))
    pats = [pat for _line, pat in _patterns(p)]
    assert [bool(LOG_MARKS.search(x)) for x in pats] == [True] * len(OLD_ANALYZE_REGEXES) + [False]


def test_every_allowance_is_still_needed() -> None:
    used = set()
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for _line, pat in _patterns(path):
            if LOG_MARKS.search(pat):
                used |= {(m, piece) for m, piece in ALLOWED if m == rel and piece in pat}
    assert used == set(ALLOWED), set(ALLOWED) - used
