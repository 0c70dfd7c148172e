"""``crashhub buckets [--json] [--sort count|last_seen|trend] [--kind K] [--host H] [--kernel R] [--kb S]
[--status S] [--since T] [--q TEXT]``: buckets of the store, under the filters ``GET /api/v1/buckets``
has (host and kernel whole values, ``--q`` text in a title, key function, host or kernel); and

- ``crashhub buckets similar ID``: the buckets most like one, across kernels;
- ``crashhub buckets rules [--bucket ID] [--all]`` / ``crashhub buckets rules delete RULE``: users'
  merges and splits, kept as rules later crashes follow (deleting one undoes it);
- ``crashhub buckets rekey [--dry-run]``: regroup every bucket under the current signature algorithm
  (a hub does it by itself at start when buckets carry an older one);
- ``crashhub buckets rekeys [--bucket ID] [--run RUN]``: the re-key ledger.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from crashhub.commands._store import add_store_arguments, open_hub

if TYPE_CHECKING:
    from crashhub.store import Hub


def _store_args(parser: argparse.ArgumentParser) -> None:
    """``--data``/``--config`` after a sub-command too (unset there, they leave the outer ones be)."""
    parser.add_argument("--data", metavar="DIR", default=argparse.SUPPRESS, help="data directory")
    parser.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="TOML settings file")


def _since(v: str) -> float:
    """``7d``/``24h``/``90m`` ago, or a Unix time."""
    import time

    units = {"d": 86400, "h": 3600, "m": 60}
    try:
        if v and v[-1] in units:
            return time.time() - float(v[:-1]) * units[v[-1]]
        return float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {v!r} (24h, 7d or a Unix time)") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="JSON instead of text")
    parser.add_argument("--sort", choices=["count", "last_seen", "trend"], default="count")
    parser.add_argument("--kind", default=None, help="only buckets of this kind")
    parser.add_argument("--host", default=None, help="only buckets with a crash on this host (whole name)")
    parser.add_argument("--kernel", default=None, help="only buckets with a crash on this kernel release")
    parser.add_argument("--kb", default=None, choices=["known", "new", "regression"], help="this KB status")
    parser.add_argument("--status", default=None, type=lambda v: v.replace(" ", "_"),
                        choices=["new", "investigating", "advice_given", "known_issue", "fixed"],
                        help="only this response status")
    parser.add_argument("--since", default=None, type=_since, metavar="WHEN",
                        help="only buckets seen since: 24h, 7d, 30d (ago) or a Unix time")
    parser.add_argument("--q", default=None, metavar="TEXT",
                        help="text the title, a key function, a host or a kernel contains (any case)")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--offset", type=int, default=0)
    add_store_arguments(parser)
    sub = parser.add_subparsers(dest="action")
    sim = sub.add_parser("similar", help="the buckets most like one, across kernels")
    sim.add_argument("bucket", help="a bucket id (or an old id or key: its surviving bucket)")
    sim.add_argument("--limit", type=int, default=10)
    rules = sub.add_parser("rules", help="users' merges and splits kept as rules; 'rules delete ID' ends one")
    rules.add_argument("verb", nargs="?", choices=["list", "delete"], default="list")
    rules.add_argument("rule", nargs="?", help="the rule to delete")
    rules.add_argument("--bucket", help="only the rules whose source or target this bucket is")
    rules.add_argument("--all", action="store_true", help="with the rules that ended (re-keyed, deleted)")
    rekey = sub.add_parser("rekey", help="regroup every bucket under the current signature algorithm")
    rekey.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    ledger = sub.add_parser("rekeys", help="the re-key ledger, newest first")
    ledger.add_argument("--bucket", help="only rows from or to this bucket")
    ledger.add_argument("--run", help="only this re-key run")
    ledger.add_argument("--limit", type=int, default=100)
    for p in (sim, rules, rekey, ledger):
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="JSON instead of text")
        _store_args(p)


def run(args: argparse.Namespace) -> int:
    hub = open_hub(args)
    try:
        action = {"similar": _similar, "rules": _rules, "rekey": _rekey, "rekeys": _rekeys}.get(
            args.action or "", _list
        )
        return action(hub, args)
    finally:
        hub.close()


def _print(args: argparse.Namespace, doc: Any, lines: list[str]) -> int:
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        for line in lines:
            print(line)
    return 0


def _list(hub: Hub, args: argparse.Namespace) -> int:
    s = hub.settings
    filters: dict[str, Any] = {
        "kind": args.kind, "host": args.host, "kernel": args.kernel, "kb_status": args.kb,
        "status": args.status, "since": args.since, "search": args.q,
    }
    rows = hub.store.buckets.list_buckets(
        sort=args.sort,
        limit=args.limit,
        offset=args.offset,
        spike_days=s.spike_days,
        spike_factor=s.spike_factor,
        spike_min=s.spike_min,
        **filters,
    )
    lines = [] if rows else ["no buckets"]
    for b in rows:
        # The bucket page's answer (known / new / regressed), then the entries behind it.
        answer = (b.kb_status or "new").replace("regression", "regressed")
        kb = f"{answer} ({', '.join(str(m.get('id')) for m in b.kb[:2])})" if b.kb else ""
        spike = " SPIKE" if b.spike else ""
        lines.append(f"{b.id}  {b.count:>6}  {b.kind:<14} {b.title}{spike}")
        lines.append(
            f"{'':18}  hosts: {b.host_count or len(b.hosts)}  kernels: {', '.join(b.kernels[:3]) or '-'}"
            f"{'  kb: ' + kb if kb else ''}"
        )
    return _print(args, [b.to_dict() for b in rows], lines)


def _similar(hub: Hub, args: argparse.Namespace) -> int:
    from crashhub.errors import StoreError
    from crashhub.web import SimilarIndex

    bid = hub.store.grouping.resolve(args.bucket)
    b = hub.store.buckets.get_bucket(bid) if bid else None
    if b is None:
        raise StoreError(f"no bucket {args.bucket!r}")
    found = SimilarIndex(hub.store).similar(b, limit=args.limit)
    lines = [f"like {b.id} ({b.title}; kernels {', '.join(b.kernels) or '-'}):"]
    lines += [
        f"  {x.likeness.score:5.0%}  {x.bucket.id}  {x.bucket.kind:<14} {x.bucket.title}  "
        f"[{', '.join(x.bucket.kernels) or '-'}]"
        for x in found
    ] or ["  none"]
    return _print(args, {"bucket": b.id, "similar": [x.to_dict() for x in found]}, lines)


def _rules(hub: Hub, args: argparse.Namespace) -> int:
    from crashhub.errors import InputError

    if args.verb == "delete":
        if not args.rule:
            raise InputError("say which rule: crashhub buckets rules delete RULE", "rule")
        rule = hub.store.grouping.delete_rule(args.rule, "cli")
        return _print(args, {"deleted": rule.to_dict()}, [f"rule {rule.id} deleted (and undone)"])
    rules = hub.store.grouping.rules(bucket=args.bucket, include_retired=args.all)
    lines = [] if rules else ["no rules"]
    for r in rules:
        if r.action == "merge":
            what = f"key {r.algorithm}:{r.key} -> {r.target}"
        else:
            more = " ..." if len(r.when) > 4 else ""
            conds = ", ".join(f"{c.field}={c.pattern}" for c in r.when[:4]) + more
            what = f"{r.source} [{conds}] -> {r.target}"
        lines.append(f"{r.id}  {r.action:<5}  {what}  ({r.created_by})")
    return _print(args, [r.to_dict() for r in rules], lines)


def _rekey(hub: Hub, args: argparse.Namespace) -> int:
    from crashhub.jobs import Rekey, stale_algorithms, total

    before = stale_algorithms(hub.store)
    rounds = Rekey(hub.store, hub.blobs, actor="cli", dry_run=args.dry_run).run()
    t = total(rounds)
    verb = "would move" if args.dry_run else "moved"
    lines = [
        f"buckets of older algorithms: {before or 'none'}",
        f"{'planned' if args.dry_run else 'applied'} {len(rounds)} round(s): {t.crashes} crashes, "
        f"{t.rekeyed} re-keyed, {verb} {t.moved}, {t.new_buckets} new buckets, {t.retired} retired "
        f"into others, {t.rules_carried} rules carried over, {t.flows} ledger rows",
    ]
    return _print(args, {"before": before, "dry_run": args.dry_run, "rounds": [r.to_dict() for r in rounds]},
                  lines)


def _rekeys(hub: Hub, args: argparse.Namespace) -> int:
    rows = hub.store.grouping.ledger(bucket=args.bucket, run=args.run, limit=args.limit)
    lines = [
        f"{e.run}  {e.change:<7}  {e.from_algorithm}:{e.old_key[:12]} {e.old_bucket} -> "
        f"{e.to_algorithm}:{e.new_key[:12]} {e.new_bucket}  ({e.crashes} crashes)"
        for e in rows
    ] or ["no re-keys"]
    return _print(args, [e.to_dict() for e in rows], lines)
