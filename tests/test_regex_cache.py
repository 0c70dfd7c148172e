"""``crashhub._regex``: compiled regexps kept between runs must behave exactly as ``re.compile``'s.

The cache holds what CPython's compiler hands its engine.  These tests compare, pattern by pattern,
what a pattern loaded from the file finds with what ``re.compile`` finds; check that a damaged,
foreign or unwritable file only costs a compile; and that ``crashhub triage`` on a warm cache
compiles nothing at all (a ``re.compile`` left on its path would show here, not only in the bench).
"""

from __future__ import annotations

import json
import marshal
import os
import re
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.corpus_cases import corpus_dir, syzkaller_cases

from crashhub import _regex

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "tests" / "triage" / "data" / "lab"

PATTERNS: list[tuple[str, int]] = [
    (r"\[ *(\d+\.\d+)\](?:\[ *([TC]\d+)\])?(?! ?\[ *[TC]\d) ?", 0),
    (r"(?P<sys>(?:<\d{1,3}>)?[A-Z][a-z]{2} +\d{1,2}) +\S+ +kernel(?:\[\d+\])?: ?", 0),
    (r"^\s*(?P<func>[A-Za-z0-9_.$]+)\+0x(?P<off>[0-9a-f]+)/0x(?P<size>[0-9a-f]+)(?: \[(?P<mod>\w+)\])?", 0),
    (r"watchdog: bug: soft lockup - cpu#(\d+) stuck", re.IGNORECASE),
    (r"^Call Trace:$", re.MULTILINE),
    (r"(?<=PID: )\d+(?= Comm:)", 0),
    (r"straße|ǅ|\w+ü", 0),  # Unicode classes and case
    (r"a.b", re.DOTALL),
    (r"(?x) \d+ \s* \# comment", 0),
    ("|".join(f"fn_{i}" for i in range(300)), 0),  # a big alternation, as the skip list is
]
TEXTS = [
    "[   12.345678][ T123] BUG: kernel NULL pointer dereference",
    "Nov 26 05:00:00 web1 kernel: <4>[ 1.0] x",
    " crashmod_null+0x12/0x40 [crashmod]",
    "WATCHDOG: BUG: soft lockup - CPU#3 stuck for 22s!",
    "text\nCall Trace:\n frame",
    "CPU: 1 PID: 4070 Comm: syz-executor",
    "Straße ǅ grün",
    "a\nb",
    "  42 # comment",
    "call fn_299 then fn_7",
]


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Path]:
    _regex.use(str(tmp_path))
    yield tmp_path
    _regex.reset()  # back to plain re.compile for other tests


def _same(a: re.Pattern[str], b: re.Pattern[str]) -> None:
    assert (a.pattern, a.flags, a.groups, a.groupindex) == (b.pattern, b.flags, b.groups, b.groupindex)
    for text in TEXTS:
        assert [m.span() for m in a.finditer(text)] == [m.span() for m in b.finditer(text)]
        assert [m.groups() for m in a.finditer(text)] == [m.groups() for m in b.finditer(text)]
        assert a.sub("<>", text) == b.sub("<>", text)


def test_patterns_read_back_behave_as_compiled(cache: Path) -> None:
    for pattern, flags in PATTERNS:
        _same(_regex.compile(pattern, flags), re.compile(pattern, flags))
    assert _regex.stats() == (0, len(PATTERNS))
    assert _regex.save()
    (path,) = cache.iterdir()
    assert path.name == _regex.file_name()
    assert path.stat().st_mode & 0o777 == 0o600

    _regex.use(str(cache))  # a new run: the patterns come from the file
    for pattern, flags in PATTERNS:
        _same(_regex.compile(pattern, flags), re.compile(pattern, flags))
    assert _regex.stats() == (len(PATTERNS), 0)
    assert not _regex.save()  # nothing new: the file is not written again


def test_without_use_it_is_re_compile(tmp_path: Path) -> None:
    _regex.reset()
    rx = _regex.compile(r"BUG: (\w+)")
    assert rx is re.compile(r"BUG: (\w+)")  # re's own cache: the very same object
    assert not _regex.save()
    assert _regex.stats() == (0, 0)


def test_a_bad_pattern_is_the_callers_error(cache: Path) -> None:
    with pytest.raises(re.error):
        _regex.compile(r"(unclosed")


def _write(cache: Path, payload: bytes) -> Path:
    name = _regex.file_name()
    assert name is not None
    path = cache / name
    path.write_bytes(payload)
    path.chmod(0o600)
    return path


def _framed(header: Any, entries: Any) -> bytes:
    """A cache file as save() writes one: the prefix, the payload's CRC-32, the payload."""
    payload = marshal.dumps((header, entries))
    return _regex.PREFIX + zlib.crc32(payload).to_bytes(4, "big") + payload


def _read(path: Path) -> tuple[object, dict[tuple[str, int], Any]]:
    data = path.read_bytes()
    assert data.startswith(_regex.PREFIX)
    header, entries = marshal.loads(data[len(_regex.PREFIX) + 4 :])
    return header, entries


_GOOD = _framed(_regex._header(), {})


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not a cache file at all",
        _GOOD[:-3],  # truncated
        _GOOD[:-1] + bytes([_GOOD[-1] ^ 1]),  # one bit flipped
        _framed((2, "cpython-00", 0, "3.0.0"), {}),  # another interpreter's
        _framed(_regex._header()[:3], {}),  # the same engine, another Python release (no version)
        _framed(_regex._header(), [1, 2, 3]),
        b"\x00" * (_regex.MAX_BYTES + 1),  # too big to be ours
    ],
    ids=["empty", "garbage", "truncated", "bit-flip", "foreign", "release", "shape", "huge"],
)
def test_a_damaged_file_costs_only_a_compile(cache: Path, payload: bytes) -> None:
    path = _write(cache, payload)
    _regex.use(str(cache))
    for pattern, flags in PATTERNS:
        _same(_regex.compile(pattern, flags), re.compile(pattern, flags))
    assert _regex.stats() == (0, len(PATTERNS))
    assert _regex.save()  # written anew, whole
    assert _read(path)[0] == _regex._header()


def _tampered(cache: Path, pattern: str, change: Callable[[tuple[Any, ...]], tuple[Any, ...]]) -> None:
    """The file holding ``pattern`` with its entry changed and a CRC that fits (no accident)."""
    _regex.use(str(cache))
    _regex.compile(pattern)
    assert _regex.save()
    path = cache / str(_regex.file_name())
    header, entries = _read(path)
    entries[(pattern, 0)] = change(entries[(pattern, 0)])
    _write(cache, _framed(header, entries))
    _regex.use(str(cache))


@pytest.mark.parametrize(
    "change",
    [
        lambda e: (e[0], [999_999, *e[1][1:]], *e[2:]),  # opcodes the engine refuses
        lambda e: (e[0], e[1], 1 << 27, *e[3:]),  # a group count that would size every match
        lambda e: (*e[:3], {"what": 0}, e[4]),  # group names that disagree with their numbers
        lambda e: (*e[:4], ("x", "y")),
        lambda e: e[:4],
        lambda e: (str(e[0]), *e[1:]),
    ],
    ids=["opcodes", "group-count", "group-names", "index-groups", "short", "types"],
)
def test_an_entry_that_does_not_hold_together_is_compiled_again(
    cache: Path, change: Callable[[tuple[Any, ...]], tuple[Any, ...]]
) -> None:
    pattern = r"kernel BUG at (\S+)!"
    _tampered(cache, pattern, change)
    _same(_regex.compile(pattern), re.compile(pattern))
    assert _regex.stats() == (0, 1)


def test_only_the_users_own_private_file_is_read(cache: Path) -> None:
    """Not a FIFO (a read would block), not through a symlink, not a file others may write, not in
    a directory others may write (root with a user's HOME: ``sudo -E``)."""
    pattern = r"Hardware name: (.*)"
    _regex.use(str(cache))
    _regex.compile(pattern)
    assert _regex.save()
    path = cache / str(_regex.file_name())
    good = path.read_bytes()

    def hits() -> int:
        _regex.use(str(cache))
        _regex.compile(pattern)
        return _regex.stats()[0]

    assert hits() == 1
    path.chmod(0o622)
    assert hits() == 0
    path.chmod(0o600)
    cache.chmod(0o777)
    assert hits() == 0 and not _regex.save()  # neither read nor written there
    cache.chmod(0o700)
    path.unlink()
    os.mkfifo(path)
    assert hits() == 0  # returns at once: opened without blocking, then refused
    path.unlink()
    (cache / "elsewhere").write_bytes(good)
    (cache / "elsewhere").chmod(0o600)
    path.symlink_to(cache / "elsewhere")
    assert hits() == 0
    assert _regex.save() and not path.is_symlink() and (cache / "elsewhere").read_bytes() == good


def test_patterns_re_answers_itself(cache: Path) -> None:
    """A str subclass, bytes or flags that are no int go to re.compile, whose answer (or error) the
    caller gets, and are never kept."""

    class Text(str):
        pass

    assert _regex.compile(Text("a+")).pattern == "a+"
    assert _regex.compile(rb"a+").pattern == b"a+"  # type: ignore[arg-type,comparison-overlap]
    with pytest.raises(TypeError):
        _regex.compile("a", 2.0)  # type: ignore[arg-type]
    assert _regex.stats() == (0, 0) and not _regex.save()


def test_an_unwritable_directory_only_means_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    _regex.use(str(blocker / "crashhub"))  # a directory under a file can never be made
    try:
        _same(_regex.compile(r"(\d+) locks? held"), re.compile(r"(\d+) locks? held"))
        assert not _regex.save()
    finally:
        _regex.reset()


# A run of the CLI as bin/crashhub makes it, counting the compiles CPython's compiler does.
_PROBE = """
import json, os, sys
import re._compiler as compiler
from crashhub import _regex
from crashhub.cli import main
compiles = 0
real = compiler.compile
RE_DIR = os.path.dirname(compiler.__file__)
def counting(p, flags=0):
    global compiles
    caller = sys._getframe(1)
    while os.path.dirname(caller.f_code.co_filename) == RE_DIR:
        caller = caller.f_back
    # crashhub's own compiles (a standard module's, made at its import, are not ours to keep)
    compiles += os.sep + "crashhub" + os.sep in caller.f_code.co_filename
    return real(p, flags)
compiler.compile = counting
_regex.use(sys.argv[1])
with open("/dev/null", "w") as sink:
    saved, sys.stdout = sys.stdout, sink
    main(["triage", "--json", *sys.argv[2:]])
    sys.stdout = saved
_regex.save()
print(json.dumps({"compiles": compiles, "stats": _regex.stats()}))
"""


def _probe(cache: Path, logs: list[str]) -> tuple[int, int, int]:
    """(crashhub's compiles by re, patterns taken from the cache, patterns compiled) of one run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", _PROBE, str(cache), *logs], capture_output=True,
                          text=True, check=True, env=env, timeout=300)
    answer = json.loads(done.stdout)
    hits, misses = answer["stats"]
    return int(answer["compiles"]), int(hits), int(misses)


def test_triage_on_a_warm_cache_compiles_nothing(tmp_path: Path) -> None:
    """Every regexp ``crashhub triage`` meets goes through the cache: the lab's logs and, where the
    corpus is, its syzkaller logs (the oops table's formats of every kind)."""
    logs = sorted(str(p) for p in LAB.glob("*.vmcore-dmesg.txt"))
    corpus = corpus_dir()
    if corpus is not None:
        for name, log, _row in syzkaller_cases(corpus):
            path = tmp_path / "logs" / name.replace("/", "_")
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(log)
            logs.append(str(path))
    _, cold_hits, cold_misses = _probe(tmp_path / "cache", logs)
    assert cold_misses > 100
    compiles, hits, misses = _probe(tmp_path / "cache", logs)
    assert compiles == 0, "a regexp on triage's path is compiled by re, not crashhub._regex"
    assert (hits, misses) == (cold_hits + cold_misses, 0)


def test_a_command_without_regexps_loads_nothing_for_the_cache(tmp_path: Path) -> None:
    """bin/crashhub sets the cache up for every command; ``crashhub dump dmesg`` loads no ``re``."""
    probe = ("import sys; before = set(sys.modules); from crashhub import _regex; _regex.use(sys.argv[1]); "
             "_regex.save(); print(' '.join(sorted(set(sys.modules) - before)))")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True,
                          check=True, env=env)
    # __future__ (every crashhub module's first line) and the engine's built-in _sre: no file to load.
    assert done.stdout.split() == ["__future__", "_sre", "crashhub", "crashhub._regex"]


def test_bin_crashhub_keeps_the_cache_in_the_home(tmp_path: Path) -> None:
    """``crashhub triage`` as installed: the first run writes ~/.cache/crashhub, the next finds
    everything there and writes nothing; the answers are the same."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HOME": str(tmp_path)}
    log = LAB / "6.1-null-1.vmcore-dmesg.txt"
    cmd = [sys.executable, str(ROOT / "bin" / "crashhub"), "triage", "--json", str(log)]
    first = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    (path,) = (tmp_path / ".cache" / "crashhub").iterdir()
    assert path.name == _regex.file_name() and path.stat().st_mode & 0o777 == 0o600
    written = path.stat().st_mtime_ns
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    assert second.stdout == first.stdout and json.loads(first.stdout)["crashes"]
    assert path.stat().st_mtime_ns == written
