"""``kdump check`` over fixture trees of RHEL 7/8/9 and Debian/Ubuntu hosts (tests/agent/data/hosts)."""

from __future__ import annotations

import json
import os as os_mod
from pathlib import Path

import pytest

from crashhub import cli
from crashhub.agent._check import HostFacts, Space, check, evaluate, gather

from .conftest import DATA

HOSTS = DATA / "hosts"
GiB = 2**30


def _roomy(path: Path) -> Space:
    return Space(str(path), 500 * GiB)


# tree -> (verdict, {item: status} that must hold)
CASES: dict[str, tuple[str, dict[str, str]]] = {
    "rhel7-good": ("ok", {"config": "ok", "service": "ok", "crashkernel": "ok", "reservation": "ok",
                          "loaded": "ok", "collector": "ok", "space": "ok", "makedumpfile": "ok"}),
    "rhel8-ssh-noF": ("fail", {"flatten": "fail", "failure_action": "warn", "space": "unknown",
                               "sshkey": "ok"}),
    "rhel9-good-ssh": ("ok", {"flatten": "ok", "failure_action": "ok", "sshkey": "ok", "space": "unknown"}),
    "rhel9-no-crashkernel": ("fail", {"crashkernel": "fail", "reservation": "fail", "loaded": "fail"}),
    "rhel9-service-off": ("fail", {"service": "fail", "loaded": "fail", "crashkernel": "ok"}),
    "debian12-good": ("warn", {"service": "ok", "crashkernel": "ok", "makedumpfile": "warn", "space": "ok"}),
    "debian12-bpo612": ("fail", {"makedumpfile": "fail", "collector": "ok"}),
    "ubuntu-service-off": ("fail", {"service": "fail", "loaded": "fail", "makedumpfile": "ok"}),
    "ubuntu-no-space": ("ok", {"space": "ok"}),  # with 500 GiB free; see test_no_space
    "debian-ssh-nfs": ("fail", {"config": "fail", "sshkey": "fail", "failure_action": "warn"}),
}


@pytest.mark.parametrize("tree", sorted(CASES))
def test_fixture_trees(tree: str) -> None:
    verdict, want = CASES[tree]
    r = check(HOSTS / tree, statvfs=_roomy)
    got = {i.id: i.status for i in r.items}
    assert {k: got.get(k) for k in want} == want, [i for i in r.items if i.status != "ok"]
    assert r.verdict == verdict
    for i in r.items:
        if i.status in ("fail", "warn"):
            assert i.fix, f"{tree}: {i.id} has no fix"


def test_every_tree_is_covered() -> None:
    assert sorted(p.name for p in HOSTS.iterdir()) == sorted(CASES)


def test_no_space() -> None:
    r = check(HOSTS / "ubuntu-no-space", statvfs=lambda p: Space(str(p), 20 * GiB))
    space = next(i for i in r.items if i.id == "space")
    assert space.status == "fail" and "20.0 GiB free" in space.summary
    assert r.estimate is not None and r.estimate.bytes > 180 * GiB  # 180 GiB of slab alone
    # Compressed collector: between half the bound and the bound is a warning.
    half = r.estimate.bytes * 3 // 4
    r2 = check(HOSTS / "ubuntu-no-space", statvfs=lambda p: Space(str(p), half))
    assert next(i for i in r2.items if i.id == "space").status == "warn"


def test_612_with_old_makedumpfile_advises_d23() -> None:
    r = check(HOSTS / "debian12-bpo612", statvfs=_roomy)
    item = next(i for i in r.items if i.id == "makedumpfile")
    assert "6.10" in item.summary and "slab" in item.summary
    assert item.fix is not None and "-d 23" in item.fix and "1.7.7" in item.fix


def test_facts_read_from_the_tree() -> None:
    f = gather(HOSTS / "debian12-good", statvfs=_roomy)
    assert f.release == "6.1.0-26-amd64" and f.makedumpfile_version == (1, 7, 2)
    assert f.ram == 16 * 128 * 2**20  # 16 online memory blocks of 128 MiB; memory16 is offline
    est = evaluate(f).estimate
    assert est is not None and est.parts["reserved"] == f.ram - 256 * 2**20 - 1_700_000 * 1024
    assert f.crash_size == 256 * 2**20 and f.crash_loaded is True
    assert f.service is not None and (f.service.unit, f.service.enabled, f.service.active) == \
        ("kdump-tools.service", True, True)
    f = gather(HOSTS / "rhel7-good", statvfs=_roomy)
    assert f.makedumpfile == "/usr/sbin/makedumpfile" and f.makedumpfile_version == (1, 6, 7)


def test_missing_everything(tmp_path: Path) -> None:
    r = check(tmp_path)
    got = {i.id: i.status for i in r.items}
    assert got["config"] == "fail" and got["service"] == "fail" and got["makedumpfile"] == "fail"
    assert got["crashkernel"] == "unknown" and r.verdict == "fail"


def test_evaluate_is_pure() -> None:
    f = HostFacts(root="/x", release="6.12.5", cmdline="crashkernel=256M", crash_size=1, crash_loaded=True)
    a, b = evaluate(f), evaluate(f)
    assert a == b


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["kdump", "check", "--root", str(HOSTS / "rhel8-ssh-noF"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1 and doc["verdict"] == "fail" and doc["flavor"] == "rhel"
    assert doc["config"]["target"] == "ssh" and doc["config"]["flattened"] is False
    assert {i["id"] for i in doc["items"]} >= {"service", "crashkernel", "flatten", "makedumpfile"}


def test_cli_text(capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["kdump", "check", "--root", str(HOSTS / "rhel9-good-ssh")])
    out = capsys.readouterr().out
    assert rc == 0 and "kdump check: OK" in out and "dump_to_rootfs" in out


def test_live_host_does_not_crash() -> None:
    # Whatever this machine is (container, no kdump), the check answers and never raises.
    r = check("/")
    assert r.verdict in ("ok", "warn", "fail") and r.items


def test_as_non_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a non-root user meets: kdump.conf mode 0600 and /root unreadable become 'unknown'."""
    real_open, real_lstat = Path.open, os_mod.lstat

    def fake_open(self: Path, *a: object, **kw: object) -> object:
        if self.name == "kdump.conf":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *a, **kw)  # type: ignore[arg-type]

    def fake_lstat(p: object, *a: object, **kw: object) -> object:
        if "/root/" in str(p):
            raise PermissionError(13, "Permission denied", str(p))
        return real_lstat(p, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", fake_open)
    monkeypatch.setattr(os_mod, "lstat", fake_lstat)
    r = check(HOSTS / "rhel9-good-ssh", statvfs=_roomy)
    got = {i.id: i.status for i in r.items}
    config = next(i for i in r.items if i.id == "config")
    assert got["config"] == "unknown" and "run as root" in config.summary
    assert got["crashkernel"] == "ok" and got["loaded"] == "ok" and r.verdict != "fail"
    monkeypatch.setattr(Path, "open", real_open)
    r = check(HOSTS / "rhel9-good-ssh", statvfs=_roomy)
    assert {i.id: i.status for i in r.items}["sshkey"] == "unknown"
