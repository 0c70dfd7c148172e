"""``crashhub serve``: the hub in one process (API, spool watcher, workers) under uvicorn."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate: each command and stage loads
# only what it uses (the host agent installs without the hub's web and database stack).

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crashhub.commands._store import add_store_arguments, settings_from

if TYPE_CHECKING:
    from crashhub.store import Store
    from crashhub.web import Context


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_store_arguments(parser)
    parser.add_argument("--listen", default=None, help="address to listen on (setting 'listen')")
    parser.add_argument("--port", type=int, default=None, help="TCP port (setting 'port')")
    parser.add_argument(
        "--spool",
        default=None,
        metavar="DIR",
        help="spool directory to watch (setting 'spool_dir'; '' disables)",
    )
    parser.add_argument("--workers", type=int, default=None, help="worker threads (setting 'workers')")
    parser.add_argument(
        "--demo", action="store_true", help="load the example crashes and knowledge-base entries first"
    )
    parser.add_argument(
        "--admin-token",
        action="store_true",
        help="create an admin token at start and print it (handy with --demo)",
    )


def demo_sources() -> list[Path]:
    """Kernel logs shipped in ``crashhub/examples`` (real crash-lab logs), else the lab's cache."""
    from crashhub.ingest import looks_like_kernel_log

    roots = [Path(__file__).resolve().parent.parent / "examples", Path.home() / ".cache" / "crashhub-lab"]
    for root in roots:
        if not root.is_dir():
            continue
        found = []
        for p in sorted(root.rglob("*")):
            if not p.is_file() or p.stat().st_size > 4 * 1024 * 1024:
                continue
            if root.name == "crashhub-lab" and p.name not in ("vmcore-dmesg.txt",):
                continue
            with open(p, "rb") as f:
                head = f.read(65536)
            if looks_like_kernel_log(head):
                found.append(p)
        if found:
            return found
    return []


def load_demo(ctx: Context) -> int:
    """Example KB entries into the KB directory, example logs into the store; returns crashes loaded."""
    from crashhub import kb as kbmod
    from crashhub.errors import CrashhubError
    from crashhub.ingest import Arrival, parse_dir_name

    have = {e.id for e in ctx.kb.entries()}
    for entry in kbmod.load_examples():
        if entry.id not in have:
            ctx.kb.put(entry)
    n = 0
    for p in demo_sources():
        try:
            data = p.read_bytes()
            # Host and time as the crash directory's name gives them; copies of one crash in several
            # layouts are one crash, as they would be in a real spool.
            host, kind, when, _ = parse_dir_name(p.parent.name)
            out = ctx.pipeline.ingest(
                Arrival(
                    log=data,
                    log_name=p.name,
                    dir_host=host,
                    dir_host_kind=kind,
                    dir_time=when,
                    crash_dir=p.parent.name,
                    source="demo",
                )
            )
        except CrashhubError as e:
            print(f"crashhub serve: demo {p}: {e}", file=sys.stderr)
            continue
        n += out.created
    ctx.kb.reapply(ctx.hub.store)
    return n


def demo_login(store: Store, user: str = "demo") -> tuple[str, str]:
    """Create (or reset) the demo's admin user, in the store, with a fresh random password; returns both."""
    import secrets

    from crashhub.web.ui.session import Users

    password = secrets.token_urlsafe(12)
    Users(store).add(user, password, "admin")
    return user, password


def _host_for_url(listen: str) -> str:
    if listen in ("0.0.0.0", "::", ""):
        return "127.0.0.1"  # reachable from this machine; other machines use its name
    return f"[{listen}]" if ":" in listen else listen


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from crashhub.web import build_context, create_app

    overrides: dict[str, object] = {"listen": args.listen, "port": args.port, "workers": args.workers}
    if args.spool is not None:
        overrides["spool_dir"] = args.spool
    settings = settings_from(args, **overrides)
    # One log for the hub: requests (crashhub.access), ingests, spool pickups and analyses are INFO.
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ctx = build_context(settings)
    if args.demo:
        n = load_demo(ctx)
        print(
            f"crashhub serve: demo loaded {n} new crashes, {ctx.hub.store.buckets.count_buckets()} buckets",
            file=sys.stderr,
        )
    if args.admin_token:
        from crashhub.web import create_token

        token, _ = create_token(ctx.hub.store, "admin", "serve --admin-token")
        print(f"admin token: {token}", file=sys.stderr)
    app = create_app(settings, ctx=ctx)
    url = f"http://{_host_for_url(settings.listen)}:{settings.port}/ui/"
    print(
        f"crashhub serve: http://{settings.listen}:{settings.port}/ data {settings.data_dir.resolve()}",
        file=sys.stderr,
        flush=True,
    )
    if args.demo:
        user, password = demo_login(ctx.hub.store)
        # To the terminal only, once: the password is stored as an argon2 hash, never in a URL.
        print(
            f"\n  Open {url}\n  and log in as user {user!r} with password {password!r}\n"
            "  (an admin made for this demo; a new password is set at each --demo start)\n",
            file=sys.stderr,
            flush=True,
        )
    else:
        print(f"crashhub serve: UI at {url}", file=sys.stderr, flush=True)
        if not ctx.hub.store.access.list_ui_users():
            print(
                "crashhub serve: no UI user yet; make one with\n"
                f"  crashhub user add NAME --role admin --data {settings.data_dir}",
                file=sys.stderr,
                flush=True,
            )
    # Behind a load balancer the client's address (the login limit's key, the audit log) is in
    # X-Forwarded-For, trusted only from the proxies named here; none named, none trusted (not even
    # loopback: any local process could then pick the address its logins are counted under).
    proxies = (settings.forwarded_allow_ips or "").strip()
    from crashhub.web import protocol

    uvicorn.run(
        app,
        host=settings.listen,
        port=settings.port,
        log_level=settings.log_level,  # lower case: config folds it
        # The hub writes its own access log (logger crashhub.access: client, method, target with
        # secret-looking query values hidden, status, time), one line per request.
        access_log=False,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        http=protocol(settings.request_header_timeout, settings.request_body_timeout),
    )
    return 0
