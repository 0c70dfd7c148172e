"""bench/bucket_eval.py's scoring: BCubed on hand-worked groupings (Amigó et al. 2009's examples' shape)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bucket_eval import Item, LabBucket, bcubed, rank_scores
from crashhub.classify import Profile


def _items(groups: str) -> list[Item]:
    return [Item(str(i), g, Path("/dev/null")) for i, g in enumerate(groups)]


def test_perfect_grouping_scores_one() -> None:
    items = _items("aabbc")
    s = bcubed(items, {it.name: it.group.upper() for it in items})
    assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0)
    assert (s.groups, s.buckets) == (3, 3)


def test_a_split_group_costs_recall_only() -> None:
    items = _items("aaaa")
    keys = {"0": "x", "1": "x", "2": "y", "3": "y"}
    s = bcubed(items, keys)
    assert s.precision == 1.0
    assert s.recall == pytest.approx(0.5)


def test_a_mixed_bucket_costs_precision_only() -> None:
    items = _items("aab")
    s = bcubed(items, {"0": "x", "1": "x", "2": "x"})
    assert s.recall == 1.0
    # a: 2/3 each, b: 1/3 -> (2/3 + 2/3 + 1/3) / 3
    assert s.precision == pytest.approx(5 / 9)
    assert s.f1 == pytest.approx(2 * (5 / 9) / (5 / 9 + 1))


def test_rank_scores_count_first_ahead_and_mrr() -> None:
    def bucket(kernel: str, kind: str, guilty: str, title: str) -> LabBucket:
        name = f"{kernel}/{kind}"
        return LabBucket(name, kernel, frozenset({kind}), Profile(name, "oops", title, guilty=guilty))

    a1, a2 = bucket("6.1", "a", "f", "BUG in f"), bucket("6.12", "a", "f", "BUG in f")
    b1 = bucket("6.1", "b", "g", "BUG in g")
    s = rank_scores([a1, a2, b1])
    assert (s.queries, s.first, s.ahead, s.mrr, s.misses) == (2, 2, 2, 1.0, ())
    # A bug whose other-kernel bucket looks like another bug's: ranked second, half a reciprocal rank.
    a2_drifted = bucket("6.12", "a", "g", "BUG in g")
    s = rank_scores([a1, a2_drifted, b1])
    assert (s.queries, s.first) == (2, 0) and s.mrr == pytest.approx(0.5) and len(s.misses) == 2
