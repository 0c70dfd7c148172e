"""Signatures: one bug, one key, whatever changes between two occurrences; two bugs, two keys."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from pathlib import Path

import pytest
from bench.corpus_cases import syzkaller_log
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.triage.golden_files import GOLDEN

from crashhub.classify import ALGORITHM, ALGORITHMS, signature, similarity
from crashhub.model import Frame, Signature
from crashhub.triage import parse, parse_file

LAB = Path(__file__).resolve().parent.parent / "triage" / "data" / "lab"
LOGS = sorted(LAB.glob("*.vmcore-dmesg.txt"))


def _perturb(text: str, seed: int) -> str:
    """What differs between two occurrences of one bug: KASLR base, addresses, offsets within
    functions (a rebuild), pids, CPUs, timestamps and the build number."""
    rnd = random.Random(seed)
    slide = rnd.randrange(1, 1 << 20) << 21  # KASLR moves the kernel in 2 MiB steps
    text = re.sub(
        r"\bffff[0-9a-f]{12}\b", lambda m: f"{(int(m.group(0), 16) + slide) & ((1 << 64) - 1):016x}", text
    )
    text = re.sub(
        r"\+0x([0-9a-f]+)/0x([0-9a-f]+)",
        lambda m: f"+{int(m.group(1), 16) + rnd.randrange(0, 16):#x}/{int(m.group(2), 16) + 16:#x}",
        text,
    )
    text = re.sub(r"PID: \d+", f"PID: {rnd.randrange(2, 99999)}", text)
    text = re.sub(r"\bCPU: \d+", f"CPU: {rnd.randrange(0, 64)}", text)
    shift = rnd.uniform(0, 99999)  # the crash happens later after boot: every stamp moves
    text = re.sub(r"^\[ *(\d+\.\d+)\]", lambda m: f"[{float(m.group(1)) + shift:12.6f}]", text, flags=re.M)
    return re.sub(r" #1 ", f" #{rnd.randrange(2, 40)} ", text)


@pytest.mark.parametrize("log", LOGS, ids=[p.name.split(".vmcore")[0] for p in LOGS])
def test_same_key_across_occurrences(log: Path) -> None:
    text = log.read_text(errors="replace")
    base = signature(parse(text)[0])
    for seed in range(3):
        other = parse(_perturb(text, seed))[0]
        assert signature(other).key == base.key, f"seed {seed}: {other.title}"


def test_different_bugs_different_keys(corpus: Path) -> None:
    """Across the syzkaller corpus, reports with different titles never share a key."""
    seen: dict[str, str] = {}
    for path in sorted((corpus / "syzkaller" / "linux" / "report").iterdir()):
        for r in parse(syzkaller_log(path)):
            key = signature(r).key
            assert seen.setdefault(key, r.title) == r.title, (key, r.title, seen[key])
    assert len(seen) > 250


def _caller_index(frames: tuple[Frame, ...], guilty: str) -> int:
    """Index of the guilty function's caller: the first reliable frame after the guilty one, or
    the first reliable frame when the guilty function came from RIP and is not in the trace."""
    at = next((i for i, f in enumerate(frames) if f.function == guilty), -1)
    return next(i for i in range(at + 1, len(frames)) if frames[i].reliable and frames[i].function)


def test_one_bug_through_two_call_paths_is_one_bucket() -> None:
    """One guilty function reached through another caller: one bucket (the function names the
    bug, sig:2026-12); sig:2026-11 kept the callers and split it.  With no guilty frame named, the
    stack's top frames are all there is, and a different caller separates."""
    a = parse_file(next(p for p in LOGS if "-null-" in p.name))[0]
    assert a.guilty is not None and a.guilty.function and len(a.frames) > 8
    i = _caller_index(a.frames, a.guilty.function)
    other_caller = replace(a.frames[i], function="other_caller")
    b = replace(a, frames=(*a.frames[:i], other_caller, *a.frames[i + 1 :]))
    assert signature(b).key == signature(a).key
    assert signature(b, "sig:2026-11").key != signature(a, "sig:2026-11").key
    bare_a, bare_b = replace(a, guilty=None), replace(b, guilty=None)
    assert signature(bare_a).key != signature(bare_b).key
    assert "other_caller" in signature(bare_b).frames
    deep = len(a.frames) - 1
    c = replace(bare_a, frames=(*a.frames[:deep], replace(a.frames[deep], function="some_entry_path")))
    assert signature(c).key == signature(bare_a).key


def test_versioned_registry() -> None:
    assert ALGORITHM in ALGORITHMS and re.fullmatch(r"sig:\d{4}-\d{2}", ALGORITHM)
    for alg in ALGORITHMS:
        assert re.fullmatch(r"sig:\d{4}-\d{2}", alg), alg
    r = parse_file(LAB / "6.1-null-1.vmcore-dmesg.txt")[0]
    sig = signature(r)
    assert sig.algorithm == ALGORITHM and re.fullmatch(r"[0-9a-f]{32}", sig.key)
    # The key the golden file recorded under this algorithm id: a key may never change under an id.
    golden = json.loads((GOLDEN / "lab" / "6.1-null-1.json").read_text())["answer"][0]["signatures"]
    assert {alg: signature(r, alg).key for alg in golden} == golden
    with pytest.raises(KeyError):
        signature(r, "sig:1999-01")


_names = st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), max_size=16)


@settings(max_examples=200, deadline=None)
@given(_names, _names)
def test_similarity_properties(x: list[str], y: list[str]) -> None:
    a = Signature(ALGORITHM, "k1", "t", stack=tuple(x))
    b = Signature(ALGORITHM, "k2", "t", stack=tuple(y))
    s = similarity(a, b)
    assert 0.0 <= s <= 1.0
    assert s == pytest.approx(similarity(b, a))
    assert similarity(a, a) == 1.0


def test_similarity_orders_by_top_frames() -> None:
    base = ("f1", "f2", "f3", "f4", "f5", "f6")
    s = lambda st_: Signature(ALGORITHM, "k", "t", stack=st_)  # noqa: E731
    top_differs = similarity(s(base), s(("x", *base[1:])))
    bottom_differs = similarity(s(base), s((*base[:-1], "x")))
    assert 0 < top_differs < bottom_differs < 1
    assert similarity(s(base), s(("p", "q", "r"))) < 0.3
    assert similarity(Signature(ALGORITHM, "k", "t"), Signature(ALGORITHM, "k", "t")) == 1.0
    assert similarity(Signature(ALGORITHM, "k", "t"), Signature(ALGORITHM, "k", "u")) == 0.0
