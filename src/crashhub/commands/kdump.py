"""``crashhub kdump check|config``: make a host ready to catch its next crash.

Runs on the hosts with only the core dependencies (no web or database stack).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from crashhub.agent import HostFacts, check, gather, kdumpconf
from crashhub.agent import makedumpfile as mdf
from crashhub.errors import ConfigError
from crashhub.kernel import kernel_version

_SYMBOL = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "unknown": "??  "}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = sub.add_parser("check", help="read-only check of kdump readiness (service, memory, config, space)")
    c.add_argument("--root", default="/", help="read every file under this directory instead of / (tests)")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    g = sub.add_parser("config", help="print (and with --write apply) the kdump settings that ship dumps "
                                      "to the hub over ssh; on a host without a kdump configuration, "
                                      "a complete recommended file on standard output")
    g.add_argument("--hub", required=True, help="the hub's host name or address, as ssh reaches it")
    g.add_argument("--ssh-user", default="root", help="user on the hub that receives dumps (default root)")
    g.add_argument("--path", default="/var/lib/crashhub/spool",
                   help="the hub's spool directory (its 'spool_dir', default <data>/spool)")
    g.add_argument("--sshkey", default=None, help="private key the capture kernel logs in with")
    g.add_argument("--dump-level", type=int, default=None,
                   help="makedumpfile -d level (default 31, or 23 where makedumpfile drops slab pages)")
    g.add_argument("--flavor", choices=("rhel", "debian"), default=None,
                   help="the file to recommend where the host has none: rhel (/etc/kdump.conf) or debian "
                        "(/etc/default/kdump-tools); default: the kdump unit installed, else /etc/os-release")
    g.add_argument("--root", default="/", help="edit the files under this directory instead of /")
    g.add_argument("--write", action="store_true", help="write the file (a .crashhub-bak copy is kept)")


def run(args: argparse.Namespace) -> int:
    if args.action == "check":
        return _check(args)
    return _config(args)


def _check(args: argparse.Namespace) -> int:
    result = check(args.root)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        from rich.console import Console  # noqa: PLC0415  (rich only for the text view)
        from rich.markup import escape  # noqa: PLC0415

        con = Console(highlight=False, soft_wrap=True)
        head = f"kdump check: {result.verdict.upper()}"
        if result.flavor or result.release:
            head += f"  ({result.flavor or 'no kdump'}, kernel {result.release or '?'})"
        con.print(f"[bold]{escape(head)}[/bold]")
        colour = {"ok": "green", "warn": "yellow", "fail": "red", "unknown": "dim"}
        for item in result.items:
            sym = f"[{colour[item.status]}]{_SYMBOL[item.status]}[/]"
            con.print(f"  {sym} {item.id:<15} {escape(item.summary)}")
            if item.fix and item.status != "ok":
                con.print(f"       {'':<15} [dim]fix:[/dim] {escape(item.fix)}")
    return 1 if result.verdict == "fail" else 0


def _config(args: argparse.Namespace) -> int:
    root = Path(args.root)
    facts = gather(root)
    cfg = facts.config
    level = args.dump_level
    if level is None:
        level = _safe_level(facts)
    if not 0 <= level <= 31:
        raise ConfigError(f"--dump-level must be 0..31, not {level}")
    if cfg is None:
        return _recommend(args, root, facts, level)
    target = root / cfg.source.lstrip("/")
    current = target.read_text()
    render = kdumpconf.render_rhel if cfg.flavor == "rhel" else kdumpconf.render_debian
    new = render(current, args.hub, ssh_user=args.ssh_user, path=args.path, sshkey=args.sshkey,
                 dump_level=level)
    wanted = [ln for ln in new.splitlines() if ln not in current.splitlines()]
    dest = f"{args.ssh_user}@{args.hub}:{args.path}"
    print(f"# {cfg.source} ({cfg.flavor}): settings that send dumps to {dest}")
    for ln in wanted:
        print(ln)
    diff = kdumpconf.unified_diff(current, new, cfg.source)
    print()
    print(diff if diff else "# no change: the file already has these settings")
    if level != 31:
        print(f"# -d {level}: this host's makedumpfile would drop live slab pages at -d 31 "
              "(see 'kdump check')")
    if cfg.flavor == "debian":
        print("# note: kdump-tools has no dump_to_rootfs; a failed ssh dump is not kept locally")
    if not args.write:
        print("# not written; run again with --write to apply")
        return 0
    if not diff:
        return 0
    backup = target.with_name(target.name + f".crashhub-bak.{time.strftime('%Y%m%d%H%M%S')}")
    shutil.copy2(target, backup)
    tmp = target.with_name(f".{target.name}.crashhub-tmp")
    tmp.write_text(new)
    shutil.copymode(target, tmp)
    os.replace(tmp, target)
    unit = "kdump.service" if cfg.flavor == "rhel" else "kdump-tools.service"
    print(f"# written {target} (backup {backup}); now: "
          + ("kdumpctl propagate; " if cfg.flavor == "rhel" else "kdump-config propagate; ")
          + f"systemctl restart {unit}", file=sys.stderr)
    return 0


def _recommend(args: argparse.Namespace, root: Path, facts: HostFacts, level: int) -> int:
    """No kdump configuration here: the whole recommended file on standard output (notes on
    standard error), so `crashhub kdump config --hub H > FILE` is what config management ships."""
    flavor, major = _flavor(args, root, facts)
    conf = kdumpconf.RHEL_CONF if flavor == "rhel" else kdumpconf.DEBIAN_CONF
    text = kdumpconf.recommended(flavor, args.hub, ssh_user=args.ssh_user, path=args.path,
                                 sshkey=args.sshkey, dump_level=level, major=major)
    print(text, end="")
    print(f"# {conf}: none on this host; the recommended {flavor} file is on standard output",
          file=sys.stderr)
    if level != 31:
        print(f"# -d {level}: this host's makedumpfile would drop live slab pages at -d 31", file=sys.stderr)
    if not args.write:
        return 0
    target = root / conf.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.crashhub-tmp")
    tmp.write_text(text)
    os.replace(tmp, target)
    print(f"# written {target}", file=sys.stderr)
    return 0


def _flavor(args: argparse.Namespace, root: Path, facts: HostFacts) -> tuple[kdumpconf.Flavor, int | None]:
    """--flavor, else the kdump unit installed, else the distribution (os-release)."""
    try:
        os_release = (root / kdumpconf.OS_RELEASE.lstrip("/")).read_text()
    except OSError:
        os_release = ""
    found, major = kdumpconf.flavor_of_os_release(os_release)
    if args.flavor is not None:
        return ("rhel" if args.flavor == "rhel" else "debian"), major
    if facts.service is not None and facts.service.installed:
        return ("rhel" if facts.service.unit == "kdump.service" else "debian"), major
    if found is None:
        raise ConfigError("no kdump configuration, no kdump unit and no known distribution in "
                          f"{kdumpconf.OS_RELEASE}: say which file to recommend with --flavor rhel|debian",
                          root / kdumpconf.OS_RELEASE.lstrip("/"))
    return found, major


def _safe_level(facts: HostFacts) -> int:
    """31, unless this host's makedumpfile loses slab pages with bit 8 on this kernel."""
    v, rel = facts.makedumpfile_version, facts.release
    k = kernel_version(rel) if rel else None
    if v is None or k is None:
        return 31
    if any(b.loses_data and b.dump_bits & 8 for b in mdf.bugs_for(v, k)):
        return 23
    return 31
