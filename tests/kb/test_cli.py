"""``crashhub kb``: lint, list, show, match."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from crashhub.cli import main

NULL_LOG = """\
[    3.417161] BUG: kernel NULL pointer dereference, address: 0000000000000020
[    3.417800] #PF: supervisor write access in kernel mode
[    3.418100] #PF: error_code(0x0002) - not-present page
[    3.418400] PGD 0 P4D 0
[    3.418600] Oops: 0002 [#1] PREEMPT SMP NOPTI
[    3.418900] CPU: 1 PID: 118 Comm: sh Tainted: G           OE      6.1.0-56-cloud-amd64 #1  Debian 6.1.192-2
[    3.419300] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
[    3.419700] RIP: 0010:crashmod_null+0xc/0x20 [crashmod]
[    3.421000] Call Trace:
[    3.421100]  <TASK>
[    3.421200]  crashmod_write+0x9a/0x110 [crashmod]
[    3.421300]  proc_reg_write+0x56/0xa0
[    3.421400]  vfs_write+0xc7/0x3c0
[    3.421500]  ksys_write+0x5f/0xe0
[    3.421600]  do_syscall_64+0x55/0xb0
[    3.421700]  entry_SYSCALL_64_after_hwframe+0x6e/0xd8
[    3.421800]  </TASK>
[    3.421900] Modules linked in: crashmod(OE) qemu_fw_cfg virtio_blk
[    3.422000] CR2: 0000000000000020
[    3.422100] ---[ end trace 0000000000000000 ]---
"""


def write_kb(d: Path, name: str, body: str) -> Path:
    d.mkdir(exist_ok=True)
    p = d / f"{name}.yaml"
    p.write_text(body)
    return p


def test_lint_prints_one_line_per_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = tmp_path / "kb"
    write_kb(kb, "good", "id: good\ntitle: t\nmatch: {kinds: [oom]}\n")
    write_kb(kb, "bad-regex", "id: bad-regex\ntitle: t\nmatch:\n  kinds: [oom]\n  function: 'ext4_('\n")
    write_kb(kb, "typo", "id: typo\ntitle: t\nmatch: {kinds: [oom]}\nadvise: x\n")
    assert main(["kb", "lint", str(kb)]) == 2
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{kb}/bad-regex.yaml:5: field 'match.function': bad regex 'ext4_('")
    assert lines[1].startswith(f"{kb}/typo.yaml:4: field 'advise': unknown field 'advise'")
    assert "2 problem(s); 1 entry fine" in err


@pytest.fixture(autouse=True)
def no_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No hub in the default data directory: list, show and match read the shipped entries."""
    monkeypatch.setenv("CRASHHUB_DATA", str(tmp_path / "no-hub"))
    monkeypatch.chdir(tmp_path)


def test_list_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "list"]) == 0
    out = capsys.readouterr().out
    assert "generic-hung_task" in out and "crashmod" not in out
    assert main(["kb", "list", "--examples", "--json"]) == 0
    ids = [e["id"] for e in json.loads(capsys.readouterr().out)]
    assert "crashmod-null-obj" in ids and "generic-mce" in ids
    assert main(["kb", "show", "generic-sysrq"]) == 0
    out = capsys.readouterr().out
    assert "id: generic-sysrq" in out and "sysrq-trigger" in out
    assert main(["kb", "show", "nope"]) == 2
    assert "no entry with id 'nope'" in capsys.readouterr().err


def test_match_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    importlib.import_module("crashhub.triage")
    log = tmp_path / "vmcore-dmesg.txt"
    log.write_text(NULL_LOG)
    kb = tmp_path / "kb"
    write_kb(kb, "crashmod-fixed", "id: crashmod-fixed\ntitle: fixed already\nstatus: fixed\nmatch:\n"
             "  function: ^crashmod_null$\n  releases: [{fixed_in: 6.1.0-50}]\n")
    assert main(["kb", "match", str(tmp_path), "--kb", str(kb), "--examples"]) == 0
    out = capsys.readouterr().out
    assert "[null_deref]" in out
    order = [line.split(":")[0].strip() for line in out.splitlines() if line.startswith("  ") and
             not line.startswith("    ")]
    assert order == ["crashmod-null-obj", "crashmod-fixed", "generic-null_deref"]
    assert "REGRESSION (fixed in 6.1.0-50)" in out

    assert main(["kb", "match", str(log), "--json", "--no-starter", "--kb", str(kb)]) == 0
    (rep,) = json.loads(capsys.readouterr().out)
    assert rep["kind"] == "null_deref" and rep["release"] == "6.1.0-56-cloud-amd64"
    (m,) = rep["matches"]
    assert m["entry_id"] == "crashmod-fixed" and m["regression"] is True
    assert m["matched_rules"][0] == "function ~ ^crashmod_null$ (crashmod_null)"


def test_match_on_a_directory_without_a_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    importlib.import_module("crashhub.triage")
    assert main(["kb", "match", str(tmp_path)]) == 2
    assert "no kernel log" in capsys.readouterr().err


HUB_ENTRY = ("id: hub-crashmod\ntitle: crashmod NULL, the hub's own entry\nstatus: known\n"
             "match:\n  function: ^crashmod_null$\nadvice: Unload crashmod.\n")


def test_list_show_match_read_the_hubs_kb(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    importlib.import_module("crashhub.triage")
    data = tmp_path / "hub"
    write_kb(tmp_path / "review", "hub-crashmod", HUB_ENTRY)
    assert main(["kb", "import", str(tmp_path / "review"), "--data", str(data)]) == 0
    capsys.readouterr()

    assert main(["kb", "list", "--data", str(data)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("hub-crashmod ") and "generic-hung_task" in out
    assert f"the hub's knowledge base in {data} (1 entry)" in err
    monkeypatch.setenv("CRASHHUB_DATA", str(data))  # as every store command: the hub's data dir
    assert main(["kb", "show", "hub-crashmod", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == "hub-crashmod" and shown["path"] == "kb:hub-crashmod"
    log = tmp_path / "vmcore-dmesg.txt"
    log.write_text(NULL_LOG)
    assert main(["kb", "match", str(log), "--no-starter"]) == 0
    out = capsys.readouterr().out
    assert "hub-crashmod: crashmod NULL, the hub's own entry" in out

    # --kb DIR on every action: those files (and the starter KB), not the hub's entries.
    other = tmp_path / "other"
    write_kb(other, "file-only", "id: file-only\ntitle: from a file\nmatch: {kinds: [oom]}\n")
    assert main(["kb", "list", "--kb", str(other)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [out.splitlines()[0]] and out.startswith("file-only ")
    assert main(["kb", "show", "hub-crashmod", "--kb", str(other)]) == 2
    assert "no entry with id 'hub-crashmod'" in capsys.readouterr().err
    assert main(["kb", "match", str(log), "--kb", str(other), "--no-starter"]) == 0
    assert "no knowledge-base entry matches" in capsys.readouterr().out
