"""Crash channels beside kdump (issue 19): netconsole over QEMU's user network, and a ramoops region.

Variants ``channels`` (kdump, RHEL layout only, plus both channels) and ``channels-nokdump`` (no
capture kernel: the crashing kernel panics with ``panic=1``, QEMU resets the machine without clearing
RAM, and the next boot finds the ramoops records in /sys/fs/pstore and saves them to the disk).

The guest's netconsole target is slirp's gateway 10.0.2.2, which QEMU forwards to the host's
127.0.0.1 on the same port: the lab listens there during the boot and keeps every datagram, exactly
as received, in ``netconsole/datagrams.jsonl``. The guest-side work is a delimited block of
src/crashhub/readiness/init.sh (the guest /init the lab shares with `crashhub kernel check`),
driven by the ``lab.conf`` variables this module writes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crashhub.readiness import Guest
from lab.debs import Kernel

CHANNEL_VARIANTS = ("channels", "channels-nokdump")

# A 1 MiB ramoops region in the middle of the 1 GiB guest, reserved from the kernel by memmap=<size>$<addr>
# (QEMU's -append reaches the kernel without a shell; physical KASLR avoids memmap= regions). Not near
# the top: QEMU loads the initrd there (RAMDISK 0x3e4be000-0x3ffcffff for 6.1) on every reset, which
# wiped a region at 0x3f000000 before the next boot could read it (seen here).
RAMOOPS_ADDR = 0x20000000
RAMOOPS_SIZE = 0x100000
RAMOOPS_RECORD = 0x20000  # 8 dmesg records; pstore still dumps only the last kmsg_bytes (10 KiB) of the log
RAMOOPS_PARAMS = (f"ramoops.mem_address={RAMOOPS_ADDR:#x} ramoops.mem_size={RAMOOPS_SIZE:#x} "
                  f"ramoops.record_size={RAMOOPS_RECORD:#x} ramoops.console_size=0 ramoops.ftrace_size=0 "
                  "ramoops.pmsg_size=0 ramoops.ecc=0")
GUEST_IP = "10.0.2.15"
GATEWAY = "10.0.2.2"  # slirp's host alias: datagrams to it arrive on the host's loopback
# Text of the one long record init.sh writes to /dev/kmsg: "lab-long-line " + this many "x" is 987
# bytes, under 6.1's 992-byte /dev/kmsg limit (LOG_LINE_MAX) and, with the extended header, over
# netconsole's 1000-byte chunk (MAX_PRINT_CHUNK): the kernel sends it in ncfrag= fragments.
LONG_LINE_X = 973


def _at_least(release: str, major: int, minor: int) -> bool:
    m = re.match(r"(\d+)\.(\d+)", release)
    return m is not None and (int(m.group(1)), int(m.group(2))) >= (major, minor)


def release_prepend(release: str) -> bool:
    """netconsole's ``r`` flag (prepend uname -r) exists since 6.6; 6.1 rejects the whole parameter."""
    return _at_least(release, 6, 6)


def userdata_supported(release: str) -> bool:
    """Userdata (key=value lines appended to every message) exists since 6.9, for configfs targets only."""
    return _at_least(release, 6, 9)


@dataclass(frozen=True)
class ChannelPlan:
    """What a channels variant adds to a boot: QEMU arguments, kernel parameters, lab.conf lines."""

    variant: str
    port: int
    netconsole: str  # netconsole's parameter: [+][r][src-port]@[src-ip]/[dev],[tgt-port]@<tgt-ip>/[mac]
    kdump: bool
    # A second, configfs-made target with userdata, to its own host port (None: the kernel has none).
    # Separate so the main stream stays what a netconsole= boot parameter gives (a configfs target
    # enabled after boot gets no replay of the log).
    userdata_port: int | None = None
    userdata: tuple[tuple[str, str], ...] = ()

    @property
    def qemu_args(self) -> tuple[str, ...]:
        return ("-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0")

    @property
    def cmdline(self) -> str:
        """The crashing kernel's additions. crash_kexec_post_notifiers: kmsg_dump (pstore) runs before
        kexec; it also keeps oops_end() from going to kdump before the oops is dumped."""
        memmap = f"memmap={RAMOOPS_SIZE >> 20}M${RAMOOPS_ADDR:#x}"
        return f"{memmap} {RAMOOPS_PARAMS} crash_kexec_post_notifiers" + ("" if self.kdump else " panic=1")

    @property
    def capture_cmdline(self) -> str:
        """The capture kernel maps the same physical region (outside its memory) and reads it back."""
        return f"{RAMOOPS_PARAMS} lab.pstore=1"

    def conf(self) -> str:
        pairs = " ".join(f"{k}={v}" for k, v in self.userdata)
        return (f"NETCONSOLE='{self.netconsole}'\nNETCONSOLE_LONG={LONG_LINE_X}\nRAMOOPS=1\n"
                f"PSTORE_READ={'' if self.kdump else 'boot'}\n"
                f"NC_USERDATA_PORT={self.userdata_port or ''}\nNC_USERDATA='{pairs}'\n")

    @property
    def done_mark(self) -> str:
        """The console line that says the run's files are all on the disk."""
        return r"LAB-T capture-done" if self.kdump else r"LAB-T pstore-saved"

    def manifest(self) -> dict[str, Any]:
        userdata = ({"host_port": self.userdata_port, "local_port": USERDATA_LOCAL_PORT,
                     "fields": dict(self.userdata), "configfs": "extended=1 release=1"}
                    if self.userdata_port else None)
        return {"netconsole": {"param": self.netconsole, "host_port": self.port, "guest_ip": GUEST_IP,
                               "target": f"{GATEWAY}:{self.port}", "userdata_target": userdata},
                "ramoops": {"mem_address": hex(RAMOOPS_ADDR), "mem_size": hex(RAMOOPS_SIZE),
                            "record_size": hex(RAMOOPS_RECORD), "console_size": 0, "ecc": 0},
                "pstore_read": "capture kernel" if self.kdump else "next boot"}


USERDATA_LOCAL_PORT = 6666  # the userdata target's UDP source port in the guest (the main one: 6665)


def plan(variant: str | None, kernel: Kernel, kind: str, ears: Listeners) -> ChannelPlan | None:
    if variant not in CHANNEL_VARIANTS:
        return None
    flags = "+r" if release_prepend(kernel.release) else "+"
    port = ears.main.port
    return ChannelPlan(variant=variant, port=port, netconsole=f"{flags}@{GUEST_IP}/eth0,{port}@{GATEWAY}/",
                       kdump=variant == "channels",
                       userdata_port=ears.userdata.port if ears.userdata else None,
                       userdata=(("lab_kind", kind), ("lab_variant", variant)) if ears.userdata else ())


def wait_reboot_cycle(g: Guest, timeout: float) -> str | None:
    """Wait for a reset-and-read run to power off; a reason when it cannot end well.

    A next boot that finds no pstore record sets up the crash again (it cannot tell it is not the
    first): rather than crash in a loop until the timeout, stop at the second ``LAB-T channels``.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if g.wait_exit(0.5) is not None:
            return None
        with g.console.lock:
            setups = sum(1 for _, line in g.console.lines if line.startswith("LAB-T channels "))
        if setups > 1:
            return "the boot after the reset found no pstore record (the ramoops region did not survive)"
    return f"guest did not finish within {timeout}s"


@dataclass
class Recorder:
    """A loopback UDP socket that keeps every datagram with its arrival time (monotonic seconds)."""

    sock: socket.socket = field(default_factory=lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    got: list[tuple[float, str, bytes]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def __enter__(self) -> Recorder:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.3)  # the last datagrams of a poweroff are still in flight through slirp
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sock.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.sock], [], [], 0.1)
            if not ready:
                continue
            data, (host, port) = self.sock.recvfrom(65535)
            self.got.append((time.monotonic(), f"{host}:{port}", data))

    def write(self, path: Path, started: float) -> int:
        """``datagrams.jsonl``: t (seconds since QEMU started), src, data_b64; one datagram a line."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as fh:
            for when, src, data in self.got:
                fh.write(json.dumps({"t": round(when - started, 4), "src": src,
                                     "data_b64": base64.b64encode(data).decode()}) + "\n")
        return len(self.got)


class Listeners(contextlib.ExitStack):
    """The host's ears for one boot: the main netconsole stream, and the userdata target's (6.9+)."""

    def __init__(self, release: str) -> None:
        super().__init__()
        self.main = Recorder()
        self.userdata = Recorder() if userdata_supported(release) else None

    def __enter__(self) -> Listeners:
        super().__enter__()
        self.enter_context(self.main)
        if self.userdata is not None:
            self.enter_context(self.userdata)
        return self

    def write(self, work: Path, started: float) -> None:
        self.main.write(work / "netconsole" / "datagrams.jsonl", started)
        if self.userdata is not None:
            self.userdata.write(work / "netconsole" / "userdata.jsonl", started)

    def summary(self, work: Path) -> dict[str, Any]:
        """Facts about what arrived, for the manifest (the tests check the files themselves)."""
        got = self.main.got
        frags = sum(1 for _, _, d in got if b",ncfrag=" in d.split(b";", 1)[0])
        pstore = sorted(p.name for p in (work / "pstore").iterdir()) if (work / "pstore").is_dir() else []
        return {"datagrams": len(got), "fragments": frags, "sources": sorted({src for _, src, _ in got}),
                "userdata_datagrams": len(self.userdata.got) if self.userdata else None,
                "pstore_files": pstore}


# Logical names (lab.run.FILE_GLOBS / FORMATS). ramoops numbers records by zone, from 0 in a clean region.
FILE_GLOBS = {
    "netconsole/datagrams.jsonl": "netconsole/datagrams.jsonl",
    "netconsole/userdata.jsonl": "netconsole/userdata.jsonl",
    "pstore/dmesg": "pstore/dmesg-ramoops-0*",
}
FORMATS = {
    "netconsole/datagrams.jsonl": "JSON lines {t, src, data_b64}: every UDP payload as the host received it",
    "netconsole/userdata.jsonl": "the same, from a second target with userdata (configfs, 6.9+)",
    "pstore/dmesg": "ramoops dmesg record as /sys/fs/pstore shows it (the kernel decompresses it)",
}


def pstore_files(work: Path) -> dict[str, dict[str, Any]]:
    """Every pstore file of a run, under ``pstore/<name>`` (the names vary with what was dumped)."""
    d = work / "pstore"
    if not d.is_dir():
        return {}
    return {f"pstore/{p.name}": {"path": str(p.relative_to(work)), "size": p.stat().st_size}
            for p in sorted(d.iterdir()) if p.is_file()}
