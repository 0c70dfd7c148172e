"""The numbers a kernel release starts with, without ``re``: ``crashhub dump dmesg`` reads them at
start-up, and importing ``re`` would cost it ~2 ms (tests/dump/test_cli.py checks it does not)."""

from __future__ import annotations

_DIGITS = "0123456789"


def kernel_version(release: str | None) -> tuple[int, int, int] | None:
    """``6.12.117+deb12-cloud-amd64`` -> (6, 12, 117); ``6.2-rc3`` -> (6, 2, 0); None when not a release.

    VERSION.PATCHLEVEL[.SUBLEVEL] then anything (EXTRAVERSION, LOCALVERSION).  RHEL and Debian ABI
    releases give the base they froze (``4.18.0-513.el8`` -> (4, 18, 0)), which is what their
    VMCOREINFO, printk and page-flag layouts follow.
    """
    rest = (release or "").strip()
    nums: list[int] = []
    while len(nums) < 3:
        digits = len(rest) - len(rest.lstrip(_DIGITS))
        if not digits:
            break
        nums.append(int(rest[:digits]))
        if not rest.startswith(".", digits):
            break  # "6.1.0-56": the number ends at the "-"
        rest = rest[digits + 1 :]
    if len(nums) < 2:
        return None
    return nums[0], nums[1], nums[2] if len(nums) > 2 else 0
