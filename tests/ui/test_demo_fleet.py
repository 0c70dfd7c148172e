"""The demo fleet (crashhub.examples.fleet): a plan that tells the story the demo promises, from the
crash lab's real logs rewritten only where a log speaks of its host, grouped as the hub groups them."""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from crashhub import classify, triage
from crashhub.examples import fleet
from crashhub.ingest import parse_dir_name

NOW = 1_796_600_000.0  # a fixed "now" (2026-12-06 ~10:13 UTC): the plan is a function of it
LAB = Path(__file__).resolve().parent.parent / "triage" / "data" / "lab"


def _day(t: float) -> int:
    return fleet.DAYS - 1 - int((NOW - NOW % 86400 - (t - t % 86400)) // 86400)


def test_plan_is_deterministic_and_fleet_sized() -> None:
    a, b = fleet.plan(NOW), fleet.plan(NOW)
    assert [(c.crash_dir, c.kind, c.uptime) for c in a] == [(c.crash_dir, c.kind, c.uptime) for c in b]
    assert fleet.plan(NOW, seed=1) != a
    assert len(fleet.hosts()) == 200
    assert 250 <= len(a) <= 500
    assert len({c.host.name for c in a}) >= 150
    assert {c.kernel for c in a} == set(fleet.KERNELS)
    assert all(NOW - fleet.DAYS * 86400 <= c.when < NOW for c in a)
    assert [c.when for c in a] == sorted(c.when for c in a)


def test_plan_has_the_rollout_the_spike_and_the_regression() -> None:
    crashes = fleet.plan(NOW)
    # 6.1.0-57 only from the rollout day on.
    assert min(_day(c.when) for c in crashes if c.kernel == fleet.NEW) == fleet.ROLLOUT_DAY
    # The spike bug: none before the rollout, and today at least 3x the trailing median (of the
    # 14 days the hub's spike flag looks at).
    per_day = Counter(_day(c.when) for c in crashes if c.kind == fleet.SPIKE_KIND)
    assert min(per_day) == fleet.ROLLOUT_DAY
    today = fleet.DAYS - 1
    trailing = [per_day.get(d, 0) for d in range(today - 14, today)]
    assert per_day[today] >= 5 and per_day[today] >= 3 * max(statistics.median(trailing), 1)
    # The regression bug's newest crash is on the kernel its KB entry says fixed it.
    newest = max((c for c in crashes if c.kind == fleet.REGRESSION_KIND), key=lambda c: c.when)
    assert newest.kernel == fleet.NEW
    assert {c.kernel for c in crashes if c.kind == fleet.REGRESSION_KIND} >= {fleet.OLD, fleet.NEW}


def test_crash_dir_names_the_host_and_time_as_kdump_does() -> None:
    for c in fleet.plan(NOW)[:20]:
        host, kind, when, layout = parse_dir_name(c.crash_dir)
        assert (host, kind, layout) == (c.host.name, "name", "rhel")
        assert when == int(c.when)


def test_logs_are_the_labs_own() -> None:
    """Every packaged log is one of the golden lab logs byte for byte, or (6.1.0-57's null, bug and
    sysrq, which the golden set lacks) a lab log of that kernel and kind."""
    golden = {p.read_bytes() for p in LAB.glob("*.vmcore-dmesg.txt")}
    pairs = fleet.available()
    assert len({k for _, k in pairs}) >= 15 and {k for k, _ in pairs} == set(fleet.KERNELS)
    for kernel, kind in sorted(pairs):
        log = fleet.source_log(kernel, kind)
        assert f"Linux version {fleet.RELEASE[kernel]} ".encode() in log[:300], (kernel, kind)
        if log not in golden:
            assert (kernel, kind) in {(fleet.NEW, "null"), (fleet.NEW, "bug"), (fleet.NEW, "sysrq")}


@pytest.mark.parametrize("pair", sorted(fleet.available()))
def test_rewrite_keeps_what_the_hub_reads(pair: tuple[str, str]) -> None:
    """The host's hardware and uptime change; the bug, its bucket and its kernel do not."""
    kernel, kind = pair
    src = fleet.source_log(kernel, kind)
    hw = fleet.HARDWARE["r650"]
    out = fleet.rewrite(src, hw, 3 * 86400 + 0.5)
    (before, *_), (after, *_) = triage.parse(src.decode()), triage.parse(out.decode())
    assert classify.signature(after).key == classify.signature(before).key
    assert (after.kind, after.title, after.release) == (before.kind, before.title, before.release)
    assert after.hardware == hw.split(", BIOS")[0] or after.hardware == hw
    # Boot lines stay at their boot times; the crash moved by the uptime.
    assert out.splitlines()[0] == src.splitlines()[0]
    assert out.count(b"\n") == src.count(b"\n")
    stamps = [float(m[1]) for m in re.finditer(rb"^\[\s*(\d+\.\d{6})\]", out, re.M)]
    old = [float(m[1]) for m in re.finditer(rb"^\[\s*(\d+\.\d{6})\]", src, re.M)]
    assert len(stamps) == len(old) and max(stamps) > 3 * 86400
    assert [t > 86400 for t in stamps] == sorted(t > 86400 for t in stamps)  # one cut, from the crash on


def test_buckets_are_what_the_hub_computes() -> None:
    """The plan's crashes group into 15-25 buckets by the hub's own signature (no invented keys)."""
    keys: dict[str, set[str]] = defaultdict(set)
    started = time.monotonic()
    for kernel, kind in fleet.available():
        (r, *_) = triage.parse(fleet.source_log(kernel, kind).decode())
        keys[classify.signature(r).key].add(kind)
    assert time.monotonic() - started < 10
    planned = {c.kind for c in fleet.plan(NOW)}
    buckets = {k for k, kinds in keys.items() if kinds & planned}
    assert 15 <= len(buckets) <= 25, keys
