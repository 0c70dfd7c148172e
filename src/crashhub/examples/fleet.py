"""The demo fleet: 200 hosts, three kernels and 30 days of crashes, made from real crash-lab logs.

Pure and deterministic (a seed and "now" in, crash directories' names and log bytes out); loading
them into a hub is :mod:`crashhub.commands._demo`'s job, through the normal ingest path.

The logs under ``_fleet/logs`` are the crash lab's own output (``python -m lab crash``, Debian
6.1.0-56, 6.1.0-57 and 6.12.117 cloud kernels in QEMU, crashed by the lab's test module
``crashmod``), one per bug and kernel, gzipped.  A crash of the plan is one of those logs with only
what a log really carries of its host changed:

* the DMI / ``Hardware name:`` lines name the host's hardware model (QEMU in the lab);
* printk timestamps from the crash on move by the host's uptime (the lab's guests crash seconds
  after boot; a server crashes after days).

The host's name and the crash time are the crash directory's name (``web-017-2026-11-12-03:14:07``,
RHEL kdump's layout), as a spool would see them; the kernel log itself names no host.

The story the plan tells (see docs/ui.md, "Trying it"):

* tiers ``web``, ``batch`` and ``lb`` run 6.1.0-56, ``db`` and ``cache`` 6.12.117;
* on day 22 of 30, 6.1.0-57 rolls out to ``web-001..060`` and, a day later, to every ``batch`` host;
* 6.1.0-57 brings a new WARNING (``crashmod_ida_double_free``) whose crashes grow every day and
  jump today: the spike;
* the NULL dereference in ``crashmod_null`` the KB says is fixed in 6.1.0-57 crashes -57 hosts
  too: the regression.
"""

from __future__ import annotations

import gzip
import math
import random
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LOGS = Path(__file__).resolve().parent / "_fleet" / "logs"
KB_DIR = Path(__file__).resolve().parent / "_fleet" / "kb"

DAYS = 30
ROLLOUT_DAY = 22  # the day 6.1.0-57 reaches web-001..060 (batch: the day after)
SEED = 2026

OLD, NEW, DB = "6.1.0-56", "6.1.0-57", "6.12.117"
KERNELS = (OLD, NEW, DB)
RELEASE = {OLD: "6.1.0-56-cloud-amd64", NEW: "6.1.0-57-cloud-amd64", DB: "6.12.117+deb12-cloud-amd64"}

# Hardware as DMI names it (what the kernel prints after "DMI:" and "Hardware name:").
HARDWARE = {
    "r650": "Dell Inc. PowerEdge R650/0PYXKY, BIOS 1.9.2 08/22/2023",
    "dl360": "HPE ProLiant DL360 Gen10/ProLiant DL360 Gen10, BIOS U32 02/10/2023",
    "smc": "Supermicro SYS-1029P-WTR/X11DDW-L, BIOS 3.4 11/04/2021",
    "kvm": "QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014",
}


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    tier: str
    hardware: str  # a HARDWARE key

    def kernel(self, day: int) -> str:
        """The kernel (a KERNELS name) the host runs on ``day`` (0 = 29 days ago, 29 = today)."""
        if self.tier in ("db", "cache"):
            return DB
        if self.tier == "web" and int(self.name.split("-")[1]) <= 60 and day >= ROLLOUT_DAY:
            return NEW
        if self.tier == "batch" and day >= ROLLOUT_DAY + 1:
            return NEW
        return OLD


@dataclass(frozen=True, slots=True)
class Bug:
    """One bug of the fleet: the lab log kind that shows it, how often it hits which tiers."""

    kind: str  # the log's name in _fleet/logs: <kernel>.<kind>.txt.gz
    per_day: float  # mean crashes a day over the whole fleet (where the log exists for the kernel)
    tiers: tuple[str, ...]
    # Exact counts by day instead of a rate (the spike's growth): day -> crashes.
    by_day: tuple[tuple[int, int], ...] = ()


ALL = ("web", "batch", "lb", "db", "cache")
BUGS = (
    Bug("softlockup", 2.2, ("web", "lb", "db", "cache")),
    Bug("oom", 1.6, ("batch", "cache")),
    Bug("null", 1.2, ("web", "batch", "lb")),
    Bug("rcu_stall", 0.8, ("db", "cache", "web")),
    Bug("gpf", 0.5, ALL),
    Bug("list_corruption", 0.45, ("web", "db")),
    Bug("uaf", 0.4, ("db", "cache", "lb")),
    Bug("warn", 0.6, ALL),
    Bug("bug", 0.4, ALL),
    Bug("stack_overflow", 0.25, ("batch", "db")),
    Bug("sysrq", 0.35, ALL),  # operators' sysrq-c on hung machines: a bucket of its own
    # New with 6.1.0-57 (the lab has these logs from -57 only).
    Bug("atomic_sysrq", 0.7, ("web", "batch")),
    Bug("bad_page", 0.6, ("batch",)),
    Bug("nmi", 0.6, ("web",)),
    Bug("nmi_idle", 0.5, ("web", "batch")),
    # The spike: 6.1.0-57's new WARNING, more each day since the rollout, and a jump today.
    Bug(
        "warn_core",
        0.0,
        ("web", "batch"),
        ((22, 2), (23, 2), (24, 3), (25, 3), (26, 4), (27, 4), (28, 5), (29, 30)),
    ),
)
SPIKE_KIND = "warn_core"
REGRESSION_KIND = "null"


@dataclass(frozen=True, slots=True)
class FleetCrash:
    host: Host
    kernel: str  # a KERNELS name
    kind: str  # a Bug.kind
    when: float  # crash time, UTC epoch seconds
    uptime: float  # seconds the host ran before the crash

    @property
    def crash_dir(self) -> str:
        """The crash directory's name as RHEL kdump makes it: ``<host>-YYYY-MM-DD-HH:MM:SS``."""
        return f"{self.host.name}-{time.strftime('%Y-%m-%d-%H:%M:%S', time.gmtime(self.when))}"

    @property
    def release(self) -> str:
        return RELEASE[self.kernel]


def hosts() -> list[Host]:
    """The fleet's 200 hosts (hardware by tier, a few odd ones as a real fleet has)."""
    out = [Host(f"web-{i:03d}", "web", "r650" if i % 7 else "dl360") for i in range(1, 91)]
    out += [Host(f"batch-{i:03d}", "batch", "smc" if i % 5 else "r650") for i in range(1, 41)]
    out += [Host(f"lb-{i:02d}", "lb", "kvm") for i in range(1, 17)]
    out += [Host(f"db-{i:02d}", "db", "dl360") for i in range(1, 31)]
    out += [Host(f"cache-{i:02d}", "cache", "kvm" if i % 3 else "smc") for i in range(1, 25)]
    return out


def available() -> set[tuple[str, str]]:
    """(kernel, kind) pairs the package has a lab log for."""
    out = set()
    for p in LOGS.glob("*.txt.gz"):
        kernel, kind = p.name.removesuffix(".txt.gz").rsplit(".", 1)
        out.add((kernel, kind))
    return out


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: rates here are a few a day, so the loop is short.
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class _Draw:
    """Which host a crash hits: the next of a shuffled round of the bug's tier (most hosts crash
    once or twice), now and then one of a few flaky hosts that crash again and again, as fleets
    have; always a host whose kernel that day has the bug's lab log."""

    def __init__(self, rng: random.Random, fleet: list[Host]) -> None:
        self.rng = rng
        self.rounds = {t: rng.sample(hs, len(hs)) for t in ALL if (hs := [h for h in fleet if h.tier == t])}
        self.turn = dict.fromkeys(ALL, 0)
        self.flaky = [fleet[3], fleet[95], fleet[170]]
        self.have = available()

    def host(self, bug: Bug, day: int) -> Host | None:
        tier = self.rng.choice(bug.tiers)
        if self.rng.random() < 0.08:
            host = self.rng.choice(self.flaky)
            if host.tier in bug.tiers and (host.kernel(day), bug.kind) in self.have:
                return host
        hs = self.rounds[tier]
        for _ in range(len(hs)):
            host = hs[self.turn[tier] % len(hs)]
            self.turn[tier] += 1
            if (host.kernel(day), bug.kind) in self.have:
                return host
        return None  # no host of the tier runs a kernel the lab has this bug's log for


def plan(now: float, seed: int = SEED) -> list[FleetCrash]:
    """Every crash of the demo's 30 days up to ``now``, oldest first; the same for the same arguments."""
    rng = random.Random(seed)
    fleet = hosts()
    draw = _Draw(rng, fleet)
    today0 = now - now % 86400  # midnight UTC today
    out: list[FleetCrash] = []
    for day in range(DAYS):
        start = today0 - (DAYS - 1 - day) * 86400
        end = min(start + 86400, now - 60)  # today's crashes happened before now
        if end <= start:
            continue
        for bug in BUGS:
            n = dict(bug.by_day).get(day, 0) if bug.by_day else _poisson(rng, bug.per_day)
            for _ in range(n):
                host = draw.host(bug, day)
                if host is None:
                    continue
                when = start + rng.random() * (end - start)
                uptime = rng.uniform(3600, 40 * 86400)
                out.append(FleetCrash(host, host.kernel(day), bug.kind, when, uptime))
    out.sort(key=lambda c: c.when)
    return _regression_last(out, fleet, now)


def _regression_last(crashes: list[FleetCrash], fleet: list[Host], now: float) -> list[FleetCrash]:
    """The regression bug's newest crash is on 6.1.0-57: the bucket's KB answer is its latest
    crash's, so the regression shows (a web canary crashed an hour ago)."""
    last = max((c for c in crashes if c.kind == REGRESSION_KIND), key=lambda c: c.when, default=None)
    if last is not None and last.kernel == NEW:
        return crashes
    canary = next(h for h in fleet if h.kernel(DAYS - 1) == NEW)
    when = max(now - 3600, (last.when + 1) if last else now - 3600)
    crashes.append(FleetCrash(canary, NEW, REGRESSION_KIND, min(when, now - 60), 5 * 86400.0))
    crashes.sort(key=lambda c: c.when)
    return crashes


@lru_cache(maxsize=64)
def source_log(kernel: str, kind: str) -> bytes:
    """The lab log of ``kind`` on ``kernel``, as the lab saved it."""
    return gzip.decompress((LOGS / f"{kernel}.{kind}.txt.gz").read_bytes())


_TS = re.compile(rb"^\[\s*(\d+)\.(\d{6})\]", re.M)
# The first line of the crash itself: what the lab's trigger, sysrq, the OOM killer or an NMI print.
_CRASH_START = re.compile(
    rb"^.*(?:crashmod: kind=|sysrq: Trigger a crash|invoked oom-killer|NMI received for unknown reason)",
    re.M,
)
_DMI = re.compile(rb"^(\[[ \d.]+\] (?:DMI: |Hardware name: )).*$", re.M)


def rewrite(log: bytes, hardware: str, uptime: float) -> bytes:
    """``log`` as the host would have written it: its DMI hardware, its uptime from the crash on."""
    out = _DMI.sub(lambda m: m[1] + hardware.encode(), log)
    m = _CRASH_START.search(out)
    if m is None:
        return out
    head, tail = out[: m.start()], out[m.start() :]
    shift = int(uptime * 1_000_000)

    def moved(t: re.Match[bytes]) -> bytes:
        us = int(t[1]) * 1_000_000 + int(t[2]) + shift
        return b"[%5d.%06d]" % divmod(us, 1_000_000)  # printk's own "[%5lu.%06lu]"

    return head + _TS.sub(moved, tail)


def crash_log(c: FleetCrash) -> bytes:
    """The kernel log of one planned crash."""
    return rewrite(source_log(c.kernel, c.kind), HARDWARE[c.host.hardware], c.uptime)
