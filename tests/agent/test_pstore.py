"""pstore records as the kernel leaves them in /sys/fs/pstore, read and shipped by the agent.

The records are made the way fs/pstore/platform.c ``pstore_dump`` makes them, from the lab's real
Debian 6.1 and 6.12 oops logs (tests/triage/data/lab): the log's newest whole lines that fit a
backend buffer go to Part1, the lines before those to Part2, ... until ``kmsg_bytes`` are written,
each part headed ``<Reason>#<count> Part<n>``.  vmcore-dmesg keeps no console levels, so each line
gets ``<4>`` where kmsg_dump's syslog format has the line's level.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import pytest

from crashhub import cli
from crashhub.agent import HubClient
from crashhub.agent import _config as config
from crashhub.agent import _pstore as pstore
from crashhub.agent import _state as state
from crashhub.agent._ship import Agent, RunSummary
from crashhub.model import HostInfo
from crashhub.triage import parse_file

from .conftest import TOKEN, FakeHub

LAB = Path(__file__).resolve().parents[1] / "triage" / "data" / "lab"
# Real ramoops records: the crash lab's runs `null` variant `channels` on Debian's 6.1.0-57 and
# 6.12.118 kernels (lab/README.md): ramoops in a memmap= region, crash_kexec_post_notifiers, the records
# copied out of /sys/fs/pstore by the capture kernel, beside the same boot's rhel/vmcore-dmesg.txt.
REAL = Path(__file__).resolve().parent / "data" / "pstore"
T0 = 1_765_000_000.0  # the crash's time: 2025-12-06 05:46:40 UTC


def kmsg_dump(log: bytes, reason: str, count: int, bufsize: int, *, kmsg_bytes: int = 10240,
              max_parts: int = 10**6) -> tuple[list[bytes], bytes]:
    """The records pstore_dump writes for ``log`` (Part1 first), and the text they hold in log order.
    ramoops keeps Part1 only (``ramoops_pstore_write`` refuses the others): ``max_parts=1``."""
    lines = [b"<4>" + line + b"\n" for line in log.splitlines()]
    end, total, part, records = len(lines), 0, 1, []
    while total < kmsg_bytes and end > 0 and part <= max_parts:
        header = f"{reason}#{count} Part{part}\n".encode()
        start, size = end, 0
        while start > 0 and size + len(lines[start - 1]) <= bufsize - len(header):
            start -= 1
            size += len(lines[start])
        if start == end:
            break
        records.append(header + b"".join(lines[start:end]))
        total += len(records[-1])
        end, part = start, part + 1
    return records, b"".join(lines[end:])


def efi_name(t: float, part: int, count: int) -> str:
    """efi-pstore's record id: generic_id(timestamp, part, count), (timestamp * 100 + part) * 1000 + count."""
    return f"dmesg-efi-{(int(t) * 100 + part) * 1000 + count}"


def lab_log(case: str) -> bytes:
    return (LAB / f"{case}.vmcore-dmesg.txt").read_bytes()


def put(d: Path, name: str, data: bytes, t: float) -> Path:
    p = d / name
    p.write_bytes(data)
    os.utime(p, (t, t))  # pstorefs gives a record's file the record's time as its mtime
    return p


def raw_deflate(data: bytes) -> bytes:
    """As pstore_compress does since Linux 6.6 (zlib_deflateInit2 with -MAX_WBITS: no header)."""
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def old_zlib(data: bytes) -> bytes:
    """As pstore_compress did before 4.19 (windowBits 12, memLevel 4: a zlib header)."""
    c = zlib.compressobj(6, zlib.DEFLATED, 12, 4)
    return c.compress(data) + c.flush()


@pytest.fixture
def efi_dir(tmp_path: Path) -> tuple[Path, bytes]:
    """A 6.1 null-pointer oops in EFI variables (1 KiB each): ~10 parts, and the text they hold."""
    d = tmp_path / "pstore"
    d.mkdir()
    records, text = kmsg_dump(lab_log("6.1-null-1"), "Panic", 1, 1024)
    assert len(records) >= 8
    for part, rec in enumerate(records, 1):
        put(d, efi_name(T0, part, 1), rec, T0)
    return d, text


def test_efi_parts_joined_in_log_order(efi_dir: tuple[Path, bytes], tmp_path: Path) -> None:
    d, text = efi_dir
    s = pstore.scan(str(d))
    assert (len(s.crashes), s.unreadable, s.other) == (1, [], [])
    c = s.crashes[0]
    (d,) = c.dumps
    assert [r.part for r in d.records] == list(range(len(d.records), 0, -1)) and d.missing_parts == ()
    assert c.records[-1] is d.first and d.first.part == 1  # Part1 goes last when the records are removed
    assert c.text() == text and c.time == T0
    assert c.key == f"pstore:efi:Panic#1@{int(T0)}" and c.stamp == "2025-12-06-05:46:40"
    # The joined tail triages as the whole log does: the same oops, the same guilty function.
    saved = pstore.save(c, tmp_path / "saved")
    r = parse_file(saved)[0]
    assert r.kind == "null_deref" and r.guilty is not None and r.guilty.function == "crashmod_null"
    assert r.release == "6.1.0-56-cloud-amd64"


def test_ramoops_compressed_and_junk(tmp_path: Path) -> None:
    d = tmp_path / "pstore"
    d.mkdir()
    log612 = lab_log("6.12-bug-1")
    (rec,), text = kmsg_dump(log612, "Oops", 1, 8192, max_parts=1)
    # 6.12: the crashed kernel compressed (raw deflate); the booting one could not decompress.
    put(d, "dmesg-ramoops-0.enc.z", raw_deflate(rec) + b"\nECC: No errors detected\n", T0)
    # A 4.x kernel's zlib (with header), from an older boot.
    (old,), old_text = kmsg_dump(lab_log("6.1-gpf-1"), "Panic", 1, 4096, max_parts=1)
    put(d, "dmesg-ramoops-1.enc.z", old_zlib(old), T0 - 86400)
    put(d, "dmesg-ramoops-2.enc.z", b"\x28\xb5\x2f\xfd" + os.urandom(200), T0)  # zstd (4.19-6.5)
    put(d, "dmesg-ramoops-3.enc.z", os.urandom(300), T0)  # lz4 or damaged: not deflate
    put(d, "dmesg-ramoops-4", b"\x00\xff" * 100, T0)  # no header: not a dump
    big = tmp_path / "pstore" / "dmesg-erst-9"
    with big.open("wb") as f:
        f.write(b"Panic#3 Part1\n")
        f.truncate(pstore.MAX_RECORD_BYTES + 10)
    put(d, "dmesg-ramoops-5", b"Shutdown#1 Part1\n<6>[ 99.1] reboot: Power down\n", T0)  # clean stop
    for other in ("console-ramoops-0", "pmsg-ramoops-0", "ftrace-ramoops-0"):
        put(d, other, b"[    0.000000] Linux version 6.12\n", T0)
    s = pstore.scan(str(d))
    by_key = {c.key: c for c in s.crashes}
    assert sorted(by_key) == [f"pstore:ramoops:Oops#1@{int(T0)}", f"pstore:ramoops:Panic#1@{int(T0) - 86400}"]
    new = by_key[f"pstore:ramoops:Oops#1@{int(T0)}"]
    assert new.text() == text and new.records[0].compressed == "deflate"  # the ECC notice after the stream
    older = by_key[f"pstore:ramoops:Panic#1@{int(T0) - 86400}"]
    assert older.text() == old_text and older.records[0].compressed == "zlib"
    why = {u.path.name: u.why for u in s.unreadable}
    assert set(why) == {"dmesg-ramoops-2.enc.z", "dmesg-ramoops-3.enc.z", "dmesg-ramoops-4", "dmesg-erst-9"}
    assert "zstd" in why["dmesg-ramoops-2.enc.z"] and "lz4" in why["dmesg-ramoops-3.enc.z"]
    assert "no pstore header" in why["dmesg-ramoops-4"] and "larger than" in why["dmesg-erst-9"]
    assert sorted(p.name for p in s.other) == ["console-ramoops-0", "dmesg-ramoops-5", "ftrace-ramoops-0",
                                               "pmsg-ramoops-0"]


def test_same_count_two_boots_two_crashes(tmp_path: Path) -> None:
    """oopscount restarts at 1 on every boot: Panic#1 of two boots are two crashes, told apart by time."""
    d = tmp_path / "pstore"
    d.mkdir()
    records, text = kmsg_dump(lab_log("6.1-null-1"), "Panic", 1, 1024, kmsg_bytes=3000)
    for t in (T0, T0 + 3600):
        for part, rec in enumerate(records, 1):
            put(d, efi_name(t, part, 1), rec, t)
    s = pstore.scan(str(d))
    n = len(records)
    assert [(c.time, len(c.records), c.text()) for c in s.crashes] == [(T0, n, text), (T0 + 3600, n, text)]


def test_decompression_is_bounded() -> None:
    bomb = raw_deflate(b"Panic#1 Part1\n" + b"A" * (pstore.MAX_RECORD_BYTES * 2))
    with pytest.raises(ValueError, match="more than"):
        pstore.decompress(bomb)


def _cfg(tmp: Path, hub: FakeHub, pstore_dir: Path, **kw: Any) -> config.AgentConfig:
    d = {"hub": hub.url, "token": TOKEN, "crash_dirs": [str(tmp / "crash")], "pstore_dir": str(pstore_dir),
         "state_file": str(tmp / "state" / "state.json"), "host": "web-01", "settle_seconds": 0,
         "retry_attempts": 2, "retry_initial": 0.01, "timeout": 10.0, "report_host": False}
    d.update(kw)
    return config.from_mapping(d)


def _run(cfg: config.AgentConfig) -> RunSummary:
    with HubClient(cfg.hub, cfg.token, timeout=cfg.timeout) as c:
        return Agent(cfg, c, sleep=lambda _: None, host_info=HostInfo).run_once()


def test_agent_ships_then_removes(efi_dir: tuple[Path, bytes], tmp_path: Path, fake_hub: FakeHub) -> None:
    d, text = efi_dir
    parts = len(list(d.iterdir()))
    put(d, "console-ramoops-0", b"[    0.000000] Linux version 6.1\n", T0)
    cfg = _cfg(tmp_path, fake_hub, d)
    s = _run(cfg)
    assert (s.pstore_found, s.pstore_sent, s.pstore_removed, s.errors, s.exit_code) == (1, 1, parts, [], 0)
    (c,) = fake_hub.crashes.values()
    assert (c.log, c.channel, c.host, c.crash_dir) == (text, "pstore", "web-01", None)
    assert c.crash_time is not None and float(c.crash_time) == T0
    # One POST for the whole dump; the hub was asked about the crash again before the records went.
    posts = [i for i, r in enumerate(fake_hub.requests) if r[:2] == ("POST", "/api/v1/crashes")]
    gets = [i for i, r in enumerate(fake_hub.requests) if r[0] == "GET"]
    assert len(posts) == 1 and gets and posts[0] < gets[0]
    assert sorted(p.name for p in d.iterdir()) == ["console-ramoops-0"]  # console left alone
    saved = tmp_path / "state" / "pstore" / "2025-12-06-054640-efi-panic-1.txt"
    assert saved.read_bytes() == text  # the agent's copy, as kdump's logs are kept
    e = state.load(cfg.state_file).crashes[f"pstore:efi:Panic#1@{int(T0)}"]
    assert e.done and e.records_removed and e.crash_id == "c1"
    # Idempotent: nothing left to send; the finished entry is forgotten once its records are gone.
    s2 = _run(cfg)
    assert (s2.pstore_found, s2.pstore_sent, len(fake_hub.crashes)) == (0, 0, 1)
    assert state.load(cfg.state_file).crashes == {}


def test_nothing_removed_while_hub_down(efi_dir: tuple[Path, bytes], tmp_path: Path,
                                        fake_hub: FakeHub) -> None:
    d, _ = efi_dir
    before = sorted(p.name for p in d.iterdir())
    fake_hub.knobs.down = True
    cfg = _cfg(tmp_path, fake_hub, d)
    s = _run(cfg)
    assert s.hub_down and s.exit_code == 75 and s.pstore_removed == 0
    assert sorted(p.name for p in d.iterdir()) == before
    fake_hub.knobs.down = False
    s = _run(cfg)
    assert (s.pstore_sent, s.pstore_removed, s.exit_code) == (1, len(before), 0) and not any(d.iterdir())


def test_nothing_removed_when_hub_does_not_confirm(efi_dir: tuple[Path, bytes], tmp_path: Path,
                                                   fake_hub: FakeHub) -> None:
    """The POST was answered but the hub no longer knows the crash when asked: the records stay."""
    d, _ = efi_dir
    before = sorted(p.name for p in d.iterdir())
    fake_hub.knobs.forget = True
    cfg = _cfg(tmp_path, fake_hub, d)
    s = _run(cfg)
    assert s.pstore_sent == 1 and s.pstore_removed == 0 and len(s.errors) == 1 and "404" in s.errors[0]
    assert sorted(p.name for p in d.iterdir()) == before
    e = state.load(cfg.state_file).crashes[f"pstore:efi:Panic#1@{int(T0)}"]
    assert e.crash_id == "c1" and not e.done and not e.records_removed
    # The hub knows it again: the next run does not send it twice, it only removes the records.
    fake_hub.knobs.forget = False
    s = _run(cfg)
    assert (s.pstore_sent, s.pstore_removed, s.errors) == (0, len(before), [])
    assert fake_hub.count("POST", "/api/v1/crashes") == 1 and not any(d.iterdir())


def test_new_crash_reusing_a_record_name_is_sent(tmp_path: Path, fake_hub: FakeHub) -> None:
    """ramoops writes the next crash to dmesg-ramoops-0 again: a new time, a new crash."""
    d = tmp_path / "pstore"
    d.mkdir()
    cfg = _cfg(tmp_path, fake_hub, d)
    for i, (case, t) in enumerate((("6.1-null-1", T0), ("6.12-gpf-1", T0 + 7200)), 1):
        (rec,), text = kmsg_dump(lab_log(case), "Panic", 1, 16384, max_parts=1)
        put(d, "dmesg-ramoops-0", rec, t)
        s = _run(cfg)
        assert (s.pstore_sent, s.pstore_removed, s.errors) == (1, 1, [])
        assert fake_hub.crashes[f"c{i}"].log == text and not any(d.iterdir())


def test_dry_run_lists_pstore(efi_dir: tuple[Path, bytes], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    d, _ = efi_dir
    put(d, "dmesg-ramoops-7.enc.z", b"\x28\xb5\x2f\xfd" + b"\x00" * 16, T0)
    conf = tmp_path / "agent.toml"
    conf.write_text(f'hub = "http://127.0.0.1:9"\ntoken = "x"\npstore_dir = "{d}"\n'
                    f'state_file = "{tmp_path / "s.json"}"\ncrash_dirs = []\n')
    before = sorted(p.name for p in d.iterdir())
    assert cli.main(["agent", "--config", str(conf), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"pstore:efi:Panic#1@{int(T0)}" in out and "would send" in out and "zstd" in out
    assert sorted(p.name for p in d.iterdir()) == before


def test_oops_then_panic_one_boot_one_crash(tmp_path: Path) -> None:
    """An oops that panics is two dumps (Oops#1, then Panic#2 a moment later), each a tail of the same
    log: one crash log, their shared lines once, in order."""
    d = tmp_path / "pstore"
    d.mkdir()
    log = (REAL / "6.12-null-channels" / "vmcore-dmesg.txt").read_bytes()  # the oops, then the panic
    lines = log.splitlines(keepends=True)
    panic_at = next(i for i, line in enumerate(lines) if b"Kernel panic - not syncing" in line)
    oops, _ = kmsg_dump(b"".join(lines[:panic_at]), "Oops", 1, 1024)
    panic, _ = kmsg_dump(log, "Panic", 2, 1024, kmsg_bytes=4096)
    for part, rec in enumerate(oops, 1):
        put(d, efi_name(T0, part, 1), rec, T0)
    for part, rec in enumerate(panic, 1):
        put(d, efi_name(T0 + 1, part, 2), rec, T0 + 1)
    (c,) = pstore.scan(str(d)).crashes
    assert [(x.first.reason, x.first.count) for x in c.dumps] == [("Oops", 1), ("Panic", 2)]
    assert c.key == f"pstore:efi:Panic#2@{int(T0) + 1}" and c.time == T0 + 1
    # From the oops dump's first line to the panic dump's last: the log's own lines, each once.
    first = oops[-1].split(b"\n", 1)[1].split(b"\n", 1)[0][3:]
    start = next(i for i, line in enumerate(lines) if line.rstrip(b"\n") == first)
    assert c.text() == b"".join(b"<4>" + line for line in lines[start:])


def _messages(text: bytes) -> list[bytes]:
    """A log's messages without the level, timestamp and continuation indent (kmsg_dump's syslog
    format writes "<6>[ 1.0] a" and "[ 1.0] b" for a two-line record; vmcore-dmesg "[ 1.0] a", "   b")."""
    out = []
    for raw in text.splitlines():
        line = raw.split(b">", 1)[1] if raw.startswith(b"<") and b">" in raw[:5] else raw
        if line.startswith(b"[") and b"] " in line[:20]:
            line = line.split(b"] ", 1)[1]
        out.append(line.strip())
    return out


@pytest.mark.parametrize("case", ["6.1-null-channels", "6.12-null-channels"])
def test_lab_ramoops_records(case: str, tmp_path: Path, fake_hub: FakeHub) -> None:
    """The kernel's own records: Oops#1 and Panic#2 in two 128 KiB ramoops records, one crash; its
    text is the same boot's log as kdump's vmcore-dmesg.txt has it, and triages to the lab's crash."""
    d = tmp_path / "pstore"
    d.mkdir()
    for name in ("dmesg-ramoops-0", "dmesg-ramoops-1"):
        put(d, name, (REAL / case / name).read_bytes(), T0)
    cfg = _cfg(tmp_path, fake_hub, d)
    s = _run(cfg)
    assert (s.pstore_found, s.pstore_sent, s.pstore_removed, s.errors) == (1, 1, 2, [])
    (c,) = fake_hub.crashes.values()
    assert c.channel == "pstore" and c.log is not None and not any(d.iterdir())
    assert c.log.startswith(b"<5>[    0.000000] Linux version ")  # 128 KiB holds this boot's whole log
    kdump_log = (REAL / case / "vmcore-dmesg.txt").read_bytes()
    assert _messages(c.log) == _messages(kdump_log)
    saved = next((tmp_path / "state" / "pstore").iterdir())
    r = parse_file(saved)[0]
    release = "6.1.0-57-cloud-amd64" if case.startswith("6.1-") else "6.12.118+deb12-cloud-amd64"
    assert r.kind == "null_deref" and r.fatal and r.release == release
    assert r.guilty is not None and r.guilty.function == "crashmod_null" and r.guilty.module == "crashmod"
    assert r.process is not None and r.process.comm == "sh"
