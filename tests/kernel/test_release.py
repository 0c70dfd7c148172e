"""crashhub.kernel releases: the version numbers (the old agent/dump/analyze readers' cases) and the
series parser (kb/release's, whose own tests stay in tests/kb)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crashhub.dump._vmcoreinfo import build_id_is_broken
from crashhub.kernel import Release, kernel_version, parse_release, vercmp


@pytest.mark.parametrize(("raw", "want"), [
    # agent/makedumpfile's old cases
    ("6.12.117+deb12-cloud-amd64", (6, 12, 117)), ("3.10.0-1160.el7.x86_64", (3, 10, 0)), ("garbage", None),
    # the distributions the hub meets
    ("6.1.0-57-amd64", (6, 1, 0)), ("6.12.118+deb12-amd64", (6, 12, 118)),
    ("5.14.0-427.13.1.el9_4.x86_64", (5, 14, 0)), ("6.8.0-45-generic", (6, 8, 0)), ("6.12.0-rc3", (6, 12, 0)),
    # dump/printk's and dump/describe's: no sublevel, old four-number kernels, nothing
    ("6.2-rc3", (6, 2, 0)), ("2.6.32.1", (2, 6, 32)), ("3.10", (3, 10, 0)),
    ("6", None), ("", None), (None, None),
    (" 6.1.0 ", (6, 1, 0)), ("6.1.x", (6, 1, 0)), ("6.x", None),
])
def test_kernel_version(raw: str | None, want: tuple[int, int, int] | None) -> None:
    assert kernel_version(raw) == want


def test_the_old_feature_checks_read_the_same() -> None:
    assert build_id_is_broken("6.1.115-1") and not build_id_is_broken("6.1.119")
    assert not build_id_is_broken("6.1") and not build_id_is_broken("x.1.115")


@pytest.mark.parametrize(("raw", "series", "key"), [
    ("6.1.0-57-amd64", "abi-6.1", "6.1.0-57"),
    ("6.12.118+deb12-amd64", "deb12", "6.12.118+deb12"),
    ("5.14.0-427.13.1.el9_4.x86_64", "el9", "5.14.0-427.13.1.el9_4"),
    ("6.8.0-45-generic", "abi-6.8", "6.8.0-45"),
    ("6.12.0-rc3", "upstream", "6.12.0~rc3"),
])
def test_parse_release(raw: str, series: str, key: str) -> None:
    r = parse_release(raw)
    assert (r.series, r.key) == (series, key)
    assert r.version == kernel_version(raw)
    assert Release.from_dict(r.to_dict()) == r


def test_comparison_within_a_series() -> None:
    assert vercmp(parse_release("6.1.0-57-amd64").key, parse_release("6.1.0-100-cloud-amd64").key) == -1
    assert vercmp(parse_release("6.12.0-rc3").key, parse_release("6.12.0").key) == -1
    assert vercmp("5.14.0-427.13.1.el9_4", "5.14.0-362.24.1.el9_3") == 1


def test_version_numbers_load_without_re() -> None:
    # crashhub dump dmesg reads them at start-up (tests/dump/test_cli.py keeps re out of it)
    probe = ("import sys; from crashhub.kernel import kernel_version; kernel_version('6.1');"
             "print(' '.join(m for m in ('re', 'typing', 'dataclasses') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    assert r.stdout.strip() == ""
