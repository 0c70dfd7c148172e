"""Read and write the two kdump configuration dialects.

* RHEL/Fedora (kexec-tools, later kdump-utils): ``/etc/kdump.conf``, one ``option value`` per
  line, ``#`` starts a comment (``kdumpctl``'s ``kdump_read_conf`` strips it and trims).
* Debian/Ubuntu (kdump-tools): ``/etc/default/kdump-tools``, a shell fragment of
  ``NAME=value`` assignments sourced by ``kdump-config``.

Both parse into one :class:`KdumpConfig` holding the *effective* values, i.e. with the
defaults each tool applies when an option is absent.  The writers edit the existing text
line by line (so comments and unrelated options survive) and return the new text; the
caller shows a diff and decides whether to write.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from crashhub.errors import ConfigError

RHEL_CONF = "/etc/kdump.conf"
DEBIAN_CONF = "/etc/default/kdump-tools"

# kexec-tools/kdump-utils defaults (kdumpctl DEFAULT_PATH, DEFAULT_SSHKEY; kdump.sh CORE_COLLECTOR).
RHEL_DEFAULT_PATH = "/var/crash"
RHEL_DEFAULT_SSHKEY = "/root/.ssh/kdump_id_rsa"
RHEL_DEFAULT_COLLECTOR = "makedumpfile -l --message-level 7 -d 31"
# kdump-config defaults: KDUMP_COREDIR, SSH_KEY; MAKEDUMP_ARGS is "-c -d 31" in the file Debian
# ships (newer forks default to "-F -c -d 31").
DEBIAN_DEFAULT_PATH = "/var/crash"
DEBIAN_DEFAULT_SSHKEY = "/root/.ssh/kdump_id_rsa"
DEBIAN_DEFAULT_MAKEDUMP_ARGS = "-c -d 31"

# kdump.conf dump targets: the option name is the target kind.
_RHEL_FS_TARGETS = ("ext2", "ext3", "ext4", "xfs", "btrfs", "minix", "virtiofs")
_RHEL_TARGETS = ("ssh", "nfs", "raw", *_RHEL_FS_TARGETS)

# makedumpfile compression flags (makedumpfile(8)).
_COMPRESSION_FLAGS = {"-c": "zlib", "-l": "lzo", "-p": "snappy", "-z": "zstd"}


@dataclass(frozen=True, slots=True)
class Collector:
    """What a core_collector / MAKEDUMP_ARGS line does, as far as crashhub cares."""

    command: str  # the whole command line as configured
    program: str  # "makedumpfile", "cp", "cat", "scp", ...
    dump_level: int | None = None  # -d N; None when not makedumpfile or not given
    flattened: bool = False  # -F
    elf: bool = False  # -E
    compression: str | None = None  # zlib / lzo / snappy / zstd
    message_level: int | None = None


@dataclass(frozen=True, slots=True)
class KdumpConfig:
    """The effective kdump configuration of one host."""

    flavor: str  # "rhel" or "debian"
    source: str  # the file it came from
    path: str  # dump directory (on the target for ssh/nfs)
    target: str  # "local", "ssh", "nfs", "raw", "fs", "ftp"
    target_value: str | None  # user@host, host:/export, /dev/..., UUID=...
    collector: Collector
    sshkey: str | None = None
    failure_action: str | None = None  # RHEL failure_action/default; Debian KDUMP_FAIL_CMD
    enabled: bool | None = None  # Debian USE_KDUMP; None for RHEL (the service decides)
    options: dict[str, str] = field(default_factory=dict)  # every option as written
    problems: tuple[str, ...] = ()  # lines the tool itself would reject or ignore

    @property
    def network(self) -> bool:
        return self.target in ("ssh", "nfs", "ftp")


def parse_collector(command: str, *, makedumpfile_args: bool = False) -> Collector:
    """Split a collector command; ``makedumpfile_args`` when it is Debian's MAKEDUMP_ARGS."""
    try:
        argv = shlex.split(command)
    except ValueError:
        argv = command.split()
    if makedumpfile_args:
        argv = ["makedumpfile", *argv]
    if not argv:
        return Collector(command=command, program="")
    program = argv[0].rsplit("/", 1)[-1]
    if program != "makedumpfile":
        return Collector(command=command, program=program)
    level: int | None = None
    msg: int | None = None
    flattened = elf = False
    compression: str | None = None
    i = 1
    while i < len(argv):
        a = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if a in ("-d", "--dump-level") and nxt is not None:
            level = _int_or_none(nxt)
            i += 1
        elif a.startswith("-d") and a[2:].isdigit():
            level = int(a[2:])
        elif a.startswith("--dump-level="):
            level = _int_or_none(a.split("=", 1)[1])
        elif a == "--message-level" and nxt is not None:
            msg = _int_or_none(nxt)
            i += 1
        elif a.startswith("--message-level="):
            msg = _int_or_none(a.split("=", 1)[1])
        elif a.startswith("-") and not a.startswith("--") and len(a) > 1:
            # Short flags may be bundled ("-Fl").
            for ch in a[1:]:
                flag = "-" + ch
                if flag == "-F":
                    flattened = True
                elif flag == "-E":
                    elf = True
                elif flag in _COMPRESSION_FLAGS:
                    compression = _COMPRESSION_FLAGS[flag]
        i += 1
    if level is not None and not 0 <= level <= 31:
        level = None
    return Collector(command=command, program=program, dump_level=level, flattened=flattened,
                     elf=elf, compression=compression, message_level=msg)


def _int_or_none(s: str) -> int | None:
    try:
        return int(s, 0)
    except ValueError:
        return None


# --------------------------------------------------------------------------- RHEL


def _rhel_lines(text: str) -> list[tuple[int, str, str]]:
    """(line index, option, value) for every active line, as kdumpctl reads them."""
    out = []
    for i, raw in enumerate(text.splitlines()):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 1)
        out.append((i, parts[0], parts[1].strip() if len(parts) > 1 else ""))
    return out


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    return v


def parse_rhel(text: str, source: str = RHEL_CONF) -> KdumpConfig:
    options: dict[str, str] = {}
    problems: list[str] = []
    target, target_value = "local", None
    for _, opt, val in _rhel_lines(text):
        if opt in options and opt in _RHEL_TARGETS:
            problems.append(f"more than one {opt!r} line: kdumpctl refuses the file")
        options[opt] = _unquote(val)
        if opt in _RHEL_TARGETS:
            if target != "local":
                problems.append(f"dump target {opt!r} given after {target!r}: kdumpctl allows one target")
            target = "fs" if opt in _RHEL_FS_TARGETS else opt
            target_value = _unquote(val)
        elif opt == "dracut_args" and "--mount" in val:
            target, target_value = "fs", _unquote(val)
        elif opt in ("net", "options", "link_delay", "disk_timeout", "debug_mem_level", "blacklist"):
            problems.append(f"deprecated option {opt!r}: kdumpctl refuses the file")
    collector = parse_collector(options.get("core_collector", RHEL_DEFAULT_COLLECTOR))
    # 'default' was renamed 'failure_action' (kexec-tools 2.0.17 era); kdumpctl still maps it.
    failure = options.get("failure_action") or options.get("default")
    return KdumpConfig(
        flavor="rhel", source=source, path=options.get("path", RHEL_DEFAULT_PATH), target=target,
        target_value=target_value, collector=collector,
        sshkey=options.get("sshkey", RHEL_DEFAULT_SSHKEY) if target == "ssh" else options.get("sshkey"),
        failure_action=failure, options=options, problems=tuple(problems))


# --------------------------------------------------------------------------- Debian

_ASSIGN = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def _shell_value(raw: str) -> str:
    """The value of a simple shell assignment's right-hand side (no expansion)."""
    try:
        parts = shlex.split(raw, comments=True)
    except ValueError:
        return raw.strip().strip("\"'")
    return " ".join(parts)


def parse_debian_vars(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in text.splitlines():
        m = _ASSIGN.match(raw)
        if m:
            out[m.group(1)] = _shell_value(m.group(2))
    return out


def parse_debian(text: str, source: str = DEBIAN_CONF) -> KdumpConfig:
    v = parse_debian_vars(text)
    problems: list[str] = []
    args = v.get("MAKEDUMP_ARGS") or DEBIAN_DEFAULT_MAKEDUMP_ARGS
    collector = parse_collector(args, makedumpfile_args=True)
    target, target_value = "local", None
    if v.get("SSH"):
        target, target_value = "ssh", v["SSH"]
        # kdump-config appends -F to MAKEDUMP_ARGS for ssh (newer forks always do), so the
        # effective collector is flattened whatever the file says.
        if not collector.flattened:
            collector = parse_collector(args + " -F", makedumpfile_args=True)
    elif v.get("NFS"):
        target, target_value = "nfs", v["NFS"]
    elif v.get("FTP"):
        target, target_value = "ftp", v["FTP"]
    if sum(bool(v.get(k)) for k in ("SSH", "NFS", "FTP")) > 1:
        problems.append("more than one of SSH, NFS, FTP set: kdump-config uses only one")
    use = v.get("USE_KDUMP", "")
    return KdumpConfig(
        flavor="debian", source=source, path=v.get("KDUMP_COREDIR") or DEBIAN_DEFAULT_PATH,
        target=target, target_value=target_value, collector=collector,
        sshkey=(v.get("SSH_KEY") or DEBIAN_DEFAULT_SSHKEY) if target == "ssh" else v.get("SSH_KEY"),
        failure_action=v.get("KDUMP_FAIL_CMD") or None,
        enabled=use not in ("", "0"), options=v, problems=tuple(problems))


# --------------------------------------------------------------------------- writers


def hub_collector(dump_level: int = 31) -> str:
    """The core collector crashhub recommends for an ssh target."""
    return f"makedumpfile -F -l --message-level 1 -d {dump_level}"


def render_rhel(current: str, hub: str, *, ssh_user: str = "root", path: str,
                sshkey: str | None = None, dump_level: int = 31) -> str:
    """``current`` kdump.conf edited to dump over ssh to the hub, with the local fallback.

    Other dump targets are commented out (kdumpctl allows one).  The failure action keeps the
    spelling the file already uses: RHEL 7's template has ``#default``, RHEL 8/9's
    ``#failure_action``; both mean the same to kdumpctl.
    """
    lines = current.splitlines()
    wanted: dict[str, str] = {
        "ssh": f"{ssh_user}@{hub}",
        "path": path,
        "core_collector": hub_collector(dump_level),
    }
    if sshkey:
        wanted["sshkey"] = sshkey
    uses_default = (any(re.match(r"^\s*#?\s*default\s", ln) for ln in lines)
                    and not any(re.match(r"^\s*#?\s*failure_action\s", ln) for ln in lines))
    wanted["default" if uses_default else "failure_action"] = "dump_to_rootfs"
    conflicting = {*(t for t in _RHEL_TARGETS if t != "ssh"),
                   "failure_action" if uses_default else "default"}

    def option(raw: str) -> str:
        active = raw.split("#", 1)[0].strip()
        return active.split(None, 1)[0] if active else ""

    def conflicts(opt: str | None, raw: str) -> bool:
        return opt in conflicting or (opt == "dracut_args" and "--mount" in raw.split("#", 1)[0])

    return _edit(lines, wanted, option, conflicts, lambda opt, val: f"{opt} {val}")


def _edit(
    lines: Sequence[str],
    wanted: dict[str, str],
    option: Callable[[str], str | None],
    conflicts: Callable[[str | None, str], bool],
    render: Callable[[str, str], str],
) -> str:
    """``lines`` of a kdump configuration with the ``wanted`` options set: a conflicting line and
    a second setting of a wanted option are commented out with the reason, and an option not yet
    set goes where the template has it commented, else at the end.  ``option`` names a line's
    option (None or "": none), ``render`` writes an option's line."""
    done: set[str] = set()
    out: list[str] = []
    for raw in lines:
        opt = option(raw)
        if conflicts(opt, raw):
            out.append(f"#{raw}  # disabled by crashhub kdump config")
            continue
        if opt and opt in wanted:
            if opt in done:
                out.append(f"#{raw}  # duplicate, disabled by crashhub kdump config")
                continue
            out.append(render(opt, wanted[opt]))
            done.add(opt)
            continue
        out.append(raw)
    for opt, val in wanted.items():
        if opt in done:
            continue
        idx = _commented_template_line(out, opt)
        if idx is None:
            out.append(render(opt, val))
        else:
            out.insert(idx + 1, render(opt, val))
    return "\n".join(out) + "\n"


def _commented_template_line(lines: Sequence[str], opt: str) -> int | None:
    pat = re.compile(rf"^\s*#\s*{re.escape(opt)}[\s=]")
    last = None
    for i, ln in enumerate(lines):
        if pat.match(ln):
            last = i
    return last


def render_debian(current: str, hub: str, *, ssh_user: str = "root", path: str,
                  sshkey: str | None = None, dump_level: int = 31) -> str:
    """``current`` /etc/default/kdump-tools edited to dump over ssh to the hub.

    kdump-tools has no ``dump_to_rootfs``: a failed ssh dump is lost (kdump-config returns an
    error and runs KDUMP_FAIL_CMD).  NFS/FTP settings are commented out since kdump-config uses
    only one network target.
    """
    wanted: dict[str, str] = {
        "USE_KDUMP": "1",
        "SSH": f"{ssh_user}@{hub}",
        "KDUMP_COREDIR": path,
        # -F is explicit although kdump-config adds it for ssh: the line then says what happens.
        "MAKEDUMP_ARGS": hub_collector(dump_level).removeprefix("makedumpfile "),
    }
    if sshkey:
        wanted["SSH_KEY"] = sshkey
    conflicting = {"NFS", "FTP"}

    def option(raw: str) -> str | None:
        m = _ASSIGN.match(raw)
        return m.group(1) if m else None

    return _edit(current.splitlines(), wanted, option, lambda name, _raw: name in conflicting,
                 lambda name, val: f"{name}={shlex.quote(val)}")


# ---------------------------------------------------------------- a whole file, for a host without one

Flavor = Literal["rhel", "debian"]
OS_RELEASE = "/etc/os-release"


def flavor_of_os_release(text: str) -> tuple[Flavor | None, int | None]:
    """The kdump dialect of a distribution (``ID`` and ``ID_LIKE`` of os-release(5)) and its major
    version (RHEL 7's kdumpctl spells the failure action ``default``)."""
    v = parse_debian_vars(text)  # the same shell-assignment syntax
    ids = [v.get("ID", ""), *v.get("ID_LIKE", "").split()]
    major = _int_or_none(v.get("VERSION_ID", "").split(".", 1)[0])
    for i in ids:
        if i in ("rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn", "suse"):
            return "rhel", major
        if i in ("debian", "ubuntu"):
            return "debian", major
    return None, major


_RHEL_HEAD = """\
# /etc/kdump.conf, as recommended by `crashhub kdump config`: dumps go to the crashhub hub over
# ssh, flattened (-F) so the hub can take them as they stream in; a failed ssh dump is kept on
# the root file system.  Reference: kdump.conf(5).  Install kexec-tools (RHEL 7/8) or kdump-utils
# (RHEL 9.5+, Fedora 40+), reserve crash kernel memory (`kdumpctl reset-crashkernel`, or
# `grubby --update-kernel=ALL --args=crashkernel=auto`), then:
#   kdumpctl propagate      # copies the ssh key to the hub (once)
#   systemctl enable --now kdump.service
#   crashhub kdump check    # every item should be ok
"""

_DEBIAN_HEAD = """\
# /etc/default/kdump-tools, as recommended by `crashhub kdump config`: dumps go to the crashhub
# hub over ssh, flattened (-F) so the hub can take them as they stream in.  kdump-tools has no
# dump_to_rootfs: a failed ssh dump is not kept locally.  Reference: kdump-config(8).  Install
# kdump-tools (it reserves crash kernel memory in /etc/default/grub.d/kdump-tools.cfg; run
# update-grub and reboot), then:
#   kdump-config propagate  # copies the ssh key to the hub (once)
#   systemctl enable --now kdump-tools.service
#   crashhub kdump check    # every item should be ok
"""


def recommended(flavor: Flavor, hub: str, *, ssh_user: str = "root", path: str,
                sshkey: str | None = None, dump_level: int = 31, major: int | None = None) -> str:
    """A complete configuration file for a host that has none (config management writes it)."""
    collector = hub_collector(dump_level)
    if flavor == "rhel":
        # RHEL 7's kdumpctl knows only `default`; RHEL 8+ spell it `failure_action`.
        action = "default" if major == 7 else "failure_action"
        return _RHEL_HEAD + "".join(f"{k} {v}\n" for k, v in (
            ("ssh", f"{ssh_user}@{hub}"), ("sshkey", sshkey or RHEL_DEFAULT_SSHKEY), ("path", path),
            ("core_collector", collector), (action, "dump_to_rootfs")))
    return _DEBIAN_HEAD + "".join(f"{k}={shlex.quote(v)}\n" for k, v in (
        ("USE_KDUMP", "1"), ("SSH", f"{ssh_user}@{hub}"), ("SSH_KEY", sshkey or DEBIAN_DEFAULT_SSHKEY),
        ("KDUMP_COREDIR", path), ("MAKEDUMP_ARGS", collector.removeprefix("makedumpfile ")),
        # The kernel log beside the dump (dmesg.<stamp>): the hub triages it before the dump is in.
        ("KDUMP_DUMP_DMESG", "1")))


def unified_diff(old: str, new: str, path: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=path, tofile=f"{path} (crashhub)"))


def parse(text: str, flavor: str, source: str) -> KdumpConfig:
    if flavor == "rhel":
        return parse_rhel(text, source)
    if flavor == "debian":
        return parse_debian(text, source)
    raise ConfigError(f"unknown kdump flavor {flavor!r} (expected 'rhel' or 'debian')", source)
