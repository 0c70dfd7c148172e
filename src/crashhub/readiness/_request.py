"""A kernel check asked of the hub (``POST /api/v1/kernels/check``) and the checks of what it names.

The request is the job's payload: the uploaded files by role, name and blob digest, and the capture
setup.  The same checks guard the CLI's options (``crashhub kernel check``), so a collector line or a
``crashkernel=`` the hub refuses is refused on the command line too.  The kernel's release is never
a field here: the runner reads it from the package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

from crashhub.errors import InputError
from crashhub.model import JsonObject
from crashhub.readiness._model import CHECK_KINDS, CheckKind

FileRole = Literal["package", "debuginfo", "makedumpfile"]
FILE_ROLES: tuple[FileRole, ...] = ("package", "debuginfo", "makedumpfile")
MAX_PACKAGES = 8  # a kernel as RPMs: kernel, kernel-core, kernel-modules (+ -extra, -devel, headers)
MAX_COLLECTOR = 256
MAX_CRASHKERNEL = 64
# A package's file name: the runner tells a deb from an RPM by it.
PACKAGE_SUFFIXES = (".deb", ".rpm")
DEBUGINFO_SUFFIXES = (".deb", ".ddeb", ".rpm")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~:-]{0,254}$")
# The collector line goes into the capture initramfs's script: words of a command line, no shell.
_COLLECTOR = re.compile(r"^[A-Za-z0-9_./=, -]+$")
# crashkernel= as the kernel reads it: "256M", "512M@16M", "1G-4G:256M,4G-:512M", "256M,high".
_CRASHKERNEL = re.compile(r"^[0-9][0-9A-Za-z:,@-]*$")


def check_name(role: FileRole, name: str | None) -> str:
    """A file's name as sent, if it is a plain one the runner can tell the type of."""
    if not name or not _NAME.match(name) or ".." in name:
        raise InputError(f"field {role!r}: file name {name!r} is not a plain file name")
    if role == "package" and not name.endswith(PACKAGE_SUFFIXES):
        raise InputError(f"field 'package': {name!r} is neither a .deb nor an .rpm")
    if role == "debuginfo" and not name.endswith(DEBUGINFO_SUFFIXES):
        raise InputError(f"field 'debuginfo': {name!r} is not a .deb, .ddeb or .rpm")
    return name


def check_collector(line: str) -> str:
    line = " ".join(line.split())
    if not line or len(line) > MAX_COLLECTOR or not _COLLECTOR.match(line):
        raise InputError(f"core_collector: {line[:80]!r} is not a collector command line "
                         f"(letters, digits and - _ . / = , at most {MAX_COLLECTOR} characters)")
    if line.split()[0] not in ("makedumpfile", "cp"):
        raise InputError(f"core_collector: {line.split()[0]!r}: kdump runs makedumpfile or cp")
    return line


def check_crashkernel(value: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_CRASHKERNEL or not _CRASHKERNEL.match(value):
        raise InputError(f"crashkernel: {value[:80]!r} is not a crashkernel= size (e.g. 256M)")
    return value


def parse_kinds(text: str | None) -> tuple[CheckKind, ...] | None:
    """``"sysrq,null"`` (commas or spaces) as kinds; None for none given (the runner's default)."""
    words = [w for w in re.split(r"[\s,]+", text or "") if w]
    if not words:
        return None
    bad = [w for w in words if w not in CHECK_KINDS]
    if bad:
        raise InputError(f"kinds: unknown kind {bad[0][:40]!r} (kinds: {', '.join(CHECK_KINDS)})")
    return tuple(dict.fromkeys(cast("list[CheckKind]", words)))


@dataclass(frozen=True, slots=True)
class CheckFile:
    role: FileRole
    name: str
    digest: str  # sha256 of the bytes, in the blob store
    size: int

    def to_dict(self) -> JsonObject:
        return {"role": self.role, "name": self.name, "digest": self.digest, "size": self.size}

    @classmethod
    def from_dict(cls, d: JsonObject) -> CheckFile:
        role = d.get("role")
        if role not in FILE_ROLES:
            raise ValueError(f"unknown file role {role!r}")
        return cls(role=role, name=str(d["name"]), digest=str(d["digest"]), size=int(d["size"]))


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """What a kernel-check job runs: the files, the capture setup and who asked."""

    files: tuple[CheckFile, ...]
    core_collector: str
    crashkernel: str
    kinds: tuple[CheckKind, ...] | None
    requested_by: str

    def of(self, role: FileRole) -> list[CheckFile]:
        return [f for f in self.files if f.role == role]

    def to_dict(self) -> JsonObject:
        return {
            "files": [f.to_dict() for f in self.files],
            # The store keeps these blobs from gc while the job waits (store.retention).
            "blobs": sorted({f.digest for f in self.files}),
            "core_collector": self.core_collector, "crashkernel": self.crashkernel,
            "kinds": None if self.kinds is None else list(self.kinds), "requested_by": self.requested_by,
        }

    @classmethod
    def from_dict(cls, d: JsonObject) -> CheckRequest:
        kinds = d.get("kinds")
        return cls(
            files=tuple(CheckFile.from_dict(f) for f in d.get("files") or ()),
            core_collector=str(d["core_collector"]), crashkernel=str(d["crashkernel"]),
            kinds=None if kinds is None else parse_kinds(",".join(str(k) for k in kinds)),
            requested_by=str(d.get("requested_by") or ""),
        )
