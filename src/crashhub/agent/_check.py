"""``crashhub kdump check``: is this host ready to catch its next crash?

Two halves, as everywhere in crashhub: :func:`gather` reads files under a root directory
(``/`` on a live host, a fixture tree in tests) into :class:`HostFacts`, and :func:`evaluate`
turns facts into one verdict per item with the fix.  Nothing here writes anything, and every
read that needs root degrades to an ``unknown`` verdict instead of failing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crashhub.agent import _kdumpconf as kdumpconf
from crashhub.agent import _makedumpfile as mdf
from crashhub.agent._estimate import DumpEstimate, estimate, parse_meminfo, physical_ram_from_meminfo
from crashhub.agent._kdumpconf import KdumpConfig
from crashhub.errors import InputError
from crashhub.kernel import kernel_version
from crashhub.model import JsonObject, to_jsonable

OK, WARN, FAIL, UNKNOWN = "ok", "warn", "fail", "unknown"
_RANK = {OK: 0, UNKNOWN: 1, WARN: 2, FAIL: 3}
_MAX_FILE = 1 << 20

UNITS = {"rhel": "kdump.service", "debian": "kdump-tools.service"}
_UNIT_DIRS = ("etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system")
_MAKEDUMPFILE = ("usr/sbin/makedumpfile", "usr/bin/makedumpfile", "sbin/makedumpfile", "bin/makedumpfile")


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    status: str  # ok / warn / fail / unknown
    summary: str
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class Space:
    path: str  # the directory measured (the dump path or its nearest existing parent)
    free: int


@dataclass(frozen=True, slots=True)
class Service:
    unit: str
    installed: bool
    enabled: bool | None
    active: bool | None


@dataclass(frozen=True, slots=True)
class HostFacts:
    root: str
    release: str | None = None
    cmdline: str | None = None
    crash_size: int | None = None
    crash_loaded: bool | None = None
    meminfo: dict[str, int] | None = None
    ram: int | None = None  # physical RAM, bytes (memory blocks, else DirectMap)
    config: KdumpConfig | None = None
    config_error: str | None = None
    service: Service | None = None
    makedumpfile: str | None = None  # path inside the root
    makedumpfile_version: mdf.Version | None = None
    space: Space | None = None
    sshkey_present: bool | None = None
    unreadable: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckResult:
    verdict: str
    flavor: str | None
    release: str | None
    items: tuple[Item, ...]
    estimate: DumpEstimate | None = None
    config: JsonObject = field(default_factory=dict)

    def to_json(self) -> JsonObject:
        out: JsonObject = to_jsonable(self)
        return out


# --------------------------------------------------------------------------- gather (I/O)


class _Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.unreadable: list[str] = []

    def path(self, abs_path: str) -> Path:
        return self.root / abs_path.lstrip("/")

    def text(self, abs_path: str, limit: int = _MAX_FILE) -> str | None:
        p = self.path(abs_path)
        try:
            with p.open("rb") as f:
                return f.read(limit).decode("utf-8", "replace")
        except FileNotFoundError:
            return None
        except OSError:
            self.unreadable.append(abs_path)
            return None

    def exists(self, abs_path: str) -> bool | None:
        try:
            os.lstat(self.path(abs_path))
        except FileNotFoundError:
            return False
        except OSError:
            return None
        return True


def _systemctl(unit: str) -> tuple[bool | None, bool | None]:
    exe = shutil.which("systemctl")
    if exe is None:
        return None, None
    res: list[bool | None] = []
    verbs = (("is-enabled", {"enabled", "enabled-runtime", "static", "alias"}), ("is-active", {"active"}))
    for verb, good in verbs:
        try:
            p = subprocess.run([exe, verb, unit], capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.TimeoutExpired):
            res.append(None)
            continue
        out = p.stdout.strip()
        res.append(out in good if out else None)
    return res[0], res[1]


def _service(r: _Reader, unit: str, live: bool) -> Service:
    installed = any(r.exists(f"/{d}/{unit}") for d in _UNIT_DIRS)
    enabled: bool | None
    active: bool | None
    if live:
        enabled, active = _systemctl(unit)
        if enabled is not None or active is not None:
            return Service(unit, installed, enabled, active)
    wants = r.path("/etc/systemd/system")
    try:
        enabled = any((d / unit).is_symlink() or (d / unit).exists()
                      for d in wants.iterdir() if d.name.endswith(".wants"))
    except FileNotFoundError:
        enabled = False
    except OSError:
        enabled = None
    # systemd keeps /run/systemd/units/invocation:<unit> while the unit has an invocation
    # (kdump.service is oneshot with RemainAfterExit=yes, so it stays while "active (exited)").
    active = r.exists(f"/run/systemd/units/invocation:{unit}")
    return Service(unit, installed, enabled, active)


def _memory_blocks(r: _Reader) -> int | None:
    """Physical RAM from /sys/devices/system/memory: online blocks times the block size.

    Rounds up to the block size (128 MiB on x86), which suits an upper bound.
    """
    size = r.text("/sys/devices/system/memory/block_size_bytes")
    if size is None:
        return None
    try:
        block = int(size.strip(), 16)
        names = [p.name for p in r.path("/sys/devices/system/memory").iterdir()]
    except (ValueError, OSError):
        return None
    online = sum(1 for n in names[:1 << 20] if n.startswith("memory")
                 and (r.text(f"/sys/devices/system/memory/{n}/online") or "").strip() == "1")
    return block * online or None


def _space(path: Path) -> Space | None:
    p = path
    while True:
        try:
            st = os.statvfs(p)
            return Space(str(p), st.f_bavail * st.f_frsize)
        except FileNotFoundError:
            if p.parent == p:
                return None
            p = p.parent
        except OSError:
            return None


def gather(root: str | Path = "/", *, statvfs: Callable[[Path], Space | None] = _space,
           live: bool | None = None) -> HostFacts:
    """Read everything the check needs from under ``root``.

    ``live`` (default: root is ``/``) also asks ``systemctl`` for the service state; on a fixture
    tree the state comes from the ``.wants`` symlinks and systemd's invocation files.
    """
    rootp = Path(root)
    if live is None:
        live = rootp.resolve() == Path("/")
    r = _Reader(rootp)
    release = r.text("/proc/sys/kernel/osrelease")
    if release is None and live:
        release = os.uname().release
    size_txt = r.text("/sys/kernel/kexec_crash_size")
    loaded_txt = r.text("/sys/kernel/kexec_crash_loaded")
    mem_txt = r.text("/proc/meminfo")
    meminfo = None
    if mem_txt is not None:
        try:
            meminfo = parse_meminfo(mem_txt)
        except InputError:
            meminfo = None
    ram = _memory_blocks(r)
    if ram is None and meminfo is not None:
        ram = physical_ram_from_meminfo(meminfo)
    config = None
    config_error = None
    flavor = None
    for fl, conf in (("rhel", kdumpconf.RHEL_CONF), ("debian", kdumpconf.DEBIAN_CONF)):
        text = r.text(conf)
        if text is not None:
            flavor = fl
            config = kdumpconf.parse(text, fl, conf)
            break
        if conf in r.unreadable:
            config_error = f"{conf} is not readable (run as root)"
    if flavor is None:
        # No config file: the unit still tells which tool is (half) installed.
        for fl, unit in UNITS.items():
            if any(r.exists(f"/{d}/{unit}") for d in _UNIT_DIRS):
                flavor = fl
    service = _service(r, UNITS[flavor], live) if flavor else None
    mdf_path = next((p for p in _MAKEDUMPFILE if r.exists("/" + p)), None)
    version = mdf.version_from_binary(r.path("/" + mdf_path)) if mdf_path else None
    if version is None:
        # dpkg's status file runs to several MiB on a full system.
        status = r.text("/var/lib/dpkg/status", limit=64 * _MAX_FILE)
        version = mdf.version_from_dpkg_status(status) if status else None
    space = None
    key = None
    if config is not None:
        if config.target == "local":
            space = statvfs(r.path(config.path))
        if config.target == "ssh" and config.sshkey:
            key = r.exists(config.sshkey)
    return HostFacts(
        root=str(rootp), release=release.strip() if release else None,
        cmdline=cmd.strip() if (cmd := r.text("/proc/cmdline")) is not None else None,
        crash_size=_int(size_txt), crash_loaded=(_int(loaded_txt) == 1) if loaded_txt is not None else None,
        meminfo=meminfo, ram=ram, config=config, config_error=config_error, service=service,
        makedumpfile=("/" + mdf_path) if mdf_path else None, makedumpfile_version=version,
        space=space, sshkey_present=key, unreadable=tuple(r.unreadable))


def _int(s: str | None) -> int | None:
    if s is None:
        return None
    try:
        return int(s.strip(), 0)
    except ValueError:
        return None


# --------------------------------------------------------------------------- evaluate (pure)


def evaluate(f: HostFacts) -> CheckResult:
    items: list[Item] = []
    cfg = f.config
    flavor = cfg.flavor if cfg else None
    items.append(_config_item(f))
    items.append(_service_item(f))
    items += _crashkernel_items(f)
    est = None
    if cfg is not None:
        items += _collector_items(cfg)
        items.append(_failure_item(cfg))
        level = cfg.collector.dump_level if cfg.collector.dump_level is not None else 0
        if f.meminfo is not None:
            est = estimate(f.meminfo, level if cfg.collector.program == "makedumpfile" else 0,
                           compressed=cfg.collector.compression is not None, ram=f.ram,
                           crash_size=f.crash_size or 0)
        items.append(_space_item(f, cfg, est))
        if cfg.target == "ssh":
            items.append(_sshkey_item(f, cfg))
    items.append(_makedumpfile_item(f))
    verdict = max((i.status for i in items), key=_RANK.__getitem__, default=OK)
    if verdict == UNKNOWN:
        verdict = OK
    conf: JsonObject = {}
    if cfg is not None:
        conf = {"source": cfg.source, "path": cfg.path, "target": cfg.target,
                "target_value": cfg.target_value, "core_collector": cfg.collector.command,
                "dump_level": cfg.collector.dump_level, "flattened": cfg.collector.flattened,
                "compression": cfg.collector.compression, "failure_action": cfg.failure_action}
    return CheckResult(verdict=verdict, flavor=flavor, release=f.release, items=tuple(items),
                       estimate=est, config=conf)


def check(root: str | Path = "/", **kw: Any) -> CheckResult:
    return evaluate(gather(root, **kw))


def _config_item(f: HostFacts) -> Item:
    cfg = f.config
    if cfg is None:
        if f.config_error:
            return Item("config", UNKNOWN, f.config_error, "run the check as root")
        return Item("config", FAIL, "no kdump configuration (/etc/kdump.conf or /etc/default/kdump-tools)",
                    "install kdump: RHEL 'dnf install kdump-utils' (kexec-tools before RHEL 10), "
                    "Debian/Ubuntu 'apt install kdump-tools'")
    if cfg.problems:
        return Item("config", FAIL, f"{cfg.source}: " + "; ".join(cfg.problems),
                    f"fix {cfg.source} (see 'crashhub kdump config')")
    where = cfg.path if cfg.target == "local" else f"{cfg.target} {cfg.target_value}:{cfg.path}"
    return Item("config", OK, f"{cfg.source}: dumps go to {where}")


def _service_item(f: HostFacts) -> Item:
    s = f.service
    if s is None:
        return Item("service", FAIL, "no kdump service installed",
                    "install kdump-utils/kexec-tools (RHEL) or kdump-tools (Debian/Ubuntu)")
    start = f"systemctl enable --now {s.unit}"
    if f.config is not None and f.config.enabled is False:
        return Item("service", FAIL, f"{f.config.source}: USE_KDUMP is not 1: kdump-tools will not arm kdump",
                    f"set USE_KDUMP=1 in {f.config.source}, then {start}")
    if not s.installed:
        return Item("service", FAIL, f"{s.unit} is not installed", "install the kdump package")
    if s.enabled is False:
        return Item("service", FAIL, f"{s.unit} is not enabled: kdump is not armed after a reboot", start)
    if s.active is False:
        return Item("service", FAIL, f"{s.unit} is enabled but not active", f"systemctl start {s.unit}")
    if s.enabled is None or s.active is None:
        return Item("service", UNKNOWN, f"{s.unit}: state not readable", "run the check as root")
    return Item("service", OK, f"{s.unit} enabled and active")


def _crashkernel_items(f: HostFacts) -> list[Item]:
    out = []
    param = None
    if f.cmdline is not None:
        param = next((w for w in f.cmdline.split() if w.startswith("crashkernel=")), None)
    flavor = f.config.flavor if f.config else None
    if flavor == "debian":
        how = ("add crashkernel=... to GRUB_CMDLINE_LINUX_DEFAULT (kdump-tools ships "
               "/etc/default/grub.d/kdump-tools.cfg), run update-grub and reboot")
    else:
        how = ("run 'kdumpctl reset-crashkernel' (RHEL 9+) or "
               "'grubby --update-kernel=ALL --args=crashkernel=auto' (RHEL 7/8), then reboot")
    if f.cmdline is None:
        out.append(Item("crashkernel", UNKNOWN, "/proc/cmdline not readable"))
    elif param is None:
        out.append(Item("crashkernel", FAIL,
                        "no crashkernel= on the kernel command line: no memory for kdump", how))
    else:
        out.append(Item("crashkernel", OK, f"{param} on the kernel command line"))
    if f.crash_size is None:
        out.append(Item("reservation", UNKNOWN, "/sys/kernel/kexec_crash_size absent or unreadable "
                        "(a kernel without kexec, or /sys not mounted)"))
    elif f.crash_size == 0:
        why = "the kernel reserved nothing" + (f" although {param} was given (too large, or no room in "
                                              "the requested range; see 'dmesg | grep -i crashkernel')"
                                              if param else "")
        out.append(Item("reservation", FAIL, why, how))
    else:
        out.append(Item("reservation", OK, f"{f.crash_size / 2**20:.0f} MiB reserved for the capture kernel"))
    if f.crash_loaded is None:
        out.append(Item("loaded", UNKNOWN, "/sys/kernel/kexec_crash_loaded absent or unreadable"))
    elif not f.crash_loaded:
        unit = f.service.unit if f.service else "kdump.service"
        out.append(Item("loaded", FAIL, "no capture kernel loaded: a crash now would not be dumped",
                        f"systemctl restart {unit} and read its log (journalctl -u {unit})"))
    else:
        out.append(Item("loaded", OK, "capture kernel loaded (kexec_crash_loaded = 1)"))
    return out


def _collector_items(cfg: KdumpConfig) -> list[Item]:
    c = cfg.collector
    out = []
    setting = "core_collector" if cfg.flavor == "rhel" else "MAKEDUMP_ARGS"
    if c.program != "makedumpfile":
        out.append(Item("collector", WARN, f"core collector is {c.program!r}: the dump is all of memory, "
                        "slow to write and to ship",
                        f"use {setting} 'makedumpfile -l --message-level 1 -d 31'"))
    elif c.dump_level is None or c.dump_level < 31:
        lvl = c.dump_level if c.dump_level is not None else 0
        sev = WARN if lvl & 16 == 0 else OK
        out.append(Item("collector", sev, f"makedumpfile at -d {lvl}: "
                        + ("free pages are kept" if lvl & 16 == 0 else "some page kinds are kept"),
                        None if sev == OK else "use -d 31 (or -d 23 where makedumpfile drops slab pages)"))
    else:
        out.append(Item("collector", OK, f"makedumpfile at -d {c.dump_level}"
                        + (f", {c.compression}" if c.compression else ", uncompressed")))
    if cfg.target == "ssh" and c.program == "makedumpfile":
        if c.flattened:
            out.append(Item("flatten", OK, "-F given: the dump streams over ssh as a flattened file"))
        else:
            # kexec-tools' mkdumprd refuses an ssh target whose makedumpfile lacks -F (since 2012);
            # only kdump-utils after commit 837f1c9 (2025-11) adds it by itself.
            out.append(Item("flatten", FAIL, "ssh target but makedumpfile has no -F: it cannot write to "
                            "a pipe "
                            "(kdumpctl/mkdumprd refuse this before kdump-utils 2025-11)",
                            f"add -F: core_collector {kdumpconf.hub_collector(c.dump_level or 31)}"))
    return out


def _failure_item(cfg: KdumpConfig) -> Item:
    if not cfg.network:
        action = cfg.failure_action or "default (reboot)"
        return Item("failure_action", OK, f"local target; failure action {action}")
    if cfg.flavor == "debian":
        return Item("failure_action", WARN, "kdump-tools has no dump_to_rootfs: if the network dump fails "
                    "the crash is lost", "keep enough space under KDUMP_COREDIR and watch the hub for "
                    "hosts that rebooted without a crash record")
    if cfg.failure_action == "dump_to_rootfs":
        return Item("failure_action", OK, "network target with dump_to_rootfs fallback")
    return Item("failure_action", WARN, f"network target, failure action {cfg.failure_action or 'reboot'}: "
                "the dump is lost when the network is down", "add 'failure_action dump_to_rootfs' "
                "('default dump_to_rootfs' on RHEL 7) so the agent can ship it after the reboot")


def _space_item(f: HostFacts, cfg: KdumpConfig, est: DumpEstimate | None) -> Item:
    if cfg.target != "local":
        return Item("space", UNKNOWN, f"free space on the {cfg.target} target is not checked from here",
                    f"on the target: df -h {cfg.path}  (need {est.describe() if est else 'the dump size'})")
    if est is None:
        return Item("space", UNKNOWN, "/proc/meminfo not readable: no dump size estimate")
    if f.space is None:
        return Item("space", UNKNOWN, f"cannot measure free space at {cfg.path}")
    free = f.space.free
    need = est.bytes
    fix = f"free space under {cfg.path}, point 'path' at a larger file system, or ship dumps to the hub " \
          "('crashhub kdump config --hub HOST')"
    msg = f"{free / 2**30:.1f} GiB free at {cfg.path}, dump {est.describe()}"
    # A compressed dump of kernel memory is usually several times smaller than the bound, so
    # below the bound is a warning and below half of it a failure; uncompressed, the bound is real.
    if free < (need // 2 if est.compressed else need):
        return Item("space", FAIL, msg, fix)
    if free < need:
        return Item("space", WARN, msg, fix)
    return Item("space", OK, msg)


def _sshkey_item(f: HostFacts, cfg: KdumpConfig) -> Item:
    if f.sshkey_present is None:
        return Item("sshkey", UNKNOWN, f"cannot see {cfg.sshkey} (run as root)")
    if not f.sshkey_present:
        cmd = "kdumpctl propagate" if cfg.flavor == "rhel" else "kdump-config propagate"
        return Item("sshkey", FAIL, f"ssh key {cfg.sshkey} is missing: the capture kernel cannot log in",
                    f"{cmd} (creates the key and copies it to {cfg.target_value})")
    return Item("sshkey", OK, f"ssh key {cfg.sshkey} present")


def _makedumpfile_item(f: HostFacts) -> Item:
    if f.makedumpfile is None:
        return Item("makedumpfile", FAIL, "makedumpfile not installed",
                    "install makedumpfile (a dependency of kdump-tools / kexec-tools)")
    v = f.makedumpfile_version
    if v is None:
        return Item("makedumpfile", UNKNOWN, f"{f.makedumpfile}: version not found")
    k = kernel_version(f.release) if f.release else None
    if k is None:
        return Item("makedumpfile", UNKNOWN, f"makedumpfile {mdf.fmt(v)}; running kernel unknown")
    level = f.config.collector.dump_level if f.config else None
    bugs = mdf.bugs_for(v, k)
    losing = [b for b in bugs if b.loses_data and level is not None and level & b.dump_bits]
    if losing:
        b = losing[-1]
        safe = level & ~b.dump_bits if level is not None else 23
        return Item("makedumpfile", FAIL,
                    f"makedumpfile {mdf.fmt(v)} with kernel {f.release} at -d {level}: {b.what} "
                    "(the dump cannot be opened by crash or drgn)",
                    f"update makedumpfile to >= {mdf.fmt(max(x.fixed_in for x in bugs))}, "
                    f"or use -d {safe} until then")
    latest = mdf.latest_supported(v)
    notes = [b.what + f" (fixed in {mdf.fmt(b.fixed_in)})" for b in bugs]
    if latest is not None and k[:2] > latest[:2]:
        notes.insert(0, f"makedumpfile {mdf.fmt(v)} supports kernels up to {mdf.fmt(latest)}; it prints "
                     "'The kernel version is not supported.' and may misread newer structures")
    if notes:
        return Item("makedumpfile", WARN, "; ".join(notes), "update makedumpfile")
    return Item("makedumpfile", OK, f"makedumpfile {mdf.fmt(v)} supports kernel {f.release}")
