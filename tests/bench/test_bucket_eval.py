"""bench/bucket_eval.py's scoring: BCubed on hand-worked groupings (Amigó et al. 2009's examples' shape)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bucket_eval import Item, bcubed


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
