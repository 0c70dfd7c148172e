"""The facts of a dump read without debuginfo (``crashhub.dump``), shared by the dump readers,
the analysis and the store."""

from __future__ import annotations

from dataclasses import dataclass, field

from crashhub.model import JsonObject, _known, to_jsonable

# --------------------------------------------------------------------------- dumps


@dataclass(frozen=True, slots=True)
class DumpFacts:
    """What a dump is, read without debuginfo."""

    path: str
    format: str  # "kdump", "diskdump", "flat-kdump", "flat-elf", "elf", "qemu-elf", "split", ...
    compression: str | None = None  # page codec(s) ("lzo", "zlib", ...) or outer wrapper
    wrapper: str | None = None  # "gzip", "xz", ... when the file is wrapped
    arch: str | None = None
    release: str | None = None
    version: str | None = None
    build_id: str | None = None
    hostname: str | None = None
    crash_time: int | None = None  # seconds since the epoch (VMCOREINFO CRASHTIME)
    cpus: int | None = None
    page_size: int | None = None
    dump_level: int | None = None
    dump_level_excludes: tuple[str, ...] = ()
    partial: bool = False
    incomplete: bool = False
    excluded_vmemmap: bool = False
    pages_present: int | None = None
    max_pfn: int | None = None
    file_size: int | None = None
    ram_bytes: int | None = None
    phys_base: int | None = None
    kernel_offset: int | None = None
    panic_cpu: int | None = None
    panic_pid: int | None = None
    registers: dict[str, int] = field(default_factory=dict)
    vmcoreinfo: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # (start_pfn, end_pfn) when the file is one part of a `makedumpfile --split` dump.
    split_pfns: tuple[int, int] | None = None
    # How the kernel log was found in the dump: "lockless", "printk_log", "char-ring" (None: not read).
    log_layout: str | None = None

    def to_dict(self) -> JsonObject:
        d: JsonObject = to_jsonable(self)
        return d

    @classmethod
    def from_dict(cls, d: JsonObject) -> DumpFacts:
        """The facts ``to_dict`` gave (or an analysis stored them, without ``vmcoreinfo``)."""
        v = _known(cls, d)
        v.setdefault("path", "")
        v.setdefault("format", "")
        for name in ("dump_level_excludes", "warnings"):
            v[name] = tuple(v.get(name) or ())
        v["registers"] = {str(k): int(x) for k, x in (v.get("registers") or {}).items()}
        v["vmcoreinfo"] = {str(k): str(x) for k, x in (v.get("vmcoreinfo") or {}).items()}
        pfns = v.get("split_pfns")
        v["split_pfns"] = (int(pfns[0]), int(pfns[1])) if pfns else None
        return cls(**v)
