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
from collections.abc import Iterator
from pathlib import Path

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
    _regex._CACHE.__init__()  # type: ignore[misc]  # back to plain re.compile for other tests


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
    _regex._CACHE.__init__()  # type: ignore[misc]
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
    return path


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not marshal at all",
        marshal.dumps((_regex._header(), {}))[:-3],  # truncated
        marshal.dumps(((0, "cpython-00", 0), {})),  # another interpreter's header
        marshal.dumps([1, 2, 3]),
        b"\x00" * (_regex.MAX_BYTES + 1),  # too big to be ours
    ],
    ids=["empty", "garbage", "truncated", "foreign", "shape", "huge"],
)
def test_a_damaged_file_costs_only_a_compile(cache: Path, payload: bytes) -> None:
    path = _write(cache, payload)
    _regex.use(str(cache))
    for pattern, flags in PATTERNS:
        _same(_regex.compile(pattern, flags), re.compile(pattern, flags))
    assert _regex.stats() == (0, len(PATTERNS))
    assert _regex.save()  # written anew, whole
    _regex.use(str(cache))
    assert marshal.loads(path.read_bytes())[0] == _regex._header()


def test_an_entry_the_engine_refuses_is_compiled_again(cache: Path) -> None:
    pattern = r"kernel BUG at (\S+)!"
    _regex.compile(pattern)
    _regex.save()
    path = cache / str(_regex.file_name())
    header, entries = marshal.loads(path.read_bytes())
    flags, code, groups, groupindex, indexgroup = entries[(pattern, 0)]
    entries[(pattern, 0)] = (flags, [999_999, *code[1:]], groups, groupindex, indexgroup)
    path.write_bytes(marshal.dumps((header, entries)))
    _regex.use(str(cache))
    _same(_regex.compile(pattern), re.compile(pattern))
    assert _regex.stats() == (0, 1)


def test_an_unwritable_directory_only_means_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    _regex.use(str(blocker / "crashhub"))  # a directory under a file can never be made
    try:
        _same(_regex.compile(r"(\d+) locks? held"), re.compile(r"(\d+) locks? held"))
        assert not _regex.save()
    finally:
        _regex._CACHE.__init__()  # type: ignore[misc]


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
