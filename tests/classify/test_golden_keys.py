"""Bucket keys are versioned: under one algorithm id, a key never changes.

``golden/keys-<set>.json`` records, with the algorithm id that made them, the key of every report
in a set of real logs: the lab's kept logs (tests/labdata.py) and a stable sample of the shared
corpus (read in place).  A key that changes while ``crashhub.classify.ALGORITHM`` stays the same
fails here, and ``--update-golden`` refuses to record it: stored buckets would split or merge
without a trace.  Whatever changed it (classify, or triage moving a title or a guilty frame), the
fix is one more line of ``crashhub.classify._signature.RECIPES`` and then ``--update-golden``,
which records the new id's keys; a hub re-keys its buckets when it starts on the new id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from bench.corpus_cases import syzkaller_cases
from tests.labdata import LOGS

from crashhub.classify import ALGORITHM, ALGORITHMS, signature
from crashhub.classify._signature import RECIPES
from crashhub.triage import parse

GOLDEN = Path(__file__).resolve().parent / "golden"
# The corpus's plain-log folders (syzkaller's report cases are read through their own reader).
CORPUS_LOGS = (
    "abrt-examples/examples/*.test",
    "satyr-kerneloopses/kerneloopses/*",
    "kernelci-logspec/logs/*/*.log",
    "squad-linux-log-parser/linux_log_parser/*.log",
    "fwts-oops/*.log",
)


def sampled(name: str) -> bool:
    """A quarter of the corpus, chosen by a hash of the case's name: the same cases on every run and
    every machine, and a case added to the corpus later does not move the others in or out."""
    return hashlib.sha256(name.encode()).digest()[0] < 64


def keys_of(name: str, text: str) -> Iterator[tuple[str, str]]:
    for i, r in enumerate(parse(text)):
        yield f"{name}#{i}", signature(r).key


def lab_keys() -> dict[str, str]:
    out: dict[str, str] = {}
    for log in sorted(Path(LOGS).glob("*.vmcore-dmesg.txt")):
        out.update(keys_of(log.name.removesuffix(".vmcore-dmesg.txt"), log.read_text(errors="replace")))
    return out


def corpus_keys(corpus: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, log, _row in syzkaller_cases(corpus):
        if sampled(f"syzkaller/{name}"):
            out.update(keys_of(f"syzkaller/{name}", log.decode("utf-8", "replace")))
    for pattern in CORPUS_LOGS:
        for path in sorted(corpus.glob(pattern)):
            name = str(path.relative_to(corpus))
            if path.is_file() and sampled(name):
                out.update(keys_of(name, path.read_text(errors="replace")))
    return out


@dataclass(frozen=True)
class KeyDiff:
    """What differs between the recorded keys and today's."""

    recorded: str | None  # the algorithm id the file was written under (None: no file)
    changed: list[str] = field(default_factory=list)  # same case, another key
    added: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)

    def refusal(self, algorithm: str, ids: tuple[str, ...] = tuple(r.id for r in RECIPES)) -> str | None:
        """Why these keys may not be recorded (even with ``--update-golden``), or None; ``ids``
        are the algorithm ids shipped, oldest first."""
        if self.recorded == algorithm and self.changed:
            return (
                f"{len(self.changed)} keys changed under the unchanged algorithm id {algorithm} "
                f"(e.g. {', '.join(self.changed[:3])}): append a Recipe to "
                "crashhub.classify._signature.RECIPES, then run pytest --update-golden"
            )
        if self.recorded is not None and self.recorded != algorithm:
            if self.recorded not in ids:
                return f"the recorded id {self.recorded} is gone from RECIPES: ids are never removed"
            if ids.index(self.recorded) > ids.index(algorithm):
                return f"the current id {algorithm} is older than the recorded {self.recorded}"
        return None


def diff(doc: dict[str, object] | None, got: dict[str, str]) -> KeyDiff:
    if doc is None:
        return KeyDiff(None, added=sorted(got))
    want = doc["keys"]
    assert isinstance(want, dict)
    recorded = str(doc["algorithm"])
    return KeyDiff(
        recorded,
        changed=sorted(k for k in want.keys() & got.keys() if want[k] != got[k]),
        added=sorted(got.keys() - want.keys()),
        gone=sorted(want.keys() - got.keys()),
    )


def check(name: str, got: dict[str, str], update: bool) -> None:
    path = GOLDEN / f"keys-{name}.json"
    doc = json.loads(path.read_text()) if path.exists() else None
    d = diff(doc, got)
    refusal = d.refusal(ALGORITHM)
    if refusal:
        pytest.fail(f"{path.name}: {refusal}")
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {"algorithm": ALGORITHM, "keys": dict(sorted(got.items()))}
        path.write_text(json.dumps(body, indent=0, sort_keys=True) + "\n")
        return
    if d.recorded != ALGORITHM:
        pytest.fail(f"{path.name} holds {d.recorded}'s keys, the algorithm is {ALGORITHM}: "
                    "run pytest --update-golden to record the new id's keys")
    if d.added or d.gone:
        pytest.fail(f"{path.name}: cases added {d.added[:5]}, gone {d.gone[:5]} (pytest --update-golden)")


def test_lab_keys(update_golden: bool) -> None:
    got = lab_keys()
    logs = {p.name.removesuffix(".vmcore-dmesg.txt") for p in Path(LOGS).glob("*.vmcore-dmesg.txt")}
    assert {k.split("#")[0] for k in got} == logs  # every kept lab log gives its primary report
    check("lab", got, update_golden)


def test_corpus_keys(corpus: Path, update_golden: bool) -> None:
    got = corpus_keys(corpus)
    assert len(got) > 100
    check("corpus", got, update_golden)


# ------------------------------------------------------------------ the guard itself


def test_a_changed_key_under_the_same_id_is_refused() -> None:
    doc: dict[str, object] = {"algorithm": ALGORITHM, "keys": {"a#0": "1", "b#0": "2"}}
    d = diff(doc, {"a#0": "1", "b#0": "3", "c#0": "4"})
    assert d.changed == ["b#0"] and d.added == ["c#0"]
    refusal = d.refusal(ALGORITHM)
    assert refusal is not None and "RECIPES" in refusal


def test_a_new_id_may_record_new_keys() -> None:
    bumped = (*(r.id for r in RECIPES), "sig:2999-01")  # one line appended to RECIPES
    doc: dict[str, object] = {"algorithm": ALGORITHM, "keys": {"a#0": "1"}}
    assert diff(doc, {"a#0": "2"}).refusal("sig:2999-01", bumped) is None
    # ...but never back to an older id, nor from an id that was dropped.
    newer: dict[str, object] = {"algorithm": "sig:2999-01", "keys": {"a#0": "1"}}
    assert "older" in (diff(newer, {"a#0": "2"}).refusal(ALGORITHM, bumped) or "")
    dropped: dict[str, object] = {"algorithm": "sig:1999-01", "keys": {}}
    assert "gone" in (diff(dropped, {}).refusal(ALGORITHM) or "")


def test_every_recipe_is_registered_once() -> None:
    ids = [r.id for r in RECIPES]
    assert len(set(ids)) == len(ids) and list(ALGORITHMS) == ids and ids[-1] == ALGORITHM
