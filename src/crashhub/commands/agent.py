"""``crashhub agent``: ship this host's crashes to the hub (run by the systemd timer, or cron with --once):
kdump's crash directories, and the oops/panic dumps the kernel kept in pstore (/sys/fs/pstore).

Needs only the core dependencies (httpx, rich, the standard library).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from crashhub.agent import Agent, AgentConfig, HubClient, pstore, scan, state
from crashhub.agent import config as config_mod

DESCRIPTION = """\
Ship this host's kernel crashes to the hub, on each run (the systemd timer runs it 2 minutes after
boot and every 15 minutes):
  * kdump's crash directories under crash_dirs: the log first, the dump when the hub asks for it;
  * the oops/panic dumps the kernel kept in pstore (pstore_dir, /sys/fs/pstore: ramoops, EFI, ERST
    records; multi-part dumps joined in log order; deflate-compressed records read): each is sent as
    one crash log with channel=pstore, and its records are removed from pstore (which erases them in
    the backend) only after the hub confirmed the crash. console-/pmsg-/ftrace- records, clean
    shutdown dumps and records it cannot read (zstd/lzo/lz4/842-compressed) are left alone.
Settings: /etc/crashhub/agent.toml (docs/host.md)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--config", default="/etc/crashhub/agent.toml", help="settings file (TOML)")
    parser.add_argument("--once", action="store_true",
                        help="one pass (report, scan, ship) then exit; exit 75 when the hub was unreachable")
    parser.add_argument("--dry-run", action="store_true",
                        help="list the crash directories and pstore dumps and what would be sent; "
                             "contact nobody")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="crashhub agent: %(levelname)s: %(message)s")
    cfg = config_mod.load(args.config)
    if args.dry_run:
        return _dry_run(cfg)

    verify: str | bool = cfg.ca_file or True
    with HubClient(cfg.hub, cfg.token, timeout=cfg.timeout, verify=verify) as client:
        agent = Agent(cfg, client)
        if not args.once:
            agent.run_forever()
            return 0
        s = agent.run_once()
    print(f"crashhub agent: {s.found} crash dir(s), {s.not_ready} not ready, {s.sent_logs} log(s) sent, "
          f"{s.sent_dumps} dump(s) uploaded ({s.resumed} resumed), {s.deleted} deleted"
          + (f"; pstore: {s.pstore_found} dump(s), {s.pstore_sent} sent, {s.pstore_removed} record(s) "
             f"removed, {s.pstore_unreadable} unreadable" if s.pstore_found or s.pstore_unreadable else "")
          + (", hub unreachable" if s.hub_down else ""), file=sys.stderr)
    for e in s.errors:
        print(f"crashhub agent: error: {e}", file=sys.stderr)
    return s.exit_code


def _dry_run(cfg: AgentConfig) -> int:
    st = state.load(cfg.state_file)
    now = time.time()
    for c in scan.scan(cfg.crash_dirs):
        e = st.crashes.get(c.key)
        if e is not None and e.done:
            what = "done" + (f" (crash {e.crash_id})" if e.crash_id else "")
        elif not c.ready(now, cfg.settle_seconds):
            what = "not ready: " + (", ".join(c.incomplete) or "files still changing or empty")
        elif e is not None and e.crash_id:
            what = f"log sent (crash {e.crash_id}); dump pending"
        else:
            what = "would send the log" + (" and, if the hub wants it, the dump" if c.vmcore else "")
        print(f"{c.path}  [{c.layout}]  {what}")
    ps = pstore.scan(cfg.pstore_dir)
    for p in ps.crashes:
        e = st.crashes.get(p.key)
        names = ", ".join(r.path.name for r in p.records)
        if e is not None and e.done:
            what = f"done (crash {e.crash_id})"
        elif e is not None and e.crash_id:
            what = f"sent (crash {e.crash_id}); records not removed yet"
        else:
            what = "would send as one log (channel pstore), then remove the records"
        print(f"{p.key}  [{names}]  {what}")
    for u in ps.unreadable:
        print(f"{u.path}  left in pstore: {u.why}")
    return 0
