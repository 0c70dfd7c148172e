"""Every parser of outside input, fuzzed: only its documented error or a clean result, in bounded time
and memory.  A small budget here (the suite); ``bench/fuzz.py`` runs the same targets for longer."""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.security import targets
from tests.security.mutate import near

# ~60 s for the whole file on a loaded 2-core machine; bench/fuzz.py is the long run.
BUDGET = {"log": 300, "dump": 60, "vmcoreinfo": 400, "elf": 300, "rpm": 200, "deb": 200, "tar": 200,
          "kb": 300, "multipart": 300, "source-path": 300}
MAX_SECONDS = 10.0  # one input; the slowest seeds parse in ~50 ms
MAX_PEAK = 64 << 20  # Python-side allocations of one input (the seeds are under 0.5 MB)


def _one(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as d:
        tracemalloc.start()
        t0 = time.perf_counter()
        try:
            err = targets.check(name, data, Path(d))
            took = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert took < MAX_SECONDS, f"{name}: {took:.1f} s for {len(data)} bytes"
    assert peak < MAX_PEAK, f"{name}: {peak} bytes at peak for {len(data)} bytes"
    if err is not None:
        assert str(err).strip(), f"{name}: {type(err).__name__} without a message"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(BUDGET))
def test_parser_takes_any_input(name: str) -> None:
    seeds = targets.seeds(name)
    for s in seeds:  # the seeds themselves parse cleanly: mutations start from valid input
        assert targets.check(name, s, Path(tempfile.mkdtemp(prefix="fuzz-seed-"))) is None, name

    @settings(max_examples=BUDGET[name], deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=near(seeds))
    def run(data: bytes) -> None:
        _one(name, data)

    run()


@pytest.mark.parametrize("name", ["log", "kb", "vmcoreinfo"])
@settings(max_examples=40, deadline=None, database=None)
@given(text=st.text(max_size=2000))
def test_text_parsers_take_any_text(name: str, text: str) -> None:
    _one(name, text.encode("utf-8", "surrogatepass"))
