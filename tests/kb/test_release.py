"""The release comparator and the series rules (crashhub.kb._release)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crashhub.kb._release import bound_series, compare_to_bound, parse_release, vercmp


@pytest.mark.parametrize(("a", "b", "want"), [
    # rpm's own rpmvercmp cases (tests/rpmvercmp.at), as far as they apply.
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0", "1.0", 1),
    ("2.0.1", "2.0.1", 0), ("2.0", "2.0.1", -1), ("2.0.1a", "2.0.1", 1),
    ("5.5p1", "5.5p2", -1), ("5.5p10", "5.5p1", 1), ("10xyz", "10.1xyz", -1),
    ("xyz10", "xyz10.1", -1), ("1.0", "1.0a", -1), ("10a2", "10b2", -1),
    ("1b3", "1a3", 1), ("7.0", "7.0.0", -1), ("a", "1", -1), ("1", "a", 1),
    ("010", "10", 0), ("1.0~rc1", "1.0", -1), ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~rc1~git123", "1.0~rc1", -1), ("1.0^", "1.0", 1), ("1.0^git1", "1.0.1", -1),
    ("1.0^git1", "1.0^git2", -1), ("1.0^git1~pre", "1.0^git1", -1),
    # kernels
    ("6.10", "6.9", 1), ("6.1.0-56", "6.1.0-57", -1), ("6.1.0-100", "6.1.0-99", 1),
    ("4.18.0-513.5.1.el8_9", "4.18.0-513.11.1.el8_9", -1),
    ("5.14.0-362.8.1.el9_3", "5.14.0-362.el9", 1),
    ("5.14.0-427.13.1.el9_4", "5.14.0-362.24.1.el9_3", 1),
    ("6.12.117+deb12", "6.12.117", 1),
])
def test_vercmp(a: str, b: str, want: int) -> None:
    assert vercmp(a, b) == want
    assert vercmp(b, a) == -want


@pytest.mark.parametrize(("raw", "series", "key", "upstream"), [
    ("6.1.0-56-cloud-amd64", "abi-6.1", "6.1.0-56", None),
    ("4.18.0-513.5.1.el8_9.x86_64", "el8", "4.18.0-513.5.1.el8_9", None),
    ("5.14.0-362.8.1.el9_3", "el9", "5.14.0-362.8.1.el9_3", None),
    ("6.12.117+deb12-cloud-amd64", "deb12", "6.12.117+deb12", "6.12.117"),
    ("5.15.0-200.131.27.el8uek.x86_64", "el8uek", "5.15.0-200.131.27.el8uek", None),
    ("3.8.9-200.fc18.x86_64", "fc18", "3.8.9-200.fc18", "3.8.9"),
    ("5.15.0-91-generic", "abi-5.15", "5.15.0-91", None),
    ("6.2.0-rc3", "upstream", "6.2.0~rc3", "6.2.0~rc3"),
    ("6.6.30", "upstream", "6.6.30", "6.6.30"),
    ("not a release", "unknown", "not a release", None),
])
def test_parse_release(raw: str, series: str, key: str, upstream: str | None) -> None:
    r = parse_release(raw)
    assert (r.series, r.key, r.upstream) == (series, key, upstream)


def test_debian_abi_release_takes_upstream_from_version_line() -> None:
    r = parse_release("6.1.0-56-cloud-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2 (2026-11-16)")
    assert r.upstream == "6.1.192"
    # A version line of another kernel line is not believed.
    assert parse_release("6.1.0-56-amd64", "#1 SMP Debian 5.10.1-1").upstream is None


def test_bounds_apply_only_within_their_series() -> None:
    deb = parse_release("6.1.0-56-cloud-amd64")
    assert compare_to_bound(deb, "6.1.0-57") == -1
    assert compare_to_bound(deb, "6.1.0-56") == 0  # the arch/flavour suffix does not count
    assert compare_to_bound(deb, "5.14.0-362.8.1.el9_3") is None  # another distribution
    assert compare_to_bound(deb, "6.12.117+deb12") is None
    assert compare_to_bound(deb, "6.2") is None  # upstream version unknown without the version line
    rhel = parse_release("5.14.0-362.8.1.el9_3.x86_64")
    assert compare_to_bound(rhel, "5.14.0-362.8.1.el9_3") == 0
    assert compare_to_bound(rhel, "5.14.0-284.11.1.el9_2") == 1
    assert compare_to_bound(rhel, "4.18.0-513.5.1.el8_9") is None
    assert compare_to_bound(rhel, "5.15") is None  # RHEL's 5.14.0 says nothing about upstream
    bpo = parse_release("6.12.117+deb12-cloud-amd64")
    assert compare_to_bound(bpo, "6.12.118") == -1
    assert compare_to_bound(bpo, "6.12") == 1
    assert compare_to_bound(bpo, "6.13-rc1") == -1


def test_bound_series() -> None:
    assert bound_series("6.2") == "upstream"
    assert bound_series("6.2-rc1") == "upstream"
    assert bound_series("6.1.0-57") == "abi-6.1"
    assert bound_series("4.18.0-513.5.1.el8_9") == "el8"
    assert bound_series("bogus") == "unknown"


VERSIONS = st.text(alphabet="0123456789.-_+~^abcelz", max_size=16)
DOTTED = st.lists(st.integers(0, 10_000), min_size=1, max_size=5)


@given(VERSIONS, VERSIONS)
def test_vercmp_is_antisymmetric(a: str, b: str) -> None:
    assert vercmp(a, b) == -vercmp(b, a)
    assert vercmp(a, a) == 0


@given(DOTTED, DOTTED)
def test_vercmp_orders_dotted_numbers_like_tuples(a: list[int], b: list[int]) -> None:
    want = (a > b) - (a < b)
    assert vercmp(".".join(map(str, a)), ".".join(map(str, b))) == want


@given(st.text(max_size=300))
def test_parse_release_never_fails(s: str) -> None:
    r = parse_release(s, s)
    assert r.series and isinstance(r.key, str)
