"""Is this dump that crash's dump?  The dump's own facts against what is known of the crash.

A dump is attached to a crash only when nothing the dump says about itself contradicts the crash:
the utsname nodename against the crash's host, the kernel release and build-id, the crash time,
and the kernel log inside the dump against the crash's log.  What either side does not know is not
compared (an initramfs without a hostname, a log-only crash without a time); what both know must
agree.  The answer is the first disagreement as one line naming the fact, or None.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from crashhub.ingest._reports import identity
from crashhub.model import JsonObject

TYPE_CHECKING = False
if TYPE_CHECKING:
    from crashhub.store import CrashRecord

# Two VMCORE CRASHTIMEs of one crash are the same second; two minutes covers clocks read twice.
DUMP_TIME_SKEW = 120.0
# A crash directory's name is the time kdump saved the dump, after the capture kernel booted, and
# often in local time read as UTC (zones run from UTC-12 to UTC+14): 15 hours either way still
# tells a dump of last week from today's crash.
DIR_TIME_SKEW = 15 * 3600.0
# utsname nodenames that name no host: an initramfs without hostname prints "(none)".
NO_HOSTNAME = frozenset({"", "(none)", "localhost", "localhost.localdomain"})


@dataclass(frozen=True, slots=True)
class Known:
    """What is known of a crash before its dump is looked at (None: not known)."""

    host: str | None = None
    release: str | None = None
    build_id: str | None = None
    crash_time: float | None = None
    time_source: str | None = None  # "dump" (a CRASHTIME) | "dir-name" (kdump's directory name)
    log: str | None = None  # the crash's kernel log text


def real_host(name: str | None) -> str | None:
    """A host name that names a host (None for the placeholders kernels and tools write)."""
    if name is None or name.strip().lower() in NO_HOSTNAME or name == "unknown":
        return None
    return name


def names_a_host(name: str) -> bool:
    """A host name or address that tells one machine from another: not a placeholder, and not a
    loopback address (a crash directory the host wrote for itself is named 127.0.0.1)."""
    if real_host(name) is None:
        return False
    try:
        return not ipaddress.ip_address(name).is_loopback
    except ValueError:
        return True


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def same_host(a: str, b: str) -> bool:
    """One host under two spellings: case, or a short name against its fully qualified name."""
    a, b = a.lower().rstrip("."), b.lower().rstrip(".")
    if a == b:
        return True
    if "." in a and "." in b:
        return False
    return a.split(".", 1)[0] == b.split(".", 1)[0]


def times_disagree(t1: float | None, src1: str | None, t2: float | None, src2: str | None) -> bool:
    """Two crash times that cannot be one crash's (only exact times are compared with each other
    closely; two directory-name times are never told apart: a re-sent directory keeps its name)."""
    if t1 is None or t2 is None:
        return False
    sources = {src1, src2}
    if sources == {"dump"}:
        return abs(t1 - t2) > DUMP_TIME_SKEW
    if sources == {"dump", "dir-name"}:
        return abs(t1 - t2) > DIR_TIME_SKEW
    return False


def log_build_id(log: str) -> str | None:
    """The kernel's build-id as the log's "CPU: N PID: ... Comm: ..." line ends with it
    (CONFIG_STACKTRACE_BUILD_ID: lib/dump_stack.c prints the first 20 bytes in hex), if it does."""
    for line in log.splitlines():
        if " PID: " not in line or " Comm: " not in line:
            continue
        words = line.split()
        if len(words) >= 2 and words[-2].startswith("#") and _is_build_id(words[-1]):
            return words[-1].lower()
    return None


def log_banner(log: str) -> tuple[str, str] | None:
    """(release, version) from the log's boot banner ("Linux version R (builder) (compiler) #V"),
    the version being the kernel's full utsname version, as the dump's utsname has it."""
    for line in log.splitlines():
        at = line.find("Linux version ")
        cut = line.rfind(" #")
        if at < 0 or cut < at:
            continue
        release = line[at + len("Linux version ") :].split(" ", 1)[0]
        return release, line[cut + 1 :].strip()
    return None


def _is_build_id(word: str) -> bool:
    return len(word) == 40 and all(c in "0123456789abcdefABCDEF" for c in word)


def log_identity(text: str, release: str | None) -> str:
    from crashhub import triage  # noqa: PLC0415 - triage loads its parsers only when a log is compared

    reports = triage.parse(text)
    return identity(text, reports[0] if reports else None, release)


def disagreement(known: Known, facts: JsonObject | None, dump_log: bytes | None) -> str | None:
    """The first fact of the dump that contradicts ``known``, as one line; None when none does."""
    f = facts or {}
    node, host = real_host(f.get("hostname")), known.host
    # A nodename is compared with a host name, not with an address (a spool directory's IP).
    if node and host and names_a_host(host) and not _is_address(host) and not same_host(node, host):
        return f"the dump's utsname nodename is {node!r}, the crash's host is {host!r}"
    release = f.get("release")
    if release and known.release and release != known.release:
        return f"the dump is of kernel {release}, the crash of {known.release}"
    bid, want_bid = f.get("build_id"), known.build_id or (log_build_id(known.log) if known.log else None)
    if bid and want_bid and bid.lower() != want_bid.lower():
        return f"the dump's kernel build-id is {bid}, the crash's {want_bid}"
    version, banner = f.get("version"), (log_banner(known.log) if known.log else None)
    if version and banner and banner[0] == release and banner[1] != version.strip():
        return f"the dump's kernel is {version.strip()!r}, the crash's log booted {banner[1]!r}"
    t = f.get("crash_time")
    if t is not None and times_disagree(float(t), "dump", known.crash_time, known.time_source):
        assert known.crash_time is not None
        return (
            f"the dump's crash time ({int(t)}) is {abs(float(t) - known.crash_time):.0f} s from the "
            f"crash's ({int(known.crash_time)}, from the {known.time_source})"
        )
    if dump_log is not None and known.log is not None:
        rel = known.release or release
        inside = dump_log.decode("utf-8", "replace")
        if log_identity(inside, rel) != log_identity(known.log, rel):
            return "the kernel log inside the dump is not the crash's log"
    return None


def different(
    old: CrashRecord, host: str, host_source: str, crash_time: float | None, time_source: str | None
) -> bool:
    # The same log text from two hosts is two crashes: a host is never given another's crash.  An
    # arrival that names no host (an admin's import, a directory named by time or 127.0.0.1) claims
    # nothing and may be the stored crash.  A stored crash that names none is not taken over by a
    # sender that is sure of its host (a token's, an agent's, the dump's utsname): that host gets a
    # crash it owns, to send the dump to; a directory's IP is not that sure (one machine's dumps
    # come as 127.0.0.1 and as its address).
    if names_a_host(host):
        if names_a_host(old.host):
            if not same_host(old.host, host):
                return True
        elif host_source in ("token", "agent", "utsname"):
            return True
    return times_disagree(old.crash_time, old.crash_time_source, crash_time, time_source)
