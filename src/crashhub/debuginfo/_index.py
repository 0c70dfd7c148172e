"""The debuginfo store: kernel vmlinux + module debug files, indexed by build-id and release.

Layout under ``root`` (``<data>/debuginfo``)::

    <build-id>/vmlinux              the kernel with DWARF
    <build-id>/modules/<path>.ko[.debug]
    <build-id>/meta.json            release, package, module build-ids
    modules/<build-id>/<name>.ko    an out-of-tree module imported alone (._modules)
    sources/<release>               a kernel source tree (directory or symlink to one)
    .tmp/<pid>-<uuid>/              an import in progress

An import is unpacked into ``.tmp`` and renamed into place only when complete, so a
failed or interrupted import never leaves a half entry; ``gc`` sweeps what a killed
import left in ``.tmp``.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import lzma
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, cast

from crashhub.debuginfo import _deb as deb
from crashhub.debuginfo import _elf as elf
from crashhub.debuginfo import _modules as mods
from crashhub.debuginfo import _rpm as rpm
from crashhub.debuginfo._archive import Budget, CountingStream, Kept, Limits, fsync_tree, keep_kind, safe_name
from crashhub.debuginfo._sourcetar import extract_sources
from crashhub.errors import DebuginfoError

META = "meta.json"
TMP = ".tmp"
SOURCES = "sources"
KeptFiles = list[Kept]


@dataclass(frozen=True, slots=True)
class Entry:
    id: str  # the vmlinux build-id (hex)
    release: str | None
    kind: str  # "rpm", "deb", "dir", "vmlinux"
    source: str  # the file or directory it was imported from
    package: str | None  # "kernel-debuginfo-5.14.0-362.el9.x86_64", "linux-image-...-dbg 6.1.192-2"
    imported_at: float
    size: int
    dir: Path
    modules: dict[str, str] = field(default_factory=dict)  # relative path -> build-id

    @property
    def build_id(self) -> str:
        return self.id

    @property
    def vmlinux(self) -> Path:
        return self.dir / "vmlinux"

    def module_paths(self) -> list[Path]:
        return [self.dir / "modules" / rel for rel in self.modules]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "build_id": self.id, "release": self.release, "kind": self.kind,
                "source": self.source, "package": self.package, "imported_at": self.imported_at,
                "size": self.size, "modules": len(self.modules), "vmlinux": str(self.vmlinux)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entry:
        """The entry of :meth:`to_dict`: its directory from ``vmlinux``; the module map is only
        counted there (the index's ``index.json`` keeps it), so it comes back empty."""
        return cls(
            id=str(d["id"]), release=None if d.get("release") is None else str(d["release"]),
            kind=str(d["kind"]), source=str(d["source"]),
            package=None if d.get("package") is None else str(d["package"]),
            imported_at=float(d["imported_at"]), size=int(d["size"]), dir=Path(str(d["vmlinux"])).parent,
        )


Entries = list[Entry]
Names = list[str]
Rows = list[dict[str, Any]]
ModuleFiles = list[mods.ModuleFile]


@dataclass(frozen=True, slots=True)
class Match:
    """Whether debuginfo fits a dump, and why (or why not), in words a user can act on."""

    ok: bool
    reason: str
    entry: Entry | None = None
    by: str | None = None  # "build-id" or "release"

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason, "by": self.by,
                "entry": self.entry.to_dict() if self.entry else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Match:
        e = d.get("entry")
        return cls(bool(d["ok"]), str(d["reason"]), None if e is None else Entry.from_dict(e),
                   None if d.get("by") is None else str(d["by"]))


def _get(facts: Any, name: str) -> str | None:
    v = facts.get(name) if isinstance(facts, dict) else getattr(facts, name, None)
    return str(v) if v else None


def check_vmlinux(vmlinux: Path, build_id: str | None, release: str | None) -> Match:
    """Does this vmlinux belong to a dump with that build-id / release?"""
    info = elf.read_elf(vmlinux)
    bid = elf.build_id(vmlinux, info)
    if not info.has_debug_info:
        return Match(False, f"{vmlinux} has no DWARF (.debug_info): use the -dbg / -debuginfo vmlinux")
    if build_id and bid:
        if bid == build_id.lower():
            return Match(True, f"build-id {bid} matches the dump", by="build-id")
        rel = elf.kernel_release(vmlinux, info)
        same = f" (same release {rel}: a different build of it)" if rel and rel == release else (
            f" (vmlinux is release {rel}, dump is {release})" if rel and release else "")
        return Match(False, f"build-id mismatch: the dump's kernel is {build_id}, {vmlinux} is {bid}{same}")
    rel = elf.kernel_release(vmlinux, info)
    if release and rel:
        if rel == release:
            return Match(True, f"release {rel} matches (the dump carries no build-id)", by="release")
        return Match(False, f"release mismatch: the dump's kernel is {release}, {vmlinux} is {rel}")
    return Match(True, "nothing to compare (the dump names neither build-id nor release)", by=None)


class DebuginfoStore:
    """Kernel debuginfo kept under one directory; safe for one writer and many readers."""

    def __init__(self, root: Path, limits: Limits | None = None) -> None:
        self.root = Path(root)
        self.limits = limits or Limits()

    # ------------------------------------------------------------------ reading
    def _entry(self, d: Path) -> Entry | None:
        try:
            m = json.loads((d / META).read_text())
            return Entry(id=m["id"], release=m.get("release"), kind=m["kind"], source=m["source"],
                         package=m.get("package"), imported_at=float(m["imported_at"]),
                         size=int(m["size"]), dir=d, modules=dict(m.get("modules", {})))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def list(self) -> Entries:
        if not self.root.is_dir():
            return []
        out = [e for d in self.root.iterdir()
               if d.is_dir() and not d.name.startswith(".") and d.name not in (SOURCES, mods.MODULES)
               for e in [self._entry(d)] if e is not None]
        return sorted(out, key=lambda e: (e.release or "", e.imported_at))

    def get(self, ref: str) -> Entry:
        """An entry by id, unique id prefix (8+ hex digits) or release."""
        ref = ref.strip().lower()
        entries = self.list()
        hits = [e for e in entries if e.id == ref] or [e for e in entries if len(ref) >= 8
                                                       and e.id.startswith(ref)]
        hits = hits or [e for e in entries if (e.release or "").lower() == ref]
        if not hits:
            raise DebuginfoError(f"no debuginfo entry {ref!r} in the store", self.root)
        if len(hits) > 1:
            raise DebuginfoError(f"{ref!r} names {len(hits)} entries: "
                                 f"{', '.join(e.id[:12] for e in hits)}", self.root)
        return hits[0]

    def find(self, build_id: str | None = None, release: str | None = None) -> Path | None:
        """The vmlinux (or module file) with this build-id, else the newest vmlinux of the release."""
        if build_id:
            bid = build_id.lower()
            if all(c in "0123456789abcdef" for c in bid) and len(bid) >= 8:
                e = self._entry(self.root / bid)
                if e is not None and e.vmlinux.is_file():
                    return e.vmlinux
                for e in self.list():
                    for rel, mbid in e.modules.items():
                        if mbid == bid:
                            return e.dir / "modules" / rel
        if release:
            hits = [e for e in self.list() if e.release == release]
            if hits:
                return max(hits, key=lambda e: e.imported_at).vmlinux
        return None

    def entry_for(self, build_id: str | None = None, release: str | None = None) -> Entry | None:
        p = self.find(build_id=build_id, release=release)
        if p is None or p.name != "vmlinux":
            return None
        return self._entry(p.parent)

    def check(self, dump_facts: Any) -> Match:
        """Match a dump (``DumpFacts`` or a dict with ``build_id``/``release``) to the store."""
        bid, rel = _get(dump_facts, "build_id"), _get(dump_facts, "release")
        if bid:
            e = self.entry_for(build_id=bid)
            if e is not None:
                return Match(True, f"debuginfo {e.id[:12]} ({e.release}) matches the dump's build-id",
                             e, "build-id")
            same = [x for x in self.list() if rel and x.release == rel]
            if same:
                return Match(False, f"the store has release {rel} but with build-id "
                                    f"{', '.join(x.id for x in same)}, while the dump's kernel is {bid}: "
                                    "a different build of the same version; import its own debuginfo",
                             None, None)
            return Match(False, f"no debuginfo for the dump's kernel (release {rel or 'unknown'}, "
                                f"build-id {bid}); import its kernel-debuginfo RPM or -dbg deb")
        if rel:
            e = self.entry_for(release=rel)
            if e is not None:
                return Match(True, f"debuginfo {e.id[:12]} matched by release {rel} only "
                                   "(the dump carries no build-id)", e, "release")
            return Match(False, f"no debuginfo for release {rel}")
        return Match(False, "the dump names neither a build-id nor a release")

    def readiness(self, kernels: Iterable[Any]) -> Rows:
        """For each kernel seen (dicts or objects with ``release`` / ``build_id``, from crashes or
        host reports): is its debuginfo here?  ``alert`` is set for those without, so a hub can
        ask for the package before the next crash needs it."""
        out = []
        for k in kernels:
            m = self.check(k)
            out.append({"release": _get(k, "release"), "build_id": _get(k, "build_id"), "ok": m.ok,
                        "by": m.by, "reason": m.reason, "alert": not m.ok,
                        "entry": m.entry.id if m.entry else None})
        return out

    def modules(self) -> ModuleFiles:
        """The out-of-tree modules imported alone (:meth:`import_module`)."""
        return mods.module_files(self.root)

    def module_dir(self) -> Path | None:
        """The directory of those modules, for drgn to pick the dump's among (by name, then build-id)."""
        d = self.root / mods.MODULES
        return d if d.is_dir() else None

    def source_dir(self, release: str | None) -> Path | None:
        if not release:
            return None
        d = self.root / SOURCES / release
        return d if d.is_dir() else None

    # ------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def _staging(self) -> Iterator[Path]:
        tmp = self.root / TMP / f"{os.getpid()}-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def import_module(self, p: Path) -> mods.ModuleFile:
        """Import an out-of-tree module's ``.ko`` (with DWARF), kept by build-id and name."""
        p = Path(p)
        if not p.is_file():
            raise DebuginfoError("no such file", p)
        with self._staging() as tmp:
            return mods.import_module(self.root, p, tmp)

    def import_path(self, p: Path, *, release: str | None = None) -> Entries:
        """Import an RPM, a .deb, a directory tree or a bare ``vmlinux[.gz|.xz]``.

        Returns one entry per kernel found (an entry already in the store is returned as it
        is).  Raises DebuginfoError, leaving the store unchanged, on anything wrong.
        """
        p = Path(p)
        if not p.exists():
            raise DebuginfoError("no such file or directory", p)
        with self._staging() as tmp:
            files = tmp / "files"
            files.mkdir()
            package: str | None = None
            pkg_release: str | None = release
            if p.is_dir():
                kind, kept = "dir", self._from_dir(p, files)
            else:
                with p.open("rb") as f:
                    magic = f.read(8)
                if magic[:4] == b"\xed\xab\xee\xdb":
                    rinfo, kept = rpm.extract(p, files, self.limits)
                    kind, package = "rpm", rinfo.nevra
                    pkg_release = pkg_release or rinfo.kernel_release
                elif magic == b"!<arch>\n":
                    dinfo, kept = deb.extract(p, files, self.limits)
                    kind = "deb"
                    package = f"{dinfo.package} {dinfo.version}" if dinfo else None
                elif mods.is_module(p):
                    raise DebuginfoError("a kernel module, not a kernel: import it with import_module "
                                         "(`crashhub debuginfo import` does so)", p)
                else:
                    kind, kept = "vmlinux", [self._bare(p, magic, files)]
            return self._commit(tmp, kept, kind, str(p.resolve()), package, pkg_release)

    def _from_dir(self, d: Path, dest: Path) -> KeptFiles:
        kept: KeptFiles = []
        base = d.resolve()
        for dirpath, _dirs, names in os.walk(base):
            for n in names:
                full = Path(dirpath) / n
                rel = PurePosixPath(full.relative_to(base).as_posix())
                kind = keep_kind(rel)
                if kind is None or full.is_symlink() or not full.is_file():
                    continue
                out = dest / safe_name(str(rel), str(d))
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(full, out)
                kept.append(Kept(rel, out, kind, out.stat().st_size))
        return kept

    def _bare(self, p: Path, magic: bytes, dest: Path) -> Kept:
        out = dest / "vmlinux"
        if magic[:4] == elf.ELF_MAGIC:
            shutil.copyfile(p, out)
            return Kept(PurePosixPath("vmlinux"), out, "vmlinux", out.stat().st_size)
        if magic[:2] != b"\x1f\x8b" and magic[:6] != b"\xfd7zXZ\x00":
            raise DebuginfoError("not an RPM, a .deb, an ELF vmlinux nor a gzip/xz-compressed one "
                                 f"(magic {magic[:8].hex()})", p, 0)
        src = str(p)
        with p.open("rb") as raw:
            counted = CountingStream(raw)
            budget = Budget(self.limits, src, counted)
            size = 0
            try:
                stream = cast(BinaryIO, counted)
                opener = (gzip.GzipFile(fileobj=stream, mode="rb") if magic[:2] == b"\x1f\x8b"
                          else lzma.LZMAFile(stream, "rb"))  # noqa: SIM115  (closed by the with below)
                with opener as zf, out.open("wb") as o:
                    while chunk := zf.read(1 << 20):
                        o.write(chunk)
                        size += len(chunk)
                        budget.add(len(chunk), PurePosixPath("vmlinux"), size)
            except (OSError, EOFError, lzma.LZMAError) as e:
                raise DebuginfoError(f"cannot decompress: {e} (truncated or corrupt?)", p) from e
        return Kept(PurePosixPath("vmlinux"), out, "vmlinux", size)

    def _commit(self, tmp: Path, kept: KeptFiles, kind: str, source: str,  # noqa: PLR0917
                package: str | None, pkg_release: str | None) -> Entries:
        kernels: list[tuple[Kept, str, str | None]] = []
        modules: list[tuple[Kept, str, str | None]] = []
        for k in kept:
            if not elf.is_elf(k.path):
                continue
            info = elf.read_elf(k.path)
            bid = elf.build_id(k.path, info)
            if bid is None:
                continue
            if k.kind == "vmlinux":
                if not info.has_debug_info:
                    raise DebuginfoError(f"{k.rel} has no DWARF (.debug_info): this is a stripped kernel; "
                                         "import the -dbg / -debuginfo package", source)
                kernels.append((k, bid, elf.kernel_release(k.path, info) or pkg_release))
            elif info.has_debug_info:
                modules.append((k, bid, elf.kernel_release(k.path, info)))
        if not kernels:
            raise DebuginfoError("no vmlinux with a build-id and debug info found", source)
        by_id = {bid: (k, rel) for k, bid, rel in kernels}
        entries: Entries = []
        for bid, (k, rel) in by_id.items():
            existing = self._entry(self.root / bid)
            if existing is not None:
                entries.append(existing)
                continue
            out = tmp / "out" / bid
            (out / "modules").mkdir(parents=True)
            os.replace(k.path, out / "vmlinux")
            mods: dict[str, str] = {}
            size = k.size
            for m, mbid, mrel in modules:
                if len(by_id) > 1 and mrel != rel:
                    continue
                parts = m.rel.parts
                # Keep the path below lib/modules/<release>/ so same-named modules stay apart.
                if "modules" in parts and parts.index("modules") + 2 < len(parts):
                    sub = PurePosixPath(*parts[parts.index("modules") + 2:])
                else:
                    sub = PurePosixPath(m.rel.name)
                dst = out / "modules" / sub
                dst.parent.mkdir(parents=True, exist_ok=True)
                if m.path.exists():
                    shutil.copyfile(m.path, dst) if len(by_id) > 1 else os.replace(m.path, dst)
                    mods[sub.as_posix()] = mbid
                    size += m.size
            meta = {"id": bid, "release": rel, "kind": kind, "source": source, "package": package,
                    "imported_at": time.time(), "size": size, "modules": mods}
            (out / META).write_text(json.dumps(meta, indent=1, sort_keys=True))
            fsync_tree(out)
            final = self.root / bid
            try:
                os.rename(out, final)
            except OSError as e:
                if final.exists():  # a concurrent import of the same kernel won
                    got = self._entry(final)
                    if got is not None:
                        entries.append(got)
                        continue
                raise DebuginfoError(f"cannot move the import into place: {e}", final) from e
            got = self._entry(final)
            assert got is not None
            entries.append(got)
        return entries

    def import_source(self, p: Path, release: str) -> Path:
        """Register a kernel source tree for ``release``: a directory is linked, a tarball unpacked."""
        p = Path(p)
        if "/" in release or release.startswith("."):
            raise DebuginfoError(f"bad release name {release!r}", p)
        dst = self.root / SOURCES / release
        dst.parent.mkdir(parents=True, exist_ok=True)
        with self._staging() as tmp:
            new = tmp / "src"
            if p.is_dir():
                os.symlink(p.resolve(), new)
            else:
                extract_sources(p, new, self.limits)
            # The old tree goes only once the new one is complete.
            if dst.is_symlink() or dst.exists():
                self._drop(dst)
            os.rename(new, dst)
        return dst

    def _drop(self, d: Path) -> None:
        if d.is_symlink():
            d.unlink()
            return
        # Rename first so readers never see a half-deleted entry.
        (self.root / TMP).mkdir(parents=True, exist_ok=True)
        gone = self.root / TMP / f"{os.getpid()}-rm-{uuid.uuid4().hex}"
        os.rename(d, gone)
        shutil.rmtree(gone, ignore_errors=True)

    def remove(self, id: str) -> Entry:
        e = self.get(id)
        self._drop(e.dir)
        return e

    def gc(self) -> Names:
        """Sweep leftovers of killed imports and entries whose files are gone; say what went."""
        removed: Names = []
        tmp = self.root / TMP
        if tmp.is_dir():
            for d in tmp.iterdir():
                pid = d.name.split("-", 1)[0]
                alive = pid == str(os.getpid())
                if pid.isdigit() and not alive:
                    try:
                        os.kill(int(pid), 0)
                        alive = True
                    except ProcessLookupError:
                        alive = False
                    except PermissionError:
                        alive = True
                if not alive:
                    if d.is_dir() and not d.is_symlink():
                        shutil.rmtree(d, ignore_errors=True)
                    else:
                        d.unlink(missing_ok=True)
                    removed.append(f"unfinished import {d.name}")
        if self.root.is_dir():
            for d in self.root.iterdir():
                if not d.is_dir() or d.name.startswith(".") or d.name in (SOURCES, mods.MODULES):
                    continue
                e = self._entry(d)
                if e is None or not e.vmlinux.is_file():
                    self._drop(d)
                    removed.append(f"broken entry {d.name}")
        return removed
