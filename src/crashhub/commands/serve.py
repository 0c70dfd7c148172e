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
        "--demo",
        action="store_true",
        help="load the demo fleet first (200 hosts, 3 kernels, 30 days of crash-lab logs, KB entries)",
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
    """The demo fleet (``crashhub.examples.fleet``: 200 hosts, three kernels, 30 days of real
    crash-lab logs) and its KB entries into the hub, through the normal ingest; returns crashes loaded.
    """
    from crashhub.commands._demo import load_fleet

    done = load_fleet(ctx)
    if done.created == 0 and done.planned == 0:
        print("crashhub serve: demo fleet already loaded in this data directory", file=sys.stderr)
    else:
        print(
            f"crashhub serve: demo fleet: {done.created} of {done.planned} crashes stored, "
            f"{done.kb_entries} KB entries, in {done.seconds:.1f} s",
            file=sys.stderr,
        )
    if done.bundle is not None:
        print(
            f"crashhub serve: demo vendor bundle of crash {done.bundle_crash}: {done.bundle}",
            file=sys.stderr,
        )
    return done.created


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
    if settings.netconsole_listen:
        from crashhub.ingest import NetconsoleReceiver

        # Checked before anything starts: a typo is one line naming the setting, not a traceback.
        print(f"crashhub serve: netconsole on {NetconsoleReceiver.describe(settings)}", file=sys.stderr)
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
