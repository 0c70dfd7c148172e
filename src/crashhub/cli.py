"""The ``crashhub`` command: a thin dispatcher.

Each sub-command lives in ``crashhub.commands.<module>`` with two functions,
``add_arguments(parser)`` and ``run(args) -> int``.  Only the chosen command's
module is imported, so ``crashhub dump dmesg`` starts about as fast as Python
itself.  Library errors become one line on stderr and an exit code; library
code never exits.
"""

from __future__ import annotations

import sys

from crashhub import __version__
from crashhub.errors import CrashhubError

TYPE_CHECKING = False  # not typing's: every command pays for what this module imports
if TYPE_CHECKING:
    from collections.abc import Sequence

# name -> (module, one-line help).  Keep in the order a user meets them.
COMMANDS: dict[str, tuple[str, str]] = {
    "triage": ("crashhub.commands.triage", "find crashes in kernel logs or crash directories"),
    "dump": ("crashhub.commands.dump", "read vmcores without debuginfo: info, dmesg, reassemble"),
    "serve": ("crashhub.commands.serve", "run the hub: API, spool watcher and workers"),
    "ingest": ("crashhub.commands.ingest", "ingest crash directories or logs into the store"),
    "buckets": ("crashhub.commands.buckets", "list buckets"),
    "crash": ("crashhub.commands.crash", "show one crash"),
    "kb": ("crashhub.commands.kb", "knowledge base: lint, list, apply"),
    "user": ("crashhub.commands.user", "web UI logins: add (password from the terminal), list, delete"),
    "token": ("crashhub.commands.token", "API tokens: create, list, bind (a host token to its host), revoke"),
    "gc": ("crashhub.commands.gc", "retention: evict dumps the policy does not keep (--dry-run: say which)"),
    "pin": ("crashhub.commands.pin", "keep a crash's dump whatever retention says (--off: unpin)"),
    "delete": ("crashhub.commands.delete", "delete a crash or every crash of a host, blobs included"),
    "debuginfo": ("crashhub.commands.debuginfo", "debuginfo store: import, list, remove, gc"),
    "analyze": ("crashhub.commands.analyze", "deep analysis of a vmcore with drgn and crash"),
    "report": ("crashhub.commands.report", "report on a crash, a bucket or the week (HTML, Markdown, JSON)"),
    "bundle": ("crashhub.commands.bundle", "pack one crash as a redacted vendor bundle (.tar.gz)"),
    "kernel": ("crashhub.commands.kernel", "check a kernel before a rollout: its crashes captured and read"),
    "kdump": ("crashhub.commands.kdump", "on a host: check kdump readiness, write kdump config"),
    "agent": ("crashhub.commands.agent", "on a host: ship kdump and pstore crashes to the hub"),
    "worker": ("crashhub.commands.worker", "run an analysis worker (Celery) for a scaled-out hub"),
}

EXIT_BAD_INPUT = 2


def _top_help() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = [
        "usage: crashhub [--version] COMMAND [ARGS...]",
        "",
        "The central crash host for a fleet of Linux servers.",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run 'crashhub COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_top_help())
        return 0 if args else EXIT_BAD_INPUT
    if args[0] == "--version":
        print(f"crashhub {__version__}")
        return 0
    name = args[0]
    if name not in COMMANDS:
        print(f"crashhub: unknown command {name!r}; see 'crashhub --help'", file=sys.stderr)
        return EXIT_BAD_INPUT
    module_name, help_ = COMMANDS[name]
    try:
        # __import__, not importlib.import_module: the importlib package (and the warnings module it
        # loads) would be a third of a millisecond of every start.
        __import__(module_name)
        module = sys.modules[module_name]
        if _RUN["script"]:
            _freeze_imports()
    except ModuleNotFoundError as e:
        print(f"crashhub: command {name!r} is not available in this install ({e})", file=sys.stderr)
        return EXIT_BAD_INPUT
    fast = getattr(module, "fast_run", None)
    try:
        if fast is not None:
            # A command may answer its commonest simple form without argparse (see commands/dump.py).
            quick: int | None = fast(args[1:])
            if quick is not None:
                _RUN["fast"] = True
                return quick
        import argparse  # noqa: PLC0415 (only when a command needs the full parser)

        parser = argparse.ArgumentParser(prog=f"crashhub {name}", description=help_)
        module.add_arguments(parser)
        ns = parser.parse_args(args[1:])
        rc: int = module.run(ns)
    except CrashhubError as e:
        print(f"crashhub {name}: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return rc


# "fast": whether main() answered through a command's fast_run; "script": whether main() runs as the
# process itself (script()), not called by a test or another program.
_RUN = {"fast": False, "script": False}


def _freeze_imports() -> None:
    """Hand what the imports made to the garbage collector's permanent generation, then collect again.

    A command's imports make ~15,000 objects (module dicts, functions, classes, compiled regexps)
    that live as long as the process and form no garbage: while they sit in the collector's young
    generations, every collection walks them again (``crashhub triage`` over 360 logs: ~8% of its
    CPU time).  script() turned collection off before the imports; only a process's own entry point
    does this, since freezing in a caller's process would keep its garbage cycles forever.
    """
    import gc  # noqa: PLC0415 (a built-in module: no file to load)

    gc.freeze()
    gc.enable()


def script() -> None:
    """What ``bin/crashhub`` runs: :func:`main`, then the exit.

    A command answered by its ``fast_run`` form started no thread, registered no atexit hook and
    holds no open file once it returns; tearing the interpreter down (freeing every module and
    object) would then cost ~2 ms, a fifth of a bare Python start, for nothing.  So such a run
    flushes its output and leaves with ``os._exit``.  Every other command exits normally.
    The run's regexps come from, and new ones go to, the user's cache (``crashhub._regex``).
    """
    import gc  # noqa: PLC0415 (a built-in module: no file to load)
    import os  # noqa: PLC0415 (already loaded by the interpreter; this is a dict lookup)

    from crashhub import _regex  # noqa: PLC0415

    gc.disable()  # until the command's imports are frozen (_freeze_imports)
    _RUN["script"] = True
    cache = _user_cache_dir()
    if cache is not None:
        _regex.use(os.path.join(cache, "crashhub"))
    rc = main()
    _regex.save()
    if _RUN["fast"]:
        try:  # noqa: SIM105 (contextlib is not loaded on this path; this is the cheap form)
            sys.stdout.flush()
        except BrokenPipeError:
            pass  # the reader went away (| head): as main() treats it, not an error
        sys.stderr.flush()
        os._exit(rc)
    sys.exit(rc)


def _user_cache_dir() -> str | None:
    """``~/.cache``, where the crash lab keeps its cache too (``~/.cache/crashhub-lab``); None
    without a home.  Not ``$XDG_CACHE_HOME``: the environment is crashhub.config's to read, and
    loading it is ~12 ms, more than the cache saves a short run."""
    import os  # noqa: PLC0415 (already loaded by the interpreter)

    home = os.path.expanduser("~")
    return os.path.join(home, ".cache") if os.path.isabs(home) else None


if __name__ == "__main__":  # pragma: no cover
    script()
