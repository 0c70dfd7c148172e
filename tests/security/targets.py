"""Every parser of outside input, as a fuzz target: seeds, a runner, and the errors it may raise.

Shared by tests/security/test_fuzz_parsers.py (a small budget in the suite) and bench/fuzz.py (a long
run).  The property each target states: for any bytes, the parser returns or raises one of the
documented error classes of ``crashhub.errors`` (``allowed``); no other exception, and no unbounded
time or memory (the callers measure those).  The dump formats' structured mutations (header fields,
flat records, page bombs) stay in tests/dump/test_fuzz.py; here they get whole-file byte mutations.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import shutil
import struct
import tarfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from crashhub import triage
from crashhub.debuginfo import _deb as deb
from crashhub.debuginfo import _elf as elf
from crashhub.debuginfo import _rpm as rpm
from crashhub.debuginfo import _sourcetar as sourcetar
from crashhub.debuginfo._archive import Limits
from crashhub.debuginfo._debuginfod import resolve_source
from crashhub.dump import _vmcoreinfo as vmcoreinfo
from crashhub.errors import CrashhubError, DebuginfoError, DumpError, KbError, LogError, MultipartError
from crashhub.kb._load import parse_entry
from crashhub.web import _multipart as multipart

# Small caps: a fuzzed archive may claim anything, the test data directory is a tmp dir.
LIMITS = Limits(max_total=8 << 20, max_file=4 << 20, ratio_floor=1 << 20, max_entries=500)
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Target:
    name: str
    seeds: tuple[bytes, ...]
    run: Callable[[bytes, Path], None]  # parse these bytes, scratch space in the directory
    allowed: tuple[type[BaseException], ...]


def _file(tmp: Path, data: bytes, name: str = "input") -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p


def _fresh(tmp: Path, name: str) -> Path:
    d = tmp / name
    shutil.rmtree(d, ignore_errors=True)
    return d


# --- kernel logs -------------------------------------------------------------------------------------

OOPS = (
    "[    0.000000] Linux version 6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP\n"
    "[  100.000000] BUG: kernel NULL pointer dereference, address: 0000000000000020\n"
    "[  100.000001] #PF: supervisor write access in kernel mode\n"
    "[  100.000002] Oops: 0002 [#1] PREEMPT SMP NOPTI\n"
    "[  100.000003] CPU: 1 PID: 7 Comm: bash Tainted: G           OE      6.1.0-56-cloud-amd64 #1\n"
    "[  100.000004] RIP: 0010:crashmod_null+0x15/0x30 [crashmod]\n"
    "[  100.000005] Call Trace:\n"
    "[  100.000006]  <TASK>\n"
    "[  100.000007]  crashmod_write+0x40/0x80 [crashmod]\n"
    "[  100.000008]  vfs_write+0xc8/0x3e0\n"
    "[  100.000011]  </TASK>\n"
    "[  100.000012] Kernel panic - not syncing: Fatal exception\n"
    "<4>[  200.000000] watchdog: BUG: soft lockup - CPU#3 stuck for 22s! [kworker/3:1:99]\n"
    "[  300.000000] INFO: task jbd2/sda1-8:321 blocked for more than 120 seconds.\n"
)


def _log(data: bytes, tmp: Path) -> None:
    for report in triage.parse_file(_file(tmp, data, "dmesg.txt")):
        assert report.title is not None
    triage.parse(data.decode("utf-8", "replace"))


# --- dumps: kdump, ELF core, flat, VMCOREINFO --------------------------------------------------------

def _dump_seeds() -> tuple[bytes, ...]:
    from tests.dump import synth  # noqa: PLC0415  (builds synthetic machines; only fuzzers need it)

    m = synth.standard_machine("lockless")
    kd = synth.to_kdump(m, "zlib", dump_level=31)
    # Not the ELF core (12 MB, its headers are fuzzed field by field in tests/dump/test_fuzz.py).
    flat = synth.to_flat(kd, chunk=8192)
    return kd, flat, *_wrapped(kd[:65536]), gzip.compress(flat[:65536], mtime=0)


def _wrapped(data: bytes) -> tuple[bytes, ...]:
    """``data`` in each stream wrapper a dump may come in (gzip, xz, bzip2, zstd, lz4)."""
    import bz2  # noqa: PLC0415
    import lzma  # noqa: PLC0415

    import lz4.frame  # noqa: PLC0415
    import zstandard  # noqa: PLC0415

    return (gzip.compress(data, mtime=0), lzma.compress(data), bz2.compress(data),
            zstandard.ZstdCompressor().compress(data), lz4.frame.compress(data))


def _dump(data: bytes, tmp: Path) -> None:
    from tests.dump.test_fuzz import exercise  # noqa: PLC0415  (the dump tests' "everything a caller does")

    exercise(_file(tmp, data, "vmcore"))


VMCOREINFO = (
    b"OSRELEASE=6.1.0-56-cloud-amd64\nBUILD-ID=0123456789abcdef0123456789abcdef01234567\n"
    b"PAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffffff82a12340\nSYMBOL(prb)=ffffffff82c0a0e8\n"
    b"SIZE(printk_ringbuffer)=80\nOFFSET(prb_desc.state_var)=0\nLENGTH(mem_section)=2048\n"
    b"NUMBER(pgtable_l5_enabled)=0\nNUMBER(phys_base)=0x1000000\nKERNELOFFSET=2c000000\nCRASHTIME=1700000000\n"
)


def _vmcoreinfo(data: bytes, _tmp: Path) -> None:
    info = vmcoreinfo.parse(data)
    for name in ("init_uts_ns", "prb"):
        info.symbol(name)
    vmcoreinfo.parse(data.decode("latin-1"))


# --- debuginfo: ELF, RPM, deb, source tar ------------------------------------------------------------

def _elf(data: bytes, tmp: Path) -> None:
    p = _file(tmp, data, "vmlinux")
    info = elf.read_elf(p)
    elf.build_id(p, info)
    elf.kernel_release(p, info)
    elf.parse_build_id_note(data[:4096])


def _elf_seeds() -> tuple[bytes, ...]:
    small = min((Path(p) for p in ("/bin/true", "/usr/bin/true") if Path(p).exists()),
                key=lambda p: p.stat().st_size)
    return (small.read_bytes(),)


def _rpm_header(tags: list[tuple[int, bytes]]) -> bytes:
    index, data = b"", b""
    for tag, value in tags:
        index += struct.pack(">iIiI", tag, rpm.TYPE_STRING, len(data), 1)
        data += value + b"\0"
    return rpm.HEADER_MAGIC + bytes(4) + struct.pack(">II", len(tags), len(data)) + index + data


def _cpio_gz(files: dict[str, bytes]) -> bytes:
    out = b""
    for i, (name, body) in enumerate([*files.items(), ("TRAILER!!!", b"")]):
        raw = name.encode() + b"\0"
        mode = 0o100644 if body or name != "TRAILER!!!" else 0
        fields = [i + 1, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(raw), 0]
        hdr = b"070701" + b"".join(f"{f:08x}".encode() for f in fields) + raw
        out += hdr + bytes(-len(hdr) % 4) + body + bytes(-len(body) % 4)
    return gzip.compress(out, mtime=0)


def _rpm_seed() -> bytes:
    lead = rpm.LEAD_MAGIC + bytes(rpm.LEAD_SIZE - 4)
    sig = _rpm_header([(1000, b"sig")])
    sig += bytes(-len(sig) % 8)
    hdr = _rpm_header([(rpm.TAG_NAME, b"kernel-debuginfo"), (rpm.TAG_VERSION, b"9.9.9"),
                       (rpm.TAG_RELEASE, b"1.test"), (rpm.TAG_ARCH, b"x86_64"),
                       (rpm.TAG_PAYLOADFORMAT, b"cpio"), (rpm.TAG_PAYLOADCOMPRESSOR, b"gzip")])
    payload = _cpio_gz({"./usr/lib/debug/lib/modules/9.9.9-1.test.x86_64/vmlinux": b"\x7fELF" + bytes(60),
                        "./usr/lib/debug/x/crashmod.ko.debug": b"module"})
    return lead + sig + hdr + payload


def _rpm(data: bytes, tmp: Path) -> None:
    p = _file(tmp, data, "kernel-debuginfo.rpm")
    rpm.info(p)
    rpm.extract(p, _fresh(tmp, "rpm-out"), LIMITS)


def _tar(files: dict[str, bytes], mode: str = "w:gz", encoding: str = "utf-8") -> bytes:
    """A tar of these files; ``encoding="latin-1"`` writes names that are not UTF-8 (GNU format)."""
    buf = io.BytesIO()
    fmt = tarfile.GNU_FORMAT if encoding != "utf-8" else tarfile.PAX_FORMAT
    with tarfile.open(fileobj=buf, mode=mode, format=fmt, encoding=encoding) as t:  # type: ignore[call-overload]
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def _ar(members: dict[str, bytes]) -> bytes:
    out = b"!<arch>\n"
    for name, body in members.items():
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(body):<10}`\n".encode() + body
        out += b"\n" if len(body) % 2 else b""
    return out


def _deb_seed() -> bytes:
    control = _tar({"./control": b"Package: linux-image-test-dbg\nVersion: 9.9.9-1\nArchitecture: amd64\n"})
    data = _tar({"./usr/lib/debug/boot/vmlinux-9.9.9": b"\x7fELF" + bytes(60),
                 "./usr/lib/debug/lib/modules/9.9.9/crashmod.ko": b"module"}, "w:xz")
    return _ar({"debian-binary": b"2.0\n", "control.tar.gz": control, "data.tar.xz": data})


def _deb(data: bytes, tmp: Path) -> None:
    deb.extract(_file(tmp, data, "linux-image-dbg.deb"), _fresh(tmp, "deb-out"), LIMITS)


def _source_seed() -> bytes:
    return _tar({"linux-9.9/Makefile": b"VERSION = 9\n", "linux-9.9/mm/slab.c": b"int x;\n",
                 "linux-9.9/include/a.h": b"#define A 1\n", "linux-9.9/README": b"skip\n"})


def _source_tar(data: bytes, tmp: Path) -> None:
    sourcetar.extract_sources(_file(tmp, data, "linux.tar.gz"), _fresh(tmp, "src-out"), LIMITS)


def _source_path(data: bytes, tmp: Path) -> None:
    """The debuginfod route's path (no token): a file inside the tree or None, never outside it."""
    tree = tmp / "tree"
    if not tree.exists():
        (tree / "mm").mkdir(parents=True)
        (tree / "mm" / "slab.c").write_text("int x;\n")
        (tree / "etc").symlink_to("/etc")
    got = resolve_source(tree, data.decode("utf-8", "surrogateescape"))
    assert got is None or got.is_relative_to(tree.resolve()), got


# --- KB YAML -----------------------------------------------------------------------------------------

def _kb_seeds() -> tuple[bytes, ...]:
    folder = REPO / "src" / "crashhub" / "kb" / "starter"
    return tuple(p.read_bytes() for p in sorted(folder.glob("*.yaml"))[:4])


def _kb(data: bytes, _tmp: Path) -> None:
    parse_entry(data.decode("utf-8", "replace"), "fuzzed.yaml")


# --- multipart bodies (the upload form) -------------------------------------------------------------

BOUNDARY = "fuzzboundary"
MULTIPART = (
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"host\"\r\n\r\nweb-01\r\n"
    f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"log\"; filename=\"vmcore-dmesg.txt\"\r\n"
    f"Content-Type: text/plain\r\n\r\n{OOPS}\r\n--{BOUNDARY}--\r\n"
).encode()


def multipart_body(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> bytes:
    out = b""
    for name, value in fields.items():
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for name, (filename, body) in files.items():
        out += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode() + body + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def _multipart(data: bytes, tmp: Path) -> None:
    spool = _fresh(tmp, "mp")
    spool.mkdir()
    n = [0]

    def temp_path(_name: str) -> Path:
        n[0] += 1
        return spool / f"part-{n[0]}"

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 97):  # odd chunk sizes: boundaries split across chunks
            yield data[i:i + 97]

    async def go() -> None:
        form = await multipart.parse(chunks(), f"multipart/form-data; boundary={BOUNDARY}",
                                     files={"log": 1 << 16, "vmcore": 1 << 16},
                                     texts={"host": 256, "crash_dir": 256}, max_body=1 << 17,
                                     temp_path=temp_path)
        form.text("host")
        form.cleanup()

    try:
        asyncio.run(go())
    finally:
        # A refused body keeps nothing: every part's temp file is gone whatever happened.
        left = list(spool.iterdir())
        assert not left, f"multipart left {left}"


TARGETS: dict[str, Target] = {
    "log": Target("log", (OOPS.encode(),), _log, (LogError,)),
    "dump": Target("dump", (), _dump, (DumpError,)),
    "vmcoreinfo": Target("vmcoreinfo", (VMCOREINFO,), _vmcoreinfo, ()),
    "elf": Target("elf", (), _elf, (DebuginfoError,)),
    "rpm": Target("rpm", (), _rpm, (DebuginfoError,)),
    "deb": Target("deb", (), _deb, (DebuginfoError,)),
    "tar": Target("tar", (), _source_tar, (DebuginfoError,)),
    "source-path": Target("source-path", (b"/build/linux-9.9/mm/slab.c", b"etc/passwd", b"mm/../../x"),
                          _source_path, ()),
    "kb": Target("kb", (), _kb, (KbError,)),
    "multipart": Target("multipart", (MULTIPART,), _multipart, (MultipartError,)),
}
_LAZY_SEEDS: dict[str, Callable[[], tuple[bytes, ...]]] = {
    "dump": _dump_seeds, "elf": _elf_seeds, "rpm": lambda: (_rpm_seed(),), "deb": lambda: (_deb_seed(),),
    "tar": lambda: (_source_seed(),), "kb": _kb_seeds,
}


def seeds(name: str) -> tuple[bytes, ...]:
    """The target's seed inputs (built on first use: the dump seeds take a moment)."""
    t = TARGETS[name]
    if not t.seeds and name in _LAZY_SEEDS:
        t = TARGETS[name] = Target(t.name, _LAZY_SEEDS[name](), t.run, t.allowed)
    return t.seeds


def check(name: str, data: bytes, tmp: Path) -> BaseException | None:
    """Run one input; the documented error it raised (None for a clean result).

    Anything else propagates: that is a finding.  ``CrashhubError`` subclasses outside ``allowed``
    propagate too (a parser raising another stage's error is a bug of its own).
    """
    t = TARGETS[name]
    try:
        t.run(data, tmp)
    except t.allowed as e:
        return e
    except CrashhubError:
        raise
    return None
