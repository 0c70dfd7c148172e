"""The weekly summary lists every new bucket (its heading counts what it lists) with crash rates."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from tests.store.contract import crash

from crashhub import config
from crashhub.report import render
from crashhub.store import Hub, open_store


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = open_store(config.load(tmp_path / "data", env={}))
    now = time.time()
    for i in range(12):  # 12 new buckets, more than the old top 10; 14 crashes on 3 hosts
        h.store.crashes.add_crash(replace(crash(f"c{i}", key=f"k{i}", host=f"web{i % 3}", when=now - 3600)))
    for i in (0, 1):
        h.store.crashes.add_crash(replace(crash(f"d{i}", key="k0", host="web0", when=now - 7200)))
    yield h
    h.close()


def test_weekly_lists_every_new_bucket_and_rates(hub: Hub) -> None:
    w = render.weekly_doc(hub)
    assert w["new_buckets_total"] == 12 and len(w["new_buckets"]) == 12
    assert w["new_buckets"][0]["week"] == 3  # busiest first
    assert (w["crashes"], w["hosts"]) == (14, 3) and w["per_host_day"] == round(14 / 3 / 7, 4)
    [k] = w["kernels"]
    assert k["hosts_running"] == 3 and k["per_host_day"] == round(14 / 3 / 7, 4)
    md = render.to_markdown(w, "en")
    section = md.split("## New buckets (12)\n", 1)[1].split("## ", 1)[0]
    assert len(re.findall(r"^\| \d+ \|", section, re.M)) == 12
    assert "crashes per host per day over 3 hosts" in md and "| Per host per day |" in md


def test_a_cut_list_says_so(hub: Hub) -> None:
    md = render.to_markdown(render.weekly_doc(hub, new_top=10), "zh")
    assert "## 新问题桶 (前 10 个，共 12 个)" in md
    assert "## New buckets (top 10 of 12)" in render.to_markdown(render.weekly_doc(hub, new_top=10))
