"""Parsing and rewriting RHEL kdump.conf and Debian /etc/default/kdump-tools."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crashhub import cli
from crashhub.agent import _kdumpconf as kdumpconf
from crashhub.agent._kdumpconf import parse_collector, parse_debian, parse_rhel

from .conftest import DATA

HOSTS = DATA / "hosts"


@pytest.mark.parametrize(("cmd", "level", "flat", "comp"), [
    ("makedumpfile -l --message-level 7 -d 31", 31, False, "lzo"),
    ("makedumpfile -F -l --message-level 1 -d 31", 31, True, "lzo"),
    ("/usr/sbin/makedumpfile -Fc -d23", 23, True, "zlib"),
    ("makedumpfile --dump-level=17 -z", 17, False, "zstd"),
    ("makedumpfile -E -d 99", None, False, None),
])
def test_collector(cmd: str, level: int | None, flat: bool, comp: str | None) -> None:
    c = parse_collector(cmd)
    assert (c.program, c.dump_level, c.flattened, c.compression) == ("makedumpfile", level, flat, comp)


def test_collector_not_makedumpfile() -> None:
    assert parse_collector("scp").program == "scp"
    assert parse_collector("cp --sparse=always").dump_level is None


def test_rhel_defaults_and_targets() -> None:
    c = parse_rhel("# nothing\n")
    assert (c.path, c.target, c.collector.dump_level, c.failure_action) == ("/var/crash", "local", 31, None)
    c = parse_rhel("ssh kdump@hub  # comment\nsshkey /root/.ssh/k\ndefault dump_to_rootfs\n"
                   "core_collector \"makedumpfile -F -l -d 31\"\n")
    assert (c.target, c.target_value, c.sshkey, c.failure_action) == ("ssh", "kdump@hub", "/root/.ssh/k",
                                                                     "dump_to_rootfs")
    assert c.collector.flattened and c.network
    c = parse_rhel("nfs nas:/export\next4 UUID=1\n")
    assert c.problems and c.target == "fs"
    assert parse_rhel("net user@host\n").problems


def test_debian_vars() -> None:
    c = parse_debian('USE_KDUMP=1\nexport KDUMP_COREDIR="/srv/crash" # here\nMAKEDUMP_ARGS="-c -d 31"\n'
                     "SSH='kdump@hub'\n")
    assert c.enabled and c.path == "/srv/crash" and c.target == "ssh"
    # kdump-config adds -F for ssh by itself.
    assert c.collector.flattened and c.collector.compression == "zlib"
    assert parse_debian("USE_KDUMP=0\n").enabled is False
    assert parse_debian("").collector.dump_level == 31


def test_render_rhel_template() -> None:
    text = (HOSTS / "rhel7-good" / "etc/kdump.conf").read_text()
    new = kdumpconf.render_rhel(text, "hub.example", ssh_user="kdump", path="/srv/spool")
    c = parse_rhel(new)
    assert (c.target, c.target_value, c.path) == ("ssh", "kdump@hub.example", "/srv/spool")
    assert c.collector.command == "makedumpfile -F -l --message-level 1 -d 31"
    # RHEL 7's template spells the failure action 'default'.
    assert "default dump_to_rootfs" in new.splitlines() and c.failure_action == "dump_to_rootfs"
    assert not c.problems
    # Idempotent, and comments survive.
    assert kdumpconf.render_rhel(new, "hub.example", ssh_user="kdump", path="/srv/spool") == new
    assert "#raw /dev/vg/lv_kdump" in new


def test_render_rhel_disables_other_targets() -> None:
    new = kdumpconf.render_rhel("nfs nas:/export\npath /x\nfailure_action reboot\n", "hub", path="/s",
                                dump_level=23)
    c = parse_rhel(new)
    assert c.target == "ssh" and not c.problems and c.collector.dump_level == 23
    assert c.failure_action == "dump_to_rootfs"
    assert "#nfs nas:/export  # disabled by crashhub kdump config" in new


def test_render_debian() -> None:
    text = (HOSTS / "debian12-good" / "etc/default/kdump-tools").read_text()
    new = kdumpconf.render_debian(text, "hub.example", path="/srv/spool", sshkey="/root/.ssh/kdump_id_rsa")
    c = parse_debian(new)
    assert (c.target, c.target_value, c.path, c.enabled) == ("ssh", "root@hub.example", "/srv/spool", True)
    assert c.collector.flattened and c.collector.compression == "lzo" and c.collector.message_level == 1
    assert c.sshkey == "/root/.ssh/kdump_id_rsa"
    assert kdumpconf.render_debian(new, "hub.example", path="/srv/spool",
                                   sshkey="/root/.ssh/kdump_id_rsa") == new
    # The SSH line went where the template's commented one is.
    lines = new.splitlines()
    assert lines.index("SSH=root@hub.example") == lines.index('#SSH="<user at server>"') + 1


def test_cli_config_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "host"
    shutil.copytree(HOSTS / "rhel8-ssh-noF", root, symlinks=True)
    conf = root / "etc/kdump.conf"
    before = conf.read_text()
    assert cli.main(["kdump", "config", "--hub", "hub.example", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "core_collector makedumpfile -F -l --message-level 1 -d 31" in out
    assert "+failure_action dump_to_rootfs" in out and "not written" in out
    assert conf.read_text() == before
    assert cli.main(["kdump", "config", "--hub", "hub.example", "--root", str(root), "--write"]) == 0
    backups = list(conf.parent.glob("kdump.conf.crashhub-bak.*"))
    assert len(backups) == 1 and backups[0].read_text() == before
    assert parse_rhel(conf.read_text()).collector.flattened
    # After the write the check passes the -F item.
    assert cli.main(["kdump", "check", "--root", str(root), "--json"]) in (0, 1)
    assert '"id": "flatten",\n      "status": "ok"' in capsys.readouterr().out


def test_cli_config_on_612_host_picks_d23(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["kdump", "config", "--hub", "hub", "--root", str(HOSTS / "debian12-bpo612")]) == 0
    out = capsys.readouterr().out
    assert "MAKEDUMP_ARGS='-F -l --message-level 1 -d 23'" in out and "slab" in out


def test_cli_config_without_kdump_and_distro_asks_for_flavor(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["kdump", "config", "--hub", "hub", "--root", str(tmp_path)]) == 2
    assert "--flavor rhel|debian" in capsys.readouterr().err


def _host(root: Path, os_release: str) -> Path:
    (root / "etc").mkdir(parents=True)
    (root / "etc/os-release").write_text(os_release)
    return root


RHEL9 = 'NAME="Red Hat Enterprise Linux"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n'
RHEL7 = 'NAME="CentOS Linux"\nID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n'
DEBIAN12 = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'


@pytest.mark.parametrize(("release", "action"), [(RHEL9, "failure_action"), (RHEL7, "default")])
def test_cli_config_recommends_a_whole_kdump_conf(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   release: str, action: str) -> None:
    root = _host(tmp_path / "host", release)
    assert cli.main(["kdump", "config", "--hub", "hub.example", "--root", str(root)]) == 0
    out, err = capsys.readouterr()
    # Standard output is the file alone: `crashhub kdump config --hub H > /etc/kdump.conf`.
    assert out.startswith("# /etc/kdump.conf, as recommended by `crashhub kdump config`")
    assert "none on this host" in err and not (root / "etc/kdump.conf").exists()
    cfg = parse_rhel(out)
    assert (cfg.target, cfg.target_value, cfg.path) == ("ssh", "root@hub.example", "/var/lib/crashhub/spool")
    assert cfg.collector.flattened and cfg.collector.dump_level == 31 and not cfg.problems
    assert cfg.sshkey == "/root/.ssh/kdump_id_rsa" and cfg.failure_action == "dump_to_rootfs"
    assert f"\n{action} dump_to_rootfs\n" in out

    # --write puts it in place; then the host has one, and the command edits it: nothing to change.
    assert cli.main(["kdump", "config", "--hub", "hub.example", "--root", str(root), "--write"]) == 0
    capsys.readouterr()
    assert (root / "etc/kdump.conf").read_text() == out
    assert cli.main(["kdump", "config", "--hub", "hub.example", "--root", str(root)]) == 0
    assert "# no change: the file already has these settings" in capsys.readouterr().out


@pytest.mark.parametrize("release", [DEBIAN12, UBUNTU])
def test_cli_config_recommends_a_whole_kdump_tools(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    release: str) -> None:
    root = _host(tmp_path / "host", release)
    assert cli.main(["kdump", "config", "--hub", "hub", "--root", str(root), "--dump-level", "23"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# /etc/default/kdump-tools, as recommended")
    cfg = parse_debian(out)
    assert cfg.enabled and (cfg.target, cfg.target_value, cfg.path) == ("ssh", "root@hub",
                                                                         "/var/lib/crashhub/spool")
    assert cfg.collector.flattened and cfg.collector.dump_level == 23 and not cfg.problems
    assert "MAKEDUMP_ARGS='-F -l --message-level 1 -d 23'" in out and "KDUMP_DUMP_DMESG=1" in out
    # --flavor overrides what the host says.
    assert cli.main(["kdump", "config", "--hub", "hub", "--root", str(root), "--flavor", "rhel"]) == 0
    assert capsys.readouterr().out.startswith("# /etc/kdump.conf")


def test_flavor_of_os_release() -> None:
    assert kdumpconf.flavor_of_os_release(RHEL7) == ("rhel", 7)
    assert kdumpconf.flavor_of_os_release(UBUNTU) == ("debian", 24)
    assert kdumpconf.flavor_of_os_release('ID=arch\n') == (None, None)
