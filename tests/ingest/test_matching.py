"""crashhub.ingest._matching: which facts of a dump are compared with a crash, and how."""

from __future__ import annotations

from crashhub.ingest._matching import (
    DIR_TIME_SKEW,
    Known,
    disagreement,
    log_banner,
    log_build_id,
    names_a_host,
    same_host,
    times_disagree,
)


def test_host_names() -> None:
    assert same_host("web-a", "WEB-A") and same_host("web-a", "web-a.example.com.")
    assert not same_host("web-a.example.com", "web-a.example.org") and not same_host("web-a", "web-b")
    assert names_a_host("web-a") and names_a_host("10.0.0.5")
    assert not any(names_a_host(n) for n in ("unknown", "(none)", "localhost", "127.0.0.1", "::1"))


def test_times() -> None:
    assert not times_disagree(100.0, "dump", 200.0, "dump")
    assert times_disagree(100.0, "dump", 300.0, "dump")
    assert not times_disagree(0.0, "dump", DIR_TIME_SKEW, "dir-name")
    assert times_disagree(0.0, "dump", DIR_TIME_SKEW + 1, "dir-name")
    assert not times_disagree(0.0, "dir-name", 1e9, "dir-name")  # a re-sent directory keeps its name
    assert not times_disagree(None, "dump", 5.0, "dump")


def test_build_id_and_banner_from_the_log() -> None:
    bid = "0123456789abcdef0123456789abcdef01234567"
    log = (
        "[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian "
        "12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2\n"
        f"[   12.0] CPU: 1 PID: 7 Comm: bash Tainted: G OE 6.1.0-56-cloud-amd64 #1 {bid}\n"
    )
    assert log_build_id(log) == bid
    assert log_banner(log) == ("6.1.0-56-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2")
    assert log_build_id("[ 1.0] CPU: 1 PID: 7 Comm: bash Not tainted 6.1.0 #1\n") is None
    assert log_banner("[ 1.0] nothing here\n") is None


def test_only_what_both_sides_know_is_compared() -> None:
    facts = {"hostname": "web-a", "release": "6.1.0-56", "crash_time": 1000}
    assert disagreement(Known(), facts, None) is None
    assert disagreement(Known(host="web-a.example.com", release="6.1.0-56"), facts, None) is None
    # A directory's IP is not compared with a nodename; a placeholder nodename with nothing.
    assert disagreement(Known(host="10.0.0.5"), facts, None) is None
    assert disagreement(Known(host="web-b"), {"hostname": "(none)"}, None) is None
    why = disagreement(Known(host="web-b"), facts, None)
    assert why is not None and "'web-a'" in why and "'web-b'" in why
    why = disagreement(Known(crash_time=1000 + DIR_TIME_SKEW + 60, time_source="dir-name"), facts, None)
    assert why is not None and "crash time" in why
